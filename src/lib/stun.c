/*
 * stun — writing and reading Binding messages (stun.h has the API).
 *
 * Classic clients.  RFC 3489 has no cookie, no XOR-MAPPED-ADDRESS, no
 * FINGERPRINT, and its parsers step from one attribute to the next by
 * the length field alone, without padding; every RFC 3489 attribute is a
 * multiple of 4 long, so one padded walk reads both generations alike.
 * An answer to a classic request therefore carries MAPPED-ADDRESS first
 * and only attributes whose length is a multiple of 4: SOFTWARE is
 * padded with spaces inside its value, the 420 reason phrase is 20
 * bytes, and UNKNOWN-ATTRIBUTES repeats its last entry to an even count
 * (RFC 3489 §11.2.9; RFC 8489 §14.9 pads as usual instead).
 *
 * What the Debian stun-client 0.97 (the Vovida client) does, found by
 * running it against a loopback responder:
 *
 *  - `stun HOST[:PORT] [TEST] [-v] [-p SRCPORT]`, port 3478 by default.
 *    Without TEST it runs the RFC 3489 NAT-type tests from two sockets
 *    (source ports P and P+1, P random or SRCPORT): every 150 ms for up
 *    to 7 rounds, a 28-byte classic Binding request (length 8, a 16-byte
 *    id whose first byte is the test number) with one CHANGE-REQUEST:
 *    0 (test 1), 4 = change IP (test 2), 2 = change port (test 3), the
 *    last two from port P+1.  After a first answer it also sends test
 *    11 to its own mapped address (hairpin) and, only if that answer
 *    had CHANGED-ADDRESS, test 10 to that address.
 *  - It matches answers by that first id byte alone: neither the
 *    message type nor the parse result is checked, so a 420 to tests 2
 *    and 3 counts as "answered" just as a success does.
 *  - It prints "Primary: <type>" and "Return value is 0x0000NN" on
 *    stdout and exits with NN: with no answer at all "Blocked or could
 *    not reach STUN server" (0x1c); with answers to test 1 only
 *    "Firewall" (0x0b); with answers to all three, or 420s to 2 and 3,
 *    "Open" (0x01) on loopback, where the mapped address is local.
 *    Without -v the mapped address is never printed.  With -v (stderr)
 *    each answer gives "MappedAddress = a.b.c.d:port"; `stun HOST 1 -v`
 *    sends test 1 once, waits for an answer (forever: no retry, no
 *    timeout), prints "mappedAddr=a.b.c.d:port" and exits 0.
 *  - It needs MAPPED-ADDRESS (type 1, length exactly 8, family 1); it
 *    needs neither SOURCE-ADDRESS nor CHANGED-ADDRESS (given the
 *    latter, it sends test 10 there).  It parses 0x0020 without
 *    complaint, skips unknown attributes >= 0x8000 (FINGERPRINT), and
 *    calls the message bad (ok=0) on an unknown attribute < 0x8000 or
 *    a SOFTWARE (0x8022, its SERVER-NAME) not a multiple of 4 long
 *    ("Bad length string 9"); it keeps what it read before that, hence
 *    MAPPED-ADDRESS first.
 */
#include "stun.h"

#include <string.h>

#include "crypto.h"

/* Message types (RFC 8489 §5, §18.2). */
#define STUN_BINDING_REQUEST	0x0001
#define STUN_BINDING_SUCCESS	0x0101
#define STUN_BINDING_ERROR	0x0111

/* Attributes (RFC 8489 §18.3; RFC 3489 §11.2 for the classic ones,
 * RFC 5780 §7.2 for CHANGE-REQUEST). */
