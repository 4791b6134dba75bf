/*
 * index — the table of our receiver indices (whitepaper §5.4.2: the
 * "sender index" we pick for each handshake and keypair).  Open addressing
 * with linear probing and backward-shift deletion; indices are random, so
 * they hash themselves.  Grows at half load.
 */
#include <errno.h>
#include <stdlib.h>

#include "device.h"

#define INDEX_MIN_SLOTS 64

static size_t index_home(const struct wg_index_table *t, uint32_t index)
{
	/* Fibonacci hashing spreads even a non-random index well. */
	return (size_t)((index * 2654435769u) & t->mask);
}

static void index_place(struct wg_index_table *t, const struct wg_index_slot *s)
{
	size_t i = index_home(t, s->index);

	while (t->slots[i].kind)
		i = (i + 1) & t->mask;
	t->slots[i] = *s;
	t->used++;
}

static int index_grow(struct wg_index_table *t)
{
	size_t old_n = t->slots ? t->mask + 1 : 0;
	size_t n = old_n ? old_n * 2 : INDEX_MIN_SLOTS;
	struct wg_index_slot *old = t->slots;

	t->slots = calloc(n, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->mask = n - 1;
	t->used = 0;
	for (size_t i = 0; i < old_n; i++)
		if (old[i].kind)
			index_place(t, &old[i]);
	free(old);
	return 0;
}

int wg_index_insert(struct wg_device *dev, uint8_t kind, struct wg_peer *peer,
		    struct noise_keypair *kp, uint32_t *out)
{
	struct wg_index_table *t = &dev->index;
	struct wg_index_slot s = { .kind = kind, .peer = peer, .kp = kp };

	if ((!t->slots || 2 * (t->used + 1) > t->mask + 1) && index_grow(t))
		return -ENOMEM;
	do {
		s.index = (uint32_t)wg_device_random(dev);
	} while (wg_index_find(dev, s.index));
	index_place(t, &s);
	*out = s.index;
	return 0;
}

struct wg_index_slot *wg_index_find(struct wg_device *dev, uint32_t index)
{
	struct wg_index_table *t = &dev->index;

	if (!t->slots)
		return NULL;
	for (size_t i = index_home(t, index); t->slots[i].kind;
	     i = (i + 1) & t->mask)
		if (t->slots[i].index == index)
			return &t->slots[i];
	return NULL;
}

void wg_index_remove(struct wg_device *dev, uint32_t index)
{
	struct wg_index_table *t = &dev->index;
	struct wg_index_slot *s = wg_index_find(dev, index);
	size_t hole, i;

	if (!s)
		return;
	hole = (size_t)(s - t->slots);
	t->slots[hole].kind = 0;
	t->used--;
	/* Shift back every later entry of the run that may no longer be
	 * reachable across the hole. */
	for (i = (hole + 1) & t->mask; t->slots[i].kind; i = (i + 1) & t->mask) {
		size_t home = index_home(t, t->slots[i].index);
		if (((i - home) & t->mask) >= ((i - hole) & t->mask)) {
			t->slots[hole] = t->slots[i];
			t->slots[i].kind = 0;
			hole = i;
		}
	}
}

void wg_index_free(struct wg_device *dev)
{
	free(dev->index.slots);
	dev->index.slots = NULL;
	dev->index.mask = dev->index.used = 0;
}
