/* Sessions: the arena, the thread pool and the kernel arguments are prepared once at creation;
 * a run only checks the caller's tensors, points the graph inputs/outputs at them (or at their
 * staging areas) and walks the steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include "device.h"
#include "router.h"

struct ronn_session {
  ronn_model* model;
  ronn_threadpool* pool;
  uint8_t* arena;
  ronn_dl_tensor* tensors; /* one per plan tensor, passed to kernels by pointer */
  ronn_ffi_any* args;      /* every KERNEL step's arguments, back to back */
  size_t* step_args;       /* per step: index of its first argument in `args` */
  uint32_t* io_tensors;    /* ids of the tensors stored in caller buffers */
  size_t num_io_tensors;
  uint8_t** io_base;       /* per graph input then output: the buffer used in this run */
  const ronn_tensor** bound_inputs; /* per graph input: the caller tensor bound to it */
  const ronn_device_ops* device_ops; /* artifacts with device kernels: their device (device.h) */
  ronn_device_session* device;       /* owned, with device_ops; NULL for CPU artifacts */
  ronn_device_memory device_memory;
  uint64_t* profile_ns;    /* options.profile set: per step, nanoseconds summed over runs */
  uint64_t profile_runs;
  int owns_pool;           /* 0 for System 1's session, which runs on its dual parent's pool */
  ronn_session* fast;      /* dual artifacts: the session running System 1's plan (owned) */
  ronn_route_stats route_stats;
};

/* ---- profiling (options.profile): per-step wall time, printed when the session is released ---- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The steps by time, slowest first (a selection sort: plans have at most a few hundred steps and
 * this runs once), so the table reads as "where the time goes". */
static void print_profile(const ronn_session* session) {
  const ronn_plan* plan = &session->model->plan;
  uint32_t n = plan->header->num_steps;
  uint64_t total = 0;
  for (uint32_t s = 0; s < n; ++s) total += session->profile_ns[s];
  if (session->profile_runs == 0 || total == 0) return;
  double runs = (double)session->profile_runs;
  fprintf(stderr, "ronn profile: %llu runs, %.3f ms per run in %u steps\n",
          (unsigned long long)session->profile_runs, (double)total / runs / 1e6, n);
  fprintf(stderr, "%6s %10s %6s  %s\n", "step", "ms/run", "%", "kernel");
  uint8_t* shown = (uint8_t*)calloc(n + 1, 1);
  if (shown == NULL) return;
  for (uint32_t k = 0; k < n; ++k) {
    uint32_t best = n;
    for (uint32_t s = 0; s < n; ++s) {
      if (!shown[s] && (best == n || session->profile_ns[s] > session->profile_ns[best])) best = s;
    }
    shown[best] = 1;
    const ronn_plan_step_v1* step = &plan->steps[best];
    fprintf(stderr, "%6u %10.4f %6.2f  %s\n", best, (double)session->profile_ns[best] / runs / 1e6,
            100.0 * (double)session->profile_ns[best] / (double)total,
            step->kind == RONN_STEP_COPY ? "(copy)" : ronn_plan_string(plan, step->name));
  }
  free(shown);
}

void ronn_session_options_initialize(ronn_session_options* out_options) {
  memset(out_options, 0, sizeof *out_options);
  out_options->num_threads = 0;
  out_options->spin = RONN_SPIN_AUTO;
  out_options->huge_pages = 1;
  out_options->profile = 0;
}

void ronn_session_release(ronn_session* session) {
  if (session == NULL) return;
  if (session->profile_ns != NULL) {
    print_profile(session);
    free(session->profile_ns);
  }
  ronn_session_release(session->fast);
  if (session->device_ops != NULL) session->device_ops->session_release(session->device);
  if (session->owns_pool) ronn_threadpool_destroy(session->pool);
  free(session->arena);
  free(session->tensors);
  free(session->args);
  free(session->step_args);
  free(session->io_tensors);
  free(session->io_base);
  free(session->bound_inputs);
  ronn_model_release(session->model);
  free(session);
}

