/*
 * device — the engine's objects: the device, its peers and the table that
 * finds a peer by public key.  The packet paths are in send.c and
 * receive.c, the timers in timers.c, receiver indices in index.c.
 */
#include "device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PEER_MIN_BUCKETS 64
#define DEFAULT_LOAD_THRESHOLD 512

/* splitmix64: timer jitter and receiver indices need to be unpredictable
 * enough to avoid collisions, not secret; seeded from the CSPRNG. */
uint64_t wg_device_random(struct wg_device *dev)
{
	uint64_t z = (dev->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct wg_device *wg_device_new(const struct wg_ops *ops, void *ctx)
{
	struct wg_device *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->ops = ops;
	dev->ctx = ctx;
	dev->mtu = WG_DEFAULT_MTU;
	dev->load_threshold = DEFAULT_LOAD_THRESHOLD;
	allowedips_init(&dev->aips);
	dev->peer_buckets = calloc(PEER_MIN_BUCKETS, sizeof(*dev->peer_buckets));
	if (!dev->peer_buckets ||
	    !crypto_random(&dev->rng, sizeof(dev->rng)) ||
	    !crypto_random(&dev->peer_hash_seed, sizeof(dev->peer_hash_seed))) {
		free(dev->peer_buckets);
		free(dev);
		return NULL;
	}
	dev->peer_mask = PEER_MIN_BUCKETS - 1;
	return dev;
}

void wg_device_free(struct wg_device *dev)
{
	if (!dev)
		return;
	wg_device_remove_all_peers(dev);
	noise_local_clear(&dev->local);
	allowedips_free(&dev->aips);
	wg_index_free(dev);
	free(dev->peer_buckets);
	free(dev->heap);
	free(dev->jobs);
	crypto_wipe(dev, sizeof(*dev));
	free(dev);
}

void wg_device_set_time(struct wg_device *dev, uint64_t mono_ns,
			uint64_t real_ns)
{
	dev->now = mono_ns;
	dev->real_offset = real_ns - mono_ns;
}

void wg_device_set_load_threshold(struct wg_device *dev, unsigned per_second)
{
	dev->load_threshold = per_second;
}

void wg_device_skip_source_check(struct wg_device *dev, bool skip)
{
	dev->skip_source_check = skip;
}

int wg_device_set_private_key(struct wg_device *dev, const uint8_t *key)
{
	struct noise_local l = { 0 };

	wg_batch_flush(dev);	/* no job may outlive what this frees */
	if (key && !crypto_is_zero(key, 32) && !noise_local_set(&l, key))
		return -EINVAL;
	if (l.has_key && dev->local.has_key &&
	    crypto_equal(l.private_key, dev->local.private_key, 32)) {
		noise_local_clear(&l);
		return 0;
	}
	noise_local_clear(&dev->local);
	dev->local = l;		/* moved: its key objects are dev's now */
	crypto_wipe(&l, sizeof(l));
	cookie_checker_init(&dev->cookie, dev->local.public_key);
	/* New identity: every session and half-done handshake is void.  A
	 * peer that carries our own public key can never be talked to. */
	for (struct wg_peer *p = dev->first, *next; p; p = next) {
		next = p->next;
		if (dev->local.has_key &&
		    crypto_equal(p->public_key, dev->local.public_key, 32)) {
			wg_peer_remove(p);
			continue;
		}
		wg_peer_clear_keypairs(p);
		wg_peer_clear_handshake(p);
		noise_handshake_precompute(&p->hs, &dev->local);
	}
	return 0;
}

static size_t device_key_hash(const struct wg_device *dev, const uint8_t k[32])
{
	uint64_t h = dev->peer_hash_seed;

	for (int i = 0; i < 32; i += 8) {
		uint64_t w;
		memcpy(&w, k + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return (size_t)h & dev->peer_mask;
}

struct wg_peer *wg_peer_find(const struct wg_device *dev, const uint8_t pub[32])
{
	struct wg_peer *p = dev->peer_buckets[device_key_hash(dev, pub)];

	while (p && memcmp(p->public_key, pub, 32))
		p = p->hash_next;
	return p;
}

static void device_rehash(struct wg_device *dev)
{
	size_t n = (dev->peer_mask + 1) * 2;
	struct wg_peer **b = calloc(n, sizeof(*b));

	if (!b)
		return;		/* chains just get longer */
	free(dev->peer_buckets);
	dev->peer_buckets = b;
	dev->peer_mask = n - 1;
	for (struct wg_peer *p = dev->first; p; p = p->next) {
		size_t h = device_key_hash(dev, p->public_key);
		p->hash_next = b[h];
		b[h] = p;
	}
}

int wg_peer_new(struct wg_device *dev, const uint8_t pub[32],
		struct wg_peer **out)
{
	struct wg_peer *p;
	size_t h;

	if (wg_peer_find(dev, pub))
		return -EEXIST;
	if (dev->local.has_key && crypto_equal(pub, dev->local.public_key, 32))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = dev;
	memcpy(p->public_key, pub, 32);
	noise_handshake_init(&p->hs, &dev->local, pub);
	cookie_maker_init(&p->cookie, pub);
	/* Rehash before p is on the list: the rehash files every listed
	 * peer, and p is filed once, below. */
	if (++dev->n_peers > dev->peer_mask + 1)
		device_rehash(dev);
	p->prev = dev->last;
	if (dev->last)
		dev->last->next = p;
	else
		dev->first = p;
	dev->last = p;
	h = device_key_hash(dev, pub);
	p->hash_next = dev->peer_buckets[h];
	dev->peer_buckets[h] = p;
	*out = p;
	return 0;
}

void wg_peer_remove(struct wg_peer *p)
{
	struct wg_device *dev = p->dev;
	struct wg_peer **pp;

	wg_batch_flush(dev);	/* no job may outlive what this frees */
	pp = &dev->peer_buckets[device_key_hash(dev, p->public_key)];
	while (*pp != p)
		pp = &(*pp)->hash_next;
	*pp = p->hash_next;
	if (p->prev)
		p->prev->next = p->next;
	else
		dev->first = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		dev->last = p->prev;
	dev->n_peers--;
	wg_timers_heap_remove(p);
	wg_peer_clear_keypairs(p);
	wg_peer_clear_handshake(p);
	wg_peer_drop_staged(p);
	allowedips_remove_owner(&dev->aips, &p->aips);
	crypto_wipe(p, sizeof(*p));
	free(p);
}

void wg_device_remove_all_peers(struct wg_device *dev)
{
	while (dev->first)
		wg_peer_remove(dev->first);
}

void wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk)
{
	if (psk)
		memcpy(peer->hs.psk, psk, 32);
	else
		crypto_wipe(peer->hs.psk, 32);
}

void wg_peer_set_endpoint(struct wg_peer *peer, const union wg_sockaddr *ep)
{
	peer->endpoint = *ep;
	peer->has_endpoint = true;
}

void wg_peer_set_keepalive(struct wg_peer *peer, uint16_t seconds)
{
	bool was_off = !peer->keepalive_interval;

	peer->keepalive_interval = seconds;
	if (!seconds) {
		peer->timer[WG_TIMER_PERSISTENT] = 0;
		wg_timers_update(peer);
	} else if (was_off && peer->has_endpoint && peer->dev->local.has_key) {
		wg_peer_send_keepalive(peer);
	}
}

int wg_peer_add_allowed_ip(struct wg_peer *peer, int family,
			   const uint8_t *addr, uint8_t cidr)
{
	return allowedips_insert(&peer->dev->aips, family, addr, cidr,
				 &peer->aips);
}

void wg_peer_clear_allowed_ips(struct wg_peer *peer)
{
	allowedips_remove_owner(&peer->dev->aips, &peer->aips);
}

void wg_peer_clear_keypairs(struct wg_peer *peer)
{
	struct noise_keypair **slots[] = {
		&peer->kp_prev, &peer->kp_cur, &peer->kp_next
	};

	wg_batch_flush(peer->dev);	/* no job may outlive what this frees */
	for (size_t i = 0; i < 3; i++) {
		if (!*slots[i])
			continue;
		wg_index_remove(peer->dev, (*slots[i])->local_index);
		noise_keypair_free(*slots[i]);
		*slots[i] = NULL;
	}
}

/* A handshake in progress owns a receiver index; both go together. */
void wg_peer_clear_handshake(struct wg_peer *peer)
{
	if (peer->hs.state != NOISE_ZEROED)
		wg_index_remove(peer->dev, peer->hs.local_index);
	noise_handshake_clear(&peer->hs);
}