#define ATTR_MAPPED_ADDRESS		0x0001
#define ATTR_CHANGE_REQUEST		0x0003
#define ATTR_SOURCE_ADDRESS		0x0004
#define ATTR_CHANGED_ADDRESS		0x0005
#define ATTR_USERNAME			0x0006
#define ATTR_MESSAGE_INTEGRITY		0x0008
#define ATTR_ERROR_CODE			0x0009
#define ATTR_UNKNOWN_ATTRIBUTES		0x000a
#define ATTR_REFLECTED_FROM		0x000b
#define ATTR_REALM			0x0014
#define ATTR_NONCE			0x0015
#define ATTR_MESSAGE_INTEGRITY_SHA256	0x001c
#define ATTR_PASSWORD_ALGORITHM		0x001d
#define ATTR_USERHASH			0x001e
#define ATTR_XOR_MAPPED_ADDRESS		0x0020
#define ATTR_SOFTWARE			0x8022
#define ATTR_FINGERPRINT		0x8028

#define ATTR_OPTIONAL		0x8000	/* comprehension-optional range */
#define CHANGE_IP		0x04
#define CHANGE_PORT		0x02
#define FAMILY_IPV4		0x01
#define FAMILY_IPV6		0x02
#define FINGERPRINT_XOR		0x5354554eu	/* "STUN", §14.7 */
#define UNKNOWN_MAX		8	/* attributes a 420 lists */

/* Four bytes per attribute so classic parsers stay in step (see above). */
static const char stun_reason_420[] = "Unknown attribute(s)";

_Static_assert(sizeof(stun_reason_420) - 1 == 20, "420 reason stays 20 bytes");
_Static_assert(STUN_HDR_LEN + 2 * 24 + 4 + STUN_SOFTWARE_MAX + 1 + 8 <=
	       STUN_ANSWER_MAX, "success answer fits STUN_ANSWER_MAX");
_Static_assert(STUN_HDR_LEN + 28 + 4 + 2 * UNKNOWN_MAX + 4 +
	       STUN_SOFTWARE_MAX + 1 + 8 <= STUN_ANSWER_MAX,
	       "420 answer fits STUN_ANSWER_MAX");

/* CRC-32 of IEEE 802.3 (reflected 0xedb88320), a nibble at a time. */
static const uint32_t stun_crc_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac,
	0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
	0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

/* A value inside a message; p NULL when absent. */
struct stun_val {
	const uint8_t *p;
	size_t len;
};

/* What one walk over a message's attributes found (values borrowed). */
struct stun_scan {
	struct stun_val xor_mapped, mapped, change;	/* first of each */
	bool fingerprint;		/* present, last and right */
	uint16_t unknown[UNKNOWN_MAX];	/* comprehension-required, unknown */
	size_t n_unknown;
};

/* An answer being written: p[0..len), never past cap; ok false once
 * something did not fit. */
struct stun_out {
	uint8_t *p;
	size_t cap, len;
	bool ok;
};

/* A transport address as the wire has it. */
struct stun_addr {
	uint8_t family;		/* FAMILY_IPV4 or FAMILY_IPV6 */
	uint8_t port[2];	/* network order */
	uint8_t ip[16];
	size_t iplen;		/* 4 or 16 */
};

static uint16_t stun_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t stun_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void stun_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void stun_put32(uint8_t *p, uint32_t v)
{
	stun_put16(p, (uint16_t)(v >> 16));
	stun_put16(p + 2, (uint16_t)v);
}

static size_t stun_pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static uint32_t stun_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		c = (c >> 4) ^ stun_crc_nibble[c & 15];
		c = (c >> 4) ^ stun_crc_nibble[c & 15];
	}
	return ~c;
}

/* §14.7: CRC-32 of the message up to the attribute, the length field
 * already counting the FINGERPRINT itself. */
static uint32_t stun_fingerprint(const uint8_t *msg, size_t upto)
{
	return stun_crc32(msg, upto) ^ FINGERPRINT_XOR;
}

/* Header only: §5, top two bits zero, length = len - 20, a multiple of 4. */
static bool stun_header_ok(const uint8_t *buf, size_t len)
{
	return len >= STUN_HDR_LEN && !(buf[0] & 0xc0) && !(len & 3) &&
	       (size_t)stun_get16(buf + 2) == len - STUN_HDR_LEN;
}

bool stun_is(const uint8_t *buf, size_t len)
{
	return stun_header_ok(buf, len) && stun_get32(buf + 4) == STUN_COOKIE;
}

