/*===- gpu_emulation.c - GPU kernels run on the host -------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * Executes kernels lowered by attn-gpu-emulate-threads (see
 * attn/gpu_emulation.h). Every thread of a block is a fiber with its own
 * stack; the blocks of a grid run one after another on the calling OS
 * thread. A fiber runs until it reaches a barrier or a warp collective, or
 * ends; the scheduler then runs the next ready thread. Fibers rather than OS
 * threads: a switch costs a few nanoseconds instead of a futex round trip
 * (the tensor-core kernel switches millions of times per launch), runs are
 * deterministic, and a deadlock (a barrier or collective some threads never
 * reach) is detected exactly: no thread is ready and not all have ended.
 *
 *===----------------------------------------------------------------------===*/

#define _GNU_SOURCE
#include "attn/gpu_emulation.h"
#include "ptx_warp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define ATTNEMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTNEMU_ASAN 1
#endif
#endif
#ifdef ATTNEMU_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

/*===------------------------------------------------------------------===*
 * Contexts: a stack pointer; the callee-saved registers live on the stack.
 *===------------------------------------------------------------------===*/

#if defined(__x86_64__)
typedef struct {
  void *sp;
} emu_ctx;

void attnemu_swap(emu_ctx *save, emu_ctx *load);
__asm__(".pushsection .text\n"
        ".globl attnemu_swap\n"
        ".type attnemu_swap,@function\n"
        "attnemu_swap:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq (%rsi), %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size attnemu_swap, .-attnemu_swap\n"
        ".popsection\n");

static void ctx_init(emu_ctx *ctx, void *stack, size_t size,
                     void (*entry)(void)) {
  /* The frame attnemu_swap pops: control words, r15..rbp, return address
   * (entry), then a null return address for entry itself; entry starts with
   * rsp = 8 mod 16 as after a call. */
  uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)(top - 72);
  memset(sp, 0, 72);
  uint32_t mxcsr = 0x1f80;
  uint16_t fpucw = 0x037f;
  memcpy(sp, &mxcsr, 4);
  memcpy((char *)sp + 4, &fpucw, 2);
  sp[7] = (uint64_t)(uintptr_t)entry;
  ctx->sp = sp;
}
#else
#include <ucontext.h>
typedef struct {
  ucontext_t uc;
} emu_ctx;
static void attnemu_swap(emu_ctx *save, emu_ctx *load) {
  swapcontext(&save->uc, &load->uc);
}
static void ctx_init(emu_ctx *ctx, void *stack, size_t size,
                     void (*entry)(void)) {
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = stack;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = NULL;
  makecontext(&ctx->uc, entry, 0);
}
#endif

/*===------------------------------------------------------------------===*
 * State
 *===------------------------------------------------------------------===*/

enum { READY, AT_BARRIER, AT_WARP, DONE };
enum { OP_SHFL = 1, OP_LDMATRIX, OP_MMA };
static const char *const kOpNames[] = {"", "shfl.sync", "ldmatrix", "mma.sync"};

enum { kMaxThreads = 1024, kStackBytes = 1024 * 1024 };

typedef struct {
  void *dst;
  const void *src;
  int64_t cp, n, group; /* group 0: not committed yet */
} emu_copy;

typedef struct {
  emu_ctx ctx;
  void *stack;
  int state;
  int64_t id[3];
  /* The warp collective this thread waits at, its operands and results. */
  int op;
  int32_t p0, p1;
  uint32_t in[6];
  float fin[4];
  const uint8_t *addr;
  uint32_t out[4];
  float fout[4];
  int valid;
  /* cp.async: issued copies not yet completed, in issue order. */
  emu_copy *copies;
  int ncopies, capcopies, head;
  int64_t committed, completed;
} emu_thread;

typedef struct {
  uint32_t epoch;
  int16_t writer, reader; /* -1 none, -2 several readers */
} emu_shadow;

