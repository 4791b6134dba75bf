/*
 * test_ctl — the control message codec: numbered tables of valid and
 * invalid encodings (one row per error path of ctl_decode), encoder
 * refusals, round trips of every message type, size boundaries (1200-byte
 * messages, maximal strings and arrays, small buffers), and a seeded
 * mutation run that checks decode/encode/decode stability.
 */
#include "check.h"
#include "crypto.h"
#include "ctl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- wire fragments, hex ---------------------------------------------- */

#define K32  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define PUBK "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
#define Z32  "0000000000000000000000000000000000000000000000000000000000000000"
#define Z12  "000000000000000000000000"

/* magic "WFT1", type, flags 0, reserved 0, request id 0x0102030405060708 */
#define HDRF(t, f) "57465431" t f "0000" "0807060504030201"
#define HDR(t) HDRF(t, "00")
#define REGISTER    HDR("01")
#define REGISTER_OK HDR("02")
#define LOOKUP      HDR("03")
#define LOOKUP_OK   HDR("04")
#define NOTIFY      HDR("05")
#define ENDPOINTS   HDR("06")
#define LIST        HDR("07")
#define LIST_OK     HDR("08")
#define LOGOUT      HDR("09")
#define OK          HDR("0a")
#define ERROR       HDR("0b")

/* TLV: type (LE16), length (LE16), value */
#define T_SECRET "0100" "2000" K32
#define T_HOST   "0200" "0500" "726f626f31"			/* robo1 */
#define T_NODE   "0300" "0800" "2a00000000000000"		/* 42 */
#define T_IPV4   "0400" "0500" "64400001" "10"			/* 100.64.0.1/16 */
#define T_IPV6   "0500" "1100" "fd000000000000000000000000000001" "40"
#define T_NAME   "0600" "0f00" "726f626f312e776566742e74657374"	/* robo1.weft.test */
#define T_PUB    "0700" "2000" PUBK
#define T_EP4    "0800" "1300" "04" "c0000201" Z12 "0a1a"	/* 192.0.2.1:6666 */
#define T_EP6    "0800" "1300" "06" "20010db8000000000000000000000001" "0a1a"
#define T_RELAY  "0900" "1300" "04" "c6336401" Z12 "bb01"	/* 198.51.100.1:443 */
#define T_TGT4   "0a00" "0400" "64400002"
#define T_TGT6   "0b00" "1000" "fd000000000000000000000000000002"
#define T_KIND(k) "0c00" "0100" k
#define T_ECODE  "0d00" "0200" "0500"
#define T_EMSG   "0e00" "0900" "6e6f7420666f756e64"		/* not found */
#define T_CURSOR "0f00" "0800" "0700000000000000"
#define T_TAG    "1000" "0500" "726f626f74"			/* robot */
#define PEER_FIX "2b00000000000000" PUBK "64400002" "fd000000000000000000000000000002"
#define T_PEER   "1100" "4100" PEER_FIX "726f626f32"		/* robo2 */
#define T_STUN   "1200" "1300" "04" "c6336401" Z12 "960d"	/* 198.51.100.1:3478 */
#define T_OPT    "0080" "0300" "aabbcc"
#define T_OPTMAX "ffff" "0000"

/* runs of 'a' */
#define A1   "61"
#define A4   A1 A1 A1 A1
#define A8   A4 A4
#define A16  A8 A8
#define A64  A16 A16 A16 A16
#define A63  A16 A16 A16 A8 A4 A1 A1 A1
#define A200 A64 A64 A64 A8
#define A201 A200 A1
#define A253 A64 A64 A64 A16 A16 A16 A8 A4 A1
#define A254 A253 A1
#define K31  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e"
#define V6   "fd000000000000000000000000000001"

#define REG_BODY  T_SECRET T_HOST
#define PEER_BODY T_NODE T_IPV4 T_IPV6 T_NAME
#define LOOK_BODY T_NODE T_IPV4 T_IPV6 T_NAME T_PUB

static size_t test_unhex(uint8_t *out, size_t max, const char *hex)
{
	size_t n = check_hex(out, max, hex);

	if (n * 2 != strlen(hex)) {
		fprintf(stderr, "bad hex in test table: %s\n", hex);
		exit(2);
	}
	return n;
}

/* ---- valid encodings -------------------------------------------------- */

