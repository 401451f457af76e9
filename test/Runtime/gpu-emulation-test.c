/*===- gpu-emulation-test.c - libattnrt's GPU emulator ------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * Hand-written kernels on the emulator's ABI (attn/gpu_emulation.h): real
 * barriers, the race check, deadlocks, bounds, shuffles, cp.async groups
 * with zero fill, and ldmatrix feeding mma.sync as the tensor-core kernel
 * uses them, against a plain matrix product. The fragment layouts used here
 * to place data are only those of shared memory (row-major tiles); what
 * lands in which register is the emulator's business, so an error in
 * ptx_warp.c shows as a wrong product.
 *
 *===----------------------------------------------------------------------===*/

#include "attn/gpu_emulation.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void report(const char *name) {
  const char *e = attnemu_take_error();
  printf("%s: %s\n", name, e ? e : "ok");
}

/* Each thread writes its id, waits, reads its neighbour's. */
static int barrier_out[256];
static void k_barrier(void *env) {
  (void)env;
  int *s = attnemu_shared_base();
  int t = (int)attnemu_id(0), n = (int)attnemu_id(6);
  attnemu_shared_access(&s[t], 4, 1);
  s[t] = t * 3;
  attnemu_barrier();
  attnemu_shared_access(&s[(t + 1) % n], 4, 0);
  barrier_out[t] = s[(t + 1) % n];
}

/* The same without the barrier: a race. */
static void k_race(void *env) {
  (void)env;
  int *s = attnemu_shared_base();
  int t = (int)attnemu_id(0), n = (int)attnemu_id(6);
  attnemu_shared_access(&s[t], 4, 1);
  s[t] = t;
  attnemu_shared_access(&s[(t + 1) % n], 4, 0);
}

/* Lane 5 waits at a barrier, the others at a shuffle that needs lane 5. */
static void k_deadlock(void *env) {
  (void)env;
  if (attnemu_id(0) == 5)
    attnemu_barrier();
  else
    attnemu_shfl(3, 1, 1, 32);
}

/* Thread 5 ends without the barrier: an exited thread counts as arrived. */
static void k_exit(void *env) {
  (void)env;
  if (attnemu_id(0) != 5)
    attnemu_barrier();
}

static void k_shared_oob(void *env) {
  (void)env;
  char *s = attnemu_shared_base();
  attnemu_shared_access(s + attnemu_shared_size() - 2, 4, 0);
}

static void k_global_oob(void *env) {
  (void)env;
  int64_t idx_dims[4] = {3, 70, 3, 64};
  if (attnemu_id(0) == 9)
    attnemu_global_oob(1, idx_dims, 2, 1);
}

/* Shuffles over 64 threads (two warps). */
static int shfl_out[4][64], shfl_valid[4][64];
static void k_shfl(void *env) {
  (void)env;
  int t = (int)attnemu_id(0);
  int32_t offsets[4] = {5, 3, 3, 6}; /* idx, up, down, bfly */
  for (int m = 0; m < 4; ++m) {
    int64_t r = attnemu_shfl(m, 100 + t, offsets[m], 32);
    shfl_out[m][t] = (int)(int32_t)r;
    shfl_valid[m][t] = (int)(r >> 32);
  }
}

/* Lane 0 exits; the others shuffle (xor 1): lane 1's source has exited. */
static int exit_out[32], exit_valid[32];
static void k_shfl_exit(void *env) {
  (void)env;
  int t = (int)attnemu_id(0);
  if (t == 0)
    return;
  int64_t r = attnemu_shfl(3, 100 + t, 1, 32);
  exit_out[t] = (int)(int32_t)r;
  exit_valid[t] = (int)(r >> 32);
}

/* A cp.async whose shared destination is not aligned to its size. */
static unsigned char cp_src[32];
static void k_misaligned(void *env) {
  (void)env;
  unsigned char *s = attnemu_shared_base();
  attnemu_cp_async(s + 4, cp_src, 16, 16);
}

/* cp.async: 16-byte chunks, the second with 6 source bytes (zero fill);
 * thread 0 reads its destination before the wait (still 0xff) and after. */
static unsigned char cp_before[32], cp_after[32];
static void k_cp_async(void *env) {
  (void)env;
  unsigned char *s = attnemu_shared_base();
  if (attnemu_id(0) != 0)
    return;
  attnemu_cp_async(s, cp_src, 16, 16);
  attnemu_cp_async_commit();
  attnemu_cp_async(s + 16, cp_src + 16, 16, 6);
  attnemu_cp_async_commit();
  memcpy(cp_before, s, 32);
  attnemu_cp_async_wait(1); /* the first group only */
  memcpy(cp_after, s, 16);
  memcpy(cp_after + 16, s + 16, 16);
  attnemu_cp_async_wait(0);
  memcpy(cp_before + 16, s + 16, 16); /* reuse: after the second wait */
}

