/*
 * control — see control.h.  Design in docs/control-plane.md: the server is
 * an ordinary WireGuard endpoint with its own static key; a node's session
 * carries control messages as UDP over IPv6 (ctlnet), which this file
 * decodes (ctl), answers from the store, and turns into pushes (NOTIFY) to
 * exactly the nodes that looked the changed node up.
 */
#include "control.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include "interest.h"
#include "ipam.h"
#include "log.h"
#include "stun.h"
#include "stunsrv.h"
#include "token.h"
#include "uapi.h"
#include "when.h"

#define CONTROL_MIN_BUCKETS 64		/* sessions, chained; doubled as they come */
#define CONTROL_PROVISIONAL_TTL (60 * NSEC_PER_SEC)
#define CONTROL_MAX_PROVISIONAL 4096
#define CONTROL_MAX_DEFERRED 4096	/* audit entries waiting for a flush */
#define CONTROL_BATCH 64
#define CONTROL_BUF 2048

/* A node (or a key that has not registered yet) with a live session. */
struct sess {
	uint8_t pub[32];
	int64_t node_id;		/* 0 until registered */
	int64_t network_id;
	int64_t flushed;		/* the last_seen the store has, Unix s */
	int64_t back;			/* when its reconnect was logged */
	uint64_t born;			/* monotonic ns of its first message */
	uint64_t refused_req, refused_hs;	/* the refusal last logged */
	uint16_t node_port;		/* the node's control port */
	struct sess *next_key, *next_id;
};

/* Networks never change name or prefixes, and their ids are never reused
 * (AUTOINCREMENT): what answers need of one is kept here. */
#define CONTROL_NETCACHE 64
struct control_net {
	int64_t id;			/* 0 = empty */
	char name[STORE_NAME_SIZE];
	uint8_t len4, len6;
};

/* An audit entry written with the next flush (see control_audit_later). */
struct deferred {
	int64_t time;
	char actor[16];
	char object[STORE_NAME_SIZE];
	char detail[128];
};

/* A control message of the receive batch, waiting for its end (see
 * control_batch_run).  The payload stays in rx[] until the next batch. */
struct pending {
	const uint8_t *payload;
	size_t len;
	uint8_t pub[32];		/* its session's key */
	uint16_t port;
	uint8_t family;			/* a LOOKUP by address: AF_INET(6), else 0 */
	uint8_t addr[16];
	char name[STORE_NAME_SIZE];	/* a LOOKUP by name: its first label */
	int64_t network_id;
	int64_t target;			/* the node it names, when known */
};

/* A key let in on trust by the hook; removed unless it registers. */
struct provisional {
	uint8_t pub[32];
	uint64_t born;
};

struct control {
	struct ctl_endpoint stun[CTL_MAX_RELAYS];
	unsigned n_stun;
	struct store *st;
	struct control_net netcache[CONTROL_NETCACHE];
	struct wg_device *dev;
	int fd;
	/* Sized to the sessions (load <= 1): with a few, they stay in cache. */
	struct sess **by_key, **by_id;
	size_t sess_mask;
	struct interest_table *interest;	/* who looked up whom */
	struct provisional *prov;	/* ring */
	size_t prov_head, prov_n;
	uint64_t notify_id;
	uint64_t flush_at;		/* monotonic ns of the next flush */
	bool flush_failed;		/* the last flush wrote nothing: redo all */
	struct deferred *deferred;	/* node.reconnect entries to write */
	size_t n_deferred;
	struct control_stats stats;
	struct control_relay relay;	/* send == NULL: no relay */
	_Alignas(16) uint8_t rx[CONTROL_BATCH][CONTROL_BUF];
	_Alignas(16) uint8_t tx[WG_HEADROOM + CONTROL_BUF + WG_TAILROOM];
	/* What the engine sends while one event is handled leaves in one
	 * sendmmsg at its end (control_out_flush): fewer system calls, and a
	 * NOTIFY's receiver cannot preempt us before the caller's answer. */
	unsigned n_out;
	/* Control messages of the receive batch being handled. */
	bool batching;
	unsigned n_pend;
	struct pending pend[CONTROL_BATCH];
	size_t out_len[CONTROL_BATCH];
	union wg_sockaddr out_to[CONTROL_BATCH];
	uint8_t out[CONTROL_BATCH][CONTROL_BUF];
};

/* --- time --- */

static int64_t control_unix(void)
{
	return (int64_t)(clock_real_ns() / NSEC_PER_SEC);
}

/* --- sessions --- */

static size_t control_hkey(const struct control *c, const uint8_t pub[32])
{
	uint32_t h;

	memcpy(&h, pub, 4);	/* public keys are uniformly random */
	return h & c->sess_mask;
}

static size_t control_hid(const struct control *c, int64_t id)
{
	return (size_t)((uint64_t)id * 0x9e3779b97f4a7c15ULL >> 32) & c->sess_mask;
}

/* Both session tables with size buckets; false (nothing changed) when out
 * of memory. */
static bool control_sess_resize(struct control *c, size_t size)
{
	struct sess **key = calloc(size, sizeof(*key)), **id = calloc(size, sizeof(*id));
	struct sess **old_key = c->by_key, **old_id = c->by_id, *s, *next;
	size_t old_size = c->by_key ? c->sess_mask + 1 : 0, h;

	if (!key || !id) {
		free(key);
		free(id);
		return false;
	}
	c->by_key = key;
	c->by_id = id;
	c->sess_mask = size - 1;
	for (size_t k = 0; k < old_size; k++) {
		for (s = old_key[k]; s; s = next) {
			next = s->next_key;
			h = control_hkey(c, s->pub);
			s->next_key = key[h];
			key[h] = s;
		}
		for (s = old_id[k]; s; s = next) {
			next = s->next_id;
			h = control_hid(c, s->node_id);
			s->next_id = id[h];
			id[h] = s;
		}
	}
	free(old_key);
	free(old_id);
	return true;
}

static struct sess *control_sess_key(struct control *c, const uint8_t pub[32])
{
	struct sess *s = c->by_key[control_hkey(c, pub)];

	while (s && memcmp(s->pub, pub, 32))
		s = s->next_key;
	return s;
}

static struct sess *control_sess_id(struct control *c, int64_t id)
{
	struct sess *s = c->by_id[control_hid(c, id)];

	while (s && s->node_id != id)
		s = s->next_id;
	return s;
}

static struct sess *control_sess_new(struct control *c, const uint8_t pub[32])
{
	struct sess *s;
	size_t h;

	/* A failed resize keeps the tables: longer chains, same answers. */
	if (c->stats.sessions > c->sess_mask)
		control_sess_resize(c, 2 * (c->sess_mask + 1));
	if (!(s = calloc(1, sizeof(*s))))
		return NULL;
	h = control_hkey(c, pub);
	memcpy(s->pub, pub, 32);
	s->next_key = c->by_key[h];
	c->by_key[h] = s;
	c->stats.sessions++;
	return s;
}

