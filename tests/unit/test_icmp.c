/*
 * test_icmp — the agent's ICMP messages: every checksum verified with a
 * plain byte-at-a-time RFC 1071 sum written here, echo request/reply round
 * trips in both families, unreachable errors quoting the packet, and the
 * cases where no error may be sent (ICMP errors, later fragments,
 * multicast or unspecified sources, malformed input).
 */
#include "check.h"
#include "icmp.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

static uint16_t ref_sum(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)(p[n - 1] << 8);
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* True when the IPv4 header and the ICMP message both sum to 0xffff. */
static bool v4_valid(const uint8_t *pkt, size_t len)
{
	return len >= 28 && ref_sum(pkt, 20, 0) == 0xffff &&
	       ref_sum(pkt + 20, len - 20, 0) == 0xffff &&
	       (size_t)(pkt[2] << 8 | pkt[3]) == len;
}

static bool v6_valid(const uint8_t *pkt, size_t len)
{
	uint32_t acc = 0;
	size_t plen = len - 40;

	for (int i = 8; i < 40; i += 2)
		acc += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
	acc += (uint32_t)plen + 58;
	return len >= 48 && (size_t)(pkt[4] << 8 | pkt[5]) == plen &&
	       ref_sum(pkt + 40, plen, acc) == 0xffff;
}

/* Turns a request into the reply a host would send. */
static void make_reply(uint8_t *pkt, size_t len, int family)
{
	uint8_t tmp[16];
	size_t al = family == AF_INET ? 4 : 16, so = family == AF_INET ? 12 : 8;
	size_t hl = family == AF_INET ? 20 : 40;

	memcpy(tmp, pkt + so, al);
	memcpy(pkt + so, pkt + so + al, al);
	memcpy(pkt + so + al, tmp, al);
	pkt[hl] = family == AF_INET ? 0 : 129;
	if (family == AF_INET) {
		pkt[10] = pkt[11] = 0;
		uint16_t c = (uint16_t)~ref_sum(pkt, 20, 0);
		pkt[10] = (uint8_t)(c >> 8);
		pkt[11] = (uint8_t)c;
		pkt[hl + 2] = pkt[hl + 3] = 0;
		c = (uint16_t)~ref_sum(pkt + hl, len - hl, 0);
		pkt[hl + 2] = (uint8_t)(c >> 8);
		pkt[hl + 3] = (uint8_t)c;
	} else {
		uint32_t acc = 0;
		pkt[hl + 2] = pkt[hl + 3] = 0;
		for (int i = 8; i < 40; i += 2)
			acc += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
		acc += (uint32_t)(len - 40) + 58;
		uint16_t c = (uint16_t)~ref_sum(pkt + hl, len - hl, acc);
		pkt[hl + 2] = (uint8_t)(c >> 8);
		pkt[hl + 3] = (uint8_t)c;
	}
}

static const uint8_t a4[4] = { 100, 64, 0, 2 }, b4[4] = { 100, 64, 0, 3 };
static const uint8_t a6[16] = { 0xfd, 1, [15] = 2 }, b6[16] = { 0xfd, 1, [15] = 3 };

static void test_echo(void)
{
	uint8_t pkt[2048];
	int family;
	uint16_t id, seq;
	const uint8_t *src;
	size_t n;

	for (size_t pl = 0; pl <= 1400; pl += 1400 / 7 + 1) {
		n = icmp_echo_request(pkt + 1, sizeof(pkt) - 1, AF_INET, a4, b4, 0x1234, 7, pl);
		CHECK(n == 28 + pl && v4_valid(pkt + 1, n) && pkt[21] == 8,
		      "IPv4 echo request, %zu payload bytes at an odd offset: checksums right", pl);
		memmove(pkt, pkt + 1, n);
		make_reply(pkt, n, AF_INET);
		CHECK(icmp_echo_reply_parse(pkt, n, &family, &id, &seq, &src) &&
		      family == AF_INET && id == 0x1234 && seq == 7 && !memcmp(src, b4, 4),
		      "IPv4 echo reply parsed: id, seq, source");
		pkt[n - 1] ^= 1;
		CHECK(!icmp_echo_reply_parse(pkt, n, &family, &id, &seq, &src),
		      "IPv4 echo reply with a bad checksum refused");

		n = icmp_echo_request(pkt, sizeof(pkt), AF_INET6, a6, b6, 0xbeef, 65535, pl);
		CHECK(n == 48 + pl && v6_valid(pkt, n) && pkt[40] == 128,
		      "IPv6 echo request, %zu payload bytes: checksum right", pl);
		make_reply(pkt, n, AF_INET6);
		CHECK(icmp_echo_reply_parse(pkt, n, &family, &id, &seq, &src) &&
		      family == AF_INET6 && id == 0xbeef && seq == 65535 && !memcmp(src, b6, 16),
		      "IPv6 echo reply parsed");
	}
	CHECK(icmp_echo_request(pkt, 50, AF_INET, a4, b4, 1, 1, 56) == 0,
	      "echo request refuses a short buffer");
	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET, a4, b4, 1, 1, 8);
	CHECK(!icmp_echo_reply_parse(pkt, n, &family, &id, &seq, &src),
	      "a request is not a reply");
	CHECK(!icmp_echo_reply_parse(pkt, 27, &family, &id, &seq, &src),
	      "truncated packet refused");
}

