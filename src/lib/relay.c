/*
 * relay — the relay stream's opening and framing (relay.h has the format).
 */
#include "relay.h"

#include <string.h>

#include "crypto.h"

static const char relay_magic[8] = { 'w', 'e', 'f', 't', 'r', 'l', 'y', '1' };
static const char relay_label[] = "weft relay v1";

void relay_key(uint8_t k[32], const uint8_t ss[32])
{
	crypto_hash(k, relay_label, sizeof(relay_label) - 1, ss, 32);
}

void relay_hello(uint8_t out[RELAY_HELLO_LEN], const uint8_t client_pub[32],
		 const uint8_t nc[RELAY_NONCE_LEN])
{
	memcpy(out, relay_magic, 8);
	memcpy(out + 8, client_pub, 32);
	memcpy(out + 40, nc, RELAY_NONCE_LEN);
}

bool relay_hello_parse(const uint8_t in[RELAY_HELLO_LEN], uint8_t client_pub[32],
		       uint8_t nc[RELAY_NONCE_LEN])
{
	if (memcmp(in, relay_magic, 8))
		return false;
	memcpy(client_pub, in + 8, 32);
	memcpy(nc, in + 40, RELAY_NONCE_LEN);
	return true;
}

/* HMAC(K, label | C | a | b) */
static void relay_mac(uint8_t out[32], const uint8_t k[32], const char *label,
		      const uint8_t c[32], const uint8_t a[RELAY_NONCE_LEN],
		      const uint8_t b[RELAY_NONCE_LEN])
{
	uint8_t in[8 + 32 + 2 * RELAY_NONCE_LEN];
	size_t n = strlen(label);

	memcpy(in, label, n);
	memcpy(in + n, c, 32);
	memcpy(in + n + 32, a, RELAY_NONCE_LEN);
	memcpy(in + n + 32 + RELAY_NONCE_LEN, b, RELAY_NONCE_LEN);
	crypto_hmac(out, k, 32, in, n + 32 + 2 * RELAY_NONCE_LEN);
}

void relay_challenge(uint8_t out[RELAY_CHALLENGE_LEN], const uint8_t k[32],
		     const uint8_t client_pub[32], const uint8_t nc[RELAY_NONCE_LEN],
		     const uint8_t ns[RELAY_NONCE_LEN])
{
	memcpy(out, relay_magic, 8);
	memcpy(out + 8, ns, RELAY_NONCE_LEN);
	relay_mac(out + 8 + RELAY_NONCE_LEN, k, "relay", client_pub, nc, ns);
}

bool relay_challenge_check(const uint8_t in[RELAY_CHALLENGE_LEN], const uint8_t k[32],
			   const uint8_t client_pub[32], const uint8_t nc[RELAY_NONCE_LEN],
			   uint8_t ns[RELAY_NONCE_LEN])
{
	uint8_t want[32];
	bool ok;

	if (memcmp(in, relay_magic, 8))
		return false;
	relay_mac(want, k, "relay", client_pub, nc, in + 8);
	ok = crypto_equal(want, in + 8 + RELAY_NONCE_LEN, 32);
	if (ok)
		memcpy(ns, in + 8, RELAY_NONCE_LEN);
	return ok;
}

void relay_proof(uint8_t out[RELAY_PROOF_LEN], const uint8_t k[32],
		 const uint8_t client_pub[32], const uint8_t nc[RELAY_NONCE_LEN],
		 const uint8_t ns[RELAY_NONCE_LEN])
{
	relay_mac(out, k, "client", client_pub, ns, nc);
}

bool relay_proof_check(const uint8_t in[RELAY_PROOF_LEN], const uint8_t k[32],
		       const uint8_t client_pub[32], const uint8_t nc[RELAY_NONCE_LEN],
		       const uint8_t ns[RELAY_NONCE_LEN])
{
	uint8_t want[32];

	relay_proof(want, k, client_pub, nc, ns);
	return crypto_equal(want, in, 32);
}

void relay_header(uint8_t out[RELAY_HDR_LEN], enum relay_type t, size_t body_len)
{
	out[0] = (uint8_t)t;
	out[1] = 0;
	out[2] = (uint8_t)(body_len >> 8);
	out[3] = (uint8_t)body_len;
}

long relay_frame(const uint8_t *buf, size_t len, enum relay_type *type,
		 const uint8_t **key, const uint8_t **pkt, size_t *pkt_len)
{
	size_t body;

	if (len < RELAY_HDR_LEN)
		return 0;
	if (buf[1] || buf[0] < RELAY_SEND || buf[0] > RELAY_PONG)
		return -1;
	body = (size_t)buf[2] << 8 | buf[3];
	if (buf[0] == RELAY_PING || buf[0] == RELAY_PONG) {
		if (body)
			return -1;
	} else if (body <= 32) {
		return -1;
	}
	if (len < RELAY_HDR_LEN + body)
		return 0;
	*type = (enum relay_type)buf[0];
	*key = body ? buf + RELAY_HDR_LEN : NULL;
	*pkt = body ? buf + RELAY_HDR_LEN + 32 : NULL;
	*pkt_len = body ? body - 32 : 0;
	return (long)(RELAY_HDR_LEN + body);
}
