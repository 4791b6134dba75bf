/*
 * fuzz_stun — libFuzzer target for the STUN codec: any bytes offered to
 * stun_is, stun_is_binding_request, stun_server_answer (from an IPv4 and
 * an IPv6 source, with and without SOFTWARE) and stun_parse_response
 * (with the transaction id the bytes carry).  An answer must fit
 * STUN_ANSWER_MAX, be a Binding success or error keeping the request's
 * id, never be answered itself, never come for something stun_is_
 * binding_request refuses; a success to a request with the cookie must
 * parse back to the source address.  The input is copied to a buffer of
 * its exact size so that any read past the end is caught.
 */
#include "crypto.h"
#include "stun.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_stun_answer(const uint8_t *req, size_t len,
			     const union wg_sockaddr *from, const char *sw)
{
	uint8_t out[STUN_ANSWER_MAX], again[STUN_ANSWER_MAX];
	union wg_sockaddr got;
	size_t n;

	n = stun_server_answer(out, sizeof(out), req, len, from, sw);
	if (!n)
		return;
	if (!stun_is_binding_request(req, len) || n > sizeof(out) || n < 20 ||
	    (out[0] != 0x01 || (out[1] != 0x01 && out[1] != 0x11)) ||
	    memcmp(out + 4, req + 4, 16) ||
	    stun_server_answer(again, sizeof(again), out, n, from, sw))
		abort();
	if (stun_is(req, len) != stun_is(out, n))
		abort();
	if (stun_is(req, len) && out[1] == 0x01 &&
	    (!stun_parse_response(out, n, req + 8, &got) ||
	     !wg_sockaddr_equal(&got, from)))
		abort();
	/* One byte short of room: nothing, never a cut answer. */
	if (stun_server_answer(again, n - 1, req, len, from, sw))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union wg_sockaddr v4, v6;
	static bool ready;
	uint8_t *copy = malloc(size ? size : 1);
	union wg_sockaddr got;

	if (!copy)
		return 0;
	if (!ready) {
		if (!crypto_init())
			abort();
		v4.in4.sin_family = AF_INET;
		v4.in4.sin_port = htons(3478);
		inet_pton(AF_INET, "192.0.2.1", &v4.in4.sin_addr);
		v6.in6.sin6_family = AF_INET6;
		v6.in6.sin6_port = htons(65535);
		inet_pton(AF_INET6, "2001:db8::ff", &v6.in6.sin6_addr);
		ready = true;
	}
	memcpy(copy, data, size);
	if (stun_is(copy, size) && size < 20)
		abort();
	fuzz_stun_answer(copy, size, &v4, NULL);
	fuzz_stun_answer(copy, size, &v6, "weft fuzz");
	if (size >= 20 && stun_parse_response(copy, size, copy + 8, &got) &&
	    (!stun_is(copy, size) ||
	     (got.sa.sa_family != AF_INET && got.sa.sa_family != AF_INET6)))
		abort();
	free(copy);
	return 0;
}
