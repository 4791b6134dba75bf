/*
 * test_stun — the STUN Binding codec: the RFC 5769 vectors (sample
 * request, IPv4 and IPv6 responses: XOR-MAPPED-ADDRESS decoded,
 * FINGERPRINT checked, MESSAGE-INTEGRITY skipped), every FINGERPRINT we
 * write checked with a plain bit-at-a-time CRC-32 written here, client
 * request -> server answer -> client parse in both families, a classic
 * request as the Debian stun-client 0.97 sends it, the 420 cases, and
 * the inputs that must get nothing: bad FINGERPRINTs, responses and
 * indications, other methods, wrong transaction ids, every truncation,
 * attribute overruns, short output buffers.  Truncated inputs live in
 * heap copies of their exact size, so a sanitizer build sees any read
 * past the end.
 */
#include "check.h"
#include "crypto.h"
#include "stun.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* RFC 5769 §2.1: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
 * MESSAGE-INTEGRITY, FINGERPRINT. */
static const char rfc5769_request[] =
	"000100582112a442b7e7a701bc34d686fa87dfae"
	"80220010" "5354554e207465737420636c69656e74"
	"00240004" "6e0001ff"
	"80290008" "932ff9b151263b36"
	"00060009" "6576746a3a68367659202020"
	"00080014" "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
	"80280004" "e57a3bcf";
/* §2.2: 192.0.2.1 port 32853. */
static const char rfc5769_response4[] =
	"0101003c2112a442b7e7a701bc34d686fa87dfae"
	"8022000b" "7465737420766563746f7220"
	"00200008" "0001a147e112a643"
	"00080014" "2b91f599fd9e90c38c7489f92af9ba53f06be7d7"
	"80280004" "c07d4c96";
/* §2.3: 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
static const char rfc5769_response6[] =
	"010100482112a442b7e7a701bc34d686fa87dfae"
	"8022000b" "7465737420766563746f7220"
	"00200014" "0002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
	"00080014" "a382954e4be67bf11784c97c8292c275bfe3ed41"
	"80280004" "c8fb0b4c";
static const char rfc5769_txid[] = "b7e7a701bc34d686fa87dfae";

/* What `stun 127.0.0.1` (stun-client 0.97) sent: test 1 (CHANGE-REQUEST
 * 0) and test 2 (change IP), a 16-byte id whose first byte is the test. */
static const char classic_test1[] =
	"0001000801dd1c777591ba46c9a5e23066bf142b" "0003000400000000";
static const char classic_test2[] =
	"0001000802240f1b351cd128c01ef12ef4e29208" "0003000400000004";

/* A message under construction, its length field kept current. */
struct msg {
	uint8_t b[1024];
	size_t len;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320 : c >> 1;
	}
	return ~c;
}

/* type, then cookie and txid (modern) or a 16-byte id (classic). */
static void msg_begin(struct msg *m, uint16_t type, bool modern)
{
	memset(m, 0, sizeof(*m));
	put16(m->b, type);
	for (int i = 4; i < 20; i++)
		m->b[i] = (uint8_t)(0x30 + i);
	if (modern)
		check_hex(m->b + 4, 4, "2112a442");
	m->len = 20;
}

/* An attribute of vlen bytes from hex (zeros if hex is ""), padded. */
static void msg_attr(struct msg *m, uint16_t type, size_t vlen, const char *hex)
{
	put16(m->b + m->len, type);
	put16(m->b + m->len + 2, vlen);
	check_hex(m->b + m->len + 4, vlen, hex);
	m->len += 4 + ((vlen + 3) & ~(size_t)3);
	put16(m->b + 2, m->len - 20);
}

static void msg_fingerprint(struct msg *m)
{
	uint32_t fp;

	put16(m->b + 2, m->len + 8 - 20);
	fp = ref_crc32(m->b, m->len) ^ 0x5354554e;
	put16(m->b + m->len, 0x8028);
	put16(m->b + m->len + 2, 4);
	put16(m->b + m->len + 4, fp >> 16);
	put16(m->b + m->len + 6, fp & 0xffff);
	m->len += 8;
}