static void prepare_tensors(ronn_session* session) {
  const ronn_plan* plan = &session->model->plan;
  for (uint32_t i = 0; i < plan->header->num_tensors; ++i) {
    const ronn_plan_tensor_v1* t = &plan->tensors[i];
    ronn_dl_tensor* d = &session->tensors[i];
    d->device.device_type = RONN_DL_CPU;
    d->ndim = t->ndim;
    d->dtype.code = t->dtype_code;
    d->dtype.bits = t->dtype_bits;
    d->dtype.lanes = t->dtype_lanes;
    /* DLPack's shape is not const; kernels only read it, and the plan outlives the session. */
    d->shape = (int64_t*)(uintptr_t)(plan->shapes + t->shape);
    if (t->storage == RONN_STORAGE_ARENA) {
      d->data = session->arena + t->offset;
    } else if (t->storage == RONN_STORAGE_WEIGHTS) {
      d->data = (void*)(uintptr_t)(session->model->weights + t->offset);
    } else if (ronn_storage_on_device(t->storage)) {
      /* Device addresses: only kernels and the device's copies dereference them. */
      const ronn_device_memory* memory = &session->device_memory;
      d->device.device_type = (int32_t)session->device_ops->device_type;
      d->device.device_id = memory->device_id;
      d->data = (t->storage == RONN_STORAGE_DEVICE_ARENA ? memory->arena : memory->weights) +
                t->offset;
    } else {
      session->io_tensors[session->num_io_tensors++] = i;
    }
  }
  size_t next = 0;
  for (uint32_t s = 0; s < plan->header->num_steps; ++s) {
    const ronn_plan_step_v1* step = &plan->steps[s];
    session->step_args[s] = next;
    if (step->kind != RONN_STEP_KERNEL) continue;
    for (uint32_t a = 0; a < step->num_args; ++a, ++next) {
      ronn_ffi_any* any = &session->args[next];
      any->type_index = RONN_FFI_TYPE_DLTENSOR_PTR;
      any->v.v_ptr = &session->tensors[plan->args[step->args + a]];
    }
  }
}

/* `pool` NULL: the session starts its own; else it runs on `pool` (owned by the caller). */
static ronn_status* create_session(ronn_model* model, const ronn_session_options* options,
                                   ronn_threadpool* pool, ronn_session** out_session);

ronn_status* ronn_session_create(ronn_model* model, const ronn_session_options* options,
                                 ronn_session** out_session) {
  return create_session(model, options, NULL, out_session);
}

