// RUN: attn-opt %s -verify-diagnostics --pass-pipeline='builtin.module(func.func(attn-lower-pool))'

func.func @tensors(%k: tensor<?x4x?x64xf32>, %o: tensor<?x4x?x64xf32>) {
  // expected-error @+1 {{must be bufferized before attn-lower-pool}}
  %r = attn.pool block(64) kinds(["mean"]) ins(%k : tensor<?x4x?x64xf32>) outs(%o : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return
}