typedef struct {
  attnemu_kernel_fn fn;
  void *env;
  const char *name;
  int64_t grid[3], block[3], bid[3];
  int nthreads, current;
  emu_thread threads[kMaxThreads];
  int warp_arrived[kMaxThreads / 32], warp_live[kMaxThreads / 32];
  int barrier_arrived, live;
  emu_ctx sched;
  const void *sched_bottom;
  size_t sched_size;
  uint8_t *smem;
  int64_t smem_size, smem_cap;
  emu_shadow *shadow;
  int64_t shadow_cap;
  uint32_t epoch;
  int race_check, aborting, has_error, dirty_stacks;
  char error[1024];
  int64_t stat_blocks, stat_threads, stat_switches;
} emu_state;

static _Thread_local emu_state *emu_tls;

static emu_state *emu(void) {
  if (!emu_tls) {
    emu_tls = calloc(1, sizeof(emu_state));
    if (!emu_tls) {
      fprintf(stderr, "attn gpu emulation: out of memory\n");
      abort();
    }
  }
  return emu_tls;
}

static emu_thread *self(void) {
  emu_state *e = emu();
  return &e->threads[e->current];
}

/*===------------------------------------------------------------------===*
 * Switching
 *===------------------------------------------------------------------===*/

/* From the running thread back to the scheduler. */
static void to_scheduler(int dying) {
  emu_state *e = emu();
  emu_thread *t = self();
  ++e->stat_switches;
#ifdef ATTNEMU_ASAN
  void *fake = NULL;
  __sanitizer_start_switch_fiber(dying ? NULL : &fake, e->sched_bottom,
                                 e->sched_size);
  attnemu_swap(&t->ctx, &e->sched);
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
  (void)dying;
  attnemu_swap(&t->ctx, &e->sched);
#endif
}

/* From the scheduler to thread i. */
static void to_thread(int i) {
  emu_state *e = emu();
  e->current = i;
  ++e->stat_switches;
#ifdef ATTNEMU_ASAN
  void *fake = NULL;
  __sanitizer_start_switch_fiber(&fake, e->threads[i].stack, kStackBytes);
  attnemu_swap(&e->sched, &e->threads[i].ctx);
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
  attnemu_swap(&e->sched, &e->threads[i].ctx);
#endif
}

/*===------------------------------------------------------------------===*
 * Errors
 *===------------------------------------------------------------------===*/

/* Records the first error (prefixed with kernel, block and, from a thread,
 * the thread) and stops the launch. Returns only when called from the
 * scheduler. */
static void emu_fail(int from_thread, const char *fmt, ...) {
  emu_state *e = emu();
  if (!e->has_error) {
    int n = snprintf(e->error, sizeof(e->error), "kernel %s, block (%lld, %lld, %lld)",
                     e->name ? e->name : "?", (long long)e->bid[0],
                     (long long)e->bid[1], (long long)e->bid[2]);
    if (from_thread && n < (int)sizeof(e->error)) {
      emu_thread *t = self();
      n += snprintf(e->error + n, sizeof(e->error) - n,
                    ", thread (%lld, %lld, %lld)", (long long)t->id[0],
                    (long long)t->id[1], (long long)t->id[2]);
    }
    if (n < (int)sizeof(e->error))
      n += snprintf(e->error + n, sizeof(e->error) - n, ": ");
    if (n < (int)sizeof(e->error)) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(e->error + n, sizeof(e->error) - n, fmt, ap);
      va_end(ap);
    }
    e->has_error = 1;
  }
  e->aborting = 1;
  e->dirty_stacks = 1;
  if (from_thread)
    for (;;)
      to_scheduler(1); /* never resumed */
}

const char *attnemu_take_error(void) {
  emu_state *e = emu();
  if (!e->has_error)
    return NULL;
  e->has_error = 0;
  return e->error;
}

void attnemu_set_race_check(int32_t on) { emu()->race_check = on != 0; }

void attnemu_take_stats(int64_t *blocks, int64_t *threads, int64_t *switches) {
  emu_state *e = emu();
  *blocks = e->stat_blocks;
  *threads = e->stat_threads;
  *switches = e->stat_switches;
  e->stat_blocks = e->stat_threads = e->stat_switches = 0;
}

