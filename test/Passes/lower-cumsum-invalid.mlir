// RUN: attn-opt %s -split-input-file -attn-lower-cumsum -verify-diagnostics -o /dev/null

func.func @on_tensors(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{must be bufferized before attn-lower-cumsum}}
  %r = attn.cumsum dim(0) ins(%x : tensor<?xf32>) outs(%x : tensor<?xf32>) -> tensor<?xf32>
  return %r : tensor<?xf32>
}
