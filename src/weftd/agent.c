/*
 * agent — the node side of the control plane (docs/control-plane.md).
 *
 * The server is one more WireGuard peer of the interface's engine, with
 * the allowed IP fe80::1/128; control messages (ctl) ride inside that
 * session as UDP (ctlnet) and come back through the engine's deliver
 * callback.  Every request is idempotent: it is resent each second with
 * the same id until it is answered or its lifetime ends.
 *
 * On-demand peers: a packet to an overlay address no peer covers reaches
 * the no_route hook; it is queued (AGENT_QUEUE_PKTS per destination), the
 * server is asked (LOOKUP), and on the answer the peer is configured and
 * the queue sent through it.  "No such node" or "denied" turns the queue
 * into ICMP destination-unreachable errors written back into the TUN, and
 * is remembered for AGENT_NEGATIVE_TTL.  The server tells a target at the
 * same moment (NOTIFY peer_wants_connect), so both sides configure each
 * other and handshake together; peer_removed takes a peer away at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "crypto.h"
#include "ctlnet.h"
#include "encoding.h"
#include "icmp.h"
#include "ip.h"
#include "uapi.h"
#include "weftd.h"

#define AGENT_CTL_PORT 7947		/* our end of the control "UDP" */
#define AGENT_RESEND   NSEC_PER_SEC
#define AGENT_PING_TTL (3 * NSEC_PER_SEC)
#define AGENT_BUF      (WG_HEADROOM + 2048 + WG_TAILROOM)
/* A NOTIFY that a node wants to connect left the server together with
 * that node's LOOKUP_OK: its initiation follows within about a
 * millisecond (its peer setup, one DH, perhaps ARP). */
#define AGENT_NOTIFY_POLL 1500000ULL	/* ns */

static const uint8_t ctl_server_addr[16] = { 0xfe, 0x80, [15] = 1 };

const char *agent_state_name(enum agent_state s)
{
	switch (s) {
	case AGENT_NEEDS_LOGIN: return "needs-login";
	case AGENT_JOINING: return "joining";
	case AGENT_CONNECTING: return "connecting";
	case AGENT_RUNNING: return "running";
	case AGENT_DOWN: return "down";
	case AGENT_REMOVED: return "removed";
	}
	return "unknown";
}

static uint64_t agent_now(struct agent *a)
{
	return a->dp.dev->now;
}

/* --- peers --- */

struct apeer *agent_peer_by_addr(struct agent *a, int family,
				 const uint8_t *addr)
{
	for (struct apeer *p = a->peers; p; p = p->next)
		if (family == AF_INET ? !memcmp(p->ipv4, addr, 4)
				      : !memcmp(p->ipv6, addr, 16))
			return p;
	return NULL;
}

/* A full name, or its first label ("robot2" for "robot2.lab.weft"). */
struct apeer *agent_peer_by_name(struct agent *a, const char *name)
{
	size_t n = strlen(name);

	for (struct apeer *p = a->peers; p; p = p->next)
		if (!strcasecmp(p->name, name) ||
		    (!strncasecmp(p->name, name, n) && p->name[n] == '.'))
			return p;
	return NULL;
}

struct apeer *agent_peer_by_id(struct agent *a, uint64_t id)
{
	for (struct apeer *p = a->peers; p; p = p->next)
		if (p->node_id == id)
			return p;
	return NULL;
}

static void agent_peer_free(struct agent *a, struct apeer *p)
{
	struct apeer **pp = &a->peers;

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	for (int i = 0; i < AGENT_MAX_PINGS; i++)
		if (a->pings[i].used && a->pings[i].peer == p)
			a->pings[i].peer = NULL;
	if (p->wp)
		wg_peer_remove(p->wp);
	a->n_peers--;
	free(p);
}

bool agent_can_send(const struct agent *a, const union wg_sockaddr *sa)
{
	return (sa->sa.sa_family == AF_INET && a->dp.udp4 >= 0) ||
	       (sa->sa.sa_family == AF_INET6 && a->dp.udp6 >= 0);
}

void agent_sockaddr(const struct ctl_endpoint *e, union wg_sockaddr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (e->family == CTL_FAMILY_IPV4) {
		sa->in4.sin_family = AF_INET;
		memcpy(&sa->in4.sin_addr, e->addr, 4);
		sa->in4.sin_port = htons(e->port);
	} else {
		sa->in6.sin6_family = AF_INET6;
		memcpy(&sa->in6.sin6_addr, e->addr, 16);
		sa->in6.sin6_port = htons(e->port);
	}
}

/* Records what the server says of a node (LOOKUP_OK or NOTIFY) and
 * configures its WireGuard peer.  NULL when it cannot. */
static struct apeer *agent_peer_update(struct agent *a, const struct ctl_msg *m)
{
	struct apeer *p = agent_peer_by_id(a, m->node_id);
	union wg_sockaddr ep;
	bool fresh;

	if (!memcmp(m->public_key, a->conf.server_pub, 32) ||
	    m->node_id == a->conf.node_id)
		return NULL;	/* the server is no peer, nor are we */
	if (p && memcmp(p->pub, m->public_key, 32)) {
		agent_peer_free(a, p);	/* it has a new key: start over */
		p = NULL;
	}
	if (!p) {
		struct wg_peer *old = wg_peer_find(a->dp.dev, m->public_key);
		if (old)
			wg_peer_remove(old);
		if (!(p = calloc(1, sizeof(*p))))
			return NULL;
		if (wg_peer_new(a->dp.dev, m->public_key, &p->wp)) {
			free(p);
			return NULL;
		}
		p->node_id = m->node_id;
		memcpy(p->pub, m->public_key, 32);
		p->wp->user = p;
		p->best = -1;
		p->next = a->peers;
		a->peers = p;
		a->n_peers++;
	}
	dp_log(LOG_VERBOSE, "peer %s (node %llu): %u endpoint(s)", m->name,
	       (unsigned long long)m->node_id, m->n_endpoints);
	snprintf(p->name, sizeof(p->name), "%s", m->name);
	memcpy(p->ipv4, m->ipv4.addr, 4);
	memcpy(p->ipv6, m->ipv6.addr, 16);
	p->n_endpoints = m->n_endpoints;
	memcpy(p->endpoints, m->endpoints, sizeof(p->endpoints));
	wg_peer_clear_allowed_ips(p->wp);
	wg_peer_add_allowed_ip(p->wp, AF_INET, p->ipv4, 32);
	wg_peer_add_allowed_ip(p->wp, AF_INET6, p->ipv6, 128);
	/* The first candidate is what the server sees (its NAT's face);
	 * a session that works keeps the endpoint roaming taught it. */
	fresh = !p->wp->last_received ||
		agent_now(a) - p->wp->last_received > 15 * NSEC_PER_SEC;
	if (fresh || !p->wp->has_endpoint) {
		/* Through the relay at once when it is up (the handshake
		 * also goes straight to the first candidate: agent_send),
		 * else the first candidate; probes then find the best way. */
		if (relayc_ready(a)) {
			ep = relayc_endpoint(p->node_id);
			wg_peer_set_endpoint(p->wp, &ep);
		} else if (p->n_endpoints) {
			agent_sockaddr(&p->endpoints[0], &ep);
			wg_peer_set_endpoint(p->wp, &ep);
		}
	}
	path_update(a, p);
	return p;
}

/* No server peer, no relay (a refused join, `weft down`, a new server). */
static void agent_server_drop(struct agent *a)
{
	if (a->server)
		wg_peer_remove(a->server);
	a->server = NULL;
	a->server_via_relay = false;
	relayc_stop(a);
}

