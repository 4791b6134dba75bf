/*
 * test_probe — path probes: the key from a fixed static-static value
 * against BLAKE2s computed elsewhere (Python's hashlib), the same key on
 * both sides of a real X25519 pair, PING/PONG round trips with IPv4, IPv6
 * and no address, fresh nonces, and refusal of every one-bit change,
 * every wrong length, a wrong key and bad address encodings.
 */
#include "check.h"
#include "crypto.h"
#include "probe.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

static void round_trip(const uint8_t key[32], uint8_t type,
		       const union wg_sockaddr *addr, const char *what)
{
	struct probe p = { .type = type }, q;
	uint8_t buf[PROBE_LEN], buf2[PROBE_LEN];

	memset(p.sender, 0xa5, 32);
	for (int i = 0; i < PROBE_TXID_LEN; i++)
		p.txid[i] = (uint8_t)(i * 7 + 1);
	p.addr = *addr;
	CHECK(probe_seal(buf, &p, key), "%s: sealed", what);
	CHECK(probe_sender(buf, sizeof(buf)) == buf + 4, "%s: sender found", what);
	CHECK(probe_open(&q, buf, sizeof(buf), key), "%s: opens", what);
	CHECK(q.type == type && !memcmp(q.sender, p.sender, 32) &&
	      !memcmp(q.txid, p.txid, PROBE_TXID_LEN), "%s: fields kept", what);
	CHECK(q.addr.sa.sa_family == addr->sa.sa_family &&
	      (addr->sa.sa_family == AF_UNSPEC || wg_sockaddr_equal(&q.addr, addr)),
	      "%s: address kept", what);
	CHECK(probe_seal(buf2, &p, key) && memcmp(buf, buf2, PROBE_LEN),
	      "%s: a second seal differs (fresh nonce)", what);

	int bad = 0;
	for (size_t i = 0; i < PROBE_LEN * 8; i++) {
		memcpy(buf2, buf, PROBE_LEN);
		buf2[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (probe_open(&q, buf2, PROBE_LEN, key)) {
			/* only flipping PING<->PONG's low bit keeps the type
			 * valid, and the AD still refuses it */
			bad++;
		}
	}
	CHECK(bad == 0, "%s: all %d one-bit changes refused", what, PROBE_LEN * 8);
	for (size_t n = 0; n < PROBE_LEN + 8; n++)
		if (n != PROBE_LEN)
			CHECK_QUIET(!probe_sender(buf, n) && !probe_open(&q, buf, n, key),
				    "%s: length %zu refused", what, n);
	CHECK(1, "%s: every other length refused", what);
}

int main(void)
{
	uint8_t ss[32], key[32], want[32], a[32], A[32], b[32], B[32];
	uint8_t ab[32], ba[32], k1[32], k2[32];
	union wg_sockaddr v4 = { 0 }, v6 = { 0 }, none = { 0 };
	struct probe q;
	uint8_t buf[PROBE_LEN];

	CHECK(crypto_init(), "crypto_init");
	for (int i = 0; i < 32; i++)
		ss[i] = (uint8_t)i;
	probe_key(key, ss);
	check_hex(want, 32, "f7915f105e0438f989ab305f80006800aa870c6829526c8c77719541c0976e30");
	CHECK_MEM(key, want, 32, "key = BLAKE2s(\"weft probe v1\" || ss) (hashlib)");

	CHECK(crypto_x25519_generate(a) && crypto_x25519_public(A, a) &&
	      crypto_x25519_generate(b) && crypto_x25519_public(B, b) &&
	      crypto_dh(ab, a, B) && crypto_dh(ba, b, A), "two key pairs");
	probe_key(k1, ab);
	probe_key(k2, ba);
	CHECK_MEM(k1, k2, 32, "both nodes derive the same key");

	v4.in4.sin_family = AF_INET;
	v4.in4.sin_port = htons(51820);
	inet_pton(AF_INET, "192.0.2.7", &v4.in4.sin_addr);
	v6.in6.sin6_family = AF_INET6;
	v6.in6.sin6_port = htons(41641);
	inet_pton(AF_INET6, "2001:db8::17", &v6.in6.sin6_addr);
	none.sa.sa_family = AF_UNSPEC;
	round_trip(k1, PROBE_PING, &v4, "ping v4");
	round_trip(k1, PROBE_PONG, &v6, "pong v6");
	round_trip(k1, PROBE_PING, &none, "ping without address");

	struct probe p = { .type = PROBE_PING, .addr = v4 };
	CHECK(probe_seal(buf, &p, k1) && !probe_open(&q, buf, PROBE_LEN, key),
	      "another pair's key refused");
	buf[0] = 1;
	CHECK(!probe_sender(buf, PROBE_LEN), "a WireGuard type is not a probe");
	buf[0] = PROBE_PING;
	buf[2] = 1;
	CHECK(!probe_sender(buf, PROBE_LEN), "nonzero reserved bytes refused");

	/* Well sealed, but the address block is not one we write. */
	static const struct { uint8_t fam, pad, tail; const char *what; } odd[] = {
		{ 5, 0, 0, "family 5" }, { 4, 1, 0, "nonzero pad byte" },
		{ 4, 0, 1, "IPv4 with bytes after the address" },
		{ 0, 0, 1, "no family but an address" },
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		uint8_t body[32] = { 0 };
		body[12] = odd[i].fam;
		body[13] = odd[i].pad;
		body[31] = odd[i].tail;
		memset(buf, 0, 60);
		buf[0] = PROBE_PONG;
		CHECK(crypto_random(buf + 36, 24) &&
		      crypto_xaead_seal(buf + 60, body, 32, buf, 60, buf + 36, k1) &&
		      !probe_open(&q, buf, PROBE_LEN, k1), "%s refused", odd[i].what);
	}
	return check_done();
}