static void control_sess_set_node(struct control *c, struct sess *s,
				  const struct store_node *n)
{
	size_t h = control_hid(c, n->id);

	s->node_id = n->id;
	s->network_id = n->network_id;
	s->flushed = n->last_seen;
	s->next_id = c->by_id[h];
	c->by_id[h] = s;
}

/* When the key last sent an authenticated packet, Unix seconds (0: never
 * since the server started).  The engine keeps it per peer, in monotonic
 * time; the device's offset turns that into wall-clock time. */
static int64_t control_peer_seen(const struct control *c, const struct wg_peer *p)
{
	if (!p || !p->last_received)
		return 0;
	return (int64_t)((p->last_received + c->dev->real_offset) / NSEC_PER_SEC);
}

/* Writes one session's last_seen when the store is behind; a node deleted
 * meanwhile is no error. */
static int control_sess_flush(struct control *c, struct sess *s)
{
	int64_t seen = control_peer_seen(c, wg_peer_find(c->dev, s->pub));
	int r;

	if (!s->node_id || !seen || (seen <= s->flushed && !c->flush_failed))
		return 0;
	r = store_node_seen(c->st, s->node_id, seen, NULL);
	if (!r)
		s->flushed = seen;
	return r == -ENOENT ? 0 : r;
}

static void control_sess_free(struct control *c, struct sess *s)
{
	struct sess **pp = &c->by_key[control_hkey(c, s->pub)];

	while (*pp != s)
		pp = &(*pp)->next_key;
	*pp = s->next_key;
	if (s->node_id) {
		pp = &c->by_id[control_hid(c, s->node_id)];
		while (*pp != s)
			pp = &(*pp)->next_id;
		*pp = s->next_id;
	}
	c->stats.sessions--;
	free(s);
}

/* Ends a key's session: its WireGuard peer and our record of it. */
static void control_drop(struct control *c, const uint8_t pub[32])
{
	struct wg_peer *p = wg_peer_find(c->dev, pub);
	struct sess *s = control_sess_key(c, pub);

	if (p)
		wg_peer_remove(p);
	if (s)
		control_sess_free(c, s);
}

/* --- sending --- */

static void control_send(struct control *c, struct wg_peer *peer,
			 uint16_t node_port, const struct ctl_msg *m)
{
	uint8_t msg[CTL_MAX_MSG];
	int n = ctl_encode(m, msg, sizeof(msg));
	size_t len;

	if (n < 0) {
		c->stats.errors++;
		return;
	}
	len = ctlnet_wrap(c->tx + WG_HEADROOM, CONTROL_BUF, CTLNET_TO_NODE,
			  node_port, msg, (size_t)n);
	if (len)
		wg_peer_send_packet(peer, c->tx, len);
}

static void control_error(struct control *c, struct wg_peer *peer,
			  uint16_t port, uint64_t req, enum ctl_error code,
			  const char *text)
{
	struct ctl_msg m;

	ctl_msg_init(&m, CTL_ERROR, req);
	m.error_code = (uint16_t)code;
	m.present |= CTL_HAS(CTL_T_ERROR_CODE);
	if (text && *text) {
		snprintf(m.error_msg, sizeof(m.error_msg), "%s", text);
		m.present |= CTL_HAS(CTL_T_ERROR_MSG);
	}
	control_send(c, peer, port, &m);
	c->stats.errors++;
}

/* A node's actor in the audit log: "node:" and the first characters of
 * its public key (as `nodes list` shows them). */
static void control_actor(const struct sess *s, char out[16])
{
	char key[45];

	key_to_base64(key, s->pub);
	snprintf(out, 16, "node:%.8s", key);
}

/* Audits an event of the session's key at once. */
static void control_audit(struct control *c, const struct sess *s,
			  const char *action, const char *object,
			  const char *result, const char *detail)
{
	char actor[16];

	control_actor(s, actor);
	if (store_audit_append(c->st, control_unix(), actor, action, object,
			       result, detail, NULL))
		log_error("audit: cannot record %s %s: %s", action, object,
			  store_errmsg(c->st));
}

static int control_flush_deferred(struct control *c)
{
	int r = 0;

	for (size_t i = 0; i < c->n_deferred && !r; i++) {
		struct deferred *d = &c->deferred[i];
		r = store_audit_append(c->st, d->time, d->actor, "node.reconnect",
				       d->object, "ok", d->detail, NULL);
	}
	return r;
}

/* Audits a reconnect with the next flush, in its transaction: after a
 * server restart every node comes back, and an fsync each would stall the
 * loop.  The entry keeps the time it happened. */
static void control_audit_later(struct control *c, const struct sess *s,
				const char *object, const char *detail)
{
	struct deferred *d;

	if (c->n_deferred == CONTROL_MAX_DEFERRED && control_flush(c))
		log_warn("audit: cannot record reconnects: %s", store_errmsg(c->st));
	if (c->n_deferred == CONTROL_MAX_DEFERRED) {
		control_audit(c, s, "node.reconnect", object, "ok", detail);
		return;
	}
	d = &c->deferred[c->n_deferred++];
	d->time = control_unix();
	control_actor(s, d->actor);
	snprintf(d->object, sizeof(d->object), "%.63s", object);
	snprintf(d->detail, sizeof(d->detail), "%.127s", detail);
}

/* The network's name for log lines ("?" when it cannot be read). */
/* A network's name and prefix lengths, from the cache or the store. */
static const struct control_net *control_net(struct control *c, int64_t id)
{
	struct control_net *e = &c->netcache[(uint64_t)id % CONTROL_NETCACHE];
	struct store_network net;
	struct ipam_prefix p4 = { 0 }, p6 = { 0 };
	char err[128];

	if (e->id == id)
		return e;
	if (store_network_get_id(c->st, id, &net) ||
	    ipam_prefix_parse(net.prefix4, &p4, err) ||
	    ipam_prefix_parse(net.prefix6, &p6, err))
		return NULL;
	e->id = id;
	snprintf(e->name, sizeof(e->name), "%s", net.name);
	e->len4 = (uint8_t)p4.len;
	e->len6 = (uint8_t)p6.len;
	return e;
}

static void control_net_name(struct control *c, int64_t id,
			     char out[STORE_NAME_SIZE])
{
	const struct control_net *net = control_net(c, id);

	snprintf(out, STORE_NAME_SIZE, "%s", net ? net->name : "?");
}

/* --- node records into messages --- */

