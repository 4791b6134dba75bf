/*
 * test_relay — the relay stream: the opening between a real X25519 pair
 * (both sides derive one key; each proof checks and a wrong key, nonce or
 * client key fails it), and the frame parser (round trips, partial input
 * asks for more, broken streams refused, no read past the input).
 */
#include "check.h"
#include "crypto.h"
#include "relay.h"

#include <stdlib.h>
#include <string.h>

int main(void)
{
	uint8_t c[32], C[32], s[32], S[32], ss1[32], ss2[32], kc[32], ks[32];
	uint8_t nc[RELAY_NONCE_LEN], ns[RELAY_NONCE_LEN], ns2[RELAY_NONCE_LEN];
	uint8_t hello[RELAY_HELLO_LEN], chal[RELAY_CHALLENGE_LEN], proof[RELAY_PROOF_LEN];
	uint8_t pub[32], n2[RELAY_NONCE_LEN], other[32];

	CHECK(crypto_init(), "crypto_init");
	CHECK(crypto_x25519_generate(c) && crypto_x25519_public(C, c) &&
	      crypto_x25519_generate(s) && crypto_x25519_public(S, s) &&
	      crypto_dh(ss1, c, S) && crypto_dh(ss2, s, C), "key pairs");
	relay_key(kc, ss1);
	relay_key(ks, ss2);
	CHECK_MEM(kc, ks, 32, "client and relay derive the same key");
	crypto_random(nc, sizeof(nc));
	crypto_random(ns, sizeof(ns));

	relay_hello(hello, C, nc);
	CHECK(relay_hello_parse(hello, pub, n2) && !memcmp(pub, C, 32) &&
	      !memcmp(n2, nc, sizeof(nc)), "hello round trip");
	hello[0] ^= 1;
	CHECK(!relay_hello_parse(hello, pub, n2), "hello without the magic refused");

	relay_challenge(chal, ks, C, nc, ns);
	CHECK(relay_challenge_check(chal, kc, C, nc, ns2) && !memcmp(ns, ns2, sizeof(ns)),
	      "the client accepts the relay's proof");
	memset(other, 7, 32);
	CHECK(!relay_challenge_check(chal, other, C, nc, ns2), "... not under another key");
	n2[0] = nc[0] ^ 1;
	memcpy(n2 + 1, nc + 1, sizeof(nc) - 1);
	CHECK(!relay_challenge_check(chal, kc, C, n2, ns2), "... not for another client nonce (replay)");
	int bad = 0;
	for (size_t i = 0; i < sizeof(chal) * 8; i++) {
		chal[i / 8] ^= (uint8_t)(1u << (i % 8));
		bad += relay_challenge_check(chal, kc, C, nc, ns2);
		chal[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK(bad == 0, "every one-bit change of the challenge refused");

	relay_proof(proof, kc, C, nc, ns);
	CHECK(relay_proof_check(proof, ks, C, nc, ns), "the relay accepts the client's proof");
	CHECK(!relay_proof_check(proof, ks, S, nc, ns), "... not for another claimed key");
	CHECK(!relay_proof_check(proof, ks, C, nc, n2), "... not for another relay nonce");
	CHECK(memcmp(proof, chal + 8 + RELAY_NONCE_LEN, 32),
	      "the client's proof is not the relay's (no reflection)");

	/* frames */
	uint8_t buf[RELAY_HDR_LEN + RELAY_MAX_BODY + 8], key[32];
	enum relay_type t;
	const uint8_t *k, *p;
	size_t plen;
	long n;

	memset(key, 0x33, 32);
	relay_header(buf, RELAY_SEND, 32 + 148);
	memcpy(buf + 4, key, 32);
	memset(buf + 36, 0xab, 148);
	n = relay_frame(buf, 4 + 32 + 148, &t, &k, &p, &plen);
	CHECK(n == 184 && t == RELAY_SEND && k == buf + 4 && p == buf + 36 && plen == 148,
	      "SEND frame parsed");
	int more = 0;
	for (size_t i = 0; i < 184; i++)
		more += relay_frame(buf, i, &t, &k, &p, &plen) == 0;
	CHECK(more == 184, "every prefix asks for more");
	relay_header(buf, RELAY_RECV, RELAY_MAX_BODY);
	memset(buf + 4, 1, RELAY_MAX_BODY);
	CHECK(relay_frame(buf, 4 + RELAY_MAX_BODY, &t, &k, &p, &plen) == 4 + RELAY_MAX_BODY &&
	      t == RELAY_RECV && plen == RELAY_MAX_PACKET, "largest RECV frame parsed");
	relay_header(buf, RELAY_PING, 0);
	CHECK(relay_frame(buf, 4, &t, &k, &p, &plen) == 4 && t == RELAY_PING && !k && !plen,
	      "PING parsed");
	relay_header(buf, RELAY_PONG, 1);
	CHECK(relay_frame(buf, 5, &t, &k, &p, &plen) == -1, "PONG with a body refused");
	relay_header(buf, RELAY_SEND, 32);
	CHECK(relay_frame(buf, 36, &t, &k, &p, &plen) == -1, "SEND without a packet refused");
	relay_header(buf, RELAY_SEND, 10);
	CHECK(relay_frame(buf, 14, &t, &k, &p, &plen) == -1, "SEND shorter than a key refused");
	buf[0] = 9;
	CHECK(relay_frame(buf, 4, &t, &k, &p, &plen) == -1, "unknown type refused");
	buf[0] = 0;
	CHECK(relay_frame(buf, 4, &t, &k, &p, &plen) == -1, "type 0 refused");
	relay_header(buf, RELAY_PING, 0);
	buf[1] = 1;
	CHECK(relay_frame(buf, 4, &t, &k, &p, &plen) == -1, "nonzero reserved byte refused");
	return check_done();
}