static ronn_status* create_session(ronn_model* model, const ronn_session_options* options,
                                   ronn_threadpool* pool, ronn_session** out_session) {
  if (out_session == NULL || model == NULL) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "ronn_session_create: model or out_session "
                                                   "is NULL");
  }
  *out_session = NULL;
  ronn_session_options defaults;
  if (options == NULL) {
    ronn_session_options_initialize(&defaults);
    options = &defaults;
  }
  const ronn_plan_header_v1* h = model->plan.header;
  if (h->arena_size > SIZE_MAX - RONN_ALIGNMENT) {
    return ronn_make_status(RONN_OUT_OF_MEMORY, "the model's %llu-byte arena does not fit in "
                            "this address space", (unsigned long long)h->arena_size);
  }
  size_t total_args = 0;
  for (uint32_t s = 0; s < h->num_steps; ++s) {
    if (model->plan.steps[s].kind == RONN_STEP_KERNEL) total_args += model->plan.steps[s].num_args;
  }
  ronn_session* session = (ronn_session*)calloc(1, sizeof *session);
  if (session == NULL) return ronn_status_out_of_memory();
  ronn_model_retain(model);
  session->model = model;
  size_t num_io = (size_t)h->num_inputs + h->num_outputs;
  size_t arena_bytes = h->arena_size > 0 ? (size_t)h->arena_size : RONN_ALIGNMENT;
  session->arena = (uint8_t*)ronn_platform_arena_alloc(arena_bytes, options->huge_pages);
  session->tensors = (ronn_dl_tensor*)calloc((size_t)h->num_tensors + 1, sizeof(ronn_dl_tensor));
  session->args = (ronn_ffi_any*)calloc(total_args + 1, sizeof(ronn_ffi_any));
  session->step_args = (size_t*)calloc((size_t)h->num_steps + 1, sizeof(size_t));
  session->io_tensors = (uint32_t*)calloc((size_t)h->num_tensors + 1, sizeof(uint32_t));
  session->io_base = (uint8_t**)calloc(num_io + 1, sizeof(uint8_t*));
  session->bound_inputs = (const ronn_tensor**)calloc((size_t)h->num_inputs + 1,
                                                      sizeof(ronn_tensor*));
  if (session->arena == NULL || session->tensors == NULL || session->args == NULL ||
      session->step_args == NULL || session->io_tensors == NULL || session->io_base == NULL ||
      session->bound_inputs == NULL) {
    ronn_session_release(session);
    return ronn_make_status(RONN_OUT_OF_MEMORY,
                            "out of memory creating a session (arena of %llu bytes)",
                            (unsigned long long)h->arena_size);
  }
  if (options->profile) {
    session->profile_ns = (uint64_t*)calloc((size_t)h->num_steps + 1, sizeof(uint64_t));
  }
  /* Touching the arena once here moves its page faults out of the first run. */
  memset(session->arena, 0, arena_bytes);
  ronn_status* status = NULL;
  if (model->device_ext != NULL) {
    session->device_ops = model->device.ops;
    status = session->device_ops->session_create(model, &session->device, &session->device_memory);
  }
  if (status != NULL) {
    ronn_session_release(session);
    return status;
  }
  prepare_tensors(session);
  if (pool != NULL) {
    session->pool = pool;
  } else {
    session->owns_pool = 1;
    status = ronn_threadpool_create(options->num_threads, options->spin, &session->pool);
  }
  /* System 1 runs on the same threads: the two plans never run at the same time. */
  if (status == NULL && model->system1 != NULL) {
    status = create_session(model->system1, options, session->pool, &session->fast);
  }
  if (status != NULL) {
    ronn_session_release(session);
    return status;
  }
  *out_session = session;
  return NULL;
}

/* ---- argument checks ------------------------------------------------------------------------ */

static void format_dtype(ronn_dtype dtype, char* out, size_t size) {
  const char* base;
  switch (dtype.code) {
    case RONN_DTYPE_INT: base = "int"; break;
    case RONN_DTYPE_UINT: base = "uint"; break;
    case RONN_DTYPE_FLOAT: base = "float"; break;
    case RONN_DTYPE_BFLOAT: base = "bfloat"; break;
    case RONN_DTYPE_BOOL: base = "bool"; break;
    default: base = NULL; break;
  }
  int used;
  if (base == NULL) {
    used = snprintf(out, size, "dtype(code=%u,bits=%u)", dtype.code, dtype.bits);
  } else if (dtype.code == RONN_DTYPE_BOOL && dtype.bits == 8) {
    used = snprintf(out, size, "bool");
  } else {
    used = snprintf(out, size, "%s%u", base, dtype.bits);
  }
  if (dtype.lanes != 1 && used > 0 && (size_t)used < size) {
    snprintf(out + used, size - (size_t)used, "x%u", dtype.lanes);
  }
}

static void format_shape(int32_t ndim, const int64_t* shape, char* out, size_t size) {
  size_t used = 0;
  out[used++] = '[';
  for (int32_t d = 0; d < ndim && shape != NULL; ++d) {
    if (used + 32 >= size) {
      snprintf(out + used, size - used, "...");
      used += 3;
      break;
    }
    used += (size_t)snprintf(out + used, size - used, d > 0 ? ",%lld" : "%lld",
                             (long long)shape[d]);
  }
  snprintf(out + used, size - used, "]");
}

