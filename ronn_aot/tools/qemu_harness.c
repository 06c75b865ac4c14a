/* The kernel harness of `ronn-aot tune` on targets that run under qemu-user (tools/qemu_runner.py).
 *
 * Cross-compiled once per toolchain, it loads one candidate kernel (a shared library MetaSchedule's
 * builder exported with the target's cross compiler), gives it buffers of the shapes and dtypes its
 * parameters have, and calls it CALLS times:
 *
 *   harness KERNEL.so CALLS DTYPE:D0,D1,... [DTYPE:...]      (a scalar parameter: DTYPE: with no dims)
 *
 * The runner counts the guest instructions of two such processes (CALLS = N and 2N) with the
 * instruction-counting plugin (qemu_icount.c): the difference is N calls, start-up, loading,
 * buffer set-up and first-call effects (lazy binding) cancelled.
 *
 * The hooks a TVM kernel needs from its runtime (tvm_abi.h of runtime_min says which) are served
 * here the simplest way: workspace from aligned_alloc, parallel loops as a single task on the
 * calling thread (runtime_min's pool does the same at one thread, which is how instructions per
 * inference are counted: bench/aarch64.py), errors printed to stderr. Inputs hold a fixed pattern
 * (floats small and finite, integers 0, so that index inputs stay in range): kernels' instruction
 * counts do not depend on their data.
 *
 * The TVM/DLPack layouts are restated (runtime_min/src/tvm_abi.h has the same, with size checks)
 * so that nothing but libc is needed. Exit status: 0, or 2 with a message on stderr. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int32_t device_type;
  int32_t device_id;
} dl_device;

typedef struct {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} dl_dtype;

typedef struct {
  void* data;
  dl_device device;
  int32_t ndim;
  dl_dtype dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
} dl_tensor;

typedef struct {
  int32_t type_index;
  uint32_t zero_padding;
  union {
    int64_t v_int64;
    double v_float64;
    void* v_ptr;
  } v;
} ffi_any;

typedef struct {
  void* sync_handle;
  int32_t num_task;
} parallel_env;

enum { FFI_NONE = 0, FFI_INT = 1, FFI_FLOAT = 3, FFI_DLTENSOR_PTR = 7 };
enum { DL_INT = 0, DL_UINT = 1, DL_FLOAT = 2, DL_BFLOAT = 4, DL_BOOL = 6 };
#define MAX_ARGS 64
#define MAX_DIMS 16

typedef int (*packed_fn)(void* self, const ffi_any* args, int32_t num_args, ffi_any* result);
typedef int (*parallel_lambda)(int task_id, parallel_env* env, void* cdata);

/* Called by the kernel's error paths (exported to it: the harness is linked with -rdynamic). */
int TVMFFIErrorSetRaisedFromCStrParts(const char* kind, const char** parts, int32_t num_parts) {
  fprintf(stderr, "kernel error: %s:", kind != NULL ? kind : "Error");
  for (int32_t i = 0; i < num_parts; ++i) fprintf(stderr, " %s", parts[i] != NULL ? parts[i] : "");
  fputc('\n', stderr);
  return 0;
}

static void* alloc_workspace(int device_type, int device_id, uint64_t nbytes, int dtype_code, int dtype_bits) {
  (void)device_type, (void)device_id, (void)dtype_code, (void)dtype_bits;
  return aligned_alloc(64, (size_t)((nbytes + 63) / 64 * 64 + 64));
}

static int free_workspace(int device_type, int device_id, void* ptr) {
  (void)device_type, (void)device_id;
  free(ptr);
  return 0;
}

static int parallel_launch(parallel_lambda lambda, void* cdata, int num_task) {
  (void)num_task;
  parallel_env env = {NULL, 1};
  return lambda(0, &env, cdata);
}

static int parallel_barrier(int task_id, parallel_env* env) {
  (void)task_id, (void)env;
  return 0;
}

static int fail(const char* what, const char* detail) {
  fprintf(stderr, "qemu_harness: %s%s%s\n", what, detail != NULL ? ": " : "", detail != NULL ? detail : "");
  return 2;
}

/* Sets a hook slot (a pointer variable the kernel library defines) if the library has it. */
static void set_slot(void* lib, const char* name, void* fn) {
  void** slot = (void**)dlsym(lib, name);
  if (slot != NULL) *slot = fn;
}

