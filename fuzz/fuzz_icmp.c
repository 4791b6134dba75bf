/*
 * fuzz_icmp — libFuzzer target for the agent's ICMP code: any bytes as a
 * packet to answer with an unreachable error, and as an echo reply to
 * parse.  An error, when one is made, must itself be a valid packet that
 * ip_parse accepts, fit the minimum MTU, and be something no error is
 * ever made about (no loops); a parsed reply must have come from a
 * buffer long enough for its headers.
 */
#include "icmp.h"
#include "ip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[1400], again[1400];
	uint8_t *copy = malloc(size ? size : 1);
	struct ip_info ip;
	int family;
	uint16_t id, seq;
	const uint8_t *src;
	size_t n;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	for (int why = ICMP_UNREACH_HOST; why <= ICMP_UNREACH_ADMIN; why++) {
		n = icmp_unreachable(out, sizeof(out), copy, size, why);
		if (!n)
			continue;
		if (n > 1280 || !ip_parse(out, n, &ip) || ip.len != n)
			abort();
		if (ip.family == AF_INET && n > 576)
			abort();
		if (icmp_unreachable(again, sizeof(again), out, n, why))
			abort();	/* an error about an error */
	}
	if (icmp_echo_reply_parse(copy, size, &family, &id, &seq, &src)) {
		if (!ip_parse(copy, size, &ip) || ip.family != family || src != ip.src ||
		    ip.len < (family == AF_INET ? 28u : 48u))
			abort();
	}
	free(copy);
	return 0;
}
