/*
 * uapi — codec for the cross-platform configuration protocol
 * (wireguard.com/xplatform).  See uapi.h for the contract.
 *
 * Requests are "OP=1\n" followed by key=value lines and an empty line.  A
 * set body is parsed into struct uapi_set in full before the caller applies
 * it, so one bad line rejects the whole request, as the kernel's netlink
 * path does.  Key material is decoded without branches or table lookups on
 * its bytes, and every heap block that held a key is wiped before it is
 * released.
 */
#include "uapi.h"

#include "encoding.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- key encodings -------------------------------------------------- */

bool uapi_parse_hex_key(uint8_t key[32], const char *hex, size_t len)
{
	return hex_decode(key, 32, hex, len);
}

/* 32 bytes are 43 characters and one '=' (RFC 4648 §4). */
bool key_from_base64(uint8_t key[32], const char *b64, size_t len)
{
	return b64_decode(key, 32, b64, len, B64_STD);
}

void key_to_base64(char out[45], const uint8_t key[32])
{
	b64_encode(out, key, 32, B64_STD);
}

/* ---- framing -------------------------------------------------------- */

static const struct uapi_op_line {
	const char *line;
	enum uapi_op op;
} uapi_op_lines[] = {
	{ "get=1", UAPI_OP_GET },
	{ "set=1", UAPI_OP_SET },
	{ "stats=1", UAPI_OP_STATS },
};

#define UAPI_OP_LINE_MAX 7	/* strlen("stats=1") */
#define UAPI_N_OPS (sizeof(uapi_op_lines) / sizeof(uapi_op_lines[0]))

/* The operation named by a complete first line, or UAPI_OP_NONE. */
static enum uapi_op uapi_op_lookup(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < UAPI_N_OPS; i++)
		if (strlen(uapi_op_lines[i].line) == n &&
		    memcmp(uapi_op_lines[i].line, s, n) == 0)
			return uapi_op_lines[i].op;
	return UAPI_OP_NONE;
}

/* Whether an unterminated first line could still become a known one; lets
 * the caller drop a garbage connection after a few bytes, not megabytes. */
static bool uapi_op_could_match(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < UAPI_N_OPS; i++)
		if (n <= strlen(uapi_op_lines[i].line) &&
		    memcmp(uapi_op_lines[i].line, s, n) == 0)
			return true;
	return false;
}

/*
 * Offset just past the first empty line at or after the newline at nl_pos,
 * or 0 when there is none yet.  Each newline is visited once, so a large
 * body costs one memchr pass.
 */
static long uapi_frame_end(const char *buf, size_t len, size_t nl_pos)
{
	const char *p = buf + nl_pos, *end = buf + len, *q;

	while (p + 1 < end && (q = memchr(p + 1, '\n', (size_t)(end - p - 1)))) {
		if (q[-1] == '\n')
			return (long)(q - buf + 1);
		p = q;
	}
	return 0;
}

long uapi_frame(const char *buf, size_t len, enum uapi_op *op, size_t *body_off)
{
	size_t scan = len < UAPI_OP_LINE_MAX + 1 ? len : UAPI_OP_LINE_MAX + 1;
	const char *nl = memchr(buf, '\n', scan);
	enum uapi_op o;
	size_t off;

	*op = UAPI_OP_NONE;
	*body_off = 0;
	if (!nl)
		return uapi_op_could_match(buf, scan) ? 0 : -EINVAL;
	o = uapi_op_lookup(buf, (size_t)(nl - buf));
	if (o == UAPI_OP_NONE)
		return -EINVAL;
	off = (size_t)(nl - buf) + 1;
	*op = o;
	*body_off = off;
	if (o == UAPI_OP_SET)
		return uapi_frame_end(buf, len, off - 1);
	/* get and stats take no arguments: wireguard-go refuses anything
	 * but the empty line after them, and so do we. */
	if (len == off)
		return 0;
	if (buf[off] != '\n') {
		*op = UAPI_OP_NONE;
		*body_off = 0;
		return -EINVAL;
	}
	return (long)off + 1;
}

/* ---- set parsing ---------------------------------------------------- */

struct uapi_parser {
	struct uapi_set *set;
	struct uapi_peer *peer;	/* section being filled; NULL for device */
	size_t peer_cap;	/* allocated entries in set->peers */
	size_t aip_cap;		/* allocated entries in peer->aips */
	char *err;
	size_t errlen;
};

