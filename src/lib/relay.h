/*
 * relay — the byte stream between a node and the relay in weft-server
 * (docs/relay.md): WireGuard packets framed over TCP, forwarded by
 * public key.  The relay cannot read them; it only routes.
 *
 * Opening (both proofs are HMAC-BLAKE2s under
 * K = HASH("weft relay v1" || X25519(c, S)), which only the client's and
 * the relay's private keys can compute):
 *   client -> relay  HELLO      "weftrly1" | client public key (32) | nc (16)
 *   relay -> client  CHALLENGE  "weftrly1" | ns (16) |
 *                               HMAC(K, "relay" | C | nc | ns)      (32)
 *   client -> relay  PROOF      HMAC(K, "client" | C | ns | nc)     (32)
 * The client checks the relay's proof (it holds the server key pinned in
 * the token); the relay checks the client's (it holds the key it claims).
 *
 * Then frames, both ways: type (1) | zero (1) | be16 length | body.
 *   SEND  client -> relay   destination key (32) | WireGuard packet
 *   RECV  relay -> client   source key (32) | WireGuard packet
 *   PING / PONG             empty: liveness
 * Pure: no I/O.
 */
#ifndef WEFT_RELAY_H
#define WEFT_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_NONCE_LEN     16
#define RELAY_HELLO_LEN     (8 + 32 + RELAY_NONCE_LEN)
#define RELAY_CHALLENGE_LEN (8 + RELAY_NONCE_LEN + 32)
#define RELAY_PROOF_LEN     32
#define RELAY_HDR_LEN       4
#define RELAY_MAX_BODY      65535
#define RELAY_MAX_PACKET    (RELAY_MAX_BODY - 32)

enum relay_type { RELAY_SEND = 1, RELAY_RECV, RELAY_PING, RELAY_PONG };

/* The pair's key from X25519(c, S). */
void relay_key(uint8_t k[32], const uint8_t ss[32]);

void relay_hello(uint8_t out[RELAY_HELLO_LEN], const uint8_t client_pub[32],
		 const uint8_t nc[RELAY_NONCE_LEN]);
bool relay_hello_parse(const uint8_t in[RELAY_HELLO_LEN], uint8_t client_pub[32],
		       uint8_t nc[RELAY_NONCE_LEN]);
/* CHALLENGE with the relay's proof. */
void relay_challenge(uint8_t out[RELAY_CHALLENGE_LEN], const uint8_t k[32],
		     const uint8_t client_pub[32], const uint8_t nc[RELAY_NONCE_LEN],
		     const uint8_t ns[RELAY_NONCE_LEN]);
/* Client side: checks the CHALLENGE (constant time), gives ns. */
bool relay_challenge_check(const uint8_t in[RELAY_CHALLENGE_LEN], const uint8_t k[32],
			   const uint8_t client_pub[32], const uint8_t nc[RELAY_NONCE_LEN],
			   uint8_t ns[RELAY_NONCE_LEN]);
void relay_proof(uint8_t out[RELAY_PROOF_LEN], const uint8_t k[32],
		 const uint8_t client_pub[32], const uint8_t nc[RELAY_NONCE_LEN],
		 const uint8_t ns[RELAY_NONCE_LEN]);
bool relay_proof_check(const uint8_t in[RELAY_PROOF_LEN], const uint8_t k[32],
		       const uint8_t client_pub[32], const uint8_t nc[RELAY_NONCE_LEN],
		       const uint8_t ns[RELAY_NONCE_LEN]);

/* Writes a frame header; the body (body_len bytes) follows it. */
void relay_header(uint8_t out[RELAY_HDR_LEN], enum relay_type t, size_t body_len);

/* One frame at the start of buf: returns its whole length (header and
 * body) when complete, 0 when more bytes are needed, -1 when the stream is
 * broken (unknown type, nonzero reserved byte, a SEND/RECV body shorter
 * than a key or without a packet, PING/PONG with a body).  On success
 * *type, *key (NULL for PING/PONG), *pkt and *pkt_len describe it. */
long relay_frame(const uint8_t *buf, size_t len, enum relay_type *type,
		 const uint8_t **key, const uint8_t **pkt, size_t *pkt_len);

#endif
