/*
 * receive — the inbound path: one UDP payload in, dispatched on type and
 * exact length (whitepaper §5.4).  Handshake messages pass the cookie
 * checks first; data messages are decrypted in place, checked against the
 * replay window and the peer's allowed IPs, then delivered.  Everything
 * that fails is dropped silently and counted.
 */
#include <endian.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "device.h"
#include "ip.h"

/* Roaming (§2.1): the endpoint follows the latest authenticated packet. */
static void receive_roam(struct wg_peer *peer, const union wg_sockaddr *from)
{
	if (peer->prefer_udp && wg_sockaddr_is_relay(from))
		return;
	if (!peer->has_endpoint || !wg_sockaddr_equal(&peer->endpoint, from))
		wg_peer_set_endpoint(peer, from);
}

/* The source address as the cookie's A_m: address bytes, then port. */
static size_t receive_source_bytes(const union wg_sockaddr *from, uint8_t out[18])
{
	if (from->sa.sa_family == AF_INET) {
		memcpy(out, &from->in4.sin_addr, 4);
		memcpy(out + 4, &from->in4.sin_port, 2);
		return 6;
	}
	memcpy(out, &from->in6.sin6_addr, 16);
	memcpy(out + 16, &from->in6.sin6_port, 2);
	return 18;
}

/* Counts handshake messages; a device above its threshold in the last
 * second is under load for the next second. */
static bool receive_under_load(struct wg_device *dev)
{
	if (dev->now - dev->load_window >= NSEC_PER_SEC) {
		dev->load_window = dev->now;
		dev->load_count = 0;
	}
	if (++dev->load_count > dev->load_threshold)
		dev->under_load_until = dev->now + NSEC_PER_SEC;
	return dev->now < dev->under_load_until;
}

/* mac1 always; under load, mac2 too, or a cookie reply instead (§5.3). */
static bool receive_check_macs(struct wg_device *dev,
			       const union wg_sockaddr *from,
			       const uint8_t *msg, size_t len, uint32_t sender)
{
	uint8_t src[18];
	size_t srclen = receive_source_bytes(from, src);
	bool load = receive_under_load(dev);
	struct msg_cookie_reply reply;
	enum cookie_result r;

	r = cookie_validate(&dev->cookie, msg, len, load, src, srclen, dev->now);
	if (r == COOKIE_MAC1_INVALID) {
		dev->stats.rx_invalid_mac++;
		return false;
	}
	if (!load || r == COOKIE_MAC2_VALID)
		return true;
	if (cookie_reply_create(&dev->cookie, &reply, msg, len, sender, src,
				srclen, dev->now)) {
		dev->ops->send(dev->ctx, from, (const uint8_t *)&reply,
			       sizeof(reply));
		dev->stats.cookie_replies_sent++;
	}
	return false;
}

static void receive_drop_keypair(struct wg_device *dev, struct noise_keypair *kp)
{
	if (!kp)
		return;
	wg_index_remove(dev, kp->local_index);
	noise_keypair_free(kp);
}

/* Turns the finished handshake into a keypair and files it (§5.4.5 and the
 * rotation rules: a responder's keypair waits in "next" until the
 * initiator proves it has it by sending data). */
static struct noise_keypair *receive_begin_session(struct wg_peer *peer)
{
	struct wg_device *dev = peer->dev;
	uint32_t index = peer->hs.local_index;
	struct noise_keypair *kp = noise_keypair_derive(&peer->hs, dev->now);
	struct wg_index_slot *slot = wg_index_find(dev, index);

	if (!kp || !slot) {
		wg_index_remove(dev, index);
		noise_keypair_free(kp);
		return NULL;
	}
	slot->kind = WG_INDEX_KEYPAIR;
	slot->kp = kp;
	if (kp->initiator) {
		if (peer->kp_next) {
			/* An unconfirmed responder session can still receive. */
			receive_drop_keypair(dev, peer->kp_prev);
			peer->kp_prev = peer->kp_next;
			peer->kp_next = NULL;
			receive_drop_keypair(dev, peer->kp_cur);
		} else {
			receive_drop_keypair(dev, peer->kp_prev);
			peer->kp_prev = peer->kp_cur;
		}
		peer->kp_cur = kp;
	} else {
		receive_drop_keypair(dev, peer->kp_next);
		peer->kp_next = kp;
		receive_drop_keypair(dev, peer->kp_prev);
		peer->kp_prev = NULL;
	}
	wg_timers_session_derived(peer);
	return kp;
}

