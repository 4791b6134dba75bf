/*
 * relayc — weftd's connection to the relay in weft-server (docs/relay.md;
 * the stream itself is src/lib/relay.c).
 *
 * One TCP connection to the server's endpoint (same host and port as the
 * control plane's UDP), opened as soon as the server's key is known and
 * kept: the opening proves both keys, then WireGuard packets travel as
 * frames.  A peer reached through the relay has the pseudo endpoint
 * relayc_endpoint(node id) (WG_AF_RELAY; node id 0 is the server itself,
 * for a control session that cannot use UDP); the agent's send hook hands
 * packets for such endpoints here, and frames that arrive go into the
 * engine from the sender's pseudo endpoint.
 *
 * Writes are gathered and leave once per loop iteration (relayc_flush,
 * from the agent's tick); the output is bounded and a full buffer drops
 * packets, as a congested link would.  PING every 25 s; 60 s of silence
 * or any error reconnects, with a backoff of 1 to 30 s.
 *
 * With --relay-tls PORT (WEFT_RELAY_TLS) the connection goes to that port
 * of the server's host and carries the same stream inside TLS, for
 * networks that pass nothing but HTTPS.  The handshake is the first step
 * of the opening (same deadline), driven by the same epoll events; reads
 * take whole TLS records, so OpenSSL never holds decrypted bytes that
 * epoll cannot announce.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "crypto.h"
#include "relay.h"
#include "weftd.h"

#define RC_IN_CAP   (256 * 1024)
#define RC_OUT_CAP  (4 * 1024 * 1024)
#define RC_PING     (25 * NSEC_PER_SEC)
#define RC_SILENCE  (60 * NSEC_PER_SEC)
#define RC_OPEN_TTL (5 * NSEC_PER_SEC)
#define RC_BACKOFF_MAX (30 * NSEC_PER_SEC)
#define RC_TLS_RECORD  16384	/* a TLS record's largest plaintext */

static uint64_t rc_now(const struct agent *a)
{
	return a->dp.dev->now;
}

union wg_sockaddr relayc_endpoint(uint64_t node_id)
{
	union wg_sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa.sa_family = WG_AF_RELAY;
	memcpy(&sa.in6.sin6_addr, &node_id, sizeof(node_id));
	return sa;
}

static uint64_t rc_node_id(const union wg_sockaddr *sa)
{
	uint64_t id;

	memcpy(&id, &sa->in6.sin6_addr, sizeof(id));
	return id;
}

bool relayc_ready(const struct agent *a)
{
	return a->relay.state == RC_READY;
}

static void rc_events(struct agent *a, bool out)
{
	struct relayc *r = &a->relay;
	struct epoll_event ev = { .data.u64 = EV_RELAY };

	out = out || r->tls_rd_out;
	ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
	if (r->want_out == out)
		return;
	r->want_out = out;
	epoll_ctl(a->dp.epoll_fd, EPOLL_CTL_MOD, r->fd, &ev);
}

static void rc_close(struct agent *a, const char *why)
{
	struct relayc *r = &a->relay;
	uint64_t now = rc_now(a);

	SSL_free(r->ssl);
	r->ssl = NULL;
	r->tls_open = r->tls_rd_out = false;
	if (r->fd >= 0) {
		epoll_ctl(a->dp.epoll_fd, EPOLL_CTL_DEL, r->fd, NULL);
		close(r->fd);
		if (r->state == RC_READY)
			dp_log(LOG_INFO, "relay connection lost: %s", why);
		else
			dp_log(LOG_VERBOSE, "relay: %s", why);
	}
	r->fd = -1;
	r->state = RC_IDLE;
	r->in_len = r->out_len = r->out_off = 0;
	crypto_wipe(r->k, sizeof(r->k));
	r->backoff = r->backoff ? r->backoff * 2 : NSEC_PER_SEC;
	if (r->backoff > RC_BACKOFF_MAX)
		r->backoff = RC_BACKOFF_MAX;
	r->next_try = now + r->backoff;
	agent_relay_changed(a, false);
}

void relayc_stop(struct agent *a)
{
	struct relayc *r = &a->relay;

	if (r->fd >= 0)
		rc_close(a, "stopped");
	r->next_try = 0;
	r->backoff = 0;
	r->enabled = false;
}

/* --- the stream: plain TCP or inside TLS --- */

