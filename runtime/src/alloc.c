/*===- alloc.c - heap memory for compiled kernels ------------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * Kernels allocate their heap buffers (split-KV partial results, copies such
 * as a concatenated query, intermediate tensors) through the generic MLIR
 * allocation functions, which this file defines. Freed blocks are kept in a
 * small cache and handed out again to a request of the same size, so that a
 * kernel called repeatedly does not map and touch fresh pages on every call
 * (about 10 us per page on our machines). attnrt_release_memory() empties it.
 * Halide pipelines (--backend=halide) allocate through the same cache
 * (halide_malloc in halide.c).
 *
 *===----------------------------------------------------------------------===*/

#include "internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { CACHE_SLOTS = 16, HEADER = 64 };
#define CACHE_LIMIT ((size_t)1 << 30) /* bytes kept at most */

/* Stored in the 64 bytes before each block. */
typedef struct header {
  size_t size;   /* usable bytes */
  size_t offset; /* from the start of the underlying allocation */
} header;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static void *cache_ptr[CACHE_SLOTS];
static size_t cache_size[CACHE_SLOTS];
static size_t cached_bytes;

/* A block aligned to 64 bytes (or `alignment`, a power of two, if larger)
 * with its size in a header before it. */
void *attnrt_cached_alloc(size_t size, size_t alignment) {
  size_t offset = alignment > HEADER ? alignment : HEADER;
  pthread_mutex_lock(&cache_mu);
  for (int i = 0; i < CACHE_SLOTS; ++i) {
    if (cache_ptr[i] && cache_size[i] == size &&
        ((uintptr_t)cache_ptr[i] % offset) == 0) {
      void *p = cache_ptr[i];
      cache_ptr[i] = NULL;
      cached_bytes -= size;
      pthread_mutex_unlock(&cache_mu);
      return p;
    }
  }
  pthread_mutex_unlock(&cache_mu);
  return attnrt_uncached_alloc(size, alignment);
}

void *attnrt_uncached_alloc(size_t size, size_t alignment) {
  size_t offset = alignment > HEADER ? alignment : HEADER;
  void *raw = NULL;
  if (posix_memalign(&raw, offset, size + offset) != 0)
    return NULL;
  char *p = (char *)raw + offset;
  header *h = (header *)(p - HEADER);
  h->size = size;
  h->offset = offset;
  return p;
}

void *_mlir_memref_to_llvm_alloc(size_t size) { return attnrt_cached_alloc(size, 16); }

void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  return attnrt_cached_alloc(size, alignment);
}

/* Frees the block behind a pointer that attnrt_cached_alloc or
 * attnrt_uncached_alloc returned. */
void attnrt_uncached_free(void *p) {
  header *h = (header *)((char *)p - HEADER);
  free((char *)p - h->offset);
}

int attnrt_cache_slot(void *const *ptrs, const size_t *sizes, int n,
                      size_t size) {
  for (int i = 0; i < n; ++i)
    if (!ptrs[i])
      return i;
  int smallest = 0;
  for (int i = 1; i < n; ++i)
    if (sizes[i] < sizes[smallest])
      smallest = i;
  return sizes[smallest] < size ? smallest : -1;
}

size_t attnrt_block_size(const void *p) {
  return ((const header *)((const char *)p - HEADER))->size;
}

void attnrt_cached_free(void *p) {
  if (!p)
    return;
  size_t size = ((header *)((char *)p - HEADER))->size;
  void *evicted = NULL;
  pthread_mutex_lock(&cache_mu);
  /* A call's many small blocks must not crowd out the large ones, which
   * are what costs fresh pages. */
  int slot = attnrt_cache_slot(cache_ptr, cache_size, CACHE_SLOTS, size);
  if (slot >= 0 && cache_ptr[slot]) {
    evicted = cache_ptr[slot];
    cached_bytes -= cache_size[slot];
    cache_ptr[slot] = NULL;
  }
  if (slot >= 0 && cached_bytes + size <= CACHE_LIMIT) {
    cache_ptr[slot] = p;
    cache_size[slot] = size;
    cached_bytes += size;
    p = NULL;
  }
  pthread_mutex_unlock(&cache_mu);
  if (evicted)
    attnrt_uncached_free(evicted);
  if (p)
    attnrt_uncached_free(p);
}

void _mlir_memref_to_llvm_free(void *p) { attnrt_cached_free(p); }

void attnrt_release_memory(void) {
  pthread_mutex_lock(&cache_mu);
  for (int i = 0; i < CACHE_SLOTS; ++i) {
    if (cache_ptr[i])
      attnrt_uncached_free(cache_ptr[i]);
    cache_ptr[i] = NULL;
  }
  cached_bytes = 0;
  pthread_mutex_unlock(&cache_mu);
}
