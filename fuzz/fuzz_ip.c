/*
 * fuzz_ip — libFuzzer target for ip_parse (RFC 791 §3.1, RFC 8200 §3).
 * The input, in a buffer of exactly its size, is parsed; a packet it
 * accepts must be of the family its version nibble names, with addresses
 * where the header puts them and a claimed length within the buffer and
 * no shorter than the header.  Every prefix of the input must parse the
 * same way or be refused for being short.
 */
#include "ip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_ip_check(const uint8_t *p, size_t len)
{
	struct ip_info ip;

	if (!ip_parse(p, len, &ip))
		return;
	switch (ip.family) {
	case AF_INET:
		if (p[0] >> 4 != 4 || len < 20 || ip.len < (size_t)(p[0] & 15) * 4 ||
		    ip.len < 20 || ip.src != p + 12 || ip.dst != p + 16)
			abort();
		break;
	case AF_INET6:
		if (p[0] >> 4 != 6 || len < 40 || ip.len < 40 ||
		    ip.src != p + 8 || ip.dst != p + 24)
			abort();
		break;
	default:
		abort();
	}
	if (ip.len > len)
		abort();
	/* Bytes past the claimed length do not matter. */
	{
		struct ip_info again;
		if (!ip_parse(p, ip.len, &again) || again.len != ip.len ||
		    again.family != ip.family)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	fuzz_ip_check(buf, size);
	free(buf);
	return 0;
}
