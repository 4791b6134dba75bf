/*
 * clock — see clock.h.
 */
#include "clock.h"

#include <time.h>

#include "device.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t clock_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void clock_feed(struct wg_device *dev)
{
	wg_device_set_time(dev, clock_mono_ns(), clock_real_ns());
}