static void control_endpoint_of(const union wg_sockaddr *sa,
				struct ctl_endpoint *e)
{
	memset(e, 0, sizeof(*e));
	if (sa->sa.sa_family == AF_INET) {
		e->family = CTL_FAMILY_IPV4;
		memcpy(e->addr, &sa->in4.sin_addr, 4);
		e->port = ntohs(sa->in4.sin_port);
	} else {
		e->family = CTL_FAMILY_IPV6;
		memcpy(e->addr, &sa->in6.sin6_addr, 16);
		e->port = ntohs(sa->in6.sin6_port);
	}
}

/* Adds the endpoints a node reported ("a.b.c.d:p,[v6]:p") to m. */
static void control_parse_endpoints(struct ctl_msg *m, const char *text)
{
	char buf[STORE_ENDPOINTS_SIZE], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", text);
	for (char *t = strtok_r(buf, ",", &save); t && m->n_endpoints < CTL_MAX_ENDPOINTS;
	     t = strtok_r(NULL, ",", &save)) {
		struct ctl_endpoint *e = &m->endpoints[m->n_endpoints];
		char *colon = strrchr(t, ':');
		long port;
		if (!colon)
			continue;
		*colon = '\0';
		port = strtol(colon + 1, NULL, 10);
		if (port < 1 || port > 65535)
			continue;
		memset(e, 0, sizeof(*e));
		e->port = (uint16_t)port;
		if (t[0] == '[' && colon > t + 1 && colon[-1] == ']') {
			colon[-1] = '\0';
			e->family = CTL_FAMILY_IPV6;
			if (inet_pton(AF_INET6, t + 1, e->addr) == 1)
				m->n_endpoints++;
		} else {
			e->family = CTL_FAMILY_IPV4;
			if (inet_pton(AF_INET, t, e->addr) == 1)
				m->n_endpoints++;
		}
	}
}

/* Fills node id, key, addresses, name and the endpoints we know of n:
 * the address its session comes from (what a NAT shows), then the ones it
 * reported.  Returns false when the record's addresses do not parse. */
static bool control_fill_node(struct control *c, struct ctl_msg *m,
			      const struct store_node *n)
{
	const struct control_net *net = control_net(c, n->network_id);
	struct wg_peer *peer = wg_peer_find(c->dev, n->public_key);
	uint8_t a4[16];
	int f4, f6;

	if (!net ||
	    ipam_addr_parse(n->ipv4, &f4, a4) || f4 != AF_INET ||
	    ipam_addr_parse(n->ipv6, &f6, m->ipv6.addr) || f6 != AF_INET6)
		return false;
	memcpy(m->ipv4.addr, a4, 4);
	m->node_id = (uint64_t)n->id;
	memcpy(m->public_key, n->public_key, 32);
	m->ipv4.len = net->len4;
	m->ipv6.len = net->len6;
	snprintf(m->name, sizeof(m->name), "%s.%s.weft", n->name, net->name);
	m->present |= CTL_HAS(CTL_T_NODE_ID) | CTL_HAS(CTL_T_PUBLIC_KEY) |
		      CTL_HAS(CTL_T_IPV4) | CTL_HAS(CTL_T_IPV6) |
		      CTL_HAS(CTL_T_NAME);
	/* A relayed node's pseudo endpoint names one of our connections:
	 * no address another node could use (it asks the relay itself). */
	if (peer && peer->has_endpoint && !wg_sockaddr_is_relay(&peer->endpoint))
		control_endpoint_of(&peer->endpoint, &m->endpoints[m->n_endpoints++]);
	control_parse_endpoints(m, n->endpoints);
	return true;
}

/* --- requests --- */

static void control_register_ok(struct control *c, struct wg_peer *peer,
				struct sess *s, uint64_t req,
				const struct store_node *n)
{
	struct ctl_msg m;

	ctl_msg_init(&m, CTL_REGISTER_OK, req);
	if (!control_fill_node(c, &m, n)) {
		control_error(c, peer, s->node_port, req, CTL_ERR_INTERNAL,
			      "node record unreadable");
		return;
	}
	m.present &= ~CTL_HAS(CTL_T_PUBLIC_KEY);
	m.n_endpoints = 0;
	m.n_stun = (uint8_t)c->n_stun;
	memcpy(m.stun, c->stun, sizeof(m.stun));
	control_send(c, peer, s->node_port, &m);
	c->stats.registers++;
}

/* Endpoints a node reported, as the store keeps them: "addr:port,...". */
static void control_endpoints_text(const struct ctl_msg *m, char *out,
				   size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < m->n_endpoints && o < cap; i++) {
		const struct ctl_endpoint *e = &m->endpoints[i];
		char a[INET6_ADDRSTRLEN];
		int n;
		inet_ntop(e->family == CTL_FAMILY_IPV4 ? AF_INET : AF_INET6,
			  e->addr, a, sizeof(a));
		n = snprintf(out + o, cap - o, e->family == CTL_FAMILY_IPV4 ?
			     "%s%s:%u" : "%s[%s]:%u", o ? "," : "", a, e->port);
		if (n < 0 || (size_t)n >= cap - o) {
			out[o] = '\0';
			return;
		}
		o += (size_t)n;
	}
}

static bool control_expired(const struct store_node *n);

/* "a.b.c.d:port" or "[v6]:port" of where a session comes from. */
static void control_peer_addr(const struct wg_peer *peer, char *out, size_t cap)
{
	struct ctl_msg m;

	snprintf(out, cap, "an unknown address");
	if (!peer->has_endpoint)
		return;
	if (wg_sockaddr_is_relay(&peer->endpoint)) {
		snprintf(out, cap, "the relay");
		return;
	}
	ctl_msg_init(&m, CTL_OK, 0);
	control_endpoint_of(&peer->endpoint, &m.endpoints[m.n_endpoints++]);
	control_endpoints_text(&m, out, cap);
}

/* Answers a REGISTER with an ERROR.  The first time for this request (a
 * client retries with the same id; a new handshake means a new client) the
 * refusal is also logged and audited: action, object, and why for the log
 * and the audit's detail. */
static void control_refuse(struct control *c, struct wg_peer *peer,
			   struct sess *s, const struct ctl_msg *m,
			   enum ctl_error code, const char *text,
			   const char *action, const char *object, const char *why)
{
	char key[45];

	if (s->refused_req != m->request_id ||
	    s->refused_hs != peer->last_handshake_real) {
		s->refused_req = m->request_id;
		s->refused_hs = peer->last_handshake_real;
		key_to_base64(key, s->pub);
		log_info("refused %s from key %s: %s", action, key, why);
		control_audit(c, s, action, object, "refused", why);
	}
	control_error(c, peer, s->node_port, m->request_id, code, text);
}

/* Joins with a key: counts its use and makes the node, atomically.
 * Returns 0, or -errno with why in err (for the refusal). */
