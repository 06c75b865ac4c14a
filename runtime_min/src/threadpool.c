/* The session thread pool behind the __TVMBackendParallelLaunch / __TVMBackendParallelBarrier
 * hooks.
 *
 * Workers are started once per session and wait for work by spinning briefly, then sleeping on a
 * condition variable: kernels launch parallel regions thousands of times per run, and waking
 * sleeping threads (or creating them) for each would cost more than the regions themselves. The
 * thread that runs the session is task 0 of every launch.
 *
 * Hooks are per loaded library, not per session, so a launch finds its pool through a
 * thread-local "current pool" set by ronn_session_run. A launch from a worker thread, from a
 * thread that is not running a session, or nested inside another launch runs serially as a
 * single task (env.num_task = 1), which every TVM parallel loop handles.
 *
 * Synchronisation uses the GCC/Clang __atomic builtins. Each wait pairs a sequentially consistent
 * "sleepers" counter with the watched word (a Dekker-style handshake), so a notifier only takes
 * the mutex when somebody actually sleeps. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "platform/cpu_relax.h"

#define ERROR_CAPACITY 2048
#define MAX_THREADS 1024
/* ~0.1-1 ms of polling depending on the CPU's pause latency: long enough to bridge the gap
 * between two parallel kernels, short enough that an idle session stops burning CPU. */
#define SPIN_DEDICATED (1 << 14)
/* With more threads than CPUs, a spinning thread steals the CPU of the one it waits for. */
#define SPIN_OVERSUBSCRIBED 64

typedef struct event {
  uint32_t sleepers;
  pthread_mutex_t mutex;
  pthread_cond_t cond;
} event;

typedef struct barrier {
  uint32_t count;
  uint32_t generation;
  uint32_t broken; /* a task failed: waiters must not wait for it */
  int32_t spin;
  event wake;
} barrier;

typedef struct __attribute__((aligned(64))) worker {
  uint32_t generation; /* bumped by the launcher to hand this worker a task */
  int32_t id;
  ronn_threadpool* pool;
  event wake;
  pthread_t thread;
} worker;

struct ronn_threadpool {
  int32_t size;
  int32_t spin;
  int busy; /* touched only by the thread running the session */
  int shutdown;
  /* The current job: written by the launcher before it bumps the participants' generations,
   * read by participants after they observe the bump, rewritten only after all of them
   * finished. */
  ronn_parallel_lambda_fn lambda;
  void* cdata;
  ronn_parallel_env env;
  uint32_t remaining; /* participating workers that have not finished */
  event done;
  barrier sync;
  uint32_t failed;
  pthread_mutex_t error_mutex;
  char error[ERROR_CAPACITY];
  int32_t num_workers; /* started so far */
  worker* workers;     /* size - 1 entries */
};

static void event_init(event* e) {
  e->sleepers = 0;
  pthread_mutex_init(&e->mutex, NULL);
  pthread_cond_init(&e->cond, NULL);
}

static void event_destroy(event* e) {
  pthread_cond_destroy(&e->cond);
  pthread_mutex_destroy(&e->mutex);
}

static int reached(const uint32_t* word, uint32_t value, int until_equal, int order) {
  uint32_t current = __atomic_load_n(word, order);
  return until_equal ? current == value : current != value;
}

/* Blocks until *word == value (until_equal) or *word != value (otherwise). */
static void event_wait(event* e, const uint32_t* word, uint32_t value, int until_equal,
                       int32_t spin) {
  for (int32_t i = 0; i < spin; ++i) {
    if (reached(word, value, until_equal, __ATOMIC_ACQUIRE)) return;
    ronn_cpu_relax();
  }
  pthread_mutex_lock(&e->mutex);
  __atomic_add_fetch(&e->sleepers, 1, __ATOMIC_SEQ_CST);
  while (!reached(word, value, until_equal, __ATOMIC_SEQ_CST)) {
    pthread_cond_wait(&e->cond, &e->mutex);
  }
  __atomic_sub_fetch(&e->sleepers, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&e->mutex);
}

/* Call after a sequentially consistent write of the watched word. */
static void event_notify(event* e) {
  if (__atomic_load_n(&e->sleepers, __ATOMIC_SEQ_CST) == 0) return;
  pthread_mutex_lock(&e->mutex);
  pthread_cond_broadcast(&e->cond);
  pthread_mutex_unlock(&e->mutex);
}