static ronn_status* check_tensor(const char* role, const ronn_tensor_info* info,
                                 const ronn_tensor* given) {
  int same = given->dtype.code == info->dtype.code && given->dtype.bits == info->dtype.bits &&
             given->dtype.lanes == info->dtype.lanes && given->ndim == info->ndim &&
             (given->shape != NULL || given->ndim == 0);
  for (int32_t d = 0; same && d < info->ndim; ++d) same = given->shape[d] == info->shape[d];
  if (!same) {
    char want_shape[512], got_shape[512], want_type[32], got_type[32];
    format_shape(info->ndim, info->shape, want_shape, sizeof want_shape);
    format_shape(given->ndim, given->shape, got_shape, sizeof got_shape);
    format_dtype(info->dtype, want_type, sizeof want_type);
    format_dtype(given->dtype, got_type, sizeof got_type);
    return ronn_make_status(RONN_INVALID_ARGUMENT, "%s '%s': expected shape %s %s, got %s %s",
                            role, info->name, want_shape, want_type, got_shape, got_type);
  }
  if (given->data == NULL && info->nbytes > 0) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "%s '%s': data is NULL", role, info->name);
  }
  return NULL;
}

static void format_names(const ronn_tensor_info* infos, size_t count, char* out, size_t size) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < count && used + 1 < size; ++i) {
    int n = snprintf(out + used, size - used, i > 0 ? ", '%s'" : "'%s'", infos[i].name);
    if (n < 0) break;
    used += (size_t)n;
  }
}

static ronn_status* bind_inputs(ronn_session* session, const ronn_tensor* inputs, size_t count) {
  const ronn_model* model = session->model;
  size_t expected = ronn_model_num_inputs(model);
  char names[512];
  if (count != expected || (count > 0 && inputs == NULL)) {
    format_names(model->inputs, expected, names, sizeof names);
    return ronn_make_status(RONN_INVALID_ARGUMENT, "expected %zu inputs (%s), got %zu", expected,
                            names, inputs == NULL ? (size_t)0 : count);
  }
  memset(session->bound_inputs, 0, expected * sizeof(ronn_tensor*));
  for (size_t i = 0; i < count; ++i) {
    size_t index = i;
    if (inputs[i].name != NULL) {
      for (index = 0; index < expected; ++index) {
        if (strcmp(inputs[i].name, model->inputs[index].name) == 0) break;
      }
      if (index == expected) {
        format_names(model->inputs, expected, names, sizeof names);
        return ronn_make_status(RONN_INVALID_ARGUMENT,
                                "unknown input '%s': the model's inputs are %s", inputs[i].name,
                                names);
      }
    }
    if (session->bound_inputs[index] != NULL) {
      return ronn_make_status(RONN_INVALID_ARGUMENT, "input '%s' is given more than once",
                              model->inputs[index].name);
    }
    session->bound_inputs[index] = &inputs[i];
    ronn_status* status = check_tensor("input", &model->inputs[index], &inputs[i]);
    if (status != NULL) return status;
  }
  return NULL;
}

static ronn_status* check_outputs(const ronn_session* session, const ronn_tensor* outputs,
                                  size_t count) {
  const ronn_model* model = session->model;
  size_t expected = ronn_model_num_outputs(model);
  if (count != expected || (count > 0 && outputs == NULL)) {
    return ronn_make_status(RONN_INVALID_ARGUMENT,
                            "expected %zu output buffers in model order, got %zu", expected,
                            outputs == NULL ? (size_t)0 : count);
  }
  for (size_t i = 0; i < count; ++i) {
    if (outputs[i].name != NULL && strcmp(outputs[i].name, model->outputs[i].name) != 0) {
      return ronn_make_status(RONN_INVALID_ARGUMENT,
                              "output %zu is '%s', got a buffer named '%s': pass outputs in "
                              "model order",
                              i, model->outputs[i].name, outputs[i].name);
    }
    ronn_status* status = check_tensor("output", &model->outputs[i], &outputs[i]);
    if (status != NULL) return status;
  }
  return NULL;
}

