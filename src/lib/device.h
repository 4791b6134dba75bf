/*
 * device — the WireGuard engine: peers, cryptokey routing, the handshake
 * and transport paths and the timers, with no I/O.  The caller (weft-wg,
 * weftd, weft-server) reads packets and passes them in, and the engine
 * hands packets back through the two callbacks of struct wg_ops.
 *
 * Time: the caller sets the clock with wg_device_set_time before each batch
 * of calls; wg_device_tick runs the timers that are due and returns the next
 * deadline.  Errors: configuration calls return 0 or -errno; the packet
 * paths never fail loudly, they drop and count (struct wg_stats).
 * Not thread-safe: one device is driven by one thread.
 */
#ifndef WEFT_DEVICE_H
#define WEFT_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "allowedips.h"
#include "cookie.h"
#include "noise.h"
#include "sockaddr.h"

/* Room the caller leaves before and after an outbound IP packet, so that
 * it is encrypted in place into a data message. */
#define WG_HEADROOM  16
#define WG_TAILROOM  (MSG_PADDING - 1 + CRYPTO_TAG_LEN)
#define WG_MAX_STAGED 128
#define WG_DEFAULT_MTU 1420

struct wg_peer;
struct wg_crypt_job;

struct wg_ops {
	/* Sends msg to a peer's endpoint.  msg is only valid during the call. */
	void (*send)(void *ctx, const union wg_sockaddr *to,
		     const uint8_t *msg, size_t len);
	/* Delivers a decrypted, source-checked IP packet that peer sent. */
	void (*deliver)(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			size_t len);
	/* Optional: an initiation came from a static key no peer has.  The
	 * host may create a peer for it (wg_peer_new) and return it, or
	 * return NULL to refuse.  A peer made here whose initiation then
	 * fails to authenticate is removed again by the engine, so the host
	 * should record it only once a packet from it is delivered. */
	struct wg_peer *(*unknown_peer)(void *ctx, const uint8_t pub[32]);
	/* Optional: wg_device_send found no peer whose allowed IPs cover a
	 * well-formed packet's destination (it is also counted in
	 * tx_no_route).  buf is laid out as for wg_device_send and is only
	 * valid during the call: an on-demand host copies it, looks the
	 * peer up, and sends it again once the peer exists. */
	void (*no_route)(void *ctx, const uint8_t *buf, size_t len);
	/* Optional: sends a handshake initiation for peer instead of send
	 * (a host that knows more ways to the peer than its endpoint may
	 * try them all: the first copy to arrive is answered, the others
	 * are replays).  The peer has an endpoint. */
	void (*send_initiation)(void *ctx, struct wg_peer *peer,
				const uint8_t *msg, size_t len);
	/* Optional: runs jobs[0..n) with wg_crypt_job_run, in any order and
	 * on any threads (each with its own lane), and returns when all are
	 * done.  Without it a batch runs them one by one. */
	void (*crypt)(void *ctx, struct wg_crypt_job *jobs, size_t n);
	/* Optional: packets that waited for a handshake with peer were just
	 * sent.  They usually open an exchange (an echo request, a TCP SYN,
	 * a DNS query), so their answers are near. */
	void (*sent_staged)(void *ctx, struct wg_peer *peer);
};

/*
 * Batches: between wg_device_batch_begin and _end, the transport messages
 * that wg_device_send and wg_device_receive meet are prepared in order
 * (peer, keypair, nonce counter), their AEADs collected as jobs, and
 * finished in the same order once the jobs have run: replay checks,
 * timers, sending and delivery happen exactly as without a batch, so a
 * peer's packets keep their order whatever order the jobs ran in.  The
 * buffers passed in must stay valid until the batch ends.  Anything that
 * is no transport message, wg_peer_send_packet, and whatever removes
 * peers or keys first finish what is pending; a job whose peer or keypair
 * went while it waited is dropped when finished.
 */
#define WG_BATCH_MAX 256
struct wg_crypt_job {
	struct crypto_aead *aead;
	uint8_t *data;			/* sealed or opened in place */
	size_t len;			/* plaintext, or ciphertext + tag */
	uint64_t counter;
	bool seal;
	bool ok;			/* the result */
	/* the engine's own */
	struct wg_peer *peer;
	struct noise_keypair *kp;
	uint8_t *msg;
	size_t msglen, plen;
	uint32_t index;			/* the keypair's, to find it again */
	union wg_sockaddr from;
};
bool wg_crypt_job_run(struct wg_crypt_job *job, unsigned lane);