typedef int (*uapi_key_fn)(struct uapi_parser *p, const char *v, size_t n);

/* Unsigned decimal with no sign, space or other decoration, at most max.
 * Leading zeros are accepted, as Go's strconv.ParseUint does. */
static bool uapi_parse_uint(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* Booleans are only ever "true" on the wire; wireguard-go refuses the rest. */
static bool uapi_is_true(const char *v, size_t n)
{
	return n == 4 && memcmp(v, "true", 4) == 0;
}

/* Copies s into a C string so inet_pton sees exactly these bytes. */
static bool uapi_cstr(char *dst, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap || memchr(s, '\0', n))
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

/* "[addr]" or "[addr%scope]" with a numeric scope id; no interface names,
 * since resolving one would be I/O and this module does none. */
static bool uapi_parse_v6_host(struct sockaddr_in6 *in6, const char *s, size_t n)
{
	char host[INET6_ADDRSTRLEN];
	const char *pct;
	uint32_t scope = 0;

	if (n < 2 || s[0] != '[' || s[n - 1] != ']')
		return false;
	s++;
	n -= 2;
	pct = memchr(s, '%', n);
	if (pct) {
		if (!uapi_parse_uint(pct + 1, n - (size_t)(pct - s) - 1,
				     UINT32_MAX, &scope))
			return false;
		n = (size_t)(pct - s);
	}
	if (!uapi_cstr(host, sizeof(host), s, n) ||
	    inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
		return false;
	in6->sin6_family = AF_INET6;
	in6->sin6_scope_id = scope;
	return true;
}

bool uapi_parse_endpoint(union wg_sockaddr *ep, const char *s, size_t n)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = NULL, *q;
	uint32_t port;
	size_t hlen;

	for (q = s; (q = memchr(q, ':', n - (size_t)(q - s))); q++)
		colon = q;
	if (!colon)
		return false;
	hlen = (size_t)(colon - s);
	if (!uapi_parse_uint(colon + 1, n - hlen - 1, 65535, &port))
		return false;
	memset(ep, 0, sizeof(*ep));
	if (hlen && s[0] == '[') {
		if (!uapi_parse_v6_host(&ep->in6, s, hlen))
			return false;
		ep->in6.sin6_port = htons((uint16_t)port);
		return true;
	}
	if (!uapi_cstr(host, sizeof(host), s, hlen) ||
	    inet_pton(AF_INET, host, &ep->in4.sin_addr) != 1)
		return false;
	ep->in4.sin_family = AF_INET;
	ep->in4.sin_port = htons((uint16_t)port);
	return true;
}

/* Prefix length: decimal without leading zeros, at most max. */
static bool uapi_parse_cidr_bits(const char *s, size_t n, uint32_t max,
				 uint8_t *out)
{
	uint32_t v;

	if (n > 1 && s[0] == '0')
		return false;
	if (!uapi_parse_uint(s, n, max, &v))
		return false;
	*out = (uint8_t)v;
	return true;
}

/* "addr/cidr", v4 or v6; host bits are kept (allowedips masks them). */
static bool uapi_parse_aip(struct uapi_aip *a, const char *s, size_t n)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = memchr(s, '/', n);
	size_t hlen;

	if (!slash)
		return false;
	hlen = (size_t)(slash - s);
	memset(a, 0, sizeof(*a));
	if (!uapi_cstr(host, sizeof(host), s, hlen))
		return false;
	a->family = memchr(s, ':', hlen) ? AF_INET6 : AF_INET;
	if (inet_pton(a->family, host, a->addr) != 1)
		return false;
	return uapi_parse_cidr_bits(slash + 1, n - hlen - 1,
				    a->family == AF_INET ? 32 : 128, &a->cidr);
}

/*
 * Makes room for one more peer.  Not realloc: the old block holds
 * preshared keys, and realloc may leave a copy of them in freed memory.
 */
