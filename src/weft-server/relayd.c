/*
 * relayd — see relayd.h; the stream is src/lib/relay.h, the rules
 * docs/relay.md.
 *
 * A connection lives in one slot of a fixed table (its epoll id) and goes
 * HELLO -> PROOF -> OPEN, or DEAD.  Closing is deferred: a connection
 * that fails while frames are being handled (a write error inside a
 * control-plane hook, a broken stream) is only marked DEAD and taken off
 * every index; its slot, descriptor and buffers are released once the
 * event is done (relayd_reap), so no pointer in use ever dangles.
 *
 * Deadlines need no scan: connections in the opening are kept in accept
 * order and open ones in order of their last input (moved to the tail on
 * each read), so both lists are sorted by deadline and the tick only
 * looks at their heads.
 *
 * The data path: one read of up to RELAYD_READ bytes into a shared
 * buffer (after the previous read's incomplete frame), every complete
 * frame handled in place, each forwarded one copied once into the
 * destination's output queue, and the queues written once per event
 * (and on EPOLLOUT).  No allocation per frame: queues grow by doubling up
 * to RELAYD_OUT_MAX and shrink when drained.
 *
 * TLS (relayd_listen_tls): a second listener whose connections carry the
 * same stream inside TLS, with a certificate made in memory at start.  A
 * connection then has an SSL object and every read and write goes through
 * relayd_io_read / relayd_io_write; the handshake is the first step of
 * the opening (same deadline, same limit on connections in the opening,
 * charged to the same rate as a HELLO).  The certificate proves nothing
 * and nobody checks it: the opening inside proves both static keys, and
 * TLS is only there to look like HTTPS to a firewall that passes nothing
 * else.  OpenSSL may hold decrypted bytes that epoll cannot see, so reads
 * inside TLS take whole records only (at least RELAYD_TLS_RECORD bytes of
 * room) and the opening drains SSL_pending before it waits again.
 */
#include "relayd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "clock.h"
#include "crypto.h"
#include "log.h"
#include "relay.h"
#include "uapi.h"
#include "wire.h"

#define RELAYD_LISTENER		UINT32_MAX	/* the listening socket's id */
#define RELAYD_LISTENER_TLS	(UINT32_MAX - 1)	/* the TLS listener's */
#define RELAYD_TLS_RECORD	16384		/* a TLS record's largest plaintext */
#define RELAYD_CERT_LIFE_S	(24 * 3600)	/* nobody checks it: see the top */
#define RELAYD_READ		(256u << 10)	/* one read() */
#define RELAYD_FRAME_MAX	(RELAY_HDR_LEN + RELAY_MAX_BODY)
#define RELAYD_READS		4		/* reads per event, at most */
#define RELAYD_ACCEPTS		64		/* accepts per event, at most */
#define RELAYD_OUT_MIN		(64u << 10)
#define RELAYD_OUT_KEEP		(512u << 10)	/* a drained queue shrinks to it */
#define RELAYD_PART_MIN		2048
#define RELAYD_SOCKBUF		(2 << 20)
#define RELAYD_KEY_BUCKETS	16384
#define RELAYD_LOG_PER_S	20		/* connect/disconnect lines */
#define RELAYD_KNOWN_RECHECK	NSEC_PER_SEC

enum rstate { RS_HELLO, RS_PROOF, RS_OPEN, RS_DEAD };

/* An intrusive doubly linked list: O(1) removal from any position. */
struct rlink {
	struct rlink *prev, *next;
};

struct rconn {
	int fd;
	SSL *ssl;			/* NULL: plain TCP */
	bool tls_open;			/* the TLS handshake is done */
	bool tls_charged;		/* the handshake counted against the DH rate */
	bool tls_rd_out;		/* SSL_read waits for the socket to be writable */
	bool tls_wr_in;			/* SSL_write waits for it to be readable */
	uint32_t slot;
	uint64_t serial;		/* unique: a pseudo endpoint outliving its
					 * connection matches no later one */
	enum rstate state;
	bool want_out;			/* EPOLLOUT armed */
	bool known;			/* cached hooks.known */
	uint64_t known_at;		/* monotonic ns of that answer, 0 never */
	uint64_t since;			/* accept time (opening), last input (open) */
	uint64_t opened;		/* monotonic ns of the PROOF */
	struct rlink timer;		/* r->opening or r->idle */
	struct rlink dirty;		/* r->dirty: output not written yet */
	struct rlink dead;		/* r->dead: to be released */
	struct rconn *next_key;		/* r->by_key chain (open only) */
	uint8_t pub[32];
	/* the opening */
	uint8_t k[32], nc[RELAY_NONCE_LEN], ns[RELAY_NONCE_LEN];
	uint8_t hs[RELAY_HELLO_LEN];
	size_t hs_len;
	/* the incomplete frame a read ended in */
	uint8_t *part;
	size_t part_len, part_cap;
	/* output: out[head, head + len) waits for the socket */
	uint8_t *out;
	size_t out_head, out_len, out_cap;
	uint64_t frames_in, frames_out;
	char addr[INET6_ADDRSTRLEN + 8];
};