/* Drop and event counters (what `weft-wg --stats` prints). */
struct wg_stats {
	uint64_t rx_malformed;		/* bad type, length or reserved bytes */
	uint64_t rx_invalid_mac;	/* handshake mac1 wrong */
	uint64_t rx_unknown_peer;	/* initiation from a static key we lack */
	uint64_t rx_bad_auth;		/* handshake or data failed to decrypt */
	uint64_t rx_handshake_replay;	/* stale timestamp or initiation flood */
	uint64_t rx_unknown_index;	/* receiver index matches nothing */
	uint64_t rx_replay;		/* transport counter seen before */
	uint64_t rx_expired_key;	/* data on a keypair past its lifetime */
	uint64_t rx_bad_inner;		/* not an IP packet after decryption */
	uint64_t rx_bad_source;		/* inner source not in the peer's allowed IPs */
	uint64_t rx_cookie_replies;
	uint64_t cookie_replies_sent;	/* under load: mac2 missing or wrong */
	uint64_t tx_no_route;		/* no peer's allowed IPs cover the destination */
	uint64_t tx_no_endpoint;
	uint64_t tx_staged_dropped;
	uint64_t handshakes_completed;
};

/* Timers of one peer (whitepaper §6); deadlines in monotonic ns, 0 = off. */
enum wg_timer {
	WG_TIMER_RETRANSMIT,
	WG_TIMER_KEEPALIVE,
	WG_TIMER_NEW_HANDSHAKE,
	WG_TIMER_ZERO_KEYS,
	WG_TIMER_PERSISTENT,
	WG_TIMER_COUNT
};

struct wg_staged {
	uint8_t *buf;		/* WG_HEADROOM + len + WG_TAILROOM bytes */
	size_t len;
};

struct wg_device;
struct wg_peer;

struct wg_peer {
	struct wg_device *dev;
	uint8_t public_key[32];
	struct noise_handshake hs;
	struct cookie_maker cookie;
	struct noise_keypair *kp_prev, *kp_cur, *kp_next;
	struct aip_owner aips;
	union wg_sockaddr endpoint;
	bool has_endpoint;
	uint16_t keepalive_interval;	/* persistent keepalive, seconds */
	uint64_t rx_bytes, tx_bytes;
	uint64_t last_handshake_real;	/* wall-clock ns, 0 = never */
	uint64_t last_sent_handshake;	/* monotonic ns, 0 = never */
	uint64_t last_sent, last_received;	/* monotonic ns */
	uint64_t timer[WG_TIMER_COUNT];
	unsigned handshake_attempts;
	bool need_another_keepalive;
	bool sent_lastminute_handshake;
	uint64_t deadline;		/* min of timer[], heap key */
	size_t heap_pos;		/* position in the device heap + 1; 0 = out */
	/* Packets waiting for a session: a ring of WG_MAX_STAGED, made on
	 * the first one and freed when drained (most peers never need it). */
	struct wg_staged *staged;
	unsigned staged_head, staged_count;
	struct wg_peer *hash_next;	/* public key table chain */
	void *user;			/* the host's own record, if any */
	/* A direct path is proven: packets arriving through a relay
	 * (WG_AF_RELAY) do not move the endpoint there. */
	bool prefer_udp;
	struct wg_peer *prev, *next;	/* device list, configuration order */
};

/* Index table: our 32-bit receiver indices -> handshake or keypair. */
enum wg_index_kind { WG_INDEX_HANDSHAKE = 1, WG_INDEX_KEYPAIR = 2 };
struct wg_index_slot {
	uint32_t index;
	uint8_t kind;			/* 0 = empty */
	struct wg_peer *peer;
	struct noise_keypair *kp;	/* for WG_INDEX_KEYPAIR */
};
struct wg_index_table {
	struct wg_index_slot *slots;
	size_t mask, used;
};

struct wg_device {
	const struct wg_ops *ops;
	void *ctx;
	struct noise_local local;
	struct cookie_checker cookie;
	struct allowedips aips;
	struct wg_index_table index;
	struct wg_peer **peer_buckets;
	size_t peer_mask, n_peers;
	uint64_t peer_hash_seed;
	struct wg_peer *first, *last;
	struct wg_peer **heap;
	size_t heap_len, heap_cap;
	uint64_t now, real_offset;	/* monotonic ns; realtime = now + offset */
	uint32_t mtu;
	unsigned load_threshold;	/* handshakes per second before cookies */
	uint64_t load_window, under_load_until;
	unsigned load_count;
	uint64_t rng;
	bool skip_source_check;		/* see wg_device_skip_source_check */
	bool batching, flushing;
	struct wg_crypt_job *jobs;	/* WG_BATCH_MAX, made on first batch */
	size_t n_jobs;
	struct wg_stats stats;
};

/* Creating and configuring.  The device and every peer are freed by
 * wg_device_free; wg_peer_remove frees one peer. */
struct wg_device *wg_device_new(const struct wg_ops *ops, void *ctx);
void wg_device_free(struct wg_device *dev);
void wg_device_set_time(struct wg_device *dev, uint64_t mono_ns,
			uint64_t real_ns);
