/*
 * allowedips — path-compressed binary trie, see allowedips.h.
 *
 * Each node holds one prefix: its key masked to cidr.  A node's subtree holds
 * only longer prefixes extending it, split on key bit number cidr (counting
 * from the most significant bit), so a lookup tests each node on its path
 * once and keeps the deepest owned one.
 *
 * A node without an owner exists only where two branches diverge, so it
 * always has two children.  Removal restores that invariant, which keeps the
 * trie below two nodes per prefix no matter the history of changes.
 *
 * Keys are host-order 32-bit words, most significant first: one word for
 * IPv4, four for IPv6.  A prefix test is then a few word compares and a
 * branch choice a shift, without per-byte work on the per-packet path.
 */
#include "allowedips.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define AIP_WORDS_MAX 4

/* No parent pointer: removal finds the node again from the root, which
 * costs at most one pass over the key and saves a pointer per node. */
struct aip_node {
	struct aip_node *child[2];
	struct aip_owner *owner;	/* NULL: a branch point only */
	struct aip_node *own_next;	/* owner's list, insertion order */
	struct aip_node *own_prev;	/* the head's own_prev is the tail */
	uint8_t cidr;
	uint8_t is6;
	uint32_t key[];			/* 1 word for IPv4, 4 for IPv6 */
};

static unsigned int aip_family_bits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return 0;
}

static unsigned int aip_node_words(const struct aip_node *n)
{
	return n->is6 ? 4 : 1;
}

static struct aip_node **aip_root(struct allowedips *t, int is6)
{
	return is6 ? &t->root6 : &t->root4;
}

static void aip_key_load(uint32_t *k, const uint8_t *addr, unsigned int words)
{
	unsigned int w;

	for (w = 0; w < words; w++, addr += 4)
		k[w] = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 |
		       (uint32_t)addr[2] << 8 | (uint32_t)addr[3];
}

static void aip_key_store(uint8_t *addr, const uint32_t *k, unsigned int words)
{
	unsigned int w;

	for (w = 0; w < words; w++, addr += 4) {
		addr[0] = (uint8_t)(k[w] >> 24);
		addr[1] = (uint8_t)(k[w] >> 16);
		addr[2] = (uint8_t)(k[w] >> 8);
		addr[3] = (uint8_t)k[w];
	}
}

/* Clears the host bits, so equal prefixes always have equal keys. */
static void aip_key_mask(uint32_t *k, unsigned int words, unsigned int cidr)
{
	unsigned int w;

	for (w = 0; w < words; w++) {
		if (cidr >= 32) {
			cidr -= 32;
			continue;
		}
		k[w] &= cidr ? ~(uint32_t)0 << (32 - cidr) : 0;
		cidr = 0;
	}
}

/* Bit i of the key, 0 being the most significant: the branch to take. */
static unsigned int aip_bit(const uint32_t *k, unsigned int i)
{
	return (k[i >> 5] >> (31 - (i & 31))) & 1;
}

/* Leading zeros of a nonzero word, in plain C rather than a compiler
 * builtin; it only runs on insert. */
static unsigned int aip_clz32(uint32_t x)
{
	unsigned int n = 0;

	if (!(x & 0xffff0000u)) { n += 16; x <<= 16; }
	if (!(x & 0xff000000u)) { n += 8; x <<= 8; }
	if (!(x & 0xf0000000u)) { n += 4; x <<= 4; }
	if (!(x & 0xc0000000u)) { n += 2; x <<= 2; }
	if (!(x & 0x80000000u))
		n += 1;
	return n;
}

/* Length of the common prefix of a and b, at most limit bits. */
static unsigned int aip_common(const uint32_t *a, const uint32_t *b,
			       unsigned int limit)
{
	unsigned int w, len;

	for (w = 0; w * 32 < limit; w++) {
		if (a[w] == b[w])
			continue;
		len = w * 32 + aip_clz32(a[w] ^ b[w]);
		return len < limit ? len : limit;
	}
	return limit;
}

/* Whether k lies inside n's prefix.  The per-packet test: whole words
 * first, then the top bits of the last partial word. */
static int aip_match(const struct aip_node *n, const uint32_t *k)
{
	unsigned int c = n->cidr, w = 0;

	for (; c >= 32; c -= 32, w++)
		if (n->key[w] != k[w])
			return 0;
	return c == 0 || ((n->key[w] ^ k[w]) >> (32 - c)) == 0;
}

