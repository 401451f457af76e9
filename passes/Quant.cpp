//===- Quant.cpp - 8-bit KV-cache codes as arith ops ------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "passes/Quant.h"

#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/TypeUtilities.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

namespace {
/// The fp8 formats' bit layout: mantissa bits and exponent bias.
struct Fp8Format {
  int mantissa, bias;
};

Fp8Format fp8Format(Type t) {
  if (isa<Float8E5M2Type>(t))
    return {2, 15};
  return {3, 7};
}

/// `elt` with the shape of `like` (a scalar or vector type).
Type withShape(Type like, Type elt) {
  if (auto v = dyn_cast<VectorType>(like))
    return VectorType::get(v.getShape(), elt);
  return elt;
}

Value splat(OpBuilder &b, Location loc, Type type, double x) {
  Type elt = getElementTypeOrSelf(type);
  TypedAttr scalar = isa<FloatType>(elt)
                         ? TypedAttr(b.getFloatAttr(elt, x))
                         : TypedAttr(b.getIntegerAttr(elt, int64_t(x)));
  if (auto v = dyn_cast<VectorType>(type))
    return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(v, scalar));
  return arith::ConstantOp::create(b, loc, scalar);
}
} // namespace

double mlir::attn::decodeFactor(Type codeType) {
  if (codeType.isInteger(8))
    return 1.0;
  Fp8Format f = fp8Format(codeType);
  return std::ldexp(1.0, 127 - f.bias);
}

Value mlir::attn::decodeCodes(OpBuilder &b, Location loc, Value x) {
  Type type = x.getType(), code = getElementTypeOrSelf(type);
  Type f32 = withShape(type, b.getF32Type());
  if (code.isInteger(8))
    return arith::SIToFPOp::create(b, loc, f32, x);
  // f32 bits: (magnitude bits << (23 - mantissa)) | (sign << 31). The
  // exponent field then holds the code's biased exponent: the value is
  // 2^(bias - 127) times the code's (a code's subnormals become f32
  // subnormals, which stay exact).
  Fp8Format f = fp8Format(code);
  Type i32 = withShape(type, b.getI32Type());
  Value bits = arith::BitcastOp::create(
      b, loc, withShape(type, b.getI8Type()), x);
  Value u = arith::ExtUIOp::create(b, loc, i32, bits);
  Value mag = arith::ShLIOp::create(
      b, loc, arith::AndIOp::create(b, loc, u, splat(b, loc, i32, 0x7f)),
      splat(b, loc, i32, 23 - f.mantissa));
  Value sign = arith::ShLIOp::create(
      b, loc, arith::AndIOp::create(b, loc, u, splat(b, loc, i32, 0x80)),
      splat(b, loc, i32, 24));
  return arith::BitcastOp::create(b, loc, f32,
                                  arith::OrIOp::create(b, loc, mag, sign));
}

Value mlir::attn::encodeCodes(OpBuilder &b, Location loc, Value y,
                              Type codeType) {
  Type type = y.getType();
  Type i32 = withShape(type, b.getI32Type());
  Type i8 = withShape(type, b.getI8Type());
  double maxCode = getQuantizedMax(codeType);
  // Round to nearest even by adding and subtracting 1.5 * 2^23 (exact for
  // |x| < 2^22, which saturation guarantees).
  auto roundEven = [&](Value x) -> Value {
    Value magic = splat(b, loc, type, 12582912.0);
    return arith::SubFOp::create(b, loc, arith::AddFOp::create(b, loc, x, magic),
                                 magic);
  };
  if (codeType.isInteger(8)) {
    Value c = arith::MinimumFOp::create(
        b, loc,
        arith::MaximumFOp::create(b, loc, y, splat(b, loc, type, -maxCode)),
        splat(b, loc, type, maxCode));
    return arith::FPToSIOp::create(b, loc, i8, roundEven(c));
  }
  Fp8Format f = fp8Format(codeType);
  int shift = 23 - f.mantissa;
  Value bitsY = arith::BitcastOp::create(b, loc, i32, y);
  Value sign = arith::ShRUIOp::create(
      b, loc, arith::AndIOp::create(b, loc, bitsY, splat(b, loc, i32, -2147483648.0)),
      splat(b, loc, i32, 24));
  Value absY = arith::BitcastOp::create(
      b, loc, type,
      arith::AndIOp::create(b, loc, bitsY, splat(b, loc, i32, 0x7fffffff)));
  Value a = arith::MinimumFOp::create(b, loc, absY,
                                      splat(b, loc, type, maxCode));
  // Subnormal codes: multiples of 2^(1 - bias - mantissa).
  Value sub = arith::FPToSIOp::create(
      b, loc, i32,
      roundEven(arith::MulFOp::create(
          b, loc, a,
          splat(b, loc, type, std::ldexp(1.0, f.bias - 1 + f.mantissa)))));
  // Normal codes: the f32 mantissa rounded to `mantissa` bits (to nearest
  // even; a carry moves into the exponent), the exponent rebiased.
  Value bits = arith::BitcastOp::create(b, loc, i32, a);
  Value lsb = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, splat(b, loc, i32, shift)),
      splat(b, loc, i32, 1));
  Value rounded = arith::AddIOp::create(
      b, loc, bits,
      arith::AddIOp::create(b, loc, lsb,
                            splat(b, loc, i32, (1 << (shift - 1)) - 1)));
  Value normal = arith::SubIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, rounded, splat(b, loc, i32, shift)),
      splat(b, loc, i32, (127 - f.bias) << f.mantissa));
  Value isSub = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OLT, a,
      splat(b, loc, type, std::ldexp(1.0, 1 - f.bias)));
  Value mag = arith::SelectOp::create(b, loc, isSub, sub, normal);
  Value code = arith::TruncIOp::create(b, loc, i8,
                                       arith::OrIOp::create(b, loc, mag, sign));
  return arith::BitcastOp::create(b, loc, withShape(type, codeType), code);
}

SmallVector<Value> mlir::attn::scaleIndices(OpBuilder &b, Location loc,
                                            ArrayRef<int64_t> blocks,
                                            ValueRange idx) {
  SmallVector<Value> out;
  for (auto [block, i] : llvm::zip(blocks, idx)) {
    if (block == 0)
      out.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    else if (block == 1)
      out.push_back(i);
    else
      out.push_back(arith::DivUIOp::create(
          b, loc, i, arith::ConstantIndexOp::create(b, loc, block)));
  }
  return out;
}