static int control_join(struct control *c, struct sess *s,
			const struct ctl_msg *m, struct store_node *node,
			char id[TOKEN_KEY_ID_LEN + 1], char *err, size_t errlen)
{
	uint8_t hash[32];
	char eps[STORE_ENDPOINTS_SIZE];
	struct store_key key;
	enum ipam_key_verdict verdict;
	struct store_node_req req = { 0 };
	int r;

	token_secret_hash(hash, m->join_secret);
	token_key_id(id, hash);
	control_endpoints_text(m, eps, sizeof(eps));
	if ((r = store_begin(c->st)))
		goto fail;
	r = store_key_use(c->st, id, hash, control_unix(), &key, &verdict);
	if (!r) {
		req.network_id = key.network_id;
		memcpy(req.public_key, s->pub, 32);
		req.hostname = m->hostname;
		req.tags = key.tags;
		req.endpoints = eps;
		req.ephemeral = key.ephemeral;
		req.now = control_unix();
		r = store_node_create(c->st, &req, node);
	}
	if (r) {
		store_rollback(c->st);
		goto fail;
	}
	r = store_commit(c->st);
fail:
	crypto_wipe(hash, sizeof(hash));
	if (r == -ENOENT)
		snprintf(err, errlen, "unknown join key %s", id);
	else if (r)
		snprintf(err, errlen, "join key %s: %s", id, store_errmsg(c->st));
	return r;
}

/* A new node: joined with a valid join secret. */
static void control_register_new(struct control *c, struct wg_peer *peer,
				 struct sess *s, const struct ctl_msg *m)
{
	char id[TOKEN_KEY_ID_LEN + 1], err[256], net[STORE_NAME_SIZE], key[45];
	struct store_node n;
	enum ctl_error code;
	int r = control_join(c, s, m, &n, id, err, sizeof(err));

	if (r) {
		code = r == -ENOENT ? CTL_ERR_UNAUTHORIZED : r == -EACCES ?
		       CTL_ERR_EXPIRED : r == -ENOSPC ? CTL_ERR_EXHAUSTED :
		       CTL_ERR_INTERNAL;
		control_refuse(c, peer, s, m, code,
			       r == -ENOENT ? "unknown join key" :
			       r == -EACCES ? store_errmsg(c->st) :
			       r == -ENOSPC ? "no free address in the network" :
			       "the server could not record the join",
			       "node.join", id, err);
		return;
	}
	control_sess_set_node(c, s, &n);
	control_net_name(c, n.network_id, net);
	key_to_base64(key, n.public_key);
	log_info("node %s joined network %s: %s, %s, key %s, join key %s%s",
		 n.name, net, n.ipv4[0] ? n.ipv4 : "no IPv4",
		 n.ipv6[0] ? n.ipv6 : "no IPv6", key, id,
		 n.ephemeral ? ", ephemeral" : "");
	control_audit(c, s, "node.join", n.name, "ok", id);
	control_register_ok(c, peer, s, m->request_id, &n);
}

static void control_push_changed(struct control *c, const struct store_node *n);

/* A key the store knows: a reconnect (the token is not needed again), or
 * the same session registering once more (agents do after every new
 * handshake, and retry).  It counts as a reconnect when the session was
 * not registered yet (the server restarted) or the node had been offline
 * (nothing for CONTROL_ONLINE_WINDOW_S by the last flushed last_seen). */
static void control_register_known(struct control *c, struct wg_peer *peer,
				   struct sess *s, const struct ctl_msg *m,
				   const struct store_node *n)
{
	char net[STORE_NAME_SIZE], from[64], seen[WHEN_SIZE];
	char detail[STORE_AUDIT_DETAIL];
	int64_t now = control_unix();

	control_net_name(c, n->network_id, net);
	if (control_expired(n)) {
		snprintf(detail, sizeof(detail), "node %s (network %s) was expired "
			 "by an administrator", n->name, net);
		control_refuse(c, peer, s, m, CTL_ERR_EXPIRED,
			       "this node was expired by an administrator; run "
			       "'weft logout' and join again with a new key",
			       "node.reconnect", n->name, detail);
		return;
	}
	if (!s->node_id ||
	    now - (s->back > s->flushed ? s->back : s->flushed) >= CONTROL_ONLINE_WINDOW_S) {
		if (!s->node_id)
			control_sess_set_node(c, s, n);
		s->back = now;		/* the flush saves the time itself */
		control_peer_addr(peer, from, sizeof(from));
		when_format(s->flushed, seen);
		log_info("node %s (network %s) reconnected from %s (last seen %s)",
			 n->name, net, from, s->flushed ? seen : "never");
		snprintf(detail, sizeof(detail), "from %s; last seen %s", from,
			 s->flushed ? seen : "never");
		control_audit_later(c, s, n->name, detail);
	}
	control_register_ok(c, peer, s, m->request_id, n);
	/* An agent registers again after a restart or a gap: its peers may
	 * hold sessions it lost, so they hear of it and handshake anew. */
	control_push_changed(c, n);
}

/* A key an administrator removed may never come back, token or not. */
static bool control_register_removed(struct control *c, struct wg_peer *peer,
				     struct sess *s, const struct ctl_msg *m,
				     bool zero)
{
	struct store_removed_key rk;
	char net[STORE_NAME_SIZE], when[WHEN_SIZE], detail[STORE_AUDIT_DETAIL];

	if (store_removed_key_get(c->st, s->pub, &rk))
		return false;
	control_net_name(c, rk.network_id, net);
	when_format(rk.removed, when);
	snprintf(detail, sizeof(detail), "the key of node %s (network %s), %s by an "
		 "administrator at %s", rk.name, net, rk.reason, when);
	control_refuse(c, peer, s, m, CTL_ERR_EXPIRED,
		       "this node was removed by an administrator; run "
		       "'weft logout' and join again with a new key",
		       zero ? "node.reconnect" : "node.join", rk.name, detail);
	return true;
}

static void control_register(struct control *c, struct wg_peer *peer,
			     struct sess *s, const struct ctl_msg *m)
{
	bool zero = crypto_is_zero(m->join_secret, 32);
	struct store_node n;
	int r = s->node_id ? store_node_get(c->st, s->node_id, &n)
			   : store_node_get_key(c->st, s->pub, &n);

	if (!r) {
		control_register_known(c, peer, s, m, &n);
		return;
	}
	if (r != -ENOENT) {
		log_error("REGISTER: %s", store_errmsg(c->st));
		control_error(c, peer, s->node_port, m->request_id,
			      CTL_ERR_INTERNAL, "the server could not read its database");
		return;
	}
	if (control_register_removed(c, peer, s, m, zero))
		return;
	if (zero) {
		control_refuse(c, peer, s, m, CTL_ERR_NOT_REGISTERED,
			       "this node is not registered: join with a token",
			       "node.reconnect", "-", "unknown key, no join secret");
		return;
	}
	control_register_new(c, peer, s, m);
}

