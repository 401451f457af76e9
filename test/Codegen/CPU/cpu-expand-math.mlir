// RUN: attn-opt %s -attn-cpu-expand-math | FileCheck %s

// Math in regions stays vectorized: no calls, polynomials instead.
// CHECK-LABEL: func.func @softcap
// CHECK-NOT: math.tanh
// CHECK-NOT: math.exp
// CHECK: arith.mulf {{.*}} : vector<16xf32>
func.func @softcap(%x: vector<16xf32>) -> vector<16xf32> {
  %t = math.tanh %x : vector<16xf32>
  %e = math.exp %t : vector<16xf32>
  return %e : vector<16xf32>
}