bool stun_is_binding_request(const uint8_t *buf, size_t len)
{
	return stun_header_ok(buf, len) &&
	       stun_get16(buf) == STUN_BINDING_REQUEST;
}

/*
 * Comprehension-required attributes we understand: RFC 8489's own (the
 * credential ones need nothing from a server without credentials), the
 * RFC 3489 response attributes an old server may still send, and
 * CHANGE-REQUEST, which the server looks at.  RESPONSE-ADDRESS (0x0002)
 * is left out on purpose: it asks for the answer to go elsewhere, which
 * we never do, and a 420 says so.
 */
static bool stun_known(uint16_t type)
{
	switch (type) {
	case ATTR_MAPPED_ADDRESS:
	case ATTR_CHANGE_REQUEST:
	case ATTR_SOURCE_ADDRESS:
	case ATTR_CHANGED_ADDRESS:
	case ATTR_USERNAME:
	case ATTR_MESSAGE_INTEGRITY:
	case ATTR_ERROR_CODE:
	case ATTR_UNKNOWN_ATTRIBUTES:
	case ATTR_REFLECTED_FROM:
	case ATTR_REALM:
	case ATTR_NONCE:
	case ATTR_MESSAGE_INTEGRITY_SHA256:
	case ATTR_PASSWORD_ALGORITHM:
	case ATTR_USERHASH:
	case ATTR_XOR_MAPPED_ADDRESS:
		return true;
	}
	return false;
}

/* Listed once each; past UNKNOWN_MAX the 420 is still sent, shorter. */
static void stun_add_unknown(struct stun_scan *s, uint16_t type)
{
	for (size_t i = 0; i < s->n_unknown; i++)
		if (s->unknown[i] == type)
			return;
	if (s->n_unknown < UNKNOWN_MAX)
		s->unknown[s->n_unknown++] = type;
}

/* §14: only the first of a repeated attribute counts. */
static void stun_keep(struct stun_val *v, const uint8_t *p, size_t len)
{
	if (!v->p) {
		v->p = p;
		v->len = len;
	}
}

static void stun_note(struct stun_scan *s, uint16_t type, const uint8_t *p,
		      size_t len)
{
	if (type == ATTR_XOR_MAPPED_ADDRESS)
		stun_keep(&s->xor_mapped, p, len);
	else if (type == ATTR_MAPPED_ADDRESS)
		stun_keep(&s->mapped, p, len);
	else if (type == ATTR_CHANGE_REQUEST)
		stun_keep(&s->change, p, len);
	else if (type < ATTR_OPTIONAL && !stun_known(type))
		stun_add_unknown(s, type);
}

/*
 * Walks the attributes of a message whose header is ok.  False when one
 * overruns the message (padding included), or a FINGERPRINT is not
 * 4 bytes, not last, or wrong.  Attributes after MESSAGE-INTEGRITY are
 * skipped, FINGERPRINT excepted (§14.5, §14.6).
 */
static bool stun_scan(struct stun_scan *s, const uint8_t *msg, size_t len)
{
	size_t off = STUN_HDR_LEN, alen;
	bool integrity = false;
	uint16_t type;

	memset(s, 0, sizeof(*s));
	while (off < len) {
		if (len - off < 4)
			return false;
		type = stun_get16(msg + off);
		alen = stun_get16(msg + off + 2);
		if (stun_pad4(alen) > len - off - 4)
			return false;
		if (type == ATTR_FINGERPRINT) {
			if (alen != 4 || off + 8 != len ||
			    stun_get32(msg + off + 4) !=
			    stun_fingerprint(msg, off))
				return false;
			s->fingerprint = true;
		} else if (!integrity) {
			stun_note(s, type, msg + off + 4, alen);
		}
		if (type == ATTR_MESSAGE_INTEGRITY ||
		    type == ATTR_MESSAGE_INTEGRITY_SHA256)
			integrity = true;
		off += 4 + stun_pad4(alen);
	}
	return true;
}

/* An attribute header and vlen zeroed bytes, padded; returns where the
 * value goes, or NULL (o no longer ok) when it does not fit. */
