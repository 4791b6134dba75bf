/*
 * ctlload — a LOOKUP load generator that speaks the real control protocol
 * (bench/lookup.sh, docs/lookup-bench.md).  K client identities, each with
 * its own key, UDP socket and WireGuard engine (src/lib/device.h), join the
 * server with one reusable token (REGISTER), then each keeps W LOOKUPs in
 * flight for random targets read from a seednodes target file, and the
 * completed LOOKUP_OKs are counted over a bounded window.  Like ctlprobe,
 * each client answers the server's NOTIFYs with OK.
 *
 *   ctlload --targets FILE [--clients K] [--window W] [--seconds S]
 *           [--warmup S] [--by ipv4|ipv6|name|mix] [--timeout-ms MS]
 *           [--server-pid PID] [--progress] TOKEN
 *
 * --progress prints each measured second's count to stderr.
 *
 * Loopback only: the token's first endpoint must be 127.0.0.0/8 or ::1.
 * Bounded: registration gets 60 s, the run warmup + S seconds, and an
 * alarm ends the process if the loop itself ever stalls.  One line on
 * stdout, for scripts:
 *
 *   lookups=N seconds=S rate=R/s errors=E timeouts=T clients=K window=W
 *   by=B notifies=X avg_latency_us=L [server_cpu=P%] load_cpu=P%
 *   [other_cpu=P%]
 *
 * errors counts ERROR replies and LOOKUP_OKs that name another node than
 * the one asked for; timeouts counts requests unanswered after
 * --timeout-ms (each is replaced by a new request).  server_cpu is the
 * share of one core the process --server-pid used during the measured
 * window (from /proc/PID/stat), load_cpu ours: a server near 100% and a
 * generator well below it mean the figure is the server's; other_cpu is
 * what other processes used of the server's CPU when it is pinned to one
 * (else of all CPUs, in units of one core; /proc/stat, interrupts left
 * out): well above a few percent, the run was disturbed.  Exit 0 when the run
 * completed (whatever the counts), 1 when setup or registration failed,
 * 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "ctlnode.h"

#define LOAD_MAX_CLIENTS  1024
#define LOAD_MAX_WINDOW   256
#define LOAD_MAX_SECONDS  300
#define LOAD_MAX_TARGETS  10000000L
#define LOAD_REGISTER_NS  (60 * NSEC_PER_SEC)
#define LOAD_RESEND_NS    NSEC_PER_SEC
#define LOAD_TICK_NS      (20 * 1000000ull)
#define LOAD_BATCH        64
#define LOAD_PKT          1536		/* the largest WireGuard message we send */
#define LOAD_REG_SLOT     0xffff	/* request id low bits of REGISTER */

enum load_by { LOAD_BY_IPV4, LOAD_BY_IPV6, LOAD_BY_NAME, LOAD_BY_MIX };

struct load_target {
	uint8_t ipv4[4], ipv6[16];
	char name[CTL_PEER_NAME_MAX + 1];
};

/* One LOOKUP in flight; req 0 = free. */
struct load_slot {
	uint64_t req, sent;
	uint32_t target;
};

struct load;

struct load_client {
	struct load *l;
	int fd;
	struct wg_device *dev;
	struct wg_peer *server;
	uint64_t seq;			/* request ids: seq << 16 | slot */
	uint64_t reg_sent;		/* monotonic ns of the last REGISTER */
	bool registered;
	unsigned n_tx;			/* datagrams waiting for sendmmsg */
	size_t tx_len[LOAD_BATCH];
	uint8_t tx[LOAD_BATCH][LOAD_PKT];
	struct load_slot slot[LOAD_MAX_WINDOW];
	_Alignas(16) uint8_t buf[CTLNODE_BUF];
};

struct load_opts {
	const char *targets, *token;
	long clients, window, seconds, warmup, timeout_ms, server_pid;
	bool progress;
	enum load_by by;
};

