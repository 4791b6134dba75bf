/*
 * ipam — prefixes, host allocation, DNS-safe names, join-key rules and
 * durations.  See ipam.h; everything here is pure.
 */
#include "ipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define IPAM_QUOTE_MAX 48	/* bytes of a bad value shown in a message */

/* Writes in into out as printable text, \xNN for other bytes, cut with
 * "..." so that a hostile value cannot flood a log line. */
static void ipam_quote(const char *in, char *out, size_t size)
{
	size_t o = 0, i;

	for (i = 0; in[i] && o + 5 < size && i < IPAM_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '"')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	if (in[i] && o + 4 < size)
		o += (size_t)snprintf(out + o, size - o, "...");
	out[o] = '\0';
}

static void ipam_err(char *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err, IPAM_ERR_SIZE, fmt, ap);
	va_end(ap);
}

/* --- prefixes ------------------------------------------------------------ */

static unsigned ipam_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static size_t ipam_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* True when every bit of addr at or after position len is zero. */
static bool ipam_host_bits_zero(int family, const uint8_t *addr, unsigned len)
{
	for (unsigned b = len; b < ipam_bits(family); b++)
		if (addr[b / 8] & (0x80 >> (b % 8)))
			return false;
	return true;
}

static void ipam_mask(uint8_t *addr, int family, unsigned len)
{
	for (unsigned b = len; b < ipam_bits(family); b++)
		addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
}

int ipam_addr_parse(const char *text, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

void ipam_addr_format(int family, const uint8_t addr[16], char out[IPAM_ADDR_STRLEN])
{
	if (!inet_ntop(family, addr, out, IPAM_ADDR_STRLEN))
		out[0] = '\0';
}

/* Decimal 0..max with no sign, no leading zero, no junk.  -1 if bad. */
static int ipam_parse_len(const char *s, unsigned max)
{
	unsigned v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || (v = v * 10 + (unsigned)(*s - '0')) > max)
			return -1;
	}
	return (int)v;
}

static int ipam_prefix_split(const char *text, char *addr, size_t size,
			     const char **len, char *err)
{
	char q[IPAM_ERR_SIZE / 2];
	const char *slash = strchr(text, '/');

	ipam_quote(text, q, sizeof(q));
	if (!slash) {
		ipam_err(err, "\"%s\": not a prefix (expected ADDRESS/LENGTH, e.g. 100.64.0.0/16)", q);
		return -EINVAL;
	}
	if ((size_t)(slash - text) >= size) {
		ipam_err(err, "\"%s\": not a valid IP address before '/'", q);
		return -EINVAL;
	}
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	*len = slash + 1;
	return 0;
}

int ipam_prefix_parse(const char *text, struct ipam_prefix *out, char *err)
{
	char a[IPAM_ADDR_STRLEN], q[IPAM_ERR_SIZE / 2], fixed[IPAM_PREFIX_STRLEN];
	const char *lenstr;
	int len, rc;

	if ((rc = ipam_prefix_split(text, a, sizeof(a), &lenstr, err)))
		return rc;
	ipam_quote(text, q, sizeof(q));
	memset(out, 0, sizeof(*out));
	if (ipam_addr_parse(a, &out->family, out->addr)) {
		ipam_err(err, "\"%s\": not a valid IPv4 or IPv6 address before '/'", q);
		return -EINVAL;
	}
	if ((len = ipam_parse_len(lenstr, ipam_bits(out->family))) < 0) {
		ipam_err(err, "\"%s\": prefix length must be a number from 0 to %u",
			 q, ipam_bits(out->family));
		return -EINVAL;
	}
	out->len = (unsigned)len;
	if (!ipam_host_bits_zero(out->family, out->addr, out->len)) {
		ipam_mask(out->addr, out->family, out->len);
		ipam_prefix_format(out, fixed);
		ipam_err(err, "\"%s\": host bits are set (did you mean %s?)", q, fixed);
		return -EINVAL;
	}
	return 0;
}

