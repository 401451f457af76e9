/*===- signature.c - kernel signatures and tensor validation ------*- C -*-===*
 *
 * Part of the attn project.
 *
 * Every DLTensor handed to a kernel is checked here against the signature
 * the compiler recorded: a kernel never sees a tensor whose shape, dtype or
 * layout differs from what its code assumes, so it never reads or writes
 * out of bounds.
 *
 *===----------------------------------------------------------------------===*/

#include "attn/runtime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dtype_name {
  const char *name;
  uint8_t code, bits;
} dtype_name;

static const dtype_name kDtypes[] = {
    {"f32", kDLFloat, 32}, {"f16", kDLFloat, 16}, {"bf16", kDLBfloat, 16},
    {"f64", kDLFloat, 64}, {"i1", kDLUInt, 8},    {"i8", kDLInt, 8},
    {"i32", kDLInt, 32},   {"i64", kDLInt, 64},
    /* fp8 caches: bytes (DLPack 0.6 has no fp8 codes; torch passes uint8) */
    {"f8e4m3", kDLUInt, 8}, {"f8e5m2", kDLUInt, 8},
};

static const char *dtype_str(DLDataType t, char *buf, size_t n) {
  for (size_t i = 0; i < sizeof(kDtypes) / sizeof(kDtypes[0]); ++i)
    if (kDtypes[i].code == t.code && kDtypes[i].bits == t.bits && t.lanes == 1)
      return kDtypes[i].name;
  snprintf(buf, n, "(code %u, %u bits, %u lanes)", (unsigned)t.code,
           (unsigned)t.bits, (unsigned)t.lanes);
  return buf;
}

int attnrt_signature_parse(const char *sig, attnrt_arg_info *args,
                           int32_t capacity, int32_t *num_args) {
  if (!sig || !num_args)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT, "null signature");
  int32_t n = 0;
  const char *p = sig;
  while (*p) {
    attnrt_arg_info info;
    memset(&info, 0, sizeof(info));
    if (strncmp(p, "ge:", 3) == 0 || strncmp(p, "pages:", 6) == 0 ||
        strncmp(p, "ragged:", 7) == 0 || strncmp(p, "plan:", 5) == 0 ||
        strncmp(p, "lens:", 5) == 0 || strncmp(p, "slots:", 6) == 0 ||
        strncmp(p, "alias:", 6) == 0) {
      /* A bound between dims or on an index tensor's contents
         (attnrt_validate checks it), not an argument. */
      p += strcspn(p, ";");
      if (*p == ';')
        ++p;
      continue;
    }
    if (strncmp(p, "in:", 3) == 0) {
      p += 3;
    } else if (strncmp(p, "io:", 3) == 0) {
      info.is_inout = 1;
      p += 3;
    } else if (strncmp(p, "out:", 4) == 0) {
      info.is_output = 1;
      p += 4;
    } else {
      return attnrt_set_error(ATTNRT_INTERNAL,
                              "malformed signature at '%.20s'", p);
    }
    size_t len = strcspn(p, ":");
    int found = 0;
    for (size_t i = 0; i < sizeof(kDtypes) / sizeof(kDtypes[0]); ++i) {
      if (strlen(kDtypes[i].name) == len && strncmp(p, kDtypes[i].name, len) == 0) {
        info.dtype.code = kDtypes[i].code;
        info.dtype.bits = kDtypes[i].bits;
        info.dtype.lanes = 1;
        found = 1;
      }
    }
    if (!found || p[len] != ':')
      return attnrt_set_error(ATTNRT_INTERNAL,
                              "malformed signature dtype at '%.20s'", p);
    p += len + 1;
    while (*p && *p != ';') {
      if (info.ndim == ATTNRT_MAX_RANK)
        return attnrt_set_error(ATTNRT_UNSUPPORTED, "rank above %d",
                                ATTNRT_MAX_RANK);
      char *end;
      if (*p == '?') {
        long long s = strtoll(p + 1, &end, 10);
        info.dims[info.ndim++] = -(int64_t)s - 1;
      } else {
        long long s = strtoll(p, &end, 10);
        info.dims[info.ndim++] = (int64_t)s;
      }
      if (end == p)
        return attnrt_set_error(ATTNRT_INTERNAL,
                                "malformed signature dims at '%.20s'", p);
      p = end;
      if (*p == ',')
        ++p;
    }
    if (*p == ';')
      ++p;
    if (args && n < capacity)
      args[n] = info;
    ++n;
  }
  *num_args = n;
  return ATTNRT_OK;
}