static void agent_remove_all_peers(struct agent *a)
{
	while (a->peers)
		agent_peer_free(a, a->peers);
}

/* --- control requests --- */

static void agent_ctl_send(struct agent *a, const uint8_t *msg, size_t len)
{
	static _Alignas(16) uint8_t buf[AGENT_BUF];
	size_t n;

	if (!a->server)
		return;
	n = ctlnet_wrap(buf + WG_HEADROOM, AGENT_BUF - WG_HEADROOM - WG_TAILROOM,
			CTLNET_TO_SERVER, AGENT_CTL_PORT, msg, len);
	if (n)
		wg_peer_send_packet(a->server, buf, n);
}

static struct agent_req *agent_req_find(struct agent *a, uint64_t id)
{
	for (int i = 0; i < AGENT_MAX_REQS; i++)
		if (a->reqs[i].used && a->reqs[i].id == id)
			return &a->reqs[i];
	return NULL;
}

/* Encodes m (its id is assigned here) and sends it; NULL when the table
 * is full or m does not encode. */
static struct agent_req *agent_request(struct agent *a, struct ctl_msg *m,
				       enum req_purpose purpose,
				       struct local_conn *waiter)
{
	struct agent_req *r = NULL;
	int n;

	for (int i = 0; i < AGENT_MAX_REQS && !r; i++)
		if (!a->reqs[i].used)
			r = &a->reqs[i];
	if (!r || !a->server)
		return NULL;
	m->request_id = ++a->next_id;
	n = ctl_encode(m, r->wire, sizeof(r->wire));
	if (n < 0)
		return NULL;
	r->used = true;
	r->purpose = (uint8_t)purpose;
	r->id = m->request_id;
	r->len = (size_t)n;
	r->sends = 1;
	r->next_send = agent_now(a) + AGENT_RESEND;
	r->deadline = agent_now(a) + AGENT_REQ_LIFETIME;
	r->waiter = waiter;
	agent_ctl_send(a, r->wire, r->len);
	dp_expect_answer(&a->dp);
	agent_soon(a);
	return r;
}

static void agent_req_done(struct agent_req *r)
{
	crypto_wipe(r->wire, sizeof(r->wire));	/* a REGISTER holds a secret */
	r->used = false;
	r->held = false;
	r->waiter = NULL;
}

void agent_forget_waiter(struct agent *a, struct local_conn *c)
{
	for (int i = 0; i < AGENT_MAX_REQS; i++)
		if (a->reqs[i].waiter == c)
			a->reqs[i].waiter = NULL;
	for (int i = 0; i < AGENT_MAX_PINGS; i++)
		if (a->pings[i].waiter == c)
			a->pings[i].used = false;
	discover_forget_waiter(a, c);
}

/* Our candidate endpoints: every address of an interface that is up,
 * except loopback, link-local IPv6 and the overlay itself, with our port. */
static void agent_candidates(struct agent *a, struct ctl_msg *m)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i && m->n_endpoints < CTL_MAX_ENDPOINTS; i = i->ifa_next) {
		struct ctl_endpoint *e = &m->endpoints[m->n_endpoints];
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK) || !strcmp(i->ifa_name, a->dp.ifname))
			continue;
		memset(e, 0, sizeof(*e));
		e->port = a->dp.port;
		if (i->ifa_addr->sa_family == AF_INET) {
			e->family = CTL_FAMILY_IPV4;
			memcpy(e->addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6 && a->dp.udp6 >= 0) {
			const uint8_t *b = (const uint8_t *)
				&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
				continue;
			e->family = CTL_FAMILY_IPV6;
			memcpy(e->addr, b, 16);
		} else {
			continue;
		}
		m->n_endpoints++;
	}
	freeifaddrs(ifa);
	/* and what STUN saw of us, when it is not one of those */
	union wg_sockaddr refl[DISC_MAX_TARGETS];
	unsigned n = discover_candidates(a, refl, DISC_MAX_TARGETS);
	for (unsigned k = 0; k < n && m->n_endpoints < CTL_MAX_ENDPOINTS; k++) {
		struct ctl_endpoint *e = &m->endpoints[m->n_endpoints];
		memset(e, 0, sizeof(*e));
		if (refl[k].sa.sa_family == AF_INET) {
			e->family = CTL_FAMILY_IPV4;
			memcpy(e->addr, &refl[k].in4.sin_addr, 4);
			e->port = ntohs(refl[k].in4.sin_port);
		} else {
			e->family = CTL_FAMILY_IPV6;
			memcpy(e->addr, &refl[k].in6.sin6_addr, 16);
			e->port = ntohs(refl[k].in6.sin6_port);
		}
		bool dup = false;
		for (unsigned j = 0; j < m->n_endpoints; j++)
			dup |= !memcmp(&m->endpoints[j], e, sizeof(*e));
		if (!dup)
			m->n_endpoints++;
	}
}

static void agent_send_register(struct agent *a, enum req_purpose purpose,
				struct local_conn *waiter)
{
	struct ctl_msg m;

	/* One registration at a time. */
	for (int i = 0; i < AGENT_MAX_REQS; i++)
		if (a->reqs[i].used && (a->reqs[i].purpose == REQ_JOIN ||
					a->reqs[i].purpose == REQ_RECONNECT)) {
			if (waiter && !a->reqs[i].waiter)
				a->reqs[i].waiter = waiter;
			return;
		}
	ctl_msg_init(&m, CTL_REGISTER, 0);
	if (purpose == REQ_JOIN)
		memcpy(m.join_secret, a->join_secret, 32);
	snprintf(m.hostname, sizeof(m.hostname), "%s", a->hostname);
	m.present |= CTL_HAS(CTL_T_JOIN_SECRET) | CTL_HAS(CTL_T_HOSTNAME);
	agent_candidates(a, &m);
	agent_request(a, &m, purpose, waiter);
	ctl_msg_wipe(&m);
}

static void agent_send_endpoints(struct agent *a)
{
	struct ctl_msg m;

	ctl_msg_init(&m, CTL_ENDPOINTS, 0);
	agent_candidates(a, &m);
	if (m.n_endpoints)
		agent_request(a, &m, REQ_ENDPOINTS, NULL);
}

void agent_endpoints_changed(struct agent *a)
{
	agent_send_endpoints(a);
}

static void agent_send_lookup(struct agent *a, struct lookup *l)
{
	struct ctl_msg m;
	struct agent_req *r;

	ctl_msg_init(&m, CTL_LOOKUP, 0);
	if (l->family == AF_INET) {
		memcpy(m.target_ipv4, l->addr, 4);
		m.present |= CTL_HAS(CTL_T_TARGET_IPV4);
	} else {
		memcpy(m.target_ipv6, l->addr, 16);
		m.present |= CTL_HAS(CTL_T_TARGET_IPV6);
	}
	r = agent_request(a, &m, REQ_LOOKUP_ADDR, NULL);
	l->req_id = r ? r->id : 0;
	a->stat_lookups++;
}

/* --- the packet queue and ICMP errors --- */

static void agent_icmp(struct agent *a, const uint8_t *pkt, size_t len,
		       uint16_t code)
{
	uint8_t out[1280];
	size_t n = icmp_unreachable(out, sizeof(out), pkt, len,
				    code == CTL_ERR_DENIED ? ICMP_UNREACH_ADMIN
							   : ICMP_UNREACH_HOST);

	if (n) {
		dp_tun_write_packet(&a->dp, out, n);
		a->stat_icmp_sent++;
	}
}

