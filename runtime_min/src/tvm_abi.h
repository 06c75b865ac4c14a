/* The few TVM / tvm-ffi / DLPack structs that compiled kernels exchange with their runtime.
 *
 * runtime_min must build where no TVM is installed, so the layouts are restated here instead of
 * including tvm_ffi/c_api.h, dlpack.h and c_backend_api.h. They are fixed by those ABIs; the
 * size checks at the bottom catch a mistake at compile time on 64-bit targets. */
#ifndef RONN_TVM_ABI_H_
#define RONN_TVM_ABI_H_

#include <stdint.h>

#define RONN_FFI_TYPE_NONE 0          /* kTVMFFINone */
#define RONN_FFI_TYPE_DLTENSOR_PTR 7  /* kTVMFFIDLTensorPtr */
#define RONN_DL_CPU 1                 /* kDLCPU */

typedef struct ronn_dl_device {
  int32_t device_type;
  int32_t device_id;
} ronn_dl_device;

typedef struct ronn_dl_dtype {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} ronn_dl_dtype;

typedef struct ronn_dl_tensor {
  void* data;
  ronn_dl_device device;
  int32_t ndim;
  ronn_dl_dtype dtype;
  int64_t* shape;
  int64_t* strides; /* NULL: compact row-major */
  uint64_t byte_offset;
} ronn_dl_tensor;

/* TVMFFIAny: 16 bytes whatever the pointer size. */
typedef struct ronn_ffi_any {
  int32_t type_index;
  uint32_t zero_padding;
  union {
    int64_t v_int64;
    uint64_t v_uint64;
    double v_float64;
    void* v_ptr;
  } v;
} ronn_ffi_any;

/* TVMParallelGroupEnv. */
typedef struct ronn_parallel_env {
  void* sync_handle;
  int32_t num_task;
} ronn_parallel_env;

typedef char ronn_check_ffi_any_size[sizeof(ronn_ffi_any) == 16 ? 1 : -1];
typedef char ronn_check_dl_dtype_size[sizeof(ronn_dl_dtype) == 4 ? 1 : -1];

#endif /* RONN_TVM_ABI_H_ */