static void describe_arg(const attnrt_arg_info *infos, int32_t num, int32_t a,
                         char *buf, size_t n) {
  int32_t k = 0;
  for (int32_t i = 0; i < a && i < num; ++i)
    if (infos[i].is_output == infos[a].is_output)
      ++k;
  snprintf(buf, n, "%s %d%s", infos[a].is_output ? "output" : "input", (int)k,
           infos[a].is_inout ? " (updated in place)" : "");
}

static void format_shape(const DLTensor *t, char *buf, size_t n) {
  size_t off = 0;
  off += snprintf(buf + off, n - off, "[");
  for (int32_t d = 0; d < t->ndim && off < n; ++d)
    off += snprintf(buf + off, n - off, d ? ",%lld" : "%lld",
                    (long long)t->shape[d]);
  if (off < n)
    snprintf(buf + off, n - off, "]");
}

/* Parses "A.d" of a bound: argument A, dim d. */
static int parse_arg_dim(const char **p, int32_t *arg, int32_t *dim) {
  char *end;
  long a = strtol(*p, &end, 10);
  if (end == *p || *end != '.')
    return 0;
  const char *q = end + 1;
  long d = strtol(q, &end, 10);
  if (end == q)
    return 0;
  *arg = (int32_t)a;
  *dim = (int32_t)d;
  *p = end;
  return 1;
}

/* Checks the bounds "ge:A.d:B.e:role" (or "ge:A.d:N:role") of a signature
   on arguments whose shapes are already validated: a region reads dim d of
   argument A at an index that ranges over dim e of argument B (or N). */
static int check_bounds(const char *sig, const attnrt_arg_info *infos,
                        int32_t n, DLTensor *const *args) {
  char name[32], other[32], shape[160];
  for (const char *p = sig; *p;) {
    const char *field = p;
    p += strcspn(p, ";");
    const char *next = *p == ';' ? p + 1 : p;
    if (strncmp(field, "ge:", 3) != 0) {
      p = next;
      continue;
    }
    const char *q = field + 3;
    int32_t a, d, b = -1, e = -1;
    int64_t extent = 0;
    if (!parse_arg_dim(&q, &a, &d) || *q++ != ':')
      return attnrt_set_error(ATTNRT_INTERNAL,
                              "malformed signature bound at '%.20s'", field);
    if (!parse_arg_dim(&q, &b, &e)) {
      char *end;
      extent = strtoll(q, &end, 10);
      if (end == q)
        return attnrt_set_error(ATTNRT_INTERNAL,
                                "malformed signature bound at '%.20s'", field);
      q = end;
      b = -1;
    }
    if (*q++ != ':' || a < 0 || a >= n || d < 0 || d >= infos[a].ndim ||
        (b >= 0 && (b >= n || e < 0 || e >= infos[b].ndim)))
      return attnrt_set_error(ATTNRT_INTERNAL,
                              "malformed signature bound at '%.20s'", field);
    int role_len = (int)(p - q);
    if (b >= 0)
      extent = args[b]->shape[e];
    int64_t size = args[a]->shape[d];
    if (size >= extent)
      continue;
    describe_arg(infos, n, a, name, sizeof(name));
    format_shape(args[a], shape, sizeof(shape));
    if (b >= 0) {
      describe_arg(infos, n, b, other, sizeof(other));
      return attnrt_set_error(
          ATTNRT_INVALID_ARGUMENT,
          "%s: dim %d is %lld, but a region reads it at the %.*s index, "
          "which goes up to %lld (dim %d of %s is %lld) (shape %s)",
          name, (int)d, (long long)size, role_len, q,
          (long long)(extent - 1), (int)e, other, (long long)extent, shape);
    }
    return attnrt_set_error(
        ATTNRT_INVALID_ARGUMENT,
        "%s: dim %d is %lld, but a region reads it at the %.*s index, which "
        "goes up to %lld (shape %s)",
        name, (int)d, (long long)size, role_len, q, (long long)(extent - 1),
        shape);
  }
  return ATTNRT_OK;
}

