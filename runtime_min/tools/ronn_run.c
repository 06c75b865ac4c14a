/* ronn-run: load a ronn-aot artifact, run it on .npy inputs, print or save the outputs.
 * Uses only the public runtime API. Exit codes: 0 ok, 2 usage, 3 load/artifact error,
 * 4 input error, 5 run error. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "npy.h"
#include "ronn/artifact_abi.h"
#include "ronn/runtime.h"

enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_LOAD = 3, EXIT_INPUT = 4, EXIT_RUN = 5 };

#define PREVIEW_VALUES 8
#define MAX_TRUSTED_KEYS 64

static const char usage_text[] =
    "usage: ronn-run MODEL.so [--input NAME=FILE.npy]... [--output-dir DIR] [--threads N]\n"
    "                [--spin auto|on|off]\n"
    "                [--repeat N] [--info] [--trusted-key PUB]... [--require-signature]\n"
    "                [--route auto|fast|full]\n"
    "  --input NAME=FILE  bind graph input NAME to a .npy file (FILE alone: by position)\n"
    "  --output-dir DIR   write each output to DIR/<name>.npy\n"
    "  --threads N        worker threads including the caller (0: one per CPU, default)\n"
    "  --spin MODE        how waiting threads wait: auto (spin briefly, less on a busy\n"
    "                     machine; RONN_SPIN=0 turns it off), on, or off (sleep at once,\n"
    "                     for CPUs shared with other work)\n"
    "  --repeat N         run N times and print min/median latency\n"
    "  --info             print the model's inputs, outputs and metadata, then exit\n"
    "  --trusted-key PUB  load only artifacts signed by this Ed25519 public key (a KEY.pub\n"
    "                     of `ronn-aot keygen`); repeat for several keys\n"
    "  --require-signature  refuse unsigned artifacts (also: RONN_REQUIRE_SIGNATURE=1;\n"
    "                     RONN_TRUSTED_KEYS=A.pub:B.pub applies without --trusted-key)\n"
    "  --route R          dual artifacts (ronn-aot compile --dual): auto (default: the\n"
    "                     calibrated router), fast (System 1) or full (System 2); prints\n"
    "                     which system answered and how many runs each answered\n"
    "environment: RONN_PROFILE=1 prints per-step times at the end; RONN_HUGE_PAGES=0 keeps\n"
    "  weights and arena off huge pages; RONN_SPIN=0 makes --spin auto sleep at once\n"
    "exit codes: 0 ok, 2 usage, 3 load/artifact error, 4 input error, 5 run error\n";

typedef struct options {
  const char* model;
  const char** input_args;
  int num_inputs;
  const char* output_dir;
  long threads;
  int spin; /* a ronn_spin_mode */
  long repeat;
  int repeat_given;
  int info;
  const char** key_args;
  int num_keys;
  int require_signature;
  int32_t route; /* ronn_route */
} options;

/* The library reads no environment variable: the RONN_* ones are applied here, over the options.
 * An unset or empty variable leaves `fallback`; "0" is off, anything else on. */
static int env_flag(const char* name, int fallback) {
  const char* value = getenv(name);
  if (value == NULL || *value == '\0') return fallback;
  return strcmp(value, "0") != 0;
}

static int usage_error(const char* message, const char* detail) {
  fprintf(stderr, "ronn-run: %s%s\n%s", message, detail != NULL ? detail : "", usage_text);
  return EXIT_USAGE;
}

static int parse_count(const char* text, long minimum, long* out) {
  char* end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || value < minimum || value > 1000000000L) {
    return 1;
  }
  *out = value;
  return 0;
}

/* Accepts "--flag value" and "--flag=value"; returns the value or NULL. */
static const char* option_value(int argc, char** argv, int* i, const char* flag) {
  size_t length = strlen(flag);
  if (strncmp(argv[*i], flag, length) != 0) return NULL;
  if (argv[*i][length] == '=') return argv[*i] + length + 1;
  if (argv[*i][length] != '\0') return NULL;
  if (*i + 1 >= argc) return "";
  return argv[++*i];
}

