/*===- attn/runtime.h - libattnrt C API ---------------------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * libattnrt is the small runtime that kernels compiled by attn-compile link
 * against. It validates every DLTensor a kernel is handed against the
 * kernel's signature, runs parallel loops on its thread pool and reports
 * errors as status codes with a message. It depends on libc and pthreads
 * only.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ATTN_RUNTIME_H
#define ATTN_RUNTIME_H

#include <dlpack/dlpack.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes returned by every entry point. */
typedef enum attnrt_status {
  ATTNRT_OK = 0,
  ATTNRT_INVALID_ARGUMENT = 1, /* a tensor does not match the signature */
  ATTNRT_UNSUPPORTED = 2,      /* valid request the runtime cannot serve */
  ATTNRT_INTERNAL = 3,
} attnrt_status;

/* The message of the last failed call on this thread ("" if none). */
const char *attnrt_last_error(void);
/* A short name for a status code. */
const char *attnrt_status_string(int status);
/* Records an error for this thread and returns `status`. */
int attnrt_set_error(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*--- Threads -------------------------------------------------------------*/

/* Sets the number of threads kernels use (>= 1; 0 = all online CPUs, or
 * $ATTN_NUM_THREADS if set). Returns a status. */
int attnrt_set_num_threads(int num_threads);
int attnrt_get_num_threads(void);

/* Runs body(ctx, i, i + 1) for every i in [0, count) on the thread pool;
 * returns when all are done. Iterations are handed out dynamically. Nested
 * calls from inside a body run serially. */
typedef void (*attnrt_parallel_body)(void *ctx, int64_t begin, int64_t end);
void attnrt_parallel_for(int64_t count, attnrt_parallel_body body, void *ctx);

/*--- Memory --------------------------------------------------------------*/

/* Kernels take their heap buffers (split-KV partials, copies, intermediate
 * tensors) from the runtime, which keeps freed blocks (up to 1 GiB) for the
 * next call of the same shape instead of mapping fresh pages every call.
 * This returns the kept blocks to the system. */
void attnrt_release_memory(void);

/* The allocation functions compiled kernels call (MLIR's generic memref
 * allocation ABI); 64-byte aligned. */
#include <stddef.h>
void *_mlir_memref_to_llvm_alloc(size_t size);
void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size);
void _mlir_memref_to_llvm_free(void *ptr);

/*--- Kernel signatures ---------------------------------------------------*/

/* A compiled function's signature is a string such as
 *   "in:f32:?0,8,?1,64;in:f32:?0,2,?2,64;in:f32:?0,2,?2,64;out:f32:?0,8,?1,64"
 * one field per argument: direction ("in", "out", or "io" for an input
 * updated in place), element type (f32 f16 bf16 f64 i8
 * i1 (stored as one byte per element, DLPack kDLUInt/8), f8e4m3 f8e5m2
 * (fp8 bytes, DLPack kDLUInt/8: DLPack 0.6 has no fp8 codes)
 * i32 i64), and dims, where numbers are static sizes and `?N` are symbols:
 * all dims with the same symbol must be equal at call time. */
#define ATTNRT_MAX_RANK 8
#define ATTNRT_MAX_ARGS 64

typedef struct attnrt_arg_info {
  int is_output;
  /* An input the kernel updates in place ("io:", e.g. a KV-cache pool that
     attn.append_kv writes): numbered with the inputs, checked for overlap
     like an output. */
  int is_inout;
  DLDataType dtype;
  int32_t ndim;
  /* dims[i] >= 0: static size; dims[i] < 0: symbol -(dims[i] + 1). */
  int64_t dims[ATTNRT_MAX_RANK];
} attnrt_arg_info;

/* Parses a signature. Returns a status; on success fills num_args and, if
 * `args` is non-null, up to `capacity` entries. */
int attnrt_signature_parse(const char *signature, attnrt_arg_info *args,
                           int32_t capacity, int32_t *num_args);

/* Computes the shape of argument `index` (usually an output) from the
 * shapes of the input tensors (`args` holds all arguments in order; outputs
 * may be null). Fails if a dim's symbol is bound by no input. */
int attnrt_infer_shape(const char *signature, DLTensor *const *args,
                       int32_t num_args, int32_t index, int64_t *shape,
                       int32_t *ndim, DLDataType *dtype);

/* Validates args against the signature (count, device, dtype, rank, static
 * dims, symbols, strides, alignment, output overlap). attnrt_validate
 * expects CPU tensors; attnrt_validate_device tensors of `device_type`
 * (kDLCPU or kDLCUDA), all on one device. */
int attnrt_validate(const char *signature, DLTensor *const *args,
                    int32_t num_args);
int attnrt_validate_device(const char *signature, DLTensor *const *args,
                           int32_t num_args, int device_type);

