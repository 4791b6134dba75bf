/*
 * timers — the per-peer timer state machine of whitepaper §6, as events
 * ("call this when X happened") and expiry handlers.  Each peer's earliest
 * deadline sits in a binary min-heap on the device, so a tick costs
 * O(log peers) per expired timer, never a scan of all peers.
 */
#include <stdlib.h>

#include "device.h"

/* --- the heap --- */

static void timers_heap_set(struct wg_device *dev, size_t i, struct wg_peer *p)
{
	dev->heap[i] = p;
	p->heap_pos = i + 1;
}

static void timers_heap_up(struct wg_device *dev, size_t i)
{
	struct wg_peer *p = dev->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (dev->heap[parent]->deadline <= p->deadline)
			break;
		timers_heap_set(dev, i, dev->heap[parent]);
		i = parent;
	}
	timers_heap_set(dev, i, p);
}

static void timers_heap_down(struct wg_device *dev, size_t i)
{
	struct wg_peer *p = dev->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= dev->heap_len)
			break;
		if (c + 1 < dev->heap_len &&
		    dev->heap[c + 1]->deadline < dev->heap[c]->deadline)
			c++;
		if (p->deadline <= dev->heap[c]->deadline)
			break;
		timers_heap_set(dev, i, dev->heap[c]);
		i = c;
	}
	timers_heap_set(dev, i, p);
}

void wg_timers_heap_remove(struct wg_peer *peer)
{
	struct wg_device *dev = peer->dev;
	struct wg_peer *moved;
	size_t i;

	if (!peer->heap_pos)
		return;
	i = peer->heap_pos - 1;
	peer->heap_pos = 0;
	if (--dev->heap_len == i)
		return;
	moved = dev->heap[dev->heap_len];
	timers_heap_set(dev, i, moved);
	timers_heap_up(dev, i);
	timers_heap_down(dev, moved->heap_pos - 1);
}

static bool timers_heap_insert(struct wg_device *dev, struct wg_peer *peer)
{
	if (dev->heap_len == dev->heap_cap) {
		size_t cap = dev->heap_cap ? dev->heap_cap * 2 : 16;
		struct wg_peer **h = realloc(dev->heap, cap * sizeof(*h));
		if (!h)
			return false;
		dev->heap = h;
		dev->heap_cap = cap;
	}
	timers_heap_set(dev, dev->heap_len++, peer);
	timers_heap_up(dev, dev->heap_len - 1);
	return true;
}

/* Recomputes the peer's earliest deadline and its place in the heap. */
void wg_timers_update(struct wg_peer *peer)
{
	uint64_t d = 0;

	for (int t = 0; t < WG_TIMER_COUNT; t++)
		if (peer->timer[t] && (!d || peer->timer[t] < d))
			d = peer->timer[t];
	if (!d) {
		wg_timers_heap_remove(peer);
		peer->deadline = 0;
		return;
	}
	if (!peer->heap_pos) {
		peer->deadline = d;
		if (!timers_heap_insert(peer->dev, peer))
			peer->deadline = 0;	/* out of memory: timers stall */
		return;
	}
	peer->deadline = d;
	timers_heap_up(peer->dev, peer->heap_pos - 1);
	timers_heap_down(peer->dev, peer->heap_pos - 1);
}

static void timers_arm(struct wg_peer *peer, enum wg_timer t, uint64_t delay)
{
	peer->timer[t] = peer->dev->now + delay;
	if (!peer->timer[t])
		peer->timer[t] = 1;
	wg_timers_update(peer);
}

static void timers_disarm(struct wg_peer *peer, enum wg_timer t)
{
	if (!peer->timer[t])
		return;
	peer->timer[t] = 0;
	wg_timers_update(peer);
}

static uint64_t timers_jitter(struct wg_peer *peer)
{
	return wg_device_random(peer->dev) % REKEY_TIMEOUT_JITTER;
}

/* --- events --- */

/* A data packet (not a keepalive) was sent. */
void wg_timers_data_sent(struct wg_peer *peer)
{
	if (!peer->timer[WG_TIMER_NEW_HANDSHAKE])
		timers_arm(peer, WG_TIMER_NEW_HANDSHAKE,
			   KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + timers_jitter(peer));
}

/* A data packet (not a keepalive) was received. */
void wg_timers_data_received(struct wg_peer *peer)
{
	if (!peer->timer[WG_TIMER_KEEPALIVE])
		timers_arm(peer, WG_TIMER_KEEPALIVE, KEEPALIVE_TIMEOUT);
	else
		peer->need_another_keepalive = true;
}

/* Any authenticated packet (handshake, keepalive, data) was sent. */
void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer)
{
	timers_disarm(peer, WG_TIMER_KEEPALIVE);
}

