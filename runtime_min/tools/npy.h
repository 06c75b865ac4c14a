/* Minimal .npy (NumPy format v1/v2/v3) reader and writer for ronn-run: little-endian, C-order
 * arrays of bool, integer and floating-point dtypes. */
#ifndef RONN_TOOLS_NPY_H_
#define RONN_TOOLS_NPY_H_

#include <stddef.h>
#include <stdint.h>

#include "ronn/runtime.h"

#define NPY_MAX_NDIM 32

typedef struct npy_array {
  ronn_dtype dtype;
  int32_t ndim;
  int64_t shape[NPY_MAX_NDIM];
  void* data; /* 64-byte aligned so the runtime uses it in place; owned, npy_free releases it */
  uint64_t nbytes;
} npy_array;

/* On failure returns nonzero and writes a message for the user into `error`. */
int npy_read(const char* path, npy_array* out, char* error, size_t error_size);
int npy_write(const char* path, ronn_dtype dtype, int32_t ndim, const int64_t* shape,
              const void* data, uint64_t nbytes, char* error, size_t error_size);
void npy_free(npy_array* array);

/* NumPy's name for a dtype ("float32", "bool", ...), or NULL when NumPy has none. */
const char* npy_dtype_name(ronn_dtype dtype);

#endif /* RONN_TOOLS_NPY_H_ */