/* ---- run ------------------------------------------------------------------------------------ */

static int aligned(const void* data, uint64_t alignment) { return (uintptr_t)data % alignment == 0; }

/* Copies of at least this many bytes (a misaligned input or output staged through the arena) are
 * split over the session's threads: one core's memcpy does not use the memory bandwidth (a 4 MiB
 * float32 1024x1024 input: 0.29 ms, 5% of the matmul it feeds). */
#define PARALLEL_COPY_BYTES ((uint64_t)1 << 20)

typedef struct {
  uint8_t* dst;
  const uint8_t* src;
  uint64_t nbytes;
} copy_job;

static int copy_part(int task_id, void* penv, void* cdata) {
  const copy_job* job = (const copy_job*)cdata;
  uint64_t tasks = (uint64_t)((ronn_parallel_env*)penv)->num_task;
  uint64_t part = (job->nbytes / tasks + RONN_ALIGNMENT - 1) / RONN_ALIGNMENT * RONN_ALIGNMENT;
  uint64_t begin = part * (uint64_t)task_id;
  if (begin < job->nbytes) {
    uint64_t n = job->nbytes - begin < part ? job->nbytes - begin : part;
    memcpy(job->dst + begin, job->src + begin, n);
  }
  return 0;
}

/* memcpy, in parallel on the session's pool when it is large; called inside the pool's scope. */
static void copy_bytes(void* dst, const void* src, uint64_t nbytes) {
  copy_job job = {(uint8_t*)dst, (const uint8_t*)src, nbytes};
  if (nbytes < PARALLEL_COPY_BYTES) {
    memcpy(dst, src, nbytes);
  } else {
    ronn_parallel_launch_hook(copy_part, &job, 0); /* copy_part never fails */
  }
}

static ronn_status* run_steps(ronn_session* session) {
  const ronn_plan* plan = &session->model->plan;
  const ronn_artifact_v1* artifact = session->model->artifact;
  uint64_t* profile = session->profile_ns;
  if (profile != NULL) session->profile_runs++;
  uint64_t last = profile != NULL ? now_ns() : 0;
  for (uint32_t s = 0; s < plan->header->num_steps; ++s) {
    if (profile != NULL && s > 0) {
      uint64_t t = now_ns();
      profile[s - 1] += t - last;
      last = t;
    }
    const ronn_plan_step_v1* step = &plan->steps[s];
    if (step->kind == RONN_STEP_COPY) {
      uint32_t src = plan->args[step->args], dst = plan->args[step->args + 1];
      uint64_t nbytes = plan->tensors[src].nbytes;
      int src_dev = ronn_storage_on_device(plan->tensors[src].storage);
      int dst_dev = ronn_storage_on_device(plan->tensors[dst].storage);
      if (nbytes > 0 && (src_dev || dst_dev)) {
        ronn_status* status =
            session->device_ops->copy(session->device, session->tensors[dst].data, dst_dev,
                                      session->tensors[src].data, src_dev, nbytes);
        if (status != NULL) return status;
      } else if (nbytes > 0) {
        memcpy(session->tensors[dst].data, session->tensors[src].data, nbytes);
      }
      continue;
    }
    ronn_ffi_any result;
    memset(&result, 0, sizeof result);
    ronn_error_clear();
    int rc = artifact->kernels[step->kernel](NULL, session->args + session->step_args[s],
                                             (int32_t)step->num_args, &result);
    if (rc != 0) {
      const char* message = ronn_error_get();
      return ronn_make_status(RONN_KERNEL_FAILED, "step %u, kernel '%s' failed: %s", s,
                              ronn_plan_string(plan, step->name),
                              message != NULL ? message : "it returned an error without a message");
    }
  }
  if (profile != NULL && plan->header->num_steps > 0) {
    profile[plan->header->num_steps - 1] += now_ns() - last;
  }
  return NULL;
}

