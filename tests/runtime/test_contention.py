"""The thread pool under contention: tasks are claimed, so a launch completes without a worker that
does not run, a late worker never runs a newer launch's task with an older job, and many consecutive
launches (with and without TVM's barrier, spinning or not) neither hang nor give wrong results.

A C driver links the runtime's static library from a test build (-DRONN_TEST_HOOKS, whose hook
makes worker 1 sleep before each claim, as a descheduled worker would) and calls the launch and
barrier hooks the way TVM-compiled kernels do."""

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

#define MAX_TASKS 8
#define N 4096

typedef struct job {
  uint32_t runs[MAX_TASKS];      /* how often each task ran */
  pthread_t thread[MAX_TASKS];   /* which thread ran it */
  float src[N], mid[N], dst[N];
} job;

static int fail(const char* what, long launch) {
  fprintf(stderr, "launch %ld: %s\n", launch, what);
  exit(1);
}

static void chunk(int task, int tasks, int* begin, int* end) {
  int size = (N + tasks - 1) / tasks;
  *begin = task * size;
  *end = *begin + size < N ? *begin + size : N;
}

/* Barrier-free: dst = 3 * src over this task's chunk. */
static int plain(int task, ronn_parallel_env* env, void* cdata) {
  job* j = (job*)cdata;
  int b, e;
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

/* usage: driver THREADS LAUNCHES STALL_US MODE(plain|phased) */
int main(int argc, char** argv) {
  if (argc != 5) return 2;
  int threads = atoi(argv[1]);
  long launches = atol(argv[2]);
  ronn_test_stall_worker_us = (uint32_t)atoi(argv[3]);
  int phases = strcmp(argv[4], "phased") == 0;
  ronn_threadpool* pool = NULL;
  /* The library reads no environment: RONN_SPIN=0 is applied here, as the tools apply it. */
  const char* spin = getenv("RONN_SPIN");
  int32_t mode = spin != NULL && strcmp(spin, "0") == 0 ? RONN_SPIN_NEVER : RONN_SPIN_AUTO;
  ronn_status* status = ronn_threadpool_create(threads, mode, &pool);
  if (status != NULL) fail(ronn_status_get_message(status), -1);
  ronn_threadpool_enter(pool);
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
    int rc = ronn_parallel_launch_hook(phases ? phased : plain, j, 0);
    if (rc != 0) fail("the launch failed", l);
    for (int t = 0; t < threads; ++t) {
      if (j->runs[t] != 1) fail("a task did not run exactly once", l);
      if (t > 0 && pthread_equal(j->thread[t], pthread_self())) ++stolen;
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
  printf("%ld %.3f\n", stolen, ms);
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


def drive(exe: Path, threads: int, launches: int, stall_us: int, mode: str,
          env: dict[str, str] | None = None) -> tuple[int, float]:
    """Runs the driver; returns how many tasks the launcher took over and the total ms."""
    proc = subprocess.run([str(exe), str(threads), str(launches), str(stall_us), mode], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"driver failed: {proc.stderr}"
    stolen, ms = proc.stdout.split()
    return int(stolen), float(ms)


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


@pytest.mark.parametrize("mode", ["plain", "phased"])
@pytest.mark.parametrize("threads", [2, 4])
@pytest.mark.parametrize("spin", ["1", "0"])
def test_many_consecutive_launches(driver: Path, mode: str, threads: int, spin: str) -> None:
    drive(driver, threads, 5_000, 0, mode, {"RONN_SPIN": spin})


def test_stalls_of_a_few_microseconds_mix_claims_and_takeovers(driver: Path) -> None:
    # Worker 1 arrives at every point of a launch: before, during and after the launcher's claim.
    for stall_us in (1, 5, 20):
        drive(driver, 3, 2_000, stall_us, "plain")
        drive(driver, 3, 500, stall_us, "phased")


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
