/*
 * probe — path probes between two nodes of one network, sent on the
 * agent's WireGuard socket next to WireGuard's own messages
 * (docs/paths.md).
 *
 * A PING asks "does this path reach you?"; a PONG answers it over the
 * path the PING came from and says which source address it saw.  Both
 * are sealed with XChaCha20-Poly1305 under a key only the two nodes can
 * compute: HASH("weft probe v1" || DH(s_a, S_b)), the static-static
 * X25519 the WireGuard handshake precomputes.  A random 24-byte nonce
 * makes every message unique; the header (type, sender key, nonce) is
 * authenticated data.
 *
 *   0   le32 type (16 PING, 17 PONG) — WireGuard's types are 1..4
 *   4   sender's static public key (32)
 *   36  nonce (24)
 *   60  sealed: transaction id (12), family (1: 0, 4 or 6), zero (1),
 *       be16 port, address (16; IPv4 in the first 4)    +16 tag
 *   108 end
 *
 * Pure: bytes in, bytes out.  A receiver looks the sender up by key
 * (probe_sender) and only then opens the message; it never answers a key
 * it does not know.
 */
#ifndef WEFT_PROBE_H
#define WEFT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockaddr.h"

#define PROBE_PING 16
#define PROBE_PONG 17
#define PROBE_LEN  108
#define PROBE_TXID_LEN 12

struct probe {
	uint8_t type;			/* PROBE_PING or PROBE_PONG */
	uint8_t sender[32];
	uint8_t txid[PROBE_TXID_LEN];
	/* PING: the address it was sent to; PONG: the source the PING
	 * came from.  sa_family AF_UNSPEC when not given. */
	union wg_sockaddr addr;
};

/* The pair's probe key from their static-static DH result. */
void probe_key(uint8_t key[32], const uint8_t ss[32]);

/* The sender's public key when buf has a probe's type and length, NULL
 * otherwise.  Cheap; authenticates nothing. */
const uint8_t *probe_sender(const uint8_t *buf, size_t len);

/* Writes PROBE_LEN bytes; false only if the random source fails. */
bool probe_seal(uint8_t out[PROBE_LEN], const struct probe *p,
		const uint8_t key[32]);
/* Opens and checks buf; false (and *p unspecified) on any fault. */
bool probe_open(struct probe *p, const uint8_t *buf, size_t len,
		const uint8_t key[32]);

#endif
