/*
 * test_offload — RFC 1071 checksums (known answers, then a randomized
 * comparison with a naive big-endian word sum), userspace TSO (every
 * segment of IPv4/IPv6 super-packets checked field by field, with
 * checksums verified by the naive sum), the refusals of malformed virtio
 * headers (nothing written outside the output buffer), the GRO coalescer
 * case by case, and a randomized round trip: segment, coalesce, compare.
 */
#include "offload.h"
#include "check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80
#define CANARY 0xaa

/* ---- the naive model: big-endian 16-bit words, RFC 1071 §1 ----------- */

static uint64_t naive_sum(uint64_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t naive_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The bytes csum_fold's result is stored as, read big-endian. */
static uint16_t stored_be(uint16_t folded)
{
	uint8_t b[2];

	memcpy(b, &folded, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void set_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void set_be32(uint8_t *p, uint32_t v)
{
	set_be16(p, (uint16_t)(v >> 16));
	set_be16(p + 2, (uint16_t)v);
}

static int ip_family(const uint8_t *pkt)
{
	return pkt[0] >> 4 == 4 ? AF_INET : AF_INET6;
}

static size_t ip_hlen(const uint8_t *pkt)
{
	return ip_family(pkt) == AF_INET ? (size_t)(pkt[0] & 15) * 4 : 40;
}

/* Pseudo-header sum built by hand from the packet's own addresses. */
static uint64_t naive_pseudo(const uint8_t *pkt, uint8_t proto, size_t l4len)
{
	if (ip_family(pkt) == AF_INET)
		return naive_sum(0, pkt + 12, 8) + proto + l4len;
	return naive_sum(0, pkt + 8, 32) + proto + (l4len >> 16) +
	       (l4len & 0xffff);
}

/* A transport checksum is right when everything sums to 0xffff. */
static bool l4_valid(const uint8_t *pkt, size_t len, uint8_t proto)
{
	size_t iphl = ip_hlen(pkt);

	return naive_fold(naive_sum(naive_pseudo(pkt, proto, len - iphl),
				    pkt + iphl, len - iphl)) == 0xffff;
}

static bool ip4_valid(const uint8_t *pkt)
{
	return naive_fold(naive_sum(0, pkt, ip_hlen(pkt))) == 0xffff;
}

static void l4_fill(uint8_t *pkt, size_t len, uint8_t proto, size_t off)
{
	size_t iphl = ip_hlen(pkt);

	set_be16(pkt + iphl + off, 0);
	set_be16(pkt + iphl + off,
		 (uint16_t)~naive_fold(naive_sum(naive_pseudo(pkt, proto, len - iphl),
						 pkt + iphl, len - iphl)));
}

/* What the kernel leaves in the field of a CHECKSUM_PARTIAL packet. */
static uint16_t partial_of(const uint8_t *pkt, size_t len, uint8_t proto)
{
	return naive_fold(naive_pseudo(pkt, proto, len - ip_hlen(pkt)));
}

/* What the kernel does with such a packet: sums from csum_start. */
static void kernel_complete(uint8_t *pkt, size_t len,
			    const struct virtio_net_hdr *h)
{
	set_be16(pkt + h->csum_start + h->csum_offset,
		 (uint16_t)~naive_fold(naive_sum(0, pkt + h->csum_start,
						 len - h->csum_start)));
}

static uint64_t rand_state = 0x0ff10adULL;

static uint32_t rand_u32(void)
{
	rand_state = rand_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rand_state >> 33);
}

static size_t rand_below(size_t n)
{
	return n ? rand_u32() % n : 0;
}

/* ---- packets --------------------------------------------------------- */

struct tcp_spec {
	int family;
	size_t ipopt;		/* IPv4 option bytes, a multiple of 4 */
	size_t tcpopt;		/* 0, or 12 for NOP NOP timestamps */
	uint8_t flags, tos;
	uint16_t id, sport, window, frag;
	uint32_t seq, ack;
};

static size_t spec_iphl(const struct tcp_spec *s)
{
	return s->family == AF_INET ? 20 + s->ipopt : 40;
}

static size_t spec_hdrlen(const struct tcp_spec *s)
{
	return spec_iphl(s) + 20 + s->tcpopt;
}

static size_t build_ip(uint8_t *p, const struct tcp_spec *s, uint8_t proto,
		       size_t len)
{
	size_t iphl = spec_iphl(s);

	memset(p, 0, iphl);
	if (s->family == AF_INET) {
		p[0] = (uint8_t)(0x40 | iphl / 4);
		p[1] = s->tos;
		set_be16(p + 2, (uint16_t)len);
		set_be16(p + 4, s->id);
		set_be16(p + 6, (uint16_t)(0x4000 | s->frag));
		p[8] = 64;
		p[9] = proto;
		memcpy(p + 12, "\x0a\x00\x00\x01\xc0\xa8\x07\x02", 8);
		for (size_t i = 20; i < iphl; i++)
			p[i] = 1;	/* NOP options */
		set_be16(p + 10, (uint16_t)~naive_fold(naive_sum(0, p, iphl)));
	} else {
		p[0] = (uint8_t)(0x60 | s->tos >> 4);
		p[1] = (uint8_t)(s->tos << 4 | 0x0b);
		p[2] = 0xee;
		p[3] = 0x42;
		set_be16(p + 4, (uint16_t)(len - 40));
		p[6] = proto;
		p[7] = 64;
		memcpy(p + 8, "\xfd\x00\x00\x00\x00\x00\x00\x00"
			      "\x00\x00\x00\x00\x00\x00\x00\x01", 16);
		memcpy(p + 24, "\x20\x01\x0d\xb8\x00\x00\x00\x00"
			       "\xab\xcd\x00\x00\x00\x00\xff\xfe", 16);
	}
	return iphl;
}

/* A TCP packet with n payload bytes and valid checksums; returns its length. */
static size_t build_tcp(uint8_t *p, const struct tcp_spec *s,
			const uint8_t *data, size_t n)
{
	size_t len = spec_hdrlen(s) + n, iphl = build_ip(p, s, 6, len);
	uint8_t *t = p + iphl;

	memset(t, 0, 20 + s->tcpopt);
	set_be16(t, s->sport);
	set_be16(t + 2, 443);
	set_be32(t + 4, s->seq);
	set_be32(t + 8, s->ack);
	t[12] = (uint8_t)((20 + s->tcpopt) / 4 << 4);
	t[13] = s->flags;
	set_be16(t + 14, s->window);
	if (s->tcpopt == 12)
		memcpy(t + 20, "\x01\x01\x08\x0a\x00\x12\x34\x56\x89\xab\xcd\xef", 12);
	memcpy(t + 20 + s->tcpopt, data, n);
	l4_fill(p, len, 6, 16);
	return len;
}

/* The super-packet and virtio header the kernel hands to a TSO reader. */
static size_t build_super(uint8_t *p, struct virtio_net_hdr *h,
			  const struct tcp_spec *s, const uint8_t *data,
			  size_t n, size_t gso)
{
	size_t len = build_tcp(p, s, data, n);

	set_be16(p + spec_iphl(s) + 16, partial_of(p, len, 6));
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = s->family == AF_INET ? VIRTIO_NET_HDR_GSO_TCPV4
					   : VIRTIO_NET_HDR_GSO_TCPV6;
	h->hdr_len = (uint16_t)spec_hdrlen(s);
	h->gso_size = (uint16_t)gso;
	h->csum_start = (uint16_t)spec_iphl(s);
	h->csum_offset = 16;
	return len;
}

/* Segment i of a train of segments of mss bytes, as a sender's stack
 * would cut it; flags as on the super-packet. */
static size_t build_train_seg(uint8_t *p, const struct tcp_spec *super,
			      const uint8_t *data, size_t total, size_t mss,
			      size_t i)
{
	struct tcp_spec s = *super;
	size_t n = (total + mss - 1) / mss;
	size_t part = i + 1 < n ? mss : total - i * mss;

	s.id = (uint16_t)(super->id + i);
	s.seq = super->seq + (uint32_t)(i * mss);
	if (i + 1 < n)
		s.flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i > 0)
		s.flags &= (uint8_t)~TCP_CWR;
	return build_tcp(p, &s, data + i * mss, part);
}

static uint8_t *payload_new(size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)rand_u32();
	return d;
}

