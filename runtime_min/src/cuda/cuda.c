/* The CUDA path: sessions of artifacts whose device blob holds CUDA kernels.
 *
 * The driver (libcuda.so.1) is loaded with dlopen at the first such session, never linked: a
 * machine without it still loads every artifact, and a CUDA session there fails with
 * RONN_UNAVAILABLE and the reason. Per session: the primary context of device 0 (select the GPU
 * with CUDA_VISIBLE_DEVICES), the module loaded from the embedded cubin (or, when the cubin does
 * not fit the GPU, the embedded PTX, compiled by the driver), the device arena, the weights
 * uploaded once, and one stream on which every copy and launch of a run is ordered.
 *
 * TVM's host code launches device functions through the hooks of ronn_artifact_device_hooks_v1;
 * they find the running session through a thread-local pointer set by cuda_begin. The rest of
 * the runtime reaches this file only through ronn_cuda_device_ops (../device.h).
 * Process-wide state: the loaded driver (immutable once loaded) and the lock of init_once. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../device.h"
#include "cuda_driver.h"

#define DRIVER_LIBRARY "libcuda.so.1"
#define DEVICE_ORDINAL 0
#define STATIC_SHARED_LIMIT 49152 /* launches above this need an opt-in per function */

/* ---- the driver ------------------------------------------------------------------------------ */

static ronn_cuda_driver driver;
static pthread_once_t driver_once = PTHREAD_ONCE_INIT;
static char driver_error[768]; /* empty once the driver is loaded and initialised */

static void describe(CUresult rc, char* out, size_t size) {
  const char* name = NULL;
  const char* text = NULL;
  if (driver.cuGetErrorName != NULL) driver.cuGetErrorName(rc, &name);
  if (driver.cuGetErrorString != NULL) driver.cuGetErrorString(rc, &text);
  snprintf(out, size, "%s (%d): %s", name != NULL ? name : "CUDA error", rc,
           text != NULL ? text : "no description");
}

static void load_driver(void) {
  void* library = dlopen(DRIVER_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    const char* reason = dlerror();
    snprintf(driver_error, sizeof driver_error,
             "this artifact runs its kernels on an NVIDIA GPU, but the NVIDIA driver library %s "
             "could not be loaded (%s): run it on a machine with an NVIDIA GPU and its driver",
             DRIVER_LIBRARY, reason != NULL ? reason : "not found");
    return;
  }
  /* The library stays loaded for the life of the process: launch handles outlive sessions. */
#define LOAD_REQUIRED(name, symbol, params)                                                    \
  {                                                                                            \
    void* entry = dlsym(library, symbol);                                                      \
    if (entry == NULL) {                                                                       \
      snprintf(driver_error, sizeof driver_error,                                             \
               "the NVIDIA driver library %s lacks %s: the driver is too old, update it",      \
               DRIVER_LIBRARY, symbol);                                                        \
      return;                                                                                  \
    }                                                                                          \
    memcpy(&driver.name, &entry, sizeof entry);                                                \
  }
#define LOAD_OPTIONAL(name, symbol, params)                                                    \
  {                                                                                            \
    void* entry = dlsym(library, symbol);                                                      \
    memcpy(&driver.name, &entry, sizeof entry);                                                \
  }
  RONN_CUDA_REQUIRED(LOAD_REQUIRED)
  RONN_CUDA_OPTIONAL(LOAD_OPTIONAL)
#undef LOAD_REQUIRED
#undef LOAD_OPTIONAL
  CUresult rc = driver.cuInit(0);
  if (rc != CUDA_SUCCESS) {
    char reason[256];
    describe(rc, reason, sizeof reason);
    snprintf(driver_error, sizeof driver_error,
             "the NVIDIA driver did not initialise (cuInit: %s)%s", reason,
             rc == CUDA_ERROR_NO_DEVICE ? ": no CUDA-capable GPU is visible to this process" : "");
    driver.cuInit = NULL; /* marks the driver unusable */
  }
}

static ronn_status* require_driver(void) {
  pthread_once(&driver_once, load_driver);
  if (driver_error[0] != '\0' || driver.cuInit == NULL) {
    return ronn_make_status(RONN_UNAVAILABLE, "%s", driver_error);
  }
  return NULL;
}

