/*===- page_read_bw.c - read bandwidth of a paged KV cache's access order -===*
 *
 * Part of the attn project.
 *
 * The memory side of a paged decode without its arithmetic: reads the K and
 * V pools of issue 24's serving shape (64 requests, Hkv = 8, D = 128, 16-bit
 * elements, nhd pages of `page_size` tokens shuffled through one pool,
 * lengths uniform in [512, 8192]) and sums them, in two orders:
 *
 *   head:    one work item per (request, KV head), reading that head's rows
 *            of each page (the order of attn's decode items today: in an nhd
 *            page a head's 256-byte rows are Hkv * D * 2 bytes apart);
 *   request: one work item per request, reading each page whole (every
 *            head's rows: one contiguous stream per page).
 *
 * With `hnd`, pages are [Hkv, page_size, D]: a head's rows of a page are one
 * contiguous block, so the head order reads page_size * D * 2 bytes at a time.
 *
 * Items are claimed dynamically by `threads` threads; the best of several
 * passes is printed as GB/s of the bytes the requests own:
 *   page_read_bw threads [page_size [nhd|hnd]]
 *     ->  `head_gbps=<float>` and `request_gbps=<float>`
 * bench/run prints them next to attn-bench-stream's bandwidth, so a decode's
 * share of the read bandwidth can be read against what its access order
 * allows at all.
 *
 *===----------------------------------------------------------------------===*/

#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BATCH = 64, HKV = 8, D = 128, PASSES = 5, MAX_THREADS = 256 };

typedef struct {
  const uint16_t *k, *v;
  const int32_t *table; /* pages of request b: table[first[b] ...] */
  int32_t lens[BATCH], first[BATCH + 1];
  int page_size, by_request, hnd;
  atomic_int next;
} job;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Sums `rows` rows of `cols` 16-bit elements, `stride` elements apart, from
 * two pools (wrapping 16-bit lanes: only the loads matter). */
__attribute__((target("avx512f,avx512bw"))) static __m512i
sum_rows(__m512i acc, const uint16_t *k, const uint16_t *v, int rows,
         int cols, size_t stride) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; c += 32) {
      acc = _mm512_add_epi16(acc, _mm512_loadu_si512(k + r * stride + c));
      acc = _mm512_add_epi16(acc, _mm512_loadu_si512(v + r * stride + c));
    }
  return acc;
}

__attribute__((target("avx512f,avx512bw"))) static void *run(void *arg) {
  job *j = arg;
  int ps = j->page_size;
  size_t page = (size_t)ps * HKV * D, row = (size_t)HKV * D;
  int items = j->by_request ? BATCH : BATCH * HKV;
  __m512i acc = _mm512_setzero_si512();
  for (int i; (i = atomic_fetch_add(&j->next, 1)) < items;) {
    int b = j->by_request ? i : i / HKV, h = j->by_request ? 0 : i % HKV;
    int len = j->lens[b], pages = (len + ps - 1) / ps;
    for (int p = 0; p < pages; ++p) {
      size_t base = (size_t)j->table[j->first[b] + p] * page;
      int rows = p == pages - 1 ? len - p * ps : ps;
      if (j->by_request) /* the page's rows for all heads, one stream */
        acc = sum_rows(acc, j->k + base, j->v + base, 1, rows * HKV * D, 0);
      else if (j->hnd)
        acc = sum_rows(acc, j->k + base + (size_t)h * ps * D,
                       j->v + base + (size_t)h * ps * D, 1, rows * D, 0);
      else
        acc = sum_rows(acc, j->k + base + h * D, j->v + base + h * D, rows, D,
                       row);
    }
  }
  volatile int sink = _mm512_reduce_add_epi32(acc);
  (void)sink;
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: %s threads [page_size [nhd|hnd]]\n", argv[0]);
    return 1;
  }
  int threads = atoi(argv[1]);
  int ps = argc > 2 ? atoi(argv[2]) : 16;
  const char *layout = argc > 3 ? argv[3] : "nhd";
  if (threads < 1 || threads > MAX_THREADS || ps < 1 || ps > 8192 ||
      (strcmp(layout, "nhd") && strcmp(layout, "hnd"))) {
    fprintf(stderr, "error: threads must be in [1, %d], page_size in "
                    "[1, 8192] and the layout nhd or hnd\n", MAX_THREADS);
    return 1;
  }
  if (!__builtin_cpu_supports("avx512bw")) {
    fprintf(stderr, "error: this loop needs AVX-512 BW\n");
    return 1;
  }
  static job j;
  j.page_size = ps;
  j.hnd = !strcmp(layout, "hnd");
  unsigned seed = 24;
  size_t pages = 0;
  double bytes = 0;
  for (int b = 0; b < BATCH; ++b) {
    seed = seed * 1103515245u + 12345u;
    j.lens[b] = 512 + (int)((seed >> 8) % 7681);
    j.first[b] = (int32_t)pages;
    pages += (size_t)(j.lens[b] + ps - 1) / ps;
    bytes += 2.0 * j.lens[b] * HKV * D * sizeof(uint16_t);
  }
  j.first[BATCH] = (int32_t)pages;
  int32_t *table = malloc(pages * sizeof(int32_t));
  size_t n = pages * ps * HKV * D;
  uint16_t *k = aligned_alloc(64, n * sizeof(uint16_t));
  uint16_t *v = aligned_alloc(64, n * sizeof(uint16_t));
  if (!table || !k || !v) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < pages; ++i)
    table[i] = (int32_t)i;
  for (size_t i = pages - 1; i > 0; --i) { /* shuffled pages */
    seed = seed * 1103515245u + 12345u;
    size_t r = (seed >> 4) % (i + 1);
    int32_t t = table[i];
    table[i] = table[r];
    table[r] = t;
  }
  memset(k, 1, n * sizeof(uint16_t)); /* touched before timing */
  memset(v, 2, n * sizeof(uint16_t));
  j.k = k;
  j.v = v;
  j.table = table;
  pthread_t tids[MAX_THREADS];
  double best[2] = {0, 0};
  for (int pass = 0; pass < PASSES; ++pass)
    for (int order = 0; order < 2; ++order) {
      j.by_request = order;
      atomic_store(&j.next, 0);
      double t0 = now_s();
      for (int t = 0; t < threads; ++t)
        pthread_create(&tids[t], NULL, run, &j);
      for (int t = 0; t < threads; ++t)
        pthread_join(tids[t], NULL);
      double gbps = bytes / (now_s() - t0) / 1e9;
      best[order] = gbps > best[order] ? gbps : best[order];
    }
  printf("threads=%d page_size=%d layout=%s requests=%d bytes=%.0f\n",
         threads, ps, layout, BATCH, bytes);
  printf("head_gbps=%.2f\nrequest_gbps=%.2f\n", best[0], best[1]);
  free(table);
  free(k);
  free(v);
  return 0;
}
