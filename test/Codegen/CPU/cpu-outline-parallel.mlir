// RUN: attn-opt %s -split-input-file -attn-cpu-outline-parallel | FileCheck %s

// CHECK-LABEL: llvm.func @body
// Captures are packed in order of first use in the body.
// CHECK: %[[CTX:.+]] = llvm.alloca %{{.+}} x !llvm.struct<(f32, ptr)>
// CHECK: llvm.store %arg2, %{{.+}} : f32, !llvm.ptr
// CHECK: llvm.store %arg0, %{{.+}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[FN:.+]] = llvm.mlir.addressof @body_parallel_0
// CHECK: llvm.call @attnrt_parallel_for(%arg1, %[[FN]], %[[CTX]])
// CHECK-NOT: attn.parallel_for

// The outlined body: captures loaded from the context, the scratch alloca
// hoisted into the entry block, a loop over [begin, end).
// CHECK: llvm.func internal @body_parallel_0(%[[C:.+]]: !llvm.ptr, %[[BEGIN:.+]]: i64, %[[END:.+]]: i64)
// CHECK: llvm.alloca
// CHECK: llvm.load %{{.+}} : !llvm.ptr -> f32
// CHECK: llvm.load %{{.+}} : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.br ^[[HEADER:.+]](%[[BEGIN]] : i64)
// CHECK: ^{{.+}}(%[[IV:.+]]: i64):
// CHECK: llvm.getelementptr %{{.+}}[%[[IV]]]
// CHECK: llvm.store
// CHECK: ^[[HEADER]](%[[I:.+]]: i64):
// CHECK: llvm.icmp "slt" %[[I]], %[[END]]
// CHECK: llvm.add
// CHECK: llvm.func @attnrt_parallel_for(i64, !llvm.ptr, !llvm.ptr)
llvm.func @body(%buf: !llvm.ptr, %n: i64, %x: f32) {
  attn.parallel_for (%n) {
  ^bb0(%t: i64):
    %one = llvm.mlir.constant(16 : i64) : i64
    %scratch = llvm.alloca %one x f32 : (i64) -> !llvm.ptr
    llvm.store %x, %scratch : f32, !llvm.ptr
    %p = llvm.getelementptr %buf[%t] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    llvm.store %x, %p : f32, !llvm.ptr
    attn.yield
  }
  llvm.return
}

// -----

// An alloca of run-time size stays in the loop, which saves the stack
// pointer in its header and restores it in its latch.
// CHECK-LABEL: llvm.func @dynamic_scratch
// CHECK: llvm.func internal @dynamic_scratch_parallel_0
// CHECK: ^{{.+}}(%{{.+}}: i64):
// CHECK: llvm.alloca %{{.+}} x f32
// CHECK: ^{{.+}}(%{{.+}}: i64):
// CHECK-NEXT: %[[SP:.+]] = llvm.intr.stacksave : !llvm.ptr
// CHECK: llvm.add
// CHECK-NEXT: llvm.intr.stackrestore %[[SP]] : !llvm.ptr
llvm.func @dynamic_scratch(%buf: !llvm.ptr, %n: i64, %x: f32) {
  attn.parallel_for (%n) {
  ^bb0(%t: i64):
    %scratch = llvm.alloca %n x f32 : (i64) -> !llvm.ptr
    llvm.store %x, %scratch : f32, !llvm.ptr
    attn.yield
  }
  llvm.return
}
