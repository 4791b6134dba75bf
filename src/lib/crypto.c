/*
 * crypto — WireGuard's primitives on OpenSSL libcrypto 3.x.  See crypto.h.
 */
#include "crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/*
 * Every algorithm is fetched once.  OpenSSL 3 looks an algorithm up in its
 * provider store on every init that names it by a legacy getter
 * (EVP_blake2s256() and the like) or by name: locks, hash tables and
 * property parsing, which a handshake met a dozen times, each costing
 * several µs when the caches are cold (a daemon woken by a packet).
 */
static EVP_MAC *crypto_blake2smac, *crypto_poly1305;
static EVP_MD *crypto_blake2s;
static EVP_CIPHER *crypto_chachapoly, *crypto_chacha;
static EVP_MAC_CTX *crypto_hmac_proto;	/* HMAC-BLAKE2s without a key */

bool crypto_init(void)
{
	EVP_MAC *hmac;
	OSSL_PARAM params[2];

	if (crypto_hmac_proto)
		return true;
	crypto_blake2s = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	crypto_chachapoly = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	crypto_chacha = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL);
	crypto_blake2smac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	crypto_poly1305 = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	if (!crypto_blake2s || !crypto_chachapoly || !crypto_chacha ||
	    !crypto_blake2smac || !crypto_poly1305 ||
	    !(hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)))
		return false;
	crypto_hmac_proto = EVP_MAC_CTX_new(hmac);
	EVP_MAC_free(hmac);	/* the context holds its own reference */
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     "BLAKE2S-256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!crypto_hmac_proto ||
	    EVP_MAC_CTX_set_params(crypto_hmac_proto, params) != 1) {
		EVP_MAC_CTX_free(crypto_hmac_proto);
		crypto_hmac_proto = NULL;
		return false;
	}
	return true;
}

bool crypto_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1;
}

void crypto_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool crypto_is_zero(const void *p, size_t len)
{
	const volatile uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= b[i];
	return acc == 0;
}

/* RFC 7748 §5: clear the cofactor bits, set the high bit. */
static void crypto_clamp(uint8_t k[32])
{
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
}

bool crypto_x25519_generate(uint8_t priv[32])
{
	if (!crypto_random(priv, 32))
		return false;
	crypto_clamp(priv);
	return true;
}

bool crypto_x25519_public(uint8_t pub[32], const uint8_t priv[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	size_t len = 32;
	bool ok;

	if (!k)
		return false;
	ok = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == 32;
	EVP_PKEY_free(k);
	return ok;
}

/* A key pair object from both halves: importing the private key alone
 * makes OpenSSL derive its public key, a second scalar multiplication
 * that costs as much as the DH itself. */
static EVP_PKEY *crypto_x25519_pair(const uint8_t priv[32], const uint8_t pub[32])
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	EVP_PKEY *k = NULL;

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY,
						      (void *)priv, 32);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						      (void *)pub, 32);
	params[2] = OSSL_PARAM_construct_end();
	if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

bool crypto_dh(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	return crypto_dh_pair(out, priv, NULL, pub);
}

/* A key object for one DH: the same work as a held key, made and freed. */
bool crypto_dh_pair(uint8_t out[32], const uint8_t priv[32],
		    const uint8_t *priv_pub, const uint8_t pub[32])
{
	struct crypto_dh_key *k = crypto_dh_key_new(priv, priv_pub);
	bool ok = k && crypto_dh_key_derive(k, out, pub);

	crypto_dh_key_free(k);
	return ok;
}

struct crypto_dh_key {
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *ctx;	/* derive_init done */
};

struct crypto_dh_key *crypto_dh_key_new(const uint8_t priv[32],
					const uint8_t *pub)
{
	struct crypto_dh_key *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->pkey = pub ? crypto_x25519_pair(priv, pub) :
		EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	if (!k->pkey || !(k->ctx = EVP_PKEY_CTX_new(k->pkey, NULL)) ||
	    EVP_PKEY_derive_init(k->ctx) != 1) {
		crypto_dh_key_free(k);
		return NULL;
	}
	return k;
}

void crypto_dh_key_free(struct crypto_dh_key *k)
{
	if (!k)
		return;
	EVP_PKEY_CTX_free(k->ctx);
	EVP_PKEY_free(k->pkey);	/* cleanses the private key */
	free(k);
}

