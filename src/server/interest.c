/*
 * interest — see interest.h.
 */
#include "interest.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define INTEREST_INLINE 3	/* watchers held inside the record */
#define INTEREST_SCAN 32	/* searched linearly up to this many */
#define INTEREST_MIN_SLOTS 1024

struct interest {
	int64_t node_id;
	uint32_t n, cap;
	struct watcher *w;		/* inline_w, or the heap once it grew */
	uint32_t *index;		/* position + 1, 0 empty; NULL while few */
	size_t index_mask;
	uint8_t pub[32];
	struct watcher inline_w[INTEREST_INLINE];
};

struct slot {
	int64_t id;			/* 0: empty */
	struct interest *i;
};

struct interest_table {
	struct slot *slots;
	size_t mask, count;
};

static size_t interest_hash(int64_t id)
{
	uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ULL;

	return (size_t)(x ^ (x >> 29));
}

/* The slot holding id, or the empty one where it would go. */
static size_t interest_slot(const struct interest_table *t, int64_t id)
{
	size_t h = interest_hash(id) & t->mask;

	while (t->slots[h].id && t->slots[h].id != id)
		h = (h + 1) & t->mask;
	return h;
}

static bool interest_resize(struct interest_table *t, size_t size)
{
	struct slot *old = t->slots, *s = calloc(size, sizeof(*s));
	size_t old_size = t->slots ? t->mask + 1 : 0;

	if (!s)
		return false;
	t->slots = s;
	t->mask = size - 1;
	for (size_t k = 0; k < old_size; k++)
		if (old[k].id)
			t->slots[interest_slot(t, old[k].id)] = old[k];
	free(old);
	return true;
}

struct interest_table *interest_new(void)
{
	struct interest_table *t = calloc(1, sizeof(*t));

	if (t && !interest_resize(t, INTEREST_MIN_SLOTS)) {
		free(t);
		t = NULL;
	}
	return t;
}

static void interest_release(struct interest *i)
{
	if (i->w != i->inline_w)
		free(i->w);
	free(i->index);
	free(i);
}

void interest_free(struct interest_table *t)
{
	if (!t)
		return;
	for (size_t k = 0; k <= t->mask; k++)
		if (t->slots[k].id)
			interest_release(t->slots[k].i);
	free(t->slots);
	free(t);
}

size_t interest_count(const struct interest_table *t)
{
	return t->count;
}

/* --- one target's watchers --- */

static size_t interest_widx(int64_t id, size_t mask)
{
	return interest_hash(id) & mask;
}

/* An index over the n watchers held, with room for want (load <= 1/2). */
static bool interest_index(struct interest *i, size_t want)
{
	size_t size = 32, mask;
	uint32_t *idx;

	while (size < 2 * want)
		size *= 2;
	if (!(idx = calloc(size, sizeof(*idx))))
		return false;
	mask = size - 1;
	for (size_t k = 0; k < i->n; k++) {
		size_t h = interest_widx(i->w[k].node_id, mask);
		while (idx[h])
			h = (h + 1) & mask;
		idx[h] = (uint32_t)(k + 1);
	}
	free(i->index);
	i->index = idx;
	i->index_mask = mask;
	return true;
}

static struct watcher *interest_find(const struct interest *i, int64_t watcher)
{
	if (!i->index) {
		for (uint32_t k = 0; k < i->n; k++)
			if (i->w[k].node_id == watcher)
				return &i->w[k];
		return NULL;
	}
	for (size_t h = interest_widx(watcher, i->index_mask); i->index[h];
	     h = (h + 1) & i->index_mask)
		if (i->w[i->index[h] - 1].node_id == watcher)
			return &i->w[i->index[h] - 1];
	return NULL;
}

static struct watcher *interest_add(struct interest *i, int64_t watcher)
{
	struct watcher *w = interest_find(i, watcher);
	size_t h;

	if (w)
		return w;
	if (i->n == i->cap) {
		uint32_t cap = 2 * i->cap;
		if (!(w = malloc(cap * sizeof(*w))))
			return NULL;
		memcpy(w, i->w, i->n * sizeof(*w));
		if (i->w != i->inline_w)
			free(i->w);
		i->w = w;
		i->cap = cap;
	}
	if (i->n + 1 > INTEREST_SCAN) {
		if ((!i->index || 2 * (i->n + 1) > i->index_mask + 1) &&
		    !interest_index(i, i->n + 1))
			return NULL;
		for (h = interest_widx(watcher, i->index_mask); i->index[h];
		     h = (h + 1) & i->index_mask)
			;
		i->index[h] = i->n + 1;
	}
	i->w[i->n] = (struct watcher){ .node_id = watcher };
	return &i->w[i->n++];
}

struct watcher *interest_watch(struct interest_table *t, int64_t target,
			       const uint8_t pub[32], int64_t watcher)
{
	struct interest *i;
	struct watcher *w;
	bool fresh = false;
	size_t h;

	if (2 * (t->count + 1) > t->mask + 1)
		interest_resize(t, 2 * (t->mask + 1));	/* fails: fuller, still correct */
	h = interest_slot(t, target);
	if (!(i = t->slots[h].i)) {
		if (t->count + 1 > t->mask || !(i = calloc(1, sizeof(*i))))
			return NULL;
		i->node_id = target;
		i->w = i->inline_w;
		i->cap = INTEREST_INLINE;
		memcpy(i->pub, pub, 32);
		t->slots[h] = (struct slot){ target, i };
		t->count++;
		fresh = true;
	}
	if (!(w = interest_add(i, watcher)) && fresh)
		interest_forget(t, target);	/* nothing recorded, as promised */
	return w;
}

const struct watcher *interest_watchers(const struct interest_table *t,
					int64_t target, size_t *n,
					const uint8_t **pub)
{
	const struct interest *i = t->slots[interest_slot(t, target)].i;

	*n = i ? i->n : 0;
	if (pub)
		*pub = i ? i->pub : NULL;
	return i && i->n ? i->w : NULL;
}

void interest_prefetch(const struct interest_table *t, int64_t target, int stage)
{
	const struct interest *i;

	if (stage == 0) {
		__builtin_prefetch(&t->slots[interest_hash(target) & t->mask]);
		return;
	}
	if (!(i = t->slots[interest_slot(t, target)].i))
		return;
	if (stage == 1) {
		for (size_t off = 0; off < sizeof(*i); off += 64)
			__builtin_prefetch((const char *)i + off);
		return;
	}
	/* What a search reads: the list (scanned) or the index. */
	if (i->w != i->inline_w && !i->index)
		for (size_t off = 0; off < i->n * sizeof(*i->w); off += 64)
			__builtin_prefetch((const char *)i->w + off);
}

void interest_forget(struct interest_table *t, int64_t target)
{
	size_t h = interest_slot(t, target), j = h;

	if (!t->slots[h].id)
		return;
	interest_release(t->slots[h].i);
	t->count--;
	/* Backward shift: entries after the hole that may not sit before
	 * their home slot move into it, so every probe still finds them. */
	for (;;) {
		size_t home;
		j = (j + 1) & t->mask;
		if (!t->slots[j].id)
			break;
		home = interest_hash(t->slots[j].id) & t->mask;
		if (h <= j ? (h < home && home <= j) : (h < home || home <= j))
			continue;
		t->slots[h] = t->slots[j];
		h = j;
	}
	t->slots[h] = (struct slot){ 0, NULL };
}
