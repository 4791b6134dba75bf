/*
 * nodedir — see nodedir.h.
 */
#include "nodedir.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "ipam.h"

enum { BY_ID, BY_KEY, BY_NAME, BY_V4, BY_V6, NODEDIR_IDX };
enum { T_NAME, T_HOSTNAME, T_IPV4, T_IPV6, T_TAGS, T_ENDPOINTS, NODEDIR_TEXT };

#define NODEDIR_MIN_BUCKETS 64

struct rec {
	struct rec *next[NODEDIR_IDX];
	uint64_t hash[NODEDIR_IDX];
	int64_t id, network_id;
	int64_t created, last_seen, expires;
	uint8_t key[32];
	uint8_t a4[4], a6[16];
	bool has4, has6, ephemeral;
	uint16_t len[NODEDIR_TEXT];	/* without the NUL that follows each */
	char text[];			/* the strings, in T_ order */
};

/* The fixed fields a record keeps of a struct store_node, by offset. */
#define NODEDIR_FIELD(rf, nf) { offsetof(struct rec, rf), offsetof(struct store_node, nf), \
				sizeof(((struct rec *)0)->rf) }
static const struct {
	size_t rec, node, size;
} rec_fields[] = {
	NODEDIR_FIELD(id, id), NODEDIR_FIELD(network_id, network_id),
	NODEDIR_FIELD(created, created), NODEDIR_FIELD(last_seen, last_seen),
	NODEDIR_FIELD(expires, expires), NODEDIR_FIELD(ephemeral, ephemeral),
	NODEDIR_FIELD(key, public_key),
};

struct nodedir {
	struct rec **bucket[NODEDIR_IDX];
	size_t mask;			/* buckets - 1, the same in every index */
	size_t count;
	uint64_t seed;
};

/* --- hashing --- */

static uint64_t nodedir_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* FNV-1a from a seeded basis, then mixed with the network. */
static uint64_t nodedir_hash_bytes(uint64_t seed, int64_t net, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return nodedir_mix(h ^ (uint64_t)net);
}

static uint64_t nodedir_hash_id(const struct nodedir *d, int64_t id)
{
	return nodedir_mix((uint64_t)id ^ d->seed);
}

/* Whether r is in index i, and its hash there. */
static bool rec_indexed(const struct nodedir *d, const struct rec *r, int i,
			uint64_t *h)
{
	switch (i) {
	case BY_ID:
		*h = nodedir_hash_id(d, r->id);
		return true;
	case BY_KEY:
		*h = nodedir_hash_bytes(d->seed, 0, r->key, 32);
		return true;
	case BY_NAME:
		*h = nodedir_hash_bytes(d->seed, r->network_id, r->text, r->len[T_NAME]);
		return true;
	case BY_V4:
		*h = nodedir_hash_bytes(d->seed, r->network_id, r->a4, 4);
		return r->has4;
	default:
		*h = nodedir_hash_bytes(d->seed, r->network_id, r->a6, 16);
		return r->has6;
	}
}

/* --- the tables --- */

static void nodedir_link(struct nodedir *d, struct rec *r)
{
	for (int i = 0; i < NODEDIR_IDX; i++) {
		struct rec **b;
		if (!rec_indexed(d, r, i, &r->hash[i])) {
			r->next[i] = NULL;
			continue;
		}
		b = &d->bucket[i][r->hash[i] & d->mask];
		r->next[i] = *b;
		*b = r;
	}
}

static void nodedir_unlink(struct nodedir *d, struct rec *r)
{
	for (int i = 0; i < NODEDIR_IDX; i++) {
		struct rec **pp = &d->bucket[i][r->hash[i] & d->mask];
		while (*pp && *pp != r)
			pp = &(*pp)->next[i];
		if (*pp)
			*pp = r->next[i];
	}
}

/* Every record, through the id index (each is there exactly once). */
static struct rec *nodedir_take_all(struct nodedir *d)
{
	struct rec *all = NULL, *r;

	for (size_t k = 0; k <= d->mask; k++)
		while ((r = d->bucket[BY_ID][k])) {
			d->bucket[BY_ID][k] = r->next[BY_ID];
			r->next[BY_ID] = all;
			all = r;
		}
	for (int i = 0; i < NODEDIR_IDX; i++)
		if (d->bucket[i])	/* NULL: nodedir_new ran out of memory */
			memset(d->bucket[i], 0, (d->mask + 1) * sizeof(*d->bucket[i]));
	return all;
}

/* Rebuilds every index with buckets buckets; false (nothing changed) when
 * out of memory. */