static struct aip_node *aip_node_new(const uint32_t *k, unsigned int cidr,
				     int is6)
{
	unsigned int words = is6 ? 4 : 1;
	struct aip_node *n;

	n = malloc(offsetof(struct aip_node, key) + words * sizeof(uint32_t));
	if (!n)
		return NULL;
	n->child[0] = n->child[1] = NULL;
	n->owner = NULL;
	n->own_next = n->own_prev = NULL;
	n->cidr = (uint8_t)cidr;
	n->is6 = (uint8_t)is6;
	memcpy(n->key, k, words * sizeof(uint32_t));
	aip_key_mask(n->key, words, cidr);
	return n;
}

static struct aip_node *aip_only_child(const struct aip_node *n)
{
	return n->child[0] ? n->child[0] : n->child[1];
}

/* Appends n to o's list.  The head's own_prev points at the tail so the
 * append is O(1) while the list stays in insertion order. */
static void aip_owner_append(struct aip_owner *o, struct aip_node *n)
{
	n->owner = o;
	n->own_next = NULL;
	if (!o->head) {
		n->own_prev = n;
		o->head = n;
	} else {
		n->own_prev = o->head->own_prev;
		n->own_prev->own_next = n;
		o->head->own_prev = n;
	}
	o->count++;
}

static void aip_owner_unlink(struct aip_node *n)
{
	struct aip_owner *o = n->owner;

	if (n == o->head)
		o->head = n->own_next;
	else
		n->own_prev->own_next = n->own_next;
	if (n->own_next)
		n->own_next->own_prev = n->own_prev;
	else if (o->head)
		o->head->own_prev = n->own_prev;
	n->owner = NULL;
	n->own_next = n->own_prev = NULL;
	o->count--;
}

/* Re-owning moves the prefix to the tail of the new owner's list, even
 * when the owner is unchanged, as Linux does (list_move_tail). */
static void aip_owner_set(struct aip_node *n, struct aip_owner *o)
{
	if (n->owner)
		aip_owner_unlink(n);
	aip_owner_append(o, n);
}

/*
 * Puts a new prefix at *slot, where the node n found there (if any) does not
 * contain it; common is the shared prefix length of the two.  Either the new
 * node goes above n (it contains n), or a branch point at common takes both.
 * Both allocations happen before the trie changes, for -ENOMEM's promise.
 */
static int aip_splice(struct aip_node **slot, const uint32_t *k,
		      unsigned int cidr, unsigned int common, int is6,
		      struct aip_owner *o)
{
	struct aip_node *n = *slot, *leaf, *fork;

	leaf = aip_node_new(k, cidr, is6);
	if (!leaf)
		return -ENOMEM;
	if (!n) {
		*slot = leaf;
	} else if (common == cidr) {
		leaf->child[aip_bit(n->key, cidr)] = n;
		*slot = leaf;
	} else {
		fork = aip_node_new(k, common, is6);
		if (!fork) {
			free(leaf);
			return -ENOMEM;
		}
		fork->child[aip_bit(k, common)] = leaf;
		fork->child[aip_bit(n->key, common)] = n;
		*slot = fork;
	}
	aip_owner_append(o, leaf);
	return 0;
}

static int aip_insert(struct aip_node **slot, const uint32_t *k,
		      unsigned int cidr, int is6, struct aip_owner *o)
{
	struct aip_node *n;
	unsigned int common = 0;

	while ((n = *slot) != NULL) {
		common = aip_common(n->key, k, n->cidr < cidr ? n->cidr : cidr);
		if (common < n->cidr)
			break;
		if (n->cidr == cidr) {
			aip_owner_set(n, o);
			return 0;
		}
		slot = &n->child[aip_bit(k, n->cidr)];
	}
	return aip_splice(slot, k, cidr, common, is6, o);
}

/* Returns the link that points at the node holding exactly k/cidr, or NULL;
 * *pslot gets the link to that node's parent (NULL at the root). */
