/*
 * test_ipam — numbered tables for prefixes, host allocation (order,
 * reserved addresses, exhaustion), DNS-safe names, join-key rules and
 * durations; then a randomized differential test of the allocator against
 * a naive scan, with a fixed seed so that a failure reproduces.
 */
#include "ipam.h"
#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

/* --- prefixes -------------------------------------------------------------- */

struct prefix_case {
	const char *text;
	int ok;
	const char *want;	/* canonical text, or a substring of the error */
};

static const struct prefix_case prefix_cases[] = {
	/* 1 */ { "100.64.0.0/16", 1, "100.64.0.0/16" },
	/* 2 */ { "10.0.0.0/8", 1, "10.0.0.0/8" },
	/* 3 */ { "0.0.0.0/0", 1, "0.0.0.0/0" },
	/* 4 */ { "192.168.1.4/30", 1, "192.168.1.4/30" },
	/* 5 */ { "FD12:3456:789A:1::/64", 1, "fd12:3456:789a:1::/64" },
	/* 6 */ { "fd00:0:0:0:0:0:0:0/126", 1, "fd00::/126" },
	/* 7 */ { "100.64.0.1/16", 0, "did you mean 100.64.0.0/16" },
	/* 8 */ { "fd00::1/64", 0, "did you mean fd00::/64" },
	/* 9 */ { "100.64.0.0", 0, "expected ADDRESS/LENGTH" },
	/* 10 */ { "100.64.0.0/33", 0, "0 to 32" },
	/* 11 */ { "fd00::/129", 0, "0 to 128" },
	/* 12 */ { "100.64.0.0/-1", 0, "prefix length" },
	/* 13 */ { "100.64.0.0/016", 0, "prefix length" },
	/* 14 */ { "100.64.0.0/", 0, "prefix length" },
	/* 15 */ { "100.64.0.0/16x", 0, "prefix length" },
	/* 16 */ { "100.64.0/16", 0, "not a valid IPv4 or IPv6 address" },
	/* 17 */ { "robots/16", 0, "\"robots/16\"" },
	/* 18 */ { "", 0, "expected ADDRESS/LENGTH" },
	/* 19 */ { "1.2.3.4/16/2", 0, "prefix length" },
	/* 20 */ { "\x01\xff/8", 0, "\\x01\\xff" },
	/* 21 */ { " 10.0.0.0/8", 0, "not a valid" },
};

static void test_prefix_parse(void)
{
	char err[IPAM_ERR_SIZE], text[IPAM_PREFIX_STRLEN];
	struct ipam_prefix p;

	for (size_t i = 0; i < sizeof(prefix_cases) / sizeof(prefix_cases[0]); i++) {
		const struct prefix_case *c = &prefix_cases[i];
		int rc = ipam_prefix_parse(c->text, &p, err);
		if (c->ok) {
			ipam_prefix_format(&p, text);
			CHECK(rc == 0 && strcmp(text, c->want) == 0,
			      "prefix %zu: \"%s\" -> %s", i + 1, c->text, rc ? err : text);
		} else {
			CHECK(rc == -EINVAL && strstr(err, c->want),
			      "prefix %zu: refused: %s", i + 1, rc ? err : "(accepted)");
		}
	}
}

static void test_prefix_network(void)
{
	static const struct { const char *text; int ok; } cases[] = {
		/* 1 */ { "192.168.0.0/30", 1 }, /* 2 */ { "192.168.0.0/31", 0 },
		/* 3 */ { "192.168.0.1/32", 0 }, /* 4 */ { "fd00::/126", 1 },
		/* 5 */ { "fd00::/127", 0 }, /* 6 */ { "fd00::/128", 0 },
		/* 7 */ { "100.64.0.0/10", 1 }, /* 8 */ { "fd00::/8", 1 },
	};
	char err[IPAM_ERR_SIZE] = "";
	struct ipam_prefix p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(ipam_prefix_parse(cases[i].text, &p, NULL) == 0 &&
		      (ipam_prefix_check_network(&p, err) == 0) == cases[i].ok,
		      "network prefix %zu: %s %s", i + 1, cases[i].text,
		      cases[i].ok ? "usable" : err);
	}
}