static int parse_args(int argc, char** argv, options* opts) {
  memset(opts, 0, sizeof *opts);
  opts->repeat = 1;
  opts->input_args = (const char**)calloc((size_t)argc, sizeof(char*));
  opts->key_args = (const char**)calloc((size_t)argc, sizeof(char*));
  if (opts->input_args == NULL || opts->key_args == NULL) return usage_error("out of memory", NULL);
  for (int i = 1; i < argc; ++i) {
    const char* value;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      fputs(usage_text, stdout);
      exit(EXIT_OK);
    } else if ((value = option_value(argc, argv, &i, "--input")) != NULL) {
      if (*value == '\0') return usage_error("--input needs NAME=FILE.npy", NULL);
      opts->input_args[opts->num_inputs++] = value;
    } else if ((value = option_value(argc, argv, &i, "--output-dir")) != NULL) {
      if (*value == '\0') return usage_error("--output-dir needs a directory", NULL);
      opts->output_dir = value;
    } else if ((value = option_value(argc, argv, &i, "--spin")) != NULL) {
      if (strcmp(value, "auto") == 0) {
        opts->spin = RONN_SPIN_AUTO;
      } else if (strcmp(value, "on") == 0) {
        opts->spin = RONN_SPIN_ALWAYS;
      } else if (strcmp(value, "off") == 0) {
        opts->spin = RONN_SPIN_NEVER;
      } else {
        return usage_error("--spin needs auto, on or off, got ", value);
      }
    } else if ((value = option_value(argc, argv, &i, "--threads")) != NULL) {
      if (parse_count(value, 0, &opts->threads)) {
        return usage_error("--threads needs a count >= 0, got ", value);
      }
    } else if ((value = option_value(argc, argv, &i, "--repeat")) != NULL) {
      if (parse_count(value, 1, &opts->repeat)) {
        return usage_error("--repeat needs a count >= 1, got ", value);
      }
      opts->repeat_given = 1;
    } else if (strcmp(argv[i], "--info") == 0) {
      opts->info = 1;
    } else if ((value = option_value(argc, argv, &i, "--trusted-key")) != NULL) {
      if (*value == '\0') return usage_error("--trusted-key needs a public key file", NULL);
      if (opts->num_keys == MAX_TRUSTED_KEYS) return usage_error("too many --trusted-key", NULL);
      opts->key_args[opts->num_keys++] = value;
    } else if ((value = option_value(argc, argv, &i, "--route")) != NULL) {
      if (strcmp(value, "auto") == 0) {
        opts->route = RONN_ROUTE_AUTO;
      } else if (strcmp(value, "fast") == 0) {
        opts->route = RONN_ROUTE_FAST;
      } else if (strcmp(value, "full") == 0) {
        opts->route = RONN_ROUTE_FULL;
      } else {
        return usage_error("--route needs auto, fast or full, got ", value);
      }
    } else if (strcmp(argv[i], "--require-signature") == 0) {
      opts->require_signature = 1;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      return usage_error("unknown option ", argv[i]);
    } else if (opts->model == NULL) {
      opts->model = argv[i];
    } else {
      return usage_error("more than one model given: ", argv[i]);
    }
  }
  if (opts->model == NULL) return usage_error("no model given", NULL);
  return EXIT_OK;
}

static int report(const char* what, ronn_status* status, int exit_code) {
  fprintf(stderr, "ronn-run: %s: %s: %s\n", what,
          ronn_status_code_name(ronn_status_get_code(status)), ronn_status_get_message(status));
  ronn_status_free(status);
  return exit_code;
}

