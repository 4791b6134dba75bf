/*
 * test_uapi — the userspace API codec: framing, the set parser (numbered
 * tables of valid and invalid bodies), formatter round trips, and key
 * encodings checked against known answers and a plain reference encoder.
 */
#include "check.h"
#include "uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define KZ "0000000000000000000000000000000000000000000000000000000000000000"
#define KA "c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669"
#define KB "c53201039adba14be71f886da1d8dbe9eebded08cb111b75340078999aa9f038"
#define KB_UPPER "C53201039ADBA14BE71F886DA1D8DBE9EEBDED08CB111B75340078999AA9F038"
#define KC "4eb32f4a83f88d842563a448cc181bb2c42a637bf12363e2fb2ef594e5965d7d"

/* A byte string with its length, so cases may hold NUL bytes. */
#define S(s) s, sizeof(s) - 1

static bool test_is_empty(const struct uapi_set *s)
{
	static const struct uapi_set zero;

	return memcmp(s, &zero, sizeof(zero)) == 0;
}

static bool test_key_is(const uint8_t *key, const char *hex)
{
	uint8_t want[32];

	return check_hex(want, 32, hex) == 32 && memcmp(key, want, 32) == 0;
}

/* ---- framing -------------------------------------------------------- */

static const struct {
	const char *in;
	size_t len;
	long ret;
	enum uapi_op op;
	size_t body_off;
} test_frames[] = {
	/*  1 */ { S("get=1\n\n"), 7, UAPI_OP_GET, 6 },
	/*  2 */ { S("get=1\n"), 0, UAPI_OP_GET, 6 },
	/*  3 */ { S("get"), 0, UAPI_OP_NONE, 0 },
	/*  4 */ { S(""), 0, UAPI_OP_NONE, 0 },
	/*  5 */ { S("set=1\n\n"), 7, UAPI_OP_SET, 6 },
	/*  6 */ { S("set=1\nlisten_port=1\n\n"), 21, UAPI_OP_SET, 6 },
	/*  7 */ { S("set=1\nlisten_port=1\n"), 0, UAPI_OP_SET, 6 },
	/*  8 */ { S("set=1\nlisten_port=1"), 0, UAPI_OP_SET, 6 },
	/*  9 */ { S("get=1\n\nget=1\n\n"), 7, UAPI_OP_GET, 6 },
	/* 10 */ { S("set=1\nfwmark=1\n\nget=1\n\n"), 16, UAPI_OP_SET, 6 },
	/* 11 */ { S("stats=1\n\n"), 9, UAPI_OP_STATS, 8 },
	/* 12 */ { S("stats="), 0, UAPI_OP_NONE, 0 },
	/* 13 */ { S("xet"), -EINVAL, UAPI_OP_NONE, 0 },
	/* 14 */ { S("get=2\n\n"), -EINVAL, UAPI_OP_NONE, 0 },
	/* 15 */ { S("GET=1\n\n"), -EINVAL, UAPI_OP_NONE, 0 },
	/* 16 */ { S("\n"), -EINVAL, UAPI_OP_NONE, 0 },
	/* 17 */ { S("get=1\nx"), -EINVAL, UAPI_OP_NONE, 0 },
	/* 18 */ { S("get=1\nlisten_port=1\n\n"), -EINVAL, UAPI_OP_NONE, 0 },
	/* 19 */ { S("aaaaaaaaaaaaaaaaaaaa"), -EINVAL, UAPI_OP_NONE, 0 },
	/* 20 */ { S("get=1 \n\n"), -EINVAL, UAPI_OP_NONE, 0 },
	/* 21 */ { S("set=1\r\n\r\n"), -EINVAL, UAPI_OP_NONE, 0 },
	/* 22 */ { S("set=1\na=b\nc=d\n\n"), 15, UAPI_OP_SET, 6 },
	/* 23 */ { S("get=1\0\n\n"), -EINVAL, UAPI_OP_NONE, 0 },
};

static void test_frame(void)
{
	enum uapi_op op;
	size_t i, off;
	long ret;

	for (i = 0; i < sizeof(test_frames) / sizeof(test_frames[0]); i++) {
		ret = uapi_frame(test_frames[i].in, test_frames[i].len, &op, &off);
		CHECK(ret == test_frames[i].ret && op == test_frames[i].op &&
		      off == test_frames[i].body_off,
		      "frame %zu: ret %ld op %d off %zu", i + 1, ret, (int)op, off);
	}
}

/* ---- set: valid bodies ---------------------------------------------- */

static bool test_v_empty(const struct uapi_set *s)
{
	return !s->has_private_key && !s->has_listen_port && !s->has_fwmark &&
	       !s->replace_peers && s->n_peers == 0;
}

static bool test_v_private(const struct uapi_set *s)
{
	return s->has_private_key && test_key_is(s->private_key, KA) &&
	       s->n_peers == 0;
}

static bool test_v_private_zero(const struct uapi_set *s)
{
	return s->has_private_key && test_key_is(s->private_key, KZ);
}