/*===------------------------------------------------------------------===*
 * Shared memory
 *===------------------------------------------------------------------===*/

static int64_t shared_offset(const void *addr, int64_t bytes,
                             const char *what) {
  emu_state *e = emu();
  int64_t off = (int64_t)((uintptr_t)addr - (uintptr_t)e->smem);
  if ((uintptr_t)addr < (uintptr_t)e->smem || off + bytes > e->smem_size)
    emu_fail(1,
             "out-of-bounds shared %s of %lld bytes at byte offset %lld "
             "(the block has %lld bytes of shared memory)",
             what, (long long)bytes, (long long)off, (long long)e->smem_size);
  return off;
}

/* Records an access of thread `tid` for the race check. */
static void shadow_access(int64_t off, int64_t bytes, int is_write, int tid,
                          int from_thread) {
  emu_state *e = emu();
  if (!e->race_check)
    return;
  for (int64_t k = off; k < off + bytes; ++k) {
    emu_shadow *s = &e->shadow[k];
    if (s->epoch != e->epoch) {
      s->epoch = e->epoch;
      s->writer = s->reader = -1;
    }
    int other = -1;
    const char *kind = NULL;
    if (s->writer >= 0 && s->writer != tid) {
      other = s->writer;
      kind = "wrote";
    } else if (is_write && s->reader != -1 && s->reader != tid) {
      other = s->reader;
      kind = "read";
    }
    if (kind) {
      if (other >= 0)
        emu_fail(from_thread,
                 "shared-memory race: thread %d %s byte offset %lld after "
                 "thread %d %s it, with no barrier between (checked with "
                 "--race-check)",
                 tid, is_write ? "writes" : "reads", (long long)k, other, kind);
      else
        emu_fail(from_thread,
                 "shared-memory race: thread %d writes byte offset %lld after "
                 "several threads read it, with no barrier between",
                 tid, (long long)k);
      return;
    }
    if (is_write)
      s->writer = (int16_t)tid;
    else
      s->reader = s->reader == -1 || s->reader == tid ? (int16_t)tid : -2;
  }
}

void *attnemu_shared_base(void) { return emu()->smem; }
int64_t attnemu_shared_size(void) { return emu()->smem_size; }

void attnemu_shared_access(const void *addr, int64_t bytes, int32_t is_write) {
  emu_state *e = emu();
  int64_t off = shared_offset(addr, bytes, is_write ? "store" : "load");
  shadow_access(off, bytes, is_write, e->current, 1);
}

void attnemu_global_oob(int32_t is_write, const int64_t *idx_dims,
                        int32_t rank, int64_t lanes) {
  char idx[256] = "", dims[256] = "";
  int ni = 0, nd = 0;
  for (int32_t i = 0; i < rank && ni < 200 && nd < 200; ++i) {
    ni += snprintf(idx + ni, sizeof(idx) - ni, "%s%lld", i ? ", " : "",
                   (long long)idx_dims[i]);
    nd += snprintf(dims + nd, sizeof(dims) - nd, "%s%lld", i ? ", " : "",
                   (long long)idx_dims[rank + i]);
  }
  emu_fail(1, "out-of-bounds global %s at index [%s]%s of a buffer of shape "
              "[%s]",
           is_write ? "store" : "load", idx,
           lanes > 1 ? " (a vector access)" : "", dims);
  (void)lanes;
}

/*===------------------------------------------------------------------===*
 * Threads, barriers and warps
 *===------------------------------------------------------------------===*/

int64_t attnemu_id(int32_t which) {
  emu_state *e = emu();
  switch (which) {
  case 0: case 1: case 2:
    return self()->id[which];
  case 3: case 4: case 5:
    return e->bid[which - 3];
  case 6: case 7: case 8:
    return e->block[which - 6];
  case 9: case 10: case 11:
    return e->grid[which - 9];
  case 12:
    return e->current % 32;
  default:
    return 0;
  }
}

/* The copies of thread t's oldest groups, until at most `pending` groups
 * are in flight (all of them, committed or not, with pending < 0). */