struct relayd {
	int lfd, tls_lfd, epfd, spare_fd;
	SSL_CTX *tls;			/* NULL: no TLS listener */
	char tls_listen[64];
	uint32_t tag;
	struct relayd_hooks hooks;
	uint8_t priv[32], pub[32];
	char listen[64];
	struct rconn *slots[RELAYD_MAX_CONNS];
	uint32_t free_slots[RELAYD_MAX_CONNS];
	size_t n_free;
	uint64_t serial;
	struct rconn *by_key[RELAYD_KEY_BUCKETS];
	struct rlink opening, idle, dirty, dead;
	size_t mem;			/* bytes of every connection's buffers */
	uint64_t now;			/* monotonic ns, read once per event */
	uint64_t dh_window;
	unsigned dh_count;
	uint64_t log_window;
	unsigned log_count, log_held;
	int busy;			/* handling frames: no reaping */
	struct relayd_stats stats;
	_Alignas(16) uint8_t rbuf[RELAYD_FRAME_MAX + RELAYD_READ];
};

/* --- lists --- */

static void rlink_init(struct rlink *h)
{
	h->prev = h->next = h;
}

static bool rlink_linked(const struct rlink *l)
{
	return l->next != NULL;
}

static void rlink_del(struct rlink *l)
{
	if (!rlink_linked(l))
		return;
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

static void rlink_add_tail(struct rlink *h, struct rlink *l)
{
	rlink_del(l);
	l->prev = h->prev;
	l->next = h;
	h->prev->next = l;
	h->prev = l;
}

#define rconn_of(ptr, member) \
	((struct rconn *)((char *)(ptr) - offsetof(struct rconn, member)))

/* --- logging, rate limited --- */

static bool relayd_log_ok(struct relayd *r)
{
	if (r->now - r->log_window >= NSEC_PER_SEC) {
		r->log_window = r->now;
		r->log_count = 0;
	}
	if (r->log_count < RELAYD_LOG_PER_S) {
		r->log_count++;
		return true;
	}
	r->log_held++;
	return false;
}

/* --- the pseudo endpoint: slot (4 bytes) and serial (8) --- */

static union wg_sockaddr relayd_endpoint(const struct rconn *c)
{
	union wg_sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa.sa_family = WG_AF_RELAY;
	memcpy(sa.in6.sin6_addr.s6_addr, &c->slot, 4);
	memcpy(sa.in6.sin6_addr.s6_addr + 4, &c->serial, 8);
	return sa;
}

static struct rconn *relayd_conn_of(struct relayd *r, const union wg_sockaddr *sa)
{
	uint32_t slot;
	uint64_t serial;
	struct rconn *c;

	if (!wg_sockaddr_is_relay(sa))
		return NULL;
	memcpy(&slot, sa->in6.sin6_addr.s6_addr, 4);
	memcpy(&serial, sa->in6.sin6_addr.s6_addr + 4, 8);
	if (slot >= RELAYD_MAX_CONNS || !(c = r->slots[slot]) ||
	    c->serial != serial || c->state != RS_OPEN)
		return NULL;
	return c;
}

/* --- open connections by key --- */

static size_t relayd_hkey(const uint8_t pub[32])
{
	uint32_t h;

	memcpy(&h, pub, 4);	/* public keys are uniformly random */
	return h % RELAYD_KEY_BUCKETS;
}

static struct rconn *relayd_by_key(struct relayd *r, const uint8_t pub[32])
{
	struct rconn *c = r->by_key[relayd_hkey(pub)];

	while (c && memcmp(c->pub, pub, 32))
		c = c->next_key;
	return c;
}

static void relayd_key_del(struct relayd *r, struct rconn *c)
{
	struct rconn **pp = &r->by_key[relayd_hkey(c->pub)];

	while (*pp && *pp != c)
		pp = &(*pp)->next_key;
	if (*pp)
		*pp = c->next_key;
	c->next_key = NULL;
}

/* --- the stream: plain TCP or inside TLS --- */

/* OpenSSL's answer to a failed call as -errno: -EAGAIN when it waits for
 * the socket (noting which way), -EPIPE at the peer's close_notify, -EIO
 * otherwise. */
static int relayd_tls_error(struct rconn *c, int ret, bool reading)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		if (!reading)
			c->tls_wr_in = true;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		if (reading)
			c->tls_rd_out = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return -EPIPE;
	default:
		return -EIO;
	}
}

/* Inside TLS: one SSL_read when len is small (the opening's messages),
 * else whole records until len - got is less than one, so that nothing
 * decrypted stays behind in OpenSSL where epoll cannot see it. */
