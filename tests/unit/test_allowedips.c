/*
 * test_allowedips — the cryptokey routing table: a numbered table of known
 * cases, then a randomized differential test against a naive list (as the
 * Linux WireGuard selftest does): after every change the trie and the list
 * must agree on lookups, and on every owner's prefixes in insertion order.
 */
#include "allowedips.h"
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- helpers --------------------------------------------------------- */

/* Parses "addr" or "addr/cidr"; a missing cidr means a full-length one. */
static int test_parse(const char *s, int *family, uint8_t *addr, int *cidr)
{
	char buf[64];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	*family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(*family, buf, addr) != 1)
		return 0;
	*cidr = slash ? atoi(slash + 1) : (*family == AF_INET ? 32 : 128);
	return 1;
}

struct test_walk_buf {
	char text[1024];
};

static void test_walk_print(void *ctx, int family, const uint8_t *addr,
			    uint8_t cidr)
{
	struct test_walk_buf *w = ctx;
	char ip[INET6_ADDRSTRLEN];
	size_t len = strlen(w->text);

	inet_ntop(family, addr, ip, sizeof(ip));
	snprintf(w->text + len, sizeof(w->text) - len, "%s%s/%u",
		 len ? " " : "", ip, cidr);
}

/* Number of prefixes in a walk listing. */
static size_t test_words(const char *s)
{
	size_t n = *s ? 1 : 0;

	for (; *s; s++)
		n += *s == ' ';
	return n;
}

/* ---- known cases ----------------------------------------------------- */

enum { A, B, C, D, NOWNERS };
#define NONE (-1)

static struct aip_owner test_owners[NOWNERS];

enum test_op {
	INS,	/* insert arg by owner; want: return code */
	DEL,	/* remove arg by owner; want: return code */
	GET,	/* look up arg; want: owner index or NONE */
	DROP,	/* remove_owner(owner) */
	WALK,	/* owner's prefixes must read exactly arg */
};

struct test_case {
	enum test_op op;
	int owner;
	const char *arg;
	int want;
};

