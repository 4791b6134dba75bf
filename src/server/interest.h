/*
 * interest — who looked up whom, for the coordination server's pushes.
 * When node W looks node T up, W is recorded as a watcher of T: it hears
 * of T's changes and removal.  Each watcher entry also keeps when W was
 * last pushed about T (rate limits are the caller's).
 *
 * Scale: a server with 100 000 nodes records a new target at nearly every
 * LOOKUP, so that must stay cheap.  Targets sit in one open-addressing
 * table (id and pointer per slot: a probe touches one slot); a target's
 * first watchers live inside its record (one allocation); a target watched
 * by many gets an index over them, so finding one stays O(1).
 *
 * Pure: no I/O, no clock.  Node ids are > 0.  Pointers returned stay valid
 * until the next interest_watch or interest_forget on the same target.
 */
#ifndef WEFT_INTEREST_H
#define WEFT_INTEREST_H

#include <stddef.h>
#include <stdint.h>

struct watcher {
	int64_t node_id;
	uint64_t notified;		/* caller's time of the last push; 0 never */
};

struct interest_table;

struct interest_table *interest_new(void);	/* NULL: out of memory */
void interest_free(struct interest_table *t);	/* NULL ok */
size_t interest_count(const struct interest_table *t);	/* targets */

/* Records that watcher knows target (whose public key is pub); returns
 * the entry, new (notified 0) or as it was.  NULL: out of memory, nothing
 * recorded. */
struct watcher *interest_watch(struct interest_table *t, int64_t target,
			       const uint8_t pub[32], int64_t watcher);
/* Target's watchers in the order they came (*n of them), and its key in
 * *pub when pub is not NULL; NULL (and *n 0) when nobody watches it. */
const struct watcher *interest_watchers(const struct interest_table *t,
					int64_t target, size_t *n,
					const uint8_t **pub);
/* For a batch about to record watchers: stage 0 for each target starts
 * loading its table slot, stage 1 (after stage 0 for all) its record,
 * stage 2 its list of watchers, so that the misses overlap. */
void interest_prefetch(const struct interest_table *t, int64_t target, int stage);
/* Drops target and its watchers (it was removed). */
void interest_forget(struct interest_table *t, int64_t target);

#endif