static ssize_t relayd_tls_read(struct rconn *c, uint8_t *buf, size_t len)
{
	size_t got = 0;
	int n, e;

	c->tls_rd_out = false;
	do {
		size_t want = len - got > INT_MAX ? INT_MAX : len - got;
		ERR_clear_error();
		if ((n = SSL_read(c->ssl, buf + got, (int)want)) > 0)
			got += (size_t)n;
		else if ((e = relayd_tls_error(c, n, true)) != -EAGAIN || !got)
			return got ? (ssize_t)got : e == -EPIPE ? 0 : e;
		else
			break;
	} while (len - got >= RELAYD_TLS_RECORD);
	return (ssize_t)got;
}

/* One read: > 0 bytes, 0 at the end of the stream, or -errno (-EAGAIN:
 * nothing now). */
static ssize_t relayd_io_read(struct rconn *c, uint8_t *buf, size_t len)
{
	ssize_t n;

	if (c->ssl)
		return relayd_tls_read(c, buf, len);
	n = read(c->fd, buf, len);
	return n < 0 ? -errno : n;
}

/* One write: > 0 bytes taken, or -errno (-EAGAIN: the socket is full).
 * Inside TLS the connection's SSL is in partial-write mode and accepts a
 * moved buffer: a queue that was compacted or grew is retried as is. */
static ssize_t relayd_io_write(struct rconn *c, const uint8_t *buf, size_t len)
{
	ssize_t n;
	int w;

	if (!c->ssl) {
		n = write(c->fd, buf, len);
		return n < 0 ? -errno : n ? n : -EIO;
	}
	c->tls_wr_in = false;
	ERR_clear_error();
	w = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	return w > 0 ? w : relayd_tls_error(c, w, false);
}

/* --- closing --- */

/* Marks c DEAD and takes it off every index; relayd_reap releases it. */
static void relayd_kill(struct relayd *r, struct rconn *c, const char *why)
{
	char key[45];

	if (c->state == RS_DEAD)
		return;
	if (c->state == RS_OPEN) {
		relayd_key_del(r, c);
		r->stats.open--;
		r->stats.closed++;
		if (relayd_log_ok(r)) {
			key_to_base64(key, c->pub);
			log_info("relay: node %s disconnected (%s) after %llu s, "
				 "%llu frames in, %llu out", key, why,
				 (unsigned long long)((r->now - c->opened) / NSEC_PER_SEC),
				 (unsigned long long)c->frames_in,
				 (unsigned long long)c->frames_out);
		}
	} else {
		r->stats.opening--;
	}
	crypto_wipe(c->k, sizeof(c->k));
	c->state = RS_DEAD;
	rlink_del(&c->timer);
	rlink_del(&c->dirty);
	rlink_add_tail(&r->dead, &c->dead);
}

static void relayd_free_buf(struct relayd *r, uint8_t **buf, size_t *cap)
{
	free(*buf);
	r->mem -= *cap;
	*buf = NULL;
	*cap = 0;
}

static void relayd_release(struct relayd *r, struct rconn *c)
{
	SSL_free(c->ssl);	/* NULL ok; no close_notify: we are not polite to failures */
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	relayd_free_buf(r, &c->part, &c->part_cap);
	relayd_free_buf(r, &c->out, &c->out_cap);
	r->slots[c->slot] = NULL;
	r->free_slots[r->n_free++] = c->slot;
	crypto_wipe(c, sizeof(*c));
	free(c);
}

static void relayd_reap(struct relayd *r)
{
	if (r->busy)
		return;
	while (r->dead.next != &r->dead) {
		struct rconn *c = rconn_of(r->dead.next, dead);
		rlink_del(&c->dead);
		relayd_release(r, c);
	}
}

/* --- output --- */

