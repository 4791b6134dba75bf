/*
 * batch — see "Batches" in device.h.  The transport paths put their
 * AEADs here instead of running them; a flush runs every job (through
 * the host's crypt hook, which may spread them over threads) and then
 * finishes them in the order they came.
 */
#include <stdlib.h>

#include "crypto.h"
#include "device.h"

bool wg_crypt_job_run(struct wg_crypt_job *job, unsigned lane)
{
	job->ok = job->seal
		? crypto_aead_lane_seal(job->aead, lane, job->data, job->data,
					job->len, job->counter)
		: crypto_aead_lane_open(job->aead, lane, job->data, job->data,
					job->len, job->counter);
	return job->ok;
}

_Static_assert(WG_BATCH_MAX <= 0xffff, "a batch's size fits 16 bits");

/* While a batch is being finished, nothing batches (a hook answering a
 * delivery sends at once) and begin/end/flush do nothing: the array is
 * being walked. */
void wg_device_batch_begin(struct wg_device *dev)
{
	if (dev->flushing)
		return;
	if (!dev->jobs)
		dev->jobs = calloc(WG_BATCH_MAX, sizeof(*dev->jobs));
	dev->batching = dev->jobs != NULL;
}

void wg_device_batch_end(struct wg_device *dev)
{
	if (dev->flushing)
		return;
	wg_batch_flush(dev);
	dev->batching = false;
}

/* A free job slot; NULL when not batching or full (the caller then does
 * the work itself).  Callers finish a full batch first, before they look
 * anything up: finishing may remove peers and keypairs. */
struct wg_crypt_job *wg_batch_job(struct wg_device *dev)
{
	if (!dev->batching || dev->n_jobs == WG_BATCH_MAX)
		return NULL;
	return &dev->jobs[dev->n_jobs++];
}

void wg_batch_make_room(struct wg_device *dev)
{
	if (dev->batching && dev->n_jobs == WG_BATCH_MAX)
		wg_batch_flush(dev);
}

bool wg_batch_job_current(struct wg_device *dev, const struct wg_crypt_job *job)
{
	struct wg_index_slot *slot = wg_index_find(dev, job->index);

	return slot && slot->kind == WG_INDEX_KEYPAIR && slot->kp == job->kp &&
	       slot->peer == job->peer;
}

void wg_batch_flush(struct wg_device *dev)
{
	size_t n = dev->n_jobs;
	bool was = dev->batching;

	if (!n || dev->flushing)
		return;
	if (dev->ops->crypt && n > 1)
		dev->ops->crypt(dev->ctx, dev->jobs, n);
	else
		for (size_t i = 0; i < n; i++)
			wg_crypt_job_run(&dev->jobs[i], 0);
	dev->flushing = true;
	dev->batching = false;
	dev->n_jobs = 0;
	for (size_t i = 0; i < n; i++) {
		struct wg_crypt_job *job = &dev->jobs[i];
		if (job->seal)
			wg_send_finish(dev, job);
		else
			wg_receive_finish(dev, job);
	}
	dev->flushing = false;
	dev->batching = was;
}