static void test_prefix_overlap(void)
{
	static const struct { const char *a, *b; int overlap; } cases[] = {
		/* 1 */ { "100.64.0.0/16", "100.64.5.0/24", 1 },
		/* 2 */ { "100.64.5.0/24", "100.64.0.0/16", 1 },
		/* 3 */ { "100.64.0.0/16", "100.65.0.0/16", 0 },
		/* 4 */ { "100.64.0.0/10", "100.127.0.0/16", 1 },
		/* 5 */ { "fd00::/64", "fd00::/126", 1 },
		/* 6 */ { "fd00::/64", "fd00:0:0:1::/64", 0 },
		/* 7 */ { "0.0.0.0/0", "fd00::/8", 0 },
	};
	struct ipam_prefix a, b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ipam_prefix_parse(cases[i].a, &a, NULL);
		ipam_prefix_parse(cases[i].b, &b, NULL);
		CHECK(ipam_prefix_overlaps(&a, &b) == cases[i].overlap,
		      "overlap %zu: %s %s", i + 1, cases[i].a, cases[i].b);
	}
}

/* Default prefixes: used list (';'-separated) -> expected. */
static void test_default_prefixes(void)
{
	static const struct { const char *used; const char *want4; } cases4[] = {
		/* 1 */ { "", "100.64.0.0/16" },
		/* 2 */ { "100.64.0.0/16", "100.65.0.0/16" },
		/* 3 */ { "100.65.0.0/16;100.64.0.0/16", "100.66.0.0/16" },
		/* 4 */ { "100.64.0.0/16;100.66.0.0/16", "100.65.0.0/16" },
		/* 5 */ { "100.64.7.0/24", "100.65.0.0/16" },
		/* 6 */ { "100.64.0.0/15;10.0.0.0/8;fd00::/8", "100.66.0.0/16" },
		/* 7 */ { "100.64.0.0/10", NULL },
	};
	struct ipam_prefix used[8], out, ula;
	char text[IPAM_PREFIX_STRLEN];
	uint8_t rnd[5] = { 0x12, 0x34, 0x56, 0x78, 0x9a };

	for (size_t i = 0; i < sizeof(cases4) / sizeof(cases4[0]); i++) {
		char buf[128], *save = NULL;
		size_t n = 0;
		snprintf(buf, sizeof(buf), "%s", cases4[i].used);
		for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save))
			ipam_prefix_parse(t, &used[n++], NULL);
		int rc = ipam_default_prefix4(used, n, &out);
		ipam_prefix_format(&out, text);
		CHECK(cases4[i].want4 ? rc == 0 && strcmp(text, cases4[i].want4) == 0
				      : rc == -ENOSPC,
		      "default4 %zu: -> %s", i + 1, rc ? "ENOSPC" : text);
	}
	ipam_ula_from_random(rnd, &ula);
	ipam_prefix_format(&ula, text);
	CHECK(strcmp(text, "fd12:3456:789a::/48") == 0, "ULA from random: %s", text);
	CHECK(ipam_default_prefix6(&ula, NULL, 0, &out) == 0, "default6 on empty");
	ipam_prefix_format(&out, text);
	CHECK(strcmp(text, "fd12:3456:789a::/64") == 0, "default6 first: %s", text);
	used[0] = out;
	ipam_prefix_parse("fd12:3456:789a:1::/64", &used[1], NULL);
	ipam_prefix_parse("100.64.0.0/16", &used[2], NULL);
	ipam_default_prefix6(&ula, used, 3, &out);
	ipam_prefix_format(&out, text);
	CHECK(strcmp(text, "fd12:3456:789a:2::/64") == 0, "default6 skips used: %s", text);
	CHECK(ipam_default_prefix6(&used[2], NULL, 0, &out) == -EINVAL, "default6 needs a /48");
}

/* --- allocation ---------------------------------------------------------------- */

/* A taken set of addresses as text, for the callback. */
struct taken_set {
	const char *addrs[8];
	int calls;
};

static int taken_cb(void *ctx, int family, const uint8_t addr[16])
{
	struct taken_set *t = ctx;
	char text[IPAM_ADDR_STRLEN];

	t->calls++;
	ipam_addr_format(family, addr, text);
	for (int i = 0; i < 8 && t->addrs[i]; i++)
		if (strcmp(t->addrs[i], text) == 0)
			return 1;
	return 0;
}

static int failing_cb(void *ctx, int family, const uint8_t addr[16])
{
	return -EIO;
}

struct alloc_case {
	const char *prefix;
	uint64_t hint;
	const char *taken[8];
	const char *want;	/* NULL = -ENOSPC */
};