static void relayd_want_out(struct relayd *r, struct rconn *c, bool out)
{
	struct epoll_event ev = {
		.events = EPOLLIN | (out ? EPOLLOUT : 0),
		.data.u64 = (uint64_t)r->tag << 32 | c->slot,
	};

	if (c->want_out == out)
		return;
	c->want_out = out;
	epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* EPOLLOUT when output waits, unless TLS waits to read first; or when
 * TLS must write before it can read. */
static void relayd_want_out_update(struct relayd *r, struct rconn *c)
{
	relayd_want_out(r, c, (c->out_len && !c->tls_wr_in) || c->tls_rd_out);
}

/* Resizes a buffer within the memory budget; false when it would not fit. */
static bool relayd_resize(struct relayd *r, uint8_t **buf, size_t *cap, size_t want)
{
	uint8_t *p;

	if (want > *cap && r->mem + (want - *cap) > RELAYD_MEM_MAX)
		return false;
	if (!(p = realloc(*buf, want)))
		return false;
	r->mem = r->mem - *cap + want;
	*buf = p;
	*cap = want;
	return true;
}

/* Makes room for need more bytes at the end of c's queue; counts and
 * returns false when the queue or the budget is full. */
static bool relayd_room(struct relayd *r, struct rconn *c, size_t need)
{
	size_t cap = c->out_cap ? c->out_cap : RELAYD_OUT_MIN;

	if (c->out_len + need > RELAYD_OUT_MAX) {
		r->stats.drop_queue_full++;
		return false;
	}
	if (c->out_head + c->out_len + need <= c->out_cap)
		return true;
	if (c->out_head) {
		memmove(c->out, c->out + c->out_head, c->out_len);
		c->out_head = 0;
		if (c->out_len + need <= c->out_cap)
			return true;
	}
	while (cap < c->out_len + need)
		cap *= 2;
	if (cap > RELAYD_OUT_MAX)
		cap = RELAYD_OUT_MAX;
	if (!relayd_resize(r, &c->out, &c->out_cap, cap)) {
		r->stats.drop_memory++;
		return false;
	}
	return true;
}

/* Queues one frame (key may be NULL for PONG) on c. */
static bool relayd_queue(struct relayd *r, struct rconn *c, enum relay_type t,
			 const uint8_t *key, const uint8_t *pkt, size_t len)
{
	size_t body = (key ? 32 : 0) + len;
	uint8_t *p;

	if (!relayd_room(r, c, RELAY_HDR_LEN + body))
		return false;
	p = c->out + c->out_head + c->out_len;
	relay_header(p, t, body);
	if (key) {
		memcpy(p + RELAY_HDR_LEN, key, 32);
		memcpy(p + RELAY_HDR_LEN + 32, pkt, len);
	}
	c->out_len += RELAY_HDR_LEN + body;
	c->frames_out++;
	if (!rlink_linked(&c->dirty))
		rlink_add_tail(&r->dirty, &c->dirty);
	return true;
}

/* Writes what c's socket takes; a drained queue gives back its memory. */
static void relayd_write(struct relayd *r, struct rconn *c)
{
	while (c->out_len) {
		ssize_t n = relayd_io_write(c, c->out + c->out_head, c->out_len);
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			break;
		if (n <= 0) {
			relayd_kill(r, c, "write failed");
			return;
		}
		c->out_head += (size_t)n;
		c->out_len -= (size_t)n;
	}
	if (!c->out_len) {
		c->out_head = 0;
		if (c->out_cap > RELAYD_OUT_KEEP)
			relayd_resize(r, &c->out, &c->out_cap, RELAYD_OUT_KEEP);
	}
	relayd_want_out_update(r, c);
}

void relayd_flush(struct relayd *r)
{
	while (r->dirty.next != &r->dirty) {
		struct rconn *c = rconn_of(r->dirty.next, dirty);
		rlink_del(&c->dirty);
		if (c->state == RS_OPEN)
			relayd_write(r, c);
	}
	relayd_reap(r);
}

/* --- forwarding --- */

/* Whether c may send to other keys than the server's: asked of the
 * control plane at most once a second. */
static bool relayd_known(struct relayd *r, struct rconn *c)
{
	if (!c->known_at || r->now - c->known_at >= RELAYD_KNOWN_RECHECK) {
		c->known = r->hooks.known(r->hooks.ctx, c->pub);
		c->known_at = r->now;
	}
	return c->known;
}

static void relayd_forward(struct relayd *r, struct rconn *c, const uint8_t dst[32],
			   const uint8_t *pkt, size_t len)
{
	struct rconn *d;

	if (!memcmp(dst, r->pub, 32)) {
		union wg_sockaddr from = relayd_endpoint(c);
		r->stats.to_server++;
		r->hooks.to_server(r->hooks.ctx, &from, pkt, len);
		return;
	}
	if (!relayd_known(r, c)) {
		r->stats.drop_not_node++;
		return;
	}
	if (!(d = relayd_by_key(r, dst))) {
		r->stats.drop_no_peer++;
		return;
	}
	if (relayd_queue(r, d, RELAY_RECV, c->pub, pkt, len)) {
		r->stats.frames++;
		r->stats.bytes += len;
	}
}

/* Handles every complete frame of buf; returns the bytes used.  A broken
 * stream (or a RECV, which only the relay sends) closes c. */
static size_t relayd_frames(struct relayd *r, struct rconn *c, const uint8_t *buf,
			    size_t len)
{
	size_t off = 0;

	while (off < len && c->state == RS_OPEN) {
		enum relay_type t;
		const uint8_t *key, *pkt;
		size_t plen;
		long n = relay_frame(buf + off, len - off, &t, &key, &pkt, &plen);
		if (n == 0)
			break;
		if (n < 0 || t == RELAY_RECV) {
			r->stats.broken_streams++;
			relayd_kill(r, c, "broken stream");
			break;
		}
		c->frames_in++;
		if (t == RELAY_SEND) {
			relayd_forward(r, c, key, pkt, plen);
		} else if (t == RELAY_PING) {
			r->stats.pings++;
			relayd_queue(r, c, RELAY_PONG, NULL, NULL, 0);
		}
		off += (size_t)n;
	}
	return off;
}

/* Keeps the incomplete frame at the end of a read for the next one. */
static bool relayd_keep_part(struct relayd *r, struct rconn *c, const uint8_t *p,
			     size_t n)
{
	size_t cap = RELAYD_PART_MIN;

	c->part_len = 0;
	if (!n)
		return true;
	while (cap < n)
		cap *= 2;
	if (cap > c->part_cap && !relayd_resize(r, &c->part, &c->part_cap, cap)) {
		r->stats.drop_memory++;
		relayd_kill(r, c, "out of buffer memory");
		return false;
	}
	memcpy(c->part, p, n);
	c->part_len = n;
	return true;
}

static void relayd_read_open(struct relayd *r, struct rconn *c)
{
	for (int round = 0; round < RELAYD_READS && c->state == RS_OPEN; round++) {
		size_t have = c->part_len, used;
		ssize_t n;

		if (have)
			memcpy(r->rbuf, c->part, have);
		n = relayd_io_read(c, r->rbuf + have, RELAYD_READ);
		if (c->tls_rd_out)
			relayd_want_out_update(r, c);
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return;
		if (n <= 0) {
			relayd_kill(r, c, n ? "read failed" : have ?
				    "closed in a frame" : "closed");
			return;
		}
		c->since = r->now;
		rlink_add_tail(&r->idle, &c->timer);
		used = relayd_frames(r, c, r->rbuf, have + (size_t)n);
		if (c->state != RS_OPEN ||
		    !relayd_keep_part(r, c, r->rbuf + used, have + (size_t)n - used))
			return;
		/* What this read forwarded leaves now: queues stay near one
		 * read's worth, and the receiver starts on it sooner. */
		relayd_flush(r);
		/* Short: the socket is drained.  Inside TLS a read also stops
		 * with less than a record of room left. */
		if ((size_t)n < RELAYD_READ - (c->ssl ? RELAYD_TLS_RECORD : 0))
			return;
	}
}

/* --- the opening --- */

static bool relayd_dh_allowed(struct relayd *r)
{
	if (r->now - r->dh_window >= NSEC_PER_SEC) {
		r->dh_window = r->now;
		r->dh_count = 0;
	}
	return ++r->dh_count <= RELAYD_DH_PER_S;
}

/* HELLO: K from X25519(s, C), and the CHALLENGE with our proof. */
static void relayd_hello(struct relayd *r, struct rconn *c)
{
	uint8_t ss[32], chal[RELAY_CHALLENGE_LEN];

	if (!relay_hello_parse(c->hs, c->pub, c->nc)) {
		r->stats.bad_hello++;
		relayd_kill(r, c, "bad hello");
		goto out;
	}
	if (!relayd_dh_allowed(r)) {
		r->stats.refused_dh_rate++;
		relayd_kill(r, c, "opening rate");
		goto out;
	}
	/* ss = DH(S_priv, C_pub): a small-order key fails here */
	if (!crypto_dh_pair(ss, r->priv, r->pub, c->pub) ||
	    !crypto_random(c->ns, sizeof(c->ns))) {
		r->stats.bad_hello++;
		relayd_kill(r, c, "bad key");
		goto out;
	}
	relay_key(c->k, ss);
	relay_challenge(chal, c->k, c->pub, c->nc, c->ns);
	/* A fresh socket's buffer takes 56 bytes (one TLS record) whole. */
	if (relayd_io_write(c, chal, sizeof(chal)) != (ssize_t)sizeof(chal)) {
		relayd_kill(r, c, "write failed");
		goto out;
	}
	c->state = RS_PROOF;
out:
	crypto_wipe(ss, sizeof(ss));
}

/* The client proved its key: it is open, and the only one with it. */
static void relayd_authenticated(struct relayd *r, struct rconn *c)
{
	struct rconn *old = relayd_by_key(r, c->pub);
	size_t h = relayd_hkey(c->pub);
	char key[45];

	if (old) {
		r->stats.replaced++;
		relayd_kill(r, old, "replaced by a new connection");
	}
	r->stats.opening--;
	r->stats.open++;
	r->stats.authenticated++;
	c->state = RS_OPEN;
	c->opened = c->since = r->now;
	rlink_add_tail(&r->idle, &c->timer);
	c->next_key = r->by_key[h];
	r->by_key[h] = c;
	if (relayd_log_ok(r)) {
		key_to_base64(key, c->pub);
		log_info("relay: node %s connected from %s", key, c->addr);
	}
}

static void relayd_proof(struct relayd *r, struct rconn *c)
{
	bool ok = relay_proof_check(c->hs, c->k, c->pub, c->nc, c->ns);

	crypto_wipe(c->k, sizeof(c->k));
	if (!ok) {
		r->stats.bad_proof++;
		relayd_kill(r, c, "bad proof");
		return;
	}
	relayd_authenticated(r, c);
}

/* Reads HELLO, then PROOF, exactly: frames may follow the PROOF. */
static void relayd_opening_step(struct relayd *r, struct rconn *c)
{
	size_t want = c->state == RS_HELLO ? RELAY_HELLO_LEN : RELAY_PROOF_LEN;
	ssize_t n = relayd_io_read(c, c->hs + c->hs_len, want - c->hs_len);

	if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
		return;
	if (n <= 0) {
		r->stats.open_abandoned++;
		relayd_kill(r, c, "closed in the opening");
		return;
	}
	c->hs_len += (size_t)n;
	if (c->hs_len < want)
		return;
	c->hs_len = 0;
	if (c->state == RS_HELLO) {
		relayd_hello(r, c);
	} else {
		relayd_proof(r, c);
		if (c->state == RS_OPEN)
			relayd_read_open(r, c);
	}
}

/* The TLS handshake, over as many events as it takes.  It costs an ECDHE
 * and a signature, so its first step is charged to the DH rate like a
 * HELLO; it runs inside the opening's deadline and limit. */
static bool relayd_tls_handshake(struct relayd *r, struct rconn *c)
{
	int n;

	if (!c->tls_charged) {
		c->tls_charged = true;
		if (!relayd_dh_allowed(r)) {
			r->stats.refused_dh_rate++;
			relayd_kill(r, c, "opening rate");
			return false;
		}
	}
	c->tls_rd_out = c->tls_wr_in = false;
	ERR_clear_error();
	if ((n = SSL_do_handshake(c->ssl)) == 1) {
		c->tls_open = true;
		r->stats.tls_handshakes++;
		relayd_want_out(r, c, false);
		return true;
	}
	if (relayd_tls_error(c, n, true) == -EAGAIN) {
		relayd_want_out(r, c, c->tls_rd_out);
		c->tls_rd_out = false;
		return false;
	}
	r->stats.bad_tls++;
	relayd_kill(r, c, "TLS handshake failed");
	return false;
}

static void relayd_read_opening(struct relayd *r, struct rconn *c)
{
	if (c->ssl && !c->tls_open && !relayd_tls_handshake(r, c))
		return;
	/* A TLS record may hold more than the message just read, and what
	 * OpenSSL has decrypted raises no epoll event. */
	do
		relayd_opening_step(r, c);
	while (c->ssl && (c->state == RS_HELLO || c->state == RS_PROOF) &&
	       SSL_pending(c->ssl) > 0);
}

/* --- accepting --- */

static void relayd_addr_text(const union wg_sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &sa->in4.sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, ntohs(sa->in4.sin_port));
	} else {
		inet_ntop(AF_INET6, &sa->in6.sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, ntohs(sa->in6.sin6_port));
	}
}

