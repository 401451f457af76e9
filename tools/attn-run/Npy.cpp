//===- Npy.cpp - NumPy .npy files -------------------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "tools/attn-run/Npy.h"

#include <cerrno>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace attn;

namespace {
struct DtypeInfo {
  const char *name, *descr;
  size_t size;
};
const DtypeInfo kDtypes[] = {
    {"f32", "<f4", 4}, {"f16", "<f2", 2}, {"bf16", "<u2", 2}, {"f64", "<f8", 8},
    {"i32", "<i4", 4}, {"i64", "<i8", 8}, {"i8", "|i1", 1},   {"i1", "|b1", 1},
    // Bytes: read as u8, taken as fp8 codes where the function wants those.
    {"u8", "|u1", 1},  {"f8e4m3", "|u1", 1}, {"f8e5m2", "|u1", 1},
};

uint16_t floatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f))
    return 0x7fc0;
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}
float bf16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
float halfToFloat(uint16_t h) {
  _Float16 f;
  std::memcpy(&f, &h, 2);
  return static_cast<float>(f);
}
uint16_t floatToHalf(double d) {
  _Float16 h = static_cast<_Float16>(d);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}
} // namespace

size_t HostArray::elementSize(const std::string &dtype) {
  for (const DtypeInfo &d : kDtypes)
    if (dtype == d.name)
      return d.size;
  return 0;
}

int64_t HostArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

HostArray HostArray::allocate(const std::string &dtype,
                              std::vector<int64_t> shape) {
  HostArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.bytes = static_cast<size_t>(a.numElements()) * elementSize(dtype);
  size_t rounded = (a.bytes + 63) / 64 * 64 + 64;
  a.storage.reset(static_cast<uint8_t *>(std::aligned_alloc(64, rounded)),
                  std::free);
  std::memset(a.storage.get(), 0, rounded);
  a.data = a.storage.get();
  return a;
}

std::string attn::shapeString(const std::vector<int64_t> &shape) {
  std::string r = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    r += (i ? "," : "") + std::to_string(shape[i]);
  return r + "]";
}

std::string attn::npyDescr(const std::string &dtype) {
  for (const DtypeInfo &d : kDtypes)
    if (dtype == d.name)
      return d.descr;
  return "?";
}

/// Extracts the value of `key` in the header dict (e.g. "'descr': '<f4'").
static bool findValue(const std::string &header, const std::string &key,
                      std::string &value) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos)
    return false;
  size_t colon = header.find(':', k);
  if (colon == std::string::npos)
    return false;
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos)
    return false;
  size_t end;
  if (header[start] == '\'') {
    end = header.find('\'', start + 1);
    if (end == std::string::npos)
      return false;
    value = header.substr(start + 1, end - start - 1);
  } else if (header[start] == '(') {
    end = header.find(')', start);
    if (end == std::string::npos)
      return false;
    value = header.substr(start + 1, end - start - 1);
  } else {
    end = header.find_first_of(",}", start);
    value = header.substr(start, end - start);
  }
  return true;
}

