/* SHA-512 and Ed25519 signature verification (RFC 8032), internal to the runtime: artifacts'
 * signatures are checked with them before dlopen (signature.c). Not installed. */
#ifndef RONN_ED25519_H_
#define RONN_ED25519_H_

#include <stddef.h>
#include <stdint.h>

typedef struct ronn_sha512 {
  uint64_t state[8];
  uint64_t length; /* bytes hashed so far (messages are far below 2^61 bytes) */
  uint8_t block[128];
  uint32_t used;
} ronn_sha512;
void ronn_sha512_init(ronn_sha512* ctx);
void ronn_sha512_update(ronn_sha512* ctx, const void* data, size_t size);
void ronn_sha512_final(ronn_sha512* ctx, uint8_t digest[64]);

/* 1 when `signature` (R || S, 64 bytes) is a valid Ed25519 signature of `message` under
 * `public_key` (RFC 8032 section 5.1.7, cofactorless: [S]B = R + [k]A, with S < L and A and R
 * canonical encodings), else 0. Variable time: it only ever sees public data. Thread-safe. */
int ronn_ed25519_verify(const uint8_t signature[64], const uint8_t* message, size_t size,
                        const uint8_t public_key[32]);

#endif /* RONN_ED25519_H_ */