bool crypto_dh_key_public(const struct crypto_dh_key *k, uint8_t pub[32])
{
	size_t len = 32;

	return EVP_PKEY_get_raw_public_key(k->pkey, pub, &len) == 1 && len == 32;
}

bool crypto_dh_key_derive(struct crypto_dh_key *k, uint8_t out[32],
			  const uint8_t pub[32])
{
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	size_t len = 32;
	bool ok;

	/* The context keeps its own reference to p until the next peer.
	 * OpenSSL refuses an all-zero result; our check is belt and braces. */
	ok = p && EVP_PKEY_derive_set_peer(k->ctx, p) == 1 &&
	     EVP_PKEY_derive(k->ctx, out, &len) == 1 && len == 32 &&
	     !crypto_is_zero(out, 32);
	EVP_PKEY_free(p);
	return ok;
}

void crypto_hash(uint8_t out[32], const void *a, size_t alen,
		 const void *b, size_t blen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 32;

	if (!ctx || EVP_DigestInit_ex(ctx, crypto_blake2s, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, alen) != 1 ||
	    (blen && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &len) != 1)
		memset(out, 0, 32);	/* unreachable with a working libcrypto */
	EVP_MD_CTX_free(ctx);
}

void crypto_mac(uint8_t out[16], const uint8_t *key, size_t keylen,
		const void *in, size_t len)
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(crypto_blake2smac);
	size_t size = 16, outlen = 0;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
		OSSL_PARAM_construct_end(),
	};

	if (!ctx || EVP_MAC_init(ctx, key, keylen, params) != 1 ||
	    EVP_MAC_update(ctx, in, len) != 1 ||
	    EVP_MAC_final(ctx, out, &outlen, 16) != 1 || outlen != 16)
		memset(out, 0, 16);
	EVP_MAC_CTX_free(ctx);
}

void crypto_hmac(uint8_t out[32], const uint8_t *key, size_t keylen,
		 const void *in, size_t len)
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(crypto_hmac_proto);
	size_t outlen = 0;

	if (!ctx || EVP_MAC_init(ctx, key, keylen, NULL) != 1 ||
	    EVP_MAC_update(ctx, in, len) != 1 ||
	    EVP_MAC_final(ctx, out, &outlen, 32) != 1 || outlen != 32)
		memset(out, 0, 32);	/* unreachable with a working libcrypto */
	EVP_MAC_CTX_free(ctx);	/* cleanses the key */
}

/* Whitepaper §5.4: HKDF with HMAC-BLAKE2s, n outputs of 32 bytes. */
void crypto_kdf(uint8_t t1[32], uint8_t *t2, uint8_t *t3,
		const uint8_t key[32], const void *in, size_t len)
{
	uint8_t prk[32], buf[33];

	crypto_hmac(prk, key, 32, in, len);
	buf[0] = 1;
	crypto_hmac(buf, prk, 32, buf, 1);
	memcpy(t1, buf, 32);
	if (t2) {
		buf[32] = 2;
		crypto_hmac(buf, prk, 32, buf, 33);
		memcpy(t2, buf, 32);
	}
	if (t3) {
		buf[32] = 3;
		crypto_hmac(buf, prk, 32, buf, 33);
		memcpy(t3, buf, 32);
	}
	crypto_wipe(prk, sizeof(prk));
	crypto_wipe(buf, sizeof(buf));
}

static void crypto_nonce(uint8_t iv[12], uint64_t counter)
{
	memset(iv, 0, 4);
	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* One AEAD pass on a context whose key is set; enc is 1 or 0. */
static bool crypto_aead_run(EVP_CIPHER_CTX *ctx, int enc, uint8_t *out,
			    const uint8_t *in, size_t len, const void *ad,
			    size_t adlen, uint64_t counter)
{
	uint8_t iv[12];
	int outl;

	if (!enc) {
		if (len < CRYPTO_TAG_LEN)
			return false;
		len -= CRYPTO_TAG_LEN;
	}
	crypto_nonce(iv, counter);
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc) != 1)
		return false;
	if (adlen && EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)adlen) != 1)
		return false;
	if (len && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1)
		return false;
	if (enc)
		return EVP_CipherFinal_ex(ctx, out + len, &outl) == 1 &&
		       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
					   CRYPTO_TAG_LEN, out + len) == 1;
	/* The tag is copied before Final, which compares in constant time. */
	return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN,
				   (void *)(in + len)) == 1 &&
	       EVP_CipherFinal_ex(ctx, out + len, &outl) == 1;
}

