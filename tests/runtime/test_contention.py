"""The thread pool under contention: tasks are claimed, so a launch completes without a worker that
does not run, a late worker never runs a newer launch's task with an older job, a region split into
more tasks than threads lets the others take a stalled worker's tasks, and many consecutive launches
(with and without TVM's barrier, split or not, spinning or not) neither hang nor give wrong results.

A C driver links the runtime's static library from a test build (-DRONN_TEST_HOOKS, whose hooks
make worker 1 sleep before it joins a launch, as a descheduled worker would, and force regions to
be split) and calls the launch and barrier hooks the way TVM-compiled kernels do."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ronn_runtime
from make_fixture import reference
from runtime_helpers import RUNTIME_DIR, RuntimeBuild, make_runtime, random_input

DRIVER = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define MAX_TASKS 64
#define N 4096

typedef struct job {
  uint32_t runs[MAX_TASKS];      /* how often each task ran */
  pthread_t thread[MAX_TASKS];   /* which thread ran it */
  int num_task;                  /* the launch's task count, as the tasks saw it */
  float src[N], mid[N], dst[N];
} job;

static pthread_t launcher;
static uint32_t stall_in_task_us;  /* worker threads sleep this long in their first task */
static __thread long last_stalled = -1;
static long current_launch;

static int fail(const char* what, long launch) {
  fprintf(stderr, "launch %ld: %s\n", launch, what);
  exit(1);
}

static void chunk(int task, int tasks, int* begin, int* end) {
  int size = (N + tasks - 1) / tasks;
  *begin = task * size;
  *end = *begin + size < N ? *begin + size : N;
}

/* A worker preempted in the middle of a task: the others should take the rest of its range. */
static void stall_in_task(void) {
  long launch = __atomic_load_n(&current_launch, __ATOMIC_RELAXED);
  if (stall_in_task_us == 0 || pthread_equal(pthread_self(), launcher) || last_stalled == launch) return;
  last_stalled = launch;
  struct timespec delay = {0, (long)stall_in_task_us * 1000};
  nanosleep(&delay, NULL);
}

/* Barrier-free: dst = 3 * src over this task's chunk. */
static int plain(int task, ronn_parallel_env* env, void* cdata) {
  job* j = (job*)cdata;
  int b, e;
  if (task >= MAX_TASKS) return -1;
  __atomic_store_n(&j->num_task, env->num_task, __ATOMIC_RELAXED);
  stall_in_task();
  chunk(task, env->num_task, &b, &e);
  for (int i = b; i < e; ++i) j->dst[i] = 3.0f * j->src[i];
  __atomic_add_fetch(&j->runs[task], 1, __ATOMIC_RELAXED);
  j->thread[task] = pthread_self();
  return 0;
}

/* Two phases: the second reads what other tasks wrote in the first (wrong without the barrier). */
static int phased(int task, ronn_parallel_env* env, void* cdata) {
  job* j = (job*)cdata;
  int b, e;
  if (task >= MAX_TASKS) return -1;
  __atomic_store_n(&j->num_task, env->num_task, __ATOMIC_RELAXED);
  chunk(task, env->num_task, &b, &e);
  for (int i = b; i < e; ++i) j->mid[i] = 2.0f * j->src[i];
  if (ronn_parallel_barrier_hook(task, env) != 0) return -1;
  for (int i = b; i < e; ++i) j->dst[i] = j->mid[N - 1 - i];
  if (ronn_parallel_barrier_hook(task, env) != 0) return -1;
  __atomic_add_fetch(&j->runs[task], 1, __ATOMIC_RELAXED);
  j->thread[task] = pthread_self();
  return 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* usage: driver THREADS LAUNCHES STALL_US MODE(plain|phased) SPLIT(0|1) [STALL_IN_TASK_US]
 * Prints how many of the workers' tasks the launcher ran, the total ms, how many launches ran as
 * one task and the last launch's task count. With SPLIT, regions are split (a barrier in one must
 * fail the launch, reported as "barrier-refused"). RONN_TEST_RATE=R makes the pool read R
 * preemptions per ms for the first RONN_TEST_RATE_LAUNCHES launches (all by default), 0 after,
 * after a pause of RONN_TEST_RATE_PAUSE_MS; with RONN_TEST_RATE_WHOLE=1 the rate is R only after
 * launches that used more than one thread (a load on the other CPU: the launcher alone is rarely
 * preempted). RONN_TEST_GAP_US is serial work between launches.
 * Also prints how often a launch used more threads than the one before it had (team regrowths). */
int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) return 2;
  int threads = atoi(argv[1]);
  long launches = atol(argv[2]);
  ronn_test_stall_worker_us = (uint32_t)atoi(argv[3]);
  int phases = strcmp(argv[4], "phased") == 0;
  ronn_test_force_split = atoi(argv[5]);
  stall_in_task_us = argc == 7 ? (uint32_t)atoi(argv[6]) : 0;
  launcher = pthread_self();
  const char* rate = getenv("RONN_TEST_RATE");
  const char* rate_launches = getenv("RONN_TEST_RATE_LAUNCHES");
  long rate_until = rate_launches != NULL ? atol(rate_launches) : launches;
  if (rate != NULL) ronn_test_preemption_rate = atof(rate);
  const char* pause = getenv("RONN_TEST_RATE_PAUSE_MS");
  const char* gap = getenv("RONN_TEST_GAP_US");
  long gap_us = gap != NULL ? atol(gap) : 0;
  const char* whole = getenv("RONN_TEST_RATE_WHOLE");
  int rate_whole = whole != NULL && strcmp(whole, "1") == 0;
  long serial = 0, regrowths = 0;
  int previous_tasks = threads;
  int tasks = 0;
  ronn_threadpool* pool = NULL;
  /* The library reads no environment: RONN_SPIN=0 is applied here, as the tools apply it. */
  const char* spin = getenv("RONN_SPIN");
  int32_t mode = spin != NULL && strcmp(spin, "0") == 0 ? RONN_SPIN_NEVER : RONN_SPIN_AUTO;
  ronn_status* status = ronn_threadpool_create(threads, mode, &pool);
  if (status != NULL) fail(ronn_status_get_message(status), -1);
  /* A barrier artifact is not splittable; forcing a split on one checks the refusal. */
  ronn_threadpool_enter(pool, !phases || ronn_test_force_split);
  /* Two jobs used in turn: a late worker that ran an older launch's task would change the job
   * that is not current, which is checked after every launch. */
  static job jobs[2];
  long stolen = 0;
  double start = now_ms();
  for (long l = 0; l < launches; ++l) {
    job* j = &jobs[l % 2];
    job* other = &jobs[(l + 1) % 2];
    memset(j->runs, 0, sizeof j->runs);
    for (int i = 0; i < N; ++i) j->src[i] = (float)((l * 7 + i) % 1000);
    uint32_t other_runs[MAX_TASKS];
    memcpy(other_runs, other->runs, sizeof other_runs);
    __atomic_store_n(&current_launch, l, __ATOMIC_RELAXED);
    if (rate != NULL && l == rate_until) {
      ronn_test_preemption_rate = 0;
      long pause_ms = pause != NULL ? atol(pause) : 0;
      struct timespec delay = {(time_t)(pause_ms / 1000), (pause_ms % 1000) * 1000000L};
      if (pause_ms > 0) nanosleep(&delay, NULL);
    }
    if (gap_us > 0) {
      double until = now_ms() + gap_us / 1e3;
      while (now_ms() < until) {
      }
    }
    int rc = ronn_parallel_launch_hook(phases ? phased : plain, j, 0);
    if (rc != 0 && phases && ronn_test_force_split) {
      const char* message = ronn_error_get();
      if (message == NULL || strstr(message, "barrier") == NULL) fail("no message on the refusal", l);
      printf("barrier-refused\n");
      return 0;
    }
    if (rc != 0) fail("the launch failed", l);
    tasks = j->num_task;
    /* Fewer tasks than threads only as one task: a team shrunk to the launcher alone. */
    if ((tasks < threads && tasks != 1) || tasks > MAX_TASKS) fail("unexpected task count", l);
    serial += tasks == 1;
    regrowths += tasks > previous_tasks;
    if (rate != NULL && rate_whole && l < rate_until) ronn_test_preemption_rate = tasks > 1 ? atof(rate) : 0;
    previous_tasks = tasks;
    if (ronn_test_force_split && !phases && tasks == threads) fail("the region was not split", l);
    for (int t = 0; t < tasks; ++t) {
      if (j->runs[t] != 1) fail("a task did not run exactly once", l);
      /* Thread p owns tasks p, p + threads, ... */
      if (t % threads != 0 && pthread_equal(j->thread[t], pthread_self())) ++stolen;
    }
    for (int i = 0; i < N; ++i) {
      float want = phases ? 2.0f * j->src[N - 1 - i] : 3.0f * j->src[i];
      if (j->dst[i] != want) fail("wrong result", l);
    }
    if (memcmp(other_runs, other->runs, sizeof other_runs) != 0) fail("an older job ran again", l);
  }
  double ms = now_ms() - start;
  ronn_threadpool_leave(NULL);
  ronn_threadpool_destroy(pool);
  printf("%ld %.3f %ld %d %ld\n", stolen, ms, serial, tasks, regrowths);
  return 0;
}
"""


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stress driver, linked against a test build of the runtime (with RONN_TEST_HOOKS)."""
    out = tmp_path_factory.mktemp("contention")
    build: RuntimeBuild = make_runtime(out / "build", "CFLAGS=-O2 -DRONN_TEST_HOOKS")
    source = out / "driver.c"
    source.write_text(DRIVER)
    exe = out / "driver"
    cmd = ["gcc", "-std=c99", "-O2", "-D_POSIX_C_SOURCE=200809L", "-DRONN_TEST_HOOKS",
           f"-I{RUNTIME_DIR / 'include'}", f"-I{RUNTIME_DIR / 'src'}", str(source), str(build.static_library),
           "-o", str(exe), "-lpthread", "-ldl", "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return exe


def run_driver(exe: Path, threads: int, launches: int, stall_us: int, mode: str, split: bool = False,
               stall_in_task_us: int = 0, env: dict[str, str] | None = None) -> tuple[int, float, int, int]:
    """Runs the driver; returns how many of the workers' tasks the launcher ran, the total ms, how
    many launches ran as one task and the last launch's task count."""
    args = [str(exe), str(threads), str(launches), str(stall_us), mode, str(int(split)), str(stall_in_task_us)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"driver failed: {proc.stderr}"
    stolen, ms, serial, last, _ = proc.stdout.split()
    return int(stolen), float(ms), int(serial), int(last)


def regrowths(exe: Path, launches: int, env: dict[str, str]) -> int:
    """How often a two-thread team grew back from the launcher alone over `launches` plain ones."""
    args = [str(exe), "2", str(launches), "0", "plain", "0", "0"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert proc.returncode == 0, f"driver failed: {proc.stderr}"
    return int(proc.stdout.split()[4])


def drive(exe: Path, threads: int, launches: int, stall_us: int, mode: str, split: bool = False,
          stall_in_task_us: int = 0, env: dict[str, str] | None = None) -> tuple[int, float]:
    """Runs the driver; returns how many of the workers' tasks the launcher ran and the total ms."""
    return run_driver(exe, threads, launches, stall_us, mode, split, stall_in_task_us, env)[:2]


def test_a_stalled_worker_does_not_stall_barrier_free_launches(driver: Path) -> None:
    # Worker 1 sleeps 20 ms before every claim: waiting for it, 200 launches would take >= 4 s.
    stolen, ms = drive(driver, 2, 200, 20_000, "plain")
    assert stolen >= 190, f"the launcher ran only {stolen} of worker 1's 200 tasks"
    assert ms < 2000, f"200 launches took {ms:.0f} ms: they waited for the stalled worker"


def test_a_stalled_worker_still_completes_launches_with_barriers(driver: Path) -> None:
    # With a barrier nothing can be taken over: every launch waits for worker 1, and completes.
    stolen, ms = drive(driver, 2, 20, 2_000, "phased")
    assert stolen == 0
    assert ms >= 20 * 2, "the barrier did not wait for the stalled worker"


def test_a_split_region_loses_only_the_task_a_stalled_worker_is_in(driver: Path) -> None:
    # Worker 1 sleeps 20 ms inside its first task of every launch: the launcher runs the other
    # tasks of worker 1's range (3 of 4 per launch) instead of leaving them to it.
    stolen, _ = drive(driver, 2, 20, 0, "plain", split=True, stall_in_task_us=20_000)
    assert stolen >= 20 * 3 - 2, f"the launcher ran {stolen} of worker 1's tasks over 20 launches"


def test_a_barrier_in_a_split_region_fails_instead_of_hanging(driver: Path) -> None:
    proc = subprocess.run([str(driver), "2", "3", "0", "phased", "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "barrier-refused"


@pytest.mark.parametrize("mode,split", [("plain", False), ("plain", True), ("phased", False)])
@pytest.mark.parametrize("threads", [2, 4])
@pytest.mark.parametrize("spin", ["1", "0"])
def test_many_consecutive_launches(driver: Path, mode: str, split: bool, threads: int, spin: str) -> None:
    drive(driver, threads, 5_000, 0, mode, split, env={"RONN_SPIN": spin})


@pytest.mark.parametrize("split", [False, True])
def test_stalls_of_a_few_microseconds_mix_claims_and_takeovers(driver: Path, split: bool) -> None:
    # Worker 1 arrives at every point of a launch: before, during and after the others' claims.
    for stall_us in (1, 5, 20):
        drive(driver, 3, 2_000, stall_us, "plain", split)
        drive(driver, 3, 2_000, 0, "plain", split, stall_in_task_us=stall_us)
        if not split:
            drive(driver, 3, 500, stall_us, "phased")


def test_a_preempted_team_shrinks_to_the_launcher_and_grows_back(driver: Path) -> None:
    # The pool reads a high preemption rate for the first 3,000 launches (readings come every 16
    # launches once 2 ms passed): barrier-free launches soon run as one task on the launcher, with
    # right results; once the readings are calm for 256 launches and the retry interval (at most
    # 640 ms; the pause is longer) has passed, the whole team is back.
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: a two-thread pool splits every region (more threads than CPUs)")
    env = {"RONN_TEST_RATE": "5", "RONN_TEST_RATE_LAUNCHES": "3000", "RONN_TEST_RATE_PAUSE_MS": "700"}
    _, _, serial, last = run_driver(driver, 2, 3_600, 0, "plain", env=env)
    assert last == 2, f"the last launch ran {last} tasks: the team did not grow back"
    # Each launch takes ~1-5 us here: the first readings (2 ms apart) come within ~2,000 launches.
    assert serial >= 500, f"only {serial} of 3,000 preempted launches ran on the launcher alone"
    _, _, serial, last = run_driver(driver, 2, 2_000, 0, "plain", env={"RONN_TEST_RATE": "0"})
    assert serial == 0 and last == 2, "a calm pool ran launches on the launcher alone"
    # A barrier artifact keeps its whole team: its regions need every task running at once.
    _, _, serial, _ = run_driver(driver, 2, 2_000, 0, "phased", env={"RONN_TEST_RATE": "5"})
    assert serial == 0


def test_retries_of_the_whole_team_back_off_under_a_lasting_load(driver: Path) -> None:
    # Preempted often for ~0.6 s of launches 300 us apart: a shrunk team reads calm (the launcher
    # alone), so it retries the whole team, meets the load again and shrinks. Retried after a fixed
    # 256 launches that was ~8 retries, each costing a stalled run on a loaded machine; with the
    # interval doubling from 20 ms it is at most ~5 (20 + 40 + 80 + 160 + 320 ms).
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: a two-thread pool splits every region (more threads than CPUs)")
    grown = regrowths(driver, 2_000, {"RONN_TEST_RATE": "5", "RONN_TEST_RATE_WHOLE": "1",
                                        "RONN_TEST_GAP_US": "300"})
    assert 1 <= grown <= 5, f"the team grew back {grown} times under a load that lasted"


def test_session_without_spinning_matches_numpy(fixture_so: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RONN_SPIN", "0")  # read when the session is created
    x = random_input()
    want_y, want_z = reference(x)
    with ronn_runtime.InferenceSession(fixture_so, num_threads=2) as sess:
        for _ in range(200):
            y, z, info = sess.run(None, {"x": x})
            np.testing.assert_allclose(y, want_y, rtol=1e-6)
            np.testing.assert_allclose(z, want_z, rtol=1e-6)
    assert info[0] == 2 and info[1] == 0b11
