/*
 * crypto — the WireGuard primitives on top of OpenSSL libcrypto.
 *
 * DH = X25519 (RFC 7748), HASH = BLAKE2s-256, MAC = keyed BLAKE2s-128,
 * HMAC = HMAC-BLAKE2s, KDF = HKDF over HMAC (whitepaper §5.4),
 * AEAD = ChaCha20-Poly1305 (RFC 8439) with a 64-bit little-endian counter
 * nonce, XAEAD = XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) built from
 * HChaCha20.
 *
 * Errors: functions returning bool return false on failure (bad tag, bad
 * point, OpenSSL failure) and leave outputs unspecified; callers wipe.
 * crypto_init() must succeed before anything else is called.
 */
#ifndef WEFT_CRYPTO_H
#define WEFT_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN    32
#define CRYPTO_HASH_LEN   32
#define CRYPTO_MAC_LEN    16
#define CRYPTO_TAG_LEN    16
#define CRYPTO_XNONCE_LEN 24

bool crypto_init(void);

/* Fills buf with len bytes from the OpenSSL CSPRNG; false on failure. */
bool crypto_random(void *buf, size_t len);

/* Curve25519 (RFC 7748). generate clamps a fresh random private key.
 * crypto_dh fails when the shared point is all zero (small-order input). */
bool crypto_x25519_generate(uint8_t priv[32]);
bool crypto_x25519_public(uint8_t pub[32], const uint8_t priv[32]);
bool crypto_dh(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);
/* The same, given priv's own public key too (priv_pub, or NULL): about
 * twice as fast, as OpenSSL then need not derive it.  The result depends
 * on priv alone; priv_pub must be its public key. */
bool crypto_dh_pair(uint8_t out[32], const uint8_t priv[32],
		    const uint8_t *priv_pub, const uint8_t pub[32]);

/* A private key held ready for many DHs: OpenSSL's key object and a
 * derive context are made once, so that each DH costs the scalar
 * multiplication and little else (building them per DH costs about a
 * third as much again, more when the caches are cold).  pub may be NULL:
 * it is then derived (one more scalar multiplication).  NULL on failure.
 * Not for use by two threads at once.  Freeing cleanses the key. */
struct crypto_dh_key;
struct crypto_dh_key *crypto_dh_key_new(const uint8_t priv[32],
					const uint8_t *pub);
void crypto_dh_key_free(struct crypto_dh_key *k);	/* NULL ok */
bool crypto_dh_key_public(const struct crypto_dh_key *k, uint8_t pub[32]);
/* out = DH(k, pub); false as crypto_dh (all-zero result, bad point). */
bool crypto_dh_key_derive(struct crypto_dh_key *k, uint8_t out[32],
			  const uint8_t pub[32]);

/* out = BLAKE2s-256(a || b); b may be NULL with blen 0. */
void crypto_hash(uint8_t out[32], const void *a, size_t alen,
		 const void *b, size_t blen);
/* out = BLAKE2s-128 keyed with key (32 bytes, or keylen for MAC tests). */
void crypto_mac(uint8_t out[16], const uint8_t *key, size_t keylen,
		const void *in, size_t len);
/* out = HMAC-BLAKE2s(key, in), 32 bytes. */
void crypto_hmac(uint8_t out[32], const uint8_t *key, size_t keylen,
		 const void *in, size_t len);
/* WireGuard KDF_n(key, input): writes t1, and t2, t3 when not NULL. */
void crypto_kdf(uint8_t t1[32], uint8_t *t2, uint8_t *t3,
		const uint8_t key[32], const void *in, size_t len);

/* One-shot AEAD with nonce = 0^32 || le64(counter). out may equal in.
 * seal writes len + 16 bytes; open reads len >= 16 and writes len - 16. */
bool crypto_aead_seal(uint8_t *out, const uint8_t *in, size_t len,
		      const void *ad, size_t adlen, uint64_t counter,
		      const uint8_t key[32]);
bool crypto_aead_open(uint8_t *out, const uint8_t *in, size_t len,
		      const void *ad, size_t adlen, uint64_t counter,
		      const uint8_t key[32]);

/* HChaCha20 subkey derivation (draft-irtf-cfrg-xchacha §2.2). */
bool crypto_hchacha20(uint8_t out[32], const uint8_t key[32],
		      const uint8_t nonce[16]);
bool crypto_xaead_seal(uint8_t *out, const uint8_t *in, size_t len,
		       const void *ad, size_t adlen,
		       const uint8_t nonce[24], const uint8_t key[32]);
bool crypto_xaead_open(uint8_t *out, const uint8_t *in, size_t len,
		       const void *ad, size_t adlen,
		       const uint8_t nonce[24], const uint8_t key[32]);

/*
 * A keyed AEAD context for the data path: the key schedule is done once,
 * each packet only sets the nonce.  One per direction.  Lanes: threads
 * that may use one context at once, each with its own lane number below
 * CRYPTO_LANES (0 is the engine's own thread, what the _ctx_ calls use).
 */
#define CRYPTO_LANES 8
struct crypto_aead;
struct crypto_aead *crypto_aead_new(const uint8_t key[32]);	/* caller frees */
void crypto_aead_free(struct crypto_aead *a);			/* NULL ok */
bool crypto_aead_ctx_seal(struct crypto_aead *a, uint8_t *out,
			  const uint8_t *in, size_t len, uint64_t counter);
bool crypto_aead_ctx_open(struct crypto_aead *a, uint8_t *out,
			  const uint8_t *in, size_t len, uint64_t counter);
/* The same from lane's own context (made on first use; false if it cannot
 * be).  Different lanes may run at the same time on one struct crypto_aead;
 * making or freeing it may not. */
bool crypto_aead_lane_seal(struct crypto_aead *a, unsigned lane, uint8_t *out,
			   const uint8_t *in, size_t len, uint64_t counter);
bool crypto_aead_lane_open(struct crypto_aead *a, unsigned lane, uint8_t *out,
			   const uint8_t *in, size_t len, uint64_t counter);

/* Constant-time equality; true when equal. */
bool crypto_equal(const void *a, const void *b, size_t len);
/* Wipes memory in a way the compiler may not elide. */
void crypto_wipe(void *p, size_t len);
/* True when all len bytes are zero, in constant time. */
bool crypto_is_zero(const void *p, size_t len);

#endif