/* The first attribute of this type (naive walk), or NULL. */
static const uint8_t *find_attr(const uint8_t *b, size_t len, uint16_t type,
				size_t *alen)
{
	for (size_t off = 20; off + 4 <= len;) {
		size_t l = get16(b + off + 2);
		if (get16(b + off) == type) {
			*alen = l;
			return b + off + 4;
		}
		off += 4 + ((l + 3) & ~(size_t)3);
	}
	return NULL;
}

/* Every attribute length a multiple of 4 (what classic parsers need),
 * and the walk ends exactly at len. */
static bool all_aligned(const uint8_t *b, size_t len)
{
	size_t off = 20;

	while (off + 4 <= len) {
		size_t l = get16(b + off + 2);
		if (l & 3)
			return false;
		off += 4 + l;
	}
	return off == len;
}

/* True when the message ends in a FINGERPRINT the reference CRC agrees
 * with and the header length covers it. */
static bool fingerprint_ok(const uint8_t *b, size_t len)
{
	return len >= 28 && get16(b + 2) == len - 20 &&
	       get16(b + len - 8) == 0x8028 && get16(b + len - 6) == 4 &&
	       get32(b + len - 4) == (ref_crc32(b, len - 8) ^ 0x5354554e);
}

/* True when an attribute of the message starts at off. */
static bool boundary(const uint8_t *b, size_t len, size_t off)
{
	for (size_t o = 20; o + 4 <= len; o += 4 + ((get16(b + o + 2) + 3u) & ~3u))
		if (o == off)
			return true;
	return false;
}

static void sa4(union wg_sockaddr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->in4.sin_family = AF_INET;
	a->in4.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a->in4.sin_addr);
}

static void sa6(union wg_sockaddr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->in6.sin6_family = AF_INET6;
	a->in6.sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &a->in6.sin6_addr);
}

/* The 420's UNKNOWN-ATTRIBUTES, as a count and a list. */
static bool is_420(const uint8_t *b, size_t len, size_t *n, uint16_t list[16])
{
	const uint8_t *ec, *ua;
	size_t el, ul;

	if (len < 20 || get16(b) != 0x0111 ||
	    !(ec = find_attr(b, len, 0x0009, &el)) || el < 4 ||
	    ec[2] != 4 || ec[3] != 20 || !(ua = find_attr(b, len, 0x000a, &ul)) ||
	    (ul & 1) || ul > 32)
		return false;
	*n = ul / 2;
	for (size_t i = 0; i < *n; i++)
		list[i] = get16(ua + 2 * i);
	return true;
}

