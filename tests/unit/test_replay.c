/*
 * test_replay — the transport replay window (whitepaper §5.4.6): a
 * numbered table of edge cases, each a fresh window fed a sequence of
 * counters with the verdict expected for every one; then a randomized
 * differential test against a naive model (every counter seen, and the
 * greatest), with a fixed seed so that a failure reproduces.
 */
#include "replay.h"
#include "wire.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>

#define W ((uint64_t)REPLAY_WINDOW)
#define RING ((uint64_t)REPLAY_BITS_TOTAL)
#define RAM REJECT_AFTER_MESSAGES

/* One step: feed counter, expect accept (1) or reject (0). */
struct replay_step {
	uint64_t counter;
	int accept;
};

#define MAX_STEPS 12
struct replay_case {
	const char *what;
	struct replay_step steps[MAX_STEPS];
	int n;
};

#define S(c, a) { (c), (a) }

static const struct replay_case replay_cases[] = {
	/* 1 */ { "first packet 0", { S(0, 1) }, 1 },
	/* 2 */ { "0 twice", { S(0, 1), S(0, 0) }, 2 },
	/* 3 */ { "in order 0..5", { S(0, 1), S(1, 1), S(2, 1), S(3, 1), S(4, 1),
				    S(5, 1) }, 6 },
	/* 4 */ { "duplicate of an older one", { S(0, 1), S(1, 1), S(2, 1),
						 S(1, 0), S(2, 0), S(0, 0) }, 6 },
	/* 5 */ { "out of order within window", { S(10, 1), S(5, 1), S(7, 1),
						  S(0, 1), S(5, 0), S(9, 1),
						  S(10, 0) }, 7 },
	/* 6 */ { "first packet far ahead, then 0", { S(W, 1), S(0, 1), S(0, 0) }, 3 },
	/* 7 */ { "first packet beyond window, then 0", { S(W + 1, 1), S(0, 0) }, 2 },
	/* 8 */ { "exactly at window edge", { S(0, 1), S(W + 100, 1), S(100, 1),
					      S(100, 0), S(99, 0) }, 5 },
	/* 9 */ { "one beyond window edge", { S(5000, 1), S(5000 + W, 1),
					      S(4999, 0), S(5000, 0), S(5001, 1) }, 5 },
	/* 10 */ { "jump by exactly the ring size", { S(0, 1), S(1, 1), S(RING, 1),
						     S(0, 0), S(1, 0), S(RING - W, 1),
						     S(RING - W, 0), S(RING - 1, 1) }, 8 },
	/* 11 */ { "jump by more than the ring", { S(3, 1), S(3 * RING + 7, 1),
						  S(3, 0), S(3 * RING + 6, 1),
						  S(3 * RING + 3, 1),
						  S(3 * RING + 7 - W, 1),
						  S(3 * RING + 7 - W - 1, 0) }, 7 },
	/* 12 */ { "jump by 64", { S(0, 1), S(64, 1), S(0, 0), S(1, 1), S(63, 1),
				  S(64, 0), S(128, 1), S(65, 1), S(65, 0) }, 9 },
	/* 13 */ { "across word boundaries", { S(62, 1), S(63, 1), S(64, 1), S(65, 1),
					      S(127, 1), S(128, 1), S(62, 0), S(63, 0),
					      S(126, 1), S(129, 1) }, 10 },
	/* 14 */ { "ring slot reused after wrap is cleared",
		   { S(100, 1), S(100 + RING, 1), S(100 + RING - W, 1),
		     S(100 + RING, 0), S(100, 0), S(101 + RING, 1) }, 6 },
	/* 15 */ { "forward by one word at a time keeps bits",
		   { S(1, 1), S(65, 1), S(129, 1), S(193, 1), S(1, 0),
		     S(2, 1), S(66, 1), S(130, 1), S(194, 1) }, 9 },
	/* 16 */ { "near REJECT_AFTER_MESSAGES",
		   { S(RAM - 1, 1), S(RAM - 1, 0), S(RAM, 0), S(UINT64_MAX, 0),
		     S(RAM - 2, 1), S(RAM - 1 - W, 1), S(RAM - 2 - W, 0) }, 7 },
	/* 17 */ { "REJECT_AFTER_MESSAGES as first", { S(RAM, 0), S(RAM + 1, 0),
						    S(UINT64_MAX, 0), S(0, 1) }, 4 },
	/* 18 */ { "rejected counters do not move the window",
		   { S(0, 1), S(UINT64_MAX, 0), S(1, 1), S(RAM, 0), S(2, 1) }, 5 },
	/* 19 */ { "window tail after a jump over half the ring",
		   { S(0, 1), S(RING / 2, 1), S(1, 1), S(RING / 2 - 1, 1),
		     S(RING / 2 + 1, 1), S(0, 0) }, 6 },
	/* 20 */ { "max window edge, then older", { S(W, 1), S(0, 1), S(W + 1, 1),
						   S(0, 0), S(1, 1), S(1, 0) }, 6 },
};

