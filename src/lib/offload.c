/*
 * offload — see offload.h.  Segmentation follows what the kernel's own
 * TSO does (RFC 7414's rules for a segment train: same headers, sequence
 * numbers advancing, FIN/PSH only on the last, CWR only on the first); the
 * coalescer takes only what the kernel's GRO would (same flow, in order,
 * same ACK and options, equal-sized segments but the last).
 */
#include "offload.h"

#include <string.h>
#include <sys/socket.h>

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Sums native-endian words, as RFC 1071 §2(B) allows: the folded result,
 * stored back in native order, is the right checksum.  Every chunk but
 * the last must have an even length.
 */
uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t w;
	uint16_t last = 0;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		sum += (w & 0xffffffffu) + (w >> 32);
	}
	for (; len >= 2; p += 2, len -= 2) {
		uint16_t h;
		memcpy(&h, p, 2);
		sum += h;
	}
	if (len) {
		uint8_t pad[2] = { p[0], 0 };
		memcpy(&last, pad, 2);
		sum += last;
	}
	return sum;
}

uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint64_t csum_pseudo(int family, const uint8_t *src, const uint8_t *dst,
		     uint8_t proto, uint32_t len)
{
	uint8_t b[40] = { 0 };

	if (family == AF_INET) {
		memcpy(b, src, 4);
		memcpy(b + 4, dst, 4);
		b[9] = proto;
		put_be16(b + 10, (uint16_t)len);
		return csum_add(0, b, 12);
	}
	memcpy(b, src, 16);
	memcpy(b + 16, dst, 16);
	put_be32(b + 32, len);
	b[39] = proto;
	return csum_add(0, b, 40);
}

static void csum_store(uint8_t *field, uint64_t sum)
{
	uint16_t c = (uint16_t)~csum_fold(sum);

	memcpy(field, &c, 2);
}

/* IP and TCP header lengths of pkt if it is TCP over IPv4/IPv6 without
 * IPv6 extension headers; 0 otherwise. */
static size_t offload_tcp_headers(const uint8_t *pkt, size_t len, int *family,
				  size_t *iphl)
{
	size_t thl;

	if (len >= 20 && pkt[0] >> 4 == 4 && pkt[9] == 6) {
		*family = AF_INET;
		*iphl = (size_t)(pkt[0] & 15) * 4;
	} else if (len >= 40 && pkt[0] >> 4 == 6 && pkt[6] == 6) {
		*family = AF_INET6;
		*iphl = 40;
	} else {
		return 0;
	}
	if (*iphl < 20 || *iphl + 20 > len)
		return 0;
	thl = (size_t)(pkt[*iphl + 12] >> 4) * 4;
	if (thl < 20 || *iphl + thl > len)
		return 0;
	return *iphl + thl;
}

/* IP header length of pkt if it is UDP over IPv4/IPv6 without IPv6
 * extension headers, with room for the UDP header; 0 otherwise. */
static size_t offload_udp_headers(const uint8_t *pkt, size_t len, int *family)
{
	size_t iphl;

	if (len >= 20 && pkt[0] >> 4 == 4 && pkt[9] == 17) {
		*family = AF_INET;
		iphl = (size_t)(pkt[0] & 15) * 4;
		if (iphl < 20)
			return 0;
	} else if (len >= 40 && pkt[0] >> 4 == 6 && pkt[6] == 17) {
		*family = AF_INET6;
		iphl = 40;
	} else {
		return 0;
	}
	return iphl + 8 <= len ? iphl : 0;
}

static const uint8_t *offload_src(int family, const uint8_t *pkt)
{
	return family == AF_INET ? pkt + 12 : pkt + 8;
}

static const uint8_t *offload_dst(int family, const uint8_t *pkt)
{
	return family == AF_INET ? pkt + 16 : pkt + 24;
}

/* Sets the IP length fields (and the IPv4 header checksum) for len. */
static void offload_set_ip_len(int family, uint8_t *pkt, size_t iphl, size_t len)
{
	if (family == AF_INET) {
		put_be16(pkt + 2, (uint16_t)len);
		pkt[10] = pkt[11] = 0;
		csum_store(pkt + 10, csum_add(0, pkt, iphl));
	} else {
		put_be16(pkt + 4, (uint16_t)(len - 40));
	}
}