/* The n int32 values of `t`: in place on the CPU, copied from a CUDA
   device into `*copy` (malloc'ed; the caller frees it). */
static int read_i32(const DLTensor *t, int device_type, int64_t n,
                    const int32_t **values, int32_t **copy) {
  const char *src = (const char *)t->data + t->byte_offset;
  *copy = NULL;
  *values = (const int32_t *)src;
  if (device_type != kDLCUDA || n == 0)
    return ATTNRT_OK;
  *copy = (int32_t *)malloc((size_t)n * sizeof(int32_t));
  if (!*copy)
    return attnrt_set_error(ATTNRT_INTERNAL,
                            "no memory to check a page table");
  *values = *copy;
  return attnrt_cuda_copy_to_host(t->device.device_id, *copy, src,
                                  (size_t)n * sizeof(int32_t));
}

/* A decimal count at *p (at least one digit, at most 2^40), advancing *p. */
static int parse_count(const char **p, int64_t *out) {
  const char *s = *p;
  int64_t v = 0;
  if (*s < '0' || *s > '9')
    return 0;
  while (*s >= '0' && *s <= '9') {
    if (v > ((int64_t)1 << 40))
      return 0;
    v = v * 10 + (*s++ - '0');
  }
  *p = s;
  *out = v;
  return 1;
}

/* An argument index at *p: a count below n. */
static int parse_arg(const char **p, int32_t n, int32_t *arg) {
  int64_t v;
  if (!parse_count(p, &v) || v >= n)
    return 0;
  *arg = (int32_t)v;
  return 1;
}

/* An extent at *p: "A.d" (dim d of argument A, or -1 in *arg) or a static
   "N". */
static int parse_extent(const char **p, const attnrt_arg_info *infos,
                        int32_t n, DLTensor *const *args, int64_t *extent,
                        int32_t *arg) {
  int64_t v, d;
  if (!parse_count(p, &v))
    return 0;
  if (**p != '.') {
    *extent = v;
    *arg = -1;
    return 1;
  }
  ++*p;
  if (v >= n || !parse_count(p, &d) || d >= infos[v].ndim)
    return 0;
  *extent = args[v]->shape[d];
  *arg = (int32_t)v;
  return 1;
}

static int is_i32_vector(const attnrt_arg_info *info, int32_t rank) {
  return info->ndim == rank && info->dtype.code == kDLInt &&
         info->dtype.bits == 32;
}

/* Checks the clauses on index contents, on arguments whose shapes are
   validated (E below is an extent: "A.d", dim d of argument A, or a static
   count):
     "lens:L:E"       every per-request key length L[b] in [0, E];
     "pages:T:L:E:ps" L[b] in [0, T.shape[1] * ps], T.shape[0] = L.shape[0],
                      and the entries T[b, n] of the pages each request
                      uses, n < ceil(L[b] / ps), in [0, E) (the pool's
                      pages);
     "slots:S:E:ps"   every slot S[t] negative (written nowhere) or below
                      E * ps (the pool's rows).
   A kernel then never follows an entry out of its pool. */
