/*
 * node_check — comparing node records in the store's tests.
 */
#ifndef WEFT_NODE_CHECK_H
#define WEFT_NODE_CHECK_H

#include <stdbool.h>
#include <string.h>

#include "store.h"

/* Every field equal (strings as strings). */
static inline bool node_same(const struct store_node *a, const struct store_node *b)
{
	return a->id == b->id && a->network_id == b->network_id &&
	       !memcmp(a->public_key, b->public_key, 32) && !strcmp(a->name, b->name) &&
	       !strcmp(a->hostname, b->hostname) && !strcmp(a->ipv4, b->ipv4) &&
	       !strcmp(a->ipv6, b->ipv6) && !strcmp(a->tags, b->tags) &&
	       a->ephemeral == b->ephemeral && a->created == b->created &&
	       a->last_seen == b->last_seen && a->expires == b->expires &&
	       !strcmp(a->endpoints, b->endpoints);
}

#endif
