/*
 * ctlnet — see ctlnet.h.
 */
#include "ctlnet.h"

#include <string.h>
#include <sys/socket.h>

#include "ctl.h"
#include "offload.h"

static const uint8_t ctlnet_server[16] = { 0xfe, 0x80, [15] = 1 };
static const uint8_t ctlnet_node[16] = { 0xfe, 0x80, [15] = 2 };

static uint16_t ctlnet_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void ctlnet_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Sum of the UDP header and payload with the pseudo-header. */
static uint16_t ctlnet_csum(const uint8_t *ip6)
{
	size_t ulen = ctlnet_be16(ip6 + 4);
	uint64_t sum = csum_pseudo(AF_INET6, ip6 + 8, ip6 + 24, 17, (uint32_t)ulen);

	return (uint16_t)~csum_fold(csum_add(sum, ip6 + 40, ulen));
}

size_t ctlnet_wrap(uint8_t *out, size_t cap, enum ctlnet_dir dir,
		   uint16_t node_port, const uint8_t *payload, size_t len)
{
	size_t ulen = 8 + len;
	uint16_t c;

	if (CTLNET_HEADERS + len > cap || ulen > 0xffff)
		return 0;
	memset(out, 0, CTLNET_HEADERS);
	out[0] = 0x60;
	ctlnet_put16(out + 4, (uint16_t)ulen);
	out[6] = 17;		/* UDP */
	out[7] = 64;
	memcpy(out + 8, dir == CTLNET_TO_SERVER ? ctlnet_node : ctlnet_server, 16);
	memcpy(out + 24, dir == CTLNET_TO_SERVER ? ctlnet_server : ctlnet_node, 16);
	ctlnet_put16(out + 40, dir == CTLNET_TO_SERVER ? node_port : CTL_PORT);
	ctlnet_put16(out + 42, dir == CTLNET_TO_SERVER ? CTL_PORT : node_port);
	ctlnet_put16(out + 44, (uint16_t)ulen);
	memcpy(out + CTLNET_HEADERS, payload, len);
	c = ctlnet_csum(out);
	/* RFC 768: a computed zero is sent as all ones. */
	if (!c)
		c = 0xffff;
	memcpy(out + 46, &c, 2);
	return CTLNET_HEADERS + len;
}

bool ctlnet_unwrap(const uint8_t *pkt, size_t len, enum ctlnet_dir dir,
		   const uint8_t **payload, size_t *plen, uint16_t *node_port)
{
	const uint8_t *src = dir == CTLNET_TO_SERVER ? ctlnet_node : ctlnet_server;
	const uint8_t *dst = dir == CTLNET_TO_SERVER ? ctlnet_server : ctlnet_node;
	size_t ulen;
	uint16_t sport, dport;

	if (len < CTLNET_HEADERS || pkt[0] >> 4 != 6 || pkt[6] != 17 ||
	    memcmp(pkt + 8, src, 16) || memcmp(pkt + 24, dst, 16))
		return false;
	ulen = ctlnet_be16(pkt + 4);
	if (ulen < 8 || 40 + ulen > len || ctlnet_be16(pkt + 44) != ulen)
		return false;
	sport = ctlnet_be16(pkt + 40);
	dport = ctlnet_be16(pkt + 42);
	if ((dir == CTLNET_TO_SERVER ? dport : sport) != CTL_PORT)
		return false;
	/* A checksum over the whole datagram sums to zero (all ones). */
	if (csum_fold(csum_add(csum_pseudo(AF_INET6, pkt + 8, pkt + 24, 17,
					   (uint32_t)ulen),
			       pkt + 40, ulen)) != 0xffff)
		return false;
	*payload = pkt + CTLNET_HEADERS;
	*plen = ulen - 8;
	*node_port = dir == CTLNET_TO_SERVER ? sport : dport;
	return true;
}
