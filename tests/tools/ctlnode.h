/*
 * ctlnode — the node side of the control protocol, shared by the test
 * tools that join real clients to a server (ctlload, relayload): the
 * token's loopback endpoint, a WireGuard engine with a fresh key and the
 * server as its one peer (allowed IP fe80::1/128, docs/control-plane.md),
 * and control messages into and out of that session.
 *
 * A header of static functions: every .c file in tests/tools is a program
 * of its own (the Makefile's TOOLS), so shared code cannot be an object.
 */
#ifndef WEFT_TESTS_CTLNODE_H
#define WEFT_TESTS_CTLNODE_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "ctl.h"
#include "ctlnet.h"
#include "device.h"
#include "token.h"

/* A buffer ctlnode_send can wrap and encrypt a control message in. */
#define CTLNODE_BUF (WG_HEADROOM + CTLNET_HEADERS + CTL_MAX_MSG + WG_TAILROOM)
#define CTLNODE_PORT 40000	/* the node's control port (any will do) */

/* The token's first endpoint as a socket address, refused (with a line
 * on stderr naming prog) unless it is 127.0.0.0/8 or [::1]: the tools
 * never send anywhere else. */
static inline bool ctlnode_loopback(const struct token *t, union wg_sockaddr *ep,
				    const char *prog)
{
	const struct token_endpoint *te = &t->endpoints[0];
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	memset(ep, 0, sizeof(*ep));
	if (te->kind == TOKEN_HOST_IPV4 && te->addr[0] == 127) {
		ep->in4.sin_family = AF_INET;
		memcpy(&ep->in4.sin_addr, te->addr, 4);
		ep->in4.sin_port = htons(te->port);
		return true;
	}
	if (te->kind == TOKEN_HOST_IPV6 && !memcmp(te->addr, v6_loopback, 16)) {
		ep->in6.sin6_family = AF_INET6;
		memcpy(&ep->in6.sin6_addr, te->addr, 16);
		ep->in6.sin6_port = htons(te->port);
		return true;
	}
	fprintf(stderr, "%s: loopback only: the token's endpoint %s:%u is not "
		"127.0.0.0/8 or [::1]\n", prog, te->host, te->port);
	return false;
}

/* Gives dev a fresh key pair (the public key in pub, and the private one
 * in priv when not NULL: the caller wipes it) and the server as a peer.
 * The caller sets the server's endpoint. */
static inline bool ctlnode_engine(struct wg_device *dev, const uint8_t server_pub[32],
				  struct wg_peer **server, uint8_t pub[32],
				  uint8_t *priv)
{
	static const uint8_t ctl_server[16] = { 0xfe, 0x80, [15] = 1 };
	uint8_t k[32];
	bool ok;

	ok = crypto_x25519_generate(k) && crypto_x25519_public(pub, k) &&
	     !wg_device_set_private_key(dev, k) &&
	     !wg_peer_new(dev, server_pub, server) &&
	     !wg_peer_add_allowed_ip(*server, AF_INET6, ctl_server, 128);
	if (ok && priv)
		memcpy(priv, k, 32);
	crypto_wipe(k, sizeof(k));
	return ok;
}

/* Sends m to the server; buf (CTLNODE_BUF bytes, 16-byte aligned) is the
 * engine's scratch. */
static inline void ctlnode_send(struct wg_peer *server, uint8_t *buf,
				const struct ctl_msg *m)
{
	uint8_t msg[CTL_MAX_MSG];
	int n = ctl_encode(m, msg, sizeof(msg));
	size_t len;

	if (n < 0)
		return;
	len = ctlnet_wrap(buf + WG_HEADROOM, CTLNET_HEADERS + CTL_MAX_MSG,
			  CTLNET_TO_SERVER, CTLNODE_PORT, msg, (size_t)n);
	if (len)
		wg_peer_send_packet(server, buf, len);
}

/* A REGISTER with the join secret (zero: a known key reconnecting). */
static inline void ctlnode_register(struct ctl_msg *m, uint64_t req,
				    const uint8_t secret[32], const char *hostname)
{
	ctl_msg_init(m, CTL_REGISTER, req);
	memcpy(m->join_secret, secret, 32);
	snprintf(m->hostname, sizeof(m->hostname), "%s", hostname);
	m->present |= CTL_HAS(CTL_T_JOIN_SECRET) | CTL_HAS(CTL_T_HOSTNAME);
}

/* The control message in a packet the server's peer delivered. */
static inline bool ctlnode_unwrap(const uint8_t *pkt, size_t len, struct ctl_msg *m)
{
	const uint8_t *payload;
	size_t plen;
	uint16_t port;

	return ctlnet_unwrap(pkt, len, CTLNET_TO_NODE, &payload, &plen, &port) &&
	       !ctl_decode(payload, plen, m);
}

#endif