static void agent_lookup_free(struct agent *a, struct lookup *l)
{
	struct lookup **pp = &a->lookups;

	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp)
		*pp = l->next;
	for (size_t i = 0; i < l->n; i++)
		free(l->pkts[i]);
	a->n_lookups--;
	free(l);
}

/* The queue goes out through the engine (the peer exists now) or comes
 * back as ICMP errors (code != 0). */
static void agent_lookup_finish(struct agent *a, struct lookup *l, uint16_t code)
{
	for (size_t i = 0; i < l->n; i++) {
		if (code)
			agent_icmp(a, l->pkts[i] + WG_HEADROOM, l->lens[i], code);
		else
			wg_device_send(a->dp.dev, l->pkts[i], l->lens[i]);
		free(l->pkts[i]);
	}
	l->n = 0;
	l->req_id = 0;
	if (!code || code == CTL_ERR_INTERNAL)
		agent_lookup_free(a, l);
	else {
		l->negative_until = agent_now(a) + AGENT_NEGATIVE_TTL;
		l->neg_code = code;
	}
}

static struct lookup *agent_lookup_find(struct agent *a, int family,
					const uint8_t *addr)
{
	for (struct lookup *l = a->lookups; l; l = l->next)
		if (l->family == family &&
		    !memcmp(l->addr, addr, family == AF_INET ? 4 : 16))
			return l;
	return NULL;
}

static bool agent_in_overlay(struct agent *a, int family, const uint8_t *addr)
{
	const uint8_t *net = family == AF_INET ? a->conf.ipv4.addr : a->conf.ipv6.addr;
	unsigned bits = family == AF_INET ? a->conf.ipv4.len : a->conf.ipv6.len;

	for (unsigned i = 0; i < bits; i++) {
		unsigned byte = i / 8, mask = 0x80u >> (i % 8);
		if ((addr[byte] ^ net[byte]) & mask)
			return false;
	}
	return true;
}

static void agent_no_route(void *ctx, const uint8_t *buf, size_t len)
{
	struct agent *a = ctx;
	struct ip_info ip;
	struct lookup *l;
	uint8_t *copy;

	if (!ip_parse(buf + WG_HEADROOM, len, &ip))
		return;
	if (a->state != AGENT_RUNNING && a->state != AGENT_CONNECTING)
		return;
	if (!agent_in_overlay(a, ip.family, ip.dst) ||
	    !memcmp(ip.dst, ip.family == AF_INET ? a->conf.ipv4.addr
						  : a->conf.ipv6.addr,
		    ip.family == AF_INET ? 4 : 16))
		return;
	l = agent_lookup_find(a, ip.family, ip.dst);
	if (l && l->negative_until) {
		if (agent_now(a) < l->negative_until) {
			agent_icmp(a, buf + WG_HEADROOM, len, l->neg_code);
			return;
		}
		agent_lookup_free(a, l);
		l = NULL;
	}
	if (!l) {
		if (a->n_lookups >= AGENT_MAX_LOOKUPS || !(l = calloc(1, sizeof(*l)))) {
			a->stat_queue_dropped++;
			return;
		}
		l->family = ip.family;
		memcpy(l->addr, ip.dst, ip.family == AF_INET ? 4 : 16);
		l->born = agent_now(a);
		l->next = a->lookups;
		a->lookups = l;
		a->n_lookups++;
		if (a->state == AGENT_RUNNING)
			agent_send_lookup(a, l);
	}
	if (l->n == AGENT_QUEUE_PKTS || !(copy = malloc(WG_HEADROOM + len + WG_TAILROOM))) {
		a->stat_queue_dropped++;
		return;
	}
	memcpy(copy + WG_HEADROOM, buf + WG_HEADROOM, len);
	l->pkts[l->n] = copy;
	l->lens[l->n++] = len;
}

/* --- pings --- */

static void agent_ping_send(struct agent *a, struct apeer *p,
			    struct local_conn *waiter)
{
	static _Alignas(16) uint8_t buf[WG_HEADROOM + 256 + WG_TAILROOM];
	struct ping *g = NULL;
	size_t n;

	for (int i = 0; i < AGENT_MAX_PINGS && !g; i++)
		if (!a->pings[i].used)
			g = &a->pings[i];
	if (!g) {
		local_reply_error(a, waiter, "too many pings in flight");
		return;
	}
	g->used = true;
	g->seq = ++a->ping_seq;
	g->peer = p;
	g->waiter = waiter;
	g->sent = clock_mono_ns();
	g->deadline = agent_now(a) + AGENT_PING_TTL;
	agent_soon(a);
	n = icmp_echo_request(buf + WG_HEADROOM, 256, AF_INET, a->conf.ipv4.addr,
			      p->ipv4, a->ping_ident, g->seq, 56);
	clock_feed(a->dp.dev);
	wg_device_send(a->dp.dev, buf, n);
}

static bool agent_ping_reply(struct agent *a, struct wg_peer *wp,
			     const uint8_t *pkt, size_t len)
{
	int family;
	uint16_t ident, seq;
	const uint8_t *src;
	char ep[TOKEN_ENDPOINTS_MAX + 8] = "", addr[INET_ADDRSTRLEN];
	struct json_object *o;

	if (!icmp_echo_reply_parse(pkt, len, &family, &ident, &seq, &src) ||
	    ident != a->ping_ident || family != AF_INET)
		return false;
	for (int i = 0; i < AGENT_MAX_PINGS; i++) {
		struct ping *g = &a->pings[i];
		if (!g->used || g->seq != seq || !g->peer || g->peer->wp != wp)
			continue;
		g->used = false;
		inet_ntop(AF_INET, g->peer->ipv4, addr, sizeof(addr));
		bool relayed = wp->has_endpoint && wg_sockaddr_is_relay(&wp->endpoint);
		if (relayed)
			snprintf(ep, sizeof(ep), "%s", a->conf.endpoints);
		else if (wp->has_endpoint)
			uapi_format_endpoint(ep, sizeof(ep), &wp->endpoint);
		o = json_object_new_object();
		json_object_object_add(o, "peer", json_object_new_string(g->peer->name));
		json_object_object_add(o, "address", json_object_new_string(addr));
		json_object_object_add(o, "rtt_ms", json_object_new_double(
			(double)(clock_mono_ns() - g->sent) / 1e6));
		json_object_object_add(o, "path", json_object_new_string(relayed ? "relay" : "direct"));
		json_object_object_add(o, "endpoint", json_object_new_string(ep));
		local_reply_ok(a, g->waiter, o);
		return true;
	}
	return true;	/* ours, but late: not for the TUN either */
}

int agent_ping(struct agent *a, const char *target, struct local_conn *waiter,
	       char *err, size_t errlen)
{
	struct apeer *p;
	struct ctl_msg m;
	uint8_t addr[16];

	if (a->state != AGENT_RUNNING && a->state != AGENT_CONNECTING) {
		snprintf(err, errlen, "not connected (%s)%s%s", agent_state_name(a->state),
			 a->last_error[0] ? ": " : "", a->last_error);
		return -ENOTCONN;
	}
	if (inet_pton(AF_INET, target, addr) == 1)
		p = agent_peer_by_addr(a, AF_INET, addr);
	else if (inet_pton(AF_INET6, target, addr) == 1)
		p = agent_peer_by_addr(a, AF_INET6, addr);
	else
		p = agent_peer_by_name(a, target);
	if (p) {
		agent_ping_send(a, p, waiter);
		return 0;
	}
	ctl_msg_init(&m, CTL_LOOKUP, 0);
	if (inet_pton(AF_INET, target, m.target_ipv4) == 1)
		m.present |= CTL_HAS(CTL_T_TARGET_IPV4);
	else if (inet_pton(AF_INET6, target, m.target_ipv6) == 1)
		m.present |= CTL_HAS(CTL_T_TARGET_IPV6);
	else if (strlen(target) == 0 || strlen(target) > CTL_NAME_MAX) {
		snprintf(err, errlen, "not a peer name or address: '%s'", target);
		return -EINVAL;
	} else {
		snprintf(m.name, sizeof(m.name), "%s", target);
		m.present |= CTL_HAS(CTL_T_NAME);
	}
	if (!agent_request(a, &m, REQ_LOOKUP_NAME, waiter)) {
		snprintf(err, errlen, "too many requests in flight");
		return -EBUSY;
	}
	return 0;
}

