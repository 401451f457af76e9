/*===- runtime.c - libattnrt errors and kernel invocation ---------*- C -*-===*
 *
 * Part of the attn project.
 *
 *===----------------------------------------------------------------------===*/

#include "attn/runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *attnrt_last_error(void) { return last_error; }

const char *attnrt_status_string(int status) {
  switch (status) {
  case ATTNRT_OK:
    return "ok";
  case ATTNRT_INVALID_ARGUMENT:
    return "invalid argument";
  case ATTNRT_UNSUPPORTED:
    return "unsupported";
  case ATTNRT_INTERNAL:
    return "internal error";
  default:
    return "unknown status";
  }
}

int attnrt_set_error(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof(last_error), fmt, ap);
  va_end(ap);
  return status;
}

#include "internal.h"

void attnrt_build_descriptors(DLTensor *const *args, int32_t num_args,
                              int64_t (*words)[ATTNRT_DESC_WORDS],
                              void **descs) {
  for (int32_t a = 0; a < num_args; ++a) {
    const DLTensor *t = args[a];
    char *data = (char *)t->data + t->byte_offset;
    int64_t *w = words[a];
    void *p = data;
    memcpy(&w[0], &p, sizeof(p));
    memcpy(&w[1], &p, sizeof(p));
    w[2] = 0;
    int64_t stride = 1;
    for (int32_t d = t->ndim - 1; d >= 0; --d) {
      w[3 + d] = t->shape[d];
      w[3 + t->ndim + d] = stride;
      stride *= t->shape[d];
    }
    descs[a] = w;
  }
}

int attnrt_invoke(const char *signature, DLTensor *const *args,
                  int32_t num_args, attnrt_kernel_fn kernel) {
  last_error[0] = '\0';
  int status = attnrt_validate(signature, args, num_args);
  if (status != ATTNRT_OK)
    return status;
  if (!kernel)
    return attnrt_set_error(ATTNRT_INTERNAL, "null kernel");
  int64_t words[ATTNRT_MAX_ARGS][ATTNRT_DESC_WORDS];
  void *descs[ATTNRT_MAX_ARGS];
  attnrt_build_descriptors(args, num_args, words, descs);
  kernel(descs);
  return ATTNRT_OK;
}

void attnrt_clear_error(void) { last_error[0] = '\0'; }
