/*
 * replay — sliding-window replay protection for transport counters
 * (whitepaper §5.4.6, in the style of RFC 6479): a ring of 64-bit words
 * covers the REPLAY_WINDOW most recent counters behind the greatest seen.
 */
#ifndef WEFT_REPLAY_H
#define WEFT_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_BITS_TOTAL 8192
#define REPLAY_WINDOW (REPLAY_BITS_TOTAL - 64)

struct replay_window {
	uint64_t greatest;	/* greatest counter accepted, plus one */
	uint64_t bitmap[REPLAY_BITS_TOTAL / 64];
};

void replay_init(struct replay_window *r);
/* Accepts counter (and records it) unless it was seen, is too far behind
 * the window, or is at or beyond REJECT_AFTER_MESSAGES.  Call only after the
 * packet has authenticated. */
bool replay_check(struct replay_window *r, uint64_t counter);

#endif