static ronn_status* cuda_status(ronn_status_code code, CUresult rc, const char* what) {
  char reason[256];
  describe(rc, reason, sizeof reason);
  return ronn_make_status(code, "%s failed: %s", what, reason);
}

/* ---- sessions -------------------------------------------------------------------------------- */

typedef union param_value {
  CUdeviceptr pointer;
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
} param_value;

/* The device session (ronn_device_session, opaque outside this file). */
typedef struct ronn_device_session ronn_cuda_session;
struct ronn_device_session {
  const ronn_model* model;
  const ronn_device_module* module;
  CUdevice device;
  CUcontext context; /* the device's primary context, retained */
  CUmodule cu_module;
  CUfunction* functions;     /* per device kernel */
  uint32_t* shared_opt_in;   /* per device kernel: dynamic shared bytes it was opted in for */
  CUstream stream;
  CUdeviceptr arena;
  CUdeviceptr weights;
  void** params;             /* launch scratch: max_params pointers into values */
  param_value* values;
  ronn_cuda_session* previous; /* the session current on this thread before cuda_begin */
  int context_pushed;
};

static pthread_key_t current_key;
static pthread_once_t current_once = PTHREAD_ONCE_INIT;

static void create_current_key(void) { (void)pthread_key_create(&current_key, NULL); }

static ronn_cuda_session* current(void) {
  pthread_once(&current_once, create_current_key);
  return (ronn_cuda_session*)pthread_getspecific(current_key);
}

static void set_current(ronn_cuda_session* session) {
  pthread_once(&current_once, create_current_key);
  (void)pthread_setspecific(current_key, session);
}


static void format_images(const ronn_device_module* module, char* out, size_t size) {
  size_t used = 0;
  out[0] = '\0';
  for (uint32_t i = 0; i < module->header->num_images && used < size; ++i) {
    const ronn_device_image_v1* img = &module->images[i];
    int n = snprintf(out + used, size - used, "%s%s_%u (%s)", i > 0 ? ", " : "",
                     img->format == RONN_IMAGE_CUBIN ? "sm" : "compute", img->arch,
                     img->format == RONN_IMAGE_CUBIN ? "cubin" : "PTX");
    if (n < 0) break;
    used += (size_t)n;
  }
}

/* A cubin runs on its own major version at an equal or higher minor; PTX on any newer GPU. */
static int image_fits(const ronn_device_image_v1* img, int major, int minor) {
  int arch_major = (int)img->arch / 10, arch_minor = (int)img->arch % 10;
  if (img->format == RONN_IMAGE_CUBIN) return arch_major == major && arch_minor <= minor;
  return arch_major < major || (arch_major == major && arch_minor <= minor);
}

