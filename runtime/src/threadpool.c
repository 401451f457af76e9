/*===- threadpool.c - libattnrt thread pool -----------------------*- C -*-===*
 *
 * Part of the attn project.
 *
 * A persistent pool of worker threads. attnrt_parallel_for publishes one job
 * at a time; iterations are claimed in shrinking chunks from an atomic
 * counter, so uneven work (causal attention) balances itself. The calling
 * thread works too.
 *
 *===----------------------------------------------------------------------===*/

#include "attn/runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct job {
  attnrt_parallel_body body;
  void *ctx;
  int64_t count;
  int threads; /* workers + the caller */
  atomic_llong next;
} job;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;  /* pool state */
static pthread_mutex_t call_mu = PTHREAD_MUTEX_INITIALIZER;  /* one job */
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static pthread_t *workers;
static int num_workers;       /* threads besides the caller */
static int configured = 0;    /* requested total threads, 0 = default */
static int initialized = 0;
static long generation;       /* bumped per job */
static int busy;              /* workers still on the current job */
static int stopping;
static job current;
static _Thread_local int inside_body;

/* Guided self-scheduling: each claim takes 1/(4 threads) of what is left
 * (at least one iteration), so a job of many short iterations (a router's
 * rows) costs a few dozen claims instead of one contended atomic per
 * iteration, and the last claims, of one iteration each, still balance
 * uneven work. */
static void run_iterations(job *j) {
  inside_body = 1;
  long long i = atomic_load(&j->next);
  for (;;) {
    long long n;
    do {
      if (i >= j->count) {
        inside_body = 0;
        return;
      }
      n = (j->count - i) / (4 * (int64_t)j->threads);
      if (n < 1)
        n = 1;
    } while (!atomic_compare_exchange_weak(&j->next, &i, i + n));
    j->body(j->ctx, i, i + n);
    i = atomic_load(&j->next);
  }
}

static void *worker_main(void *arg) {
  /* The generation current when the pool started: a job published before
   * this thread got to run must still be seen as new. */
  long seen = (long)(intptr_t)arg;
  pthread_mutex_lock(&pool_mu);
  for (;;) {
    while (generation == seen && !stopping)
      pthread_cond_wait(&work_cv, &pool_mu);
    if (stopping)
      break;
    seen = generation;
    pthread_mutex_unlock(&pool_mu);
    run_iterations(&current);
    pthread_mutex_lock(&pool_mu);
    if (--busy == 0)
      pthread_cond_signal(&done_cv);
  }
  pthread_mutex_unlock(&pool_mu);
  return NULL;
}

static int default_threads(void) {
  const char *env = getenv("ATTN_NUM_THREADS");
  if (env && atoi(env) > 0)
    return atoi(env);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void stop_workers_locked(void) {
  stopping = 1;
  pthread_cond_broadcast(&work_cv);
  pthread_mutex_unlock(&pool_mu);
  for (int i = 0; i < num_workers; ++i)
    pthread_join(workers[i], NULL);
  pthread_mutex_lock(&pool_mu);
  free(workers);
  workers = NULL;
  num_workers = 0;
  stopping = 0;
}

/* Starts the workers for `total` threads; called with call_mu held. */
static int start_pool(int total) {
  pthread_mutex_lock(&pool_mu);
  if (initialized)
    stop_workers_locked();
  initialized = 1;
  int want = total - 1;
  workers = want > 0 ? calloc((size_t)want, sizeof(pthread_t)) : NULL;
  int status = ATTNRT_OK;
  for (int i = 0; i < want; ++i) {
    if (pthread_create(&workers[i], NULL, worker_main,
                       (void *)(intptr_t)generation) != 0) {
      status = attnrt_set_error(ATTNRT_INTERNAL,
                                "could not start thread %d of %d", i + 2,
                                total);
      break;
    }
    ++num_workers;
  }
  pthread_mutex_unlock(&pool_mu);
  return status;
}

int attnrt_set_num_threads(int num_threads) {
  if (num_threads < 0)
    return attnrt_set_error(ATTNRT_INVALID_ARGUMENT,
                            "number of threads must be >= 0, got %d",
                            num_threads);
  pthread_mutex_lock(&call_mu);
  configured = num_threads;
  int status = start_pool(num_threads ? num_threads : default_threads());
  pthread_mutex_unlock(&call_mu);
  return status;
}

int attnrt_get_num_threads(void) {
  pthread_mutex_lock(&call_mu);
  int n = initialized ? num_workers + 1
                      : (configured ? configured : default_threads());
  pthread_mutex_unlock(&call_mu);
  return n;
}

void attnrt_parallel_for(int64_t count, attnrt_parallel_body body, void *ctx) {
  if (count <= 0)
    return;
  if (inside_body || count == 1) {
    body(ctx, 0, count);
    return;
  }
  pthread_mutex_lock(&call_mu);
  if (!initialized)
    start_pool(configured ? configured : default_threads());
  if (num_workers == 0) {
    pthread_mutex_unlock(&call_mu);
    body(ctx, 0, count);
    return;
  }
  pthread_mutex_lock(&pool_mu);
  current.body = body;
  current.ctx = ctx;
  current.count = count;
  current.threads = num_workers + 1;
  atomic_store(&current.next, 0);
  busy = num_workers;
  ++generation;
  pthread_cond_broadcast(&work_cv);
  pthread_mutex_unlock(&pool_mu);

  run_iterations(&current);

  pthread_mutex_lock(&pool_mu);
  while (busy > 0)
    pthread_cond_wait(&done_cv, &pool_mu);
  pthread_mutex_unlock(&pool_mu);
  pthread_mutex_unlock(&call_mu);
}