static void test_vectors(void)
{
	uint8_t req[128], r4[128], r6[128], txid[12], out[STUN_ANSWER_MAX];
	size_t nreq = check_hex(req, sizeof(req), rfc5769_request);
	size_t n4 = check_hex(r4, sizeof(r4), rfc5769_response4);
	size_t n6 = check_hex(r6, sizeof(r6), rfc5769_response6);
	union wg_sockaddr got, want, from;
	uint16_t list[16];
	struct msg m;
	size_t n, l;

	check_hex(txid, sizeof(txid), rfc5769_txid);
	CHECK(nreq == 108 && n4 == 80 && n6 == 92, "RFC 5769 vectors: 108, 80, 92 bytes");
	CHECK(fingerprint_ok(req, nreq) && fingerprint_ok(r4, n4) && fingerprint_ok(r6, n6),
	      "RFC 5769 FINGERPRINTs agree with the reference CRC-32");
	CHECK(stun_is(req, nreq) && stun_is(r4, n4) && stun_is(r6, n6),
	      "RFC 5769 vectors look like STUN");
	CHECK(stun_is_binding_request(req, nreq) && !stun_is_binding_request(r4, n4),
	      "only the sample request is a Binding request");

	sa4(&want, "192.0.2.1", 32853);
	CHECK(stun_parse_response(r4, n4, txid, &got) && wg_sockaddr_equal(&got, &want),
	      "§2.2: XOR-MAPPED-ADDRESS 192.0.2.1:32853, past MESSAGE-INTEGRITY");
	sa6(&want, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
	CHECK(stun_parse_response(r6, n6, txid, &got) && wg_sockaddr_equal(&got, &want),
	      "§2.3: XOR-MAPPED-ADDRESS 2001:db8:1234:5678:11:2233:4455:6677 port 32853");
	txid[11] ^= 1;
	CHECK(!stun_parse_response(r4, n4, txid, &got) && !stun_parse_response(r6, n6, txid, &got),
	      "RFC 5769 responses refused for another transaction id");
	txid[11] ^= 1;
	CHECK(!stun_parse_response(req, nreq, txid, &got), "the sample request is no response");

	/* PRIORITY (0x0024, ICE) is comprehension-required and unknown here. */
	sa4(&from, "192.0.2.1", 32853);
	n = stun_server_answer(out, sizeof(out), req, nreq, &from, NULL);
	CHECK(is_420(out, n, &l, list) && l == 1 && list[0] == 0x0024,
	      "§2.1 request: 420 listing PRIORITY (0x0024), ICE-CONTROLLED ignored");
	CHECK(!memcmp(out + 4, req + 4, 16) && fingerprint_ok(out, n),
	      "§2.1 request: 420 keeps the transaction id, has a right FINGERPRINT");
	CHECK(!stun_parse_response(out, n, txid, &got), "a 420 is not a success response");

	/* The same request with PRIORITY renamed into the optional range. */
	memcpy(m.b, req, nreq - 8);
	m.len = nreq - 8;
	m.b[40] = 0x80;
	msg_fingerprint(&m);
	n = stun_server_answer(out, sizeof(out), m.b, m.len, &from, "weft");
	CHECK(n && get16(out) == 0x0101 && fingerprint_ok(out, n) &&
	      stun_parse_response(out, n, txid, &got) && wg_sockaddr_equal(&got, &from),
	      "§2.1 request with PRIORITY optional: success, mapped address right");

	/* Truncations, read from exact-size heap copies. */
	int bad = 0;
	for (size_t k = 0; k < 3; k++) {
		const uint8_t *v = k == 0 ? req : k == 1 ? r4 : r6;
		size_t vl = k == 0 ? nreq : k == 1 ? n4 : n6;
		for (size_t cut = 0; cut < vl; cut++) {
			uint8_t *c = malloc(cut ? cut : 1);
			memcpy(c, v, cut);
			if (stun_is(c, cut) || stun_is_binding_request(c, cut) ||
			    stun_server_answer(out, sizeof(out), c, cut, &from, "x") ||
			    stun_parse_response(c, cut, txid, &got))
				bad++;
			/* The length field fixed too: a cut inside an
			 * attribute is still refused. */
			if (cut >= 20 && !(cut & 3) && !boundary(v, vl, cut)) {
				put16(c + 2, cut - 20);
				if (stun_server_answer(out, sizeof(out), c, cut, &from, "x") ||
				    stun_parse_response(c, cut, txid, &got))
					bad++;
			}
			free(c);
		}
	}
	CHECK(bad == 0, "every truncation of the three vectors refused, %d accepted", bad);
}

static void round_trip(const union wg_sockaddr *from, const char *what)
{
	uint8_t req[STUN_REQUEST_LEN], txid[STUN_TXID_LEN], out[STUN_ANSWER_MAX];
	union wg_sockaddr got;
	const uint8_t *a;
	size_t n, l;

	CHECK(stun_request(req, txid), "%s: request built", what);
	CHECK(stun_is(req, sizeof(req)) && stun_is_binding_request(req, sizeof(req)) &&
	      get16(req + 2) == 8 && !memcmp(req + 8, txid, 12) &&
	      fingerprint_ok(req, sizeof(req)),
	      "%s: request is 28 bytes, Binding, our txid, right FINGERPRINT", what);
	n = stun_server_answer(out, sizeof(out), req, sizeof(req), from, "weft 0.1");
	CHECK(n && get16(out) == 0x0101 && !memcmp(out + 4, req + 4, 16) &&
	      fingerprint_ok(out, n),
	      "%s: success answer, same id, FINGERPRINT since the request had one", what);
	CHECK(find_attr(out, n, 0x0001, &l) && find_attr(out, n, 0x0020, &l) &&
	      (a = find_attr(out, n, 0x8022, &l)) && l == 8 && !memcmp(a, "weft 0.1", 8),
	      "%s: MAPPED-ADDRESS, XOR-MAPPED-ADDRESS and SOFTWARE present", what);
	CHECK(stun_parse_response(out, n, txid, &got) && wg_sockaddr_equal(&got, from),
	      "%s: client reads back the source address", what);
	CHECK(stun_server_answer(out + 100, sizeof(out) - 100, out, n, from, NULL) == 0,
	      "%s: the answer itself gets no answer", what);
	txid[0] ^= 0x80;
	CHECK(!stun_parse_response(out, n, txid, &got), "%s: wrong txid refused", what);
	txid[0] ^= 0x80;

	/* Not the FINGERPRINT's own header: a response need not carry
	 * one, and renamed it is just an unknown optional attribute. */
	int bad = 0;
	for (size_t i = 0; i < n * 8; i++) {
		if (i / 8 >= n - 8 && i / 8 < n - 4)
			continue;
		out[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (stun_parse_response(out, n, txid, &got))
			bad++;
		out[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK(bad == 0, "%s: all %zu one-bit changes of the answer outside the "
	      "FINGERPRINT header refused", what, (n - 4) * 8);

	bad = 0;
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *c = malloc(cut ? cut : 1);
		memcpy(c, out, cut);
		if (stun_parse_response(c, cut, txid, &got))
			bad++;
		free(c);
	}
	for (size_t cut = 0; cut < sizeof(req); cut++) {
		uint8_t *c = malloc(cut ? cut : 1);
		memcpy(c, req, cut);
		if (stun_server_answer(out + 100, sizeof(out) - 100, c, cut, from, NULL))
			bad++;
		free(c);
	}
	CHECK(bad == 0, "%s: every truncation of request and answer refused", what);

	for (size_t cap = 0; cap < n; cap++)
		CHECK_QUIET(stun_server_answer(out, cap, req, sizeof(req), from, "weft 0.1") == 0,
			    "%s: cap %zu refused", what, cap);
	CHECK(stun_server_answer(out, n, req, sizeof(req), from, "weft 0.1") == n,
	      "%s: every short cap gives 0, the exact length suffices", what);
}

static void test_round_trips(void)
{
	uint8_t r1[STUN_REQUEST_LEN], r2[STUN_REQUEST_LEN], t1[12], t2[12];
	uint8_t out[STUN_ANSWER_MAX];
	union wg_sockaddr a, want, got, none = { 0 };
	size_t n, l;
	const uint8_t *v;

	sa4(&a, "203.0.113.7", 51820);
	round_trip(&a, "IPv4");
	sa6(&a, "2001:db8::1", 41641);
	round_trip(&a, "IPv6");
	sa6(&a, "2001:db8:ffff::ffff:ffff", 1);
	round_trip(&a, "IPv6 with 0xff bytes");

	CHECK(stun_request(r1, t1) && stun_request(r2, t2) && memcmp(t1, t2, 12),
	      "two requests have different transaction ids");

	/* A dual-stack socket's IPv4 client is answered as IPv4. */
	sa6(&a, "::ffff:198.51.100.9", 3478);
	n = stun_server_answer(out, sizeof(out), r1, sizeof(r1), &a, NULL);
	sa4(&want, "198.51.100.9", 3478);
	CHECK(n && (v = find_attr(out, n, 0x0001, &l)) && l == 8 && v[1] == 1 &&
	      stun_parse_response(out, n, t1, &got) && wg_sockaddr_equal(&got, &want),
	      "IPv4-mapped IPv6 source answered as IPv4 198.51.100.9:3478");
	CHECK(stun_server_answer(out, sizeof(out), r1, sizeof(r1), &none, NULL) == 0,
	      "a source of no family gets nothing");
}

static void test_classic(void)
{
	uint8_t req[64], out[STUN_ANSWER_MAX], want[64];
	union wg_sockaddr from;
	const uint8_t *v;
	uint16_t list[16];
	struct msg m;
	size_t n, nreq, l;

	nreq = check_hex(req, sizeof(req), classic_test1);
	sa4(&from, "127.0.0.1", 20000);
	CHECK(!stun_is(req, nreq) && stun_is_binding_request(req, nreq),
	      "stun-client's request: no cookie, but a Binding request");
	n = stun_server_answer(out, sizeof(out), req, nreq, &from, NULL);
	check_hex(want, sizeof(want), "0101000c01dd1c777591ba46c9a5e23066bf142b"
		  "0001000800014e207f000001");
	CHECK(n == 32 && !memcmp(out, want, 32),
	      "classic: success with the 16-byte id and MAPPED-ADDRESS only");

	n = stun_server_answer(out, sizeof(out), req, nreq, &from, "weft-0.9x");
	CHECK(n && (v = find_attr(out, n, 0x8022, &l)) && l == 12 &&
	      !memcmp(v, "weft-0.9x   ", 12) && all_aligned(out, n),
	      "classic: SOFTWARE padded with spaces to a multiple of 4");
	CHECK(find_attr(out, n, 0x0001, &l) == out + 24 && !find_attr(out, n, 0x0020, &l) &&
	      !find_attr(out, n, 0x8028, &l),
	      "classic: MAPPED-ADDRESS first; no XOR-MAPPED-ADDRESS, no FINGERPRINT");

	int bad = 0;
	for (size_t cut = 0; cut < nreq; cut++) {
		uint8_t *c = malloc(cut ? cut : 1);
		memcpy(c, req, cut);
		if (stun_is_binding_request(c, cut) ||
		    stun_server_answer(out, sizeof(out), c, cut, &from, NULL))
			bad++;
		free(c);
	}
	CHECK(bad == 0, "classic: every truncation refused");

	nreq = check_hex(req, sizeof(req), classic_test2);
	n = stun_server_answer(out, sizeof(out), req, nreq, &from, "weft-0.9x");
	CHECK(is_420(out, n, &l, list) && l == 2 && list[0] == 3 && list[1] == 3 &&
	      all_aligned(out, n) && !memcmp(out + 4, req + 4, 16),
	      "classic change IP: 420 listing CHANGE-REQUEST twice (RFC 3489 padding)");
	req[27] = 2;
	n = stun_server_answer(out, sizeof(out), req, nreq, &from, NULL);
	CHECK(is_420(out, n, &l, list) && l == 2 && list[0] == 3,
	      "classic change port: 420");
	req[27] = 0x09;
	n = stun_server_answer(out, sizeof(out), req, nreq, &from, NULL);
	CHECK(n && get16(out) == 0x0101, "classic: CHANGE-REQUEST bits other than IP/port ignored");

	msg_begin(&m, 0x0001, false);
	n = stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL);
	CHECK(n == 32 && get16(out) == 0x0101, "classic: bare 20-byte request answered");
	CHECK(!stun_parse_response(out, n, m.b + 8, &from),
	      "our client refuses a cookie-less answer");
	msg_begin(&m, 0x0101, false);
	msg_attr(&m, 0x0001, 8, "000100507f000001");
	CHECK(stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL) == 0,
	      "classic: a response gets nothing");
}

static void test_420(void)
{
	uint8_t out[STUN_ANSWER_MAX];
	union wg_sockaddr from;
	uint16_t list[16];
	struct msg m;
	size_t n, l;
	const uint8_t *v;

	sa4(&from, "192.0.2.44", 4500);
	msg_begin(&m, 0x0001, true);
	msg_attr(&m, 0x0003, 4, "00000006");
	msg_fingerprint(&m);
	n = stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL);
	CHECK(is_420(out, n, &l, list) && l == 1 && list[0] == 3 &&
	      find_attr(out, n, 0x000a, &l) && l == 2 && fingerprint_ok(out, n),
	      "change IP and port: 420 listing 0x0003, padded normally, FINGERPRINT");
	CHECK(!find_attr(out, n, 0x0001, &l) && !find_attr(out, n, 0x0020, &l),
	      "a 420 carries no address");
	CHECK(stun_server_answer(out + 128, 128, out, n, &from, NULL) == 0,
	      "a 420 gets no answer");

	msg_begin(&m, 0x0001, true);
	msg_attr(&m, 0x0003, 4, "00000000");
	n = stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL);
	CHECK(n && get16(out) == 0x0101 && !find_attr(out, n, 0x8028, &l),
	      "CHANGE-REQUEST with no flag ignored; no FINGERPRINT when none came");
	msg_begin(&m, 0x0001, true);
	msg_attr(&m, 0x0003, 8, "0000000000000000");
	CHECK(stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL) == 0,
	      "CHANGE-REQUEST of 8 bytes: dropped");

	msg_begin(&m, 0x0001, true);
	msg_attr(&m, 0x0024, 4, "6e0001ff");
	msg_attr(&m, 0x8fff, 3, "010203");
	msg_attr(&m, 0x7fff, 0, "");
	msg_attr(&m, 0x0024, 4, "6e0001ff");
	msg_attr(&m, 0x0002, 8, "00010001c0000201");
	n = stun_server_answer(out, sizeof(out), m.b, m.len, &from, "weft");
	CHECK(is_420(out, n, &l, list) && l == 3 && list[0] == 0x0024 &&
	      list[1] == 0x7fff && list[2] == 0x0002 && find_attr(out, n, 0x8022, &l),
	      "unknown 0x0024 (twice), 0x7fff, RESPONSE-ADDRESS: one 420 listing each once");

	msg_begin(&m, 0x0001, true);
	for (uint16_t t = 0x0040; t < 0x0040 + 12; t++)
		msg_attr(&m, t, 0, "");
	msg_fingerprint(&m);
	char sw[200];
	memset(sw, 'w', sizeof(sw) - 1);
	sw[sizeof(sw) - 1] = 0;
	n = stun_server_answer(out, sizeof(out), m.b, m.len, &from, sw);
	CHECK(is_420(out, n, &l, list) && l == 8 && n <= STUN_ANSWER_MAX &&
	      fingerprint_ok(out, n) && (v = find_attr(out, n, 0x8022, &l)) && l == 127,
	      "12 unknown: 420 lists 8; SOFTWARE cut to 127; %zu bytes fit", n);

	msg_begin(&m, 0x0001, true);
	msg_attr(&m, 0x8123, 5, "0102030405");
	msg_attr(&m, 0x0008, 20, "");
	msg_attr(&m, 0x0024, 4, "6e0001ff");
	msg_fingerprint(&m);
	n = stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL);
	CHECK(n && get16(out) == 0x0101 && fingerprint_ok(out, n),
	      "unknown optional skipped, attributes after MESSAGE-INTEGRITY ignored");
}