static void break_barrier(barrier* b) {
  __atomic_store_n(&b->broken, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&b->generation, 1, __ATOMIC_SEQ_CST);
  event_notify(&b->wake);
}

int ronn_parallel_barrier_hook(int task_id, void* penv) {
  (void)task_id;
  ronn_parallel_env* env = (ronn_parallel_env*)penv;
  if (env == NULL || env->num_task <= 1 || env->sync_handle == NULL) return 0;
  barrier* b = (barrier*)env->sync_handle;
  if (__atomic_load_n(&b->broken, __ATOMIC_ACQUIRE)) return -1;
  uint32_t generation = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
  if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == (uint32_t)env->num_task) {
    /* The reset is published by the generation bump, before anyone can arrive again. */
    __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&b->generation, 1, __ATOMIC_SEQ_CST);
    event_notify(&b->wake);
  } else {
    event_wait(&b->wake, &b->generation, generation, 0, b->spin);
  }
  return __atomic_load_n(&b->broken, __ATOMIC_ACQUIRE) ? -1 : 0;
}

static void record_failure(ronn_threadpool* pool, int32_t task_id) {
  const char* message = ronn_error_get();
  pthread_mutex_lock(&pool->error_mutex);
  if (!__atomic_load_n(&pool->failed, __ATOMIC_RELAXED)) {
    if (message != NULL) {
      snprintf(pool->error, sizeof pool->error, "%s", message);
    } else {
      snprintf(pool->error, sizeof pool->error,
               "parallel task %d failed without an error message", (int)task_id);
    }
    __atomic_store_n(&pool->failed, 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&pool->error_mutex);
  break_barrier(&pool->sync);
}

static void* worker_main(void* arg) {
  worker* self = (worker*)arg;
  ronn_threadpool* pool = self->pool;
  uint32_t seen = 0;
  for (;;) {
    event_wait(&self->wake, &self->generation, seen, 0, pool->spin);
    seen = __atomic_load_n(&self->generation, __ATOMIC_ACQUIRE);
    if (pool->shutdown) break;
    ronn_error_clear();
    if (pool->lambda(self->id, &pool->env, pool->cdata) != 0) record_failure(pool, self->id);
    if (__atomic_sub_fetch(&pool->remaining, 1, __ATOMIC_SEQ_CST) == 0) {
      event_notify(&pool->done);
    }
  }
  return NULL;
}

static void wake_worker(worker* w) {
  __atomic_add_fetch(&w->generation, 1, __ATOMIC_SEQ_CST);
  event_notify(&w->wake);
}

static int run_serial(ronn_parallel_lambda_fn lambda, void* cdata) {
  ronn_parallel_env env = {NULL, 1};
  return lambda(0, &env, cdata);
}

/* Set while a session runs on this thread; see the file comment. */
static pthread_key_t current_key;
static pthread_once_t current_key_once = PTHREAD_ONCE_INIT;
static int current_key_ok;

static void create_current_key(void) {
  current_key_ok = pthread_key_create(&current_key, NULL) == 0;
}

ronn_threadpool* ronn_threadpool_enter(ronn_threadpool* pool) {
  pthread_once(&current_key_once, create_current_key);
  if (!current_key_ok) return NULL;
  ronn_threadpool* previous = (ronn_threadpool*)pthread_getspecific(current_key);
  pthread_setspecific(current_key, pool);
  return previous;
}

void ronn_threadpool_leave(ronn_threadpool* previous) {
  if (current_key_ok) pthread_setspecific(current_key, previous);
}

int ronn_parallel_launch_hook(ronn_parallel_lambda_fn lambda, void* cdata, int num_task) {
  ronn_threadpool* pool = NULL;
  pthread_once(&current_key_once, create_current_key);
  if (current_key_ok) pool = (ronn_threadpool*)pthread_getspecific(current_key);
  if (pool == NULL || pool->busy || pool->size == 1 || num_task == 1) {
    return run_serial(lambda, cdata);
  }
  /* One task per thread: TVM's lambda takes the task-th contiguous chunk of its parallel loop,
   * so consecutive kernels hand each thread the same part of the tensors it just wrote. Chunks
   * claimed dynamically (2 to 8 per thread from an atomic counter) would even out the threads'
   * finishing times, which differ by ~13 us per launch (~1.3 ms of one thread waiting per light
   * ResNet-50 run on AVX2), but lost that locality: 41.8 -> 43.5-44.1 ms (session 9). */
  int32_t tasks = num_task <= 0 || num_task > pool->size ? pool->size : num_task;
  pool->busy = 1;
  pool->lambda = lambda;
  pool->cdata = cdata;
  pool->env.sync_handle = &pool->sync;
  pool->env.num_task = tasks;
  /* Published to the workers by the generation bump in wake_worker. No task of the previous
   * launch is still inside the barrier: all of them returned before it completed. */
  __atomic_store_n(&pool->sync.count, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&pool->sync.broken, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&pool->failed, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&pool->remaining, (uint32_t)(tasks - 1), __ATOMIC_RELAXED);
  for (int32_t i = 1; i < tasks; ++i) wake_worker(&pool->workers[i - 1]);
  int result = lambda(0, &pool->env, cdata);
  if (result != 0) break_barrier(&pool->sync);
  event_wait(&pool->done, &pool->remaining, 0, 1, pool->spin);
  pool->busy = 0;
  /* Task 0 raised its own error: its message is already on this thread. */
  if (result != 0 && ronn_error_get() != NULL) return result;
  if (__atomic_load_n(&pool->failed, __ATOMIC_ACQUIRE)) {
    /* Error messages are thread-local: hand the worker's message to the launching thread,
     * where the session looks for it once the kernel returns. Task 0 may also have failed,
     * silently, because the failing worker broke the barrier it waited at. */
    ronn_error_set_message(pool->error);
    return -1;
  }
  return result;
}

int32_t ronn_threadpool_size(const ronn_threadpool* pool) { return pool->size; }

static void stop_workers(ronn_threadpool* pool) {
  pool->shutdown = 1;
  for (int32_t i = 0; i < pool->num_workers; ++i) wake_worker(&pool->workers[i]);
  for (int32_t i = 0; i < pool->num_workers; ++i) {
    pthread_join(pool->workers[i].thread, NULL);
  }
}

void ronn_threadpool_destroy(ronn_threadpool* pool) {
  if (pool == NULL) return;
  stop_workers(pool);
  for (int32_t i = 0; i < pool->size - 1; ++i) event_destroy(&pool->workers[i].wake);
  event_destroy(&pool->done);
  event_destroy(&pool->sync.wake);
  pthread_mutex_destroy(&pool->error_mutex);
  free(pool->workers);
  free(pool);
}

ronn_status* ronn_threadpool_create(int32_t num_threads, ronn_threadpool** out_pool) {
  *out_pool = NULL;
  int32_t cpus = ronn_platform_num_cpus();
  if (num_threads < 0) {
    return ronn_make_status(RONN_INVALID_ARGUMENT,
                            "num_threads is %d: pass 0 (one per CPU) or a positive count",
                            (int)num_threads);
  }
  int32_t size = num_threads == 0 ? cpus : num_threads;
  if (size > MAX_THREADS) size = MAX_THREADS;
  ronn_threadpool* pool = (ronn_threadpool*)calloc(1, sizeof *pool);
  void* workers = NULL;
  if (pool == NULL ||
      (size > 1 && posix_memalign(&workers, 64, sizeof(worker) * (size_t)(size - 1)) != 0)) {
    free(pool);
    return ronn_status_out_of_memory();
  }
  pool->size = size;
  pool->spin = size <= cpus ? SPIN_DEDICATED : SPIN_OVERSUBSCRIBED;
  pool->workers = (worker*)workers;
  pool->sync.spin = pool->spin;
  event_init(&pool->done);
  event_init(&pool->sync.wake);
  pthread_mutex_init(&pool->error_mutex, NULL);
  for (int32_t i = 0; i < size - 1; ++i) {
    memset(&pool->workers[i], 0, sizeof(worker));
    pool->workers[i].id = i + 1;
    pool->workers[i].pool = pool;
    event_init(&pool->workers[i].wake);
  }
  /* Workers inherit a fully blocked signal mask: signals go to the application's threads. */
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  int error = 0;
  for (int32_t i = 0; i < size - 1 && error == 0; ++i) {
    error = pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]);
    if (error == 0) pool->num_workers++;
  }
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  if (error != 0) {
    int32_t started = pool->num_workers;
    ronn_threadpool_destroy(pool);
    return ronn_make_status(RONN_OUT_OF_MEMORY,
                            "could not start worker thread %d of %d: %s (ask for fewer threads)",
                            (int)started + 1, (int)size - 1, strerror(error));
  }
  *out_pool = pool;
  return NULL;
}