/* ---- checksums ------------------------------------------------------- */

static void test_csum_known(void)
{
	static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	/* A captured IPv4 header, 192.168.0.1 > 192.168.0.199, checksum b861. */
	uint8_t ip[20];
	uint8_t odd[3] = { 0x01, 0x02, 0x03 };
	uint16_t c;

	CHECK(stored_be(csum_fold(csum_add(0, rfc, 8))) == 0xddf2,
	      "checksum 1: RFC 1071 §3 example sums to dd f2");
	CHECK(stored_be(csum_fold(csum_add(csum_add(0, rfc, 4), rfc + 4, 4))) == 0xddf2,
	      "checksum 2: the same in two even chunks");
	check_hex(ip, sizeof(ip), "450000730000400040110000c0a80001c0a800c7");
	c = (uint16_t)~csum_fold(csum_add(0, ip, 20));
	memcpy(ip + 10, &c, 2);
	CHECK(ip[10] == 0xb8 && ip[11] == 0x61, "checksum 3: IPv4 header gets b8 61");
	CHECK(csum_fold(csum_add(0, ip, 20)) == 0xffff,
	      "checksum 4: the completed header sums to ffff");
	CHECK(stored_be(csum_fold(csum_add(0, odd, 3))) == 0x0402,
	      "checksum 5: odd length pads with a zero byte (01 02 03 -> 04 02)");
	CHECK(csum_fold(csum_add(0, odd, 0)) == 0, "checksum 6: empty sums to 0");
	CHECK(csum_fold(csum_add(0x1234, odd, 0)) == 0x1234,
	      "checksum 7: an initial sum is kept");
	CHECK(csum_fold(0xffffffffULL) == 0xffff && csum_fold(0x1ffffffffULL) == 1 &&
	      csum_fold(0xffff0001ULL) == 0x0001 && csum_fold(0x10000) == 1,
	      "checksum 8: folding carries wrap around");
}

static void test_csum_pseudo(void)
{
	uint8_t p4[20], p6[40];
	struct tcp_spec s4 = { .family = AF_INET }, s6 = { .family = AF_INET6 };
	int bad = 0;

	build_ip(p4, &s4, 6, 20);
	build_ip(p6, &s6, 6, 40);
	for (uint32_t len = 0; len < 70000; len += 997) {
		uint16_t a = stored_be(csum_fold(csum_pseudo(AF_INET, p4 + 12, p4 + 16, 6, len)));
		uint16_t b = stored_be(csum_fold(csum_pseudo(AF_INET6, p6 + 8, p6 + 24, 17, len)));
		if (len <= 0xffff && a != naive_fold(naive_pseudo(p4, 6, len)))
			bad++;
		if (b != naive_fold(naive_pseudo(p6, 17, len)))
			bad++;
	}
	CHECK(bad == 0, "checksum 9: pseudo-headers (IPv4 TCP, IPv6 UDP) match the naive sum");
}

/* csum_add against the naive sum for random data, lengths and splits. */
static void test_csum_random(void)
{
	static uint8_t buf[2001 + 8];
	int bad = 0;

	for (int iter = 0; iter < 3000; iter++) {
		size_t len = rand_below(2001), off = rand_below(8), split;
		uint8_t *p = buf + off;	/* unaligned starts too */
		uint64_t init = rand_below(4) ? 0 : rand_u32();
		uint16_t want;

		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)rand_u32();
		if (iter < 8)
			memset(p, iter & 1 ? 0xff : 0, len);
		/* init is a native-order sum: its big-endian twin is swapped */
		want = naive_fold(naive_sum(0, p, len) + stored_be(csum_fold(init)));
		if (stored_be(csum_fold(csum_add(init, p, len))) != want)
			bad++;
		split = rand_below(len + 1) & ~(size_t)1;
		if (stored_be(csum_fold(csum_add(csum_add(init, p, split),
						 p + split, len - split))) != want)
			bad++;
	}
	CHECK(bad == 0, "checksum 10: 3000 random buffers (0..2000 bytes) match the naive sum");
}

/* ---- segmentation ---------------------------------------------------- */

struct seg_out {
	uint8_t *buf;
	size_t cap, headroom, tailroom, nsegs;
	uint8_t *segs[512];
	size_t lens[512];
};

static void seg_out_init(struct seg_out *o, size_t cap, size_t headroom,
			 size_t tailroom)
{
	o->buf = malloc(cap + 64);
	memset(o->buf, CANARY, cap + 64);
	o->cap = cap;
	o->headroom = headroom;
	o->tailroom = tailroom;
	o->nsegs = 0;
}

static bool seg_run(struct seg_out *o, const struct virtio_net_hdr *h,
		    uint8_t *pkt, size_t len, size_t max_segs)
{
	return offload_segment(h, pkt, len, o->buf, o->cap, o->headroom,
			       o->tailroom, max_segs, o->segs, o->lens, &o->nsegs);
}

static bool all_canary(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != CANARY)
			return false;
	return true;
}

/* Nothing past cap, nothing in any headroom, segments inside the buffer
 * with their tailroom, and no two overlapping. */
static bool seg_bounds_ok(const struct seg_out *o)
{
	if (!all_canary(o->buf + o->cap, 64))
		return false;
	for (size_t i = 0; i < o->nsegs; i++) {
		size_t at = (size_t)(o->segs[i] - o->buf);
		size_t end = at + o->headroom + o->lens[i] + o->tailroom;
		if (o->segs[i] < o->buf || end > o->cap ||
		    !all_canary(o->segs[i], o->headroom))
			return false;
		if (i && o->segs[i] < o->segs[i - 1] + o->headroom +
				      o->lens[i - 1] + o->tailroom)
			return false;
	}
	return true;
}

