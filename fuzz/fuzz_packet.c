/*
 * fuzz_packet — libFuzzer target for the engine's packet paths.  A one-time
 * setup makes two devices with fixed keys, A (the target) and B (its peer),
 * and runs a real handshake between them, so A holds a confirmed session.
 * Each input is then:
 *   1. received by A as a UDP payload from B's address (the dispatcher,
 *      handshake consumers, cookie replies and the data path up to the AEAD);
 *   2. sent by B as an IP packet, B's data message received by A (the
 *      path after decryption: inner IP parse, source check, delivery);
 *   3. sent by A as an IP packet (routing, padding, staging).
 * Whatever A delivers must be an IP packet from B's allowed IPs.  Time
 * never moves, so the session stays valid; receiver indices come from a
 * fixed seed, so a data message seed reaches the AEAD.
 *
 * Seeds: build with -DFUZZ_PACKET_MAKE_SEEDS (no -fsanitize=fuzzer) to get
 * a main() that writes seed files into the directory given as argv[1].
 */
#include "device.h"
#include "crypto.h"
#include "ip.h"
#include "noise.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SEC NSEC_PER_SEC
#define FZ_MONO (1000 * FZ_SEC)
#define FZ_REAL (1700000000ULL * FZ_SEC)

struct fz_node {
	struct wg_device *dev;
	union wg_sockaddr addr;
	struct wg_peer *peer;
};

/* Messages a node sent during one step; the step decides their fate. */
#define FZ_QUEUE 256
struct fz_msg {
	struct fz_node *from;
	uint8_t *data;
	size_t len;
};
static struct fz_msg fz_queue[FZ_QUEUE];
static size_t fz_queued;

static struct fz_node fz_a, fz_b;

static void fz_send(void *ctx, const union wg_sockaddr *to,
		    const uint8_t *msg, size_t len)
{
	struct fz_msg *m;

	if (fz_queued == FZ_QUEUE)
		return;
	m = &fz_queue[fz_queued++];
	m->from = ctx;
	m->data = malloc(len ? len : 1);
	memcpy(m->data, msg, len);
	m->len = len;
}

/* The engine's promise: only IP packets from the peer's allowed IPs. */
static void fz_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			size_t len)
{
	struct ip_info ip;

	if (ctx != &fz_a)
		return;
	if (!ip_parse(pkt, len, &ip) || ip.len != len ||
	    allowedips_lookup(&fz_a.dev->aips, ip.family, ip.src) !=
		    &fz_a.peer->aips)
		abort();
}

static const struct wg_ops fz_ops = { fz_send, fz_deliver, NULL };

static void fz_drop_queue(void)
{
	for (size_t i = 0; i < fz_queued; i++)
		free(fz_queue[i].data);
	fz_queued = 0;
}

static void fz_clock(struct fz_node *n, uint64_t mono)
{
	wg_device_set_time(n->dev, mono, mono - FZ_MONO + FZ_REAL);
}

/* Receives len bytes at `to` from `from`, in an aligned copy of exactly
 * that length so that any overread is caught. */
static void fz_receive(struct fz_node *to, const union wg_sockaddr *from,
		       const uint8_t *msg, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);

	memcpy(buf, msg, len);
	wg_device_receive(to->dev, from, buf, len);
	free(buf);
}

static void fz_send_ip(struct fz_node *n, const uint8_t *pkt, size_t len)
{
	uint8_t *buf = malloc(WG_HEADROOM + len + WG_TAILROOM);

	memcpy(buf + WG_HEADROOM, pkt, len);
	wg_device_send(n->dev, buf, len);
	free(buf);
}

