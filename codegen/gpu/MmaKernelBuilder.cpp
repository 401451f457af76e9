//===- MmaKernelBuilder.cpp - Building blocks of tensor-core kernels -----===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/MmaKernelBuilder.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;

std::string mlir::attn::mmaOperandMismatch(Value q, Value k, Value v) {
  auto qType = cast<ShapedType>(q.getType());
  auto kType = cast<ShapedType>(k.getType());
  auto vType = cast<ShapedType>(v.getType());
  Type elem = qType.getElementType();
  if (kType.getElementType() != elem || vType.getElementType() != elem ||
      !(elem.isF32() || elem.isF16() || elem.isBF16()))
    return "query, key and value of different element types";
  for (int64_t dim : {qType.getDimSize(3), vType.getDimSize(3)})
    if (dim % 16 != 0 || dim > 256)
      return "a head dim that is not a multiple of 16 up to 256";
  return "";
}

Value MmaKernelBuilder::stage(Value src,
                              llvm::function_ref<RowSource(Value)> rowOf,
                              int64_t dim, Value dst) {
  int64_t chunksPerRow = dim / 8;
  int64_t perThread = kMmaRows * chunksPerRow / kMmaThreads;
  auto srcType = cast<MemRefType>(src.getType());
  Type srcElem = srcType.getElementType();
  bool async = srcElem == mmaType;
  SmallVector<Value> tokens;
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  for (int64_t it = 0; it < perThread; ++it) {
    Value chunk = add(tid, cst(it * kMmaThreads));
    Value r = div(chunk, chunksPerRow);
    Value col = mul(rem(chunk, chunksPerRow), cst(8));
    auto [head, row, valid] = rowOf(r);
    Value safeRow = select(valid, row, cst(0));
    if (async) {
      Value n = select(valid, cst(8), cst(0));
      tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
          b, loc, tokenType, dst, ValueRange{r, col}, src,
          ValueRange{bb, head, safeRow, col}, b.getIndexAttr(8), n,
          b.getUnitAttr()));
      continue;
    }
    auto vecType = VectorType::get({8}, srcElem);
    Value x = vector::LoadOp::create(b, loc, vecType, src,
                                     ValueRange{bb, head, safeRow, col});
    Value zero = arith::ConstantOp::create(
        b, loc, vecType,
        DenseElementsAttr::get(vecType, b.getFloatAttr(srcElem, 0.0)));
    x = select(valid, x, zero);
    // f32 rounds to the MMA type; a 16-bit type of the other kind (a bf16
    // gradient of an f16 attention) goes through f32.
    if (srcElem.getIntOrFloatBitWidth() < 32)
      x = arith::ExtFOp::create(b, loc, VectorType::get({8}, f32), x);
    Value y = arith::TruncFOp::create(b, loc, VectorType::get({8}, mmaType), x);
    vector::StoreOp::create(b, loc, y, dst, ValueRange{r, col});
  }
  if (!async)
    return Value();
  return nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokenType, tokens);
}

Value MmaKernelBuilder::launchPerElement(Value total) {
  Value c1 = cst(1);
  Value blocks = arith::CeilDivUIOp::create(b, loc, total, cst(kMmaThreads));
  auto launch = gpu::LaunchOp::create(b, loc, blocks, c1, c1,
                                      cst(kMmaThreads), c1, c1);
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value idx = add(mul(launch.getBlockIds().x, cst(kMmaThreads)),
                  launch.getThreadIds().x);
  auto ifIn = scf::IfOp::create(b, loc, ult(idx, total), false);
  b.setInsertionPointToStart(ifIn.thenBlock());
  return idx;
}

void MmaKernelBuilder::waitGroups(Value token, int32_t pending) {
  if (token)
    nvgpu::DeviceAsyncWaitOp::create(b, loc, token,
                                     b.getI32IntegerAttr(pending));
}