static void replay_table(void)
{
	for (size_t i = 0; i < sizeof(replay_cases) / sizeof(replay_cases[0]); i++) {
		const struct replay_case *c = &replay_cases[i];
		struct replay_window r;
		int ok = 1;

		replay_init(&r);
		for (int s = 0; s < c->n; s++) {
			bool got = replay_check(&r, c->steps[s].counter);
			if (got != (bool)c->steps[s].accept) {
				ok = 0;
				printf("# case %zu step %d: counter %llu got %d\n",
				       i + 1, s, (unsigned long long)c->steps[s].counter,
				       got);
			}
		}
		CHECK(ok, "replay case %zu: %s", i + 1, c->what);
	}
}

/* ---- differential test against a naive model ---------------------------- */

#define MODEL_MAX 65536
struct replay_model {
	uint64_t seen[MODEL_MAX];
	size_t n;
	bool any;
	uint64_t greatest;
};

static bool model_seen(const struct replay_model *m, uint64_t c)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->seen[i] == c)
			return true;
	return false;
}

/* The rule of replay.h, stated plainly. */
static bool model_check(struct replay_model *m, uint64_t c)
{
	if (c >= RAM)
		return false;
	if (m->any && c + W < m->greatest)
		return false;
	if (model_seen(m, c))
		return false;
	if (m->n < MODEL_MAX)
		m->seen[m->n++] = c;
	if (!m->any || c > m->greatest)
		m->greatest = c;
	m->any = true;
	return true;
}

/* Forgets counters far behind the window, so the model stays small. */
static void model_prune(struct replay_model *m)
{
	size_t j = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->seen[i] + W + 1 >= m->greatest)
			m->seen[j++] = m->seen[i];
	m->n = j;
}

static uint64_t rng_state = 0x5eed0f7e57ULL;

static uint64_t rng_next(void)
{
	/* xorshift64*: fixed seed, reproducible. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A counter near the model's greatest: mostly a little ahead or behind,
 * sometimes at the window edge, sometimes a large jump. */
static uint64_t random_counter(const struct replay_model *m, uint64_t base)
{
	uint64_t g = m->any ? m->greatest : base;
	uint64_t r = rng_next();

	switch (r % 10) {
	case 0:
	case 1:
	case 2:
		return g + 1 + (rng_next() % 8);
	case 3:
	case 4:
		return g - (rng_next() % 200);
	case 5:
		return g - W + (rng_next() % 5) - 2;
	case 6:
		return g - (rng_next() % (W + 64));
	case 7:
		return g + (rng_next() % (2 * RING));
	case 8:
		return g + 60 + (rng_next() % 10);
	default:
		return m->any ? g : base;
	}
}

static void replay_differential(uint64_t base, int ops, const char *what)
{
	static struct replay_model m;
	struct replay_window r;
	int mismatches = 0, accepted = 0;

	memset(&m, 0, sizeof(m));
	replay_init(&r);
	for (int i = 0; i < ops; i++) {
		uint64_t c = random_counter(&m, base);
		bool want = model_check(&m, c);
		bool got = replay_check(&r, c);

		accepted += want;
		if (want != got && mismatches++ < 5)
			printf("# op %d counter %llu: window %d model %d\n", i,
			       (unsigned long long)c, got, want);
		if (m.n > MODEL_MAX / 2)
			model_prune(&m);
	}
	CHECK(mismatches == 0, "differential %s: %d ops, %d accepted, %d mismatches",
	      what, ops, accepted, mismatches);
}

int main(void)
{
	replay_table();
	replay_differential(0, 200000, "from 0");
	replay_differential(1ULL << 40, 100000, "from 2^40");
	replay_differential(RAM - 3 * RING, 50000, "up to REJECT_AFTER_MESSAGES");
	return check_done();
}