static void format_dtype(ronn_dtype dtype, char* out, size_t size) {
  const char* name = npy_dtype_name(dtype);
  if (name != NULL) {
    snprintf(out, size, "%s", name);
  } else if (dtype.code == RONN_DTYPE_BFLOAT && dtype.bits == 16 && dtype.lanes == 1) {
    snprintf(out, size, "bfloat16");
  } else {
    snprintf(out, size, "dtype(code=%u,bits=%u,lanes=%u)", dtype.code, dtype.bits, dtype.lanes);
  }
}

static void print_shape(FILE* out, int32_t ndim, const int64_t* shape) {
  fputc('[', out);
  for (int32_t d = 0; d < ndim; ++d) fprintf(out, d > 0 ? ",%lld" : "%lld", (long long)shape[d]);
  fputc(']', out);
}

static void print_info_line(const ronn_tensor_info* info) {
  char dtype[48];
  format_dtype(info->dtype, dtype, sizeof dtype);
  printf("  %s: ", info->name);
  print_shape(stdout, info->ndim, info->shape);
  printf(" %s\n", dtype);
}

static void print_info(const char* path, const ronn_model* model) {
  ronn_tensor_info info;
  printf("model: %s\ninputs:\n", path);
  for (size_t i = 0; i < ronn_model_num_inputs(model); ++i) {
    ronn_status_free(ronn_model_input_info(model, i, &info));
    print_info_line(&info);
  }
  printf("outputs:\n");
  for (size_t i = 0; i < ronn_model_num_outputs(model); ++i) {
    ronn_status_free(ronn_model_output_info(model, i, &info));
    print_info_line(&info);
  }
  printf("arena: %llu bytes\nmetadata: %s\n", (unsigned long long)ronn_model_arena_size(model),
         ronn_model_metadata_json(model));
}

static double half_to_double(uint16_t h) {
  int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  double value;
  if (exponent == 0) {
    value = mantissa / 16777216.0; /* subnormal: mantissa * 2^-24 */
  } else if (exponent == 31) {
    value = mantissa ? NAN : INFINITY;
  } else {
    value = (1.0 + mantissa / 1024.0) * (double)(1u << exponent) / 32768.0;
  }
  return (h & 0x8000) ? -value : value;
}

static void print_value(ronn_dtype dtype, const unsigned char* p) {
  if (dtype.code == RONN_DTYPE_FLOAT || dtype.code == RONN_DTYPE_BFLOAT) {
    double value = 0;
    if (dtype.code == RONN_DTYPE_BFLOAT) {
      uint32_t bits = (uint32_t)(p[0] | p[1] << 8) << 16;
      float f;
      memcpy(&f, &bits, 4);
      value = f;
    } else if (dtype.bits == 16) {
      value = half_to_double((uint16_t)(p[0] | p[1] << 8));
    } else if (dtype.bits == 32) {
      float f;
      memcpy(&f, p, 4);
      value = f;
    } else {
      memcpy(&value, p, 8);
    }
    printf("%.6g", value);
  } else if (dtype.code == RONN_DTYPE_BOOL) {
    printf(*p ? "true" : "false");
  } else {
    uint64_t raw = 0;
    memcpy(&raw, p, dtype.bits / 8); /* little-endian */
    if (dtype.code == RONN_DTYPE_INT && dtype.bits < 64 && (raw >> (dtype.bits - 1)) & 1) {
      raw |= ~(uint64_t)0 << dtype.bits; /* sign-extend */
    }
    if (dtype.code == RONN_DTYPE_INT) {
      printf("%lld", (long long)(int64_t)raw);
    } else {
      printf("%llu", (unsigned long long)raw);
    }
  }
}

static void print_output(const ronn_tensor_info* info, const void* data) {
  char dtype[48];
  format_dtype(info->dtype, dtype, sizeof dtype);
  printf("%s: shape ", info->name);
  print_shape(stdout, info->ndim, info->shape);
  printf(" %s\n  [", dtype);
  size_t element = (size_t)info->dtype.bits * info->dtype.lanes / 8;
  uint64_t count = element > 0 ? info->nbytes / element : 0;
  for (uint64_t i = 0; i < count && i < PREVIEW_VALUES; ++i) {
    if (i > 0) printf(", ");
    print_value(info->dtype, (const unsigned char*)data + i * element);
  }
  printf(count > PREVIEW_VALUES ? ", ...] (%llu values)\n" : "]\n", (unsigned long long)count);
}