static int check_indices(const char *sig, const attnrt_arg_info *infos,
                         int32_t n, DLTensor *const *args, int device_type) {
  char name[48], other[48];
  for (const char *p = sig; *p;) {
    const char *field = p;
    p += strcspn(p, ";");
    const char *next = *p == ';' ? p + 1 : p;
    enum { LENS, PAGES, SLOTS } kind;
    const char *q;
    if (strncmp(field, "lens:", 5) == 0) {
      kind = LENS;
      q = field + 5;
    } else if (strncmp(field, "pages:", 6) == 0) {
      kind = PAGES;
      q = field + 6;
    } else if (strncmp(field, "slots:", 6) == 0) {
      kind = SLOTS;
      q = field + 6;
    } else {
      p = next;
      continue;
    }
    int32_t table = -1, idx = -1, pool = -1;
    int64_t extent = 0, ps = 1;
    int ok = 1;
    if (kind == PAGES)
      ok = parse_arg(&q, n, &table) && *q++ == ':';
    ok = ok && parse_arg(&q, n, &idx) && *q++ == ':' &&
         parse_extent(&q, infos, n, args, &extent, &pool);
    if (ok && kind != LENS)
      ok = *q++ == ':' && parse_count(&q, &ps) && ps > 0;
    ok = ok && q == p && is_i32_vector(&infos[idx], 1) &&
         (kind != PAGES || is_i32_vector(&infos[table], 2));
    if (!ok)
      return attnrt_set_error(ATTNRT_INTERNAL,
                              "malformed signature clause at '%.24s'", field);
    describe_arg(infos, n, idx, name, sizeof(name));
    if (pool >= 0)
      describe_arg(infos, n, pool, other, sizeof(other));
    else
      snprintf(other, sizeof(other), "the static size");
    int64_t count = args[idx]->shape[0];
    int64_t cols = kind == PAGES ? args[table]->shape[1] : 0;
    if (kind == PAGES && args[table]->shape[0] != count) {
      describe_arg(infos, n, table, other, sizeof(other));
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                              "%s: %lld key lengths for the %lld requests of "
                              "the page table (%s)",
                              name, (long long)count,
                              (long long)args[table]->shape[0], other);
    }
    if (kind == PAGES && cols > 0 && extent == 0)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                              "%s: a page pool needs at least one page (the "
                              "page table has %lld columns)",
                              other, (long long)cols);
    /* Capacities in keys (shape sizes are far below 2^62 / ps). */
    int64_t capacity = kind == PAGES ? cols * ps
                       : kind == SLOTS ? extent * ps
                                       : extent;
    const int32_t *values = NULL, *entries = NULL;
    int32_t *copy1 = NULL, *copy2 = NULL;
    int status = read_i32(args[idx], device_type, count, &values, &copy1);
    if (status == ATTNRT_OK && kind == PAGES)
      status = read_i32(args[table], device_type, count * cols, &entries,
                        &copy2);
    for (int64_t b = 0; status == ATTNRT_OK && b < count; ++b) {
      int64_t x = values[b];
      if (kind == SLOTS) {
        if (x >= capacity)
          status = attnrt_set_error(
              ATTNRT_INVALID_ARGUMENT,
              "%s: slot %lld of token %lld is past the %lld rows (%lld pages "
              "of %lld) of the pool (%s)",
              name, (long long)x, (long long)b, (long long)capacity,
              (long long)extent, (long long)ps, other);
        continue;
      }
      if (x < 0 || x > capacity) {
        if (kind == PAGES) {
          describe_arg(infos, n, table, other, sizeof(other));
          status = attnrt_set_error(
              ATTNRT_INVALID_ARGUMENT,
              "%s: key length %lld of request %lld is outside [0, %lld] "
              "(the %lld pages of %lld keys per request that %s holds)",
              name, (long long)x, (long long)b, (long long)capacity,
              (long long)cols, (long long)ps, other);
        } else {
          status = attnrt_set_error(
              ATTNRT_INVALID_ARGUMENT,
              "%s: key length %lld of request %lld is outside [0, %lld] (the "
              "key length of %s)",
              name, (long long)x, (long long)b, (long long)capacity, other);
        }
        break;
      }
      if (kind != PAGES)
        continue;
      int64_t used = (x + ps - 1) / ps;
      for (int64_t c = 0; c < used; ++c) {
        int64_t e = entries[b * cols + c];
        if (e < 0 || e >= extent) {
          char tname[48];
          describe_arg(infos, n, table, tname, sizeof(tname));
          status = attnrt_set_error(
              ATTNRT_INVALID_ARGUMENT,
              "%s: page table entry [%lld, %lld] is %lld, outside the %lld "
              "pages of the pool (%s); request %lld has %lld keys",
              tname, (long long)b, (long long)c, (long long)e,
              (long long)extent, other, (long long)b, (long long)x);
          break;
        }
      }
    }
    free(copy1);
    free(copy2);
    if (status != ATTNRT_OK)
      return status;
    p = next;
  }
  return ATTNRT_OK;
}

