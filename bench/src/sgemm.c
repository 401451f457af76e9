/*===- sgemm.c - OpenBLAS sgemm throughput --------------------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * Times C = A B for square N x N f32 matrices with OpenBLAS (buffers touched
 * before timing; median of `runs` after a warm-up). bench/run calls it twice:
 * with OpenBLAS's own CPU detection, and with OPENBLAS_CORETYPE=Cooperlake,
 * which forces its AVX-512 kernels (0.3.21 treats Zen 5 as Haswell).
 *   sgemm N threads runs  ->  `median_ms=<ms> gflops=<2 N^3 / time>`
 *
 *===----------------------------------------------------------------------===*/

#include "timing.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int);
char *openblas_get_corename(void);

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s N threads runs\n", argv[0]);
    return 1;
  }
  int n = atoi(argv[1]), threads = atoi(argv[2]), runs = atoi(argv[3]);
  if (n < 1 || threads < 1 || runs < 1) {
    fprintf(stderr, "error: N, threads and runs must be >= 1\n");
    return 1;
  }
  openblas_set_num_threads(threads);
  size_t count = (size_t)n * n;
  float *a = malloc(count * sizeof(float)), *b = malloc(count * sizeof(float));
  float *c = malloc(count * sizeof(float));
  double *ms = malloc((size_t)runs * sizeof(double));
  if (!a || !b || !c || !ms) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < count; ++i)
    a[i] = b[i] = (float)(i % 7) * 0.125f;
  memset(c, 0, count * sizeof(float));
  for (int r = -1; r < runs; ++r) {
    double t0 = attn_now_ms();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a, n,
                b, n, 0.f, c, n);
    double t1 = attn_now_ms();
    if (r >= 0)
      ms[r] = t1 - t0;
  }
  double median = attn_median(ms, runs);
  printf("core=%s threads=%d runs=%d min_ms=%.4f\n", openblas_get_corename(),
         threads, runs, ms[0]);
  printf("median_ms=%.4f gflops=%.2f\n", median,
         2.0 * n * (double)n * n / (median * 1e6));
  free(a); free(b); free(c); free(ms);
  return 0;
}