/* Any authenticated packet was received. */
void wg_timers_any_authenticated_packet_received(struct wg_peer *peer)
{
	timers_disarm(peer, WG_TIMER_NEW_HANDSHAKE);
}

/* Any authenticated packet was sent or received. */
void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer)
{
	if (peer->keepalive_interval)
		timers_arm(peer, WG_TIMER_PERSISTENT,
			   peer->keepalive_interval * NSEC_PER_SEC);
}

/* A handshake initiation was sent. */
void wg_timers_handshake_initiated(struct wg_peer *peer)
{
	timers_arm(peer, WG_TIMER_RETRANSMIT, REKEY_TIMEOUT + timers_jitter(peer));
}

/* An initiation was wanted but rate limited: unless a retransmission is
 * already due, retry once REKEY_TIMEOUT has passed since the last one. */
void wg_timers_handshake_deferred(struct wg_peer *peer)
{
	uint64_t end = peer->last_sent_handshake + REKEY_TIMEOUT;

	if (!peer->timer[WG_TIMER_RETRANSMIT])
		timers_arm(peer, WG_TIMER_RETRANSMIT,
			   end - peer->dev->now + timers_jitter(peer));
}

/* A handshake response was received, or the responder saw its first
 * data on the new keypair. */
void wg_timers_handshake_complete(struct wg_peer *peer)
{
	timers_disarm(peer, WG_TIMER_RETRANSMIT);
	peer->handshake_attempts = 0;
	peer->sent_lastminute_handshake = false;
	peer->last_handshake_real = peer->dev->now + peer->dev->real_offset;
	peer->dev->stats.handshakes_completed++;
}

/* A keypair was derived: wipe it all if no new one comes in time. */
void wg_timers_session_derived(struct wg_peer *peer)
{
	timers_arm(peer, WG_TIMER_ZERO_KEYS, 3 * REJECT_AFTER_TIME);
}

/* --- expiry --- */

static void timers_expired_retransmit(struct wg_peer *peer)
{
	if (peer->handshake_attempts > MAX_TIMER_HANDSHAKES) {
		/* Gave up after REKEY_ATTEMPT_TIME: forget queued packets and
		 * let the keys die unless traffic wakes us again.  A pending
		 * keepalive or new-handshake timer would start over at once. */
		timers_disarm(peer, WG_TIMER_KEEPALIVE);
		timers_disarm(peer, WG_TIMER_NEW_HANDSHAKE);
		wg_peer_drop_staged(peer);
		if (!peer->timer[WG_TIMER_ZERO_KEYS])
			timers_arm(peer, WG_TIMER_ZERO_KEYS, 3 * REJECT_AFTER_TIME);
		return;
	}
	peer->handshake_attempts++;
	wg_peer_send_initiation(peer, true);
}

static void timers_expired_keepalive(struct wg_peer *peer)
{
	wg_peer_send_keepalive(peer);
	if (peer->need_another_keepalive) {
		peer->need_another_keepalive = false;
		timers_arm(peer, WG_TIMER_KEEPALIVE, KEEPALIVE_TIMEOUT);
	}
}

static void timers_expired_new_handshake(struct wg_peer *peer)
{
	/* We sent data and heard nothing back for KEEPALIVE + REKEY_TIMEOUT. */
	wg_peer_send_initiation(peer, false);
}

static void timers_expired_zero_keys(struct wg_peer *peer)
{
	wg_peer_clear_keypairs(peer);
	wg_peer_clear_handshake(peer);
}

static void timers_expired_persistent(struct wg_peer *peer)
{
	if (peer->keepalive_interval)
		wg_peer_send_keepalive(peer);
}

static void (*const timers_handlers[WG_TIMER_COUNT])(struct wg_peer *) = {
	[WG_TIMER_RETRANSMIT] = timers_expired_retransmit,
	[WG_TIMER_KEEPALIVE] = timers_expired_keepalive,
	[WG_TIMER_NEW_HANDSHAKE] = timers_expired_new_handshake,
	[WG_TIMER_ZERO_KEYS] = timers_expired_zero_keys,
	[WG_TIMER_PERSISTENT] = timers_expired_persistent,
};

uint64_t wg_device_tick(struct wg_device *dev)
{
	wg_batch_flush(dev);	/* expiring keys must not outlive a job */
	/* Bounded: each round disarms at least one timer before its handler
	 * may re-arm it in the future. */
	while (dev->heap_len && dev->heap[0]->deadline <= dev->now) {
		struct wg_peer *peer = dev->heap[0];
		for (int t = 0; t < WG_TIMER_COUNT; t++) {
			if (!peer->timer[t] || peer->timer[t] > dev->now)
				continue;
			peer->timer[t] = 0;
			wg_timers_update(peer);
			timers_handlers[t](peer);
		}
		wg_timers_update(peer);
	}
	return dev->heap_len ? dev->heap[0]->deadline : 0;
}
