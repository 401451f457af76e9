// RUN: attn-opt %s -verify-diagnostics --pass-pipeline='builtin.module(func.func(attn-lower-evict))'

func.func @tensors(%s: tensor<?x4x?xf32>, %k: tensor<?x4x?x64xf32>, %i: tensor<?x4x8xi32>, %ko: tensor<?x4x8x64xf32>) {
  // expected-error @+1 {{must be bufferized before attn-lower-evict}}
  %r:3 = attn.evict budget(8) scores(%s : tensor<?x4x?xf32>) ins(%k, %k : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) outs(%i, %ko, %ko : tensor<?x4x8xi32>, tensor<?x4x8x64xf32>, tensor<?x4x8x64xf32>) -> tensor<?x4x8xi32>, tensor<?x4x8x64xf32>, tensor<?x4x8x64xf32>
  return
}