static bool test_v_port_mark(const struct uapi_set *s)
{
	return s->has_listen_port && s->listen_port == 51820 &&
	       s->has_fwmark && s->fwmark == 0 && !s->has_private_key;
}

static bool test_v_limits(const struct uapi_set *s)
{
	return s->listen_port == 65535 && s->fwmark == UINT32_MAX;
}

static bool test_v_port_zero(const struct uapi_set *s)
{
	return s->has_listen_port && s->listen_port == 0;
}

static bool test_v_replace_peers(const struct uapi_set *s)
{
	return s->replace_peers && s->n_peers == 0;
}

static bool test_v_bare_peer(const struct uapi_set *s)
{
	const struct uapi_peer *p = &s->peers[0];

	return s->n_peers == 1 && test_key_is(p->public_key, KB) &&
	       !p->remove && !p->update_only && !p->has_psk &&
	       !p->has_endpoint && !p->has_keepalive &&
	       !p->replace_allowed_ips && p->n_aips == 0;
}

static bool test_v_full_peer(const struct uapi_set *s)
{
	const struct uapi_peer *p = &s->peers[0];
	static const uint8_t net4[4] = { 10, 0, 0, 0 };
	static const uint8_t net6[16] = { 0xfd };

	return s->n_peers == 1 && p->has_psk && test_key_is(p->psk, KC) &&
	       p->has_endpoint && p->endpoint.sa.sa_family == AF_INET &&
	       p->endpoint.in4.sin_addr.s_addr == htonl(0xc0000201) &&
	       p->endpoint.in4.sin_port == htons(51820) &&
	       p->has_keepalive && p->keepalive == 25 &&
	       p->replace_allowed_ips && p->n_aips == 2 &&
	       p->aips[0].family == AF_INET && p->aips[0].cidr == 24 &&
	       memcmp(p->aips[0].addr, net4, 4) == 0 &&
	       p->aips[1].family == AF_INET6 && p->aips[1].cidr == 64 &&
	       memcmp(p->aips[1].addr, net6, 16) == 0;
}

static bool test_v_remove(const struct uapi_set *s)
{
	return s->n_peers == 1 && s->peers[0].remove && !s->peers[0].update_only;
}

static bool test_v_update_only(const struct uapi_set *s)
{
	return s->n_peers == 1 && s->peers[0].update_only && !s->peers[0].remove;
}

static bool test_v_endpoint6(const struct uapi_set *s)
{
	const struct sockaddr_in6 *in6 = &s->peers[0].endpoint.in6;
	static const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	return in6->sin6_family == AF_INET6 && in6->sin6_port == htons(51820) &&
	       memcmp(&in6->sin6_addr, a, 16) == 0 && in6->sin6_scope_id == 0;
}

static bool test_v_scope(const struct uapi_set *s)
{
	const struct sockaddr_in6 *in6 = &s->peers[0].endpoint.in6;

	return in6->sin6_family == AF_INET6 && in6->sin6_scope_id == 2 &&
	       in6->sin6_port == htons(1);
}

static bool test_v_upper_hex(const struct uapi_set *s)
{
	return s->n_peers == 1 && test_key_is(s->peers[0].public_key, KB);
}

static bool test_v_two_peers(const struct uapi_set *s)
{
	return s->has_private_key && s->has_listen_port && s->replace_peers &&
	       s->n_peers == 2 && test_key_is(s->peers[0].public_key, KB) &&
	       test_key_is(s->peers[1].public_key, KC) &&
	       s->peers[0].n_aips == 1 && s->peers[1].n_aips == 3 &&
	       s->peers[1].aips[2].cidr == 128;
}

static bool test_v_no_final_newline(const struct uapi_set *s)
{
	return s->has_fwmark && s->fwmark == 7;
}

static bool test_v_replace_after(const struct uapi_set *s)
{
	const struct uapi_peer *p = &s->peers[0];

	return p->replace_allowed_ips && p->n_aips == 1 && p->aips[0].cidr == 8;
}

static bool test_v_leading_zeros(const struct uapi_set *s)
{
	return s->listen_port == 51820 &&
	       s->peers[0].endpoint.in4.sin_port == htons(80);
}

static bool test_v_default_routes(const struct uapi_set *s)
{
	const struct uapi_peer *p = &s->peers[0];

	return p->n_aips == 4 && p->aips[0].cidr == 0 && p->aips[1].cidr == 0 &&
	       p->aips[2].cidr == 32 && p->aips[3].cidr == 128 &&
	       p->aips[1].family == AF_INET6;
}

static bool test_v_same_key_twice(const struct uapi_set *s)
{
	return s->n_peers == 2 && s->peers[1].remove && !s->peers[0].remove &&
	       memcmp(s->peers[0].public_key, s->peers[1].public_key, 32) == 0;
}

static bool test_v_psk_zero(const struct uapi_set *s)
{
	return s->peers[0].has_psk && test_key_is(s->peers[0].psk, KZ);
}