static int parse_dtype(const char* s, size_t n, dl_dtype* out) {
  static const struct {
    const char* name;
    uint8_t code;
  } kinds[] = {{"bfloat", DL_BFLOAT}, {"float", DL_FLOAT}, {"uint", DL_UINT}, {"int", DL_INT}, {"bool", DL_BOOL}};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; ++k) {
    size_t len = strlen(kinds[k].name);
    if (n < len || strncmp(s, kinds[k].name, len) != 0) continue;
    char rest[32];
    if (n - len >= sizeof rest) return -1;
    memcpy(rest, s + len, n - len);
    rest[n - len] = '\0';
    unsigned bits = kinds[k].code == DL_BOOL ? 8 : 0, lanes = 1;
    if (kinds[k].code != DL_BOOL && sscanf(rest, "%u", &bits) != 1) return -1;
    const char* x = strchr(rest, 'x');
    if (x != NULL && sscanf(x + 1, "%u", &lanes) != 1) return -1;
    *out = (dl_dtype){kinds[k].code, (uint8_t)bits, (uint16_t)lanes};
    return 0;
  }
  return -1;
}

static void fill(void* data, size_t count, dl_dtype dt) {
  if (dt.code == DL_FLOAT && dt.bits == 32) {
    float* f = data;
    for (size_t i = 0; i < count; ++i) f[i] = (float)((int)(i % 17) - 8) * 0.0625f;
  } else if (dt.code == DL_FLOAT && dt.bits == 64) {
    double* f = data;
    for (size_t i = 0; i < count; ++i) f[i] = (double)((int)(i % 17) - 8) * 0.0625;
  } else {
    memset(data, 0, count * ((dt.bits * dt.lanes + 7) / 8));
  }
}

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: harness KERNEL.so CALLS DTYPE:D0,D1,... ...", NULL);
  long calls = strtol(argv[2], NULL, 10);
  int num_args = argc - 3;
  if (calls < 0 || num_args > MAX_ARGS) return fail("bad CALLS or too many arguments", NULL);

  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return fail("dlopen failed", dlerror());
  packed_fn fn = (packed_fn)dlsym(lib, "__tvm_ffi_main");
  if (fn == NULL) return fail("the library has no __tvm_ffi_main (kernel named main)", dlerror());
  set_slot(lib, "__TVMBackendAllocWorkspace", (void*)alloc_workspace);
  set_slot(lib, "__TVMBackendFreeWorkspace", (void*)free_workspace);
  set_slot(lib, "__TVMBackendParallelLaunch", (void*)parallel_launch);
  set_slot(lib, "__TVMBackendParallelBarrier", (void*)parallel_barrier);

  static dl_tensor tensors[MAX_ARGS];
  static int64_t shapes[MAX_ARGS][MAX_DIMS];
  static ffi_any args[MAX_ARGS];
  for (int a = 0; a < num_args; ++a) {
    const char* spec = argv[3 + a];
    const char* colon = strchr(spec, ':');
    dl_dtype dt;
    if (colon == NULL || parse_dtype(spec, (size_t)(colon - spec), &dt) != 0) return fail("bad argument spec", spec);
    if (colon[1] == '\0') { /* a scalar parameter */
      if (dt.code == DL_FLOAT)
        args[a] = (ffi_any){FFI_FLOAT, 0, {.v_float64 = 1.0}};
      else
        args[a] = (ffi_any){FFI_INT, 0, {.v_int64 = 1}};
      continue;
    }
    int ndim = 0;
    size_t count = 1;
    for (const char* p = colon + 1; *p != '\0';) {
      char* end;
      long long d = strtoll(p, &end, 10);
      if (end == p || d < 0 || ndim == MAX_DIMS) return fail("bad shape", spec);
      shapes[a][ndim++] = d;
      count *= (size_t)d;
      p = *end == ',' ? end + 1 : end;
      if (*end != ',' && *end != '\0') return fail("bad shape", spec);
    }
    size_t bytes = count * ((dt.bits * dt.lanes + 7) / 8);
    void* data = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (data == NULL) return fail("out of memory", spec);
    fill(data, count, dt);
    tensors[a] = (dl_tensor){data, {1, 0}, ndim, dt, shapes[a], NULL, 0};
    args[a] = (ffi_any){FFI_DLTENSOR_PTR, 0, {.v_ptr = &tensors[a]}};
  }

  for (long i = 0; i < calls; ++i) {
    ffi_any result = {FFI_NONE, 0, {0}};
    if (fn(NULL, args, num_args, &result) != 0) return fail("the kernel returned an error", NULL);
  }
  return 0;
}