static const struct alloc_case alloc_cases[] = {
	/* 1 */ { "100.64.0.0/16", 0, { NULL }, "100.64.0.2" },
	/* 2 */ { "100.64.0.0/16", 0, { "100.64.0.2" }, "100.64.0.3" },
	/* 3 */ { "100.64.0.0/16", 0, { "100.64.0.3" }, "100.64.0.2" },
	/* 4 */ { "100.64.0.0/16", 0, { "100.64.0.2", "100.64.0.4" }, "100.64.0.3" },
	/* 5 */ { "100.64.0.0/16", 254, { NULL }, "100.64.0.254" },
	/* 6 */ { "100.64.0.0/16", 256, { NULL }, "100.64.1.0" },
	/* 7 */ { "100.64.0.0/16", 65534, { NULL }, "100.64.255.254" },
	/* 8 */ { "100.64.0.0/16", 65535, { NULL }, "100.64.0.2" },	/* broadcast */
	/* 9 */ { "192.168.1.4/30", 0, { NULL }, "192.168.1.6" },
	/* 10 */ { "192.168.1.4/30", 0, { "192.168.1.6" }, NULL },
	/* 11 */ { "192.168.1.0/29", 0, { "192.168.1.2", "192.168.1.3", "192.168.1.4",
				      "192.168.1.5", "192.168.1.6" }, NULL },
	/* 12 */ { "192.168.1.0/29", 6, { "192.168.1.6" }, "192.168.1.2" },	/* wrap */
	/* 13 */ { "192.168.1.0/31", 0, { NULL }, NULL },
	/* 14 */ { "fd00::/64", 0, { NULL }, "fd00::2" },
	/* 15 */ { "fd00::/64", 0, { "fd00::2", "fd00::3" }, "fd00::4" },
	/* 16 */ { "fd00::/64", UINT64_MAX, { NULL }, "fd00::ffff:ffff:ffff:ffff" },
	/* 17 */ { "fd00::/126", 0, { NULL }, "fd00::2" },
	/* 18 */ { "fd00::/126", 0, { "fd00::2" }, "fd00::3" },
	/* 19 */ { "fd00::/126", 0, { "fd00::2", "fd00::3" }, NULL },
	/* 20 */ { "fd00::/48", 0x10000, { NULL }, "fd00::1:0" },
	/* 21 */ { "fd00::/127", 0, { NULL }, NULL },
};

static void test_alloc_table(void)
{
	char text[IPAM_ADDR_STRLEN];
	struct ipam_prefix p;
	uint8_t a[16];
	uint64_t off;

	for (size_t i = 0; i < sizeof(alloc_cases) / sizeof(alloc_cases[0]); i++) {
		const struct alloc_case *c = &alloc_cases[i];
		struct taken_set t = { .calls = 0 };
		memcpy(t.addrs, c->taken, sizeof(t.addrs));
		ipam_prefix_parse(c->prefix, &p, NULL);
		int rc = ipam_alloc(&p, c->hint, taken_cb, &t, a, &off);
		ipam_addr_format(p.family, a, text);
		CHECK(c->want ? rc == 0 && strcmp(text, c->want) == 0 : rc == -ENOSPC,
		      "alloc %zu: %s hint %llu -> %s", i + 1, c->prefix,
		      (unsigned long long)c->hint, rc ? "ENOSPC" : text);
	}
	ipam_prefix_parse("100.64.0.0/16", &p, NULL);
	CHECK(ipam_alloc(&p, 0, failing_cb, NULL, a, NULL) == -EIO,
	      "alloc: the callback's error comes back");
}

/* Allocate until exhausted, marking each allocation taken. */
struct bitmap_set {
	struct ipam_prefix p;
	uint8_t bits[1024];	/* offsets below 8192 */
};

static int bitmap_cb(void *ctx, int family, const uint8_t addr[16])
{
	struct bitmap_set *b = ctx;
	uint64_t o;

	if (ipam_host_offset(&b->p, addr, &o) || o >= 8192)
		return -ERANGE;
	return (b->bits[o / 8] >> (o % 8)) & 1;
}