/* The server's side of TLS on fd, not started yet; NULL on failure. */
static SSL *relayd_tls_new(struct relayd *r, int fd)
{
	SSL *ssl = SSL_new(r->tls);

	if (ssl && !SSL_set_fd(ssl, fd)) {
		SSL_free(ssl);
		return NULL;
	}
	if (ssl)
		SSL_set_accept_state(ssl);
	return ssl;
}

static void relayd_conn_new(struct relayd *r, int fd, const union wg_sockaddr *sa,
			    bool tls)
{
	struct rconn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!c || (tls && !(c->ssl = relayd_tls_new(r, fd)))) {
		free(c);
		close(fd);
		return;
	}
	c->fd = fd;
	c->slot = r->free_slots[--r->n_free];
	c->serial = ++r->serial;
	c->since = r->now;
	relayd_addr_text(sa, c->addr, sizeof(c->addr));
	ev.data.u64 = (uint64_t)r->tag << 32 | c->slot;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		r->free_slots[r->n_free++] = c->slot;
		SSL_free(c->ssl);
		close(fd);
		free(c);
		return;
	}
	r->slots[c->slot] = c;
	rlink_add_tail(&r->opening, &c->timer);
	r->stats.opening++;
	r->stats.accepted++;
	r->stats.tls_accepted += tls;
}

