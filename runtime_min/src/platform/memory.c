/* The weights on transparent huge pages. Kernels stream megabytes of weights per call (ResNet-50's
 * 7x7 stage reads 9.4 MB per 3x3 convolution, mostly from L3): in the library's file mapping
 * that is one 4 KiB page, one TLB entry and one restart of the hardware prefetcher per 4 KiB.
 * A copy on 2 MiB pages measured light ResNet-50 27.04 -> 26.18 ms (2 threads, AVX-512; the
 * 7x7 stage alone 0.5 ms faster). Linux only hands anonymous memory out on huge pages when
 * asked (transparent_hugepage=madvise is the common default); elsewhere the weights stay where
 * the library put them. */
#if defined(__linux__)
#define _GNU_SOURCE
#include <sys/mman.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "../internal.h"

#define HUGE_PAGE ((size_t)2 << 20)

/* The options' huge_pages = 0 turn both uses off: the weights copy holds them twice in memory
 * (the copy, and the library's clean file pages, which the kernel may drop under pressure),
 * which a device short of RAM may not afford. */

/* `size` bytes on 2 MiB pages (to free()), or NULL where the platform has none to give, the
 * block would not fill one or they are turned off. */
static void* huge_alloc(uint64_t size, int allowed) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (!allowed || size < HUGE_PAGE || size > SIZE_MAX - HUGE_PAGE) return NULL;
  size_t capacity = ((size_t)size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  void* block = NULL;
  if (posix_memalign(&block, HUGE_PAGE, capacity) != 0) return NULL;
  if (madvise(block, capacity, MADV_HUGEPAGE) != 0) {
    free(block); /* no huge pages here: the caller's usual memory does as well */
    return NULL;
  }
  return block;
#else
  (void)size;
  (void)allowed;
  return NULL;
#endif
}

const uint8_t* ronn_platform_weights_copy(const uint8_t* weights, uint64_t size, int huge_pages,
                                          void** out_owned) {
  *out_owned = huge_alloc(size, huge_pages);
  if (*out_owned == NULL) return weights; /* read in place: slower to stream, still correct */
  memcpy(*out_owned, weights, (size_t)size);
  return (const uint8_t*)*out_owned;
}

/* The arena holds every activation; a 224x224 CNN's 10 MB of them are written and re-read by each
 * kernel, and on 4 KiB pages that is a TLB entry per 4 KiB, as for the weights above. */
void* ronn_platform_arena_alloc(size_t size, int huge_pages) {
  void* arena = huge_alloc(size, huge_pages);
  if (arena == NULL && posix_memalign(&arena, RONN_ALIGNMENT, size) != 0) arena = NULL;
  return arena;
}
