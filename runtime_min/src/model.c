/* Loading an artifact: footer and hash checks on the file, then dlopen, the query symbol, the
 * descriptor and plan checks, and finally the hooks the kernels call through. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "router.h"

#ifdef RONN_TEST_HOOKS
void (*ronn_test_after_check)(const char* path) = NULL;
#endif

void ronn_model_options_initialize(ronn_model_options* out_options) {
  memset(out_options, 0, sizeof *out_options);
  out_options->verify_integrity = 1;
  out_options->huge_pages = 1;
}

static void install(void** slot, void* function) {
  /* Slots are shared by every model loaded from the same library; concurrent loads write the
   * same value. */
  if (slot != NULL) __atomic_store_n(slot, function, __ATOMIC_RELEASE);
}

/* Function pointers travel as void* through the hook slots, as they do through dlsym. */
#define INSTALL(slot, function)                  \
  do {                                           \
    void* pointer_;                              \
    memcpy(&pointer_, &(function), sizeof pointer_); \
    install((slot), pointer_);                   \
  } while (0)

static void install_hooks(const ronn_artifact_hooks_v1* hooks) {
  ronn_alloc_workspace_fn alloc = ronn_workspace_alloc_hook;
  ronn_free_workspace_fn release = ronn_workspace_free_hook;
  ronn_parallel_launch_fn launch = ronn_parallel_launch_hook;
  ronn_parallel_barrier_fn barrier = ronn_parallel_barrier_hook;
  ronn_error_set_fn error = ronn_error_hook;
  INSTALL(hooks->alloc_workspace, alloc);
  INSTALL(hooks->free_workspace, release);
  INSTALL(hooks->parallel_launch, launch);
  INSTALL(hooks->parallel_barrier, barrier);
  INSTALL(hooks->error_set, error);
}

static ronn_status* check_descriptor(const char* path, const ronn_artifact_v1* a,
                                     const ronn_artifact_footer_v1* footer) {
  if (a->abi_version != RONN_ABI_VERSION) {
    return ronn_make_status(RONN_ABI_MISMATCH,
                            "'%s': artifact descriptor has ABI version %u, this runtime speaks "
                            "version %u: recompile the model with a matching ronn-aot",
                            path, a->abi_version, RONN_ABI_VERSION);
  }
  if ((a->flags & ~(RONN_ARTIFACT_FLAG_DEVICE | RONN_ARTIFACT_FLAG_DUAL |
                    RONN_ARTIFACT_FLAG_PARALLEL_BARRIER)) != 0 ||
      (a->flags & RONN_ARTIFACT_FLAG_DEVICE && a->flags & RONN_ARTIFACT_FLAG_DUAL)) {
    return ronn_make_status(RONN_ABI_MISMATCH,
                            "'%s': the artifact uses features (flags 0x%x) this runtime does not "
                            "know: update runtime_min",
                            path, a->flags);
  }
  uint32_t expected = (a->flags & RONN_ARTIFACT_FLAG_DEVICE) ? sizeof(ronn_artifact_with_device_v1)
                      : (a->flags & RONN_ARTIFACT_FLAG_DUAL) ? sizeof(ronn_artifact_with_dual_v1)
                                                             : sizeof(ronn_artifact_v1);
  if (a->descriptor_size != expected) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "'%s': artifact descriptor is %u bytes, ABI version %u defines %u",
                            path, a->descriptor_size, RONN_ABI_VERSION, (unsigned)expected);
  }
  if (a->plan_size != footer->plan_size || a->weights_size != footer->weights_size) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "'%s': the descriptor's plan/weights sizes (%llu/%llu bytes) differ "
                            "from the footer's (%llu/%llu)",
                            path, (unsigned long long)a->plan_size,
                            (unsigned long long)a->weights_size,
                            (unsigned long long)footer->plan_size,
                            (unsigned long long)footer->weights_size);
  }
  if ((a->weights_size > 0 && (a->weights == NULL || (uintptr_t)a->weights % RONN_ALIGNMENT)) ||
      (a->num_kernels > 0 && a->kernels == NULL)) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "'%s': the descriptor's weights are missing or not 64-byte aligned, "
                            "or its kernel table is missing",
                            path);
  }
  for (uint32_t i = 0; i < a->num_kernels; ++i) {
    if (a->kernels[i] == NULL) {
      return ronn_make_status(RONN_CORRUPT_ARTIFACT, "'%s': kernel %u is NULL", path, i);
    }
  }
  return NULL;
}

static void fill_info(const ronn_plan* plan, uint32_t tensor_id, ronn_tensor_info* info) {
  const ronn_plan_tensor_v1* t = &plan->tensors[tensor_id];
  info->name = ronn_plan_string(plan, t->name);
  info->dtype.code = t->dtype_code;
  info->dtype.bits = t->dtype_bits;
  info->dtype.lanes = t->dtype_lanes;
  info->ndim = t->ndim;
  info->shape = plan->shapes + t->shape;
  info->nbytes = t->nbytes;
}

