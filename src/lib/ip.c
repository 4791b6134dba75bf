/*
 * ip — see ip.h.  RFC 791 §3.1 and RFC 8200 §3 header layouts.
 */
#include "ip.h"

#include <sys/socket.h>

static bool ip_parse4(const uint8_t *p, size_t len, struct ip_info *out)
{
	size_t ihl, total;

	if (len < 20)
		return false;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	total = ((size_t)p[2] << 8) | p[3];
	if (ihl < 20 || total < ihl || total > len)
		return false;
	out->family = AF_INET;
	out->src = p + 12;
	out->dst = p + 16;
	out->len = total;
	return true;
}

static bool ip_parse6(const uint8_t *p, size_t len, struct ip_info *out)
{
	size_t total;

	if (len < 40)
		return false;
	total = 40 + (((size_t)p[4] << 8) | p[5]);
	if (total > len)
		return false;
	out->family = AF_INET6;
	out->src = p + 8;
	out->dst = p + 24;
	out->len = total;
	return true;
}

bool ip_parse(const uint8_t *pkt, size_t len, struct ip_info *out)
{
	if (len < 1)
		return false;
	switch (pkt[0] >> 4) {
	case 4:
		return ip_parse4(pkt, len, out);
	case 6:
		return ip_parse6(pkt, len, out);
	default:
		return false;
	}
}
