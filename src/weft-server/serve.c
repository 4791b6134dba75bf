/* serve — see serve.h. */
#include "serve.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "clock.h"
#include "control.h"
#include "crypto.h"
#include "encoding.h"
#include "log.h"
#include "ops.h"
#include "relayd.h"
#include "stunsrv.h"
#include "token.h"

#define SERVE_EVENTS 64
#define SERVE_MAX_CONTROL_FDS 8
#define SERVE_HOUSEKEEPING_NS 1000000000ull
#define SERVE_REAP_EVERY 10	/* housekeeping ticks, at most */

enum { SERVE_EV_SIGNAL = 1, SERVE_EV_TIMER, SERVE_EV_CONTROL, SERVE_EV_ADMIN,
       SERVE_EV_RELAY, SERVE_EV_STUN };

struct serve {
	int epfd, sigfd, timerfd;
	struct store *st;
	struct control *ctl;
	struct admin *admin;
	struct relayd *relay;		/* NULL with --no-relay */
	struct stunsrv *stun;		/* NULL with --no-stun */
	struct ops ops;
	uint64_t housekeeping;		/* next tick, CLOCK_MONOTONIC ns */
	uint64_t armed;			/* the timer's deadline, 0 once it fired */
	unsigned ticks;
	unsigned reap_every;		/* housekeeping ticks between reaps */
};

