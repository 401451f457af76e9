/* Calls the softcap kernel (examples/variants/softcap.mlir) that
 * attn_add_kernel compiled, checks one output element against a plain
 * loop, and shows the runtime rejecting a bad tensor. */
#include "softcap.h"

#include <attn/runtime.h>
#include <math.h>
#include <stdio.h>

enum { H = 4, L = 5, D = 64 };
static float q[H * L * D], o[H * L * D];

int main(void) {
  for (int i = 0; i < H * L * D; ++i)
    q[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
  int64_t shape[4] = {1, H, L, D};
  DLTensor t = {q, {kDLCPU, 0}, 4, {kDLFloat, 32, 1}, shape, NULL, 0};
  DLTensor out = t;
  out.data = o;
  if (softcap_main(&t, &t, &t, &out) != ATTNRT_OK) {
    printf("error: %s\n", attnrt_last_error());
    return 1;
  }
  /* Row 0 of head 0 sees only key 0 (causal): its output is v[0]. */
  double err = 0;
  for (int d = 0; d < D; ++d)
    err = fmax(err, fabs(o[d] - q[d]));
  printf("row 0 err %g\n", err);
  int64_t bad[4] = {1, H, L, 32};
  t.shape = bad;
  int status = softcap_main(&t, &t, &t, &out);
  printf("bad call: %s: %s\n", attnrt_status_string(status),
         attnrt_last_error());
  return err < 1e-6 ? 0 : 1;
}
