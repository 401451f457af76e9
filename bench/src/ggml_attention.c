/*===- ggml_attention.c - ggml's CPU flash attention, timed --------*- C -*-===*
 *
 * Part of the attn project.
 *
 * The peer attn's CPU kernels are compared against in bench/run: one
 * ggml_flash_attn_ext node (llama.cpp's attention) computed by ggml's CPU
 * backend on a thread pool made once. Built by bench/bench.py only when it is
 * given `--ggml=PREFIX`, the install prefix of a ggml the user built outside
 * this repository (include/ggml.h, include/ggml-cpu.h, lib/libggml*.so); no
 * ggml code is part of attn.
 *
 *   ggml_attention H HKV LQ LK D kv_type(f32|f16|bf16|q8_0) causal(0|1) threads runs
 *
 * Q is f32 (what llama.cpp hands the op), K and V of kv_type (q8_0:
 * llama.cpp's 8-bit cache, blocks of 32 codes with an f16 scale), layouts
 * [H, L, D] as in attn's benchmarks; a causal mask is ggml's f16 additive
 * mask [LQ, LK] with the queries at the end of the keys (LK - LQ + i sees keys
 * 0..LK - LQ + i). ggml's default precision is kept (its CPU kernel
 * accumulates P.V in f16 for f16 values). Prints `median_ms=<ms>` over
 * `runs` calls after two warm-up calls; every buffer is allocated and touched
 * before.
 *
 *===----------------------------------------------------------------------===*/

#include "timing.h"

#include <ggml-cpu.h>
#include <ggml.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill(struct ggml_tensor *t, unsigned seed) {
  int64_t n = ggml_nelements(t);
  float *tmp = malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    tmp[i] = ((float)(seed >> 8) / 16777216.f - 0.5f);
  }
  if (t->type == GGML_TYPE_F32)
    memcpy(t->data, tmp, (size_t)n * sizeof(float));
  else if (t->type == GGML_TYPE_Q8_0)
    ggml_quantize_chunk(GGML_TYPE_Q8_0, tmp, t->data, 0, n / t->ne[0], t->ne[0],
                        NULL);
  else if (t->type == GGML_TYPE_F16)
    ggml_fp32_to_fp16_row(tmp, t->data, n);
  else
    ggml_fp32_to_bf16_row(tmp, t->data, n);
  free(tmp);
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr, "usage: %s H HKV LQ LK D kv_type causal threads runs\n", argv[0]);
    return 1;
  }
  int64_t H = atoll(argv[1]), HKV = atoll(argv[2]), LQ = atoll(argv[3]),
          LK = atoll(argv[4]), D = atoll(argv[5]);
  const char *kvt = argv[6];
  int causal = atoi(argv[7]), threads = atoi(argv[8]), runs = atoi(argv[9]);
  enum ggml_type type = !strcmp(kvt, "f32")   ? GGML_TYPE_F32
                        : !strcmp(kvt, "f16") ? GGML_TYPE_F16
                        : !strcmp(kvt, "bf16") ? GGML_TYPE_BF16
                        : !strcmp(kvt, "q8_0") ? GGML_TYPE_Q8_0
                                               : GGML_TYPE_COUNT;
  if (H < 1 || HKV < 1 || H % HKV || LQ < 1 || LK < LQ || D < 1 || threads < 1 ||
      runs < 1 || type == GGML_TYPE_COUNT) {
    fprintf(stderr, "error: bad arguments (H %% HKV == 0, 1 <= LQ <= LK, kv_type "
                    "f32|f16|bf16|q8_0, threads and runs >= 1)\n");
    return 1;
  }
  size_t bytes = (size_t)(H * LQ * D * 4 + 2 * HKV * LK * D * 4 + LQ * LK * 2 +
                          H * LQ * D * 4) + (1u << 20);
  struct ggml_init_params ip = {bytes, NULL, false};
  struct ggml_context *ctx = ggml_init(ip);
  struct ggml_tensor *q = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, D, LQ, H);
  struct ggml_tensor *k = ggml_new_tensor_3d(ctx, type, D, LK, HKV);
  struct ggml_tensor *v = ggml_new_tensor_3d(ctx, type, D, LK, HKV);
  struct ggml_tensor *mask = NULL;
  fill(q, 1);
  fill(k, 2);
  fill(v, 3);
  if (causal) {
    mask = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, LK, LQ);
    ggml_fp16_t *m = mask->data;
    ggml_fp16_t zero = ggml_fp32_to_fp16(0.f), ninf = ggml_fp32_to_fp16(-INFINITY);
    for (int64_t i = 0; i < LQ; ++i)
      for (int64_t j = 0; j < LK; ++j)
        m[i * LK + j] = j <= LK - LQ + i ? zero : ninf;
  }
  struct ggml_tensor *o =
      ggml_flash_attn_ext(ctx, q, k, v, mask, 1.f / sqrtf((float)D), 0.f, 0.f);
  struct ggml_cgraph *g = ggml_new_graph(ctx);
  ggml_build_forward_expand(g, o);

  struct ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
  struct ggml_threadpool *tp = ggml_threadpool_new(&tpp);
  struct ggml_cplan plan = ggml_graph_plan(g, threads, tp);
  uint8_t *work = plan.work_size ? calloc(1, plan.work_size) : NULL;
  plan.work_data = work;

  double *ms = malloc((size_t)runs * sizeof(double));
  for (int r = -2; r < runs; ++r) {
    double t0 = attn_now_ms();
    if (ggml_graph_compute(g, &plan) != GGML_STATUS_SUCCESS) {
      fprintf(stderr, "error: ggml_graph_compute failed\n");
      return 1;
    }
    if (r >= 0)
      ms[r] = attn_now_ms() - t0;
  }
  printf("median_ms=%.4f\n", attn_median(ms, runs));
  free(ms);
  free(work);
  ggml_threadpool_free(tp);
  ggml_free(ctx);
  return 0;
}
