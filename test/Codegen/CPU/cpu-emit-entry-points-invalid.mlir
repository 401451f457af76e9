// RUN: attn-opt %s -split-input-file -attn-cpu-emit-entry-points -verify-diagnostics -o /dev/null

// expected-error @+1 {{has no C interface; the function needs llvm.emit_c_interface}}
llvm.func @no_ciface(%a: !llvm.ptr) attributes {attn.abi = "in:f32:?0"} {
  llvm.return
}