static const struct test_case test_cases[] = {
	/* 1-3: one prefix */
	{ INS, A, "10.0.0.0/8", 0 },
	{ GET, 0, "10.1.2.3", A },
	{ GET, 0, "11.0.0.1", NONE },
	/* 4-6: a longer prefix of another owner wins inside it only */
	{ INS, B, "10.1.0.0/16", 0 },
	{ GET, 0, "10.1.2.3", B },
	{ GET, 0, "10.2.0.1", A },
	/* 7-9: a /32 host inside both */
	{ INS, C, "10.1.2.3/32", 0 },
	{ GET, 0, "10.1.2.3", C },
	{ GET, 0, "10.1.2.4", B },
	/* 10-13: the /0 default route catches the rest, loses to the rest */
	{ INS, D, "0.0.0.0/0", 0 },
	{ GET, 0, "11.0.0.1", D },
	{ GET, 0, "10.1.2.3", C },
	{ GET, 0, "255.255.255.255", D },
	/* 14-17: re-own moves 10.1/16 from B to the tail of A's list */
	{ INS, A, "10.1.0.0/16", 0 },
	{ GET, 0, "10.1.5.5", A },
	{ WALK, B, "", 0 },
	{ WALK, A, "10.0.0.0/8 10.1.0.0/16", 0 },
	/* 18-22: remove needs the exact prefix and its owner */
	{ DEL, B, "10.1.0.0/16", -ENOENT },
	{ DEL, A, "10.0.0.0/16", -ENOENT },
	{ DEL, A, "10.1.0.0/16", 0 },
	{ GET, 0, "10.1.5.5", A },
	{ DEL, A, "10.1.0.0/16", -ENOENT },
	/* 23-25: host bits are masked off on insert and on remove */
	{ INS, B, "192.168.1.77/24", 0 },
	{ WALK, B, "192.168.1.0/24", 0 },
	{ GET, 0, "192.168.1.200", B },
	/* 26-28: invalid prefixes are refused and change nothing */
	{ INS, A, "1.2.3.4/33", -EINVAL },
	{ INS, A, "::1/129", -EINVAL },
	{ WALK, A, "10.0.0.0/8", 0 },
	/* 29-31: remove_owner; the covering prefixes take over */
	{ DROP, C, NULL, 0 },
	{ GET, 0, "10.1.2.3", A },
	{ WALK, C, "", 0 },
	/* 32-34: removing the default route */
	{ DEL, D, "0.0.0.0/0", 0 },
	{ GET, 0, "11.0.0.1", NONE },
	{ DEL, B, "192.168.1.1/24", 0 },
	/* 35-42: siblings make an ownerless branch point, which must never
	 * answer a lookup, can be owned exactly, and is not removable */
	{ INS, C, "172.16.0.0/24", 0 },
	{ INS, C, "172.16.1.0/24", 0 },
	{ GET, 0, "172.16.1.9", C },
	{ GET, 0, "172.16.2.0", NONE },
	{ DEL, C, "172.16.0.0/23", -ENOENT },
	{ INS, B, "172.16.0.0/23", 0 },
	{ GET, 0, "172.16.0.255", C },
	{ DEL, C, "172.16.0.0/24", 0 },
	/* 43-46 */
	{ GET, 0, "172.16.0.255", B },
	{ DEL, C, "172.16.1.0/24", 0 },
	{ GET, 0, "172.16.1.1", B },
	{ DEL, B, "172.16.0.0/23", 0 },
	/* 47-56: IPv6, the same shapes */
	{ INS, A, "2001:db8::/32", 0 },
	{ INS, B, "2001:db8:1::/48", 0 },
	{ INS, C, "2001:db8:1::1/128", 0 },
	{ GET, 0, "2001:db8:1::1", C },
	{ GET, 0, "2001:db8:1::2", B },
	{ GET, 0, "2001:db8:2::1", A },
	{ GET, 0, "2001:db9::1", NONE },
	{ INS, D, "::/0", 0 },
	{ GET, 0, "2001:db9::1", D },
	{ GET, 0, "::", D },
	/* 57-60: families are separate tables */
	{ GET, 0, "11.0.0.1", NONE },
	{ INS, D, "0.0.0.0/0", 0 },
	{ DEL, D, "::/0", 0 },
	{ GET, 0, "fe80::1", NONE },
	/* 61-66: v6 re-own, host bits, remove by the wrong owner */
	{ INS, A, "2001:db8:1::ffff/48", 0 },
	{ GET, 0, "2001:db8:1::2", A },
	{ DEL, B, "2001:db8:1::/48", -ENOENT },
	{ WALK, A, "10.0.0.0/8 2001:db8::/32 2001:db8:1::/48", 0 },
	{ INS, B, "2001:db8:1:0:8000::/65", 0 },
	{ GET, 0, "2001:db8:1:0:8000::5", B },
	/* 67-70: /128 hosts side by side, differing in the last bit */
	{ INS, B, "2001:db8:1::2/128", 0 },
	{ INS, A, "2001:db8:1::3/128", 0 },
	{ GET, 0, "2001:db8:1::2", B },
	{ GET, 0, "2001:db8:1::3", A },
	/* 71-76: re-inserting by the same owner moves it to the tail; walks
	 * keep insertion order across families */
	{ INS, A, "10.0.0.0/8", 0 },
	{ WALK, A, "2001:db8::/32 2001:db8:1::/48 2001:db8:1::3/128 "
		   "10.0.0.0/8", 0 },
	{ WALK, B, "2001:db8:1:0:8000::/65 2001:db8:1::2/128", 0 },
	{ DEL, B, "2001:db8:1::2/128", 0 },
	{ GET, 0, "2001:db8:1::2", A },
	{ WALK, D, "0.0.0.0/0", 0 },
	/* 77-80: /32 and /128 hosts next to /31 and /127 */
	{ INS, C, "192.0.2.0/31", 0 },
	{ INS, D, "192.0.2.1/32", 0 },
	{ GET, 0, "192.0.2.0", C },
	{ GET, 0, "192.0.2.1", D },
	/* 81-84 */
	{ INS, C, "2001:db8:ffff::/127", 0 },
	{ INS, D, "2001:db8:ffff::/128", 0 },
	{ GET, 0, "2001:db8:ffff::", D },
	{ GET, 0, "2001:db8:ffff::1", C },
	/* 85-88: what each owner holds at the end */
	{ WALK, A, "2001:db8::/32 2001:db8:1::/48 2001:db8:1::3/128 "
		   "10.0.0.0/8", 0 },
	{ WALK, B, "2001:db8:1:0:8000::/65", 0 },
	{ WALK, C, "2001:db8:1::1/128 192.0.2.0/31 2001:db8:ffff::/127", 0 },
	{ WALK, D, "0.0.0.0/0 192.0.2.1/32 2001:db8:ffff::/128", 0 },
};

