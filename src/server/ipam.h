/*
 * ipam — address and name management for the coordination server: overlay
 * prefixes, host address allocation, DNS-safe node names, join-key rules and
 * the duration syntax of --expires.  Pure: no I/O, no clock, no allocation;
 * "is this taken" questions go to the caller through callbacks, so the same
 * rules serve the SQLite store, a PostgreSQL one and the unit tests.
 *
 * Errors: functions return 0 or a negative errno.  Where an err buffer is
 * taken, a failure writes one user-facing line into it (no trailing newline)
 * naming the offending value; err may be NULL.  Callbacks answer 1 (taken),
 * 0 (free) or a negative errno, which is passed back unchanged.
 *
 * Addresses are 16-byte arrays; an IPv4 address uses the first 4 bytes (the
 * rest are zero).  Families are AF_INET and AF_INET6.
 */
#ifndef WEFT_IPAM_H
#define WEFT_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPAM_ERR_SIZE      192	/* err buffers */
#define IPAM_NAME_MAX      63	/* one DNS label (RFC 1035 §2.3.4) */
#define IPAM_NAME_SIZE     (IPAM_NAME_MAX + 1)
#define IPAM_ADDR_STRLEN   46	/* INET6_ADDRSTRLEN */
#define IPAM_PREFIX_STRLEN 50	/* address + "/128" */

/* Default IPv4 pool (RFC 6598 shared address space); each network gets one
 * /16 of it.  IPv6: a /64 per network out of the server's ULA /48. */
#define IPAM_POOL4        "100.64.0.0/10"
#define IPAM_DEFAULT_LEN4 16
#define IPAM_DEFAULT_LEN6 64
#define IPAM_ULA_LEN      48

struct ipam_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network address, host bits zero */
	unsigned len;		/* prefix length */
};

/* --- prefixes ------------------------------------------------------------ */

/* Parses "ADDR/LEN" (IPv4 or IPv6; LEN required, decimal, in range; host
 * bits must be zero).  0 or -EINVAL. */
int ipam_prefix_parse(const char *text, struct ipam_prefix *out, char *err);
/* Canonical text ("fd12:3456:789a:1::/64"). */
void ipam_prefix_format(const struct ipam_prefix *p, char out[IPAM_PREFIX_STRLEN]);
/* A prefix a network can use: at least one allocatable host (IPv4 up to
 * /30, IPv6 up to /126).  0 or -EINVAL. */
int ipam_prefix_check_network(const struct ipam_prefix *p, char *err);
bool ipam_prefix_contains(const struct ipam_prefix *p, int family,
			  const uint8_t addr[16]);
/* True when both are of one family and one contains the other. */
bool ipam_prefix_overlaps(const struct ipam_prefix *a, const struct ipam_prefix *b);

/* Parses a bare IPv4 or IPv6 address.  0 or -EINVAL. */
int ipam_addr_parse(const char *text, int *family, uint8_t addr[16]);
void ipam_addr_format(int family, const uint8_t addr[16], char out[IPAM_ADDR_STRLEN]);

/* RFC 4193 §3.2: fd00::/8 + 40-bit global id = a /48.  The caller supplies
 * the 5 random bytes (the RFC's SHA-1 recipe is only a way to get them). */
void ipam_ula_from_random(const uint8_t rnd[5], struct ipam_prefix *out);
/* The lowest /16 of 100.64.0.0/10 overlapping none of used[0..n).
 * 0 or -ENOSPC (all 64 taken). */
int ipam_default_prefix4(const struct ipam_prefix *used, size_t n,
			 struct ipam_prefix *out);
/* The lowest /64 of the ULA /48 overlapping none of used[0..n) (IPv4
 * entries are ignored).  0, -EINVAL (ula is not an IPv6 /48) or -ENOSPC. */
int ipam_default_prefix6(const struct ipam_prefix *ula,
			 const struct ipam_prefix *used, size_t n,
			 struct ipam_prefix *out);