static void receive_send_response(struct wg_peer *peer)
{
	struct wg_device *dev = peer->dev;
	struct msg_response msg;

	if (wg_index_insert(dev, WG_INDEX_HANDSHAKE, peer, NULL,
			    &peer->hs.local_index)) {
		noise_handshake_clear(&peer->hs);
		return;
	}
	if (!noise_create_response(&peer->hs, &dev->local, &msg)) {
		wg_peer_clear_handshake(peer);
		return;
	}
	cookie_add_macs(&peer->cookie, &msg, sizeof(msg), dev->now);
	if (!receive_begin_session(peer))
		return;
	wg_timers_any_authenticated_packet_traversal(peer);
	wg_timers_any_authenticated_packet_sent(peer);
	/* A response counts against the REKEY_TIMEOUT rate limit as an
	 * initiation does: until the initiator confirms the session, our own
	 * packets wait for it rather than start a competing handshake. */
	peer->last_sent_handshake = dev->now;
	wg_peer_send_buffer(peer, (const uint8_t *)&msg, sizeof(msg));
}

static void receive_initiation(struct wg_device *dev,
			       const union wg_sockaddr *from,
			       const struct msg_initiation *msg)
{
	struct noise_initiation_state st;
	uint8_t remote[32];
	struct wg_peer *peer, *created = NULL;
	enum noise_state old_state;
	uint32_t old_index;

	if (!receive_check_macs(dev, from, (const uint8_t *)msg, sizeof(*msg),
				msg->sender))
		return;
	if (!noise_consume_initiation_begin(&dev->local, msg, remote, &st)) {
		dev->stats.rx_bad_auth++;
		return;
	}
	peer = wg_peer_find(dev, remote);
	if (!peer && dev->ops->unknown_peer)
		created = peer = dev->ops->unknown_peer(dev->ctx, remote);
	crypto_wipe(remote, sizeof(remote));
	if (!peer) {
		crypto_wipe(&st, sizeof(st));
		dev->stats.rx_unknown_peer++;
		return;
	}
	old_state = peer->hs.state;
	old_index = peer->hs.local_index;
	if (!noise_consume_initiation_finish(&peer->hs, msg, &st, dev->now)) {
		/* A key the host let in on trust must prove itself (ss). */
		if (created)
			wg_peer_remove(created);
		dev->stats.rx_handshake_replay++;
		return;
	}
	if (old_state != NOISE_ZEROED)
		wg_index_remove(dev, old_index);
	receive_roam(peer, from);
	wg_timers_any_authenticated_packet_received(peer);
	wg_timers_any_authenticated_packet_traversal(peer);
	receive_send_response(peer);
}

static void receive_response(struct wg_device *dev,
			     const union wg_sockaddr *from,
			     const struct msg_response *msg)
{
	struct wg_index_slot *slot;
	struct wg_peer *peer;

	if (!receive_check_macs(dev, from, (const uint8_t *)msg, sizeof(*msg),
				msg->sender))
		return;
	slot = wg_index_find(dev, msg->receiver);
	if (!slot || slot->kind != WG_INDEX_HANDSHAKE) {
		dev->stats.rx_unknown_index++;
		return;
	}
	peer = slot->peer;
	if (!noise_consume_response(&peer->hs, &dev->local, msg)) {
		dev->stats.rx_bad_auth++;
		return;
	}
	receive_roam(peer, from);
	if (!receive_begin_session(peer))
		return;
	wg_timers_any_authenticated_packet_received(peer);
	wg_timers_any_authenticated_packet_traversal(peer);
	wg_timers_handshake_complete(peer);
	/* Sends what waited, or a keepalive so the responder can confirm. */
	wg_peer_send_keepalive(peer);
}

static void receive_cookie_reply(struct wg_device *dev,
				 const struct msg_cookie_reply *msg)
{
	struct wg_index_slot *slot = wg_index_find(dev, msg->receiver);

	if (!slot) {
		dev->stats.rx_unknown_index++;
		return;
	}
	if (!cookie_reply_consume(&slot->peer->cookie, msg, dev->now)) {
		dev->stats.rx_bad_auth++;
		return;
	}
	dev->stats.rx_cookie_replies++;
}

/* The responder's first data on "next" confirms the session. */
static void receive_confirm(struct wg_peer *peer, struct noise_keypair *kp)
{
	if (kp != peer->kp_next)
		return;
	receive_drop_keypair(peer->dev, peer->kp_prev);
	peer->kp_prev = peer->kp_cur;
	peer->kp_cur = kp;
	peer->kp_next = NULL;
	wg_timers_handshake_complete(peer);
	wg_peer_send_staged(peer);
}

/* §6.2: an initiator whose session nears REJECT_AFTER_TIME rekeys when it
 * receives, so that a session kept alive by one side does not expire. */
static void receive_lastminute_rekey(struct wg_peer *peer)
{
	struct noise_keypair *kp = peer->kp_cur;

	if (kp && kp->initiator && !peer->sent_lastminute_handshake &&
	    peer->dev->now - kp->birth >=
		    REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) {
		peer->sent_lastminute_handshake = true;
		wg_peer_send_initiation(peer, false);
	}
}

/* After the AEAD: replay, session confirmation, roaming, timers, and the
 * inner packet's checks and delivery. */
