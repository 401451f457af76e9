//===- DType.h - attn-run's names of element types --------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TOOLS_ATTN_RUN_DTYPE_H
#define ATTN_TOOLS_ATTN_RUN_DTYPE_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#include <string>

namespace mlir::attn {

/// The .npy/HostArray name of an element type (`?` if it has none).
inline std::string dtypeOf(Type t) {
  if (t.isF32())
    return "f32";
  if (t.isF16())
    return "f16";
  if (t.isBF16())
    return "bf16";
  if (t.isF64())
    return "f64";
  if (t.isInteger(1))
    return "i1";
  if (t.isInteger(8))
    return "i8";
  if (isa<Float8E4M3FNType>(t))
    return "f8e4m3";
  if (isa<Float8E5M2Type>(t))
    return "f8e5m2";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(64))
    return "i64";
  return "?";
}

} // namespace mlir::attn

#endif // ATTN_TOOLS_ATTN_RUN_DTYPE_H