static ronn_status* build_io_info(ronn_model* model) {
  const ronn_plan* plan = &model->plan;
  size_t inputs = plan->header->num_inputs, outputs = plan->header->num_outputs;
  model->inputs = (ronn_tensor_info*)calloc(inputs + 1, sizeof(ronn_tensor_info));
  model->outputs = (ronn_tensor_info*)calloc(outputs + 1, sizeof(ronn_tensor_info));
  model->input_align = (uint64_t*)calloc(inputs + 1, sizeof(uint64_t));
  if (model->inputs == NULL || model->outputs == NULL || model->input_align == NULL) {
    return ronn_status_out_of_memory();
  }
  for (size_t i = 0; i < inputs; ++i) fill_info(plan, plan->inputs[i], &model->inputs[i]);
  for (size_t i = 0; i < outputs; ++i) fill_info(plan, plan->outputs[i], &model->outputs[i]);
  /* An input is read in place when its data meet the strictest assumption of its tensors (the
   * plan checked each `align` is a power of two dividing the tensor's offset, and that each graph
   * input is one of these tensors, so every input gets a value). */
  for (uint32_t i = 0; i < plan->header->num_tensors; ++i) {
    const ronn_plan_tensor_v1* t = &plan->tensors[i];
    if (t->storage != RONN_STORAGE_INPUT) continue;
    uint64_t align = t->align != 0 ? t->align : RONN_ALIGNMENT;
    if (align > model->input_align[t->index]) model->input_align[t->index] = align;
  }
  return NULL;
}

static void destroy(ronn_model* model) {
  ronn_model_release(model->system1);
  free(model->weights_copy);
  free(model->inputs);
  free(model->outputs);
  free(model->input_align);
  if (model->library != NULL) dlclose(model->library);
  if (model->library_fd >= 0) close(model->library_fd);
  free(model);
}

/* System 1 of a dual artifact: a model over the same library, kernels and weights with the dual
 * blob's plan; owned by `model` (its library is NULL: only `model` closes it). */
static ronn_status* load_system1(const char* path, ronn_model* model) {
  const ronn_artifact_dual_v1* dual = &((const ronn_artifact_with_dual_v1*)model->artifact)->dual;
  ronn_model* fast = (ronn_model*)calloc(1, sizeof *fast);
  if (fast == NULL) return ronn_status_out_of_memory();
  fast->refcount = 1;
  fast->library_fd = -1;
  fast->artifact = model->artifact;
  model->system1 = fast;
  ronn_status* status = ronn_dual_parse(path, dual, model->artifact, &model->plan, &fast->plan,
                                        &model->router);
  return status != NULL ? status : build_io_info(fast);
}

/* dlopen the descriptor that was verified, through /proc/self/fd: the checked bytes are the
 * loaded bytes even if the path is renamed over in between. Where /proc is not mounted, the path
 * (dlopen searches the library path for a name without a slash; the caller means a file). */
static ronn_status* open_library(const char* path, int fd, void** out_library) {
  size_t length = strlen(path);
  char* file = (char*)malloc(length + 32);
  if (file == NULL) return ronn_status_out_of_memory();
  snprintf(file, length + 32, "/proc/self/fd/%d", fd);
  if (fd < 0 || access(file, R_OK) != 0) {
    snprintf(file, length + 32, "%s%s", strchr(path, '/') == NULL ? "./" : "", path);
  }
  *out_library = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  free(file);
  if (*out_library != NULL) return NULL;
  const char* reason = dlerror();
  return ronn_make_status(RONN_LOAD_FAILED,
                          "'%s': the dynamic loader refused the artifact (%s); an artifact built "
                          "for another CPU architecture or C library cannot load here",
                          path, reason != NULL ? reason : "unknown reason");
}

/* Opens the file, checks its footer, hash and signature under the options' policy. */
static ronn_status* open_checked(const char* path, const ronn_model_options* options,
                                 ronn_artifact_file* out_file) {
  const ronn_public_key* keys = options->trusted_keys;
  size_t num_keys = keys != NULL ? options->num_trusted_keys : 0;
  int required = options->require_signature != 0;
  /* A signed load maps a sealed private copy of the bytes it verified. */
  int signed_load = required || num_keys > 0;
  ronn_status* status = ronn_artifact_file_open(path, options->verify_integrity || signed_load,
                                                signed_load, out_file);
  if (status == NULL) {
    status = ronn_signature_check(path, out_file, keys, num_keys, required);
    if (status != NULL) ronn_artifact_file_close(out_file);
  }
  return status;
}

ronn_status* ronn_model_load(const char* path, const ronn_model_options* options,
                             ronn_model** out_model) {
  if (out_model == NULL) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "ronn_model_load: out_model is NULL");
  }
  *out_model = NULL;
  if (path == NULL) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "ronn_model_load: path is NULL");
  }
  ronn_model_options defaults;
  if (options == NULL) {
    ronn_model_options_initialize(&defaults);
    options = &defaults;
  }
  ronn_artifact_file file;
  ronn_status* status = open_checked(path, options, &file);
  if (status != NULL) return status;
  const ronn_artifact_footer_v1 footer = file.footer;

  ronn_model* model = (ronn_model*)calloc(1, sizeof *model);
  if (model == NULL) {
    ronn_artifact_file_close(&file);
    return ronn_status_out_of_memory();
  }
  model->refcount = 1;
