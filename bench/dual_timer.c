/* Per-input latency of artifacts over many distinct inputs, in C (no Python between runs): the
 * driver behind `python -m bench.dual` (which compiles it against runtime_min's library and runs
 * one artifact per process: sessions of several artifacts in one process disturb one another's
 * timings, see bench/dual.py's _c_timing).
 *
 *   dual_timer THREADS PASSES WARMUP INPUTS.f32 N OUT_PREFIX BLOCK ARTIFACT[@route]...
 *
 * INPUTS.f32: N inputs of the artifacts' one float32 input, back to back. route: auto, fast or
 * full (dual artifacts), none for a plain artifact. Every artifact gets its own session of
 * THREADS threads. Each pass walks the inputs in blocks of BLOCK; every block runs through each
 * artifact in turn, one run per input, timed alone with CLOCK_MONOTONIC, and the artifacts'
 * order rotates from block to block: a burst of other work on a shared machine lands on all of
 * them alike and no artifact always runs first (on a busy machine the first of a round measured
 * up to 1.6x slower than the same artifact later in it). Before each artifact's block: 2 ms of
 * sleep (the previous session's workers stop spinning) and one untimed run (this session's
 * workers awake); without them the plain BitNet artifact measured 0.68x fp32 and the same plan in
 * the dual artifact 0.38x in one run, depending on which session ran before it. Prints per round (pass, block) and
 * artifact the mean ms per input ("round R artifact K mean_ms M"), then each artifact's route
 * counts; writes OUT_PREFIX.<k>.argmax (int32 argmax of output 0 per input, last pass) and
 * OUT_PREFIX.<k>.ms (float64 ms per input, all passes). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ronn/runtime.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void* aligned64(size_t nbytes) {
  void* p = NULL;
  if (posix_memalign(&p, 64, nbytes < 64 ? 64 : nbytes) != 0) {
    fprintf(stderr, "dual_timer: out of memory\n");
    exit(1);
  }
  return p;
}

static void die(ronn_status* status, const char* what) {
  if (status == NULL) return;
  fprintf(stderr, "dual_timer: %s: %s\n", what, ronn_status_get_message(status));
  exit(1);
}

typedef struct {
  ronn_model* model;
  ronn_session* session;
  ronn_run_options run;
  ronn_tensor input, output;
  float* out;
  size_t out_count;
  int32_t* argmax;
  double* ms;
  uint64_t fast_runs, full_runs, escalated_runs;
} system_t;

int main(int argc, char** argv) {
  if (argc < 9) {
    fprintf(stderr, "usage: dual_timer THREADS PASSES WARMUP INPUTS.f32 N OUT_PREFIX BLOCK ARTIFACT[@route]...\n");
    return 2;
  }
  int threads = atoi(argv[1]), passes = atoi(argv[2]), warmup = atoi(argv[3]);
  const char* inputs_path = argv[4];
  size_t n = (size_t)atol(argv[5]);
  const char* prefix = argv[6];
  size_t block = (size_t)atol(argv[7]);
  if (block == 0 || block > n) block = n;
  int count = argc - 8;
  system_t* sys = calloc((size_t)count, sizeof *sys);
  uint64_t in_bytes = 0;
  const int64_t* in_shape = NULL;
  int32_t in_ndim = 0;
  for (int k = 0; k < count; ++k) {
    char path[4096];
    snprintf(path, sizeof path, "%s", argv[8 + k]);
    char* at = strrchr(path, '@');
    ronn_run_options_initialize(&sys[k].run);
    if (at != NULL) {
      *at = '\0';
      const char* r = at + 1;
      sys[k].run.route = !strcmp(r, "auto") ? RONN_ROUTE_AUTO : !strcmp(r, "fast") ? RONN_ROUTE_FAST
                         : !strcmp(r, "full") ? RONN_ROUTE_FULL : RONN_ROUTE_DEFAULT;
    }
    ronn_model_options mo;
    ronn_model_options_initialize(&mo);
    die(ronn_model_load(path, &mo, &sys[k].model), path);
    ronn_session_options so;
    ronn_session_options_initialize(&so);
    so.num_threads = threads;
    die(ronn_session_create(sys[k].model, &so, &sys[k].session), "session");
    ronn_tensor_info ii, oi;
    die(ronn_model_input_info(sys[k].model, 0, &ii), "input info");
    die(ronn_model_output_info(sys[k].model, 0, &oi), "output info");
    if (k == 0) {
      in_bytes = ii.nbytes;
      in_shape = ii.shape;
      in_ndim = ii.ndim;
    } else if (ii.nbytes != in_bytes) {
      fprintf(stderr, "dual_timer: %s takes a different input than %s\n", path, argv[8]);
      return 1;
    }
    sys[k].out_count = oi.nbytes / 4;
    sys[k].out = aligned64(oi.nbytes);
    sys[k].input = (ronn_tensor){NULL, NULL, ii.dtype, ii.ndim, ii.shape};
    sys[k].output = (ronn_tensor){NULL, sys[k].out, oi.dtype, oi.ndim, oi.shape};
    sys[k].argmax = calloc(n, sizeof(int32_t));
    sys[k].ms = calloc(n * (size_t)passes, sizeof(double));
  }
  (void)in_shape;
  (void)in_ndim;
  size_t stride = (size_t)(in_bytes + 63) / 64 * 64; /* each input 64-byte aligned: read in place */
  uint8_t* xs = aligned64(stride * n);
  FILE* f = fopen(inputs_path, "rb");
  if (f == NULL) {
    perror(inputs_path);
    return 1;
  }
  for (size_t i = 0; i < n; ++i) {
    if (fread(xs + i * stride, 1, in_bytes, f) != in_bytes) {
      fprintf(stderr, "dual_timer: %s holds fewer than %zu inputs of %llu bytes\n", inputs_path, n,
              (unsigned long long)in_bytes);
      return 1;
    }
  }
  fclose(f);
  for (int k = 0; k < count; ++k) {
    for (int w = 0; w < warmup; ++w) {
      sys[k].input.data = xs + (size_t)w % n * stride;
      die(ronn_session_run_with_options(sys[k].session, &sys[k].run, &sys[k].input, 1, &sys[k].output, 1),
          "warm-up run");
    }
  }
  size_t blocks = (n + block - 1) / block, round = 0;
  for (int p = 0; p < passes; ++p) {
    for (size_t b = 0; b < blocks; ++b, ++round) {
      size_t begin = b * block, end = begin + block < n ? begin + block : n;
      for (int j = 0; j < count; ++j) {
        int k = (int)((round + (size_t)j) % (size_t)count);
        system_t* s = &sys[k];
        /* Let the previous artifact's pool stop spinning (each session has its own workers: one
         * still spinning steals a core from this one's first runs), then one untimed run wakes
         * this artifact's workers and caches, as in a process that runs one model. */
        struct timespec gap = {0, 2000000};
        nanosleep(&gap, NULL);
        s->input.data = xs + begin * stride;
        die(ronn_session_run_with_options(s->session, &s->run, &s->input, 1, &s->output, 1), "run");
        ronn_route_stats at_start;
        memset(&at_start, 0, sizeof at_start);
        ronn_session_route_stats(s->session, &at_start);
        double total = 0;
        for (size_t i = begin; i < end; ++i) {
          s->input.data = xs + i * stride;
          double t0 = now_ms();
          ronn_status* st = ronn_session_run_with_options(s->session, &s->run, &s->input, 1, &s->output, 1);
          double t = now_ms() - t0;
          die(st, "run");
          s->ms[(size_t)p * n + i] = t;
          total += t;
          size_t best = 0;
          for (size_t c = 1; c < s->out_count; ++c) {
            if (s->out[c] > s->out[best]) best = c;
          }
          s->argmax[i] = (int32_t)best;
        }
        ronn_route_stats at_end;
        memset(&at_end, 0, sizeof at_end);
        ronn_session_route_stats(s->session, &at_end);
        s->fast_runs += at_end.fast_runs - at_start.fast_runs; /* the timed runs' routes only */
        s->full_runs += at_end.full_runs - at_start.full_runs;
        s->escalated_runs += at_end.escalated_runs - at_start.escalated_runs;
        printf("round %zu artifact %d mean_ms %.6f\n", round, k, total / (double)(end - begin));
      }
    }
  }
  for (int k = 0; k < count; ++k) {
    printf("artifact %d fast %llu full %llu escalated %llu\n", k, (unsigned long long)sys[k].fast_runs,
           (unsigned long long)sys[k].full_runs, (unsigned long long)sys[k].escalated_runs);
    char path[4096];
    snprintf(path, sizeof path, "%s.%d.argmax", prefix, k);
    FILE* o = fopen(path, "wb");
    fwrite(sys[k].argmax, sizeof(int32_t), n, o);
    fclose(o);
    snprintf(path, sizeof path, "%s.%d.ms", prefix, k);
    o = fopen(path, "wb");
    fwrite(sys[k].ms, sizeof(double), n * (size_t)passes, o);
    fclose(o);
    ronn_session_release(sys[k].session);
    ronn_model_release(sys[k].model);
  }
  return 0;
}
