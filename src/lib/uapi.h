/*
 * uapi — codec for the cross-platform userspace configuration protocol
 * (wireguard.com/xplatform) that `wg` and `wg-quick` speak on
 * /var/run/wireguard/IFNAME.sock.  Pure text in, structs out; no I/O.
 *
 * A "set" body is parsed completely before anything is applied, so a bad
 * line changes nothing.  Errors: negative errno values (-EINVAL for a bad
 * key or value, -EPROTO for an unknown key, -ENOMEM); err receives one
 * line naming the offending key and value.
 */
#ifndef WEFT_UAPI_H
#define WEFT_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "sockaddr.h"

enum uapi_op { UAPI_OP_NONE, UAPI_OP_GET, UAPI_OP_SET, UAPI_OP_STATS };

/*
 * Finds one request in buf.  Returns 0 when more bytes are needed, the
 * request's total length (through the terminating empty line) when
 * complete, or -EINVAL for an unknown operation line.  *op is the
 * operation ("get=1", "set=1", or weft's own "stats=1"); *body_off is where
 * the key=value lines start.
 */
long uapi_frame(const char *buf, size_t len, enum uapi_op *op, size_t *body_off);

struct uapi_aip {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t cidr;
};


struct uapi_peer {
	uint8_t public_key[32];
	bool remove, update_only, replace_allowed_ips;
	bool has_psk;		uint8_t psk[32];	/* all zero: clear */
	bool has_endpoint;	union wg_sockaddr endpoint;
	bool has_keepalive;	uint16_t keepalive;	/* seconds, 0 off */
	size_t n_aips;		struct uapi_aip *aips;
};

struct uapi_set {
	bool has_private_key;	uint8_t private_key[32];	/* zero: clear */
	bool has_listen_port;	uint16_t listen_port;
	bool has_fwmark;	uint32_t fwmark;
	bool replace_peers;
	size_t n_peers;		struct uapi_peer *peers;
};

/* Parses the key=value lines of a set request (body up to, not including,
 * the empty line).  On error *out is left empty.  Caller frees with
 * uapi_set_free, which wipes keys. */
int uapi_parse_set(const char *body, size_t len, struct uapi_set *out,
		   char *err, size_t errlen);
void uapi_set_free(struct uapi_set *s);

/* Formatting helpers for get responses.  Each returns the length written
 * (NUL-terminated) or -1 if it does not fit. */
int uapi_format_key(char *out, size_t cap, const uint8_t key[32]);	/* hex */
int uapi_format_endpoint(char *out, size_t cap, const union wg_sockaddr *ep);
/* "a.b.c.d:port" or "[v6]:port" (n bytes of s); numeric only, never a
 * host name.  False, *ep unspecified, on anything else. */
bool uapi_parse_endpoint(union wg_sockaddr *ep, const char *s, size_t n);
int uapi_format_aip(char *out, size_t cap, int family, const uint8_t *addr,
		    uint8_t cidr);

/* Key encodings: 64 lowercase hex digits (UAPI) and base64 (wg(8) files).
 * Parsers are constant-time in the key bytes and return false on bad input. */
bool uapi_parse_hex_key(uint8_t key[32], const char *hex, size_t len);
bool key_from_base64(uint8_t key[32], const char *b64, size_t len);
void key_to_base64(char out[45], const uint8_t key[32]);

#endif
