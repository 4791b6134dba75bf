/*
 * fuzz_offload — libFuzzer target for the offload module.  The first 10
 * bytes are a virtio_net_hdr, the rest the packet read after it.  The
 * packet is cut into a bounded output buffer (exact-size allocations, so
 * ASan sees any write outside it or the packet); every segment must lie
 * inside the buffer with its room and carry valid IP and TCP checksums.
 * Then the packet and the segments go through the coalescer, whose writes
 * must describe themselves truthfully.
 */
#include "offload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OUTCAP (32 * 1024)
#define FUZZ_HEADROOM 16
#define FUZZ_TAILROOM 16
#define FUZZ_MAX_SEGS 32

static struct gro fuzz_gro;
static volatile uint8_t fuzz_sink;	/* makes every written byte read */

static uint16_t fuzz_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The naive big-endian word sum, independent of csum_add. */
static uint64_t fuzz_sum(uint64_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += fuzz_be16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fuzz_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* A segment: IP length field right, IPv4 header and TCP checksums valid. */
static void fuzz_check_segment(const uint8_t *s, size_t len)
{
	size_t iphl, l4;
	uint64_t pseudo;

	if (len < 40)
		__builtin_trap();
	if (s[0] >> 4 == 4) {
		iphl = (size_t)(s[0] & 15) * 4;
		if (fuzz_be16(s + 2) != len || fuzz_fold(fuzz_sum(0, s, iphl)) != 0xffff)
			__builtin_trap();
		pseudo = fuzz_sum(0, s + 12, 8);
	} else {
		iphl = 40;
		if ((size_t)fuzz_be16(s + 4) + 40 != len)
			__builtin_trap();
		pseudo = fuzz_sum(0, s + 8, 32);
	}
	l4 = len - iphl;
	if (fuzz_fold(fuzz_sum(pseudo + 6 + l4, s + iphl, l4)) != 0xffff)
		__builtin_trap();
}

/* Whatever the coalescer writes: readable, and a GSO packet only with a
 * header that matches it. */
static void fuzz_write(void *ctx, const struct virtio_net_hdr *h,
		       const uint8_t *pkt, size_t len)
{
	uint8_t x = 0;
	size_t payload;

	(void)ctx;
	for (size_t i = 0; i < len; i++)
		x ^= pkt[i];
	fuzz_sink = x;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (h->flags)
			__builtin_trap();
		return;
	}
	if (len > OFFLOAD_MAX_PACKET || h->flags != VIRTIO_NET_HDR_F_NEEDS_CSUM ||
	    h->csum_offset != 16 || h->hdr_len < h->csum_start + 20u ||
	    h->hdr_len > len || !h->gso_size)
		__builtin_trap();
	payload = len - h->hdr_len;
	if (payload <= h->gso_size)		/* one segment is never GSO */
		__builtin_trap();
	if (h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 ?
	    pkt[0] >> 4 != 4 || fuzz_be16(pkt + 2) != len ||
	    fuzz_fold(fuzz_sum(0, pkt, h->csum_start)) != 0xffff :
	    h->gso_type != VIRTIO_NET_HDR_GSO_TCPV6 || pkt[0] >> 4 != 6 ||
	    (size_t)fuzz_be16(pkt + 4) + 40 != len)
		__builtin_trap();
}

/* Every segment inside out with its headroom and tailroom, none overlapping. */
static void fuzz_check_bounds(uint8_t *out, uint8_t **segs, size_t *lens,
			      size_t nsegs)
{
	uint8_t *end = out;

	if (nsegs > FUZZ_MAX_SEGS)
		__builtin_trap();
	for (size_t i = 0; i < nsegs; i++) {
		if (segs[i] < end ||
		    (size_t)(segs[i] - out) + FUZZ_HEADROOM + lens[i] +
		    FUZZ_TAILROOM > FUZZ_OUTCAP)
			__builtin_trap();
		end = segs[i] + FUZZ_HEADROOM + lens[i] + FUZZ_TAILROOM;
		fuzz_check_segment(segs[i] + FUZZ_HEADROOM, lens[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr h;
	uint8_t *segs[FUZZ_MAX_SEGS], *pkt, *out;
	size_t lens[FUZZ_MAX_SEGS], nsegs = 0, len;
	bool ok;

	if (size < VNET_HDR_LEN)
		return 0;
	memcpy(&h, data, VNET_HDR_LEN);
	len = size - VNET_HDR_LEN;
	pkt = malloc(len ? len : 1);
	out = malloc(FUZZ_OUTCAP);
	memcpy(pkt, data + VNET_HDR_LEN, len);
	ok = offload_segment(&h, pkt, len, out, FUZZ_OUTCAP, FUZZ_HEADROOM,
			     FUZZ_TAILROOM, FUZZ_MAX_SEGS, segs, lens, &nsegs);
	if (!ok && nsegs)
		__builtin_trap();
	if (ok)
		fuzz_check_bounds(out, segs, lens, nsegs);

	gro_init(&fuzz_gro, fuzz_write, NULL);
	gro_add(&fuzz_gro, data + VNET_HDR_LEN, len);
	for (size_t i = 0; ok && i < nsegs; i++)
		gro_add(&fuzz_gro, segs[i] + FUZZ_HEADROOM, lens[i]);
	if (ok && !nsegs)
		gro_add(&fuzz_gro, pkt, len);
	gro_flush(&fuzz_gro);
	for (int i = 0; i < GRO_FLOWS; i++)
		if (fuzz_gro.flows[i].used)
			__builtin_trap();
	free(out);
	free(pkt);
	return 0;
}
