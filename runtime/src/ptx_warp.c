/*===- ptx_warp.c - warp-collective PTX instructions on the host --*- C -*-===*
 *
 * Part of the attn project.
 *
 * The semantics of the warp-wide instructions attn's NVPTX kernels use,
 * written from the PTX ISA manual's descriptions and fragment figures (not
 * from the kernel generator's layout code, so that a layout error in the
 * generator shows as a wrong result). Each function takes the 32 lanes'
 * operands and returns the 32 lanes' results; gpu_emulation.c gathers them
 * when every lane of a warp has arrived.
 *
 *===----------------------------------------------------------------------===*/

#include "ptx_warp.h"

#include <math.h>
#include <string.h>

float attnptx_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31;
  int32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  float mag;
  if (exp == 0x1f)
    mag = man ? NAN : INFINITY;
  else if (exp == 0)
    mag = ldexpf((float)man, -24); /* subnormal */
  else
    mag = ldexpf((float)(man | 0x400), exp - 25);
  uint32_t bits;
  memcpy(&bits, &mag, 4);
  bits |= sign;
  memcpy(&mag, &bits, 4);
  return mag;
}

float attnptx_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* ldmatrix.sync.aligned.m8n8.x{1,2,4}{.trans}.shared.b16 (PTX ISA,
 * "Warp-level matrix load instruction: ldmatrix"): each 8x8 matrix of
 * 16-bit elements is given by 8 row addresses of 16 bytes; threads 0-7 give
 * the rows of matrix 0, 8-15 of matrix 1, 16-23 of matrix 2, 24-31 of
 * matrix 3. Destination register i of lane l holds row l/4, elements
 * 2 (l%4) and 2 (l%4) + 1 of matrix i (the lower-numbered element in the
 * low half); with .trans the matrix is read transposed, i.e. elements
 * (2 (l%4), l/4) and (2 (l%4) + 1, l/4). */
void attnptx_ldmatrix(const uint8_t *const rows[32], int num, int trans,
                      uint32_t out[32][4]) {
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < num; ++i) {
      uint16_t e[2];
      for (int j = 0; j < 2; ++j) {
        int r = l / 4, c = 2 * (l % 4) + j;
        if (trans) {
          int t = r;
          r = c;
          c = t;
        }
        memcpy(&e[j], rows[8 * i + r] + 2 * c, 2);
      }
      out[l][i] = (uint32_t)e[0] | ((uint32_t)e[1] << 16);
    }
}

static float half_at(uint32_t reg, int hi, int bf16) {
  uint16_t h = (uint16_t)(hi ? reg >> 16 : reg & 0xffff);
  return bf16 ? attnptx_bf16_to_f32(h) : attnptx_f16_to_f32(h);
}

/* mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 (PTX
 * ISA, "Matrix fragments for mma.m16n8k16 with floating point type"), with
 * groupID g = l >> 2 and threadID_in_group t = l % 4 of lane l:
 *   A (16x16, 4 registers of two elements, lower element in the low half):
 *     a0,a1: (g, 2t + {0,1})      a2,a3: (g + 8, 2t + {0,1})
 *     a4,a5: (g, 2t + 8 + {0,1})  a6,a7: (g + 8, 2t + 8 + {0,1})
 *   B (16x8, 2 registers): b0,b1: (k = 2t + {0,1}, n = g)
 *                          b2,b3: (k = 2t + 8 + {0,1}, n = g)
 *   C, D (16x8 f32): c0,c1: (g, 2t + {0,1})  c2,c3: (g + 8, 2t + {0,1})
 * Products of 16-bit floats are exact in f32; the sums are taken in
 * double and rounded once (the hardware's accumulation order and
 * intermediate precision are not modeled). */
void attnptx_mma_m16n8k16(int bf16, const uint32_t a[32][4],
                          const uint32_t b[32][2], const float c[32][4],
                          float d[32][4]) {
  float A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    int g = l >> 2, t = l % 4;
    for (int j = 0; j < 2; ++j) {
      A[g][2 * t + j] = half_at(a[l][0], j, bf16);
      A[g + 8][2 * t + j] = half_at(a[l][1], j, bf16);
      A[g][2 * t + 8 + j] = half_at(a[l][2], j, bf16);
      A[g + 8][2 * t + 8 + j] = half_at(a[l][3], j, bf16);
      B[2 * t + j][g] = half_at(b[l][0], j, bf16);
      B[2 * t + 8 + j][g] = half_at(b[l][1], j, bf16);
      C[g][2 * t + j] = c[l][j];
      C[g + 8][2 * t + j] = c[l][2 + j];
    }
  }
  float D[16][8];
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      double s = C[m][n];
      for (int k = 0; k < 16; ++k)
        s += (double)A[m][k] * (double)B[k][n];
      D[m][n] = (float)s;
    }
  for (int l = 0; l < 32; ++l) {
    int g = l >> 2, t = l % 4;
    for (int j = 0; j < 2; ++j) {
      d[l][j] = D[g][2 * t + j];
      d[l][2 + j] = D[g + 8][2 * t + j];
    }
  }
}

/* shfl.sync.{idx,up,down,bfly}.b32 d|p, a, b, c, membermask (PTX ISA,
 * "shfl.sync"), with c = clamp | (segmask << 8):
 *   minLane = lane & segmask, maxLane = (lane & segmask) | (clamp & ~segmask)
 *   up:   j = lane - b, p = j >= maxLane
 *   down: j = lane + b, p = j <= maxLane
 *   bfly: j = lane ^ b, p = j <= maxLane
 *   idx:  j = minLane | (b & ~segmask), p = j <= maxLane
 * and d = a[j] when p, otherwise the lane's own a. A source lane that has
 * exited is treated as invalid. */
void attnptx_shfl(int mode, uint32_t bOperand, uint32_t c,
                  const uint32_t in[32], const int live[32], uint32_t out[32],
                  int valid[32]) {
  int bval = (int)(bOperand & 31), clamp = (int)(c & 31);
  int segmask = (int)((c >> 8) & 31);
  for (int l = 0; l < 32; ++l) {
    int minLane = l & segmask, maxLane = (l & segmask) | (clamp & ~segmask);
    int j, p;
    switch (mode) {
    case 0:
      j = minLane | (bval & ~segmask);
      p = j <= maxLane;
      break;
    case 1:
      j = l - bval;
      p = j >= maxLane;
      break;
    case 2:
      j = l + bval;
      p = j <= maxLane;
      break;
    default:
      j = l ^ bval;
      p = j <= maxLane;
      break;
    }
    p = p && j >= 0 && j < 32 && live[j];
    out[l] = p ? in[j] : in[l];
    valid[l] = p;
  }
}
