/*
 * test_engine — the WireGuard engine end to end, in one process: two or
 * three wg_device instances joined by a simulated network (a queue of UDP
 * datagrams the test delivers, drops, duplicates, tampers with or
 * reorders) and driven by a simulated clock (wg_device_set_time before
 * every call, wg_device_tick stepping from deadline to deadline).  Nothing
 * here reads a real clock or sleeps.
 *
 * Each test builds fresh devices; the clock only moves forward.  Inner
 * packets are real IPv4/IPv6 packets between 100.64.0.N and fd00::N.
 * Besides the scripted cases: a randomized "chaos" test (random traffic,
 * loss, duplication, tampering, reordering, time jumps and configuration
 * changes, with the index table and timer heap checked after every event
 * and liveness checked once the network heals; see test_chaos for the
 * WEFT_CHAOS_* variables), a differential test of the receiver-index
 * table, and 10,000 peers through the peer table and the timer heap.
 */
#include "device.h"
#include "crypto.h"
#include "noise.h"
#include "check.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SEC NSEC_PER_SEC
#define MS (NSEC_PER_SEC / 1000)
#define REAL_OFFSET (1700000000ULL * SEC)	/* wall clock = mono + this */

/* ---- the simulated clock -------------------------------------------- */

static uint64_t sim_now = 1000 * SEC;
static bool sim_trace;

/* ---- nodes ------------------------------------------------------------ */

struct sent_rec {
	uint64_t t;
	uint8_t type;
	size_t len;
};

struct packet {
	uint8_t *data;
	size_t len;
};

#define LOG_MAX 4096
struct node {
	const char *name;
	int id;
	struct wg_device *dev;
	union wg_sockaddr addr;
	uint8_t priv[32], pub[32];
	uint8_t in4[4], in6[16];
	struct packet *delivered;
	size_t n_delivered, cap_delivered;
	uint64_t sent[5];		/* by message type; [0] other */
	struct sent_rec log[LOG_MAX];
	size_t n_log;
	unsigned staged_sent;		/* sent_staged calls */
	size_t staged_sent_data;	/* data messages sent before the last */
};

#define MAX_NODES 4
static struct node *sim_nodes[MAX_NODES];
static int sim_n_nodes;

/* ---- the simulated network ------------------------------------------- */

struct net_msg {
	struct node *from;
	union wg_sockaddr src, dst;
	uint8_t *data;
	size_t len;
};

static struct {
	struct net_msg *q;
	size_t n, cap;
	uint64_t total;		/* messages ever sent */
	uint64_t dropped, lost;
	bool hold;		/* queue, do not deliver */
	struct node *drop_from;	/* drop messages of this node ... */
	uint8_t drop_type;	/* ... of this type (0 = all) */
} net;

static void sim_addr(union wg_sockaddr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (strchr(ip, ':')) {
		a->in6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &a->in6.sin6_addr);
		a->in6.sin6_port = htons(port);
	} else {
		a->in4.sin_family = AF_INET;
		inet_pton(AF_INET, ip, &a->in4.sin_addr);
		a->in4.sin_port = htons(port);
	}
}

static void sim_send(void *ctx, const union wg_sockaddr *to,
		     const uint8_t *msg, size_t len)
{
	struct node *n = ctx;
	struct net_msg *m;

	if (sim_trace) {
		uint32_t idx[2] = { 0, 0 };
		if (len >= 12)
			memcpy(idx, msg + 4, 8);
		printf("# %llu ms: %s sends type %d, %zu bytes, indices %08x %08x\n",
		       (unsigned long long)(sim_now / MS), n->name, len ? msg[0] : -1,
		       len, idx[0], idx[1]);
	}
	n->sent[len && msg[0] <= 4 ? msg[0] : 0]++;
	if (n->n_log < LOG_MAX)
		n->log[n->n_log++] = (struct sent_rec){ sim_now, len ? msg[0] : 0, len };
	if (net.n == net.cap) {
		net.cap = net.cap ? net.cap * 2 : 64;
		net.q = realloc(net.q, net.cap * sizeof(*net.q));
	}
	m = &net.q[net.n++];
	m->from = n;
	m->src = n->addr;
	m->dst = *to;
	m->len = len;
	m->data = malloc(len ? len : 1);
	memcpy(m->data, msg, len);
	net.total++;
}

static void sim_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			size_t len)
{
	struct node *n = ctx;
	struct packet *p;

	if (n->n_delivered == n->cap_delivered) {
		n->cap_delivered = n->cap_delivered ? n->cap_delivered * 2 : 16;
		n->delivered = realloc(n->delivered,
				       n->cap_delivered * sizeof(*n->delivered));
	}
	p = &n->delivered[n->n_delivered++];
	p->data = malloc(len ? len : 1);
	memcpy(p->data, pkt, len);
	p->len = len;
}

static void sim_sent_staged(void *ctx, struct wg_peer *peer)
{
	struct node *n = ctx;

	(void)peer;
	n->staged_sent++;
	n->staged_sent_data = n->sent[MSG_DATA];
}

static const struct wg_ops sim_ops = {
	.send = sim_send, .deliver = sim_deliver, .sent_staged = sim_sent_staged,
};

static void node_clock(struct node *n)
{
	wg_device_set_time(n->dev, sim_now, sim_now + REAL_OFFSET);
}

static void node_init(struct node *n, const char *name, int id,
		      const char *ip, uint16_t port)
{
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->id = id;
	n->dev = wg_device_new(&sim_ops, n);
	sim_addr(&n->addr, ip, port);
	for (int i = 0; i < 32; i++)
		n->priv[i] = (uint8_t)(id * 37 + i * 11 + 5);
	node_clock(n);
	wg_device_set_private_key(n->dev, n->priv);
	memcpy(n->pub, n->dev->local.public_key, 32);
	n->in4[0] = 100, n->in4[1] = 64, n->in4[2] = 0, n->in4[3] = (uint8_t)id;
	n->in6[0] = 0xfd, n->in6[15] = (uint8_t)id;
	sim_nodes[sim_n_nodes++] = n;
}

static void node_clear_delivered(struct node *n)
{
	for (size_t i = 0; i < n->n_delivered; i++)
		free(n->delivered[i].data);
	n->n_delivered = 0;
}

static void net_free_msg(struct net_msg *m)
{
	free(m->data);
	m->data = NULL;
}

static void net_reset(void)
{
	for (size_t i = 0; i < net.n; i++)
		net_free_msg(&net.q[i]);
	net.n = 0;
	net.hold = false;
	net.drop_from = NULL;
	net.drop_type = 0;
}

/* Frees every node of the test and empties the network. */
static void sim_end(void)
{
	net_reset();
	for (int i = 0; i < sim_n_nodes; i++) {
		struct node *n = sim_nodes[i];
		wg_device_free(n->dev);
		node_clear_delivered(n);
		free(n->delivered);
	}
	sim_n_nodes = 0;
	sim_now += 3600 * SEC;
}

static struct node *net_node_at(const union wg_sockaddr *a)
{
	for (int i = 0; i < sim_n_nodes; i++)
		if (wg_sockaddr_equal(&sim_nodes[i]->addr, a))
			return sim_nodes[i];
	return NULL;
}

/* Hands one datagram to its destination, in a buffer of exactly its
 * length (8-byte aligned, as malloc's are) so ASan sees any overread. */
static void net_deliver(const struct net_msg *m)
{
	struct node *to = net_node_at(&m->dst);
	uint8_t *buf;

	if (!to) {
		net.lost++;
		return;
	}
	buf = malloc(m->len ? m->len : 1);
	memcpy(buf, m->data, m->len);
	node_clock(to);
	wg_device_receive(to->dev, &m->src, buf, m->len);
	free(buf);
}

/* Removes and returns the i-th queued message; caller frees. */
static struct net_msg net_take(size_t i)
{
	struct net_msg m = net.q[i];

	memmove(&net.q[i], &net.q[i + 1], (net.n - i - 1) * sizeof(*net.q));
	net.n--;
	return m;
}

/* Index of the first queued message from `from` of `type`, or -1. */
static long net_find(const struct node *from, uint8_t type)
{
	for (size_t i = 0; i < net.n; i++)
		if ((!from || net.q[i].from == from) &&
		    (!type || (net.q[i].len && net.q[i].data[0] == type)))
			return (long)i;
	return -1;
}

/* Takes the first message from `from` of `type`; CHECKs it exists. */
static bool net_take_one(const struct node *from, uint8_t type,
			 struct net_msg *out)
{
	long i = net_find(from, type);

	if (i < 0) {
		memset(out, 0, sizeof(*out));
		return false;
	}
	*out = net_take((size_t)i);
	return true;
}

/* Delivers queued messages in order, and what they cause, unless held. */
static void net_flush(void)
{
	while (!net.hold && net.n) {
		struct net_msg m = net_take(0);
		if (net.drop_from && m.from == net.drop_from &&
		    (!net.drop_type || m.data[0] == net.drop_type))
			net.dropped++;
		else
			net_deliver(&m);
		net_free_msg(&m);
	}
}

/* Runs everything due at the current time until nothing more happens;
 * returns the earliest deadline of any node (0 if none). */
static uint64_t sim_settle(void)
{
	uint64_t next, before;

	do {
		before = net.total;
		net_flush();
		next = 0;
		for (int i = 0; i < sim_n_nodes; i++) {
			uint64_t d;
			node_clock(sim_nodes[i]);
			d = wg_device_tick(sim_nodes[i]->dev);
			net_flush();
			if (d && (!next || d < next))
				next = d;
		}
	} while (net.total != before);
	return next;
}

/* Moves the clock to t, stopping at every timer deadline on the way. */
static void sim_run_until(uint64_t t)
{
	for (;;) {
		uint64_t next = sim_settle();
		if (!next || next > t)
			break;
		if (next > sim_now)
			sim_now = next;
	}
	if (t > sim_now)
		sim_now = t;
	sim_settle();
}

static void sim_run_for(uint64_t d)
{
	sim_run_until(sim_now + d);
}

/* ---- configuration ---------------------------------------------------- */

static struct wg_peer *node_add_peer_key(struct node *a, const uint8_t pub[32],
					 const struct node *b)
{
	struct wg_peer *p = NULL;

	node_clock(a);
	if (wg_peer_new(a->dev, pub, &p))
		return NULL;
	wg_peer_add_allowed_ip(p, AF_INET, b->in4, 32);
	wg_peer_add_allowed_ip(p, AF_INET6, b->in6, 128);
	wg_peer_set_endpoint(p, &b->addr);
	return p;
}

/* a learns b: b's key, b's inner addresses, b's endpoint. */
static struct wg_peer *node_add_peer(struct node *a, const struct node *b)
{
	return node_add_peer_key(a, b->pub, b);
}

static struct wg_peer *peer_of(const struct node *a, const struct node *b)
{
	return wg_peer_find(a->dev, b->pub);
}

/* ---- inner packets ---------------------------------------------------- */

static uint16_t ip4_checksum(const uint8_t *h, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An IPv4 packet of `total` bytes (>= 20) from src to dst. */
static size_t make_ip4(uint8_t *p, const uint8_t src[4], const uint8_t dst[4],
		       size_t total, uint8_t seed)
{
	uint16_t ck;

	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = (uint8_t)(total >> 8);
	p[3] = (uint8_t)total;
	p[4] = seed;
	p[8] = 64;
	p[9] = 253;		/* RFC 3692 experimentation */
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	ck = ip4_checksum(p, 20);
	p[10] = (uint8_t)(ck >> 8);
	p[11] = (uint8_t)ck;
	for (size_t i = 20; i < total; i++)
		p[i] = (uint8_t)(seed + i * 7);
	return total;
}

/* An IPv6 packet of `total` bytes (>= 40) from src to dst. */
static size_t make_ip6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16],
		       size_t total, uint8_t seed)
{
	size_t plen = total - 40;

	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)(plen >> 8);
	p[5] = (uint8_t)plen;
	p[6] = 59;		/* no next header */
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	for (size_t i = 40; i < total; i++)
		p[i] = (uint8_t)(seed + i * 13);
	return total;
}

/* Passes an IP packet to a's wg_device_send, with headroom and tailroom. */
static void node_send_ip(struct node *a, const uint8_t *pkt, size_t len)
{
	uint8_t *buf = malloc(WG_HEADROOM + len + WG_TAILROOM);

	memcpy(buf + WG_HEADROOM, pkt, len);
	node_clock(a);
	wg_device_send(a->dev, buf, len);
	free(buf);
}

