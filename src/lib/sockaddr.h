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

/* Same family, address, port (and IPv6 scope). */
bool wg_sockaddr_equal(const union wg_sockaddr *a, const union wg_sockaddr *b);
/* The length to pass to sendto/bind for this family. */
socklen_t wg_sockaddr_len(const union wg_sockaddr *a);

#endif