/* --- the server's answers --- */

static void agent_apply_addresses(struct agent *a, const struct node_conf *old)
{
	int ifx = a->dp.ifindex, r;

	if (old && (memcmp(&old->ipv4, &a->conf.ipv4, sizeof(old->ipv4)) ||
		    memcmp(&old->ipv6, &a->conf.ipv6, sizeof(old->ipv6)))) {
		netcfg_addr(ifx, false, AF_INET, old->ipv4.addr, old->ipv4.len);
		netcfg_addr(ifx, false, AF_INET6, old->ipv6.addr, old->ipv6.len);
	}
	if ((r = netcfg_link_up(ifx, true)) ||
	    (r = netcfg_addr(ifx, true, AF_INET, a->conf.ipv4.addr, a->conf.ipv4.len)) ||
	    (r = netcfg_addr(ifx, true, AF_INET6, a->conf.ipv6.addr, a->conf.ipv6.len)))
		dp_log(LOG_ERROR, "cannot configure %s: %s", a->dp.ifname, strerror(-r));
}

static struct json_object *agent_self_json(struct agent *a)
{
	struct json_object *o = json_object_new_object();
	char ip[INET6_ADDRSTRLEN];

	json_object_object_add(o, "name", json_object_new_string(a->conf.name));
	inet_ntop(AF_INET, a->conf.ipv4.addr, ip, sizeof(ip));
	json_object_object_add(o, "ipv4", json_object_new_string(ip));
	inet_ntop(AF_INET6, a->conf.ipv6.addr, ip, sizeof(ip));
	json_object_object_add(o, "ipv6", json_object_new_string(ip));
	return o;
}

static void agent_registered(struct agent *a, struct agent_req *r,
			     const struct ctl_msg *m)
{
	struct node_conf old = a->conf;
	bool had = a->have_conf;
	char err[256];

	a->conf.node_id = m->node_id;
	snprintf(a->conf.name, sizeof(a->conf.name), "%s", m->name);
	a->conf.ipv4 = m->ipv4;
	a->conf.ipv6 = m->ipv6;
	a->conf.down = false;
	crypto_wipe(a->join_secret, sizeof(a->join_secret));
	if (!had || memcmp(&old, &a->conf, sizeof(old))) {
		if (nodestate_save(a->conf_path, &a->conf, err, sizeof(err))) {
			dp_log(LOG_ERROR, "%s", err);
			snprintf(a->last_error, sizeof(a->last_error), "%s", err);
		}
	}
	a->have_conf = true;
	a->n_stun = m->n_stun;
	memcpy(a->stun, m->stun, sizeof(a->stun));
	agent_apply_addresses(a, had ? &old : NULL);
	if (a->state != AGENT_RUNNING)
		dp_log(LOG_INFO, "%s as %s (%s)", r->purpose == REQ_JOIN ?
		       "joined" : "connected", a->conf.name, a->dp.ifname);
	a->state = AGENT_RUNNING;
	a->last_error[0] = 0;
	a->next_heartbeat = agent_now(a) + AGENT_HEARTBEAT;
	if (r->waiter)
		local_reply_ok(a, r->waiter, agent_self_json(a));
	r->waiter = NULL;
	agent_send_endpoints(a);
	discover_start(a);
	/* After a gap, learn again what changed (and let the server know
	 * again who we talk to): the peers we have, the lookups waiting. */
	if (a->resync)
		for (struct apeer *p = a->peers; p; p = p->next) {
			struct ctl_msg q;
			ctl_msg_init(&q, CTL_LOOKUP, 0);
			memcpy(q.target_ipv4, p->ipv4, 4);
			q.present |= CTL_HAS(CTL_T_TARGET_IPV4);
			agent_request(a, &q, REQ_LOOKUP_ADDR, NULL);
		}
	a->resync = false;
	for (int i = 0; i < AGENT_MAX_REQS; i++)
		if (a->reqs[i].used && a->reqs[i].held) {
			a->reqs[i].held = false;
			a->reqs[i].next_send = agent_now(a) + AGENT_RESEND;
			agent_ctl_send(a, a->reqs[i].wire, a->reqs[i].len);
		}
	for (struct lookup *l = a->lookups; l; l = l->next)
		if (!l->req_id && !l->negative_until)
			agent_send_lookup(a, l);
}

static const char *agent_error_hint(uint16_t code)
{
	switch (code) {
	case CTL_ERR_UNAUTHORIZED: return "the server does not know this join key";
	case CTL_ERR_EXPIRED: return "the join key has expired, was used up or revoked";
	case CTL_ERR_EXHAUSTED: return "the network has no free address";
	default: return "the server refused";
	}
}

static void agent_register_failed(struct agent *a, struct agent_req *r,
				  const struct ctl_msg *m)
{
	const char *why = m && m->error_msg[0] ? m->error_msg :
			  m ? agent_error_hint(m->error_code) : NULL;

	if (r->purpose == REQ_JOIN) {
		crypto_wipe(a->join_secret, sizeof(a->join_secret));
		if (m)
			snprintf(a->last_error, sizeof(a->last_error),
				 "join refused: %s (%s)", why, ctl_error_name(m->error_code));
		else
			snprintf(a->last_error, sizeof(a->last_error),
				 "no answer from the server at %s within %d s",
				 a->conf.endpoints, (int)(AGENT_REQ_LIFETIME / NSEC_PER_SEC));
		agent_server_drop(a);
		a->state = AGENT_NEEDS_LOGIN;
		dp_log(LOG_ERROR, "%s", a->last_error);
		if (r->waiter)
			local_reply_error(a, r->waiter, "%s", a->last_error);
		r->waiter = NULL;
		return;
	}
	if (!m) {	/* no answer: keep trying, the server may be restarting */
		snprintf(a->last_error, sizeof(a->last_error),
			 "the server at %s does not answer", a->conf.endpoints);
		a->state = AGENT_CONNECTING;
		a->resync = true;
		if (r->waiter)
			local_reply_error(a, r->waiter, "%s; weftd keeps trying",
					  a->last_error);
		r->waiter = NULL;
		return;
	}
	snprintf(a->last_error, sizeof(a->last_error),
		 "the server refused this node: %s (%s)", why,
		 ctl_error_name(m->error_code));
	dp_log(LOG_ERROR, "%s", a->last_error);
	if (m->error_code == CTL_ERR_NOT_REGISTERED ||
	    m->error_code == CTL_ERR_EXPIRED ||
	    m->error_code == CTL_ERR_UNAUTHORIZED) {
		a->state = AGENT_REMOVED;
		agent_remove_all_peers(a);
	} else {
		a->state = AGENT_CONNECTING;
	}
	if (r->waiter)
		local_reply_error(a, r->waiter, "%s", a->last_error);
	r->waiter = NULL;
}