static int control_find_target_any(struct control *c, const struct sess *s,
				   const struct ctl_msg *m, struct store_node *t);

static bool control_expired(const struct store_node *n)
{
	return n->expires && control_unix() >= n->expires;
}

static int control_find_target(struct control *c, const struct sess *s,
			       const struct ctl_msg *m, struct store_node *t)
{
	int r = control_find_target_any(c, s, m, t);

	return !r && control_expired(t) ? -ENOENT : r;
}

static int control_find_target_any(struct control *c, const struct sess *s,
				   const struct ctl_msg *m, struct store_node *t)
{
	char a[INET6_ADDRSTRLEN], name[CTL_NAME_MAX + 1], *dot;
	int r;

	/* By key: who is the stranger that sent the node an initiation? */
	if (m->present & CTL_HAS(CTL_T_PUBLIC_KEY)) {
		r = store_node_get_key(c->st, m->public_key, t);
		return !r && t->network_id != s->network_id ? -ENOENT : r;
	}
	if (m->present & CTL_HAS(CTL_T_TARGET_IPV4)) {
		inet_ntop(AF_INET, m->target_ipv4, a, sizeof(a));
		return store_node_get_addr(c->st, s->network_id, a, t);
	}
	if (m->present & CTL_HAS(CTL_T_TARGET_IPV6)) {
		inet_ntop(AF_INET6, m->target_ipv6, a, sizeof(a));
		return store_node_get_addr(c->st, s->network_id, a, t);
	}
	/* "robot" or its FQDN "robot.lab.weft": the first label names it,
	 * and the rest must name the asker's own network. */
	snprintf(name, sizeof(name), "%s", m->name);
	if ((dot = strchr(name, '.'))) {
		char net[STORE_NAME_SIZE], fq[CTL_NAME_MAX + 1];
		*dot = '\0';
		control_net_name(c, s->network_id, net);
		snprintf(fq, sizeof(fq), "%s.weft", net);
		if (strcasecmp(dot + 1, fq) && strcasecmp(dot + 1, net))
			return -ENOENT;
	}
	return store_node_get_name(c->st, s->network_id, name, t);
}

/* Tells target that from wants to talk (NOTIFY peer_wants_connect). */
static void control_notify(struct control *c, const struct store_node *about,
			   int64_t to_id, enum ctl_notify kind)
{
	struct sess *to = control_sess_id(c, to_id);
	struct wg_peer *peer = to ? wg_peer_find(c->dev, to->pub) : NULL;
	struct ctl_msg m;

	if (!peer)
		return;	/* offline: it asks again when it comes back */
	ctl_msg_init(&m, CTL_NOTIFY, ++c->notify_id);
	m.notify_kind = (uint8_t)kind;
	m.present |= CTL_HAS(CTL_T_NOTIFY_KIND);
	if (!control_fill_node(c, &m, about))
		return;
	control_send(c, peer, to->node_port, &m);
	c->stats.notifies++;
}

static void control_lookup(struct control *c, struct wg_peer *peer,
			   struct sess *s, const struct ctl_msg *m)
{
	struct store_node t, self;
	struct watcher *w;
	struct ctl_msg r;

	if (control_find_target(c, s, m, &t) || t.id == s->node_id) {
		control_error(c, peer, s->node_port, m->request_id,
			      CTL_ERR_NOT_FOUND, "no such node in this network");
		return;
	}
	ctl_msg_init(&r, CTL_LOOKUP_OK, m->request_id);
	if (!control_fill_node(c, &r, &t)) {
		control_error(c, peer, s->node_port, m->request_id,
			      CTL_ERR_INTERNAL, "node record unreadable");
		return;
	}
	c->stats.lookups++;
	/* The caller now knows the target: it hears of its changes. */
	interest_watch(c->interest, t.id, t.public_key, s->node_id);
	/* An online target is told of the caller at once (before the
	 * caller's handshake, which our answer starts, reaches it), and
	 * from then on hears of the caller's changes.  An offline one
	 * learns nothing now: when it is back, the caller's handshake makes
	 * it look the caller up, and that records it. */
	if (control_sess_id(c, t.id) &&
	    (w = interest_watch(c->interest, s->node_id, s->pub, t.id)) &&
	    /* A node asking again and again (a load, or a retry loop)
	     * pushes at most once per REKEY_TIMEOUT: a handshake takes
	     * no longer. */
	    (!w->notified || c->dev->now - w->notified >= REKEY_TIMEOUT) &&
	    !store_node_get(c->st, s->node_id, &self)) {
		w->notified = c->dev->now;
		control_notify(c, &self, t.id, CTL_NOTIFY_PEER_WANTS_CONNECT);
	}
	control_send(c, peer, s->node_port, &r);
}

static void control_ok(struct control *c, struct wg_peer *peer,
		       struct sess *s, uint64_t req)
{
	struct ctl_msg m;

	ctl_msg_init(&m, CTL_OK, req);
	control_send(c, peer, s->node_port, &m);
}

/* n changed: every node that looked it up hears of it (peer_changed). */
static void control_push_changed(struct control *c, const struct store_node *n)
{
	size_t k, count;
	const struct watcher *w = interest_watchers(c->interest, n->id, &count, NULL);

	for (k = 0; k < count; k++)
		control_notify(c, n, w[k].node_id, CTL_NOTIFY_PEER_CHANGED);
}

static void control_endpoints(struct control *c, struct wg_peer *peer,
			      struct sess *s, const struct ctl_msg *m)
{
	char eps[STORE_ENDPOINTS_SIZE];
	struct store_node self;
	int64_t now = control_unix();

	control_endpoints_text(m, eps, sizeof(eps));
	control_ok(c, peer, s, m->request_id);
	/* Agents repeat their endpoints as a heartbeat: only a change is
	 * written and pushed (presence is kept by the batched flush). */
	if (store_node_get(c->st, s->node_id, &self) || !strcmp(self.endpoints, eps))
		return;
	if (!store_node_seen(c->st, s->node_id, now, eps))
		s->flushed = now;
	if (!store_node_get(c->st, s->node_id, &self))
		control_push_changed(c, &self);
}

/* The node leaves for good on its own: deleted, but its key is not
 * recorded as removed (the agent forgets it anyway). */
static void control_logout(struct control *c, struct wg_peer *peer,
			   struct sess *s, uint64_t req)
{
	int64_t id = s->node_id;
	char net[STORE_NAME_SIZE];
	struct store_node n;
	int r = store_node_get(c->st, id, &n);

