/*
 * ipc — the configuration socket /var/run/wireguard/IFNAME.sock, speaking
 * the cross-platform userspace protocol (wireguard.com/xplatform) that
 * `wg` and `wg-quick` use with wireguard-go.  "get=1" dumps the device,
 * "set=1" applies a configuration parsed completely beforehand, and
 * weft's own "stats=1" prints the engine's drop counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "uapi.h"
#include "wg.h"

#define IPC_MAX_CLIENTS 64
#define IPC_MAX_REQUEST (64u << 20)	/* 64 MiB: ~300k peers of setconf */

struct ipc_client {
	int fd;
	char *buf;
	size_t len, cap;
};

static struct ipc_client ipc_clients[IPC_MAX_CLIENTS];

/* A growing text buffer for responses; on allocation failure it marks
 * itself failed and the request answers ENOMEM. */
struct ipc_out {
	char *s;
	size_t len, cap;
	bool failed;
};

static void ipc_printf(struct ipc_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ipc_printf(struct ipc_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->s ? o->s + o->len : NULL,
			      o->s ? o->cap - o->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if (o->s && o->len + (size_t)n < o->cap) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap * 2 : 4096;
		while (cap < o->len + (size_t)n + 1)
			cap *= 2;
		char *s = realloc(o->s, cap);
		if (!s) {
			o->failed = true;
			return;
		}
		o->s = s;
		o->cap = cap;
	}
}