static void complete_copies(emu_thread *t, int tid, int64_t pending) {
  while (t->head < t->ncopies) {
    emu_copy *c = &t->copies[t->head];
    if (pending >= 0 &&
        (c->group == 0 || t->committed - (c->group - 1) <= pending))
      break;
    memcpy(c->dst, c->src, (size_t)c->n);
    memset((uint8_t *)c->dst + c->n, 0, (size_t)(c->cp - c->n));
    emu_state *e = emu();
    shadow_access((int64_t)((uint8_t *)c->dst - e->smem), c->cp, 1, tid, 1);
    if (c->group > t->completed)
      t->completed = c->group;
    ++t->head;
  }
  if (t->head == t->ncopies)
    t->head = t->ncopies = 0;
}

static void release_barrier(void) {
  emu_state *e = emu();
  for (int i = 0; i < e->nthreads; ++i)
    if (e->threads[i].state == AT_BARRIER)
      e->threads[i].state = READY;
  e->barrier_arrived = 0;
  ++e->epoch;
  /* A copy in flight may land at any time until its wait: it writes in
   * every interval between barriers that it spans. */
  if (e->race_check)
    for (int i = 0; i < e->nthreads; ++i) {
      emu_thread *t = &e->threads[i];
      for (int k = t->head; k < t->ncopies; ++k)
        shadow_access((int64_t)((uint8_t *)t->copies[k].dst - e->smem),
                      t->copies[k].cp, 1, i, 1);
    }
}

void attnemu_barrier(void) {
  emu_state *e = emu();
  emu_thread *t = self();
  if (++e->barrier_arrived == e->live) {
    release_barrier();
    return;
  }
  t->state = AT_BARRIER;
  to_scheduler(0);
}

/* Runs the collective of warp w once each of its live lanes has arrived. */
static void warp_execute(int w, int from_thread) {
  emu_state *e = emu();
  int me = e->current;
  int first = 32 * w, n = e->nthreads - first < 32 ? e->nthreads - first : 32;
  emu_thread *lanes = &e->threads[first];
  int op = 0, live[32] = {0}, ref = -1;
  for (int l = 0; l < n; ++l)
    if (lanes[l].state == AT_WARP) {
      live[l] = 1;
      if (ref < 0) {
        ref = l; /* the first lane that takes part gives the operands */
        op = lanes[l].op;
      } else if (lanes[l].op != op || lanes[l].p0 != lanes[ref].p0 ||
                 lanes[l].p1 != lanes[ref].p1)
        emu_fail(from_thread,
                 "divergent warp collective: lanes of warp %d are at "
                 "different instructions (%s and %s)",
                 w, kOpNames[op], kOpNames[lanes[l].op]);
    }
  int all = 1;
  for (int l = 0; l < 32; ++l)
    all &= live[l];
  if (op != OP_SHFL && !all)
    emu_fail(from_thread,
             "%s in warp %d with only some of its 32 lanes (the others have "
             "exited or do not exist)",
             kOpNames[op], w);
  if (op == OP_SHFL) {
    uint32_t in[32] = {0}, out[32];
    int valid[32];
    for (int l = 0; l < n; ++l)
      in[l] = lanes[l].in[0];
    int mode = lanes[ref].p0 & 3, width = lanes[ref].p1;
    /* gpu.shuffle as MLIR's GPU-to-NVVM conversion emits it: member mask
     * the first `width` lanes, c = 32 - width for up, width - 1 otherwise
     * (no segments). */
    uint32_t c = mode == 1 ? (uint32_t)(32 - width) : (uint32_t)(width - 1);
    uint32_t offset = lanes[ref].in[1];
    for (int l = 0; l < n; ++l) {
      if (live[l] && lanes[l].in[1] != offset)
        emu_fail(from_thread, "shfl.sync with different offsets in warp %d",
                 w);
      if (live[l] && l >= width)
        emu_fail(from_thread,
                 "shfl.sync of width %d executed by lane %d, outside its "
                 "member mask",
                 width, l);
    }
    attnptx_shfl(mode, offset, c, in, live, out, valid);
    for (int l = 0; l < n; ++l) {
      lanes[l].out[0] = out[l];
      lanes[l].valid = valid[l];
    }
  } else if (op == OP_LDMATRIX) {
    const uint8_t *rows[32];
    uint32_t out[32][4];
    int num = lanes[0].p0, trans = lanes[0].p1;
    for (int l = 0; l < 32; ++l) {
      rows[l] = lanes[l].addr;
      if (l < 8 * num) {
        e->current = first + l;
        int64_t off = shared_offset(rows[l], 16, "ldmatrix row read");
        shadow_access(off, 16, 0, first + l, from_thread);
      }
    }
    attnptx_ldmatrix(rows, num, trans, out);
    for (int l = 0; l < 32; ++l)
      memcpy(lanes[l].out, out[l], sizeof(out[l]));
  } else {
    uint32_t a[32][4], b[32][2];
    float c[32][4], d[32][4];
    for (int l = 0; l < 32; ++l) {
      memcpy(a[l], lanes[l].in, 16);
      memcpy(b[l], lanes[l].in + 4, 8);
      memcpy(c[l], lanes[l].fin, 16);
    }
    attnptx_mma_m16n8k16(lanes[0].p0, a, b, c, d);
    for (int l = 0; l < 32; ++l)
      memcpy(lanes[l].fout, d[l], 16);
  }
  for (int l = 0; l < n; ++l)
    if (lanes[l].state == AT_WARP)
      lanes[l].state = READY;
  e->warp_arrived[w] = 0;
  e->current = me;
}