static int test_owner_index(const struct aip_owner *o)
{
	return o ? (int)(o - test_owners) : NONE;
}

static void test_case_run(struct allowedips *t, size_t i)
{
	const struct test_case *c = &test_cases[i];
	struct aip_owner *o = &test_owners[c->owner];
	struct test_walk_buf w = { "" };
	int family = 0, cidr = 0, rc = 0;
	uint8_t addr[16];

	if (c->arg && c->op != WALK && !test_parse(c->arg, &family, addr, &cidr)) {
		CHECK(0, "case %zu: cannot parse %s", i + 1, c->arg);
		return;
	}
	switch (c->op) {
	case INS:
		rc = allowedips_insert(t, family, addr, (uint8_t)cidr, o);
		CHECK(rc == c->want, "case %zu: insert %s by %c -> %d",
		      i + 1, c->arg, 'A' + c->owner, rc);
		break;
	case DEL:
		rc = allowedips_remove(t, family, addr, (uint8_t)cidr, o);
		CHECK(rc == c->want, "case %zu: remove %s by %c -> %d",
		      i + 1, c->arg, 'A' + c->owner, rc);
		break;
	case GET:
		rc = test_owner_index(allowedips_lookup(t, family, addr));
		CHECK(rc == c->want, "case %zu: lookup %s -> %c", i + 1,
		      c->arg, rc == NONE ? '-' : 'A' + rc);
		break;
	case DROP:
		allowedips_remove_owner(t, o);
		CHECK(o->head == NULL && o->count == 0,
		      "case %zu: remove_owner %c", i + 1, 'A' + c->owner);
		break;
	case WALK:
		allowedips_walk_owner(o, test_walk_print, &w);
		CHECK(strcmp(w.text, c->arg) == 0 &&
		      o->count == test_words(c->arg),
		      "case %zu: walk %c = \"%s\" (count %zu)", i + 1,
		      'A' + c->owner, w.text, o->count);
		break;
	}
}

static void test_table(void)
{
	struct allowedips t;
	size_t i;

	allowedips_init(&t);
	for (i = 0; i < sizeof(test_cases) / sizeof(test_cases[0]); i++)
		test_case_run(&t, i);
	for (i = 0; i < NOWNERS; i++)
		allowedips_remove_owner(&t, &test_owners[i]);
	CHECK(t.root4 == NULL && t.root6 == NULL,
	      "table empty after removing every owner: no branch points left");
}

/* Arguments the table cannot express. */
static void test_bad_args(void)
{
	static const uint8_t addr[16] = { 10 };
	struct aip_owner o = { 0 };
	struct allowedips t;

	allowedips_init(&t);
	CHECK(allowedips_insert(&t, AF_UNIX, addr, 8, &o) == -EINVAL,
	      "insert with a bad family is refused");
	CHECK(allowedips_insert(&t, AF_INET, addr, 8, NULL) == -EINVAL,
	      "insert without an owner is refused");
	CHECK(allowedips_insert(&t, AF_INET, addr, 255, &o) == -EINVAL,
	      "insert with cidr 255 is refused");
	CHECK(t.root4 == NULL && t.root6 == NULL && o.count == 0,
	      "refused inserts leave the table empty");
	CHECK(allowedips_insert(&t, AF_INET, addr, 8, &o) == 0 &&
	      allowedips_insert(&t, AF_INET, addr, 9, &o) == 0,
	      "two prefixes inserted");
	CHECK(allowedips_lookup(&t, AF_UNIX, addr) == NULL,
	      "lookup with a bad family finds nothing");
	CHECK(allowedips_remove(&t, AF_UNIX, addr, 8, &o) == -ENOENT,
	      "remove with a bad family: -ENOENT");
	CHECK(allowedips_remove(&t, AF_INET, addr, 33, &o) == -ENOENT,
	      "remove with cidr 33: -ENOENT");
	CHECK(allowedips_remove(&t, AF_INET, addr, 8, NULL) == -ENOENT,
	      "remove without an owner: -ENOENT");
	allowedips_remove_owner(&t, NULL);
	CHECK(o.count == 2, "remove_owner(NULL) changes nothing");
	allowedips_free(&t);
	CHECK(o.head == NULL && o.count == 0 && t.root4 == NULL,
	      "free empties the owners' lists");
}

/* Removing the prefix being visited from inside a walk is allowed. */
static void test_walk_remove_cb(void *ctx, int family, const uint8_t *addr,
				uint8_t cidr)
{
	struct allowedips *t = ctx;

	allowedips_remove(t, family, addr, cidr, &test_owners[A]);
}

