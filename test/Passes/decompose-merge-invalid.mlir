// RUN: attn-opt %s -attn-decompose-merge -verify-diagnostics

func.func @on_memrefs(%o1: memref<8x64xf32>, %l1: memref<8xf32>,
                      %o: memref<8x64xf32>) {
  // expected-error @+1 {{is decomposed on tensors only (before bufferization)}}
  attn.merge ins(%o1 : memref<8x64xf32>) lse(%l1 : memref<8xf32>)
      outs(%o : memref<8x64xf32>)
  return
}