static void agent_answer(struct agent *a, struct agent_req *r,
			 const struct ctl_msg *m)
{
	struct lookup *l;
	struct apeer *p;

	switch (r->purpose) {
	case REQ_JOIN:
	case REQ_RECONNECT:
		if (m->type == CTL_REGISTER_OK)
			agent_registered(a, r, m);
		else
			agent_register_failed(a, r, m);
		break;
	case REQ_LOOKUP_ADDR:
		for (l = a->lookups; l && l->req_id != r->id; l = l->next)
			;
		if (m->type == CTL_LOOKUP_OK) {
			p = agent_peer_update(a, m);
			if (l)
				agent_lookup_finish(a, l, 0);
			if (p)
				path_probe(a, p);
		} else {
			if (l)
				agent_lookup_finish(a, l, m->error_code);
			/* A peer we had is gone (found out on a resync). */
			if ((m->error_code == CTL_ERR_NOT_FOUND ||
			     m->error_code == CTL_ERR_DENIED)) {
				struct ctl_msg q;
				if (!ctl_decode(r->wire, r->len, &q) &&
				    (q.present & CTL_HAS(CTL_T_TARGET_IPV4)) &&
				    (p = agent_peer_by_addr(a, AF_INET, q.target_ipv4)))
					agent_peer_free(a, p);
			}
		}
		break;
	case REQ_LOOKUP_KEY:
		if (m->type == CTL_LOOKUP_OK && (p = agent_peer_update(a, m))) {
			wg_peer_send_initiation(p->wp, false);
			path_probe(a, p);
		}
		break;
	case REQ_LOOKUP_NAME:
		if (!r->waiter)
			break;
		if (m->type == CTL_LOOKUP_OK && (p = agent_peer_update(a, m))) {
			agent_ping_send(a, p, r->waiter);
			path_probe(a, p);
		} else if (m->type == CTL_LOOKUP_OK)
			local_reply_error(a, r->waiter, "that is this node");
		else
			local_reply_error(a, r->waiter, "%s (%s)",
					  m->error_code == CTL_ERR_NOT_FOUND ?
					  "no such node in this network" : m->error_msg,
					  ctl_error_name(m->error_code));
		r->waiter = NULL;
		break;
	case REQ_LOGOUT:
		if (r->waiter) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "server_confirmed",
					       json_object_new_boolean(m->type == CTL_OK));
			local_reply_ok(a, r->waiter, o);
		}
		r->waiter = NULL;
		break;
	default:
		break;
	}
}

/* NOTIFYs are not acknowledged: the server keeps no state for them, and
 * an OK would wake it while the exchange it announced is under way.  A
 * lost NOTIFY costs little: the caller's initiation makes us look its key
 * up (agent_unknown_peer). */
static void agent_notify(struct agent *a, const struct ctl_msg *m)
{
	struct apeer *p;

	switch (m->notify_kind) {
	case CTL_NOTIFY_PEER_WANTS_CONNECT:
	case CTL_NOTIFY_PEER_CHANGED:
		p = agent_peer_update(a, m);
		/* Both sides probe each other's candidates (punching holes
		 * in NATs on the way); the bursts start at the next scan. */
		if (p)
			path_probe(a, p);
		/* The caller initiates as soon as its LOOKUP is answered; we
		 * only get ready for it (two initiations crossing would leave
		 * both sides responders until a retransmission).  If its
		 * initiation beat this NOTIFY and was dropped, we start. */
		/* A peer that changed (came back after a restart, moved)
		 * may have lost our session: a fresh handshake costs one
		 * round trip. */
		if (p && m->notify_kind == CTL_NOTIFY_PEER_CHANGED && p->wp->kp_cur) {
			/* Its keys may be gone (a restart): start over, at
			 * once or when §6.1's rate limit allows.  Ours stay in
			 * use meanwhile: a peer that only moved still has them,
			 * and its traffic goes on as soon as a probe finds its
			 * new address. */
			wg_peer_send_initiation(p->wp, true);
		}
		if (!p || m->notify_kind != CTL_NOTIFY_PEER_WANTS_CONNECT)
			break;
		/* its initiation is on its way: catch it without sleeping */
		dp_expect_answer_within(&a->dp, AGENT_NOTIFY_POLL);
		for (unsigned i = 0; i < 16; i++)
			if (!memcmp(a->early[i].pub, p->pub, 32) &&
			    agent_now(a) - a->early[i].when < REKEY_TIMEOUT) {
				memset(&a->early[i], 0, sizeof(a->early[i]));
				wg_peer_send_initiation(p->wp, false);
			}
		break;
	case CTL_NOTIFY_PEER_REMOVED:
		p = agent_peer_by_id(a, m->node_id);
		if (p && !memcmp(p->pub, m->public_key, 32)) {
			dp_log(LOG_INFO, "peer %s removed by the server", p->name);
			agent_peer_free(a, p);
		}
		break;
	}
}

static void agent_control(struct agent *a, const uint8_t *pkt, size_t len)
{
	const uint8_t *payload;
	size_t plen;
	uint16_t port;
	struct ctl_msg m;
	struct agent_req *r;

	if (!ctlnet_unwrap(pkt, len, CTLNET_TO_NODE, &payload, &plen, &port) ||
	    port != AGENT_CTL_PORT || ctl_decode(payload, plen, &m))
		return;
	a->server_last_rx = agent_now(a);
	a->server_ok = true;
	if (m.type == CTL_NOTIFY) {
		dp_log(LOG_VERBOSE, "notify %s about %s", ctl_notify_name(m.notify_kind),
		       m.name[0] ? m.name : "?");
		if (a->state == AGENT_RUNNING)
			agent_notify(a, &m);
		return;
	}
	if (!(r = agent_req_find(a, m.request_id)))
		return;		/* a late duplicate */
	dp_log(LOG_VERBOSE, "answer %s to request %llu (purpose %u)%s%s",
	       ctl_type_name(m.type), (unsigned long long)m.request_id, r->purpose,
	       m.type == CTL_ERROR ? ": " : "", m.type == CTL_ERROR ? m.error_msg : "");
	if (m.type == CTL_ERROR && m.error_code == CTL_ERR_NOT_REGISTERED &&
	    r->purpose != REQ_JOIN && r->purpose != REQ_RECONNECT &&
	    r->purpose != REQ_LOGOUT) {
		/* The server forgot our session (it restarted): the request
		 * waits while we register again, then goes once more. */
		r->held = true;
		r->deadline = agent_now(a) + AGENT_REQ_LIFETIME;
		if (a->state == AGENT_RUNNING) {
			a->state = AGENT_CONNECTING;
			a->resync = true;
		}
		agent_send_register(a, REQ_RECONNECT, NULL);
		return;
	}
	agent_answer(a, r, &m);
	agent_req_done(r);
}

/* --- the engine's callbacks --- */

static void agent_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			  size_t len)
{
	struct agent *a = ctx;

	if (peer == a->server) {
		agent_control(a, pkt, len);
		return;
	}
	if (a->state == AGENT_DOWN)
		return;
	if (peer->user && peer->has_endpoint)
		path_heard(a, peer->user, &peer->endpoint);
	if (len >= 28 && agent_ping_reply(a, peer, pkt, len))
		return;
	dp_deliver(&a->dp, peer, pkt, len);
}

/* An initiation from a key we have no peer for (it is dropped): maybe a
 * node that configured us before we heard of it, or one that talked to
 * us before our restart.  We ask the server who the key is (at most
 * AGENT_KEY_LOOKUPS a second, once per key while one is remembered); if it
 * is a node of our network, we configure it and initiate ourselves. */
#define AGENT_KEY_LOOKUPS 20

static struct wg_peer *agent_unknown_peer(void *ctx, const uint8_t pub[32])
{
	struct agent *a = ctx;
	uint64_t now = agent_now(a);
	struct ctl_msg m;