/* Checks the clauses of ragged batches:
     "ragged:I:L:E"  I (int32 [B + 1], B = L.shape[0]) starts at 0, never
                     decreases and ends at E (the tokens);
     "plan:P:I:H:D"  P is the plan attnrt_plan_ragged computes for I with H
                     heads and D items per decode request (a permutation
                     listing chunks before decode steps, and each request's
                     first item; any such order is valid).
   The kernel then never reads a token or item outside its tensors. */
static int check_ragged(const char *sig, const attnrt_arg_info *infos,
                        int32_t n, DLTensor *const *args, int device_type) {
  char name[48], other[48];
  for (const char *p = sig; *p;) {
    const char *field = p;
    p += strcspn(p, ";");
    const char *next = *p == ';' ? p + 1 : p;
    int isPlan = strncmp(field, "plan:", 5) == 0;
    if (!isPlan && strncmp(field, "ragged:", 7) != 0) {
      p = next;
      continue;
    }
    const char *q = field + (isPlan ? 5 : 7);
    int32_t a = -1, idx = -1, ext = -1;
    int64_t extent = 0, heads = 0, dec = 0;
    int ok = parse_arg(&q, n, &a) && *q++ == ':' && parse_arg(&q, n, &idx) &&
             *q++ == ':';
    if (ok && isPlan)
      ok = parse_count(&q, &heads) && *q++ == ':' && parse_count(&q, &dec) &&
           heads > 0 && dec > 0;
    else if (ok)
      ok = parse_extent(&q, infos, n, args, &extent, &ext);
    ok = ok && q == p &&
         is_i32_vector(&infos[isPlan ? idx : a], 1) &&
         (isPlan ? is_i32_vector(&infos[a], 2) : is_i32_vector(&infos[idx], 1));
    if (!ok)
      return attnrt_set_error(ATTNRT_INTERNAL,
                              "malformed signature clause at '%.24s'", field);
    int32_t ptrArg = isPlan ? idx : a;
    describe_arg(infos, n, ptrArg, name, sizeof(name));
    int64_t size = args[ptrArg]->shape[0];
    if (!isPlan) {
      describe_arg(infos, n, idx, other, sizeof(other));
      if (size != args[idx]->shape[0] + 1)
        return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                                "%s: qo_indptr has %lld entries, expected one "
                                "more than the %lld requests of %s",
                                name, (long long)size,
                                (long long)args[idx]->shape[0], other);
    }
    const int32_t *ptr = NULL, *plan = NULL;
    int32_t *copy1 = NULL, *copy2 = NULL;
    int status = read_i32(args[ptrArg], device_type, size, &ptr, &copy1);
    for (int64_t b = 0; !isPlan && status == ATTNRT_OK && b < size; ++b) {
      int64_t prev = b ? ptr[b - 1] : 0;
      if (ptr[b] < prev || (b == 0 && ptr[0] != 0))
        status = attnrt_set_error(
            ATTNRT_INVALID_ARGUMENT,
            "%s: qo_indptr[%lld] is %lld, %s", name, (long long)b,
            (long long)ptr[b],
            b == 0 ? "expected 0" : "below the entry before it (a pointer "
                                    "never decreases)");
      else if (b == size - 1 && ptr[b] != extent) {
        char tok[48];
        if (ext >= 0)
          describe_arg(infos, n, ext, tok, sizeof(tok));
        else
          snprintf(tok, sizeof(tok), "the static size");
        status = attnrt_set_error(
            ATTNRT_INVALID_ARGUMENT,
            "%s: the last qo_indptr entry is %lld, not the %lld query tokens "
            "of %s",
            name, (long long)ptr[b], (long long)extent, tok);
      }
    }
    if (isPlan && status == ATTNRT_OK) {
      describe_arg(infos, n, a, other, sizeof(other));
      if (args[a]->shape[0] != 2 || args[a]->shape[1] != size)
        status = attnrt_set_error(
            ATTNRT_INVALID_ARGUMENT,
            "%s: expected a plan of shape [2, %lld] for qo_indptr (%s)",
            other, (long long)size, name);
      else
        status = read_i32(args[a], device_type, 2 * size, &plan, &copy2);
      int64_t batch = size - 1;
      unsigned char *seen = NULL;
      if (status == ATTNRT_OK && batch > 0 &&
          !(seen = (unsigned char *)calloc((size_t)batch, 1)))
        status = attnrt_set_error(ATTNRT_INTERNAL, "no memory to check a plan");
      if (status == ATTNRT_OK && plan[batch] != ATTNRT_RAGGED_ROWS)
        status = attnrt_set_error(
            ATTNRT_INVALID_ARGUMENT,
            "%s: plan[0, %lld] is %lld, not %d: not a plan from "
            "attnrt_plan_ragged",
            other, (long long)batch, (long long)plan[batch],
            ATTNRT_RAGGED_ROWS);
      int64_t first = 0;
      int decodeSeen = 0;
      for (int64_t k = 0; status == ATTNRT_OK && k <= batch; ++k) {
        int64_t at = plan[size + k];
        if (at != first) {
          status = attnrt_set_error(
              ATTNRT_INVALID_ARGUMENT,
              "%s: plan[1, %lld] is %lld, expected %lld (the plan was made "
              "for another batch)",
              other, (long long)k, (long long)at, (long long)first);
          break;
        }
        if (k == batch)
          break;
        int64_t r = plan[k];
        if (r < 0 || r >= batch || seen[r]) {
          status = attnrt_set_error(
              ATTNRT_INVALID_ARGUMENT,
              "%s: plan[0, %lld] is %lld, %s", other, (long long)k,
              (long long)r,
              r < 0 || r >= batch ? "not a request" : "a request listed twice");
          break;
        }
        seen[r] = 1;
        int64_t lq = ptr[r + 1] - ptr[r];
        if (lq >= 2 && decodeSeen) {
          status = attnrt_set_error(
              ATTNRT_INVALID_ARGUMENT,
              "%s: plan[0, %lld] is request %lld, a chunk of %lld queries "
              "after a decode step (a plan lists the chunks first)",
              other, (long long)k, (long long)r, (long long)lq);
          break;
        }
        decodeSeen |= lq == 1;
        first += attnrt_ragged_items(lq, heads, dec);
      }
      free(seen);
    }
    free(copy1);
    free(copy2);
    if (status != ATTNRT_OK)
      return status;
    p = next;
  }
  return ATTNRT_OK;
}

