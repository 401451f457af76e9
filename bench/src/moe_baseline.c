/*===- moe_baseline.c - MoE layers the unfused way, with OpenBLAS ---*- C -*-===*
 *
 * Part of the attn project.
 *
 * The baselines attn.route + attn.experts are compared against: a SwiGLU
 * mixture-of-experts layer (top-2 of a softmax router, renormalized)
 * computed with cblas_sgemm the way framework reference code does it:
 *   dense:  every expert on every token, y += w[t, e] * expert_e(x)
 *           (w = 0 for unrouted pairs): E / k times the useful work;
 *   loop:   per expert, gather its tokens, run the three matmuls on them,
 *           scatter-add w * out (the PyTorch "for e in experts" loop): the
 *           useful work, plus the gathers and the per-expert calls.
 * The router (x Wr, softmax, top-2) is timed in both. Buffers are allocated
 * and touched once before timing.
 *
 *   moe_baseline dense|loop T Dm F E threads runs
 * prints `median_ms=<ms> gflops=<useful GFLOP/s>` with the useful work
 * 2 T k (3 Dm F) + 2 T Dm E.
 *
 *===----------------------------------------------------------------------===*/

#include "timing.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int);

enum { K = 2 };

static float frand(unsigned *seed) {
  *seed = *seed * 1664525u + 1013904223u;
  return ((*seed >> 8) / 16777216.0f) - 0.5f;
}

/* Top-2 of a softmax over E logits, renormalized. */
static void route(const float *logits, int64_t T, int64_t E, int *idx,
                  float *w) {
  for (int64_t t = 0; t < T; ++t) {
    const float *l = logits + t * E;
    int a = 0, b = -1;
    for (int e = 1; e < E; ++e)
      if (l[e] > l[a])
        a = e;
    for (int e = 0; e < E; ++e)
      if (e != a && (b < 0 || l[e] > l[b]))
        b = e;
    /* softmax then renormalize over the two: only their ratio matters. */
    float eb = expf(l[b] - l[a]);
    w[t * K] = 1.f / (1.f + eb);
    w[t * K + 1] = eb / (1.f + eb);
    idx[t * K] = a;
    idx[t * K + 1] = b;
  }
}

static void swiglu(float *h1, const float *h3, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    h1[i] = h1[i] / (1.f + expf(-h1[i])) * h3[i];
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s dense|loop T Dm F E threads runs\n", argv[0]);
    return 1;
  }
  int dense = strcmp(argv[1], "dense") == 0;
  if (!dense && strcmp(argv[1], "loop") != 0) {
    fprintf(stderr, "error: mode must be dense or loop, got '%s'\n", argv[1]);
    return 1;
  }
  int64_t T = atoll(argv[2]), Dm = atoll(argv[3]), F = atoll(argv[4]),
          E = atoll(argv[5]);
  int threads = atoi(argv[6]), runs = atoi(argv[7]);
  if (T < 1 || Dm < 1 || F < 1 || E < K || threads < 1 || runs < 1) {
    fprintf(stderr, "error: sizes, threads and runs must be >= 1, E >= 2\n");
    return 1;
  }
  openblas_set_num_threads(threads);
  float *x = malloc(sizeof(float) * T * Dm), *wr = malloc(sizeof(float) * Dm * E);
  float *w1 = malloc(sizeof(float) * E * Dm * F), *w3 = malloc(sizeof(float) * E * Dm * F);
  float *w2 = malloc(sizeof(float) * E * F * Dm), *y = malloc(sizeof(float) * T * Dm);
  float *logits = malloc(sizeof(float) * T * E), *w = malloc(sizeof(float) * T * K);
  int *idx = malloc(sizeof(int) * T * K);
  float *xe = malloc(sizeof(float) * T * Dm), *h1 = malloc(sizeof(float) * T * F);
  float *h3 = malloc(sizeof(float) * T * F), *oe = malloc(sizeof(float) * T * Dm);
  float *scale = malloc(sizeof(float) * T);
  int64_t *rows = malloc(sizeof(int64_t) * T);
  double *ms = malloc(sizeof(double) * runs);
  if (!x || !wr || !w1 || !w3 || !w2 || !y || !logits || !w || !idx || !xe ||
      !h1 || !h3 || !oe || !scale || !rows || !ms) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  unsigned seed = 1;
  for (int64_t i = 0; i < T * Dm; ++i)
    x[i] = frand(&seed);
  for (int64_t i = 0; i < Dm * E; ++i)
    wr[i] = frand(&seed) / 8;
  for (int64_t i = 0; i < E * Dm * F; ++i) {
    w1[i] = frand(&seed) / 8;
    w3[i] = frand(&seed) / 8;
    w2[i] = frand(&seed) / 8;
  }
  memset(y, 0, sizeof(float) * T * Dm);
  memset(xe, 0, sizeof(float) * T * Dm);
  memset(h1, 0, sizeof(float) * T * F);
  memset(h3, 0, sizeof(float) * T * F);
  memset(oe, 0, sizeof(float) * T * Dm);

  for (int r = -1; r < runs; ++r) { /* r = -1: warm-up */
    double t0 = attn_now_ms();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)E,
                (int)Dm, 1.f, x, (int)Dm, wr, (int)E, 0.f, logits, (int)E);
    route(logits, T, E, idx, w);
    memset(y, 0, sizeof(float) * T * Dm);
    for (int64_t e = 0; e < E; ++e) {
      int64_t n = 0;
      const float *in = x;
      if (dense) {
        n = T;
        for (int64_t t = 0; t < T; ++t) {
          rows[t] = t;
          scale[t] = idx[t * K] == e ? w[t * K]
                     : idx[t * K + 1] == e ? w[t * K + 1] : 0.f;
        }
      } else {
        for (int64_t t = 0; t < T; ++t)
          for (int s = 0; s < K; ++s)
            if (idx[t * K + s] == e) {
              rows[n] = t;
              scale[n] = w[t * K + s];
              memcpy(xe + n * Dm, x + t * Dm, sizeof(float) * Dm);
              ++n;
            }
        in = xe;
        if (n == 0)
          continue;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)F,
                  (int)Dm, 1.f, in, (int)Dm, w1 + e * Dm * F, (int)F, 0.f, h1,
                  (int)F);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)F,
                  (int)Dm, 1.f, in, (int)Dm, w3 + e * Dm * F, (int)F, 0.f, h3,
                  (int)F);
      swiglu(h1, h3, n * F);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)Dm,
                  (int)F, 1.f, h1, (int)F, w2 + e * F * Dm, (int)Dm, 0.f, oe,
                  (int)Dm);
      for (int64_t i = 0; i < n; ++i) {
        float *yr = y + rows[i] * Dm;
        const float *orow = oe + i * Dm;
        for (int64_t d = 0; d < Dm; ++d)
          yr[d] += scale[i] * orow[d];
      }
    }
    double t1 = attn_now_ms();
    if (r >= 0)
      ms[r] = t1 - t0;
  }
  double median = attn_median(ms, runs);
  double flops = 2.0 * T * K * 3.0 * Dm * F + 2.0 * T * Dm * E;
  printf("mode=%s threads=%d runs=%d min_ms=%.4f checksum=%.6g\n", argv[1],
         threads, runs, ms[0], (double)y[0] + y[T * Dm - 1]);
  printf("median_ms=%.4f gflops=%.2f\n", median, flops / (median * 1e6));
  free(x); free(wr); free(w1); free(w3); free(w2); free(y); free(logits);
  free(w); free(idx); free(xe); free(h1); free(h3); free(oe); free(scale);
  free(rows); free(ms);
  return 0;
}
