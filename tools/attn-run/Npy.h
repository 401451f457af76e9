//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Part of the attn project.
//
// Element types: f32 '<f4', f16 '<f2', f64 '<f8', i32 '<i4', i64 '<i8',
// i8 '|i1', i1 '|b1', and bf16 stored as uint16 '<u2' (NumPy has no bf16:
// the uint16 holds the upper half of the f32 bit pattern).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TOOLS_ATTN_RUN_NPY_H
#define ATTN_TOOLS_ATTN_RUN_NPY_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attn {

/// A host array with 64-byte aligned storage.
struct HostArray {
  std::string dtype; ///< attn name: f32, f16, bf16, f64, i32, i64, i8, i1,
                     ///< f8e4m3, f8e5m2 (u8: raw bytes read from |u1)
  std::vector<int64_t> shape;
  std::shared_ptr<uint8_t> storage;
  uint8_t *data = nullptr;
  size_t bytes = 0;

  int64_t numElements() const;
  static size_t elementSize(const std::string &dtype);
  static HostArray allocate(const std::string &dtype,
                            std::vector<int64_t> shape);
};

/// Reads an .npy file; on failure returns false and sets `error`.
bool readNpy(const std::string &path, HostArray &out, std::string &error);
/// Writes an .npy file (format 1.0).
bool writeNpy(const std::string &path, const HostArray &array,
              std::string &error);
/// The .npy descr of an attn dtype, e.g. "<f4".
/// Formats a shape as `[1,8,5,64]`.
std::string shapeString(const std::vector<int64_t> &shape);
std::string npyDescr(const std::string &dtype);

/// fp8 codes (f8E4M3FN, or f8E5M2 with `e5m2`) to their values, and a value
/// to its nearest finite code (saturating, ties to even).
double decodeFp8(uint8_t code, bool e5m2);
uint8_t encodeFp8(double v, bool e5m2);

/// Element conversions used by the reference backend.
double loadElement(const HostArray &a, int64_t index);
void storeElement(HostArray &a, int64_t index, double value);

} // namespace attn

#endif // ATTN_TOOLS_ATTN_RUN_NPY_H