/* Runs the session's one plan. */
static ronn_status* run_plan(ronn_session* session, const ronn_tensor* inputs, size_t num_inputs,
                             ronn_tensor* outputs, size_t num_outputs) {
  ronn_status* status = bind_inputs(session, inputs, num_inputs);
  if (status == NULL) status = check_outputs(session, outputs, num_outputs);
  if (status != NULL) return status;

  const ronn_model* model = session->model;
  const ronn_plan* plan = &model->plan;
  size_t ni = num_inputs;
  ronn_threadpool* previous = ronn_threadpool_enter(
      session->pool, !(model->artifact->flags & RONN_ARTIFACT_FLAG_PARALLEL_BARRIER));
  for (size_t i = 0; i < ni; ++i) {
    const ronn_tensor* given = session->bound_inputs[i];
    uint64_t nbytes = model->inputs[i].nbytes;
    if (aligned(given->data, model->input_align[i])) {
      session->io_base[i] = (uint8_t*)given->data;
    } else {
      session->io_base[i] = session->arena + plan->stages[i];
      copy_bytes(session->io_base[i], given->data, nbytes);
    }
  }
  for (size_t o = 0; o < num_outputs; ++o) {
    session->io_base[ni + o] = aligned(outputs[o].data, RONN_ALIGNMENT)
                                   ? (uint8_t*)outputs[o].data
                                   : session->arena + plan->stages[ni + o];
  }
  for (size_t k = 0; k < session->num_io_tensors; ++k) {
    const ronn_plan_tensor_v1* t = &plan->tensors[session->io_tensors[k]];
    size_t slot = t->storage == RONN_STORAGE_INPUT ? t->index : ni + t->index;
    session->tensors[session->io_tensors[k]].data = session->io_base[slot] + t->offset;
  }

  const ronn_device_ops* device = session->device_ops;
  if (device != NULL) status = device->begin(session->device);
  if (status == NULL) status = run_steps(session);
  if (device != NULL) {
    ronn_status* end = device->end(session->device, status == NULL);
    if (status == NULL) {
      status = end;
    } else {
      ronn_status_free(end);
    }
  }
  for (size_t o = 0; status == NULL && o < num_outputs; ++o) {
    uint64_t nbytes = model->outputs[o].nbytes;
    if (session->io_base[ni + o] != outputs[o].data && nbytes > 0) {
      copy_bytes(outputs[o].data, session->io_base[ni + o], nbytes);
    }
  }
  ronn_threadpool_leave(previous);
  return status;
}

/* ---- routing (dual artifacts) ------------------------------------------------------------- */

void ronn_run_options_initialize(ronn_run_options* out_options) {
  out_options->route = RONN_ROUTE_DEFAULT;
}

int ronn_model_is_dual(const ronn_model* model) { return model != NULL && model->system1 != NULL; }

ronn_status* ronn_session_route_stats(const ronn_session* session, ronn_route_stats* out_stats) {
  if (session == NULL || out_stats == NULL) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "ronn_session_route_stats: session or out_stats "
                                                   "is NULL");
  }
  *out_stats = session->route_stats;
  return NULL;
}

static const char* route_name(int32_t route) {
  switch (route) {
    case RONN_ROUTE_AUTO: return "auto";
    case RONN_ROUTE_FAST: return "fast";
    case RONN_ROUTE_FULL: return "full";
    default: return "default";
  }
}