bool attn::readNpy(const std::string &path, HostArray &out,
                   std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "': " + std::strerror(errno);
    return false;
  }
  std::string contents((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
  if (contents.size() < 10 || contents.compare(0, 6, "\x93NUMPY") != 0) {
    error = path + ": not a .npy file (bad magic)";
    return false;
  }
  int major = static_cast<uint8_t>(contents[6]);
  size_t headerLen, offset;
  if (major == 1) {
    headerLen = static_cast<uint8_t>(contents[8]) |
                (static_cast<uint8_t>(contents[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (contents.size() < 12) {
      error = path + ": truncated header";
      return false;
    }
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |= static_cast<size_t>(static_cast<uint8_t>(contents[8 + i]))
                   << (8 * i);
    offset = 12;
  } else {
    error = path + ": unsupported .npy version " + std::to_string(major);
    return false;
  }
  if (contents.size() < offset + headerLen) {
    error = path + ": truncated header";
    return false;
  }
  std::string header = contents.substr(offset, headerLen);
  std::string descr, fortran, shapeText;
  if (!findValue(header, "descr", descr) ||
      !findValue(header, "fortran_order", fortran) ||
      !findValue(header, "shape", shapeText)) {
    error = path + ": malformed header: " + header;
    return false;
  }
  if (fortran.find("True") != std::string::npos) {
    error = path + ": Fortran-ordered arrays are not supported";
    return false;
  }
  std::string dtype;
  for (const DtypeInfo &d : kDtypes)
    if (dtype.empty() &&
        (descr == d.descr || (descr[0] == '=' &&
                              descr.substr(1) == std::string(d.descr).substr(1))))
      dtype = d.name;
  if (dtype.empty()) {
    error = path + ": unsupported dtype '" + descr +
            "' (supported: <f4 <f2 <f8 <i4 <i8 |i1 |b1, <u2 for bf16 and |u1 for "
            "fp8)";
    return false;
  }
  std::vector<int64_t> shape;
  std::stringstream ss(shapeText);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t a = item.find_first_not_of(' ');
    if (a == std::string::npos)
      continue;
    char *end;
    long long v = std::strtoll(item.c_str() + a, &end, 10);
    if (v < 0 || end == item.c_str() + a) {
      error = path + ": malformed shape (" + shapeText + ")";
      return false;
    }
    shape.push_back(v);
  }
  out = HostArray::allocate(dtype, shape);
  size_t dataStart = offset + headerLen;
  size_t available = contents.size() - dataStart;
  if (available < out.bytes) {
    error = path + ": truncated: expected " + std::to_string(out.bytes) +
            " bytes of data, found " + std::to_string(available);
    return false;
  }
  std::memcpy(out.data, contents.data() + dataStart, out.bytes);
  return true;
}

bool attn::writeNpy(const std::string &path, const HostArray &a,
                    std::string &error) {
  std::string shape = "(";
  for (size_t i = 0; i < a.shape.size(); ++i)
    shape += std::to_string(a.shape[i]) + (a.shape.size() == 1      ? ","
                                           : i + 1 < a.shape.size() ? ", "
                                                                    : "");
  shape += ")";
  std::string header = "{'descr': '" + npyDescr(a.dtype) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    error = "cannot write '" + path + "': " + std::strerror(errno);
    return false;
  }
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  char lenBytes[2] = {static_cast<char>(len & 0xff),
                      static_cast<char>(len >> 8)};
  out.write(lenBytes, 2);
  out.write(header.data(), header.size());
  out.write(reinterpret_cast<const char *>(a.data), a.bytes);
  if (!out) {
    error = "error writing '" + path + "'";
    return false;
  }
  return true;
}

/// Reads a T from unaligned storage.
template <typename T> static T readAs(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

double attn::decodeFp8(uint8_t c, bool e5m2) {
  int mant = e5m2 ? 2 : 3, bias = e5m2 ? 15 : 7;
  int e = (c & 0x7f) >> mant, m = c & ((1 << mant) - 1);
  double sign = (c & 0x80) ? -1.0 : 1.0;
  if (e5m2 && e == 31)
    return m == 0 ? sign * INFINITY : NAN;
  if (!e5m2 && e == 15 && m == 7)
    return NAN;
  if (e == 0)
    return sign * std::ldexp(m, 1 - bias - mant);
  return sign * std::ldexp(1.0 + std::ldexp(m, -mant), e - bias);
}

uint8_t attn::encodeFp8(double v, bool e5m2) {
  if (std::isnan(v))
    return e5m2 ? 0x7e : 0x7f;
  int mant = e5m2 ? 2 : 3, bias = e5m2 ? 15 : 7;
  uint8_t sign = std::signbit(v) ? 0x80 : 0;
  // Saturated, then rounded to the codes' spacing around it: 2^(e - mant)
  // in the binade [2^e, 2^(e + 1)), that of the smallest normal binade
  // for subnormals; nearbyint rounds ties to even (an even multiple is an
  // even mantissa). A carry into the next binade is a code too.
  double a = std::min(std::fabs(v), e5m2 ? 57344.0 : 448.0);
  double minNormal = std::ldexp(1.0, 1 - bias);
  int e = a < minNormal ? 1 - bias : std::ilogb(a);
  double r = std::ldexp(std::nearbyint(std::ldexp(a, mant - e)), e - mant);
  if (r < minNormal)
    return static_cast<uint8_t>(sign | static_cast<int>(
                                           std::ldexp(r, bias - 1 + mant)));
  int re = std::ilogb(r);
  int m = static_cast<int>(std::ldexp(r, mant - re)) - (1 << mant);
  return static_cast<uint8_t>(sign | ((re + bias) << mant) | m);
}

double attn::loadElement(const HostArray &a, int64_t i) {
  const uint8_t *p = a.data + i * HostArray::elementSize(a.dtype);
  if (a.dtype == "f32")
    return readAs<float>(p);
  if (a.dtype == "f64")
    return readAs<double>(p);
  if (a.dtype == "bf16")
    return bf16ToFloat(readAs<uint16_t>(p));
  if (a.dtype == "f16")
    return halfToFloat(readAs<uint16_t>(p));
  if (a.dtype == "i32")
    return readAs<int32_t>(p);
  if (a.dtype == "i64")
    return static_cast<double>(readAs<int64_t>(p));
  if (a.dtype == "i8")
    return static_cast<int8_t>(*p);
  if (a.dtype == "f8e4m3" || a.dtype == "f8e5m2")
    return decodeFp8(*p, a.dtype == "f8e5m2");
  if (a.dtype == "u8")
    return *p;
  return *p != 0; // i1
}

void attn::storeElement(HostArray &a, int64_t i, double v) {
  uint8_t *p = a.data + i * HostArray::elementSize(a.dtype);
  if (a.dtype == "f32") {
    float f = static_cast<float>(v);
    std::memcpy(p, &f, 4);
  } else if (a.dtype == "f64") {
    std::memcpy(p, &v, 8);
  } else if (a.dtype == "bf16") {
    uint16_t h = floatToBf16(static_cast<float>(v));
    std::memcpy(p, &h, 2);
  } else if (a.dtype == "f16") {
    uint16_t h = floatToHalf(v);
    std::memcpy(p, &h, 2);
  } else if (a.dtype == "i32") {
    int32_t x = static_cast<int32_t>(v);
    std::memcpy(p, &x, 4);
  } else if (a.dtype == "i64") {
    int64_t x = static_cast<int64_t>(v);
    std::memcpy(p, &x, 8);
  } else if (a.dtype == "i8") {
    *p = static_cast<uint8_t>(static_cast<int8_t>(v));
  } else if (a.dtype == "f8e4m3" || a.dtype == "f8e5m2") {
    *p = encodeFp8(v, a.dtype == "f8e5m2");
  } else if (a.dtype == "u8") {
    *p = static_cast<uint8_t>(v);
  } else {
    *p = v != 0;
  }
}