void ipam_prefix_format(const struct ipam_prefix *p, char out[IPAM_PREFIX_STRLEN])
{
	char a[IPAM_ADDR_STRLEN];

	ipam_addr_format(p->family, p->addr, a);
	snprintf(out, IPAM_PREFIX_STRLEN, "%s/%u", a, p->len);
}

int ipam_prefix_check_network(const struct ipam_prefix *p, char *err)
{
	char t[IPAM_PREFIX_STRLEN];
	uint64_t first, last;

	if (ipam_host_range(p, &first, &last))
		return 0;
	ipam_prefix_format(p, t);
	ipam_err(err, "%s: too small for a network (%s prefixes must be /%u or shorter)",
		 t, p->family == AF_INET ? "IPv4" : "IPv6", p->family == AF_INET ? 30 : 126);
	return -EINVAL;
}

bool ipam_prefix_contains(const struct ipam_prefix *p, int family,
			  const uint8_t addr[16])
{
	uint8_t a[16];

	if (family != p->family)
		return false;
	memcpy(a, addr, 16);
	ipam_mask(a, family, p->len);
	return memcmp(a, p->addr, ipam_bytes(family)) == 0;
}

bool ipam_prefix_overlaps(const struct ipam_prefix *a, const struct ipam_prefix *b)
{
	const struct ipam_prefix *wide = a->len <= b->len ? a : b;
	const struct ipam_prefix *narrow = wide == a ? b : a;

	return ipam_prefix_contains(wide, narrow->family, narrow->addr);
}

void ipam_ula_from_random(const uint8_t rnd[5], struct ipam_prefix *out)
{
	memset(out, 0, sizeof(*out));
	out->family = AF_INET6;
	out->addr[0] = 0xfd;			/* fc00::/7 with L = 1 */
	memcpy(out->addr + 1, rnd, 5);		/* 40-bit global id */
	out->len = IPAM_ULA_LEN;
}

static bool ipam_overlaps_any(const struct ipam_prefix *p,
			      const struct ipam_prefix *used, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ipam_prefix_overlaps(p, &used[i]))
			return true;
	return false;
}

int ipam_default_prefix4(const struct ipam_prefix *used, size_t n,
			 struct ipam_prefix *out)
{
	/* 100.64.0.0/10 holds the /16s 100.64 .. 100.127. */
	for (unsigned second = 64; second < 128; second++) {
		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		out->addr[0] = 100;
		out->addr[1] = (uint8_t)second;
		out->len = IPAM_DEFAULT_LEN4;
		if (!ipam_overlaps_any(out, used, n))
			return 0;
	}
	return -ENOSPC;
}

int ipam_default_prefix6(const struct ipam_prefix *ula,
			 const struct ipam_prefix *used, size_t n,
			 struct ipam_prefix *out)
{
	if (ula->family != AF_INET6 || ula->len != IPAM_ULA_LEN)
		return -EINVAL;
	/* RFC 4193 §3.1: the 16-bit subnet id follows the /48. */
	for (unsigned subnet = 0; subnet <= 0xffff; subnet++) {
		*out = *ula;
		out->addr[6] = (uint8_t)(subnet >> 8);
		out->addr[7] = (uint8_t)subnet;
		out->len = IPAM_DEFAULT_LEN6;
		if (!ipam_overlaps_any(out, used, n))
			return 0;
	}
	return -ENOSPC;
}

/* --- host addresses ------------------------------------------------------ */

bool ipam_host_range(const struct ipam_prefix *p, uint64_t *first, uint64_t *last)
{
	unsigned host = ipam_bits(p->family) - p->len;

	*first = 2;				/* network, gateway */
	*last = host >= 64 ? UINT64_MAX : ((uint64_t)1 << host) - 1;
	if (p->family == AF_INET && *last > 0)
		*last -= 1;			/* broadcast */
	return host >= 2 && *first <= *last;
}

void ipam_host_addr(const struct ipam_prefix *p, uint64_t offset, uint8_t addr[16])
{
	size_t n = ipam_bytes(p->family);

	memcpy(addr, p->addr, 16);
	for (size_t i = 0; i < 8 && i < n; i++)
		addr[n - 1 - i] |= (uint8_t)(offset >> (8 * i));
}