static const struct {
	const char *hex;
	bool canonical;		/* ctl_encode writes exactly these bytes */
} test_valid[] = {
	/*  1 */ { REGISTER REG_BODY, true },
	/*  2 */ { REGISTER REG_BODY T_EP4 T_EP6, true },
	/*  3 */ { REGISTER T_HOST T_SECRET, false },		/* any order */
	/*  4 */ { REGISTER T_EP6 T_SECRET T_EP4 T_HOST, false },
	/*  5 */ { REGISTER REG_BODY T_OPT, false },		/* optional skipped */
	/*  6 */ { REGISTER T_OPTMAX REG_BODY T_OPT, false },
	/*  7 */ { REGISTER_OK PEER_BODY, true },
	/*  8 */ { REGISTER_OK PEER_BODY T_RELAY T_TAG T_TAG, true },
	/*  9 */ { LOOKUP T_TGT4, true },
	/* 10 */ { LOOKUP T_TGT6, true },
	/* 11 */ { LOOKUP T_NAME, true },
	/* 12 */ { LOOKUP_OK LOOK_BODY, true },
	/* 13 */ { LOOKUP_OK LOOK_BODY T_EP4 T_EP6 T_RELAY T_TAG, true },
	/* 14 */ { NOTIFY T_NODE T_PUB T_KIND("03"), true },
	/* 15 */ { NOTIFY LOOK_BODY T_KIND("01"), true },
	/* 16 */ { NOTIFY LOOK_BODY T_EP4 T_RELAY T_KIND("02"), true },
	/* 17 */ { ENDPOINTS T_EP4, true },
	/* 18 */ { ENDPOINTS T_EP4 T_EP6 T_EP4, true },		/* repeats kept */
	/* 19 */ { LIST "0f00" "0800" "0000000000000000", true },
	/* 20 */ { LIST T_CURSOR, true },
	/* 21 */ { LIST_OK T_CURSOR, true },
	/* 22 */ { LIST_OK T_CURSOR T_PEER T_PEER, true },
	/* 23 */ { LOGOUT, true },
	/* 24 */ { OK, true },
	/* 25 */ { OK T_OPT, false },
	/* 26 */ { ERROR T_ECODE, true },
	/* 27 */ { ERROR T_ECODE T_EMSG, true },
	/* 28 */ { ERROR "0d00" "0200" "ffff", true },		/* unknown code ok */
	/* 29 */ { REGISTER T_SECRET "0200" "0200" "c3a9", true },	/* UTF-8 "é" */
	/* 30 */ { REGISTER "0100" "2000" Z32 T_HOST, true },	/* zero secret ok */
	/* 31 */ { REGISTER_OK T_NODE "0400" "0500" "00000000" "00"
		   "0500" "1100" "ffffffffffffffffffffffffffffffff" "80" T_NAME, true },
	/* 32 */ { "57465431" "0a" "00" "0000" "ffffffffffffffff", true },
	/* 33 */ { REGISTER T_SECRET "0200" "3f00" A63, true },	/* longest hostname */
	/* 34 */ { LOOKUP "0600" "fd00" A253, true },		/* longest name */
	/* 35 */ { ERROR T_ECODE "0e00" "c800" A200, true },	/* longest message */
	/* 36 */ { LIST_OK T_CURSOR "1100" "7b00" PEER_FIX A63, true },
	/* 37 */ { REGISTER_OK PEER_BODY "1000" "3f00" A63, true },
	/* 38 */ { LOOKUP T_PUB, true },			/* who is this key? */
	/* 39 */ { REGISTER_OK PEER_BODY T_RELAY T_STUN T_STUN, true },
};

/* ---- invalid encodings: one row per way ctl_decode says no ------------- */