/* Every field of segment i of the cut of super-packet orig. */
static int seg_check_one(const uint8_t *orig, size_t olen, size_t gso,
			 size_t n, size_t i, const uint8_t *s, size_t slen)
{
	size_t iphl = ip_hlen(orig), thl = (size_t)(orig[iphl + 12] >> 4) * 4;
	size_t hdrlen = iphl + thl, part = i + 1 < n ? gso : olen - hdrlen - i * gso;
	const uint8_t *to = orig + iphl, *ts = s + iphl;
	uint8_t flags = to[13];
	int bad = 0;

	if (slen != hdrlen + part)
		return 1;
	if (ip_family(orig) == AF_INET) {
		bad += get_be16(s + 2) != slen;
		bad += get_be16(s + 4) != (uint16_t)(get_be16(orig + 4) + i);
		bad += !ip4_valid(s);
		bad += memcmp(s, orig, 2) || memcmp(s + 6, orig + 6, 4) ||
		       memcmp(s + 12, orig + 12, iphl - 12);
	} else {
		bad += get_be16(s + 4) != slen - 40;
		bad += memcmp(s, orig, 4) || memcmp(s + 6, orig + 6, 34);
	}
	if (i + 1 < n)
		flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i > 0)
		flags &= (uint8_t)~TCP_CWR;
	bad += memcmp(ts, to, 4) != 0;
	bad += get_be32(ts + 4) != get_be32(to + 4) + (uint32_t)(i * gso);
	bad += memcmp(ts + 8, to + 8, 5) || ts[13] != flags ||
	       memcmp(ts + 14, to + 14, 2) || memcmp(ts + 18, to + 18, thl - 18);
	bad += !l4_valid(s, slen, 6);
	bad += memcmp(s + hdrlen, orig + hdrlen + i * gso, part) != 0;
	return bad;
}

/* Cuts a copy of orig and checks every segment; returns the failures. */
static int seg_check(const char *what, const uint8_t *orig, size_t olen,
		     const struct virtio_net_hdr *h, size_t headroom,
		     size_t tailroom)
{
	size_t hdrlen = ip_hlen(orig) + (size_t)(orig[ip_hlen(orig) + 12] >> 4) * 4;
	size_t gso = h->gso_size, n = (olen - hdrlen + gso - 1) / gso;
	size_t cap = n * (headroom + hdrlen + gso + tailroom + 16);
	uint8_t *pkt = malloc(olen);
	struct seg_out o;
	int bad = 0;

	memcpy(pkt, orig, olen);
	seg_out_init(&o, cap, headroom, tailroom);
	if (!seg_run(&o, h, pkt, olen, 512) || o.nsegs != n) {
		CHECK(0, "%s: cut into %zu segments (got %zu)", what, n, o.nsegs);
		bad = 1;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		bad += seg_check_one(orig, olen, gso, n, i, o.segs[i] + headroom,
				     o.lens[i]);
	bad += !seg_bounds_ok(&o);
	bad += memcmp(pkt, orig, olen) != 0;	/* the input is not touched */
out:
	free(o.buf);
	free(pkt);
	return bad;
}

struct seg_case {
	const char *name;
	int family;
	size_t ipopt, tcpopt, payload, gso;
	uint8_t flags;
	uint16_t id;
	uint32_t seq;
	size_t headroom, tailroom;
};

static const struct seg_case seg_cases[] = {
	{ "segment 1: IPv4, 5 full segments", AF_INET, 0, 0, 5 * 1460, 1460, TCP_ACK, 7, 1000, 0, 0 },
	{ "segment 2: IPv4, timestamps, short last, PSH|FIN", AF_INET, 0, 12, 10000, 1448,
	  TCP_ACK | TCP_PSH | TCP_FIN, 0x1234, 0xdeadbeef, 32, 16 },
	{ "segment 3: IPv4, CWR only on the first", AF_INET, 0, 12, 4000, 1000,
	  TCP_ACK | TCP_CWR | TCP_PSH, 1, 5, 16, 0 },
	{ "segment 4: IPv4 options, ID and sequence wrap", AF_INET, 8, 12, 3001, 1000,
	  TCP_ACK | TCP_PSH, 0xfffe, 0xfffffc00, 0, 32 },
	{ "segment 5: IPv6, no options", AF_INET6, 0, 0, 65535 - 60, 1440, TCP_ACK, 0, 77, 32, 16 },
	{ "segment 6: IPv6, timestamps, PSH|FIN|CWR", AF_INET6, 0, 12, 3333, 1428,
	  TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR, 0, 0xffffff00, 0, 0 },
	{ "segment 7: IPv4, 64 KiB in 110 segments", AF_INET, 0, 12,
	  65535 - 52, 600, TCP_ACK | TCP_PSH, 9, 9, 8, 8 },
	{ "segment 8: IPv6, odd gso, odd last", AF_INET6, 0, 12, 2 * 1001 + 3, 1001,
	  TCP_ACK | TCP_PSH, 0, 1, 3, 5 },
	{ "segment 9: IPv4, gso 1", AF_INET, 0, 0, 100, 1, TCP_ACK | TCP_PSH, 0, 1, 0, 0 },
};

static void test_segment_table(void)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET + 40];

	for (size_t i = 0; i < sizeof(seg_cases) / sizeof(seg_cases[0]); i++) {
		const struct seg_case *c = &seg_cases[i];
		struct tcp_spec s = {
			.family = c->family, .ipopt = c->ipopt, .tcpopt = c->tcpopt,
			.flags = c->flags, .id = c->id, .seq = c->seq,
			.ack = 0x01020304, .window = 512, .sport = 40000,
		};
		uint8_t *data = payload_new(c->payload);
		struct virtio_net_hdr h;
		size_t len = build_super(pkt, &h, &s, data, c->payload, c->gso);

		CHECK(seg_check(c->name, pkt, len, &h, c->headroom, c->tailroom) == 0,
		      "%s", c->name);
		free(data);
	}
}

/* GSO_NONE (and a super-packet that fits in one segment) is finished in
 * place: TCP and UDP checksums, IPv4 and IPv6. */