/* D (16x8) = A (16x16) B (16x8) on one warp: A row-major in shared memory
 * (ldmatrix x4: lanes 0-15 give rows 0-15 at column 0, lanes 16-31 rows
 * 0-15 at column 8), B given either as B^T row-major (8 rows of 16 keys,
 * ldmatrix x2) or as B row-major (16 rows of 8, ldmatrix x2 .trans), as
 * the attention kernel loads K and V. */
static _Float16 mma_a[16][16], mma_bt[8][16], mma_b[16][8];
static float mma_out[2][16][8];
static void k_mma(void *env) {
  int trans = *(int *)env;
  _Float16 *s = attnemu_shared_base();
  int l = (int)attnemu_id(0);
  /* Stage A and B in shared memory (one thread), then everybody reads. */
  if (l == 0) {
    attnemu_shared_access(s, 16 * 16 * 2 + 16 * 8 * 2, 1);
    memcpy(s, mma_a, sizeof(mma_a));
    memcpy(s + 256, trans ? (void *)mma_b : (void *)mma_bt, 256);
  }
  attnemu_barrier();
  uint32_t a[4], b[2];
  attnemu_ldmatrix(s + (l % 16) * 16 + (l / 16) * 8, 4, 0, a);
  if (trans)
    attnemu_ldmatrix(s + 256 + (l % 16) * 8, 2, 1, b);
  else
    attnemu_ldmatrix(s + 256 + (l % 8) * 16 + ((l / 8) % 2) * 8, 2, 0, b);
  float d[4];
  attnemu_mma_m16n8k16(0, a[0], a[1], a[2], a[3], b[0], b[1], 0.5f, 0.5f,
                       0.5f, 0.5f, d);
  /* Where the accumulator elements belong is the one layout the caller
   * must know (PTX: c0,c1 row l/4, c2,c3 row l/4+8, columns 2(l%4)+{0,1}). */
  int g = l / 4, c = 2 * (l % 4);
  mma_out[trans][g][c] = d[0];
  mma_out[trans][g][c + 1] = d[1];
  mma_out[trans][g + 8][c] = d[2];
  mma_out[trans][g + 8][c + 1] = d[3];
}

