/*
 * send — the outbound paths: IP packets from the interface become data
 * messages (whitepaper §5.4.6), packets wait in a bounded per-peer queue
 * while a handshake is under way, and handshake initiations, responses and
 * keepalives go out here too.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "ip.h"

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

bool wg_keypair_usable(const struct wg_device *dev,
		       const struct noise_keypair *kp)
{
	return kp && kp->send_counter < REJECT_AFTER_MESSAGES &&
	       dev->now - kp->birth < REJECT_AFTER_TIME;
}

void wg_peer_send_buffer(struct wg_peer *peer, const uint8_t *msg, size_t len)
{
	struct wg_device *dev = peer->dev;

	if (!peer->has_endpoint) {
		dev->stats.tx_no_endpoint++;
		return;
	}
	dev->ops->send(dev->ctx, &peer->endpoint, msg, len);
	peer->tx_bytes += len;
	peer->last_sent = dev->now;
}

/* Lays out the data message for the packet at buf + WG_HEADROOM: header,
 * the next nonce, padding to 16 bytes (§5.4.6, stopping at the MTU).
 * Returns the padded plaintext length. */
static size_t send_prepare(struct wg_device *dev, struct noise_keypair *kp,
			   uint8_t *buf, size_t len, uint64_t *counter)
{
	struct msg_data *hdr = (struct msg_data *)buf;
	size_t padded = (len + MSG_PADDING - 1) & ~(size_t)(MSG_PADDING - 1);

	*counter = kp->send_counter++;
	if (padded > dev->mtu && len <= dev->mtu)
		padded = dev->mtu;
	memset(buf + WG_HEADROOM + len, 0, padded - len);
	hdr->type = MSG_DATA;
	memset(hdr->reserved, 0, 3);
	hdr->receiver = kp->remote_index;
	hdr->counter = htole64(*counter);
	return padded;
}

/* §6.2: the initiator rekeys an old session; anyone rekeys a worn one. */
static void send_maybe_rekey(struct wg_peer *peer)
{
	struct noise_keypair *kp = peer->kp_cur;

	if (kp && ((kp->initiator &&
		    peer->dev->now - kp->birth >= REKEY_AFTER_TIME) ||
		   kp->send_counter >= REKEY_AFTER_MESSAGES))
		wg_peer_send_initiation(peer, false);
}

static void send_done(struct wg_peer *peer, uint8_t *buf, size_t msglen,
		      size_t len)
{
	wg_peer_send_buffer(peer, buf, msglen);
	if (len)
		wg_timers_data_sent(peer);
	wg_timers_any_authenticated_packet_sent(peer);
	wg_timers_any_authenticated_packet_traversal(peer);
}

/* Encrypts in place and sends; in a batch (and when the buffer outlives
 * the call) only prepares, and the batch finishes it. */
static void send_data(struct wg_peer *peer, uint8_t *buf, size_t len,
		      bool may_batch)
{
	struct wg_device *dev = peer->dev;
	struct msg_data *hdr = (struct msg_data *)buf;
	struct wg_crypt_job *job = may_batch ? wg_batch_job(dev) : NULL;
	uint64_t counter;
	size_t padded = send_prepare(dev, peer->kp_cur, buf, len, &counter);

	if (job) {
		*job = (struct wg_crypt_job){
			.aead = peer->kp_cur->send, .data = hdr->payload,
			.len = padded, .counter = counter, .seal = true,
			.peer = peer, .kp = peer->kp_cur, .msg = buf,
			.index = peer->kp_cur->local_index,
			.msglen = sizeof(*hdr) + padded + CRYPTO_TAG_LEN,
			.plen = len,
		};
		return;
	}
	if (!crypto_aead_ctx_seal(peer->kp_cur->send, hdr->payload,
				  hdr->payload, padded, counter))
		return;
	send_done(peer, buf, sizeof(*hdr) + padded + CRYPTO_TAG_LEN, len);
}

/* A batched message: its peer may have been removed (by the host taking
 * a delivery finished before it), so the keypair is looked up again. */
void wg_send_finish(struct wg_device *dev, struct wg_crypt_job *job)
{
	if (job->ok && wg_batch_job_current(dev, job))
		send_done(job->peer, job->msg, job->msglen, job->plen);
}

/* Queues a copy of the packet; the oldest is dropped when full. */
static void send_stage(struct wg_peer *peer, const uint8_t *pkt, size_t len)
{
	struct wg_staged *s;
	uint8_t *copy = malloc(WG_HEADROOM + len + WG_TAILROOM);

	if (copy && !peer->staged)
		peer->staged = calloc(WG_MAX_STAGED, sizeof(*peer->staged));
	if (!copy || !peer->staged) {
		free(copy);
		peer->dev->stats.tx_staged_dropped++;
		return;
	}
	if (peer->staged_count == WG_MAX_STAGED) {
		s = &peer->staged[peer->staged_head];
		free(s->buf);
		peer->staged_head = (peer->staged_head + 1) % WG_MAX_STAGED;
		peer->staged_count--;
		peer->dev->stats.tx_staged_dropped++;
	}
	s = &peer->staged[(peer->staged_head + peer->staged_count) % WG_MAX_STAGED];
	memcpy(copy + WG_HEADROOM, pkt, len);
	s->buf = copy;
	s->len = len;
	peer->staged_count++;
}

