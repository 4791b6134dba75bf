/*
 * test_token — join tokens: a known-answer token and secret hashes (both
 * computed independently with Python, see below), numbered tables of valid
 * endpoint lists and of invalid tokens (one row per error message), the
 * promise that errors never quote key material, and random round trips
 * checked against a plain table-driven base64url encoder.
 */
#include "check.h"
#include "crypto.h"
#include "token.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Known answers, produced with Python 3's standard library:
 *
 *   import base64, hashlib
 *   secret, pub = bytes(range(32)), bytes(range(0x20, 0x40))
 *   base64.urlsafe_b64encode(bytes([1]) + pub + secret).decode().rstrip('=')
 *   hashlib.blake2s(secret).hexdigest()
 *   hashlib.blake2s(b'\x42' * 32).hexdigest()
 */
#define KAT_B64 "ASAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define KAT_TOKEN "weft1:" KAT_B64 ":weft.example.com:7946"
#define KAT_HASH "05825607d7fdf2d82ef4c3c8c2aea961ad98d60edff7d018983e21204c0d93d1"
#define KAT_ID "05825607d7fdf2d8"
#define KAT_HASH42 "8dd660cf90caa31864dcaec9e5264f8a7e9f3d97ef046e1f1afd8220fd3b1581"
/* the same key material with version bytes 0 and 2, and 1 || 64 zero bytes */
#define V0_B64 "ACAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define V2_B64 "AiAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define ZERO_B64 "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
/* KAT_B64 with its last character changed from '8' (111100) to '9' (111101):
 * a spare bit set, so not the one spelling of these bytes */
#define SPARE_B64 "ASAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9"

#define PRE "weft1:" KAT_B64 ":"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define S(s) s, sizeof(s) - 1

/* ---- the known answer ------------------------------------------------- */

