/*
 * relayload — drives the relay in weft-server through its real protocol
 * on loopback (tests/integration/test_relay.sh, docs/relay.md).  Nodes
 * join with a reusable token like ctlload's clients (a WireGuard engine
 * each, REGISTER over UDP, or over the relay itself with
 * --register-over-relay), open relay connections (HELLO, CHALLENGE
 * checked against the token's server key, PROOF), and send SEND frames
 * whose payloads the receiver checks byte for byte: source key, length,
 * order and content (a deterministic pattern per sender and sequence).
 *
 *   relayload [MODE] [OPTIONS] TOKEN
 *
 * Modes (one):
 *   --pairs N        N pairs of nodes (2N connections) each send --frames
 *                    F frames to their partner at --rate R frames/s (the
 *                    default mode, N = 200); every frame must arrive at
 *                    its destination only, intact and in order.
 *   --throughput     one pair: a -> b (both ways with --bidir) as fast as
 *                    an in-flight window of --window bytes allows, for
 *                    --seconds S; reports Gbit/s of WireGuard payload.
 *   --flood          garbage instead of HELLO, HELLOs cut short, garbage
 *                    frames and frames cut short after an opening, frames
 *                    from an unregistered key to others, a storm of
 *                    HELLOs, then --conns C connections that stay silent
 *                    in the opening (slowloris) while a registered pair
 *                    exchanges frames; all must be closed by the server.
 *   --unregistered   a key that never joined reaches the server (its
 *                    control plane answers over the relay) but not a node,
 *                    while a registered node does.
 *   --bad-proof      an opening with a proof from the wrong private key is
 *                    refused (the server closes the connection).
 *   --replace        a second connection with a node's key replaces the
 *                    first (closed by the server) and gets its frames.
 * Options:
 *   --frames F (100)  --rate R (50)  --size B (1452: pairs draw sizes up to
 *   B, throughput sends B)  --seconds S (5)  --window W (1048576)
 *   --conns C (300)  --register-over-relay  --relay ADDR:PORT (default:
 *   the token's endpoint)  --tls (every relay connection inside TLS, as
 *   weftd --relay-tls makes it: for weft-server --relay-tls-listen; give
 *   that address with --relay)
 *
 * Loopback only (the token's endpoint and --relay must be 127.0.0.0/8 or
 * [::1]).  Bounded: every phase has a deadline and every loop a count; an
 * alarm ends the process if anything stalls.  One result line on stdout;
 * exit 0 when every check of the mode passed, 1 when one failed or setup
 * failed, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "ctlnode.h"
#include "relay.h"

#define RL_MAX_PAIRS	1000
#define RL_MAX_CONNS	2000
#define RL_MAX_SECONDS	60
#define RL_IN_CAP	(RELAY_HDR_LEN + RELAY_MAX_BODY + (256u << 10))
#define RL_OUT_CAP	(2u << 20)
#define RL_HDR		16		/* payload header: magic, sender, sequence */
#define RL_MAGIC	0x726c6f61u
#define RL_PAT		65536
#define RL_TICK_NS	(20 * 1000000ull)
#define RL_REG_REQ	0xffff
#define RL_LOOKUP_REQ	0xfffe
#define RL_PROBE_REQ	0xfffd
#define RL_EV_UDP	1u
#define RL_EV_RELAY	2u
#define RL_MAX_FD	16384		/* descriptors that may carry TLS */
#define RL_TLS_RECORD	16384		/* a TLS record's largest plaintext */

enum rl_mode { RL_PAIRS, RL_THROUGHPUT, RL_FLOOD, RL_UNREGISTERED, RL_BAD_PROOF,
	       RL_REPLACE };

struct rl_opts {
	enum rl_mode mode;
	long pairs, frames, rate, size, seconds, window, conns;
	bool over_relay, bidir, tls;
	const char *relay, *token;
};

/* One relay connection, non-blocking once open. */
struct rl_conn {
	int fd;
	bool want_out, closed;
	uint8_t *in;
	size_t in_len;
	uint8_t *out;
	size_t out_head, out_len;
};

struct rl;

struct rl_node {
	struct rl *l;
	uint32_t idx;
	uint8_t pub[32], priv[32];
	struct wg_device *dev;
	struct wg_peer *server;
	int ufd;			/* UDP to the server, or -1 */
	bool via_relay;			/* the control session uses the relay */
	bool registered;
	uint64_t reg_sent;
	uint8_t ipv4[4];
	struct rl_conn rc;
	uint32_t partner;		/* whose frames we expect */
	uint64_t sent, rcvd, sent_bytes, rcvd_bytes, next_seq;
	uint64_t from_others;		/* RECV frames from keys we did not expect */
	uint16_t error;			/* last ERROR code from the server */
	bool looked_up;
	unsigned lookup_eps;
	uint8_t lookup_key[32];
	_Alignas(16) uint8_t buf[CTLNODE_BUF];
	_Alignas(16) uint8_t rx[2048];
};

struct rl {
	struct rl_opts o;
	struct rl_node *n;
	uint32_t n_nodes;
	union wg_sockaddr server_ep, relay_ep;
	uint8_t server_pub[32], secret[32];
	int ep;
	uint64_t rng;
	bool fixed_size;
	uint64_t corrupt, misrouted, reordered, broken, pongs;
	uint8_t pat[RL_PAT + RELAY_MAX_PACKET];
	_Alignas(16) uint8_t scratch[RELAY_HDR_LEN + RELAY_MAX_BODY];
};

static uint64_t rl_random(struct rl *l)
{
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return l->rng * 0x2545f4914f6cdd1dULL;
}

/* --- the stream: plain TCP, or inside TLS with --tls --- */

/* The TLS session of each relay descriptor (NULL: plain).  The
 * certificate is not checked, as weftd does not check it: the opening
 * inside proves the relay's key. */
static SSL_CTX *rl_tls;
static SSL *rl_ssl[RL_MAX_FD];

static SSL *rl_ssl_of(int fd)
{
	return fd >= 0 && fd < RL_MAX_FD ? rl_ssl[fd] : NULL;
}

static void rl_close(int fd)
{
	if (fd < 0)
		return;
	if (fd < RL_MAX_FD) {
		SSL_free(rl_ssl[fd]);
		rl_ssl[fd] = NULL;
	}
	close(fd);
}

/* Bytes OpenSSL decrypted already: epoll and poll cannot see them. */
static bool rl_pending(int fd)
{
	SSL *ssl = rl_ssl_of(fd);

	return ssl && SSL_pending(ssl) > 0;
}

/* SSL_read/SSL_write's failure as read/write's: -1 with errno EAGAIN
 * while it waits for the socket, 0 at the end of the stream. */