/* The running thread arrives at a warp collective; returns with its
 * results once the whole warp has arrived. */
static void warp_arrive(int op) {
  emu_state *e = emu();
  emu_thread *t = self();
  int me = e->current, w = me / 32;
  t->op = op;
  t->state = AT_WARP;
  if (++e->warp_arrived[w] == e->warp_live[w]) {
    warp_execute(w, 1);
    (void)me;
    return;
  }
  to_scheduler(0);
}

int64_t attnemu_shfl(int32_t mode, int32_t value, int32_t offset,
                     int32_t width) {
  emu_thread *t = self();
  if (width < 1 || width > 32 || (width & (width - 1)))
    emu_fail(1, "shfl.sync width %d is not a power of two up to 32", width);
  t->p0 = mode;
  t->p1 = width;
  t->in[0] = (uint32_t)value;
  t->in[1] = (uint32_t)offset;
  warp_arrive(OP_SHFL);
  return (int64_t)t->out[0] | ((int64_t)(t->valid != 0) << 32);
}

void attnemu_ldmatrix(const void *row, int32_t num, int32_t trans,
                      uint32_t *out) {
  emu_thread *t = self();
  if (num != 1 && num != 2 && num != 4)
    emu_fail(1, "ldmatrix of %d matrices (expected 1, 2 or 4)", num);
  t->p0 = num;
  t->p1 = trans != 0;
  t->addr = row;
  if ((uintptr_t)row % 16 && emu()->current % 32 < 8 * num)
    emu_fail(1, "ldmatrix row address not 16-byte aligned (shared offset %lld)",
             (long long)((const uint8_t *)row - emu()->smem));
  warp_arrive(OP_LDMATRIX);
  memcpy(out, t->out, (size_t)num * 4);
}

void attnemu_mma_m16n8k16(int32_t type, uint32_t a0, uint32_t a1, uint32_t a2,
                          uint32_t a3, uint32_t b0, uint32_t b1, float c0,
                          float c1, float c2, float c3, float *d) {
  emu_thread *t = self();
  t->p0 = type;
  t->p1 = 0;
  uint32_t in[6] = {a0, a1, a2, a3, b0, b1};
  float fin[4] = {c0, c1, c2, c3};
  memcpy(t->in, in, sizeof(in));
  memcpy(t->fin, fin, sizeof(fin));
  warp_arrive(OP_MMA);
  memcpy(d, t->fout, 16);
}

