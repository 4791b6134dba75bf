/*
 * ctlprobe — a minimal control-protocol client for tests: joins a server
 * with a token over a real WireGuard session (the engine, a UDP socket,
 * ctl messages wrapped by ctlnet), then looks peers up and prints what
 * the server pushes.  One result per line, for scripts:
 *
 *   ctlprobe [--key-file F] [--hostname NAME] [--zero-secret |
 *            --skip-register] [--lookup TARGET]... [--wait SECONDS]
 *            [--until-notify KIND] [--logout] [--count N] TOKEN
 *
 *   registered id=N ipv4=A/L ipv6=A/L name=FQDN
 *   lookup TARGET key=BASE64 ipv4=A ipv6=A name=FQDN endpoints=E,...
 *   notify KIND id=N key=BASE64 [name=FQDN ipv4=A ipv6=A endpoints=E,...]
 *   error REQUEST code=NAME message=TEXT
 *
 * --key-file keeps the node's private key across runs (created 0600), so a
 * second run is a reconnect.  --zero-secret registers with an all-zero
 * join secret, as an agent reconnects by its known key; --skip-register
 * sends the lookups without registering (a session the server does not
 * count as registered).  A lookup TARGET is an address, a base64 public
 * key or a name.  The token still gives the server's key and
 * endpoint.  --until-notify ends --wait early once a NOTIFY of that kind
 * (peer_wants_connect, peer_changed, peer_removed) arrived.  --count N
 * repeats the lookups N times and prints the rate (a small load
 * generator; loopback or test namespaces).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "ctlnet.h"
#include "device.h"
#include "token.h"
#include "uapi.h"

#define PROBE_PORT 40000
#define PROBE_MAX_LOOKUPS 16

struct probe {
	int fd;
	struct wg_device *dev;
	struct wg_peer *server;
	struct ctl_msg reply;
	bool have_reply;
	uint64_t waiting_for;
	unsigned until_kind;		/* --until-notify; 0 = none */
	bool until_seen;
	_Alignas(16) uint8_t buf[WG_HEADROOM + 2048 + WG_TAILROOM];
};

static void probe_udp_send(void *ctx, const union wg_sockaddr *to,
			   const uint8_t *msg, size_t len)
{
	struct probe *p = ctx;

	sendto(p->fd, msg, len, 0, &to->sa, wg_sockaddr_len(to));
}

static void probe_print_addrs(const struct ctl_msg *m)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET, m->ipv4.addr, a4, sizeof(a4));
	inet_ntop(AF_INET6, m->ipv6.addr, a6, sizeof(a6));
	printf("ipv4=%s ipv6=%s name=%s endpoints=", a4, a6, m->name);
	for (size_t i = 0; i < m->n_endpoints; i++) {
		char e[INET6_ADDRSTRLEN];
		const struct ctl_endpoint *ep = &m->endpoints[i];
		inet_ntop(ep->family == CTL_FAMILY_IPV4 ? AF_INET : AF_INET6,
			  ep->addr, e, sizeof(e));
		printf(ep->family == CTL_FAMILY_IPV4 ? "%s%s:%u" : "%s[%s]:%u",
		       i ? "," : "", e, ep->port);
	}
}

static void probe_print_node(const struct ctl_msg *m)
{
	char key[45];

	key_to_base64(key, m->public_key);
	printf("key=%s ", key);
	probe_print_addrs(m);
}

static void probe_send(struct probe *p, const struct ctl_msg *m)
{
	uint8_t msg[CTL_MAX_MSG];
	int n = ctl_encode(m, msg, sizeof(msg));
	size_t len;

	if (n < 0)
		return;
	len = ctlnet_wrap(p->buf + WG_HEADROOM, 2048, CTLNET_TO_SERVER,
			  PROBE_PORT, msg, (size_t)n);
	clock_feed(p->dev);
	wg_peer_send_packet(p->server, p->buf, len);
}

/* A NOTIFY is printed and acknowledged; a reply is kept for the caller. */
static void probe_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			  size_t len)
{
	struct probe *p = ctx;
	const uint8_t *payload;
	size_t plen;
	uint16_t port;
	struct ctl_msg m, ok;

	if (peer != p->server ||
	    !ctlnet_unwrap(pkt, len, CTLNET_TO_NODE, &payload, &plen, &port) ||
	    ctl_decode(payload, plen, &m))
		return;
	if (m.type == CTL_NOTIFY) {
		char key[45];
		key_to_base64(key, m.public_key);
		printf("notify %s id=%llu key=%s", ctl_notify_name(m.notify_kind),
		       (unsigned long long)m.node_id, key);
		if (m.present & CTL_HAS(CTL_T_NAME)) {
			printf(" ");
			probe_print_addrs(&m);
		}
		printf("\n");
		fflush(stdout);
		if (m.notify_kind == p->until_kind)
			p->until_seen = true;
		ctl_msg_init(&ok, CTL_OK, m.request_id);
		probe_send(p, &ok);
		return;
	}
	if (m.request_id == p->waiting_for) {
		p->reply = m;
		p->have_reply = true;
	}
}

