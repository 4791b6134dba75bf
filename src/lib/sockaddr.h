/*
 * sockaddr — the one socket-address type weft passes around (an IPv4 or
 * IPv6 UDP endpoint) and the two things everyone needs of it.
 */
#ifndef WEFT_SOCKADDR_H
#define WEFT_SOCKADDR_H

#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>

union wg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* An endpoint that is no UDP address but a relay connection (weftd's
 * relay to a peer, weft-server's relayed node): the in6 layout with
 * sa_family WG_AF_RELAY, and sin6_addr/sin6_port an identifier of the
 * owner's choosing.  The engine treats it as opaque; the owner's send
 * hook routes it. */
#define WG_AF_RELAY 0x5752
static inline bool wg_sockaddr_is_relay(const union wg_sockaddr *a)
{
	return a->sa.sa_family == WG_AF_RELAY;
}

/* Same family, address, port (and IPv6 scope). */
bool wg_sockaddr_equal(const union wg_sockaddr *a, const union wg_sockaddr *b);
/* The length to pass to sendto/bind for this family. */
socklen_t wg_sockaddr_len(const union wg_sockaddr *a);

#endif
