/*===- gpu-check.c - the GPU bundle's correctness driver ---------*- C -*-===*
 *
 * Part of the attn project.
 *
 * Linked by scripts/gpu-check with every case's object (attn-compile
 * --target=nvptx) and a static libattnrt; needs no compiler, MLIR or LLVM on
 * the GPU machine. For each case of the generated table (cases.inc) it reads
 * cases/<name>/in<k>.npy, copies them to the device, calls the kernel,
 * copies the outputs back and compares them with cases/<name>/out<k>.npy
 * (made by the reference interpreter on the machine that built the bundle):
 * floats within |x - ref| <= tol (|ref| + max|ref| / 8), integers exactly.
 * Prints one line per case and `N passed, N failed`; exits 2 without a CUDA
 * device, 1 if a case failed. Built with -DATTN_CHECK_CPU (and CPU objects),
 * the same driver runs on host memory: the bundle's own test here.
 *
 *   attn-gpu-check [--cases=DIR] [--device=N] [NAME...]
 *
 *===----------------------------------------------------------------------===*/

#include "attn/runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*entry_fn)();
typedef struct {
  const char *name;
  entry_fn fn;
  const char *signature;
  int num_inputs;
  double tol;
} gpu_case;

#include "cases.inc" /* declares the entry points and `cases` */

/*--- .npy ------------------------------------------------------------------*/

typedef struct {
  DLDataType dtype;
  int ndim;
  int64_t shape[ATTNRT_MAX_RANK];
  size_t bytes;
  void *data;
} array;

static int dtype_of(const char *descr, DLDataType *t) {
  static const struct {
    const char *descr;
    uint8_t code, bits;
  } kinds[] = {{"<f4", kDLFloat, 32}, {"<f2", kDLFloat, 16},
               {"<u2", kDLBfloat, 16}, {"<f8", kDLFloat, 64},
               {"<i4", kDLInt, 32},    {"<i8", kDLInt, 64},
               {"|u1", kDLUInt, 8},    {"|b1", kDLUInt, 8},
               {"|i1", kDLInt, 8}};
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i)
    if (!strcmp(descr, kinds[i].descr)) {
      t->code = kinds[i].code;
      t->bits = kinds[i].bits;
      t->lanes = 1;
      return 1;
    }
  return 0;
}

static int read_npy(const char *path, array *a) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return 0;
  unsigned char pre[10];
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
    fclose(f);
    return 0;
  }
  size_t hlen = pre[8] | (pre[9] << 8);
  if (pre[6] >= 2) { /* version 2: 4-byte header length */
    unsigned char more[2];
    if (fread(more, 1, 2, f) != 2) {
      fclose(f);
      return 0;
    }
    hlen |= (size_t)more[0] << 16 | (size_t)more[1] << 24;
  }
  char *h = calloc(1, hlen + 1);
  if (!h || fread(h, 1, hlen, f) != hlen) {
    free(h);
    fclose(f);
    return 0;
  }
  char descr[8] = "";
  const char *d = strstr(h, "'descr': '");
  const char *s = strstr(h, "'shape': (");
  int ok = d && s && !strstr(h, "'fortran_order': True");
  if (ok) {
    sscanf(d + 10, "%7[^']", descr);
    ok = dtype_of(descr, &a->dtype);
  }
  a->ndim = 0;
  size_t n = 1;
  for (const char *p = s ? s + 10 : ""; ok && *p && *p != ')';) {
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p) {
      ++p;
      continue;
    }
    if (a->ndim == ATTNRT_MAX_RANK)
      ok = 0;
    else
      a->shape[a->ndim++] = v;
    n *= (size_t)v;
    p = end;
  }
  free(h);
  if (ok) {
    a->bytes = n * (a->dtype.bits / 8);
    a->data = malloc(a->bytes ? a->bytes : 1);
    ok = a->data && fread(a->data, 1, a->bytes, f) == a->bytes;
  }
  fclose(f);
  return ok;
}

