/* Footer, integrity and signature-block reads on the artifact file, done with plain reads of
 * one descriptor before dlopen: a mapping of a truncated file faults (SIGBUS) when touched past
 * its end, a read just fails; and model.c dlopens this same descriptor, so the bytes checked here
 * are the bytes loaded even when the path is replaced in between. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define FOOTER_SIZE 96u
#define HASH_CHUNK (64u * 1024u)

typedef char check_footer_size[sizeof(ronn_artifact_footer_v1) == FOOTER_SIZE ? 1 : -1];
typedef char check_signature_size[sizeof(ronn_artifact_signature_v1) == RONN_SIGNATURE_BLOCK_SIZE
                                      ? 1 : -1];

static uint32_t load_u32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load_u64(const uint8_t* p) {
  return (uint64_t)load_u32(p) | (uint64_t)load_u32(p + 4) << 32;
}

static void decode_footer(const uint8_t raw[FOOTER_SIZE], ronn_artifact_footer_v1* footer) {
  memcpy(footer->magic, raw, 8);
  footer->abi_version = load_u32(raw + 8);
  footer->footer_size = load_u32(raw + 12);
  footer->payload_size = load_u64(raw + 16);
  footer->plan_file_offset = load_u64(raw + 24);
  footer->plan_size = load_u64(raw + 32);
  footer->weights_file_offset = load_u64(raw + 40);
  footer->weights_size = load_u64(raw + 48);
  footer->code_size = load_u64(raw + 56);
  memcpy(footer->sha256, raw + 64, 32);
}

static int region_fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

static void hex(const uint8_t digest[32], char out[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) {
    out[2 * i] = digits[digest[i] >> 4];
    out[2 * i + 1] = digits[digest[i] & 15];
  }
  out[64] = '\0';
}

static ronn_status* check_footer(const char* path, const ronn_artifact_footer_v1* footer,
                                 uint64_t file_size) {
  if (memcmp(footer->magic, RONN_FOOTER_MAGIC, 8) != 0) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "'%s': no ronn-aot footer at the end of the file (bad magic): it is "
                            "not an artifact written by ronn-aot, or it was truncated",
                            path);
  }
  if (footer->abi_version != RONN_ABI_VERSION) {
    return ronn_make_status(RONN_ABI_MISMATCH,
                            "'%s': artifact ABI version %u, this runtime speaks version %u: "
                            "recompile the model with a matching ronn-aot",
                            path, footer->abi_version, RONN_ABI_VERSION);
  }
  if (footer->footer_size != FOOTER_SIZE) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT, "'%s': footer size %u, expected %u", path,
                            footer->footer_size, FOOTER_SIZE);
  }
  if (footer->payload_size != file_size - FOOTER_SIZE) {
    return ronn_make_status(
        RONN_CORRUPT_ARTIFACT,
        "'%s': the footer describes %llu bytes before it but the file holds %llu: the file was "
        "truncated or extended",
        path, (unsigned long long)footer->payload_size,
        (unsigned long long)(file_size - FOOTER_SIZE));
  }
  if (!region_fits(footer->plan_file_offset, footer->plan_size, footer->payload_size) ||
      !region_fits(footer->weights_file_offset, footer->weights_size, footer->payload_size) ||
      footer->code_size > footer->payload_size) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "'%s': footer regions (plan, weights, code) lie outside the file",
                            path);
  }
  return NULL;
}

/* Reads exactly `size` bytes at `offset`; nonzero when the file is shorter or unreadable. */
static int read_at(int fd, void* out, size_t size, uint64_t offset) {
  uint8_t* p = (uint8_t*)out;
  while (size > 0) {
    ssize_t got = pread(fd, p, size, (off_t)offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return 1;
    p += got;
    size -= (size_t)got;
    offset += (uint64_t)got;
  }
  return 0;
}

static uint16_t load_u16(const uint8_t* p) { return (uint16_t)(p[0] | p[1] << 8); }

/* The ELF program headers, read as the dynamic loader will map them: every segment's file bytes
 * must lie inside the payload. The loader maps segments without comparing them with the file's
 * size, and touching a mapped page past the end of a file raises SIGBUS: a truncated artifact
 * (re-sealed, or loaded without the hash check) would kill the process inside dlopen. */
static ronn_status* check_elf(const char* path, const ronn_artifact_file* file) {
  uint8_t header[64];
  uint64_t payload = file->footer.payload_size;
  if (payload < sizeof header || read_at(file->fd, header, sizeof header, 0) ||
      memcmp(header, "\177ELF", 4) != 0 || (header[4] != 1 && header[4] != 2) || header[5] != 1) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "'%s' does not start with a little-endian ELF header: it is not a "
                            "ronn-aot artifact, or it is corrupted",
                            path);
  }
  int wide = header[4] == 2; /* ELFCLASS64 */
  uint64_t table = wide ? load_u64(header + 0x20) : load_u32(header + 0x1c);
  uint32_t entry = load_u16(header + (wide ? 0x36 : 0x2a));
  uint32_t count = load_u16(header + (wide ? 0x38 : 0x2c));
  if (entry != (wide ? 56u : 32u) || !region_fits(table, (uint64_t)entry * count, payload)) {
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "'%s': the ELF program header table lies outside the file", path);
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t ph[56];
    if (read_at(file->fd, ph, entry, table + (uint64_t)i * entry)) {
      return ronn_make_status(RONN_IO_ERROR, "'%s': cannot read ELF program header %u", path, i);
    }
    uint64_t offset = wide ? load_u64(ph + 8) : load_u32(ph + 4);
    uint64_t size = wide ? load_u64(ph + 32) : load_u32(ph + 16);
    if (!region_fits(offset, size, payload)) {
      return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                              "'%s': ELF segment %u (file bytes %llu + %llu) lies past the end of "
                              "the artifact's %llu bytes: the file is truncated",
                              path, i, (unsigned long long)offset, (unsigned long long)size,
                              (unsigned long long)payload);
    }
  }
  return NULL;
}