static bool nodedir_resize(struct nodedir *d, size_t buckets)
{
	struct rec **nb[NODEDIR_IDX], *all, *next;

	for (int i = 0; i < NODEDIR_IDX; i++)
		if (!(nb[i] = calloc(buckets, sizeof(*nb[i])))) {
			while (i--)
				free(nb[i]);
			return false;
		}
	all = nodedir_take_all(d);
	for (int i = 0; i < NODEDIR_IDX; i++) {
		free(d->bucket[i]);
		d->bucket[i] = nb[i];
	}
	d->mask = buckets - 1;
	for (; all; all = next) {
		next = all->next[BY_ID];
		nodedir_link(d, all);
	}
	return true;
}

struct nodedir *nodedir_new(void)
{
	struct nodedir *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (getrandom(&d->seed, sizeof(d->seed), 0) != sizeof(d->seed))
		d->seed = (uint64_t)(uintptr_t)d * 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < NODEDIR_IDX; i++)
		if (!(d->bucket[i] = calloc(NODEDIR_MIN_BUCKETS, sizeof(*d->bucket[i])))) {
			nodedir_free(d);
			return NULL;
		}
	d->mask = NODEDIR_MIN_BUCKETS - 1;
	return d;
}

void nodedir_clear(struct nodedir *d)
{
	struct rec *r = nodedir_take_all(d), *next;

	for (; r; r = next) {
		next = r->next[BY_ID];
		free(r);
	}
	d->count = 0;
}

void nodedir_free(struct nodedir *d)
{
	if (!d)
		return;
	if (d->bucket[BY_ID])
		nodedir_clear(d);
	for (int i = 0; i < NODEDIR_IDX; i++)
		free(d->bucket[i]);
	free(d);
}

size_t nodedir_count(const struct nodedir *d)
{
	return d->count;
}

/* --- records --- */

static struct rec *nodedir_find_id(const struct nodedir *d, int64_t id)
{
	uint64_t h = nodedir_hash_id(d, id);
	struct rec *r = d->bucket[BY_ID][h & d->mask];

	while (r && r->id != id)
		r = r->next[BY_ID];
	return r;
}

static struct rec *rec_make(const struct store_node *n)
{
	const char *t[NODEDIR_TEXT] = { n->name, n->hostname, n->ipv4, n->ipv6,
					n->tags, n->endpoints };
	const size_t cap[NODEDIR_TEXT] = { sizeof(n->name), sizeof(n->hostname),
					   sizeof(n->ipv4), sizeof(n->ipv6),
					   sizeof(n->tags), sizeof(n->endpoints) };
	size_t len[NODEDIR_TEXT], total = 0;
	uint8_t a[16];
	struct rec *r;
	char *p;
	int fam;

	for (int i = 0; i < NODEDIR_TEXT; i++)
		total += (len[i] = strnlen(t[i], cap[i] - 1)) + 1;
	if (!(r = calloc(1, sizeof(*r) + total)))
		return NULL;
	for (size_t i = 0; i < sizeof(rec_fields) / sizeof(rec_fields[0]); i++)
		memcpy((char *)r + rec_fields[i].rec, (const char *)n + rec_fields[i].node,
		       rec_fields[i].size);
	if (n->ipv4[0] && !ipam_addr_parse(n->ipv4, &fam, a) && fam == AF_INET) {
		memcpy(r->a4, a, 4);
		r->has4 = true;
	}
	if (n->ipv6[0] && !ipam_addr_parse(n->ipv6, &fam, a) && fam == AF_INET6) {
		memcpy(r->a6, a, 16);
		r->has6 = true;
	}
	p = r->text;
	for (int i = 0; i < NODEDIR_TEXT; i++) {
		r->len[i] = (uint16_t)len[i];
		memcpy(p, t[i], len[i]);
		p[len[i]] = '\0';
		p += len[i] + 1;
	}
	return r;
}

static void rec_copy(const struct rec *r, struct store_node *n)
{
	char *f[NODEDIR_TEXT] = { n->name, n->hostname, n->ipv4, n->ipv6,
				  n->tags, n->endpoints };
	const char *p = r->text;

	for (size_t i = 0; i < sizeof(rec_fields) / sizeof(rec_fields[0]); i++)
		memcpy((char *)n + rec_fields[i].node, (const char *)r + rec_fields[i].rec,
		       rec_fields[i].size);
	for (int i = 0; i < NODEDIR_TEXT; i++) {
		memcpy(f[i], p, (size_t)r->len[i] + 1);
		p += r->len[i] + 1;
	}
}

int nodedir_put(struct nodedir *d, const struct store_node *n)
{
	struct rec *r = rec_make(n), *old;

	if (!r)
		return -ENOMEM;
	if ((old = nodedir_find_id(d, n->id))) {
		nodedir_unlink(d, old);
		free(old);
		d->count--;
	}
	/* A failed resize keeps the old buckets: longer chains, same answers. */
	if (d->count >= d->mask + 1)
		nodedir_resize(d, 2 * (d->mask + 1));
	nodedir_link(d, r);
	d->count++;
	return 0;
}