/* Binding of dim symbols to sizes while checking a call. */
typedef struct symbol_binding {
  int64_t size;
  int32_t arg, dim;
} symbol_binding;

enum { MAX_SYMBOLS = ATTNRT_MAX_ARGS * ATTNRT_MAX_RANK };

int attnrt_validate(const char *sig, DLTensor *const *args, int32_t num_args) {
  return attnrt_validate_device(sig, args, num_args, kDLCPU);
}

int attnrt_validate_device(const char *sig, DLTensor *const *args,
                           int32_t num_args, int device_type) {
  attnrt_arg_info infos[ATTNRT_MAX_ARGS];
  int32_t n = 0;
  int status = attnrt_signature_parse(sig, infos, ATTNRT_MAX_ARGS, &n);
  if (status != ATTNRT_OK)
    return status;
  if (n > ATTNRT_MAX_ARGS)
    return attnrt_set_error(ATTNRT_UNSUPPORTED, "more than %d arguments",
                            ATTNRT_MAX_ARGS);
  if (!args && num_args)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT, "null argument array");
  if (num_args != n)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "expected %d tensors, got %d", (int)n,
                            (int)num_args);

  symbol_binding symbols[MAX_SYMBOLS];
  for (int i = 0; i < MAX_SYMBOLS; ++i)
    symbols[i].size = -1;
  char name[32], other[32], buf[64], buf2[64], shape[160];

  for (int32_t a = 0; a < n; ++a) {
    const attnrt_arg_info *info = &infos[a];
    const DLTensor *t = args[a];
    describe_arg(infos, n, a, name, sizeof(name));
    if (!t)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT, "%s: null DLTensor",
                              name);
    if (t->device.device_type != (DLDeviceType)device_type)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                              "%s: expected a %s tensor, got device type %d",
                              name, device_type == kDLCUDA ? "CUDA" : "CPU",
                              (int)t->device.device_type);
    if (t->device.device_id != args[0]->device.device_id)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                              "%s: on device %d, the first tensor on device %d",
                              name, (int)t->device.device_id,
                              (int)args[0]->device.device_id);
    if (t->dtype.code != info->dtype.code || t->dtype.bits != info->dtype.bits ||
        t->dtype.lanes != 1)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                              "%s: expected dtype %s, got %s", name,
                              dtype_str(info->dtype, buf, sizeof(buf)),
                              dtype_str(t->dtype, buf2, sizeof(buf2)));
    if (t->ndim != info->ndim)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                              "%s: expected rank %d, got %d", name,
                              (int)info->ndim, (int)t->ndim);
    if (t->ndim > 0 && !t->shape)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT, "%s: null shape", name);
    format_shape(t, shape, sizeof(shape));
    int64_t numel = 1;
    for (int32_t d = 0; d < t->ndim; ++d) {
      int64_t size = t->shape[d];
      if (size < 0)
        return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                                "%s: negative dim %d in shape %s", name,
                                (int)d, shape);
      int64_t expected = info->dims[d];
      if (expected >= 0 && size != expected)
        return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                                "%s: dim %d is %lld, expected %lld (shape %s)",
                                name, (int)d, (long long)size,
                                (long long)expected, shape);
      if (expected < 0) {
        int64_t sym = -(expected + 1);
        if (sym >= MAX_SYMBOLS)
          return attnrt_set_error(ATTNRT_INTERNAL, "symbol out of range");
        symbol_binding *b = &symbols[sym];
        if (b->size < 0) {
          b->size = size;
          b->arg = a;
          b->dim = d;
        } else if (b->size != size) {
          describe_arg(infos, n, b->arg, other, sizeof(other));
          return attnrt_set_error(
              ATTNRT_INVALID_ARGUMENT,
              "%s: dim %d is %lld but must equal dim %d of %s, which is %lld "
              "(shape %s)",
              name, (int)d, (long long)size, (int)b->dim, other,
              (long long)b->size, shape);
        }
      }
      if (size != 0 && numel > INT64_MAX / size)
        return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                                "%s: shape %s is too large", name, shape);
      numel *= size;
    }
    if (numel > 0 && !t->data)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT, "%s: null data", name);
    int64_t elem = (t->dtype.bits + 7) / 8;
    uintptr_t addr = (uintptr_t)t->data + (uintptr_t)t->byte_offset;
    if (numel > 0 && addr % (uintptr_t)elem != 0)
      return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                              "%s: data is not aligned to %lld bytes", name,
                              (long long)elem);
    /* (An empty tensor has no element whose place its strides could
       give: any strides are fine, as torch gives a slice [:0].) */
    if (t->strides && numel > 0) {
      int64_t expected = 1;
      for (int32_t d = t->ndim - 1; d >= 0; --d) {
        if (t->shape[d] != 1 && t->strides[d] != expected)
          return attnrt_set_error(
              ATTNRT_INVALID_ARGUMENT,
              "%s: expected a compact row-major tensor, but dim %d has stride "
              "%lld instead of %lld",
              name, (int)d, (long long)t->strides[d], (long long)expected);
        expected *= t->shape[d];
      }
    }
  }

  status = check_bounds(sig, infos, n, args);
  if (status != ATTNRT_OK)
    return status;
  status = check_indices(sig, infos, n, args, device_type);
  if (status == ATTNRT_OK)
    status = check_ragged(sig, infos, n, args, device_type);
  if (status != ATTNRT_OK)
    return status;

  /* Outputs and in-place inputs must not overlap any other argument. */
  for (int32_t a = 0; a < n; ++a) {
    if (!infos[a].is_output && !infos[a].is_inout)
      continue;
    const DLTensor *t = args[a];
    int64_t bytes = (t->dtype.bits + 7) / 8;
    for (int32_t d = 0; d < t->ndim; ++d)
      bytes *= t->shape[d];
    uintptr_t lo = (uintptr_t)t->data + (uintptr_t)t->byte_offset;
    uintptr_t hi = lo + (uintptr_t)bytes;
    for (int32_t b = 0; b < n; ++b) {
      if (b == a || bytes == 0)
        continue;
      const DLTensor *u = args[b];
      int64_t ubytes = (u->dtype.bits + 7) / 8;
      for (int32_t d = 0; d < u->ndim; ++d)
        ubytes *= u->shape[d];
      uintptr_t ulo = (uintptr_t)u->data + (uintptr_t)u->byte_offset;
      uintptr_t uhi = ulo + (uintptr_t)ubytes;
      if (ubytes > 0 && lo < uhi && ulo < hi) {
        describe_arg(infos, n, a, name, sizeof(name));
        describe_arg(infos, n, b, other, sizeof(other));
        return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                                "%s overlaps %s in memory", name, other);
      }
    }
  }
  return ATTNRT_OK;
}

