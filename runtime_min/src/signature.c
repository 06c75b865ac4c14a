/* Signed artifacts: public key files, and the check of an artifact's signature block against the
 * trusted keys before dlopen (see artifact_abi.h for the block and the signed message). The
 * policy's environment variables are the tools' (ronn-run, the Python binding), not read here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ed25519.h"
#include "internal.h"

/* DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID
 * 1.3.101.112 }, BIT STRING { 0 unused bits, the 32 key bytes } }. */
static const uint8_t spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                        0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
#define KEY_FILE_MAX 4096

static int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes the base64 between PEM's BEGIN and END lines; whitespace is skipped, '=' ends it.
 * Returns the decoded size, or -1 when it is not base64 or exceeds `capacity`. */
static long base64_decode(const char* text, const char* end, uint8_t* out, size_t capacity) {
  uint32_t bits = 0;
  int count = 0;
  size_t size = 0;
  for (; text < end && *text != '='; ++text) {
    if (*text == ' ' || *text == '\n' || *text == '\r' || *text == '\t') continue;
    int value = base64_value(*text);
    if (value < 0) return -1;
    bits = bits << 6 | (uint32_t)value;
    if (++count == 4) {
      if (size + 3 > capacity) return -1;
      out[size++] = (uint8_t)(bits >> 16);
      out[size++] = (uint8_t)(bits >> 8);
      out[size++] = (uint8_t)bits;
      bits = 0;
      count = 0;
    }
  }
  if (count == 1 || size + (size_t)(count > 0 ? count - 1 : 0) > capacity) return -1;
  if (count == 2) out[size++] = (uint8_t)(bits >> 4);
  if (count == 3) {
    out[size++] = (uint8_t)(bits >> 10);
    out[size++] = (uint8_t)(bits >> 2);
  }
  return (long)size;
}

static int parse_key(const char* text, size_t size, ronn_public_key* out_key) {
  static const char begin[] = "-----BEGIN PUBLIC KEY-----";
  static const char end[] = "-----END PUBLIC KEY-----";
  if (size == 32) {
    memcpy(out_key->bytes, text, 32);
    return 1;
  }
  const char* body = strstr(text, begin);
  const char* tail = body != NULL ? strstr(body, end) : NULL;
  if (tail == NULL) return 0;
  uint8_t der[64];
  long length = base64_decode(body + sizeof begin - 1, tail, der, sizeof der);
  if (length != 44 || memcmp(der, spki_prefix, sizeof spki_prefix) != 0) return 0;
  memcpy(out_key->bytes, der + 12, 32);
  return 1;
}

ronn_status* ronn_public_key_read(const char* path, ronn_public_key* out_key) {
  if (path == NULL || out_key == NULL) {
    return ronn_make_status(RONN_INVALID_ARGUMENT, "ronn_public_key_read: path or out_key is NULL");
  }
  FILE* file = fopen(path, "rb");
  if (file == NULL) {
    int error = errno;
    return ronn_make_status(error == ENOENT ? RONN_NOT_FOUND : RONN_IO_ERROR,
                            "cannot open public key '%s': %s", path, strerror(error));
  }
  char text[KEY_FILE_MAX + 1];
  size_t size = fread(text, 1, KEY_FILE_MAX + 1, file);
  int failed = ferror(file);
  fclose(file);
  if (failed) return ronn_make_status(RONN_IO_ERROR, "cannot read public key '%s'", path);
  text[size <= KEY_FILE_MAX ? size : KEY_FILE_MAX] = '\0';
  if (size > KEY_FILE_MAX || !parse_key(text, size, out_key)) {
    return ronn_make_status(RONN_INVALID_ARGUMENT,
                            "'%s' is not an Ed25519 public key: expected a PEM \"PUBLIC KEY\" "
                            "(the KEY.pub that `ronn-aot keygen` writes) or 32 raw bytes; a "
                            "private key is never needed here",
                            path);
  }
  return NULL;
}

