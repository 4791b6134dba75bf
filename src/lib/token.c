/*
 * token — join token text form and secret hashing; the format is in
 * token.h.  The key material is decoded with branch-free character
 * arithmetic, as wireguard-tools does for keys, so the secret's bytes do
 * not steer branches or table lookups; the endpoint text is public and
 * parsed plainly.
 */
#include "token.h"

#include "encoding.h"
#include "crypto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ---- error lines ------------------------------------------------------ */

static void token_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copies public text for quoting in an error line: printable ASCII only,
 * at most 48 characters, "..." when cut. */
static void token_quote(char out[56], const char *s, size_t len)
{
	size_t i, n = len > 48 ? 48 : len;

	for (i = 0; i < n; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (n < len)
		memcpy(out + n, "...", 3), n += 3;
	out[n] = '\0';
}

/* ---- endpoints -------------------------------------------------------- */

static bool token_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool token_is_ldh(char c)
{
	return token_is_digit(c) || c == '-' || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static bool token_is_v6_text(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!(token_is_digit(s[i]) || s[i] == ':' || s[i] == '.' ||
		      (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

/* RFC 1123 host name: LDH labels of 1..63, no hyphen at either end, and
 * (RFC 3696 §2) a last label that is not all digits. */
static const char *token_check_name(const char *s, size_t len)
{
	size_t i, start = 0;
	bool numeric = true;

	if (len > TOKEN_HOST_MAX)
		return "host name is longer than 253 characters";
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!token_is_ldh(s[i]))
				return "host name has a character other than letters, digits, '-' and '.'";
			numeric = numeric && token_is_digit(s[i]);
			continue;
		}
		if (i == start)
			return "host name has an empty label";
		if (i - start > 63)
			return "host name has a label longer than 63 characters";
		if (s[start] == '-' || s[i - 1] == '-')
			return "host name has a label starting or ending with '-'";
		if (i < len)
			numeric = true;
		start = i + 1;
	}
	return numeric ? "host name's last label is all digits" : NULL;
}

/* A C string copy of host (len <= TOKEN_HOST_MAX) for inet_pton. */
static int token_set_host(struct token_endpoint *e, enum token_host kind,
			  const char *host, size_t len)
{
	e->kind = kind;
	memcpy(e->host, host, len);
	e->host[len] = '\0';
	if (kind == TOKEN_HOST_NAME)
		return 1;
	return inet_pton(kind == TOKEN_HOST_IPV4 ? AF_INET : AF_INET6,
			 e->host, e->addr);
}

/* Decimal 1..65535, no sign, no leading zero. */
static const char *token_parse_port(uint16_t *port, const char *s, size_t len)
{
	uint32_t v = 0;
	size_t i;

	if (len == 0)
		return "missing port after ':'";
	for (i = 0; i < len; i++)
		if (!token_is_digit(s[i]))
			return "port is not a decimal number";
	if (s[0] == '0' && len > 1)
		return "port has a leading zero";
	for (i = 0; i < len && v <= 65535; i++)
		v = v * 10 + (uint32_t)(s[i] - '0');
	if (v == 0 || v > 65535)
		return "port out of range (1-65535)";
	*port = (uint16_t)v;
	return NULL;
}

/* Splits "[v6]:port" into its parts; NULL or what is wrong. */
static const char *token_parse_v6(struct token_endpoint *e, const char *s,
				  size_t len, const char **port)
{
	const char *close = memchr(s, ']', len);
	size_t hlen;

	if (close == NULL)
		return "'[' without ']'";
	hlen = (size_t)(close - s) - 1;
	if (hlen == 0 || hlen > 45)
		return "invalid IPv6 address";
	if ((size_t)(close - s) + 1 == len || close[1] != ':')
		return "missing ':port' after ']'";
	/* inet_pton stops at a NUL: let nothing but address characters in */
	if (!token_is_v6_text(s + 1, hlen) ||
	    token_set_host(e, TOKEN_HOST_IPV6, s + 1, hlen) != 1)
		return "invalid IPv6 address";
	*port = close + 2;
	return NULL;
}

/* One host:port entry; NULL when it parses, else what is wrong. */
static const char *token_parse_entry(struct token_endpoint *e, const char *s,
				     size_t len)
{
	const char *port, *colon, *why;
	size_t hlen, i;
	bool dotted = true;

	memset(e, 0, sizeof(*e));
	if (s[0] == '[') {
		why = token_parse_v6(e, s, len, &port);
		if (why != NULL)
			return why;
		return token_parse_port(&e->port, port, len - (size_t)(port - s));
	}
	colon = memchr(s, ':', len);
	if (colon == NULL)
		return "missing ':port'";
	hlen = (size_t)(colon - s);
	if (memchr(colon + 1, ':', len - hlen - 1) != NULL)
		return "IPv6 addresses must be written in brackets, as [addr]:port";
	if (hlen == 0)
		return "empty host";
	for (i = 0; i < hlen; i++)
		dotted = dotted && (token_is_digit(s[i]) || s[i] == '.');
	if (dotted) {
		if (hlen > 15 || token_set_host(e, TOKEN_HOST_IPV4, s, hlen) != 1)
			return "invalid IPv4 address";
	} else {
		why = token_check_name(s, hlen);
		if (why != NULL)
			return why;
		token_set_host(e, TOKEN_HOST_NAME, s, hlen);
	}
	return token_parse_port(&e->port, colon + 1, len - hlen - 1);
}

int token_parse_endpoints(const char *s, size_t len,
			  struct token_endpoint eps[TOKEN_MAX_ENDPOINTS],
			  size_t *n, char *err, size_t errlen)
{
	const char *end = s + len, *comma, *why;
	char quoted[56];
	size_t elen;

	*n = 0;
	if (len == 0) {
		token_err(err, errlen, "empty endpoint list: need host:port[,host:port...]");
		return -EINVAL;
	}
	if (len > TOKEN_ENDPOINTS_MAX) {
		token_err(err, errlen, "endpoint list is %zu characters, at most %d",
			  len, TOKEN_ENDPOINTS_MAX);
		return -EINVAL;
	}
	for (;;) {
		comma = memchr(s, ',', (size_t)(end - s));
		elen = (size_t)((comma ? comma : end) - s);
		if (*n == TOKEN_MAX_ENDPOINTS) {
			token_err(err, errlen, "more than %d endpoints", TOKEN_MAX_ENDPOINTS);
			return -EINVAL;
		}
		if (elen == 0) {
			token_err(err, errlen, "endpoint %zu is empty", *n + 1);
			return -EINVAL;
		}
		why = token_parse_entry(&eps[*n], s, elen);
		if (why != NULL) {
			token_quote(quoted, s, elen);
			token_err(err, errlen, "endpoint %zu \"%s\": %s", *n + 1, quoted, why);
			return -EINVAL;
		}
		(*n)++;
		if (comma == NULL)
			return 0;
		s = comma + 1;
	}
}

/* ---- the token -------------------------------------------------------- */

int token_format(char *out, size_t cap, const uint8_t server_pub[32],
		 const uint8_t secret[TOKEN_SECRET_LEN], const char *endpoints,
		 char *err, size_t errlen)
{
	struct token_endpoint eps[TOKEN_MAX_ENDPOINTS];
	uint8_t blob[TOKEN_BLOB_LEN];
	size_t n, elen = strnlen(endpoints, TOKEN_ENDPOINTS_MAX + 1);
	size_t total = TOKEN_PREFIX_LEN + TOKEN_B64_LEN + 1 + elen;
	int ret;

	ret = token_parse_endpoints(endpoints, elen, eps, &n, err, errlen);
	if (ret != 0)
		return ret;
	if (total + 1 > cap) {
		token_err(err, errlen, "token needs %zu bytes, buffer has %zu",
			  total + 1, cap);
		return -ENOBUFS;
	}
	blob[0] = TOKEN_VERSION;
	memcpy(blob + 1, server_pub, 32);
	memcpy(blob + 33, secret, TOKEN_SECRET_LEN);
	memcpy(out, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
	b64_encode(out + TOKEN_PREFIX_LEN, blob, TOKEN_BLOB_LEN, B64_URL);
	out[TOKEN_PREFIX_LEN + TOKEN_B64_LEN] = ':';
	memcpy(out + TOKEN_PREFIX_LEN + TOKEN_B64_LEN + 1, endpoints, elen);
	out[total] = '\0';
	crypto_wipe(blob, sizeof(blob));
	return (int)total;
}

/* The fixed part: prefix, separator, key material; fills pub and secret. */
static int token_parse_keys(const char *s, size_t len, struct token *t,
			    char *err, size_t errlen)
{
	uint8_t blob[TOKEN_BLOB_LEN];
	const char *b64 = s + TOKEN_PREFIX_LEN, *sep;
	int ret = -EINVAL;

	if (len < TOKEN_PREFIX_LEN || memcmp(s, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0) {
		token_err(err, errlen, "not a weft join token: it must start with \"%s\"",
			  TOKEN_PREFIX);
		return -EINVAL;
	}
	sep = memchr(b64, ':', len - TOKEN_PREFIX_LEN);
	if (sep == NULL) {
		token_err(err, errlen, "missing ':' between the key material and the endpoint list");
		return -EINVAL;
	}
	if ((size_t)(sep - b64) != TOKEN_B64_LEN) {
		token_err(err, errlen, "key material is %zu characters, expected %d",
			  (size_t)(sep - b64), TOKEN_B64_LEN);
		return -EINVAL;
	}
	if (!b64_decode(blob, TOKEN_BLOB_LEN, b64, TOKEN_B64_LEN, B64_URL)) {
		token_err(err, errlen, "key material is not valid base64url (RFC 4648 §5, no padding)");
		goto out;
	}
	if (blob[0] != TOKEN_VERSION) {
		token_err(err, errlen, "unknown token version %u (this weft reads version %d)",
			  blob[0], TOKEN_VERSION);
		goto out;
	}
	memcpy(t->server_pub, blob + 1, 32);
	memcpy(t->secret, blob + 33, TOKEN_SECRET_LEN);
	ret = 0;
out:
	crypto_wipe(blob, sizeof(blob));
	return ret;
}

int token_parse(const char *s, size_t len, struct token *t,
		char *err, size_t errlen)
{
	size_t keys = TOKEN_PREFIX_LEN + TOKEN_B64_LEN + 1;
	int ret;

	memset(t, 0, sizeof(*t));
	if (len > TOKEN_MAX_LEN) {
		token_err(err, errlen, "token is %zu characters, at most %d",
			  len, TOKEN_MAX_LEN);
		return -EINVAL;
	}
	ret = token_parse_keys(s, len, t, err, errlen);
	if (ret == 0)
		ret = token_parse_endpoints(s + keys, len - keys, t->endpoints,
					    &t->n_endpoints, err, errlen);
	if (ret != 0)
		token_wipe(t);
	return ret;
}

/* ---- secrets ---------------------------------------------------------- */

void token_secret_hash(uint8_t hash[32], const uint8_t secret[TOKEN_SECRET_LEN])
{
	crypto_hash(hash, secret, TOKEN_SECRET_LEN, NULL, 0);
}

bool token_secret_check(const uint8_t hash[32],
			const uint8_t secret[TOKEN_SECRET_LEN])
{
	uint8_t h[32];
	bool ok;

	token_secret_hash(h, secret);
	ok = crypto_equal(h, hash, 32);
	crypto_wipe(h, sizeof(h));
	return ok;
}

void token_key_id(char out[TOKEN_KEY_ID_LEN + 1], const uint8_t hash[32])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < TOKEN_KEY_ID_LEN / 2; i++) {
		out[2 * i] = hex[hash[i] >> 4];
		out[2 * i + 1] = hex[hash[i] & 15];
	}
	out[TOKEN_KEY_ID_LEN] = '\0';
}

bool token_generate_secret(uint8_t secret[TOKEN_SECRET_LEN])
{
	if (crypto_random(secret, TOKEN_SECRET_LEN))
		return true;
	crypto_wipe(secret, TOKEN_SECRET_LEN);
	return false;
}

void token_wipe(struct token *t)
{
	crypto_wipe(t, sizeof(*t));
}
