/*
 * offload — TCP and UDP segmentation and TCP coalescing for a TUN device
 * opened with IFF_VNET_HDR (virtio-net header, virtio spec §5.1.6): the
 * kernel hands us TCP super-packets of up to 64 KiB (and UDP ones from a
 * sender using UDP_SEGMENT, where the kernel has USO), which we cut into
 * MTU-sized segments before encryption (TSO done in userspace), and the
 * segments of
 * one flow we decrypt are glued back into one super-packet before they
 * are written (GRO).  Both save a syscall and a trip through the stack per
 * segment.  Also the Internet checksum (RFC 1071) these need.  Pure.
 */
#ifndef WEFT_OFFLOAD_H
#define WEFT_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#define VNET_HDR_LEN sizeof(struct virtio_net_hdr)
/* UDP segmentation (USO, Linux 6.2); older headers lack it. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
#define OFFLOAD_MAX_PACKET 65535

/* One's-complement sum of len bytes added to sum (not folded). */
uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len);
/* Folds to 16 bits, not complemented. */
uint16_t csum_fold(uint64_t sum);
/* Sum of the TCP/UDP pseudo-header (RFC 793 §3.1, RFC 8200 §8.1). */
uint64_t csum_pseudo(int family, const uint8_t *src, const uint8_t *dst,
		     uint8_t proto, uint32_t len);

/*
 * Segments the packet pkt (len bytes, as read after the virtio header h)
 * into *nsegs packets with complete IP and TCP checksums, laid out in out
 * (outcap bytes): segment i is at segs[i] + headroom, lens[i] bytes long,
 * with tailroom writable bytes after it.  A packet that needs no
 * segmentation is finished in place instead (*nsegs = 0, its checksum
 * completed if h asks for it).  Returns false for a packet whose headers
 * do not match what the virtio header claims, or that does not fit: drop.
 */
bool offload_segment(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len,
		     uint8_t *out, size_t outcap, size_t headroom,
		     size_t tailroom, size_t max_segs, uint8_t **segs,
		     size_t *lens, size_t *nsegs);

/*
 * The coalescer: a few flows pending at once; each holds a virtio header
 * followed by the super-packet being built.
 */
#define GRO_FLOWS 8
struct gro_flow {
	bool used;
	int family;
	uint8_t key[36];		/* addresses and ports */
	size_t keylen;
	uint32_t next_seq;
	size_t iphl, hdrlen;		/* IP header, IP + TCP headers */
	size_t gso_size;		/* payload of the first segment */
	size_t len;			/* of the packet, after the vnet header */
	unsigned segs;
	bool closed;			/* a short or PSH segment ends it */
	bool psh;			/* the last segment carried PSH */
	uint64_t age;
	uint8_t buf[OFFLOAD_MAX_PACKET];
};

/* Receives a virtio header and the packet it describes. */
typedef void (*gro_write_fn)(void *ctx, const struct virtio_net_hdr *h,
			     const uint8_t *pkt, size_t len);

struct gro {
	struct gro_flow flows[GRO_FLOWS];
	uint64_t clock;
	gro_write_fn write;		/* receives virtio header + packet */
	void *ctx;
};

void gro_init(struct gro *g, gro_write_fn write, void *ctx);
/* Takes one received IP packet; writes whatever it cannot hold. */
void gro_add(struct gro *g, const uint8_t *pkt, size_t len);
/* Writes every pending flow; call at the end of a receive batch. */
void gro_flush(struct gro *g);

#endif
