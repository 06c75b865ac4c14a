/* A private, sealed copy of an artifact (Linux memfd): a signed artifact is copied while it is
 * hashed, the copy is sealed against any further write, and dlopen maps the copy, so the bytes
 * that run are exactly the bytes whose signature was checked, whoever can write the file.
 * Elsewhere (no memfd_create, or sealing refused) the caller maps the file itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "../internal.h"

#if defined(__linux__)
#include <sys/syscall.h>
#endif

/* From <linux/memfd.h> and <linux/fcntl.h>, for C libraries that do not define them. */
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#endif
#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

int ronn_platform_sealed_copy_create(void) {
#if defined(__linux__) && defined(SYS_memfd_create)
  return (int)syscall(SYS_memfd_create, "ronn-artifact", MFD_CLOEXEC | MFD_ALLOW_SEALING);
#else
  errno = ENOSYS;
  return -1;
#endif
}

int ronn_platform_sealed_copy_write(int fd, const void* data, size_t size) {
  const char* p = (const char*)data;
  while (size > 0) {
    ssize_t put = write(fd, p, size);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return -1;
    p += put;
    size -= (size_t)put;
  }
  return 0;
}

int ronn_platform_sealed_copy_seal(int fd) {
  return fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}
