/*
 * path — which address a peer's WireGuard packets go to (docs/paths.md).
 *
 * The server gives each peer's candidates (the address it sees the node
 * at, then the node's own interface addresses).  When a peer is looked up
 * or announced, both nodes send a PING (probe.h) to every candidate of the
 * other, a burst of rounds over about three seconds: the crossing
 * pings open the NAT mappings on both sides (hole punching).  A PING's
 * source is itself a candidate ("peer-reflexive": how a symmetric NAT
 * shows us its mapping) and is pinged back.  Every PONG proves a path and
 * measures it; the lowest round trip wins and becomes the WireGuard
 * endpoint, with a 20% margin against flapping.
 *
 * While a peer carries traffic its chosen path is pinged every
 * PATH_HEARTBEAT (keeping NAT mappings open) and every path every
 * PATH_FULL (to find a better one); a chosen path silent for
 * PATH_TRUST starts a new burst.  Idle peers are not probed.  We only
 * answer keys we know, at most PATH_PONGS a second each.
 */
#include <arpa/inet.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "uapi.h"
#include "weftd.h"

#define PATH_HEARTBEAT (5 * NSEC_PER_SEC)
#define PATH_FULL      (30 * NSEC_PER_SEC)
#define PATH_TRUST     (16 * NSEC_PER_SEC)
#define PATH_ACTIVE    (60 * NSEC_PER_SEC)	/* traffic within: keep probing */
#define PATH_PONGS     32
#define PATH_MIN_GAP   (NSEC_PER_SEC / 20)	/* between pings of one path */

/* The burst after a lookup or an announcement: offsets from its start. */
static const uint64_t burst_ms[] = { 0, 100, 300, 700, 1500, 3100 };
#define BURST_ROUNDS (sizeof(burst_ms) / sizeof(burst_ms[0]))

static uint64_t path_now(const struct agent *a)
{
	return a->dp.dev->now;
}

static bool path_alive(const struct apath *t, uint64_t now)
{
	return t->last_pong && now - t->last_pong < PATH_TRUST;
}

/* Authenticated traffic from the peer came in over its chosen path: as
 * good as a PONG for keeping the path (under load probes may be lost in
 * full socket buffers while data still flows). */
void path_heard(struct agent *a, struct apeer *p, const union wg_sockaddr *from)
{
	struct apath *t;

	if (p->best < 0)
		return;
	t = &p->paths[p->best];
	if (t->last_pong && wg_sockaddr_equal(&t->addr, from))
		t->last_pong = path_now(a);
}

const struct apath *path_best(const struct agent *a, const struct apeer *p)
{
	if (p->best < 0 || !path_alive(&p->paths[p->best], path_now(a)))
		return NULL;
	return &p->paths[p->best];
}

static int path_find(const struct apeer *p, const union wg_sockaddr *sa)
{
	for (int i = 0; i < p->n_paths; i++)
		if (wg_sockaddr_equal(&p->paths[i].addr, sa))
			return i;
	return -1;
}

static void path_ping(struct agent *a, struct apeer *p, struct apath *t)
{
	struct probe m = { .type = PROBE_PING, .addr = t->addr };
	uint8_t buf[PROBE_LEN];
	uint64_t now = path_now(a);

	if (t->sent[0] && now - t->sent[0] < PATH_MIN_GAP)
		return;
	memcpy(m.sender, a->dp.dev->local.public_key, 32);
	if (!crypto_random(m.txid, sizeof(m.txid)) ||
	    !probe_seal(buf, &m, p->probe_key))
		return;
	memcpy(t->txid[1], t->txid[0], PROBE_TXID_LEN);
	t->sent[1] = t->sent[0];
	memcpy(t->txid[0], m.txid, PROBE_TXID_LEN);
	t->sent[0] = now;
	dp_send(&a->dp, &t->addr, buf, sizeof(buf));
}