int main(void) {
  attnemu_set_race_check(1);

  attnemu_launch(k_barrier, NULL, "barrier", 2, 1, 1, 200, 1, 1, 1024);
  int good = 1;
  for (int t = 0; t < 200; ++t)
    good &= barrier_out[t] == ((t + 1) % 200) * 3;
  report("barrier");
  printf("barrier values: %s\n", good ? "ok" : "WRONG");
  // CHECK: barrier: ok
  // CHECK: barrier values: ok

  attnemu_launch(k_race, NULL, "race", 1, 1, 1, 64, 1, 1, 256);
  report("race");
  // CHECK: race: kernel race, block (0, 0, 0), thread ({{[0-9]+}}, 0, 0): shared-memory race: thread {{[0-9]+}} {{reads|writes}} byte offset {{[0-9]+}} after thread {{[0-9]+}} {{read|wrote}} it, with no barrier between

  attnemu_set_race_check(0);
  attnemu_launch(k_race, NULL, "race", 1, 1, 1, 64, 1, 1, 256);
  report("race unchecked");
  attnemu_set_race_check(1);
  // CHECK: race unchecked: ok

  attnemu_launch(k_exit, NULL, "exit", 1, 2, 1, 8, 2, 1, 0);
  report("exit before a barrier");
  // CHECK: exit before a barrier: ok

  attnemu_launch(k_deadlock, NULL, "deadlock", 1, 1, 1, 32, 1, 1, 0);
  report("deadlock");
  // CHECK: deadlock: kernel deadlock, block (0, 0, 0): deadlock: 1 threads wait at a barrier and 31 at a warp collective that the others never reach

  attnemu_launch(k_barrier, NULL, "barrier", 1, 1, 1, 300, 1, 1, 100);
  report("shared bounds");
  // CHECK: shared bounds: kernel barrier, block (0, 0, 0), thread (25, 0, 0): out-of-bounds shared store of 4 bytes at byte offset 100 (the block has 100 bytes of shared memory)

  attnemu_launch(k_shared_oob, NULL, "oob", 1, 1, 1, 1, 1, 1, 64);
  report("shared load bounds");
  // CHECK: shared load bounds: kernel oob, block (0, 0, 0), thread (0, 0, 0): out-of-bounds shared load of 4 bytes at byte offset 62 (the block has 64 bytes of shared memory)

  attnemu_launch(k_global_oob, NULL, "global", 1, 1, 3, 16, 1, 1, 0);
  report("global bounds");
  // CHECK: global bounds: kernel global, block (0, 0, 0), thread (9, 0, 0): out-of-bounds global store at index [3, 70] of a buffer of shape [3, 64]

  attnemu_launch(k_shfl, NULL, "shfl", 1, 1, 1, 64, 1, 1, 0);
  report("shfl");
  int shflOk = 1;
  for (int t = 0; t < 64; ++t) {
    int l = t % 32, w = t - l;
    int src[4] = {5, l - 3, l + 3, l ^ 6};
    int valid[4] = {1, l >= 3, l + 3 <= 31, 1};
    for (int m = 0; m < 4; ++m) {
      int want = valid[m] ? 100 + w + src[m] : 100 + t;
      shflOk &= shfl_out[m][t] == want && shfl_valid[m][t] == valid[m];
    }
  }
  printf("shfl values: %s\n", shflOk ? "ok" : "WRONG");
  // CHECK: shfl: ok
  // CHECK: shfl values: ok

  attnemu_launch(k_shfl_exit, NULL, "shfl_exit", 1, 1, 1, 32, 1, 1, 0);
  report("shfl with an exited lane");
  printf("exited source: %d valid %d; live source: %d valid %d\n", exit_out[1],
         exit_valid[1], exit_out[2], exit_valid[2]);
  // CHECK: shfl with an exited lane: ok
  // CHECK: exited source: 101 valid 0; live source: 103 valid 1

  attnemu_launch(k_misaligned, NULL, "misaligned", 1, 1, 1, 1, 1, 1, 64);
  report("misaligned cp.async");
  // CHECK: misaligned cp.async: kernel misaligned, block (0, 0, 0), thread (0, 0, 0): misaligned cp.async of 16 bytes (destination offset 4

  for (int i = 0; i < 32; ++i)
    cp_src[i] = (unsigned char)(i + 1);
  attnemu_launch(k_cp_async, NULL, "cp", 1, 1, 1, 32, 1, 1, 64);
  report("cp.async");
  int cpOk = 1;
  for (int i = 0; i < 32; ++i) {
    cpOk &= cp_after[i] == (i < 16 ? i + 1 : 0xff); /* second group pending */
    cpOk &= i < 16 ? cp_before[i] == 0xff
                   : cp_before[i] == (i < 22 ? i + 1 : 0); /* zero fill */
  }
  printf("cp.async values: %s\n", cpOk ? "ok" : "WRONG");
  // CHECK: cp.async: ok
  // CHECK: cp.async values: ok

  for (int i = 0; i < 16; ++i)
    for (int k = 0; k < 16; ++k)
      mma_a[i][k] = (_Float16)(((i * 7 + k * 3) % 11) - 5) * (_Float16)0.25f;
  for (int k = 0; k < 16; ++k)
    for (int n = 0; n < 8; ++n) {
      mma_b[k][n] = (_Float16)(((k * 5 + n * 9) % 13) - 6) * (_Float16)0.5f;
      mma_bt[n][k] = mma_b[k][n];
    }
  for (int trans = 0; trans < 2; ++trans) {
    attnemu_launch(k_mma, &trans, "mma", 1, 1, 1, 32, 1, 1, 1024);
    report(trans ? "mma (ldmatrix.trans B)" : "mma (ldmatrix B^T)");
    double err = 0;
    for (int i = 0; i < 16; ++i)
      for (int n = 0; n < 8; ++n) {
        double s = 0.5;
        for (int k = 0; k < 16; ++k)
          s += (double)mma_a[i][k] * (double)mma_b[k][n];
        err = fmax(err, fabs(s - mma_out[trans][i][n]));
      }
    printf("mma max error: %g\n", err);
  }
  // CHECK: mma (ldmatrix B^T): ok
  // CHECK: mma max error: 0
  // CHECK: mma (ldmatrix.trans B): ok
  // CHECK: mma max error: 0

  /* A warp collective that not all lanes reach. */
  attnemu_launch(k_mma, &(int){0}, "mma", 1, 1, 1, 16, 1, 1, 1024);
  report("partial warp");
  // CHECK: partial warp: kernel mma, block (0, 0, 0), thread ({{[0-9]+}}, 0, 0): ldmatrix in warp 0 with only some of its 32 lanes (the others have exited or do not exist)

  int64_t blocks, threads, switches;
  attnemu_take_stats(&blocks, &threads, &switches);
  printf("stats: %lld blocks\n", (long long)blocks);
  // CHECK: stats: {{[1-9][0-9]*}} blocks
  return 0;
}
