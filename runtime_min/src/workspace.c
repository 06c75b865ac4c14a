/* Workspace hooks. Kernels allocate scratch memory from inside parallel tasks, so these must be
 * thread-safe; the C allocator is. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

void* ronn_workspace_alloc_hook(int device_type, int device_id, uint64_t nbytes,
                                int dtype_code_hint, int dtype_bits_hint) {
  (void)device_id;
  (void)dtype_code_hint;
  (void)dtype_bits_hint;
  void* ptr = NULL;
  if (device_type == RONN_DL_CUDA) {
    /* Scratch between the launches of one device kernel; the CUDA path sets the message. */
    return ronn_cuda_workspace_alloc(nbytes);
  }
  if (device_type == RONN_DL_CPU && nbytes <= SIZE_MAX &&
      posix_memalign(&ptr, RONN_ALIGNMENT, nbytes > 0 ? (size_t)nbytes : 1) == 0) {
    return ptr;
  }
  char message[128];
  snprintf(message, sizeof message,
           "MemoryError: workspace allocation of %llu bytes on device type %d failed",
           (unsigned long long)nbytes, device_type);
  ronn_error_set_message(message);
  return NULL;
}

int ronn_workspace_free_hook(int device_type, int device_id, void* ptr) {
  (void)device_id;
  if (device_type == RONN_DL_CUDA) return ronn_cuda_workspace_free(ptr);
  free(ptr);
  return 0;
}
