// RUN: attn-opt %s -split-input-file -attn-cpu-outline-parallel -verify-diagnostics

func.func @not_llvm(%n: i64) {
  // expected-error @+1 {{expected to be inside an llvm.func; run the conversion to the LLVM dialect first}}
  attn.parallel_for (%n) {
  ^bb0(%t: i64):
    attn.yield
  }
  return
}

// -----

llvm.func @non_llvm_capture(%n: i64, %buf: !llvm.ptr) {
  %x = arith.constant 1 : index
  // expected-error @+1 {{captures a value of non-LLVM type 'index'}}
  attn.parallel_for (%n) {
  ^bb0(%t: i64):
    %y = arith.index_cast %x : index to i64
    llvm.store %y, %buf : i64, !llvm.ptr
    attn.yield
  }
  llvm.return
}