static int uapi_grow_peers(struct uapi_parser *p)
{
	struct uapi_set *s = p->set;
	struct uapi_peer *np;
	size_t cap;

	if (s->n_peers < p->peer_cap)
		return 0;
	cap = p->peer_cap ? p->peer_cap * 2 : 8;
	if (cap > SIZE_MAX / sizeof(*np))
		return -ENOMEM;
	np = calloc(cap, sizeof(*np));
	if (!np)
		return -ENOMEM;
	if (s->n_peers) {
		memcpy(np, s->peers, s->n_peers * sizeof(*np));
		explicit_bzero(s->peers, s->n_peers * sizeof(*np));
	}
	free(s->peers);
	s->peers = np;
	p->peer_cap = cap;
	return 0;
}

/* Allowed IPs hold no secrets, so plain geometric realloc is fine. */
static int uapi_grow_aips(struct uapi_parser *p)
{
	struct uapi_peer *peer = p->peer;
	struct uapi_aip *na;
	size_t cap;

	if (peer->n_aips < p->aip_cap)
		return 0;
	cap = p->aip_cap ? p->aip_cap * 2 : 4;
	if (cap > SIZE_MAX / sizeof(*na))
		return -ENOMEM;
	na = realloc(peer->aips, cap * sizeof(*na));
	if (!na)
		return -ENOMEM;
	peer->aips = na;
	p->aip_cap = cap;
	return 0;
}

static int uapi_key_private_key(struct uapi_parser *p, const char *v, size_t n)
{
	if (!uapi_parse_hex_key(p->set->private_key, v, n))
		return -EINVAL;
	p->set->has_private_key = true;
	return 0;
}

static int uapi_key_listen_port(struct uapi_parser *p, const char *v, size_t n)
{
	uint32_t port;

	if (!uapi_parse_uint(v, n, 65535, &port))
		return -EINVAL;
	p->set->listen_port = (uint16_t)port;
	p->set->has_listen_port = true;
	return 0;
}

static int uapi_key_fwmark(struct uapi_parser *p, const char *v, size_t n)
{
	if (!uapi_parse_uint(v, n, UINT32_MAX, &p->set->fwmark))
		return -EINVAL;
	p->set->has_fwmark = true;
	return 0;
}

static int uapi_key_replace_peers(struct uapi_parser *p, const char *v, size_t n)
{
	if (!uapi_is_true(v, n))
		return -EINVAL;
	p->set->replace_peers = true;
	return 0;
}

/* Every public_key line opens a new section, even for a key seen before:
 * the caller applies sections in order, as wireguard-go does. */
static int uapi_key_public_key(struct uapi_parser *p, const char *v, size_t n)
{
	uint8_t pk[32];

	if (!uapi_parse_hex_key(pk, v, n))
		return -EINVAL;
	if (uapi_grow_peers(p))
		return -ENOMEM;
	p->peer = &p->set->peers[p->set->n_peers++];
	memset(p->peer, 0, sizeof(*p->peer));
	memcpy(p->peer->public_key, pk, sizeof(pk));
	p->aip_cap = 0;
	return 0;
}

static int uapi_key_remove(struct uapi_parser *p, const char *v, size_t n)
{
	if (!uapi_is_true(v, n))
		return -EINVAL;
	p->peer->remove = true;
	return 0;
}

static int uapi_key_update_only(struct uapi_parser *p, const char *v, size_t n)
{
	if (!uapi_is_true(v, n))
		return -EINVAL;
	p->peer->update_only = true;
	return 0;
}

static int uapi_key_preshared_key(struct uapi_parser *p, const char *v, size_t n)
{
	if (!uapi_parse_hex_key(p->peer->psk, v, n))
		return -EINVAL;
	p->peer->has_psk = true;
	return 0;
}

static int uapi_key_endpoint(struct uapi_parser *p, const char *v, size_t n)
{
	if (!uapi_parse_endpoint(&p->peer->endpoint, v, n))
		return -EINVAL;
	p->peer->has_endpoint = true;
	return 0;
}

static int uapi_key_keepalive(struct uapi_parser *p, const char *v, size_t n)
{
	uint32_t secs;

	if (!uapi_parse_uint(v, n, 65535, &secs))
		return -EINVAL;
	p->peer->keepalive = (uint16_t)secs;
	p->peer->has_keepalive = true;
	return 0;
}

/*
 * wireguard-go applies lines in order, so replace_allowed_ips after some
 * allowed_ip lines also discards those.  Dropping them here keeps that
 * meaning with a single flag that the caller applies first.
 */