	if (!r)
		r = store_node_delete(c->st, id);
	control_audit(c, s, "node.logout", r ? "?" : n.name,
		      r ? "failed" : "ok", r ? store_errmsg(c->st) : NULL);
	if (r) {
		log_error("node logout (id %lld): %s", (long long)id, store_errmsg(c->st));
		control_error(c, peer, s->node_port, req, CTL_ERR_INTERNAL,
			      "the server could not record the logout");
		return;
	}
	control_net_name(c, n.network_id, net);
	log_info("node %s (network %s) logged out", n.name, net);
	control_ok(c, peer, s, req);
	control_node_removed(c, id);	/* drops this session too */
}

static void control_request(struct control *c, struct wg_peer *peer,
			    struct sess *s, const struct ctl_msg *m)
{
	if (m->type == CTL_REGISTER) {
		control_register(c, peer, s, m);
		return;
	}
	/* After a server restart a known key's new session starts here:
	 * the answer tells its agent to REGISTER again (zero secret). */
	if (!s->node_id) {
		control_error(c, peer, s->node_port, m->request_id,
			      CTL_ERR_NOT_REGISTERED, "this session is not "
			      "registered (the server may have restarted): "
			      "send REGISTER first");
		return;
	}
	switch (m->type) {
	case CTL_LOOKUP:
		control_lookup(c, peer, s, m);
		break;
	case CTL_ENDPOINTS:
		control_endpoints(c, peer, s, m);
		break;
	case CTL_LOGOUT:
		control_logout(c, peer, s, m->request_id);
		break;
	case CTL_OK:
		break;		/* an older agent acknowledging a NOTIFY */
	default:
		control_error(c, peer, s->node_port, m->request_id,
			      CTL_ERR_BAD_REQUEST, "not a request a node sends");
	}
}

/* --- the engine's callbacks --- */

/* One control message from peer's session. */
static void control_message(struct control *c, struct wg_peer *peer, uint16_t port,
			    const uint8_t *payload, size_t plen)
{
	uint8_t type;
	uint64_t req;
	struct ctl_msg m;
	struct sess *s;

	s = control_sess_key(c, peer->public_key);
	if (!s) {
		if (!(s = control_sess_new(c, peer->public_key)))
			return;
		s->born = c->dev->now;
	}
	s->node_port = port;
	if (ctl_decode(payload, plen, &m)) {
		if (!ctl_peek(payload, plen, &type, &req))
			control_error(c, peer, port, req, CTL_ERR_BAD_REQUEST,
				      "message did not decode");
		return;
	}
	control_request(c, peer, s, &m);
	ctl_msg_wipe(&m);
}

static void control_deliver(void *ctx, struct wg_peer *peer,
			    const uint8_t *pkt, size_t len)
{
	struct control *c = ctx;
	const uint8_t *payload;
	struct pending *p;
	size_t plen;
	uint16_t port;

	if (!ctlnet_unwrap(pkt, len, CTLNET_TO_SERVER, &payload, &plen, &port))
		return;		/* not control traffic: nodes talk to nodes */
	if (!c->batching || c->n_pend == CONTROL_BATCH) {
		control_message(c, peer, port, payload, plen);
		return;
	}
	p = &c->pend[c->n_pend++];
	p->payload = payload;
	p->len = plen;
	memcpy(p->pub, peer->public_key, 32);
	p->port = port;
	p->family = 0;
	p->name[0] = '\0';
	p->target = 0;
}

/* What a pending message will look up, when it is a LOOKUP by address or
 * name from a registered session: a hint only (the message is decoded and
 * judged in full when its turn comes). */
static void control_batch_hint(struct control *c, struct pending *p)
{
	const uint8_t *v;
	struct sess *s;
	uint64_t req;
	uint8_t type;
	size_t n;

	if (ctl_peek(p->payload, p->len, &type, &req) || type != CTL_LOOKUP ||
	    !(s = control_sess_key(c, p->pub)) || !s->node_id)
		return;
	p->network_id = s->network_id;
	memset(p->addr, 0, sizeof(p->addr));
	if (!ctl_find(p->payload, p->len, CTL_T_TARGET_IPV4, &v, &n) && n == 4) {
		p->family = AF_INET;
		memcpy(p->addr, v, 4);
	} else if (!ctl_find(p->payload, p->len, CTL_T_TARGET_IPV6, &v, &n) && n == 16) {
		p->family = AF_INET6;
		memcpy(p->addr, v, 16);
	} else if (!ctl_find(p->payload, p->len, CTL_T_NAME, &v, &n)) {
		const uint8_t *dot = memchr(v, '.', n);
		if (dot)
			n = (size_t)(dot - v);
		if (n && n < sizeof(p->name)) {
			memcpy(p->name, v, n);
			p->name[n] = '\0';
		}
	}
}

/* Handles the batch's control messages in the order they came.  Before,
 * for its LOOKUPs, it brings the target's record and watcher list toward
 * the CPU in stages, all lookups of a stage at a time: with 100 000 nodes
 * each would otherwise wait for five or six cache misses in a row, one
 * lookup after another. */
static void control_batch_run(struct control *c)
{
	unsigned n = c->n_pend, k;
	int stage;

	for (k = 0; k < n; k++)
		control_batch_hint(c, &c->pend[k]);
	for (stage = 0; stage < 3; stage++)
		for (k = 0; k < n; k++) {
			struct pending *p = &c->pend[k];
			if (p->family)
				p->target = store_node_prefetch_addr(c->st, p->network_id,
								     p->family, p->addr, stage);
			else if (p->name[0])
				p->target = store_node_prefetch_name(c->st, p->network_id,
								     p->name, stage);
		}
	for (stage = 0; stage < 3; stage++)
		for (k = 0; k < n; k++)
			if (c->pend[k].target)
				interest_prefetch(c->interest, c->pend[k].target, stage);
	for (k = 0; k < n; k++) {
		struct pending *p = &c->pend[k];
		/* An earlier message may have ended this session (LOGOUT). */
		struct wg_peer *peer = wg_peer_find(c->dev, p->pub);
		if (peer)
			control_message(c, peer, p->port, p->payload, p->len);
	}
	c->n_pend = 0;
}

static void control_prov_push(struct control *c, const uint8_t pub[32],
			      uint64_t born)
{
	struct provisional *v =
		&c->prov[(c->prov_head + c->prov_n++) % CONTROL_MAX_PROVISIONAL];

	memcpy(v->pub, pub, 32);
	v->born = born;
}

/* A key of a node in the store (expired ones aside) is let in for good:
 * after a server restart its agent registers again with a zero secret,
 * and until then it is answered not_registered.  Any other key is a
 * stranger on trust for CONTROL_PROVISIONAL_TTL. */
static struct wg_peer *control_unknown_peer(void *ctx, const uint8_t pub[32])
{
	struct control *c = ctx;
	struct store_node n;
	struct wg_peer *p;
	bool known = !store_node_get_key(c->st, pub, &n) && !control_expired(&n);