/* The signature block, when the payload ends with one (its magic); a block with another version
 * or size is kept as found so that signature.c can say what is wrong with it. */
static ronn_status* read_signature(const char* path, ronn_artifact_file* file) {
  const uint64_t size = RONN_SIGNATURE_BLOCK_SIZE;
  uint8_t raw[RONN_SIGNATURE_BLOCK_SIZE];
  if (file->footer.payload_size < size) return NULL;
  if (read_at(file->fd, raw, sizeof raw, file->footer.payload_size - size)) {
    return ronn_make_status(RONN_IO_ERROR, "'%s': cannot read the signature block", path);
  }
  if (memcmp(raw, RONN_SIGNATURE_MAGIC, 8) != 0) return NULL;
  ronn_artifact_signature_v1* block = &file->signature;
  memcpy(block->magic, raw, 8);
  block->version = load_u32(raw + 8);
  block->block_size = load_u32(raw + 12);
  block->algorithm = load_u32(raw + 16);
  block->reserved = load_u32(raw + 20);
  block->signed_size = load_u64(raw + 24);
  memcpy(block->public_key, raw + 32, 32);
  memcpy(block->signature, raw + 64, 64);
  file->has_signature = 1;
  return NULL;
}

/* One pass over the payload: the footer's SHA-256 and, for a signed file, the SHA-256 of the
 * bytes its signature covers (the state at the block's start, finalised on a copy). Each chunk
 * hashed is also written to `copy` when it is a descriptor (the sealed private copy). */
static ronn_status* check_hash(const char* path, ronn_artifact_file* file, int copy) {
  uint8_t* chunk = (uint8_t*)malloc(HASH_CHUNK);
  if (chunk == NULL) return ronn_status_out_of_memory();
  const ronn_artifact_footer_v1* footer = &file->footer;
  uint64_t split = file->has_signature && file->signature.block_size == RONN_SIGNATURE_BLOCK_SIZE
                       ? footer->payload_size - RONN_SIGNATURE_BLOCK_SIZE
                       : footer->payload_size;
  ronn_sha256 ctx;
  ronn_sha256_init(&ctx);
  ronn_status* status = NULL;
  uint64_t position = 0;
  while (position < footer->payload_size) {
    if (position == split) {
      ronn_sha256 prefix = ctx;
      ronn_sha256_final(&prefix, file->signed_sha256);
    }
    uint64_t end = position < split ? split : footer->payload_size;
    size_t want = end - position < HASH_CHUNK ? (size_t)(end - position) : HASH_CHUNK;
    if (read_at(file->fd, chunk, want, position)) {
      status = ronn_make_status(RONN_CORRUPT_ARTIFACT,
                                "'%s': could not read the file (it changed while being read?)",
                                path);
      break;
    }
    if (copy >= 0 && ronn_platform_sealed_copy_write(copy, chunk, want) != 0) {
      status = ronn_make_status(RONN_OUT_OF_MEMORY,
                                "'%s': no memory for the private copy a signed artifact is loaded "
                                "from (%llu bytes)",
                                path, (unsigned long long)file->size);
      break;
    }
    ronn_sha256_update(&ctx, chunk, want);
    position += want;
  }
  free(chunk);
  if (status != NULL) return status;
  if (split == footer->payload_size) {
    ronn_sha256 prefix = ctx;
    ronn_sha256_final(&prefix, file->signed_sha256);
  }
  uint8_t digest[32];
  ronn_sha256_final(&ctx, digest);
  file->hashed = 1;
  if (memcmp(digest, footer->sha256, 32) != 0) {
    char expected[65], actual[65];
    hex(footer->sha256, expected);
    hex(digest, actual);
    return ronn_make_status(RONN_CORRUPT_ARTIFACT,
                            "'%s': SHA-256 mismatch, the file is corrupted (footer says %s, "
                            "content hashes to %s): copy or recompile it again",
                            path, expected, actual);
  }
  return NULL;
}