#ifdef RONN_TEST_HOOKS
  if (ronn_test_after_check != NULL) ronn_test_after_check(path);
#endif
  status = open_library(path, file.fd, &model->library);
  /* A write between the checks and the mapping would load bytes nobody checked. */
  ronn_status* changed =
      status == NULL && file.hashed && !file.sealed ? ronn_artifact_file_unchanged(path, &file)
                                                    : NULL;
  /* The loader knows the library by its name, /proc/self/fd/<fd>: the descriptor stays open as
   * long as the library is loaded, or the next artifact opened on the same number would be
   * "found" already loaded and get this one's code. */
  model->library_fd = status == NULL ? file.fd : -1;
  if (status == NULL) file.fd = -1;
  ronn_artifact_file_close(&file);
  if (status == NULL) status = changed;
  if (status == NULL) {
    void* symbol = dlsym(model->library, RONN_ARTIFACT_QUERY_SYMBOL);
    ronn_artifact_query_fn query;
    memcpy(&query, &symbol, sizeof query);
    if (symbol == NULL) {
      status = ronn_make_status(RONN_CORRUPT_ARTIFACT,
                                "'%s' does not export %s: it is not a ronn-aot artifact", path,
                                RONN_ARTIFACT_QUERY_SYMBOL);
    } else if ((model->artifact = query(RONN_ABI_VERSION)) == NULL) {
      status = ronn_make_status(RONN_ABI_MISMATCH,
                                "'%s' does not speak artifact ABI version %u: recompile the "
                                "model with a ronn-aot matching this runtime",
                                path, RONN_ABI_VERSION);
    }
  }
  if (status == NULL) status = check_descriptor(path, model->artifact, &footer);
  if (status == NULL && (model->artifact->flags & RONN_ARTIFACT_FLAG_DEVICE)) {
    /* The descriptor size was checked: the device extension follows the v1 descriptor. */
    model->device_ext = &((const ronn_artifact_with_device_v1*)model->artifact)->device;
    status = ronn_device_module_parse(model->device_ext->blob, model->device_ext->blob_size,
                                      &model->device);
  }
  if (status == NULL) {
    const ronn_artifact_v1* a = model->artifact;
    status = ronn_plan_parse(a->plan, a->plan_size, a->num_kernels, a->weights_size,
                             model->device_ext != NULL ? &model->device : NULL, &model->plan);
  }
  if (status == NULL) status = build_io_info(model);
  if (status == NULL && (model->artifact->flags & RONN_ARTIFACT_FLAG_DUAL)) {
    status = load_system1(path, model);
  }
  if (status != NULL) {
    destroy(model);
    return status;
  }
  model->weights = ronn_platform_weights_copy(model->artifact->weights, model->artifact->weights_size,
                                              options->huge_pages, &model->weights_copy);
  if (model->system1 != NULL) model->system1->weights = model->weights;
  install_hooks(&model->artifact->hooks);
  if (model->device_ext != NULL) model->device.ops->install_hooks(model->device_ext);
  *out_model = model;
  return NULL;
}

void ronn_model_retain(ronn_model* model) {
  if (model != NULL) __atomic_add_fetch(&model->refcount, 1, __ATOMIC_RELAXED);
}

void ronn_model_release(ronn_model* model) {
  if (model != NULL && __atomic_sub_fetch(&model->refcount, 1, __ATOMIC_ACQ_REL) == 0) {
    destroy(model);
  }
}

size_t ronn_model_num_inputs(const ronn_model* model) {
  return model == NULL ? 0 : model->plan.header->num_inputs;
}

size_t ronn_model_num_outputs(const ronn_model* model) {
  return model == NULL ? 0 : model->plan.header->num_outputs;
}

static ronn_status* get_info(const ronn_model* model, size_t index, ronn_tensor_info* out_info,
                             int input) {
  if (model == NULL || out_info == NULL) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "model or out_info is NULL");
  }
  size_t count = input ? ronn_model_num_inputs(model) : ronn_model_num_outputs(model);
  if (index >= count) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "%s index %zu is out of range: the model has %zu",
                            input ? "input" : "output", index, count);
  }
  *out_info = input ? model->inputs[index] : model->outputs[index];
  return NULL;
}

ronn_status* ronn_model_input_info(const ronn_model* model, size_t index,
                                   ronn_tensor_info* out_info) {
  return get_info(model, index, out_info, 1);
}

ronn_status* ronn_model_output_info(const ronn_model* model, size_t index,
                                    ronn_tensor_info* out_info) {
  return get_info(model, index, out_info, 0);
}

const char* ronn_model_metadata_json(const ronn_model* model) {
  return model == NULL ? "{}" : model->plan.metadata;
}

uint64_t ronn_model_arena_size(const ronn_model* model) {
  return model == NULL ? 0 : model->plan.header->arena_size;
}