static const struct {
	const char *hex;
	int err;
} test_invalid[] = {
	/* header */
	/*  1 */ { "", -EBADMSG },
	/*  2 */ { "57465431" "0a" "00" "0000" "08070605040302", -EBADMSG },	/* 15 bytes */
	/*  3 */ { "57465432" "0a" "00" "0000" "0807060504030201", -EBADMSG },
	/*  4 */ { "77465431" "0a" "00" "0000" "0807060504030201", -EBADMSG },
	/*  5 */ { "57465431" "0a" "00" "0100" "0807060504030201", -EBADMSG },
	/*  6 */ { "57465431" "0a" "00" "0001" "0807060504030201", -EBADMSG },
	/*  7 */ { HDR("00"), -EPROTO },
	/*  8 */ { HDR("0c"), -EPROTO },
	/*  9 */ { HDR("ff"), -EPROTO },
	/* 10 */ { HDRF("0a", "01"), -EPROTO },
	/* 11 */ { HDRF("0a", "80"), -EPROTO },
	/* TLV framing */
	/* 12 */ { OK "00", -EBADMSG },
	/* 13 */ { OK "000000", -EBADMSG },
	/* 14 */ { OK "0080" "0100", -EBADMSG },		/* optional, truncated */
	/* 15 */ { REGISTER "0100" "2100" K32, -EBADMSG },	/* runs past the end */
	/* 16 */ { OK "0000" "0000", -EBADMSG },		/* type 0 */
	/* 17 */ { OK "1200" "0000", -EPROTO },		/* unknown critical */
	/* 18 */ { OK "ff7f" "0000", -EPROTO },
	/* 19 */ { OK T_NODE, -EPROTO },			/* not carried by OK */
	/* 20 */ { REGISTER REG_BODY T_NODE, -EPROTO },
	/* 21 */ { LOOKUP T_TGT4 T_PUB, -EPROTO },
	/* 22 */ { REGISTER REG_BODY T_HOST, -EPROTO },	/* duplicates */
	/* 23 */ { REGISTER T_SECRET T_SECRET T_HOST, -EPROTO },
	/* 24 */ { LOOKUP T_TGT4 T_TGT4, -EPROTO },
	/* values */
	/* 25 */ { REGISTER "0100" "1f00" K31 T_HOST, -EBADMSG },
	/* 26 */ { REGISTER "0100" "2100" K32 "20" T_HOST, -EBADMSG },
	/* 27 */ { REGISTER T_SECRET "0200" "0000", -EBADMSG },
	/* 28 */ { REGISTER T_SECRET "0200" "4000" A64, -EBADMSG },
	/* 29 */ { REGISTER T_SECRET "0200" "0300" "610062", -EBADMSG },
	/* 30 */ { REGISTER T_SECRET "0200" "0300" "611f62", -EBADMSG },
	/* 31 */ { REGISTER T_SECRET "0200" "0300" "617f62", -EBADMSG },
	/* 32 */ { REGISTER T_SECRET "0200" "0100" "0a", -EBADMSG },
	/* 33 */ { REGISTER_OK "0300" "0800" "0000000000000000" T_IPV4 T_IPV6 T_NAME, -EBADMSG },
	/* 34 */ { REGISTER_OK "0300" "0400" "2a000000" T_IPV4 T_IPV6 T_NAME, -EBADMSG },
	/* 35 */ { REGISTER_OK T_NODE "0400" "0500" "64400001" "21" T_IPV6 T_NAME, -EBADMSG },
	/* 36 */ { REGISTER_OK T_NODE "0400" "0400" "64400001" T_IPV6 T_NAME, -EBADMSG },
	/* 37 */ { REGISTER_OK T_NODE T_IPV4 "0500" "1100" V6 "81" T_NAME, -EBADMSG },
	/* 38 */ { REGISTER_OK T_NODE T_IPV4 "0500" "1000" V6 T_NAME, -EBADMSG },
	/* 39 */ { REGISTER_OK T_NODE T_IPV4 T_IPV6 "0600" "0000", -EBADMSG },
	/* 40 */ { REGISTER_OK T_NODE T_IPV4 T_IPV6 "0600" "fe00" A254, -EBADMSG },
	/* 41 */ { LOOKUP_OK PEER_BODY "0700" "2000" Z32, -EBADMSG },
	/* 42 */ { LOOKUP_OK PEER_BODY "0700" "1f00" K31, -EBADMSG },
	/* 43 */ { ENDPOINTS "0800" "1300" "05" "c0000201" Z12 "0a1a", -EBADMSG },
	/* 44 */ { ENDPOINTS "0800" "1300" "00" "c0000201" Z12 "0a1a", -EBADMSG },
	/* 45 */ { ENDPOINTS "0800" "1300" "04" "c0000201" "000000000000000000000001" "0a1a", -EBADMSG },
	/* 46 */ { ENDPOINTS "0800" "1300" "04" "c0000201" Z12 "0000", -EBADMSG },
	/* 47 */ { ENDPOINTS "0800" "1200" "04" "c0000201" Z12 "0a", -EBADMSG },
	/* 48 */ { REGISTER_OK PEER_BODY "0900" "1300" "06" V6 "0000", -EBADMSG },
	/* 49 */ { LOOKUP "0a00" "1000" V6, -EBADMSG },
	/* 50 */ { LOOKUP "0b00" "0400" "64400002", -EBADMSG },
	/* 51 */ { NOTIFY T_NODE T_PUB T_KIND("00"), -EBADMSG },
	/* 52 */ { NOTIFY T_NODE T_PUB T_KIND("04"), -EBADMSG },
	/* 53 */ { NOTIFY T_NODE T_PUB "0c00" "0200" "0300", -EBADMSG },
	/* 54 */ { ERROR "0d00" "0200" "0000", -EBADMSG },
	/* 55 */ { ERROR "0d00" "0100" "05", -EBADMSG },
	/* 56 */ { ERROR T_ECODE "0e00" "0000", -EBADMSG },
	/* 57 */ { ERROR T_ECODE "0e00" "c900" A201, -EBADMSG },
	/* 58 */ { LIST "0f00" "0400" "07000000", -EBADMSG },
	/* 59 */ { REGISTER_OK PEER_BODY "1000" "0000", -EBADMSG },
	/* 60 */ { REGISTER_OK PEER_BODY "1000" "4000" A64, -EBADMSG },
	/* 61 */ { LIST_OK T_CURSOR "1100" "3c00" PEER_FIX, -EBADMSG },
	/* 62 */ { LIST_OK T_CURSOR "1100" "7c00" PEER_FIX A64, -EBADMSG },
	/* 63 */ { LIST_OK T_CURSOR "1100" "4100" "0000000000000000" PUBK "64400002" V6 A4 A1, -EBADMSG },
	/* 64 */ { LIST_OK T_CURSOR "1100" "4100" "2b00000000000000" Z32 "64400002" V6 A4 A1, -EBADMSG },
	/* 65 */ { LIST_OK T_CURSOR "1100" "4100" PEER_FIX "726f00626f", -EBADMSG },
	/* required and exclusive */
	/* 66 */ { REGISTER T_SECRET, -EPROTO },
	/* 67 */ { REGISTER T_HOST, -EPROTO },
	/* 68 */ { REGISTER_OK T_NODE T_IPV4 T_IPV6, -EPROTO },
	/* 69 */ { LOOKUP, -EPROTO },
	/* 70 */ { LOOKUP T_TGT4 T_TGT6, -EPROTO },
	/* 71 */ { LOOKUP T_TGT6 T_NAME, -EPROTO },
	/* 72 */ { LOOKUP_OK PEER_BODY, -EPROTO },
	/* 73 */ { NOTIFY T_NODE T_PUB, -EPROTO },
	/* 74 */ { NOTIFY T_NODE T_PUB T_KIND("03") T_IPV4, -EPROTO },
	/* 75 */ { NOTIFY T_NODE T_PUB T_KIND("03") T_EP4, -EPROTO },
	/* 76 */ { NOTIFY T_NODE T_PUB T_IPV4 T_IPV6 T_KIND("01"), -EPROTO },
	/* 77 */ { NOTIFY T_NODE T_PUB T_KIND("02"), -EPROTO },
	/* 78 */ { ENDPOINTS, -EPROTO },
	/* 79 */ { LIST, -EPROTO },
	/* 80 */ { LIST_OK T_PEER, -EPROTO },
	/* 81 */ { ERROR, -EPROTO },
	/* 82 */ { ERROR T_EMSG, -EPROTO },
	/* 83 */ { NOTIFY T_KIND("01") LOOK_BODY T_TAG, -EPROTO },
	/* 84 */ { LOGOUT T_SECRET, -EPROTO },
	/* 85 */ { NOTIFY T_NODE T_KIND("03"), -EPROTO },
	/* 86 */ { LOOKUP_OK LOOK_BODY T_STUN, -EPROTO },	/* STUN only at join */
	/* 87 */ { REGISTER_OK PEER_BODY "1200" "1300" "05" "c6336401" Z12 "960d", -EBADMSG },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* decode -> encode -> decode gives the same struct (and, when the input
 * was canonical, the same bytes). */
static bool test_round_trip(const uint8_t *in, size_t len, bool canonical)
{
	static struct ctl_msg a, b;
	uint8_t out[CTL_MAX_MSG];
	int n;

	if (ctl_decode(in, len, &a) != 0)
		return false;
	n = ctl_encode(&a, out, sizeof(out));
	if (n < CTL_HEADER_LEN || ctl_decode(out, (size_t)n, &b) != 0)
		return false;
	if (memcmp(&a, &b, sizeof(a)) != 0)
		return false;
	return !canonical || ((size_t)n == len && memcmp(out, in, len) == 0);
}

static void test_valid_table(void)
{
	uint8_t buf[CTL_MAX_MSG];
	struct ctl_msg m;
	size_t i, len;
	int r;

	for (i = 0; i < N(test_valid); i++) {
		len = test_unhex(buf, sizeof(buf), test_valid[i].hex);
		r = ctl_decode(buf, len, &m);
		CHECK(r == 0, "valid %zu decodes (%d)", i + 1, r);
		CHECK(test_round_trip(buf, len, test_valid[i].canonical),
		      "valid %zu round trips%s", i + 1,
		      test_valid[i].canonical ? " byte for byte" : "");
	}
}

static void test_invalid_table(void)
{
	uint8_t buf[CTL_MAX_MSG];
	struct ctl_msg m;
	size_t i, len;
	int r;

	for (i = 0; i < N(test_invalid); i++) {
		len = test_unhex(buf, sizeof(buf), test_invalid[i].hex);
		memset(&m, 0xa5, sizeof(m));
		r = ctl_decode(buf, len, &m);
		CHECK(r == test_invalid[i].err && crypto_is_zero(&m, sizeof(m)),
		      "invalid %zu: %d (want %d), struct zeroed", i + 1, r,
		      test_invalid[i].err);
	}
}

/* ---- field values ----------------------------------------------------- */

static void test_fields(void)
{
	uint8_t buf[CTL_MAX_MSG], secret[32], pub[32];
	struct ctl_msg m;
	size_t len;

	test_unhex(secret, 32, K32);
	test_unhex(pub, 32, PUBK);
	len = test_unhex(buf, sizeof(buf), REGISTER REG_BODY T_EP4 T_EP6);
	CHECK(ctl_decode(buf, len, &m) == 0 && m.type == CTL_REGISTER &&
	      m.request_id == 0x0102030405060708ULL && m.flags == 0,
	      "REGISTER header fields");
	CHECK(memcmp(m.join_secret, secret, 32) == 0 &&
	      strcmp(m.hostname, "robo1") == 0 && m.n_endpoints == 2 &&
	      m.present == (CTL_HAS(CTL_T_JOIN_SECRET) | CTL_HAS(CTL_T_HOSTNAME)),
	      "REGISTER secret, hostname, presence");
	CHECK(m.endpoints[0].family == CTL_FAMILY_IPV4 && m.endpoints[0].port == 6666 &&
	      memcmp(m.endpoints[0].addr, "\xc0\x00\x02\x01", 4) == 0 &&
	      m.endpoints[1].family == CTL_FAMILY_IPV6 &&
	      memcmp(m.endpoints[1].addr, "\x20\x01\x0d\xb8", 4) == 0,
	      "REGISTER endpoints: 192.0.2.1:6666, [2001:db8::1]:6666");
	ctl_msg_wipe(&m);
	CHECK(crypto_is_zero(&m, sizeof(m)), "ctl_msg_wipe zeroes the secret");

	len = test_unhex(buf, sizeof(buf), REGISTER_OK PEER_BODY T_RELAY T_TAG);
	CHECK(ctl_decode(buf, len, &m) == 0 && m.node_id == 42 &&
	      memcmp(m.ipv4.addr, "\x64\x40\x00\x01", 4) == 0 && m.ipv4.len == 16 &&
	      m.ipv6.addr[0] == 0xfd && m.ipv6.addr[15] == 1 && m.ipv6.len == 64 &&
	      strcmp(m.name, "robo1.weft.test") == 0 && m.n_relays == 1 &&
	      m.relays[0].port == 443 && m.n_tags == 1 && strcmp(m.tags[0], "robot") == 0,
	      "REGISTER_OK node id, prefixes, FQDN, relay, tag");

	len = test_unhex(buf, sizeof(buf), LIST_OK T_CURSOR T_PEER);
	CHECK(ctl_decode(buf, len, &m) == 0 && m.cursor == 7 && m.n_peers == 1 &&
	      m.peers[0].node_id == 43 && memcmp(m.peers[0].public_key, pub, 32) == 0 &&
	      m.peers[0].ipv4[3] == 2 && m.peers[0].ipv6[15] == 2 &&
	      strcmp(m.peers[0].name, "robo2") == 0,
	      "LIST_OK cursor and peer entry");

	len = test_unhex(buf, sizeof(buf), ERROR T_ECODE T_EMSG);
	CHECK(ctl_decode(buf, len, &m) == 0 && m.error_code == CTL_ERR_NOT_FOUND &&
	      strcmp(m.error_msg, "not found") == 0, "ERROR code and message");

	len = test_unhex(buf, sizeof(buf), NOTIFY T_NODE T_PUB T_KIND("03"));
	CHECK(ctl_decode(buf, len, &m) == 0 &&
	      m.notify_kind == CTL_NOTIFY_PEER_REMOVED, "NOTIFY kind");

	/* a secret decoded before a later TLV fails is not left behind */
	len = test_unhex(buf, sizeof(buf), REGISTER T_SECRET "0200" "0100" "0a");
	memset(&m, 0, sizeof(m));
	CHECK(ctl_decode(buf, len, &m) == -EBADMSG && crypto_is_zero(&m, sizeof(m)),
	      "failed decode leaves no secret");
}

/* ---- building messages ------------------------------------------------ */

static void test_endpoint(struct ctl_endpoint *e, unsigned i)
{
	memset(e, 0, sizeof(*e));
	e->family = (i & 1) ? CTL_FAMILY_IPV6 : CTL_FAMILY_IPV4;
	e->addr[0] = (i & 1) ? 0x20 : 192;
	e->addr[3] = (uint8_t)(i + 1);
	e->port = (uint16_t)(1000 + i);
}

static void test_peer_info(struct ctl_msg *m)
{
	m->present |= CTL_HAS(CTL_T_NODE_ID) | CTL_HAS(CTL_T_IPV4) |
		      CTL_HAS(CTL_T_IPV6) | CTL_HAS(CTL_T_NAME);
	m->node_id = 0x1122334455667788ULL;
	memcpy(m->ipv4.addr, "\x64\x40\x00\x09", 4);
	m->ipv4.len = 16;
	m->ipv6.addr[0] = 0xfd;
	m->ipv6.addr[15] = 9;
	m->ipv6.len = 64;
	strcpy(m->name, "node9.team.weft");
}

static void test_add_endpoints(struct ctl_msg *m, unsigned n)
{
	for (m->n_endpoints = 0; m->n_endpoints < n; m->n_endpoints++)
		test_endpoint(&m->endpoints[m->n_endpoints], m->n_endpoints);
}

static void test_add_relays(struct ctl_msg *m, unsigned n)
{
	for (m->n_relays = 0; m->n_relays < n; m->n_relays++)
		test_endpoint(&m->relays[m->n_relays], m->n_relays + 7);
}

static void test_add_tags(struct ctl_msg *m, unsigned n)
{
	for (m->n_tags = 0; m->n_tags < n; m->n_tags++)
		snprintf(m->tags[m->n_tags], sizeof(m->tags[0]), "tag%u", m->n_tags);
}

static void test_add_peers(struct ctl_msg *m, unsigned n, size_t namelen)
{
	struct ctl_peer *p;

	for (m->n_peers = 0; m->n_peers < n; m->n_peers++) {
		p = &m->peers[m->n_peers];
		p->node_id = m->n_peers + 1;
		memset(p->public_key, m->n_peers + 1, 32);
		p->ipv4[3] = (uint8_t)m->n_peers;
		p->ipv6[15] = (uint8_t)m->n_peers;
		memset(p->name, 'p', namelen);
		p->name[namelen] = '\0';
	}
}

/* A full message of the given type: every TLV it may carry. */
static void test_build(struct ctl_msg *m, enum ctl_type type)
{
	ctl_msg_init(m, type, 0xfedcba9876543210ULL);
	switch (type) {
	case CTL_REGISTER:
		m->present = CTL_HAS(CTL_T_JOIN_SECRET) | CTL_HAS(CTL_T_HOSTNAME);
		memset(m->join_secret, 0x5a, 32);
		strcpy(m->hostname, "robot-arm 3");
		test_add_endpoints(m, CTL_MAX_ENDPOINTS);
		break;
	case CTL_REGISTER_OK:
		test_peer_info(m);
		test_add_tags(m, 3);
		test_add_relays(m, 2);
		break;
	case CTL_LOOKUP:
		m->present = CTL_HAS(CTL_T_TARGET_IPV6);
		m->target_ipv6[0] = 0xfd;
		m->target_ipv6[15] = 7;
		break;
	case CTL_LOOKUP_OK:
		test_peer_info(m);
		m->present |= CTL_HAS(CTL_T_PUBLIC_KEY);
		memset(m->public_key, 0x77, 32);
		test_add_endpoints(m, 4);
		test_add_relays(m, 2);
		test_add_tags(m, 2);
		break;
	case CTL_NOTIFY:
		test_peer_info(m);
		m->present |= CTL_HAS(CTL_T_PUBLIC_KEY) | CTL_HAS(CTL_T_NOTIFY_KIND);
		memset(m->public_key, 0x78, 32);
		m->notify_kind = CTL_NOTIFY_PEER_WANTS_CONNECT;
		test_add_endpoints(m, 3);
		test_add_relays(m, 1);
		break;
	case CTL_ENDPOINTS:
		test_add_endpoints(m, 5);
		break;
	case CTL_LIST:
		m->present = CTL_HAS(CTL_T_CURSOR);
		m->cursor = UINT64_MAX;
		break;
	case CTL_LIST_OK:
		m->present = CTL_HAS(CTL_T_CURSOR);
		m->cursor = 17;
		test_add_peers(m, 8, 20);
		break;
	case CTL_LOGOUT:
	case CTL_OK:
		break;
	case CTL_ERROR:
		m->present = CTL_HAS(CTL_T_ERROR_CODE) | CTL_HAS(CTL_T_ERROR_MSG);
		m->error_code = CTL_ERR_DENIED;
		strcpy(m->error_msg, "policy denies robot -> laptop");
		break;
	}
}

static void test_round_trips(void)
{
	static struct ctl_msg m, d;
	uint8_t buf[CTL_MAX_MSG], again[CTL_MAX_MSG];
	unsigned t;
	int n, n2;

	for (t = 1; t <= CTL_TYPE_MAX; t++) {
		test_build(&m, (enum ctl_type)t);
		n = ctl_encode(&m, buf, sizeof(buf));
		CHECK(n >= CTL_HEADER_LEN && ctl_decode(buf, (size_t)n, &d) == 0 &&
		      memcmp(&m, &d, sizeof(m)) == 0,
		      "%s round trips (%d bytes)", ctl_type_name(t), n);
		n2 = ctl_encode(&d, again, sizeof(again));
		CHECK(n2 == n && memcmp(buf, again, (size_t)n) == 0,
		      "%s re-encodes to the same bytes", ctl_type_name(t));
	}
	/* the other lookup targets and notify kinds */
	ctl_msg_init(&m, CTL_LOOKUP, 2);
	m.present = CTL_HAS(CTL_T_TARGET_IPV4);
	memcpy(m.target_ipv4, "\x64\x40\x00\x07", 4);
	n = ctl_encode(&m, buf, sizeof(buf));
	CHECK(n == 24 && ctl_decode(buf, 24, &d) == 0 && memcmp(&m, &d, sizeof(m)) == 0,
	      "LOOKUP by IPv4 round trips");
	ctl_msg_init(&m, CTL_LOOKUP, 3);
	m.present = CTL_HAS(CTL_T_NAME);
	strcpy(m.name, "laptop");
	n = ctl_encode(&m, buf, sizeof(buf));
	CHECK(n == 26 && ctl_decode(buf, 26, &d) == 0 && memcmp(&m, &d, sizeof(m)) == 0,
	      "LOOKUP by name round trips");
	ctl_msg_init(&m, CTL_NOTIFY, 1);
	m.present = CTL_HAS(CTL_T_NODE_ID) | CTL_HAS(CTL_T_PUBLIC_KEY) |
		    CTL_HAS(CTL_T_NOTIFY_KIND);
	m.node_id = 5;
	m.public_key[31] = 1;
	m.notify_kind = CTL_NOTIFY_PEER_REMOVED;
	n = ctl_encode(&m, buf, sizeof(buf));
	CHECK(n == 16 + 12 + 36 + 5 && ctl_decode(buf, (size_t)n, &d) == 0 &&
	      memcmp(&m, &d, sizeof(m)) == 0, "NOTIFY peer_removed round trips");
	ctl_msg_init(&m, CTL_OK, 0);
	n = ctl_encode(&m, buf, sizeof(buf));
	CHECK(n == 16 && memcmp(buf, "WFT1\x0a\0\0\0\0\0\0\0\0\0\0\0", 16) == 0,
	      "OK is the bare 16-byte header");
}

/* ---- encoder refusals ------------------------------------------------- */

static void test_encode_invalid(void)
{
	static struct ctl_msg m;
	uint8_t buf[CTL_MAX_MSG];
	int i;

	/* each case breaks one rule of a valid message */
	for (i = 1; i <= 27; i++) {
		test_build(&m, i <= 20 ? CTL_REGISTER_OK : CTL_NOTIFY);
		switch (i) {
		case 1: m.type = 0; break;
		case 2: m.type = CTL_TYPE_MAX + 1; break;
		case 3: m.flags = 1; break;
		case 4: m.present |= CTL_HAS(CTL_T_TAG); break;
		case 5: m.present |= 1u; break;
		case 6: m.present |= CTL_HAS(CTL_T_MAX + 1); break;
		case 7: m.n_tags = CTL_MAX_TAGS + 1; break;
		case 8: m.present &= ~CTL_HAS(CTL_T_NAME); break;
		case 9: memset(m.name, 'a', sizeof(m.name)); break;	/* no NUL */
		case 10: m.name[0] = '\0'; break;
		case 11: strcpy(m.name, "a\nb"); break;
		case 12: m.node_id = 0; break;
		case 13: m.ipv4.len = 33; break;
		case 14: m.ipv6.len = 129; break;
		case 15: m.relays[1].port = 0; break;
		case 16: m.relays[0].family = 5; break;
		case 17: m.relays[1].addr[15] = 1; break;		/* IPv4 padding */
		case 18: m.tags[2][0] = '\0'; break;
		case 19: m.present |= CTL_HAS(CTL_T_PUBLIC_KEY); break;	/* not carried */
		case 20: m.n_relays = CTL_MAX_RELAYS + 1; break;
		case 21: memset(m.public_key, 0, 32); break;
		case 22: m.notify_kind = 0; break;
		case 23: m.notify_kind = 4; break;
		case 24: m.notify_kind = CTL_NOTIFY_PEER_REMOVED; break;	/* with extras */
		case 25: m.present &= ~CTL_HAS(CTL_T_IPV6); break;
		case 26: m.n_endpoints = CTL_MAX_ENDPOINTS + 1; break;
		case 27: m.present |= CTL_HAS(CTL_T_TARGET_IPV4); break;
		}
		CHECK(ctl_encode(&m, buf, sizeof(buf)) == -EINVAL,
		      "encode refuses broken message %d", i);
	}
	test_build(&m, CTL_LOOKUP);
	m.present |= CTL_HAS(CTL_T_NAME);
	strcpy(m.name, "x");
	CHECK(ctl_encode(&m, buf, sizeof(buf)) == -EINVAL, "encode refuses two lookup targets");
	test_build(&m, CTL_LIST_OK);
	m.peers[3].name[0] = '\0';
	CHECK(ctl_encode(&m, buf, sizeof(buf)) == -EINVAL, "encode refuses a nameless peer");
	test_build(&m, CTL_LIST_OK);
	memset(m.peers[2].public_key, 0, 32);
	CHECK(ctl_encode(&m, buf, sizeof(buf)) == -EINVAL, "encode refuses a peer with zero key");
	test_build(&m, CTL_ERROR);
	m.error_code = 0;
	CHECK(ctl_encode(&m, buf, sizeof(buf)) == -EINVAL, "encode refuses error code 0");
	test_build(&m, CTL_ENDPOINTS);
	m.n_endpoints = 0;
	CHECK(ctl_encode(&m, buf, sizeof(buf)) == -EINVAL, "encode refuses ENDPOINTS without any");
}

/* ---- sizes ------------------------------------------------------------ */

/* An OK padded with one optional TLV to total bytes. */
static size_t test_padded_ok(uint8_t *buf, size_t total)
{
	size_t v = total - CTL_HEADER_LEN - CTL_TLV_HEADER_LEN;

	test_unhex(buf, CTL_HEADER_LEN, OK);
	buf[16] = 0x34;
	buf[17] = 0x92;		/* type 0x9234, optional */
	buf[18] = (uint8_t)v;
	buf[19] = (uint8_t)(v >> 8);
	memset(buf + 20, 0xee, v);
	return total;
}

/* Many copies of one TLV after a header. */
static size_t test_repeated(uint8_t *buf, size_t cap, const char *head,
			    const char *tlv, unsigned copies)
{
	uint8_t one[CTL_MAX_MSG];
	size_t n = test_unhex(buf, cap, head), k = test_unhex(one, sizeof(one), tlv);
	unsigned i;

	for (i = 0; i < copies; i++, n += k)
		memcpy(buf + n, one, k);
	return n;
}

static void test_sizes(void)
{
	static uint8_t buf[CTL_MAX_MSG + 64];
	static struct ctl_msg m, d;
	size_t len;
	int n;

	len = test_padded_ok(buf, CTL_MAX_MSG);
	CHECK(ctl_decode(buf, len, &m) == 0 && m.type == CTL_OK, "1200-byte message decodes");
	len = test_padded_ok(buf, CTL_MAX_MSG + 1);
	CHECK(ctl_decode(buf, len, &m) == -EMSGSIZE, "1201-byte message is -EMSGSIZE");
	CHECK(ctl_decode(buf, CTL_MAX_MSG - 1, &m) == -EBADMSG,
	      "optional TLV cut short by one byte is -EBADMSG");

	len = test_repeated(buf, sizeof(buf), ENDPOINTS, T_EP4, CTL_MAX_ENDPOINTS);
	CHECK(ctl_decode(buf, len, &m) == 0 && m.n_endpoints == CTL_MAX_ENDPOINTS,
	      "16 endpoints decode");
	len = test_repeated(buf, sizeof(buf), ENDPOINTS, T_EP4, CTL_MAX_ENDPOINTS + 1);
	CHECK(ctl_decode(buf, len, &m) == -EPROTO, "17 endpoints are -EPROTO");
	len = test_repeated(buf, sizeof(buf), REGISTER_OK PEER_BODY, T_RELAY, CTL_MAX_RELAYS + 1);
	CHECK(ctl_decode(buf, len, &m) == -EPROTO, "17 relays are -EPROTO");
	len = test_repeated(buf, sizeof(buf), REGISTER_OK PEER_BODY, T_TAG, CTL_MAX_TAGS);
	CHECK(ctl_decode(buf, len, &m) == 0 && m.n_tags == CTL_MAX_TAGS, "16 tags decode");
	len = test_repeated(buf, sizeof(buf), REGISTER_OK PEER_BODY, T_TAG, CTL_MAX_TAGS + 1);
	CHECK(ctl_decode(buf, len, &m) == -EPROTO, "17 tags are -EPROTO");
	len = test_repeated(buf, sizeof(buf), LIST_OK T_CURSOR, T_PEER, CTL_MAX_PEERS);
	CHECK(ctl_decode(buf, len, &m) == 0 && m.n_peers == CTL_MAX_PEERS, "16 peers decode");
	len = test_repeated(buf, sizeof(buf), LIST_OK T_CURSOR,
			    "1100" "3d00" PEER_FIX A1, CTL_MAX_PEERS + 1);
	CHECK(len <= CTL_MAX_MSG && ctl_decode(buf, len, &m) == -EPROTO,
	      "17 peers are -EPROTO");

	/* LIST_OK pages: nine entries with 63-character names fit, ten do not */
	ctl_msg_init(&m, CTL_LIST_OK, 1);
	m.present = CTL_HAS(CTL_T_CURSOR);
	test_add_peers(&m, 9, CTL_PEER_NAME_MAX);
	n = ctl_encode(&m, buf, CTL_MAX_MSG);
	CHECK(n == 16 + 12 + 9 * (4 + 60 + 63) && ctl_decode(buf, (size_t)n, &d) == 0 &&
	      memcmp(&m, &d, sizeof(m)) == 0, "LIST_OK with 9 long names: %d bytes", n);
	test_add_peers(&m, 10, CTL_PEER_NAME_MAX);
	CHECK(ctl_encode(&m, buf, sizeof(buf)) == -EMSGSIZE, "10 long names are -EMSGSIZE");
	CHECK(ctl_encode(&m, NULL, 0) == -EMSGSIZE, "-EMSGSIZE wins over a small buffer");

	/* the largest LOOKUP_OK that fits, and one tag more */
	test_build(&m, CTL_LOOKUP_OK);
	memset(m.name, 'n', CTL_NAME_MAX);
	m.name[CTL_NAME_MAX] = '\0';
	test_add_endpoints(&m, CTL_MAX_ENDPOINTS);
	test_add_relays(&m, CTL_MAX_RELAYS);
	m.n_tags = 0;
	memset(m.tags, 0, sizeof(m.tags));
	n = ctl_encode(&m, buf, sizeof(buf));
	CHECK(n == 16 + 12 + 9 + 21 + 257 + 36 + 32 * 23 && ctl_decode(buf, (size_t)n, &d) == 0 &&
	      memcmp(&m, &d, sizeof(m)) == 0, "LOOKUP_OK, 253-char name, 16+16 endpoints: %d", n);
	test_add_tags(&m, 16);
	CHECK(ctl_encode(&m, buf, sizeof(buf)) == -EMSGSIZE, "and 16 tags more is -EMSGSIZE");

	/* the caller's buffer */
	test_build(&m, CTL_REGISTER);
	n = ctl_encode(&m, buf, sizeof(buf));
	CHECK(n > 0 && ctl_encode(&m, buf, (size_t)n) == n, "encode into exactly n bytes");
	memset(buf, 0xcc, sizeof(buf));
	CHECK(ctl_encode(&m, buf, (size_t)n - 1) == -ENOBUFS &&
	      crypto_is_zero(buf, (size_t)n - 1) && buf[n - 1] == 0xcc,
	      "n - 1 bytes: -ENOBUFS, what was written is wiped, nothing past cap");
	CHECK(ctl_encode(&m, NULL, 0) == -ENOBUFS, "NULL buffer: -ENOBUFS");
	CHECK(ctl_encode(&m, buf, 15) == -ENOBUFS, "no room for the header: -ENOBUFS");
}

/* ---- peek, names -------------------------------------------------------- */

static void test_peek(void)
{
	uint8_t buf[64], type = 0;
	uint64_t id = 0;
	size_t len;

	len = test_unhex(buf, sizeof(buf), HDRF("63", "07") "0000");
	CHECK(ctl_peek(buf, len, &type, &id) == 0 && type == 0x63 &&
	      id == 0x0102030405060708ULL, "peek reads type and id of an undecodable message");
	CHECK(ctl_peek(buf, 15, &type, &id) == -EBADMSG, "peek: short header");
	buf[7] = 1;
	CHECK(ctl_peek(buf, len, &type, &id) == -EBADMSG, "peek: reserved byte set");
	len = test_unhex(buf, sizeof(buf), "57465430" "0a" "00" "0000" "0807060504030201");
	CHECK(ctl_peek(buf, len, &type, &id) == -EBADMSG, "peek: bad magic");
}

static void test_names(void)
{
	CHECK(strcmp(ctl_type_name(CTL_REGISTER), "REGISTER") == 0 &&
	      strcmp(ctl_type_name(CTL_ERROR), "ERROR") == 0 &&
	      strcmp(ctl_type_name(0), "unknown") == 0 &&
	      strcmp(ctl_type_name(200), "unknown") == 0, "type names");
	CHECK(strcmp(ctl_notify_name(CTL_NOTIFY_PEER_REMOVED), "peer_removed") == 0 &&
	      strcmp(ctl_notify_name(9), "unknown") == 0, "notify names");
	CHECK(strcmp(ctl_error_name(CTL_ERR_NOT_FOUND), "not_found") == 0 &&
	      strcmp(ctl_error_name(CTL_ERR_INTERNAL), "internal") == 0 &&
	      strcmp(ctl_error_name(0xffff), "unknown") == 0, "error names");
}

/* ---- seeded mutations --------------------------------------------------- */

/* Flips, truncates and splices the valid table; whatever decodes must
 * round trip.  A cheap, deterministic cousin of fuzz/fuzz_ctl.c. */
static void test_mutations(void)
{
	uint8_t buf[CTL_MAX_MSG];
	unsigned long bad = 0, decoded = 0, i;
	size_t len;

	srand(7);
	for (i = 0; i < 200000; i++) {
		len = test_unhex(buf, sizeof(buf), test_valid[i % N(test_valid)].hex);
		switch (rand() % 3) {
		case 0:
			buf[(size_t)rand() % len] ^= (uint8_t)(1u << (rand() % 8));
			break;
		case 1:
			len = (size_t)rand() % (len + 1);
			break;
		default:
			buf[(size_t)rand() % len] = (uint8_t)rand();
			buf[(size_t)rand() % len] = (uint8_t)rand();
			break;
		}
		{
			struct ctl_msg m;

			if (ctl_decode(buf, len, &m) == 0) {
				decoded++;
				if (!test_round_trip(buf, len, false))
					bad++;
			}
		}
	}
	CHECK(bad == 0 && decoded > 0, "200000 mutations: %lu decoded, %lu failed to round trip",
	      decoded, bad);
}

int main(void)
{
	if (!crypto_init())
		return 1;
	test_valid_table();
	test_invalid_table();
	test_fields();
	test_round_trips();
	test_encode_invalid();
	test_sizes();
	test_peek();
	test_names();
	test_mutations();
	return check_done();
}
