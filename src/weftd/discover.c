/*
 * discover — what this node looks like from outside (docs/paths.md):
 * STUN Binding requests (src/lib/stun.c) from the agent's WireGuard
 * socket to the server's control port and to every STUN server the
 * server named at registration.  Each answer is a server-reflexive
 * address of the socket; two destinations that see different addresses
 * mean the NAT maps by destination ("symmetric"), where hole punching
 * needs the other side to be easy.  The reflexive addresses join our
 * candidates (ENDPOINTS) when they change.
 *
 * A round runs at registration and every DISC_EVERY; requests are
 * resent at 0.5 and 1 s and a round ends after DISC_WAIT.  `weft
 * netcheck` starts a round at once (and a relay round-trip
 * measurement) and gets the report when it ends.
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "stun.h"
#include "uapi.h"
#include "weftd.h"

#define DISC_EVERY (60 * NSEC_PER_SEC)
#define DISC_WAIT  (2 * NSEC_PER_SEC)
#define DISC_RESEND (NSEC_PER_SEC / 2)

static uint64_t disc_now(const struct agent *a)
{
	return a->dp.dev->now;
}

static void disc_send(struct agent *a, struct disc_target *t)
{
	uint8_t req[STUN_REQUEST_LEN];

	if (!t->sent_first) {
		if (!stun_request(req, t->txid))
			return;
		memcpy(t->req, req, sizeof(req));
		t->sent_first = disc_now(a);
	}
	t->sent_last = disc_now(a);
	t->sends++;
	dp_send(&a->dp, &t->to, t->req, STUN_REQUEST_LEN);
}

void discover_start(struct agent *a)
{
	struct discover *d = &a->disc;
	union wg_sockaddr sa;

	if (!a->server)
		return;
	memset(d->t, 0, sizeof(d->t));
	d->n = 0;
	if (agent_can_send(a, &a->server_ep))
		d->t[d->n++].to = a->server_ep;
	for (unsigned i = 0; i < a->n_stun && d->n < DISC_MAX_TARGETS; i++) {
		agent_sockaddr(&a->stun[i], &sa);
		if (agent_can_send(a, &sa) && !wg_sockaddr_equal(&sa, &a->server_ep))
			d->t[d->n++].to = sa;
	}
	d->running = true;
	d->started = disc_now(a);
	d->next_round = d->started + DISC_EVERY;
	for (unsigned i = 0; i < d->n; i++)
		disc_send(a, &d->t[i]);
	agent_soon(a);
}

bool discover_datagram(struct agent *a, const union wg_sockaddr *from,
		       const uint8_t *buf, size_t len)
{
	struct discover *d = &a->disc;

	if (!stun_is(buf, len))
		return false;
	for (unsigned i = 0; i < d->n; i++) {
		struct disc_target *t = &d->t[i];
		union wg_sockaddr mapped;
		if (t->answered || !t->sent_first ||
		    !stun_parse_response(buf, len, t->txid, &mapped))
			continue;
		clock_feed(a->dp.dev);
		t->answered = true;
		t->mapped = mapped;
		t->rtt_us = (uint32_t)((disc_now(a) - t->sent_last) / 1000);
		(void)from;
		return true;
	}
	a->stat_stun_stray++;
	return true;
}

/* The distinct reflexive addresses this round found. */
static unsigned disc_reflexive(const struct discover *d, union wg_sockaddr *out,
			       unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->n && n < max; i++) {
		bool seen = false;
		if (!d->t[i].answered)
			continue;
		for (unsigned j = 0; j < n; j++)
			seen |= wg_sockaddr_equal(&out[j], &d->t[i].mapped);
		if (!seen)
			out[n++] = d->t[i].mapped;
	}
	return n;
}

/* Two answers of one family that differ: the NAT maps by destination. */
static int disc_varies(const struct discover *d)
{
	int answered = 0, varies = 0;

	for (unsigned i = 0; i < d->n; i++)
		for (unsigned j = i + 1; j < d->n; j++) {
			const struct disc_target *x = &d->t[i], *y = &d->t[j];
			if (!x->answered || !y->answered ||
			    x->mapped.sa.sa_family != y->mapped.sa.sa_family)
				continue;
			answered = 1;
			if (!wg_sockaddr_equal(&x->mapped, &y->mapped))
				varies = 1;
		}
	return answered ? varies : -1;
}