static ronn_status* load_module(ronn_cuda_session* s, int major, int minor) {
  const ronn_device_module* m = s->module;
  char log[1024];
  char last_error[1400] = "";
  int tried = 0;
  /* Cubins first (no JIT), then PTX. */
  for (uint32_t pass = RONN_IMAGE_CUBIN; pass <= RONN_IMAGE_PTX; ++pass) {
    for (uint32_t i = 0; i < m->header->num_images; ++i) {
      const ronn_device_image_v1* img = &m->images[i];
      if (img->format != pass || !image_fits(img, major, minor)) continue;
      int options[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
      void* values[2] = {log, (void*)(uintptr_t)sizeof log};
      log[0] = '\0';
      ++tried;
      CUresult rc = driver.cuModuleLoadDataEx(&s->cu_module, m->blob + img->offset, 2, options,
                                              values);
      if (rc == CUDA_SUCCESS) return NULL;
      char reason[256];
      describe(rc, reason, sizeof reason);
      log[sizeof log - 1] = '\0';
      snprintf(last_error, sizeof last_error, "loading the %s_%u %s failed: %s%s%s",
               img->format == RONN_IMAGE_CUBIN ? "sm" : "compute", img->arch,
               img->format == RONN_IMAGE_CUBIN ? "cubin" : "PTX", reason, log[0] ? "; " : "", log);
    }
  }
  char name[128] = "?", images[256];
  driver.cuDeviceGetName(name, (int)sizeof name, s->device);
  name[sizeof name - 1] = '\0';
  format_images(m, images, sizeof images);
  int version = 0;
  driver.cuDriverGetVersion(&version);
  if (tried == 0) {
    return ronn_make_status(RONN_UNAVAILABLE,
                            "GPU 0 '%s' is compute capability %d.%d, but the artifact holds "
                            "kernels for %s only: compile the model for a target matching this GPU",
                            name, major, minor, images);
  }
  return ronn_make_status(RONN_UNAVAILABLE,
                          "GPU 0 '%s' (compute capability %d.%d, driver API %d.%d) cannot load "
                          "the artifact's kernels [%s]: %s",
                          name, major, minor, version / 1000, version % 1000 / 10, images,
                          last_error);
}

static int uses_device_weights(const ronn_model* model) {
  const ronn_plan* plan = &model->plan;
  for (uint32_t i = 0; i < plan->header->num_tensors; ++i) {
    if (plan->tensors[i].storage == RONN_STORAGE_DEVICE_WEIGHTS) return 1;
  }
  return 0;
}

static ronn_status* setup(ronn_cuda_session* s) {
  const ronn_device_module* m = s->module;
  const ronn_artifact_v1* artifact = s->model->artifact;
  int count = 0, major = 0, minor = 0;
  CUresult rc = driver.cuDeviceGetCount(&count);
  if (rc != CUDA_SUCCESS) return cuda_status(RONN_UNAVAILABLE, rc, "cuDeviceGetCount");
  if (count <= DEVICE_ORDINAL) {
    return ronn_make_status(RONN_UNAVAILABLE,
                            "the NVIDIA driver is installed but sees no GPU (check "
                            "CUDA_VISIBLE_DEVICES and nvidia-smi)");
  }
  if ((rc = driver.cuDeviceGet(&s->device, DEVICE_ORDINAL)) != CUDA_SUCCESS ||
      (rc = driver.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                        s->device)) != CUDA_SUCCESS ||
      (rc = driver.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                        s->device)) != CUDA_SUCCESS) {
    return cuda_status(RONN_UNAVAILABLE, rc, "querying GPU 0");
  }
  if ((rc = driver.cuDevicePrimaryCtxRetain(&s->context, s->device)) != CUDA_SUCCESS) {
    s->context = NULL;
    return cuda_status(RONN_UNAVAILABLE, rc, "cuDevicePrimaryCtxRetain (GPU 0)");
  }
  if ((rc = driver.cuCtxPushCurrent(s->context)) != CUDA_SUCCESS) {
    return cuda_status(RONN_UNAVAILABLE, rc, "cuCtxPushCurrent");
  }
  s->context_pushed = 1;
  ronn_status* status = load_module(s, major, minor);
  for (uint32_t k = 0; status == NULL && k < m->header->num_kernels; ++k) {
    rc = driver.cuModuleGetFunction(&s->functions[k], s->cu_module, ronn_device_kernel_name(m, k));
    if (rc != CUDA_SUCCESS) {
      char what[300];
      snprintf(what, sizeof what, "finding device kernel '%s' in the loaded module",
               ronn_device_kernel_name(m, k));
      status = cuda_status(RONN_CORRUPT_ARTIFACT, rc, what);
    }
  }
  if (status == NULL && (rc = driver.cuStreamCreate(&s->stream, CU_STREAM_NON_BLOCKING)) != 0) {
    s->stream = NULL;
    status = cuda_status(RONN_UNAVAILABLE, rc, "cuStreamCreate");
  }
  uint64_t arena = m->header->arena_size > 0 ? m->header->arena_size : RONN_ALIGNMENT;
  if (status == NULL && (rc = driver.cuMemAlloc(&s->arena, (size_t)arena)) != CUDA_SUCCESS) {
    s->arena = 0;
    status = cuda_status(RONN_OUT_OF_MEMORY, rc, "allocating the device arena");
  }
  if (status == NULL && artifact->weights_size > 0 && uses_device_weights(s->model)) {
    if ((rc = driver.cuMemAlloc(&s->weights, (size_t)artifact->weights_size)) != CUDA_SUCCESS) {
      s->weights = 0;
      status = cuda_status(RONN_OUT_OF_MEMORY, rc, "allocating device memory for the weights");
    } else if ((rc = driver.cuMemcpyHtoD(s->weights, artifact->weights,
                                         (size_t)artifact->weights_size)) != CUDA_SUCCESS) {
      status = cuda_status(RONN_UNAVAILABLE, rc, "uploading the weights to the GPU");
    }
  }
  driver.cuCtxPopCurrent(NULL);
  s->context_pushed = 0;
  return status;
}