/* NULL or an all-zero key removes the private key. */
int wg_device_set_private_key(struct wg_device *dev, const uint8_t *key);
/* Handshake messages per second above which mac2 is demanded. */
void wg_device_set_load_threshold(struct wg_device *dev, unsigned per_second);
/* For a coordination server: deliver every authenticated IP packet with its
 * peer, whatever its inner source (the host then decides by peer). */
void wg_device_skip_source_check(struct wg_device *dev, bool skip);

/* -EEXIST if a peer has that key, -EINVAL if it is our own, -ENOMEM. */
int wg_peer_new(struct wg_device *dev, const uint8_t pub[32],
		struct wg_peer **out);
struct wg_peer *wg_peer_find(const struct wg_device *dev, const uint8_t pub[32]);
void wg_peer_remove(struct wg_peer *peer);
void wg_device_remove_all_peers(struct wg_device *dev);
void wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk);	/* NULL clears */
void wg_peer_set_endpoint(struct wg_peer *peer, const union wg_sockaddr *ep);
/* Sets the persistent keepalive; a newly enabled one sends at once. */
void wg_peer_set_keepalive(struct wg_peer *peer, uint16_t seconds);
int wg_peer_add_allowed_ip(struct wg_peer *peer, int family,
			   const uint8_t *addr, uint8_t cidr);
void wg_peer_clear_allowed_ips(struct wg_peer *peer);

/* The packet paths.  Both buffers are 8-byte aligned (the message
 * headers are read and written in place), except that a data message
 * may be received from any address.  receive: len bytes from the
 * UDP socket, decrypted in place.  send: an IP packet of len bytes at
 * buf + WG_HEADROOM, with WG_TAILROOM writable bytes after it. */
void wg_device_receive(struct wg_device *dev, const union wg_sockaddr *from,
		       uint8_t *buf, size_t len);
void wg_device_send(struct wg_device *dev, uint8_t *buf, size_t len);
/* Sends an IP packet (same buffer rules) to peer, whatever its allowed
 * IPs say: for control traffic between a node and its server. */
void wg_peer_send_packet(struct wg_peer *peer, uint8_t *buf, size_t len);

/* See "Batches" above.  A batch that cannot get its job array runs
 * unbatched. */
void wg_device_batch_begin(struct wg_device *dev);
void wg_device_batch_end(struct wg_device *dev);

/* Runs the timers due at the device's time; returns the next deadline
 * (monotonic ns) or 0 when none is armed. */
uint64_t wg_device_tick(struct wg_device *dev);

/* Sends a handshake initiation now unless one went out within
 * REKEY_TIMEOUT (the rate limit of §6.1). */
void wg_peer_send_initiation(struct wg_peer *peer, bool is_retry);

/* --- internal to the engine (send.c, receive.c, timers.c, index.c) --- */
int wg_index_insert(struct wg_device *dev, uint8_t kind, struct wg_peer *peer,
		    struct noise_keypair *kp, uint32_t *out);
struct wg_index_slot *wg_index_find(struct wg_device *dev, uint32_t index);
void wg_index_remove(struct wg_device *dev, uint32_t index);
void wg_index_free(struct wg_device *dev);
uint64_t wg_device_random(struct wg_device *dev);

void wg_timers_update(struct wg_peer *peer);
void wg_timers_heap_remove(struct wg_peer *peer);
void wg_timers_data_sent(struct wg_peer *peer);
void wg_timers_data_received(struct wg_peer *peer);
void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer);
void wg_timers_any_authenticated_packet_received(struct wg_peer *peer);
void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer);
void wg_timers_handshake_initiated(struct wg_peer *peer);
void wg_timers_handshake_deferred(struct wg_peer *peer);
void wg_timers_handshake_complete(struct wg_peer *peer);
void wg_timers_session_derived(struct wg_peer *peer);

bool wg_keypair_usable(const struct wg_device *dev,
		       const struct noise_keypair *kp);
void wg_peer_send_keepalive(struct wg_peer *peer);
void wg_peer_send_staged(struct wg_peer *peer);
void wg_peer_drop_staged(struct wg_peer *peer);
void wg_batch_flush(struct wg_device *dev);
/* Finishes a full batch, so that a job slot is free: call it before
 * looking a peer or keypair up for the next job (finishing may remove
 * them). */
void wg_batch_make_room(struct wg_device *dev);
/* A waiting job's keypair is still its peer's, under the same index
 * (it may have gone while the job waited). */
bool wg_batch_job_current(struct wg_device *dev, const struct wg_crypt_job *job);
struct wg_crypt_job *wg_batch_job(struct wg_device *dev);
void wg_send_finish(struct wg_device *dev, struct wg_crypt_job *job);
void wg_receive_finish(struct wg_device *dev, struct wg_crypt_job *job);
void wg_peer_clear_keypairs(struct wg_peer *peer);
void wg_peer_clear_handshake(struct wg_peer *peer);
void wg_peer_send_buffer(struct wg_peer *peer, const uint8_t *msg, size_t len);

#endif