static bool test_v_host_bits(const struct uapi_set *s)
{
	const struct uapi_aip *a = &s->peers[0].aips[0];

	return a->cidr == 24 && a->addr[3] == 7;
}

/* A later line for the same key replaces the earlier one. */
static bool test_v_last_endpoint(const struct uapi_set *s)
{
	const struct sockaddr_in6 *in6 = &s->peers[0].endpoint.in6;

	return s->peers[0].has_endpoint && in6->sin6_family == AF_INET6 &&
	       in6->sin6_addr.s6_addr[15] == 255 && in6->sin6_port == htons(1);
}

static const struct {
	const char *body;
	size_t len;
	bool (*ok)(const struct uapi_set *s);
} test_valid[] = {
	/*  1 */ { S(""), test_v_empty },
	/*  2 */ { S("private_key=" KA "\n"), test_v_private },
	/*  3 */ { S("private_key=" KZ "\n"), test_v_private_zero },
	/*  4 */ { S("listen_port=51820\nfwmark=0\n"), test_v_port_mark },
	/*  5 */ { S("listen_port=65535\nfwmark=4294967295\n"), test_v_limits },
	/*  6 */ { S("listen_port=0\n"), test_v_port_zero },
	/*  7 */ { S("replace_peers=true\n"), test_v_replace_peers },
	/*  8 */ { S("public_key=" KB "\n"), test_v_bare_peer },
	/*  9 */ { S("public_key=" KB "\npreshared_key=" KC "\n"
		     "endpoint=192.0.2.1:51820\npersistent_keepalive_interval=25\n"
		     "replace_allowed_ips=true\nallowed_ip=10.0.0.0/24\n"
		     "allowed_ip=fd00::/64\nprotocol_version=1\n"), test_v_full_peer },
	/* 10 */ { S("public_key=" KB "\nremove=true\n"), test_v_remove },
	/* 11 */ { S("public_key=" KB "\nupdate_only=true\n"), test_v_update_only },
	/* 12 */ { S("public_key=" KB "\nendpoint=[2001:db8::1]:51820\n"),
		   test_v_endpoint6 },
	/* 13 */ { S("public_key=" KB "\nendpoint=[fe80::1%2]:1\n"), test_v_scope },
	/* 14 */ { S("public_key=" KB_UPPER "\n"), test_v_upper_hex },
	/* 15 */ { S("private_key=" KA "\nlisten_port=1\nreplace_peers=true\n"
		     "public_key=" KB "\nallowed_ip=10.0.0.1/32\n"
		     "public_key=" KC "\nallowed_ip=10.0.0.2/32\n"
		     "allowed_ip=10.0.1.0/24\nallowed_ip=fd00::2/128\n"),
		   test_v_two_peers },
	/* 16 */ { S("fwmark=7"), test_v_no_final_newline },
	/* 17 */ { S("public_key=" KB "\nallowed_ip=10.0.0.0/24\n"
		     "replace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n"),
		   test_v_replace_after },
	/* 18 */ { S("listen_port=051820\npublic_key=" KB "\n"
		     "endpoint=1.2.3.4:0080\n"), test_v_leading_zeros },
	/* 19 */ { S("public_key=" KB "\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n"
		     "allowed_ip=255.255.255.255/32\nallowed_ip=::1/128\n"),
		   test_v_default_routes },
	/* 20 */ { S("public_key=" KB "\npublic_key=" KB "\nremove=true\n"),
		   test_v_same_key_twice },
	/* 21 */ { S("public_key=" KB "\npreshared_key=" KZ "\n"), test_v_psk_zero },
	/* 22 */ { S("public_key=" KB "\nallowed_ip=10.1.2.7/24\n"), test_v_host_bits },
	/* 23 */ { S("public_key=" KB "\nendpoint=255.255.255.255:65535\n"
		     "endpoint=[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:1\n"),
		   test_v_last_endpoint },
};

static void test_set_valid(void)
{
	struct uapi_set s;
	char err[128];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(test_valid) / sizeof(test_valid[0]); i++) {
		ret = uapi_parse_set(test_valid[i].body, test_valid[i].len, &s,
				     err, sizeof(err));
		CHECK(ret == 0 && err[0] == '\0' && test_valid[i].ok(&s),
		      "valid %zu: ret %d %s", i + 1, ret, err);
		uapi_set_free(&s);
		CHECK_QUIET(test_is_empty(&s), "valid %zu: freed struct is zero", i + 1);
	}
}

/* ---- set: invalid bodies -------------------------------------------- */

#define PK "public_key=" KB "\n"