/* Completes a CHECKSUM_PARTIAL packet: the field already holds the
 * pseudo-header sum, so summing from csum_start covers everything. */
static bool offload_finish_csum(const struct virtio_net_hdr *h, uint8_t *pkt,
				size_t len)
{
	size_t start = h->csum_start, off = h->csum_offset;

	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return true;
	if (start >= len || off + 2 > len - start)
		return false;
	csum_store(pkt + start + off, csum_add(0, pkt + start, len - start));
	return true;
}

/* UDP super-packet (gso_size bytes of payload per datagram) into
 * datagrams, each with its own IP and UDP lengths and checksums. */
static bool offload_segment_udp(const struct virtio_net_hdr *h, uint8_t *pkt,
				size_t len, uint8_t *out, size_t outcap,
				size_t headroom, size_t tailroom,
				size_t max_segs, uint8_t **segs, size_t *lens,
				size_t *nsegs)
{
	size_t gso = h->gso_size, iphl, hdrlen, payload, stride, n;
	int family;

	iphl = offload_udp_headers(pkt, len, &family);
	if (!iphl || !gso)
		return false;
	hdrlen = iphl + 8;
	payload = len - hdrlen;
	if (payload <= gso)
		return offload_finish_csum(h, pkt, len);
	if (hdrlen + gso > OFFLOAD_MAX_PACKET)
		return false;
	n = (payload + gso - 1) / gso;
	stride = (headroom + hdrlen + gso + tailroom + 15) & ~(size_t)15;
	if (n > max_segs || n * stride > outcap)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t *s = out + i * stride + headroom, *udp = s + iphl;
		size_t part = i + 1 < n ? gso : payload - i * gso;
		uint16_t id = (uint16_t)((pkt[4] << 8 | pkt[5]) + i), c;

		memcpy(s, pkt, hdrlen);
		memcpy(s + hdrlen, pkt + hdrlen + i * gso, part);
		if (family == AF_INET)
			put_be16(s + 4, id);
		offload_set_ip_len(family, s, iphl, hdrlen + part);
		put_be16(udp + 4, (uint16_t)(8 + part));
		udp[6] = udp[7] = 0;
		c = (uint16_t)~csum_fold(csum_add(
			csum_pseudo(family, offload_src(family, s),
				    offload_dst(family, s), 17, (uint32_t)(8 + part)),
			udp, 8 + part));
		if (!c)
			c = 0xffff;	/* 0 would mean "no checksum" (RFC 768) */
		memcpy(udp + 6, &c, 2);
		segs[i] = out + i * stride;
		lens[i] = hdrlen + part;
	}
	*nsegs = n;
	return true;
}

