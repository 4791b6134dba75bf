/*
 * noise — the Noise_IKpsk2 handshake of WireGuard (whitepaper §5.4) and the
 * transport keypairs it yields.  No I/O and no clock: the caller passes the
 * wall-clock time (for TAI64N) and monotonic time (for key birth).
 *
 * Errors: create/consume return false and leave the handshake unchanged when
 * a message does not authenticate, replays a timestamp, or a step of the
 * crypto fails.  The caller drops such messages silently.
 */
#ifndef WEFT_NOISE_H
#define WEFT_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto.h"
#include "replay.h"
#include "wire.h"

/* This side's static identity; precomputed values follow the private key. */
struct noise_local {
	bool has_key;
	uint8_t private_key[32];
	uint8_t public_key[32];
	struct crypto_dh_key *dh;	/* private_key, ready for DH */
	/* An ephemeral key pair made ahead of need (noise_local_refill),
	 * used by the next handshake message and then wiped. */
	bool has_spare;
	uint8_t spare_private[32], spare_public[32];
	struct crypto_dh_key *spare_dh;
};

enum noise_state {
	NOISE_ZEROED,
	NOISE_CREATED_INITIATION,
	NOISE_CONSUMED_INITIATION,
	NOISE_CREATED_RESPONSE,
	NOISE_CONSUMED_RESPONSE,
};

/* Per-peer handshake state; lives inside the peer. */
struct noise_handshake {
	enum noise_state state;
	uint8_t remote_static[32];
	uint8_t precomputed_ss[32];	/* DH(s_local, s_remote); zero if invalid */
	uint8_t psk[32];
	uint8_t latest_timestamp[TAI64N_LEN];
	uint64_t last_initiation_consumed;	/* monotonic ns, flood guard */
	uint8_t ephemeral_private[32];
	uint8_t ephemeral_public[32];
	uint8_t remote_ephemeral[32];
	uint8_t hash[32];
	uint8_t chaining_key[32];
	uint32_t local_index;		/* set by the caller (index table) */
	uint32_t remote_index;
};

/* Transport keys of one session.  Caller frees with noise_keypair_free. */
struct noise_keypair {
	struct crypto_aead *send, *recv;
	uint64_t send_counter;		/* next nonce to use */
	struct replay_window replay;
	uint64_t birth;			/* monotonic ns */
	bool initiator;
	uint32_t local_index, remote_index;
};

/* Initialises the process-wide constants; call once after crypto_init. */
void noise_init(void);

/* l must be zeroed or cleared.  A struct noise_local owns its key
 * objects: it may be moved (copied, then the old one wiped, not
 * cleared), and is freed with noise_local_clear. */
bool noise_local_set(struct noise_local *l, const uint8_t priv[32]);
void noise_local_clear(struct noise_local *l);
/* Makes the spare ephemeral key pair if there is none: a host calls it
 * when idle, so that a handshake message under way need not wait for a
 * scalar multiplication.  False if it had to and could not. */
bool noise_local_refill(struct noise_local *l);

/* Sets the peer's static key and recomputes DH(s, s_remote). */
void noise_handshake_init(struct noise_handshake *hs,
			  const struct noise_local *l,
			  const uint8_t remote_static[32]);
void noise_handshake_precompute(struct noise_handshake *hs,
				const struct noise_local *l);
/* Forgets ephemeral state (not the static configuration). */
void noise_handshake_clear(struct noise_handshake *hs);

/* Fills msg (but not its MACs) from hs; hs->local_index must be set. */
bool noise_create_initiation(struct noise_handshake *hs,
			     struct noise_local *l,
			     struct msg_initiation *msg, uint64_t realtime_ns);

/*
 * First half of consuming an initiation: decrypts the initiator's static
 * key.  The caller finds the peer by *remote_static and then calls
 * noise_consume_initiation_finish on that peer's handshake with *st.
 */
struct noise_initiation_state {
	uint8_t hash[32], chaining_key[32], remote_ephemeral[32];
};
bool noise_consume_initiation_begin(const struct noise_local *l,
				    const struct msg_initiation *msg,
				    uint8_t remote_static[32],
				    struct noise_initiation_state *st);
bool noise_consume_initiation_finish(struct noise_handshake *hs,
				     const struct msg_initiation *msg,
				     struct noise_initiation_state *st,
				     uint64_t now);

/* Responder: fills msg (not MACs); hs->local_index must be set. */
bool noise_create_response(struct noise_handshake *hs,
			   struct noise_local *l,
			   struct msg_response *msg);
/* Initiator: hs is the handshake whose local_index is msg->receiver. */
bool noise_consume_response(struct noise_handshake *hs,
			    const struct noise_local *l,
			    const struct msg_response *msg);

/* Derives the transport keypair from a completed handshake (state
 * CONSUMED_RESPONSE for the initiator, CREATED_RESPONSE for the
 * responder) and clears the handshake.  NULL on failure. */
struct noise_keypair *noise_keypair_derive(struct noise_handshake *hs,
					   uint64_t now);
void noise_keypair_free(struct noise_keypair *kp);	/* NULL ok; wipes */

/* TAI64N of a wall-clock time, with the nanoseconds coarsened so the
 * timestamp does not leak precise timing (whitepaper §5.1). */
void noise_tai64n(uint8_t out[TAI64N_LEN], uint64_t realtime_ns);

#endif
