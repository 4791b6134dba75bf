/*
 * workers — see workers.h.
 */
#include "workers.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Below this many jobs a batch runs on the caller: waking a helper costs
 * more than it saves. */
#define WORKERS_MIN_BATCH 8

static void futex_wait(_Atomic uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, WORKERS_MAX, NULL, NULL, 0);
}

/* Takes jobs of batch `batch` until none is left. */
static void workers_take(struct workers *w, uint16_t batch, unsigned lane)
{
	uint64_t c = atomic_load(&w->claim);

	for (;;) {
		uint32_t i = (uint32_t)c;

		/* A claim only succeeds on a job of our batch that is still
		 * free: a late helper must not use up the next batch's. */
		if ((uint16_t)(c >> 48) != batch || i >= (uint16_t)(c >> 32))
			return;
		if (!atomic_compare_exchange_weak(&w->claim, &c, c + 1))
			continue;	/* c now holds the current word */
		wg_crypt_job_run(&w->jobs[i], lane);
		atomic_fetch_add(&w->done, 1);
		c = atomic_load(&w->claim);
	}
}

static void *worker_main(void *p)
{
	struct worker_arg *a = p;
	struct workers *w = a->w;
	uint32_t seen = atomic_load(&w->wake);

	while (!atomic_load(&w->stop)) {
		uint32_t now = atomic_load(&w->wake);
		if (now == seen) {
			futex_wait(&w->wake, seen);
			continue;
		}
		seen = now;
		workers_take(w, (uint16_t)now, a->lane);
	}
	return NULL;
}

int workers_start(struct workers *w, unsigned n)
{
	memset(w, 0, sizeof(*w));
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	/* No batch is open: a claim against this word finds 0 jobs. */
	atomic_store(&w->claim, 0);
	for (unsigned i = 0; i < n; i++) {
		w->args[i] = (struct worker_arg){ w, i + 1 };
		int r = pthread_create(&w->tid[i], NULL, worker_main, &w->args[i]);
		if (r) {
			workers_stop(w);
			return -r;
		}
		w->n = i + 1;
	}
	return 0;
}

void workers_stop(struct workers *w)
{
	atomic_store(&w->stop, 1);
	atomic_fetch_add(&w->wake, 1);
	futex_wake(&w->wake);
	for (unsigned i = 0; i < w->n; i++)
		pthread_join(w->tid[i], NULL);
	w->n = 0;
}

void workers_run(struct workers *w, struct wg_crypt_job *jobs, size_t n)
{
	uint16_t batch;

	if (!w->n || n < WORKERS_MIN_BATCH) {
		for (size_t i = 0; i < n; i++)
			wg_crypt_job_run(&jobs[i], 0);
		return;
	}
	batch = ++w->batch;
	w->jobs = jobs;
	atomic_store(&w->done, 0);
	atomic_store(&w->claim, (uint64_t)batch << 48 | (uint64_t)(n & 0xffff) << 32);
	atomic_store(&w->wake, batch);
	futex_wake(&w->wake);
	workers_take(w, batch, 0);
	/* What the helpers took is in progress; yield to one that was
	 * preempted rather than spin against it on a shared CPU. */
	for (unsigned spins = 0; atomic_load(&w->done) < n; spins++)
		if (spins > 64)
			sched_yield();
}