static ssize_t rl_tls_fail(SSL *ssl, int ret)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		errno = EIO;
		return -1;
	}
}

/* read(2) of the stream.  Inside TLS, with room for a record, whole
 * records until less than one fits: nothing stays decrypted unseen. */
static ssize_t rl_rd(int fd, void *buf, size_t len)
{
	SSL *ssl = rl_ssl_of(fd);
	size_t got = 0;
	ssize_t e;
	int n;

	if (!ssl)
		return read(fd, buf, len);
	do {
		ERR_clear_error();
		n = SSL_read(ssl, (uint8_t *)buf + got, (int)(len - got > INT32_MAX ?
							       INT32_MAX : len - got));
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		e = rl_tls_fail(ssl, n);
		return got ? (ssize_t)got : e;
	} while (len - got >= RL_TLS_RECORD);
	return (ssize_t)got;
}

static ssize_t rl_wr(int fd, const void *buf, size_t len)
{
	SSL *ssl = rl_ssl_of(fd);
	int n;

	if (!ssl)
		return write(fd, buf, len);
	ERR_clear_error();
	n = SSL_write(ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
	return n > 0 ? n : rl_tls_fail(ssl, n);
}

/* The client's TLS handshake on a connected fd, within ms. */
static bool rl_tls_start(int fd, int ms)
{
	uint64_t end = clock_mono_ns() + (uint64_t)ms * 1000000ull;
	SSL *ssl;

	if (fd >= RL_MAX_FD || !(ssl = SSL_new(rl_tls)) || !SSL_set_fd(ssl, fd)) {
		if (fd < RL_MAX_FD && ssl)
			SSL_free(ssl);
		return false;
	}
	rl_ssl[fd] = ssl;
	SSL_set_connect_state(ssl);
	for (;;) {
		struct pollfd p = { .fd = fd };
		uint64_t now = clock_mono_ns();
		int n, e;
		ERR_clear_error();
		if ((n = SSL_do_handshake(ssl)) == 1)
			return true;
		e = SSL_get_error(ssl, n);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return false;
		p.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if (now >= end || poll(&p, 1, (int)((end - now) / 1000000ull) + 1) <= 0)
			return false;
	}
}

static bool rl_tls_init(void)
{
	rl_tls = SSL_CTX_new(TLS_client_method());
	if (!rl_tls || !SSL_CTX_set_min_proto_version(rl_tls, TLS1_2_VERSION))
		return false;
	SSL_CTX_set_verify(rl_tls, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(rl_tls, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(rl_tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return true;
}

/* --- payloads: a sender's sequence number decides length and bytes --- */

static uint64_t rl_hash(uint32_t from, uint64_t seq)
{
	uint64_t h = ((uint64_t)from + 1) * 0x9e3779b97f4a7c15ULL ^
		     (seq + 1) * 0xbf58476d1ce4e5b9ULL;

	h ^= h >> 31;
	return h * 0x94d049bb133111ebULL;
}

static size_t rl_len(const struct rl *l, uint32_t from, uint64_t seq)
{
	if (l->fixed_size)
		return (size_t)l->o.size;
	return RL_HDR + rl_hash(from, seq) % ((uint64_t)l->o.size - RL_HDR + 1);
}

static const uint8_t *rl_filler(const struct rl *l, uint32_t from, uint64_t seq)
{
	return l->pat + (rl_hash(from, seq) >> 24) % RL_PAT;
}

static void rl_fill(const struct rl *l, uint8_t *p, uint32_t from, uint64_t seq,
		    size_t len)
{
	uint32_t magic = RL_MAGIC;

	memcpy(p, &magic, 4);
	memcpy(p + 4, &from, 4);
	memcpy(p + 8, &seq, 8);
	memcpy(p + RL_HDR, rl_filler(l, from, seq), len - RL_HDR);
}

/* --- the relay connection --- */

static void rl_want_out(struct rl *l, struct rl_node *n, bool out)
{
	struct epoll_event ev = {
		.events = EPOLLIN | (out ? EPOLLOUT : 0),
		.data.u64 = (uint64_t)RL_EV_RELAY << 32 | n->idx,
	};

	if (n->rc.want_out == out || n->rc.fd < 0)
		return;
	n->rc.want_out = out;
	epoll_ctl(l->ep, EPOLL_CTL_MOD, n->rc.fd, &ev);
}

static bool rl_room(const struct rl_conn *c, size_t need)
{
	return c->out_len + need <= RL_OUT_CAP;
}

/* Queues one frame; false when the queue is full. */
static bool rl_queue(struct rl_conn *c, enum relay_type t, const uint8_t *key,
		     const uint8_t *pkt, size_t len)
{
	size_t body = (key ? 32 : 0) + len;
	uint8_t *p;

	if (c->fd < 0 || !rl_room(c, RELAY_HDR_LEN + body))
		return false;
	if (c->out_head + c->out_len + RELAY_HDR_LEN + body > RL_OUT_CAP) {
		memmove(c->out, c->out + c->out_head, c->out_len);
		c->out_head = 0;
	}
	p = c->out + c->out_head + c->out_len;
	relay_header(p, t, body);
	if (key) {
		memcpy(p + RELAY_HDR_LEN, key, 32);
		memcpy(p + RELAY_HDR_LEN + 32, pkt, len);
	}
	c->out_len += RELAY_HDR_LEN + body;
	return true;
}

static void rl_flush(struct rl *l, struct rl_node *n)
{
	struct rl_conn *c = &n->rc;

	while (c->out_len && !c->closed) {
		ssize_t w = rl_wr(c->fd, c->out + c->out_head, c->out_len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			c->closed = true;
			break;
		}
		c->out_head += (size_t)w;
		c->out_len -= (size_t)w;
	}
	if (!c->out_len)
		c->out_head = 0;
	rl_want_out(l, n, c->out_len > 0 && !c->closed);
}

/* --- the engine's side: control over UDP or over the relay --- */

static void rl_engine_send(void *ctx, const union wg_sockaddr *to,
			   const uint8_t *msg, size_t len)
{
	struct rl_node *n = ctx;

	/* A full queue or socket buffer drops: the engine retransmits. */
	if (n->via_relay)
		rl_queue(&n->rc, RELAY_SEND, n->l->server_pub, msg, len);
	else if (n->ufd >= 0)
		(void)!send(n->ufd, msg, len, MSG_DONTWAIT);
}

static void rl_register(struct rl_node *n)
{
	struct ctl_msg m;
	char host[32];

	snprintf(host, sizeof(host), "relay-%u", n->idx);
	ctlnode_register(&m, RL_REG_REQ, n->l->secret, host);
	n->reg_sent = n->dev->now;
	ctlnode_send(n->server, n->buf, &m);
	ctl_msg_wipe(&m);
}

/* A LOOKUP of target's IPv4 address (req tells the answer apart). */
static void rl_lookup(struct rl_node *n, const uint8_t ipv4[4], uint64_t req)
{
	struct ctl_msg m;

	ctl_msg_init(&m, CTL_LOOKUP, req);
	memcpy(m.target_ipv4, ipv4, 4);
	m.present |= CTL_HAS(CTL_T_TARGET_IPV4);
	ctlnode_send(n->server, n->buf, &m);
}

static void rl_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
		       size_t len)
{
	struct rl_node *n = ctx;
	struct ctl_msg m;

	if (peer != n->server || !ctlnode_unwrap(pkt, len, &m))
		return;
	if (m.type == CTL_NOTIFY) {
		struct ctl_msg ok;
		ctl_msg_init(&ok, CTL_OK, m.request_id);
		ctlnode_send(n->server, n->buf, &ok);
	} else if (m.type == CTL_ERROR) {
		n->error = m.error_code;
		if (m.request_id == RL_REG_REQ)
			fprintf(stderr, "relayload: node %u: REGISTER answered %s: %s\n",
				n->idx, ctl_error_name(m.error_code), m.error_msg);
	} else if (m.type == CTL_REGISTER_OK && m.request_id == RL_REG_REQ) {
		n->registered = true;
		memcpy(n->ipv4, m.ipv4.addr, 4);
	} else if (m.type == CTL_LOOKUP_OK && m.request_id == RL_LOOKUP_REQ) {
		n->looked_up = true;
		n->lookup_eps = m.n_endpoints;
		memcpy(n->lookup_key, m.public_key, 32);
	}
}

static const struct wg_ops rl_ops = { .send = rl_engine_send, .deliver = rl_deliver };

/* --- receiving --- */

/* A RECV from a node: from our partner, intact, in order. */
static void rl_check(struct rl *l, struct rl_node *n, const uint8_t key[32],
		     const uint8_t *pkt, size_t len)
{
	const struct rl_node *p = &l->n[n->partner];
	uint32_t magic, from;
	uint64_t seq;

	if (memcmp(key, p->pub, 32)) {
		n->from_others++;
		l->misrouted++;
		return;
	}
	if (len < RL_HDR) {
		l->corrupt++;
		return;
	}
	memcpy(&magic, pkt, 4);
	memcpy(&from, pkt + 4, 4);
	memcpy(&seq, pkt + 8, 8);
	if (magic != RL_MAGIC || from != p->idx || len != rl_len(l, from, seq) ||
	    memcmp(pkt + RL_HDR, rl_filler(l, from, seq), len - RL_HDR)) {
		l->corrupt++;
		return;
	}
	if (seq != n->next_seq)
		l->reordered++;
	n->next_seq = seq + 1;
	n->rcvd++;
	n->rcvd_bytes += len;
}

static void rl_frame(struct rl *l, struct rl_node *n, enum relay_type t,
		     const uint8_t *key, const uint8_t *pkt, size_t len)
{
	if (t == RELAY_PONG) {
		l->pongs++;
		return;
	}
	if (t != RELAY_RECV) {
		l->broken++;
		return;
	}
	if (memcmp(key, l->server_pub, 32)) {
		rl_check(l, n, key, pkt, len);
		return;
	}
	if (len > sizeof(n->rx))
		return;
	memcpy(n->rx, pkt, len);
	clock_feed(n->dev);
	wg_device_receive(n->dev, &l->server_ep, n->rx, len);
}

static void rl_read(struct rl *l, struct rl_node *n)
{
	struct rl_conn *c = &n->rc;

	for (int round = 0; round < 4 && !c->closed; round++) {
		ssize_t r = rl_rd(c->fd, c->in + c->in_len, RL_IN_CAP - c->in_len);
		size_t off = 0;

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			c->closed = true;
			return;
		}
		c->in_len += (size_t)r;
		while (off < c->in_len) {
			enum relay_type t;
			const uint8_t *key, *pkt;
			size_t len;
			long f = relay_frame(c->in + off, c->in_len - off, &t, &key, &pkt, &len);
			if (f == 0)
				break;
			if (f < 0) {
				l->broken++;
				c->closed = true;
				return;
			}
			rl_frame(l, n, t, key, pkt, len);
			off += (size_t)f;
		}
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

static void rl_udp_read(struct rl_node *n)
{
	for (int i = 0; i < 64; i++) {
		ssize_t r = recv(n->ufd, n->rx, sizeof(n->rx), MSG_DONTWAIT);
		if (r <= 0)
			return;
		clock_feed(n->dev);
		wg_device_receive(n->dev, &n->l->server_ep, n->rx, (size_t)r);
	}
}

/* One round of the event loop: waits up to ms, handles what came, and
 * writes what the engines and the senders queued. */
static void rl_poll(struct rl *l, int ms)
{
	struct epoll_event ev[64];
	int k = epoll_wait(l->ep, ev, 64, ms);

	for (int i = 0; i < k; i++) {
		struct rl_node *n = &l->n[(uint32_t)ev[i].data.u64];
		if (ev[i].data.u64 >> 32 == RL_EV_UDP) {
			rl_udp_read(n);
			continue;
		}
		if (ev[i].events & EPOLLOUT)
			rl_flush(l, n);
		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			rl_read(l, n);
	}
	for (uint32_t i = 0; i < l->n_nodes; i++) {
		if (l->n[i].rc.out_len && !l->n[i].rc.want_out)
			rl_flush(l, &l->n[i]);
		if (!l->n[i].rc.closed && rl_pending(l->n[i].rc.fd))
			rl_read(l, &l->n[i]);
	}
}

/* --- the opening, blocking, with deadlines --- */

/* Reads or writes exactly len bytes within ms; false on EOF, error or
 * timeout. */
static bool rl_exact(int fd, void *buf, size_t len, bool writing, int ms)
{
	uint64_t end = clock_mono_ns() + (uint64_t)ms * 1000000ull;
	size_t done = 0;

	while (done < len) {
		struct pollfd p = { .fd = fd, .events = writing ? POLLOUT : POLLIN };
		uint64_t now = clock_mono_ns();
		ssize_t r;
		if (now >= end || (!(!writing && rl_pending(fd)) &&
				   poll(&p, 1, (int)((end - now) / 1000000ull) + 1) <= 0))
			return false;
		r = writing ? rl_wr(fd, (uint8_t *)buf + done, len - done)
			    : rl_rd(fd, (uint8_t *)buf + done, len - done);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

/* A non-blocking TCP connection to the relay, connected (and with --tls
 * its TLS handshake done) within 2 s. */
static int rl_tcp(const struct rl *l)
{
	int fd = socket(l->relay_ep.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0, size = 2 << 20;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (connect(fd, &l->relay_ep.sa, wg_sockaddr_len(&l->relay_ep)) &&
	    (errno != EINPROGRESS || poll(&p, 1, 2000) != 1 ||
	     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err)) {
		rl_close(fd);
		return -1;
	}
	if (l->o.tls && !rl_tls_start(fd, 2000)) {
		rl_close(fd);
		return -1;
	}
	return fd;
}

/* The client's side of the opening with key pair (pub, priv).  The
 * relay's proof is checked against the token's key; with wrong_key the
 * PROOF is made with another private key.  Returns the connection or -1. */
static int rl_opening(struct rl *l, const uint8_t pub[32], const uint8_t priv[32],
		      bool wrong_key)
{
	uint8_t nc[RELAY_NONCE_LEN], ns[RELAY_NONCE_LEN], ss[32], k[32];
	uint8_t hello[RELAY_HELLO_LEN], chal[RELAY_CHALLENGE_LEN], proof[RELAY_PROOF_LEN];
	uint8_t other[32];
	int fd = rl_tcp(l);
	bool ok;

	if (fd < 0)
		return -1;
	crypto_random(nc, sizeof(nc));
	relay_hello(hello, pub, nc);
	ok = rl_exact(fd, hello, sizeof(hello), true, 2000) &&
	     rl_exact(fd, chal, sizeof(chal), false, 3000) &&
	     crypto_dh(ss, priv, l->server_pub);
	if (ok) {
		relay_key(k, ss);
		ok = relay_challenge_check(chal, k, pub, nc, ns);
		if (!ok)
			fprintf(stderr, "relayload: the relay's proof does not match "
				"the token's server key\n");
	}
	if (ok && wrong_key) {
		ok = crypto_x25519_generate(other) && crypto_dh(ss, other, l->server_pub);
		relay_key(k, ss);
		crypto_wipe(other, sizeof(other));
	}
	if (ok) {
		relay_proof(proof, k, pub, nc, ns);
		ok = rl_exact(fd, proof, sizeof(proof), true, 2000);
	}
	crypto_wipe(ss, sizeof(ss));
	crypto_wipe(k, sizeof(k));
	if (!ok) {
		rl_close(fd);
		return -1;
	}
	return fd;
}

/* True when the server closes fd within ms (EOF or a reset). */
static bool rl_closed_within(int fd, int ms)
{
	uint64_t end = clock_mono_ns() + (uint64_t)ms * 1000000ull;
	uint8_t b[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = clock_mono_ns();
		ssize_t r;
		if (now >= end || (!rl_pending(fd) &&
				   poll(&p, 1, (int)((end - now) / 1000000ull) + 1) <= 0))
			return false;
		r = rl_rd(fd, b, sizeof(b));
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

/* --- nodes --- */

static bool rl_node_init(struct rl *l, struct rl_node *n, uint32_t idx)
{
	n->l = l;
	n->idx = idx;
	n->ufd = n->rc.fd = -1;
	if (!(n->dev = wg_device_new(&rl_ops, n)))
		return false;
	clock_feed(n->dev);
	if (!ctlnode_engine(n->dev, l->server_pub, &n->server, n->pub, n->priv))
		return false;
	wg_peer_set_endpoint(n->server, &l->server_ep);
	return true;
}

static bool rl_node_udp(struct rl *l, struct rl_node *n)
{
	struct epoll_event ev = {
		.events = EPOLLIN, .data.u64 = (uint64_t)RL_EV_UDP << 32 | n->idx,
	};

	n->ufd = socket(l->server_ep.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return n->ufd >= 0 &&
	       !connect(n->ufd, &l->server_ep.sa, wg_sockaddr_len(&l->server_ep)) &&
	       !epoll_ctl(l->ep, EPOLL_CTL_ADD, n->ufd, &ev);
}

/* Opens n's relay connection and watches it. */
static bool rl_node_relay(struct rl *l, struct rl_node *n)
{
	struct epoll_event ev = {
		.events = EPOLLIN, .data.u64 = (uint64_t)RL_EV_RELAY << 32 | n->idx,
	};

	if (!n->rc.in && !(n->rc.in = malloc(RL_IN_CAP)))
		return false;
	if (!n->rc.out && !(n->rc.out = malloc(RL_OUT_CAP)))
		return false;
	n->rc.in_len = n->rc.out_head = n->rc.out_len = 0;
	n->rc.want_out = n->rc.closed = false;
	n->rc.fd = rl_opening(l, n->pub, n->priv, false);
	return n->rc.fd >= 0 && !epoll_ctl(l->ep, EPOLL_CTL_ADD, n->rc.fd, &ev);
}

static void rl_node_free(struct rl_node *n)
{
	wg_device_free(n->dev);
	crypto_wipe(n->priv, sizeof(n->priv));
	if (n->ufd >= 0)
		close(n->ufd);
	if (n->rc.fd >= 0)
		rl_close(n->rc.fd);
	free(n->rc.in);
	free(n->rc.out);
}

static bool rl_nodes(struct rl *l, uint32_t count)
{
	if (!(l->n = calloc(count, sizeof(*l->n))))
		return false;
	l->n_nodes = count;
	for (uint32_t i = 0; i < count; i++)
		if (!rl_node_init(l, &l->n[i], i))
			return false;
	return true;
}

/* Engines' timers and REGISTER resends, every RL_TICK_NS. */
static void rl_tick(struct rl *l, uint32_t from, uint32_t to, bool reg)
{
	for (uint32_t i = from; i < to; i++) {
		struct rl_node *n = &l->n[i];
		clock_feed(n->dev);
		wg_device_tick(n->dev);
		if (reg && !n->registered && n->dev->now - n->reg_sent >= NSEC_PER_SEC)
			rl_register(n);
	}
}

/* Joins nodes [from, to): over UDP, or over their relay connections
 * (opened first) with --register-over-relay.  Within 60 s. */
static bool rl_join(struct rl *l, uint32_t from, uint32_t to)
{
	uint64_t t0 = clock_mono_ns(), end = t0 + 60 * NSEC_PER_SEC, tick = 0;
	uint32_t done = 0;

	for (uint32_t i = from; i < to; i++) {
		struct rl_node *n = &l->n[i];
		n->via_relay = l->o.over_relay;
		if (n->via_relay ? !rl_node_relay(l, n) : !rl_node_udp(l, n)) {
			fprintf(stderr, "relayload: node %u: cannot reach the server: %s\n",
				i, strerror(errno));
			return false;
		}
	}
	while (done < to - from && clock_mono_ns() < end) {
		if (clock_mono_ns() >= tick) {
			rl_tick(l, from, to, true);
			tick = clock_mono_ns() + RL_TICK_NS;
		}
		rl_poll(l, 5);
		done = 0;
		for (uint32_t i = from; i < to; i++)
			done += l->n[i].registered;
	}
	if (done < to - from) {
		fprintf(stderr, "relayload: %u of %u nodes registered within 60 s\n",
			done, to - from);
		return false;
	}
	fprintf(stderr, "relayload: %u nodes registered %s in %.3f s\n", to - from,
		l->o.over_relay ? "over the relay" : "over UDP",
		(double)(clock_mono_ns() - t0) / 1e9);
	for (uint32_t i = from; i < to; i++)
		if (!l->n[i].rc.in && !rl_node_relay(l, &l->n[i])) {
			fprintf(stderr, "relayload: node %u: relay opening failed\n", i);
			return false;
		}
	return true;
}

/* Queues n's next frame to its partner; false when its queue is full. */
static bool rl_send_next(struct rl *l, struct rl_node *n)
{
	const struct rl_node *p = &l->n[n->partner];
	size_t len = rl_len(l, n->idx, n->sent);

	if (!rl_room(&n->rc, RELAY_HDR_LEN + 32 + len))
		return false;
	rl_fill(l, l->scratch, n->idx, n->sent, len);
	rl_queue(&n->rc, RELAY_SEND, p->pub, l->scratch, len);
	n->sent++;
	n->sent_bytes += len;
	return true;
}

/* Runs the loop (ticking the engines) until done() or the deadline. */
static void rl_run_until(struct rl *l, uint64_t end, bool (*done)(const struct rl *))
{
	uint64_t tick = 0;

	while (clock_mono_ns() < end && !done(l)) {
		if (clock_mono_ns() >= tick) {
			rl_tick(l, 0, l->n_nodes, false);
			tick = clock_mono_ns() + RL_TICK_NS;
		}
		rl_poll(l, 2);
	}
}

/* --- pairs --- */

static bool rl_pairs_done(const struct rl *l)
{
	for (uint32_t i = 0; i < l->n_nodes; i++)
		if (l->n[i].rcvd < l->n[l->n[i].partner].sent)
			return false;
	return true;
}

static bool rl_never(const struct rl *l)
{
	(void)l;
	return false;
}

static bool rl_lookup_done(const struct rl *l)
{
	return l->n[0].looked_up || l->n[0].error;
}

/* With --register-over-relay: node 0 looks node 1 up; the answer must
 * not carry node 1's relay pseudo endpoint as a candidate. */
static bool rl_lookup_check(struct rl *l)
{
	rl_lookup(&l->n[0], l->n[1].ipv4, RL_LOOKUP_REQ);
	rl_run_until(l, clock_mono_ns() + 5 * NSEC_PER_SEC, rl_lookup_done);
	if (!l->n[0].looked_up || memcmp(l->n[0].lookup_key, l->n[1].pub, 32)) {
		fprintf(stderr, "relayload: LOOKUP over the relay failed (error %u)\n",
			l->n[0].error);
		return false;
	}
	return true;
}

static int rl_pairs(struct rl *l)
{
	uint32_t nn = (uint32_t)(2 * l->o.pairs);
	uint64_t t0, interval = NSEC_PER_SEC / (uint64_t)l->o.rate, next, end;
	uint64_t expect = 0, got = 0;
	bool ok;

	if (!rl_nodes(l, nn) || !rl_join(l, 0, nn))
		return 1;
	for (uint32_t i = 0; i < nn; i++)
		l->n[i].partner = i ^ 1;
	if (l->o.over_relay && !rl_lookup_check(l))
		return 1;
	t0 = next = clock_mono_ns();
	end = t0 + (uint64_t)l->o.seconds * NSEC_PER_SEC +
	      (uint64_t)l->o.frames * interval;
	while (clock_mono_ns() < end) {
		bool more = false;
		if (clock_mono_ns() >= next) {
			for (uint32_t i = 0; i < nn; i++)
				if (l->n[i].sent < (uint64_t)l->o.frames)
					rl_send_next(l, &l->n[i]);
			next += interval;
		}
		for (uint32_t i = 0; i < nn && !more; i++)
			more = l->n[i].sent < (uint64_t)l->o.frames;
		if (!more)
			break;
		rl_poll(l, 1);
	}
	rl_run_until(l, end, rl_pairs_done);
	for (uint32_t i = 0; i < nn; i++) {
		expect += l->n[i].sent;
		got += l->n[i].rcvd;
	}
	ok = got == expect && expect == (uint64_t)nn * (uint64_t)l->o.frames &&
	     !l->corrupt && !l->misrouted && !l->reordered && !l->broken;
	printf("pairs=%ld nodes=%u register=%s frames=%llu delivered=%llu lost=%llu "
	       "corrupt=%llu misrouted=%llu reordered=%llu seconds=%.3f",
	       l->o.pairs, nn, l->o.over_relay ? "relay" : "udp",
	       (unsigned long long)expect, (unsigned long long)got,
	       (unsigned long long)(expect - got), (unsigned long long)l->corrupt,
	       (unsigned long long)l->misrouted, (unsigned long long)l->reordered,
	       (double)(clock_mono_ns() - t0) / 1e9);
	if (l->o.over_relay)
		printf(" lookup_endpoints=%u", l->n[0].lookup_eps);
	printf(" %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}

/* --- throughput --- */

static int rl_throughput(struct rl *l)
{
	uint64_t t0, t_measure, t_end, b0 = 0, b1 = 0, f0 = 0, f1 = 0;
	bool measuring = false, ok;
	int dirs = l->o.bidir ? 2 : 1;

	if (!rl_nodes(l, 2) || !rl_join(l, 0, 2))
		return 1;
	l->n[0].partner = 1;
	l->n[1].partner = 0;
	t0 = clock_mono_ns();
	t_measure = t0 + NSEC_PER_SEC / 2;
	t_end = t_measure + (uint64_t)l->o.seconds * NSEC_PER_SEC;
	for (uint64_t now = t0; now < t_end; now = clock_mono_ns()) {
		if (!measuring && now >= t_measure) {
			measuring = true;
			for (int d = 0; d < 2; d++) {
				b0 += l->n[d].rcvd_bytes;
				f0 += l->n[d].rcvd;
			}
		}
		for (int d = 0; d < dirs; d++) {
			struct rl_node *s = &l->n[d], *r = &l->n[d ^ 1];
			while (s->sent_bytes - r->rcvd_bytes < (uint64_t)l->o.window &&
			       rl_send_next(l, s))
				;
			rl_flush(l, s);
		}
		rl_poll(l, 1);
	}
	for (int d = 0; d < 2; d++) {
		b1 += l->n[d].rcvd_bytes;
		f1 += l->n[d].rcvd;
	}
	rl_run_until(l, clock_mono_ns() + 3 * NSEC_PER_SEC, rl_pairs_done);
	ok = l->n[0].rcvd == l->n[1].sent && l->n[1].rcvd == l->n[0].sent &&
	     !l->corrupt && !l->misrouted && !l->reordered && !l->broken;
	{
		double s = (double)(t_end - t_measure) / 1e9;
		printf("throughput gbps=%.2f frames_per_s=%.0f size=%ld directions=%d "
		       "window=%ld seconds=%.1f sent=%llu delivered=%llu lost=%llu "
		       "corrupt=%llu %s\n",
		       (double)(b1 - b0) * 8 / s / 1e9, (double)(f1 - f0) / s,
		       l->o.size, dirs, l->o.window, s,
		       (unsigned long long)(l->n[0].sent + l->n[1].sent),
		       (unsigned long long)(l->n[0].rcvd + l->n[1].rcvd),
		       (unsigned long long)(l->n[0].sent + l->n[1].sent -
					    l->n[0].rcvd - l->n[1].rcvd),
		       (unsigned long long)l->corrupt, ok ? "ok" : "FAILED");
	}
	return ok ? 0 : 1;
}

/* --- the refusals --- */

static int rl_bad_proof(struct rl *l)
{
	uint8_t priv[32], pub[32];
	int fd;
	bool closed;

	if (!crypto_x25519_generate(priv) || !crypto_x25519_public(pub, priv))
		return 1;
	fd = rl_opening(l, pub, priv, true);
	crypto_wipe(priv, sizeof(priv));
	if (fd < 0) {
		fprintf(stderr, "relayload: the opening did not get as far as the PROOF\n");
		return 1;
	}
	closed = rl_closed_within(fd, 3000);
	rl_close(fd);
	printf("bad_proof refused=%s %s\n", closed ? "yes" : "no", closed ? "ok" : "FAILED");
	return closed ? 0 : 1;
}

static bool rl_unreg_done(const struct rl *l)
{
	return l->n[0].rcvd >= 20 && l->n[2].error;
}

/* Node 0 (registered) expects frames from node 1 (registered); node 2
 * never joined: its frames to node 0 must be dropped, while the server
 * itself answers it over the relay. */
static int rl_unregistered(struct rl *l)
{
	static const uint8_t nowhere[4] = { 192, 0, 2, 1 };
	struct rl_node *a, *b, *u;
	bool ok;

	if (!rl_nodes(l, 3) || !rl_join(l, 0, 2))
		return 1;
	a = &l->n[0];
	b = &l->n[1];
	u = &l->n[2];
	u->via_relay = true;
	if (!rl_node_relay(l, u)) {
		fprintf(stderr, "relayload: the unregistered key's opening failed\n");
		return 1;
	}
	a->partner = 1;
	b->partner = u->partner = 0;
	for (int i = 0; i < 20; i++) {
		rl_send_next(l, b);
		rl_send_next(l, u);
	}
	/* A LOOKUP before any REGISTER: the answer (not_registered) can only
	 * come from the server's control plane, over the relay. */
	rl_lookup(u, nowhere, RL_PROBE_REQ);
	rl_run_until(l, clock_mono_ns() + 5 * NSEC_PER_SEC, rl_unreg_done);
	rl_run_until(l, clock_mono_ns() + NSEC_PER_SEC / 2, rl_never);
	ok = a->rcvd == 20 && a->from_others == 0 && l->misrouted == 0 &&
	     u->error == CTL_ERR_NOT_REGISTERED;
	printf("unregistered from_registered=%llu/20 from_unregistered=%llu/20 "
	       "server_answer=%s %s\n", (unsigned long long)a->rcvd,
	       (unsigned long long)a->from_others,
	       u->error ? ctl_error_name(u->error) : "none", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}

static bool rl_replace_done(const struct rl *l)
{
	return l->n[0].rcvd >= 20;
}

/* Node 0 opens a second connection: the first must be closed, and the
 * frames node 1 sends then must arrive on the second. */
static int rl_replace(struct rl *l)
{
	struct rl_node *a;
	bool closed, ok;
	int first;

	if (!rl_nodes(l, 2) || !rl_join(l, 0, 2))
		return 1;
	a = &l->n[0];
	a->partner = 1;
	l->n[1].partner = 0;
	first = a->rc.fd;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, first, NULL);
	a->rc.fd = -1;
	if (!rl_node_relay(l, a)) {
		fprintf(stderr, "relayload: the second opening failed\n");
		rl_close(first);
		return 1;
	}
	closed = rl_closed_within(first, 2000);
	rl_close(first);
	for (int i = 0; i < 20; i++)
		rl_send_next(l, &l->n[1]);
	rl_run_until(l, clock_mono_ns() + 3 * NSEC_PER_SEC, rl_replace_done);
	ok = closed && a->rcvd == 20 && !l->corrupt;
	printf("replace first_closed=%s second_received=%llu/20 %s\n",
	       closed ? "yes" : "no", (unsigned long long)a->rcvd, ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}

/* --- flood --- */

struct rl_flood {
	unsigned garbage, garbage_closed, cut_hello, frames_garbage, frames_closed;
	unsigned cut_frames, not_node, storm, storm_challenged;
	unsigned slow, slow_closed;
	bool pair_ok;
};

/* n connections that send bytes instead of a HELLO: all must be closed. */
static void rl_flood_garbage(struct rl *l, struct rl_flood *f, unsigned n)
{
	uint8_t junk[RELAY_HELLO_LEN];

	for (unsigned i = 0; i < n; i++) {
		int fd = rl_tcp(l);
		if (fd < 0)
			continue;
		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (uint8_t)rl_random(l);
		f->garbage++;
		if (rl_exact(fd, junk, sizeof(junk), true, 1000) && rl_closed_within(fd, 2000))
			f->garbage_closed++;
		rl_close(fd);
	}
}

/* n connections that hang up inside their HELLO. */
static void rl_flood_cut_hello(struct rl *l, struct rl_flood *f, unsigned n)
{
	uint8_t part[20];

	memcpy(part, "weftrly1", 8);
	memset(part + 8, '.', sizeof(part) - 8);
	for (unsigned i = 0; i < n; i++) {
		int fd = rl_tcp(l);
		if (fd < 0)
			continue;
		if (rl_exact(fd, part, sizeof(part), true, 1000))
			f->cut_hello++;
		rl_close(fd);
	}
}

/* An authenticated connection of a fresh (unregistered) key, or -1. */
static int rl_flood_open(struct rl *l)
{
	uint8_t priv[32], pub[32];
	int fd = -1;

	if (crypto_x25519_generate(priv) && crypto_x25519_public(pub, priv))
		fd = rl_opening(l, pub, priv, false);
	crypto_wipe(priv, sizeof(priv));
	return fd;
}

/* After the opening: n connections sending a broken stream (must be
 * closed), n hanging up inside a frame, and one sending n frames to keys
 * it may not reach (dropped). */
static void rl_flood_frames(struct rl *l, struct rl_flood *f, unsigned n)
{
	uint8_t buf[RELAY_HDR_LEN + 32 + 200];
	int fd;

	for (unsigned i = 0; i < n; i++) {
		if ((fd = rl_flood_open(l)) < 0)
			continue;
		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (uint8_t)rl_random(l);
		buf[0] = 0x7f;		/* no such frame type */
		f->frames_garbage++;
		if (rl_exact(fd, buf, sizeof(buf), true, 1000) && rl_closed_within(fd, 2000))
			f->frames_closed++;
		rl_close(fd);
	}
	for (unsigned i = 0; i < n; i++) {
		if ((fd = rl_flood_open(l)) < 0)
			continue;
		relay_header(buf, RELAY_SEND, 32 + 1000);	/* promises 1032 */
		if (rl_exact(fd, buf, sizeof(buf), true, 1000))
			f->cut_frames++;
		rl_close(fd);
	}
	if ((fd = rl_flood_open(l)) < 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		for (size_t k = RELAY_HDR_LEN; k < sizeof(buf); k++)
			buf[k] = (uint8_t)rl_random(l);
		relay_header(buf, RELAY_SEND, sizeof(buf) - RELAY_HDR_LEN);
		if (rl_exact(fd, buf, sizeof(buf), true, 1000))
			f->not_node++;
	}
	rl_close(fd);
}

/* HELLOs from fresh keys, as fast as one connection at a time allows, for
 * at most ms or n of them: each answered with a CHALLENGE or closed. */
static void rl_flood_storm(struct rl *l, struct rl_flood *f, unsigned n, int ms)
{
	uint64_t end = clock_mono_ns() + (uint64_t)ms * 1000000ull;
	uint8_t hello[RELAY_HELLO_LEN], chal[RELAY_CHALLENGE_LEN], nc[RELAY_NONCE_LEN];
	uint8_t key[32];

	for (unsigned i = 0; i < n && clock_mono_ns() < end; i++) {
		int fd = rl_tcp(l);
		if (fd < 0)
			continue;
		for (size_t k = 0; k < 32; k++)
			key[k] = (uint8_t)rl_random(l);
		crypto_random(nc, sizeof(nc));
		relay_hello(hello, key, nc);
		f->storm++;
		if (rl_exact(fd, hello, sizeof(hello), true, 1000) &&
		    rl_exact(fd, chal, sizeof(chal), false, 1000))
			f->storm_challenged++;
		rl_close(fd);
	}
}

static bool rl_flood_pair_done(const struct rl *l)
{
	return l->n[0].rcvd >= 20 && l->n[1].rcvd >= 20;
}

/* Slowloris: n connections that send 10 bytes of a HELLO and wait.  The
 * registered pair (nodes 0 and 1) opens and exchanges frames meanwhile;
 * then every silent connection must be closed by the server (the oldest
 * evicted at once, the rest after the opening deadline). */
static void rl_flood_slow(struct rl *l, struct rl_flood *f, unsigned n)
{
	int *fds = calloc(n, sizeof(int));
	uint64_t last;

	if (!fds)
		return;
	for (unsigned i = 0; i < n; i++) {
		fds[i] = rl_tcp(l);
		if (fds[i] >= 0 && rl_exact(fds[i], "weftrly1!!", 10, true, 1000))
			f->slow++;
	}
	last = clock_mono_ns();
	for (int i = 0; i < 2; i++)
		if (!rl_node_relay(l, &l->n[i]))
			fprintf(stderr, "relayload: node %d: opening failed during the "
				"slowloris\n", i);
	for (int i = 0; i < 20; i++) {
		rl_send_next(l, &l->n[0]);
		rl_send_next(l, &l->n[1]);
	}
	rl_run_until(l, clock_mono_ns() + 3 * NSEC_PER_SEC, rl_flood_pair_done);
	f->pair_ok = l->n[0].rcvd == 20 && l->n[1].rcvd == 20 && !l->corrupt;
	/* The deadline is 5 s, checked once a second. */
	while (clock_mono_ns() < last + 7 * NSEC_PER_SEC)
		rl_poll(l, 50);
	for (unsigned i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (rl_closed_within(fds[i], 100))
			f->slow_closed++;
		rl_close(fds[i]);
	}
	free(fds);
}

static int rl_flood(struct rl *l)
{
	struct rl_flood f = { 0 };
	unsigned n = (unsigned)l->o.conns, small = n < 100 ? n : 100;
	uint64_t t0 = clock_mono_ns();
	bool ok;

	if (!rl_nodes(l, 2))
		return 1;
	l->o.over_relay = false;
	if (!rl_join(l, 0, 2))
		return 1;
	l->n[0].partner = 1;
	l->n[1].partner = 0;
	/* rl_join opened their relay connections: closed now, opened again
	 * during the slowloris. */
	for (int i = 0; i < 2; i++) {
		epoll_ctl(l->ep, EPOLL_CTL_DEL, l->n[i].rc.fd, NULL);
		rl_close(l->n[i].rc.fd);
		l->n[i].rc.fd = -1;
	}
	rl_flood_garbage(l, &f, small);
	rl_flood_cut_hello(l, &f, small);
	rl_flood_frames(l, &f, small);
	rl_flood_storm(l, &f, 4000, 1500);
	/* The storm may have spent this second's HELLOs: a client that
	 * meets the limit retries after it. */
	usleep(1100 * 1000);
	rl_flood_slow(l, &f, n);
	ok = f.garbage_closed == f.garbage && f.frames_closed == f.frames_garbage &&
	     f.slow_closed == f.slow && f.slow == n && f.pair_ok;
	printf("flood garbage=%u/%u_closed cut_hello=%u broken_frames=%u/%u_closed "
	       "cut_frames=%u not_node_frames=%u storm_hellos=%u storm_challenged=%u "
	       "slowloris=%u/%u_closed pair_during_slowloris=%s seconds=%.1f %s\n",
	       f.garbage_closed, f.garbage, f.cut_hello, f.frames_closed,
	       f.frames_garbage, f.cut_frames, f.not_node, f.storm,
	       f.storm_challenged, f.slow_closed, f.slow, f.pair_ok ? "ok" : "FAILED",
	       (double)(clock_mono_ns() - t0) / 1e9, ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}

/* --- command line --- */

static bool rl_loopback(const union wg_sockaddr *ep)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (ep->sa.sa_family == AF_INET)
		return (ntohl(ep->in4.sin_addr.s_addr) >> 24) == 127;
	return ep->sa.sa_family == AF_INET6 &&
	       !memcmp(&ep->in6.sin6_addr, v6_loopback, 16);
}

/* "ADDR:PORT" or "[ADDR6]:PORT". */
static bool rl_parse_addr(const char *s, union wg_sockaddr *ep)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hl;
	long port;
	char *end;

	memset(ep, 0, sizeof(*ep));
	if (!colon || (hl = (size_t)(colon - s)) < 3 || hl >= sizeof(host))
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return false;
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		ep->in6.sin6_family = AF_INET6;
		ep->in6.sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &ep->in6.sin6_addr) == 1;
	}
	ep->in4.sin_family = AF_INET;
	ep->in4.sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &ep->in4.sin_addr) == 1;
}

static bool rl_parse(int argc, char **argv, struct rl_opts *o)
{
	static const char *const modes[] = { "--pairs", "--throughput", "--flood",
					     "--unregistered", "--bad-proof", "--replace" };
	int i;

	*o = (struct rl_opts){ .pairs = 200, .frames = 100, .rate = 50, .size = 1452,
			       .seconds = 5, .window = 1 << 20, .conns = 300 };
	for (i = 1; i < argc - 1; i++) {
		const char *a = argv[i], *v = argv[i + 1];
		bool mode = false;
		for (int m = 1; m < 6; m++)
			if (!strcmp(a, modes[m])) {
				o->mode = (enum rl_mode)m;
				mode = true;
			}
		if (mode)
			continue;
		if (!strcmp(a, "--register-over-relay")) {
			o->over_relay = true;
			continue;
		}
		if (!strcmp(a, "--bidir")) {
			o->bidir = true;
			continue;
		}
		if (!strcmp(a, "--tls")) {
			o->tls = true;
			continue;
		}
		if (!strcmp(a, "--pairs")) {
			o->mode = RL_PAIRS;
			o->pairs = strtol(v, NULL, 10);
		} else if (!strcmp(a, "--frames")) o->frames = strtol(v, NULL, 10);
		else if (!strcmp(a, "--rate")) o->rate = strtol(v, NULL, 10);
		else if (!strcmp(a, "--size")) o->size = strtol(v, NULL, 10);
		else if (!strcmp(a, "--seconds")) o->seconds = strtol(v, NULL, 10);
		else if (!strcmp(a, "--window")) o->window = strtol(v, NULL, 10);
		else if (!strcmp(a, "--conns")) o->conns = strtol(v, NULL, 10);
		else if (!strcmp(a, "--relay")) o->relay = v;
		else
			break;
		i++;
	}
	o->token = argv[i];
	return i == argc - 1 &&
	       o->pairs >= 1 && o->pairs <= RL_MAX_PAIRS &&
	       o->frames >= 1 && o->frames <= 1000000 &&
	       o->rate >= 1 && o->rate <= 100000 &&
	       o->size >= RL_HDR && o->size <= RELAY_MAX_PACKET &&
	       o->seconds >= 1 && o->seconds <= RL_MAX_SECONDS &&
	       o->window >= 65536 && o->window <= (1 << 21) &&
	       o->conns >= 1 && o->conns <= RL_MAX_CONNS;
}

static bool rl_setup(struct rl *l)
{
	struct token t;
	char err[256];
	bool ok;

	if (token_parse(l->o.token, strlen(l->o.token), &t, err, sizeof(err))) {
		fprintf(stderr, "relayload: %s\n", err);
		return false;
	}
	ok = ctlnode_loopback(&t, &l->server_ep, "relayload");
	memcpy(l->server_pub, t.server_pub, 32);
	memcpy(l->secret, t.secret, 32);
	token_wipe(&t);
	if (!ok)
		return false;
	l->relay_ep = l->server_ep;	/* TCP to the same host and port */
	if (l->o.relay && (!rl_parse_addr(l->o.relay, &l->relay_ep) ||
			   !rl_loopback(&l->relay_ep))) {
		fprintf(stderr, "relayload: --relay %s is not a loopback ADDR:PORT\n",
			l->o.relay);
		return false;
	}
	if (!crypto_random(&l->rng, sizeof(l->rng)) ||
	    !crypto_random(l->pat, sizeof(l->pat)))
		return false;
	l->rng |= 1;
	return (l->ep = epoll_create1(EPOLL_CLOEXEC)) >= 0;
}

int main(int argc, char **argv)
{
	static struct rl l;
	int rc = 1;

	if (argc < 2 || !rl_parse(argc, argv, &l.o)) {
		fprintf(stderr, "usage: relayload [--pairs N | --throughput [--bidir] | "
			"--flood | --unregistered | --bad-proof | --replace] [--frames F] "
			"[--rate R] [--size B] [--seconds S] [--window W] [--conns C] "
			"[--register-over-relay] [--relay ADDR:PORT] [--tls] TOKEN\n");
		return 2;
	}
	if (!crypto_init()) {
		fprintf(stderr, "relayload: crypto library did not initialise\n");
		return 1;
	}
	noise_init();
	signal(SIGPIPE, SIG_IGN);	/* a closed connection is a result, not a death */
	if (l.o.tls && !rl_tls_init()) {
		fprintf(stderr, "relayload: OpenSSL's TLS client did not initialise\n");
		return 1;
	}
	/* The hard cap: joining (60 s), the run, draining and a margin. */
	alarm((unsigned)(60 + l.o.seconds + l.o.frames / l.o.rate + 60));
	l.ep = -1;
	l.fixed_size = l.o.mode == RL_THROUGHPUT;
	if (rl_setup(&l)) {
		switch (l.o.mode) {
		case RL_PAIRS: rc = rl_pairs(&l); break;
		case RL_THROUGHPUT: rc = rl_throughput(&l); break;
		case RL_FLOOD: rc = rl_flood(&l); break;
		case RL_UNREGISTERED: rc = rl_unregistered(&l); break;
		case RL_BAD_PROOF: rc = rl_bad_proof(&l); break;
		case RL_REPLACE: rc = rl_replace(&l); break;
		}
	}
	fflush(stdout);
	for (uint32_t i = 0; i < l.n_nodes; i++)
		rl_node_free(&l.n[i]);
	free(l.n);
	crypto_wipe(l.secret, sizeof(l.secret));
	if (l.ep >= 0)
		close(l.ep);
	SSL_CTX_free(rl_tls);
	return rc;
}
