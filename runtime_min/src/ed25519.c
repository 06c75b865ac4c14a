/* SHA-512 (FIPS 180-4) and Ed25519 verification (RFC 8032), written for this runtime.
 *
 * Verification only handles public data (the artifact, its signature, the trusted keys), so
 * nothing here needs constant time; the code is short and plain instead of fast. Field elements
 * are 16 limbs of 16 bits held in 64-bit words (products of two limbs and their sums never come
 * near 2^64), every operation carries its result back to limbs below 2^17, and all arithmetic is
 * unsigned: no signed shifts or overflows for UBSan to object to. One verification costs about
 * 2,000 field multiplications (~1 ms on a desktop core). */
#include "ed25519.h"

#include <string.h>

/* ---- SHA-512 ------------------------------------------------------------------------------ */

static const uint64_t sha512_k[80] = {
    0x428a2f98d728ae22ull, 0x7137449123ef65cdull, 0xb5c0fbcfec4d3b2full, 0xe9b5dba58189dbbcull,
    0x3956c25bf348b538ull, 0x59f111f1b605d019ull, 0x923f82a4af194f9bull, 0xab1c5ed5da6d8118ull,
    0xd807aa98a3030242ull, 0x12835b0145706fbeull, 0x243185be4ee4b28cull, 0x550c7dc3d5ffb4e2ull,
    0x72be5d74f27b896full, 0x80deb1fe3b1696b1ull, 0x9bdc06a725c71235ull, 0xc19bf174cf692694ull,
    0xe49b69c19ef14ad2ull, 0xefbe4786384f25e3ull, 0x0fc19dc68b8cd5b5ull, 0x240ca1cc77ac9c65ull,
    0x2de92c6f592b0275ull, 0x4a7484aa6ea6e483ull, 0x5cb0a9dcbd41fbd4ull, 0x76f988da831153b5ull,
    0x983e5152ee66dfabull, 0xa831c66d2db43210ull, 0xb00327c898fb213full, 0xbf597fc7beef0ee4ull,
    0xc6e00bf33da88fc2ull, 0xd5a79147930aa725ull, 0x06ca6351e003826full, 0x142929670a0e6e70ull,
    0x27b70a8546d22ffcull, 0x2e1b21385c26c926ull, 0x4d2c6dfc5ac42aedull, 0x53380d139d95b3dfull,
    0x650a73548baf63deull, 0x766a0abb3c77b2a8ull, 0x81c2c92e47edaee6ull, 0x92722c851482353bull,
    0xa2bfe8a14cf10364ull, 0xa81a664bbc423001ull, 0xc24b8b70d0f89791ull, 0xc76c51a30654be30ull,
    0xd192e819d6ef5218ull, 0xd69906245565a910ull, 0xf40e35855771202aull, 0x106aa07032bbd1b8ull,
    0x19a4c116b8d2d0c8ull, 0x1e376c085141ab53ull, 0x2748774cdf8eeb99ull, 0x34b0bcb5e19b48a8ull,
    0x391c0cb3c5c95a63ull, 0x4ed8aa4ae3418acbull, 0x5b9cca4f7763e373ull, 0x682e6ff3d6b2b8a3ull,
    0x748f82ee5defb2fcull, 0x78a5636f43172f60ull, 0x84c87814a1f0ab72ull, 0x8cc702081a6439ecull,
    0x90befffa23631e28ull, 0xa4506cebde82bde9ull, 0xbef9a3f7b2c67915ull, 0xc67178f2e372532bull,
    0xca273eceea26619cull, 0xd186b8c721c0c207ull, 0xeada7dd6cde0eb1eull, 0xf57d4f7fee6ed178ull,
    0x06f067aa72176fbaull, 0x0a637dc5a2c898a6ull, 0x113f9804bef90daeull, 0x1b710b35131c471bull,
    0x28db77f523047d84ull, 0x32caab7b40c72493ull, 0x3c9ebe0a15c9bebcull, 0x431d67c49c100d4cull,
    0x4cc5d4becb3e42b6ull, 0x597f299cfc657e2aull, 0x5fcb6fab3ad6faecull, 0x6c44198c4a475817ull};

static uint64_t rotr64(uint64_t x, unsigned n) { return x >> n | x << (64 - n); }

static uint64_t load_be64(const uint8_t* p) {
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x = x << 8 | p[i];
  return x;
}