static bool crypto_aead_oneshot(int enc, uint8_t *out, const uint8_t *in,
				size_t len, const void *ad, size_t adlen,
				uint64_t counter, const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	bool ok;

	ok = ctx && EVP_CipherInit_ex(ctx, crypto_chachapoly, NULL, key, NULL,
				      enc) == 1 &&
	     crypto_aead_run(ctx, enc, out, in, len, ad, adlen, counter);
	EVP_CIPHER_CTX_free(ctx);	/* cleanses the key schedule */
	return ok;
}

bool crypto_aead_seal(uint8_t *out, const uint8_t *in, size_t len,
		      const void *ad, size_t adlen, uint64_t counter,
		      const uint8_t key[32])
{
	return crypto_aead_oneshot(1, out, in, len, ad, adlen, counter, key);
}

bool crypto_aead_open(uint8_t *out, const uint8_t *in, size_t len,
		      const void *ad, size_t adlen, uint64_t counter,
		      const uint8_t key[32])
{
	return crypto_aead_oneshot(0, out, in, len, ad, adlen, counter, key);
}

/*
 * HChaCha20 through OpenSSL's ChaCha20: with the 16-byte nonce as the
 * counter||nonce input, the first keystream block is rounds(S) + S, where S
 * holds the constants, key and nonce.  HChaCha20 is rounds(S) words 0-3 and
 * 12-15, so subtract the known input words back out.
 */
bool crypto_hchacha20(uint8_t out[32], const uint8_t key[32],
		      const uint8_t nonce[16])
{
	static const uint32_t sigma[4] = {
		0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	};
	static const uint8_t zero[64];
	uint8_t block[64];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl;
	bool ok;

	ok = ctx && EVP_EncryptInit_ex(ctx, crypto_chacha, NULL, key, nonce) == 1 &&
	     EVP_EncryptUpdate(ctx, block, &outl, zero, 64) == 1 && outl == 64;
	EVP_CIPHER_CTX_free(ctx);
	for (int i = 0; ok && i < 4; i++) {
		uint32_t w0 = 0, w1 = 0, n = 0;
		for (int b = 0; b < 4; b++) {
			w0 |= (uint32_t)block[4 * i + b] << (8 * b);
			w1 |= (uint32_t)block[48 + 4 * i + b] << (8 * b);
			n |= (uint32_t)nonce[4 * i + b] << (8 * b);
		}
		w0 -= sigma[i];
		w1 -= n;
		for (int b = 0; b < 4; b++) {
			out[4 * i + b] = (uint8_t)(w0 >> (8 * b));
			out[16 + 4 * i + b] = (uint8_t)(w1 >> (8 * b));
		}
	}
	crypto_wipe(block, sizeof(block));
	return ok;
}

static uint64_t crypto_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static bool crypto_xaead(int enc, uint8_t *out, const uint8_t *in, size_t len,
			 const void *ad, size_t adlen, const uint8_t nonce[24],
			 const uint8_t key[32])
{
	uint8_t subkey[32];
	bool ok;

	ok = crypto_hchacha20(subkey, key, nonce) &&
	     crypto_aead_oneshot(enc, out, in, len, ad, adlen,
				 crypto_le64(nonce + 16), subkey);
	crypto_wipe(subkey, sizeof(subkey));
	return ok;
}

bool crypto_xaead_seal(uint8_t *out, const uint8_t *in, size_t len,
		       const void *ad, size_t adlen,
		       const uint8_t nonce[24], const uint8_t key[32])
{
	return crypto_xaead(1, out, in, len, ad, adlen, nonce, key);
}

bool crypto_xaead_open(uint8_t *out, const uint8_t *in, size_t len,
		       const void *ad, size_t adlen,
		       const uint8_t nonce[24], const uint8_t key[32])
{
	return crypto_xaead(0, out, in, len, ad, adlen, nonce, key);
}

