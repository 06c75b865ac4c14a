#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

struct ronn_status {
  ronn_status_code code;
  const char* message;
  char storage[]; /* the message, when heap-allocated */
};

/* Reporting "out of memory" must not itself need memory. */
static ronn_status out_of_memory_status = {
    RONN_OUT_OF_MEMORY, "out of memory (while creating an error status)"};

ronn_status* ronn_status_out_of_memory(void) { return &out_of_memory_status; }

ronn_status* ronn_make_status(ronn_status_code code, const char* format, ...) {
  va_list args;
  va_start(args, format);
  int length = vsnprintf(NULL, 0, format, args);
  va_end(args);
  if (length < 0) length = 0;
  ronn_status* status = (ronn_status*)malloc(sizeof(ronn_status) + (size_t)length + 1);
  if (status == NULL) return &out_of_memory_status;
  va_start(args, format);
  vsnprintf(status->storage, (size_t)length + 1, format, args);
  va_end(args);
  status->code = code;
  status->message = status->storage;
  return status;
}

ronn_status_code ronn_status_get_code(const ronn_status* status) {
  return status == NULL ? RONN_OK : status->code;
}

const char* ronn_status_get_message(const ronn_status* status) {
  return status == NULL ? "OK" : status->message;
}

void ronn_status_free(ronn_status* status) {
  if (status != NULL && status != &out_of_memory_status) free(status);
}

const char* ronn_status_code_name(ronn_status_code code) {
  switch (code) {
    case RONN_OK: return "OK";
    case RONN_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case RONN_NOT_FOUND: return "NOT_FOUND";
    case RONN_IO_ERROR: return "IO_ERROR";
    case RONN_CORRUPT_ARTIFACT: return "CORRUPT_ARTIFACT";
    case RONN_ABI_MISMATCH: return "ABI_MISMATCH";
    case RONN_LOAD_FAILED: return "LOAD_FAILED";
    case RONN_KERNEL_FAILED: return "KERNEL_FAILED";
    case RONN_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case RONN_UNAVAILABLE: return "UNAVAILABLE";
    case RONN_INTERNAL: return "INTERNAL";
    case RONN_UNSIGNED_ARTIFACT: return "UNSIGNED_ARTIFACT";
    case RONN_UNTRUSTED_SIGNER: return "UNTRUSTED_SIGNER";
    case RONN_BAD_SIGNATURE: return "BAD_SIGNATURE";
  }
  return "UNKNOWN";
}