struct load {
	struct load_opts o;
	struct load_client *c;
	struct load_target *t;
	size_t n_t;
	union wg_sockaddr server_ep;
	uint8_t server_pub[32], secret[32];
	uint64_t rng;
	bool running, measuring, failed;
	unsigned n_registered, errors_shown;
	uint64_t done, errors, timeouts, notifies, latency_ns;
	_Alignas(16) uint8_t rx[LOAD_BATCH][LOAD_PKT];
};

/* --- targets --- */

static bool load_target_parse(char *line, struct load_target *t)
{
	char name[128], a4[64], a6[64];

	memset(t, 0, sizeof(*t));
	if (sscanf(line, "%127s %63s %63s", name, a4, a6) != 3 ||
	    strlen(name) > CTL_PEER_NAME_MAX ||
	    inet_pton(AF_INET, a4, t->ipv4) != 1 ||
	    inet_pton(AF_INET6, a6, t->ipv6) != 1)
		return false;
	memcpy(t->name, name, strlen(name) + 1);
	return true;
}

static bool load_targets_read(struct load *l)
{
	FILE *f = fopen(l->o.targets, "r");
	char line[256];
	size_t cap = 0;

	if (!f) {
		fprintf(stderr, "ctlload: cannot read %s: %s\n", l->o.targets,
			strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f) && l->n_t < (size_t)LOAD_MAX_TARGETS) {
		if (l->n_t == cap) {
			size_t nc = cap ? 2 * cap : 4096;
			struct load_target *nt = realloc(l->t, nc * sizeof(*nt));
			if (!nt)
				break;
			l->t = nt;
			cap = nc;
		}
		if (!load_target_parse(line, &l->t[l->n_t])) {
			fprintf(stderr, "ctlload: %s: bad line %zu (want NAME IPV4 IPV6)\n",
				l->o.targets, l->n_t + 1);
			fclose(f);
			return false;
		}
		l->n_t++;
	}
	fclose(f);
	if (!l->n_t)
		fprintf(stderr, "ctlload: %s holds no targets\n", l->o.targets);
	return l->n_t > 0;
}

static uint64_t load_random(struct load *l)
{
	/* xorshift64*: uniform enough to pick targets, and cheap. */
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return l->rng * 0x2545f4914f6cdd1dULL;
}

/* --- sending: the engine's datagrams are batched per client --- */