static double value_at(const array *a, size_t i) {
  const unsigned char *p = (const unsigned char *)a->data + i * (a->dtype.bits / 8);
  if (a->dtype.code == kDLBfloat) {
    uint32_t w = (uint32_t)(p[0] | p[1] << 8) << 16;
    float f;
    memcpy(&f, &w, 4);
    return f;
  }
  if (a->dtype.code == kDLFloat && a->dtype.bits == 16) {
    uint16_t h = (uint16_t)(p[0] | p[1] << 8);
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 31 ? (m ? NAN : INFINITY)
               : e == 0 ? ldexp(m, -24)
                        : ldexp(m | 1024, e - 25);
    return h >> 15 ? -v : v;
  }
  if (a->dtype.code == kDLFloat && a->dtype.bits == 32) {
    float f;
    memcpy(&f, p, 4);
    return f;
  }
  if (a->dtype.code == kDLFloat) {
    double f;
    memcpy(&f, p, 8);
    return f;
  }
  if (a->dtype.bits == 8)
    return a->dtype.code == kDLInt ? (double)(int8_t)p[0] : p[0];
  if (a->dtype.bits == 32) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
  }
  int64_t v;
  memcpy(&v, p, 8);
  return (double)v;
}

static DLTensor tensor_of(array *a) {
  DLTensor t;
  memset(&t, 0, sizeof(t));
  t.data = a->data;
  t.device.device_type = kDLCPU;
  t.ndim = a->ndim;
  t.dtype = a->dtype;
  t.shape = a->shape;
  return t;
}

/* Calls fn with n tensor pointers. */
static int call(entry_fn fn, DLTensor **t, int n) {
  switch (n) {
#define A(i) t[i]
  case 1: return fn(A(0));
  case 2: return fn(A(0), A(1));
  case 3: return fn(A(0), A(1), A(2));
  case 4: return fn(A(0), A(1), A(2), A(3));
  case 5: return fn(A(0), A(1), A(2), A(3), A(4));
  case 6: return fn(A(0), A(1), A(2), A(3), A(4), A(5));
  case 7: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6));
  case 8: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7));
  case 9: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8));
  case 10: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), A(9));
  case 11: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), A(9), A(10));
  case 12: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), A(9), A(10), A(11));
  case 13: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), A(9), A(10), A(11), A(12));
  case 14: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), A(9), A(10), A(11), A(12), A(13));
  case 15: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), A(9), A(10), A(11), A(12), A(13), A(14));
  case 16: return fn(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), A(9), A(10), A(11), A(12), A(13), A(14), A(15));
#undef A
  default:
    fprintf(stderr, "attn-gpu-check: %d arguments are not supported\n", n);
    return -1;
  }
}

