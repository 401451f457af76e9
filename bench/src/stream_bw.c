/*===- stream_bw.c - measured streaming-read bandwidth --------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * Reads a large buffer (default 1 GiB, touched before timing) with N threads,
 * each summing its contiguous share with 512-bit loads (four streams each), and prints the best
 * read bandwidth of several passes, against which bench/run reports the
 * decode kernels (which stream the KV cache once per call):
 *   stream_bw threads [MiB]  ->  `gbps=<float>`
 *
 *===----------------------------------------------------------------------===*/

#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PASSES = 7, MAX_THREADS = 256, STREAMS = 4 };

typedef struct {
  const float *data;
  size_t count; /* floats, a multiple of 32 * STREAMS */
  float sum;
} share;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Each thread reads STREAMS interleaved sequential streams of its share (as
 * an attention kernel reads K and V): one stream per thread leaves DRAM
 * bandwidth unused on these VMs. */
__attribute__((target("avx512f"))) static void *run(void *arg) {
  share *s = arg;
  size_t per = s->count / STREAMS;
  __m512 acc[STREAMS];
  for (int k = 0; k < STREAMS; ++k)
    acc[k] = _mm512_setzero_ps();
  for (size_t i = 0; i < per; i += 32)
    for (int k = 0; k < STREAMS; ++k) {
      const float *p = s->data + k * per + i;
      acc[k] = _mm512_add_ps(acc[k], _mm512_add_ps(_mm512_load_ps(p),
                                                   _mm512_load_ps(p + 16)));
    }
  __m512 t = acc[0];
  for (int k = 1; k < STREAMS; ++k)
    t = _mm512_add_ps(t, acc[k]);
  s->sum = _mm512_reduce_add_ps(t);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s threads [MiB]\n", argv[0]);
    return 1;
  }
  int threads = atoi(argv[1]);
  size_t mib = argc > 2 ? (size_t)atoll(argv[2]) : 1024;
  if (threads < 1 || threads > MAX_THREADS || mib < 1) {
    fprintf(stderr, "error: threads must be in [1, %d] and MiB >= 1\n",
            MAX_THREADS);
    return 1;
  }
  if (!__builtin_cpu_supports("avx512f")) {
    fprintf(stderr, "error: this loop needs AVX-512\n");
    return 1;
  }
  size_t n = mib << 18; /* floats */
  float *data = aligned_alloc(64, n * sizeof(float));
  if (!data) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  memset(data, 0, n * sizeof(float));
  size_t per = (n / threads) & ~(size_t)(32 * STREAMS - 1);
  share shares[MAX_THREADS];
  pthread_t tids[MAX_THREADS];
  double best = 0;
  for (int pass = 0; pass < PASSES; ++pass) {
    double t0 = now_s();
    for (int t = 0; t < threads; ++t) {
      shares[t].data = data + t * per;
      shares[t].count = per;
      pthread_create(&tids[t], NULL, run, &shares[t]);
    }
    for (int t = 0; t < threads; ++t)
      pthread_join(tids[t], NULL);
    double gbps = (double)per * threads * sizeof(float) / (now_s() - t0) / 1e9;
    best = gbps > best ? gbps : best;
  }
  float total = 0;
  for (int t = 0; t < threads; ++t)
    total += shares[t].sum;
  printf("threads=%d mib=%zu checksum=%g\n", threads, mib, total);
  printf("gbps=%.2f\n", best);
  free(data);
  return 0;
}