static void test_segment_in_place(void)
{
	uint8_t pkt[2000], want[2000];
	uint8_t *data = payload_new(1001);
	struct tcp_spec s = { .family = AF_INET, .tcpopt = 12, .flags = TCP_ACK | TCP_PSH };
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_NONE, .csum_start = 20, .csum_offset = 16,
	};
	struct seg_out o;
	size_t len;

	seg_out_init(&o, 4096, 0, 0);
	for (int fam = 0; fam < 2; fam++) {
		s.family = fam ? AF_INET6 : AF_INET;
		h.csum_start = (uint16_t)spec_iphl(&s);
		h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
		h.csum_offset = 16;
		len = build_tcp(want, &s, data, 1001);
		memcpy(pkt, want, len);
		set_be16(pkt + h.csum_start + 16, partial_of(pkt, len, 6));
		CHECK(seg_run(&o, &h, pkt, len, 64) && o.nsegs == 0 &&
		      !memcmp(pkt, want, len) && l4_valid(pkt, len, 6),
		      "in place %d: %s TCP GSO_NONE gets its checksum", 1 + fam * 4,
		      fam ? "IPv6" : "IPv4");

		h.gso_type = fam ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		h.gso_size = 1001;
		memcpy(pkt, want, len);
		set_be16(pkt + h.csum_start + 16, partial_of(pkt, len, 6));
		CHECK(seg_run(&o, &h, pkt, len, 64) && o.nsegs == 0 &&
		      !memcmp(pkt, want, len),
		      "in place %d: %s super-packet of one segment finished in place",
		      2 + fam * 4, fam ? "IPv6" : "IPv4");

		/* UDP: an 8-byte header, checksum at 6, odd payload. */
		h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
		h.csum_offset = 6;
		len = build_ip(pkt, &s, 17, spec_iphl(&s) + 8 + 999);
		set_be16(pkt + h.csum_start, 5353);
		set_be16(pkt + h.csum_start + 2, 53);
		set_be16(pkt + h.csum_start + 4, 8 + 999);
		memcpy(pkt + h.csum_start + 8, data, 999);
		len += 8 + 999;
		set_be16(pkt + h.csum_start + 6, partial_of(pkt, len, 17));
		CHECK(seg_run(&o, &h, pkt, len, 64) && o.nsegs == 0 &&
		      l4_valid(pkt, len, 17),
		      "in place %d: %s UDP (csum_offset 6) gets its checksum",
		      3 + fam * 4, fam ? "IPv6" : "IPv4");

		h.flags = 0;
		memcpy(want, pkt, len);
		CHECK(seg_run(&o, &h, pkt, len, 64) && o.nsegs == 0 &&
		      !memcmp(pkt, want, len),
		      "in place %d: without NEEDS_CSUM nothing changes", 4 + fam * 4);
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	}
	CHECK(all_canary(o.buf, o.cap + 64), "in place 9: the output buffer is untouched");
	free(o.buf);
	free(data);
}

struct bad_case {
	const char *name;
	void (*mangle)(uint8_t *pkt, size_t *len, struct virtio_net_hdr *h,
		       size_t *max_segs, size_t *cap);
};

static void bad_v6_as_v4(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			 size_t *m, size_t *c)
{
	h->gso_type = h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 ? VIRTIO_NET_HDR_GSO_TCPV6
							       : VIRTIO_NET_HDR_GSO_TCPV4;
}

static void bad_gso_zero(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			 size_t *m, size_t *c)
{
	h->gso_size = 0;
}

static void bad_gso_udp(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			size_t *m, size_t *c)
{
	h->gso_type = VIRTIO_NET_HDR_GSO_UDP;
}

static void bad_gso_unknown(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			    size_t *m, size_t *c)
{
	h->gso_type = 0x7f;
}

static void bad_csum_start(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			   size_t *m, size_t *c)
{
	h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h->csum_start = (uint16_t)*l;
}

static void bad_csum_offset(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			    size_t *m, size_t *c)
{
	h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h->csum_start = (uint16_t)(*l - 17);
	h->csum_offset = 16;
}

static void bad_csum_far(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			 size_t *m, size_t *c)
{
	h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h->csum_start = 0xffff;
	h->csum_offset = 0xffff;
}

static void bad_doff(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
		     size_t *m, size_t *c)
{
	*l = ip_hlen(p) + 40;	/* TCP header claims 60 bytes, 40 are there */
	p[ip_hlen(p) + 12] = 0xf0;
}

static void bad_doff_small(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			   size_t *m, size_t *c)
{
	p[ip_hlen(p) + 12] = 0x40;
}

static void bad_ihl(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
		    size_t *m, size_t *c)
{
	if (ip_family(p) == AF_INET)
		p[0] = 0x4f, *l = 70;
	else
		*l = 50;	/* IPv6: TCP header cut */
}

static void bad_ihl_small(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			  size_t *m, size_t *c)
{
	if (ip_family(p) == AF_INET)
		p[0] = 0x44;
	else
		p[6] = 0;	/* IPv6: hop-by-hop, not TCP */
}

static void bad_short(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
		      size_t *m, size_t *c)
{
	*l = 19;
}

static void bad_not_tcp(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			size_t *m, size_t *c)
{
	p[ip_family(p) == AF_INET ? 9 : 6] = 17;
}

static void bad_version(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			size_t *m, size_t *c)
{
	p[0] = 0x55;
}

static void bad_max_segs(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			 size_t *m, size_t *c)
{
	*m = 9;		/* 10 are needed */
}

static void bad_outcap(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
		       size_t *m, size_t *c)
{
	*c = 10 * (16 + ip_hlen(p) + 32 + 1000 + 16) - 1;
}

static void bad_outcap_zero(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			    size_t *m, size_t *c)
{
	*c = 0;
}

static void bad_huge_gso(uint8_t *p, size_t *l, struct virtio_net_hdr *h,
			 size_t *m, size_t *c)
{
	/* The cut would give a first segment longer than any IP length
	 * field holds, though the buffer is big enough. */
	h->gso_size = 0xffff;
	*l = 65535 + 200;
	*c = 1 << 18;
}

static const struct bad_case bad_cases[] = {
	{ "refuse 1: gso_type of the other family", bad_v6_as_v4 },
	{ "refuse 2: gso_size 0", bad_gso_zero },
	{ "refuse 3: gso_type UDP", bad_gso_udp },
	{ "refuse 4: unknown gso_type", bad_gso_unknown },
	{ "refuse 5: csum_start at the end", bad_csum_start },
	{ "refuse 6: csum_offset past the end", bad_csum_offset },
	{ "refuse 7: csum_start and offset 0xffff", bad_csum_far },
	{ "refuse 8: TCP data offset beyond len", bad_doff },
	{ "refuse 9: TCP data offset under 5", bad_doff_small },
	{ "refuse 10: IP header beyond len", bad_ihl },
	{ "refuse 11: IPv4 IHL under 5 / IPv6 next header not TCP", bad_ihl_small },
	{ "refuse 12: shorter than an IP header", bad_short },
	{ "refuse 13: not TCP", bad_not_tcp },
	{ "refuse 14: IP version 5", bad_version },
	{ "refuse 15: more segments than max_segs", bad_max_segs },
	{ "refuse 16: outcap under 10 segments with their room", bad_outcap },
	{ "refuse 17: outcap 0", bad_outcap_zero },
	{ "refuse 18: gso_size 65535", bad_huge_gso },
};

