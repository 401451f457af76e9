/*===- attnrt-test.c - unit test of libattnrt ---------------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * RUN: attnrt-test | FileCheck %s
 * (run by test/Runtime/runtime.test)
 *
 *===----------------------------------------------------------------------===*/

#include "attn/runtime.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
#define EXPECT(cond)                                                          \
  do {                                                                        \
    if (!(cond)) {                                                            \
      printf("FAILED line %d: %s\n", __LINE__, #cond);                        \
      ++failures;                                                             \
    }                                                                         \
  } while (0)

static DLTensor make(void *data, int32_t ndim, int64_t *shape, uint8_t code,
                     uint8_t bits) {
  DLTensor t;
  memset(&t, 0, sizeof(t));
  t.data = data;
  t.device.device_type = kDLCPU;
  t.ndim = ndim;
  t.shape = shape;
  t.dtype.code = code;
  t.dtype.bits = bits;
  t.dtype.lanes = 1;
  return t;
}

static const char *kSig =
    "in:f32:?0,8,?1,64;in:bf16:?0,2,?2,64;out:f32:?0,8,?1,64";

static float a[2 * 8 * 3 * 64], c[2 * 8 * 3 * 64];
static unsigned short b[2 * 2 * 5 * 64];

static void report(const char *what, int status) {
  printf("%s: %s: %s\n", what, attnrt_status_string(status),
         status ? attnrt_last_error() : "");
}

static atomic_long counter;
static void body(void *ctx, int64_t begin, int64_t end) {
  (void)ctx;
  for (int64_t i = begin; i < end; ++i)
    atomic_fetch_add(&counter, i + 1);
}

/* Per-index hits and the number of claims (body calls). */
static atomic_int hits[100003];
static atomic_long calls;
static void countHits(void *ctx, int64_t begin, int64_t end) {
  (void)ctx;
  atomic_fetch_add(&calls, 1);
  for (int64_t i = begin; i < end; ++i)
    atomic_fetch_add(&hits[i], 1);
}

int main(void) {
  int64_t sa[4] = {2, 8, 3, 64}, sb[4] = {2, 2, 5, 64}, sc[4] = {2, 8, 3, 64};
  DLTensor ta = make(a, 4, sa, kDLFloat, 32), tb = make(b, 4, sb, kDLBfloat, 16),
           tc = make(c, 4, sc, kDLFloat, 32);
  DLTensor *args[3] = {&ta, &tb, &tc};

  attnrt_arg_info info[4];
  int32_t n = 0;
  EXPECT(attnrt_signature_parse(kSig, info, 4, &n) == ATTNRT_OK && n == 3);
  EXPECT(info[1].dtype.code == kDLBfloat && info[1].dims[2] == -3);
  EXPECT(info[2].is_output == 1);

  report("valid", attnrt_validate(kSig, args, 3));
  // CHECK: valid: ok:

  report("count", attnrt_validate(kSig, args, 2));
  // CHECK: count: invalid argument: expected 3 tensors, got 2

  int64_t bad_batch[4] = {3, 2, 5, 64};
  tb.shape = bad_batch;
  report("batch", attnrt_validate(kSig, args, 3));
  // CHECK: batch: invalid argument: input 1: dim 0 is 3 but must equal dim 0 of input 0, which is 2 (shape [3,2,5,64])
  tb.shape = sb;

  int64_t bad_heads[4] = {2, 4, 5, 64};
  tb.shape = bad_heads;
  report("static", attnrt_validate(kSig, args, 3));
  // CHECK: static: invalid argument: input 1: dim 1 is 4, expected 2 (shape [2,4,5,64])
  tb.shape = sb;

  tb.dtype.code = kDLFloat;
  report("dtype", attnrt_validate(kSig, args, 3));
  // CHECK: dtype: invalid argument: input 1: expected dtype bf16, got f16
  tb.dtype.code = kDLBfloat;

  tc.ndim = 3;
  report("rank", attnrt_validate(kSig, args, 3));
  // CHECK: rank: invalid argument: output 0: expected rank 4, got 3
  tc.ndim = 4;

  tc.device.device_type = kDLCUDA;
  report("device", attnrt_validate(kSig, args, 3));
  // CHECK: device: invalid argument: output 0: expected a CPU tensor, got device type 2
  tc.device.device_type = kDLCPU;

  int64_t strides[4] = {1, 1, 1, 1};
  ta.strides = strides;
  report("strides", attnrt_validate(kSig, args, 3));
  // CHECK: strides: invalid argument: input 0: expected a compact row-major tensor, but dim 2 has stride 1 instead of 64
  ta.strides = NULL;

  // An empty tensor (a torch slice [:0]) has no layout to check.
  int64_t empty[4] = {2, 8, 0, 64};
  ta.shape = empty;
  tc.shape = empty;
  ta.strides = strides;
  report("empty strides", attnrt_validate(kSig, args, 3));
  // CHECK: empty strides: ok:
  ta.strides = NULL;
  ta.shape = sa;
  tc.shape = sc;

  tc.data = NULL;
  report("null data", attnrt_validate(kSig, args, 3));
  // CHECK: null data: invalid argument: output 0: null data
  tc.data = c;

  tc.data = a;
  report("overlap", attnrt_validate(kSig, args, 3));
  // CHECK: overlap: invalid argument: output 0 overlaps input 0 in memory
  tc.data = c;

  ta.byte_offset = 2;
  report("misaligned", attnrt_validate(kSig, args, 3));
  // CHECK: misaligned: invalid argument: input 0: data is not aligned to 4 bytes
  ta.byte_offset = 0;

  args[1] = NULL;
  report("null tensor", attnrt_validate(kSig, args, 3));
  // CHECK: null tensor: invalid argument: input 1: null DLTensor
  args[1] = &tb;

  {
    /* Index clauses: a table with a static page count, lengths, slots. */
    int32_t lens[2] = {5, 9}, table[2 * 3] = {0, 1, 7, 2, 3, 4};
    int32_t slots[3] = {-1, 35, 0};
    int64_t sl[1] = {2}, st[2] = {2, 3}, ss[1] = {3};
    DLTensor tl = make(lens, 1, sl, kDLInt, 32),
             tt = make(table, 2, st, kDLInt, 32),
             ts = make(slots, 1, ss, kDLInt, 32);
    DLTensor *iargs[3] = {&tl, &tt, &ts};
    const char *sig =
        "in:i32:?0;in:i32:?0,?1;in:i32:?2;pages:1:0:8:4;slots:2:9:4";
    report("pages", attnrt_validate(sig, iargs, 3));
    // CHECK: pages: ok:
    table[0] = 8;
    report("entry", attnrt_validate(sig, iargs, 3));
    // CHECK: entry: invalid argument: input 1: page table entry [0, 0] is 8, outside the 8 pages of the pool (the static size); request 0 has 5 keys
    table[0] = 0;
    table[2] = -9; /* past request 0's two pages: never read */
    report("unused entry", attnrt_validate(sig, iargs, 3));
    // CHECK: unused entry: ok:
    slots[1] = 36;
    report("slot", attnrt_validate(sig, iargs, 3));
    // CHECK: slot: invalid argument: input 2: slot 36 of token 1 is past the 36 rows (9 pages of 4) of the pool (the static size)
    slots[1] = 35;
    lens[1] = 13;
    report("length", attnrt_validate(sig, iargs, 3));
    // CHECK: length: invalid argument: input 0: key length 13 of request 1 is outside [0, 12] (the 3 pages of 4 keys per request that input 1 holds)
    lens[1] = 9;
    /* Malformed clauses (a compiler bug) are internal errors, never a read
       past the string. */
    const char *bad[] = {"in:i32:?0;in:i32:?0,?1;in:i32:?2;pages:1",
                         "in:i32:?0;in:i32:?0,?1;in:i32:?2;pages:1:0:",
                         "in:i32:?0;in:i32:?0,?1;in:i32:?2;pages:1:0:8:0",
                         "in:i32:?0;in:i32:?0,?1;in:i32:?2;pages::0:8:4",
                         "in:i32:?0;in:i32:?0,?1;in:i32:?2;lens:0:9.0",
                         "in:i32:?0;in:i32:?0,?1;in:i32:?2;slots:2:8:4x"};
    for (int i = 0; i < 6; ++i)
      EXPECT(attnrt_validate(bad[i], iargs, 3) == ATTNRT_INTERNAL);
    report("malformed", attnrt_validate(bad[0], iargs, 3));
    // CHECK: malformed: internal error: malformed signature clause at 'pages:1'
  }

  int64_t shape[8];
  int32_t ndim = 0;
  DLDataType dtype;
  DLTensor *ins[3] = {&ta, &tb, NULL};
  EXPECT(attnrt_infer_shape(kSig, ins, 3, 2, shape, &ndim, &dtype) == ATTNRT_OK);
  printf("inferred [%lld,%lld,%lld,%lld] rank %d\n", (long long)shape[0],
         (long long)shape[1], (long long)shape[2], (long long)shape[3], ndim);
  // CHECK: inferred [2,8,3,64] rank 4
  report("infer", attnrt_infer_shape("in:f32:?0;out:f32:?1", ins, 2, 1, shape,
                                     &ndim, &dtype));
  // CHECK: infer: unsupported: dim 0 of argument 1 is not determined by any input

  report("threads", attnrt_set_num_threads(-1));
  // CHECK: threads: invalid argument: number of threads must be >= 0, got -1
  for (int t = 1; t <= 3; ++t) {
    EXPECT(attnrt_set_num_threads(t) == ATTNRT_OK);
    EXPECT(attnrt_get_num_threads() == t);
    for (int rep = 0; rep < 50; ++rep) {
      atomic_store(&counter, 0);
      attnrt_parallel_for(1000, body, NULL);
      EXPECT(atomic_load(&counter) == 500500);
    }
  }
  printf("parallel_for ok\n");
  // CHECK: parallel_for ok
  /* Every index exactly once, for counts below, near and far above the
   * thread count; many short iterations are claimed in chunks (guided
   * scheduling: a few dozen claims, not one per iteration). */
  for (int t = 1; t <= 3; ++t) {
    EXPECT(attnrt_set_num_threads(t) == ATTNRT_OK);
    const int64_t counts[] = {2, 3, 7, 1000, 100003};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; ++c) {
      int64_t n = counts[c];
      for (int64_t i = 0; i < n; ++i)
        atomic_store(&hits[i], 0);
      atomic_store(&calls, 0);
      attnrt_parallel_for(n, countHits, NULL);
      for (int64_t i = 0; i < n; ++i)
        EXPECT(atomic_load(&hits[i]) == 1);
      if (n == 100003 && t > 1)
        EXPECT(atomic_load(&calls) < 1000);
    }
  }
  printf("parallel_for chunks ok\n");
  // CHECK: parallel_for chunks ok

  /* Kernel heap memory: aligned, reused for a request of the same size,
   * fresh for another size, and released on request. */
  char *m1 = _mlir_memref_to_llvm_alloc(1000);
  EXPECT(m1 && ((uintptr_t)m1 % 64) == 0);
  memset(m1, 1, 1000);
  _mlir_memref_to_llvm_free(m1);
  char *m2 = _mlir_memref_to_llvm_alloc(1000);
  EXPECT(m2 == m1);
  char *m3 = _mlir_memref_to_llvm_aligned_alloc(32, 4096);
  EXPECT(m3 && m3 != m2 && ((uintptr_t)m3 % 64) == 0);
  char *m4 = _mlir_memref_to_llvm_aligned_alloc(256, 64);
  EXPECT(m4 && ((uintptr_t)m4 % 256) == 0);
  _mlir_memref_to_llvm_free(m4);
  _mlir_memref_to_llvm_free(m2);
  _mlir_memref_to_llvm_free(m3);
  _mlir_memref_to_llvm_free(NULL);
  attnrt_release_memory();
  /* With every slot taken by small blocks (a Halide pipeline's per-tile
   * buffers), a large block freed later still displaces the smallest one:
   * the next request of its size gets it back (no fresh pages). */
  enum { SMALL = 16 };
  char *small[SMALL];
  for (int i = 0; i < SMALL; ++i)
    small[i] = _mlir_memref_to_llvm_alloc(100 + (size_t)i);
  char *big = _mlir_memref_to_llvm_alloc((size_t)1 << 22);
  for (int i = 0; i < SMALL; ++i)
    _mlir_memref_to_llvm_free(small[i]);
  _mlir_memref_to_llvm_free(big);
  char *big2 = _mlir_memref_to_llvm_alloc((size_t)1 << 22);
  EXPECT(big2 == big);
  char *small0 = _mlir_memref_to_llvm_alloc(100);
  EXPECT(small0 != small[0]); /* the smallest block was the one evicted */
  char *small15 = _mlir_memref_to_llvm_alloc(115);
  EXPECT(small15 == small[15]);
  _mlir_memref_to_llvm_free(big2);
  _mlir_memref_to_llvm_free(small0);
  _mlir_memref_to_llvm_free(small15);
  attnrt_release_memory();
  printf("memory ok\n");
  // CHECK: memory ok
  printf("%d failures\n", failures);
  // CHECK: 0 failures
  return failures != 0;
}
