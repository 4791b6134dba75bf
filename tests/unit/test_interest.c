/*
 * test_interest — who looked up whom: a target's watchers in the order they
 * came, the same entry when one watches again (its push time kept), a
 * target watched by thousands (past the inline entries and the linear
 * scan), many targets (the table grows), forgetting; then a randomized
 * differential test against plain arrays, with a fixed seed so that a
 * failure reproduces.
 */
#include "interest.h"
#include "check.h"

#include <stdbool.h>
#include <stdlib.h>

static void key_of(uint8_t pub[32], int64_t id)
{
	for (int i = 0; i < 32; i++)
		pub[i] = (uint8_t)(id * 7 + i);
}

/* Target's watchers are exactly want[0..n), in that order, and its key. */
static bool watched_by(const struct interest_table *t, int64_t target,
		       const int64_t *want, size_t n)
{
	const uint8_t *pub;
	uint8_t key[32];
	size_t got;
	const struct watcher *w = interest_watchers(t, target, &got, &pub);

	if (got != n || (n && !w))
		return false;
	if (!n)
		return w == NULL;
	key_of(key, target);
	if (memcmp(pub, key, 32))
		return false;
	for (size_t k = 0; k < n; k++)
		if (w[k].node_id != want[k])
			return false;
	return true;
}

static void test_one_target(void)
{
	enum { W = 5000 };
	static int64_t ids[W];
	struct interest_table *t = interest_new();
	struct watcher *w;
	uint8_t pub[32];
	int bad = 0;

	CHECK(t && interest_count(t) == 0, "new table is empty");
	if (!t)
		return;
	key_of(pub, 42);
	for (int k = 0; k < W; k++) {
		ids[k] = 1000 + (int64_t)k * 13;
		w = interest_watch(t, 42, pub, ids[k]);
		bad += !w || w->node_id != ids[k] || w->notified != 0;
		if (w)
			w->notified = (uint64_t)k + 1;
		if (k == 2 || k == 3 || k == 31 || k == 32 || k == 200)
			bad += !watched_by(t, 42, ids, (size_t)k + 1);
	}
	CHECK(bad == 0 && interest_count(t) == 1 && watched_by(t, 42, ids, W),
	      "one target, %d watchers, in order (inline, scanned, indexed)", W);
	for (int k = 0; k < W; k++) {
		w = interest_watch(t, 42, pub, ids[k]);
		bad += !w || w->notified != (uint64_t)k + 1;
	}
	CHECK(bad == 0 && watched_by(t, 42, ids, W),
	      "watching again finds the same entry, its push time kept");
	for (int stage = 0; stage < 3; stage++) {
		interest_prefetch(t, 42, stage);
		interest_prefetch(t, 43, stage);
	}
	CHECK(watched_by(t, 42, ids, W) && watched_by(t, 43, NULL, 0),
	      "prefetching a known and an unknown target changes nothing");
	interest_forget(t, 42);
	CHECK(interest_count(t) == 0 && watched_by(t, 42, NULL, 0), "forgotten");
	interest_forget(t, 42);
	CHECK(interest_count(t) == 0, "forgetting twice is harmless");
	interest_free(t);
}

/* Random watches and forgets over T targets by up to WMAX watchers each,
 * against arrays. */
enum { T_MAX = 40000, WMAX_MAX = 100, OPS = 400000 };
static int64_t model[T_MAX + 1][WMAX_MAX];
static size_t n[T_MAX + 1];

static void test_differential(int64_t T, int64_t WMAX, int forget, unsigned seed)
{
	struct interest_table *t = interest_new();
	size_t targets = 0, longest = 0;
	uint8_t pub[32];
	int bad = 0;

	if (!t)
		return;
	memset(n, 0, sizeof(n));
	srand(seed);
	for (int op = 0; op < OPS; op++) {
		int64_t target = 1 + rand() % T, watcher = 1 + rand() % WMAX;
		int r = rand() % 1000 / 10;
		if (r < 90) {
			size_t k;
			struct watcher *w;
			key_of(pub, target);
			w = interest_watch(t, target, pub, watcher);
			bad += !w || w->node_id != watcher;
			for (k = 0; k < n[target] && model[target][k] != watcher; k++)
				;
			if (k == n[target]) {
				targets += n[target] == 0;
				model[target][n[target]++] = watcher;
			}
		} else if (r < 90 + forget) {
			interest_forget(t, target);
			targets -= n[target] != 0;
			n[target] = 0;
		} else {
			bad += !watched_by(t, target, model[target], n[target]);
		}
		bad += interest_count(t) != targets;
	}
	for (int64_t target = 1; target <= T; target++)
		bad += !watched_by(t, target, model[target], n[target]);
	for (int64_t target = 1; target <= T; target++)
		longest = n[target] > longest ? n[target] : longest;
	CHECK(bad == 0 && targets > (size_t)T / 2, "%d random watches and forgets over %lld "
	      "targets by up to %lld watchers agree with arrays (%zu targets left, longest list "
	      "%zu, %d wrong)", OPS, (long long)T, (long long)WMAX, targets, longest, bad);
	interest_free(t);
}

int main(void)
{
	test_one_target();
	test_differential(40000, 12, 7, 4242);	/* many targets, the table grows */
	test_differential(300, 100, 0, 4343);	/* long lists, indexed */
	return check_done();
}
