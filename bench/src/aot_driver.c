/*===- aot_driver.c - times a kernel compiled by attn-compile -------*- C -*-===*
 *
 * Part of the attn project.
 *
 * bench/run measures attn's kernels the way a user deploys them: compiled
 * ahead of time by attn-compile into an object, linked with libattnrt, and
 * called through the generated C entry point. This driver is compiled once
 * per kernel with a two-line shim that bench/run writes:
 *
 *   #include "kernel.h"
 *   #define ATTN_BENCH_SIGNATURE kernel_main_signature
 *   #define ATTN_BENCH_CALL(a) kernel_main(a[0], a[1], a[2], a[3])
 *
 *   cc -O2 -include shim.h aot_driver.c kernel.o libattnrt.a -lm -lpthread
 *   ./driver threads runs in0.npy in1.npy ...
 *
 * The inputs are .npy files in the signature's order (bf16 as uint16 bit
 * patterns, as attn-run takes them); outputs are allocated from the shapes
 * the signature infers. All buffers are allocated and touched before the
 * warm-up calls, so no page is mapped while timing. Prints
 * `median_ms=<ms> min_ms=<ms>` over `runs` timed calls.
 *
 *===----------------------------------------------------------------------===*/

#include "timing.h"

#include <attn/runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ATTN_BENCH_SIGNATURE
#error "compile with a shim defining ATTN_BENCH_SIGNATURE and ATTN_BENCH_CALL"
#endif

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  exit(1);
}

static size_t bytes_of(DLDataType t) { return t.bits <= 8 ? 1 : t.bits / 8; }

/* Reads a C-order .npy file whose element size matches `dtype`. */
static void *load_npy(const char *path, DLDataType dtype, int64_t *shape,
                      int32_t *ndim) {
  FILE *f = fopen(path, "rb");
  if (!f)
    die("cannot open '%s'", path);
  unsigned char pre[10];
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
    die("'%s' is not a .npy file", path);
  size_t hlen = pre[8] | (size_t)pre[9] << 8;
  if (pre[6] >= 2) { /* version 2+: 4-byte header length */
    unsigned char more[2];
    if (fread(more, 1, 2, f) != 2)
      die("'%s' is truncated", path);
    hlen |= (size_t)more[0] << 16 | (size_t)more[1] << 24;
  }
  char *header = calloc(hlen + 1, 1);
  if (!header || fread(header, 1, hlen, f) != hlen)
    die("'%s' has a truncated header", path);
  const char *descr = strstr(header, "'descr': '");
  const char *shp = strstr(header, "'shape': (");
  if (!descr || !shp || strstr(header, "'fortran_order': True"))
    die("'%s' is not a C-order array", path);
  if ((size_t)atoi(descr + 12) != bytes_of(dtype))
    die("'%s' has the wrong element size for the kernel's signature", path);
  *ndim = 0;
  size_t count = 1;
  for (const char *p = shp + 10; *p && *p != ')';) {
    if (*p >= '0' && *p <= '9') {
      if (*ndim == ATTNRT_MAX_RANK)
        die("'%s' has too many dims", path);
      shape[*ndim] = strtoll(p, (char **)&p, 10);
      count *= (size_t)shape[(*ndim)++];
    } else {
      ++p;
    }
  }
  size_t bytes = count * bytes_of(dtype);
  void *data = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!data || fread(data, 1, bytes, f) != bytes)
    die("'%s' is truncated", path);
  fclose(f);
  free(header);
  return data;
}

int main(int argc, char **argv) {
  if (argc < 3)
    die("usage: driver threads runs inputs.npy...%s", "");
  int threads = atoi(argv[1]), runs = atoi(argv[2]);
  if (runs < 1 || attnrt_set_num_threads(threads) != ATTNRT_OK)
    die("bad threads or runs (%s)", attnrt_last_error());
  attnrt_arg_info info[ATTNRT_MAX_ARGS];
  int32_t n = 0;
  if (attnrt_signature_parse(ATTN_BENCH_SIGNATURE, info, ATTNRT_MAX_ARGS,
                             &n) != ATTNRT_OK)
    die("%s", attnrt_last_error());
  static DLTensor tensors[ATTNRT_MAX_ARGS];
  static int64_t shapes[ATTNRT_MAX_ARGS][ATTNRT_MAX_RANK];
  DLTensor *args[ATTNRT_MAX_ARGS];
  int next = 3;
  for (int32_t i = 0; i < n; ++i) {
    DLTensor *t = &tensors[i];
    t->device.device_type = kDLCPU;
    t->dtype = info[i].dtype;
    t->shape = shapes[i];
    args[i] = t;
    if (info[i].is_output)
      continue;
    if (next >= argc)
      die("too few inputs for the signature %s", ATTN_BENCH_SIGNATURE);
    t->data = load_npy(argv[next++], t->dtype, t->shape, &t->ndim);
  }
  if (next != argc)
    die("too many inputs for the signature %s", ATTN_BENCH_SIGNATURE);
  for (int32_t i = 0; i < n; ++i) {
    if (!info[i].is_output)
      continue;
    DLTensor *t = &tensors[i];
    if (attnrt_infer_shape(ATTN_BENCH_SIGNATURE, args, n, i, t->shape, &t->ndim,
                           &t->dtype) != ATTNRT_OK)
      die("%s", attnrt_last_error());
    size_t bytes = bytes_of(t->dtype);
    for (int32_t d = 0; d < t->ndim; ++d)
      bytes *= (size_t)t->shape[d];
    bytes = (bytes + 63) / 64 * 64;
    t->data = aligned_alloc(64, bytes ? bytes : 64);
    if (!t->data)
      die("out of memory%s", "");
    memset(t->data, 0, bytes);
  }
  double *ms = malloc((size_t)runs * sizeof(double));
  for (int r = -2; r < runs; ++r) { /* two warm-up calls */
    double t0 = attn_now_ms();
    if (ATTN_BENCH_CALL(args) != ATTNRT_OK)
      die("%s", attnrt_last_error());
    if (r >= 0)
      ms[r] = attn_now_ms() - t0;
  }
  double median = attn_median(ms, runs);
  printf("median_ms=%.4f min_ms=%.4f\n", median, ms[0]);
  free(ms);
  return 0;
}