/* Output names come from the ONNX graph: a '/' (common in exported names) must not reach the
 * file system as a directory separator. Only path separators and control characters are
 * replaced, so `<name with / replaced by _>.npy` is the predictable file name. */
static void file_name_for(const char* name, size_t index, const ronn_tensor_info* outputs,
                          char* out, size_t size) {
  size_t n = 0;
  for (const char* c = name; *c != '\0' && n + 24 < size; ++c) {
    out[n++] = (*c == '/' || *c == '\\' || (unsigned char)*c < 0x20) ? '_' : *c;
  }
  if (n == 0) out[n++] = '_';
  out[n] = '\0';
  /* Two names may map to the same file: later ones get their index appended. */
  for (size_t j = 0; j < index; ++j) {
    char other[256];
    file_name_for(outputs[j].name, 0, outputs, other, sizeof other);
    if (strcmp(other, out) == 0) {
      snprintf(out + n, size - n, "_%zu", index);
      break;
    }
  }
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_doubles(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

typedef struct run_state {
  npy_array* arrays;
  ronn_tensor* inputs;
  ronn_tensor_info* output_info;
  ronn_tensor* outputs;
  double* latencies;
  ronn_session* session;
} run_state;

static int read_inputs(const options* opts, run_state* st) {
  for (int i = 0; i < opts->num_inputs; ++i) {
    const char* arg = opts->input_args[i];
    const char* equals = strchr(arg, '=');
    const char* path = equals != NULL ? equals + 1 : arg;
    char error[512];
    if (npy_read(path, &st->arrays[i], error, sizeof error) != 0) {
      fprintf(stderr, "ronn-run: input '%s': %s: %s\n", arg, path, error);
      return EXIT_INPUT;
    }
    ronn_tensor* t = &st->inputs[i];
    /* Cut the name off in place: argv strings are writable. */
    if (equals != NULL) *(char*)equals = '\0';
    t->name = equals != NULL ? arg : NULL;
    t->data = st->arrays[i].data;
    t->dtype = st->arrays[i].dtype;
    t->ndim = st->arrays[i].ndim;
    t->shape = st->arrays[i].shape;
  }
  return EXIT_OK;
}

static int prepare_outputs(ronn_model* model, run_state* st) {
  size_t count = ronn_model_num_outputs(model);
  for (size_t o = 0; o < count; ++o) {
    ronn_tensor_info* info = &st->output_info[o];
    ronn_status_free(ronn_model_output_info(model, o, info));
    void* data = NULL;
    if (info->nbytes > SIZE_MAX - 64 ||
        posix_memalign(&data, 64, info->nbytes > 0 ? (size_t)info->nbytes : 1) != 0) {
      fprintf(stderr, "ronn-run: out of memory for output '%s'\n", info->name);
      return EXIT_RUN;
    }
    st->outputs[o].name = info->name;
    st->outputs[o].data = data;
    st->outputs[o].dtype = info->dtype;
    st->outputs[o].ndim = info->ndim;
    st->outputs[o].shape = info->shape;
  }
  return EXIT_OK;
}

static int write_outputs(const options* opts, size_t count, const run_state* st) {
  if (mkdir(opts->output_dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "ronn-run: cannot create output directory '%s': %s\n", opts->output_dir,
            strerror(errno));
    return EXIT_RUN;
  }
  for (size_t o = 0; o < count; ++o) {
    const ronn_tensor_info* info = &st->output_info[o];
    char file[256], path[4096], error[256];
    file_name_for(info->name, o, st->output_info, file, sizeof file);
    snprintf(path, sizeof path, "%s/%s.npy", opts->output_dir, file);
    if (npy_write(path, info->dtype, info->ndim, info->shape, st->outputs[o].data, info->nbytes,
                  error, sizeof error) != 0) {
      fprintf(stderr, "ronn-run: output '%s': %s: %s\n", info->name, path, error);
      return EXIT_RUN;
    }
  }
  return EXIT_OK;
}

static int run_model(const options* opts, ronn_model* model, run_state* st) {
  size_t num_outputs = ronn_model_num_outputs(model);
  int code = read_inputs(opts, st);
  if (code == EXIT_OK) code = prepare_outputs(model, st);
  if (code != EXIT_OK) return code;
  ronn_session_options session_options;
  ronn_session_options_initialize(&session_options);
  session_options.num_threads = (int32_t)opts->threads;
  session_options.spin = opts->spin;
  if (opts->spin == RONN_SPIN_AUTO && !env_flag("RONN_SPIN", 1)) session_options.spin = RONN_SPIN_NEVER;
  session_options.huge_pages = env_flag("RONN_HUGE_PAGES", session_options.huge_pages);
  session_options.profile = env_flag("RONN_PROFILE", session_options.profile);
  ronn_status* status = ronn_session_create(model, &session_options, &st->session);
  if (status != NULL) return report("cannot create a session", status, EXIT_RUN);
  ronn_run_options run_options;
  ronn_run_options_initialize(&run_options);
  run_options.route = opts->route;
  for (long r = 0; r < opts->repeat; ++r) {
    double start = now_ms();
    status = ronn_session_run_with_options(st->session, &run_options, st->inputs,
                                           (size_t)opts->num_inputs, st->outputs, num_outputs);
    st->latencies[r] = now_ms() - start;
    if (status != NULL) {
      int input_error = ronn_status_get_code(status) == RONN_INVALID_ARGUMENT;
      return report("run failed", status, input_error ? EXIT_INPUT : EXIT_RUN);
    }
  }
  for (size_t o = 0; o < num_outputs; ++o) print_output(&st->output_info[o], st->outputs[o].data);
  if (ronn_model_is_dual(model)) {
    ronn_route_stats stats;
    status = ronn_session_route_stats(st->session, &stats);
    if (status != NULL) return report("cannot read the route counters", status, EXIT_RUN);
    printf("answered by: %s; runs answered by System 1 %llu, by System 2 %llu (%llu escalated)\n",
           stats.last_route == RONN_ROUTE_FAST ? "System 1 (fast)" : "System 2 (full)",
           (unsigned long long)stats.fast_runs, (unsigned long long)stats.full_runs,
           (unsigned long long)stats.escalated_runs);
  }
  if (opts->repeat_given) {
    qsort(st->latencies, (size_t)opts->repeat, sizeof(double), compare_doubles);
    size_t n = (size_t)opts->repeat;
    double median = n % 2 ? st->latencies[n / 2]
                          : (st->latencies[n / 2 - 1] + st->latencies[n / 2]) / 2;
    printf("latency over %zu runs: min %.3f ms, median %.3f ms\n", n, st->latencies[0], median);
  }
  if (opts->output_dir != NULL) return write_outputs(opts, num_outputs, st);
  return EXIT_OK;
}

/* The keys named in RONN_TRUSTED_KEYS (paths separated by ':'): the device-wide policy that
 * applies when the command line names no key. *out_keys is to free() (NULL when unset). */
static ronn_status* read_env_keys(ronn_public_key** out_keys, size_t* out_count) {
  *out_keys = NULL;
  *out_count = 0;
  const char* list = getenv("RONN_TRUSTED_KEYS");
  if (list == NULL || *list == '\0') return NULL;
  size_t capacity = 1;
  for (const char* c = list; *c; ++c) capacity += *c == ':';
  char* copy = strdup(list);
  *out_keys = (ronn_public_key*)calloc(capacity, sizeof(ronn_public_key));
  if (copy == NULL || *out_keys == NULL) {
    free(copy);
    fprintf(stderr, "ronn-run: out of memory\n");
    exit(EXIT_LOAD);
  }
  ronn_status* status = NULL;
  char* save = NULL;
  for (char* path = strtok_r(copy, ":", &save); path != NULL && status == NULL;
       path = strtok_r(NULL, ":", &save)) {
    status = ronn_public_key_read(path, &(*out_keys)[*out_count]);
    if (status == NULL) ++*out_count;
  }
  if (status != NULL) fprintf(stderr, "ronn-run: a key named in RONN_TRUSTED_KEYS cannot be read\n");
  free(copy);
  return status;
}

/* Loads the model under the signature options; the keys are only needed during the load. */
static ronn_status* load_model(const options* opts, ronn_model** out_model) {
  ronn_model_options model_options;
  ronn_model_options_initialize(&model_options);
  model_options.require_signature =
      opts->require_signature || env_flag("RONN_REQUIRE_SIGNATURE", 0); /* it only tightens */
  model_options.huge_pages = env_flag("RONN_HUGE_PAGES", model_options.huge_pages);
  ronn_public_key keys[MAX_TRUSTED_KEYS];
  size_t num_keys = (size_t)opts->num_keys;
  ronn_status* status = NULL;
  for (int k = 0; k < opts->num_keys && status == NULL; ++k) {
    status = ronn_public_key_read(opts->key_args[k], &keys[k]);
  }
  ronn_public_key* env_keys = NULL;
  if (opts->num_keys == 0) status = read_env_keys(&env_keys, &num_keys);
  if (num_keys > 0) {
    model_options.trusted_keys = env_keys != NULL ? env_keys : keys;
    model_options.num_trusted_keys = num_keys;
  }
  if (status == NULL) status = ronn_model_load(opts->model, &model_options, out_model);
  free(env_keys);
  return status;
}

static void free_options(options* opts) {
  free(opts->input_args);
  free(opts->key_args);
}

int main(int argc, char** argv) {
  options opts;
  int code = parse_args(argc, argv, &opts);
  if (code != EXIT_OK) {
    free_options(&opts);
    return code;
  }
  ronn_model* model = NULL;
  ronn_status* status = load_model(&opts, &model);
  if (status != NULL) {
    free_options(&opts);
    return report("cannot load model", status, EXIT_LOAD);
  }
  if (opts.info) {
    print_info(opts.model, model);
  } else {
    size_t num_outputs = ronn_model_num_outputs(model);
    run_state st;
    st.arrays = (npy_array*)calloc((size_t)opts.num_inputs + 1, sizeof(npy_array));
    st.inputs = (ronn_tensor*)calloc((size_t)opts.num_inputs + 1, sizeof(ronn_tensor));
    st.output_info = (ronn_tensor_info*)calloc(num_outputs + 1, sizeof(ronn_tensor_info));
    st.outputs = (ronn_tensor*)calloc(num_outputs + 1, sizeof(ronn_tensor));
    st.latencies = (double*)calloc((size_t)opts.repeat, sizeof(double));
    st.session = NULL;
    if (st.arrays == NULL || st.inputs == NULL || st.output_info == NULL || st.outputs == NULL ||
        st.latencies == NULL) {
      fprintf(stderr, "ronn-run: out of memory\n");
      code = EXIT_RUN;
    } else {
      code = run_model(&opts, model, &st);
    }
    ronn_session_release(st.session);
    for (int i = 0; st.arrays != NULL && i < opts.num_inputs; ++i) npy_free(&st.arrays[i]);
    for (size_t o = 0; st.outputs != NULL && o < num_outputs; ++o) free(st.outputs[o].data);
    free(st.arrays);
    free(st.inputs);
    free(st.output_info);
    free(st.outputs);
    free(st.latencies);
  }
  ronn_model_release(model);
  free_options(&opts);
  return code;
}
