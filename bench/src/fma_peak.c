/*===- fma_peak.c - measured FMA peak of this machine --------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * Runs independent chains of packed single-precision FMAs (enough
 * accumulators to cover FMA latency) on N threads and prints the measured
 * peak, against which bench/run reports each kernel's fraction:
 *   fma_peak threads  ->  `isa=avx512|avx2 gflops=<float>`
 *
 *===----------------------------------------------------------------------===*/

#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ITERS = 20000000, CHAINS = 12 };

/* CHAINS independent accumulators, spelled out so that they live in
 * registers (an array indexed in a loop ends up on the stack at -O2). */
#define ATTN_FOR_CHAINS(X)                                                     \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static volatile float sink;

__attribute__((target("avx512f"))) static void *run512(void *arg) {
  (void)arg;
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
#define INIT(c) __m512 acc##c = _mm512_set1_ps((float)c);
#define STEP(c) acc##c = _mm512_fmadd_ps(acc##c, a, b);
#define SUM(c) s += _mm512_reduce_add_ps(acc##c);
  ATTN_FOR_CHAINS(INIT)
  for (long i = 0; i < ITERS; ++i) {
    ATTN_FOR_CHAINS(STEP)
  }
  float s = 0;
  ATTN_FOR_CHAINS(SUM)
#undef INIT
#undef STEP
#undef SUM
  sink = s;
  return NULL;
}

__attribute__((target("avx2,fma"))) static void *run256(void *arg) {
  (void)arg;
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
#define INIT(c) __m256 acc##c = _mm256_set1_ps((float)c);
#define STEP(c) acc##c = _mm256_fmadd_ps(acc##c, a, b);
#define SUM(c)                                                                 \
  _mm256_storeu_ps(buf, acc##c);                                               \
  for (int l = 0; l < 8; ++l)                                                  \
    s += buf[l];
  ATTN_FOR_CHAINS(INIT)
  for (long i = 0; i < ITERS; ++i) {
    ATTN_FOR_CHAINS(STEP)
  }
  float buf[8], s = 0;
  ATTN_FOR_CHAINS(SUM)
#undef INIT
#undef STEP
#undef SUM
  sink = s;
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (threads < 1 || threads > 256) {
    fprintf(stderr, "usage: %s threads (1..256)\n", argv[0]);
    return 1;
  }
  int avx512 = __builtin_cpu_supports("avx512f");
  void *(*fn)(void *) = avx512 ? run512 : run256;
  int lanes = avx512 ? 16 : 8;
  pthread_t tid[256];
  fn(NULL); /* warm up the clocks */
  double t0 = now_s();
  for (int t = 0; t < threads; ++t)
    pthread_create(&tid[t], NULL, fn, NULL);
  for (int t = 0; t < threads; ++t)
    pthread_join(tid[t], NULL);
  double dt = now_s() - t0;
  double flops = 2.0 * lanes * CHAINS * (double)ITERS * threads;
  printf("isa=%s gflops=%.2f\n", avx512 ? "avx512" : "avx2", flops / dt * 1e-9);
  return 0;
}