/* Delivers everything queued to the other node, until quiet. */
static void fz_exchange(void)
{
	for (int round = 0; round < 8 && fz_queued; round++) {
		struct fz_msg batch[FZ_QUEUE];
		size_t n = fz_queued;

		memcpy(batch, fz_queue, n * sizeof(*batch));
		fz_queued = 0;
		for (size_t i = 0; i < n; i++) {
			struct fz_node *to = batch[i].from == &fz_a ? &fz_b : &fz_a;
			fz_receive(to, &batch[i].from->addr, batch[i].data,
				   batch[i].len);
			free(batch[i].data);
		}
	}
	fz_drop_queue();
}

static void fz_node_init(struct fz_node *n, uint8_t key_byte, const char *ip)
{
	uint8_t priv[32];

	memset(priv, key_byte, 32);
	n->dev = wg_device_new(&fz_ops, n);
	if (!n->dev)
		abort();
	n->dev->rng = 0x5eed0000ULL + key_byte;	/* fixed receiver indices */
	fz_clock(n, FZ_MONO);
	wg_device_set_private_key(n->dev, priv);
	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.in4.sin_family = AF_INET;
	n->addr.in4.sin_port = htons(51820);
	inet_pton(AF_INET, ip, &n->addr.in4.sin_addr);
}

static void fz_peer(struct fz_node *n, struct fz_node *other, const char *net4,
		    uint8_t cidr4, const char *net6, uint8_t cidr6)
{
	uint8_t a4[4], a6[16];

	if (wg_peer_new(n->dev, other->dev->local.public_key, &n->peer))
		abort();
	inet_pton(AF_INET, net4, a4);
	inet_pton(AF_INET6, net6, a6);
	wg_peer_add_allowed_ip(n->peer, AF_INET, a4, cidr4);
	wg_peer_add_allowed_ip(n->peer, AF_INET6, a6, cidr6);
	wg_peer_set_endpoint(n->peer, &other->addr);
}

/* An IPv4 packet of total bytes from src to dst. */
static void fz_ip4(uint8_t *p, size_t total, const char *src, const char *dst)
{
	memset(p, 0, total);
	p[0] = 0x45;
	p[2] = (uint8_t)(total >> 8);
	p[3] = (uint8_t)total;
	p[8] = 64;
	p[9] = 17;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	for (size_t i = 20; i < total; i++)
		p[i] = (uint8_t)i;
}

static void fz_ip6(uint8_t *p, size_t total, const char *src, const char *dst)
{
	memset(p, 0, total);
	p[0] = 0x60;
	p[4] = (uint8_t)((total - 40) >> 8);
	p[5] = (uint8_t)(total - 40);
	p[6] = 59;
	p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
}

/* A: 192.0.2.1, inner 100.64.0.1; B: 198.51.100.2, inner 100.64.0.2.
 * A routes 100.64.0.0/16 and fd00::/16 to B; B routes everything to A. */
static void fz_setup(void)
{
	uint8_t pkt[84];

	if (!crypto_init())
		abort();
	noise_init();
	fz_node_init(&fz_a, 0x11, "192.0.2.1");
	fz_node_init(&fz_b, 0x22, "198.51.100.2");
	fz_peer(&fz_a, &fz_b, "100.64.0.0", 16, "fd00::", 16);
	fz_peer(&fz_b, &fz_a, "0.0.0.0", 0, "::", 0);
	/* B initiates; its first data confirms A's responder session. */
	fz_ip4(pkt, sizeof(pkt), "100.64.0.2", "100.64.0.1");
	fz_send_ip(&fz_b, pkt, sizeof(pkt));
	fz_exchange();
	if (!fz_a.peer->kp_cur || !fz_b.peer->kp_cur)
		abort();
	/* From now on the clock is one second later and stays there. */
	fz_clock(&fz_a, FZ_MONO + FZ_SEC);
	fz_clock(&fz_b, FZ_MONO + FZ_SEC);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		fz_setup();
		ready = true;
	}
	/* 1: a UDP payload from B's address (roaming may move B's endpoint;
	 * the input's first byte picks an IPv6 source sometimes). */
	if (size && data[0] == MSG_DATA && size > 40 && (data[size - 1] & 1)) {
		union wg_sockaddr from6 = { 0 };
		from6.in6.sin6_family = AF_INET6;
		from6.in6.sin6_port = htons(51820);
		memcpy(&from6.in6.sin6_addr, data + size - 17, 16);
		fz_receive(&fz_a, &from6, data, size);
	} else {
		fz_receive(&fz_a, &fz_b.addr, data, size);
	}
	fz_drop_queue();
	/* 2: B sends it as an IP packet; A receives B's data message. */
	if (size <= 65535) {
		fz_send_ip(&fz_b, data, size);
		for (size_t i = 0; i < fz_queued; i++)
			if (fz_queue[i].from == &fz_b)
				fz_receive(&fz_a, &fz_b.addr, fz_queue[i].data,
					   fz_queue[i].len);
		fz_drop_queue();
	}
	/* 3: A sends it as an IP packet. */
	if (size <= 65535)
		fz_send_ip(&fz_a, data, size);
	fz_drop_queue();
	wg_peer_set_endpoint(fz_a.peer, &fz_b.addr);
	return 0;
}

