/* CSHA256: SHA-256 with x86 SHA-NI (runtime-selected) and a portable C fallback.
 * See include/csha256.h. No global compiler flags are needed: the SHA-NI code is
 * compiled with a function-level target attribute and only called when the CPU has it. */
#include "csha256.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define CSHA256_X86 1
#include <immintrin.h>
#endif

typedef void (*compress_fn)(uint32_t state[8], const uint8_t *data, size_t blocks);

static const uint32_t IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#if defined(_MSC_VER)
__declspec(align(16))
#else
__attribute__((aligned(16)))
#endif
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Padding block for a 64-byte message (0x80, zeros, bit length 512). */
static const uint8_t PAD64[64] = {
    0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00,
};

static inline uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void store_state(uint8_t out[32], const uint32_t s[8]) {
    for (int i = 0; i < 8; i++) store_be32(out + 4 * i, s[i]);
}

/* ---------------------------------------------------------------- portable */

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress_portable(uint32_t state[8], const uint8_t *data, size_t blocks) {
    while (blocks--) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++) w[i] = load_be32(data + 4 * i);
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
        data += 64;
    }
}

/* ---------------------------------------------------------------- SHA-NI */

#ifdef CSHA256_X86

#define SHANI_ATTR __attribute__((target("sha,sse4.1")))

/* Four rounds with message vector M (rounds 4i..4i+3). */
#define QROUND(i, M)                                                                  \
    do {                                                                              \
        __m128i msg_ = _mm_add_epi32((M), _mm_load_si128((const __m128i *)&K[4 * (i)])); \
        st1 = _mm_sha256rnds2_epu32(st1, st0, msg_);                                  \
        msg_ = _mm_shuffle_epi32(msg_, 0x0E);                                         \
        st0 = _mm_sha256rnds2_epu32(st0, st1, msg_);                                  \
    } while (0)

/* a <- next schedule vector from a (i-4), b (i-3), c (i-2), d (i-1). */
#define SCHED(a, b, c, d) \
    a = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(a, b), _mm_alignr_epi8(d, c, 4)), d)

#define SHANI_BLOCK(p)                                                        \
    do {                                                                      \
        const __m128i abef_ = st0, cdgh_ = st1;                               \
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 0)), bswap);  \
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 16)), bswap); \
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 32)), bswap); \
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 48)), bswap); \
        QROUND(0, m0);                                                        \
        QROUND(1, m1);                                                        \
        QROUND(2, m2);                                                        \
        QROUND(3, m3);                                                        \
        SCHED(m0, m1, m2, m3); QROUND(4, m0);                                 \
        SCHED(m1, m2, m3, m0); QROUND(5, m1);                                 \
        SCHED(m2, m3, m0, m1); QROUND(6, m2);                                 \
        SCHED(m3, m0, m1, m2); QROUND(7, m3);                                 \
        SCHED(m0, m1, m2, m3); QROUND(8, m0);                                 \
        SCHED(m1, m2, m3, m0); QROUND(9, m1);                                 \
        SCHED(m2, m3, m0, m1); QROUND(10, m2);                                \
        SCHED(m3, m0, m1, m2); QROUND(11, m3);                                \
        SCHED(m0, m1, m2, m3); QROUND(12, m0);                                \
        SCHED(m1, m2, m3, m0); QROUND(13, m1);                                \
        SCHED(m2, m3, m0, m1); QROUND(14, m2);                                \
        SCHED(m3, m0, m1, m2); QROUND(15, m3);                                \
        st0 = _mm_add_epi32(st0, abef_);                                      \
        st1 = _mm_add_epi32(st1, cdgh_);                                      \
    } while (0)

SHANI_ATTR
static void compress_shani(uint32_t state[8], const uint8_t *data, size_t blocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    /* state[0..7] = A..H  ->  st0 = ABEF, st1 = CDGH (lane order as the instructions want). */
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1); /* CDAB */
    __m128i st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B); /* EFGH */
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);     /* ABEF */
    st1 = _mm_blend_epi16(st1, tmp, 0xF0);          /* CDGH */
    while (blocks--) {
        SHANI_BLOCK(data);
        data += 64;
    }
    tmp = _mm_shuffle_epi32(st0, 0x1B);             /* FEBA */
    st1 = _mm_shuffle_epi32(st1, 0xB1);             /* DCHG */
    st0 = _mm_blend_epi16(tmp, st1, 0xF0);          /* DCBA */
    st1 = _mm_alignr_epi8(st1, tmp, 8);             /* HGFE */
    _mm_storeu_si128((__m128i *)&state[0], st0);
    _mm_storeu_si128((__m128i *)&state[4], st1);
}

#endif /* CSHA256_X86 */

/* ---------------------------------------------------------------- dispatch */

static compress_fn detected;           /* cached detection result (NULL until first use) */
static int force_portable;