/* The first 8 bytes of the key's SHA-256, in hex: what `ronn-aot inspect` shows as key id. */
static void key_id(const uint8_t key[32], char out[17]) {
  static const char digits[] = "0123456789abcdef";
  ronn_sha256 ctx;
  uint8_t digest[32];
  ronn_sha256_init(&ctx);
  ronn_sha256_update(&ctx, key, 32);
  ronn_sha256_final(&ctx, digest);
  for (int i = 0; i < 8; ++i) {
    out[2 * i] = digits[digest[i] >> 4];
    out[2 * i + 1] = digits[digest[i] & 15];
  }
  out[16] = '\0';
}

static void store_u64(uint8_t* p, uint64_t value) {
  for (int i = 0; i < 8; ++i) p[i] = (uint8_t)(value >> (8 * i));
}

ronn_status* ronn_signature_check(const char* path, const ronn_artifact_file* file,
                                  const ronn_public_key* keys, size_t num_keys, int required) {
  if (num_keys == 0 && !required) return NULL;
  if (!file->has_signature) {
    return ronn_make_status(RONN_UNSIGNED_ARTIFACT,
                            "'%s' is not signed, and this runtime only loads signed artifacts "
                            "(%s): sign it with `ronn-aot sign MODEL.so --key KEY` with a key "
                            "this device trusts",
                            path, num_keys > 0 ? "trusted keys are set" : "a signature is required");
  }
  const ronn_artifact_signature_v1* block = &file->signature;
  if (block->version != RONN_SIGNATURE_VERSION || block->block_size != RONN_SIGNATURE_BLOCK_SIZE ||
      block->algorithm != RONN_SIGNATURE_ED25519 || block->reserved != 0 ||
      block->signed_size != file->footer.payload_size - RONN_SIGNATURE_BLOCK_SIZE) {
    return ronn_make_status(RONN_BAD_SIGNATURE,
                            "'%s': the signature block is malformed or of another version "
                            "(version %u, algorithm %u, %u bytes, covering %llu bytes); this "
                            "runtime reads version %u (Ed25519): re-sign the artifact, or "
                            "update the runtime",
                            path, block->version, block->algorithm, block->block_size,
                            (unsigned long long)block->signed_size, RONN_SIGNATURE_VERSION);
  }
  char id[17];
  key_id(block->public_key, id);
  size_t match = 0;
  while (match < num_keys && memcmp(keys[match].bytes, block->public_key, 32) != 0) ++match;
  if (match == num_keys) {
    return ronn_make_status(RONN_UNTRUSTED_SIGNER,
                            "'%s' is signed by key %s, which is not %s: add that key's public "
                            "file to the trusted keys if you trust its owner",
                            path, id,
                            num_keys > 0 ? "among the trusted keys" : "trusted (no key is set)");
  }
  if (!file->hashed) {
    return ronn_make_status(RONN_INTERNAL, "'%s': signature checked on an unhashed file", path);
  }
  uint8_t message[112];
  memset(message, 0, 32);
  memcpy(message, RONN_SIGNATURE_CONTEXT, sizeof RONN_SIGNATURE_CONTEXT - 1);
  memcpy(message + 32, file->signed_sha256, 32);
  const ronn_artifact_footer_v1* footer = &file->footer;
  const uint64_t fields[6] = {block->signed_size,           footer->plan_file_offset,
                              footer->plan_size,            footer->weights_file_offset,
                              footer->weights_size,         footer->code_size};
  for (int i = 0; i < 6; ++i) store_u64(message + 64 + 8 * i, fields[i]);
  if (!ronn_ed25519_verify(block->signature, message, sizeof message, block->public_key)) {
    return ronn_make_status(RONN_BAD_SIGNATURE,
                            "'%s': its signature by key %s does not verify: the file was "
                            "modified after it was signed; do not use it, rebuild or re-fetch "
                            "the signed artifact",
                            path, id);
  }
  return NULL;
}
