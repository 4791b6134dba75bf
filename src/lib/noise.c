/*
 * noise — WireGuard's Noise_IKpsk2 handshake (whitepaper §5.4.2-5.4.5).
 * Each step carries the Noise token it implements.  Intermediate values
 * live on the stack and are wiped at the single exit of each function;
 * the handshake state is only written once a message fully authenticates.
 */
#include "noise.h"

#include <stdlib.h>
#include <string.h>

static uint8_t noise_c0[32];	/* HASH(CONSTRUCTION) */
static uint8_t noise_h0[32];	/* HASH(C0 || IDENTIFIER) */

void noise_init(void)
{
	crypto_hash(noise_c0, NOISE_CONSTRUCTION, strlen(NOISE_CONSTRUCTION),
		    NULL, 0);
	crypto_hash(noise_h0, noise_c0, 32, NOISE_IDENTIFIER,
		    strlen(NOISE_IDENTIFIER));
}

bool noise_local_set(struct noise_local *l, const uint8_t priv[32])
{
	struct crypto_dh_key *dh;
	uint8_t clamped[32];
	bool ok;

	memcpy(clamped, priv, 32);
	clamped[0] &= 248;
	clamped[31] = (clamped[31] & 127) | 64;
	dh = crypto_dh_key_new(clamped, NULL);
	ok = dh && crypto_dh_key_public(dh, l->public_key);
	if (ok) {
		crypto_dh_key_free(l->dh);
		l->dh = dh;
		memcpy(l->private_key, clamped, 32);
		l->has_key = true;
	} else
		crypto_dh_key_free(dh);
	crypto_wipe(clamped, sizeof(clamped));
	return ok;
}

void noise_local_clear(struct noise_local *l)
{
	crypto_dh_key_free(l->dh);
	crypto_dh_key_free(l->spare_dh);
	crypto_wipe(l, sizeof(*l));
}

bool noise_local_refill(struct noise_local *l)
{
	if (l->has_spare)
		return true;
	if (!crypto_x25519_generate(l->spare_private) ||
	    !(l->spare_dh = crypto_dh_key_new(l->spare_private, NULL)) ||
	    !crypto_dh_key_public(l->spare_dh, l->spare_public)) {
		crypto_dh_key_free(l->spare_dh);
		l->spare_dh = NULL;
		crypto_wipe(l->spare_private, 32);
		return false;
	}
	l->has_spare = true;
	return true;
}

/* A fresh ephemeral key pair: the spare if there is one (each is used
 * once), else one made now.  *dh is the caller's to free. */
static bool noise_ephemeral(struct noise_local *l, uint8_t priv[32],
			    uint8_t pub[32], struct crypto_dh_key **dh)
{
	if (!noise_local_refill(l))
		return false;
	memcpy(priv, l->spare_private, 32);
	memcpy(pub, l->spare_public, 32);
	*dh = l->spare_dh;
	l->spare_dh = NULL;
	crypto_wipe(l->spare_private, 32);
	l->has_spare = false;
	return true;
}

void noise_handshake_precompute(struct noise_handshake *hs,
				const struct noise_local *l)
{
	if (!l->has_key ||
	    !crypto_dh_key_derive(l->dh, hs->precomputed_ss, hs->remote_static))
		memset(hs->precomputed_ss, 0, 32);
}

void noise_handshake_init(struct noise_handshake *hs,
			  const struct noise_local *l,
			  const uint8_t remote_static[32])
{
	memset(hs, 0, sizeof(*hs));
	memcpy(hs->remote_static, remote_static, 32);
	noise_handshake_precompute(hs, l);
}

void noise_handshake_clear(struct noise_handshake *hs)
{
	crypto_wipe(hs->ephemeral_private, 32);
	memset(hs->ephemeral_public, 0, 32);
	crypto_wipe(hs->remote_ephemeral, 32);
	crypto_wipe(hs->hash, 32);
	crypto_wipe(hs->chaining_key, 32);
	hs->remote_index = 0;
	hs->state = NOISE_ZEROED;
}

