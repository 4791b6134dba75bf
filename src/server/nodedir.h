/*
 * nodedir — an in-memory directory of node records, indexed the ways the
 * control plane looks nodes up: by id, by public key, and within a network
 * by name, IPv4 and IPv6 address.  The store keeps one in front of its
 * nodes table when asked to (store_node_cache), so that a LOOKUP costs a few
 * hash probes instead of B-tree descents, whatever the number of nodes.
 *
 * Pure: no I/O, no clock.  Each record is one allocation (fixed fields and
 * its strings); each index is a chained hash table whose buckets double
 * with the count.  String hashes are seeded per directory, so names chosen
 * by joining nodes cannot be aimed at one chain.
 *
 * Records are copied in and out (struct store_node); nothing the caller
 * holds points into the directory.  Put replaces the record with the same
 * id.  Keys, names and addresses are the caller's to keep unique, as the
 * database's constraints do (when two records share one, a get returns
 * either).
 */
#ifndef WEFT_NODEDIR_H
#define WEFT_NODEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct nodedir;

/* NULL when out of memory. */
struct nodedir *nodedir_new(void);
void nodedir_free(struct nodedir *d);		/* NULL ok */
void nodedir_clear(struct nodedir *d);
size_t nodedir_count(const struct nodedir *d);

/* Inserts n, or replaces the record with n's id.  -ENOMEM leaves the
 * directory as it was. */
int nodedir_put(struct nodedir *d, const struct store_node *n);
/* Removes the record with this id; false when there was none. */
bool nodedir_del(struct nodedir *d, int64_t id);

/* Copy the record into *out and return true, or return false. */
bool nodedir_get_id(const struct nodedir *d, int64_t id, struct store_node *out);
bool nodedir_get_key(const struct nodedir *d, const uint8_t key[32],
		     struct store_node *out);
/* name compared byte for byte, as the store's query does. */
bool nodedir_get_name(const struct nodedir *d, int64_t network_id,
		      const char *name, struct store_node *out);
/* family AF_INET (addr[0..3]) or AF_INET6. */
bool nodedir_get_addr(const struct nodedir *d, int64_t network_id, int family,
		      const uint8_t addr[16], struct store_node *out);

/* For a batch of address lookups about to be made: stage 0 for each of
 * them starts loading its index slot, stage 1 (after stage 0 for all) the
 * record there, stage 2 finds the node and returns its id (0: none), so
 * that the batch's cache misses overlap instead of following each other. */
int64_t nodedir_prefetch_addr(const struct nodedir *d, int64_t network_id,
			      int family, const uint8_t addr[16], int stage);
int64_t nodedir_prefetch_name(const struct nodedir *d, int64_t network_id,
			      const char *name, int stage);

#endif