/* Out of descriptors: the spare one lets us accept and close the
 * connection, so that the listener does not stay readable forever. */
static void relayd_shed(struct relayd *r, int lfd)
{
	int fd;

	if (r->spare_fd < 0)
		return;
	close(r->spare_fd);
	if ((fd = accept(lfd, NULL, NULL)) >= 0)
		close(fd);
	r->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	r->stats.refused_full++;
}

static void relayd_accept(struct relayd *r, bool tls)
{
	int lfd = tls ? r->tls_lfd : r->lfd;

	for (int i = 0; i < RELAYD_ACCEPTS; i++) {
		union wg_sockaddr sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(lfd, &sa.sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				relayd_shed(r, lfd);
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		/* A full opening evicts its oldest connection: a client
		 * that follows the protocol finishes in one round trip, so
		 * connections that hold their slot (slowloris) cannot keep
		 * new clients out. */
		if (r->stats.opening >= RELAYD_MAX_OPENING) {
			r->stats.opening_evicted++;
			relayd_kill(r, rconn_of(r->opening.next, timer), "evicted");
			relayd_reap(r);
		}
		if (!r->n_free) {
			r->stats.refused_full++;
			close(fd);
		} else {
			relayd_conn_new(r, fd, &sa, tls);
		}
	}
}

/* --- the public side --- */

void relayd_event(struct relayd *r, uint32_t id, uint32_t events)
{
	struct rconn *c;

	bool in = events & (EPOLLIN | EPOLLHUP | EPOLLERR), out = events & EPOLLOUT;

	r->now = clock_mono_ns();
	if (id == RELAYD_LISTENER || id == RELAYD_LISTENER_TLS) {
		relayd_accept(r, id == RELAYD_LISTENER_TLS);
		return;
	}
	if (id >= RELAYD_MAX_CONNS || !(c = r->slots[id]) || c->state == RS_DEAD)
		return;
	r->busy++;
	/* Inside TLS a write may wait for input and a read for output. */
	if (c->state == RS_OPEN && (out || (in && c->tls_wr_in)))
		relayd_write(r, c);
	if (c->state == RS_OPEN && (in || (out && c->tls_rd_out)))
		relayd_read_open(r, c);
	else if (c->state != RS_OPEN && c->state != RS_DEAD && (in || out))
		relayd_read_opening(r, c);
	r->busy--;
	relayd_flush(r);
}

void relayd_send(struct relayd *r, const union wg_sockaddr *to,
		 const uint8_t *pkt, size_t len)
{
	struct rconn *c = relayd_conn_of(r, to);

	if (!c || len > RELAY_MAX_PACKET) {
		r->stats.drop_gone++;
		return;
	}
	if (relayd_queue(r, c, RELAY_RECV, r->pub, pkt, len))
		r->stats.from_server++;
}

void relayd_tick(struct relayd *r)
{
	uint64_t open_ttl = RELAYD_OPEN_TTL_S * NSEC_PER_SEC;
	uint64_t idle_ttl = RELAYD_IDLE_TTL_S * NSEC_PER_SEC;

	r->now = clock_mono_ns();
	while (r->opening.next != &r->opening) {
		struct rconn *c = rconn_of(r->opening.next, timer);
		if (r->now - c->since < open_ttl)
			break;
		r->stats.open_timeouts++;
		relayd_kill(r, c, "opening timed out");
	}
	while (r->idle.next != &r->idle) {
		struct rconn *c = rconn_of(r->idle.next, timer);
		if (r->now - c->since < idle_ttl)
			break;
		r->stats.idle_timeouts++;
		relayd_kill(r, c, "idle timeout");
	}
	relayd_reap(r);
	if (r->log_held) {
		log_info("relay: %u more connects and disconnects not logged",
			 r->log_held);
		r->log_held = 0;
	}
}

/* "ADDR:PORT" or "[ADDR6]:PORT", numeric. */
static bool relayd_parse(const char *s, union wg_sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	size_t hl;
	char *end;
	long port;

	memset(sa, 0, sizeof(*sa));
	if (!colon || (hl = (size_t)(colon - s)) >= sizeof(host) || !hl)
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || port < 1 || port > 65535)
		return false;
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &sa->in6.sin6_addr) == 1;
	}
	sa->in4.sin_family = AF_INET;
	sa->in4.sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->in4.sin_addr) == 1;
}