int attnrt_infer_shape(const char *sig, DLTensor *const *args,
                       int32_t num_args, int32_t index, int64_t *shape,
                       int32_t *ndim, DLDataType *dtype) {
  attnrt_arg_info infos[ATTNRT_MAX_ARGS];
  int32_t n = 0;
  int status = attnrt_signature_parse(sig, infos, ATTNRT_MAX_ARGS, &n);
  if (status != ATTNRT_OK)
    return status;
  if (index < 0 || index >= n || n > ATTNRT_MAX_ARGS)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "argument index %d out of range (%d arguments)",
                            (int)index, (int)n);
  const attnrt_arg_info *info = &infos[index];
  for (int32_t d = 0; d < info->ndim; ++d) {
    int64_t want = info->dims[d];
    if (want >= 0) {
      shape[d] = want;
      continue;
    }
    int found = 0;
    for (int32_t a = 0; a < n && a < num_args && !found; ++a) {
      if (infos[a].is_output || !args[a])
        continue;
      for (int32_t e = 0; e < infos[a].ndim && e < args[a]->ndim; ++e) {
        if (infos[a].dims[e] == want) {
          shape[d] = args[a]->shape[e];
          found = 1;
          break;
        }
      }
    }
    if (!found)
      return attnrt_set_error(ATTNRT_UNSUPPORTED,
                              "dim %d of argument %d is not determined by any "
                              "input",
                              (int)d, (int)index);
  }
  *ndim = info->ndim;
  *dtype = info->dtype;
  return ATTNRT_OK;
}
