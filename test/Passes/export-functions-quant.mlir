// RUN: attn-opt %s -split-input-file -attn-export-functions | FileCheck %s

// Quantized caches in the C ABI: fp8 arguments are f8e4m3 / f8e5m2 (bytes,
// DLPack kDLUInt/8); a scale with one entry per page (per token) or per
// token of the quantized rows shares the symbol of that dim (?1: the
// pools' pages; ?0: the rows), so the runtime checks it; a scale dim of 1
// or a static block count is static.
// CHECK-LABEL: func.func private @step
// CHECK-SAME: attn.abi = "in:f16:?0,8,1,64;in:f8e4m3:?1,16,2,64;in:i8:?1,16,2,64;in:i32:?0;in:i32:?0,?2;in:f32:1,1,1,1;in:f16:?1,16,2,2;out:f16:?0,8,1,64;pages:4:3:1.0:16;pages:4:3:2.0:16"
// CHECK-LABEL: func.func private @quant
// CHECK-SAME: attn.abi = "in:f32:?0,2,64;out:f8e5m2:?0,2,64;out:f32:?0,2,1"
func.func @step(%q: tensor<?x8x1x64xf16>, %k: tensor<?x16x2x64xf8E4M3FN>, %v: tensor<?x16x2x64xi8>,
    %lens: tensor<?xi32>, %t: tensor<?x?xi32>, %ks: tensor<1x1x1x1xf32>, %vs: tensor<?x16x2x2xf16>) -> tensor<?x8x1x64xf16> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x1x64xf16>
  %o = tensor.empty(%b) : tensor<?x8x1x64xf16>
  %r = attn.attention ins(%q, %k, %v : tensor<?x8x1x64xf16>, tensor<?x16x2x64xf8E4M3FN>, tensor<?x16x2x64xi8>)
      kv_lens(%lens : tensor<?xi32>) pages(%t : tensor<?x?xi32>)
      key_scale(%ks : tensor<1x1x1x1xf32>) value_scale(%vs : tensor<?x16x2x2xf16>)
      outs(%o : tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16>
  return %r : tensor<?x8x1x64xf16>
}
func.func @quant(%x: tensor<?x2x64xf32>) -> (tensor<?x2x64xf8E5M2>, tensor<?x2x1xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x2x64xf32>
  %q0 = tensor.empty(%n) : tensor<?x2x64xf8E5M2>
  %s0 = tensor.empty(%n) : tensor<?x2x1xf32>
  %q, %s = attn.quantize_kv ins(%x : tensor<?x2x64xf32>) outs(%q0, %s0 : tensor<?x2x64xf8E5M2>, tensor<?x2x1xf32>) -> tensor<?x2x64xf8E5M2>, tensor<?x2x1xf32>
  return %q, %s : tensor<?x2x64xf8E5M2>, tensor<?x2x1xf32>
}