/* One round: every path not proven lately (or every path when all). */
static void path_round(struct agent *a, struct apeer *p, bool all)
{
	uint64_t now = path_now(a);

	for (int i = 0; i < p->n_paths; i++)
		if (all || !path_alive(&p->paths[i], now))
			path_ping(a, p, &p->paths[i]);
}

/* A burst starts at the next scan (within AGENT_SCAN), not at once: a
 * first contact's LOOKUP answer or NOTIFY is on the critical path of the
 * handshake, which itself goes straight to the first candidate. */
static void path_burst(struct agent *a, struct apeer *p)
{
	p->round = 0;
	p->next_probe = path_now(a);
	agent_soon(a);
}

void path_probe(struct agent *a, struct apeer *p)
{
	if (p->probing && p->n_paths)
		path_burst(a, p);
}

void path_update(struct agent *a, struct apeer *p)
{
	struct apath old[PATH_MAX_PATHS];
	uint8_t n_old = p->n_paths;
	union wg_sockaddr best_addr;
	bool had_best = p->best >= 0 && p->best < p->n_paths;

	if (!p->probing) {
		if (crypto_is_zero(p->wp->hs.precomputed_ss, 32))
			return;		/* a key no DH works with */
		probe_key(p->probe_key, p->wp->hs.precomputed_ss);
		p->probing = true;
		p->best = -1;
		had_best = false;
	}
	if (had_best)
		best_addr = p->paths[p->best].addr;
	memcpy(old, p->paths, sizeof(old));
	p->n_paths = 0;
	p->best = -1;
	/* the server's candidates, then what the peer showed us itself */
	for (unsigned i = 0; i < p->n_endpoints && p->n_paths < PATH_MAX_PATHS; i++) {
		struct apath *t = &p->paths[p->n_paths];
		memset(t, 0, sizeof(*t));
		agent_sockaddr(&p->endpoints[i], &t->addr);
		if (!agent_can_send(a, &t->addr) || path_find(p, &t->addr) >= 0)
			continue;
		t->origin = PATH_CANDIDATE;
		for (int j = 0; j < n_old; j++)
			if (wg_sockaddr_equal(&old[j].addr, &t->addr)) {
				*t = old[j];
				t->origin = PATH_CANDIDATE;
			}
		p->n_paths++;
	}
	for (int j = 0; j < n_old && p->n_paths < PATH_MAX_PATHS; j++)
		if (old[j].origin == PATH_PEER_REFLEXIVE &&
		    path_find(p, &old[j].addr) < 0)
			p->paths[p->n_paths++] = old[j];
	if (had_best)
		p->best = (int8_t)path_find(p, &best_addr);
	/* The chosen path is no candidate any more (the peer moved): no
	 * path is proven, so handshakes fan out to the new candidates. */
	if (had_best && p->best < 0)
		p->wp->prefer_udp = false;
}

/* A private address (RFC 1918, RFC 6598 shared, IPv6 ULA or link-local):
 * a path on a LAN, which keeps the traffic off the NAT. */
