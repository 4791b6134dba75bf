/*
 * icmp — the few ICMP messages the node agent writes and reads on its TUN
 * device: destination unreachable for a packet it cannot deliver
 * (RFC 792, RFC 4443 §3.1), and echo requests/replies for `weft ping`
 * (RFC 792, RFC 4443 §4).  Pure: bytes in, bytes out, checksums included.
 */
#ifndef WEFT_ICMP_H
#define WEFT_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum icmp_unreach {
	ICMP_UNREACH_HOST,	/* no such node: v4 host, v6 address unreachable */
	ICMP_UNREACH_ADMIN,	/* policy forbids it: administratively prohibited */
};

/* The error an IPv4 or IPv6 router would send back to pkt's source about
 * pkt, from pkt's destination (the address that cannot be reached), with
 * as much of pkt as fits the minimum MTU (576 / 1280 bytes).  Returns its
 * length, or 0 when no error may be sent: pkt is malformed, is itself an
 * ICMP error, is not a first fragment, or comes from a multicast or
 * unspecified address. */
size_t icmp_unreachable(uint8_t *out, size_t cap, const uint8_t *pkt,
			size_t len, enum icmp_unreach why);

/* An echo request from src to dst (4 or 16 bytes by family) carrying
 * payload_len bytes of pattern; returns its length or 0 if cap is short. */
size_t icmp_echo_request(uint8_t *out, size_t cap, int family,
			 const uint8_t *src, const uint8_t *dst, uint16_t ident,
			 uint16_t seq, size_t payload_len);

/* True when pkt is a well-formed echo reply (checksum right); its
 * identifier, sequence and source (4 or 16 bytes, borrowed) are returned. */
bool icmp_echo_reply_parse(const uint8_t *pkt, size_t len, int *family,
			   uint16_t *ident, uint16_t *seq, const uint8_t **src);

#endif