static const struct {
	const char *body;
	size_t len;
	int err;
} test_invalid[] = {
	/*  1 */ { S("bogus=1\n"), -EPROTO },
	/*  2 */ { S("=1\n"), -EPROTO },
	/*  3 */ { S("listen_port\n"), -EINVAL },
	/*  4 */ { S("listen_port=\n"), -EINVAL },
	/*  5 */ { S("listen_port=65536\n"), -EINVAL },
	/*  6 */ { S("listen_port=-1\n"), -EINVAL },
	/*  7 */ { S("listen_port=+1\n"), -EINVAL },
	/*  8 */ { S("listen_port= 1\n"), -EINVAL },
	/*  9 */ { S("listen_port=1 \n"), -EINVAL },
	/* 10 */ { S("listen_port=0x10\n"), -EINVAL },
	/* 11 */ { S("listen_port=99999999999999999999999\n"), -EINVAL },
	/* 12 */ { S("fwmark=4294967296\n"), -EINVAL },
	/* 13 */ { S("fwmark=1.0\n"), -EINVAL },
	/* 14 */ { S("private_key=" KA "0\n"), -EINVAL },
	/* 15 */ { S("private_key=c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf066\n"), -EINVAL },
	/* 16 */ { S("private_key=g809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669\n"), -EINVAL },
	/* 17 */ { S("private_key=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"), -EINVAL },
	/* 18 */ { S("replace_peers=false\n"), -EINVAL },
	/* 19 */ { S("replace_peers=True\n"), -EINVAL },
	/* 20 */ { S("replace_peers=1\n"), -EINVAL },
	/* 21 */ { S(PK "listen_port=1\n"), -EINVAL },
	/* 22 */ { S(PK "private_key=" KA "\n"), -EINVAL },
	/* 23 */ { S(PK "replace_peers=true\n"), -EINVAL },
	/* 24 */ { S("remove=true\n"), -EINVAL },
	/* 25 */ { S("allowed_ip=10.0.0.0/8\n"), -EINVAL },
	/* 26 */ { S(PK "remove=1\n"), -EINVAL },
	/* 27 */ { S(PK "update_only=yes\n"), -EINVAL },
	/* 28 */ { S(PK "endpoint=1.2.3.4\n"), -EINVAL },
	/* 29 */ { S(PK "endpoint=1.2.3.4:\n"), -EINVAL },
	/* 30 */ { S(PK "endpoint=1.2.3.4:65536\n"), -EINVAL },
	/* 31 */ { S(PK "endpoint=example.com:51820\n"), -EINVAL },
	/* 32 */ { S(PK "endpoint=::1:51820\n"), -EINVAL },
	/* 33 */ { S(PK "endpoint=[::1]51820\n"), -EINVAL },
	/* 34 */ { S(PK "endpoint=[::1]:\n"), -EINVAL },
	/* 35 */ { S(PK "endpoint=[fe80::1%eth0]:1\n"), -EINVAL },
	/* 36 */ { S(PK "endpoint=[fe80::1%]:1\n"), -EINVAL },
	/* 37 */ { S(PK "endpoint=1.2.3.256:1\n"), -EINVAL },
	/* 38 */ { S(PK "endpoint=1.2.3.4:1x\n"), -EINVAL },
	/* 39 */ { S(PK "endpoint=[1.2.3.4]:1\n"), -EINVAL },
	/* 40 */ { S(PK "endpoint= 1.2.3.4:1\n"), -EINVAL },
	/* 41 */ { S(PK "endpoint=1.2.3:1\n"), -EINVAL },
	/* 42 */ { S(PK "endpoint=:1\n"), -EINVAL },
	/* 43 */ { S(PK "endpoint=[]:1\n"), -EINVAL },
	/* 44 */ { S(PK "endpoint=[::1]:-1\n"), -EINVAL },
	/* 45 */ { S(PK "persistent_keepalive_interval=65536\n"), -EINVAL },
	/* 46 */ { S(PK "persistent_keepalive_interval=-1\n"), -EINVAL },
	/* 47 */ { S(PK "allowed_ip=10.0.0.0\n"), -EINVAL },
	/* 48 */ { S(PK "allowed_ip=10.0.0.0/33\n"), -EINVAL },
	/* 49 */ { S(PK "allowed_ip=::/129\n"), -EINVAL },
	/* 50 */ { S(PK "allowed_ip=10.0.0.0/\n"), -EINVAL },
	/* 51 */ { S(PK "allowed_ip=10.0.0.0/024\n"), -EINVAL },
	/* 52 */ { S(PK "allowed_ip=10.0.0.0/24x\n"), -EINVAL },
	/* 53 */ { S(PK "allowed_ip=10.0.0.0/+8\n"), -EINVAL },
	/* 54 */ { S(PK "allowed_ip=fe80::1%1/64\n"), -EINVAL },
	/* 55 */ { S(PK "allowed_ip=host/24\n"), -EINVAL },
	/* 56 */ { S(PK "allowed_ip=10.0.0.0/24/1\n"), -EINVAL },
	/* 57 */ { S(PK "allowed_ip=/24\n"), -EINVAL },
	/* 58 */ { S(PK "allowed_ip=-10.0.0.0/24\n"), -EINVAL },
	/* 59 */ { S(PK "protocol_version=2\n"), -EINVAL },
	/* 60 */ { S(PK "protocol_version=01\n"), -EINVAL },
	/* 61 */ { S(PK "protocol_version=\n"), -EINVAL },
	/* 62 */ { S("listen_port=1\n\nfwmark=1\n"), -EINVAL },
	/* 63 */ { S("listen_port=1\r\n"), -EINVAL },
	/* 64 */ { S("listen_port=1\0\n"), -EINVAL },
	/* 65 */ { S(PK "endpoint=1.2.3.4\0:1\n"), -EINVAL },
	/* 66 */ { S(PK "preshared_key=" KC "00\n"), -EINVAL },
	/* 67 */ { S("public_key=\n"), -EINVAL },
	/* 68 */ { S(PK "public_key=" KC "\nbogus=true\n"), -EPROTO },
	/* 69 */ { S(PK "allowed_ip=10.0.0.0/8\nallowed_ip=10.0.0.0/8\n"
		     "allowed_ip=10.0.0.0/8\nallowed_ip=10.0.0.0/8\n"
		     "allowed_ip=10.0.0.0/8\nallowed_ip=10.0.0.0/99\n"), -EINVAL },
	/* 70 */ { S(" listen_port=1\n"), -EPROTO },
	/* 71 */ { S("Listen_port=1\n"), -EPROTO },
	/* 72 */ { S("get=1\n"), -EPROTO },
	/* 73 */ { S("\n"), -EINVAL },
	/* 74 */ { S(PK "allowed_ip=01.0.0.0/8\n"), -EINVAL },
};