/*
 * The data path's ChaCha20-Poly1305 (RFC 8439 §2.8, no additional data)
 * from OpenSSL's ChaCha20 and Poly1305, not its AEAD: the AEAD makes the
 * Poly1305 key and a message's last partial block in two extra ChaCha20
 * calls of one block each, which OpenSSL's AVX-512 code runs on its slow
 * short-input path; per 1420-byte packet they cost as much as the rest.
 * Here one call makes the keystream for the key block and the whole
 * message, rounded up to whole blocks, into a per-thread buffer, and the
 * message is XORed with it.
 */
#define KS_CHUNK 4096			/* keystream per ChaCha20 call */

struct crypto_lane {
	EVP_CIPHER_CTX *chacha;		/* keyed; each message sets the IV */
	EVP_MAC_CTX *poly;
};

struct crypto_aead {
	uint8_t key[32];
	/* One per lane (thread), each made on its lane's first use:
	 * OpenSSL's contexts are not shared between threads. */
	struct crypto_lane lanes[CRYPTO_LANES];
};

static struct crypto_lane *crypto_aead_lane(struct crypto_aead *a, unsigned lane)
{
	struct crypto_lane *l;

	if (lane >= CRYPTO_LANES)
		return NULL;
	l = &a->lanes[lane];
	if (l->chacha)
		return l;
	l->chacha = EVP_CIPHER_CTX_new();
	l->poly = EVP_MAC_CTX_new(crypto_poly1305);
	if (!l->chacha || !l->poly ||
	    EVP_EncryptInit_ex(l->chacha, crypto_chacha, NULL, a->key, NULL) != 1) {
		EVP_CIPHER_CTX_free(l->chacha);
		EVP_MAC_CTX_free(l->poly);
		l->chacha = NULL;
		l->poly = NULL;
		return NULL;
	}
	return l;
}

struct crypto_aead *crypto_aead_new(const uint8_t key[32])
{
	struct crypto_aead *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	memcpy(a->key, key, 32);
	if (!crypto_aead_lane(a, 0)) {
		crypto_aead_free(a);
		return NULL;
	}
	return a;
}

void crypto_aead_free(struct crypto_aead *a)
{
	if (!a)
		return;
	for (unsigned i = 0; i < CRYPTO_LANES; i++) {
		EVP_CIPHER_CTX_free(a->lanes[i].chacha);
		EVP_MAC_CTX_free(a->lanes[i].poly);
	}
	crypto_wipe(a->key, sizeof(a->key));
	free(a);
}

/* Keystream for the next n bytes (a multiple of 64) of the message. */
static bool crypto_keystream(struct crypto_lane *l, uint8_t *ks, size_t n)
{
	static const uint8_t zero[KS_CHUNK + 64];
	int outl;

	return EVP_EncryptUpdate(l->chacha, ks, &outl, zero, (int)n) == 1 &&
	       (size_t)outl == n;
}

/* 16-byte vectors (GCC/clang generic vectors: SSE2 on x86-64, NEON on
 * arm64), four at a time. */
typedef uint8_t crypto_v16 __attribute__((vector_size(16)));

static void crypto_xor(uint8_t *out, const uint8_t *in, const uint8_t *ks,
		       size_t n)
{
	size_t i = 0;

	for (; i + 64 <= n; i += 64) {
		crypto_v16 a[4], b[4];
		memcpy(a, in + i, 64);
		memcpy(b, ks + i, 64);
		for (int j = 0; j < 4; j++)
			a[j] ^= b[j];
		memcpy(out + i, a, 64);
	}
	for (; i < n; i++)
		out[i] = in[i] ^ ks[i];
}

/* out = in XOR the keystream, len bytes, chunk by chunk: the first
 * chunk's keystream is in ks + 64 already, later ones are made here.
 * With mac, the ciphertext (out) goes into the Poly1305 as it is made. */