	if (!known && c->prov_n == CONTROL_MAX_PROVISIONAL)
		return NULL;	/* a flood of strangers: the oldest expire */
	if (wg_peer_new(c->dev, pub, &p))
		return NULL;
	if (!known)
		control_prov_push(c, pub, c->dev->now);
	return p;
}

/* Strangers that did not register within the TTL lose their session.  A
 * ring entry may be older than the key's session (a node that logged out
 * and came back, or a first initiation that failed to authenticate): such
 * a session gets its own full TTL. */
static void control_expire_provisional(struct control *c)
{
	while (c->prov_n) {
		struct provisional v = c->prov[c->prov_head];
		struct sess *s;
		if (c->dev->now - v.born < CONTROL_PROVISIONAL_TTL)
			break;
		c->prov_head = (c->prov_head + 1) % CONTROL_MAX_PROVISIONAL;
		c->prov_n--;
		s = control_sess_key(c, v.pub);
		if (s && s->node_id)
			continue;	/* registered in time */
		if (s && c->dev->now - s->born < CONTROL_PROVISIONAL_TTL)
			control_prov_push(c, v.pub, s->born);
		else
			control_drop(c, v.pub);
	}
}

/* out[from, to) by UDP, in sendmmsg batches. */
static void control_out_udp(struct control *c, unsigned from, unsigned to)
{
	struct mmsghdr m[CONTROL_BATCH];
	struct iovec iov[CONTROL_BATCH];

	for (unsigned i = from; i < to; i++) {
		iov[i] = (struct iovec){ c->out[i], c->out_len[i] };
		m[i].msg_hdr = (struct msghdr){
			.msg_name = &c->out_to[i],
			.msg_namelen = wg_sockaddr_len(&c->out_to[i]),
			.msg_iov = &iov[i], .msg_iovlen = 1,
		};
	}
	for (unsigned done = from; done < to;) {
		int n = sendmmsg(c->fd, m + done, to - done, 0);
		if (n <= 0)
			break;	/* a full socket buffer drops, like a NIC */
		done += (unsigned)n;
	}
}

/* out[from, to) to relayed nodes; without a relay they are dropped. */
static void control_out_relay(struct control *c, unsigned from, unsigned to)
{
	if (!c->relay.send)
		return;
	for (unsigned i = from; i < to; i++)
		c->relay.send(c->relay.ctx, &c->out_to[i], c->out[i], c->out_len[i]);
	c->relay.flush(c->relay.ctx);
}

/* Sends what waits in the order it was made, a run of UDP datagrams or
 * of relayed ones at a time: a NOTIFY still leaves before the answer that
 * makes its subject's handshake start, whichever way each goes. */
static void control_out_flush(struct control *c)
{
	for (unsigned i = 0, j; i < c->n_out; i = j) {
		bool relay = wg_sockaddr_is_relay(&c->out_to[i]);
		for (j = i + 1; j < c->n_out; j++)
			if (wg_sockaddr_is_relay(&c->out_to[j]) != relay)
				break;
		if (relay)
			control_out_relay(c, i, j);
		else
			control_out_udp(c, i, j);
	}
	c->n_out = 0;
}

static void control_udp_send(void *ctx, const union wg_sockaddr *to,
			     const uint8_t *msg, size_t len)
{
	struct control *c = ctx;

	if (len > CONTROL_BUF)
		return;
	if (c->n_out == CONTROL_BATCH)
		control_out_flush(c);
	memcpy(c->out[c->n_out], msg, len);
	c->out_len[c->n_out] = len;
	/* Whole: a relay endpoint is longer than its family says. */
	c->out_to[c->n_out] = *to;
	c->n_out++;
}

static const struct wg_ops control_ops = {
	.send = control_udp_send,
	.deliver = control_deliver,
	.unknown_peer = control_unknown_peer,
};

/* --- the public side --- */

static int control_socket(const char *listen, char *err, size_t errlen)
{
	union wg_sockaddr sa = { 0 };
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(listen, ':');
	size_t hl;
	long port;
	char *end;
	int fd, one = 1, size = 4 << 20;

	if (!colon || (hl = (size_t)(colon - listen)) >= sizeof(host))
		goto bad;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		goto bad;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &sa.in6.sin6_addr) != 1)
			goto bad;
	} else {
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sa.in4.sin_addr) != 1)
			goto bad;
	}
	fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open a UDP socket: %s", strerror(errno));
		return -errno;
	}
	if (sa.sa.sa_family == AF_INET6)	/* [::] serves IPv4 too */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ 0 }, sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, &sa.sa, wg_sockaddr_len(&sa)) < 0) {
		int r = -errno;
		snprintf(err, errlen, "cannot listen on UDP %s: %s", listen,
			 strerror(errno));
		close(fd);
		return r;
	}
	return fd;
bad:
	snprintf(err, errlen, "listen address '%s' is not ADDR:PORT or [ADDR6]:PORT",
		 listen);
	return -EINVAL;
}