/* Runs one case; prints its line; returns 1 if it passed. */
static int run_case(const gpu_case *c, const char *dir, int device) {
  attnrt_arg_info info[16];
  int32_t num = 0;
  if (attnrt_signature_parse(c->signature, info, 16, &num) != ATTNRT_OK) {
    printf("FAIL %s: %s\n", c->name, attnrt_last_error());
    return 0;
  }
  array host[16], expect[16];
  memset(host, 0, sizeof(host));
  memset(expect, 0, sizeof(expect));
  DLTensor t[16];
  DLTensor *args[16];
  void *dev[16] = {0};
  char path[4096];
  int ok = 1;
  int nout = num - c->num_inputs;
  for (int k = 0; k < num && ok; ++k) {
    int in = k < c->num_inputs;
    snprintf(path, sizeof(path), "%s/%s/%s%d.npy", dir, c->name,
             in ? "in" : "out", in ? k : k - c->num_inputs);
    if (!read_npy(path, in ? &host[k] : &expect[k])) {
      printf("FAIL %s: cannot read %s\n", c->name, path);
      ok = 0;
      break;
    }
    if (!in) { /* the output buffer has the expected shape */
      host[k] = expect[k];
      host[k].dtype = info[k].dtype;
      host[k].bytes = expect[k].bytes / (expect[k].dtype.bits / 8) *
                      (info[k].dtype.bits / 8);
      host[k].data = calloc(1, host[k].bytes ? host[k].bytes : 1);
    }
    t[k] = tensor_of(&host[k]);
    args[k] = &t[k];
#ifdef ATTN_CHECK_CPU
    continue;
#endif
    if (attnrt_cuda_malloc(device, host[k].bytes ? host[k].bytes : 1,
                           &dev[k]) != ATTNRT_OK ||
        (in && attnrt_cuda_copy_to_device(device, dev[k], host[k].data,
                                          host[k].bytes) != ATTNRT_OK)) {
      printf("FAIL %s: %s\n", c->name, attnrt_last_error());
      ok = 0;
    }
    t[k].data = dev[k];
    t[k].device.device_type = kDLCUDA;
    t[k].device.device_id = device;
  }
  if (ok && call(c->fn, args, num) != ATTNRT_OK) {
    printf("FAIL %s: %s\n", c->name, attnrt_last_error());
    ok = 0;
  }
  double worst = 0;
  for (int o = 0; o < nout && ok; ++o) {
    int k = c->num_inputs + o;
#ifndef ATTN_CHECK_CPU
    if (attnrt_cuda_copy_to_host(device, host[k].data, dev[k],
                                 host[k].bytes) != ATTNRT_OK) {
      printf("FAIL %s: %s\n", c->name, attnrt_last_error());
      ok = 0;
      break;
    }
#endif
    size_t n = expect[k].bytes / (expect[k].dtype.bits / 8);
    int exact = host[k].dtype.code == kDLInt || host[k].dtype.code == kDLUInt;
    double scale = 0;
    for (size_t i = 0; i < n; ++i)
      if (isfinite(value_at(&expect[k], i)))
        scale = fmax(scale, fabs(value_at(&expect[k], i)));
    for (size_t i = 0; i < n && ok; ++i) {
      double r = value_at(&expect[k], i), x = value_at(&host[k], i);
      double err = fabs(x - r);
      int good = exact ? x == r
                 : isfinite(r) ? isfinite(x) && err <= c->tol * (fabs(r) + scale / 8)
                               : x == r || (isnan(r) && isnan(x));
      if (!exact && isfinite(r) && scale > 0)
        worst = fmax(worst, err / (fabs(r) + scale / 8));
      if (!good) {
        printf("FAIL %s: out%d[%zu] = %g, expected %g (tol %g)\n", c->name, o,
               i, x, r, c->tol);
        ok = 0;
      }
    }
  }
  if (ok)
    printf("PASS %s (max scaled error %.3g, tol %g)\n", c->name, worst, c->tol);
  for (int k = 0; k < num; ++k) {
    if (dev[k])
      attnrt_cuda_free(device, dev[k]);
    free(host[k].data);
    if (k >= c->num_inputs)
      free(expect[k].data);
  }
  return ok;
}

int main(int argc, char **argv) {
  const char *dir = "cases";
  int device = 0;
  int first = 1;
  for (; first < argc && !strncmp(argv[first], "--", 2); ++first) {
    if (!strncmp(argv[first], "--cases=", 8))
      dir = argv[first] + 8;
    else if (!strncmp(argv[first], "--device=", 9))
      device = atoi(argv[first] + 9);
    else {
      fprintf(stderr, "usage: attn-gpu-check [--cases=DIR] [--device=N] [NAME...]\n");
      return 2;
    }
  }
  int count = 0;
#ifndef ATTN_CHECK_CPU
  if (attnrt_cuda_device_count(&count) != ATTNRT_OK || count == 0) {
    fprintf(stderr, "attn-gpu-check: no CUDA device: %s\n",
            count == 0 && !attnrt_last_error()[0] ? "the driver reports none"
                                                  : attnrt_last_error());
    return 2;
  }
  if (device < 0 || device >= count) {
    fprintf(stderr, "attn-gpu-check: --device=%d: this machine has %d CUDA device(s)\n",
            device, count);
    return 2;
  }
#endif
  int passed = 0, failed = 0;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    int wanted = first == argc;
    for (int a = first; a < argc; ++a)
      wanted |= !strcmp(argv[a], cases[i].name);
    if (!wanted)
      continue;
    if (run_case(&cases[i], dir, device))
      ++passed;
    else
      ++failed;
    fflush(stdout);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