static int uapi_key_replace_aips(struct uapi_parser *p, const char *v, size_t n)
{
	if (!uapi_is_true(v, n))
		return -EINVAL;
	p->peer->replace_allowed_ips = true;
	p->peer->n_aips = 0;
	return 0;
}

static int uapi_key_allowed_ip(struct uapi_parser *p, const char *v, size_t n)
{
	struct uapi_aip a;

	if (!uapi_parse_aip(&a, v, n))
		return -EINVAL;
	if (uapi_grow_aips(p))
		return -ENOMEM;
	p->peer->aips[p->peer->n_aips++] = a;
	return 0;
}

static int uapi_key_protocol_version(struct uapi_parser *p, const char *v,
				     size_t n)
{
	return n == 1 && v[0] == '1' ? 0 : -EINVAL;
}

enum uapi_scope { UAPI_SCOPE_DEVICE, UAPI_SCOPE_PEER, UAPI_SCOPE_START };

static const struct uapi_key {
	const char *name;
	enum uapi_scope scope;
	bool secret;		/* value never echoed into err */
	uapi_key_fn fn;
	const char *expect;
} uapi_keys[] = {
	{ "private_key", UAPI_SCOPE_DEVICE, true, uapi_key_private_key,
	  "expected 64 hex digits" },
	{ "listen_port", UAPI_SCOPE_DEVICE, false, uapi_key_listen_port,
	  "expected a port 0-65535" },
	{ "fwmark", UAPI_SCOPE_DEVICE, false, uapi_key_fwmark,
	  "expected a decimal 0-4294967295" },
	{ "replace_peers", UAPI_SCOPE_DEVICE, false, uapi_key_replace_peers,
	  "expected \"true\"" },
	{ "public_key", UAPI_SCOPE_START, false, uapi_key_public_key,
	  "expected 64 hex digits" },
	{ "remove", UAPI_SCOPE_PEER, false, uapi_key_remove,
	  "expected \"true\"" },
	{ "update_only", UAPI_SCOPE_PEER, false, uapi_key_update_only,
	  "expected \"true\"" },
	{ "preshared_key", UAPI_SCOPE_PEER, true, uapi_key_preshared_key,
	  "expected 64 hex digits" },
	{ "endpoint", UAPI_SCOPE_PEER, false, uapi_key_endpoint,
	  "expected a.b.c.d:port or [v6]:port" },
	{ "persistent_keepalive_interval", UAPI_SCOPE_PEER, false,
	  uapi_key_keepalive, "expected seconds 0-65535" },
	{ "replace_allowed_ips", UAPI_SCOPE_PEER, false, uapi_key_replace_aips,
	  "expected \"true\"" },
	{ "allowed_ip", UAPI_SCOPE_PEER, false, uapi_key_allowed_ip,
	  "expected address/cidr" },
	{ "protocol_version", UAPI_SCOPE_PEER, false, uapi_key_protocol_version,
	  "only version 1 is supported" },
};

static const struct uapi_key *uapi_key_lookup(const char *k, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(uapi_keys) / sizeof(uapi_keys[0]); i++)
		if (strlen(uapi_keys[i].name) == n &&
		    memcmp(uapi_keys[i].name, k, n) == 0)
			return &uapi_keys[i];
	return NULL;
}

/* Printable, bounded copy of untrusted bytes for an error line; no
 * newline can leak through and split the reply. */
