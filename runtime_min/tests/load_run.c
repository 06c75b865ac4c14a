/* A test driver for sanitizer and leak runs (make check-asan, check-valgrind, the fuzzers): loads
 * each artifact named on the command line, creates a session, runs it on inputs it makes from the
 * model's own descriptions, and releases everything, `--cycles` times over. Any status is an
 * acceptable outcome (corrupted artifacts are expected to be refused); what it exists for is the
 * sanitizer or valgrind watching it. Prints one line per artifact: its path and OK or the first
 * status code name. Exit code: 0, or 1 when --expect-ok and some artifact failed, 2 on usage.
 *
 *   load_run [--cycles N] [--runs N] [--threads N] [--trusted-key PUB]... [--require-signature]
 *            [--no-verify] [--expect-ok] ARTIFACT... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ronn/runtime.h"

#define MAX_KEYS 8

typedef struct settings {
  long cycles, runs, threads;
  ronn_public_key keys[MAX_KEYS];
  size_t num_keys;
  int require_signature, verify, expect_ok;
} settings;

static size_t element_count(const ronn_tensor_info* info) {
  size_t count = 1;
  for (int32_t d = 0; d < info->ndim; ++d) count *= (size_t)info->shape[d];
  return count;
}

/* Floats get small values of both signs; integers zero, a valid index for any gather. */
static void fill(void* data, const ronn_tensor_info* info, unsigned seed) {
  memset(data, 0, info->nbytes);
  if (info->dtype.code != 2 || info->dtype.lanes != 1) return;
  size_t count = element_count(info);
  for (size_t i = 0; i < count && info->dtype.bits == 32; ++i) {
    seed = seed * 1103515245u + 12345u;
    ((float*)data)[i] = (float)((int)(seed >> 16 & 0xff) - 128) / 64.0f;
  }
}

static void* aligned_buffer(uint64_t nbytes) {
  void* p = NULL;
  if (posix_memalign(&p, 64, nbytes > 0 ? (size_t)nbytes : 64) != 0) return NULL;
  return p;
}

/* Returns NULL or the first failure; everything allocated is released on every path. */
static ronn_status* run_once(ronn_model* model, const settings* s, unsigned seed) {
  size_t ni = ronn_model_num_inputs(model), no = ronn_model_num_outputs(model);
  ronn_tensor* inputs = (ronn_tensor*)calloc(ni + 1, sizeof *inputs);
  ronn_tensor* outputs = (ronn_tensor*)calloc(no + 1, sizeof *outputs);
  ronn_session* session = NULL;
  ronn_session_options options;
  ronn_session_options_initialize(&options);
  options.num_threads = (int32_t)s->threads;
  ronn_status* status = ronn_session_create(model, &options, &session);
  for (size_t i = 0; status == NULL && i < ni + no; ++i) {
    ronn_tensor_info info;
    int is_input = i < ni;
    status = is_input ? ronn_model_input_info(model, i, &info)
                      : ronn_model_output_info(model, i - ni, &info);
    if (status != NULL) break;
    ronn_tensor* t = is_input ? &inputs[i] : &outputs[i - ni];
    t->name = is_input ? info.name : NULL;
    t->dtype = info.dtype;
    t->ndim = info.ndim;
    t->shape = info.shape;
    t->data = aligned_buffer(info.nbytes);
    if (t->data == NULL) {
      fprintf(stderr, "load_run: cannot allocate %llu bytes\n", (unsigned long long)info.nbytes);
      exit(3);
    }
    if (is_input) fill(t->data, &info, seed + (unsigned)i);
  }
  for (long r = 0; status == NULL && r < s->runs; ++r) {
    status = ronn_session_run(session, inputs, ni, outputs, no);
  }
  for (size_t i = 0; i < ni; ++i) free(inputs[i].data);
  for (size_t i = 0; i < no; ++i) free(outputs[i].data);
  free(inputs);
  free(outputs);
  ronn_session_release(session);
  return status;
}

static int check(const char* path, const settings* s) {
  ronn_model_options options;
  ronn_model_options_initialize(&options);
  options.verify_integrity = s->verify;
  options.require_signature = s->require_signature;
  if (s->num_keys > 0) {
    options.trusted_keys = s->keys;
    options.num_trusted_keys = s->num_keys;
  }
  ronn_status* status = NULL;
  for (long c = 0; status == NULL && c < s->cycles; ++c) {
    ronn_model* model = NULL;
    status = ronn_model_load(path, &options, &model);
    if (status == NULL) status = run_once(model, s, (unsigned)c);
    ronn_model_release(model);
  }
  printf("%s: %s\n", path, ronn_status_code_name(ronn_status_get_code(status)));
  fflush(stdout); /* a supervisor blames the first artifact without a line when this process dies */
  int ok = status == NULL;
  ronn_status_free(status);
  return ok;
}

static long count(const char* text) {
  char* end = NULL;
  long value = strtol(text, &end, 10);
  return end != text && *end == '\0' && value >= 0 ? value : -1;
}

int main(int argc, char** argv) {
  settings s;
  memset(&s, 0, sizeof s);
  s.cycles = 1;
  s.runs = 1;
  s.threads = 2;
  s.verify = 1;
  int first = argc, failures = 0;
  for (int i = 1; i < argc && first == argc; ++i) {
    long* target = strcmp(argv[i], "--cycles") == 0    ? &s.cycles
                   : strcmp(argv[i], "--runs") == 0    ? &s.runs
                   : strcmp(argv[i], "--threads") == 0 ? &s.threads
                                                       : NULL;
    if (target != NULL) {
      if (i + 1 >= argc || (*target = count(argv[++i])) < 0) return 2;
    } else if (strcmp(argv[i], "--trusted-key") == 0) {
      if (i + 1 >= argc || s.num_keys == MAX_KEYS) return 2;
      ronn_status* status = ronn_public_key_read(argv[++i], &s.keys[s.num_keys++]);
      if (status != NULL) {
        fprintf(stderr, "load_run: %s\n", ronn_status_get_message(status));
        ronn_status_free(status);
        return 2;
      }
    } else if (strcmp(argv[i], "--require-signature") == 0) {
      s.require_signature = 1;
    } else if (strcmp(argv[i], "--no-verify") == 0) {
      s.verify = 0;
    } else if (strcmp(argv[i], "--expect-ok") == 0) {
      s.expect_ok = 1;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "load_run: unknown option %s\n", argv[i]);
      return 2;
    } else {
      first = i;
    }
  }
  for (int i = first; i < argc; ++i) failures += !check(argv[i], &s);
  return s.expect_ok && failures > 0 ? 1 : 0;
}