void noise_tai64n(uint8_t out[TAI64N_LEN], uint64_t realtime_ns)
{
	/* TAI64 label 2^62 + 10 s offset, as the reference implementations. */
	uint64_t sec = 0x400000000000000aULL + realtime_ns / NSEC_PER_SEC;
	/* Coarsen to ~16.8 ms: no finer than the initiation rate limit. */
	uint32_t nsec = (uint32_t)(realtime_ns % NSEC_PER_SEC) & ~0xffffffU;

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

/* hash = HASH(hash || data) */
static void noise_mix_hash(uint8_t hash[32], const void *data, size_t len)
{
	crypto_hash(hash, hash, 32, data, len);
}

/* The "e" token in WireGuard's psk mode: ck = KDF1(ck, e), h = HASH(h || e). */
static void noise_mix_ephemeral(uint8_t ck[32], uint8_t hash[32],
				const uint8_t e[32])
{
	crypto_kdf(ck, NULL, NULL, ck, e, 32);
	noise_mix_hash(hash, e, 32);
}

/* (ck, k) = KDF2(ck, dh) when the DH worked (ok); dh is wiped. */
static bool noise_mix_dh_out(uint8_t ck[32], uint8_t *key, uint8_t dh[32],
			     bool ok)
{
	if (ok)
		crypto_kdf(ck, key, NULL, ck, dh, 32);
	crypto_wipe(dh, 32);
	return ok;
}

/* (ck, k) = KDF2(ck, DH(priv, pub)); false for a small-order point.
 * priv_pub is priv's own public key (it spares OpenSSL deriving it). */
static bool noise_mix_dh(uint8_t ck[32], uint8_t *key, const uint8_t priv[32],
			 const uint8_t priv_pub[32], const uint8_t pub[32])
{
	uint8_t dh[32];

	return noise_mix_dh_out(ck, key, dh, crypto_dh_pair(dh, priv, priv_pub, pub));
}

/* The same with a key held ready for DH. */
static bool noise_mix_dh_key(uint8_t ck[32], uint8_t *key,
			     struct crypto_dh_key *k, const uint8_t pub[32])
{
	uint8_t dh[32];

	return noise_mix_dh_out(ck, key, dh, crypto_dh_key_derive(k, dh, pub));
}

/* (ck, k) = KDF2(ck, precomputed DH(s, s_remote)). */
static bool noise_mix_ss(uint8_t ck[32], uint8_t key[32],
			 const uint8_t ss[32])
{
	if (crypto_is_zero(ss, 32))
		return false;
	crypto_kdf(ck, key, NULL, ck, ss, 32);
	return true;
}

/* (ck, tau, k) = KDF3(ck, psk); h = HASH(h || tau). */
static void noise_mix_psk(uint8_t ck[32], uint8_t hash[32], uint8_t key[32],
			  const uint8_t psk[32])
{
	uint8_t tau[32];

	crypto_kdf(ck, tau, key, ck, psk, 32);
	noise_mix_hash(hash, tau, 32);
	crypto_wipe(tau, sizeof(tau));
}

static bool noise_seal(uint8_t *out, const uint8_t *in, size_t len,
		       uint8_t hash[32], const uint8_t key[32])
{
	if (!crypto_aead_seal(out, in, len, hash, 32, 0, key))
		return false;
	noise_mix_hash(hash, out, len + CRYPTO_TAG_LEN);
	return true;
}

static bool noise_open(uint8_t *out, const uint8_t *in, size_t len,
		       uint8_t hash[32], const uint8_t key[32])
{
	if (!crypto_aead_open(out, in, len, hash, 32, 0, key))
		return false;
	noise_mix_hash(hash, in, len);
	return true;
}

/* Commits a message we created: the handshake moves on only now. */
static void noise_keep(struct noise_handshake *hs, enum noise_state state,
		       const uint8_t eph[32], const uint8_t hash[32],
		       const uint8_t ck[32])
{
	memcpy(hs->ephemeral_private, eph, 32);
	memcpy(hs->hash, hash, 32);
	memcpy(hs->chaining_key, ck, 32);
	hs->state = state;
}

bool noise_create_initiation(struct noise_handshake *hs,
			     struct noise_local *l,
			     struct msg_initiation *msg, uint64_t realtime_ns)
{
	uint8_t ck[32], hash[32], key[32], eph[32], ts[TAI64N_LEN];
	struct crypto_dh_key *edh = NULL;
	bool ok = false;

	if (!l->has_key)
		goto out;
	memcpy(ck, noise_c0, 32);
	crypto_hash(hash, noise_h0, 32, hs->remote_static, 32);
	memset(msg, 0, sizeof(*msg));
	msg->type = MSG_INITIATION;
	msg->sender = hs->local_index;

	/* e */
	if (!noise_ephemeral(l, eph, msg->ephemeral, &edh))
		goto out;
	noise_mix_ephemeral(ck, hash, msg->ephemeral);
	/* es */
	memcpy(hs->ephemeral_public, msg->ephemeral, 32);
	if (!noise_mix_dh_key(ck, key, edh, hs->remote_static))
		goto out;
	/* s */
	if (!noise_seal(msg->static_enc, l->public_key, 32, hash, key))
		goto out;
	/* ss */
	if (!noise_mix_ss(ck, key, hs->precomputed_ss))
		goto out;
	/* {t} */
	noise_tai64n(ts, realtime_ns);
	if (!noise_seal(msg->timestamp_enc, ts, TAI64N_LEN, hash, key))
		goto out;

	noise_keep(hs, NOISE_CREATED_INITIATION, eph, hash, ck);
	ok = true;
out:
	crypto_dh_key_free(edh);
	crypto_wipe(ck, 32);
	crypto_wipe(hash, 32);
	crypto_wipe(key, 32);
	crypto_wipe(eph, 32);
	return ok;
}

bool noise_consume_initiation_begin(const struct noise_local *l,
				    const struct msg_initiation *msg,
				    uint8_t remote_static[32],
				    struct noise_initiation_state *st)
{
	uint8_t key[32];
	bool ok = false;

	if (!l->has_key)
		goto out;
	memcpy(st->chaining_key, noise_c0, 32);
	crypto_hash(st->hash, noise_h0, 32, l->public_key, 32);
	/* e */
	memcpy(st->remote_ephemeral, msg->ephemeral, 32);
	noise_mix_ephemeral(st->chaining_key, st->hash, msg->ephemeral);
	/* es */
	if (!noise_mix_dh_key(st->chaining_key, key, l->dh, msg->ephemeral))
		goto out;
	/* s */
	ok = noise_open(remote_static, msg->static_enc, sizeof(msg->static_enc),
			st->hash, key);
out:
	crypto_wipe(key, 32);
	if (!ok)
		crypto_wipe(st, sizeof(*st));
	return ok;
}

bool noise_consume_initiation_finish(struct noise_handshake *hs,
				     const struct msg_initiation *msg,
				     struct noise_initiation_state *st,
				     uint64_t now)
{
	uint8_t key[32], ts[TAI64N_LEN];
	bool ok = false;

	/* ss */
	if (!noise_mix_ss(st->chaining_key, key, hs->precomputed_ss))
		goto out;
	/* {t} */
	if (!noise_open(ts, msg->timestamp_enc, sizeof(msg->timestamp_enc),
			st->hash, key))
		goto out;
	/* A replayed initiation carries an old timestamp (§5.1); and no peer
	 * needs more than INITIATIONS_PER_SECOND, so a burst is refused. */
	if (memcmp(ts, hs->latest_timestamp, TAI64N_LEN) <= 0)
		goto out;
	if (hs->last_initiation_consumed &&
	    now - hs->last_initiation_consumed < NSEC_PER_SEC / 50)
		goto out;

	memcpy(hs->remote_ephemeral, st->remote_ephemeral, 32);
	memcpy(hs->latest_timestamp, ts, TAI64N_LEN);
	memcpy(hs->hash, st->hash, 32);
	memcpy(hs->chaining_key, st->chaining_key, 32);
	hs->remote_index = msg->sender;
	hs->last_initiation_consumed = now;
	hs->state = NOISE_CONSUMED_INITIATION;
	ok = true;
out:
	crypto_wipe(key, 32);
	crypto_wipe(st, sizeof(*st));
	return ok;
}

bool noise_create_response(struct noise_handshake *hs,
			   struct noise_local *l,
			   struct msg_response *msg)
{
	uint8_t ck[32], hash[32], key[32], eph[32];
	struct crypto_dh_key *edh = NULL;
	bool ok = false;

	if (hs->state != NOISE_CONSUMED_INITIATION || !l->has_key)
		goto out;
	memcpy(ck, hs->chaining_key, 32);
	memcpy(hash, hs->hash, 32);
	memset(msg, 0, sizeof(*msg));
	msg->type = MSG_RESPONSE;
	msg->sender = hs->local_index;
	msg->receiver = hs->remote_index;

	/* e */
	if (!noise_ephemeral(l, eph, msg->ephemeral, &edh))
		goto out;
	noise_mix_ephemeral(ck, hash, msg->ephemeral);
	/* ee */
	if (!noise_mix_dh_key(ck, NULL, edh, hs->remote_ephemeral))
		goto out;
	/* se */
	if (!noise_mix_dh_key(ck, NULL, edh, hs->remote_static))
		goto out;
	/* psk */
	noise_mix_psk(ck, hash, key, hs->psk);
	/* {} */
	if (!noise_seal(msg->empty_enc, NULL, 0, hash, key))
		goto out;

	noise_keep(hs, NOISE_CREATED_RESPONSE, eph, hash, ck);
	ok = true;
out:
	crypto_dh_key_free(edh);
	crypto_wipe(ck, 32);
	crypto_wipe(hash, 32);
	crypto_wipe(key, 32);
	crypto_wipe(eph, 32);
	return ok;
}

bool noise_consume_response(struct noise_handshake *hs,
			    const struct noise_local *l,
			    const struct msg_response *msg)
{
	uint8_t ck[32], hash[32], key[32], empty[1];
	bool ok = false;

	if (hs->state != NOISE_CREATED_INITIATION || !l->has_key)
		goto out;
	memcpy(ck, hs->chaining_key, 32);
	memcpy(hash, hs->hash, 32);

	/* e */
	noise_mix_ephemeral(ck, hash, msg->ephemeral);
	/* ee */
	if (!noise_mix_dh(ck, NULL, hs->ephemeral_private, hs->ephemeral_public,
			  msg->ephemeral))
		goto out;
	/* se */
	if (!noise_mix_dh_key(ck, NULL, l->dh, msg->ephemeral))
		goto out;
	/* psk */
	noise_mix_psk(ck, hash, key, hs->psk);
	/* {} */
	if (!noise_open(empty, msg->empty_enc, sizeof(msg->empty_enc), hash, key))
		goto out;

	memcpy(hs->remote_ephemeral, msg->ephemeral, 32);
	memcpy(hs->hash, hash, 32);
	memcpy(hs->chaining_key, ck, 32);
	hs->remote_index = msg->sender;
	hs->state = NOISE_CONSUMED_RESPONSE;
	ok = true;
out:
	crypto_wipe(ck, 32);
	crypto_wipe(hash, 32);
	crypto_wipe(key, 32);
	return ok;
}

struct noise_keypair *noise_keypair_derive(struct noise_handshake *hs,
					   uint64_t now)
{
	struct noise_keypair *kp = NULL;
	uint8_t k1[32], k2[32];
	bool initiator;

	if (hs->state == NOISE_CONSUMED_RESPONSE)
		initiator = true;
	else if (hs->state == NOISE_CREATED_RESPONSE)
		initiator = false;
	else
		goto out;
	/* (T_send_i, T_recv_i) = KDF2(C, e): the responder's are swapped. */
	crypto_kdf(k1, k2, NULL, hs->chaining_key, NULL, 0);
	kp = calloc(1, sizeof(*kp));
	if (!kp)
		goto out;
	kp->send = crypto_aead_new(initiator ? k1 : k2);
	kp->recv = crypto_aead_new(initiator ? k2 : k1);
	if (!kp->send || !kp->recv) {
		noise_keypair_free(kp);
		kp = NULL;
		goto out;
	}
	replay_init(&kp->replay);
	kp->birth = now;
	kp->initiator = initiator;
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
out:
	crypto_wipe(k1, 32);
	crypto_wipe(k2, 32);
	noise_handshake_clear(hs);
	return kp;
}

void noise_keypair_free(struct noise_keypair *kp)
{
	if (!kp)
		return;
	crypto_aead_free(kp->send);
	crypto_aead_free(kp->recv);
	crypto_wipe(kp, sizeof(*kp));
	free(kp);
}
