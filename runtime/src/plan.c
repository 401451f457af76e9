/*===- plan.c - the host-side plan of a ragged batch -------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * A serving step calls every layer's attention on one ragged batch (prefill
 * chunks and decode steps packed by qo_indptr). The plan that splits that
 * batch into work items depends only on the batch, so it is computed once
 * per step here and handed to every layer's call (FlashInfer's plan/run
 * split). The format is in attn/runtime.h; the kernel's signature check
 * (check_ragged in signature.c) re-derives the item counts from qo_indptr,
 * so a plan for another batch is an error, never an out-of-bounds item.
 *
 *===----------------------------------------------------------------------===*/

#include "attn/runtime.h"

#include <stdint.h>
#include <stdlib.h>

int64_t attnrt_ragged_items(int64_t lq, int64_t heads, int64_t decode_items) {
  if (lq <= 0)
    return 0;
  if (lq == 1)
    return decode_items;
  return heads * ((lq + ATTNRT_RAGGED_ROWS - 1) / ATTNRT_RAGGED_ROWS);
}

typedef struct request_cost {
  int kind;
  int64_t cost;
  int64_t index;
} request_cost;

/* Chunks (kind 0) before decode steps (1) and idle requests (2), as the
   kernel's loops take them; within a kind the longest item first; ties in
   request order (a deterministic plan). */
static int by_cost(const void *a, const void *b) {
  const request_cost *x = (const request_cost *)a, *y = (const request_cost *)b;
  if (x->kind != y->kind)
    return x->kind < y->kind ? -1 : 1;
  if (x->cost != y->cost)
    return x->cost > y->cost ? -1 : 1;
  return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

/* A contiguous CPU int32 tensor of rank `ndim`, or an error naming `what`. */
static int check_i32(const DLTensor *t, int ndim, const char *what) {
  if (!t || !t->data)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT, "%s: null tensor", what);
  if (t->device.device_type != kDLCPU)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "%s: expected a CPU tensor, got device type %d",
                            what, (int)t->device.device_type);
  if (t->dtype.code != kDLInt || t->dtype.bits != 32 || t->dtype.lanes != 1)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "%s: expected int32 entries", what);
  if (t->ndim != ndim)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "%s: expected rank %d, got %d", what, ndim,
                            (int)t->ndim);
  if (t->strides) {
    int64_t expect = 1;
    for (int d = ndim - 1; d >= 0; --d) {
      if (t->shape[d] > 1 && t->strides[d] != expect)
        return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                                "%s: expected a contiguous tensor", what);
      expect *= t->shape[d];
    }
  }
  return ATTNRT_OK;
}

int attnrt_plan_ragged(const DLTensor *qo_indptr, const DLTensor *kv_lens,
                       int64_t heads, int64_t decode_items, DLTensor *plan) {
  int status;
  if ((status = check_i32(qo_indptr, 1, "qo_indptr")) != ATTNRT_OK ||
      (status = check_i32(kv_lens, 1, "kv_lens")) != ATTNRT_OK ||
      (status = check_i32(plan, 2, "plan")) != ATTNRT_OK)
    return status;
  int64_t batch = kv_lens->shape[0];
  if (qo_indptr->shape[0] != batch + 1)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "qo_indptr: %lld entries, expected one more than "
                            "the %lld key lengths",
                            (long long)qo_indptr->shape[0], (long long)batch);
  if (plan->shape[0] != 2 || plan->shape[1] != batch + 1)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "plan: expected shape [2, %lld], got [%lld, %lld]",
                            (long long)(batch + 1), (long long)plan->shape[0],
                            (long long)plan->shape[1]);
  if (heads <= 0 || decode_items <= 0 || decode_items > heads)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "expected 0 < decode_items <= heads, got %lld "
                            "and %lld",
                            (long long)decode_items, (long long)heads);
  const int32_t *ptr =
      (const int32_t *)((const char *)qo_indptr->data + qo_indptr->byte_offset);
  const int32_t *lens =
      (const int32_t *)((const char *)kv_lens->data + kv_lens->byte_offset);
  int32_t *out = (int32_t *)((char *)plan->data + plan->byte_offset);
  if (ptr[0] != 0)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "qo_indptr[0] is %lld, expected 0",
                            (long long)ptr[0]);
  for (int64_t b = 0; b < batch; ++b) {
    if (ptr[b + 1] < ptr[b])
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                              "qo_indptr[%lld] is %lld, below the entry before "
                              "it (a pointer never decreases)",
                              (long long)(b + 1), (long long)ptr[b + 1]);
    if (lens[b] < 0)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                              "kv_lens[%lld] is %lld, a negative length",
                              (long long)b, (long long)lens[b]);
  }
  request_cost *order = NULL;
  if (batch > 0 &&
      !(order = (request_cost *)malloc((size_t)batch * sizeof(*order))))
    return attnrt_set_error(ATTNRT_INTERNAL, "no memory for a plan");
  for (int64_t b = 0; b < batch; ++b) {
    /* One item's work: its query rows times the keys it reads. */
    int64_t lq = ptr[b + 1] - ptr[b];
    int64_t rows = lq == 1 ? heads / decode_items
                           : (lq < ATTNRT_RAGGED_ROWS ? lq : ATTNRT_RAGGED_ROWS);
    order[b].kind = lq >= 2 ? 0 : lq == 1 ? 1 : 2;
    order[b].cost = rows * ((int64_t)lens[b] + 1);
    order[b].index = b;
  }
  if (batch > 1)
    qsort(order, (size_t)batch, sizeof(*order), by_cost);
  int64_t first = 0;
  for (int64_t k = 0; k < batch; ++k) {
    int64_t b = order[k].index;
    out[k] = (int32_t)b;
    out[batch + 1 + k] = (int32_t)first;
    first += attnrt_ragged_items(ptr[b + 1] - ptr[b], heads, decode_items);
    if (first > INT32_MAX) {
      free(order);
      return attnrt_set_error(ATTNRT_UNSUPPORTED,
                              "a ragged batch of more than 2^31 work items");
    }
  }
  out[batch] = ATTNRT_RAGGED_ROWS;
  out[2 * batch + 1] = (int32_t)first;
  free(order);
  return ATTNRT_OK;
}
