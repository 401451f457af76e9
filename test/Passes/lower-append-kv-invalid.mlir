// RUN: attn-opt %s -attn-lower-append-kv -verify-diagnostics -o /dev/null

// The scatter is built on buffers.
func.func @on_tensors(%k: tensor<2x1x8xf32>, %s: tensor<2xi32>, %p: tensor<3x4x1x8xf32>) -> tensor<3x4x1x8xf32> {
  // expected-error @+1 {{expected memref operands; run one-shot-bufferize before attn-lower-append-kv}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<2x1x8xf32>, tensor<2x1x8xf32>) slots(%s : tensor<2xi32>)
      outs(%p, %p : tensor<3x4x1x8xf32>, tensor<3x4x1x8xf32>) -> tensor<3x4x1x8xf32>, tensor<3x4x1x8xf32>
  return %a : tensor<3x4x1x8xf32>
}
