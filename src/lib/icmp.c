/*
 * icmp — see icmp.h.
 */
#include "icmp.h"

#include <string.h>
#include <sys/socket.h>

#include "ip.h"
#include "offload.h"

#define V4_MIN_MTU 576
#define V6_MIN_MTU 1280

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* csum_* work in host order on memory: the result is stored as it is. */
static void put_csum(uint8_t *p, uint16_t c)
{
	memcpy(p, &c, 2);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void ip4_header(uint8_t *h, size_t total, const uint8_t *src,
		       const uint8_t *dst)
{
	memset(h, 0, 20);
	h[0] = 0x45;
	put16(h + 2, (uint16_t)total);
	h[8] = 64;		/* TTL */
	h[9] = 1;		/* ICMP */
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	put_csum(h + 10, (uint16_t)~csum_fold(csum_add(0, h, 20)));
}

static void ip6_header(uint8_t *h, size_t payload, const uint8_t *src,
		       const uint8_t *dst)
{
	memset(h, 0, 40);
	h[0] = 0x60;
	put16(h + 4, (uint16_t)payload);
	h[6] = 58;		/* ICMPv6 */
	h[7] = 64;		/* hop limit */
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
}

/* ICMPv4 sums the message alone; ICMPv6 adds the pseudo-header. */
static void icmp_checksum(int family, uint8_t *ip, size_t iplen, size_t mlen)
{
	uint8_t *m = ip + iplen;
	uint64_t sum = family == AF_INET6 ?
		csum_pseudo(AF_INET6, ip + 8, ip + 24, 58, (uint32_t)mlen) : 0;

	put16(m + 2, 0);
	put_csum(m + 2, (uint16_t)~csum_fold(csum_add(sum, m, mlen)));
}

/* May an error be sent about this packet (RFC 1122 §3.2.2, RFC 4443 §2.4)? */
static bool icmp_may_answer(const struct ip_info *ip, const uint8_t *pkt)
{
	if (ip->family == AF_INET) {
		size_t hl = (size_t)(pkt[0] & 0x0f) * 4;
		if (get16(pkt + 6) & 0x1fff)	/* not the first fragment */
			return false;
		if (pkt[9] == 1 && ip->len >= hl + 1 &&
		    pkt[hl] != 0 && pkt[hl] != 8)	/* an ICMP error */
			return false;
		if ((ip->src[0] & 0xf0) == 0xe0 || ip->src[0] == 0 ||
		    !memcmp(ip->src, "\xff\xff\xff\xff", 4))
			return false;
		return true;
	}
	if (pkt[6] == 58 && ip->len >= 41 && pkt[40] < 128)	/* an ICMPv6 error */
		return false;
	if (ip->src[0] == 0xff)
		return false;
	for (int i = 0; i < 16; i++)
		if (ip->src[i])
			return true;
	return false;		/* :: */
}

size_t icmp_unreachable(uint8_t *out, size_t cap, const uint8_t *pkt,
			size_t len, enum icmp_unreach why)
{
	struct ip_info ip;
	size_t quote, total;

	if (!ip_parse(pkt, len, &ip) || !icmp_may_answer(&ip, pkt))
		return 0;
	if (ip.family == AF_INET) {
		quote = ip.len < V4_MIN_MTU - 28 ? ip.len : V4_MIN_MTU - 28;
		total = 28 + quote;
		if (cap < total)
			return 0;
		ip4_header(out, total, ip.dst, ip.src);
		memset(out + 20, 0, 8);
		out[20] = 3;					/* unreachable */
		out[21] = why == ICMP_UNREACH_ADMIN ? 13 : 1;	/* prohibited / host */
		memcpy(out + 28, pkt, quote);
		icmp_checksum(AF_INET, out, 20, 8 + quote);
		return total;
	}
	quote = ip.len < V6_MIN_MTU - 48 ? ip.len : V6_MIN_MTU - 48;
	total = 48 + quote;
	if (cap < total)
		return 0;
	ip6_header(out, 8 + quote, ip.dst, ip.src);
	memset(out + 40, 0, 8);
	out[40] = 1;					/* destination unreachable */
	out[41] = why == ICMP_UNREACH_ADMIN ? 1 : 3;	/* prohibited / address */
	memcpy(out + 48, pkt, quote);
	icmp_checksum(AF_INET6, out, 40, 8 + quote);
	return total;
}

size_t icmp_echo_request(uint8_t *out, size_t cap, int family,
			 const uint8_t *src, const uint8_t *dst, uint16_t ident,
			 uint16_t seq, size_t payload_len)
{
	size_t iplen = family == AF_INET6 ? 40 : 20;
	size_t total = iplen + 8 + payload_len;
	uint8_t *m = out + iplen;

	if (cap < total || total > 65535)
		return 0;
	if (family == AF_INET6)
		ip6_header(out, 8 + payload_len, src, dst);
	else
		ip4_header(out, total, src, dst);
	m[0] = family == AF_INET6 ? 128 : 8;
	m[1] = 0;
	put16(m + 4, ident);
	put16(m + 6, seq);
	for (size_t i = 0; i < payload_len; i++)
		m[8 + i] = (uint8_t)(0x10 + i);
	icmp_checksum(family, out, iplen, 8 + payload_len);
	return total;
}

bool icmp_echo_reply_parse(const uint8_t *pkt, size_t len, int *family,
			   uint16_t *ident, uint16_t *seq, const uint8_t **src)
{
	struct ip_info ip;
	size_t hl;
	uint64_t sum = 0;

	if (!ip_parse(pkt, len, &ip))
		return false;
	if (ip.family == AF_INET) {
		hl = (size_t)(pkt[0] & 0x0f) * 4;
		if (pkt[9] != 1 || (get16(pkt + 6) & 0x3fff) || ip.len < hl + 8 ||
		    pkt[hl] != 0 || pkt[hl + 1] != 0)
			return false;
	} else {
		hl = 40;
		if (pkt[6] != 58 || ip.len < hl + 8 || pkt[hl] != 129 ||
		    pkt[hl + 1] != 0)
			return false;
		sum = csum_pseudo(AF_INET6, ip.src, ip.dst, 58,
				  (uint32_t)(ip.len - hl));
	}
	if (csum_fold(csum_add(sum, pkt + hl, ip.len - hl)) != 0xffff)
		return false;
	*family = ip.family;
	*ident = get16(pkt + hl + 4);
	*seq = get16(pkt + hl + 6);
	*src = ip.src;
	return true;
}
