/* Footer and integrity checks on the artifact file, done with plain reads before dlopen: a
 * mapping of a truncated file faults (SIGBUS) when touched past its end, a read just fails. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define FOOTER_SIZE 96u
#define HASH_CHUNK (64u * 1024u)

typedef char check_footer_size[sizeof(ronn_artifact_footer_v1) == FOOTER_SIZE ? 1 : -1];

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

static ronn_status* check_hash(const char* path, FILE* file,
                               const ronn_artifact_footer_v1* footer) {
  uint8_t* chunk = (uint8_t*)malloc(HASH_CHUNK);
  if (chunk == NULL) return ronn_status_out_of_memory();
  ronn_sha256 ctx;
  ronn_sha256_init(&ctx);
  uint64_t left = footer->payload_size;
  ronn_status* status = NULL;
  rewind(file);
  while (left > 0) {
    size_t want = left < HASH_CHUNK ? (size_t)left : HASH_CHUNK;
    size_t got = fread(chunk, 1, want, file);
    if (got != want) {
      status = ronn_make_status(ferror(file) ? RONN_IO_ERROR : RONN_CORRUPT_ARTIFACT,
                                "'%s': could not read the file (it changed while being read?)",
                                path);
      break;
    }
    ronn_sha256_update(&ctx, chunk, got);
    left -= got;
  }
  free(chunk);
  if (status != NULL) return status;
  uint8_t digest[32];
  ronn_sha256_final(&ctx, digest);
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

ronn_status* ronn_artifact_file_check(const char* path, int verify_hash,
                                      ronn_artifact_footer_v1* out_footer) {
  FILE* file = fopen(path, "rb");
  if (file == NULL) {
    int error = errno;
    return ronn_make_status(error == ENOENT || error == ENOTDIR ? RONN_NOT_FOUND : RONN_IO_ERROR,
                            "cannot open artifact '%s': %s", path, strerror(error));
  }
  ronn_status* status = NULL;
  struct stat info;
  uint8_t raw[FOOTER_SIZE];
  if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
    status = ronn_make_status(RONN_IO_ERROR, "'%s' is not a regular file", path);
  } else if ((uint64_t)info.st_size < FOOTER_SIZE) {
    status = ronn_make_status(RONN_CORRUPT_ARTIFACT,
                              "'%s' is %llu bytes, smaller than the %u-byte artifact footer: "
                              "the file is truncated",
                              path, (unsigned long long)info.st_size, FOOTER_SIZE);
  } else if (fseeko(file, info.st_size - (off_t)FOOTER_SIZE, SEEK_SET) != 0 ||
             fread(raw, 1, FOOTER_SIZE, file) != FOOTER_SIZE) {
    status = ronn_make_status(RONN_IO_ERROR, "'%s': cannot read the footer: %s", path,
                              strerror(errno));
  } else {
    decode_footer(raw, out_footer);
    status = check_footer(path, out_footer, (uint64_t)info.st_size);
    if (status == NULL && verify_hash) status = check_hash(path, file, out_footer);
  }
  fclose(file);
  return status;
}
