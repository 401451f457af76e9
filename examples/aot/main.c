/*===- main.c - using an attn-compile'd kernel from C -------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * Build (what test/Integration/aot.test does):
 *   attn-compile examples/causal_gqa.mlir -o causal_gqa.o --header causal_gqa.h
 *   cc -I. -Iruntime/include examples/aot/main.c causal_gqa.o libattnrt.a -lm -lpthread
 *   ./a.out [batch] [seq]
 *
 * Runs causal GQA attention (8 query heads, 2 KV heads, head dim 64) and
 * checks it against a straightforward double-precision loop. Also shows the
 * runtime rejecting a bad call with a message.
 *
 *===----------------------------------------------------------------------===*/

#include "causal_gqa.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HQ = 8, HKV = 2, D = 64 };

static float frand(unsigned *state) {
  *state = *state * 1664525u + 1013904223u;
  return ((*state >> 8) / 16777216.0f) * 2.0f - 1.0f;
}

static DLTensor tensor(float *data, int64_t *shape) {
  DLTensor t;
  memset(&t, 0, sizeof(t));
  t.data = data;
  t.device.device_type = kDLCPU;
  t.ndim = 4;
  t.dtype.code = kDLFloat;
  t.dtype.bits = 32;
  t.dtype.lanes = 1;
  t.shape = shape;
  return t;
}

int main(int argc, char **argv) {
  int64_t B = argc > 1 ? atoll(argv[1]) : 2;
  int64_t L = argc > 2 ? atoll(argv[2]) : 77;
  size_t nq = (size_t)(B * HQ * L * D), nkv = (size_t)(B * HKV * L * D);
  float *q = malloc(nq * sizeof(float)), *k = malloc(nkv * sizeof(float));
  float *v = malloc(nkv * sizeof(float)), *o = malloc(nq * sizeof(float));
  unsigned seed = 1;
  for (size_t i = 0; i < nq; ++i)
    q[i] = frand(&seed);
  for (size_t i = 0; i < nkv; ++i) {
    k[i] = frand(&seed);
    v[i] = frand(&seed);
  }
  int64_t qs[4] = {B, HQ, L, D}, kvs[4] = {B, HKV, L, D};
  DLTensor tq = tensor(q, qs), tk = tensor(k, kvs), tv = tensor(v, kvs),
           to = tensor(o, qs);

  int status = causal_gqa_main(&tq, &tk, &tv, &to);
  if (status != ATTNRT_OK) {
    fprintf(stderr, "error: %s\n", attnrt_last_error());
    return 1;
  }

  /* Reference: double precision, bottom-right aligned causal mask. */
  double max_err = 0.0;
  double *s = malloc((size_t)L * sizeof(double));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < HQ; ++h)
      for (int64_t i = 0; i < L; ++i) {
        const float *qi = q + ((b * HQ + h) * L + i) * D;
        const float *kb = k + (b * HKV + h / (HQ / HKV)) * L * D;
        const float *vb = v + (b * HKV + h / (HQ / HKV)) * L * D;
        double m = -INFINITY, l = 0.0;
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0.0;
          for (int d = 0; d < D; ++d)
            dot += (double)qi[d] * kb[j * D + d];
          s[j] = dot / sqrt((double)D);
          m = s[j] > m ? s[j] : m;
        }
        for (int64_t j = 0; j <= i; ++j)
          l += exp(s[j] - m);
        for (int d = 0; d < D; ++d) {
          double acc = 0.0;
          for (int64_t j = 0; j <= i; ++j)
            acc += exp(s[j] - m) * vb[j * D + d];
          double err = fabs(acc / l - o[((b * HQ + h) * L + i) * D + d]);
          max_err = err > max_err ? err : max_err;
        }
      }
  printf("causal_gqa B=%lld L=%lld: max abs error %.3g\n", (long long)B,
         (long long)L, max_err);

  /* A wrong key length must be rejected with a message, not computed. */
  int64_t bad[4] = {B, HKV, L + 1, D};
  DLTensor tbad = tensor(k, bad);
  status = causal_gqa_main(&tq, &tbad, &tv, &to);
  printf("bad call: status %d (%s): %s\n", status, attnrt_status_string(status),
         attnrt_last_error());

  free(s);
  free(q);
  free(k);
  free(v);
  free(o);
  return max_err < 1e-4 && status == ATTNRT_INVALID_ARGUMENT ? 0 : 2;
}