static compress_fn detect(void) {
#ifdef CSHA256_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1")) return compress_shani;
#endif
    return compress_portable;
}

static inline compress_fn get_compress(void) {
    if (__atomic_load_n(&force_portable, __ATOMIC_RELAXED)) return compress_portable;
    compress_fn fn = __atomic_load_n(&detected, __ATOMIC_RELAXED);
    if (__builtin_expect(fn == NULL, 0)) {
        fn = detect();   /* idempotent: racing threads store the same value */
        __atomic_store_n(&detected, fn, __ATOMIC_RELAXED);
    }
    return fn;
}

int csha256_using_shani(void) {
#ifdef CSHA256_X86
    return get_compress() == compress_shani;
#else
    return 0;
#endif
}

void csha256_force_portable(int force) { __atomic_store_n(&force_portable, force ? 1 : 0, __ATOMIC_RELAXED); }

/* ---------------------------------------------------------------- API */

/* Hashes data into a fresh state (IV), including padding. */
static inline void hash_into(compress_fn fn, uint32_t s[8], const uint8_t *data, size_t len) {
    memcpy(s, IV, sizeof IV);
    size_t full = len / 64;
    if (full) fn(s, data, full);
    size_t rest = len - full * 64;
    uint8_t tail[128];
    if (rest) memcpy(tail, data + full * 64, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest < 56 ? 64 : 128;
    memset(tail + rest + 1, 0, tail_len - rest - 1 - 8);
    uint64_t bits = (uint64_t)len << 3;
    for (int i = 0; i < 8; i++) tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
    fn(s, tail, tail_len / 64);
}

/* Second round of a double hash: SHA-256 of the 32-byte digest in s (one padded block). */
static inline void second_round(compress_fn fn, uint32_t s[8], uint8_t out[32]) {
    uint8_t block[64];
    store_state(block, s);
    block[32] = 0x80;
    memset(block + 33, 0, 29);
    block[62] = 0x01; /* bit length 256 */
    block[63] = 0x00;
    memcpy(s, IV, sizeof IV);
    fn(s, block, 1);
    store_state(out, s);
}

void csha256(const uint8_t *data, size_t len, uint8_t out[32]) {
    uint32_t s[8];
    hash_into(get_compress(), s, data, len);
    store_state(out, s);
}

void csha256d(const uint8_t *data, size_t len, uint8_t out[32]) {
    compress_fn fn = get_compress();
    uint32_t s[8];
    hash_into(fn, s, data, len);
    second_round(fn, s, out);
}

static inline void d64(compress_fn fn, const uint8_t *in, uint8_t out[32]) {
    uint32_t s[8];
    memcpy(s, IV, sizeof IV);
    fn(s, in, 1);
    fn(s, PAD64, 1);
    second_round(fn, s, out);
}

void csha256d_64(const uint8_t in[64], uint8_t out[32]) { d64(get_compress(), in, out); }

void csha256d_64_many(const uint8_t *in, uint8_t *out, size_t n) {
    compress_fn fn = get_compress();
    for (size_t i = 0; i < n; i++) {
        uint8_t digest[32];
        d64(fn, in + 64 * i, digest);
        memcpy(out + 32 * i, digest, 32);
    }
}

void csha256_init(csha256_ctx *ctx) {
    memcpy(ctx->state, IV, sizeof IV);
    ctx->length = 0;
}

void csha256_update(csha256_ctx *ctx, const uint8_t *data, size_t len) {
    if (len == 0) return;
    compress_fn fn = get_compress();
    size_t used = (size_t)(ctx->length & 63);
    ctx->length += len;
    if (used) {
        size_t take = 64 - used;
        if (take > len) take = len;
        memcpy(ctx->buffer + used, data, take);
        data += take;
        len -= take;
        if (used + take < 64) return;
        fn(ctx->state, ctx->buffer, 1);
    }
    size_t full = len / 64;
    if (full) {
        fn(ctx->state, data, full);
        data += full * 64;
        len -= full * 64;
    }
    if (len) memcpy(ctx->buffer, data, len);
}

static inline void finish(compress_fn fn, csha256_ctx *ctx) {
    size_t used = (size_t)(ctx->length & 63);
    uint8_t tail[128];
    if (used) memcpy(tail, ctx->buffer, used);
    tail[used] = 0x80;
    size_t tail_len = used < 56 ? 64 : 128;
    memset(tail + used + 1, 0, tail_len - used - 1 - 8);
    uint64_t bits = ctx->length << 3;
    for (int i = 0; i < 8; i++) tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
    fn(ctx->state, tail, tail_len / 64);
}

void csha256_final(csha256_ctx *ctx, uint8_t out[32]) {
    finish(get_compress(), ctx);
    store_state(out, ctx->state);
}

void csha256d_final(csha256_ctx *ctx, uint8_t out[32]) {
    compress_fn fn = get_compress();
    finish(fn, ctx);
    second_round(fn, ctx->state, out);
}