	for (unsigned i = 0; i < 16; i++)
		if (!memcmp(a->early[i].pub, pub, 32) &&
		    now - a->early[i].when < REKEY_TIMEOUT)
			return NULL;	/* asked already */
	memcpy(a->early[a->early_next].pub, pub, 32);
	a->early[a->early_next].when = now;
	a->early_next = (a->early_next + 1) % 16;
	dp_log(LOG_VERBOSE, "initiation from an unknown key: asking the server");
	if (a->state != AGENT_RUNNING)
		return NULL;
	if (now - a->key_lookup_window >= NSEC_PER_SEC) {
		a->key_lookup_window = now;
		a->key_lookups = 0;
	}
	if (a->key_lookups++ >= AGENT_KEY_LOOKUPS)
		return NULL;
	ctl_msg_init(&m, CTL_LOOKUP, 0);
	memcpy(m.public_key, pub, 32);
	m.present |= CTL_HAS(CTL_T_PUBLIC_KEY);
	agent_request(a, &m, REQ_LOOKUP_KEY, NULL);
	return NULL;
}

/* Packets for relay pseudo endpoints go to the relay, others by UDP. */
static void agent_send(void *ctx, const union wg_sockaddr *to, const uint8_t *msg,
		       size_t len)
{
	struct agent *a = ctx;

	if (wg_sockaddr_is_relay(to))
		relayc_send(a, to, msg, len);
	else
		dp_send(&a->dp, to, msg, len);
}

/* A handshake to a peer without a proven direct path goes every way we
 * know, in two steps ("happy eyeballs"): at once to its first candidate
 * (where the server sees it: on a LAN or behind an easy NAT that is
 * enough), and AGENT_HS_SECOND later, unless the handshake is done by
 * then, to its other candidates (up to AGENT_HS_FANOUT) and through the
 * relay when that is its endpoint.  Whichever copy arrives first is
 * answered, the others are replays, and the answer's source becomes the
 * endpoint.  A first contact on a LAN thus costs no relay traffic and no
 * address resolution for candidates it does not need, and one whose
 * first candidate is a NAT's filtering face waits 0.1 s, not for a
 * retransmission. */
#define AGENT_HS_FANOUT 4

static void agent_send_initiation(void *ctx, struct wg_peer *wp, const uint8_t *msg,
				  size_t len)
{
	struct agent *a = ctx;
	struct apeer *p = wp->user;

	if (!p || path_best(a, p) || !p->n_paths || len != sizeof(p->hs_msg)) {
		agent_send(a, &wp->endpoint, msg, len);
		return;
	}
	dp_send(&a->dp, &p->paths[0].addr, msg, len);
	memcpy(p->hs_msg, msg, len);
	memcpy(&p->hs_index, msg + 4, 4);
	p->hs_second_at = agent_now(a) + AGENT_HS_SECOND;
	agent_soon(a);
}

/* The second step of the handshakes that are due: sent unless that
 * handshake is over (answered by the first step) or superseded. */
static uint64_t agent_second_initiations(struct agent *a, uint64_t now)
{
	uint64_t next = 0;

	for (struct apeer *p = a->peers; p; p = p->next) {
		unsigned sent = 0;
		if (!p->hs_second_at)
			continue;
		if (now < p->hs_second_at) {
			if (!next || p->hs_second_at < next)
				next = p->hs_second_at;
			continue;
		}
		p->hs_second_at = 0;
		if (p->wp->hs.state != NOISE_CREATED_INITIATION ||
		    p->wp->hs.local_index != p->hs_index)
			continue;
		for (unsigned i = 1; i < p->n_paths && sent < AGENT_HS_FANOUT; i++, sent++)
			dp_send(&a->dp, &p->paths[i].addr, p->hs_msg, sizeof(p->hs_msg));
		if (p->wp->has_endpoint && wg_sockaddr_is_relay(&p->wp->endpoint))
			relayc_send(a, &p->wp->endpoint, p->hs_msg, sizeof(p->hs_msg));
		else if (p->wp->has_endpoint && !wg_sockaddr_equal(&p->wp->endpoint, &p->paths[0].addr))
			dp_send(&a->dp, &p->wp->endpoint, p->hs_msg, sizeof(p->hs_msg));
	}
	return next;
}

const struct wg_ops agent_ops = {
	.send = agent_send, .deliver = agent_deliver, .no_route = agent_no_route,
	.send_initiation = agent_send_initiation,
	.unknown_peer = agent_unknown_peer, .crypt = dp_crypt,
	.sent_staged = dp_sent_staged,
};

/* --- timers --- */

/* The server is silent over UDP: a fresh handshake, over the relay if
 * it is up (a firewall that drops UDP, a NAT that lost our mapping). */
static void agent_server_fallback(struct agent *a)
{
	if (!a->server_via_relay && relayc_ready(a)) {
		union wg_sockaddr ep = relayc_endpoint(0);
		dp_log(LOG_INFO, "the server does not answer over UDP: using the relay");
		a->server_via_relay = true;
		wg_peer_set_endpoint(a->server, &ep);
	}
	wg_peer_send_initiation(a->server, false);
}

void agent_relay_changed(struct agent *a, bool up)
{
	union wg_sockaddr ep;

	if (up) {
		/* Anything still waiting for the server may go this way. */
		for (int i = 0; i < AGENT_MAX_REQS; i++)
			if (a->reqs[i].used && a->reqs[i].sends >= 2 && a->server) {
				agent_server_fallback(a);
				break;
			}
		return;
	}
	/* Down: whoever used it goes back to UDP. */
	if (a->server && a->server_via_relay) {
		a->server_via_relay = false;
		wg_peer_set_endpoint(a->server, &a->server_ep);
	}
	for (struct apeer *p = a->peers; p; p = p->next)
		if (p->wp->has_endpoint && wg_sockaddr_is_relay(&p->wp->endpoint) &&
		    p->n_endpoints) {
			agent_sockaddr(&p->endpoints[0], &ep);
			wg_peer_set_endpoint(p->wp, &ep);
		}
}

static void agent_expire_requests(struct agent *a, uint64_t now)
{
	for (int i = 0; i < AGENT_MAX_REQS; i++) {
		struct agent_req *r = &a->reqs[i];
		if (!r->used)
			continue;
		if (now >= r->deadline) {
			struct lookup *l;
			if (r->purpose == REQ_JOIN || r->purpose == REQ_RECONNECT)
				agent_register_failed(a, r, NULL);
			else if (r->purpose == REQ_LOOKUP_NAME && r->waiter)
				local_reply_error(a, r->waiter, "the server did not answer "
						  "the lookup within %d s",
						  (int)(AGENT_REQ_LIFETIME / NSEC_PER_SEC));
			else if (r->purpose == REQ_LOGOUT && r->waiter) {
				struct json_object *o = json_object_new_object();
				json_object_object_add(o, "server_confirmed",
						       json_object_new_boolean(0));
				local_reply_ok(a, r->waiter, o);
			} else if (r->purpose == REQ_LOOKUP_ADDR) {
				for (l = a->lookups; l && l->req_id != r->id; l = l->next)
					;
				if (l)
					agent_lookup_finish(a, l, CTL_ERR_INTERNAL);
			}
			if (r->purpose != REQ_JOIN && r->purpose != REQ_RECONNECT &&
			    a->state == AGENT_RUNNING) {
				a->state = AGENT_CONNECTING;
				a->resync = true;
			}
			r->waiter = NULL;
			agent_req_done(r);
			continue;
		}
		if (!r->held && now >= r->next_send) {
			agent_ctl_send(a, r->wire, r->len);
			r->sends++;
			r->next_send = now + AGENT_RESEND;
			/* Unanswered: maybe the server lost our session (a
			 * restart).  A fresh handshake finds out; once it
			 * completes, everything waiting is sent again. */
			if (r->sends == 2 && a->server)
				agent_server_fallback(a);
			a->server_ok = false;
		}
	}
}

