/*
 * ctl — codec for the control messages a node and the server exchange
 * inside their WireGuard session (docs/control-plane.md).  Bytes in,
 * struct out and back; no I/O, no heap.
 *
 * Wire layout.  Every integer is little-endian; addresses are byte strings
 * in network order.
 *
 *   header (16):  magic "WFT1" (4) | type (1) | flags (1) | reserved (2) = 0
 *                 | request id (8)
 *   then TLVs:    type (2) | length (2) | value (length)
 *
 * A message is at most CTL_MAX_MSG (1200) bytes, so it always fits one
 * datagram inside a 1280-byte tunnel MTU (IPv6 40 + UDP 8 leave room).
 * No flags are defined yet: a set flag is rejected rather than ignored.
 *
 * TLV type ranges:
 *   0x0000           invalid, rejected.
 *   0x0001..0x7fff   critical: a receiver that does not know the type
 *                    rejects the message.  Every TLV defined below is here.
 *   0x8000..0xffff   optional: skipped when unknown (after its length has
 *                    been checked against the buffer), so later versions
 *                    may add hints that older peers ignore.
 * A known TLV that a message type does not carry is rejected; TLVs may come
 * in any order (the encoder writes them in ascending type order, repeated
 * ones in array order); a TLV that is not repeatable may appear only once.
 *
 * Values (fixed sizes are exact, strings are 1..max bytes of printable
 * bytes: none below 0x20 and no 0x7f; bytes >= 0x80 pass through):
 *
 *   JOIN_SECRET  32             NODE_ID      u64, nonzero
 *   HOSTNAME     string <= 63   IPV4         addr (4) | prefix (1) <= 32
 *   NAME         string <= 253  IPV6         addr (16) | prefix (1) <= 128
 *   PUBLIC_KEY   32, not zero   TARGET_IPV4  addr (4)
 *   ENDPOINT     19, repeated   TARGET_IPV6  addr (16)
 *   RELAY        19, repeated   NOTIFY_KIND  u8, enum ctl_notify
 *   STUN         19, repeated (a STUN server the node may ask)
 *   TAG          string <= 63, repeated     ERROR_CODE   u16, nonzero
 *   ERROR_MSG    string <= 200  CURSOR       u64
 *   PEER         node id (8) | public key (32) | ipv4 (4) | ipv6 (16)
 *                | name (1..63), repeated (LIST_OK entries)
 *
 * An endpoint (and a relay) is family (1: 4 or 6) | address (16: an IPv4
 * address in the first 4 bytes, the other 12 zero) | port (2, nonzero).
 *
 * What each message carries (R required, O optional, * repeated, at most
 * CTL_MAX_ENDPOINTS / _RELAYS / _TAGS / _PEERS):
 *
 *   REGISTER    R JOIN_SECRET, R HOSTNAME, O ENDPOINT*
 *   REGISTER_OK R NODE_ID, R IPV4, R IPV6, R NAME (the FQDN), O TAG*,
 *               O RELAY*, O STUN*
 *   LOOKUP      exactly one of TARGET_IPV4, TARGET_IPV6, NAME, PUBLIC_KEY
 *               (by key: who is this stranger that sent us an initiation?)
 *   LOOKUP_OK   R NODE_ID, R PUBLIC_KEY, R IPV4, R IPV6, R NAME,
 *               O ENDPOINT*, O RELAY*, O TAG*
 *   NOTIFY      R NOTIFY_KIND, R NODE_ID, R PUBLIC_KEY, and unless the kind
 *               is PEER_REMOVED also R IPV4, R IPV6, R NAME, O ENDPOINT*,
 *               O RELAY*; PEER_REMOVED carries nothing else
 *   ENDPOINTS   R ENDPOINT* (at least one)
 *   LIST        R CURSOR (0: from the start)
 *   LIST_OK     R CURSOR (next page; 0: no more), O PEER*
 *   LOGOUT, OK  nothing
 *   ERROR       R ERROR_CODE, O ERROR_MSG
 *
 * Errors: negative errno values.
 *   ctl_decode:  -EMSGSIZE  longer than CTL_MAX_MSG;
 *                -EBADMSG   malformed: short header, bad magic, nonzero
 *                           reserved, truncated TLV, TLV type 0, wrong
 *                           length for the type, bad value;
 *                -EPROTO    well formed but against the rules above:
 *                           unknown message type, set flag, unknown
 *                           critical TLV, TLV not carried by the type,
 *                           duplicate, too many repeats, required missing.
 *   ctl_encode:  -EINVAL    the struct breaks the same rules;
 *                -EMSGSIZE  the encoding would exceed CTL_MAX_MSG (send
 *                           fewer LIST_OK entries);
 *                -ENOBUFS   it does not fit in cap.
 *
 * Ownership: struct ctl_msg is plain data, caller-allocated, no pointers.
 * A struct holding a JOIN_SECRET is wiped with ctl_msg_wipe when done.
 */