static void uapi_quote(char *dst, size_t cap, const char *s, size_t n)
{
	size_t i, room = cap - 4;	/* leaves space for "..." and NUL */

	for (i = 0; i < n && i < room; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
	if (i < n) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

static int uapi_fail(struct uapi_parser *p, int ret, const char *fmt, ...)
{
	va_list ap;

	if (p->err && p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Checks the key may appear here, then hands the value to its parser. */
static int uapi_apply_key(struct uapi_parser *p, const struct uapi_key *k,
			  const char *v, size_t n)
{
	char shown[48];
	int ret;

	if (k->scope == UAPI_SCOPE_DEVICE && p->peer)
		return uapi_fail(p, -EINVAL, "%s: device key after public_key",
				 k->name);
	if (k->scope == UAPI_SCOPE_PEER && !p->peer)
		return uapi_fail(p, -EINVAL, "%s: peer key before public_key",
				 k->name);
	ret = k->fn(p, v, n);
	if (ret == -ENOMEM)
		return uapi_fail(p, ret, "%s: out of memory", k->name);
	if (ret == 0)
		return 0;
	if (k->secret)
		return uapi_fail(p, ret, "invalid %s (value not shown): %s",
				 k->name, k->expect);
	uapi_quote(shown, sizeof(shown), v, n);
	return uapi_fail(p, ret, "invalid %s \"%s\": %s", k->name, shown,
			 k->expect);
}

static int uapi_parse_line(struct uapi_parser *p, const char *line, size_t n)
{
	const char *eq = memchr(line, '=', n);
	const struct uapi_key *k;
	char shown[48];
	size_t klen;

	if (n == 0)
		return uapi_fail(p, -EINVAL, "empty line inside a set body");
	if (memchr(line, '\0', n))
		return uapi_fail(p, -EINVAL, "NUL byte in a set line");
	if (!eq) {
		uapi_quote(shown, sizeof(shown), line, n);
		return uapi_fail(p, -EINVAL, "line \"%s\" has no '='", shown);
	}
	klen = (size_t)(eq - line);
	k = uapi_key_lookup(line, klen);
	if (!k) {
		uapi_quote(shown, sizeof(shown), line, klen);
		return uapi_fail(p, -EPROTO, "unknown key \"%s\"", shown);
	}
	return uapi_apply_key(p, k, eq + 1, n - klen - 1);
}

int uapi_parse_set(const char *body, size_t len, struct uapi_set *out,
		   char *err, size_t errlen)
{
	struct uapi_parser p = { out, NULL, 0, 0, err, errlen };
	const char *line, *nl;
	size_t off = 0, n;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	while (off < len && ret == 0) {
		line = body + off;
		nl = memchr(line, '\n', len - off);
		n = nl ? (size_t)(nl - line) : len - off;
		ret = uapi_parse_line(&p, line, n);
		off += n + 1;
	}
	if (ret)
		uapi_set_free(out);
	return ret;
}

void uapi_set_free(struct uapi_set *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n_peers; i++)
		free(s->peers[i].aips);
	if (s->peers) {
		explicit_bzero(s->peers, s->n_peers * sizeof(*s->peers));
		free(s->peers);
	}
	explicit_bzero(s, sizeof(*s));
}

/* ---- formatting ----------------------------------------------------- */

/* snprintf's result as this module's convention: length, or -1. */
static int uapi_fit(int n, size_t cap)
{
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int uapi_format_key(char *out, size_t cap, const uint8_t key[32])
{
	if (cap < 65)
		return -1;
	hex_encode(out, key, 32);
	return 64;
}

int uapi_format_endpoint(char *out, size_t cap, const union wg_sockaddr *ep)
{
	char host[INET6_ADDRSTRLEN];

	if (ep->sa.sa_family == AF_INET) {
		if (!inet_ntop(AF_INET, &ep->in4.sin_addr, host, sizeof(host)))
			return -1;
		return uapi_fit(snprintf(out, cap, "%s:%u", host,
					 (unsigned)ntohs(ep->in4.sin_port)), cap);
	}
	if (wg_sockaddr_is_relay(ep))
		return uapi_fit(snprintf(out, cap, "relay"), cap);
	if (ep->sa.sa_family != AF_INET6 ||
	    !inet_ntop(AF_INET6, &ep->in6.sin6_addr, host, sizeof(host)))
		return -1;
	if (ep->in6.sin6_scope_id)
		return uapi_fit(snprintf(out, cap, "[%s%%%lu]:%u", host,
					 (unsigned long)ep->in6.sin6_scope_id,
					 (unsigned)ntohs(ep->in6.sin6_port)), cap);
	return uapi_fit(snprintf(out, cap, "[%s]:%u", host,
				 (unsigned)ntohs(ep->in6.sin6_port)), cap);
}

int uapi_format_aip(char *out, size_t cap, int family, const uint8_t *addr,
		    uint8_t cidr)
{
	char host[INET6_ADDRSTRLEN];
	unsigned bits = family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;

	if (bits == 0 || cidr > bits)
		return -1;
	if (!inet_ntop(family, addr, host, sizeof(host)))
		return -1;
	return uapi_fit(snprintf(out, cap, "%s/%u", host, (unsigned)cidr), cap);
}