bool offload_segment(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len,
		     uint8_t *out, size_t outcap, size_t headroom,
		     size_t tailroom, size_t max_segs, uint8_t **segs,
		     size_t *lens, size_t *nsegs)
{
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	size_t iphl, hdrlen, payload, gso = h->gso_size, stride, n;
	int family;
	uint32_t seq;

	*nsegs = 0;
	if (type == VIRTIO_NET_HDR_GSO_NONE)
		return offload_finish_csum(h, pkt, len);
	if (type == VIRTIO_NET_HDR_GSO_UDP_L4)
		return offload_segment_udp(h, pkt, len, out, outcap, headroom,
					   tailroom, max_segs, segs, lens, nsegs);
	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6)
		return false;
	hdrlen = offload_tcp_headers(pkt, len, &family, &iphl);
	if (!hdrlen || !gso ||
	    (family == AF_INET) != (type == VIRTIO_NET_HDR_GSO_TCPV4))
		return false;
	payload = len - hdrlen;
	if (payload <= gso)		/* one segment: nothing to cut */
		return offload_finish_csum(h, pkt, len);
	if (hdrlen + gso > OFFLOAD_MAX_PACKET)	/* a length no IP header holds */
		return false;
	n = (payload + gso - 1) / gso;
	stride = (headroom + hdrlen + gso + tailroom + 15) & ~(size_t)15;
	if (n > max_segs || n * stride > outcap)
		return false;
	seq = be32(pkt + iphl + 4);
	for (size_t i = 0; i < n; i++) {
		uint8_t *s = out + i * stride + headroom, *tcp = s + iphl;
		size_t part = i + 1 < n ? gso : payload - i * gso;
		uint16_t id = (uint16_t)((pkt[4] << 8 | pkt[5]) + i);

		memcpy(s, pkt, hdrlen);
		memcpy(s + hdrlen, pkt + hdrlen + i * gso, part);
		if (family == AF_INET)
			put_be16(s + 4, id);
		offload_set_ip_len(family, s, iphl, hdrlen + part);
		put_be32(tcp + 4, seq + (uint32_t)(i * gso));
		if (i + 1 < n)
			tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			tcp[13] &= (uint8_t)~TCP_CWR;
		tcp[16] = tcp[17] = 0;
		csum_store(tcp + 16,
			   csum_add(csum_pseudo(family, offload_src(family, s),
						offload_dst(family, s), 6,
						(uint32_t)(hdrlen - iphl + part)),
				    tcp, hdrlen - iphl + part));
		segs[i] = out + i * stride;
		lens[i] = hdrlen + part;
	}
	*nsegs = n;
	return true;
}

/* --- the coalescer --- */

void gro_init(struct gro *g, gro_write_fn write, void *ctx)
{
	memset(g, 0, sizeof(*g));
	g->write = write;
	g->ctx = ctx;
}

static void gro_write_plain(struct gro *g, const uint8_t *pkt, size_t len)
{
	struct virtio_net_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };

	g->write(g->ctx, &h, pkt, len);
}

static void gro_flush_flow(struct gro *g, struct gro_flow *f)
{
	struct virtio_net_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };
	uint8_t *pkt = f->buf, *tcp = pkt + f->iphl;
	uint16_t partial;

	if (!f->used)
		return;
	f->used = false;
	if (f->segs == 1) {
		g->write(g->ctx, &h, pkt, f->len);
		return;
	}
	/* Hand the kernel a GSO packet with a partial checksum, as a NIC
	 * with receive offload would: the segments were checked by the AEAD
	 * that carried them. */
	offload_set_ip_len(f->family, pkt, f->iphl, f->len);
	if (f->psh)
		tcp[13] |= TCP_PSH;
	partial = csum_fold(csum_pseudo(f->family, offload_src(f->family, pkt),
					offload_dst(f->family, pkt), 6,
					(uint32_t)(f->len - f->iphl)));
	memcpy(tcp + 16, &partial, 2);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = f->family == AF_INET ? VIRTIO_NET_HDR_GSO_TCPV4
					  : VIRTIO_NET_HDR_GSO_TCPV6;
	h.hdr_len = (uint16_t)f->hdrlen;
	h.gso_size = (uint16_t)f->gso_size;
	h.csum_start = (uint16_t)f->iphl;
	h.csum_offset = 16;
	g->write(g->ctx, &h, pkt, f->len);
}

void gro_flush(struct gro *g)
{
	for (int i = 0; i < GRO_FLOWS; i++)
		gro_flush_flow(g, &g->flows[i]);
}

/* The bytes that must agree for two segments to merge, besides the flow
 * key: IPv4 TOS/DF/TTL, IPv6 class/label/hop limit, ACK, window, options
 * (the kernel's tcp_gro_receive flushes on a window change too: the merged
 * packet carries only the first segment's window). */
static bool gro_same_headers(const struct gro_flow *f, const uint8_t *pkt)
{
	const uint8_t *a = f->buf, *ta = a + f->iphl, *tb = pkt + f->iphl;

	if (f->family == AF_INET) {
		if (a[1] != pkt[1] || (a[6] & 0x40) != (pkt[6] & 0x40) || a[8] != pkt[8])
			return false;
	} else if (memcmp(a, pkt, 4) || a[7] != pkt[7]) {
		return false;
	}
	return !memcmp(ta + 8, tb + 8, 4) && !memcmp(ta + 14, tb + 14, 2) &&
	       !memcmp(ta + 20, tb + 20, f->hdrlen - f->iphl - 20);
}