#ifndef WEFT_CTL_H
#define WEFT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAGIC         "WFT1"
#define CTL_HEADER_LEN    16
#define CTL_TLV_HEADER_LEN 4
#define CTL_MAX_MSG       1200
#define CTL_PORT          7946

#define CTL_HOSTNAME_MAX  63
#define CTL_NAME_MAX      253
#define CTL_TAG_MAX       63
#define CTL_ERROR_MSG_MAX 200
#define CTL_PEER_NAME_MAX 63

#define CTL_MAX_ENDPOINTS 16
#define CTL_MAX_RELAYS    16
#define CTL_MAX_TAGS      16
#define CTL_MAX_PEERS     16

#define CTL_ENDPOINT_LEN  19	/* family + address + port */
#define CTL_PEER_FIXED_LEN 60	/* PEER value without its name */

#define CTL_TLV_OPTIONAL  0x8000	/* types from here on may be skipped */

enum ctl_type {
	CTL_REGISTER = 1,	/* node -> server */
	CTL_REGISTER_OK,	/* server -> node */
	CTL_LOOKUP,		/* node -> server */
	CTL_LOOKUP_OK,		/* server -> node */
	CTL_NOTIFY,		/* server -> node; the node answers OK */
	CTL_ENDPOINTS,		/* node -> server; answered OK */
	CTL_LIST,		/* node -> server */
	CTL_LIST_OK,		/* server -> node */
	CTL_LOGOUT,		/* node -> server; answered OK */
	CTL_OK,
	CTL_ERROR,
	CTL_TYPE_MAX = CTL_ERROR
};

enum ctl_tlv {
	CTL_T_JOIN_SECRET = 1,
	CTL_T_HOSTNAME,
	CTL_T_NODE_ID,
	CTL_T_IPV4,
	CTL_T_IPV6,
	CTL_T_NAME,
	CTL_T_PUBLIC_KEY,
	CTL_T_ENDPOINT,		/* repeated */
	CTL_T_RELAY,		/* repeated */
	CTL_T_TARGET_IPV4,
	CTL_T_TARGET_IPV6,
	CTL_T_NOTIFY_KIND,
	CTL_T_ERROR_CODE,
	CTL_T_ERROR_MSG,
	CTL_T_CURSOR,
	CTL_T_TAG,		/* repeated */
	CTL_T_PEER,		/* repeated */
	CTL_T_STUN,		/* repeated */
	CTL_T_MAX = CTL_T_STUN
};

/* Presence bit of a TLV type in struct ctl_msg.present. */
#define CTL_HAS(t) (1u << (t))

enum ctl_notify {
	CTL_NOTIFY_PEER_WANTS_CONNECT = 1,	/* it looked you up: handshake now */
	CTL_NOTIFY_PEER_CHANGED,		/* key, addresses or endpoints moved */
	CTL_NOTIFY_PEER_REMOVED,		/* forget it */
};

/* ERROR codes.  Receivers treat an unknown nonzero code as CTL_ERR_INTERNAL. */
enum ctl_error {
	CTL_ERR_BAD_REQUEST = 1,	/* did not decode, or not allowed now */
	CTL_ERR_UNAUTHORIZED,		/* unknown or wrong join secret */
	CTL_ERR_EXPIRED,		/* join key expired, used or revoked */
	CTL_ERR_NOT_REGISTERED,		/* session key is not a node */
	CTL_ERR_NOT_FOUND,		/* no such peer */
	CTL_ERR_DENIED,			/* policy forbids that peer */
	CTL_ERR_EXHAUSTED,		/* no free address in the network */
	CTL_ERR_RATE_LIMITED,
	CTL_ERR_INTERNAL,
};