int ipam_host_offset(const struct ipam_prefix *p, const uint8_t addr[16],
		     uint64_t *offset)
{
	size_t n = ipam_bytes(p->family);
	uint8_t a[16];

	if (!ipam_prefix_contains(p, p->family, addr))
		return -ERANGE;
	memcpy(a, addr, 16);
	for (unsigned b = 0; b < p->len; b++)		/* clear network bits */
		a[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	for (size_t i = 0; i + 8 < n; i++)
		if (a[i])
			return -ERANGE;
	*offset = 0;
	for (size_t i = n > 8 ? n - 8 : 0; i < n; i++)
		*offset = *offset << 8 | a[i];
	return 0;
}

/* One candidate: 1 taken, 0 free (addr written), <0 error. */
static int ipam_try(const struct ipam_prefix *p, uint64_t o, ipam_taken_fn taken,
		    void *ctx, uint8_t addr[16])
{
	ipam_host_addr(p, o, addr);
	return taken(ctx, p->family, addr);
}

/* Scans [from, to]; 0 found (*o set), 1 all taken, <0 error. */
static int ipam_scan(const struct ipam_prefix *p, uint64_t from, uint64_t to,
		     ipam_taken_fn taken, void *ctx, uint8_t addr[16], uint64_t *o)
{
	for (uint64_t i = from;; i++) {
		int rc = ipam_try(p, i, taken, ctx, addr);
		if (rc <= 0) {
			*o = i;
			return rc;
		}
		if (i == to)
			return 1;
	}
}

int ipam_alloc(const struct ipam_prefix *p, uint64_t hint, ipam_taken_fn taken,
	       void *ctx, uint8_t addr[16], uint64_t *offset)
{
	uint64_t first, last, o = 0;
	int rc = 1;

	if (!ipam_host_range(p, &first, &last))
		return -ENOSPC;
	if (hint < first || hint > last)
		hint = first;
	rc = ipam_scan(p, hint, last, taken, ctx, addr, &o);
	if (rc == 1 && hint > first)
		rc = ipam_scan(p, first, hint - 1, taken, ctx, addr, &o);
	if (rc == 1)
		return -ENOSPC;
	if (rc == 0 && offset)
		*offset = o;
	return rc;
}

/* --- names --------------------------------------------------------------- */

static bool ipam_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static char ipam_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void ipam_trim_dash(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '-')
		s[--n] = '\0';
}

void ipam_name_from_hostname(const char *hostname, char out[IPAM_NAME_SIZE])
{
	size_t o = 0;

	for (const char *p = hostname; *p && *p != '.' && o < IPAM_NAME_MAX; p++) {
		char c = ipam_lower(*p);
		if (ipam_label_char(c))
			out[o++] = c;
		else if (o > 0 && out[o - 1] != '-')
			out[o++] = '-';		/* no leading '-', runs collapse */
	}
	out[o] = '\0';
	ipam_trim_dash(out);
	if (!out[0])
		snprintf(out, IPAM_NAME_SIZE, "node");
}