static void load_flush(struct load_client *c)
{
	struct mmsghdr m[LOAD_BATCH];
	struct iovec iov[LOAD_BATCH];
	unsigned off = 0;

	for (unsigned i = 0; i < c->n_tx; i++) {
		iov[i] = (struct iovec){ c->tx[i], c->tx_len[i] };
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	while (off < c->n_tx) {
		int n = sendmmsg(c->fd, m + off, c->n_tx - off, 0);
		if (n <= 0)
			break;	/* a full socket buffer: the requests time out */
		off += (unsigned)n;
	}
	c->n_tx = 0;
}

/* The socket is connected to the server: to is always its endpoint. */
static void load_udp_send(void *ctx, const union wg_sockaddr *to,
			  const uint8_t *msg, size_t len)
{
	struct load_client *c = ctx;

	if (len > LOAD_PKT)
		return;
	if (c->n_tx == LOAD_BATCH)
		load_flush(c);
	memcpy(c->tx[c->n_tx], msg, len);
	c->tx_len[c->n_tx++] = len;
}

static void load_send(struct load_client *c, const struct ctl_msg *m)
{
	ctlnode_send(c->server, c->buf, m);
}

static void load_register(struct load_client *c)
{
	struct ctl_msg m;
	char host[32];

	snprintf(host, sizeof(host), "load-%u", (unsigned)(c - c->l->c));
	ctlnode_register(&m, LOAD_REG_SLOT, c->l->secret, host);
	c->reg_sent = c->dev->now;
	load_send(c, &m);
	ctl_msg_wipe(&m);
}

static void load_lookup(struct load_client *c, unsigned s)
{
	struct load *l = c->l;
	struct load_slot *sl = &c->slot[s];
	const struct load_target *t;
	enum load_by by = l->o.by;
	struct ctl_msg m;

	sl->target = (uint32_t)(load_random(l) % l->n_t);
	sl->req = ++c->seq << 16 | s;
	sl->sent = c->dev->now;
	t = &l->t[sl->target];
	if (by == LOAD_BY_MIX)
		by = (enum load_by)(c->seq % 3);
	ctl_msg_init(&m, CTL_LOOKUP, sl->req);
	if (by == LOAD_BY_IPV4) {
		memcpy(m.target_ipv4, t->ipv4, 4);
		m.present |= CTL_HAS(CTL_T_TARGET_IPV4);
	} else if (by == LOAD_BY_IPV6) {
		memcpy(m.target_ipv6, t->ipv6, 16);
		m.present |= CTL_HAS(CTL_T_TARGET_IPV6);
	} else {
		memcpy(m.name, t->name, strlen(t->name) + 1);
		m.present |= CTL_HAS(CTL_T_NAME);
	}
	load_send(c, &m);
}

/* --- receiving --- */

static void load_answer(struct load_client *c, const struct ctl_msg *m)
{
	struct load *l = c->l;
	unsigned s = (unsigned)(m->request_id & 0xffff);
	struct load_slot *sl;
	bool good;

	if (s >= (unsigned)l->o.window || c->slot[s].req != m->request_id)
		return;		/* late answer to a request that timed out */
	sl = &c->slot[s];
	good = m->type == CTL_LOOKUP_OK &&
	       !memcmp(m->ipv4.addr, l->t[sl->target].ipv4, 4);
	if (l->measuring) {
		if (good) {
			l->done++;
			l->latency_ns += c->dev->now - sl->sent;
		} else {
			l->errors++;
		}
	}
	if (!good && m->type == CTL_ERROR && l->errors_shown++ < 3)
		fprintf(stderr, "ctlload: LOOKUP answered %s: %s\n",
			ctl_error_name(m->error_code), m->error_msg);
	sl->req = 0;
	if (l->running)
		load_lookup(c, s);
}

static void load_registered(struct load_client *c, const struct ctl_msg *m)
{
	if (c->registered)
		return;
	if (m->type != CTL_REGISTER_OK) {
		fprintf(stderr, "ctlload: client %u: REGISTER answered %s: %s\n",
			(unsigned)(c - c->l->c), ctl_error_name(m->error_code),
			m->error_msg);
		c->l->failed = true;
		return;
	}
	c->registered = true;
	c->l->n_registered++;
}

static void load_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			 size_t len)
{
	struct load_client *c = ctx;
	struct ctl_msg m;

	if (peer != c->server || !ctlnode_unwrap(pkt, len, &m))
		return;
	if (m.type == CTL_NOTIFY) {
		struct ctl_msg ok;
		c->l->notifies++;
		ctl_msg_init(&ok, CTL_OK, m.request_id);
		load_send(c, &ok);
	} else if (m.request_id == LOAD_REG_SLOT) {
		load_registered(c, &m);
	} else {
		load_answer(c, &m);
	}
}

static const struct wg_ops load_ops = {
	.send = load_udp_send, .deliver = load_deliver,
};

/* Reads what the client's socket holds, a batch at a time. */
static void load_receive(struct load *l, struct load_client *c)
{
	struct mmsghdr m[LOAD_BATCH];
	struct iovec iov[LOAD_BATCH];
	int n;

	for (int i = 0; i < LOAD_BATCH; i++) {
		iov[i] = (struct iovec){ l->rx[i], LOAD_PKT };
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	for (int round = 0; round < 4; round++) {
		n = recvmmsg(c->fd, m, LOAD_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		clock_feed(c->dev);
		for (int i = 0; i < n; i++)
			wg_device_receive(c->dev, &l->server_ep, l->rx[i], m[i].msg_len);
		load_flush(c);
		if (n < LOAD_BATCH)
			break;
	}
}

/* --- timers --- */

static void load_tick(struct load *l, struct load_client *c)
{
	uint64_t now, timeout = (uint64_t)l->o.timeout_ms * 1000000ull;

	clock_feed(c->dev);
	wg_device_tick(c->dev);
	now = c->dev->now;
	if (!c->registered && !l->running && now - c->reg_sent >= LOAD_RESEND_NS)
		load_register(c);	/* idempotent: same id, same answer */
	for (long s = 0; l->running && s < l->o.window; s++) {
		struct load_slot *sl = &c->slot[s];
		if (sl->req && now - sl->sent < timeout)
			continue;
		if (sl->req && l->measuring)
			l->timeouts++;
		load_lookup(c, (unsigned)s);
	}
	load_flush(c);
}

/* --- setup --- */

static bool load_endpoint(struct load *l, const struct token *t)
{
	return ctlnode_loopback(t, &l->server_ep, "ctlload");
}

static bool load_client_open(struct load *l, struct load_client *c, int ep)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	uint8_t pub[32];
	int size = 1 << 20;

	c->l = l;
	c->fd = socket(l->server_ep.sa.sa_family,
		       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || !(c->dev = wg_device_new(&load_ops, c)))
		return false;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (connect(c->fd, &l->server_ep.sa, wg_sockaddr_len(&l->server_ep)) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev))
		return false;
	clock_feed(c->dev);
	if (!ctlnode_engine(c->dev, l->server_pub, &c->server, pub, NULL))
		return false;
	wg_peer_set_endpoint(c->server, &l->server_ep);
	return true;
}

