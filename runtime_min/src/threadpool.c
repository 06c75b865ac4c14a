/* The session thread pool behind the __TVMBackendParallelLaunch / __TVMBackendParallelBarrier
 * hooks.
 *
 * Workers are started once per session and wait for work by spinning briefly, then sleeping on a
 * condition variable: kernels launch parallel regions thousands of times per run, and waking
 * sleeping threads (or creating them) for each would cost more than the regions themselves. The
 * thread that runs the session is task 0 of every launch.
 *
 * Tasks are claimed, not assigned. A launch gives each participating thread (the launcher is
 * participant 0) a range of tasks; a participant claims tasks from the front of its own range and,
 * once that is empty, steals from the back of the others', each claim a compare-and-swap on the
 * range's word (launch number | front | back). Each thread starting on its own range keeps the
 * locality of static chunks (consecutive kernels hand a thread the same part of the tensors it
 * just wrote); stealing means a region waits only for tasks that already run, never for a thread
 * the scheduler has not run yet (beside one CPU-bound process on 2 cores that wait was a scheduler
 * time slice per region: 10-70x slower runs).
 *
 * A range holds one task on a calm machine: TVM's lambda then takes the task-th contiguous chunk
 * of its parallel loop, as with a static pool. When the scheduler preempts the process's threads
 * often (see PREEMPTION_RATE_PER_MS), the pool splits barrier-free regions into SPLIT tasks per
 * thread, interleaved (thread p owns tasks p, p + n, ...: a loop shorter than the task count still
 * spreads over every thread), so that a descheduled thread holds back at most one small task while
 * the others take the rest of its range, and it cuts its spinning. Kernels that call TVM's
 * parallel barrier need every task running at once: the compiler marks such artifacts
 * (RONN_ARTIFACT_FLAG_PARALLEL_BARRIER) and their regions are never split; a barrier reached in a
 * split region fails the run instead of hanging.
 *
 * While preempted often, barrier-free launches also use one thread fewer per high reading (down
 * to the launcher alone), and the whole team again after SPLIT_WINDOW launches without one and a
 * retry interval that doubles each time a retry meets the load again (see PROBE_MIN_NS): when
 * other work holds some of the CPUs, threads beyond the free ones only take turns with it, and a
 * region then waits on whichever of them was descheduled mid-task. Beside one CPU-bound process on
 * 2 cores, two threads ran slower than one (GPT-2 2-layer: 2.5 vs 2.1 ms); on a machine with
 * more CPUs than the load takes, the team settles at the free ones.
 *
 * Waits spin, then sleep. The spin budget adapts: a thread descheduled while it spun (its clock
 * jumped between two polls), or a launcher that waited long for a running task (its worker was
 * preempted), means the CPUs are oversubscribed, and spinning there only burns the CPU that the
 * thread being waited for needs; each sign quarters the budget (down to a few microseconds),
 * and it doubles back over launches that show no such sign. An idle machine shows neither sign,
 * so there the pool spins as it always did.
 * RONN_SPIN_NEVER in the session options turns spinning off.
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
#include <time.h>

#include "internal.h"
#include "platform/cpu_relax.h"

#define ERROR_CAPACITY 2048
#define MAX_THREADS 1024
/* ~0.1-1 ms of polling depending on the CPU's pause latency: long enough to bridge the gap
 * between two parallel kernels, short enough that an idle session stops burning CPU. */
#define SPIN_DEDICATED (1 << 14)
/* With more threads than CPUs, a spinning thread steals the CPU of the one it waits for. */
#define SPIN_OVERSUBSCRIBED 64
/* A spinning thread reads the clock every SPIN_CLOCK_EVERY polls (~2-40 us of pauses, depending
 * on the CPU); a gap longer than DESCHEDULED_NS between two reads means it was descheduled while
 * it spun. */
#define SPIN_CLOCK_EVERY 256
#define DESCHEDULED_NS 200000
/* A launcher that waits this long for running tasks after its own work waits for a worker that
 * was preempted mid-task (balanced chunks on free CPUs finish within ~10 us of each other). */
#define PREEMPTED_NS 500000
/* Calm launches before the spin budget doubles again: one preemption (a quarter of the budget)
 * is forgotten after 64 launches, a busy machine keeps signalling and keeps it low. */
#define SPIN_GROW_AFTER 32
/* Tasks per thread in a split region. More tasks shrink what a descheduled thread holds back but
 * cost a lambda call and a claim each. */