static void agent_expire_lookups(struct agent *a, uint64_t now)
{
	struct lookup *l = a->lookups, *next;

	for (; l; l = next) {
		next = l->next;
		if (l->negative_until && now >= l->negative_until)
			agent_lookup_free(a, l);
		else if (!l->negative_until && now - l->born >= AGENT_LOOKUP_TTL)
			agent_lookup_finish(a, l, CTL_ERR_INTERNAL);	/* frees */
	}
}

static uint64_t agent_tick(struct dp *d)
{
	struct agent *a = (struct agent *)d;
	uint64_t now = d->dev->now;	/* the loop fed the clock just before */

	relayc_flush(a);	/* what this iteration queued for the relay */

	if (a->server && a->server->last_handshake_real != a->server_last_hs) {
		a->server_last_hs = a->server->last_handshake_real;
		for (int i = 0; i < AGENT_MAX_REQS; i++)
			if (a->reqs[i].used && a->reqs[i].sends > 1)
				a->reqs[i].next_send = now;
		a->next_scan = now;
	}
	/* Called before every wait, so once per batch of packets: the
	 * tables are scanned only every AGENT_SCAN (the coarsest deadline
	 * here is a 1 s resend), not on the data path. */
	if (now < a->next_scan)
		return a->next_scan;
	agent_expire_requests(a, now);
	agent_expire_lookups(a, now);
	uint64_t due = path_tick(a, now), t;
	bool busy = a->conns != NULL;
	for (int i = 0; i < AGENT_MAX_PINGS; i++) {
		struct ping *g = &a->pings[i];
		if (g->used && now >= g->deadline) {
			g->used = false;
			local_reply_error(a, g->waiter, "no reply from %s within %d s",
					  g->peer ? g->peer->name : "the peer",
					  (int)(AGENT_PING_TTL / NSEC_PER_SEC));
		}
		busy |= g->used;
	}
	local_tick(a, now);
	if (a->moved_at && now >= a->moved_at) {
		/* Tell the server where we are now, look again at our NAT,
		 * and probe every peer we talk to (its side of a double jump
		 * hears of our new candidates through the server). */
		a->moved_at = 0;
		dp_log(LOG_INFO, "underlay addresses changed: new candidates");
		if (a->state == AGENT_RUNNING) {
			agent_send_endpoints(a);
			discover_start(a);
		}
		for (struct apeer *p = a->peers; p; p = p->next)
			path_probe(a, p);
	}
	if (a->server && now >= a->next_heartbeat) {
		a->next_heartbeat = now + AGENT_HEARTBEAT;
		if (a->state == AGENT_RUNNING)
			agent_send_endpoints(a);
		else if (a->state == AGENT_CONNECTING)
			agent_send_register(a, REQ_RECONNECT, NULL);
	}
	/* Idle (nothing waits for an answer): sleep until the next probe,
	 * heartbeat or expiry instead of scanning ten times a second. */
	for (int i = 0; i < AGENT_MAX_REQS && !busy; i++)
		busy = a->reqs[i].used;
	busy |= a->moved_at != 0;
	if (a->server && (!due || a->next_heartbeat < due))
		due = a->next_heartbeat;
	if ((t = relayc_tick(a, now)) && (!due || t < due))
		due = t;
	if ((t = discover_tick(a, now)) && (!due || t < due))
		due = t;
	if ((t = agent_second_initiations(a, now)) && (!due || t < due))
		due = t;
	for (struct lookup *l = a->lookups; l; l = l->next) {
		t = l->negative_until ? l->negative_until : l->born + AGENT_LOOKUP_TTL;
		if (!due || t < due)
			due = t;
	}
	a->next_scan = now + AGENT_SCAN;
	if (!busy && due > a->next_scan)
		a->next_scan = due;
	else if (!busy && !due)
		a->next_scan = now + 3600 * NSEC_PER_SEC;
	dp_flush(d);
	return a->next_scan;
}

void agent_soon(struct agent *a)
{
	uint64_t t = agent_now(a) + AGENT_SCAN;

	if (a->next_scan > t)
		a->next_scan = t;
}

static void agent_event(struct dp *d, uint64_t tag)
{
	struct agent *a = (struct agent *)d;

	if (tag == EV_RELAY) {
		relayc_event(a);
	} else if (tag == EV_ADDRS) {
		/* Our underlay moved (a new network, DHCP, a roam): act once
		 * the burst of netlink events is over. */
		if (netcfg_watch_read(a->addr_watch_fd, a->dp.ifindex)) {
			clock_feed(d->dev);
			a->moved_at = agent_now(a) + AGENT_SCAN;
			agent_soon(a);
		}
	} else
		local_event((struct agent *)d, tag);
}

const struct dp_host agent_host = {
	.event = agent_event, .tick = agent_tick, .datagram = path_datagram,
};

/* --- the server peer, up, down, logout --- */

/* Resolves the first usable endpoint of the list (names through DNS). */
static int agent_server_endpoint(const char *list, union wg_sockaddr *out,
				 char *err, size_t errlen)
{
	struct token_endpoint eps[TOKEN_MAX_ENDPOINTS];
	size_t n;
	char perr[128];

	if (token_parse_endpoints(list, strlen(list), eps, &n, perr, sizeof(perr))) {
		snprintf(err, errlen, "bad server endpoint list: %s", perr);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
		char port[8];
		memset(out, 0, sizeof(*out));
		if (eps[i].kind == TOKEN_HOST_IPV4) {
			out->in4.sin_family = AF_INET;
			memcpy(&out->in4.sin_addr, eps[i].addr, 4);
			out->in4.sin_port = htons(eps[i].port);
			return 0;
		}
		if (eps[i].kind == TOKEN_HOST_IPV6) {
			out->in6.sin6_family = AF_INET6;
			memcpy(&out->in6.sin6_addr, eps[i].addr, 16);
			out->in6.sin6_port = htons(eps[i].port);
			return 0;
		}
		snprintf(port, sizeof(port), "%u", eps[i].port);
		if (getaddrinfo(eps[i].host, port, &hints, &res) == 0) {
			memcpy(out, res->ai_addr, res->ai_addrlen);
			freeaddrinfo(res);
			return 0;
		}
	}
	snprintf(err, errlen, "cannot resolve the server's address (%s)", list);
	return -EHOSTUNREACH;
}

static int agent_server_peer(struct agent *a, char *err, size_t errlen)
{
	int r;

	agent_server_drop(a);
	if ((r = agent_server_endpoint(a->conf.endpoints, &a->server_ep, err, errlen)))
		return r;
	if ((r = wg_peer_new(a->dp.dev, a->conf.server_pub, &a->server)) ||
	    (r = wg_peer_add_allowed_ip(a->server, AF_INET6, ctl_server_addr, 128))) {
		snprintf(err, errlen, "cannot add the server as a peer: %s",
			 strerror(-r));
		if (a->server)
			wg_peer_remove(a->server);
		a->server = NULL;
		return r;
	}
	wg_peer_set_endpoint(a->server, &a->server_ep);
	/* Keeps NAT state towards the server and our presence fresh. */
	wg_peer_set_keepalive(a->server, 25);
	relayc_start(a);
	return 0;
}