int ipc_listen(struct wgd *w)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;
	mode_t old;

	if (mkdir(WG_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	r = snprintf(w->uapi_path, sizeof(w->uapi_path), "%s/%s.sock",
		     WG_RUN_DIR, w->dp.ifname);
	if (r < 0 || (size_t)r >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, w->uapi_path, (size_t)r + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket that still answers belongs to a live daemon: keep it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(w->uapi_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0077);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	w->uapi_fd = fd;
	for (int i = 0; i < IPC_MAX_CLIENTS; i++)
		ipc_clients[i].fd = -1;
	return 0;
}

static void ipc_drop(struct wgd *w, struct ipc_client *c)
{
	epoll_ctl(w->dp.epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->buf)
		explicit_bzero(c->buf, c->len);	/* may hold keys */
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void ipc_close(struct wgd *w)
{
	for (int i = 0; i < IPC_MAX_CLIENTS; i++)
		if (ipc_clients[i].fd >= 0)
			ipc_drop(w, &ipc_clients[i]);
	if (w->uapi_fd >= 0) {
		close(w->uapi_fd);
		unlink(w->uapi_path);
		w->uapi_fd = -1;
	}
}

void ipc_accept(struct wgd *w)
{
	for (;;) {
		int fd = accept4(w->uapi_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		int i;

		if (fd < 0)
			return;
		for (i = 0; i < IPC_MAX_CLIENTS && ipc_clients[i].fd >= 0; i++)
			;
		if (i == IPC_MAX_CLIENTS) {
			close(fd);
			continue;
		}
		ipc_clients[i].fd = fd;
		ev.data.u64 = ((uint64_t)2 << 32) | (uint32_t)fd;
		epoll_ctl(w->dp.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
	}
}

static void ipc_get_peer(struct ipc_out *o, const struct wg_peer *p)
{
	char buf[80];	/* a hex key (64) or a bracketed endpoint */
	uint64_t real = p->last_handshake_real;

	uapi_format_key(buf, sizeof(buf), p->public_key);
	ipc_printf(o, "public_key=%s\n", buf);
	uapi_format_key(buf, sizeof(buf), p->hs.psk);
	ipc_printf(o, "preshared_key=%s\nprotocol_version=1\n", buf);
	if (p->has_endpoint &&
	    uapi_format_endpoint(buf, sizeof(buf),
				 &p->endpoint) > 0)
		ipc_printf(o, "endpoint=%s\n", buf);
	ipc_printf(o, "last_handshake_time_sec=%llu\n"
		      "last_handshake_time_nsec=%llu\n"
		      "tx_bytes=%llu\nrx_bytes=%llu\n"
		      "persistent_keepalive_interval=%u\n",
		   (unsigned long long)(real / NSEC_PER_SEC),
		   (unsigned long long)(real % NSEC_PER_SEC),
		   (unsigned long long)p->tx_bytes,
		   (unsigned long long)p->rx_bytes, p->keepalive_interval);
}

static void ipc_get_aip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (uapi_format_aip(buf, sizeof(buf), family, addr, cidr) > 0)
		ipc_printf(ctx, "allowed_ip=%s\n", buf);
}

static int ipc_get(struct wgd *w, struct ipc_out *o)
{
	struct wg_device *dev = w->dp.dev;
	char key[65];

	if (dev->local.has_key) {
		uapi_format_key(key, sizeof(key), dev->local.private_key);
		ipc_printf(o, "private_key=%s\n", key);
		explicit_bzero(key, sizeof(key));
	}
	if (w->dp.port)
		ipc_printf(o, "listen_port=%u\n", w->dp.port);
	if (w->dp.fwmark)
		ipc_printf(o, "fwmark=%u\n", w->dp.fwmark);
	for (const struct wg_peer *p = dev->first; p; p = p->next) {
		ipc_get_peer(o, p);
		allowedips_walk_owner(&p->aips, ipc_get_aip, o);
	}
	return o->failed ? -ENOMEM : 0;
}

static int ipc_stats(struct wgd *w, struct ipc_out *o)
{
	const struct wg_stats *s = &w->dp.dev->stats;
#define STAT(f) ipc_printf(o, #f "=%llu\n", (unsigned long long)s->f)
	STAT(rx_malformed); STAT(rx_invalid_mac); STAT(rx_unknown_peer);
	STAT(rx_bad_auth); STAT(rx_handshake_replay); STAT(rx_unknown_index);
	STAT(rx_replay); STAT(rx_expired_key); STAT(rx_bad_inner);
	STAT(rx_bad_source); STAT(rx_cookie_replies); STAT(cookie_replies_sent);
	STAT(tx_no_route); STAT(tx_no_endpoint); STAT(tx_staged_dropped);
	STAT(handshakes_completed);
#undef STAT
	ipc_printf(o, "peers=%zu\n", w->dp.dev->n_peers);
	return o->failed ? -ENOMEM : 0;
}

static int ipc_apply_peer(struct wgd *w, const struct uapi_peer *c)
{
	struct wg_peer *p = wg_peer_find(w->dp.dev, c->public_key);
	int r;

	if (c->remove) {
		if (p)
			wg_peer_remove(p);
		return 0;
	}
	if (!p) {
		if (c->update_only)
			return 0;
		r = wg_peer_new(w->dp.dev, c->public_key, &p);
		if (r == -EINVAL)
			return 0;	/* our own key: ignored, as wireguard-go */
		if (r)
			return r;
	}
	if (c->has_psk)
		wg_peer_set_psk(p, crypto_is_zero(c->psk, 32) ? NULL : c->psk);
	if (c->has_endpoint)
		wg_peer_set_endpoint(p, &c->endpoint);
	if (c->replace_allowed_ips)
		wg_peer_clear_allowed_ips(p);
	for (size_t i = 0; i < c->n_aips; i++) {
		r = wg_peer_add_allowed_ip(p, c->aips[i].family, c->aips[i].addr,
					   c->aips[i].cidr);
		if (r)
			return r;
	}
	if (c->has_keepalive)
		wg_peer_set_keepalive(p, c->keepalive);
	return 0;
}

static int ipc_set(struct wgd *w, const char *body, size_t len)
{
	struct uapi_set s;
	char err[256];
	int r;

	r = uapi_parse_set(body, len, &s, err, sizeof(err));
	if (r) {
		wgd_log(LOG_ERROR, "configuration refused: %s", err);
		return r;
	}
	/* The only step that can fail on the system's side goes first, so a
	 * refused port leaves everything as it was. */
	if (s.has_listen_port && s.listen_port != w->dp.port &&
	    (r = dp_bind(&w->dp, s.listen_port))) {
		wgd_log(LOG_ERROR, "cannot listen on port %u: %s",
			s.listen_port, strerror(-r));
		goto out;
	}
	if (s.has_fwmark && (r = dp_set_fwmark(&w->dp, s.fwmark)))
		goto out;
	if (s.has_private_key)
		wg_device_set_private_key(w->dp.dev, s.private_key);
	if (s.replace_peers)
		wg_device_remove_all_peers(w->dp.dev);
	for (size_t i = 0; i < s.n_peers && !r; i++)
		r = ipc_apply_peer(w, &s.peers[i]);
out:
	uapi_set_free(&s);
	return r;
}

/* Writes the whole response; the client is blocking-written with a
 * bounded wait so a stuck client cannot stall the data plane for long. */
static bool ipc_write_all(int fd, const char *s, size_t len)
{
	struct timeval tv = { .tv_sec = 2 };
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		s += n;
		len -= (size_t)n;
	}
	fcntl(fd, F_SETFL, fl);
	return true;
}

/* Handles every complete request in the client's buffer. */
static bool ipc_process(struct wgd *w, struct ipc_client *c)
{
	for (;;) {
		struct ipc_out o = { 0 };
		enum uapi_op op;
		size_t body;
		long n = uapi_frame(c->buf, c->len, &op, &body);
		int r;
		bool ok;

		if (n == 0)
			return true;
		if (n < 0)
			return false;	/* not our protocol: hang up */
		if (op == UAPI_OP_GET)
			r = ipc_get(w, &o);
		else if (op == UAPI_OP_STATS)
			r = ipc_stats(w, &o);
		else
			r = ipc_set(w, c->buf + body, (size_t)n - body - 1);
		if (o.failed)
			o.len = 0;
		o.failed = false;
		ipc_printf(&o, "errno=%d\n\n", r < 0 ? -r : r);
		ok = !o.failed && ipc_write_all(c->fd, o.s, o.len);
		if (o.s)
			explicit_bzero(o.s, o.len);	/* held the private key */
		free(o.s);
		explicit_bzero(c->buf, (size_t)n);
		memmove(c->buf, c->buf + n, c->len - (size_t)n);
		c->len -= (size_t)n;
		if (!ok)
			return false;
	}
}

static struct ipc_client *ipc_find(int fd)
{
	for (int i = 0; i < IPC_MAX_CLIENTS; i++)
		if (ipc_clients[i].fd == fd)
			return &ipc_clients[i];
	return NULL;
}

void ipc_client_event(struct wgd *w, int fd)
{
	struct ipc_client *c = ipc_find(fd);

	if (!c)
		return;
	for (;;) {
		ssize_t n;

		if (c->cap - c->len < 4096) {
			size_t cap = c->cap ? c->cap * 2 : 8192;
			char *b;
			if (cap > IPC_MAX_REQUEST || !(b = malloc(cap))) {
				ipc_drop(w, c);
				return;
			}
			if (c->buf) {
				memcpy(b, c->buf, c->len);
				explicit_bzero(c->buf, c->len);
			}
			free(c->buf);
			c->buf = b;
			c->cap = cap;
		}
		n = read(fd, c->buf + c->len, c->cap - c->len - 1);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		/* EOF or error: answer what is complete, then close. */
		ipc_process(w, c);
		ipc_drop(w, c);
		return;
	}
	if (!ipc_process(w, c))
		ipc_drop(w, c);
}