static struct json_object *disc_report(struct agent *a)
{
	struct discover *d = &a->disc;
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array(), *rl;
	char buf[80], by[80];
	bool udp = false;
	int v = disc_varies(d);

	for (unsigned i = 0; i < d->n; i++) {
		struct disc_target *t = &d->t[i];
		struct json_object *e = json_object_new_object();
		uapi_format_endpoint(by, sizeof(by), &t->to);
		json_object_object_add(e, "server", json_object_new_string(by));
		if (t->answered) {
			udp = true;
			uapi_format_endpoint(buf, sizeof(buf), &t->mapped);
			json_object_object_add(e, "reflexive", json_object_new_string(buf));
			json_object_object_add(e, "rtt_ms", json_object_new_double(t->rtt_us / 1000.0));
		} else {
			json_object_object_add(e, "reflexive", NULL);
		}
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "udp", json_object_new_boolean(udp));
	json_object_object_add(o, "stun", arr);
	json_object_object_add(o, "mapping_varies_by_destination",
			       v < 0 ? NULL : json_object_new_boolean(v));
	rl = json_object_new_object();
	json_object_object_add(rl, "connected", json_object_new_boolean(relayc_ready(a)));
	json_object_object_add(rl, "server", json_object_new_string(a->conf.endpoints));
	json_object_object_add(rl, "latency_ms", a->relay.rtt_ns ?
		json_object_new_double((double)a->relay.rtt_ns / 1e6) : NULL);
	json_object_object_add(o, "relay", rl);
	json_object_object_add(o, "control_via_relay", json_object_new_boolean(a->server_via_relay));
	return o;
}

int discover_netcheck(struct agent *a, struct local_conn *waiter, char *err,
		      size_t errlen)
{
	if (!a->server) {
		snprintf(err, errlen, "this node has not joined a network: weft up --token TOKEN");
		return -1;
	}
	if (a->disc.waiter) {
		snprintf(err, errlen, "a netcheck is already running");
		return -1;
	}
	clock_feed(a->dp.dev);
	discover_start(a);
	relayc_measure(a);
	a->disc.waiter = waiter;
	return 0;
}

void discover_forget_waiter(struct agent *a, struct local_conn *c)
{
	if (a->disc.waiter == c)
		a->disc.waiter = NULL;
}

/* The reflexive addresses that are candidates (see agent_candidates). */
unsigned discover_candidates(const struct agent *a, union wg_sockaddr *out,
			     unsigned max)
{
	unsigned n = a->n_reflexive < max ? a->n_reflexive : max;

	memcpy(out, a->reflexive, n * sizeof(*out));
	return n;
}

uint64_t discover_tick(struct agent *a, uint64_t now)
{
	struct discover *d = &a->disc;
	union wg_sockaddr refl[DISC_MAX_TARGETS];
	unsigned n;
	bool all = true;

	if (!d->running) {
		if (d->next_round && now >= d->next_round && a->state == AGENT_RUNNING)
			discover_start(a);
		return d->running ? d->started + DISC_RESEND : d->next_round;
	}
	for (unsigned i = 0; i < d->n; i++) {
		struct disc_target *t = &d->t[i];
		all &= t->answered;
		if (!t->answered && t->sends < 3 && now - t->sent_last >= DISC_RESEND)
			disc_send(a, t);
	}
	if (!all && now - d->started < DISC_WAIT)
		return now + DISC_RESEND / 5;
	if (d->waiter && !a->relay.rtt_ns && relayc_ready(a) &&
	    now - d->started < DISC_WAIT)
		return now + DISC_RESEND / 5;	/* the relay's answer */
	d->running = false;
	n = disc_reflexive(d, refl, DISC_MAX_TARGETS);
	d->mapping_varies = disc_varies(d) == 1;
	if (n != a->n_reflexive || memcmp(refl, a->reflexive, n * sizeof(*refl))) {
		memcpy(a->reflexive, refl, n * sizeof(*refl));
		a->n_reflexive = n;
		if (a->state == AGENT_RUNNING)
			agent_endpoints_changed(a);
	}
	if (d->waiter) {
		local_reply_ok(a, d->waiter, disc_report(a));
		d->waiter = NULL;
	}
	return d->next_round;
}