static void test_segment_refuse(void)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET + 400], orig[OFFLOAD_MAX_PACKET + 400];
	uint8_t *data = payload_new(OFFLOAD_MAX_PACKET);

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		for (int fam = 0; fam < 2; fam++) {
			struct tcp_spec s = {
				.family = fam ? AF_INET6 : AF_INET, .tcpopt = 12,
				.flags = TCP_ACK, .seq = 1,
			};
			struct virtio_net_hdr h;
			size_t len = build_super(pkt, &h, &s, data, 9500, 1000);
			size_t max_segs = 64, cap = 1 << 16;
			struct seg_out o;
			bool ok;

			memcpy(pkt + len, data, sizeof(pkt) - len);
			bad_cases[i].mangle(pkt, &len, &h, &max_segs, &cap);
			memcpy(orig, pkt, sizeof(pkt));
			seg_out_init(&o, cap, 16, 16);
			ok = seg_run(&o, &h, pkt, len, max_segs);
			CHECK(!ok && o.nsegs == 0 && all_canary(o.buf, cap + 64) &&
			      !memcmp(pkt, orig, sizeof(pkt)), "%s (%s)",
			      bad_cases[i].name, fam ? "IPv6" : "IPv4");
			free(o.buf);
		}
	}
	free(data);
}

/* The exact capacity the cut needs is enough, and max_segs exactly n. */
static void test_segment_exact_fit(void)
{
	static uint8_t pkt[20000];
	uint8_t *data = payload_new(9500);
	struct tcp_spec s = { .family = AF_INET, .tcpopt = 12, .flags = TCP_ACK };
	struct virtio_net_hdr h;
	size_t len = build_super(pkt, &h, &s, data, 9500, 1000), cap;
	struct seg_out o;
	bool ok = false;

	/* Find the least capacity that works; it must hold 10 segments. */
	for (cap = 10 * (52 + 1000) - 600; cap < 10 * (52 + 1000 + 32); cap++) {
		seg_out_init(&o, cap, 0, 0);
		ok = seg_run(&o, &h, pkt, len, 10);
		if (ok)
			break;
		free(o.buf);
	}
	CHECK(ok && cap >= 9 * 1052 + 552 && o.nsegs == 10 && seg_bounds_ok(&o),
	      "exact fit: the least working outcap (%zu) and max_segs 10 hold all", cap);
	if (ok)
		free(o.buf);
	free(data);
}

/* ---- the coalescer --------------------------------------------------- */

#define REC_MAX 128

struct rec {
	struct virtio_net_hdr h;
	uint8_t *pkt;
	size_t len;
};

static struct rec recs[REC_MAX];
static size_t nrecs;
static struct gro gro;

static void rec_write(void *ctx, const struct virtio_net_hdr *h,
		      const uint8_t *pkt, size_t len)
{
	if (nrecs == REC_MAX)
		return;
	recs[nrecs].h = *h;
	recs[nrecs].pkt = malloc(len ? len : 1);
	memcpy(recs[nrecs].pkt, pkt, len);
	recs[nrecs++].len = len;
}

static void rec_reset(void)
{
	for (size_t i = 0; i < nrecs; i++)
		free(recs[i].pkt);
	nrecs = 0;
	gro_init(&gro, rec_write, NULL);
}

static bool rec_plain(size_t i, const uint8_t *pkt, size_t len)
{
	return i < nrecs && recs[i].h.gso_type == VIRTIO_NET_HDR_GSO_NONE &&
	       recs[i].h.flags == 0 && recs[i].len == len &&
	       !memcmp(recs[i].pkt, pkt, len);
}

/* Record i is the GSO packet the kernel would hand us for super: header
 * and bytes the same (the checksum field the folded pseudo-header sum),
 * and once completed as the kernel would, a valid TCP packet. */
static bool rec_super(size_t i, const uint8_t *super, size_t len, size_t gso)
{
	size_t iphl = ip_hlen(super), hdrlen = iphl + (size_t)(super[iphl + 12] >> 4) * 4;
	const struct virtio_net_hdr *h = &recs[i].h;
	uint8_t want[2];
	uint8_t *copy;
	bool ok;

	if (i >= nrecs || recs[i].len != len)
		return false;
	set_be16(want, partial_of(super, len, 6));
	ok = h->flags == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
	     h->gso_type == (ip_family(super) == AF_INET ? VIRTIO_NET_HDR_GSO_TCPV4
							  : VIRTIO_NET_HDR_GSO_TCPV6) &&
	     h->gso_size == gso && h->hdr_len == hdrlen &&
	     h->csum_start == iphl && h->csum_offset == 16 &&
	     !memcmp(recs[i].pkt, super, iphl + 16) &&
	     !memcmp(recs[i].pkt + iphl + 16, want, 2) &&
	     !memcmp(recs[i].pkt + iphl + 18, super + iphl + 18, len - iphl - 18);
	if (ip_family(super) == AF_INET)
		ok = ok && ip4_valid(recs[i].pkt);
	copy = malloc(len);
	memcpy(copy, recs[i].pkt, len);
	kernel_complete(copy, len, h);
	ok = ok && l4_valid(copy, len, 6);
	free(copy);
	return ok;
}

static uint8_t segbuf[REC_MAX][2048];
static size_t seglen[REC_MAX];
static uint8_t superbuf[OFFLOAD_MAX_PACKET + 40];

/* Builds the train of n segments (mss bytes, the last maybe shorter)
 * and the super-packet they should merge into. */
static size_t train(const struct tcp_spec *s, const uint8_t *data,
		    size_t total, size_t mss)
{
	struct virtio_net_hdr h;
	size_t n = (total + mss - 1) / mss;

	for (size_t i = 0; i < n; i++)
		seglen[i] = build_train_seg(segbuf[i], s, data, total, mss, i);
	return build_super(superbuf, &h, s, data, total, mss);
}

static void test_gro_in_order(void)
{
	uint8_t *data = payload_new(65535);

	for (int fam = 0; fam < 2; fam++) {
		struct tcp_spec s = {
			.family = fam ? AF_INET6 : AF_INET, .tcpopt = 12,
			.flags = TCP_ACK | TCP_PSH, .id = 100, .seq = 0xfffff000,
			.ack = 77, .window = 1000, .sport = 1234, .tos = 0x02,
		};
		size_t len = train(&s, data, 5 * 1448 + 300, 1448);
		const char *fn = fam ? "IPv6" : "IPv4";

		rec_reset();
		for (size_t i = 0; i < 6; i++)
			gro_add(&gro, segbuf[i], seglen[i]);
		CHECK(nrecs == 0, "gro %d: %s segments are held until the flush",
		      1 + fam * 2, fn);
		gro_flush(&gro);
		CHECK(nrecs == 1 && rec_super(0, superbuf, len, 1448),
		      "gro %d: %s 6 in-order segments (sequence wraps) become one "
		      "GSO packet", 2 + fam * 2, fn);
	}
	free(data);
}

/* Expected merge of segments [first, first + n) of a train of 1000s. */
static size_t expect_merge(uint8_t *p, const struct tcp_spec *train_spec,
			   const uint8_t *data, size_t first, size_t n)
{
	struct tcp_spec s = *train_spec;
	struct virtio_net_hdr h;

	s.seq += (uint32_t)(first * 1000);
	s.id = (uint16_t)(s.id + first);
	return build_super(p, &h, &s, data + first * 1000, n * 1000, 1000);
}

