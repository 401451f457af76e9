/*===- halide.c - entry points of Halide-compiled programs --------*- C -*-===*
 *
 * Part of the attn project.
 *
 * attn-compile --backend=halide links Halide's code for each function with
 * an entry point of the usual DLPack signature that calls
 * attnrt_halide_invoke: the tensors are validated exactly as for the MLIR
 * path, then described as Halide buffers (dimension 0 innermost) and passed
 * to the function's `<name>_argv` form.
 *
 *===----------------------------------------------------------------------===*/

#include "internal.h"

#include <pthread.h>
#include <stdint.h>

/* Halide's runtime (in each object made with --backend=halide). */
extern int halide_set_num_threads(int n) __attribute__((weak));

/* The layout of Halide's halide_buffer_t and its parts (HalideRuntime.h,
 * a stable C ABI), declared here so that libattnrt needs no Halide header. */
typedef struct {
  uint8_t code; /* 0 int, 1 uint, 2 float, 4 bfloat: DLPack's codes */
  uint8_t bits;
  uint16_t lanes;
} halide_type_abi;

typedef struct {
  int32_t min, extent, stride;
  uint32_t flags;
} halide_dimension_abi;

typedef struct {
  uint64_t device;
  const void *device_interface;
  uint8_t *host;
  uint64_t flags;
  halide_type_abi type;
  int32_t dimensions;
  halide_dimension_abi *dim;
  void *padding;
} halide_buffer_abi;

int attnrt_halide_invoke(const char *signature, DLTensor *const *args,
                         int32_t num_args, attnrt_halide_fn fn) {
  attnrt_clear_error();
  int status = attnrt_validate(signature, args, num_args);
  if (status != ATTNRT_OK)
    return status;
  if (!fn)
    return attnrt_set_error(ATTNRT_INTERNAL, "null Halide function");
  halide_buffer_abi buffers[ATTNRT_MAX_ARGS];
  halide_dimension_abi dims[ATTNRT_MAX_ARGS][ATTNRT_MAX_RANK];
  void *argv[ATTNRT_MAX_ARGS];
  for (int32_t a = 0; a < num_args; ++a) {
    const DLTensor *t = args[a];
    int32_t rank = t->ndim;
    int64_t stride = 1;
    /* Halide's dimension 0 is the innermost (last) DLPack dimension. */
    for (int32_t d = rank - 1; d >= 0; --d) {
      int64_t extent = t->shape[d];
      int64_t s = t->strides ? t->strides[d] : stride;
      if (extent > INT32_MAX || s > INT32_MAX || s < INT32_MIN)
        return attnrt_set_error(ATTNRT_UNSUPPORTED,
                                "argument %d: dimension %d of extent %lld "
                                "exceeds Halide's 32-bit extents and strides",
                                (int)a, (int)d, (long long)extent);
      halide_dimension_abi *dim = &dims[a][rank - 1 - d];
      dim->min = 0;
      dim->extent = (int32_t)extent;
      dim->stride = (int32_t)s;
      dim->flags = 0;
      stride *= extent;
    }
    halide_buffer_abi *b = &buffers[a];
    b->device = 0;
    b->device_interface = NULL;
    b->host = (uint8_t *)t->data + t->byte_offset;
    b->flags = 0;
    b->type.code = t->dtype.code;
    b->type.bits = t->dtype.bits;
    b->type.lanes = 1;
    b->dimensions = rank;
    b->dim = dims[a];
    b->padding = NULL;
    argv[a] = b;
  }
  /* Halide's parallel loops run on Halide's own thread pool: give it the
   * thread count libattnrt was told (attnrt_set_num_threads), so that both
   * backends use the same number of cores. Weak: a program without Halide
   * objects has no Halide runtime (this function is not called then). */
  if (halide_set_num_threads)
    halide_set_num_threads(attnrt_get_num_threads());
  int result = fn(argv);
  if (result != 0)
    return attnrt_set_error(ATTNRT_INTERNAL,
                            "the Halide pipeline failed with code %d", result);
  return ATTNRT_OK;
}

/* Halide's heap allocations. Large blocks (root buffers such as a
 * transposed K, which glibc maps afresh and would make us touch new pages on
 * every call) go through libattnrt's block cache. Small ones (a tile's
 * scores, allocated and freed by every task) go through a per-thread cache
 * of a few blocks, best fit within 2x: glibc returns a freed block at the
 * top of its heap to the system (heap trimming), so a task that allocates
 * and frees 100 KB would otherwise map and touch fresh pages every time (a
 * prefix-LM kernel took 290 ms on one thread, 57 ms with this cache). No lock on that path.
 * These strong definitions replace the weak ones of the Halide runtime in
 * each object; this file is linked in whenever a Halide entry point is
 * (attnrt_halide_invoke). */
#define HALIDE_CACHED_BYTES ((size_t)256 << 10)
enum { THREAD_SLOTS = 8 };
static __thread void *thread_ptr[THREAD_SLOTS];
static __thread size_t thread_size[THREAD_SLOTS];
static __thread int thread_registered;
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

/* A thread's cached blocks are freed when it exits (Halide's workers). */
static void release_thread_blocks(void *unused) {
  (void)unused;
  for (int i = 0; i < THREAD_SLOTS; ++i) {
    if (thread_ptr[i])
      attnrt_uncached_free(thread_ptr[i]);
    thread_ptr[i] = NULL;
  }
}

static void create_thread_key(void) {
  pthread_key_create(&thread_key, release_thread_blocks);
}

void *halide_malloc(void *user_context, size_t size) {
  (void)user_context;
  if (size >= HALIDE_CACHED_BYTES)
    return attnrt_cached_alloc(size, 128);
  int best = -1;
  for (int i = 0; i < THREAD_SLOTS; ++i)
    if (thread_ptr[i] && thread_size[i] >= size && thread_size[i] / 2 <= size &&
        (best < 0 || thread_size[i] < thread_size[best]))
      best = i;
  if (best >= 0) {
    void *p = thread_ptr[best];
    thread_ptr[best] = NULL;
    return p;
  }
  return attnrt_uncached_alloc(size, 128);
}

void halide_free(void *user_context, void *ptr) {
  (void)user_context;
  if (!ptr)
    return;
  size_t size = attnrt_block_size(ptr);
  if (size >= HALIDE_CACHED_BYTES) {
    attnrt_cached_free(ptr);
    return;
  }
  int slot = attnrt_cache_slot(thread_ptr, thread_size, THREAD_SLOTS, size);
  if (slot < 0) {
    attnrt_uncached_free(ptr);
    return;
  }
  if (thread_ptr[slot])
    attnrt_uncached_free(thread_ptr[slot]);
  if (!thread_registered) {
    pthread_once(&thread_key_once, create_thread_key);
    pthread_setspecific(thread_key, (void *)1);
    thread_registered = 1;
  }
  thread_ptr[slot] = ptr;
  thread_size[slot] = size;
}