static void test_unreachable(void)
{
	uint8_t pkt[2000], out[1400];
	size_t n, m;

	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET, a4, b4, 1, 1, 56);
	m = icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_HOST);
	CHECK(m == 28 + n && v4_valid(out, m) && out[20] == 3 && out[21] == 1 &&
	      !memcmp(out + 12, b4, 4) && !memcmp(out + 16, a4, 4) &&
	      !memcmp(out + 28, pkt, n),
	      "IPv4 host unreachable: from the destination, to the source, quoting it");
	m = icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_ADMIN);
	CHECK(m && out[21] == 13 && v4_valid(out, m), "IPv4 administratively prohibited (code 13)");
	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET, a4, b4, 1, 1, 1200);
	m = icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_HOST);
	CHECK(m == 576 && v4_valid(out, m), "IPv4 error capped at 576 bytes");

	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET6, a6, b6, 1, 1, 1300);
	m = icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_HOST);
	CHECK(m == 1280 && v6_valid(out, m) && out[40] == 1 && out[41] == 3 &&
	      !memcmp(out + 8, b6, 16) && !memcmp(out + 24, a6, 16),
	      "IPv6 address unreachable, capped at 1280 bytes");
	m = icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_ADMIN);
	CHECK(m && out[41] == 1 && v6_valid(out, m), "IPv6 administratively prohibited (code 1)");

	/* No error about an error. */
	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET, a4, b4, 1, 1, 56);
	m = icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_HOST);
	CHECK(icmp_unreachable(out + 600, 700, out, m, ICMP_UNREACH_HOST) == 0,
	      "no IPv4 error about an ICMP error");
	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET6, a6, b6, 1, 1, 56);
	m = icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_HOST);
	{
		static uint8_t again[1400];
		CHECK(icmp_unreachable(again, sizeof(again), out, m, ICMP_UNREACH_HOST) == 0,
		      "no IPv6 error about an ICMPv6 error");
	}
	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET, a4, b4, 1, 1, 56);
	pkt[7] = 10;	/* fragment offset 80 */
	CHECK(icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_HOST) == 0,
	      "no error about a later fragment");
	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET, (const uint8_t[4]){ 224, 0, 0, 1 },
			      b4, 1, 1, 56);
	CHECK(icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_HOST) == 0,
	      "no error to a multicast source");
	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET6, (const uint8_t[16]){ 0 }, b6, 1, 1, 8);
	CHECK(icmp_unreachable(out, sizeof(out), pkt, n, ICMP_UNREACH_HOST) == 0,
	      "no error to the unspecified address");
	memset(pkt, 0, 64);
	CHECK(icmp_unreachable(out, sizeof(out), pkt, 64, ICMP_UNREACH_HOST) == 0,
	      "no error about something that is not IP");
	n = icmp_echo_request(pkt, sizeof(pkt), AF_INET, a4, b4, 1, 1, 56);
	CHECK(icmp_unreachable(out, 40, pkt, n, ICMP_UNREACH_HOST) == 0,
	      "no error into a buffer too short for it");
}

int main(void)
{
	test_echo();
	test_unreachable();
	return check_done();
}
