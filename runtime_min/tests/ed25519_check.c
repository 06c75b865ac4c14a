/* A test driver for the runtime's SHA-512 and Ed25519 verifier (src/ed25519.c), linked against
 * the static library. Reads one request per line on stdin and answers one line on stdout:
 *   sha512 MSG_HEX           -> the digest in hex
 *   verify PUB SIG MSG_HEX   -> 1 (valid) or 0 (invalid); "-" stands for an empty message
 * tests/runtime/test_signing.py feeds it RFC 8032's vectors and signatures made in Python. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ed25519.h"

static int unhex(const char* text, uint8_t* out, size_t capacity, size_t* out_size) {
  size_t length = strcmp(text, "-") == 0 ? 0 : strlen(text);
  if (length % 2 != 0 || length / 2 > capacity) return 1;
  for (size_t i = 0; i < length / 2; ++i) {
    unsigned byte;
    if (sscanf(text + 2 * i, "%2x", &byte) != 1) return 1;
    out[i] = (uint8_t)byte;
  }
  *out_size = length / 2;
  return 0;
}

int main(void) {
  static char line[1 << 20];
  static uint8_t message[1 << 19];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char* save = NULL;
    const char* op = strtok_r(line, " \n", &save);
    if (op == NULL) continue;
    size_t size = 0, key_size = 0, sig_size = 0;
    if (strcmp(op, "sha512") == 0) {
      const char* text = strtok_r(NULL, " \n", &save);
      if (text == NULL || unhex(text, message, sizeof message, &size)) return 2;
      ronn_sha512 ctx;
      uint8_t digest[64];
      ronn_sha512_init(&ctx);
      ronn_sha512_update(&ctx, message, size);
      ronn_sha512_final(&ctx, digest);
      for (int i = 0; i < 64; ++i) printf("%02x", digest[i]);
      printf("\n");
    } else if (strcmp(op, "verify") == 0) {
      uint8_t key[32], signature[64];
      const char* k = strtok_r(NULL, " \n", &save);
      const char* s = strtok_r(NULL, " \n", &save);
      const char* m = strtok_r(NULL, " \n", &save);
      if (k == NULL || s == NULL || m == NULL || unhex(k, key, 32, &key_size) || key_size != 32 ||
          unhex(s, signature, 64, &sig_size) || sig_size != 64 ||
          unhex(m, message, sizeof message, &size)) {
        return 2;
      }
      printf("%d\n", ronn_ed25519_verify(signature, message, size, key));
    } else {
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}
