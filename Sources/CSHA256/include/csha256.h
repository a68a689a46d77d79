/* CSHA256: SHA-256 / SHA-256d for the Bitcoin parser's hot paths.
 *
 * x86-64 with SHA-NI uses the SHA extensions (selected once at run time with
 * __builtin_cpu_supports("sha")); every other machine (or x86-64 without SHA-NI, or
 * csha256_force_portable(1)) uses a portable C implementation. Results are identical.
 * Digests are written in SHA-256's standard byte order (Bitcoin "internal" order).
 */
#ifndef CSHA256_H
#define CSHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Incremental context. Treat as opaque; initialise with csha256_init. */
typedef struct csha256_ctx {
    uint32_t state[8];
    uint64_t length;   /* bytes hashed so far */
    uint8_t buffer[64];
} csha256_ctx;

/* One-shot SHA-256 of len bytes (data may be NULL when len == 0). */
void csha256(const uint8_t *data, size_t len, uint8_t out[32]);

/* One-shot SHA-256(SHA-256(data)). */
void csha256d(const uint8_t *data, size_t len, uint8_t out[32]);

/* SHA-256d of exactly 64 bytes (a merkle node: left || right). */
void csha256d_64(const uint8_t in[64], uint8_t out[32]);

/* SHA-256d of n consecutive 64-byte inputs into n consecutive 32-byte outputs
 * (one merkle level). out may alias in (out[i] is written after in[2i..2i+1] is read
 * for every i, as in an in-place level reduction where out == in). */
void csha256d_64_many(const uint8_t *in, uint8_t *out, size_t n);

void csha256_init(csha256_ctx *ctx);
void csha256_update(csha256_ctx *ctx, const uint8_t *data, size_t len);
/* SHA-256 of everything passed to update. ctx must be re-initialised to reuse it. */
void csha256_final(csha256_ctx *ctx, uint8_t out[32]);
/* SHA-256(SHA-256(everything passed to update)). */
void csha256d_final(csha256_ctx *ctx, uint8_t out[32]);

/* 1 when the SHA-NI implementation is in use, 0 for the portable one. */
int csha256_using_shani(void);
/* Test hook: nonzero forces the portable implementation, 0 restores auto-detection. */
void csha256_force_portable(int force);

#ifdef __cplusplus
}
#endif

#endif /* CSHA256_H */