#ifdef FUZZ_PACKET_MAKE_SEEDS
/* Writes the seeds of fuzz/seeds/fuzz_packet into argv[1]. */
static void fz_write(const char *dir, const char *name, const uint8_t *p,
		     size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	uint8_t pkt[200];
	static const uint8_t garbage[] = { 0x04, 0x00, 0x00 };
	static const uint8_t garbage2[] = { 0x01, 0x00, 0x00, 0x00, 0xde, 0xad };

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	fz_setup();
	/* An initiation from B, ten seconds after the one of the setup. */
	fz_clock(&fz_b, FZ_MONO + 10 * FZ_SEC);
	wg_peer_send_initiation(fz_b.peer, false);
	if (fz_queued != 1 || fz_queue[0].len != sizeof(struct msg_initiation))
		return 1;
	fz_write(argv[1], "initiation", fz_queue[0].data, fz_queue[0].len);
	fz_drop_queue();
	/* A data message from B (its receiver index matches A's session;
	 * its keys are of this run, so it exercises the AEAD failure). */
	fz_clock(&fz_b, FZ_MONO + FZ_SEC);
	fz_ip4(pkt, 84, "100.64.0.2", "100.64.0.1");
	fz_send_ip(&fz_b, pkt, 84);
	if (!fz_queued || fz_queue[0].data[0] != MSG_DATA)
		return 1;
	fz_write(argv[1], "data", fz_queue[fz_queued - 1].data,
		 fz_queue[fz_queued - 1].len);
	fz_drop_queue();
	fz_write(argv[1], "garbage_short", garbage, sizeof(garbage));
	fz_write(argv[1], "garbage_initiation_type", garbage2, sizeof(garbage2));
	/* Inner packets for paths 2 and 3. */
	fz_ip4(pkt, 84, "100.64.0.2", "100.64.0.1");
	fz_write(argv[1], "ip4_from_peer", pkt, 84);
	fz_ip4(pkt, 60, "100.64.0.1", "100.64.7.9");
	fz_write(argv[1], "ip4_to_peer", pkt, 60);
	fz_ip6(pkt, 72, "fd00::2", "fd00::1");
	fz_write(argv[1], "ip6_from_peer", pkt, 72);
	/* A cookie reply and a response to A's session index. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = MSG_COOKIE_REPLY;
	memcpy(pkt + 4, &fz_a.peer->kp_cur->local_index, 4);
	fz_write(argv[1], "cookie_reply", pkt, sizeof(struct msg_cookie_reply));
	pkt[0] = MSG_RESPONSE;
	fz_write(argv[1], "response", pkt, sizeof(struct msg_response));
	wg_device_free(fz_a.dev);
	wg_device_free(fz_b.dev);
	return 0;
}
#endif
