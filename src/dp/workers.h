/*
 * workers — threads that help the data plane's loop run a batch of AEAD
 * jobs (device.h, "Batches").  The loop thread takes jobs too, so a batch
 * never waits for a worker that is not running; a worker only takes a
 * job of the batch it was woken for.  Ordering is not their concern: the
 * engine finishes jobs in order afterwards.
 */
#ifndef WEFT_WORKERS_H
#define WEFT_WORKERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "device.h"

#define WORKERS_MAX (CRYPTO_LANES - 1)

struct workers;
struct worker_arg {
	struct workers *w;
	unsigned lane;
};

struct workers {
	unsigned n;			/* threads besides the loop's */
	pthread_t tid[WORKERS_MAX];
	struct worker_arg args[WORKERS_MAX];
	struct wg_crypt_job *jobs;
	/* Claims: batch number (16 bits), job count (16), next job (32);
	 * one word, so that a claim names its batch. */
	_Atomic uint64_t claim;
	_Atomic uint32_t done;		/* jobs of this batch finished */
	_Atomic uint32_t wake;		/* futex word: the batch number */
	_Atomic int stop;
	uint16_t batch;
};

/* Starts n helper threads (n may be 0).  0 or -errno. */
int workers_start(struct workers *w, unsigned n);
void workers_stop(struct workers *w);
/* Runs jobs[0..n) on the caller and the helpers (a batch too small to
 * be worth waking them for on the caller alone); returns when done. */
void workers_run(struct workers *w, struct wg_crypt_job *jobs, size_t n);

#endif