/* Enough descriptors for every connection, when the hard limit allows. */
static void relayd_nofile(void)
{
	struct rlimit rl;
	rlim_t want = RELAYD_MAX_CONNS + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* A listening socket on addr in the epoll set as id, in *lfd. */
static int relayd_listen(struct relayd *r, const char *addr, int *lfd, uint32_t id,
			 char *err, size_t errlen)
{
	union wg_sockaddr sa;
	struct epoll_event ev = {
		.events = EPOLLIN, .data.u64 = (uint64_t)r->tag << 32 | id,
	};
	int buf = RELAYD_SOCKBUF, e;

	if (!relayd_parse(addr, &sa)) {
		snprintf(err, errlen, "relay%s listen address '%s' is not ADDR:PORT or "
			 "[ADDR6]:PORT", id == RELAYD_LISTENER_TLS ? " TLS" : "", addr);
		return -EINVAL;
	}
	*lfd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*lfd < 0)
		goto fail;
	if (sa.sa.sa_family == AF_INET6)	/* [::] serves IPv4 too */
		setsockopt(*lfd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ 0 }, sizeof(int));
	setsockopt(*lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	/* Set before listen(), so accepted sockets inherit them and the
	 * window scale is chosen for them. */
	setsockopt(*lfd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(*lfd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(*lfd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (bind(*lfd, &sa.sa, sa.sa.sa_family == AF_INET6 ? sizeof(sa.in6) :
		 sizeof(sa.in4)) || listen(*lfd, 1024) ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, *lfd, &ev))
		goto fail;
	return 0;
fail:
	e = errno;
	snprintf(err, errlen, "cannot listen on TCP %s for the relay%s: %s", addr,
		 id == RELAYD_LISTENER_TLS ? " over TLS" : "", strerror(e));
	return -e;
}

int relayd_open(struct relayd **out, const uint8_t private_key[32],
		const char *listen, int epfd, uint32_t tag,
		const struct relayd_hooks *hooks, char *err, size_t errlen)
{
	struct relayd *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->lfd = r->tls_lfd = r->spare_fd = -1;
	r->epfd = epfd;
	r->tag = tag;
	r->hooks = *hooks;
	snprintf(r->listen, sizeof(r->listen), "%s", listen);
	rlink_init(&r->opening);
	rlink_init(&r->idle);
	rlink_init(&r->dirty);
	rlink_init(&r->dead);
	for (uint32_t i = 0; i < RELAYD_MAX_CONNS; i++)
		r->free_slots[i] = RELAYD_MAX_CONNS - 1 - i;
	r->n_free = RELAYD_MAX_CONNS;
	memcpy(r->priv, private_key, 32);
	if (!crypto_x25519_public(r->pub, r->priv)) {
		snprintf(err, errlen, "the server private key is not usable");
		relayd_close(r);
		return -EINVAL;
	}
	relayd_nofile();
	r->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((rc = relayd_listen(r, listen, &r->lfd, RELAYD_LISTENER, err, errlen))) {
		relayd_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void relayd_close(struct relayd *r)
{
	if (!r)
		return;
	r->now = clock_mono_ns();
	for (uint32_t i = 0; i < RELAYD_MAX_CONNS; i++)
		if (r->slots[i]) {
			relayd_kill(r, r->slots[i], "server stopping");
			rlink_del(&r->slots[i]->dead);
			relayd_release(r, r->slots[i]);
		}
	if (r->lfd >= 0) {
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->lfd, NULL);
		close(r->lfd);
	}
	if (r->tls_lfd >= 0) {
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->tls_lfd, NULL);
		close(r->tls_lfd);
	}
	SSL_CTX_free(r->tls);
	if (r->spare_fd >= 0)
		close(r->spare_fd);
	crypto_wipe(r->priv, sizeof(r->priv));
	free(r);
}

void relayd_get_stats(const struct relayd *r, struct relayd_stats *out)
{
	*out = r->stats;
}

const char *relayd_address(const struct relayd *r)
{
	return r->listen;
}

const char *relayd_tls_address(const struct relayd *r)
{
	return r->tls ? r->tls_listen : NULL;
}

/* --- TLS: a certificate nobody checks --- */

/* A self-signed X.509 v3 certificate for key, CN "weft-relay", valid
 * from an hour ago for RELAYD_CERT_LIFE_S.  Caller frees. */
static X509 *relayd_tls_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	uint64_t serial;
	bool ok;

	if (!x)
		return NULL;
	ok = crypto_random(&serial, sizeof(serial)) &&
	     X509_set_version(x, X509_VERSION_3) &&
	     ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), RELAYD_CERT_LIFE_S) &&
	     (name = X509_get_subject_name(x)) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"weft-relay", -1, -1, 0) &&
	     X509_set_issuer_name(x, name) &&
	     X509_set_pubkey(x, key) &&
	     X509_sign(x, key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The server's TLS context: a fresh P-256 key and its certificate, in
 * memory only; TLS 1.2 or 1.3; no session tickets or cache (no client
 * comes back for one), no renegotiation.  NULL on failure. */
static SSL_CTX *relayd_tls_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = key ? relayd_tls_cert(key) : NULL;
	SSL_CTX *ctx = cert ? SSL_CTX_new(TLS_server_method()) : NULL;

	if (ctx && !(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) &&
		     SSL_CTX_set_num_tickets(ctx, 0) &&
		     SSL_CTX_use_certificate(ctx, cert) &&
		     SSL_CTX_use_PrivateKey(ctx, key) &&
		     SSL_CTX_check_private_key(ctx))) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	if (ctx) {
		/* a hang-up without close_notify is "closed", as on plain TCP: the
		 * frames inside TLS carry their own lengths */
		SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
				    SSL_OP_IGNORE_UNEXPECTED_EOF);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				 SSL_MODE_RELEASE_BUFFERS);
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	return ctx;
}

int relayd_listen_tls(struct relayd *r, const char *listen, char *err, size_t errlen)
{
	if (r->tls) {
		snprintf(err, errlen, "the relay already has a TLS listener");
		return -EEXIST;
	}
	if (!(r->tls = relayd_tls_ctx())) {
		snprintf(err, errlen, "cannot make the relay's TLS certificate: %s",
			 ERR_reason_error_string(ERR_peek_last_error()) ?
			 ERR_reason_error_string(ERR_peek_last_error()) : "OpenSSL failed");
		ERR_clear_error();
		return -EIO;
	}
	snprintf(r->tls_listen, sizeof(r->tls_listen), "%s", listen);
	return relayd_listen(r, listen, &r->tls_lfd, RELAYD_LISTENER_TLS, err, errlen);
}
