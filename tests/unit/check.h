/*
 * check — the unit-test harness: TAP-style lines, one per check, read by
 * tests/run.sh.  A test file defines its cases and calls check_done() from
 * main(); the exit code is 1 when any check failed.
 */
#ifndef WEFT_CHECK_H
#define WEFT_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_n, check_failed;

#define CHECK(cond, ...) do {                                           \
	check_n++;                                                      \
	if (cond) {                                                     \
		printf("ok %d - ", check_n);                            \
	} else {                                                        \
		check_failed++;                                         \
		printf("not ok %d - %s:%d: ", check_n, __FILE__, __LINE__); \
	}                                                               \
	printf(__VA_ARGS__);                                            \
	printf("\n");                                                   \
} while (0)

/* Checks without a line of their own when they pass (for loops). */
#define CHECK_QUIET(cond, ...) do {                                     \
	if (!(cond)) CHECK(0, __VA_ARGS__);                             \
} while (0)

#define CHECK_MEM(a, b, n, ...) CHECK(memcmp((a), (b), (n)) == 0, __VA_ARGS__)

static inline int check_done(void)
{
	printf("# %d checks, %d failed\n", check_n, check_failed);
	return check_failed ? 1 : 0;
}

/* Parses hex into out (at most max bytes); returns the byte count. */
static inline size_t check_hex(unsigned char *out, size_t max, const char *hex)
{
	size_t n = 0;
	unsigned int b;
	while (hex[0] && hex[1] && n < max && sscanf(hex, "%2x", &b) == 1) {
		out[n++] = (unsigned char)b;
		hex += 2;
	}
	return n;
}

#endif