/* The relay's TLS is camouflage, not security, so its certificate is not
 * verified (SSL_VERIFY_NONE; the server makes a fresh self-signed one at
 * every start).  What authenticates the relay is the opening inside TLS:
 * the CHALLENGE carries an HMAC under K = HASH(X25519(c, S)), which only
 * the holder of the server's private key (S is pinned by the join token)
 * can compute, and our PROOF shows the relay we hold c.  Whoever
 * terminates TLS in between sees that opening and WireGuard packets, and
 * can forge or read neither, exactly as on plain TCP. */
static struct ssl_ctx_st *rc_tls_ctx(struct relayc *r)
{
	SSL_CTX *ctx;

	if (r->tls_ctx)
		return r->tls_ctx;
	if (!(ctx = SSL_CTX_new(TLS_client_method())))
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);	/* as plain TCP's EOF */
	/* rc_append moves unsent bytes to the front of the buffer */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return r->tls_ctx = ctx;
}

/* SSL_read/SSL_write's failure as read(2)/write(2)'s: -1 with errno
 * EAGAIN while it waits for the socket, 0 at the end of the stream. */
static ssize_t rc_tls_fail(struct relayc *r, int ret, bool reading)
{
	switch (SSL_get_error(r->ssl, ret)) {
	case SSL_ERROR_WANT_WRITE:
		r->tls_rd_out = reading;
		/* fall through */
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		errno = EIO;
		return -1;
	}
}

/* read(2) of the stream; inside TLS whole records until less than one
 * fits (len is at least one: RC_IN_CAP less a partial frame). */
static ssize_t rc_io_read(struct relayc *r, uint8_t *buf, size_t len)
{
	size_t got = 0;
	ssize_t e;
	int n;

	if (!r->ssl)
		return read(r->fd, buf, len);
	r->tls_rd_out = false;
	do {
		ERR_clear_error();
		n = SSL_read(r->ssl, buf + got, len - got > INT_MAX ? INT_MAX : (int)(len - got));
		if (n <= 0) {
			e = rc_tls_fail(r, n, true);
			return got ? (ssize_t)got : e;
		}
		got += (size_t)n;
	} while (len - got >= RC_TLS_RECORD);
	return (ssize_t)got;
}