static struct aip_node **aip_find(struct aip_node **slot, const uint32_t *k,
				  unsigned int cidr, struct aip_node ***pslot)
{
	struct aip_node *n;

	*pslot = NULL;
	while ((n = *slot) != NULL && n->cidr <= cidr && aip_match(n, k)) {
		if (n->cidr == cidr)
			return slot;
		*pslot = slot;
		slot = &n->child[aip_bit(k, n->cidr)];
	}
	return NULL;
}

/*
 * *slot has just lost its owner.  With two children it stays as a branch
 * point; otherwise it goes, its child (if any) taking its place.  Losing a
 * leaf can leave an ownerless parent with one child, which goes as well;
 * nothing above that changes its number of children.
 */
static void aip_prune(struct aip_node **slot, struct aip_node **pslot)
{
	struct aip_node *n = *slot, *p;

	if (n->child[0] && n->child[1])
		return;
	*slot = aip_only_child(n);
	free(n);
	if (*slot || !pslot)
		return;
	p = *pslot;
	if (p->owner)
		return;
	*pslot = aip_only_child(p);
	free(p);
}

static void aip_remove_node(struct allowedips *t, struct aip_node *n)
{
	struct aip_node **slot, **pslot;

	slot = aip_find(aip_root(t, n->is6), n->key, n->cidr, &pslot);
	aip_owner_unlink(n);
	if (slot)
		aip_prune(slot, pslot);
}

static void aip_free_tree(struct aip_node *n)
{
	if (!n)
		return;
	aip_free_tree(n->child[0]);
	aip_free_tree(n->child[1]);
	if (n->owner) {
		n->owner->head = NULL;
		n->owner->count = 0;
	}
	free(n);
}

void allowedips_init(struct allowedips *t)
{
	t->root4 = t->root6 = NULL;
}

void allowedips_free(struct allowedips *t)
{
	aip_free_tree(t->root4);
	aip_free_tree(t->root6);
	t->root4 = t->root6 = NULL;
}

int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr,
		      uint8_t cidr, struct aip_owner *owner)
{
	unsigned int bits = aip_family_bits(family);
	uint32_t k[AIP_WORDS_MAX];

	if (!bits || cidr > bits || !addr || !owner)
		return -EINVAL;
	aip_key_load(k, addr, bits / 32);
	aip_key_mask(k, bits / 32, cidr);
	return aip_insert(aip_root(t, bits == 128), k, cidr, bits == 128,
			  owner);
}

int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr,
		      uint8_t cidr, struct aip_owner *owner)
{
	unsigned int bits = aip_family_bits(family);
	struct aip_node **slot, **pslot;
	uint32_t k[AIP_WORDS_MAX];

	/* An owner of NULL must not match a branch point. */
	if (!bits || cidr > bits || !addr || !owner)
		return -ENOENT;
	aip_key_load(k, addr, bits / 32);
	aip_key_mask(k, bits / 32, cidr);
	slot = aip_find(aip_root(t, bits == 128), k, cidr, &pslot);
	if (!slot || (*slot)->owner != owner)
		return -ENOENT;
	aip_owner_unlink(*slot);
	aip_prune(slot, pslot);
	return 0;
}

void allowedips_remove_owner(struct allowedips *t, struct aip_owner *owner)
{
	if (!owner)
		return;
	while (owner->head)
		aip_remove_node(t, owner->head);
}

struct aip_owner *allowedips_lookup(const struct allowedips *t, int family,
				    const uint8_t *addr)
{
	unsigned int bits = aip_family_bits(family);
	uint32_t k[AIP_WORDS_MAX];
	const struct aip_node *n;
	struct aip_owner *best = NULL;

	if (!bits || !addr)
		return NULL;
	aip_key_load(k, addr, bits / 32);
	n = bits == 128 ? t->root6 : t->root4;
	while (n && aip_match(n, k)) {
		if (n->owner)
			best = n->owner;
		if (n->cidr == bits)
			break;
		n = n->child[aip_bit(k, n->cidr)];
	}
	return best;
}

void allowedips_walk_owner(const struct aip_owner *owner,
			   allowedips_walk_fn fn, void *ctx)
{
	const struct aip_node *n, *next;
	uint8_t addr[16];

	/* next is read first so fn may remove the prefix it is given. */
	for (n = owner->head; n; n = next) {
		next = n->own_next;
		aip_key_store(addr, n->key, aip_node_words(n));
		fn(ctx, n->is6 ? AF_INET6 : AF_INET, addr, n->cidr);
	}
}