static void receive_done(struct wg_device *dev, const union wg_sockaddr *from,
			 struct wg_peer *peer, struct noise_keypair *kp,
			 uint8_t *payload, size_t len, uint64_t counter)
{
	size_t plen = len - sizeof(struct msg_data) - CRYPTO_TAG_LEN;
	struct ip_info ip;

	if (!replay_check(&kp->replay, counter)) {
		dev->stats.rx_replay++;
		return;
	}
	receive_confirm(peer, kp);
	receive_roam(peer, from);
	peer->rx_bytes += len;
	peer->last_received = dev->now;
	wg_timers_any_authenticated_packet_received(peer);
	wg_timers_any_authenticated_packet_traversal(peer);
	receive_lastminute_rekey(peer);
	if (!plen)
		return;		/* keepalive */
	wg_timers_data_received(peer);
	if (!ip_parse(payload, plen, &ip)) {
		dev->stats.rx_bad_inner++;
		return;
	}
	/* Cryptokey routing, inbound: the source must belong to this peer. */
	if (!dev->skip_source_check &&
	    allowedips_lookup(&dev->aips, ip.family, ip.src) != &peer->aips) {
		dev->stats.rx_bad_source++;
		return;
	}
	dev->ops->deliver(dev->ctx, peer, payload, ip.len);
}

/* A data message's receiver index and counter.  Data messages may sit
 * anywhere in a buffer (the segments of a UDP GRO train are not 8-byte
 * aligned when their size is not), so they are read bytewise. */
static uint32_t receive_index(const uint8_t *buf)
{
	uint32_t v;

	memcpy(&v, buf + offsetof(struct msg_data, receiver), sizeof(v));
	return v;
}

static void receive_data(struct wg_device *dev, const union wg_sockaddr *from,
			 uint8_t *buf, size_t len)
{
	uint8_t *payload = buf + sizeof(struct msg_data);
	uint32_t index = receive_index(buf);
	struct wg_index_slot *slot;
	struct wg_crypt_job *job;
	struct noise_keypair *kp;
	uint64_t counter;

	memcpy(&counter, buf + offsetof(struct msg_data, counter), sizeof(counter));
	counter = le64toh(counter);
	wg_batch_make_room(dev);	/* before the lookup */
	slot = wg_index_find(dev, index);
	if (!slot || slot->kind != WG_INDEX_KEYPAIR) {
		dev->stats.rx_unknown_index++;
		return;
	}
	kp = slot->kp;
	if (dev->now - kp->birth >= REJECT_AFTER_TIME ||
	    counter >= REJECT_AFTER_MESSAGES) {
		dev->stats.rx_expired_key++;
		return;
	}
	job = wg_batch_job(dev);
	if (job) {
		*job = (struct wg_crypt_job){
			.aead = kp->recv, .data = payload,
			.len = len - sizeof(struct msg_data), .counter = counter,
			.peer = slot->peer, .kp = kp, .msg = buf, .msglen = len,
			.index = index,
		};
		job->from = *from;
		return;
	}
	if (!crypto_aead_ctx_open(kp->recv, payload, payload,
				  len - sizeof(struct msg_data), counter)) {
		dev->stats.rx_bad_auth++;
		return;
	}
	receive_done(dev, from, slot->peer, kp, payload, len, counter);
}

/* A batched message: the keypair may have gone (an earlier message of
 * the batch completed a rotation, or the host removed its peer while
 * taking a delivery), so it is looked up again. */
void wg_receive_finish(struct wg_device *dev, struct wg_crypt_job *job)
{
	if (!wg_batch_job_current(dev, job)) {
		dev->stats.rx_unknown_index++;
		return;
	}
	if (!job->ok) {
		dev->stats.rx_bad_auth++;
		return;
	}
	receive_done(dev, &job->from, job->peer, job->kp, job->data, job->msglen,
		     job->counter);
}

void wg_device_receive(struct wg_device *dev, const union wg_sockaddr *from,
		       uint8_t *buf, size_t len)
{
	/* Type and exact length, reserved bytes zero (§5.4). */
	if (len < 4 || buf[1] || buf[2] || buf[3] || !dev->local.has_key)
		goto malformed;
	if (buf[0] != MSG_DATA)
		wg_batch_flush(dev);	/* a handshake may change the keypairs */
	switch (buf[0]) {
	case MSG_INITIATION:
		if (len != sizeof(struct msg_initiation))
			goto malformed;
		receive_initiation(dev, from, (const struct msg_initiation *)buf);
		return;
	case MSG_RESPONSE:
		if (len != sizeof(struct msg_response))
			goto malformed;
		receive_response(dev, from, (const struct msg_response *)buf);
		return;
	case MSG_COOKIE_REPLY:
		if (len != sizeof(struct msg_cookie_reply))
			goto malformed;
		receive_cookie_reply(dev, (const struct msg_cookie_reply *)buf);
		return;
	case MSG_DATA:
		if (len < MSG_DATA_MIN)
			goto malformed;
		receive_data(dev, from, buf, len);
		return;
	}
malformed:
	dev->stats.rx_malformed++;
}