#define SPLIT 4
/* Whether to split is decided from how often the scheduler preempts this process's threads
 * (involuntary context switches, read every PREEMPTION_EVERY launches once PREEMPTION_MIN_NS
 * passed): beside one CPU-bound process on 2 cores, 1.2-1.7 per ms on MiniLM, EfficientNet and a
 * 0.5 ms OCR classifier; alone, 0.02-0.08 per ms. A reading above PREEMPTION_RATE_PER_MS with at
 * least PREEMPTION_MIN_COUNT preemptions splits the next SPLIT_WINDOW launches. The count matters
 * on short readings: GPT-2 2-layer, readings of ~2.5 ms at two threads, saw at most 1 preemption
 * in 99% of them alone (so 0.4/ms alone shrank its team in 9% of readings) and a median of 29
 * beside the CPU-bound process. Waits and stolen tasks were tried as the signal: they come on a calm
 * machine too (a worker woken from sleep starts late), and splitting there costs: MiniLM
 * 19 -> 22 ms. */
#define PREEMPTION_EVERY 16
#define PREEMPTION_MIN_NS 2000000
#define PREEMPTION_RATE_PER_MS 0.4
#define PREEMPTION_MIN_COUNT 4
#define SPLIT_WINDOW 256
/* A shrunk team tries the whole team again only after SPLIT_WINDOW calm launches AND probe_ns
 * since the last high reading. A shrunk team on a loaded machine reads calm (the launcher alone
 * is rarely preempted), so every retry under a load that stays costs a stalled run before the
 * next high reading shrinks the team again: retried after 256 launches, a 0.5 ms OCR classifier
 * did so every few runs (loaded mean 0.84 ms against 0.70 median). A retry that meets a high
 * reading within PROBE_FAILED_NS doubles probe_ns (up to PROBE_MAX_NS: under a lasting load the
 * retries cost < 1%, and the whole team is back within PROBE_MAX_NS after the load goes); a high
 * reading long after the last retry is a new load and starts again from PROBE_MIN_NS. */
#define PROBE_MIN_NS 20000000u
#define PROBE_MAX_NS 640000000u
#define PROBE_FAILED_NS 100000000u
/* A worker's doorbell (its `ticket`) holds the number of the last launch posted to it; this bit
 * marks a post that offers no launch (shutdown). Launch numbers stay below it (they wrap to 1). */
#define TAKEN 0x80000000u
/* A range word: the launch number (high 32 bits), then the front and back of the range (16 bits
 * each; a range holds at most SPLIT tasks). */
#define RANGE(launch, front, back) \
  (((uint64_t)(launch) << 32) | ((uint64_t)(front) << 16) | (uint64_t)(back))

typedef struct event {
  uint32_t sleepers;
  pthread_mutex_t mutex;
  pthread_cond_t cond;
} event;

typedef struct barrier {
  uint32_t count;
  uint32_t generation;
  uint32_t broken; /* a task failed: waiters must not wait for it */
  ronn_threadpool* pool; /* whose spin budget its waits use */
  event wake;
} barrier;

/* Participant p's tasks of the current launch: p + n * j for j in [front, back). */
typedef struct __attribute__((aligned(64))) range {
  uint64_t word;
} range;

typedef struct __attribute__((aligned(64))) worker {
  /* The doorbell: the number of the launch last posted to this worker. Only it waits on it. */
  uint32_t ticket;
  int32_t id;
  ronn_threadpool* pool;
  event wake;
  pthread_t thread;
} worker;

