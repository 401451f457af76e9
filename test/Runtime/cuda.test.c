/* Calls an attn-compile --target=nvptx object the way an application
 * without the CUDA toolkit would (see cuda.test). */
#include "gqa.h"

#include <stdio.h>
#include <string.h>

static DLTensor tensor(void *data, int64_t *shape, DLDeviceType device) {
  DLTensor t;
  memset(&t, 0, sizeof(t));
  t.data = data;
  t.device.device_type = device;
  t.ndim = 4;
  t.dtype.code = kDLFloat;
  t.dtype.bits = 32;
  t.dtype.lanes = 1;
  t.shape = shape;
  return t;
}

int main(void) {
  int64_t qs[4] = {2, 8, 33, 64}, ks[4] = {2, 2, 40, 64};
  static float host[2 * 8 * 40 * 64];
  DLTensor q = tensor(host, qs, kDLCPU), k = tensor(host, ks, kDLCPU),
           o = tensor(host, qs, kDLCPU);
  int status = gqa_main(&q, &k, &k, &o);
  printf("cpu tensor: status %d: %s\n", status, attnrt_last_error());

  int count = 0;
  if (attnrt_cuda_device_count(&count) != ATTNRT_OK) {
    printf("no driver: status %d: %s\n", ATTNRT_UNSUPPORTED,
           attnrt_last_error());
    return 0;
  }
  void *dq, *dk, *dout;
  if (attnrt_cuda_malloc(0, sizeof(host), &dq) ||
      attnrt_cuda_malloc(0, sizeof(host), &dk) ||
      attnrt_cuda_malloc(0, sizeof(host), &dout))
    return 1;
  attnrt_cuda_copy_to_device(0, dq, host, sizeof(host));
  q = tensor(dq, qs, kDLCUDA);
  k = tensor(dk, ks, kDLCUDA);
  o = tensor(dout, qs, kDLCUDA);
  fflush(stdout);
  status = gqa_main(&q, &k, &k, &o);
  printf("cuda tensors: status %d%s\n", status, attnrt_last_error());
  fflush(stdout);
  /* A zero batch launches nothing. */
  qs[0] = ks[0] = 0;
  status = gqa_main(&q, &k, &k, &o);
  printf("empty batch: status %d%s\n", status, attnrt_last_error());
  attnrt_cuda_free(0, dq);
  attnrt_cuda_free(0, dk);
  attnrt_cuda_free(0, dout);
  return 0;
}