static void test_kat(void)
{
	uint8_t pub[32], secret[32], hash[32], want[32];
	char out[TOKEN_MAX_LEN + 1], id[TOKEN_KEY_ID_LEN + 1], err[160];
	struct token t;
	int n;

	check_hex(pub, 32, "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");
	check_hex(secret, 32, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	n = token_format(out, sizeof(out), pub, secret, "weft.example.com:7946", err, sizeof(err));
	CHECK(n == (int)strlen(KAT_TOKEN) && strcmp(out, KAT_TOKEN) == 0,
	      "format matches Python's base64url: %s", n > 0 ? out : err);
	CHECK(token_parse(S(KAT_TOKEN), &t, err, sizeof(err)) == 0 &&
	      memcmp(t.server_pub, pub, 32) == 0 && memcmp(t.secret, secret, 32) == 0 &&
	      t.n_endpoints == 1 && t.endpoints[0].kind == TOKEN_HOST_NAME &&
	      strcmp(t.endpoints[0].host, "weft.example.com") == 0 &&
	      t.endpoints[0].port == 7946, "parse the known-answer token");
	token_wipe(&t);
	CHECK(crypto_is_zero(&t, sizeof(t)), "token_wipe clears the struct");

	token_secret_hash(hash, secret);
	check_hex(want, 32, KAT_HASH);
	CHECK_MEM(hash, want, 32, "BLAKE2s(00..1f) = hashlib.blake2s");
	token_key_id(id, hash);
	CHECK(strcmp(id, KAT_ID) == 0, "key id is the first 8 bytes in hex: %s", id);
	memset(secret, 0x42, 32);
	token_secret_hash(hash, secret);
	check_hex(want, 32, KAT_HASH42);
	CHECK_MEM(hash, want, 32, "BLAKE2s(42 x 32) = hashlib.blake2s");
	CHECK(token_secret_check(want, secret), "secret check accepts the right secret");
	secret[31] ^= 1;
	CHECK(!token_secret_check(want, secret), "secret check refuses one flipped bit");
}

/* ---- valid endpoint lists ----------------------------------------------- */

static const struct {
	const char *list;
	size_t n;
	enum token_host kind0;	/* of the first entry */
	const char *host0;
	uint16_t port0;
	const char *addr0;	/* hex, or NULL for names */
} test_lists[] = {
	/*  1 */ { "192.0.2.1:7946", 1, TOKEN_HOST_IPV4, "192.0.2.1", 7946, "c0000201" },
	/*  2 */ { "[2001:db8::1]:443", 1, TOKEN_HOST_IPV6, "2001:db8::1", 443,
		   "20010db8000000000000000000000001" },
	/*  3 */ { "a.b-c.example:1", 1, TOKEN_HOST_NAME, "a.b-c.example", 1, NULL },
	/*  4 */ { "x:65535", 1, TOKEN_HOST_NAME, "x", 65535, NULL },
	/*  5 */ { "1.2.3.4:1,[::1]:2,host:3", 3, TOKEN_HOST_IPV4, "1.2.3.4", 1, "01020304" },
	/*  6 */ { "[::ffff:1.2.3.4]:5", 1, TOKEN_HOST_IPV6, "::ffff:1.2.3.4", 5,
		   "00000000000000000000ffff01020304" },
	/*  7 */ { "A-1.Example.COM:80", 1, TOKEN_HOST_NAME, "A-1.Example.COM", 80, NULL },
	/*  8 */ { "a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8", 8, TOKEN_HOST_NAME, "a", 1, NULL },
	/*  9 */ { "0.0.0.0:9", 1, TOKEN_HOST_IPV4, "0.0.0.0", 9, "00000000" },
	/* 10 */ { "1a.2b:7", 1, TOKEN_HOST_NAME, "1a.2b", 7, NULL },
	/* 11 */ { "1.2.3.x4:7", 1, TOKEN_HOST_NAME, "1.2.3.x4", 7, NULL },
	/* 12 */ { "[::]:7", 1, TOKEN_HOST_IPV6, "::", 7, "00000000000000000000000000000000" },
	/* 13 */ { "h:1,h:1", 2, TOKEN_HOST_NAME, "h", 1, NULL },	/* duplicates kept */
};

static void test_valid_lists(void)
{
	char tok[TOKEN_MAX_LEN + 2], err[160];
	uint8_t addr[16];
	struct token t;
	size_t i, len;
	bool ok;

	for (i = 0; i < N(test_lists); i++) {
		len = (size_t)snprintf(tok, sizeof(tok), PRE "%s", test_lists[i].list);
		err[0] = '\0';
		ok = token_parse(tok, len, &t, err, sizeof(err)) == 0 &&
		     t.n_endpoints == test_lists[i].n &&
		     t.endpoints[0].kind == test_lists[i].kind0 &&
		     strcmp(t.endpoints[0].host, test_lists[i].host0) == 0 &&
		     t.endpoints[0].port == test_lists[i].port0;
		if (ok && test_lists[i].addr0) {
			memset(addr, 0, sizeof(addr));
			check_hex(addr, 16, test_lists[i].addr0);
			ok = memcmp(addr, t.endpoints[0].addr, 16) == 0;
		}
		CHECK(ok, "valid list %zu: %s %s", i + 1, test_lists[i].list, err);
	}
}

static void test_long_names(void)
{
	char list[TOKEN_ENDPOINTS_MAX + 64], err[160];
	struct token_endpoint eps[TOKEN_MAX_ENDPOINTS];
	size_t n, len, i;

	/* a 63-character label, then a 253-character name (63.63.63.61) */
	memset(list, 'l', 63);
	memcpy(list + 63, ":1", 3);
	CHECK(token_parse_endpoints(list, 65, eps, &n, err, sizeof(err)) == 0 &&
	      strlen(eps[0].host) == 63, "63-character label");
	list[63] = 'l';
	memcpy(list + 64, ":1", 3);
	CHECK(token_parse_endpoints(list, 66, eps, &n, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "longer than 63"), "64-character label: %s", err);
	memset(list, 'n', 253);
	for (i = 63; i < 253; i += 64)
		list[i] = '.';
	memcpy(list + 253, ":1", 3);
	CHECK(token_parse_endpoints(list, 255, eps, &n, err, sizeof(err)) == 0 &&
	      strlen(eps[0].host) == 253, "253-character name");
	memmove(list + 1, list, 256);
	CHECK(token_parse_endpoints(list, 256, eps, &n, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "longer than 253"), "254-character name: %s", err);

	/* an endpoint list longer than the limit is refused before parsing */
	len = TOKEN_ENDPOINTS_MAX + 1;
	memset(list, 'a', len);
	CHECK(token_parse_endpoints(list, len, eps, &n, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "at most 1024"), "endpoint text past 1024 characters: %s", err);
}

/* ---- invalid tokens ----------------------------------------------------- */

static const struct {
	const char *tok;
	size_t len;
	const char *why;	/* a substring of the error line */
} test_bad[] = {
	/*  1 */ { S(""), "must start with \"weft1:\"" },
	/*  2 */ { S("weft2:" KAT_B64 ":h:1"), "must start with" },
	/*  3 */ { S("WEFT1:" KAT_B64 ":h:1"), "must start with" },
	/*  4 */ { S("weft1"), "must start with" },
	/*  5 */ { S("weft1:" KAT_B64), "missing ':'" },
	/*  6 */ { S("weft1:" ":h:1"), "is 0 characters, expected 87" },
	/*  7 */ { S("weft1:A" KAT_B64 ":h:1"), "is 88 characters, expected 87" },
	/*  8 */ { S("weft1:" ZERO_B64 "A:h:1"), "is 88 characters" },
	/*  9 */ { S("weft1:+SAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8:h:1"),
		   "not valid base64url" },
	/* 10 */ { S("weft1:ASAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8:h:1"),
		   "not valid base64url" },
	/* 11 */ { S("weft1:ASAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=:h:1"),
		   "not valid base64url" },
	/* 12 */ { S("weft1:" SPARE_B64 ":h:1"), "not valid base64url" },
	/* 13 */ { S("weft1:ASAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH\0" "8:h:1"),
		   "not valid base64url" },
	/* 14 */ { S("weft1:ASAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH 8:h:1"),
		   "not valid base64url" },
	/* 15 */ { S("weft1:" V0_B64 ":h:1"), "unknown token version 0" },
	/* 16 */ { S("weft1:" V2_B64 ":h:1"), "unknown token version 2" },
	/* 17 */ { S(PRE), "empty endpoint list" },
	/* 18 */ { S(PRE "host"), "endpoint 1 \"host\": missing ':port'" },
	/* 19 */ { S(PRE "host:"), "missing port after ':'" },
	/* 20 */ { S(PRE "host:0"), "port out of range" },
	/* 21 */ { S(PRE "host:65536"), "port out of range" },
	/* 22 */ { S(PRE "host:99999999999999999999"), "port out of range" },
	/* 23 */ { S(PRE "host:08"), "leading zero" },
	/* 24 */ { S(PRE "host:+8"), "not a decimal number" },
	/* 25 */ { S(PRE "host:8a"), "not a decimal number" },
	/* 26 */ { S(PRE "host:-1"), "not a decimal number" },
	/* 27 */ { S(PRE "::1:443"), "in brackets" },
	/* 28 */ { S(PRE "2001:db8::1"), "in brackets" },
	/* 29 */ { S(PRE "[::1]443"), "missing ':port' after ']'" },
	/* 30 */ { S(PRE "[::1]"), "missing ':port' after ']'" },
	/* 31 */ { S(PRE "[::1"), "'[' without ']'" },
	/* 32 */ { S(PRE "[]:1"), "invalid IPv6" },
	/* 33 */ { S(PRE "[fe80::1%eth0]:1"), "invalid IPv6" },
	/* 34 */ { S(PRE "[1.2.3.4]:1"), "invalid IPv6" },
	/* 35 */ { S(PRE "[1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:0:1]:1"), "invalid IPv6" },
	/* 36 */ { S(PRE "[::1]:0"), "port out of range" },
	/* 37 */ { S(PRE "256.1.1.1:1"), "invalid IPv4" },
	/* 38 */ { S(PRE "1.2.3:1"), "invalid IPv4" },
	/* 39 */ { S(PRE "1.2.3.4.5:1"), "invalid IPv4" },
	/* 40 */ { S(PRE "1111111111111111:1"), "invalid IPv4" },
	/* 41 */ { S(PRE "a.1:1"), "last label is all digits" },
	/* 42 */ { S(PRE "-a.b:1"), "starting or ending with '-'" },
	/* 43 */ { S(PRE "a-.b:1"), "starting or ending with '-'" },
	/* 44 */ { S(PRE "a..b:1"), "empty label" },
	/* 45 */ { S(PRE "a.:1"), "empty label" },
	/* 46 */ { S(PRE ".a:1"), "empty label" },
	/* 47 */ { S(PRE "a_b:1"), "character other than" },
	/* 48 */ { S(PRE "a b:1"), "character other than" },
	/* 49 */ { S(PRE "a:1,"), "endpoint 2 is empty" },
	/* 50 */ { S(PRE ",a:1"), "endpoint 1 is empty" },
	/* 51 */ { S(PRE "a:1,,b:2"), "endpoint 2 is empty" },
	/* 52 */ { S(PRE "a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9"), "more than 8 endpoints" },
	/* 53 */ { S(PRE ":1"), "empty host" },
	/* 54 */ { S(PRE "h:1 "), "not a decimal number" },
	/* 55 */ { S(PRE "h:1\n"), "not a decimal number" },
	/* 56 */ { S(" " KAT_TOKEN), "must start with" },
	/* 57 */ { S(PRE "h\x01\x7f" ":1"), "endpoint 1 \"h??:1\"" },
	/* 58 */ { S(PRE "h:1\0"), "not a decimal number" },
	/* 59 */ { S(PRE "[::1]:1:2"), "not a decimal number" },
	/* 60 */ { S(PRE "01.2.3.4:1"), "invalid IPv4" },
	/* 61 */ { S(PRE "h:1,01.2.3.4:1"), "endpoint 2 \"01.2.3.4:1\": invalid IPv4" },
	/* 62 */ { S(PRE "[::\0" "1]:2"), "invalid IPv6" },	/* found by fuzz_token */
	/* 63 */ { S(PRE "[::1\0]:2"), "invalid IPv6" },
	/* 64 */ { S(PRE "1.2.3.4\0:2"), "character other than" },
};

/* True when no 8 characters of the key material appear in err. */
static bool test_err_is_clean(const char *err)
{
	static const char *const material[] = { KAT_B64, V0_B64, V2_B64, SPARE_B64 };
	char window[9];
	size_t m, i;

	for (m = 0; m < N(material); m++)
		for (i = 0; i + 8 <= strlen(material[m]); i++) {
			memcpy(window, material[m] + i, 8);
			window[8] = '\0';
			if (strstr(err, window))
				return false;
		}
	return true;
}

static void test_invalid(void)
{
	char err[160];
	struct token t;
	size_t i;
	int r;

	for (i = 0; i < N(test_bad); i++) {
		memset(&t, 0xa5, sizeof(t));
		memset(err, 0, sizeof(err));
		r = token_parse(test_bad[i].tok, test_bad[i].len, &t, err, sizeof(err));
		CHECK(r == -EINVAL && strstr(err, test_bad[i].why) && !strchr(err, '\n') &&
		      test_err_is_clean(err) && crypto_is_zero(&t, sizeof(t)),
		      "invalid %zu: %s", i + 1, err);
	}
	/* too long as a whole, before anything else is looked at */
	{
		static char big[TOKEN_MAX_LEN + 2];

		memset(big, 'a', sizeof(big));
		memcpy(big, PRE, strlen(PRE));
		r = token_parse(big, TOKEN_MAX_LEN + 1, &t, err, sizeof(err));
		CHECK(r == -EINVAL && strstr(err, "at most 1118"), "too long: %s", err);
	}
	/* err may be NULL or tiny */
	CHECK(token_parse(S("nope"), &t, NULL, 0) == -EINVAL, "NULL err buffer");
	CHECK(token_parse(S("nope"), &t, err, 1) == -EINVAL && err[0] == '\0',
	      "one-byte err buffer stays a string");
}

/* ---- format ------------------------------------------------------------- */

static void test_format(void)
{
	uint8_t pub[32], secret[32];
	char out[TOKEN_MAX_LEN + 1], err[160];
	int n, need;

	memset(pub, 1, 32);
	memset(secret, 2, 32);
	need = token_format(out, sizeof(out), pub, secret, "h:1", err, sizeof(err));
	CHECK(need == 6 + 87 + 1 + 3, "format length %d", need);
	CHECK(token_format(out, (size_t)need + 1, pub, secret, "h:1", err, sizeof(err)) == need,
	      "format into exactly length + 1 bytes");
	memset(out, 'z', sizeof(out));
	n = token_format(out, (size_t)need, pub, secret, "h:1", err, sizeof(err));
	CHECK(n == -ENOBUFS && out[0] == 'z' && strstr(err, "needs 98 bytes"),
	      "one byte short: -ENOBUFS, out untouched: %s", err);
	n = token_format(out, sizeof(out), pub, secret, "h:99999", err, sizeof(err));
	CHECK(n == -EINVAL && strstr(err, "port out of range"), "format checks the list: %s", err);
	n = token_format(out, sizeof(out), pub, secret, "", err, sizeof(err));
	CHECK(n == -EINVAL && strstr(err, "empty endpoint list"), "format refuses no endpoints");
}

/* ---- random round trips against a reference encoder --------------------- */

static void test_ref_b64url(char *out, const uint8_t *in, size_t len)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	size_t i, bits = 0, n = 0;

	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = abc[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[n++] = abc[(acc << (6 - bits)) & 63];
	out[n] = '\0';
}

static void test_random(void)
{
	static const char *const lists[] = {
		"weft.example:7946", "192.0.2.7:1,[2001:db8::7]:65535", "a:1,b:2,c:3",
	};
	uint8_t blob[TOKEN_BLOB_LEN];
	char out[TOKEN_MAX_LEN + 1], want[TOKEN_MAX_LEN + 1], ref[100], err[160];
	struct token t;
	unsigned bad = 0, i;
	int n;

	for (i = 0; i < 3000; i++) {
		blob[0] = TOKEN_VERSION;
		if (!crypto_random(blob + 1, 64))
			bad++;
		if (i < 2)
			memset(blob + 1, i ? 0xff : 0xf8, 64);	/* '_' and '-' runs */
		test_ref_b64url(ref, blob, sizeof(blob));
		snprintf(want, sizeof(want), "weft1:%s:%s", ref, lists[i % 3]);
		n = token_format(out, sizeof(out), blob + 1, blob + 33, lists[i % 3],
				 err, sizeof(err));
		if (n != (int)strlen(want) || strcmp(out, want) != 0 ||
		    token_parse(out, (size_t)n, &t, err, sizeof(err)) != 0 ||
		    memcmp(t.server_pub, blob + 1, 32) != 0 ||
		    memcmp(t.secret, blob + 33, 32) != 0 || t.n_endpoints != i % 3 + 1)
			bad++;
	}
	CHECK(bad == 0, "3000 random tokens: format = reference encoder, parse inverts (%u bad)", bad);
}

static void test_secrets(void)
{
	uint8_t a[32], b[32];

	CHECK(token_generate_secret(a) && token_generate_secret(b) &&
	      memcmp(a, b, 32) != 0 && !crypto_is_zero(a, 32), "two fresh secrets differ");
}

int main(void)
{
	if (!crypto_init())
		return 1;
	test_kat();
	test_valid_lists();
	test_long_names();
	test_invalid();
	test_format();
	test_random();
	test_secrets();
	return check_done();
}