static uint8_t *stun_put_attr(struct stun_out *o, uint16_t type, size_t vlen)
{
	size_t padded = stun_pad4(vlen);
	uint8_t *a;

	if (!o->ok || padded + 4 > o->cap - o->len) {
		o->ok = false;
		return NULL;
	}
	a = o->p + o->len;
	stun_put16(a, type);
	stun_put16(a + 2, (uint16_t)vlen);
	memset(a + 4, 0, padded);
	o->len += 4 + padded;
	return a + 4;
}

/* XOR with the cookie and transaction id, the 16 bytes at offset 4:
 * the port with their first 2, the address with all (§14.2). */
static void stun_xor(uint8_t *v, size_t iplen, const uint8_t id[16])
{
	for (size_t i = 0; i < 2; i++)
		v[2 + i] ^= id[i];
	for (size_t i = 0; i < iplen; i++)
		v[4 + i] ^= id[i];
}

static bool stun_addr_from(struct stun_addr *x, const union wg_sockaddr *a)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *ip6 = a->in6.sin6_addr.s6_addr;

	if (a->sa.sa_family == AF_INET) {
		x->family = FAMILY_IPV4;
		memcpy(x->port, &a->in4.sin_port, 2);
		memcpy(x->ip, &a->in4.sin_addr, 4);
		x->iplen = 4;
	} else if (a->sa.sa_family == AF_INET6) {
		/* A dual-stack socket's IPv4 client still asked over IPv4. */
		bool v4 = !memcmp(ip6, v4mapped, sizeof(v4mapped));

		x->family = v4 ? FAMILY_IPV4 : FAMILY_IPV6;
		memcpy(x->port, &a->in6.sin6_port, 2);
		x->iplen = v4 ? 4 : 16;
		memcpy(x->ip, v4 ? ip6 + 12 : ip6, x->iplen);
	} else {
		return false;
	}
	return true;
}

/* MAPPED-ADDRESS (§14.1) or XOR-MAPPED-ADDRESS (§14.2). */
static void stun_put_address(struct stun_out *o, uint16_t type,
			     const struct stun_addr *x, const uint8_t id[16])
{
	uint8_t *v = stun_put_attr(o, type, 4 + x->iplen);

	if (!v)
		return;
	v[1] = x->family;
	memcpy(v + 2, x->port, 2);
	memcpy(v + 4, x->ip, x->iplen);
	if (type == ATTR_XOR_MAPPED_ADDRESS)
		stun_xor(v, x->iplen, id);
}

static bool stun_get_address(union wg_sockaddr *a, struct stun_val val,
			     const uint8_t id[16], bool xor)
{
	uint8_t v[20];

	if (val.len != 8 && val.len != 20)
		return false;
	memcpy(v, val.p, val.len);
	if (xor)
		stun_xor(v, val.len - 4, id);
	if (v[1] == FAMILY_IPV4 && val.len == 8) {
		memset(a, 0, sizeof(*a));
		a->in4.sin_family = AF_INET;
		memcpy(&a->in4.sin_port, v + 2, 2);
		memcpy(&a->in4.sin_addr, v + 4, 4);
		return true;
	}
	if (v[1] == FAMILY_IPV6 && val.len == 20) {
		memset(a, 0, sizeof(*a));
		a->in6.sin6_family = AF_INET6;
		memcpy(&a->in6.sin6_port, v + 2, 2);
		memcpy(&a->in6.sin6_addr, v + 4, 16);
		return true;
	}
	return false;
}

/* ERROR-CODE 420 (§14.8) and UNKNOWN-ATTRIBUTES (§14.9). */
static void stun_put_unknown(struct stun_out *o, const struct stun_scan *s,
			     bool classic)
{
	size_t rlen = sizeof(stun_reason_420) - 1, n = s->n_unknown;
	size_t m = classic ? (n + 1) & ~(size_t)1 : n;
	uint8_t *v;

	if ((v = stun_put_attr(o, ATTR_ERROR_CODE, 4 + rlen))) {
		v[2] = 4;	/* class */
		v[3] = 20;	/* number */
		memcpy(v + 4, stun_reason_420, rlen);
	}
	if ((v = stun_put_attr(o, ATTR_UNKNOWN_ATTRIBUTES, 2 * m)))
		for (size_t i = 0; i < m; i++)
			stun_put16(v + 2 * i, s->unknown[i < n ? i : n - 1]);
}