static void test_gro_out_of_order(void)
{
	uint8_t *data = payload_new(8000);
	struct tcp_spec s = { .family = AF_INET, .flags = TCP_ACK, .seq = 1, .sport = 9 };
	static uint8_t seg6[6][2048], m01[4000], m34[4000];
	size_t len6[6], l01, l34;

	train(&s, data, 6 * 1000, 1000);
	for (int i = 0; i < 6; i++) {
		memcpy(seg6[i], segbuf[i], seglen[i]);
		len6[i] = seglen[i];
	}
	l01 = expect_merge(m01, &s, data, 0, 2);
	l34 = expect_merge(m34, &s, data, 3, 2);
	rec_reset();
	gro_add(&gro, seg6[0], len6[0]);
	gro_add(&gro, seg6[1], len6[1]);
	gro_add(&gro, seg6[3], len6[3]);	/* 2 is late */
	CHECK(nrecs == 1 && rec_super(0, m01, l01, 1000),
	      "gro 5: a gap writes the flow so far at once");
	gro_add(&gro, seg6[4], len6[4]);
	gro_add(&gro, seg6[2], len6[2]);
	gro_add(&gro, seg6[5], len6[5]);
	gro_flush(&gro);
	CHECK(nrecs == 4 && rec_super(1, m34, l34, 1000),
	      "gro 6: the segments after the gap merge as a new flow");
	CHECK(nrecs == 4 && rec_plain(2, seg6[2], len6[2]) &&
	      rec_plain(3, seg6[5], len6[5]),
	      "gro 7: the late segment and the one after it pass alone, in order");
	free(data);
}

static void test_gro_flows(void)
{
	uint8_t *data = payload_new(4000);
	static uint8_t segs[9][4][2048], supers[9][5000];
	size_t lens[9][4], slen[9];
	int ok = 1;

	rec_reset();
	for (int f = 0; f < 9; f++) {
		struct tcp_spec s = {
			.family = f & 1 ? AF_INET6 : AF_INET, .tcpopt = f & 2 ? 12 : 0,
			.flags = TCP_ACK, .seq = (uint32_t)f * 1000000u,
			.sport = (uint16_t)(2000 + f),
		};
		slen[f] = train(&s, data, 4000, 1000);
		memcpy(supers[f], superbuf, slen[f]);
		for (int i = 0; i < 4; i++) {
			memcpy(segs[f][i], segbuf[i], seglen[i]);
			lens[f][i] = seglen[i];
		}
	}
	for (int i = 0; i < 4; i++)
		for (int f = 0; f < 8; f++)
			gro_add(&gro, segs[f][i], lens[f][i]);
	CHECK(nrecs == 0, "gro 8: 8 interleaved flows are all held");
	gro_add(&gro, segs[8][0], lens[8][0]);
	CHECK(nrecs == 1 && rec_super(0, supers[0], slen[0], 1000),
	      "gro 9: a 9th flow evicts the oldest, whole");
	gro_flush(&gro);
	CHECK(nrecs == 9, "gro 10: the flush writes the other 8");
	for (size_t r = 1; r < nrecs; r++) {
		int f = -1;
		for (int k = 1; k < 9; k++)
			if (recs[r].len > 40 &&
			    get_be16(recs[r].pkt + ip_hlen(recs[r].pkt)) == 2000 + k)
				f = k;
		if (f < 0)
			ok = 0;
		else if (f == 8)
			ok &= rec_plain(r, segs[8][0], lens[8][0]);
		else
			ok &= rec_super(r, supers[f], slen[f], 1000);
	}
	CHECK(ok, "gro 11: each interleaved flow merged on its own");
	free(data);
}

static void test_gro_closing(void)
{
	uint8_t *data = payload_new(8000);
	struct tcp_spec s = { .family = AF_INET6, .tcpopt = 12, .flags = TCP_ACK, .seq = 5 };
	struct tcp_spec p = s;
	uint8_t short1[2048], big[2048];
	size_t l1, lb, len;

	/* 1000 1000 500 | 1000: the short one ends the flow. */
	len = train(&s, data, 2500, 1000);
	s.seq = 5 + 2500;
	lb = build_tcp(big, &s, data + 2500, 1000);
	rec_reset();
	for (int i = 0; i < 3; i++)
		gro_add(&gro, segbuf[i], seglen[i]);
	gro_add(&gro, big, lb);
	gro_flush(&gro);
	CHECK(nrecs == 2 && rec_super(0, superbuf, len, 1000) && rec_plain(1, big, lb),
	      "gro 12: a short segment closes the flow");

	/* 500 then 1000: larger than the first never joins. */
	s.seq = 5;
	l1 = build_tcp(short1, &s, data, 500);
	s.seq = 505;
	lb = build_tcp(big, &s, data + 500, 1000);
	rec_reset();
	gro_add(&gro, short1, l1);
	gro_add(&gro, big, lb);
	gro_flush(&gro);
	CHECK(nrecs == 2 && rec_plain(0, short1, l1) && rec_plain(1, big, lb),
	      "gro 13: a segment larger than the first starts a new flow");

	/* PSH on the 2nd of 3: merged(0, 1) with PSH, then 2 alone. */
	p.seq = 5;
	p.flags = TCP_ACK | TCP_PSH;
	len = train(&p, data, 2000, 1000);
	p.flags = TCP_ACK;
	p.seq = 2005;
	p.id = 2;
	lb = build_tcp(big, &p, data + 2000, 1000);
	rec_reset();
	gro_add(&gro, segbuf[0], seglen[0]);
	gro_add(&gro, segbuf[1], seglen[1]);
	gro_add(&gro, big, lb);
	gro_flush(&gro);
	CHECK(nrecs == 2 && rec_super(0, superbuf, len, 1000) &&
	      (recs[0].pkt[40 + 13] & TCP_PSH) && rec_plain(1, big, lb),
	      "gro 14: PSH closes the flow and stays on the merged packet");
	free(data);
}

/* A packet that must not merge is written after the pending segments of
 * its own flow. */