/* Sends a small IPv4 packet from a to b's inner address. */
static void node_ping(struct node *a, const struct node *b, uint8_t seed)
{
	uint8_t pkt[100];

	make_ip4(pkt, a->in4, b->in4, 84, seed);
	node_send_ip(a, pkt, 84);
}

/* True when b's last delivered packet is a's ping with that seed. */
static bool node_got_ping(const struct node *b, const struct node *a,
			  uint8_t seed)
{
	uint8_t pkt[100];

	make_ip4(pkt, a->in4, b->in4, 84, seed);
	return b->n_delivered &&
	       b->delivered[b->n_delivered - 1].len == 84 &&
	       !memcmp(b->delivered[b->n_delivered - 1].data, pkt, 84);
}

/* A builds a valid data message to its peer b with any plaintext, using
 * its current sending key (as a compromised or buggy peer could). */
static size_t forge_data(struct wg_peer *p, uint8_t *out, const uint8_t *pt,
			 size_t len)
{
	struct noise_keypair *kp = p->kp_cur;
	struct msg_data hdr = { .type = MSG_DATA };
	uint64_t ctr = kp->send_counter++;

	hdr.receiver = kp->remote_index;
	hdr.counter = htole64(ctr);
	memcpy(out, &hdr, sizeof(hdr));
	memcpy(out + sizeof(hdr), pt, len);
	crypto_aead_ctx_seal(kp->send, out + sizeof(hdr), out + sizeof(hdr),
			     len, ctr);
	return sizeof(hdr) + len + CRYPTO_TAG_LEN;
}

/* Delivers raw bytes to b as if from a. */
static void node_inject(struct node *b, const struct node *from,
			const uint8_t *msg, size_t len)
{
	struct net_msg m = { .from = NULL, .src = from->addr, .dst = b->addr,
			     .data = (uint8_t *)msg, .len = len };

	net_deliver(&m);
}

/* How many messages of `type` (and, if len, of that length) n sent in
 * [from, to]. */
static size_t log_count(const struct node *n, uint8_t type, size_t len,
			uint64_t from, uint64_t to)
{
	size_t c = 0;

	for (size_t i = 0; i < n->n_log; i++)
		if (n->log[i].type == type && (!len || n->log[i].len == len) &&
		    n->log[i].t >= from && n->log[i].t <= to)
			c++;
	return c;
}

/* Two nodes that know each other; a is at 192.0.2.1, b at 198.51.100.2. */
static void sim_pair(struct node *a, struct node *b)
{
	node_init(a, "A", 1, "192.0.2.1", 51820);
	node_init(b, "B", 2, "198.51.100.2", 51820);
	node_add_peer(a, b);
	node_add_peer(b, a);
}

/* a pings b and the network runs until quiet: a session a -> b. */
static bool sim_establish(struct node *a, struct node *b, uint8_t seed)
{
	node_ping(a, b, seed);
	sim_settle();
	return node_got_ping(b, a, seed) && peer_of(a, b)->kp_cur &&
	       peer_of(b, a)->kp_cur;
}

/* A device wired to nothing, for tests of tables and timers. */
static size_t sink_sent;
static void sink_send(void *ctx, const union wg_sockaddr *to,
		      const uint8_t *msg, size_t len)
{
	sink_sent++;
}
static void sink_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			size_t len)
{
}
static const struct wg_ops sink_ops = { .send = sink_send, .deliver = sink_deliver };

/* ---- tests ------------------------------------------------------------ */

/* Spare ephemeral keys made ahead of need: each handshake message takes
 * the spare once, the next makes (or takes) a different one, and the
 * handshakes complete as usual. */
static void test_spare_ephemeral(void)
{
	static struct node a, b;
	struct net_msg m;
	uint8_t spare_a[32];

	sim_pair(&a, &b);
	CHECK(noise_local_refill(&a.dev->local) && a.dev->local.has_spare &&
	      noise_local_refill(&b.dev->local), "spares made");
	memcpy(spare_a, a.dev->local.spare_public, 32);
	node_ping(&a, &b, 7);
	CHECK(net_find(&a, MSG_INITIATION) >= 0 &&
	      !memcmp(net.q[net_find(&a, MSG_INITIATION)].data + 8, spare_a, 32),
	      "the initiation carries the spare as its ephemeral");
	CHECK(!a.dev->local.has_spare && crypto_is_zero(a.dev->local.spare_private, 32),
	      "the spare is used once and wiped");
	sim_settle();
	CHECK(node_got_ping(&b, &a, 7), "the handshake with spares completes");
	CHECK(!b.dev->local.has_spare, "the responder used its spare too");
	/* the next handshake without a spare makes a fresh key */
	wg_peer_clear_keypairs(peer_of(&a, &b));
	sim_run_for(REKEY_TIMEOUT + SEC);
	node_ping(&a, &b, 8);
	CHECK(net_take_one(&a, MSG_INITIATION, &m) && memcmp(m.data + 8, spare_a, 32),
	      "a second initiation has another ephemeral");
	net_free_msg(&m);
	sim_end();
}

static void test_handshake_and_data(void)
{
	static struct node a, b;
	struct wg_peer *pa, *pb;
	uint8_t pkt[1500];
	size_t bad = 0;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	pb = peer_of(&b, &a);

	node_ping(&a, &b, 1);
	CHECK(a.sent[MSG_INITIATION] == 1 && a.sent[MSG_DATA] == 0 &&
	      pa->staged_count == 1, "first packet is staged and an initiation goes out");
	sim_settle();
	CHECK(b.sent[MSG_RESPONSE] == 1, "responder answers with one response");
	CHECK(node_got_ping(&b, &a, 1) && b.n_delivered == 1,
	      "A -> B: the staged packet arrives byte for byte");
	CHECK(pa->kp_cur && pa->kp_cur->initiator && pb->kp_cur &&
	      !pb->kp_cur->initiator, "both sides have a current keypair");
	CHECK(a.dev->stats.handshakes_completed == 1 &&
	      b.dev->stats.handshakes_completed == 1, "one handshake on each side");
	CHECK(pa->kp_cur->local_index == pb->kp_cur->remote_index &&
	      pa->kp_cur->remote_index == pb->kp_cur->local_index,
	      "receiver indices match crosswise");
	CHECK(pa->staged_count == 0, "staged queue drained");
	CHECK(a.staged_sent == 1 && a.staged_sent_data == 1 && b.staged_sent == 0,
	      "sent_staged: once, on the initiator, after the staged packet went out");

	node_ping(&b, &a, 2);
	sim_settle();
	CHECK(node_got_ping(&a, &b, 2), "B -> A delivered");
	CHECK(b.sent[MSG_INITIATION] == 0, "responder needed no handshake to reply");
	CHECK(a.staged_sent == 1 && b.staged_sent == 0,
	      "sent_staged: not for packets that did not wait");

	/* IPv6 */
	make_ip6(pkt, a.in6, b.in6, 200, 3);
	node_send_ip(&a, pkt, 200);
	sim_settle();
	CHECK(b.n_delivered == 2 && b.delivered[1].len == 200 &&
	      !memcmp(b.delivered[1].data, pkt, 200), "IPv6 A -> B delivered");
	make_ip6(pkt, b.in6, a.in6, 41, 4);
	node_send_ip(&b, pkt, 41);
	sim_settle();
	CHECK(a.n_delivered == 2 && a.delivered[1].len == 41 &&
	      !memcmp(a.delivered[1].data, pkt, 41), "IPv6 B -> A delivered");

	/* Every length up to the MTU, both families: the padding the sender
	 * adds (to 16, capped at the MTU) is stripped by the receiver. */
	node_clear_delivered(&b);
	for (size_t len = 20; len <= WG_DEFAULT_MTU; len++) {
		size_t pad = (len + 15) & ~(size_t)15, wire;
		node_clear_delivered(&b);
		make_ip4(pkt, a.in4, b.in4, len, (uint8_t)len);
		node_send_ip(&a, pkt, len);
		wire = a.log[a.n_log - 1].len;
		sim_settle();
		if (pad > WG_DEFAULT_MTU)
			pad = WG_DEFAULT_MTU;
		if (b.n_delivered != 1 || b.delivered[0].len != len ||
		    memcmp(b.delivered[0].data, pkt, len) ||
		    wire != sizeof(struct msg_data) + pad + CRYPTO_TAG_LEN)
			bad++;
	}
	CHECK(bad == 0, "IPv4 lengths 20..1420: exact bytes, padded wire size (%zu bad)", bad);
	bad = 0;
	for (size_t len = 40; len <= WG_DEFAULT_MTU; len++) {
		node_clear_delivered(&a);
		make_ip6(pkt, b.in6, a.in6, len, (uint8_t)(len * 3));
		node_send_ip(&b, pkt, len);
		sim_settle();
		if (a.n_delivered != 1 || a.delivered[0].len != len ||
		    memcmp(a.delivered[0].data, pkt, len))
			bad++;
	}
	CHECK(bad == 0, "IPv6 lengths 40..1420 B -> A exact (%zu bad)", bad);

	/* Lengths 1..19 are no IP packet: dropped on the way out. */
	{
		uint64_t before = a.dev->stats.tx_no_route, sent = a.sent[MSG_DATA];
		for (size_t len = 1; len < 20; len++) {
			make_ip4(pkt, a.in4, b.in4, 20, 9);
			node_send_ip(&a, pkt, len);
		}
		CHECK(a.dev->stats.tx_no_route - before == 19 &&
		      a.sent[MSG_DATA] == sent, "lengths 1..19 are not sent");
	}

	/* A peer whose plaintext is not IP, or shorter than its header
	 * says: dropped after decryption.  Padding of any length is cut. */
	{
		uint8_t msg[1600];
		size_t n;
		uint64_t bad_inner = b.dev->stats.rx_bad_inner;

		node_clear_delivered(&b);
		for (size_t len = 1; len < 20; len++) {
			memset(pkt, 0x45, len);
			n = forge_data(pa, msg, pkt, len);
			node_inject(&b, &a, msg, n);
		}
		make_ip4(pkt, a.in4, b.in4, 100, 5);
		n = forge_data(pa, msg, pkt, 99);
		node_inject(&b, &a, msg, n);
		CHECK(b.dev->stats.rx_bad_inner - bad_inner == 20 &&
		      b.n_delivered == 0, "short or non-IP plaintext: rx_bad_inner");
		memset(pkt + 100, 0, 37);
		n = forge_data(pa, msg, pkt, 137);
		node_inject(&b, &a, msg, n);
		CHECK(b.n_delivered == 1 && b.delivered[0].len == 100 &&
		      !memcmp(b.delivered[0].data, pkt, 100),
		      "37 bytes of padding are stripped");
	}
	sim_end();
}