struct ronn_threadpool {
  int32_t size;
  int32_t spin;     /* the current spin budget (atomic, relaxed: it is only a hint) */
  int32_t spin_max; /* 0: never spin (RONN_SPIN_NEVER) */
  uint32_t calm;    /* launches since the last sign of oversubscription */
  uint32_t since_contended; /* launches since the preemption rate was last high (split decision) */
  uint32_t since_sample;    /* launches since the preemption count was last read */
  uint64_t sample_ns;       /* when it was read */
  uint64_t sample_preemptions; /* and what it read */
  int32_t active;   /* threads barrier-free launches use: size, fewer while preempted often */
  uint64_t probe_ns;    /* how long a shrunk team waits before retrying the whole team */
  uint64_t high_ns;     /* when the preemption rate was last high */
  uint64_t restored_ns; /* when the whole team was last retried (0: not since the last high reading) */
  int split_always; /* more threads than CPUs: every barrier-free region is split */
  int splittable;   /* the running artifact has no barrier (set by ronn_threadpool_enter) */
  uint32_t launch;  /* the current launch's number, 1..TAKEN-1 */
  int busy; /* touched only by the thread running the session */
  int shutdown;
  /* The current job: written by the launcher before it posts the tasks' tickets, read by
   * whoever claims a task (the claim's acquire pairs with the post), rewritten only after
   * every task of the launch finished. */
  ronn_parallel_lambda_fn lambda;
  void* cdata;
  ronn_parallel_env env;
  int32_t participants; /* threads the current launch is posted to, the launcher included */
  uint32_t remaining; /* tasks of the current launch that have not finished */
  event done;
  barrier sync;
  uint32_t failed;
  pthread_mutex_t error_mutex;
  char error[ERROR_CAPACITY];
  int32_t num_workers; /* started so far */
  worker* workers;     /* size - 1 entries */
  range* ranges;       /* size entries, one per participant */
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

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void spin_contended(ronn_threadpool* pool);

/* Blocks until *word == value (until_equal) or *word != value (otherwise): spins up to the
 * pool's budget (none when pool is NULL), then sleeps. */
static void event_wait(event* e, const uint32_t* word, uint32_t value, int until_equal,
                       ronn_threadpool* pool) {
  int32_t spin = pool != NULL ? __atomic_load_n(&pool->spin, __ATOMIC_RELAXED) : 0;
  uint64_t last = spin >= SPIN_CLOCK_EVERY ? now_ns() : 0;
  for (int32_t i = 1; i <= spin; ++i) {
    if (reached(word, value, until_equal, __ATOMIC_ACQUIRE)) return;
    ronn_cpu_relax();
    if (i % SPIN_CLOCK_EVERY == 0) {
      uint64_t now = now_ns();
      if (now - last > DESCHEDULED_NS) {
        spin_contended(pool);
        break;
      }
      last = now;
    }
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
  if (env->num_task > b->pool->participants) {
    /* A split region runs more tasks than threads: waiting here could wait for a task that no
     * thread can start. Only an artifact that hid its barrier from the compiler gets here. */
    ronn_error_set_message("a kernel called TVM's parallel barrier in a region split into more "
                           "tasks than threads, which the artifact did not declare "
                           "(RONN_ARTIFACT_FLAG_PARALLEL_BARRIER); recompile it with this ronn-aot");
    return -1;
  }
  if (__atomic_load_n(&b->broken, __ATOMIC_ACQUIRE)) return -1;
  uint32_t generation = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
  if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == (uint32_t)env->num_task) {
    /* The reset is published by the generation bump, before anyone can arrive again. */
    __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&b->generation, 1, __ATOMIC_SEQ_CST);
    event_notify(&b->wake);
  } else {
    event_wait(&b->wake, &b->generation, generation, 0, b->pool);
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

#ifdef RONN_TEST_HOOKS
uint32_t ronn_test_stall_worker_us;
int ronn_test_force_split;
double ronn_test_preemption_rate = -1; /* >= 0: read instead of the measured rate (per ms) */
#endif

/* Claims one task of `r` for `launch`: the front one (its owner) or the back one (a thief).
 * Returns the index j within the range, or -1 when the range is empty or belongs to another
 * launch (a thread late for an older launch must not run a newer one's task). */
static int32_t claim(range* r, uint32_t launch, int from_back) {
  uint64_t word = __atomic_load_n(&r->word, __ATOMIC_ACQUIRE);
  for (;;) {
    uint32_t front = (uint32_t)(word >> 16) & 0xffffu, back = (uint32_t)word & 0xffffu;
    if ((uint32_t)(word >> 32) != launch || front >= back) return -1;
    uint64_t next = from_back ? RANGE(launch, front, back - 1) : RANGE(launch, front + 1, back);
    if (__atomic_compare_exchange_n(&r->word, &word, next, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      return (int32_t)(from_back ? back - 1 : front);
    }
  }
}

/* Runs task `id` of the current launch; the caller claimed it, so the launch is still current.
 * After a failure the remaining tasks are only counted: the launch fails anyway. */
static void run_task(ronn_threadpool* pool, int32_t id) {
  if (!__atomic_load_n(&pool->failed, __ATOMIC_ACQUIRE)) {
    ronn_error_clear();
    if (pool->lambda(id, &pool->env, pool->cdata) != 0) record_failure(pool, id);
  }
  if (__atomic_sub_fetch(&pool->remaining, 1, __ATOMIC_SEQ_CST) == 0) {
    event_notify(&pool->done);
  }
}

/* Participant p's share of `launch`: its own range front to back, then the others' from the
 * back. Tasks taken from others are no sign of contention: a worker woken from sleep starts tens
 * of microseconds late on a calm machine, and its range is taken as readily. */
static void participate(ronn_threadpool* pool, int32_t p, int32_t n, uint32_t launch) {
  int32_t j;
  while ((j = claim(&pool->ranges[p], launch, 0)) >= 0) run_task(pool, p + n * j);
  for (int32_t k = 1; k < n; ++k) {
    int32_t q = (p + k) % n;
    while ((j = claim(&pool->ranges[q], launch, 1)) >= 0) run_task(pool, q + n * j);
  }
}

static void* worker_main(void* arg) {
  worker* self = (worker*)arg;
  ronn_threadpool* pool = self->pool;
  uint32_t seen = 0;
  for (;;) {
    event_wait(&self->wake, &self->ticket, seen, 0, pool);
#ifdef RONN_TEST_HOOKS
    uint32_t stall = __atomic_load_n(&ronn_test_stall_worker_us, __ATOMIC_RELAXED);
    if (stall != 0 && self->id == 1) {
      struct timespec delay = {(time_t)(stall / 1000000u), (long)(stall % 1000000u) * 1000};
      nanosleep(&delay, NULL);
    }
#endif
    /* The newest post: a launch this worker slept through is over (its tasks were claimed by
     * the others) and claims against it fail. The acquire pairs with the post, which followed
     * the launch's job and ranges. */
    seen = __atomic_load_n(&self->ticket, __ATOMIC_ACQUIRE);
    if (!(seen & TAKEN)) {
      /* participants is the launch's: the launcher rewrites it only after every task of the
       * launch finished, and a worker that reads a newer value fails its claims on this one. */
      int32_t n = __atomic_load_n(&pool->participants, __ATOMIC_RELAXED);
      if (self->id < n) {
        participate(pool, self->id, n, seen);
      }
    }
    /* Checked after the ticket was read: the shutdown flag is set before the last post, so a
     * worker either sees it here or finds that post unseen and comes back. Checking it before
     * the read missed the shutdown of a worker that was descheduled between the two. */
    if (__atomic_load_n(&pool->shutdown, __ATOMIC_ACQUIRE)) break;
  }
  return NULL;
}

static void post_task(worker* w, uint32_t launch) {
  __atomic_store_n(&w->ticket, launch, __ATOMIC_SEQ_CST);
  event_notify(&w->wake);
}

/* Any thread: a sign of oversubscription (see the file comment). */
static void spin_contended(ronn_threadpool* pool) {
  if (pool->spin_max == 0) return;
  __atomic_store_n(&pool->calm, 0, __ATOMIC_RELAXED);
  /* Racing updates lose one another's quarter: the budget is only a hint. spin_max is never
   * below the floor. */
  int32_t spin = __atomic_load_n(&pool->spin, __ATOMIC_RELAXED) / 4;
  if (spin < SPIN_OVERSUBSCRIBED) spin = SPIN_OVERSUBSCRIBED;
  __atomic_store_n(&pool->spin, spin, __ATOMIC_RELAXED);
}

/* The launcher, after each launch: the budget doubles back after SPIN_GROW_AFTER calm ones. */
static void spin_calm(ronn_threadpool* pool) {
  int32_t spin = __atomic_load_n(&pool->spin, __ATOMIC_RELAXED);
  if (spin >= pool->spin_max ||
      __atomic_add_fetch(&pool->calm, 1, __ATOMIC_RELAXED) < SPIN_GROW_AFTER) {
    return;
  }
  __atomic_store_n(&pool->calm, 0, __ATOMIC_RELAXED);
  spin = spin > pool->spin_max / 2 ? pool->spin_max : spin * 2;
  __atomic_store_n(&pool->spin, spin, __ATOMIC_RELAXED);
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

ronn_threadpool* ronn_threadpool_enter(ronn_threadpool* pool, int splittable) {
  pthread_once(&current_key_once, create_current_key);
  if (!current_key_ok) return NULL;
  ronn_threadpool* previous = (ronn_threadpool*)pthread_getspecific(current_key);
  if (pool != NULL) pool->splittable = splittable;
  pthread_setspecific(current_key, pool);
  return previous;
}

void ronn_threadpool_leave(ronn_threadpool* previous) {
  if (current_key_ok) pthread_setspecific(current_key, previous);
}

/* How a launch runs (see the file comment): returns the threads it uses and sets the tasks each
 * of them gets. */
static int32_t plan_launch(ronn_threadpool* pool, int num_task, int32_t* per_thread) {
  *per_thread = 1;
  /* An explicit task count is the kernel's own decomposition: keep it. */
  if (num_task > 0) return num_task > pool->size ? pool->size : num_task;
  if (!pool->splittable) return pool->size;
#ifdef RONN_TEST_HOOKS
  if (__atomic_load_n(&ronn_test_force_split, __ATOMIC_RELAXED)) {
    *per_thread = SPLIT;
    return pool->size;
  }
#endif
  if (pool->split_always) {
    *per_thread = SPLIT;
    return pool->size;
  }
  /* Only the launching thread touches the sampling state. */
  if (++pool->since_sample >= PREEMPTION_EVERY) {
    uint64_t now = now_ns();
    if (now - pool->sample_ns >= PREEMPTION_MIN_NS) {
      uint64_t preemptions = ronn_platform_preemptions();
      uint64_t count = preemptions - pool->sample_preemptions;
      double per_ms = (double)count * 1e6 / (double)(now - pool->sample_ns);
#ifdef RONN_TEST_HOOKS
      if (ronn_test_preemption_rate >= 0) {
        per_ms = ronn_test_preemption_rate;
        count = per_ms > PREEMPTION_RATE_PER_MS ? PREEMPTION_MIN_COUNT : 0;
      }
#endif
      if (pool->sample_ns != 0 && count >= PREEMPTION_MIN_COUNT && per_ms > PREEMPTION_RATE_PER_MS) {
        if (pool->restored_ns != 0 && now - pool->restored_ns < PROBE_FAILED_NS) {
          pool->probe_ns = pool->probe_ns * 2 < PROBE_MAX_NS ? pool->probe_ns * 2 : PROBE_MAX_NS;
        } else if (pool->restored_ns != 0 || pool->active == pool->size) {
          pool->probe_ns = PROBE_MIN_NS;
        }
        pool->restored_ns = 0;
        pool->high_ns = now;
        pool->since_contended = 0;
        spin_contended(pool); /* spinning there takes the CPU from the thread it waits for */
        /* The next reading covers the smaller team alone (it restarts below). */
        if (pool->active > 1) --pool->active;
      }
      pool->sample_ns = now;
      pool->sample_preemptions = preemptions;
    }
    pool->since_sample = 0;
  }
  if (pool->since_contended >= SPLIT_WINDOW) {
    if (pool->active == pool->size) return pool->size;
    uint64_t now = now_ns();
    if (now - pool->high_ns >= pool->probe_ns) {
      pool->active = pool->size;
      pool->restored_ns = now;
      return pool->size;
    }
    /* Still shrunk: keep splitting what the smaller team runs. */
    *per_thread = SPLIT;
    return pool->active;
  }
  ++pool->since_contended;
  *per_thread = SPLIT;
  return pool->active;
}

int ronn_parallel_launch_hook(ronn_parallel_lambda_fn lambda, void* cdata, int num_task) {
  ronn_threadpool* pool = NULL;
  pthread_once(&current_key_once, create_current_key);
  if (current_key_ok) pool = (ronn_threadpool*)pthread_getspecific(current_key);
  if (pool == NULL || pool->busy || pool->size == 1 || num_task == 1) {
    return run_serial(lambda, cdata);
  }
  /* One task per thread on a calm machine: TVM's lambda takes the task-th contiguous chunk of
   * its parallel loop, so consecutive kernels hand each thread the same part of the tensors it
   * just wrote. Chunks claimed from one shared counter (2 to 8 per thread) evened out the
   * threads' finishing times (~13 us apart per launch) but lost that locality: light ResNet-50
   * 41.8 -> 43.5-44.1 ms on AVX2. Hence ranges owned per thread, and splitting only where the
   * machine is oversubscribed. */
  int32_t per_thread;
  int32_t n = plan_launch(pool, num_task, &per_thread);
  if (n == 1) return run_serial(lambda, cdata);
  int32_t tasks = n * per_thread;
  uint32_t launch = pool->launch + 1 < TAKEN ? pool->launch + 1 : 1;
  pool->launch = launch;
  pool->busy = 1;
  pool->lambda = lambda;
  pool->cdata = cdata;
  pool->env.sync_handle = &pool->sync;
  __atomic_store_n(&pool->env.num_task, tasks, __ATOMIC_RELAXED);
  __atomic_store_n(&pool->participants, n, __ATOMIC_RELAXED);
  /* Published by the posts below. No task of the previous launch is still inside the barrier:
   * all of them returned before it completed. */
  __atomic_store_n(&pool->sync.count, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&pool->sync.broken, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&pool->failed, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&pool->remaining, (uint32_t)tasks, __ATOMIC_RELAXED);
  for (int32_t p = 0; p < n; ++p) {
    __atomic_store_n(&pool->ranges[p].word, RANGE(launch, 0, per_thread), __ATOMIC_RELAXED);
  }
  for (int32_t i = 1; i < n; ++i) post_task(&pool->workers[i - 1], launch);
  /* Stealing cannot deadlock a kernel that uses TVM's barrier: such a region is not split, and
   * a thread steals only after its own task returned, i.e. after every task of the launch
   * reached every barrier, so every task is claimed by then and there is nothing left to take. */
  uint64_t started = now_ns();
  participate(pool, 0, n, launch);
  if (__atomic_load_n(&pool->remaining, __ATOMIC_ACQUIRE) != 0) {
    /* Waiting only for tasks that run: a wait that is long, and long against the launcher's own
     * share (static chunks of a long region finish a few percent apart on free CPUs), means their
     * thread was preempted. */
    uint64_t waiting = now_ns();
    event_wait(&pool->done, &pool->remaining, 0, 1, pool);
    uint64_t waited = now_ns() - waiting;
    if (waited > PREEMPTED_NS && waited > (waiting - started) / 2) spin_contended(pool);
  }
  if (pool->spin_max > 0) spin_calm(pool);
  pool->busy = 0;
  if (__atomic_load_n(&pool->failed, __ATOMIC_ACQUIRE)) {
    /* Error messages are thread-local: hand the failing task's message to the launching
     * thread, where the session looks for it once the kernel returns. */
    ronn_error_set_message(pool->error);
    return -1;
  }
  return 0;
}

int32_t ronn_threadpool_size(const ronn_threadpool* pool) { return pool->size; }

static void stop_workers(ronn_threadpool* pool) {
  __atomic_store_n(&pool->shutdown, 1, __ATOMIC_SEQ_CST);
  /* A taken ticket that differs from the last one wakes the worker and offers no task. */
  for (int32_t i = 0; i < pool->num_workers; ++i) {
    post_task(&pool->workers[i], (pool->launch + 1) | TAKEN);
  }
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
  free(pool->ranges);
  free(pool);
}

ronn_status* ronn_threadpool_create(int32_t num_threads, int32_t spin, ronn_threadpool** out_pool) {
  *out_pool = NULL;
  int32_t cpus = ronn_platform_num_cpus();
  if (num_threads < 0) {
    return ronn_make_status(RONN_INVALID_ARGUMENT,
                            "num_threads is %d: pass 0 (one per CPU) or a positive count",
                            (int)num_threads);
  }
  if (spin != RONN_SPIN_AUTO && spin != RONN_SPIN_NEVER && spin != RONN_SPIN_ALWAYS) {
    return ronn_make_status(RONN_INVALID_ARGUMENT,
                            "spin is %d: pass RONN_SPIN_AUTO (0), RONN_SPIN_NEVER (1) or "
                            "RONN_SPIN_ALWAYS (2)",
                            (int)spin);
  }
  int32_t size = num_threads == 0 ? cpus : num_threads;
  if (size > MAX_THREADS) size = MAX_THREADS;
  ronn_threadpool* pool = (ronn_threadpool*)calloc(1, sizeof *pool);
  void* workers = NULL;
  void* ranges = NULL;
  if (pool == NULL ||
      (size > 1 && posix_memalign(&workers, 64, sizeof(worker) * (size_t)(size - 1)) != 0) ||
      posix_memalign(&ranges, 64, sizeof(range) * (size_t)size) != 0) {
    free(workers);
    free(pool);
    return ronn_status_out_of_memory();
  }
  memset(ranges, 0, sizeof(range) * (size_t)size);
  pool->ranges = (range*)ranges;
  pool->split_always = size > cpus;
  pool->since_contended = SPLIT_WINDOW;
  pool->size = size;
  pool->active = size;
  pool->probe_ns = PROBE_MIN_NS;
  pool->spin_max = spin == RONN_SPIN_NEVER ? 0 : size <= cpus ? SPIN_DEDICATED : SPIN_OVERSUBSCRIBED;
  pool->spin = pool->spin_max;
  pool->workers = (worker*)workers;
  pool->sync.pool = pool;
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