static int exhaust(const char *prefix, const char *expect_first, const char *expect_last)
{
	static struct bitmap_set b;
	char first[IPAM_ADDR_STRLEN] = "", last[IPAM_ADDR_STRLEN] = "";
	uint8_t a[16];
	uint64_t o;
	int n = 0, rc;

	memset(&b, 0, sizeof(b));
	ipam_prefix_parse(prefix, &b.p, NULL);
	while ((rc = ipam_alloc(&b.p, 0, bitmap_cb, &b, a, &o)) == 0) {
		b.bits[o / 8] |= (uint8_t)(1 << (o % 8));
		ipam_addr_format(b.p.family, a, n++ ? last : first);
		if (n == 1)
			strcpy(last, first);
	}
	CHECK(rc == -ENOSPC && strcmp(first, expect_first) == 0 &&
	      strcmp(last, expect_last) == 0,
	      "exhaust %s: %d hosts %s .. %s, then %d", prefix, n, first, last, rc);
	return n;
}

static void test_alloc_exhaust(void)
{
	CHECK(exhaust("192.168.1.4/30", "192.168.1.6", "192.168.1.6") == 1, "/30 holds 1");
	CHECK(exhaust("fd00::/126", "fd00::2", "fd00::3") == 2, "/126 holds 2");
	CHECK(exhaust("10.1.2.0/24", "10.1.2.2", "10.1.2.254") == 253, "/24 holds 253");
	CHECK(exhaust("fd00::1:0/116", "fd00::1:2", "fd00::1:fff") == 4094, "/116 holds 4094");
}

static void test_host_offset(void)
{
	struct ipam_prefix p;
	uint8_t a[16];
	uint64_t o = 0;
	int fam;

	ipam_prefix_parse("fd00:1:2:3::/64", &p, NULL);
	ipam_host_addr(&p, 0x123456789abcdefULL, a);
	CHECK(ipam_host_offset(&p, a, &o) == 0 && o == 0x123456789abcdefULL,
	      "offset round trip /64");
	ipam_addr_parse("fd00:1:2:4::5", &fam, a);
	CHECK(ipam_host_offset(&p, a, &o) == -ERANGE, "offset outside the prefix");
	ipam_prefix_parse("fd00::/48", &p, NULL);
	ipam_addr_parse("fd00:0:0:1::5", &fam, a);
	CHECK(ipam_host_offset(&p, a, &o) == -ERANGE, "offset above 2^64 refused");
	ipam_prefix_parse("100.64.0.0/16", &p, NULL);
	ipam_addr_parse("100.64.3.7", &fam, a);
	CHECK(ipam_host_offset(&p, a, &o) == 0 && o == 3 * 256 + 7, "offset IPv4");
}

/* Randomized: ipam_alloc against a naive cyclic scan on a /26 and a /122. */
static void test_alloc_differential(void)
{
	static struct bitmap_set b;
	const char *prefixes[2] = { "10.9.8.0/26", "fd00::/122" };
	int bad = 0, rounds = 4000;
	uint8_t a[16];

	srand(12345);
	for (int r = 0; r < rounds; r++) {
		memset(&b, 0, sizeof(b));
		ipam_prefix_parse(prefixes[r % 2], &b.p, NULL);
		uint64_t first, last, o = 0, want = 0, hint = (uint64_t)(rand() % 70);
		ipam_host_range(&b.p, &first, &last);
		for (uint64_t i = 0; i < 64; i++)
			if (rand() % 100 < r % 100)
				b.bits[i / 8] |= (uint8_t)(1 << (i % 8));
		int found = 0, rc = ipam_alloc(&b.p, hint, bitmap_cb, &b, a, &o);
		uint64_t start = hint < first || hint > last ? first : hint;
		for (uint64_t k = 0; k <= last - first && !found; k++) {
			want = first + (start - first + k) % (last - first + 1);
			found = !((b.bits[want / 8] >> (want % 8)) & 1);
		}
		bad += found ? rc != 0 || o != want : rc != -ENOSPC;
	}
	CHECK(bad == 0, "alloc differential: %d rounds, %d mismatches", rounds, bad);
}

/* --- names ------------------------------------------------------------------ */

