/* Links four objects of examples/causal_gqa.mlir into one program: two from
 * the Halide backend and two from the MLIR pipelines, each under its own
 * --name (same function @main). Calls each and checks that they agree. */
#include "gqa_halide_a.h"
#include "gqa_halide_b.h"
#include "gqa_mlir_a.h"
#include "gqa_mlir_b.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { B = 1, HQ = 8, HKV = 2, L = 33, D = 64 };
static float q[B * HQ * L * D], k[B * HKV * L * D], v[B * HKV * L * D];
static float out[4][B * HQ * L * D];

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

int main(void) {
  unsigned s = 7;
  float *all[3] = {q, k, v};
  size_t sizes[3] = {sizeof(q) / 4, sizeof(k) / 4, sizeof(v) / 4};
  for (int a = 0; a < 3; ++a)
    for (size_t i = 0; i < sizes[a]; ++i) {
      s = s * 1664525u + 1013904223u;
      all[a][i] = ((s >> 8) / 16777216.0f) * 2.0f - 1.0f;
    }
  int64_t qs[4] = {B, HQ, L, D}, ks[4] = {B, HKV, L, D};
  DLTensor tq = tensor(q, qs), tk = tensor(k, ks), tv = tensor(v, ks);
  int (*fns[4])(const DLTensor *, const DLTensor *, const DLTensor *,
                DLTensor *) = {gqa_halide_a_main, gqa_halide_b_main,
                               gqa_mlir_a_main, gqa_mlir_b_main};
  const char *names[4] = {"gqa_halide_a", "gqa_halide_b", "gqa_mlir_a",
                          "gqa_mlir_b"};
  int ok = 1;
  for (int f = 0; f < 4; ++f) {
    DLTensor to = tensor(out[f], qs);
    int status = fns[f](&tq, &tk, &tv, &to);
    double err = 0;
    for (size_t i = 0; i < sizeof(out[0]) / 4; ++i)
      err = fmax(err, fabs(out[f][i] - out[0][i]));
    printf("%s: status %d, max |diff| to gqa_halide_a %.2g\n", names[f], status,
           err);
    ok &= status == 0 && err < 1e-4;
  }
  printf("%s\n", ok ? "all agree" : "MISMATCH");
  return ok ? 0 : 1;
}