static void stun_put_software(struct stun_out *o, const char *sw,
			      bool classic)
{
	size_t n = strnlen(sw, STUN_SOFTWARE_MAX);
	size_t vlen = classic ? stun_pad4(n) : n;
	uint8_t *v;

	if (!n || !(v = stun_put_attr(o, ATTR_SOFTWARE, vlen)))
		return;
	memcpy(v, sw, n);
	memset(v + n, ' ', vlen - n);
}

/* Appends FINGERPRINT if asked and sets the length; 0 if short. */
static size_t stun_finish(struct stun_out *o, bool fingerprint)
{
	uint8_t *v;

	if (fingerprint && o->ok) {
		stun_put16(o->p + 2, (uint16_t)(o->len + 8 - STUN_HDR_LEN));
		if ((v = stun_put_attr(o, ATTR_FINGERPRINT, 4)))
			stun_put32(v, stun_fingerprint(o->p, o->len - 8));
	}
	if (!o->ok)
		return 0;
	stun_put16(o->p + 2, (uint16_t)(o->len - STUN_HDR_LEN));
	return o->len;
}

size_t stun_server_answer(uint8_t *out, size_t cap, const uint8_t *req,
			  size_t len, const union wg_sockaddr *from,
			  const char *software)
{
	struct stun_out o = { out, cap, STUN_HDR_LEN, true };
	struct stun_scan s;
	struct stun_addr x;
	bool classic;

	if (cap < STUN_HDR_LEN || !stun_is_binding_request(req, len) ||
	    !stun_addr_from(&x, from) || !stun_scan(&s, req, len))
		return 0;
	classic = stun_get32(req + 4) != STUN_COOKIE;
	if (s.change.p) {
		if (s.change.len != 4)
			return 0;
		/* RFC 5780 §7.2: no alternate address to answer from. */
		if (stun_get32(s.change.p) & (CHANGE_IP | CHANGE_PORT))
			stun_add_unknown(&s, ATTR_CHANGE_REQUEST);
	}

	stun_put16(out, s.n_unknown ? STUN_BINDING_ERROR :
				      STUN_BINDING_SUCCESS);
	memcpy(out + 4, req + 4, 16);	/* cookie and id, or a classic id */
	if (s.n_unknown) {
		stun_put_unknown(&o, &s, classic);
	} else {
		stun_put_address(&o, ATTR_MAPPED_ADDRESS, &x, req + 4);
		if (!classic)
			stun_put_address(&o, ATTR_XOR_MAPPED_ADDRESS, &x,
					 req + 4);
	}
	if (software)
		stun_put_software(&o, software, classic);
	return stun_finish(&o, s.fingerprint);
}

bool stun_request(uint8_t out[STUN_REQUEST_LEN], uint8_t txid[STUN_TXID_LEN])
{
	struct stun_out o = { out, STUN_REQUEST_LEN, STUN_HDR_LEN, true };

	stun_put16(out, STUN_BINDING_REQUEST);
	stun_put32(out + 4, STUN_COOKIE);
	if (!crypto_random(out + 8, STUN_TXID_LEN))
		return false;
	memcpy(txid, out + 8, STUN_TXID_LEN);
	return stun_finish(&o, true) == STUN_REQUEST_LEN;
}

bool stun_parse_response(const uint8_t *buf, size_t len,
			 const uint8_t txid[STUN_TXID_LEN],
			 union wg_sockaddr *mapped)
{
	struct stun_scan s;

	if (!stun_is(buf, len) || stun_get16(buf) != STUN_BINDING_SUCCESS ||
	    memcmp(buf + 8, txid, STUN_TXID_LEN) || !stun_scan(&s, buf, len) ||
	    s.n_unknown)
		return false;
	if (s.xor_mapped.p)
		return stun_get_address(mapped, s.xor_mapped, buf + 4, true);
	if (s.mapped.p)
		return stun_get_address(mapped, s.mapped, buf + 4, false);
	return false;
}
