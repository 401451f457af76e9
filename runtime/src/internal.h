/*===- internal.h - libattnrt internals shared between its files --*- C -*-===*
 *
 * Part of the attn project.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ATTN_RUNTIME_INTERNAL_H
#define ATTN_RUNTIME_INTERNAL_H

#include "attn/runtime.h"

/* An MLIR memref descriptor of rank r is laid out as
 * { void *allocated; void *aligned; int64_t offset; int64_t sizes[r];
 *   int64_t strides[r]; } which is 3 + 2r eight-byte words. */
#define ATTNRT_DESC_WORDS (3 + 2 * ATTNRT_MAX_RANK)

/* Fills one descriptor per (validated) tensor. */
void attnrt_build_descriptors(DLTensor *const *args, int32_t num_args,
                              int64_t (*words)[ATTNRT_DESC_WORDS],
                              void **descs);

/* The kernels' heap: a block of `size` bytes aligned to `alignment` (a power
 * of two), from a small cache of freed blocks of the same size (alloc.c). */
void *attnrt_cached_alloc(size_t size, size_t alignment);
void attnrt_cached_free(void *p);
/* The same blocks (and header) without the cache: for small blocks that
 * the C library recycles without fresh pages, and without the cache's lock. */
void *attnrt_uncached_alloc(size_t size, size_t alignment);
void attnrt_uncached_free(void *p);
/* Where a cache of n blocks keeps a freed block of `size` bytes: an empty
 * slot, else the slot of the smallest kept block if that one is smaller
 * (its block is to be freed), else -1 (free the new block instead). */
int attnrt_cache_slot(void *const *ptrs, const size_t *sizes, int n,
                      size_t size);
/* The usable size of such a block. */
size_t attnrt_block_size(const void *p);

/* Empties this thread's error message. */
void attnrt_clear_error(void);

#endif /* ATTN_RUNTIME_INTERNAL_H */