static void sha512_block(uint64_t state[8], const uint8_t block[128]) {
  uint64_t w[80], v[8];
  for (int i = 0; i < 16; ++i) w[i] = load_be64(block + 8 * i);
  for (int i = 16; i < 80; ++i) {
    uint64_t s0 = rotr64(w[i - 15], 1) ^ rotr64(w[i - 15], 8) ^ (w[i - 15] >> 7);
    uint64_t s1 = rotr64(w[i - 2], 19) ^ rotr64(w[i - 2], 61) ^ (w[i - 2] >> 6);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  memcpy(v, state, sizeof v);
  for (int i = 0; i < 80; ++i) {
    uint64_t a = v[0], e = v[4];
    uint64_t t1 = v[7] + (rotr64(e, 14) ^ rotr64(e, 18) ^ rotr64(e, 41)) +
                  ((e & v[5]) ^ (~e & v[6])) + sha512_k[i] + w[i];
    uint64_t t2 = (rotr64(a, 28) ^ rotr64(a, 34) ^ rotr64(a, 39)) +
                  ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
    memmove(v + 1, v, 7 * sizeof v[0]);
    v[4] += t1;
    v[0] = t1 + t2;
  }
  for (int i = 0; i < 8; ++i) state[i] += v[i];
}

void ronn_sha512_init(ronn_sha512* ctx) {
  static const uint64_t initial[8] = {
      0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull,
      0x510e527fade682d1ull, 0x9b05688c2b3e6c1full, 0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull};
  memcpy(ctx->state, initial, sizeof initial);
  ctx->length = 0;
  ctx->used = 0;
}

void ronn_sha512_update(ronn_sha512* ctx, const void* data, size_t size) {
  const uint8_t* p = (const uint8_t*)data;
  ctx->length += size;
  while (size > 0) {
    size_t take = 128 - ctx->used < size ? 128 - ctx->used : size;
    memcpy(ctx->block + ctx->used, p, take);
    ctx->used += (uint32_t)take;
    p += take;
    size -= take;
    if (ctx->used == 128) {
      sha512_block(ctx->state, ctx->block);
      ctx->used = 0;
    }
  }
}

void ronn_sha512_final(ronn_sha512* ctx, uint8_t digest[64]) {
  uint64_t bits = ctx->length * 8;
  ctx->block[ctx->used++] = 0x80;
  if (ctx->used > 112) {
    memset(ctx->block + ctx->used, 0, 128 - ctx->used);
    sha512_block(ctx->state, ctx->block);
    ctx->used = 0;
  }
  /* A 128-bit big-endian bit count; its upper half is zero for any message this sees. */
  memset(ctx->block + ctx->used, 0, 120 - ctx->used);
  for (int i = 0; i < 8; ++i) ctx->block[120 + i] = (uint8_t)(bits >> (56 - 8 * i));
  sha512_block(ctx->state, ctx->block);
  for (int i = 0; i < 64; ++i) digest[i] = (uint8_t)(ctx->state[i / 8] >> (56 - 8 * (i % 8)));
}

/* ---- arithmetic modulo p = 2^255 - 19 ------------------------------------------------------ */

typedef uint64_t fe[16]; /* value = sum limb[i] * 2^(16 i); limbs below 2^17 between operations */

/* p's limbs: 0xffed, fourteen 0xffff, 0x7fff. */
static uint64_t p_limb(int i) { return i == 0 ? 0xffed : i == 15 ? 0x7fff : 0xffff; }

static void fe_carry(fe a) {
  for (int i = 0; i < 16; ++i) {
    uint64_t carry = a[i] >> 16;
    a[i] &= 0xffff;
    if (i < 15) {
      a[i + 1] += carry;
    } else {
      a[0] += 38 * carry; /* 2^256 = 2 * 2^255 = 2 * 19 (mod p) */
    }
  }
}

static void fe_add(fe out, const fe a, const fe b) {
  for (int i = 0; i < 16; ++i) out[i] = a[i] + b[i];
  fe_carry(out);
}

/* a - b + 4p keeps every limb non-negative (b's limbs are below 2^17, 4p's above it but limb 0,
 * 0x3ffb4, which still exceeds any carried limb 0). */
static void fe_sub(fe out, const fe a, const fe b) {
  for (int i = 0; i < 16; ++i) out[i] = a[i] + 4 * p_limb(i) - b[i];
  fe_carry(out);
}

static void fe_mul(fe out, const fe a, const fe b) {
  uint64_t t[31] = {0};
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) t[i + j] += a[i] * b[j];
  }
  for (int i = 0; i < 15; ++i) t[i] += 38 * t[i + 16];
  for (int i = 0; i < 16; ++i) out[i] = t[i];
  fe_carry(out);
  fe_carry(out);
}

static void fe_set(fe out, uint64_t small) {
  memset(out, 0, sizeof(fe));
  out[0] = small;
}