void attnemu_cp_async(void *dst, const void *src, int64_t cp_bytes,
                      int64_t src_bytes) {
  emu_thread *t = self();
  if (src_bytes < 0 || src_bytes > cp_bytes)
    emu_fail(1, "cp.async of %lld source bytes into %lld", (long long)src_bytes,
             (long long)cp_bytes);
  shared_offset(dst, cp_bytes, "cp.async destination");
  if ((uintptr_t)dst % (uintptr_t)cp_bytes || (uintptr_t)src % (uintptr_t)cp_bytes)
    emu_fail(1, "misaligned cp.async of %lld bytes (destination offset %lld, "
                "source address %p)",
             (long long)cp_bytes,
             (long long)((uint8_t *)dst - emu()->smem), src);
  if (t->ncopies == t->capcopies) {
    int cap = t->capcopies ? 2 * t->capcopies : 16;
    emu_copy *c = realloc(t->copies, (size_t)cap * sizeof(emu_copy));
    if (!c)
      emu_fail(1, "out of memory");
    t->copies = c;
    t->capcopies = cap;
  }
  emu_copy c = {dst, src, cp_bytes, src_bytes, 0};
  t->copies[t->ncopies++] = c;
  /* The data lands at the covering wait (reads before it see the old
   * contents), but for the race check the copy writes from its issue on. */
  emu_state *e = emu();
  shadow_access((int64_t)((uint8_t *)dst - e->smem), cp_bytes, 1, e->current,
                1);
}

void attnemu_cp_async_commit(void) {
  emu_thread *t = self();
  ++t->committed;
  for (int i = t->head; i < t->ncopies; ++i)
    if (t->copies[i].group == 0)
      t->copies[i].group = t->committed;
}

void attnemu_cp_async_wait(int32_t pending) {
  emu_state *e = emu();
  complete_copies(self(), e->current, pending < 0 ? 0 : pending);
}

/*===------------------------------------------------------------------===*
 * Launches
 *===------------------------------------------------------------------===*/

static void fiber_main(void) {
  emu_state *e = emu();
#ifdef ATTNEMU_ASAN
  __sanitizer_finish_switch_fiber(NULL, &e->sched_bottom, &e->sched_size);
#endif
  e->fn(e->env);
  emu_thread *t = self();
  /* Copies never waited for complete when the thread ends. */
  complete_copies(t, e->current, -1);
  t->state = DONE;
  --e->live;
  int w = e->current / 32;
  --e->warp_live[w];
  if (e->warp_arrived[w] > 0 && e->warp_arrived[w] == e->warp_live[w])
    warp_execute(w, 1);
  if (e->barrier_arrived > 0 && e->barrier_arrived == e->live)
    release_barrier();
  for (;;)
    to_scheduler(1);
}

static int ensure_buffers(emu_state *e, int64_t shared_bytes) {
  if (shared_bytes > e->smem_cap) {
    free(e->smem);
    free(e->shadow);
    e->smem = aligned_alloc(128, (size_t)((shared_bytes + 127) & ~127));
    e->shadow = calloc((size_t)shared_bytes, sizeof(emu_shadow));
    if (!e->smem || !e->shadow) {
      e->smem_cap = 0;
      return 0;
    }
    e->smem_cap = shared_bytes;
  }
  for (int i = 0; i < e->nthreads; ++i)
    if (!e->threads[i].stack) {
      /* A guard page below each stack turns an overflow into a fault. */
      long page = sysconf(_SC_PAGESIZE);
      uint8_t *p = mmap(NULL, kStackBytes + page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED)
        return 0;
      mprotect(p, page, PROT_NONE);
      e->threads[i].stack = p + page;
    }
  return 1;
}