static bool gro_can_append(const struct gro_flow *f, const uint8_t *pkt,
			   size_t hdrlen, size_t iphl, size_t payload)
{
	return !f->closed && hdrlen == f->hdrlen && iphl == f->iphl &&
	       payload <= f->gso_size && f->len + payload <= OFFLOAD_MAX_PACKET &&
	       be32(pkt + iphl + 4) == f->next_seq && gro_same_headers(f, pkt);
}

static void gro_start(struct gro *g, struct gro_flow *f, int family,
		      const uint8_t *key, size_t keylen, const uint8_t *pkt,
		      size_t len, size_t iphl, size_t hdrlen)
{
	uint8_t flags = pkt[iphl + 13];

	f->used = true;
	f->family = family;
	memcpy(f->key, key, keylen);
	f->keylen = keylen;
	f->iphl = iphl;
	f->hdrlen = hdrlen;
	f->gso_size = len - hdrlen;
	f->next_seq = be32(pkt + iphl + 4) + (uint32_t)f->gso_size;
	f->len = len;
	f->segs = 1;
	f->psh = flags & TCP_PSH;
	f->closed = f->psh;
	f->age = ++g->clock;
	memcpy(f->buf, pkt, len);
}

static struct gro_flow *gro_slot(struct gro *g, int family, const uint8_t *key,
				 size_t keylen)
{
	struct gro_flow *free_slot = NULL, *oldest = &g->flows[0];

	for (int i = 0; i < GRO_FLOWS; i++) {
		struct gro_flow *f = &g->flows[i];
		if (!f->used) {
			if (!free_slot)
				free_slot = f;
			continue;
		}
		if (f->family == family && f->keylen == keylen &&
		    !memcmp(f->key, key, keylen))
			return f;
		if (f->age < oldest->age)
			oldest = f;
	}
	if (free_slot)
		return free_slot;
	gro_flush_flow(g, oldest);
	return oldest;
}

void gro_add(struct gro *g, const uint8_t *pkt, size_t len)
{
	uint8_t key[36];
	size_t iphl, hdrlen, keylen, payload;
	int family;
	struct gro_flow *f;
	uint8_t flags;

	hdrlen = offload_tcp_headers(pkt, len, &family, &iphl);
	/* IPv4 with options or fragments, a length the header denies, or
	 * one too long for a flow's buffer (IPv6 allows 40 + 65535 bytes)
	 * passes through as it is. */
	if (!hdrlen || len > OFFLOAD_MAX_PACKET || (family == AF_INET &&
			(iphl != 20 || (pkt[6] & 0x3f) || pkt[7] ||
			 (size_t)(pkt[2] << 8 | pkt[3]) != len)) ||
	    (family == AF_INET6 && (size_t)(pkt[4] << 8 | pkt[5]) + 40 != len)) {
		gro_write_plain(g, pkt, len);
		return;
	}
	keylen = family == AF_INET ? 8 : 32;
	memcpy(key, offload_src(family, pkt), keylen);
	memcpy(key + keylen, pkt + iphl, 4);		/* ports */
	keylen += 4;
	payload = len - hdrlen;
	flags = pkt[iphl + 13];
	f = gro_slot(g, family, key, keylen);
	if (!payload || (flags & ~(TCP_ACK | TCP_PSH)) || !(flags & TCP_ACK)) {
		gro_flush_flow(g, f);	/* keep the flow in order */
		gro_write_plain(g, pkt, len);
		return;
	}
	if (f->used && gro_can_append(f, pkt, hdrlen, iphl, payload)) {
		memcpy(f->buf + f->len, pkt + hdrlen, payload);
		f->len += payload;
		f->segs++;
		f->next_seq += (uint32_t)payload;
		f->psh = flags & TCP_PSH;
		f->closed = f->psh || payload < f->gso_size;
		return;
	}
	gro_flush_flow(g, f);
	gro_start(g, f, family, key, keylen, pkt, len, iphl, hdrlen);
}