static bool crypto_lane_xor(struct crypto_lane *l, uint8_t *ks, uint8_t *out,
			    const uint8_t *in, size_t len, bool mac)
{
	for (size_t done = 0; done < len;) {
		size_t n = len - done < KS_CHUNK ? len - done : KS_CHUNK;

		if (done && !crypto_keystream(l, ks + 64, (n + 63) & ~(size_t)63))
			return false;
		crypto_xor(out + done, in + done, ks + 64, n);
		if (mac && EVP_MAC_update(l->poly, out + done, n) != 1)
			return false;
		done += n;
	}
	return true;
}

/*
 * One message of len plaintext bytes.  Sealing XORs and MACs chunk by
 * chunk; opening MACs the whole ciphertext, checks the tag in constant
 * time, and only then XORs (so a forgery is not decrypted).  The first
 * ChaCha20 call makes the Poly1305 key block and the first chunk's
 * keystream; later chunks continue the same stream.
 */
static bool crypto_lane_run(struct crypto_lane *l, int enc, uint8_t *out,
			    const uint8_t *in, size_t len, uint64_t counter,
			    uint8_t tag[CRYPTO_TAG_LEN])
{
	static _Thread_local _Alignas(64) uint8_t ks[KS_CHUNK + 64];
	static const uint8_t pad[16];
	uint8_t iv[16], lens[16], mac[CRYPTO_TAG_LEN];
	size_t first = len < KS_CHUNK ? (len + 63) & ~(size_t)63 : KS_CHUNK, outl;
	bool ok = false;

	/* ChaCha20's 16-byte IV: block counter 0 (le32), then the nonce */
	memset(iv, 0, 8);
	for (int i = 0; i < 8; i++)
		iv[8 + i] = (uint8_t)(counter >> (8 * i));
	for (int i = 0; i < 8; i++) {
		lens[i] = 0;				/* no additional data */
		lens[8 + i] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (EVP_EncryptInit_ex(l->chacha, NULL, NULL, NULL, iv) != 1 ||
	    !crypto_keystream(l, ks, 64 + first) ||
	    EVP_MAC_init(l->poly, ks, 32, NULL) != 1)
		goto out;
	crypto_wipe(ks, 32);		/* the one-time Poly1305 key */
	if (enc ? !crypto_lane_xor(l, ks, out, in, len, true) :
		  EVP_MAC_update(l->poly, in, len) != 1)
		goto out;
	if ((len & 15 && EVP_MAC_update(l->poly, pad, 16 - (len & 15)) != 1) ||
	    EVP_MAC_update(l->poly, lens, 16) != 1 ||
	    EVP_MAC_final(l->poly, mac, &outl, sizeof(mac)) != 1 ||
	    outl != CRYPTO_TAG_LEN)
		goto out;
	if (enc) {
		memcpy(tag, mac, CRYPTO_TAG_LEN);
		ok = true;
		goto out;
	}
	ok = crypto_equal(mac, tag, CRYPTO_TAG_LEN) &&
	     crypto_lane_xor(l, ks, out, in, len, false);
out:
	crypto_wipe(mac, sizeof(mac));
	return ok;
}

bool crypto_aead_lane_seal(struct crypto_aead *a, unsigned lane, uint8_t *out,
			   const uint8_t *in, size_t len, uint64_t counter)
{
	struct crypto_lane *l = crypto_aead_lane(a, lane);

	return l && crypto_lane_run(l, 1, out, in, len, counter, out + len);
}

bool crypto_aead_lane_open(struct crypto_aead *a, unsigned lane, uint8_t *out,
			   const uint8_t *in, size_t len, uint64_t counter)
{
	struct crypto_lane *l = crypto_aead_lane(a, lane);
	uint8_t tag[CRYPTO_TAG_LEN];

	if (!l || len < CRYPTO_TAG_LEN)
		return false;
	len -= CRYPTO_TAG_LEN;
	memcpy(tag, in + len, CRYPTO_TAG_LEN);
	return crypto_lane_run(l, 0, out, in, len, counter, tag);
}

bool crypto_aead_ctx_seal(struct crypto_aead *a, uint8_t *out,
			  const uint8_t *in, size_t len, uint64_t counter)
{
	return crypto_aead_lane_seal(a, 0, out, in, len, counter);
}

bool crypto_aead_ctx_open(struct crypto_aead *a, uint8_t *out,
			  const uint8_t *in, size_t len, uint64_t counter)
{
	return crypto_aead_lane_open(a, 0, out, in, len, counter);
}
