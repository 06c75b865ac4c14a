/* Workspace hooks. Kernels allocate scratch memory from inside parallel tasks, so these must be
 * thread-safe.
 *
 * Kernels allocate on every call, often once per parallel task: a tile of accumulators of 1 KiB
 * or more (TVM keeps smaller ones on the stack), a convolution's padded input. TVM's own runtime
 * reuses workspace blocks from a pool, and that is how `ronn-aot tune` measures schedules; with a
 * malloc and a free per task, tuned EfficientNet kernels whose tiles went over 1 KiB ran 1.7x
 * slower here than they had measured. So each thread keeps the last few blocks it freed and hands
 * one out again for a request of about the same size (the same kernel asks for the same sizes
 * run after run). A block carries a header holding its capacity; the cache of a worker thread is
 * released when the thread ends. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "device.h"

#define CACHED_BLOCKS 8
/* The header before each block: its capacity, padded so the block stays RONN_ALIGNMENT-aligned. */
#define HEADER_BYTES RONN_ALIGNMENT

typedef struct block_cache {
  void* base[CACHED_BLOCKS]; /* NULL: empty slot */
  size_t capacity[CACHED_BLOCKS];
} block_cache;

static pthread_key_t cache_key;
static int cache_key_ok;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void release_cache(void* p) {
  block_cache* c = (block_cache*)p;
  for (int i = 0; i < CACHED_BLOCKS; ++i) free(c->base[i]);
  free(c);
}

static void create_cache_key(void) { cache_key_ok = pthread_key_create(&cache_key, release_cache) == 0; }

/* This thread's cache, or NULL when there is none (the blocks are then plain malloc/free). */
static block_cache* thread_cache(int create) {
  pthread_once(&cache_once, create_cache_key);
  if (!cache_key_ok) return NULL;
  block_cache* c = (block_cache*)pthread_getspecific(cache_key);
  if (c == NULL && create) {
    c = (block_cache*)calloc(1, sizeof *c);
    if (c != NULL && pthread_setspecific(cache_key, c) != 0) {
      free(c);
      c = NULL;
    }
  }
  return c;
}

static void* cpu_alloc(size_t nbytes) {
  size_t want = (nbytes + RONN_ALIGNMENT - 1) / RONN_ALIGNMENT * RONN_ALIGNMENT;
  block_cache* c = thread_cache(1);
  if (c != NULL) {
    /* A cached block that fits without wasting more than half of it. */
    for (int i = 0; i < CACHED_BLOCKS; ++i) {
      if (c->base[i] != NULL && c->capacity[i] >= want && c->capacity[i] / 2 <= want) {
        char* base = (char*)c->base[i];
        c->base[i] = NULL;
        return base + HEADER_BYTES;
      }
    }
  }
  void* base = NULL;
  if (want > SIZE_MAX - HEADER_BYTES || posix_memalign(&base, RONN_ALIGNMENT, want + HEADER_BYTES) != 0) {
    return NULL;
  }
  *(size_t*)base = want;
  return (char*)base + HEADER_BYTES;
}

static void cpu_free(void* ptr) {
  if (ptr == NULL) return;
  char* base = (char*)ptr - HEADER_BYTES;
  block_cache* c = thread_cache(1);
  if (c != NULL) {
    int slot = -1;
    for (int i = 0; i < CACHED_BLOCKS; ++i) {
      if (c->base[i] == NULL) {
        slot = i;
        break;
      }
    }
    if (slot < 0) { /* full: make room by dropping the first slot's block */
      free(c->base[0]);
      for (int i = 1; i < CACHED_BLOCKS; ++i) {
        c->base[i - 1] = c->base[i];
        c->capacity[i - 1] = c->capacity[i];
      }
      slot = CACHED_BLOCKS - 1;
    }
    c->base[slot] = base;
    c->capacity[slot] = *(size_t*)base;
    return;
  }
  free(base);
}

void* ronn_workspace_alloc_hook(int device_type, int device_id, uint64_t nbytes,
                                int dtype_code_hint, int dtype_bits_hint) {
  (void)device_id;
  (void)dtype_code_hint;
  (void)dtype_bits_hint;
  const ronn_device_ops* device = ronn_device_ops_find((uint32_t)device_type);
  if (device != NULL) {
    /* Scratch between the launches of one device kernel; the device sets the message. */
    return device->workspace_alloc(nbytes);
  }
  if (device_type == RONN_DL_CPU && nbytes <= SIZE_MAX) {
    void* ptr = cpu_alloc(nbytes > 0 ? (size_t)nbytes : 1);
    if (ptr != NULL) return ptr;
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
  const ronn_device_ops* device = ronn_device_ops_find((uint32_t)device_type);
  if (device != NULL) return device->workspace_free(ptr);
  cpu_free(ptr);
  return 0;
}