void wg_peer_drop_staged(struct wg_peer *peer)
{
	while (peer->staged_count) {
		free(peer->staged[peer->staged_head].buf);
		peer->staged_head = (peer->staged_head + 1) % WG_MAX_STAGED;
		peer->staged_count--;
	}
	peer->staged_head = 0;
	free(peer->staged);
	peer->staged = NULL;
}

void wg_peer_send_staged(struct wg_peer *peer)
{
	if (!peer->staged_count)
		return;
	if (!wg_keypair_usable(peer->dev, peer->kp_cur)) {
		wg_peer_send_initiation(peer, false);
		return;
	}
	while (peer->staged_count) {
		struct wg_staged *s = &peer->staged[peer->staged_head];
		send_data(peer, s->buf, s->len, false);
		free(s->buf);
		s->buf = NULL;
		peer->staged_head = (peer->staged_head + 1) % WG_MAX_STAGED;
		peer->staged_count--;
	}
	peer->staged_head = 0;
	free(peer->staged);
	peer->staged = NULL;
	if (peer->dev->ops->sent_staged)
		peer->dev->ops->sent_staged(peer->dev->ctx, peer);
	send_maybe_rekey(peer);
}

void wg_peer_send_keepalive(struct wg_peer *peer)
{
	_Alignas(8) uint8_t buf[WG_HEADROOM + WG_TAILROOM] = { 0 };

	if (peer->staged_count) {
		wg_peer_send_staged(peer);
	} else if (wg_keypair_usable(peer->dev, peer->kp_cur)) {
		send_data(peer, buf, 0, false);
		send_maybe_rekey(peer);
	} else {
		send_stage(peer, buf, 0);
		wg_peer_send_initiation(peer, false);
	}
}

/* may_batch: the buffer is the packet path's own and outlives a batch
 * (a host's buffer, say a control message, is sent at once). */
static void send_packet(struct wg_peer *peer, uint8_t *buf, size_t len,
			bool may_batch)
{
	if (!peer->has_endpoint) {
		peer->dev->stats.tx_no_endpoint++;
		return;
	}
	if (!peer->staged_count && wg_keypair_usable(peer->dev, peer->kp_cur)) {
		send_data(peer, buf, len, may_batch);
		send_maybe_rekey(peer);
		return;
	}
	send_stage(peer, buf + WG_HEADROOM, len);
	wg_peer_send_staged(peer);
}

void wg_device_send(struct wg_device *dev, uint8_t *buf, size_t len)
{
	struct ip_info ip;
	struct aip_owner *owner;

	wg_batch_make_room(dev);	/* before the lookup */
	if (!ip_parse(buf + WG_HEADROOM, len, &ip)) {
		dev->stats.tx_no_route++;
		return;
	}
	owner = allowedips_lookup(&dev->aips, ip.family, ip.dst);
	if (!owner) {
		dev->stats.tx_no_route++;
		if (dev->ops->no_route)
			dev->ops->no_route(dev->ctx, buf, len);
		return;
	}
	send_packet(container_of(owner, struct wg_peer, aips), buf, len, true);
}

void wg_peer_send_packet(struct wg_peer *peer, uint8_t *buf, size_t len)
{
	/* sent at once, so what is pending goes first (nonce order) */
	wg_batch_flush(peer->dev);
	send_packet(peer, buf, len, false);
}

void wg_peer_send_initiation(struct wg_peer *peer, bool is_retry)
{
	struct wg_device *dev = peer->dev;
	struct msg_initiation msg;

	if (!is_retry)
		peer->handshake_attempts = 0;
	if (!dev->local.has_key || !peer->has_endpoint)
		return;
	if (peer->last_sent_handshake &&
	    dev->now - peer->last_sent_handshake < REKEY_TIMEOUT) {
		/* Rate limited (§6.1).  If a retry or staged packets wait
		 * for this handshake, try again when the limit ends. */
		if (is_retry || peer->staged_count)
			wg_timers_handshake_deferred(peer);
		return;
	}
	peer->last_sent_handshake = dev->now;
	wg_peer_clear_handshake(peer);
	if (wg_index_insert(dev, WG_INDEX_HANDSHAKE, peer, NULL,
			    &peer->hs.local_index))
		return;
	if (!noise_create_initiation(&peer->hs, &dev->local, &msg,
				     dev->now + dev->real_offset)) {
		wg_index_remove(dev, peer->hs.local_index);
		noise_handshake_clear(&peer->hs);
		return;
	}
	cookie_add_macs(&peer->cookie, &msg, sizeof(msg), dev->now);
	wg_timers_any_authenticated_packet_traversal(peer);
	wg_timers_any_authenticated_packet_sent(peer);
	if (dev->ops->send_initiation && peer->has_endpoint) {
		dev->ops->send_initiation(dev->ctx, peer, (const uint8_t *)&msg, sizeof(msg));
		peer->tx_bytes += sizeof(msg);
		peer->last_sent = dev->now;
	} else {
		wg_peer_send_buffer(peer, (const uint8_t *)&msg, sizeof(msg));
	}
	wg_timers_handshake_initiated(peer);
}
