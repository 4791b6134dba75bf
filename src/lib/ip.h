/*
 * ip — the few IPv4/IPv6 header checks the data plane needs: which family,
 * where the addresses are, and the packet's own idea of its length (so the
 * receive path strips the sender's padding).  Pure, no allocation.
 */
#ifndef WEFT_IP_H
#define WEFT_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ip_info {
	int family;		/* AF_INET or AF_INET6 */
	const uint8_t *src, *dst;	/* borrowed, 4 or 16 bytes */
	size_t len;		/* length the header claims, <= buffer */
};

/* True for a well-formed IPv4 or IPv6 header whose claimed length fits. */
bool ip_parse(const uint8_t *pkt, size_t len, struct ip_info *out);

#endif