int agent_up(struct agent *a, const char *token, const char *hostname,
	     struct local_conn *waiter, char *err, size_t errlen)
{
	struct token t;
	char perr[256];
	uint8_t priv[32];

	err[0] = 0;
	if (hostname && *hostname)
		snprintf(a->hostname, sizeof(a->hostname), "%s", hostname);
	if (a->state == AGENT_JOINING) {
		snprintf(err, errlen, "a join is already in progress");
		return -EBUSY;
	}
	if (token && a->have_conf) {
		if (a->state == AGENT_RUNNING || a->state == AGENT_CONNECTING) {
			local_reply_ok(a, waiter, agent_self_json(a));
			return 0;	/* already joined: the token is not needed */
		}
		if (a->state == AGENT_REMOVED) {
			snprintf(err, errlen, "this node was removed from its network; "
				 "run 'weft logout' first, then join again");
			return -EPERM;
		}
	}
	if (a->have_conf) {
		if (a->state == AGENT_RUNNING) {
			local_reply_ok(a, waiter, agent_self_json(a));
			return 0;
		}
		a->conf.down = false;
		nodestate_save(a->conf_path, &a->conf, perr, sizeof(perr));
		if (!a->server && agent_server_peer(a, err, errlen))
			return -EHOSTUNREACH;
		agent_apply_addresses(a, NULL);
		a->state = AGENT_CONNECTING;
		a->resync = true;
		agent_send_register(a, REQ_RECONNECT, waiter);
		return 0;
	}
	if (!token) {
		snprintf(err, errlen, "this node has not joined a network yet: "
			 "run 'weft up --token TOKEN' (ask the administrator for one)");
		return -ENOENT;
	}
	if (token_parse(token, strlen(token), &t, perr, sizeof(perr))) {
		snprintf(err, errlen, "invalid token: %s", perr);
		return -EINVAL;
	}
	/* The key this join registers (a logout removed the old one). */
	if (nodestate_key(a->key_path, priv, true, err, errlen) ||
	    wg_device_set_private_key(a->dp.dev, priv)) {
		crypto_wipe(priv, sizeof(priv));
		token_wipe(&t);
		if (!err[0])
			snprintf(err, errlen, "the key in %s is unusable", a->key_path);
		return -EIO;
	}
	crypto_wipe(priv, sizeof(priv));
	memset(&a->conf, 0, sizeof(a->conf));
	memcpy(a->conf.server_pub, t.server_pub, 32);
	{
		const char *colon = strchr(token + 6, ':');
		snprintf(a->conf.endpoints, sizeof(a->conf.endpoints), "%s",
			 colon ? colon + 1 : "");
	}
	memcpy(a->join_secret, t.secret, 32);
	token_wipe(&t);
	if (agent_server_peer(a, err, errlen)) {
		crypto_wipe(a->join_secret, 32);
		return -EHOSTUNREACH;
	}
	a->state = AGENT_JOINING;
	agent_send_register(a, REQ_JOIN, waiter);
	return 0;
}

int agent_down(struct agent *a, char *err, size_t errlen)
{
	if (!a->have_conf) {
		snprintf(err, errlen, "this node has not joined a network");
		return -ENOENT;
	}
	agent_remove_all_peers(a);
	while (a->lookups)
		agent_lookup_free(a, a->lookups);
	for (int i = 0; i < AGENT_MAX_REQS; i++)
		if (a->reqs[i].used) {
			if (a->reqs[i].waiter)
				local_reply_error(a, a->reqs[i].waiter, "interrupted by weft down");
			agent_req_done(&a->reqs[i]);
		}
	agent_server_drop(a);
	netcfg_link_up(a->dp.ifindex, false);
	a->state = AGENT_DOWN;
	a->conf.down = true;
	return nodestate_save(a->conf_path, &a->conf, err, errlen);
}

int agent_logout(struct agent *a, struct local_conn *waiter, char *err,
		 size_t errlen)
{
	struct ctl_msg m;
	struct node_conf old = a->conf;
	bool had = a->have_conf;
	int r;

	if (!a->have_conf) {
		snprintf(err, errlen, "this node has not joined a network");
		return -ENOENT;
	}
	if (!a->server)
		agent_server_peer(a, err, errlen);
	ctl_msg_init(&m, CTL_LOGOUT, 0);
	/* The server removes us; the request keeps going while we forget. */
	if (!agent_request(a, &m, REQ_LOGOUT, waiter))
		local_reply_ok(a, waiter, json_object_new_object());
	agent_remove_all_peers(a);
	while (a->lookups)
		agent_lookup_free(a, a->lookups);
	if (had) {
		netcfg_addr(a->dp.ifindex, false, AF_INET, old.ipv4.addr, old.ipv4.len);
		netcfg_addr(a->dp.ifindex, false, AF_INET6, old.ipv6.addr, old.ipv6.len);
	}
	netcfg_link_up(a->dp.ifindex, false);
	if ((r = nodestate_forget(a))) {
		snprintf(err, errlen, "cannot remove the identity files: %s", strerror(-r));
		dp_log(LOG_ERROR, "%s", err);
	}
	a->have_conf = false;
	a->state = AGENT_NEEDS_LOGIN;
	/* The next join makes a new key (agent_up); the old key's session
	 * to the server lasts until the LOGOUT is through. */
	return 0;
}

/* --- start and stop --- */

int agent_start(struct agent *a, char *why, size_t whylen)
{
	uint8_t priv[32];
	int r;

	a->relay.fd = -1;
	a->addr_watch_fd = netcfg_watch_open();
	if (a->addr_watch_fd >= 0)
		dp_watch(&a->dp, a->addr_watch_fd, EV_ADDRS);
	for (int i = 0; i < 2; i++)
		a->ping_ident = (uint16_t)(a->ping_ident ^ (uint16_t)(wg_device_random(a->dp.dev) >> 7));
	if ((r = nodestate_key(a->key_path, priv, true, why, whylen)))
		return r;
	r = wg_device_set_private_key(a->dp.dev, priv);
	crypto_wipe(priv, sizeof(priv));
	if (r) {
		snprintf(why, whylen, "the key in %s is unusable", a->key_path);
		return r;
	}
	r = nodestate_load(a->conf_path, &a->conf, why, whylen);
	if (r == -ENOENT) {
		a->state = AGENT_NEEDS_LOGIN;
		return 0;
	}
	if (r)
		return r;
	a->have_conf = true;
	if (a->conf.down) {
		a->state = AGENT_DOWN;
		return 0;
	}
	/* Same addresses at once, whether or not the server answers. */
	agent_apply_addresses(a, NULL);
	a->state = AGENT_CONNECTING;
	if (agent_server_peer(a, why, whylen)) {
		dp_log(LOG_ERROR, "%s; retrying", why);
		why[0] = 0;
		return 0;
	}
	agent_send_register(a, REQ_RECONNECT, NULL);
	a->next_heartbeat = agent_now(a) + AGENT_HEARTBEAT;
	return 0;
}

void agent_stop(struct agent *a)
{
	agent_remove_all_peers(a);
	while (a->lookups)
		agent_lookup_free(a, a->lookups);
	for (int i = 0; i < AGENT_MAX_REQS; i++)
		if (a->reqs[i].used)
			agent_req_done(&a->reqs[i]);
	crypto_wipe(a->join_secret, sizeof(a->join_secret));
	relayc_stop(a);
	if (a->addr_watch_fd >= 0)
		close(a->addr_watch_fd);
	a->addr_watch_fd = -1;
	free(a->relay.in);
	free(a->relay.out);
	a->relay.in = a->relay.out = NULL;
}