/* Hashes the payload into a sealed private copy, which then replaces the file's descriptor. */
static ronn_status* hash_into_sealed_copy(const char* path, ronn_artifact_file* file) {
  int copy = ronn_platform_sealed_copy_create();
  if (copy < 0) return check_hash(path, file, -1); /* no such file here: map the file itself */
  ronn_status* status = check_hash(path, file, copy);
  if (status == NULL && (ronn_platform_sealed_copy_write(copy, file->footer_raw, FOOTER_SIZE) != 0 ||
                         ronn_platform_sealed_copy_seal(copy) != 0)) {
    status = ronn_make_status(RONN_OUT_OF_MEMORY,
                              "'%s': could not complete and seal the private copy a signed "
                              "artifact is loaded from",
                              path);
  }
  if (status != NULL) {
    close(copy);
    return status;
  }
  close(file->fd);
  file->fd = copy;
  file->sealed = 1;
  return NULL;
}

ronn_status* ronn_artifact_file_open(const char* path, int verify_hash, int private_copy,
                                     ronn_artifact_file* out_file) {
  memset(out_file, 0, sizeof *out_file);
  out_file->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (out_file->fd < 0) {
    int error = errno;
    return ronn_make_status(error == ENOENT || error == ENOTDIR ? RONN_NOT_FOUND : RONN_IO_ERROR,
                            "cannot open artifact '%s': %s", path, strerror(error));
  }
  ronn_status* status = NULL;
  struct stat info;
  uint8_t raw[FOOTER_SIZE];
  if (fstat(out_file->fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    status = ronn_make_status(RONN_IO_ERROR, "'%s' is not a regular file", path);
  } else if ((uint64_t)info.st_size < FOOTER_SIZE) {
    status = ronn_make_status(RONN_CORRUPT_ARTIFACT,
                              "'%s' is %llu bytes, smaller than the %u-byte artifact footer: "
                              "the file is truncated",
                              path, (unsigned long long)info.st_size, FOOTER_SIZE);
  } else if (read_at(out_file->fd, raw, FOOTER_SIZE, (uint64_t)info.st_size - FOOTER_SIZE)) {
    status = ronn_make_status(RONN_IO_ERROR, "'%s': cannot read the footer: %s", path,
                              strerror(errno));
  } else {
    out_file->size = (uint64_t)info.st_size;
    out_file->changed_sec = (int64_t)info.st_ctim.tv_sec;
    out_file->changed_nsec = (int64_t)info.st_ctim.tv_nsec;
    memcpy(out_file->footer_raw, raw, FOOTER_SIZE);
    decode_footer(raw, &out_file->footer);
    status = check_footer(path, &out_file->footer, out_file->size);
    if (status == NULL) status = check_elf(path, out_file);
    if (status == NULL) status = read_signature(path, out_file);
    if (status == NULL && verify_hash) {
      status = private_copy ? hash_into_sealed_copy(path, out_file) : check_hash(path, out_file, -1);
    }
  }
  if (status != NULL) ronn_artifact_file_close(out_file);
  return status;
}

ronn_status* ronn_artifact_file_unchanged(const char* path, const ronn_artifact_file* file) {
  struct stat info;
  if (fstat(file->fd, &info) != 0 || (uint64_t)info.st_size != file->size ||
      (int64_t)info.st_ctim.tv_sec != file->changed_sec ||
      (int64_t)info.st_ctim.tv_nsec != file->changed_nsec) {
    return ronn_make_status(RONN_IO_ERROR,
                            "'%s' changed while it was being loaded (written, renamed or replaced "
                            "between its checks and its mapping): load it again once it is "
                            "complete",
                            path);
  }
  return NULL;
}

void ronn_artifact_file_close(ronn_artifact_file* file) {
  if (file->fd >= 0) close(file->fd);
  file->fd = -1;
}