static void load_close(struct load *l)
{
	for (long i = 0; l->c && i < l->o.clients; i++) {
		wg_device_free(l->c[i].dev);	/* wipes the keys */
		if (l->c[i].fd >= 0)
			close(l->c[i].fd);
	}
	free(l->c);
	free(l->t);
	crypto_wipe(l->secret, sizeof(l->secret));
}

/* --- CPU shares over the measured window --- */

/* utime + stime of pid in ns, or 0 when /proc does not tell. */
static uint64_t load_cpu_of(long pid)
{
	char path[64], line[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	/* Fields after the command's closing parenthesis: state is field 3,
	 * utime 14 and stime 15 (proc(5)). */
	if (!(p = strrchr(line, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return 0;
	return (ut + st) * (NSEC_PER_SEC / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* The one CPU pid is pinned to, or -1 (not pinned, or not known). */
static int load_cpu_pinned(long pid)
{
	cpu_set_t set;

	if (!pid || sched_getaffinity((pid_t)pid, sizeof(set), &set) ||
	    CPU_COUNT(&set) != 1)
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			return i;
	return -1;
}

/* Time spent in processes, in ns (user, nice, system and steal of
 * /proc/stat), by CPU cpu, or by all together when cpu is -1; 0 when it
 * cannot be read.  Interrupts are left out: most are our own packets. */
static uint64_t load_cpu_busy(int cpu)
{
	unsigned long long v[8];
	char name[16], line[512];
	FILE *f = fopen("/proc/stat", "r");
	uint64_t busy = 0;

	if (!f)
		return 0;
	if (cpu < 0)
		snprintf(name, sizeof(name), "cpu");
	else
		snprintf(name, sizeof(name), "cpu%d", cpu);
	while (fgets(line, sizeof(line), f)) {
		size_t nl = strlen(name);
		if (strncmp(line, name, nl) || line[nl] != ' ' ||
		    sscanf(line + nl, "%llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
			continue;
		busy = (v[0] + v[1] + v[2] + v[7]) *
		       (NSEC_PER_SEC / (uint64_t)sysconf(_SC_CLK_TCK));
		break;
	}
	fclose(f);
	return busy;
}

static uint64_t load_cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NSEC_PER_SEC +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000;
}

/* The CPU shares of the window: the server's, ours, and other
 * processes' (on the server's CPU when it is pinned to one, else on all
 * but ours): neighbours on the machine disturb the figure. */
static void load_print_cpu(uint64_t wall, uint64_t server, uint64_t self,
			   uint64_t busy, bool pinned)
{
	double w = (double)wall / 100.0;
	uint64_t mine = server + (pinned ? 0 : self);

	if (server)
		printf(" server_cpu=%.0f%%", (double)server / w);
	printf(" load_cpu=%.0f%%", (double)self / w);
	if (server && busy)
		printf(" other_cpu=%.0f%%", busy > mine ?
		       (double)(busy - mine) / w : 0.0);
	printf("\n");
}

/* --- the run --- */

static void load_start(struct load *l)
{
	l->running = true;
	for (long i = 0; i < l->o.clients; i++) {
		struct load_client *c = &l->c[i];
		clock_feed(c->dev);
		for (long s = 0; s < l->o.window; s++)
			load_lookup(c, (unsigned)s);
		load_flush(c);
	}
}

/* Runs the event loop until the clock passes end or the run fails. */
static void load_loop(struct load *l, int ep, uint64_t end, bool until_registered)
{
	struct epoll_event ev[LOAD_BATCH];
	uint64_t next_tick = 0, next_report = clock_mono_ns() + NSEC_PER_SEC;
	uint64_t reported = l->done;

	while (!l->failed) {
		uint64_t now = clock_mono_ns();
		if (now >= end ||
		    (until_registered && l->n_registered == (unsigned)l->o.clients))
			return;
		if (now >= next_tick) {
			for (long i = 0; i < l->o.clients; i++)
				load_tick(l, &l->c[i]);
			next_tick = now + LOAD_TICK_NS;
		}
		if (l->o.progress && l->measuring && now >= next_report) {
			fprintf(stderr, "ctlload: %llu lookups/s\n",
				(unsigned long long)(l->done - reported));
			reported = l->done;
			next_report += NSEC_PER_SEC;
		}
		int n = epoll_wait(ep, ev, LOAD_BATCH, 5);
		for (int i = 0; i < n; i++)
			load_receive(l, ev[i].data.ptr);
	}
}

/* CPU times at the edges of the measured window. */
struct load_cpu_mark {
	uint64_t wall, server, self, busy;
};

static void load_cpu_mark(struct load_cpu_mark *m, long server_pid, int cpu)
{
	m->server = server_pid ? load_cpu_of(server_pid) : 0;
	m->self = load_cpu_self();
	m->busy = load_cpu_busy(cpu);
	m->wall = clock_mono_ns();
}

static void load_report(const struct load *l, const struct load_cpu_mark *a,
			const struct load_cpu_mark *b, int cpu)
{
	double s = (double)(b->wall - a->wall) / 1e9;

	printf("lookups=%llu seconds=%.3f rate=%.0f/s errors=%llu timeouts=%llu "
	       "clients=%ld window=%ld by=%s notifies=%llu avg_latency_us=%.0f",
	       (unsigned long long)l->done, s, (double)l->done / s,
	       (unsigned long long)l->errors, (unsigned long long)l->timeouts,
	       l->o.clients, l->o.window,
	       (const char *[]){ "ipv4", "ipv6", "name", "mix" }[l->o.by],
	       (unsigned long long)l->notifies,
	       l->done ? (double)l->latency_ns / (double)l->done / 1e3 : 0.0);
	load_print_cpu(b->wall - a->wall,
		       a->server && b->server ? b->server - a->server : 0,
		       b->self - a->self, a->busy && b->busy ? b->busy - a->busy : 0,
		       cpu >= 0);
	fflush(stdout);
}

static int load_run(struct load *l, int ep)
{
	uint64_t t0 = clock_mono_ns();
	int cpu = load_cpu_pinned(l->o.server_pid);
	struct load_cpu_mark a, b;

	load_loop(l, ep, t0 + LOAD_REGISTER_NS, true);
	if (l->failed || l->n_registered < (unsigned)l->o.clients) {
		fprintf(stderr, "ctlload: %u of %ld clients registered within 60 s\n",
			l->n_registered, l->o.clients);
		return 1;
	}
	fprintf(stderr, "ctlload: %ld clients registered in %.3f s\n", l->o.clients,
		(double)(clock_mono_ns() - t0) / 1e9);
	load_start(l);
	load_loop(l, ep, clock_mono_ns() + (uint64_t)l->o.warmup * NSEC_PER_SEC, false);
	l->measuring = true;
	load_cpu_mark(&a, l->o.server_pid, cpu);
	load_loop(l, ep, a.wall + (uint64_t)l->o.seconds * NSEC_PER_SEC, false);
	load_cpu_mark(&b, l->o.server_pid, cpu);
	l->measuring = l->running = false;
	if (l->failed)
		return 1;
	load_report(l, &a, &b, cpu);
	return 0;
}

/* --- command line --- */

static bool load_by_parse(const char *v, enum load_by *by)
{
	static const char *const names[] = { "ipv4", "ipv6", "name", "mix" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(v, names[i])) {
			*by = (enum load_by)i;
			return true;
		}
	return false;
}

static bool load_parse(int argc, char **argv, struct load_opts *o)
{
	int i;

	*o = (struct load_opts){ .clients = 64, .window = 8, .seconds = 10,
				 .warmup = 1, .timeout_ms = 2000 };
	for (i = 1; i < argc - 1; i++) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--progress")) {
			o->progress = true;
			continue;
		}
		if (!strcmp(a, "--targets")) o->targets = v;
		else if (!strcmp(a, "--clients")) o->clients = strtol(v, NULL, 10);
		else if (!strcmp(a, "--window")) o->window = strtol(v, NULL, 10);
		else if (!strcmp(a, "--seconds")) o->seconds = strtol(v, NULL, 10);
		else if (!strcmp(a, "--warmup")) o->warmup = strtol(v, NULL, 10);
		else if (!strcmp(a, "--timeout-ms")) o->timeout_ms = strtol(v, NULL, 10);
		else if (!strcmp(a, "--server-pid")) o->server_pid = strtol(v, NULL, 10);
		else if (!strcmp(a, "--by")) {
			if (!load_by_parse(v, &o->by))
				return false;
		} else
			break;
		i++;
	}
	o->token = argv[i];
	return i == argc - 1 && o->targets &&
	       o->clients >= 1 && o->clients <= LOAD_MAX_CLIENTS &&
	       o->window >= 1 && o->window <= LOAD_MAX_WINDOW &&
	       o->seconds >= 1 && o->seconds <= LOAD_MAX_SECONDS &&
	       o->warmup >= 0 && o->warmup <= 60 &&
	       o->timeout_ms >= 10 && o->timeout_ms <= 60000 &&
	       o->server_pid >= 0;
}

static bool load_setup(struct load *l, int ep)
{
	struct token t;
	char err[256];
	bool ok;

	if (token_parse(l->o.token, strlen(l->o.token), &t, err, sizeof(err))) {
		fprintf(stderr, "ctlload: %s\n", err);
		return false;
	}
	ok = load_endpoint(l, &t);
	memcpy(l->server_pub, t.server_pub, 32);
	memcpy(l->secret, t.secret, 32);
	token_wipe(&t);
	if (!ok || !load_targets_read(l) || !crypto_random(&l->rng, sizeof(l->rng)))
		return false;
	l->rng |= 1;
	if (!(l->c = calloc((size_t)l->o.clients, sizeof(*l->c))))
		return false;
	for (long i = 0; i < l->o.clients; i++)
		l->c[i].fd = -1;
	for (long i = 0; i < l->o.clients; i++)
		if (!load_client_open(l, &l->c[i], ep)) {
			fprintf(stderr, "ctlload: client %ld: setup failed: %s\n", i,
				strerror(errno));
			return false;
		}
	return true;
}

int main(int argc, char **argv)
{
	static struct load l;
	int ep, rc = 1;

	if (argc < 2 || !load_parse(argc, argv, &l.o)) {
		fprintf(stderr, "usage: ctlload --targets FILE [--clients K] [--window W] "
			"[--seconds S] [--warmup S] [--by ipv4|ipv6|name|mix] "
			"[--timeout-ms MS] [--server-pid PID] [--progress] TOKEN\n");
		return 2;
	}
	if (!crypto_init()) {
		fprintf(stderr, "ctlload: crypto library did not initialise\n");
		return 1;
	}
	noise_init();
	/* The hard cap: registration, warmup, the run and a margin. */
	alarm((unsigned)(60 + l.o.warmup + l.o.seconds + 30));
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		fprintf(stderr, "ctlload: epoll: %s\n", strerror(errno));
		return 1;
	}
	if (load_setup(&l, ep))
		rc = load_run(&l, ep);
	load_close(&l);
	close(ep);
	return rc;
}