static void cuda_session_release(ronn_cuda_session* s);

static ronn_status* cuda_session_create(const ronn_model* model, ronn_cuda_session** out_session,
                                        ronn_device_memory* out_memory) {
  *out_session = NULL;
  ronn_status* status = require_driver();
  if (status != NULL) return status;
  const ronn_device_module* m = &model->device;
  ronn_cuda_session* s = (ronn_cuda_session*)calloc(1, sizeof *s);
  if (s == NULL) return ronn_status_out_of_memory();
  s->model = model;
  s->module = m;
  size_t kernels = (size_t)m->header->num_kernels + 1, params = (size_t)m->max_params + 1;
  s->functions = (CUfunction*)calloc(kernels, sizeof(CUfunction));
  s->shared_opt_in = (uint32_t*)calloc(kernels, sizeof(uint32_t));
  s->params = (void**)calloc(params, sizeof(void*));
  s->values = (param_value*)calloc(params, sizeof(param_value));
  if (s->functions == NULL || s->shared_opt_in == NULL || s->params == NULL || s->values == NULL) {
    cuda_session_release(s);
    return ronn_status_out_of_memory();
  }
  status = setup(s);
  if (status != NULL) {
    cuda_session_release(s);
    return status;
  }
  out_memory->arena = (uint8_t*)(uintptr_t)s->arena;
  out_memory->weights = (uint8_t*)(uintptr_t)s->weights;
  out_memory->device_id = DEVICE_ORDINAL;
  *out_session = s;
  return NULL;
}

static void cuda_session_release(ronn_cuda_session* s) {
  if (s == NULL) return;
  if (s->context != NULL && driver.cuCtxPushCurrent(s->context) == CUDA_SUCCESS) {
    if (s->stream != NULL) {
      driver.cuStreamSynchronize(s->stream);
      driver.cuStreamDestroy(s->stream);
    }
    if (s->arena != 0) driver.cuMemFree(s->arena);
    if (s->weights != 0) driver.cuMemFree(s->weights);
    if (s->cu_module != NULL) driver.cuModuleUnload(s->cu_module);
    driver.cuCtxPopCurrent(NULL);
    driver.cuDevicePrimaryCtxRelease(s->device);
  }
  free(s->functions);
  free(s->shared_opt_in);
  free(s->params);
  free(s->values);
  free(s);
}

/* ---- runs ------------------------------------------------------------------------------------ */

static ronn_status* cuda_begin(ronn_cuda_session* s) {
  CUresult rc = driver.cuCtxPushCurrent(s->context);
  if (rc != CUDA_SUCCESS) return cuda_status(RONN_KERNEL_FAILED, rc, "cuCtxPushCurrent");
  s->context_pushed = 1;
  s->previous = current();
  set_current(s);
  return NULL;
}

static ronn_status* cuda_end(ronn_cuda_session* s, int run_ok) {
  (void)run_ok;
  CUresult rc = driver.cuStreamSynchronize(s->stream);
  set_current(s->previous);
  if (s->context_pushed) driver.cuCtxPopCurrent(NULL);
  s->context_pushed = 0;
  if (rc != CUDA_SUCCESS) {
    return cuda_status(RONN_KERNEL_FAILED, rc,
                       "waiting for the GPU (a device kernel or copy of this run)");
  }
  return NULL;
}

static ronn_status* cuda_copy(ronn_cuda_session* s, void* dst, int dst_on_device,
                              const void* src, int src_on_device, uint64_t nbytes) {
  CUdeviceptr d = (CUdeviceptr)(uintptr_t)dst, sp = (CUdeviceptr)(uintptr_t)src;
  CUresult rc;
  const char* what;
  if (dst_on_device && src_on_device) {
    rc = driver.cuMemcpyDtoDAsync(d, sp, (size_t)nbytes, s->stream);
    what = "a device-to-device copy";
  } else if (dst_on_device) {
    /* From pageable memory the driver stages the bytes before returning: the source may change. */
    rc = driver.cuMemcpyHtoDAsync(d, src, (size_t)nbytes, s->stream);
    what = "a host-to-device copy";
  } else {
    rc = driver.cuMemcpyDtoHAsync(dst, sp, (size_t)nbytes, s->stream);
    /* Host code (a kernel, a copy or the caller) reads the bytes next. */
    if (rc == CUDA_SUCCESS) rc = driver.cuStreamSynchronize(s->stream);
    what = "a device-to-host copy";
  }
  return rc == CUDA_SUCCESS ? NULL : cuda_status(RONN_KERNEL_FAILED, rc, what);
}

