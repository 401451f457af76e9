/*===- builtins.c - compiler-rt conversions kernels may call -----*- C -*-===*
 *
 * Part of the attn project.
 *
 * Code that LLVM generates for an x86-64 without AVX512-BF16 converts f32 to
 * bf16 with a call of compiler-rt's __truncsfbf2. libgcc before GCC 13 and
 * compiler-rt before LLVM 17 (Debian 12's toolchains) lack it, so objects
 * from attn-compile --target=x86-64 with bf16 data would not link against
 * them; libattnrt provides it, weak, so that a newer runtime library wins.
 *
 *===----------------------------------------------------------------------===*/

#include <stdint.h>
#include <string.h>

/* The x86-64 psABI returns __bf16 in the low 16 bits of %xmm0, which is where
 * a float return whose bit pattern is the bf16's puts it. Rounds to nearest
 * even; NaN stays a (quiet) NaN. */
__attribute__((weak)) float __truncsfbf2(float x) {
  uint32_t bits;
  memcpy(&bits, &x, 4);
  uint32_t h;
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    h = (bits >> 16) | 0x40u;
  else
    h = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  float r;
  uint32_t w = h & 0xffffu;
  memcpy(&r, &w, 4);
  return r;
}