/* AUTO: the complexity gate (before anything runs), then System 1 and its confidence check. */
static ronn_status* run_auto(ronn_session* session, const ronn_tensor* inputs, size_t num_inputs,
                             ronn_tensor* outputs, size_t num_outputs, int32_t* out_route,
                             int* out_escalated) {
  const ronn_model* model = session->model;
  const ronn_dual_header_v1* router = model->router;
  ronn_status* status = NULL;
  *out_route = RONN_ROUTE_FULL;
  if (router->router & RONN_ROUTER_COMPLEXITY) {
    status = bind_inputs(session, inputs, num_inputs);
    if (status != NULL) return status;
    const ronn_tensor_info* info = &model->inputs[router->complexity_input];
    const ronn_tensor* x = session->bound_inputs[router->complexity_input];
    uint64_t last = info->ndim > 0 ? (uint64_t)info->shape[info->ndim - 1] : 1;
    double score = ronn_router_complexity(router, (const float*)x->data, info->nbytes / 4, last);
    if (!(score <= router->complexity_threshold)) {
      return run_plan(session, inputs, num_inputs, outputs, num_outputs);
    }
  }
  if ((router->router & RONN_ROUTER_CONFIDENCE) && router->confidence_threshold == INFINITY) {
    return run_plan(session, inputs, num_inputs, outputs, num_outputs); /* calibrated: never fast */
  }
  status = run_plan(session->fast, inputs, num_inputs, outputs, num_outputs);
  if (status != NULL || !(router->router & RONN_ROUTER_CONFIDENCE)) {
    *out_route = RONN_ROUTE_FAST;
    return status;
  }
  const ronn_tensor_info* info = &model->outputs[router->confidence_output];
  double confidence =
      ronn_router_confidence(router, (const float*)outputs[router->confidence_output].data,
                             info->nbytes / 4, (uint64_t)info->shape[info->ndim - 1]);
  if (confidence >= router->confidence_threshold) {
    *out_route = RONN_ROUTE_FAST;
    return NULL;
  }
  *out_escalated = 1;
  return run_plan(session, inputs, num_inputs, outputs, num_outputs);
}

ronn_status* ronn_session_run_with_options(ronn_session* session, const ronn_run_options* options,
                                           const ronn_tensor* inputs, size_t num_inputs,
                                           ronn_tensor* outputs, size_t num_outputs) {
  if (session == NULL) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "ronn_session_run: session is NULL");
  }
  int32_t route = options != NULL ? options->route : RONN_ROUTE_DEFAULT;
  if (route < RONN_ROUTE_DEFAULT || route > RONN_ROUTE_FULL) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "unknown route %d: use RONN_ROUTE_DEFAULT, "
                            "_AUTO, _FAST or _FULL", (int)route);
  }
  if (session->fast == NULL) {
    if (route != RONN_ROUTE_DEFAULT) {
      return ronn_make_status(RONN_INVALID_ARGUMENT,
                              "route '%s' needs a dual artifact (System 1 + System 2: compile with "
                              "`ronn-aot compile --dual ternary|binary`); this artifact has one "
                              "plan: run it without a route",
                              route_name(route));
    }
    return run_plan(session, inputs, num_inputs, outputs, num_outputs);
  }
  /* Check every argument before any plan runs, whichever plan would. */
  ronn_status* status = bind_inputs(session, inputs, num_inputs);
  if (status == NULL) status = check_outputs(session, outputs, num_outputs);
  if (status != NULL) return status;
  int32_t answered = route == RONN_ROUTE_FAST ? RONN_ROUTE_FAST : RONN_ROUTE_FULL;
  int escalated = 0;
  if (route == RONN_ROUTE_FAST) {
    status = run_plan(session->fast, inputs, num_inputs, outputs, num_outputs);
  } else if (route == RONN_ROUTE_FULL) {
    status = run_plan(session, inputs, num_inputs, outputs, num_outputs);
  } else {
    status = run_auto(session, inputs, num_inputs, outputs, num_outputs, &answered, &escalated);
  }
  if (status != NULL) return status;
  ronn_route_stats* stats = &session->route_stats;
  stats->last_route = answered;
  if (answered == RONN_ROUTE_FAST) {
    stats->fast_runs++;
  } else {
    stats->full_runs++;
    stats->escalated_runs += (uint64_t)escalated;
  }
  return NULL;
}

ronn_status* ronn_session_run(ronn_session* session, const ronn_tensor* inputs,
                              size_t num_inputs, ronn_tensor* outputs, size_t num_outputs) {
  return ronn_session_run_with_options(session, NULL, inputs, num_inputs, outputs, num_outputs);
}
