/*
 * allowedips — cryptokey routing table (whitepaper §2): a path-compressed
 * binary trie per address family mapping prefixes to owners, longest match
 * wins.  Used for outbound peer selection and the inbound source check.
 *
 * An owner (embedded in a peer) keeps the list of its own nodes, so walking
 * or removing one peer's prefixes costs O(its prefixes), not O(table).
 * Families are AF_INET (4-byte addresses) and AF_INET6 (16 bytes); host bits
 * below cidr are masked off on insert.  Not thread-safe.
 */
#ifndef WEFT_ALLOWEDIPS_H
#define WEFT_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

struct aip_node;

struct aip_owner {
	struct aip_node *head;		/* this owner's nodes; private */
	size_t count;			/* number of prefixes owned */
};

struct allowedips {
	struct aip_node *root4, *root6;	/* private */
};

void allowedips_init(struct allowedips *t);
/* Frees every node; owners' lists become empty. */
void allowedips_free(struct allowedips *t);

/* Inserts or re-owns prefix addr/cidr.  0, -EINVAL (bad family or cidr),
 * or -ENOMEM (table unchanged). */
int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr,
		      uint8_t cidr, struct aip_owner *owner);
/* Removes addr/cidr if owner owns it exactly.  0, or -ENOENT. */
int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr,
		      uint8_t cidr, struct aip_owner *owner);
/* Removes every prefix of owner. */
void allowedips_remove_owner(struct allowedips *t, struct aip_owner *owner);
/* Longest-prefix match; NULL when nothing covers addr.  Borrowed pointer. */
struct aip_owner *allowedips_lookup(const struct allowedips *t, int family,
				    const uint8_t *addr);

typedef void (*allowedips_walk_fn)(void *ctx, int family, const uint8_t *addr,
				   uint8_t cidr);
/* Calls fn for each prefix of owner, in insertion order. */
void allowedips_walk_owner(const struct aip_owner *owner,
			   allowedips_walk_fn fn, void *ctx);

#endif
