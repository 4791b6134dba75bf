/*
 * cookie — mac1/mac2 and cookie replies (whitepaper §5.4.4, §5.4.7).
 *
 * The checker is the responder side: it validates mac1 (proves the sender
 * knows our public key) and, under load, mac2 (proves the sender can
 * receive at its source address), and builds cookie replies.  The maker is
 * per peer, the initiator side: it adds MACs and keeps the latest cookie.
 */
#ifndef WEFT_COOKIE_H
#define WEFT_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct cookie_checker {
	uint8_t mac1_key[32];		/* HASH(LABEL_MAC1 || our public key) */
	uint8_t cookie_key[32];		/* HASH(LABEL_COOKIE || our public key) */
	uint8_t secret[32];		/* R_m, rotated every two minutes */
	uint64_t secret_birth;		/* monotonic ns; 0 = never made */
};

struct cookie_maker {
	uint8_t mac1_key[32];		/* HASH(LABEL_MAC1 || peer public key) */
	uint8_t cookie_key[32];		/* HASH(LABEL_COOKIE || peer public key) */
	uint8_t cookie[16];
	uint64_t cookie_birth;		/* monotonic ns; 0 = none */
	uint8_t last_mac1[16];
	bool have_sent_mac1;
};

enum cookie_result {
	COOKIE_MAC1_INVALID,	/* drop silently */
	COOKIE_MAC1_VALID,	/* fine when not under load */
	COOKIE_MAC2_VALID,	/* fine under load too */
};

void cookie_checker_init(struct cookie_checker *c, const uint8_t our_public[32]);
void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_public[32]);

/* msg is an initiation or response of exactly len bytes, ending in macs.
 * mac2 is only computed when check_mac2 (under load).  src is the opaque source address (IP bytes and port) for mac2. */
enum cookie_result cookie_validate(struct cookie_checker *c, const void *msg,
				   size_t len, bool check_mac2,
				   const uint8_t *src, size_t srclen, uint64_t now);
/* Builds the cookie reply to msg (whose sender index is `to`). */
bool cookie_reply_create(struct cookie_checker *c, struct msg_cookie_reply *out,
			 const void *msg, size_t len, uint32_t to,
			 const uint8_t *src, size_t srclen, uint64_t now);

/* Fills the MACs at the end of msg (len bytes, the whole message). */
void cookie_add_macs(struct cookie_maker *m, void *msg, size_t len,
		     uint64_t now);
/* Decrypts and stores a cookie; false if it does not authenticate. */
bool cookie_reply_consume(struct cookie_maker *m,
			  const struct msg_cookie_reply *msg, uint64_t now);

#endif