static void test_refused(void)
{
	uint8_t out[STUN_ANSWER_MAX], req[STUN_REQUEST_LEN], txid[12];
	union wg_sockaddr from, got;
	struct msg m, c;
	size_t n;

	sa4(&from, "192.0.2.44", 4500);
	CHECK(stun_request(req, txid), "request");
	int bad = 0;
	for (size_t i = 24 * 8; i < sizeof(req) * 8; i++) {
		req[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (stun_server_answer(out, sizeof(out), req, sizeof(req), &from, NULL))
			bad++;
		req[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK(bad == 0, "every one-bit change of the FINGERPRINT value: dropped");

	msg_begin(&m, 0x0001, true);
	msg_attr(&m, 0x8022, 4, "77656674");
	c = m;
	msg_fingerprint(&m);
	m.b[24] ^= 0x20;
	CHECK(stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL) == 0,
	      "a changed byte before the FINGERPRINT: dropped");
	msg_fingerprint(&c);
	msg_attr(&c, 0x8022, 4, "77656674");
	CHECK(stun_server_answer(out, sizeof(out), c.b, c.len, &from, NULL) == 0,
	      "FINGERPRINT not last: dropped");
	msg_begin(&c, 0x0001, true);
	msg_attr(&c, 0x8028, 8, "0000000000000000");
	CHECK(stun_server_answer(out, sizeof(out), c.b, c.len, &from, NULL) == 0,
	      "FINGERPRINT of 8 bytes: dropped");

	static const uint16_t types[] = { 0x0011, 0x0101, 0x0111, 0x0002, 0x0003,
					  0x0009, 0x4001, 0x8001, 0xc001 };
	bad = 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		msg_begin(&m, types[i], true);
		msg_attr(&m, 0x0001, 8, "00010050c0000201");
		if (stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL) ||
		    stun_is_binding_request(m.b, m.len))
			bad++;
	}
	CHECK(bad == 0, "indications, responses, other methods, top bits set: nothing");

	/* Overruns: the header's length is right, an attribute's is not. */
	msg_begin(&m, 0x0001, true);
	msg_attr(&m, 0x8022, 4, "77656674");
	for (size_t alen = 5; alen < 300; alen++) {
		put16(m.b + 22, alen);
		CHECK_QUIET(stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL) == 0,
			    "attribute length %zu past the end refused", alen);
	}
	CHECK(1, "attribute lengths 5..299 past the end (padding included) refused");
	put16(m.b + 22, 0xffff);
	CHECK(stun_server_answer(out, sizeof(out), m.b, m.len, &from, NULL) == 0,
	      "attribute length 0xffff refused");
	msg_begin(&m, 0x0001, true);
	msg_attr(&m, 0x8022, 4, "77656674");
	put16(m.b + 2, 6);
	CHECK(!stun_is(m.b, 26) && !stun_is_binding_request(m.b, 26) &&
	      stun_server_answer(out, sizeof(out), m.b, 26, &from, NULL) == 0,
	      "a length field not a multiple of 4 refused");
	put16(m.b + 2, 8);
	CHECK(!stun_is(m.b, 32) && stun_server_answer(out, sizeof(out), m.b, 32, &from, NULL) == 0,
	      "a length field that disagrees with the datagram refused");

	/* WireGuard's messages: le32 type 1..4, then zeros or more. */
	uint8_t wg[148] = { 1 };
	CHECK(!stun_is(wg, 148) && !stun_is_binding_request(wg, 148), "WireGuard initiation is not STUN");
	wg[0] = 4;
	CHECK(!stun_is(wg, 32) && !stun_is_binding_request(wg, 32), "WireGuard data is not STUN");

	/* Client side: address shapes and attributes it must refuse. */
	msg_begin(&m, 0x0101, true);
	memcpy(txid, m.b + 8, 12);
	c = m;
	msg_attr(&c, 0x0001, 8, "0001d431c6336407");
	sa4(&from, "198.51.100.7", 54321);
	CHECK(stun_parse_response(c.b, c.len, txid, &got) && wg_sockaddr_equal(&got, &from),
	      "MAPPED-ADDRESS alone is used");
	c = m;
	msg_attr(&c, 0x0001, 8, "0001000101020304");
	msg_attr(&c, 0x0020, 8, "0001f523e721c045");
	CHECK(stun_parse_response(c.b, c.len, txid, &got) && wg_sockaddr_equal(&got, &from),
	      "XOR-MAPPED-ADDRESS wins over MAPPED-ADDRESS");
	c = m;
	msg_attr(&c, 0x0020, 8, "0001f523e721c045");
	msg_attr(&c, 0x0020, 8, "0001000101020304");
	msg_attr(&c, 0x0005, 8, "0001000101020304");
	msg_attr(&c, 0x802b, 8, "0001000101020304");
	CHECK(stun_parse_response(c.b, c.len, txid, &got) && wg_sockaddr_equal(&got, &from),
	      "first of two XOR-MAPPED-ADDRESS used; CHANGED-ADDRESS, RESPONSE-ORIGIN skipped");
	c = m;
	msg_attr(&c, 0x0020, 8, "0001f523e721c045");
	msg_attr(&c, 0x0024, 4, "00000000");
	CHECK(!stun_parse_response(c.b, c.len, txid, &got),
	      "response with an unknown comprehension-required attribute refused");
	static const char *const shapes[] = { "0001f523e72166", "0003f523e721c045",
		"0002f523e721c045", "0001f523e721c045000000000000000000000000" };
	static const size_t shape_len[] = { 7, 8, 8, 20 };
	bad = 0;
	for (size_t i = 0; i < 4; i++) {
		c = m;
		msg_attr(&c, 0x0020, shape_len[i], shapes[i]);
		got.sa.sa_family = AF_UNIX;
		if (stun_parse_response(c.b, c.len, txid, &got) || got.sa.sa_family != AF_UNIX)
			bad++;
	}
	CHECK(bad == 0, "XOR-MAPPED-ADDRESS: short, family 3, family/length mismatches refused, *mapped untouched");
	c = m;
	msg_attr(&c, 0x8022, 4, "77656674");
	CHECK(!stun_parse_response(c.b, c.len, txid, &got), "success without an address refused");
	n = 0;
	CHECK(!stun_parse_response(c.b, n, txid, &got) && !stun_is(c.b, 0), "empty input refused");
}

int main(void)
{
	CHECK(crypto_init(), "crypto_init");
	test_vectors();
	test_round_trips();
	test_classic();
	test_420();
	test_refused();
	return check_done();
}
