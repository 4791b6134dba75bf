/*
 * replay — see replay.h.  The window is a ring of words; moving forward
 * clears the words that the new greatest counter skips over, so the cost is
 * bounded by the ring size whatever the jump.
 */
#include "replay.h"

#include <string.h>

#include "wire.h"

#define REPLAY_WORDS (REPLAY_BITS_TOTAL / 64)

void replay_init(struct replay_window *r)
{
	memset(r, 0, sizeof(*r));
}

bool replay_check(struct replay_window *r, uint64_t counter)
{
	uint64_t n, word, top, bit;

	if (counter >= REJECT_AFTER_MESSAGES)
		return false;
	n = counter + 1;	/* so that zero means "nothing seen" */
	if (n + REPLAY_WINDOW < r->greatest)
		return false;
	word = n >> 6;
	if (n > r->greatest) {
		uint64_t cur = r->greatest >> 6;
		top = word - cur;
		if (top > REPLAY_WORDS)
			top = REPLAY_WORDS;
		for (uint64_t i = 1; i <= top; i++)
			r->bitmap[(cur + i) % REPLAY_WORDS] = 0;
		r->greatest = n;
	}
	bit = 1ULL << (n & 63);
	word %= REPLAY_WORDS;
	if (r->bitmap[word] & bit)
		return false;
	r->bitmap[word] |= bit;
	return true;
}