/* --- host addresses -------------------------------------------------------
 * A host is named by its offset from the network address.  Offset 0 (the
 * network address, or IPv6 subnet-router anycast) and 1 (the server /
 * gateway: .1 or ::1) are reserved, as is the IPv4 broadcast address.  For
 * prefixes shorter than /64 only the low 64 host bits are used.
 *
 * Allocation is lowest-free for both families: a node's address does not
 * depend on its id, so the store can allocate before it inserts and a
 * freed address is the next one handed out.  hint is where the scan starts
 * (a caller's "everything below is taken" knowledge; 0 = from the start);
 * the scan wraps, so a stale hint can only cost time, never an address.
 */
typedef int (*ipam_taken_fn)(void *ctx, int family, const uint8_t addr[16]);

/* Allocatable offsets are [first, last]; false when there are none. */
bool ipam_host_range(const struct ipam_prefix *p, uint64_t *first, uint64_t *last);
/* addr = p + offset (offset must fit the host bits). */
void ipam_host_addr(const struct ipam_prefix *p, uint64_t offset, uint8_t addr[16]);
/* Offset of addr inside p.  0 or -ERANGE (not inside, or above 2^64). */
int ipam_host_offset(const struct ipam_prefix *p, const uint8_t addr[16],
		     uint64_t *offset);
/* Lowest free host at or after hint (then wrapping).  Writes addr and, when
 * not NULL, its offset.  0, -ENOSPC (no free host), or the callback's error. */
int ipam_alloc(const struct ipam_prefix *p, uint64_t hint, ipam_taken_fn taken,
	       void *ctx, uint8_t addr[16], uint64_t *offset);

/* --- names ----------------------------------------------------------------
 * A name is one DNS label: 1..63 of [a-z0-9-], not starting or ending
 * with '-'. */
typedef int (*ipam_name_taken_fn)(void *ctx, const char *name);

/* Maps a hostname to a label: only its first dot-separated label is used;
 * ASCII letters are lowercased; every other byte outside [a-z0-9] (non-ASCII
 * bytes included) becomes '-', runs of '-' collapse to one, leading and
 * trailing '-' are dropped, the result is cut to 63; empty gives "node". */
void ipam_name_from_hostname(const char *hostname, char out[IPAM_NAME_SIZE]);
/* base (a valid label) if free, else base-2, base-3, ... with base cut so
 * the whole stays within 63.  0, -EINVAL (bad base), -ENOSPC (gave up after
 * IPAM_NAME_TRIES), or the callback's error.  Cost: one callback per clash. */
#define IPAM_NAME_TRIES 1000000
int ipam_name_unique(const char *base, ipam_name_taken_fn taken, void *ctx,
		     char out[IPAM_NAME_SIZE]);
/* Validates a name given by a user (network names, renames) without mapping
 * it; what is the noun for the message ("network name").  0 or -EINVAL. */
int ipam_name_check(const char *name, const char *what, char *err);

/* --- join keys ------------------------------------------------------------ */

struct ipam_key_rule {
	bool reusable;		/* else one-off: refused once uses > 0 */
	bool ephemeral;		/* no effect on the verdict */
	bool revoked;
	int64_t expires;	/* Unix seconds; 0 = never */
	uint64_t uses;		/* successful joins so far */
};

enum ipam_key_verdict {
	IPAM_KEY_OK = 0,
	IPAM_KEY_REVOKED,	/* checked first: revocation is final */
	IPAM_KEY_EXPIRED,	/* now >= expires */
	IPAM_KEY_USED,		/* one-off key already used */
};

enum ipam_key_verdict ipam_key_check(const struct ipam_key_rule *k, int64_t now);
/* A user-facing sentence for the verdict (static string). */
const char *ipam_key_message(enum ipam_key_verdict v);

/* --- durations ------------------------------------------------------------
 * "90s", "30m", "12h", "7d", "1h30m": one or more NUMBER UNIT groups with
 * units d, h, m, s, each at most once and in that order.  The total must be
 * positive and at most IPAM_DURATION_MAX.  0 or -EINVAL. */
#define IPAM_DURATION_MAX ((int64_t)100 * 365 * 86400)
int ipam_duration_parse(const char *text, int64_t *seconds, char *err);

#endif
