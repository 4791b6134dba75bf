/*
 * stun — the STUN Binding method (RFC 8489, which obsoletes RFC 5389)
 * for the server's embedded STUN responder and the agent's discovery of
 * its server-reflexive address, with what a server needs to answer
 * RFC 3489 ("classic") clients too.  No credentials, no TURN, no ICE.
 *
 *   0   be16 type: 00 | method and class bits (0x0001 Binding request,
 *       0x0101 success, 0x0111 error, 0x0011 indication)
 *   2   be16 length of the attributes, a multiple of 4
 *   4   magic cookie 0x2112a442 (classic: part of a 16-byte id)
 *   8   transaction id (12)
 *   20  attributes: be16 type, be16 length, value padded to 4 bytes
 *
 * Pure: bytes in, bytes out; stun_request draws its transaction id from
 * crypto_random.  Nothing is read past len.  Malformed input, a bad
 * FINGERPRINT, responses and indications are never answered, so two
 * responders cannot keep each other busy.
 */
#ifndef WEFT_STUN_H
#define WEFT_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockaddr.h"

#define STUN_HDR_LEN      20
#define STUN_TXID_LEN     12
#define STUN_COOKIE       0x2112a442u
#define STUN_REQUEST_LEN  28	/* header + FINGERPRINT */
#define STUN_SOFTWARE_MAX 127	/* bytes of SOFTWARE kept (RFC 8489 §14.14) */
#define STUN_ANSWER_MAX   256	/* room stun_server_answer never exceeds */

/* True when buf has the shape of an RFC 5389/8489 message of any class:
 * top two bits zero, length field = len - 20 and a multiple of 4, the
 * magic cookie at offset 4.  Cheap; checks no attribute. */
bool stun_is(const uint8_t *buf, size_t len);

/* True when buf has the shape of a Binding request, with the cookie or
 * without (an RFC 3489 client sends a 16-byte transaction id where the
 * cookie would be): type 0x0001, length field = len - 20, a multiple of
 * 4.  Neither WireGuard message matches (their first byte is nonzero),
 * so a server may offer what this accepts to stun_server_answer. */
bool stun_is_binding_request(const uint8_t *buf, size_t len);

/* The answer to a Binding request req that came from from, written to
 * out; returns its length, or 0 when nothing must be sent: req is not a
 * well-formed Binding request (responses, indications and other methods
 * included), its FINGERPRINT is wrong or not last, from is neither IPv4
 * nor IPv6, or cap is short (STUN_ANSWER_MAX always suffices).
 *
 *   success (0x0101): MAPPED-ADDRESS, always, since RFC 3489 clients
 *     know no other (RFC 8489 §12); XOR-MAPPED-ADDRESS when req has the
 *     cookie.  An IPv4-mapped IPv6 from is reported as IPv4.
 *   420 error (0x0111): ERROR-CODE and UNKNOWN-ATTRIBUTES when req has
 *     comprehension-required attributes we do not know, or a
 *     CHANGE-REQUEST asking for another IP or port: with a single
 *     address we answer as RFC 5780 §7.2 says such a server must.
 *   both: SOFTWARE when software is not NULL (cut to STUN_SOFTWARE_MAX
 *     bytes), FINGERPRINT when req carried one.
 *
 * Answers to classic requests are shaped for their parsers (stun.c has
 * the details, and what the Debian stun-client 0.97 needs). */
size_t stun_server_answer(uint8_t *out, size_t cap, const uint8_t *req,
			  size_t len, const union wg_sockaddr *from,
			  const char *software);

/* A Binding request with a fresh random transaction id, also written to
 * txid, and a FINGERPRINT.  False only if the random source fails. */
bool stun_request(uint8_t out[STUN_REQUEST_LEN], uint8_t txid[STUN_TXID_LEN]);

/* True when buf is a well-formed Binding success response to the request
 * with this txid; *mapped (port in network order) is then set from its
 * XOR-MAPPED-ADDRESS, or from MAPPED-ADDRESS if that is all it has.
 * False, *mapped untouched, for anything else: error responses, another
 * txid, a bad FINGERPRINT, unknown comprehension-required attributes
 * (RFC 8489 §7.3.3), no usable address. */
bool stun_parse_response(const uint8_t *buf, size_t len,
			 const uint8_t txid[STUN_TXID_LEN],
			 union wg_sockaddr *mapped);

#endif