static void fe_unpack(fe out, const uint8_t bytes[32]) {
  for (int i = 0; i < 16; ++i) out[i] = (uint64_t)bytes[2 * i] | (uint64_t)bytes[2 * i + 1] << 8;
  out[15] &= 0x7fff;
}

/* The canonical encoding: the value reduced below p, little-endian. */
static void fe_pack(uint8_t bytes[32], const fe a) {
  fe t;
  memcpy(t, a, sizeof t);
  fe_carry(t);
  fe_carry(t);
  fe_carry(t); /* now every limb is below 2^16: t < 2^256 < 3p, at most two subtractions of p */
  for (int round = 0; round < 2; ++round) {
    fe m;
    uint64_t borrow = 0;
    for (int i = 0; i < 16; ++i) {
      uint64_t need = p_limb(i) + borrow;
      borrow = t[i] < need;
      m[i] = (t[i] + (borrow << 16) - need) & 0xffff;
    }
    if (!borrow) memcpy(t, m, sizeof t);
  }
  for (int i = 0; i < 16; ++i) {
    bytes[2 * i] = (uint8_t)t[i];
    bytes[2 * i + 1] = (uint8_t)(t[i] >> 8);
  }
}

static int fe_equal(const fe a, const fe b) {
  uint8_t x[32], y[32];
  fe_pack(x, a);
  fe_pack(y, b);
  return memcmp(x, y, 32) == 0;
}

static int fe_is_odd(const fe a) {
  uint8_t x[32];
  fe_pack(x, a);
  return x[0] & 1;
}

/* a^e, e a 255-bit little-endian exponent; square-and-multiply (public data only). */
static void fe_pow(fe out, const fe a, const uint8_t e[32]) {
  fe r;
  fe_set(r, 1);
  for (int bit = 254; bit >= 0; --bit) {
    fe_mul(r, r, r);
    if (e[bit / 8] >> (bit % 8) & 1) fe_mul(r, r, a);
  }
  memcpy(out, r, sizeof r);
}

/* Exponents p - 2 (inversion) and (p - 5) / 8 (square roots): all ones but the lowest byte and
 * the top bits. */
static void exponent(uint8_t e[32], uint8_t low, uint8_t high) {
  memset(e, 0xff, 32);
  e[0] = low;
  e[31] = high;
}

static void fe_invert(fe out, const fe a) {
  uint8_t e[32];
  exponent(e, 0xeb, 0x7f);
  fe_pow(out, a, e);
}

/* ---- the curve: -x^2 + y^2 = 1 + d x^2 y^2, extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z,
 * x y = T/Z ---------------------------------------------------------------------------------- */

typedef struct point {
  fe x, y, z, t;
} point;

static const uint8_t curve_d[32] = {
    0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
    0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52};
static const uint8_t sqrt_minus_one[32] = {
    0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
    0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b};