static void test_set_invalid(void)
{
	struct uapi_set s;
	char err[128];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(test_invalid) / sizeof(test_invalid[0]); i++) {
		memset(&s, 0xa5, sizeof(s));
		ret = uapi_parse_set(test_invalid[i].body, test_invalid[i].len,
				     &s, err, sizeof(err));
		CHECK(ret == test_invalid[i].err && test_is_empty(&s) &&
		      err[0] != '\0' && !strchr(err, '\n'),
		      "invalid %zu: ret %d, %s", i + 1, ret, err);
		uapi_set_free(&s);
	}
}

/* An error after many peers (so the arrays have grown) still leaves the
 * struct empty and frees everything (the sanitizer build checks leaks). */
static void test_set_late_error(void)
{
	size_t cap = 200 * 140, n = 0, i;
	char *body = malloc(cap), err[128];
	struct uapi_set s;
	int ret;

	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(body + n, cap - n, "public_key=%064zx\n"
				      "preshared_key=" KC "\nallowed_ip=10.0.0.%zu/32\n",
				      i, i);
	n += (size_t)snprintf(body + n, cap - n, "fwmark=1\n");
	ret = uapi_parse_set(body, n, &s, err, sizeof(err));
	CHECK(ret == -EINVAL && test_is_empty(&s) && strstr(err, "fwmark"),
	      "error after 100 peers empties the result: %s", err);
	free(body);
}

