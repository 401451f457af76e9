// The whole CPU pipeline, exactly as attn-compile runs it, on the example
// the README uses: everything ends in the LLVM dialect, the vector width
// follows the option, and one public entry point per public function is left.
// RUN: attn-opt %attn_src/examples/causal_gqa.mlir --attn-cpu-pipeline | FileCheck %s --check-prefixes=CHECK,AVX512
// RUN: attn-opt %attn_src/examples/causal_gqa.mlir --attn-cpu-pipeline="vector-width=8 symbol-prefix=k_" | FileCheck %s --check-prefixes=PREFIX,AVX2
// RUN: attn-opt %attn_src/examples/causal_gqa.mlir --attn-cpu-pipeline | FileCheck %s --check-prefix=NOHIGH

// CHECK-LABEL: llvm.func internal @main(
// The parallel body is outlined and handed to the runtime's pool.
// CHECK: llvm.call @attnrt_parallel_for
// CHECK: llvm.func internal @main_parallel_0(
// AVX512: vector<16xf32>
// CHECK: llvm.mlir.global external constant @attn_main_signature("in:f32:?0,8,?1,64;in:f32:?0,2,?2,64;in:f32:?0,2,?2,64;out:f32:?0,8,?1,64\00")
// CHECK: llvm.func @attn_main(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr) -> i32
// CHECK: llvm.call @attnrt_invoke

// PREFIX: llvm.func internal @main_parallel_0(
// AVX2: vector<8xf32>
// AVX2-NOT: vector<16xf32>
// PREFIX: llvm.func @k_main(

// Nothing above the LLVM dialect survives.
// NOHIGH-NOT: {{ (attn|scf|memref|vector|arith|math|func|cf|linalg|tensor|bufferization)\.}}