static void test_responder_confirmation(void)
{
	static struct node a, b;
	struct wg_peer *pa, *pb;
	struct net_msg m;
	struct noise_keypair *next;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	pb = peer_of(&b, &a);
	net.hold = true;
	node_ping(&a, &b, 1);
	CHECK(net_take_one(&a, MSG_INITIATION, &m), "initiation queued");
	net_deliver(&m);
	net_free_msg(&m);
	CHECK(pb->kp_next && !pb->kp_cur,
	      "responder: keypair derived but only in kp_next");
	next = pb->kp_next;
	CHECK(b.dev->stats.handshakes_completed == 0,
	      "responder: handshake not complete before confirmation");
	CHECK(net_take_one(&b, MSG_RESPONSE, &m), "response queued");
	net_deliver(&m);
	net_free_msg(&m);
	CHECK(pa->kp_cur && a.dev->stats.handshakes_completed == 1,
	      "initiator: response completes its handshake");
	CHECK(pb->kp_next == next && !pb->kp_cur,
	      "responder still unconfirmed before any data");
	CHECK(net_take_one(&a, MSG_DATA, &m) && m.len == 16 + 96 + 16,
	      "initiator sends the staged packet");
	net_deliver(&m);
	net_free_msg(&m);
	CHECK(pb->kp_cur == next && !pb->kp_next && !pb->kp_prev,
	      "first data moves kp_next to kp_cur");
	CHECK(b.dev->stats.handshakes_completed == 1, "responder handshake complete");
	CHECK(node_got_ping(&b, &a, 1), "and the data is delivered");
	sim_end();

	/* The responder wants to send before it is confirmed: it waits for
	 * the confirmation (a response counts against the REKEY_TIMEOUT rate
	 * limit, as an initiation does) instead of racing a handshake. */
	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	pb = peer_of(&b, &a);
	net.hold = true;
	node_ping(&a, &b, 1);
	net_take_one(&a, MSG_INITIATION, &m);
	net_deliver(&m);
	net_free_msg(&m);
	node_ping(&b, &a, 2);
	CHECK(net_find(&b, MSG_INITIATION) < 0 && pb->staged_count == 1,
	      "unconfirmed responder stages its packet, no initiation of its own");
	net.hold = false;
	sim_settle();
	CHECK(node_got_ping(&b, &a, 1) && node_got_ping(&a, &b, 2) &&
	      b.sent[MSG_INITIATION] == 0 && a.sent[MSG_INITIATION] == 1,
	      "confirmation releases it: one handshake in all");
	CHECK(pb->kp_cur && pa->kp_cur &&
	      pb->kp_cur->local_index == pa->kp_cur->remote_index,
	      "both on the same session");
	sim_end();

	/* ... but if the confirmation never comes (response lost, and the
	 * initiator's retries too), the staged packet is not stranded: the
	 * responder initiates once REKEY_TIMEOUT has passed since its
	 * response. */
	sim_pair(&a, &b);
	net.hold = true;
	node_ping(&a, &b, 1);
	net_take_one(&a, MSG_INITIATION, &m);
	net_deliver(&m);
	net_free_msg(&m);
	node_ping(&b, &a, 2);
	net_reset();
	net.drop_from = &a;
	net.drop_type = MSG_INITIATION;
	{
		uint64_t t0 = sim_now;
		sim_run_until(t0 + REKEY_TIMEOUT - 1);
		CHECK(log_count(&b, MSG_INITIATION, 0, t0, sim_now) == 0,
		      "responder holds back for REKEY_TIMEOUT");
		sim_run_until(t0 + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER);
		CHECK(log_count(&b, MSG_INITIATION, 0, t0, sim_now) == 1 &&
		      node_got_ping(&a, &b, 2) && node_got_ping(&b, &a, 1),
		      "then initiates itself: both staged packets delivered");
	}
	sim_end();
}

