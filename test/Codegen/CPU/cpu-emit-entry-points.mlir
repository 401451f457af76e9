// RUN: attn-opt %s -split-input-file -attn-cpu-emit-entry-points="symbol-prefix=demo_" | FileCheck %s

// CHECK-LABEL: llvm.func internal @main(
// CHECK: llvm.func internal @_mlir_ciface_main
// CHECK: llvm.mlir.global external constant @demo_main_signature("in:f32:?0;out:f32:?0\00")
// CHECK: llvm.func internal @__attn_kernel_main(%[[DESCS:.+]]: !llvm.ptr)
// CHECK-COUNT-2: llvm.load %{{.+}} : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @_mlir_ciface_main
// CHECK: llvm.func @demo_main(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr) -> i32
// CHECK: %[[SIG:.+]] = llvm.mlir.addressof @demo_main_signature
// CHECK: %[[K:.+]] = llvm.mlir.addressof @__attn_kernel_main
// CHECK: %[[S:.+]] = llvm.call @attnrt_invoke(%[[SIG]], %{{.+}}, %{{.+}}, %[[K]])
// CHECK: llvm.return %[[S]] : i32
llvm.func @main(%a: !llvm.ptr, %b: !llvm.ptr) attributes {attn.abi = "in:f32:?0;out:f32:?0"} {
  llvm.return
}
llvm.func @_mlir_ciface_main(%a: !llvm.ptr, %b: !llvm.ptr) attributes {attn.abi = "in:f32:?0;out:f32:?0"} {
  llvm.return
}
