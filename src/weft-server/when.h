/*
 * when — time as people write it: RFC 3339 timestamps (UTC on output) and
 * "that long ago" durations ("1h", "7d", ipam_duration_parse's syntax).
 * Pure: the caller passes the current time.
 */
#ifndef WEFT_SERVER_WHEN_H
#define WEFT_SERVER_WHEN_H

#include <stddef.h>
#include <stdint.h>

#define WHEN_SIZE 32	/* "2024-05-01T12:00:00Z" and a NUL, with room */

/* t (Unix seconds) as "YYYY-MM-DDTHH:MM:SSZ". */
void when_format(int64_t t, char out[WHEN_SIZE]);

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" (RFC 3339 §5.6; 't' and
 * 'z' accepted, fraction dropped) or a duration meaning now minus it.
 * 0 or -EINVAL with one line in err naming the value. */
int when_parse(const char *text, int64_t now, int64_t *out, char *err,
	       size_t errlen);

#endif