static void test_keepalive_timeout(void)
{
	static struct node a, b;
	uint64_t t0;

	sim_pair(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	t0 = sim_now;
	sim_run_until(t0 + KEEPALIVE_TIMEOUT - 1);
	CHECK(log_count(&b, MSG_DATA, MSG_DATA_MIN, t0, sim_now) == 0,
	      "no keepalive before KEEPALIVE_TIMEOUT");
	sim_run_until(t0 + KEEPALIVE_TIMEOUT);
	CHECK(log_count(&b, MSG_DATA, MSG_DATA_MIN, t0, sim_now) == 1,
	      "B, which received data and sent nothing, keepalives at KEEPALIVE_TIMEOUT");
	sim_run_until(t0 + 60 * SEC);
	CHECK(log_count(&b, MSG_DATA, MSG_DATA_MIN, t0, sim_now) == 1,
	      "only one keepalive");
	CHECK(a.sent[MSG_INITIATION] == 1 && b.sent[MSG_INITIATION] == 0,
	      "the keepalive spared A a new handshake");
	CHECK(log_count(&a, MSG_DATA, MSG_DATA_MIN, t0 + 1, sim_now) == 0,
	      "A does not answer a keepalive with a keepalive");

	/* B answers A's data with data within KEEPALIVE_TIMEOUT: then B owes
	 * no keepalive, and A, which got data, sends one 10 s later. */
	t0 = sim_now;
	node_ping(&a, &b, 2);
	sim_run_until(t0 + 5 * SEC);
	node_ping(&b, &a, 3);
	sim_run_until(t0 + 30 * SEC);
	CHECK(log_count(&b, MSG_DATA, MSG_DATA_MIN, t0, sim_now) == 0,
	      "data sent in time replaces the keepalive");
	CHECK(log_count(&a, MSG_DATA, MSG_DATA_MIN, t0, sim_now) == 1 &&
	      log_count(&a, MSG_DATA, MSG_DATA_MIN, t0 + 15 * SEC, t0 + 15 * SEC) == 1,
	      "and the other side keepalives KEEPALIVE_TIMEOUT after that data");
	sim_end();
}

static void test_new_handshake_when_unanswered(void)
{
	static struct node a, b;
	uint64_t t0;

	sim_pair(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	sim_run_for(60 * SEC);
	t0 = sim_now;
	net.drop_from = &b;	/* B's packets vanish */
	node_ping(&a, &b, 2);
	sim_settle();
	CHECK(node_got_ping(&b, &a, 2), "data sent on the live session");
	sim_run_until(t0 + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT - 1);
	CHECK(log_count(&a, MSG_INITIATION, 0, t0, sim_now) == 0,
	      "no initiation before KEEPALIVE_TIMEOUT + REKEY_TIMEOUT");
	sim_run_until(t0 + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER);
	CHECK(log_count(&a, MSG_INITIATION, 0, t0, sim_now) == 1,
	      "initiation within the jitter after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT");
	net.drop_from = NULL;
	sim_run_for(REKEY_TIMEOUT + SEC);
	CHECK(peer_of(&a, &b)->kp_cur && peer_of(&a, &b)->kp_cur->birth > t0,
	      "once the network heals, a new session");
	sim_end();
}

static void test_rekey_after_time(void)
{
	static struct node a, b;
	struct wg_peer *pa, *pb;
	struct noise_keypair *old;
	uint64_t t0;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	pb = peer_of(&b, &a);
	CHECK(sim_establish(&a, &b, 1), "session established");
	t0 = sim_now;
	old = pa->kp_cur;
	sim_run_until(t0 + REKEY_AFTER_TIME - SEC);
	node_ping(&a, &b, 2);
	sim_settle();
	CHECK(pa->kp_cur == old && a.sent[MSG_INITIATION] == 1,
	      "younger than REKEY_AFTER_TIME: no rekey on send");
	sim_run_until(t0 + REKEY_AFTER_TIME + SEC);
	node_ping(&b, &a, 3);
	sim_settle();
	CHECK(node_got_ping(&a, &b, 3) && b.sent[MSG_INITIATION] == 0,
	      "the responder does not rekey on time");
	net.hold = true;
	node_ping(&a, &b, 4);
	CHECK(net.n == 2 && net.q[0].data[0] == MSG_DATA &&
	      net.q[1].data[0] == MSG_INITIATION,
	      "older than REKEY_AFTER_TIME: data on the old session, then an initiation");
	net.hold = false;
	sim_settle();
	CHECK(node_got_ping(&b, &a, 4), "the packet on the old session arrives");
	CHECK(pa->kp_cur != old && pa->kp_prev == old && pa->kp_cur->birth == sim_now,
	      "new current keypair, the old one kept as previous");
	CHECK(pb->kp_cur && pb->kp_cur->local_index == pa->kp_cur->remote_index,
	      "responder confirmed the new session");
	node_ping(&a, &b, 5);
	sim_settle();
	CHECK(node_got_ping(&b, &a, 5) && a.sent[MSG_INITIATION] == 2,
	      "traffic on the new session, no further handshake");
	sim_end();
}

static void test_reject_after_time(void)
{
	static struct node a, b;
	struct wg_peer *pa;
	struct net_msg late;
	uint64_t t0, expired;
	bool got;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	t0 = sim_now;
	net.hold = true;
	node_ping(&a, &b, 2);
	got = net_take_one(&a, MSG_DATA, &late);
	net.hold = false;
	sim_run_until(t0 + REJECT_AFTER_TIME);
	CHECK(pa->kp_cur && !wg_keypair_usable(a.dev, pa->kp_cur),
	      "at REJECT_AFTER_TIME the keypair is no longer usable");
	expired = b.dev->stats.rx_expired_key;
	if (got)
		net_deliver(&late);
	net_free_msg(&late);
	CHECK(got && b.dev->stats.rx_expired_key == expired + 1 &&
	      !node_got_ping(&b, &a, 2), "data on an expired keypair: rx_expired_key");

	net.hold = true;
	node_ping(&a, &b, 3);
	CHECK(net.n == 1 && net.q[0].data[0] == MSG_INITIATION &&
	      pa->staged_count == 1,
	      "no data on an expired session: packet staged, initiation sent");
	net.hold = false;
	sim_settle();
	CHECK(node_got_ping(&b, &a, 3) && pa->staged_count == 0,
	      "after the handshake the staged packet is delivered");
	node_ping(&b, &a, 4);
	sim_settle();
	CHECK(node_got_ping(&a, &b, 4), "and B can answer on the new session");
	sim_end();
}

static void test_retransmit_and_give_up(void)
{
	static struct node a, b;
	struct wg_peer *pa;
	uint64_t t0, prev = 0, last = 0;
	size_t n = 0, bad_gap = 0;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	net.drop_from = &b;	/* every response is lost */
	t0 = sim_now;
	node_ping(&a, &b, 1);
	sim_run_until(t0 + 300 * SEC);
	for (size_t i = 0; i < a.n_log; i++) {
		if (a.log[i].type != MSG_INITIATION)
			continue;
		if (n && (a.log[i].t - prev < REKEY_TIMEOUT ||
			  a.log[i].t - prev >= REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER))
			bad_gap++;
		prev = last = a.log[i].t;
		n++;
	}
	CHECK(n >= 18 && n <= 20, "gives up after %zu initiations", n);
	CHECK(bad_gap == 0, "retransmits every REKEY_TIMEOUT + 0..333 ms (%zu bad gaps)",
	      bad_gap);
	CHECK(last - t0 >= REKEY_ATTEMPT_TIME &&
	      last - t0 < REKEY_ATTEMPT_TIME + 3 * REKEY_TIMEOUT,
	      "last attempt about REKEY_ATTEMPT_TIME after the first (%llu ms)",
	      (unsigned long long)((last - t0) / MS));
	CHECK(pa->staged_count == 0, "staged packets dropped on giving up");
	CHECK(!pa->timer[WG_TIMER_RETRANSMIT], "no retransmission armed");
	CHECK(b.n_delivered == 0 && !pa->kp_cur, "no session");
	/* Traffic wakes it up again, with a fresh count. */
	net.drop_from = NULL;
	node_ping(&a, &b, 2);
	sim_settle();
	CHECK(node_got_ping(&b, &a, 2), "new traffic after giving up handshakes again");
	sim_end();

	/* Giving up also cancels a keepalive that data received during the
	 * attempts armed: on a keypair that cannot send, it would only start
	 * the attempts over. */
	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	pa->kp_cur->send_counter = REJECT_AFTER_MESSAGES;	/* A cannot send */
	net.drop_from = &b;
	net.drop_type = MSG_RESPONSE;
	t0 = sim_now;
	node_ping(&a, &b, 2);
	while (pa->timer[WG_TIMER_RETRANSMIT] || sim_now < t0 + 10 * SEC) {
		node_ping(&b, &a, 3);	/* B's data still reaches A */
		sim_run_for(SEC);
	}
	last = sim_now;
	CHECK(a.sent[MSG_INITIATION] >= 18 && !pa->timer[WG_TIMER_KEEPALIVE],
	      "after giving up, no keepalive pending");
	sim_run_for(60 * SEC);
	CHECK(log_count(&a, MSG_INITIATION, 0, last, sim_now) == 0,
	      "and no new handshake attempts without new traffic");
	sim_end();
}

static void test_zero_keys(void)
{
	static struct node a, b;
	struct wg_peer *pa, *pb;
	uint64_t t0;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	pb = peer_of(&b, &a);
	CHECK(sim_establish(&a, &b, 1), "session established");
	t0 = sim_now;
	sim_run_until(t0 + 3 * REJECT_AFTER_TIME - 1);
	CHECK(pa->kp_cur && pb->kp_cur, "keys kept until 3 x REJECT_AFTER_TIME");
	sim_run_until(t0 + 3 * REJECT_AFTER_TIME);
	CHECK(!pa->kp_cur && !pa->kp_prev && !pa->kp_next &&
	      !pb->kp_cur && !pb->kp_prev && !pb->kp_next,
	      "all keypairs zeroed at 3 x REJECT_AFTER_TIME");
	CHECK(a.dev->index.used == 0 && b.dev->index.used == 0,
	      "and their receiver indices freed");
	CHECK(pa->hs.state == NOISE_ZEROED && pb->hs.state == NOISE_ZEROED,
	      "no handshake state left");
	node_ping(&a, &b, 2);
	sim_settle();
	CHECK(node_got_ping(&b, &a, 2), "a new packet starts a new session");
	sim_end();
}

static void test_persistent_keepalive(void)
{
	/* A's keepalives, in seconds after it is enabled: at once, then 25 s
	 * after the last authenticated packet either way (B's keepalive for
	 * A's data arrives at +10). */
	static const uint64_t want[] = { 0, 35, 60, 85, 110 };
	static struct node a, b;
	struct wg_peer *pa;
	uint64_t t0;
	size_t n = 0, bad = 0;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	t0 = sim_now;
	node_clock(&a);
	wg_peer_set_keepalive(pa, 25);
	CHECK(log_count(&a, MSG_DATA, MSG_DATA_MIN, t0, t0) == 1,
	      "enabling persistent keepalive sends one at once");
	sim_run_until(t0 + 110 * SEC);
	for (size_t i = 0; i < a.n_log; i++) {
		if (a.log[i].t < t0 || a.log[i].type != MSG_DATA ||
		    a.log[i].len != MSG_DATA_MIN)
			continue;
		if (n >= 5 || a.log[i].t != t0 + want[n] * SEC)
			bad++;
		n++;
	}
	CHECK(n == 5 && bad == 0,
	      "keepalives at +0, +35 (B's packet at +10 restarts the interval), +60, +85, +110 "
	      "(%zu sent, %zu off)", n, bad);
	CHECK(log_count(&b, MSG_DATA, MSG_DATA_MIN, t0, sim_now) == 1,
	      "B only sends its one keepalive for A's data");
	node_clock(&a);
	wg_peer_set_keepalive(pa, 0);
	sim_run_until(t0 + 119 * SEC);
	CHECK(log_count(&a, MSG_DATA, MSG_DATA_MIN, t0 + 111 * SEC, sim_now) == 0 &&
	      !pa->timer[WG_TIMER_PERSISTENT], "turned off: no more keepalives");
	sim_end();
}

static void test_replay_and_tamper(void)
{
	static struct node a, b;
	struct net_msg m;
	uint64_t s;
	size_t delivered;

	sim_pair(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	net.hold = true;
	node_ping(&a, &b, 2);
	CHECK(net_take_one(&a, MSG_DATA, &m), "data captured");
	net_deliver(&m);
	CHECK(node_got_ping(&b, &a, 2), "delivered once");
	delivered = b.n_delivered;
	s = b.dev->stats.rx_replay;
	net_deliver(&m);
	CHECK(b.dev->stats.rx_replay == s + 1 && b.n_delivered == delivered,
	      "replayed data: rx_replay, not delivered");

	/* Tampering anywhere in the ciphertext or the counter. */
	s = b.dev->stats.rx_bad_auth;
	for (size_t off = 8; off < m.len; off += 7) {
		m.data[off] ^= 0x20;
		net_deliver(&m);
		m.data[off] ^= 0x20;
	}
	CHECK(b.dev->stats.rx_bad_auth - s == (m.len - 8 + 6) / 7 &&
	      b.n_delivered == delivered, "tampered data: rx_bad_auth, not delivered");
	s = b.dev->stats.rx_unknown_index;
	m.data[4] ^= 1;
	net_deliver(&m);
	CHECK(b.dev->stats.rx_unknown_index == s + 1, "tampered receiver: rx_unknown_index");
	net_free_msg(&m);

	/* Reordering within the window is fine. */
	node_ping(&a, &b, 3);
	node_ping(&a, &b, 4);
	node_ping(&a, &b, 5);
	{
		struct net_msg m3, m4, m5;
		net_take_one(&a, MSG_DATA, &m3);
		net_take_one(&a, MSG_DATA, &m4);
		net_take_one(&a, MSG_DATA, &m5);
		net_deliver(&m5);
		net_deliver(&m3);
		net_deliver(&m4);
		net_deliver(&m3);
		CHECK(b.n_delivered == delivered + 3 && node_got_ping(&b, &a, 4),
		      "reordered data delivered once each");
		net_free_msg(&m3);
		net_free_msg(&m4);
		net_free_msg(&m5);
	}
	sim_end();
}

static void test_handshake_replay(void)
{
	static struct node a, b;
	struct net_msg init, m;
	uint64_t s, sent;

	sim_pair(&a, &b);
	net.hold = true;
	node_ping(&a, &b, 1);
	CHECK(net_take_one(&a, MSG_INITIATION, &init), "initiation captured");
	net_deliver(&init);
	CHECK(b.sent[MSG_RESPONSE] == 1, "answered once");
	net.hold = false;
	sim_settle();
	CHECK(node_got_ping(&b, &a, 1), "session up");
	sim_run_for(2 * SEC);
	s = b.dev->stats.rx_handshake_replay;
	sent = net.total;
	net_deliver(&init);
	CHECK(b.dev->stats.rx_handshake_replay == s + 1 && net.total == sent,
	      "replayed initiation: rx_handshake_replay, no new response");
	CHECK(peer_of(&b, &a)->kp_cur, "and the session survives it");
	net_free_msg(&init);

	/* Two fresh initiations within 1/50 s: the second is refused (flood
	 * guard), and accepted once 20 ms have passed. */
	{
		struct net_msg i1, i2;
		net.hold = true;
		sim_run_for(REKEY_TIMEOUT);
		node_clock(&a);
		wg_peer_send_initiation(peer_of(&a, &b), false);
		net_take_one(&a, MSG_INITIATION, &i1);
		sim_run_for(REKEY_TIMEOUT);
		node_clock(&a);
		wg_peer_send_initiation(peer_of(&a, &b), false);
		net_take_one(&a, MSG_INITIATION, &i2);
		net_deliver(&i1);
		s = b.dev->stats.rx_handshake_replay;
		sim_now += 19 * MS;
		net_deliver(&i2);
		CHECK(b.dev->stats.rx_handshake_replay == s + 1 && b.sent[MSG_RESPONSE] == 2,
		      "second initiation within 20 ms refused");
		sim_now += 1 * MS;
		net_deliver(&i2);
		CHECK(b.dev->stats.rx_handshake_replay == s + 1 && b.sent[MSG_RESPONSE] == 3,
		      "accepted 20 ms after the first");
		net_deliver(&i1);
		CHECK(b.dev->stats.rx_handshake_replay == s + 2 && b.sent[MSG_RESPONSE] == 3,
		      "the older one, delivered late, is a replay");
		net_free_msg(&i1);
		net_free_msg(&i2);
		net_reset();
		sim_run_for(SEC);
	}

	/* A replayed response is for an index that is gone. */
	net.hold = true;
	sim_run_for(REKEY_TIMEOUT);
	node_clock(&a);
	wg_peer_send_initiation(peer_of(&a, &b), false);
	CHECK(net_take_one(&a, MSG_INITIATION, &init), "a new initiation");
	net_deliver(&init);
	net_free_msg(&init);
	net_take_one(&b, MSG_RESPONSE, &m);
	net_deliver(&m);
	s = a.dev->stats.rx_unknown_index;
	net_deliver(&m);
	CHECK(a.dev->stats.rx_unknown_index == s + 1,
	      "replayed response: rx_unknown_index");
	net_free_msg(&m);
	sim_end();
}

static void test_unknown_peer_and_bad_keys(void)
{
	static struct node a, b, c;
	struct net_msg m;
	uint64_t sent;

	sim_pair(&a, &b);
	node_init(&c, "C", 3, "203.0.113.3", 51820);
	node_add_peer(&c, &b);	/* C knows B, B does not know C */
	node_ping(&c, &b, 1);
	sent = b.n_log;
	sim_settle();
	CHECK(b.dev->stats.rx_unknown_peer >= 1 && b.n_log == sent,
	      "initiation from an unknown key: rx_unknown_peer, nothing sent back");
	CHECK(b.n_delivered == 0 && !peer_of(&c, &b)->kp_cur, "no session");

	/* A believes B has C's key: B's mac1 check fails. */
	wg_peer_remove(peer_of(&a, &b));
	node_add_peer_key(&a, c.pub, &b);
	node_ping(&a, &b, 2);
	sent = b.n_log;
	sim_settle();
	CHECK(b.dev->stats.rx_invalid_mac >= 1 && b.n_log == sent &&
	      b.n_delivered == 0,
	      "wrong responder static key: rx_invalid_mac, no handshake");

	/* A correct initiation with mac1 broken. */
	wg_peer_remove(peer_of(&a, &c));
	node_add_peer(&a, &b);
	sim_run_for(REKEY_TIMEOUT);
	net.hold = true;
	node_ping(&a, &b, 3);
	net_take_one(&a, MSG_INITIATION, &m);
	{
		uint64_t s = b.dev->stats.rx_invalid_mac;
		m.data[offsetof(struct msg_initiation, macs) + 3] ^= 1;
		net_deliver(&m);
		m.data[offsetof(struct msg_initiation, macs) + 3] ^= 1;
		m.data[20] ^= 1;	/* the ephemeral, covered by mac1 */
		net_deliver(&m);
		m.data[20] ^= 1;
		CHECK(b.dev->stats.rx_invalid_mac == s + 2 && net.n == 0,
		      "wrong mac1: rx_invalid_mac, no response");
		net_deliver(&m);
		CHECK(net_find(&b, MSG_RESPONSE) >= 0, "the untouched one is answered");
	}
	net_free_msg(&m);
	/* The response with its mac1 broken. */
	net_take_one(&b, MSG_RESPONSE, &m);
	{
		uint64_t s = a.dev->stats.rx_invalid_mac;
		m.data[offsetof(struct msg_response, macs)] ^= 0x80;
		net_deliver(&m);
		CHECK(a.dev->stats.rx_invalid_mac == s + 1 && !peer_of(&a, &b)->kp_cur,
		      "response with wrong mac1: rx_invalid_mac");
	}
	net_free_msg(&m);
	sim_end();
}

/* ---- a coordination server's engine: keys let in by a hook ---------- */

static bool hook_accept;
static int hook_calls;
static struct wg_peer *hook_last_from;

static struct wg_peer *hook_unknown_peer(void *ctx, const uint8_t pub[32])
{
	struct node *n = ctx;
	struct wg_peer *p;

	hook_calls++;
	if (!hook_accept || wg_peer_new(n->dev, pub, &p))
		return NULL;
	return p;
}

static void hook_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			 size_t len)
{
	hook_last_from = peer;
	sim_deliver(ctx, peer, pkt, len);
}

static const struct wg_ops hook_ops = {
	.send = sim_send, .deliver = hook_deliver, .unknown_peer = hook_unknown_peer,
};

static void test_server_hook(void)
{
	static struct node s, n, m;
	struct msg_initiation *init;
	struct cookie_maker mk;
	struct net_msg msg;
	struct wg_peer *sp;
	uint8_t pkt[100], buf[WG_HEADROOM + 100 + WG_TAILROOM];
	size_t peers;

	node_init(&s, "S", 1, "192.0.2.1", 51820);
	node_init(&n, "N", 2, "198.51.100.2", 51820);
	node_init(&m, "M", 3, "203.0.113.3", 51820);
	s.dev->ops = &hook_ops;
	wg_device_skip_source_check(s.dev, true);
	node_add_peer(&n, &s);
	node_add_peer(&m, &s);

	hook_accept = false;
	hook_calls = 0;
	node_ping(&n, &s, 1);
	sim_settle();
	CHECK(hook_calls >= 1 && s.dev->n_peers == 0 &&
	      s.dev->stats.rx_unknown_peer >= 1 && s.n_delivered == 0,
	      "server hook refuses: rx_unknown_peer, no peer made");

	hook_accept = true;
	sim_run_for(REKEY_TIMEOUT + NSEC_PER_SEC);
	node_ping(&n, &s, 2);
	sim_settle();
	sp = wg_peer_find(s.dev, n.pub);
	CHECK(sp && sp->has_endpoint && node_got_ping(&s, &n, 2) &&
	      hook_last_from == sp,
	      "server hook admits an unknown key; its packet arrives with its peer, "
	      "though the peer has no allowed IPs");

	make_ip4(pkt, s.in4, n.in4, 84, 3);
	memcpy(buf + WG_HEADROOM, pkt, 84);
	node_clock(&s);
	wg_peer_send_packet(sp, buf, 84);
	sim_settle();
	CHECK(node_got_ping(&n, &s, 3), "wg_peer_send_packet reaches the peer "
	      "without an allowed-IPs route");

	/* M's initiation with a broken timestamp but a valid mac1: the hook
	 * makes a peer on trust, which must vanish when "ss" fails. */
	peers = s.dev->n_peers;
	net.hold = true;
	node_ping(&m, &s, 4);
	CHECK(net_take_one(&m, MSG_INITIATION, &msg), "M sent an initiation");
	init = (struct msg_initiation *)msg.data;
	init->timestamp_enc[0] ^= 1;
	cookie_maker_init(&mk, s.pub);
	cookie_add_macs(&mk, init, sizeof(*init), sim_now);
	hook_calls = 0;
	net_deliver(&msg);
	CHECK(hook_calls == 1 && s.dev->n_peers == peers &&
	      !wg_peer_find(s.dev, m.pub),
	      "a hook-made peer whose initiation fails is removed again");
	net_free_msg(&msg);
	net.hold = false;
	sim_end();
}

/* Truncated, extended and reserved-byte variants of real messages. */
static void test_malformed(void)
{
	static struct node a, b;
	struct net_msg init, resp, cookie, data;
	uint8_t buf[400];
	uint64_t s;
	struct {
		struct net_msg *m;
		struct node *to;
	} msgs[4];

	sim_pair(&a, &b);
	net.hold = true;
	wg_device_set_load_threshold(b.dev, 0);
	node_ping(&a, &b, 1);
	net_take_one(&a, MSG_INITIATION, &init);
	net_deliver(&init);
	net_free_msg(&init);
	CHECK(net_take_one(&b, MSG_COOKIE_REPLY, &cookie), "cookie reply captured");
	wg_device_set_load_threshold(b.dev, 1000);
	sim_run_for(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER);
	CHECK(net_take_one(&a, MSG_INITIATION, &init), "retransmitted initiation");
	net_deliver(&init);
	CHECK(net_take_one(&b, MSG_RESPONSE, &resp), "response captured");
	net_deliver(&resp);
	CHECK(net_take_one(&a, MSG_DATA, &data), "data captured");

	msgs[0].m = &init, msgs[0].to = &b;
	msgs[1].m = &resp, msgs[1].to = &a;
	msgs[2].m = &cookie, msgs[2].to = &a;
	msgs[3].m = &data, msgs[3].to = &b;
	for (int i = 0; i < 4; i++) {
		struct net_msg *m = msgs[i].m;
		struct node *to = msgs[i].to;
		struct node *from = to == &a ? &b : &a;
		s = to->dev->stats.rx_malformed;
		/* truncated by one; for data, below the 32-byte minimum */
		memcpy(buf, m->data, m->len);
		node_inject(to, from, buf, i == 3 ? MSG_DATA_MIN - 1 : m->len - 1);
		/* extended by one, except data where any length >= 32 is valid */
		if (i != 3) {
			memcpy(buf, m->data, m->len);
			buf[m->len] = 0;
			node_inject(to, from, buf, m->len + 1);
		}
		/* each reserved byte set */
		for (int r = 1; r < 4; r++) {
			memcpy(buf, m->data, m->len);
			buf[r] = 1;
			node_inject(to, from, buf, m->len);
		}
		/* only the header */
		node_inject(to, from, m->data, 4);
		CHECK(to->dev->stats.rx_malformed - s == (i == 3 ? 5u : 6u),
		      "message type %d: truncated, extended, reserved bytes -> rx_malformed",
		      m->data[0]);
	}
	s = b.dev->stats.rx_malformed;
	for (size_t len = 0; len < 4; len++)
		node_inject(&b, &a, init.data, len);
	memcpy(buf, init.data, init.len);
	buf[0] = 0;
	node_inject(&b, &a, buf, init.len);
	buf[0] = 5;
	node_inject(&b, &a, buf, init.len);
	buf[0] = 0xff;
	node_inject(&b, &a, buf, 32);
	CHECK(b.dev->stats.rx_malformed - s == 7, "short and unknown-type messages -> rx_malformed");
	{
		uint64_t bad = b.dev->stats.rx_bad_auth;
		memcpy(buf, data.data, data.len);
		memset(buf + data.len, 0, 16);
		node_inject(&b, &a, buf, data.len + 16);
		CHECK(b.dev->stats.rx_bad_auth == bad + 1,
		      "extended data message fails authentication");
	}
	CHECK(b.n_delivered == 0 && a.n_delivered == 0, "nothing malformed delivered");
	net_deliver(&data);
	CHECK(b.n_delivered == 1, "the untouched data message still works");
	net_free_msg(&init);
	net_free_msg(&resp);
	net_free_msg(&cookie);
	net_free_msg(&data);
	sim_end();
}

static void test_bad_source_and_no_route(void)
{
	static struct node a, b;
	uint8_t pkt[100], other[4] = { 100, 64, 0, 99 }, nowhere[4] = { 203, 0, 113, 9 };
	uint8_t other6[16] = { 0xfd, [15] = 99 };
	uint64_t s;

	sim_pair(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	s = a.dev->stats.rx_bad_source;
	make_ip4(pkt, other, a.in4, 60, 1);	/* B spoofs 100.64.0.99 */
	node_send_ip(&b, pkt, 60);
	make_ip6(pkt, other6, a.in6, 60, 2);
	node_send_ip(&b, pkt, 60);
	make_ip4(pkt, a.in4, a.in4, 60, 1);	/* or A's own address */
	node_send_ip(&b, pkt, 60);
	sim_settle();
	CHECK(a.dev->stats.rx_bad_source == s + 3 && a.n_delivered == 0,
	      "inner source outside the peer's allowed IPs: rx_bad_source");

	s = a.dev->stats.tx_no_route;
	make_ip4(pkt, a.in4, nowhere, 60, 3);
	node_send_ip(&a, pkt, 60);
	make_ip6(pkt, a.in6, other6, 60, 3);
	node_send_ip(&a, pkt, 60);
	memset(pkt, 0, sizeof(pkt));
	node_send_ip(&a, pkt, 60);	/* not IP at all */
	CHECK(a.dev->stats.tx_no_route == s + 3 && net.n == 0,
	      "destination no peer covers: tx_no_route, nothing sent");
	sim_end();
}

/* The on-demand hook: a packet no peer covers reaches the host intact. */
static struct { int calls; size_t len; uint8_t pkt[100]; } hook_nr;

static void hook_no_route(void *ctx, const uint8_t *buf, size_t len)
{
	hook_nr.calls++;
	hook_nr.len = len;
	if (len <= sizeof(hook_nr.pkt))
		memcpy(hook_nr.pkt, buf + WG_HEADROOM, len);
}

static void test_no_route_hook(void)
{
	static const struct wg_ops ops = {
		.send = sink_send, .deliver = sink_deliver, .no_route = hook_no_route,
	};
	_Alignas(16) uint8_t buf[WG_HEADROOM + 100 + WG_TAILROOM];
	uint8_t src[4] = { 100, 64, 0, 1 }, dst[4] = { 100, 64, 0, 7 }, want[100];
	struct wg_device *dev = wg_device_new(&ops, NULL);

	make_ip4(want, src, dst, 60, 5);
	memcpy(buf + WG_HEADROOM, want, 60);
	wg_device_send(dev, buf, 60);
	CHECK(hook_nr.calls == 1 && hook_nr.len == 60 && !memcmp(hook_nr.pkt, want, 60) &&
	      dev->stats.tx_no_route == 1,
	      "no_route hook gets the uncovered packet, and it is counted");
	memset(buf + WG_HEADROOM, 0, 60);
	wg_device_send(dev, buf, 60);
	CHECK(hook_nr.calls == 1 && dev->stats.tx_no_route == 2,
	      "no_route hook is not called for a packet that is not IP");
	wg_device_free(dev);
}

static void test_cookie(void)
{
	static struct node a, b;
	struct wg_peer *pa;
	struct net_msg m;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	node_clock(&b);
	wg_device_set_load_threshold(b.dev, 0);	/* always under load */
	node_ping(&a, &b, 1);
	sim_settle();
	CHECK(b.dev->stats.cookie_replies_sent == 1 && b.sent[MSG_RESPONSE] == 0,
	      "under load: a cookie reply instead of a response");
	CHECK(a.dev->stats.rx_cookie_replies == 1 && pa->cookie.cookie_birth,
	      "initiator stores the cookie");
	CHECK(!pa->kp_cur && pa->staged_count == 1, "no session yet, packet waits");

	/* The retransmission carries mac2; from another address it is
	 * worthless, from the right one it is accepted. */
	net.hold = true;
	sim_run_for(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER);
	CHECK(net_take_one(&a, MSG_INITIATION, &m) && !crypto_is_zero(
		      m.data + offsetof(struct msg_initiation, macs.mac2), 16),
	      "retransmitted initiation carries a mac2");
	sim_addr(&m.src, "192.0.2.200", 51820);
	net_deliver(&m);
	CHECK(b.dev->stats.cookie_replies_sent == 2 && net_find(&b, MSG_RESPONSE) < 0,
	      "mac2 from another source address: another cookie reply");
	net_reset();
	m.src = a.addr;
	net_deliver(&m);
	net_free_msg(&m);
	CHECK(net_find(&b, MSG_RESPONSE) >= 0 && b.dev->stats.cookie_replies_sent == 2,
	      "valid mac2 under load: response");
	net.hold = false;
	sim_settle();
	CHECK(node_got_ping(&b, &a, 1), "handshake completes, staged data delivered");
	node_ping(&b, &a, 2);
	sim_settle();
	CHECK(node_got_ping(&a, &b, 2), "and B answers");

	/* A forged cookie reply does not authenticate. */
	{
		struct msg_cookie_reply fake = { .type = MSG_COOKIE_REPLY };
		uint64_t s = a.dev->stats.rx_bad_auth;
		fake.receiver = pa->kp_cur->local_index;
		node_inject(&a, &b, (const uint8_t *)&fake, sizeof(fake));
		CHECK(a.dev->stats.rx_bad_auth == s + 1, "forged cookie reply rejected");
		fake.receiver ^= 0x5a5a5a5a;
		s = a.dev->stats.rx_unknown_index;
		node_inject(&a, &b, (const uint8_t *)&fake, sizeof(fake));
		CHECK(a.dev->stats.rx_unknown_index == s + 1,
		      "cookie reply to an unknown index");
	}
	sim_end();
}

static void test_roaming(void)
{
	static struct node a, b;
	struct wg_peer *pb;
	union wg_sockaddr old, moved;
	struct net_msg m;

	sim_pair(&a, &b);
	pb = peer_of(&b, &a);
	CHECK(sim_establish(&a, &b, 1), "session established");
	old = a.addr;
	sim_addr(&moved, "192.0.2.77", 40000);

	/* Unauthenticated packets from the new address do not move it. */
	net.hold = true;
	node_ping(&a, &b, 2);
	net_take_one(&a, MSG_DATA, &m);
	m.src = moved;
	m.data[m.len - 1] ^= 1;
	net_deliver(&m);
	CHECK(wg_sockaddr_equal(&pb->endpoint, &old), "tampered packet does not roam");
	m.data[m.len - 1] ^= 1;
	net_deliver(&m);
	net_free_msg(&m);
	CHECK(wg_sockaddr_equal(&pb->endpoint, &moved),
	      "authenticated data from a new address updates the endpoint");
	net.hold = false;

	a.addr = moved;
	node_ping(&b, &a, 3);
	sim_settle();
	CHECK(node_got_ping(&a, &b, 3), "B's reply reaches A at its new address");

	/* IPv6 endpoints too. */
	sim_addr(&a.addr, "2001:db8::1", 51821);
	node_ping(&a, &b, 4);
	sim_settle();
	CHECK(pb->endpoint.sa.sa_family == AF_INET6, "roamed to an IPv6 endpoint");
	node_ping(&b, &a, 5);
	sim_settle();
	CHECK(node_got_ping(&a, &b, 5), "and B reaches it there");
	sim_end();
}

static void test_simultaneous_initiation(void)
{
	static struct node a, b;
	struct net_msg ia, ib;

	sim_pair(&a, &b);
	net.hold = true;
	node_ping(&a, &b, 1);
	node_ping(&b, &a, 2);
	CHECK(net_take_one(&a, MSG_INITIATION, &ia) &&
	      net_take_one(&b, MSG_INITIATION, &ib), "both sides initiate");
	net_deliver(&ia);
	net_deliver(&ib);
	net_free_msg(&ia);
	net_free_msg(&ib);
	net.hold = false;
	sim_run_for(30 * SEC);
	CHECK(node_got_ping(&b, &a, 1) && node_got_ping(&a, &b, 2),
	      "crossed initiations converge: both staged packets delivered");
	CHECK(peer_of(&a, &b)->kp_cur && peer_of(&b, &a)->kp_cur &&
	      peer_of(&a, &b)->kp_cur->local_index ==
		      peer_of(&b, &a)->kp_cur->remote_index,
	      "one shared current session");
	node_ping(&a, &b, 3);
	node_ping(&b, &a, 4);
	sim_settle();
	CHECK(node_got_ping(&b, &a, 3) && node_got_ping(&a, &b, 4),
	      "traffic flows both ways");
	/* Both retransmit timers stopped. */
	{
		uint64_t ia0 = a.sent[MSG_INITIATION], ib0 = b.sent[MSG_INITIATION];
		sim_run_for(60 * SEC);
		CHECK(a.sent[MSG_INITIATION] == ia0 && b.sent[MSG_INITIATION] == ib0,
		      "no handshakes once settled");
	}
	sim_end();
}

static void test_psk(void)
{
	static struct node a, b;
	uint8_t psk[32], psk2[32];

	memset(psk, 0x42, 32);
	memset(psk2, 0x43, 32);
	sim_pair(&a, &b);
	wg_peer_set_psk(peer_of(&a, &b), psk);
	wg_peer_set_psk(peer_of(&b, &a), psk);
	CHECK(sim_establish(&a, &b, 1), "same preshared key: session");
	node_ping(&b, &a, 2);
	sim_settle();
	CHECK(node_got_ping(&a, &b, 2), "and data both ways");
	sim_end();

	sim_pair(&a, &b);
	wg_peer_set_psk(peer_of(&a, &b), psk);
	wg_peer_set_psk(peer_of(&b, &a), psk2);
	node_ping(&a, &b, 1);
	sim_settle();
	CHECK(a.dev->stats.rx_bad_auth == 1 && !peer_of(&a, &b)->kp_cur &&
	      b.n_delivered == 0, "mismatched preshared key: response fails");
	sim_end();

	sim_pair(&a, &b);
	wg_peer_set_psk(peer_of(&a, &b), psk);
	node_ping(&a, &b, 1);
	sim_settle();
	CHECK(!peer_of(&a, &b)->kp_cur && b.n_delivered == 0,
	      "preshared key on one side only: no session");
	sim_end();
}

static void test_remove_and_rekey_identity(void)
{
	static struct node a, b;
	struct net_msg m;
	uint64_t s;
	uint8_t newkey[32];

	/* Removing the peer frees its indices. */
	sim_pair(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	CHECK(b.dev->index.used >= 1, "B has receiver indices");
	node_clock(&b);
	wg_peer_remove(peer_of(&b, &a));
	CHECK(b.dev->index.used == 0 && b.dev->n_peers == 0 && b.dev->heap_len == 0,
	      "peer removed: no index, no timer left");
	s = b.dev->stats.rx_unknown_index;
	node_ping(&a, &b, 2);
	sim_settle();
	CHECK(b.dev->stats.rx_unknown_index == s + 1 && b.n_delivered == 1,
	      "data to the old index: rx_unknown_index");
	sim_run_for(60 * SEC);
	sim_end();

	/* Removed while its handshake is in flight. */
	sim_pair(&a, &b);
	net.hold = true;
	node_ping(&a, &b, 1);
	net_take_one(&a, MSG_INITIATION, &m);
	node_clock(&a);
	wg_peer_remove(peer_of(&a, &b));
	CHECK(a.dev->index.used == 0, "handshake index freed with the peer");
	net_deliver(&m);
	net_free_msg(&m);
	s = a.dev->stats.rx_unknown_index;
	net_take_one(&b, MSG_RESPONSE, &m);
	net_deliver(&m);
	net_free_msg(&m);
	CHECK(a.dev->stats.rx_unknown_index == s + 1,
	      "response for the removed peer's handshake: rx_unknown_index");
	sim_end();

	/* New private key: every session and index goes. */
	sim_pair(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	node_clock(&b);
	CHECK(wg_device_set_private_key(b.dev, b.priv) == 0 &&
	      peer_of(&b, &a)->kp_cur, "setting the same key keeps sessions");
	memset(newkey, 0x77, 32);
	CHECK(wg_device_set_private_key(b.dev, newkey) == 0, "new key set");
	CHECK(b.dev->index.used == 0 && !peer_of(&b, &a)->kp_cur &&
	      !peer_of(&b, &a)->kp_next, "new key: sessions and indices gone");
	s = b.dev->stats.rx_unknown_index;
	node_ping(&a, &b, 2);
	sim_settle();
	CHECK(b.dev->stats.rx_unknown_index == s + 1 && b.n_delivered == 1,
	      "data to an old index: rx_unknown_index");
	s = b.dev->stats.rx_invalid_mac;
	sim_run_for(30 * SEC);
	CHECK(b.dev->stats.rx_invalid_mac > s,
	      "A's next initiation, to B's old key, fails mac1");
	/* A learns B's new key: everything works again. */
	node_clock(&a);
	wg_peer_remove(peer_of(&a, &b));
	memcpy(b.pub, b.dev->local.public_key, 32);
	node_add_peer(&a, &b);
	node_ping(&a, &b, 3);
	sim_settle();
	CHECK(node_got_ping(&b, &a, 3), "with the new key on A, a new session");
	/* Removing the key altogether. */
	node_clock(&b);
	CHECK(wg_device_set_private_key(b.dev, NULL) == 0 && b.dev->index.used == 0,
	      "key removed: no index left");
	node_ping(&a, &b, 4);
	sim_run_for(30 * SEC);
	CHECK(b.n_delivered == 2, "a device without a key delivers nothing");
	/* A peer with our own public key is removed when the key is set. */
	memset(newkey, 0x11, 32);
	{
		struct wg_peer *p;
		uint8_t pub[32], clamped[32];
		memcpy(clamped, newkey, 32);
		clamped[0] &= 248;
		clamped[31] = (clamped[31] & 127) | 64;
		crypto_x25519_public(pub, clamped);
		p = node_add_peer_key(&b, pub, &a);
		CHECK(p && wg_device_set_private_key(b.dev, newkey) == 0 &&
		      !wg_peer_find(b.dev, pub) && b.dev->n_peers == 1,
		      "a peer with our own new public key is dropped");
		CHECK(wg_peer_new(b.dev, pub, &p) == -EINVAL,
		      "and cannot be added back");
		CHECK(wg_peer_new(b.dev, a.pub, &p) == -EEXIST, "duplicate key -EEXIST");
	}
	sim_end();
}

static void test_staged_queue(void)
{
	static struct node a, b;
	struct wg_peer *pa;
	bool in_order = true;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	net.drop_from = &b;
	for (int i = 0; i < 200; i++)
		node_ping(&a, &b, (uint8_t)i);
	CHECK(pa->staged_count == WG_MAX_STAGED &&
	      a.dev->stats.tx_staged_dropped == 200 - WG_MAX_STAGED,
	      "no session: %d packets staged, the oldest dropped", WG_MAX_STAGED);
	CHECK(a.sent[MSG_INITIATION] == 1, "one initiation for all of them");
	sim_settle();
	net.drop_from = NULL;
	sim_run_for(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER);
	CHECK(b.n_delivered == WG_MAX_STAGED && pa->staged_count == 0,
	      "after the handshake every staged packet is delivered");
	for (size_t i = 0; i < b.n_delivered; i++) {
		uint8_t pkt[100];
		make_ip4(pkt, a.in4, b.in4, 84, (uint8_t)(200 - WG_MAX_STAGED + i));
		in_order &= b.delivered[i].len == 84 && !memcmp(b.delivered[i].data, pkt, 84);
	}
	CHECK(in_order, "in the order they were sent");
	sim_end();

	/* A peer without an endpoint cannot start anything. */
	sim_pair(&a, &b);
	wg_peer_remove(peer_of(&a, &b));
	pa = NULL;
	wg_peer_new(a.dev, b.pub, &pa);
	wg_peer_add_allowed_ip(pa, AF_INET, b.in4, 32);
	node_ping(&a, &b, 1);
	CHECK(a.dev->stats.tx_no_endpoint == 1 && net.n == 0, "no endpoint: tx_no_endpoint");
	/* ... until the peer reaches it: then it answers at that address. */
	node_ping(&b, &a, 2);
	sim_settle();
	CHECK(node_got_ping(&a, &b, 2) && pa->has_endpoint,
	      "endpoint learnt from the peer's initiation");
	node_ping(&a, &b, 3);
	sim_settle();
	CHECK(node_got_ping(&b, &a, 3), "and used for replies");
	sim_end();
}

static void test_message_limits(void)
{
	static struct node a, b;
	struct wg_peer *pa, *pb;
	struct noise_keypair *old;
	uint8_t msg[200], pkt[100];
	size_t n;
	uint64_t s;

	sim_pair(&a, &b);
	pa = peer_of(&a, &b);
	pb = peer_of(&b, &a);
	CHECK(sim_establish(&a, &b, 1), "session established");
	/* REKEY_AFTER_MESSAGES: even the responder rekeys (once its own
	 * response is REKEY_TIMEOUT old). */
	sim_run_for(REKEY_TIMEOUT);
	old = pb->kp_cur;
	pb->kp_cur->send_counter = REKEY_AFTER_MESSAGES;
	net.hold = true;
	node_ping(&b, &a, 2);
	CHECK(net.n == 2 && net.q[0].data[0] == MSG_DATA &&
	      net.q[1].data[0] == MSG_INITIATION,
	      "REKEY_AFTER_MESSAGES sent: the responder initiates");
	net.hold = false;
	sim_settle();
	CHECK(node_got_ping(&a, &b, 2) && pb->kp_cur != old && pb->kp_cur->initiator,
	      "and gets a new session as initiator");
	/* REJECT_AFTER_MESSAGES: the last counter is used (with a rekey,
	 * being past REKEY_AFTER_MESSAGES), then the keypair is done. */
	sim_run_for(REKEY_TIMEOUT);
	pa->kp_cur->send_counter = REJECT_AFTER_MESSAGES - 1;
	net.hold = true;
	node_ping(&a, &b, 3);
	CHECK(net.n == 2 && net.q[0].data[0] == MSG_DATA &&
	      net.q[1].data[0] == MSG_INITIATION, "counter REJECT_AFTER_MESSAGES - 1 still goes");
	net.hold = false;
	sim_settle();
	CHECK(node_got_ping(&b, &a, 3), "and is accepted");
	sim_run_for(REKEY_TIMEOUT);
	old = pa->kp_cur;
	old->send_counter = REJECT_AFTER_MESSAGES;
	net.hold = true;
	node_ping(&a, &b, 4);
	CHECK(net.n == 1 && net.q[0].data[0] == MSG_INITIATION && pa->staged_count == 1 &&
	      old->send_counter == REJECT_AFTER_MESSAGES,
	      "at REJECT_AFTER_MESSAGES: nothing sent on the keypair, handshake instead");
	net.hold = false;
	sim_settle();
	CHECK(node_got_ping(&b, &a, 4) && pa->kp_cur != old, "delivered on a new session");
	/* A receiver refuses counters at or past REJECT_AFTER_MESSAGES. */
	s = b.dev->stats.rx_expired_key;
	make_ip4(pkt, a.in4, b.in4, 84, 5);
	pa->kp_cur->send_counter = REJECT_AFTER_MESSAGES;
	n = forge_data(pa, msg, pkt, 84);
	node_inject(&b, &a, msg, n);
	pa->kp_cur->send_counter = UINT64_MAX;
	n = forge_data(pa, msg, pkt, 84);
	node_inject(&b, &a, msg, n);
	CHECK(b.dev->stats.rx_expired_key == s + 2 && !node_got_ping(&b, &a, 5),
	      "received counters >= REJECT_AFTER_MESSAGES: rx_expired_key");
	sim_end();
}

/* The receiver-index table against a plain array: random inserts and
 * removals in a table small enough that probe runs collide and wrap. */
static void test_index_table(void)
{
	enum { LIVE_MAX = 600, OPS = 100000 };
	static uint32_t live[LIVE_MAX];
	static uintptr_t tag[LIVE_MAX];
	static uint32_t dead[64];
	struct wg_device *dev = wg_device_new(&sink_ops, NULL);
	size_t n = 0, bad = 0, ndead = 0;
	uint64_t rng = 99;
	uintptr_t next_tag = 1;

	for (int op = 0; op < OPS; op++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		if (n < LIVE_MAX && (n < 8 || (rng >> 40) % 100 < 50)) {
			uint32_t idx;
			if (wg_index_insert(dev, WG_INDEX_KEYPAIR, NULL,
					    (struct noise_keypair *)next_tag, &idx)) {
				bad++;
				continue;
			}
			live[n] = idx;
			tag[n++] = next_tag++;
		} else if (n) {
			size_t k = (size_t)(rng >> 33) % n;
			wg_index_remove(dev, live[k]);
			dead[ndead++ % 64] = live[k];
			live[k] = live[--n];
			tag[k] = tag[n];
		}
		if (dev->index.used != n)
			bad++;
		if (op % 97 == 0 || op > OPS - 100) {
			for (size_t k = 0; k < n; k++) {
				struct wg_index_slot *sl = wg_index_find(dev, live[k]);
				bad += !sl || (uintptr_t)sl->kp != tag[k];
			}
			for (size_t k = 0; k < ndead && k < 64; k++) {
				bool alive = false;
				for (size_t j = 0; j < n; j++)
					alive |= live[j] == dead[k];
				bad += !alive && wg_index_find(dev, dead[k]) != NULL;
			}
		}
	}
	wg_index_remove(dev, 0x12345678);	/* absent: no-op */
	CHECK(bad == 0 && dev->index.used == n,
	      "index table: %d random inserts/removals agree with a list", OPS);
	while (n)
		wg_index_remove(dev, live[--n]);
	CHECK(dev->index.used == 0, "index table empty after removing all");
	wg_device_free(dev);
}

/* The heap property and the back pointers of the device's timer heap. */
static bool heap_ok(const struct wg_device *dev)
{
	for (size_t i = 0; i < dev->heap_len; i++) {
		if (dev->heap[i]->heap_pos != i + 1)
			return false;
		if (i && dev->heap[(i - 1) / 2]->deadline > dev->heap[i]->deadline)
			return false;
	}
	return true;
}


/* Every keypair and live handshake of every peer owns exactly its index
 * slot, nothing else is in the table, and the timer heap is in order. */
static bool engine_consistent(const struct wg_device *dev)
{
	size_t owned = 0;

	if (!heap_ok(dev))
		return false;
	for (struct wg_peer *p = dev->first; p; p = p->next) {
		struct noise_keypair *kps[3] = { p->kp_prev, p->kp_cur, p->kp_next };
		uint64_t d = 0;
		for (int i = 0; i < 3; i++) {
			struct wg_index_slot *sl;
			if (!kps[i])
				continue;
			sl = wg_index_find((struct wg_device *)dev, kps[i]->local_index);
			if (!sl || sl->kind != WG_INDEX_KEYPAIR || sl->kp != kps[i] ||
			    sl->peer != p)
				return false;
			owned++;
		}
		if (p->hs.state != NOISE_ZEROED) {
			struct wg_index_slot *sl =
				wg_index_find((struct wg_device *)dev, p->hs.local_index);
			if (p->hs.state != NOISE_CREATED_INITIATION || !sl ||
			    sl->kind != WG_INDEX_HANDSHAKE || sl->peer != p)
				return false;
			owned++;
		}
		for (int t = 0; t < WG_TIMER_COUNT; t++)
			if (p->timer[t] && (!d || p->timer[t] < d))
				d = p->timer[t];
		if (p->deadline != d || (d && !p->heap_pos) || (!d && p->heap_pos) ||
		    p->staged_count > WG_MAX_STAGED)
			return false;
	}
	return dev->index.used == owned;
}

static uint64_t chaos_rng;
static uint8_t chaos_psk;	/* both sides' preshared key byte; 0 = none */

static void chaos_set_psk(struct wg_peer *p)
{
	uint8_t psk[32];

	memset(psk, chaos_psk, 32);
	wg_peer_set_psk(p, chaos_psk ? psk : NULL);
}

static uint64_t chaos_next(void)
{
	chaos_rng = chaos_rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return chaos_rng >> 33;
}

/* One random event: traffic, the network misbehaving, time passing, or
 * the configuration changing under the sessions. */
static void chaos_step(struct node *a, struct node *b, size_t *rekeys)
{
	uint64_t r = chaos_next() % 1000;
	struct node *x = chaos_next() & 1 ? a : b, *y = x == a ? b : a;

	if (r < 250) {
		node_ping(x, y, (uint8_t)chaos_next());
	} else if (r < 500 && net.n) {
		size_t i = chaos_next() % net.n;
		struct net_msg m = net.q[i];
		uint64_t how = chaos_next() % 20;
		if (how == 0) {			/* duplicate */
			net_deliver(&m);
			return;
		}
		m = net_take(i);
		if (how == 1 && m.len)		/* tamper */
			m.data[chaos_next() % m.len] ^= (uint8_t)(1 + chaos_next() % 255);
		net_deliver(&m);
		net_free_msg(&m);
	} else if (r < 600 && net.n) {
		struct net_msg m = net_take(chaos_next() % net.n);
		net_free_msg(&m);
	} else if (r < 850) {
		sim_run_for(chaos_next() % (8 * SEC));
	} else if (r < 870) {
		sim_run_for(chaos_next() % (400 * SEC));
	} else if (r < 900) {
		node_clock(x);
		wg_peer_set_keepalive(peer_of(x, y), (uint16_t)(chaos_next() % 3 * 10));
	} else if (r < 910) {
		struct wg_peer *p;
		node_clock(x);
		wg_peer_remove(peer_of(x, y));
		p = node_add_peer(x, y);
		chaos_set_psk(p);
		if (chaos_next() & 1)
			wg_peer_set_keepalive(p, 15);
	} else if (r < 913) {
		/* y gets a new identity, and x learns it. */
		for (int i = 0; i < 32; i++)
			y->priv[i] = (uint8_t)chaos_next();
		node_clock(y);
		wg_device_set_private_key(y->dev, y->priv);
		node_clock(x);
		wg_peer_remove(peer_of(x, y));
		memcpy(y->pub, y->dev->local.public_key, 32);
		chaos_set_psk(node_add_peer(x, y));
		(*rekeys)++;
	} else if (r < 930) {
		node_clock(x);
		wg_peer_send_initiation(peer_of(x, y), false);
	} else if (r < 940) {
		/* x under load (cookies demanded) or not. */
		wg_device_set_load_threshold(x->dev, chaos_next() & 1 ? 0 : 1000);
	} else if (r < 943) {
		/* a preshared key on both sides, or none */
		chaos_psk = (uint8_t)(chaos_next() & 3);
		chaos_set_psk(peer_of(x, y));
		chaos_set_psk(peer_of(y, x));
	} else {
		node_clock(x);
		wg_device_tick(x->dev);
	}
	while (net.n > 300) {
		struct net_msg m = net_take(0);
		net_free_msg(&m);
	}
}

static void chaos_dump_peer(const struct node *x, const struct node *y)
{
	const struct wg_peer *p = peer_of(x, y);

	printf("# %s: peer %s kp prev %p cur %p next %p hs %d staged %u attempts %u "
	       "ep %s last_hs %llds ago\n", x->name, y->name, (void *)p->kp_prev,
	       (void *)p->kp_cur, (void *)p->kp_next, p->hs.state, p->staged_count,
	       p->handshake_attempts,
	       p->has_endpoint ? (wg_sockaddr_equal(&p->endpoint, &y->addr) ? "right" : "WRONG") : "none",
	       (long long)((sim_now - p->last_sent_handshake) / SEC));
	for (int t = 0; t < WG_TIMER_COUNT; t++)
		printf("#   timer %d: %lld ms\n", t,
		       p->timer[t] ? (long long)((int64_t)(p->timer[t] - sim_now) / (int64_t)MS) : -1LL);
	printf("#   stats: mal %llu mac %llu unkpeer %llu auth %llu hsrep %llu unkidx %llu "
	       "rep %llu exp %llu hs %llu\n",
	       (unsigned long long)x->dev->stats.rx_malformed,
	       (unsigned long long)x->dev->stats.rx_invalid_mac,
	       (unsigned long long)x->dev->stats.rx_unknown_peer,
	       (unsigned long long)x->dev->stats.rx_bad_auth,
	       (unsigned long long)x->dev->stats.rx_handshake_replay,
	       (unsigned long long)x->dev->stats.rx_unknown_index,
	       (unsigned long long)x->dev->stats.rx_replay,
	       (unsigned long long)x->dev->stats.rx_expired_key,
	       (unsigned long long)x->dev->stats.handshakes_completed);
}

static void chaos_dump(const struct node *a, const struct node *b)
{
	chaos_dump_peer(a, b);
	chaos_dump_peer(b, a);
}

/* One chaos run: `steps` random events with the state checked after each,
 * then the network heals and both directions must work within a minute.
 * Reproducible: the clock, and the devices' jitter and index generators,
 * start from fixed values.  With trace, the last events and the healing
 * are printed message by message. */
static void chaos_run(uint64_t seed, size_t steps, bool trace)
{
	static struct node a, b;
	size_t bad_at = 0, rekeys = 0;
	bool ok = true, flows;

	chaos_rng = seed;
	chaos_psk = 0;
	sim_now = 1000000 * SEC;
	sim_pair(&a, &b);
	a.dev->rng = seed * 3;
	b.dev->rng = seed * 5;
	net.hold = true;
	for (size_t i = 0; i < steps && ok; i++) {
		sim_trace = trace && i + 60 >= steps;
		if (sim_trace)
			printf("# event %zu at %llu ms\n", i,
			       (unsigned long long)(sim_now / MS));
		chaos_step(&a, &b, &rekeys);
		ok = engine_consistent(a.dev) && engine_consistent(b.dev);
		bad_at = i;
	}
	if (!ok)
		printf("# chaos seed %llu: inconsistent after event %zu\n",
		       (unsigned long long)seed, bad_at);
	CHECK(ok, "chaos seed %llu: engine state consistent through %zu events "
	      "(%llu + %llu handshakes, %zu + %zu packets delivered)",
	      (unsigned long long)seed, steps,
	      (unsigned long long)a.dev->stats.handshakes_completed,
	      (unsigned long long)b.dev->stats.handshakes_completed,
	      a.n_delivered, b.n_delivered);
	if (trace) {
		chaos_dump(&a, &b);
		printf("# healing\n");
	}
	sim_trace = trace;
	net_reset();
	sim_run_for(SEC);
	node_ping(&a, &b, 201);
	node_ping(&b, &a, 202);
	sim_run_for(60 * SEC);
	node_ping(&a, &b, 203);
	node_ping(&b, &a, 204);
	sim_settle();
	flows = node_got_ping(&b, &a, 203) && node_got_ping(&a, &b, 204);
	if (!flows)
		chaos_dump(&a, &b);
	CHECK(flows && engine_consistent(a.dev) && engine_consistent(b.dev),
	      "chaos seed %llu: after healing, traffic flows both ways "
	      "(%zu identity changes)", (unsigned long long)seed, rekeys);
	sim_trace = false;
	sim_end();
}

/* Seeds 1..8, 4000 events each.  WEFT_CHAOS_SEEDS=N runs seeds 1..N with
 * 10000 events each; WEFT_CHAOS_SEED=S runs seed S alone, traced when
 * WEFT_TRACE is set. */
static void test_chaos(void)
{
	const char *many = getenv("WEFT_CHAOS_SEEDS");
	const char *one = getenv("WEFT_CHAOS_SEED");

	if (one && atoi(one) > 0) {
		chaos_run((uint64_t)atoi(one), 10000, getenv("WEFT_TRACE") != NULL);
		return;
	}
	if (many && atoi(many) > 0) {
		for (int k = 1; k <= atoi(many); k++)
			chaos_run((uint64_t)k, 10000, false);
		return;
	}
	for (uint64_t k = 1; k <= 8; k++)
		chaos_run(k, 4000, false);
}

static void test_many_peers(void)
{
	enum { N = 10000 };
	static uint8_t keys[N][32];
	static struct wg_peer *peers[N];
	static unsigned order[N];
	struct wg_device *dev = wg_device_new(&sink_ops, NULL);
	uint8_t priv[32];
	union wg_sockaddr ep;
	size_t bad = 0, found = 0, i;
	uint64_t rng = 12345, next;

	memset(priv, 0x21, 32);
	wg_device_set_time(dev, sim_now, sim_now + REAL_OFFSET);
	wg_device_set_private_key(dev, priv);
	sim_addr(&ep, "198.51.100.9", 51820);
	for (i = 0; i < N; i++) {
		uint8_t ip[4] = { 10, (uint8_t)(i >> 8), (uint8_t)i, 1 };
		for (int j = 0; j < 32; j++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			keys[i][j] = (uint8_t)(rng >> 56);
		}
		if (wg_peer_new(dev, keys[i], &peers[i]) ||
		    wg_peer_add_allowed_ip(peers[i], AF_INET, ip, 32)) {
			bad++;
			continue;
		}
		wg_peer_set_endpoint(peers[i], &ep);
		wg_peer_set_keepalive(peers[i], (uint16_t)(1 + i % 60));
	}
	CHECK(bad == 0 && dev->n_peers == N, "10000 peers added");
	CHECK(dev->heap_len == N && heap_ok(dev) && sink_sent == N,
	      "each sent an initiation and has a timer in the heap");
	for (i = 0, bad = 0; i < N; i++)
		bad += wg_peer_find(dev, keys[i]) != peers[i];
	CHECK(bad == 0, "every peer found by its key");
	{
		uint8_t ip[4] = { 10, 0x12, 0x34, 1 };
		CHECK(allowedips_lookup(&dev->aips, AF_INET, ip) == &peers[0x1234]->aips,
		      "allowed IPs route to the right peer");
	}
	/* Step through the first retransmissions, deadline by deadline. */
	{
		uint64_t now = sim_now, end = sim_now + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER;
		size_t steps = 0;
		next = wg_device_tick(dev);
		while (next && next <= end) {
			now = next;
			wg_device_set_time(dev, now, now + REAL_OFFSET);
			next = wg_device_tick(dev);
			steps++;
		}
		CHECK(sink_sent == 2 * N && heap_ok(dev) && next > end,
		      "every peer retransmitted once (%zu ticks)", steps);
	}
	for (i = 0; i < N; i++)
		order[i] = (unsigned)i;
	for (i = N - 1; i > 0; i--) {
		size_t j;
		unsigned t;
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		j = (size_t)(rng >> 33) % (i + 1);
		t = order[i], order[i] = order[j], order[j] = t;
	}
	for (i = 0, bad = 0; i < N; i++) {
		wg_peer_remove(peers[order[i]]);
		peers[order[i]] = NULL;
		if (i % 1000 == 999) {
			bad += !heap_ok(dev);
			bad += dev->heap_len != N - i - 1;
			for (size_t k = 0; k < N; k++)
				found += wg_peer_find(dev, keys[k]) != peers[k];
		}
	}
	CHECK(bad == 0 && found == 0, "removal in random order keeps heap and table right");
	CHECK(dev->n_peers == 0 && dev->heap_len == 0 && dev->index.used == 0 &&
	      !dev->first && !dev->last, "all gone: no peer, timer or index left");
	wg_device_free(dev);
}

/* Batches: the AEADs run through the host's crypt hook in any order and on
 * several lanes; the engine still sends and delivers in order, checks
 * replays and tags per message, finishes before a handshake message, and
 * survives its host removing a peer while taking a delivery. */
static size_t crypt_calls, crypt_jobs;
static void reverse_crypt(void *ctx, struct wg_crypt_job *jobs, size_t n)
{
	crypt_calls++;
	crypt_jobs += n;
	for (size_t i = n; i-- > 0;)
		wg_crypt_job_run(&jobs[i], (unsigned)(i % CRYPTO_LANES));
}
static const struct wg_ops batch_ops = {
	.send = sim_send, .deliver = sim_deliver, .crypt = reverse_crypt,
};
static struct wg_peer *remove_on_deliver;
static void removing_deliver(void *ctx, struct wg_peer *peer,
			     const uint8_t *pkt, size_t len)
{
	sim_deliver(ctx, peer, pkt, len);
	if (peer == remove_on_deliver) {
		remove_on_deliver = NULL;
		wg_peer_remove(peer);
	}
}
static const struct wg_ops removing_ops = {
	.send = sim_send, .deliver = removing_deliver, .crypt = reverse_crypt,
};

static void test_batch(void)
{
	enum { N = 300 };
	static struct node a, b;
	static _Alignas(8) uint8_t bufs[N + 2][256];	/* rows stay 8-byte aligned */
	static struct net_msg msgs[N + 2];
	size_t delivered, ok = 0;
	uint64_t last = 0;
	bool ordered = true;
	uint8_t pkt[200];

	sim_pair(&a, &b);
	CHECK(sim_establish(&a, &b, 1), "session established");
	a.dev->ops = &batch_ops;
	b.dev->ops = &batch_ops;
	net.hold = true;

	/* Sending: N packets in one batch (more than WG_BATCH_MAX). */
	crypt_calls = crypt_jobs = 0;
	node_clock(&a);
	wg_device_batch_begin(a.dev);
	for (int i = 0; i < N; i++) {
		make_ip4(bufs[i] + WG_HEADROOM, a.in4, b.in4, 84, (uint8_t)i);
		wg_device_send(a.dev, bufs[i], 84);
	}
	CHECK(net_find(&a, MSG_DATA) >= 0, "a full batch is finished at once");
	wg_device_batch_end(a.dev);
	CHECK(crypt_calls == 2 && crypt_jobs == N,
	      "sent through the crypt hook: %zu calls, %zu jobs", crypt_calls, crypt_jobs);
	for (int i = 0; i < N; i++) {
		uint64_t ctr;
		if (!net_take_one(&a, MSG_DATA, &msgs[i])) {
			ordered = false;
			break;
		}
		memcpy(&ctr, msgs[i].data + 8, 8);
		ctr = le64toh(ctr);
		if (i && ctr != last + 1)
			ordered = false;
		last = ctr;
	}
	CHECK(ordered, "data messages leave in counter order");

	/* Receiving: the N messages, one replayed and one tampered, in one
	 * batch; delivered in order, each once. */
	msgs[N] = msgs[5];
	msgs[N].data = malloc(msgs[5].len);
	memcpy(msgs[N].data, msgs[5].data, msgs[5].len);
	msgs[7].data[40] ^= 1;
	delivered = b.n_delivered;
	{
		uint64_t replay = b.dev->stats.rx_replay;
		uint64_t bad = b.dev->stats.rx_bad_auth;
		node_clock(&b);
		wg_device_batch_begin(b.dev);
		for (int i = 0; i <= N; i++)
			wg_device_receive(b.dev, &msgs[i].src, msgs[i].data, msgs[i].len);
		wg_device_batch_end(b.dev);
		CHECK(b.dev->stats.rx_replay == replay + 1, "replay in a batch: rx_replay");
		CHECK(b.dev->stats.rx_bad_auth == bad + 1, "tampered in a batch: rx_bad_auth");
	}
	CHECK(b.n_delivered == delivered + N - 1, "delivered %zu of %d",
	      b.n_delivered - delivered, N - 1);
	for (size_t i = delivered, seed = 0; i < b.n_delivered; i++, seed++) {
		if (seed == 7)
			seed++;
		make_ip4(pkt, a.in4, b.in4, 84, (uint8_t)seed);
		ok += b.delivered[i].len == 84 && !memcmp(b.delivered[i].data, pkt, 84);
	}
	CHECK(ok == N - 1, "delivered in order: %zu of %d", ok, N - 1);

	/* A handshake message finishes what is pending first. */
	node_ping(&a, &b, 9);
	net_take_one(&a, MSG_DATA, &msgs[N + 1]);
	delivered = b.n_delivered;
	wg_device_batch_begin(b.dev);
	wg_device_receive(b.dev, &msgs[N + 1].src, msgs[N + 1].data, msgs[N + 1].len);
	CHECK(b.n_delivered == delivered, "pending in the batch");
	{
		uint8_t junk[sizeof(struct msg_cookie_reply)] = { MSG_COOKIE_REPLY };
		wg_device_receive(b.dev, &a.addr, junk, sizeof(junk));
	}
	CHECK(b.n_delivered == delivered + 1 && node_got_ping(&b, &a, 9),
	      "delivered before the handshake message is handled");
	wg_device_batch_end(b.dev);

	/* The host removes the peer on its first delivery: the rest of the
	 * batch is dropped as unknown, nothing touches the freed peer. */
	{
		struct net_msg rm[3];
		uint64_t unknown = b.dev->stats.rx_unknown_index;

		for (int i = 0; i < 3; i++)
			node_ping(&a, &b, (uint8_t)(20 + i));
		for (int i = 0; i < 3; i++)
			net_take_one(&a, MSG_DATA, &rm[i]);
		b.dev->ops = &removing_ops;
		remove_on_deliver = peer_of(&b, &a);
		wg_device_batch_begin(b.dev);
		for (int i = 0; i < 3; i++)
			wg_device_receive(b.dev, &rm[i].src, rm[i].data, rm[i].len);
		wg_device_batch_end(b.dev);
		CHECK(!remove_on_deliver && b.dev->stats.rx_unknown_index == unknown + 2,
		      "peer removed mid-batch: the rest dropped as unknown");
		for (int i = 0; i < 3; i++)
			net_free_msg(&rm[i]);
	}
	for (int i = 0; i < N + 2; i++)
		net_free_msg(&msgs[i]);
	net.hold = false;
	sim_end();

	/* A data message at an address that is not 8-byte aligned (a segment
	 * of a UDP GRO train whose size is not a multiple of 8) is taken. */
	{
		static _Alignas(8) uint8_t odd[300];
		struct net_msg m;

		sim_pair(&a, &b);
		CHECK(sim_establish(&a, &b, 1), "unaligned: session");
		net.hold = true;
		node_ping(&a, &b, 77);
		net_take_one(&a, MSG_DATA, &m);
		memcpy(odd + 4, m.data, m.len);
		node_clock(&b);
		wg_device_receive(b.dev, &m.src, odd + 4, m.len);
		CHECK(node_got_ping(&b, &a, 77), "unaligned: a data message at an "
		      "address 4 bytes off is delivered");
		net_free_msg(&m);
		net.hold = false;
		sim_end();
	}

	/* A batch with both directions: a delivery removes the peer, and the
	 * send queued after it for that peer is dropped, not sent from freed
	 * memory; a full batch finished by a send removes the peer before it
	 * is looked up, so the packet finds no route. */
	for (int full = 0; full < 2; full++) {
		struct net_msg rm[WG_BATCH_MAX];
		int nrx = full ? WG_BATCH_MAX : 1;
		uint64_t sent, no_route;

		sim_pair(&a, &b);
		CHECK(sim_establish(&a, &b, 1) && sim_establish(&b, &a, 2),
		      "mixed %d: sessions both ways", full + 1);
		net.hold = true;
		for (int i = 0; i < nrx; i++) {
			node_ping(&a, &b, (uint8_t)i);
			net_take_one(&a, MSG_DATA, &rm[i]);
		}
		b.dev->ops = &removing_ops;
		remove_on_deliver = peer_of(&b, &a);
		sent = b.sent[MSG_DATA];
		no_route = b.dev->stats.tx_no_route;
		node_clock(&b);
		wg_device_batch_begin(b.dev);
		for (int i = 0; i < nrx; i++)
			wg_device_receive(b.dev, &rm[i].src, rm[i].data, rm[i].len);
		make_ip4(bufs[0] + WG_HEADROOM, b.in4, a.in4, 84, 99);
		wg_device_send(b.dev, bufs[0], 84);
		wg_device_batch_end(b.dev);
		CHECK(!remove_on_deliver && b.sent[MSG_DATA] == sent &&
		      b.dev->stats.tx_no_route == no_route + (uint64_t)full,
		      "mixed %d: %s", full + 1, full ? "a full batch is finished before "
		      "the send looks its peer up" : "the send after the removing "
		      "delivery is dropped");
		for (int i = 0; i < nrx; i++)
			net_free_msg(&rm[i]);
		net.hold = false;
		sim_end();
	}
}

int main(void)
{
	if (!crypto_init()) {
		printf("not ok 1 - crypto_init\n");
		return 1;
	}
	noise_init();
	test_handshake_and_data();
	test_spare_ephemeral();
	test_responder_confirmation();
	test_keepalive_timeout();
	test_new_handshake_when_unanswered();
	test_rekey_after_time();
	test_reject_after_time();
	test_retransmit_and_give_up();
	test_zero_keys();
	test_persistent_keepalive();
	test_replay_and_tamper();
	test_batch();
	test_handshake_replay();
	test_unknown_peer_and_bad_keys();
	test_server_hook();
	test_malformed();
	test_bad_source_and_no_route();
	test_no_route_hook();
	test_cookie();
	test_roaming();
	test_simultaneous_initiation();
	test_psk();
	test_remove_and_rekey_identity();
	test_staged_queue();
	test_message_limits();
	test_index_table();
	test_chaos();
	test_many_peers();
	free(net.q);
	return check_done();
}
