/*===- naive_attention.c - three-step attention with OpenBLAS ------*- C -*-===*
 *
 * Part of the attn project.
 *
 * The baseline attn is compared against: attention computed the way a
 * framework without a fused kernel does it, in three steps per (batch, head):
 *   S = scale * Q K^T        (cblas_sgemm, L x L, materialized)
 *   P = softmax(S) row-wise  (causal entries set to -inf; scalar C, -O3)
 *   O = P V                  (cblas_sgemm)
 * OpenBLAS parallelizes each sgemm over its threads; the softmax runs on the
 * calling thread. Buffers are allocated and touched once before timing.
 *
 *   naive_attention B H L D causal(0|1) threads runs
 * prints `median_ms=<ms> gflops=<useful GFLOP/s>` where the useful work is
 * 2*B*H*pairs*2D with the visible (query, key) pairs, L(L+1)/2 when causal
 * (what attn-run counts too).
 *
 *===----------------------------------------------------------------------===*/

#include "timing.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int);

static void softmax_rows(float *s, int64_t L, int causal) {
  for (int64_t i = 0; i < L; ++i) {
    float *row = s + i * L;
    int64_t n = causal ? i + 1 : L;
    float m = -INFINITY;
    for (int64_t j = 0; j < n; ++j)
      m = row[j] > m ? row[j] : m;
    float sum = 0.f;
    for (int64_t j = 0; j < n; ++j) {
      row[j] = expf(row[j] - m);
      sum += row[j];
    }
    float inv = 1.f / sum;
    for (int64_t j = 0; j < n; ++j)
      row[j] *= inv;
    for (int64_t j = n; j < L; ++j)
      row[j] = 0.f;
  }
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s B H L D causal threads runs\n", argv[0]);
    return 1;
  }
  int64_t B = atoll(argv[1]), H = atoll(argv[2]), L = atoll(argv[3]),
          D = atoll(argv[4]);
  int causal = atoi(argv[5]), threads = atoi(argv[6]), runs = atoi(argv[7]);
  if (B < 1 || H < 1 || L < 1 || D < 1 || threads < 1 || runs < 1) {
    fprintf(stderr, "error: all sizes, threads and runs must be >= 1\n");
    return 1;
  }
  openblas_set_num_threads(threads);
  size_t n = (size_t)(B * H * L * D);
  float *q = malloc(n * sizeof(float)), *k = malloc(n * sizeof(float));
  float *v = malloc(n * sizeof(float)), *o = malloc(n * sizeof(float));
  float *s = malloc((size_t)(L * L) * sizeof(float));
  double *ms = malloc((size_t)runs * sizeof(double));
  if (!q || !k || !v || !o || !s || !ms) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  unsigned seed = 1;
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    q[i] = k[i] = v[i] = ((seed >> 8) / 16777216.0f) - 0.5f;
  }
  memset(o, 0, n * sizeof(float));
  memset(s, 0, (size_t)(L * L) * sizeof(float));
  float scale = 1.0f / sqrtf((float)D);

  for (int r = -1; r < runs; ++r) { /* r = -1: warm-up */
    double t0 = attn_now_ms();
    for (int64_t bh = 0; bh < B * H; ++bh) {
      const float *qb = q + bh * L * D, *kb = k + bh * L * D, *vb = v + bh * L * D;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)L, (int)L, (int)D,
                  scale, qb, (int)D, kb, (int)D, 0.f, s, (int)L);
      softmax_rows(s, L, causal);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)L, (int)D, (int)L,
                  1.f, s, (int)L, vb, (int)D, 0.f, o + bh * L * D, (int)D);
    }
    double t1 = attn_now_ms();
    if (r >= 0)
      ms[r] = t1 - t0;
  }
  double median = attn_median(ms, runs);
  /* Visible pairs, as attn-run counts them: L(L+1)/2 when causal. */
  double pairs = causal ? (double)L * (L + 1) / 2 : (double)L * L;
  double flops = 2.0 * B * H * pairs * 2 * D;
  printf("threads=%d runs=%d min_ms=%.4f\n", threads, runs, ms[0]);
  printf("median_ms=%.4f gflops=%.2f\n", median, flops / (median * 1e6));
  free(q); free(k); free(v); free(o); free(s); free(ms);
  return 0;
}