static const struct { const char *host, *want; } name_cases[] = {
	/* 1 */ { "robot1", "robot1" },
	/* 2 */ { "Robot-One", "robot-one" },
	/* 3 */ { "robot.lab.example.com", "robot" },
	/* 4 */ { "my_laptop", "my-laptop" },
	/* 5 */ { "a  b__c", "a-b-c" },
	/* 6 */ { "--edge--", "edge" },
	/* 7 */ { "", "node" },
	/* 8 */ { "---", "node" },
	/* 9 */ { ".hidden", "node" },
	/* 10 */ { "caf\xc3\xa9", "caf" },				/* café */
	/* 11 */ { "\xe3\x83\xad\xe3\x83\x9c\xe3\x83\x83\xe3\x83\x88", "node" },	/* ロボット */
	/* 12 */ { "r\xc3\xb6" "bot-7", "r-bot-7" },			/* röbot-7 */
	/* 13 */ { "\xff\xfe" "x", "x" },
	/* 14 */ { "ABC123", "abc123" },
	/* 15 */ { "0123456789012345678901234567890123456789012345678901234567890123456789",
		   "012345678901234567890123456789012345678901234567890123456789012" },
	/* 16 */ { "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefg-hij",
		   "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefg" },
	/* 17 */ { "a\tb\nc", "a-b-c" },
	/* 18 */ { "x:y/z@w", "x-y-z-w" },
};

static void test_name_map(void)
{
	char out[IPAM_NAME_SIZE];

	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		ipam_name_from_hostname(name_cases[i].host, out);
		CHECK(strcmp(out, name_cases[i].want) == 0 && ipam_name_check(out, "n", NULL) == 0,
		      "name %zu: -> \"%s\"", i + 1, out);
	}
}

struct name_set {
	const char *names[8];
	int calls;
};

static int name_cb(void *ctx, const char *name)
{
	struct name_set *t = ctx;

	t->calls++;
	for (int i = 0; i < 8 && t->names[i]; i++)
		if (strcmp(t->names[i], name) == 0)
			return 1;
	return 0;
}

#define L63 "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh"
#define L61 "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdef"
#define L60 "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcde"

static const struct { const char *base; const char *taken[8]; const char *want; } uniq_cases[] = {
	/* 1 */ { "robot", { NULL }, "robot" },
	/* 2 */ { "robot", { "robot" }, "robot-2" },
	/* 3 */ { "robot", { "robot", "robot-2" }, "robot-3" },
	/* 4 */ { "robot", { "robot", "robot-3" }, "robot-2" },
	/* 5 */ { L63, { L63 }, L61 "-2" },
	/* 6 */ { L63, { L63, L61 "-2", L61 "-3", L61 "-4", L61 "-5", L61 "-6",
		         L61 "-7", L61 "-8" }, L61 "-9" },
	/* 7 */ { "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcde-gh",
		  { "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcde-gh" },
		  L60 "-2" },		/* cut before '-' drops the dash */
	/* 8 */ { "a", { "a" }, "a-2" },
};

static void test_name_unique(void)
{
	char out[IPAM_NAME_SIZE];

	for (size_t i = 0; i < sizeof(uniq_cases) / sizeof(uniq_cases[0]); i++) {
		struct name_set t = { .calls = 0 };
		memcpy(t.names, uniq_cases[i].taken, sizeof(t.names));
		int rc = ipam_name_unique(uniq_cases[i].base, name_cb, &t, out);
		CHECK(rc == 0 && strcmp(out, uniq_cases[i].want) == 0 && strlen(out) <= 63,
		      "unique %zu: -> \"%s\" (%zu chars)", i + 1, out, strlen(out));
	}
	CHECK(ipam_name_unique("Bad", name_cb, &(struct name_set){ .calls = 0 }, out) == -EINVAL,
	      "unique: invalid base refused");
}

static const struct { const char *name; const char *err; } check_cases[] = {
	/* 1 */ { "robots", NULL },
	/* 2 */ { "team-7", NULL },
	/* 3 */ { "7", NULL },
	/* 4 */ { L63, NULL },
	/* 5 */ { "", "is empty" },
	/* 6 */ { L63 "x", "64 characters long; at most 63" },
	/* 7 */ { "Robots", "character 1 is not allowed" },
	/* 8 */ { "my_net", "character 3 is not allowed" },
	/* 9 */ { "-net", "must not start or end with '-'" },
	/* 10 */ { "net-", "must not start or end with '-'" },
	/* 11 */ { "caf\xc3\xa9", "\"caf\\xc3\\xa9\"" },
	/* 12 */ { "a.b", "character 2" },
	/* 13 */ { "a b", "character 2" },
};