void attnemu_launch(attnemu_kernel_fn kernel, void *env, const char *name,
                    int64_t gx, int64_t gy, int64_t gz, int64_t bx, int64_t by,
                    int64_t bz, int64_t shared_bytes) {
  emu_state *e = emu();
  if (e->has_error)
    return; /* an earlier launch failed: its results are not usable */
  e->fn = kernel;
  e->env = env;
  e->name = name;
  e->bid[0] = e->bid[1] = e->bid[2] = 0;
  int64_t g[3] = {gx, gy, gz}, bl[3] = {bx, by, bz};
  memcpy(e->grid, g, sizeof(g));
  memcpy(e->block, bl, sizeof(bl));
  if (gx < 0 || gy < 0 || gz < 0 || bx < 1 || by < 1 || bz < 1 ||
      bx > kMaxThreads || by > kMaxThreads || bz > kMaxThreads ||
      bx * by * bz > kMaxThreads || shared_bytes < 0) {
    emu_fail(0,
             "invalid launch: grid (%lld, %lld, %lld), block (%lld, %lld, "
             "%lld), %lld bytes of shared memory",
             (long long)gx, (long long)gy, (long long)gz, (long long)bx,
             (long long)by, (long long)bz, (long long)shared_bytes);
    return;
  }
  int64_t n = bx * by * bz;
  e->nthreads = (int)n;
  if (!ensure_buffers(e, shared_bytes)) {
    emu_fail(0, "out of memory for %lld threads", (long long)n);
    return;
  }
  e->smem_size = shared_bytes;
  e->aborting = 0;
#ifdef ATTNEMU_ASAN
  if (e->dirty_stacks)
    for (int i = 0; i < kMaxThreads; ++i)
      if (e->threads[i].stack)
        __asan_unpoison_memory_region(e->threads[i].stack, kStackBytes);
#endif
  e->dirty_stacks = 0;
  for (int64_t z = 0; z < gz && !e->aborting; ++z)
    for (int64_t y = 0; y < gy && !e->aborting; ++y)
      for (int64_t x = 0; x < gx && !e->aborting; ++x) {
        e->bid[0] = x;
        e->bid[1] = y;
        e->bid[2] = z;
        /* Shared memory starts as NaN in every float format. */
        if (shared_bytes > 0)
          memset(e->smem, 0xff, (size_t)shared_bytes);
        ++e->epoch;
        e->live = e->nthreads;
        e->barrier_arrived = 0;
        for (int w = 0; w < (e->nthreads + 31) / 32; ++w) {
          e->warp_arrived[w] = 0;
          e->warp_live[w] =
              e->nthreads - 32 * w < 32 ? e->nthreads - 32 * w : 32;
        }
        for (int i = 0; i < e->nthreads; ++i) {
          emu_thread *t = &e->threads[i];
          t->state = READY;
          t->id[0] = i % bx;
          t->id[1] = (i / bx) % by;
          t->id[2] = i / (bx * by);
          t->ncopies = t->head = 0;
          t->committed = t->completed = 0;
#ifdef ATTNEMU_ASAN
          /* An ended fiber never returns: the redzones of its last frames
           * (near the top) stay poisoned on this stack; after an error,
           * those of a whole call chain. */
          __asan_unpoison_memory_region(
              (char *)t->stack + kStackBytes - 64 * 1024, 64 * 1024);
#endif
          ctx_init(&t->ctx, t->stack, kStackBytes, fiber_main);
        }
        ++e->stat_blocks;
        e->stat_threads += e->nthreads;
        int next = 0;
        for (;;) {
          int found = -1;
          for (int k = 0; k < e->nthreads; ++k) {
            int i = (next + k) % e->nthreads;
            if (e->threads[i].state == READY) {
              found = i;
              break;
            }
          }
          if (found < 0) {
            if (e->live > 0) {
              int atBarrier = 0, atWarp = 0;
              for (int i = 0; i < e->nthreads; ++i) {
                atBarrier += e->threads[i].state == AT_BARRIER;
                atWarp += e->threads[i].state == AT_WARP;
              }
              emu_fail(0,
                       "deadlock: %d threads wait at a barrier and %d at a "
                       "warp collective that the others never reach",
                       atBarrier, atWarp);
            }
            break;
          }
          to_thread(found);
          if (e->aborting)
            break;
          next = found + 1;
        }
      }
}