static ssize_t rc_io_write(struct relayc *r, const uint8_t *buf, size_t len)
{
	int n;

	if (!r->ssl)
		return write(r->fd, buf, len);
	ERR_clear_error();
	n = SSL_write(r->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	return n > 0 ? n : rc_tls_fail(r, n, false);
}

/* One step of the client's TLS handshake; true once it is done. */
static bool rc_tls_handshake(struct agent *a)
{
	struct relayc *r = &a->relay;
	int n, e;

	ERR_clear_error();
	if ((n = SSL_do_handshake(r->ssl)) == 1) {
		r->tls_open = true;
		return true;
	}
	e = SSL_get_error(r->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		rc_events(a, e == SSL_ERROR_WANT_WRITE);
	else
		rc_close(a, "TLS handshake with the relay failed");
	return false;
}

/* The server's address for the relay: its control endpoint, or with TLS
 * the same host on the TLS port. */
static union wg_sockaddr rc_relay_addr(const struct agent *a)
{
	union wg_sockaddr ep = a->server_ep;

	if (a->relay.tls_port && ep.sa.sa_family == AF_INET)
		ep.in4.sin_port = htons(a->relay.tls_port);
	else if (a->relay.tls_port)
		ep.in6.sin6_port = htons(a->relay.tls_port);
	return ep;
}

/* The TLS session for the new connection (a no-op without TLS). */
static bool rc_tls_new(struct relayc *r)
{
	SSL_CTX *ctx;

	if (!r->tls_port)
		return true;
	if (!(ctx = rc_tls_ctx(r)) || !(r->ssl = SSL_new(ctx)))
		return false;
	SSL_set_connect_state(r->ssl);
	return SSL_set_fd(r->ssl, r->fd) == 1;
}

static void rc_connect(struct agent *a)
{
	struct relayc *r = &a->relay;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u64 = EV_RELAY };
	int one = 1, big = 4 * 1024 * 1024;
	uint8_t hello[RELAY_HELLO_LEN], ss[32];
	union wg_sockaddr ep = rc_relay_addr(a);

	if (!r->in && !(r->in = malloc(RC_IN_CAP)))
		return;
	if (!r->out && !(r->out = malloc(RC_OUT_CAP)))
		return;
	r->fd = socket(a->server_ep.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		rc_close(a, "no socket");
		return;
	}
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (a->dp.fwmark)
		setsockopt(r->fd, SOL_SOCKET, SO_MARK, &a->dp.fwmark, sizeof(a->dp.fwmark));
	if (connect(r->fd, &ep.sa, wg_sockaddr_len(&ep)) && errno != EINPROGRESS) {
		rc_close(a, "connect failed");
		return;
	}
	if (!rc_tls_new(r)) {
		rc_close(a, "no TLS session");
		return;
	}
	r->want_out = true;
	epoll_ctl(a->dp.epoll_fd, EPOLL_CTL_ADD, r->fd, &ev);
	r->state = RC_CONNECTING;
	r->deadline = rc_now(a) + RC_OPEN_TTL;
	/* The HELLO waits in the output buffer for the connection. */
	crypto_random(r->nc, sizeof(r->nc));
	relay_hello(hello, a->dp.dev->local.public_key, r->nc);
	memcpy(r->out, hello, sizeof(hello));
	r->out_len = sizeof(hello);
	r->out_off = 0;
	if (!crypto_dh_pair(ss, a->dp.dev->local.private_key, a->dp.dev->local.public_key,
			    a->conf.server_pub)) {
		rc_close(a, "unusable server key");
		return;
	}
	relay_key(r->k, ss);
	crypto_wipe(ss, sizeof(ss));
}

void relayc_start(struct agent *a)
{
	a->relay.enabled = true;
	if (a->relay.fd < 0 && !a->relay.next_try)
		a->relay.next_try = rc_now(a);
	agent_soon(a);
}

void relayc_flush(struct agent *a)
{
	struct relayc *r = &a->relay;
	ssize_t n;

	if (r->fd < 0 || r->state == RC_CONNECTING || (r->ssl && !r->tls_open) ||
	    r->out_off == r->out_len)
		return;
	while (r->out_off < r->out_len) {
		n = rc_io_write(r, r->out + r->out_off, r->out_len - r->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			rc_close(a, "write failed");
			return;
		}
		r->out_off += (size_t)n;
	}
	if (r->out_off == r->out_len)
		r->out_off = r->out_len = 0;
	rc_events(a, r->out_off < r->out_len);
}

static bool rc_append(struct relayc *r, enum relay_type t, const uint8_t *key,
		      const uint8_t *pkt, size_t len)
{
	size_t body = key ? 32 + len : 0;

	if (body > RELAY_MAX_BODY)
		return false;
	if (r->out_off && r->out_len + RELAY_HDR_LEN + body > RC_OUT_CAP) {
		memmove(r->out, r->out + r->out_off, r->out_len - r->out_off);
		r->out_len -= r->out_off;
		r->out_off = 0;
	}
	if (r->out_len + RELAY_HDR_LEN + body > RC_OUT_CAP)
		return false;
	relay_header(r->out + r->out_len, t, body);
	if (key) {
		memcpy(r->out + r->out_len + RELAY_HDR_LEN, key, 32);
		memcpy(r->out + r->out_len + RELAY_HDR_LEN + 32, pkt, len);
	}
	r->out_len += RELAY_HDR_LEN + body;
	return true;
}

void relayc_measure(struct agent *a)
{
	struct relayc *r = &a->relay;

	r->rtt_ns = 0;
	if (r->state != RC_READY)
		return;
	r->ping_sent = rc_now(a);
	rc_append(r, RELAY_PING, NULL, NULL, 0);
}

void relayc_send(struct agent *a, const union wg_sockaddr *to, const uint8_t *pkt,
		 size_t len)
{
	struct relayc *r = &a->relay;
	uint64_t id = rc_node_id(to);
	const uint8_t *key = NULL;
	struct apeer *p;

	if (r->state != RC_READY) {
		r->dropped++;
		return;
	}
	if (!id)
		key = a->conf.server_pub;
	else if ((p = agent_peer_by_id(a, id)))
		key = p->pub;
	if (!key || !rc_append(r, RELAY_SEND, key, pkt, len)) {
		r->dropped++;
		return;
	}
	r->frames_tx++;
}

/* A frame from the relay: a packet into the engine from the sender's
 * pseudo endpoint. */
static _Alignas(16) uint8_t rc_pkt[RELAY_MAX_PACKET];

static void rc_frame(struct agent *a, enum relay_type t, const uint8_t *key,
		     const uint8_t *pkt, size_t len)
{
	struct relayc *r = &a->relay;
	union wg_sockaddr from;
	struct wg_peer *wp;
	uint64_t id = UINT64_MAX;	/* a stranger: not routable back */

	switch (t) {
	case RELAY_PING:
		rc_append(r, RELAY_PONG, NULL, NULL, 0);
		return;
	case RELAY_PONG:
		if (r->ping_sent) {
			clock_feed(a->dp.dev);
			r->rtt_ns = rc_now(a) - r->ping_sent;
			r->ping_sent = 0;
		}
		return;
	case RELAY_RECV:
		break;
	default:
		r->bad++;
		return;
	}
	r->frames_rx++;
	if (!memcmp(key, a->conf.server_pub, 32))
		id = 0;
	else if ((wp = wg_peer_find(a->dp.dev, key)) && wp->user)
		id = ((struct apeer *)wp->user)->node_id;
	from = relayc_endpoint(id);
	/* the engine wants an aligned buffer it may decrypt in place */
	memcpy(rc_pkt, pkt, len);
	wg_device_receive(a->dp.dev, &from, rc_pkt, len);
}

static void rc_opened(struct agent *a)
{
	struct relayc *r = &a->relay;
	uint8_t ns[RELAY_NONCE_LEN], proof[RELAY_PROOF_LEN];

	if (!relay_challenge_check(r->in, r->k, a->dp.dev->local.public_key, r->nc, ns)) {
		rc_close(a, "the relay did not prove the server's key");
		return;
	}
	relay_proof(proof, r->k, a->dp.dev->local.public_key, r->nc, ns);
	memmove(r->in, r->in + RELAY_CHALLENGE_LEN, r->in_len - RELAY_CHALLENGE_LEN);
	r->in_len -= RELAY_CHALLENGE_LEN;
	/* the proof goes first, ahead of anything queued */
	memcpy(r->out, proof, sizeof(proof));
	r->out_off = 0;
	r->out_len = sizeof(proof);
	r->state = RC_READY;
	r->backoff = 0;
	r->connects++;
	r->next_ping = rc_now(a) + RC_PING;
	dp_log(LOG_INFO, "relay connected");
	agent_relay_changed(a, true);
}

static void rc_read(struct agent *a)
{
	struct relayc *r = &a->relay;
	bool got = false;

	for (int rounds = 0; rounds < 16 && r->fd >= 0; rounds++) {
		ssize_t n = rc_io_read(r, r->in + r->in_len, RC_IN_CAP - r->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			rc_close(a, n ? "read failed" : "closed by the server");
			return;
		}
		r->in_len += (size_t)n;
		r->last_rx = rc_now(a);
		got = true;
		if (r->state == RC_OPENING) {
			if (r->in_len < RELAY_CHALLENGE_LEN)
				continue;
			rc_opened(a);
			if (r->fd < 0)
				return;
		}
		size_t off = 0;
		while (r->state == RC_READY) {
			enum relay_type t;
			const uint8_t *k, *p;
			size_t plen;
			long f = relay_frame(r->in + off, r->in_len - off, &t, &k, &p, &plen);
			if (f < 0) {
				rc_close(a, "broken stream from the relay");
				return;
			}
			if (!f)
				break;
			rc_frame(a, t, k, p, plen);
			if (r->fd < 0)
				return;
			off += (size_t)f;
		}
		if (off) {
			memmove(r->in, r->in + off, r->in_len - off);
			r->in_len -= off;
		}
	}
	if (got)
		gro_flush(&a->dp.gro);
}

void relayc_event(struct agent *a)
{
	struct relayc *r = &a->relay;

	clock_feed(a->dp.dev);
	if (r->fd < 0)
		return;
	if (r->state == RC_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &l) || err) {
			rc_close(a, "cannot connect");
			return;
		}
		struct sockaddr_storage peer;
		l = sizeof(peer);
		if (getpeername(r->fd, (struct sockaddr *)&peer, &l))
			return;		/* not connected yet */
		r->state = RC_OPENING;
	}
	if (r->ssl && !r->tls_open && !rc_tls_handshake(a))
		return;
	relayc_flush(a);
	if (r->fd >= 0)
		rc_read(a);
	relayc_flush(a);
}

uint64_t relayc_tick(struct agent *a, uint64_t now)
{
	struct relayc *r = &a->relay;

	if (!r->enabled)
		return 0;
	if (r->fd < 0) {
		if (now >= r->next_try)
			rc_connect(a);
		return r->fd < 0 ? r->next_try : r->deadline;
	}
	if (r->state != RC_READY) {
		if (now >= r->deadline)
			rc_close(a, "the relay did not answer in time");
		return r->fd < 0 ? r->next_try : r->deadline;
	}
	if (now - r->last_rx >= RC_SILENCE) {
		rc_close(a, "the relay went silent");
		return r->next_try;
	}
	if (now >= r->next_ping) {
		rc_append(r, RELAY_PING, NULL, NULL, 0);
		r->next_ping = now + RC_PING;
		relayc_flush(a);
	}
	return r->next_ping;
}