static const struct wg_ops probe_ops = {
	.send = probe_udp_send, .deliver = probe_deliver,
};

/* Runs the engine until a reply arrives or deadline (monotonic ns). */
static void probe_pump(struct probe *p, uint64_t deadline)
{
	_Alignas(16) uint8_t rx[2048];

	while ((!p->have_reply || !p->waiting_for) &&
	       !(p->until_seen && !p->waiting_for)) {
		union wg_sockaddr from;
		socklen_t fl = sizeof(from);
		uint64_t now = clock_mono_ns(), next;
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		int ms;
		ssize_t n;

		if (now >= deadline)
			return;
		clock_feed(p->dev);
		next = wg_device_tick(p->dev);
		if (!next || next > deadline)
			next = deadline;
		ms = next > now ? (int)((next - now) / 1000000) + 1 : 0;
		if (poll(&pfd, 1, ms) <= 0)
			continue;
		n = recvfrom(p->fd, rx, sizeof(rx), 0, &from.sa, &fl);
		if (n <= 0)
			continue;
		clock_feed(p->dev);
		wg_device_receive(p->dev, &from, rx, (size_t)n);
	}
}

/* Sends m and waits up to 10 s for its answer (resending each second,
 * as requests are idempotent). */
static bool probe_request(struct probe *p, struct ctl_msg *m)
{
	uint64_t end = clock_mono_ns() + 10 * NSEC_PER_SEC;

	p->waiting_for = m->request_id;
	p->have_reply = false;
	while (!p->have_reply && clock_mono_ns() < end) {
		probe_send(p, m);
		probe_pump(p, clock_mono_ns() + NSEC_PER_SEC);
	}
	p->waiting_for = 0;
	if (p->have_reply && p->reply.type == CTL_ERROR) {
		printf("error %s code=%s message=%s\n", ctl_type_name(m->type),
		       ctl_error_name(p->reply.error_code), p->reply.error_msg);
		return false;
	}
	if (!p->have_reply)
		printf("error %s code=timeout message=no answer from the server\n",
		       ctl_type_name(m->type));
	return p->have_reply;
}

static bool probe_key(uint8_t priv[32], const char *file)
{
	char b64[64];
	int fd;
	ssize_t n;

	if (!file)
		return crypto_x25519_generate(priv);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, b64, sizeof(b64) - 1);
		close(fd);
		return n >= 44 && key_from_base64(priv, b64, 44);
	}
	if (!crypto_x25519_generate(priv))
		return false;
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	key_to_base64(b64, priv);
	b64[44] = '\n';
	n = fd >= 0 ? write(fd, b64, 45) : -1;
	if (fd >= 0)
		close(fd);
	crypto_wipe(b64, sizeof(b64));
	return n == 45;
}

