/*
 * fuzz_relay — libFuzzer target for the relay stream parser: any bytes
 * parsed frame after frame as the relay and the node do.  Every frame
 * must lie inside the input, make progress, and have a packet exactly
 * when it is a SEND or RECV; the opening's parsers see the first bytes.
 */
#include "relay.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1), pub[32], n[RELAY_NONCE_LEN];
	size_t off = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (size >= RELAY_HELLO_LEN)
		(void)relay_hello_parse(copy, pub, n);
	while (off < size) {
		enum relay_type t;
		const uint8_t *k, *p;
		size_t plen;
		long r = relay_frame(copy + off, size - off, &t, &k, &p, &plen);
		if (r <= 0)
			break;
		if ((size_t)r > size - off || r < RELAY_HDR_LEN)
			abort();
		if ((t == RELAY_SEND || t == RELAY_RECV) !=
		    (k != NULL && p != NULL && plen > 0))
			abort();
		if (p && p + plen != copy + off + r)
			abort();
		off += (size_t)r;
	}
	free(copy);
	return 0;
}