static void test_gro_plain_flags(void)
{
	static const struct { uint8_t flags; size_t payload; const char *what; } c[] = {
		{ TCP_ACK | TCP_FIN, 100, "FIN" },
		{ TCP_ACK | TCP_RST, 0, "RST" },
		{ TCP_SYN | TCP_ACK, 0, "SYN" },
		{ TCP_ACK, 0, "pure ACK" },
		{ TCP_ACK | TCP_CWR, 1000, "CWR" },
		{ TCP_PSH, 1000, "no ACK" },
	};
	uint8_t *data = payload_new(4000);
	uint8_t pkt[2048], other[2048];
	struct tcp_spec s = { .family = AF_INET, .flags = TCP_ACK, .seq = 9, .sport = 7 };
	struct tcp_spec o = s;
	size_t len, lo, sl;

	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		struct tcp_spec x = s;

		sl = train(&s, data, 2000, 1000);
		x.flags = c[k].flags;
		x.seq = 2009;
		x.id = 2;
		len = build_tcp(pkt, &x, data + 2000, c[k].payload);
		rec_reset();
		gro_add(&gro, segbuf[0], seglen[0]);
		gro_add(&gro, segbuf[1], seglen[1]);
		gro_add(&gro, pkt, len);
		CHECK(nrecs == 2 && rec_super(0, superbuf, sl, 1000) &&
		      rec_plain(1, pkt, len),
		      "plain %zu: %s is written after its flow's pending segments",
		      1 + k, c[k].what);
	}
	/* A SYN of another flow leaves a pending flow alone. */
	o.sport = 8;
	o.flags = TCP_SYN;
	lo = build_tcp(other, &o, data, 0);
	rec_reset();
	gro_add(&gro, segbuf[0], seglen[0]);
	gro_add(&gro, segbuf[1], seglen[1]);
	gro_add(&gro, other, lo);
	gro_flush(&gro);
	CHECK(nrecs == 2 && rec_plain(0, other, lo) && rec_super(1, superbuf, sl, 1000),
	      "plain 7: another flow's SYN does not flush a pending flow");
	free(data);
}

static void test_gro_pass_through(void)
{
	uint8_t *data = payload_new(OFFLOAD_MAX_PACKET);
	uint8_t pkt[3000];
	static uint8_t big[OFFLOAD_MAX_PACKET + 40];
	struct tcp_spec s = { .family = AF_INET, .flags = TCP_ACK, .seq = 1 };
	size_t len, l2;

	s.ipopt = 4;
	len = build_tcp(pkt, &s, data, 1000);
	rec_reset();
	gro_add(&gro, pkt, len);
	CHECK(nrecs == 1 && rec_plain(0, pkt, len), "pass 1: IPv4 with options");
	s.ipopt = 0;
	s.frag = 0x2000;	/* MF */
	len = build_tcp(pkt, &s, data, 1000);
	gro_add(&gro, pkt, len);
	CHECK(nrecs == 2 && rec_plain(1, pkt, len), "pass 2: IPv4 first fragment (MF)");
	s.frag = 0x00b9;	/* offset */
	len = build_tcp(pkt, &s, data, 1000);
	gro_add(&gro, pkt, len);
	CHECK(nrecs == 3 && rec_plain(2, pkt, len), "pass 3: IPv4 later fragment");
	s.frag = 0;
	len = build_tcp(pkt, &s, data, 1000);
	gro_add(&gro, pkt, len - 1);
	CHECK(nrecs == 4 && rec_plain(3, pkt, len - 1),
	      "pass 4: IPv4 total length longer than the packet");
	build_ip(pkt, &s, 17, 20 + 8 + 100);
	gro_add(&gro, pkt, 128);
	gro_add(&gro, pkt, 0);
	gro_add(&gro, pkt, 19);
	CHECK(nrecs == 7 && rec_plain(4, pkt, 128) && rec_plain(5, pkt, 0) &&
	      rec_plain(6, pkt, 19), "pass 5: UDP, empty and runt packets");
	s.family = AF_INET6;
	len = build_tcp(pkt, &s, data, 1000);
	pkt[6] = 0;	/* a hop-by-hop header */
	gro_add(&gro, pkt, len);
	CHECK(nrecs == 8 && rec_plain(7, pkt, len), "pass 6: IPv6 with an extension header");
	gro_flush(&gro);
	CHECK(nrecs == 8, "pass 7: nothing was held");

	/* An IPv6 packet of 40 + 65535 bytes is more than a flow holds:
	 * with 7 flows pending it would land in the last slot. */
	rec_reset();
	for (uint16_t f = 0; f < 7; f++) {
		struct tcp_spec t = { .family = AF_INET, .flags = TCP_ACK, .sport = f };
		l2 = build_tcp(pkt, &t, data, 1000);
		gro_add(&gro, pkt, l2);
	}
	l2 = build_tcp(big, &s, data, 65535 - 20);
	gro_add(&gro, big, l2);
	CHECK(nrecs == 1 && rec_plain(0, big, l2) && gro.write == rec_write,
	      "pass 8: an IPv6 packet of 65575 bytes passes through");
	gro_flush(&gro);
	CHECK(nrecs == 8, "pass 9: the 7 held flows are written at the flush");
	free(data);
}

static void test_gro_single_and_limits(void)
{
	uint8_t *data = payload_new(70000);
	struct tcp_spec s = { .family = AF_INET, .tcpopt = 12, .flags = TCP_ACK | TCP_PSH, .seq = 3 };
	uint8_t pkt[2048], w2[2048];
	size_t len, total = 0, l2;
	int ok = 1;

	len = build_tcp(pkt, &s, data, 1000);
	rec_reset();
	gro_add(&gro, pkt, len);
	gro_flush(&gro);
	CHECK(nrecs == 1 && rec_plain(0, pkt, len),
	      "limit 1: a one-segment flow is written plainly, as received");

	/* 46 segments of 1448 bytes are more than 64 KiB. */
	s.flags = TCP_ACK;
	rec_reset();
	for (size_t i = 0; i < 46; i++) {
		struct tcp_spec t = s;
		t.seq = 3 + (uint32_t)(i * 1448);
		len = build_tcp(pkt, &t, data + i * 1448, 1448);
		gro_add(&gro, pkt, len);
	}
	gro_flush(&gro);
	for (size_t r = 0; r < nrecs; r++) {
		ok &= recs[r].len <= OFFLOAD_MAX_PACKET && ip4_valid(recs[r].pkt) &&
		      get_be16(recs[r].pkt + 2) == recs[r].len &&
		      get_be32(recs[r].pkt + 24) == 3 + total &&
		      !memcmp(recs[r].pkt + 52, data + total, recs[r].len - 52);
		total += recs[r].len - 52;
	}
	CHECK(nrecs == 2 && ok && total == 46 * 1448,
	      "limit 2: a flow past 64 KiB is written in two, bytes in order");

	/* Same flow, a new window: the update must not be lost. */
	rec_reset();
	s.window = 100;
	len = build_tcp(pkt, &s, data, 1000);
	s.window = 200;
	s.seq += 1000;
	l2 = build_tcp(w2, &s, data + 1000, 1000);
	gro_add(&gro, pkt, len);
	gro_add(&gro, w2, l2);
	gro_flush(&gro);
	CHECK(nrecs == 2 && rec_plain(0, pkt, len) && rec_plain(1, w2, l2),
	      "limit 3: a window change does not merge");
	free(data);
}