static void test_walk_remove(void)
{
	static const uint8_t a4[4] = { 10, 0, 0, 0 }, a6[16] = { 0x20, 1 };
	struct allowedips t;

	allowedips_init(&t);
	allowedips_insert(&t, AF_INET, a4, 8, &test_owners[A]);
	allowedips_insert(&t, AF_INET6, a6, 16, &test_owners[A]);
	allowedips_insert(&t, AF_INET, a4, 16, &test_owners[A]);
	allowedips_walk_owner(&test_owners[A], test_walk_remove_cb, &t);
	CHECK(test_owners[A].count == 0 && t.root4 == NULL && t.root6 == NULL,
	      "walk may remove the prefix it visits");
}

/* ---- randomized differential test ----------------------------------- */

#define RAND_OWNERS 16
#define RAND_STEPS 20000
#define MODEL_MAX 8192

struct model_ent {
	int family;
	uint8_t addr[16];
	uint8_t cidr;
	int owner;
	unsigned long seq;	/* insertion order, for walks */
};

static struct model_ent model[MODEL_MAX];
static size_t model_n;
static unsigned long model_seq;
static struct aip_owner rand_owners[RAND_OWNERS];
static uint64_t rand_state = 0x5eed0f7e57ULL;

/* xorshift64*, so the sequence is the same with every libc. */
static uint32_t rand_u32(void)
{
	rand_state ^= rand_state >> 12;
	rand_state ^= rand_state << 25;
	rand_state ^= rand_state >> 27;
	return (uint32_t)((rand_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static unsigned int rand_below(unsigned int n)
{
	return rand_u32() % n;
}

static size_t model_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Byte-wise on purpose: independent of the trie's word arithmetic. */
static void model_mask(uint8_t *addr, size_t len, unsigned int cidr)
{
	size_t i;

	for (i = 0; i < len; i++, cidr = cidr > 8 ? cidr - 8 : 0)
		if (cidr < 8)
			addr[i] &= (uint8_t)(0xff00u >> cidr);
}

static int model_covers(const struct model_ent *e, int family,
			const uint8_t *addr)
{
	uint8_t tmp[16];

	if (e->family != family)
		return 0;
	memcpy(tmp, addr, model_len(family));
	model_mask(tmp, model_len(family), e->cidr);
	return memcmp(tmp, e->addr, model_len(family)) == 0;
}

static struct model_ent *model_find(int family, const uint8_t *addr,
				    unsigned int cidr)
{
	size_t i;

	for (i = 0; i < model_n; i++)
		if (model[i].family == family && model[i].cidr == cidr &&
		    memcmp(model[i].addr, addr, model_len(family)) == 0)
			return &model[i];
	return NULL;
}

static void model_insert(int family, const uint8_t *addr, unsigned int cidr,
			 int owner)
{
	struct model_ent *e = model_find(family, addr, cidr);

	if (!e) {
		e = &model[model_n++];
		e->family = family;
		memcpy(e->addr, addr, model_len(family));
		e->cidr = (uint8_t)cidr;
	}
	e->owner = owner;
	e->seq = ++model_seq;
}

static int model_remove(int family, const uint8_t *addr, unsigned int cidr,
			int owner)
{
	struct model_ent *e = model_find(family, addr, cidr);

	if (!e || e->owner != owner)
		return -ENOENT;
	*e = model[--model_n];
	return 0;
}

static void model_remove_owner(int owner)
{
	size_t i = 0;

	while (i < model_n)
		if (model[i].owner == owner)
			model[i] = model[--model_n];
		else
			i++;
}

static int model_lookup(int family, const uint8_t *addr)
{
	int best = NONE, best_cidr = -1;
	size_t i;

	for (i = 0; i < model_n; i++)
		if (model[i].cidr > best_cidr &&
		    model_covers(&model[i], family, addr)) {
			best = model[i].owner;
			best_cidr = model[i].cidr;
		}
	return best;
}

/* Addresses in a few clusters, random only in a window of bits, so that
 * prefixes nest, collide and branch at all depths. */
static void rand_addr(int family, uint8_t *addr, unsigned int *lo,
		      unsigned int *hi)
{
	static const uint8_t bases[3][16] = {
		{ 10, 0, 0, 0 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1 },
		{ 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xa8 },
	};
	static const unsigned int win4[][2] = { {24, 32}, {16, 32}, {8, 20} };
	static const unsigned int win6[][2] = {
		{112, 128}, {48, 72}, {24, 40}, {120, 128}
	};
	unsigned int bits = family == AF_INET ? 32 : 128, i, w;

	memcpy(addr, bases[rand_below(3)], 16);
	if (family == AF_INET) {
		w = rand_below(3);
		*lo = win4[w][0];
		*hi = win4[w][1];
	} else {
		w = rand_below(4);
		*lo = win6[w][0];
		*hi = win6[w][1];
	}
	if (rand_below(16) == 0) {
		*lo = 0;
		*hi = bits;
	}
	for (i = *lo; i < *hi; i++)
		if (rand_below(2))
			addr[i / 8] ^= (uint8_t)(0x80u >> (i % 8));
}

static unsigned int rand_prefix(int family, uint8_t *addr)
{
	unsigned int lo, hi, cidr;

	rand_addr(family, addr, &lo, &hi);
	lo = lo > 4 ? lo - 4 : 0;
	cidr = lo + rand_below(hi - lo + 1);
	if (rand_below(64) == 0)
		cidr = rand_below(2) ? 0 : hi;
	return cidr;
}

static int rand_family(void)
{
	return rand_below(2) ? AF_INET : AF_INET6;
}

static int rand_owner_index(const struct aip_owner *o)
{
	return o ? (int)(o - rand_owners) : NONE;
}

static void rand_check_lookups(struct allowedips *t, unsigned long step)
{
	unsigned int lo, hi, i;
	uint8_t addr[16];
	int family, got, want;

	for (i = 0; i < 4; i++) {
		family = rand_family();
		rand_addr(family, addr, &lo, &hi);
		got = rand_owner_index(allowedips_lookup(t, family, addr));
		want = model_lookup(family, addr);
		CHECK_QUIET(got == want, "step %lu: lookup gave %d, list %d",
			    step, got, want);
	}
}

struct rand_walk {
	const struct model_ent *want[MODEL_MAX];
	size_t n, at, bad;
};

static void rand_walk_cb(void *ctx, int family, const uint8_t *addr,
			 uint8_t cidr)
{
	struct rand_walk *w = ctx;
	const struct model_ent *e = w->at < w->n ? w->want[w->at] : NULL;

	w->at++;
	if (!e || e->family != family || e->cidr != cidr ||
	    memcmp(e->addr, addr, model_len(family)) != 0)
		w->bad++;
}

static int rand_seq_cmp(const void *a, const void *b)
{
	const struct model_ent *x = *(const struct model_ent *const *)a;
	const struct model_ent *y = *(const struct model_ent *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void rand_check_walk(int owner, unsigned long step)
{
	static struct rand_walk w;
	size_t i;

	w.n = w.at = w.bad = 0;
	for (i = 0; i < model_n; i++)
		if (model[i].owner == owner)
			w.want[w.n++] = &model[i];
	qsort(w.want, w.n, sizeof(w.want[0]), rand_seq_cmp);
	allowedips_walk_owner(&rand_owners[owner], rand_walk_cb, &w);
	CHECK_QUIET(w.bad == 0 && w.at == w.n && rand_owners[owner].count == w.n,
		    "step %lu: walk of owner %d differs from the list", step,
		    owner);
}

static void rand_step_insert(struct allowedips *t, unsigned long step)
{
	int family = rand_family(), owner = (int)rand_below(RAND_OWNERS), rc;
	uint8_t addr[16];
	unsigned int cidr = rand_prefix(family, addr);

	if (model_n >= MODEL_MAX)
		return;
	rc = allowedips_insert(t, family, addr, (uint8_t)cidr,
			       &rand_owners[owner]);
	CHECK_QUIET(rc == 0, "step %lu: insert gave %d", step, rc);
	model_mask(addr, model_len(family), cidr);
	model_insert(family, addr, cidr, owner);
}

/* Half the time an existing prefix (sometimes with the wrong owner), half
 * the time a random one, which mostly is not there. */
static void rand_step_remove(struct allowedips *t, unsigned long step)
{
	int family, owner, got, want;
	unsigned int cidr;
	uint8_t addr[16];

	if (model_n && rand_below(2)) {
		const struct model_ent *e = &model[rand_below((unsigned)model_n)];

		family = e->family;
		memcpy(addr, e->addr, 16);
		cidr = e->cidr;
		owner = rand_below(4) ? e->owner : (int)rand_below(RAND_OWNERS);
	} else {
		family = rand_family();
		cidr = rand_prefix(family, addr);
		owner = (int)rand_below(RAND_OWNERS);
	}
	got = allowedips_remove(t, family, addr, (uint8_t)cidr,
				&rand_owners[owner]);
	model_mask(addr, model_len(family), cidr);
	want = model_remove(family, addr, cidr, owner);
	CHECK_QUIET(got == want, "step %lu: remove gave %d, list %d", step,
		    got, want);
}

static void rand_step(struct allowedips *t, unsigned long step)
{
	unsigned int r = rand_below(1000), owner;

	if (r < 560) {
		rand_step_insert(t, step);
	} else if (r < 995) {
		rand_step_remove(t, step);
	} else {
		owner = rand_below(RAND_OWNERS);
		allowedips_remove_owner(t, &rand_owners[owner]);
		model_remove_owner((int)owner);
	}
	rand_check_lookups(t, step);
	if (step % 500 == 0)
		for (owner = 0; owner < RAND_OWNERS; owner++)
			rand_check_walk((int)owner, step);
}

/* Empties the table one exact remove at a time, in random order. */
static void rand_drain(struct allowedips *t)
{
	size_t left = model_n;
	int bad = 0;

	while (model_n) {
		struct model_ent e = model[rand_below((unsigned)model_n)];

		bad |= allowedips_remove(t, e.family, e.addr, e.cidr,
					 &rand_owners[e.owner]) != 0;
		bad |= model_remove(e.family, e.addr, e.cidr, e.owner) != 0;
	}
	CHECK(!bad, "removed each of the %zu remaining prefixes", left);
}

static void test_random(void)
{
	struct allowedips t;
	unsigned long step;
	int failed = check_failed, i;
	size_t peak = 0;

	allowedips_init(&t);
	for (step = 1; step <= RAND_STEPS; step++) {
		rand_step(&t, step);
		peak = model_n > peak ? model_n : peak;
	}
	CHECK(check_failed == failed,
	      "%d random steps agree with the list (peak %zu prefixes)",
	      RAND_STEPS, peak);
	for (i = 0; i < RAND_OWNERS; i++)
		rand_check_walk(i, step);
	rand_drain(&t);
	CHECK(t.root4 == NULL && t.root6 == NULL,
	      "no branch points left after removing every prefix");
	for (step = 1; step <= RAND_STEPS / 4; step++)
		rand_step_insert(&t, step);
	allowedips_free(&t);
	for (i = 0; i < RAND_OWNERS; i++)
		CHECK_QUIET(rand_owners[i].head == NULL &&
			    rand_owners[i].count == 0,
			    "owner %d not emptied by free", i);
	model_n = 0;
	CHECK(t.root4 == NULL && t.root6 == NULL,
	      "free of a full table (ASan checks for leaks)");
}

/* ---- scale: the target -------------------------------------- */

#define SCALE_PEERS 10000

static void test_scale(void)
{
	struct aip_owner *peers = calloc(SCALE_PEERS, sizeof(*peers));
	uint8_t a4[4] = { 10 }, a6[16] = { 0xfd, 0x00, 0x77 };
	struct allowedips t;
	int i, bad = 0;

	if (!peers) {
		CHECK(0, "calloc");
		return;
	}
	allowedips_init(&t);
	for (i = 0; i < SCALE_PEERS; i++) {
		a4[2] = a6[14] = (uint8_t)(i >> 8);
		a4[3] = a6[15] = (uint8_t)i;
		bad |= allowedips_insert(&t, AF_INET, a4, 32, &peers[i]);
		bad |= allowedips_insert(&t, AF_INET6, a6, 128, &peers[i]);
	}
	for (i = 0; i < SCALE_PEERS; i++) {
		a4[2] = a6[14] = (uint8_t)(i >> 8);
		a4[3] = a6[15] = (uint8_t)i;
		bad |= allowedips_lookup(&t, AF_INET, a4) != &peers[i];
		bad |= allowedips_lookup(&t, AF_INET6, a6) != &peers[i];
	}
	CHECK(!bad, "%d peers with a /32 and a /128 each: all found",
	      SCALE_PEERS);
	for (i = 0; i < SCALE_PEERS; i++)
		allowedips_remove_owner(&t, &peers[i]);
	CHECK(t.root4 == NULL && t.root6 == NULL,
	      "all %d peers removed", SCALE_PEERS);
	free(peers);
}

int main(void)
{
	test_table();
	test_bad_args();
	test_walk_remove();
	test_random();
	test_scale();
	return check_done();
}
