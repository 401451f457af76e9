/*===- gpu_emulation.h - GPU kernels run on the host -------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * The ABI that attn-gpu-emulate-threads targets: the NVPTX pipeline's
 * kernels, tensor-core attention included, compiled for the host with every
 * GPU operation turned into a call below. Each thread of a block runs on its
 * own fiber (one OS thread, cooperative switches at barriers and warp
 * collectives), so gpu.barrier is a real barrier and warp collectives see the
 * values of all 32 lanes. Shared memory is one buffer per block, filled with
 * 0xff bytes (NaN in f16, bf16 and f32) before the block starts; shared
 * accesses are bounds-checked and, with the race check on, recorded per byte
 * between barriers. Global accesses are bounds-checked by the generated
 * code, which calls attnemu_global_oob on a violation.
 *
 * The first error (out of bounds, race, deadlock, divergent collective)
 * stops the launch and every later launch; attnemu_take_error returns it.
 * Not thread-safe across OS threads: each OS thread has its own emulator.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ATTN_GPU_EMULATION_H
#define ATTN_GPU_EMULATION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A kernel body: reads its captured values from `env`. */
typedef void (*attnemu_kernel_fn)(void *env);

/* Runs `kernel` on a grid of gx*gy*gz blocks of bx*by*bz threads with
 * `shared_bytes` of shared memory per block. `name` names the kernel in
 * errors. Blocks run one after another. */
void attnemu_launch(attnemu_kernel_fn kernel, void *env, const char *name,
                    int64_t gx, int64_t gy, int64_t gz, int64_t bx, int64_t by,
                    int64_t bz, int64_t shared_bytes);

/* The running thread's ids: 0-2 thread x/y/z, 3-5 block x/y/z, 6-8 block
 * dims, 9-11 grid dims, 12 lane. */
int64_t attnemu_id(int32_t which);
/* This block's shared memory and its size in bytes. */
void *attnemu_shared_base(void);
int64_t attnemu_shared_size(void);

/* bar.sync 0: waits until every live thread of the block arrives. */
void attnemu_barrier(void);

/* gpu.shuffle as lowered to shfl.sync by MLIR (lanes 0..width-1 take
 * part): mode 0 idx, 1 up, 2 down, 3 bfly (xor). Returns the value in the
 * low 32 bits and the valid bit in bit 32. */
int64_t attnemu_shfl(int32_t mode, int32_t value, int32_t offset,
                     int32_t width);

/* ldmatrix.sync.aligned.m8n8.x{num}[.trans].shared.b16 with this lane's row
 * address; writes `num` 32-bit registers to `out`. */
void attnemu_ldmatrix(const void *row, int32_t num, int32_t trans,
                      uint32_t *out);

/* mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 with this
 * lane's fragments (type 0: f16, 1: bf16); writes d[4]. */
void attnemu_mma_m16n8k16(int32_t type, uint32_t a0, uint32_t a1, uint32_t a2,
                          uint32_t a3, uint32_t b0, uint32_t b1, float c0,
                          float c1, float c2, float c3, float *d);

/* cp.async.{ca,cg}.shared.global: copies src_bytes of src to dst and fills
 * the rest of cp_bytes with zeros when the copy completes (at the
 * cp.async.wait_group that covers its group). */
void attnemu_cp_async(void *dst, const void *src, int64_t cp_bytes,
                      int64_t src_bytes);
void attnemu_cp_async_commit(void);
void attnemu_cp_async_wait(int32_t pending);

/* A load or store of `bytes` bytes of shared memory at `addr`. */
void attnemu_shared_access(const void *addr, int64_t bytes, int32_t is_write);

/* A global access outside its memref: idx_dims holds the rank indices, then
 * the rank sizes (the last index is the first element of a vector access of
 * `lanes` elements). */
void attnemu_global_oob(int32_t is_write, const int64_t *idx_dims,
                        int32_t rank, int64_t lanes);

/* The first error since the last call (NULL if none), and clears it. */
const char *attnemu_take_error(void);

/* The shared-memory race check (off by default). */
void attnemu_set_race_check(int32_t on);

/* Statistics of the last launches since the last call: blocks, threads,
 * fiber switches. */
void attnemu_take_stats(int64_t *blocks, int64_t *threads, int64_t *switches);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_GPU_EMULATION_H */
