/*===- ptx_warp.h - warp-collective PTX instructions on the host --*- C -*-===*
 *
 * Part of the attn project.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ATTN_RUNTIME_PTX_WARP_H
#define ATTN_RUNTIME_PTX_WARP_H

#include <stdint.h>

float attnptx_f16_to_f32(uint16_t h);
float attnptx_bf16_to_f32(uint16_t h);

/* rows[l]: lane l's row address (only lanes < 8 num are read). */
void attnptx_ldmatrix(const uint8_t *const rows[32], int num, int trans,
                      uint32_t out[32][4]);

void attnptx_mma_m16n8k16(int bf16, const uint32_t a[32][4],
                          const uint32_t b[32][2], const float c[32][4],
                          float d[32][4]);

/* mode 0 idx, 1 up, 2 down, 3 bfly; b and c the PTX operands; live[j]:
 * lane j exists and has not exited. */
void attnptx_shfl(int mode, uint32_t b, uint32_t c, const uint32_t in[32],
                  const int live[32], uint32_t out[32], int valid[32]);

#endif /* ATTN_RUNTIME_PTX_WARP_H */