bool nodedir_del(struct nodedir *d, int64_t id)
{
	struct rec *r = nodedir_find_id(d, id);

	if (!r)
		return false;
	nodedir_unlink(d, r);
	free(r);
	d->count--;
	return true;
}

bool nodedir_get_id(const struct nodedir *d, int64_t id, struct store_node *out)
{
	const struct rec *r = nodedir_find_id(d, id);

	if (r)
		rec_copy(r, out);
	return r != NULL;
}

/* One lookup by key, name or address: its index, its hash there, and
 * what a record must hold to match. */
struct dirkey {
	int i;
	uint64_t h;
	int64_t net;			/* 0 for keys: they are not per network */
	const void *v;
	size_t len;
};

static struct dirkey dirkey_make(const struct nodedir *d, int i, int64_t net,
				 const void *v, size_t len)
{
	return (struct dirkey){ i, nodedir_hash_bytes(d->seed, net, v, len), net, v, len };
}

static struct dirkey dirkey_addr(const struct nodedir *d, int64_t net, int family,
				 const uint8_t addr[16])
{
	return family == AF_INET ? dirkey_make(d, BY_V4, net, addr, 4)
				 : dirkey_make(d, BY_V6, net, addr, 16);
}

static struct rec *const *dirkey_bucket(const struct nodedir *d, const struct dirkey *k)
{
	return &d->bucket[k->i][k->h & d->mask];
}

static bool dirkey_match(const struct rec *r, const struct dirkey *k)
{
	if (r->hash[k->i] != k->h)
		return false;
	switch (k->i) {
	case BY_KEY:
		return !memcmp(r->key, k->v, 32);
	case BY_NAME:
		return r->network_id == k->net && r->len[T_NAME] == k->len &&
		       !memcmp(r->text, k->v, k->len);
	case BY_V4:
		return r->network_id == k->net && !memcmp(r->a4, k->v, 4);
	default:
		return r->network_id == k->net && !memcmp(r->a6, k->v, 16);
	}
}

static const struct rec *dirkey_find(const struct nodedir *d, const struct dirkey *k)
{
	const struct rec *r = *dirkey_bucket(d, k);

	while (r && !dirkey_match(r, k))
		r = r->next[k->i];
	return r;
}

static bool dirkey_get(const struct nodedir *d, const struct dirkey *k,
		       struct store_node *out)
{
	const struct rec *r = dirkey_find(d, k);

	if (r)
		rec_copy(r, out);
	return r != NULL;
}

bool nodedir_get_key(const struct nodedir *d, const uint8_t key[32],
		     struct store_node *out)
{
	struct dirkey k = dirkey_make(d, BY_KEY, 0, key, 32);

	return dirkey_get(d, &k, out);
}

bool nodedir_get_name(const struct nodedir *d, int64_t network_id,
		      const char *name, struct store_node *out)
{
	struct dirkey k = dirkey_make(d, BY_NAME, network_id, name, strlen(name));

	return dirkey_get(d, &k, out);
}

bool nodedir_get_addr(const struct nodedir *d, int64_t network_id, int family,
		      const uint8_t addr[16], struct store_node *out)
{
	struct dirkey k = dirkey_addr(d, network_id, family, addr);

	return dirkey_get(d, &k, out);
}

/* The lines of a record that a lookup reads: fixed fields and text. */
static void nodedir_prefetch_rec(const struct rec *r)
{
	const char *p = (const char *)r;

	for (size_t off = 0; off < sizeof(*r) + 128; off += 64)
		__builtin_prefetch(p + off);
}

/* Stage 0: the bucket; 1: the record at its head; 2: the answer. */
static int64_t nodedir_prefetch(const struct nodedir *d, const struct dirkey *k,
				int stage)
{
	struct rec *const *b = dirkey_bucket(d, k);
	const struct rec *r;

	if (stage == 0)
		__builtin_prefetch(b);
	else if (stage == 1 && *b)
		nodedir_prefetch_rec(*b);
	else if (stage == 2 && (r = dirkey_find(d, k)))
		return r->id;
	return 0;
}

int64_t nodedir_prefetch_addr(const struct nodedir *d, int64_t network_id,
			      int family, const uint8_t addr[16], int stage)
{
	struct dirkey k = dirkey_addr(d, network_id, family, addr);

	return nodedir_prefetch(d, &k, stage);
}

int64_t nodedir_prefetch_name(const struct nodedir *d, int64_t network_id,
			      const char *name, int stage)
{
	struct dirkey k = dirkey_make(d, BY_NAME, network_id, name, strlen(name));

	return nodedir_prefetch(d, &k, stage);
}
