/*
 * ctlnet — how control messages ride inside a node's WireGuard session to
 * its server (docs/control-plane.md): UDP over IPv6 between the fixed
 * link-local addresses fe80::1 (server, port CTL_PORT) and fe80::2 (node),
 * with a real UDP checksum (RFC 8200 §8.1).  Pure.
 */
#ifndef WEFT_CTLNET_H
#define WEFT_CTLNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTLNET_HEADERS 48	/* IPv6 + UDP */

enum ctlnet_dir { CTLNET_TO_SERVER, CTLNET_TO_NODE };

/* Writes the IPv6/UDP packet carrying payload into out; returns its length
 * or 0 when it does not fit.  The node's port is sport (to server) or
 * dport (to node); the server's is CTL_PORT. */
size_t ctlnet_wrap(uint8_t *out, size_t cap, enum ctlnet_dir dir,
		   uint16_t node_port, const uint8_t *payload, size_t len);
/* True when pkt is a well-formed control packet in direction dir; then
 * *payload and *plen point into pkt and *node_port is the node's port. */
bool ctlnet_unwrap(const uint8_t *pkt, size_t len, enum ctlnet_dir dir,
		   const uint8_t **payload, size_t *plen, uint16_t *node_port);

#endif