/* Segment super-packets, coalesce the segments: the original returns. */
static void test_round_trip(void)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET + 40], orig[OFFLOAD_MAX_PACKET + 40];
	uint8_t *data = payload_new(OFFLOAD_MAX_PACKET);
	int bad = 0, iters = 300;

	for (int iter = 0; iter < iters; iter++) {
		struct tcp_spec s = {
			.family = rand_below(2) ? AF_INET6 : AF_INET,
			.tcpopt = rand_below(2) * 12, .seq = rand_u32(),
			.ack = rand_u32(), .id = (uint16_t)rand_u32(),
			.window = (uint16_t)rand_u32(), .sport = (uint16_t)rand_u32(),
			.flags = rand_below(2) ? TCP_ACK | TCP_PSH : TCP_ACK,
		};
		size_t gso = 1 + rand_below(iter & 1 ? 1460 : 64);
		size_t maxpay = OFFLOAD_MAX_PACKET - spec_hdrlen(&s);
		size_t segs = 2 + rand_below(60), payload;
		struct virtio_net_hdr h;
		struct seg_out o;
		size_t len;

		payload = segs * gso - rand_below(gso);
		if (payload > maxpay)
			payload = maxpay;
		if (payload <= gso)
			payload = gso + 1;
		len = build_super(orig, &h, &s, data, payload, gso);
		memcpy(pkt, orig, len);
		seg_out_init(&o, 512 * (gso + 200), 32, 16);
		rec_reset();
		if (!seg_run(&o, &h, pkt, len, 512)) {
			bad++;
			free(o.buf);
			continue;
		}
		for (size_t i = 0; i < o.nsegs; i++)
			gro_add(&gro, o.segs[i] + o.headroom, o.lens[i]);
		gro_flush(&gro);
		if (nrecs != 1 || !rec_super(0, orig, len, gso) ||
		    memcmp(&recs[0].h, &h, sizeof(h)) || !seg_bounds_ok(&o))
			bad++;
		free(o.buf);
	}
	CHECK(bad == 0, "round trip: %d random super-packets segment and coalesce back", iters);

	/* FIN on the super-packet: the merged packet, then the FIN segment. */
	{
		struct tcp_spec s = { .family = AF_INET, .flags = TCP_ACK | TCP_PSH | TCP_FIN,
				      .seq = 1 };
		struct virtio_net_hdr h;
		size_t len = build_super(orig, &h, &s, data, 3500, 1000);
		struct seg_out o;

		memcpy(pkt, orig, len);
		seg_out_init(&o, 1 << 16, 0, 0);
		rec_reset();
		if (seg_run(&o, &h, pkt, len, 64))
			for (size_t i = 0; i < o.nsegs; i++)
				gro_add(&gro, o.segs[i], o.lens[i]);
		gro_flush(&gro);
		CHECK(o.nsegs == 4 && nrecs == 2 && recs[0].len == 20 + 20 + 3000 &&
		      recs[0].h.gso_size == 1000 && rec_plain(1, o.segs[3], o.lens[3]) &&
		      (recs[1].pkt[33] & (TCP_FIN | TCP_PSH)) == (TCP_FIN | TCP_PSH),
		      "round trip FIN: three merged, the FIN segment after them");
		free(o.buf);
	}
	free(data);
}

/* USO: a UDP super-packet (as the kernel hands over for a sender using
 * UDP_SEGMENT) cut into datagrams: IP and UDP lengths, IPv4 IDs, valid
 * checksums, the payload in order, the input untouched, bounds kept;
 * a header that is no UDP is refused. */
static void test_segment_udp(void)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET], orig[OFFLOAD_MAX_PACKET];
	const struct { int family; size_t payload, gso, headroom, tailroom; } c[] = {
		{ AF_INET, 3 * 1000, 1000, 16, 31 },
		{ AF_INET, 4000 + 7, 1372, 0, 0 },
		{ AF_INET6, 65535 - 48, 1352, 16, 31 },
		{ AF_INET6, 2001, 1000, 3, 5 },
	};

	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		struct tcp_spec sp = { .family = c[k].family, .id = 0xfffe };
		size_t iphl = build_ip(orig, &sp, 17, spec_iphl(&sp) + 8 + c[k].payload);
		size_t hdrlen = iphl + 8, len = hdrlen + c[k].payload;
		size_t n = (c[k].payload + c[k].gso - 1) / c[k].gso;
		uint8_t *data = payload_new(c[k].payload);
		struct virtio_net_hdr h = {
			.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4,
			.gso_size = (uint16_t)c[k].gso, .hdr_len = (uint16_t)hdrlen,
			.csum_start = (uint16_t)iphl, .csum_offset = 6,
		};
		struct seg_out o;
		int bad = 0;

		set_be16(orig + iphl, 4433);
		set_be16(orig + iphl + 2, 443);
		set_be16(orig + iphl + 4, 0);	/* a super-packet's length field */
		memcpy(orig + hdrlen, data, c[k].payload);
		set_be16(orig + iphl + 6, partial_of(orig, len, 17));
		memcpy(pkt, orig, len);
		seg_out_init(&o, n * (c[k].headroom + hdrlen + c[k].gso + c[k].tailroom + 16),
			     c[k].headroom, c[k].tailroom);
		if (!seg_run(&o, &h, pkt, len, 512) || o.nsegs != n) {
			CHECK(0, "uso %zu: cut into %zu datagrams (got %zu)", k + 1, n, o.nsegs);
			free(o.buf);
			free(data);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			const uint8_t *d = o.segs[i] + c[k].headroom;
			size_t part = i + 1 < n ? c[k].gso : c[k].payload - i * c[k].gso;

			bad += o.lens[i] != hdrlen + part;
			if (c[k].family == AF_INET)
				bad += get_be16(d + 2) != hdrlen + part || !ip4_valid(d) ||
				       get_be16(d + 4) != (uint16_t)(0xfffe + i);
			else
				bad += get_be16(d + 4) != 8 + part;
			bad += get_be16(d + iphl) != 4433 || get_be16(d + iphl + 2) != 443;
			bad += get_be16(d + iphl + 4) != 8 + part;
			bad += get_be16(d + iphl + 6) == 0 || !l4_valid(d, hdrlen + part, 17);
			bad += memcmp(d + hdrlen, data + i * c[k].gso, part) != 0;
		}
		bad += !seg_bounds_ok(&o) || memcmp(pkt, orig, len) != 0;
		CHECK(bad == 0, "uso %zu: %s, %zu bytes in %zu datagrams of %zu: lengths, "
		      "IDs, checksums, payload", k + 1, c[k].family == AF_INET ? "IPv4" : "IPv6",
		      c[k].payload, n, c[k].gso);
		/* claimed UDP, but the packet is TCP: refused */
		pkt[c[k].family == AF_INET ? 9 : 6] = 6;
		CHECK(!seg_run(&o, &h, pkt, len, 512), "uso %zu: a TCP packet labelled UDP "
		      "is refused", k + 1);
		free(o.buf);
		free(data);
	}
}

int main(void)
{
	test_csum_known();
	test_csum_pseudo();
	test_csum_random();
	test_segment_table();
	test_segment_udp();
	test_segment_in_place();
	test_segment_refuse();
	test_segment_exact_fit();
	test_gro_in_order();
	test_gro_out_of_order();
	test_gro_flows();
	test_gro_closing();
	test_gro_plain_flags();
	test_gro_pass_through();
	test_gro_single_and_limits();
	test_round_trip();
	rec_reset();
	return check_done();
}