static void test_name_check(void)
{
	char err[IPAM_ERR_SIZE];

	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		err[0] = '\0';
		int rc = ipam_name_check(check_cases[i].name, "network name", err);
		CHECK(check_cases[i].err ? rc == -EINVAL && strstr(err, check_cases[i].err) &&
					   strstr(err, "network name")
					 : rc == 0,
		      "name check %zu: %s", i + 1, rc ? err : "ok");
	}
}

/* --- join keys and durations ---------------------------------------------------- */

static void test_key_rules(void)
{
	static const struct { struct ipam_key_rule k; int64_t now; enum ipam_key_verdict v; } cases[] = {
		/* 1 */ { { false, false, false, 0, 0 }, 1000, IPAM_KEY_OK },
		/* 2 */ { { false, false, false, 0, 1 }, 1000, IPAM_KEY_USED },
		/* 3 */ { { true, false, false, 0, 99 }, 1000, IPAM_KEY_OK },
		/* 4 */ { { true, false, false, 2000, 0 }, 1999, IPAM_KEY_OK },
		/* 5 */ { { true, false, false, 2000, 0 }, 2000, IPAM_KEY_EXPIRED },
		/* 6 */ { { true, false, false, 2000, 0 }, 2001, IPAM_KEY_EXPIRED },
		/* 7 */ { { true, false, true, 0, 0 }, 1000, IPAM_KEY_REVOKED },
		/* 8 */ { { false, false, true, 10, 5 }, 1000, IPAM_KEY_REVOKED },
		/* 9 */ { { false, true, false, 10, 5 }, 1000, IPAM_KEY_EXPIRED },
		/* 10 */ { { false, true, false, 0, 0 }, 1000, IPAM_KEY_OK },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum ipam_key_verdict v = ipam_key_check(&cases[i].k, cases[i].now);
		CHECK(v == cases[i].v, "key rule %zu: %s", i + 1, ipam_key_message(v));
	}
	CHECK(strstr(ipam_key_message(IPAM_KEY_EXPIRED), "expired") &&
	      strstr(ipam_key_message(IPAM_KEY_REVOKED), "revoked") &&
	      strstr(ipam_key_message(IPAM_KEY_USED), "already been used"),
	      "key messages name the reason");
}

static void test_duration(void)
{
	static const struct { const char *text; int64_t want; const char *err; } cases[] = {
		/* 1 */ { "90s", 90, NULL },
		/* 2 */ { "30m", 1800, NULL },
		/* 3 */ { "12h", 43200, NULL },
		/* 4 */ { "7d", 604800, NULL },
		/* 5 */ { "1h30m", 5400, NULL },
		/* 6 */ { "1d2h3m4s", 93784, NULL },
		/* 7 */ { "36500d", 36500LL * 86400, NULL },
		/* 8 */ { "0s", 0, "greater than zero" },
		/* 9 */ { "0h0m", 0, "greater than zero" },
		/* 10 */ { "-5m", 0, "not valid" },
		/* 11 */ { "", 0, "not valid" },
		/* 12 */ { "90", 0, "not valid" },
		/* 13 */ { "m", 0, "not valid" },
		/* 14 */ { "1x", 0, "not valid" },
		/* 15 */ { "30m1h", 0, "not valid" },
		/* 16 */ { "1h1h", 0, "not valid" },
		/* 17 */ { "1h ", 0, "not valid" },
		/* 18 */ { "36501d", 0, "too long" },
		/* 19 */ { "99999999999999999999999s", 0, "too long" },
		/* 20 */ { "1.5h", 0, "not valid" },
		/* 21 */ { "+5m", 0, "not valid" },
		/* 22 */ { "36500d1s", 0, "too long" },
	};
	char err[IPAM_ERR_SIZE];
	int64_t secs;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		secs = -1;
		err[0] = '\0';
		int rc = ipam_duration_parse(cases[i].text, &secs, err);
		CHECK(cases[i].err ? rc == -EINVAL && strstr(err, cases[i].err)
				   : rc == 0 && secs == cases[i].want,
		      "duration %zu: \"%s\" -> %s%lld", i + 1, cases[i].text,
		      rc ? err : "", rc ? 0LL : (long long)secs);
	}
}

int main(void)
{
	test_prefix_parse();
	test_prefix_network();
	test_prefix_overlap();
	test_default_prefixes();
	test_alloc_table();
	test_alloc_exhaust();
	test_host_offset();
	test_alloc_differential();
	test_name_map();
	test_name_unique();
	test_name_check();
	test_key_rules();
	test_duration();
	return check_done();
}
