/*
 * clock — time as the hosts of the engine read it: CLOCK_MONOTONIC for
 * protocol deadlines, CLOCK_REALTIME for TAI64N timestamps and handshake
 * times.  The engine itself never reads a clock; its callers do, here.
 */
#ifndef WEFT_CLOCK_H
#define WEFT_CLOCK_H

#include <stdint.h>

struct wg_device;

uint64_t clock_mono_ns(void);
uint64_t clock_real_ns(void);
/* Gives the engine the current time (wg_device_set_time). */
void clock_feed(struct wg_device *dev);

#endif