/* ---- the launch hooks (called by the artifact's host code) ---------------------------------- */

static int hook_error(const char* format, const char* detail, CUresult rc) {
  char message[600], reason[256] = "";
  if (rc != CUDA_SUCCESS) describe(rc, reason, sizeof reason);
  snprintf(message, sizeof message, format, detail, reason);
  ronn_error_set_message(message);
  return -1;
}

static int function_call(void* handle, const void* args, int32_t num_args, void* result) {
  (void)result;
  ronn_cuda_session* s = current();
  if (s == NULL) return hook_error("%s%s", "a device kernel was called outside a session run", 0);
  const ronn_device_module* m = s->module;
  const ronn_ffi_any* any = (const ronn_ffi_any*)args;
  if ((const uint8_t*)handle == m->blob) return 0; /* __tvm_set_device: the context is current */
  uintptr_t base = (uintptr_t)m->kernels, at = (uintptr_t)handle;
  if (at < base || (at - base) % sizeof(ronn_device_kernel_v1) != 0 ||
      (at - base) / sizeof(ronn_device_kernel_v1) >= m->header->num_kernels) {
    return hook_error("%s%s", "a device kernel handle does not belong to this session's model", 0);
  }
  uint32_t k = (uint32_t)((at - base) / sizeof(ronn_device_kernel_v1));
  const ronn_device_kernel_v1* kd = &m->kernels[k];
  if (num_args < 0 || (uint32_t)num_args != kd->num_params + kd->num_launch) {
    return hook_error("device kernel '%s' was launched with a wrong argument count%s",
                      ronn_device_kernel_name(m, k), 0);
  }
  unsigned int dims[6] = {1, 1, 1, 1, 1, 1};
  unsigned int shared = 0;
  for (uint32_t l = 0; l < kd->num_launch; ++l) {
    uint8_t tag = m->bytes[kd->launch + l];
    int64_t value = any[kd->num_params + l].v.v_int64;
    if (value < 0 || value > 0x7fffffff) {
      return hook_error("device kernel '%s' got an invalid launch value%s",
                        ronn_device_kernel_name(m, k), 0);
    }
    if (tag == RONN_LAUNCH_DYN_SHARED) {
      shared = (unsigned int)value;
    } else {
      dims[tag] = (unsigned int)value;
    }
  }
  for (uint32_t p = 0; p < kd->num_params; ++p) {
    param_value* v = &s->values[p];
    switch (m->bytes[kd->params + p]) {
      case RONN_PARAM_POINTER: v->pointer = (CUdeviceptr)(uintptr_t)any[p].v.v_ptr; break;
      case RONN_PARAM_INT32: v->i32 = (int32_t)any[p].v.v_int64; break;
      case RONN_PARAM_INT64: v->i64 = any[p].v.v_int64; break;
      case RONN_PARAM_FLOAT32: v->f32 = (float)any[p].v.v_float64; break;
      default: v->f64 = any[p].v.v_float64; break;
    }
    s->params[p] = v;
  }
  CUresult rc;
  if (shared > STATIC_SHARED_LIMIT && s->shared_opt_in[k] < shared) {
    rc = driver.cuFuncSetAttribute(s->functions[k], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                   (int)shared);
    if (rc != CUDA_SUCCESS) {
      return hook_error("device kernel '%s': the GPU refuses its dynamic shared memory: %s",
                        ronn_device_kernel_name(m, k), rc);
    }
    s->shared_opt_in[k] = shared;
  }
  rc = driver.cuLaunchKernel(s->functions[k], dims[0], dims[1], dims[2], dims[3], dims[4], dims[5],
                             shared, s->stream, s->params, NULL);
  if (rc != CUDA_SUCCESS) {
    return hook_error("launching device kernel '%s' failed: %s", ronn_device_kernel_name(m, k), rc);
  }
  return 0;
}