Value MmaKernelBuilder::dynamicShared() {
  auto ws = gpu::AddressSpaceAttr::get(b.getContext(),
                                       gpu::AddressSpace::Workgroup);
  return gpu::DynamicSharedMemoryOp::create(
      b, loc,
      MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                      MemRefLayoutAttrInterface(), ws));
}

Value MmaKernelBuilder::sharedTile(Value smem, int64_t offset, int64_t dim) {
  auto ws = gpu::AddressSpaceAttr::get(b.getContext(),
                                       gpu::AddressSpace::Workgroup);
  return memref::ViewOp::create(
      b, loc,
      MemRefType::get({kMmaRows, dim + kMmaPad}, mmaType,
                      MemRefLayoutAttrInterface(), ws),
      smem, cst(offset), ValueRange{});
}

SmallVector<Value> MmaKernelBuilder::ldmatrix(Value tile, Value row, Value col,
                                              int tiles, bool transpose) {
  auto type = VectorType::get({tiles, 2}, mmaType);
  Value m = nvgpu::LdMatrixOp::create(b, loc, type, tile, ValueRange{row, col},
                                      b.getBoolAttr(transpose),
                                      b.getI32IntegerAttr(tiles));
  SmallVector<Value> frags;
  for (int i = 0; i < tiles; ++i)
    frags.push_back(vector::ExtractOp::create(b, loc, m, i));
  return frags;
}

SmallVector<Value> MmaKernelBuilder::aFragment(Value tile, Value row0,
                                               int64_t col0) {
  return ldmatrix(tile, add(row0, rem(lane, 16)),
                  add(cst(col0), mul(div(lane, 16), cst(8))), 4, false);
}

SmallVector<Value> MmaKernelBuilder::bFragmentRows(Value tile, int64_t row0,
                                                   int64_t col0) {
  return ldmatrix(tile, add(cst(row0), rem(lane, 8)),
                  add(cst(col0), mul(rem(div(lane, 8), 2), cst(8))), 2, false);
}

SmallVector<Value> MmaKernelBuilder::bFragmentCols(Value tile, int64_t row0,
                                                   int64_t col0) {
  return ldmatrix(tile, add(cst(row0), rem(lane, 16)), cst(col0), 2, true);
}

SmallVector<Value> MmaKernelBuilder::mma(ArrayRef<Value> a,
                                         ArrayRef<Value> bFrag,
                                         ArrayRef<Value> acc) {
  bool bf16 = mmaType.isBF16();
  auto operand = [&](Value frag) -> Value {
    if (!bf16)
      return frag;
    // bf16 fragments travel as i32 registers.
    Value w = vector::BitCastOp::create(
        b, loc, VectorType::get({1}, b.getI32Type()), frag);
    return vector::ExtractOp::create(b, loc, w, 0);
  };
  SmallVector<Value> aOps, bOps;
  for (Value v : a)
    aOps.push_back(operand(v));
  for (Value v : bFrag)
    bOps.push_back(operand(v));
  auto resultType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), SmallVector<Type>(4, f32));
  NVVM::MMATypes t = bf16 ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  Value d = NVVM::MmaOp::create(
      b, loc, resultType, aOps, bOps, acc, ArrayRef<int64_t>{16, 8, 16},
      std::nullopt, std::nullopt, std::array<NVVM::MMATypes, 2>{t, t},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> out;
  for (int64_t i = 0; i < 4; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return out;
}

Value MmaKernelBuilder::pack(Value lo, Value hi) {
  Value v = vector::FromElementsOp::create(
      b, loc, VectorType::get({2}, f32), ValueRange{lo, hi});
  return arith::TruncFOp::create(b, loc, VectorType::get({2}, mmaType), v);
}

Value MmaKernelBuilder::toOutput(Value x, Type type) {
  if (type == f32)
    return x;
  if (type.getIntOrFloatBitWidth() < 32)
    return arith::TruncFOp::create(b, loc, type, x);
  return arith::ExtFOp::create(b, loc, type, x);
}