/* L, the order of the base point: 2^252 + 27742317777372353535851937790883648493. */
static const uint8_t group_order[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

/* P + Q; complete (also doubles) because a = -1 is a square and d is not (Hisil, Wong, Carter
 * and Dawson 2008, "add-2008-hwcd-3"). */
static void point_add(point* out, const point* p, const point* q) {
  fe a, b, c, d, e, f, g, h, t, two_d;
  fe_unpack(t, curve_d);
  fe_add(two_d, t, t);
  fe_sub(a, p->y, p->x);
  fe_sub(t, q->y, q->x);
  fe_mul(a, a, t);
  fe_add(b, p->y, p->x);
  fe_add(t, q->y, q->x);
  fe_mul(b, b, t);
  fe_mul(c, p->t, q->t);
  fe_mul(c, c, two_d);
  fe_mul(d, p->z, q->z);
  fe_add(d, d, d);
  fe_sub(e, b, a);
  fe_sub(f, d, c);
  fe_add(g, d, c);
  fe_add(h, b, a);
  fe_mul(out->x, e, f);
  fe_mul(out->y, g, h);
  fe_mul(out->t, e, h);
  fe_mul(out->z, f, g);
}

/* RFC 8032 section 5.1.3. Returns 0 for a non-canonical y or a y with no point. */
static int point_decode(point* out, const uint8_t bytes[32]) {
  fe one, u, v, v3, x, check, t;
  fe_unpack(out->y, bytes);
  uint8_t canonical[32];
  fe_pack(canonical, out->y);
  if (memcmp(canonical, bytes, 31) != 0 || canonical[31] != (bytes[31] & 0x7f)) return 0;
  fe_set(one, 1);
  fe_mul(u, out->y, out->y);
  fe_unpack(t, curve_d);
  fe_mul(v, u, t);
  fe_sub(u, u, one); /* u = y^2 - 1 */
  fe_add(v, v, one); /* v = d y^2 + 1 */
  /* x = u v^3 (u v^7)^((p-5)/8), a square root of u/v when one exists, up to a factor sqrt(-1) */
  fe_mul(v3, v, v);
  fe_mul(v3, v3, v);
  fe_mul(t, v3, v3);
  fe_mul(t, t, v);
  fe_mul(t, t, u);
  uint8_t e[32];
  exponent(e, 0xfd, 0x0f);
  fe_pow(x, t, e);
  fe_mul(x, x, v3);
  fe_mul(x, x, u);
  fe_mul(check, x, x);
  fe_mul(check, check, v);
  if (!fe_equal(check, u)) {
    fe zero;
    fe_set(zero, 0);
    fe_sub(t, zero, u);
    if (!fe_equal(check, t)) return 0;
    fe_unpack(t, sqrt_minus_one);
    fe_mul(x, x, t);
  }
  int sign = bytes[31] >> 7;
  fe zero;
  fe_set(zero, 0);
  if (sign && fe_equal(x, zero)) return 0;
  if (fe_is_odd(x) != sign) fe_sub(x, zero, x);
  memcpy(out->x, x, sizeof x);
  fe_set(out->z, 1);
  fe_mul(out->t, x, out->y);
  return 1;
}

static void point_encode(uint8_t bytes[32], const point* p) {
  fe inverse, x, y;
  fe_invert(inverse, p->z);
  fe_mul(x, p->x, inverse);
  fe_mul(y, p->y, inverse);
  fe_pack(bytes, y);
  bytes[31] |= (uint8_t)(fe_is_odd(x) << 7);
}

/* ---- scalars modulo L ---------------------------------------------------------------------- */

/* a < b for 32-byte little-endian numbers. */
static int less_than(const uint8_t a[32], const uint8_t b[32]) {
  for (int i = 31; i >= 0; --i) {
    if (a[i] != b[i]) return a[i] < b[i];
  }
  return 0;
}

/* out = the 64-byte little-endian number x mod L, one bit at a time from the top: r = 2 r + bit,
 * minus L when that reaches L (r < L < 2^253, so 2 r + 1 fits in 32 bytes). */
static void reduce_mod_order(uint8_t out[32], const uint8_t x[64]) {
  uint8_t r[32] = {0};
  for (int bit = 511; bit >= 0; --bit) {
    unsigned carry = (unsigned)(x[bit / 8] >> (bit % 8) & 1);
    for (int i = 0; i < 32; ++i) {
      unsigned v = (unsigned)r[i] << 1 | carry;
      r[i] = (uint8_t)v;
      carry = v >> 8;
    }
    if (!less_than(r, group_order)) {
      unsigned borrow = 0;
      for (int i = 0; i < 32; ++i) {
        unsigned need = group_order[i] + borrow;
        borrow = r[i] < need;
        r[i] = (uint8_t)(r[i] + (borrow << 8) - need);
      }
    }
  }
  memcpy(out, r, 32);
}

/* ---- verification -------------------------------------------------------------------------- */

int ronn_ed25519_verify(const uint8_t signature[64], const uint8_t* message, size_t size,
                        const uint8_t public_key[32]) {
  static const uint8_t base_y[32] = {
      0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
      0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};
  const uint8_t* s = signature + 32;
  if (!less_than(s, group_order)) return 0; /* S >= L: malleable, refused by RFC 8032 */
  point base, minus_a, r;
  if (!point_decode(&base, base_y) || !point_decode(&minus_a, public_key)) return 0;
  fe zero;
  fe_set(zero, 0);
  fe_sub(minus_a.x, zero, minus_a.x);
  fe_sub(minus_a.t, zero, minus_a.t);

  uint8_t digest[64], k[32];
  ronn_sha512 hash;
  ronn_sha512_init(&hash);
  ronn_sha512_update(&hash, signature, 32);
  ronn_sha512_update(&hash, public_key, 32);
  ronn_sha512_update(&hash, message, size);
  ronn_sha512_final(&hash, digest);
  reduce_mod_order(k, digest);

  /* r = [S]B - [k]A by one shared chain of doublings (Straus). */
  memset(&r, 0, sizeof r);
  fe_set(r.y, 1);
  fe_set(r.z, 1);
  for (int bit = 255; bit >= 0; --bit) {
    point_add(&r, &r, &r);
    if (s[bit / 8] >> (bit % 8) & 1) point_add(&r, &r, &base);
    if (k[bit / 8] >> (bit % 8) & 1) point_add(&r, &r, &minus_a);
  }
  uint8_t encoded[32];
  point_encode(encoded, &r);
  return memcmp(encoded, signature, 32) == 0;
}