static uint64_t serve_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int serve_watch(struct serve *s, int fd, uint32_t tag)
{
	struct epoll_event ev = {
		.events = EPOLLIN,
		.data.u64 = (uint64_t)tag << 32 | (uint32_t)fd,
	};

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* True when a server already answers on the admin socket. */
static bool serve_running(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool up;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return up;
}

static int serve_fds(struct serve *s, char *err, size_t errlen)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	signal(SIGPIPE, SIG_IGN);	/* a CLI that hangs up early is no reason to die */
	if (sigprocmask(SIG_BLOCK, &mask, NULL) ||
	    (s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    serve_watch(s, s->sigfd, SERVE_EV_SIGNAL) ||
	    serve_watch(s, s->timerfd, SERVE_EV_TIMER)) {
		snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* --- the relay and the control plane, each the other's hook --- */

static void serve_relay_to_server(void *ctx, const union wg_sockaddr *from,
				  const uint8_t *pkt, size_t len)
{
	struct serve *s = ctx;

	control_relay_input(s->ctl, from, pkt, len);
}

static bool serve_relay_known(void *ctx, const uint8_t pub[32])
{
	struct serve *s = ctx;

	return control_node_known(s->ctl, pub);
}

static void serve_control_to_relay(void *ctx, const union wg_sockaddr *to,
				   const uint8_t *pkt, size_t len)
{
	struct serve *s = ctx;

	relayd_send(s->relay, to, pkt, len);
}

static void serve_control_relay_flush(void *ctx)
{
	struct serve *s = ctx;

	relayd_flush(s->relay);
}

static int serve_relay_open(struct serve *s, const struct serve_opts *opt,
			    const uint8_t priv[32], const char *listen,
			    char *err, size_t errlen)
{
	const struct relayd_hooks hooks = {
		.to_server = serve_relay_to_server, .known = serve_relay_known, .ctx = s,
	};
	const struct control_relay cr = {
		.send = serve_control_to_relay, .flush = serve_control_relay_flush,
		.ctx = s,
	};
	int r;

	if (opt->no_relay)
		return 0;
	r = relayd_open(&s->relay, priv, opt->relay_listen ? opt->relay_listen : listen,
			s->epfd, SERVE_EV_RELAY, &hooks, err, errlen);
	if (!r && opt->relay_tls_listen)
		r = relayd_listen_tls(s->relay, opt->relay_tls_listen, err, errlen);
	if (!r)
		control_set_relay(s->ctl, &cr);
	else if (opt->relay_tls_listen && s->relay)
		return r;
	else if (!opt->relay_listen) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (move it with --relay-listen "
			 "ADDR:PORT, or turn it off with --no-relay)");
	}
	return r;
}

/* The STUN responder, and what nodes are told of it: each numeric
 * address of the server's endpoint list with the STUN port (a name is
 * resolved once, now). */
#define SERVE_STUN_PORT 3478

static void serve_stun_endpoints(struct serve *s)
{
	struct token_endpoint eps[TOKEN_MAX_ENDPOINTS];
	struct ctl_endpoint out[CTL_MAX_RELAYS];
	size_t n = 0;
	unsigned k = 0;
	char perr[128];

	if (token_parse_endpoints(s->ops.endpoint, strlen(s->ops.endpoint), eps, &n,
				  perr, sizeof(perr)))
		n = 0;
	for (size_t i = 0; i < n && k < CTL_MAX_RELAYS; i++) {
		struct ctl_endpoint *e = &out[k];
		memset(e, 0, sizeof(*e));
		e->port = stunsrv_port(s->stun);
		if (eps[i].kind == TOKEN_HOST_IPV4) {
			e->family = CTL_FAMILY_IPV4;
			memcpy(e->addr, eps[i].addr, 4);
		} else if (eps[i].kind == TOKEN_HOST_IPV6) {
			e->family = CTL_FAMILY_IPV6;
			memcpy(e->addr, eps[i].addr, 16);
		} else {
			struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
			if (getaddrinfo(eps[i].host, NULL, &hints, &res))
				continue;
			if (res->ai_family == AF_INET) {
				e->family = CTL_FAMILY_IPV4;
				memcpy(e->addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
			} else {
				e->family = CTL_FAMILY_IPV6;
				memcpy(e->addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
			}
			freeaddrinfo(res);
		}
		k++;
	}
	control_set_stun(s->ctl, out, k);
}

static int serve_stun_open(struct serve *s, const struct serve_opts *opt,
			   const char *listen, char *err, size_t errlen)
{
	char spec[64];
	int fds[STUNSRV_MAX_SOCKETS], n, r;

	if (opt->no_stun)
		return 0;
	if (opt->stun_listen)
		snprintf(spec, sizeof(spec), "%s", opt->stun_listen);
	else
		snprintf(spec, sizeof(spec), "%s:%d", listen[0] == '[' ? "[::]" : "0.0.0.0",
			 SERVE_STUN_PORT);
	if ((r = stunsrv_open(&s->stun, spec, err, errlen))) {
		if (!opt->stun_listen) {
			size_t l = strlen(err);
			snprintf(err + l, errlen - l, " (move it with --stun-listen "
				 "ADDR:PORT, or turn it off with --no-stun)");
		}
		return r;
	}
	n = stunsrv_fds(s->stun, fds, STUNSRV_MAX_SOCKETS);
	for (int i = 0; i < n; i++)
		if ((r = serve_watch(s, fds[i], SERVE_EV_STUN))) {
			snprintf(err, errlen, "epoll: %s", strerror(-r));
			return r;
		}
	serve_stun_endpoints(s);
	return 0;
}

/* Every node in memory: lookups cost the same at 100 000 nodes as at 10. */
static int serve_cache(struct serve *s, char *err, size_t errlen)
{
	uint64_t t0 = clock_mono_ns();
	int r = store_node_cache(s->st, true);

	if (r) {
		snprintf(err, errlen, "cannot load the nodes: %s", store_errmsg(s->st));
		return r;
	}
	log_info("%zu node(s) loaded in %.0f ms", store_node_cached(s->st),
		 (double)(clock_mono_ns() - t0) / 1e6);
	return 0;
}

static int serve_open(struct serve *s, const struct state_paths *p,
		      const struct serve_opts *opt, char *err, size_t errlen)
{
	char listen[STORE_META_SIZE];
	uint8_t priv[32];
	int fds[SERVE_MAX_CONTROL_FDS], n, r;

	if ((r = state_load(p, &s->st, priv, listen, err, errlen)))
		return r;
	s->ops.st = s->st;
	s->ops.ephemeral_timeout = opt->ephemeral_timeout;
	/* Reap at least twice per timeout, so a short one (tests) is kept
	 * to within half of it; never more often than each tick. */
	s->reap_every = opt->ephemeral_timeout / 2 < SERVE_REAP_EVERY ?
			(unsigned)(opt->ephemeral_timeout / 2) : SERVE_REAP_EVERY;
	if (!s->reap_every)
		s->reap_every = 1;
	s->ops.started = (int64_t)time(NULL);
	snprintf(s->ops.listen, sizeof(s->ops.listen), "%s", listen);
	store_meta_get(s->st, STORE_META_ENDPOINT, s->ops.endpoint, sizeof(s->ops.endpoint));
	if (!crypto_x25519_public(s->ops.server_pub, priv)) {
		snprintf(err, errlen, "%s holds an unusable private key", p->key);
		r = -EINVAL;
	} else if (serve_running(p->sock)) {
		snprintf(err, errlen, "another weft-server is already running on %s "
			 "(it answers on %s); stop it first", p->dir, p->sock);
		r = -EADDRINUSE;
	} else if (!(r = serve_fds(s, err, errlen)) && !(r = serve_cache(s, err, errlen))) {
		r = control_open(&s->ctl, s->st, priv, listen, err, errlen);
		if (!r)
			r = serve_relay_open(s, opt, priv, listen, err, errlen);
		if (!r)
			r = serve_stun_open(s, opt, listen, err, errlen);
	}
	crypto_wipe(priv, sizeof(priv));
	if (r)
		return r;
	s->ops.ctl = s->ctl;
	s->ops.relay = s->relay;
	s->ops.stun = s->stun;
	n = control_fds(s->ctl, fds, SERVE_MAX_CONTROL_FDS);
	for (int i = 0; i < n; i++)
		if ((r = serve_watch(s, fds[i], SERVE_EV_CONTROL))) {
			snprintf(err, errlen, "epoll: %s", strerror(-r));
			return r;
		}
	return admin_open(&s->admin, p->sock, s->epfd, SERVE_EV_ADMIN, ops_handle,
			  &s->ops, err, errlen);
}

static void serve_close(struct serve *s)
{
	admin_close(s->admin);		/* removes admin.sock */
	if (s->ctl)
		control_set_relay(s->ctl, NULL);
	relayd_close(s->relay);
	stunsrv_close(s->stun);
	control_close(s->ctl);
	store_close(s->st);
	if (s->timerfd >= 0)
		close(s->timerfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->epfd >= 0)
		close(s->epfd);
}

/* Arms the timer for the earlier of the control plane's deadline and the
 * next housekeeping tick. */
static void serve_arm(struct serve *s, uint64_t control_next)
{
	uint64_t at = s->housekeeping;
	struct itimerspec its = { 0 };

	if (control_next && control_next < at)
		at = control_next;
	if (at && at == s->armed)
		return;		/* most events move no deadline: no syscall */
	s->armed = at;
	its.it_value.tv_sec = (time_t)(at / 1000000000ull);
	its.it_value.tv_nsec = (long)(at % 1000000000ull);
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1;
	timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void serve_housekeeping(struct serve *s)
{
	uint64_t expirations, now = serve_monotonic();

	if (read(s->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("timer: %s", strerror(errno));
	s->armed = 0;
	if (now < s->housekeeping)
		return;
	s->housekeeping = now + SERVE_HOUSEKEEPING_NS;
	/* Another process may have written the database (admin commands
	 * come through our socket, so that is rare): the node cache reloads
	 * then.  Once a second, not per packet: two fcntl()s each time. */
	if (store_sync(s->st))
		log_warn("database: %s", store_errmsg(s->st));
	admin_tick(s->admin);
	if (s->relay)
		relayd_tick(s->relay);
	if (++s->ticks % s->reap_every == 0)
		ops_reap(&s->ops, (int64_t)time(NULL));
}

/* True when the loop should stop. */
static bool serve_signal(struct serve *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP ignored (nothing to reload)");
			continue;
		}
		log_info("stopping on %s", strsignal((int)si.ssi_signo));
		return true;
	}
	return false;
}

static int serve_loop(struct serve *s)
{
	struct epoll_event ev[SERVE_EVENTS];
	bool stop = false;

	s->housekeeping = serve_monotonic() + SERVE_HOUSEKEEPING_NS;
	while (!stop) {
		serve_arm(s, control_tick(s->ctl));
		int n = epoll_wait(s->epfd, ev, SERVE_EVENTS, -1);
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)ev[i].data.u64;
			switch (ev[i].data.u64 >> 32) {
			case SERVE_EV_SIGNAL: stop = serve_signal(s); break;
			case SERVE_EV_TIMER: serve_housekeeping(s); break;
			case SERVE_EV_CONTROL: control_event(s->ctl, fd); break;
			case SERVE_EV_ADMIN: admin_event(s->admin, fd, ev[i].events); break;
			case SERVE_EV_RELAY:
				relayd_event(s->relay, (uint32_t)fd, ev[i].events);
				break;
			case SERVE_EV_STUN: stunsrv_event(s->stun, fd); break;
			}
		}
	}
	return 0;
}

static int serve_check(const struct serve *s, const struct state_paths *p,
		       const struct serve_opts *opt)
{
	char pub[48];
	int version = 0;

	store_schema_version(s->st, &version);
	b64_encode(pub, s->ops.server_pub, 32, B64_STD);
	printf("state directory: %s\n", p->dir);
	printf("server key:      %s (public key %s)\n", p->key, pub);
	printf("database:        %s (schema %d)\n", p->db, version);
	printf("endpoint:        %s\n", s->ops.endpoint);
	printf("listen:          %s\n", s->ops.listen);
	if (opt->no_relay)
		printf("relay:           off\n");
	else
		printf("relay:           TCP %s\n", opt->relay_listen ? opt->relay_listen :
		       s->ops.listen);
	if (!opt->no_relay && opt->relay_tls_listen)
		printf("relay over TLS:  TCP %s\n", opt->relay_tls_listen);
	printf("configuration OK\n");
	return 0;
}

int serve_run(const struct state_paths *p, const struct serve_opts *opt)
{
	struct serve s = { .epfd = -1, .sigfd = -1, .timerfd = -1 };
	char err[512], pub[48];
	int rc = 1;

	if (opt->check) {
		uint8_t priv[32];
		char listen[STORE_META_SIZE];
		if (state_load(p, &s.st, priv, listen, err, sizeof(err)) == 0 &&
		    crypto_x25519_public(s.ops.server_pub, priv)) {
			snprintf(s.ops.listen, sizeof(s.ops.listen), "%s", listen);
			store_meta_get(s.st, STORE_META_ENDPOINT, s.ops.endpoint,
				       sizeof(s.ops.endpoint));
			rc = serve_check(&s, p, opt);
		} else if (s.st) {
			snprintf(err, sizeof(err), "%s holds an unusable private key", p->key);
		}
		crypto_wipe(priv, sizeof(priv));
		store_close(s.st);
		if (rc)
			fprintf(stderr, "weft-server: configuration check failed: %s\n", err);
		return rc;
	}
	if (serve_open(&s, p, opt, err, sizeof(err))) {
		fprintf(stderr, "weft-server: cannot start: %s\n", err);
		serve_close(&s);
		return 1;
	}
	b64_encode(pub, s.ops.server_pub, 32, B64_STD);
	log_info("weft-server started: public key %s, endpoint %s, listening on "
		 "UDP %s, relay %s%s%s%s, admin socket %s, ephemeral nodes removed "
		 "after %llds offline", pub, s.ops.endpoint, s.ops.listen,
		 s.relay ? "on TCP " : "off", s.relay ? relayd_address(s.relay) : "",
		 s.relay && relayd_tls_address(s.relay) ? " and TLS on TCP " : "",
		 s.relay && relayd_tls_address(s.relay) ? relayd_tls_address(s.relay) : "",
		 p->sock, (long long)opt->ephemeral_timeout);
	rc = serve_loop(&s);
	serve_close(&s);
	log_info("weft-server stopped");
	return rc;
}