int ipam_name_check(const char *name, const char *what, char *err)
{
	char q[IPAM_ERR_SIZE / 2];
	size_t n = strlen(name);

	ipam_quote(name, q, sizeof(q));
	if (n == 0) {
		ipam_err(err, "%s is empty", what);
		return -EINVAL;
	}
	if (n > IPAM_NAME_MAX) {
		ipam_err(err, "%s \"%s\" is %zu characters long; at most %d are allowed",
			 what, q, n, IPAM_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (ipam_label_char(name[i]) || name[i] == '-')
			continue;
		ipam_err(err, "%s \"%s\": character %zu is not allowed "
			 "(use lowercase a-z, digits and '-')", what, q, i + 1);
		return -EINVAL;
	}
	if (name[0] == '-' || name[n - 1] == '-') {
		ipam_err(err, "%s \"%s\" must not start or end with '-'", what, q);
		return -EINVAL;
	}
	return 0;
}

/* out = base cut to fit + "-k". */
static void ipam_name_suffixed(const char *base, unsigned long k,
			       char out[IPAM_NAME_SIZE])
{
	char suffix[24];
	size_t sl = (size_t)snprintf(suffix, sizeof(suffix), "-%lu", k);
	size_t bl = strlen(base);

	if (bl > IPAM_NAME_MAX - sl)
		bl = IPAM_NAME_MAX - sl;
	memcpy(out, base, bl);
	out[bl] = '\0';
	ipam_trim_dash(out);
	strcat(out, suffix);
}

int ipam_name_unique(const char *base, ipam_name_taken_fn taken, void *ctx,
		     char out[IPAM_NAME_SIZE])
{
	int rc;

	if (ipam_name_check(base, "name", NULL))
		return -EINVAL;
	snprintf(out, IPAM_NAME_SIZE, "%s", base);
	for (unsigned long k = 2; (rc = taken(ctx, out)) == 1; k++) {
		if (k > IPAM_NAME_TRIES)
			return -ENOSPC;
		ipam_name_suffixed(base, k, out);
	}
	return rc;
}

/* --- join keys ----------------------------------------------------------- */

enum ipam_key_verdict ipam_key_check(const struct ipam_key_rule *k, int64_t now)
{
	if (k->revoked)
		return IPAM_KEY_REVOKED;
	if (k->expires != 0 && now >= k->expires)
		return IPAM_KEY_EXPIRED;
	if (!k->reusable && k->uses > 0)
		return IPAM_KEY_USED;
	return IPAM_KEY_OK;
}

const char *ipam_key_message(enum ipam_key_verdict v)
{
	switch (v) {
	case IPAM_KEY_OK:
		return "join key accepted";
	case IPAM_KEY_REVOKED:
		return "join key has been revoked; ask the administrator for a new one";
	case IPAM_KEY_EXPIRED:
		return "join key has expired; ask the administrator for a new one";
	case IPAM_KEY_USED:
		return "join key was for one use only and has already been used; "
		       "ask the administrator for a new one";
	}
	return "join key refused";
}

/* --- durations ----------------------------------------------------------- */

static const struct { char unit; int64_t seconds; } ipam_units[] = {
	{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
};

/* Index of unit c in ipam_units, or -1. */
static int ipam_unit_index(char c)
{
	for (int i = 0; i < 4; i++)
		if (ipam_units[i].unit == c)
			return i;
	return -1;
}

/* Reads one NUMBER UNIT group at *p; unit index must exceed *last. */
static int ipam_duration_group(const char **p, int *last, int64_t *total)
{
	int64_t v = 0;
	const char *s = *p;
	int u;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > IPAM_DURATION_MAX)
			return -ERANGE;
	}
	if ((u = ipam_unit_index(*s)) <= *last)
		return -EINVAL;
	if (v > (IPAM_DURATION_MAX - *total) / ipam_units[u].seconds)
		return -ERANGE;
	*total += v * ipam_units[u].seconds;
	*last = u;
	*p = s + 1;
	return 0;
}

int ipam_duration_parse(const char *text, int64_t *seconds, char *err)
{
	char q[IPAM_ERR_SIZE / 2];
	const char *p = text;
	int64_t total = 0;
	int last = -1, rc = 0;

	ipam_quote(text, q, sizeof(q));
	while (*p && (rc = ipam_duration_group(&p, &last, &total)) == 0)
		;
	if (rc == -ERANGE) {
		ipam_err(err, "duration \"%s\" is too long (at most 100 years)", q);
		return -EINVAL;
	}
	if (rc || !*text) {
		ipam_err(err, "duration \"%s\" is not valid (use e.g. 90s, 30m, 12h, 7d or 1h30m)", q);
		return -EINVAL;
	}
	if (total == 0) {
		ipam_err(err, "duration \"%s\" must be greater than zero", q);
		return -EINVAL;
	}
	*seconds = total;
	return 0;
}