static bool probe_setup(struct probe *p, const struct token *t,
			const char *keyfile)
{
	union wg_sockaddr ep = { 0 };
	uint8_t priv[32];
	const struct token_endpoint *te = &t->endpoints[0];
	static const uint8_t ctl_server[16] = { 0xfe, 0x80, [15] = 1 };
	bool ok;

	if (te->kind == TOKEN_HOST_IPV6) {
		ep.in6.sin6_family = AF_INET6;
		memcpy(&ep.in6.sin6_addr, te->addr, 16);
		ep.in6.sin6_port = htons(te->port);
	} else if (te->kind == TOKEN_HOST_IPV4) {
		ep.in4.sin_family = AF_INET;
		memcpy(&ep.in4.sin_addr, te->addr, 4);
		ep.in4.sin_port = htons(te->port);
	} else {
		fprintf(stderr, "ctlprobe: needs a numeric server endpoint\n");
		return false;
	}
	p->fd = socket(ep.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	p->dev = wg_device_new(&probe_ops, p);
	if (p->fd < 0 || !p->dev || !probe_key(priv, keyfile)) {
		fprintf(stderr, "ctlprobe: setup failed (socket, memory or key file)\n");
		return false;
	}
	clock_feed(p->dev);
	ok = !wg_device_set_private_key(p->dev, priv) &&
	     !wg_peer_new(p->dev, t->server_pub, &p->server) &&
	     !wg_peer_add_allowed_ip(p->server, AF_INET6, ctl_server, 128);
	crypto_wipe(priv, sizeof(priv));
	if (ok)
		wg_peer_set_endpoint(p->server, &ep);
	return ok;
}

/* TARGET is an address, a base64 public key or a name. */
static void probe_target(struct ctl_msg *m, const char *target)
{
	if (strlen(target) == 44 && key_from_base64(m->public_key, target, 44))
		m->present |= CTL_HAS(CTL_T_PUBLIC_KEY);
	else if (inet_pton(AF_INET, target, m->target_ipv4) == 1)
		m->present |= CTL_HAS(CTL_T_TARGET_IPV4);
	else if (inet_pton(AF_INET6, target, m->target_ipv6) == 1)
		m->present |= CTL_HAS(CTL_T_TARGET_IPV6);
	else {
		snprintf(m->name, sizeof(m->name), "%s", target);
		m->present |= CTL_HAS(CTL_T_NAME);
	}
}

static bool probe_register(struct probe *p, const struct token *t,
			   const char *hostname, bool zero_secret, uint64_t *req)
{
	struct ctl_msg m;
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	bool ok;

	ctl_msg_init(&m, CTL_REGISTER, ++*req);
	if (!zero_secret)
		memcpy(m.join_secret, t->secret, 32);
	snprintf(m.hostname, sizeof(m.hostname), "%s", hostname);
	m.present |= CTL_HAS(CTL_T_JOIN_SECRET) | CTL_HAS(CTL_T_HOSTNAME);
	ok = probe_request(p, &m);
	ctl_msg_wipe(&m);
	if (!ok)
		return false;
	inet_ntop(AF_INET, p->reply.ipv4.addr, a4, sizeof(a4));
	inet_ntop(AF_INET6, p->reply.ipv6.addr, a6, sizeof(a6));
	printf("registered id=%llu ipv4=%s/%u ipv6=%s/%u name=%s\n",
	       (unsigned long long)p->reply.node_id, a4, p->reply.ipv4.len, a6,
	       p->reply.ipv6.len, p->reply.name);
	return true;
}

int main(int argc, char **argv)
{
	static struct probe p;
	struct token t;
	const char *keyfile = NULL, *hostname = "probe", *lookups[PROBE_MAX_LOOKUPS];
	size_t n_lookups = 0;
	long wait_s = 0, count = 1;
	bool logout = false, zero = false, skip = false, ok = true;
	const char *until = NULL;
	char err[256];
	uint64_t req = 0;
	int i;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--key-file")) keyfile = argv[++i];
		else if (!strcmp(argv[i], "--hostname")) hostname = argv[++i];
		else if (!strcmp(argv[i], "--lookup") && n_lookups < PROBE_MAX_LOOKUPS)
			lookups[n_lookups++] = argv[++i];
		else if (!strcmp(argv[i], "--wait")) wait_s = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--count")) count = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--logout")) logout = true;
		else if (!strcmp(argv[i], "--zero-secret")) zero = true;
		else if (!strcmp(argv[i], "--skip-register")) skip = true;
		else if (!strcmp(argv[i], "--until-notify")) until = argv[++i];
		else break;
	}
	for (unsigned k = 1; until && k <= CTL_NOTIFY_PEER_REMOVED; k++)
		if (!strcmp(until, ctl_notify_name(k)))
			p.until_kind = k;
	if (i != argc - 1 || wait_s < 0 || wait_s > 600 || count < 1 ||
	    count > 10000000 || (zero && skip) || (until && !p.until_kind) ||
	    !crypto_init()) {
		fprintf(stderr, "usage: ctlprobe [--key-file F] [--hostname NAME] "
			"[--zero-secret | --skip-register] [--lookup TARGET]... "
			"[--wait S] [--until-notify KIND] [--count N] [--logout] TOKEN\n");
		return 2;
	}
	noise_init();
	if (token_parse(argv[i], strlen(argv[i]), &t, err, sizeof(err))) {
		fprintf(stderr, "ctlprobe: %s\n", err);
		return 2;
	}
	if (!probe_setup(&p, &t, keyfile) ||
	    (!skip && !probe_register(&p, &t, hostname, zero, &req))) {
		token_wipe(&t);
		return 1;
	}
	token_wipe(&t);
	uint64_t t0 = clock_mono_ns();
	for (long k = 0; k < count && ok; k++)
		for (size_t j = 0; j < n_lookups && ok; j++) {
			struct ctl_msg m;
			ctl_msg_init(&m, CTL_LOOKUP, ++req);
			probe_target(&m, lookups[j]);
			ok = probe_request(&p, &m);
			if (ok && count == 1) {
				printf("lookup %s ", lookups[j]);
				probe_print_node(&p.reply);
				printf("\n");
			}
		}
	if (count > 1 && ok) {
		double s = (double)(clock_mono_ns() - t0) / 1e9;
		printf("lookups=%ld seconds=%.3f rate=%.0f/s\n",
		       count * (long)n_lookups, s, (double)count * (double)n_lookups / s);
	}
	fflush(stdout);
	if (wait_s) {
		p.waiting_for = 0;
		p.have_reply = false;
		probe_pump(&p, clock_mono_ns() + (uint64_t)wait_s * NSEC_PER_SEC);
	}
	if (logout && ok) {
		struct ctl_msg m;
		ctl_msg_init(&m, CTL_LOGOUT, ++req);
		ok = probe_request(&p, &m);
		if (ok)
			printf("logged out\n");
	}
	wg_device_free(p.dev);
	close(p.fd);
	return ok ? 0 : 1;
}