enum ctl_family { CTL_FAMILY_IPV4 = 4, CTL_FAMILY_IPV6 = 6 };

struct ctl_endpoint {
	uint8_t family;		/* enum ctl_family */
	uint8_t addr[16];	/* IPv4: first 4 bytes, the rest zero */
	uint16_t port;		/* host order, nonzero */
};

struct ctl_prefix4 { uint8_t addr[4]; uint8_t len; };
struct ctl_prefix6 { uint8_t addr[16]; uint8_t len; };

struct ctl_peer {
	uint64_t node_id;
	uint8_t public_key[32];
	uint8_t ipv4[4];
	uint8_t ipv6[16];
	char name[CTL_PEER_NAME_MAX + 1];	/* NUL-terminated, not empty */
};

/*
 * One decoded message.  Single-valued TLVs are present when their
 * CTL_HAS() bit is set in present; repeated ones when their count is
 * nonzero (their bits are never set).  Strings are NUL-terminated.
 * ctl_decode zeroes the whole struct first, so two decodings of equal
 * messages compare equal with memcmp.
 */
struct ctl_msg {
	uint8_t type;			/* enum ctl_type */
	uint8_t flags;			/* none defined: zero */
	uint64_t request_id;
	uint32_t present;

	uint8_t join_secret[32];	/* secret: ctl_msg_wipe */
	char hostname[CTL_HOSTNAME_MAX + 1];
	uint64_t node_id;
	struct ctl_prefix4 ipv4;
	struct ctl_prefix6 ipv6;
	char name[CTL_NAME_MAX + 1];
	uint8_t public_key[32];
	uint8_t target_ipv4[4];
	uint8_t target_ipv6[16];
	uint8_t notify_kind;		/* enum ctl_notify */
	uint16_t error_code;		/* enum ctl_error */
	char error_msg[CTL_ERROR_MSG_MAX + 1];
	uint64_t cursor;

	uint8_t n_endpoints, n_relays, n_tags, n_peers, n_stun;
	struct ctl_endpoint endpoints[CTL_MAX_ENDPOINTS];
	struct ctl_endpoint relays[CTL_MAX_RELAYS];
	struct ctl_endpoint stun[CTL_MAX_RELAYS];
	char tags[CTL_MAX_TAGS][CTL_TAG_MAX + 1];
	struct ctl_peer peers[CTL_MAX_PEERS];
};

/* Zeroes m and sets its type and request id. */
void ctl_msg_init(struct ctl_msg *m, enum ctl_type type, uint64_t request_id);

/* Writes m into buf; returns the length (16..CTL_MAX_MSG) or a negative
 * errno (see above), in which case whatever was written to buf is wiped. */
int ctl_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap);

/* Decodes one whole datagram.  Returns 0, or a negative errno with *m
 * zeroed (never partly filled).  Reads only buf[0..len). */
int ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *m);

/* Reads just the header, so a server can answer a message it cannot
 * decode with an ERROR carrying the same request id.  Returns 0 when the
 * magic and reserved bytes are right (type and flags are not judged),
 * -EBADMSG otherwise. */
int ctl_peek(const uint8_t *buf, size_t len, uint8_t *type,
	     uint64_t *request_id);

/* The value of the first TLV of type t, without decoding the message: a
 * hint for a server that prefetches what a batch of messages will read,
 * before it decodes each in turn.  Nothing is judged but the bounds:
 * returns 0 with *v and *vlen (pointing into buf), -ENOENT when there is
 * none, -EBADMSG when the header or a TLV is cut.  Reads only buf[0..len). */
int ctl_find(const uint8_t *buf, size_t len, unsigned t, const uint8_t **v,
	     size_t *vlen);

/* Wipes the whole struct, secrets included. */
void ctl_msg_wipe(struct ctl_msg *m);

/* Static names for logs ("REGISTER", "peer_removed", "not_found");
 * "unknown" for values not defined here. */
const char *ctl_type_name(unsigned type);
const char *ctl_notify_name(unsigned kind);
const char *ctl_error_name(unsigned code);

#endif