static int module_lookup(void* library_ctx, const char* name, void** out_handle) {
  ronn_cuda_session* s = current();
  if (s == NULL || library_ctx != (const void*)s->module->blob) {
    return hook_error("%s%s", "device kernels were looked up outside a session run of their model",
                      0);
  }
  const ronn_device_module* m = s->module;
  if (strcmp(name, "__tvm_set_device") == 0) {
    *out_handle = (void*)(uintptr_t)m->blob;
    return 0;
  }
  for (uint32_t k = 0; k < m->header->num_kernels; ++k) {
    if (strcmp(name, ronn_device_kernel_name(m, k)) == 0) {
      *out_handle = (void*)(uintptr_t)&m->kernels[k];
      return 0;
    }
  }
  return hook_error("the artifact has no device kernel named '%s'%s", name, 0);
}

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static int init_once(void** slot, int (*init)(void** out_handle)) {
  if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) != NULL) return 0;
  pthread_mutex_lock(&init_lock);
  int rc = 0;
  if (*slot == NULL) {
    void* handle = NULL;
    rc = init(&handle);
    if (rc == 0) __atomic_store_n(slot, handle, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&init_lock);
  return rc;
}

static void install(void** slot, void* value) {
  if (slot != NULL) __atomic_store_n(slot, value, __ATOMIC_RELEASE);
}

static void cuda_install_hooks(const ronn_artifact_device_v1* device) {
  ronn_device_function_call_fn call = function_call;
  ronn_device_module_lookup_fn lookup = module_lookup;
  ronn_device_init_once_fn once = init_once;
  void* pointer;
  memcpy(&pointer, &call, sizeof pointer);
  install(device->hooks.function_call, pointer);
  memcpy(&pointer, &lookup, sizeof pointer);
  install(device->hooks.module_lookup, pointer);
  memcpy(&pointer, &once, sizeof pointer);
  install(device->hooks.init_once, pointer);
  install(device->hooks.library_ctx, (void*)(uintptr_t)device->blob);
}

/* ---- workspace ------------------------------------------------------------------------------- */

static void* cuda_workspace_alloc(uint64_t nbytes) {
  ronn_cuda_session* s = current();
  if (s == NULL) {
    ronn_error_set_message("MemoryError: a device workspace was requested outside a session run");
    return NULL;
  }
  CUdeviceptr ptr = 0;
  size_t bytes = nbytes > 0 ? (size_t)nbytes : 1;
  CUresult rc = driver.cuMemAllocAsync != NULL ? driver.cuMemAllocAsync(&ptr, bytes, s->stream)
                                               : driver.cuMemAlloc(&ptr, bytes);
  if (rc != CUDA_SUCCESS) {
    char size[32];
    snprintf(size, sizeof size, "%llu", (unsigned long long)nbytes);
    hook_error("MemoryError: a device workspace of %s bytes could not be allocated: %s", size, rc);
    return NULL;
  }
  return (void*)(uintptr_t)ptr;
}

static int cuda_workspace_free(void* ptr) {
  ronn_cuda_session* s = current();
  if (s == NULL || ptr == NULL) return ptr == NULL ? 0 : -1;
  CUdeviceptr p = (CUdeviceptr)(uintptr_t)ptr;
  if (driver.cuMemFreeAsync != NULL) return driver.cuMemFreeAsync(p, s->stream) == CUDA_SUCCESS ? 0 : -1;
  /* Without stream-ordered frees, wait until the kernels that use it are done. */
  if (driver.cuStreamSynchronize(s->stream) != CUDA_SUCCESS) return -1;
  return driver.cuMemFree(p) == CUDA_SUCCESS ? 0 : -1;
}

const ronn_device_ops ronn_cuda_device_ops = {
    .device_type = RONN_DEVICE_TYPE_CUDA,
    .name = "CUDA",
    .install_hooks = cuda_install_hooks,
    .session_create = cuda_session_create,
    .session_release = cuda_session_release,
    .begin = cuda_begin,
    .end = cuda_end,
    .copy = cuda_copy,
    .workspace_alloc = cuda_workspace_alloc,
    .workspace_free = cuda_workspace_free,
};
