/*===- timing.h - helpers shared by the benchmark programs ----------*- C -*-===*
 *
 * Part of the attn project.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ATTN_BENCH_TIMING_H
#define ATTN_BENCH_TIMING_H

#include <stdlib.h>
#include <time.h>

/* Monotonic time in milliseconds. */
static inline double attn_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static inline int attn_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts `ms` and returns its median. */
static inline double attn_median(double *ms, int n) {
  qsort(ms, (size_t)n, sizeof(double), attn_cmp_double);
  return ms[n / 2];
}

#endif /* ATTN_BENCH_TIMING_H */