int control_open(struct control **out, struct store *st,
		 const uint8_t private_key[32], const char *listen,
		 char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));
	int r = -ENOMEM;

	*out = NULL;
	if (!c || !(c->prov = calloc(CONTROL_MAX_PROVISIONAL, sizeof(*c->prov))) ||
	    !(c->deferred = calloc(CONTROL_MAX_DEFERRED, sizeof(*c->deferred))) ||
	    !(c->interest = interest_new()) ||
	    !control_sess_resize(c, CONTROL_MIN_BUCKETS) ||
	    !(c->dev = wg_device_new(&control_ops, c))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c->st = st;
	c->fd = -1;
	clock_feed(c->dev);
	if ((r = wg_device_set_private_key(c->dev, private_key))) {
		snprintf(err, errlen, "the server private key is not usable");
		goto fail;
	}
	wg_device_skip_source_check(c->dev, true);
	c->flush_at = c->dev->now + CONTROL_FLUSH_INTERVAL_S * NSEC_PER_SEC;
	if ((r = c->fd = control_socket(listen, err, errlen)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	control_close(c);
	return r;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	if (c->dev && control_flush(c))
		log_error("last seen times not saved: %s", store_errmsg(c->st));
	for (size_t h = 0; c->by_key && h <= c->sess_mask; h++)
		while (c->by_key[h])
			control_sess_free(c, c->by_key[h]);
	free(c->by_key);
	free(c->by_id);
	interest_free(c->interest);
	wg_device_free(c->dev);	/* wipes keys */
	if (c->fd >= 0)
		close(c->fd);
	free(c->deferred);
	free(c->prov);
	free(c);
}

int control_fds(const struct control *c, int *fds, int max)
{
	if (max < 1)
		return 0;
	fds[0] = c->fd;
	return 1;
}

void control_event(struct control *c, int fd)
{
	struct mmsghdr msgs[CONTROL_BATCH];
	struct iovec iov[CONTROL_BATCH];
	union wg_sockaddr from[CONTROL_BATCH];
	int n;

	for (int i = 0; i < CONTROL_BATCH; i++) {
		iov[i] = (struct iovec){ c->rx[i], CONTROL_BUF };
		msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
			.msg_iov = &iov[i], .msg_iovlen = 1,
		};
	}
	n = recvmmsg(fd, msgs, CONTROL_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	clock_feed(c->dev);
	c->batching = true;
	for (int i = 0; i < n; i++) {
		/* STUN on this port too: a node's discovery compares what
		 * this port and the STUN port see of it. */
		uint8_t ans[STUN_ANSWER_MAX];
		size_t a = stunsrv_answer(ans, sizeof(ans), c->rx[i], msgs[i].msg_len,
					  &from[i]);
		if (a) {
			sendto(fd, ans, a, MSG_DONTWAIT, &from[i].sa, msgs[i].msg_hdr.msg_namelen);
			c->stats.stun_answered++;
			continue;
		}
		/* A handshake message changes sessions: the control messages
		 * before it are handled before it, as they came. */
		if (c->n_pend && msgs[i].msg_len && c->rx[i][0] != MSG_DATA) {
			c->batching = false;
			control_batch_run(c);
			c->batching = true;
		}
		wg_device_receive(c->dev, &from[i], c->rx[i], msgs[i].msg_len);
	}
	c->batching = false;
	control_batch_run(c);
	control_out_flush(c);
}

void control_set_stun(struct control *c, const struct ctl_endpoint *eps, unsigned n)
{
	c->n_stun = n < CTL_MAX_RELAYS ? n : CTL_MAX_RELAYS;
	memcpy(c->stun, eps, c->n_stun * sizeof(*eps));
}

uint64_t control_tick(struct control *c)
{
	uint64_t next, prov;

	clock_feed(c->dev);
	control_expire_provisional(c);
	if (c->dev->now >= c->flush_at) {
		if (control_flush(c))
			log_warn("last seen times not saved (next try in %d s): %s",
				 CONTROL_FLUSH_INTERVAL_S, store_errmsg(c->st));
		c->flush_at = c->dev->now + CONTROL_FLUSH_INTERVAL_S * NSEC_PER_SEC;
	}
	next = wg_device_tick(c->dev);
	control_out_flush(c);
	if (!next || c->flush_at < next)
		next = c->flush_at;
	if (c->prov_n) {
		prov = c->prov[c->prov_head].born + CONTROL_PROVISIONAL_TTL;
		if (prov < next)
			next = prov;
	}
	return next;
}

/* Visits every registered session once per CONTROL_FLUSH_INTERVAL_S (no
 * deadline hangs on it); what it writes is only the nodes heard from
 * since the last flush, and the deferred audit entries, in one
 * transaction: one fsync. */
int control_flush(struct control *c)
{
	bool open = c->n_deferred > 0;
	int r = open ? store_begin(c->st) : 0;

	if (r)
		open = false;
	else
		r = control_flush_deferred(c);
	for (size_t h = 0; h <= c->sess_mask && !r; h++)
		for (struct sess *s = c->by_id[h]; s && !r; s = s->next_id) {
			int64_t seen = control_peer_seen(c, wg_peer_find(c->dev, s->pub));
			if (!seen || (seen <= s->flushed && !c->flush_failed))
				continue;
			if (!open && (r = store_begin(c->st)))
				break;
			open = true;
			r = control_sess_flush(c, s);
		}
	if (open)
		r = r ? (store_rollback(c->st), r) : store_commit(c->st);
	if (!r)
		c->n_deferred = 0;
	/* After a rollback the sessions' flushed marks run ahead of the
	 * store: the next flush writes every session again. */
	c->flush_failed = r != 0;
	return r;
}

void control_node_removed(struct control *c, int64_t node_id)
{
	const uint8_t *pub;
	size_t n;
	const struct watcher *i = interest_watchers(c->interest, node_id, &n, &pub);
	struct sess *s = control_sess_id(c, node_id);
	struct ctl_msg m;

	clock_feed(c->dev);
	if (s && control_sess_flush(c, s))	/* an expired node stays listed */
		log_warn("last seen time not saved: %s", store_errmsg(c->st));
	for (size_t k = 0; k < n; k++) {
		struct sess *w = control_sess_id(c, i[k].node_id);
		struct wg_peer *peer = w ? wg_peer_find(c->dev, w->pub) : NULL;
		if (!peer)
			continue;
		ctl_msg_init(&m, CTL_NOTIFY, ++c->notify_id);
		m.notify_kind = CTL_NOTIFY_PEER_REMOVED;
		m.node_id = (uint64_t)node_id;
		memcpy(m.public_key, pub, 32);
		m.present |= CTL_HAS(CTL_T_NOTIFY_KIND) | CTL_HAS(CTL_T_NODE_ID) |
			     CTL_HAS(CTL_T_PUBLIC_KEY);
		control_send(c, peer, w->node_port, &m);
		c->stats.notifies++;
	}
	control_out_flush(c);
	interest_forget(c->interest, node_id);
	if (s)
		control_drop(c, s->pub);
}

void control_node_changed(struct control *c, int64_t node_id)
{
	struct store_node n;

	if (store_node_get(c->st, node_id, &n))
		return;
	clock_feed(c->dev);
	control_push_changed(c, &n);
	control_out_flush(c);
}

void control_presence(const struct control *c, const uint8_t public_key[32],
		      struct control_presence *out)
{
	const struct wg_peer *p = wg_peer_find(c->dev, public_key);

	out->last_seen = control_peer_seen(c, p);
	out->online = out->last_seen &&
		      clock_mono_ns() - p->last_received <
		      (uint64_t)CONTROL_ONLINE_WINDOW_S * NSEC_PER_SEC;
}

void control_set_relay(struct control *c, const struct control_relay *r)
{
	if (r)
		c->relay = *r;
	else
		memset(&c->relay, 0, sizeof(c->relay));
}

void control_relay_input(struct control *c, const union wg_sockaddr *from,
			 const uint8_t *pkt, size_t len)
{
	if (len > CONTROL_BUF)
		return;
	/* The engine decrypts in place and wants an aligned buffer: the
	 * relay's frame is neither ours nor aligned. */
	memcpy(c->rx[0], pkt, len);
	clock_feed(c->dev);
	wg_device_receive(c->dev, from, c->rx[0], len);
	control_out_flush(c);
}

bool control_node_known(struct control *c, const uint8_t pub[32])
{
	const struct sess *s = control_sess_key(c, pub);
	struct store_node n;

	if (s && s->node_id)
		return true;
	return !store_node_get_key(c->st, pub, &n) && !control_expired(&n);
}

void control_get_stats(const struct control *c, struct control_stats *out)
{
	*out = c->stats;
}