static void test_set_messages(void)
{
	struct uapi_set s;
	char err[128], tiny[8];
	int ret;

	ret = uapi_parse_set(S("private_key=" KA "0\n"), &s, err, sizeof(err));
	CHECK(ret == -EINVAL && strstr(err, "private_key") && !strstr(err, "c809f3"),
	      "bad private key is named but not echoed: %s", err);
	ret = uapi_parse_set(S(PK "preshared_key=" KA "0\n"), &s, err, sizeof(err));
	CHECK(ret == -EINVAL && !strstr(err, "c809f3"),
	      "bad preshared key is not echoed: %s", err);
	ret = uapi_parse_set(S("listen_port=70000\n"), &s, err, sizeof(err));
	CHECK(ret == -EINVAL && strstr(err, "listen_port") && strstr(err, "70000"),
	      "bad port names key and value: %s", err);
	ret = uapi_parse_set(S("frobnicate=1\n"), &s, err, sizeof(err));
	CHECK(ret == -EPROTO && strstr(err, "frobnicate"), "unknown key named: %s", err);
	ret = uapi_parse_set(S("fwmark=\"\x01\x7f\"\n"), &s, err, sizeof(err));
	CHECK(ret == -EINVAL && !strchr(err, '\x01') && !strchr(err, '\x7f'),
	      "control bytes are not echoed: %s", err);
	ret = uapi_parse_set(S("fwmark=1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
			     &s, err, sizeof(err));
	CHECK(ret == -EINVAL && strstr(err, "...") && strlen(err) < 120,
	      "long value is truncated: %s", err);
	ret = uapi_parse_set(S("bogus=1\n"), &s, tiny, sizeof(tiny));
	CHECK(ret == -EPROTO && strlen(tiny) == 7, "small err buffer is NUL-terminated");
	ret = uapi_parse_set(S("bogus=1\n"), &s, NULL, 0);
	CHECK(ret == -EPROTO && test_is_empty(&s), "NULL err buffer is allowed");
}

/* ---- formatters ----------------------------------------------------- */

/* Parses one peer line after a fixed public_key line. */
static int test_parse_peer_line(struct uapi_set *s, const char *line)
{
	char body[256];
	int n = snprintf(body, sizeof(body), PK "%s\n", line);

	return uapi_parse_set(body, (size_t)n, s, NULL, 0);
}

static const struct {
	const char *in, *out;
} test_endpoints[] = {
	/*  1 */ { "1.2.3.4:51820", "1.2.3.4:51820" },
	/*  2 */ { "0.0.0.0:0", "0.0.0.0:0" },
	/*  3 */ { "255.255.255.255:65535", "255.255.255.255:65535" },
	/*  4 */ { "[2001:db8::1]:51820", "[2001:db8::1]:51820" },
	/*  5 */ { "[::]:1", "[::]:1" },
	/*  6 */ { "[::ffff:1.2.3.4]:5", "[::ffff:1.2.3.4]:5" },
	/*  7 */ { "[fe80::1%7]:51820", "[fe80::1%7]:51820" },
	/*  8 */ { "[2001:0DB8:0:0::1]:051820", "[2001:db8::1]:51820" },
	/*  9 */ { "[::1%0]:1", "[::1]:1" },
};

static const struct {
	const char *in, *out;
} test_aips[] = {
	/*  1 */ { "10.0.0.0/24", "10.0.0.0/24" },
	/*  2 */ { "0.0.0.0/0", "0.0.0.0/0" },
	/*  3 */ { "2001:db8::/64", "2001:db8::/64" },
	/*  4 */ { "::/0", "::/0" },
	/*  5 */ { "::1/128", "::1/128" },
	/*  6 */ { "2001:DB8:0::/64", "2001:db8::/64" },
	/*  7 */ { "10.1.2.3/8", "10.1.2.3/8" },
	/*  8 */ { "fd00:0:0:0:0:0:0:1/127", "fd00::1/127" },
};

static void test_format_endpoint(void)
{
	struct uapi_set s;
	char out[64];
	size_t i;
	int ret, n;

	for (i = 0; i < sizeof(test_endpoints) / sizeof(test_endpoints[0]); i++) {
		snprintf(out, sizeof(out), "endpoint=%s", test_endpoints[i].in);
		ret = test_parse_peer_line(&s, out);
		n = ret ? -1 : uapi_format_endpoint(out, sizeof(out),
						    &s.peers[0].endpoint);
		CHECK(n >= 0 && strcmp(out, test_endpoints[i].out) == 0 &&
		      (size_t)n == strlen(out),
		      "endpoint %zu: %s -> %s", i + 1, test_endpoints[i].in,
		      n >= 0 ? out : "(error)");
		if (ret == 0) {
			n = (int)strlen(test_endpoints[i].out);
			CHECK_QUIET(uapi_format_endpoint(out, (size_t)n,
							 &s.peers[0].endpoint) == -1,
				    "endpoint %zu: short buffer refused", i + 1);
			CHECK_QUIET(uapi_format_endpoint(out, (size_t)n + 1,
							 &s.peers[0].endpoint) == n,
				    "endpoint %zu: exact buffer fits", i + 1);
		}
		uapi_set_free(&s);
	}
}

static void test_format_aip(void)
{
	struct uapi_set s;
	char out[64];
	size_t i;
	int ret, n;
	const struct uapi_aip *a;

	for (i = 0; i < sizeof(test_aips) / sizeof(test_aips[0]); i++) {
		snprintf(out, sizeof(out), "allowed_ip=%s", test_aips[i].in);
		ret = test_parse_peer_line(&s, out);
		a = ret ? NULL : &s.peers[0].aips[0];
		n = a ? uapi_format_aip(out, sizeof(out), a->family, a->addr,
					a->cidr) : -1;
		CHECK(n >= 0 && strcmp(out, test_aips[i].out) == 0,
		      "aip %zu: %s -> %s", i + 1, test_aips[i].in,
		      n >= 0 ? out : "(error)");
		uapi_set_free(&s);
	}
}

static void test_format_edges(void)
{
	static const uint8_t addr[16] = { 10 };
	union wg_sockaddr ep;
	uint8_t key[32];
	char out[80];
	size_t i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(0xf0 + i);
	CHECK(uapi_format_key(out, sizeof(out), key) == 64 &&
	      strcmp(out, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
			  "000102030405060708090a0b0c0d0e0f") == 0,
	      "format_key is lowercase hex: %s", out);
	CHECK(uapi_format_key(out, 64, key) == -1 && uapi_format_key(out, 65, key) == 64,
	      "format_key needs 65 bytes");
	CHECK(uapi_format_aip(out, sizeof(out), AF_INET, addr, 33) == -1 &&
	      uapi_format_aip(out, sizeof(out), AF_INET6, addr, 129) == -1 &&
	      uapi_format_aip(out, sizeof(out), AF_UNIX, addr, 8) == -1,
	      "format_aip refuses bad family or cidr");
	CHECK(uapi_format_aip(out, 10, AF_INET, addr, 8) == -1 &&
	      uapi_format_aip(out, 11, AF_INET, addr, 8) == 10 &&
	      strcmp(out, "10.0.0.0/8") == 0, "format_aip needs length + 1");
	CHECK(uapi_format_aip(out, 0, AF_INET, addr, 8) == -1, "format_aip cap 0");
	memset(&ep, 0, sizeof(ep));
	CHECK(uapi_format_endpoint(out, sizeof(out), &ep) == -1,
	      "format_endpoint refuses AF_UNSPEC");
}

/* ---- key encodings -------------------------------------------------- */

static const struct {
	const char *b64, *hex;
} test_b64_kat[] = {
	/* 1 */ { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", KZ },
	/* 2 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" },
	/* 3 */ { "//////////////////////////////////////////8=",
		  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" },
	/* 4: keys as they appear in wg(8) configuration examples */
	/* 4 */ { "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", KA },
	/* 5 */ { "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", KB },
	/* 6 */ { "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=", KC },
};

static const char *const test_b64_bad[] = {
	/*  1 */ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	/*  2 */ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
	/*  3 */ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	/*  4 */ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
	/*  5 */ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
	/*  6 */ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD=",
	/*  7 */ "yAnz5TF-lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
	/*  8 */ "yAnz5TF+lXXJte14tji3zlMNq_hd2rYUIgJBgB3fBmk=",
	/*  9 */ "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm =",
	/* 10 */ "=Anz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
	/* 11 */ "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk.",
	/* 12 */ "",
};

static const char test_b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Plain table-driven reference encoder to compare the branch-free one to. */
static void test_b64_reference(char out[45], const uint8_t key[32])
{
	uint8_t in[33] = { 0 };
	size_t i;

	memcpy(in, key, 32);
	for (i = 0; i < 11; i++) {
		uint32_t v = ((uint32_t)in[3 * i] << 16) |
			     ((uint32_t)in[3 * i + 1] << 8) | in[3 * i + 2];
		out[4 * i] = test_b64_alphabet[(v >> 18) & 63];
		out[4 * i + 1] = test_b64_alphabet[(v >> 12) & 63];
		out[4 * i + 2] = test_b64_alphabet[(v >> 6) & 63];
		out[4 * i + 3] = test_b64_alphabet[v & 63];
	}
	out[43] = '=';
	out[44] = '\0';
}

static uint64_t test_rng = 0x9e3779b97f4a7c15ull;

static uint8_t test_rand_byte(void)
{
	test_rng ^= test_rng << 13;
	test_rng ^= test_rng >> 7;
	test_rng ^= test_rng << 17;
	return (uint8_t)(test_rng >> 24);
}

static void test_base64(void)
{
	uint8_t key[32], want[32], back[32];
	char b64[45], ref[45], s[45];
	size_t i, j, fails = 0;

	for (i = 0; i < sizeof(test_b64_kat) / sizeof(test_b64_kat[0]); i++) {
		check_hex(want, 32, test_b64_kat[i].hex);
		memset(key, 0x5a, sizeof(key));
		key_to_base64(b64, want);
		CHECK(key_from_base64(key, test_b64_kat[i].b64, 44) &&
		      memcmp(key, want, 32) == 0 &&
		      strcmp(b64, test_b64_kat[i].b64) == 0, "base64 kat %zu", i + 1);
	}
	for (i = 0; i < sizeof(test_b64_bad) / sizeof(test_b64_bad[0]); i++) {
		memset(key, 0x5a, sizeof(key));
		CHECK(!key_from_base64(key, test_b64_bad[i], strlen(test_b64_bad[i])) &&
		      key[0] == 0x5a && key[31] == 0x5a,
		      "base64 bad %zu refused, key untouched", i + 1);
	}
	for (i = 0; i < 10000; i++) {
		for (j = 0; j < 32; j++)
			key[j] = test_rand_byte();
		key_to_base64(b64, key);
		test_b64_reference(ref, key);
		if (strcmp(b64, ref) != 0 || !key_from_base64(back, b64, 44) ||
		    memcmp(back, key, 32) != 0)
			fails++;
	}
	CHECK(fails == 0, "10000 random keys match the reference encoder and round-trip");
	/* Every byte value in a leading position: only the alphabet decodes,
	 * and to its index. */
	fails = 0;
	for (i = 0; i < 256; i++) {
		const char *hit = i ? memchr(test_b64_alphabet, (int)i, 64) : NULL;
		bool ok;

		memcpy(s, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 45);
		s[0] = (char)i;
		ok = key_from_base64(key, s, 44);
		if (ok != (hit != NULL) ||
		    (ok && key[0] != (uint8_t)((hit - test_b64_alphabet) << 2)))
			fails++;
	}
	CHECK(fails == 0, "base64 decoding of all 256 byte values");
}

static void test_hex_keys(void)
{
	uint8_t key[32], want[32];
	char s[65];
	size_t i, fails = 0;

	check_hex(want, 32, KB);
	CHECK(uapi_parse_hex_key(key, KB, 64) && memcmp(key, want, 32) == 0,
	      "hex key lowercase");
	CHECK(uapi_parse_hex_key(key, KB_UPPER, 64) && memcmp(key, want, 32) == 0,
	      "hex key uppercase");
	memset(key, 0x5a, sizeof(key));
	CHECK(!uapi_parse_hex_key(key, KB, 63) && !uapi_parse_hex_key(key, KB "0", 65) &&
	      !uapi_parse_hex_key(key, "", 0) && key[0] == 0x5a,
	      "hex key length must be 64; key untouched");
	for (i = 0; i < 256; i++) {
		bool valid = (i >= '0' && i <= '9') || (i >= 'a' && i <= 'f') ||
			     (i >= 'A' && i <= 'F');
		unsigned want_v = i <= '9' ? i - '0' : (i | 0x20) - 'a' + 10;
		bool ok;

		memcpy(s, KZ, 65);
		s[63] = (char)i;
		memset(key, 0x5a, sizeof(key));
		ok = uapi_parse_hex_key(key, s, 64);
		if (ok != valid || (ok && key[31] != want_v) || (!ok && key[31] != 0x5a))
			fails++;
	}
	CHECK(fails == 0, "hex decoding of all 256 byte values");
}

/* ---- scale ---------------------------------------------------------- */

static double test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What `wg setconf` sends for a 10,000-peer configuration. */
static char *test_big_request(size_t peers, size_t *len)
{
	size_t cap = 64 + peers * 400, n = 0, i;
	char *buf = malloc(cap);

	if (!buf)
		return NULL;
	n += (size_t)snprintf(buf + n, cap - n, "set=1\nprivate_key=" KA
			      "\nlisten_port=51820\nreplace_peers=true\n");
	for (i = 0; i < peers; i++)
		n += (size_t)snprintf(buf + n, cap - n,
			"public_key=%064zx\npreshared_key=" KC "\nprotocol_version=1\n"
			"replace_allowed_ips=true\nendpoint=198.51.%zu.%zu:51820\n"
			"persistent_keepalive_interval=25\nallowed_ip=10.%zu.%zu.0/24\n"
			"allowed_ip=fd00::%zx/128\n",
			i, i >> 8, i & 255, i >> 8, i & 255, i);
	n += (size_t)snprintf(buf + n, cap - n, "\n");
	*len = n;
	return buf;
}

static void test_many_peers(void)
{
	size_t len = 0, off;
	char *req = test_big_request(10000, &len), err[128];
	struct uapi_set s;
	enum uapi_op op;
	double t0, t;
	long total;
	int ret;

	CHECK(req != NULL, "built a 10000-peer request (%zu bytes)", len);
	if (!req)
		return;
	t0 = test_now();
	total = uapi_frame(req, len, &op, &off);
	ret = total > 0 ? uapi_parse_set(req + off, (size_t)total - off - 1, &s,
					 err, sizeof(err)) : -1;
	t = test_now() - t0;
	CHECK(total == (long)len && op == UAPI_OP_SET, "10000 peers framed");
	CHECK(ret == 0 && s.n_peers == 10000 && s.replace_peers &&
	      s.peers[9999].n_aips == 2 && s.peers[9999].public_key[31] == 0x0f &&
	      s.peers[9999].public_key[30] == 0x27 &&
	      s.peers[9999].aips[1].addr[15] == 0x0f, "10000 peers parsed: %s", err);
	CHECK(t < 2.0, "10000 peers framed and parsed in %.3f s", t);
	if (ret == 0)
		uapi_set_free(&s);
	free(req);
}

static void test_many_aips(void)
{
	size_t cap = 64 + 100000 * 32, n = 0, i;
	char *body = malloc(cap);
	struct uapi_set s;
	double t0, t;
	int ret;

	if (!body)
		return;
	n += (size_t)snprintf(body, cap, PK);
	for (i = 0; i < 100000; i++)
		n += (size_t)snprintf(body + n, cap - n, "allowed_ip=10.%zu.%zu.%zu/32\n",
				      i >> 16, (i >> 8) & 255, i & 255);
	t0 = test_now();
	ret = uapi_parse_set(body, n, &s, NULL, 0);
	t = test_now() - t0;
	CHECK(ret == 0 && s.n_peers == 1 && s.peers[0].n_aips == 100000 &&
	      s.peers[0].aips[99999].addr[3] == (99999 & 255),
	      "100000 allowed IPs on one peer in %.3f s", t);
	CHECK(t < 2.0, "allowed IPs grow geometrically");
	if (ret == 0)
		uapi_set_free(&s);
	free(body);
}

int main(void)
{
	test_frame();
	test_set_valid();
	test_set_invalid();
	test_set_late_error();
	test_set_messages();
	test_format_endpoint();
	test_format_aip();
	test_format_edges();
	test_base64();
	test_hex_keys();
	test_many_peers();
	test_many_aips();
	return check_done();
}
