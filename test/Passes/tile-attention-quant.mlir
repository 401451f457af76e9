// RUN: attn-opt %s -split-input-file -attn-tile-attention=kv-tile=64 | FileCheck %s

// Quantized caches: each key and value tile (here 64 keys gathered from
// pages of 16) is dequantized into a stack tile of the query's element
// type as it is staged, a row vector at a time: int8 codes converted (sitofp), q8_0's f16 scales (one per 32
// channels) read as a vector and spread over their channels (shuffle);
// fp8 codes decoded with integer shifts into an f32 (no fp8 instruction)
// times 2^120, times the per-tensor scale; then rounded to f16. The
// micro-kernel reads the stack tiles.
// CHECK-LABEL: func.func @paged_decode
// CHECK: scf.forall
// CHECK: %[[KT:.*]] = memref.alloca() : memref<64x64xf16>
// CHECK: %[[VT:.*]] = memref.alloca() : memref<64x64xf16>
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[KDST:.*]] = memref.subview %[[KT]][
// CHECK: scf.for %[[R:.*]] =
// CHECK: %[[X:.*]] = vector.transfer_read {{.*}} : memref<?x64xi8, {{.*}}>, vector<64xi8>
// CHECK: %[[XF:.*]] = arith.sitofp %[[X]] : vector<64xi8> to vector<64xf32>
// CHECK: %[[S:.*]] = vector.transfer_read %arg5{{.*}} : memref<?x16x2x2xf16>, vector<2xf16>
// CHECK: %[[SF:.*]] = arith.extf %[[S]] : vector<2xf16> to vector<2xf32>
// CHECK: %[[SS:.*]] = vector.shuffle %[[SF]], %[[SF]] [0, 0, {{.*}}, 0, 1, 1, {{.*}}, 1] : vector<2xf32>, vector<2xf32>
// CHECK: %[[Y:.*]] = arith.mulf %[[XF]], %[[SS]] : vector<64xf32>
// CHECK: %[[H:.*]] = arith.truncf %[[Y]] : vector<64xf32> to vector<64xf16>
// CHECK: vector.transfer_write %[[H]], %[[KDST]][%[[R]],
// CHECK: %[[KTILE:.*]] = memref.subview %[[KT]][0, 0]
// CHECK: %[[VDST:.*]] = memref.subview %[[VT]][
// CHECK: vector.transfer_read {{.*}} : memref<?x64xf8E4M3FN, {{.*}}>, vector<64xf8E4M3FN>
// CHECK: arith.bitcast {{.*}} : vector<64xf8E4M3FN> to vector<64xi8>
// CHECK: arith.extui {{.*}} : vector<64xi8> to vector<64xi32>
// CHECK: arith.shli
// CHECK: arith.shli
// CHECK: %[[VB:.*]] = arith.bitcast {{.*}} : vector<64xi32> to vector<64xf32>
// CHECK: %[[VE:.*]] = arith.mulf %[[VB]], %{{.*}} : vector<64xf32>
// CHECK: %[[VS:.*]] = memref.load %arg6[
// CHECK: %[[VSS:.*]] = vector.broadcast %[[VS]] : f32 to vector<64xf32>
// CHECK: arith.mulf %[[VE]], %[[VSS]] : vector<64xf32>
// CHECK: %[[VTILE:.*]] = memref.subview %[[VT]][0, 0]
// CHECK: attn.tile_attend ins(%{{.*}}, %[[KTILE]], %[[VTILE]] : memref<4x64xf16, {{.*}}>, memref<?x64xf16, {{.*}}>, memref<?x64xf16, {{.*}}>)
func.func @paged_decode(%q: memref<?x8x1x64xf16>, %k: memref<?x16x2x64xi8>, %v: memref<?x16x2x64xf8E4M3FN>,
    %lens: memref<?xi32>, %t: memref<?x?xi32>, %ks: memref<?x16x2x2xf16>, %vs: memref<1x1x1x1xf32>,
    %o: memref<?x8x1x64xf16>) {
  attn.attention ins(%q, %k, %v : memref<?x8x1x64xf16>, memref<?x16x2x64xi8>, memref<?x16x2x64xf8E4M3FN>)
      kv_lens(%lens : memref<?xi32>) pages(%t : memref<?x?xi32>)
      key_scale(%ks : memref<?x16x2x2xf16>) value_scale(%vs : memref<1x1x1x1xf32>)
      outs(%o : memref<?x8x1x64xf16>)
  return
}

// -----

// Dense keys with a per-token scale [B, Hkv, L, 1]: the rows of a dense
// tile are staged too, each with the scale of its (batch, head, key); the
// values (f32) stay views of the operand.
// CHECK-LABEL: func.func @dense_prefill
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %{{.*}}) in
// CHECK: %[[HK:.*]] = arith.divui %[[H]]
// CHECK: scf.for %[[KTILE:.*]] =
// CHECK: arith.muli %[[KTILE]]
// CHECK: %[[K0:.*]] = arith.addi
// CHECK: scf.for %[[R:.*]] =
// CHECK: arith.sitofp {{.*}} : vector<32xi8> to vector<32xf32>
// CHECK: %[[J:.*]] = arith.addi %[[K0]], %[[R]] : index
// CHECK: memref.load %arg3[%[[B]], %[[HK]], %[[J]], %{{.*}}] : memref<?x2x?x1xf32>
// CHECK: attn.tile_attend ins(%{{.*}}, %{{.*}}, %{{.*}} : memref<?x32xf32, {{.*}}>, memref<?x32xf32, strided<[32, 1]>>, memref<?x32xf32, strided<[32, 1], offset: ?>>)
func.func @dense_prefill(%q: memref<?x4x?x32xf32>, %k: memref<?x2x?x32xi8>, %v: memref<?x2x?x32xf32>,
    %ks: memref<?x2x?x1xf32>, %o: memref<?x4x?x32xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x4x?x32xf32>, memref<?x2x?x32xi8>, memref<?x2x?x32xf32>)
      key_scale(%ks : memref<?x2x?x1xf32>) outs(%o : memref<?x4x?x32xf32>)
  return
}