/*--- Ragged batches: the host-side plan ----------------------------------*/

/* An attention over a ragged batch (`qo_indptr`, docs/serving.md) splits
 * its work into items: request b with a chunk of Lq = qo_indptr[b+1] -
 * qo_indptr[b] queries has no item if Lq = 0, `decode_items` items if
 * Lq = 1 (one per KV head when the kernel packs a group's query heads,
 * else one per query head), and heads * ceil(Lq / ATTNRT_RAGGED_ROWS)
 * items otherwise (a head's chunk in blocks of 64 rows). A plan is an int32
 * [2, B + 1] tensor: row 0 the order requests are processed in (a
 * permutation of 0..B-1 that lists every chunk of two or more queries
 * before any decode step, then ATTNRT_RAGGED_ROWS), row 1 the first item of
 * each request in that order (then the item count). The numbers H and D of
 * a function's signature clause "plan:P:I:H:D" are its `heads` and
 * `decode_items`. */
#define ATTNRT_RAGGED_ROWS 64

/* Work items of a request whose chunk has `lq` queries. */
int64_t attnrt_ragged_items(int64_t lq, int64_t heads, int64_t decode_items);

/* Computes a plan once per step, for every layer's call: chunks, then
 * decode steps, each ordered by the cost of one of their items, longest
 * first (so that dynamic scheduling ends with short items). Validates every tensor (CPU, int32,
 * contiguous; qo_indptr [B + 1] starting at 0 and non-decreasing, kv_lens
 * [B], plan [2, B + 1]). Returns a status. */
int attnrt_plan_ragged(const DLTensor *qo_indptr, const DLTensor *kv_lens,
                       int64_t heads, int64_t decode_items, DLTensor *plan);

/*--- Kernel invocation (called by generated entry points) -----------------*/

/* The generated kernel takes an array of pointers to MLIR memref
 * descriptors, one per argument. */
typedef void (*attnrt_kernel_fn)(void **descriptors);

/* Validates args, builds the memref descriptors and runs the kernel. */
int attnrt_invoke(const char *signature, DLTensor *const *args,
                  int32_t num_args, attnrt_kernel_fn kernel);

/*--- Programs compiled with --backend=halide -------------------------------*/

/* Halide's `<name>_argv` form: an array of pointers to halide_buffer_t, the
 * inputs then the results. */
typedef int (*attnrt_halide_fn)(void **args);

/* Validates args like attnrt_invoke, describes them as Halide buffers and
 * runs the Halide function (called by generated entry points). */
int attnrt_halide_invoke(const char *signature, DLTensor *const *args,
                         int32_t num_args, attnrt_halide_fn fn);

/*--- NVIDIA GPUs ---------------------------------------------------------*/

/* Programs compiled with --target=nvptx take CUDA device tensors (kDLCUDA).
 * The CUDA driver is loaded with dlopen("libcuda.so.1") on first use
 * ($ATTN_CUDA_DRIVER names another library); without a driver or a device
 * every call below returns ATTNRT_UNSUPPORTED with the reason. */

/* Number of CUDA devices (0 and a status if there is no driver). */
int attnrt_cuda_device_count(int *count);
/* The stream (a CUstream, NULL = the default stream) this thread's kernels
 * are launched on. */
void attnrt_cuda_set_stream(void *stream);
/* Device memory and copies, for callers without the CUDA toolkit. */
int attnrt_cuda_malloc(int device, size_t bytes, void **ptr);
int attnrt_cuda_free(int device, void *ptr);
int attnrt_cuda_copy_to_device(int device, void *dst, const void *src,
                               size_t bytes);
int attnrt_cuda_copy_to_host(int device, void *dst, const void *src,
                             size_t bytes);
/* Waits for this thread's stream on `device`. */
int attnrt_cuda_synchronize(int device);
/* Validates CUDA tensors, builds the descriptors, runs the host code that
 * launches the kernels, and waits for them (called by generated entry
 * points). */
int attnrt_cuda_invoke(const char *signature, DLTensor *const *args,
                       int32_t num_args, attnrt_kernel_fn kernel);

/* The ABI of MLIR's gpu-to-llvm lowering, which compiled host code calls
 * (modules are registered by constructors and loaded on first launch). */
void *mgpuModuleLoad(void *data, size_t size);
void *mgpuModuleLoadJIT(void *data, int opt_level);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void *mgpuStreamCreate(void);
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void mgpuLaunchKernel(void *function, intptr_t gx, intptr_t gy, intptr_t gz,
                      intptr_t bx, intptr_t by, intptr_t bz, int32_t smem,
                      void *stream, void **params, void **extra,
                      size_t num_params);
void *mgpuMemAlloc(uint64_t bytes, void *stream, int host_shared);
void mgpuMemFree(void *ptr, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_RUNTIME_H */
