/*
 * fuzz_ctl — libFuzzer target for the control message codec.  Whatever
 * decodes must encode, decode again to the same struct and re-encode to
 * the same bytes; whatever does not decode must leave the struct zeroed.
 * Header peeking must agree with the decoder.
 */
#include "crypto.h"
#include "ctl.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_round_trip(const struct ctl_msg *m)
{
	static struct ctl_msg again;
	uint8_t out[CTL_MAX_MSG], out2[CTL_MAX_MSG];
	int n, n2;

	n = ctl_encode(m, out, sizeof(out));
	if (n < CTL_HEADER_LEN || n > CTL_MAX_MSG)
		abort();
	if (ctl_decode(out, (size_t)n, &again) != 0 ||
	    memcmp(m, &again, sizeof(again)) != 0)
		abort();
	n2 = ctl_encode(&again, out2, sizeof(out2));
	if (n2 != n || memcmp(out, out2, (size_t)n) != 0)
		abort();
	if (ctl_encode(m, out2, (size_t)n - 1) != -ENOBUFS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctl_msg m;
	const uint8_t *v;
	size_t vlen;
	uint8_t type;
	uint64_t id;
	int r = ctl_decode(data, size, &m);

	/* The hint reader stays inside the buffer whatever it is given. */
	for (unsigned t = 0; t <= CTL_T_MAX + 1; t++)
		if (ctl_find(data, size, t, &v, &vlen) == 0 &&
		    (v < data + CTL_HEADER_LEN || vlen > (size_t)(data + size - v)))
			abort();

	if (r != 0) {
		if ((r != -EBADMSG && r != -EPROTO && r != -EMSGSIZE) ||
		    !crypto_is_zero(&m, sizeof(m)))
			abort();
		return 0;
	}
	if (ctl_peek(data, size, &type, &id) != 0 || type != m.type ||
	    id != m.request_id)
		abort();
	/* A decoded message has each TLV once: the hint is that value. */
	if ((m.present & CTL_HAS(CTL_T_TARGET_IPV4)) &&
	    (ctl_find(data, size, CTL_T_TARGET_IPV4, &v, &vlen) != 0 || vlen != 4 ||
	     memcmp(v, m.target_ipv4, 4) != 0))
		abort();
	fuzz_round_trip(&m);
	ctl_msg_wipe(&m);
	return 0;
}
