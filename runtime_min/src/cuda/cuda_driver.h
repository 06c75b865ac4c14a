/* The few CUDA driver API types, constants and entry points the runtime uses, declared here so
 * that runtime_min builds without the CUDA toolkit; values are those of cuda.h (CUDA 11-13).
 * The entry points are looked up with dlsym in libcuda.so.1 at the first session of a CUDA
 * artifact (versioned names, e.g. cuMemAlloc_v2, are the ones cuda.h maps the API to). */
#ifndef RONN_CUDA_DRIVER_H_
#define RONN_CUDA_DRIVER_H_

#include <stddef.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr; /* 64-bit on every 64-bit platform */
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef struct CUstream_st* CUstream;

#define CUDA_SUCCESS 0
#define CUDA_ERROR_NO_DEVICE 100
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES 8
#define CU_STREAM_NON_BLOCKING 0x1
#define CU_JIT_ERROR_LOG_BUFFER 5
#define CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6

/* X(name in this table, symbol in libcuda.so.1, return, parameters); `optional` entries may be
 * missing (older drivers) and are then NULL. */
#define RONN_CUDA_REQUIRED(X)                                                                  \
  X(cuInit, "cuInit", (unsigned int flags))                                                    \
  X(cuDriverGetVersion, "cuDriverGetVersion", (int* version))                                  \
  X(cuGetErrorName, "cuGetErrorName", (CUresult error, const char** name))                     \
  X(cuGetErrorString, "cuGetErrorString", (CUresult error, const char** text))                 \
  X(cuDeviceGetCount, "cuDeviceGetCount", (int* count))                                        \
  X(cuDeviceGet, "cuDeviceGet", (CUdevice* device, int ordinal))                               \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute", (int* value, int attribute, CUdevice device)) \
  X(cuDeviceGetName, "cuDeviceGetName", (char* name, int length, CUdevice device))             \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", (CUcontext* ctx, CUdevice device))   \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", (CUdevice device))              \
  X(cuCtxPushCurrent, "cuCtxPushCurrent_v2", (CUcontext ctx))                                  \
  X(cuCtxPopCurrent, "cuCtxPopCurrent_v2", (CUcontext* ctx))                                   \
  X(cuModuleLoadDataEx, "cuModuleLoadDataEx",                                                  \
    (CUmodule* module, const void* image, unsigned int num_options, int* options, void** values)) \
  X(cuModuleUnload, "cuModuleUnload", (CUmodule module))                                       \
  X(cuModuleGetFunction, "cuModuleGetFunction", (CUfunction* f, CUmodule module, const char* name)) \
  X(cuFuncSetAttribute, "cuFuncSetAttribute", (CUfunction f, int attribute, int value))        \
  X(cuMemAlloc, "cuMemAlloc_v2", (CUdeviceptr* ptr, size_t bytes))                             \
  X(cuMemFree, "cuMemFree_v2", (CUdeviceptr ptr))                                              \
  X(cuMemcpyHtoD, "cuMemcpyHtoD_v2", (CUdeviceptr dst, const void* src, size_t bytes))         \
  X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2",                                                 \
    (CUdeviceptr dst, const void* src, size_t bytes, CUstream stream))                         \
  X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2",                                                 \
    (void* dst, CUdeviceptr src, size_t bytes, CUstream stream))                               \
  X(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2",                                                 \
    (CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream))                         \
  X(cuStreamCreate, "cuStreamCreate", (CUstream* stream, unsigned int flags))                  \
  X(cuStreamDestroy, "cuStreamDestroy_v2", (CUstream stream))                                  \
  X(cuStreamSynchronize, "cuStreamSynchronize", (CUstream stream))                             \
  X(cuLaunchKernel, "cuLaunchKernel",                                                          \
    (CUfunction f, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,              \
     unsigned int block_x, unsigned int block_y, unsigned int block_z,                         \
     unsigned int shared_bytes, CUstream stream, void** params, void** extra))

/* Stream-ordered allocation (CUDA 11.2+), for kernel workspaces. */
#define RONN_CUDA_OPTIONAL(X)                                                                  \
  X(cuMemAllocAsync, "cuMemAllocAsync", (CUdeviceptr* ptr, size_t bytes, CUstream stream))     \
  X(cuMemFreeAsync, "cuMemFreeAsync", (CUdeviceptr ptr, CUstream stream))

#define RONN_CUDA_FIELD(name, symbol, params) CUresult (*name) params;
typedef struct ronn_cuda_driver {
  RONN_CUDA_REQUIRED(RONN_CUDA_FIELD)
  RONN_CUDA_OPTIONAL(RONN_CUDA_FIELD)
} ronn_cuda_driver;
#undef RONN_CUDA_FIELD

#endif /* RONN_CUDA_DRIVER_H_ */
