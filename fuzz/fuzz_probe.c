/*
 * fuzz_probe — libFuzzer target for path probes: any bytes offered to
 * probe_sender and probe_open under a fixed key.  A message that opens
 * must have the probe length and a valid type, and sealing what it said
 * again must open to the same fields.
 */
#include "crypto.h"
#include "probe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t key[32];
	uint8_t *copy = malloc(size ? size : 1), again[PROBE_LEN];
	struct probe p, q;
	const uint8_t *s;

	if (!copy)
		return 0;
	if (!ready) {
		if (!crypto_init())
			abort();
		memset(key, 0x42, sizeof(key));
		ready = true;
	}
	memcpy(copy, data, size);
	s = probe_sender(copy, size);
	if (s && (size != PROBE_LEN || s != copy + 4))
		abort();
	if (probe_open(&p, copy, size, key)) {
		if (!s || (p.type != PROBE_PING && p.type != PROBE_PONG))
			abort();
		if (!probe_seal(again, &p, key) || !probe_open(&q, again, PROBE_LEN, key) ||
		    q.type != p.type || memcmp(q.txid, p.txid, PROBE_TXID_LEN) ||
		    q.addr.sa.sa_family != p.addr.sa.sa_family)
			abort();
	}
	free(copy);
	return 0;
}