static bool path_private(const union wg_sockaddr *sa)
{
	if (sa->sa.sa_family == AF_INET) {
		const uint8_t *b = (const uint8_t *)&sa->in4.sin_addr;
		return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
		       (b[0] == 192 && b[1] == 168) || (b[0] == 100 && (b[1] & 0xc0) == 64);
	}
	const uint8_t *b = (const uint8_t *)&sa->in6.sin6_addr;
	return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

/* What a path's round trip counts for: a private address a quarter.  Two
 * nodes behind one NAT that hairpins see about the same time both ways,
 * and under load (a transfer queueing on the LAN) samples of either jump
 * by milliseconds; the LAN path must keep winning all the same. */
static uint64_t path_score(const struct apath *t)
{
	uint64_t s = (uint64_t)t->rtt_us * 4 + 4;

	return path_private(&t->addr) ? s / 4 : s;
}

/* Picks the best proven path; moves WireGuard there when it changes. */
static void path_choose(struct agent *a, struct apeer *p)
{
	uint64_t now = path_now(a);
	int best = p->best >= 0 && path_alive(&p->paths[p->best], now) ? p->best : -1;
	char buf[64];

	for (int i = 0; i < p->n_paths; i++) {
		const struct apath *t = &p->paths[i];
		if (!path_alive(t, now) || i == best)
			continue;
		if (best < 0 || path_score(t) * 10 < path_score(&p->paths[best]) * 8)
			best = i;
	}
	if (best < 0 || best == p->best)
		return;
	p->best = (int8_t)best;
	p->wp->prefer_udp = true;
	if (!p->wp->has_endpoint || !wg_sockaddr_equal(&p->wp->endpoint, &p->paths[best].addr)) {
		wg_peer_set_endpoint(p->wp, &p->paths[best].addr);
		uapi_format_endpoint(buf, sizeof(buf), &p->paths[best].addr);
		dp_log(LOG_INFO, "peer %s: direct path %s (%.3f ms)%s", p->name, buf,
		       p->paths[best].rtt_us / 1000.0,
		       p->wp->has_endpoint && wg_sockaddr_is_relay(&p->wp->endpoint) ?
		       ", leaving the relay" : "");
	}
}

/* No direct path (yet, or any more): the relay carries the peer. */
static void path_to_relay(struct agent *a, struct apeer *p)
{
	union wg_sockaddr ep;

	p->wp->prefer_udp = false;
	if (!relayc_ready(a) ||
	    (p->wp->has_endpoint && wg_sockaddr_is_relay(&p->wp->endpoint)))
		return;
	ep = relayc_endpoint(p->node_id);
	wg_peer_set_endpoint(p->wp, &ep);
	dp_log(LOG_INFO, "peer %s: no direct path answers; through the relay", p->name);
}

static void path_pong(struct agent *a, struct apeer *p, const struct probe *m,
		      const union wg_sockaddr *from)
{
	uint64_t now = path_now(a);
	int i;

	(void)from;
	for (i = 0; i < p->n_paths; i++) {
		struct apath *t = &p->paths[i];
		for (int k = 0; k < 2; k++) {
			if (!t->sent[k] ||
			    !crypto_equal(t->txid[k], m->txid, PROBE_TXID_LEN))
				continue;
			/* a moving average once there are samples */
			uint32_t rtt = (uint32_t)((now - t->sent[k]) / 1000);
			t->rtt_us = t->last_pong ? (t->rtt_us * 3 + rtt) / 4 : rtt;
			t->last_pong = now;
			t->sent[k] = 0;	/* answered: a replay finds nothing */
			path_choose(a, p);
			return;
		}
	}
}

static void path_ping_rx(struct agent *a, struct apeer *p, const struct probe *m,
			 const union wg_sockaddr *from)
{
	struct probe r = { .type = PROBE_PONG, .addr = *from };
	uint8_t buf[PROBE_LEN];
	uint64_t now = path_now(a);
	int i;

	if (now - p->pong_window >= NSEC_PER_SEC) {
		p->pong_window = now;
		p->pongs = 0;
	}
	if (p->pongs++ >= PATH_PONGS)
		return;
	memcpy(r.sender, a->dp.dev->local.public_key, 32);
	memcpy(r.txid, m->txid, PROBE_TXID_LEN);
	if (probe_seal(buf, &r, p->probe_key))
		dp_send(&a->dp, from, buf, sizeof(buf));
	/* The way it came is a way back: remember and try it. */
	if (!agent_can_send(a, from))
		return;
	if ((i = path_find(p, from)) < 0) {
		if (p->n_paths < PATH_MAX_PATHS) {
			i = p->n_paths++;
		} else {
			/* replace the stalest peer-reflexive path */
			for (int j = 0; j < p->n_paths; j++)
				if (p->paths[j].origin == PATH_PEER_REFLEXIVE && j != p->best &&
				    (i < 0 || p->paths[j].last_pong < p->paths[i].last_pong))
					i = j;
			if (i < 0)
				return;
		}
		memset(&p->paths[i], 0, sizeof(p->paths[i]));
		p->paths[i].addr = *from;
		p->paths[i].origin = PATH_PEER_REFLEXIVE;
	}
	if (!path_alive(&p->paths[i], now))
		path_ping(a, p, &p->paths[i]);
	if (!p->next_probe)	/* it wants to talk: so do we */
		path_burst(a, p);
}

void path_datagram(struct dp *d, const union wg_sockaddr *from,
		   const uint8_t *buf, size_t len)
{
	struct agent *a = (struct agent *)d;
	const uint8_t *sender = probe_sender(buf, len);
	struct wg_peer *wp;
	struct apeer *p;
	struct probe m;

	if (!sender && discover_datagram(a, from, buf, len))
		return;
	if (!sender) {
		a->stat_probe_bad++;
		return;
	}
	if (a->state == AGENT_DOWN || !(wp = wg_peer_find(d->dev, sender)) ||
	    !(p = wp->user) || !p->probing) {
		a->stat_probe_unknown++;
		return;
	}
	clock_feed(d->dev);
	if (!probe_open(&m, buf, len, p->probe_key) ||
	    memcmp(m.sender, p->pub, 32)) {
		a->stat_probe_bad++;
		return;
	}
	if (m.type == PROBE_PING) {
		a->stat_pings_rx++;
		path_ping_rx(a, p, &m, from);
	} else {
		a->stat_pongs_rx++;
		path_pong(a, p, &m, from);
	}
}

static bool path_active(const struct apeer *p, uint64_t now)
{
	const struct wg_peer *w = p->wp;

	return (w->last_sent && now - w->last_sent < PATH_ACTIVE) ||
	       (w->last_received && now - w->last_received < PATH_ACTIVE);
}

static uint64_t path_tick_peer(struct agent *a, struct apeer *p, uint64_t now)
{
	if (!p->probing || !p->n_paths)
		return 0;
	if (!p->next_probe) {
		/* idle; traffic again without a proven path: burst */
		if (path_active(p, now) && !path_best(a, p))
			path_burst(a, p);
		return p->next_probe;
	}
	if (now < p->next_probe)
		return p->next_probe;
	if (p->round < BURST_ROUNDS) {
		if (!p->round)
			p->last_full = now;
		/* every path in the first rounds: a few samples each */
		path_round(a, p, p->round < 3);
		if (++p->round < BURST_ROUNDS) {
			p->next_probe += (burst_ms[p->round] - burst_ms[p->round - 1]) *
					 (NSEC_PER_SEC / 1000);
			return p->next_probe;
		}
		p->next_probe = now + PATH_HEARTBEAT;
		if (!path_best(a, p))
			path_to_relay(a, p);
		return p->next_probe;
	}
	if (!path_active(p, now)) {
		p->next_probe = 0;	/* idle: quiet until traffic */
		return p->next_probe;
	}
	if (!path_best(a, p) && p->best >= 0) {
		p->best = -1;		/* the chosen path went silent */
		path_to_relay(a, p);
		path_burst(a, p);
		return p->next_probe;
	}
	if (now - p->last_full >= PATH_FULL) {
		p->last_full = now;
		path_round(a, p, true);
	} else if (p->best >= 0) {
		path_ping(a, p, &p->paths[p->best]);
	} else {
		path_round(a, p, false);
	}
	p->next_probe = now + PATH_HEARTBEAT;
	return p->next_probe;
}

uint64_t path_tick(struct agent *a, uint64_t now)
{
	uint64_t next = 0, t;

	for (struct apeer *p = a->peers; p; p = p->next)
		if ((t = path_tick_peer(a, p, now)) && (!next || t < next))
			next = t;
	return next;
}
