/*
 * test_nodedir — the in-memory node directory: every way of finding a
 * record, replacement by id (old name and addresses gone), deletion, the
 * same name and address in two networks, strings at their fields' full
 * length, clearing; then a randomized differential test against a plain
 * array, with a fixed seed so that a failure reproduces.
 */
#include "nodedir.h"
#include "check.h"
#include "node_check.h"

#include "ipam.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

/* Node id, in network net, named and numbered after v (its addresses). */
static struct store_node make(int64_t id, int64_t net, uint32_t v, const char *name)
{
	struct store_node n = { .id = id, .network_id = net };

	for (int i = 0; i < 32; i++)
		n.public_key[i] = (uint8_t)(id >> (8 * (i % 8)) ^ (uint64_t)i * 131);
	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.hostname, sizeof(n.hostname), "host-%u.example", v);
	snprintf(n.ipv4, sizeof(n.ipv4), "10.%u.%u.%u", (v >> 16) & 255, (v >> 8) & 255, v & 255);
	if (v % 7)
		snprintf(n.ipv6, sizeof(n.ipv6), "fd00:%x::%x", (unsigned)net, v);
	snprintf(n.tags, sizeof(n.tags), v % 3 ? "tag:a,tag:b" : "");
	snprintf(n.endpoints, sizeof(n.endpoints), "192.0.2.%u:%u", v % 250, 1000 + v % 9000);
	n.ephemeral = v % 5 == 0;
	n.created = 1700000000 + v;
	n.last_seen = 1700000100 + v;
	n.expires = v % 11 ? 0 : 1800000000;
	return n;
}

/* Found every way, and equal to want. */
static int mismatches(const struct nodedir *d, const struct store_node *want)
{
	struct store_node got;
	uint8_t a[16];
	int bad = 0, fam;

	bad += !nodedir_get_id(d, want->id, &got) || !node_same(&got, want);
	bad += !nodedir_get_key(d, want->public_key, &got) || !node_same(&got, want);
	bad += !nodedir_get_name(d, want->network_id, want->name, &got) || !node_same(&got, want);
	if (!ipam_addr_parse(want->ipv4, &fam, a))
		bad += !nodedir_get_addr(d, want->network_id, fam, a, &got) || !node_same(&got, want);
	if (want->ipv6[0] && !ipam_addr_parse(want->ipv6, &fam, a))
		bad += !nodedir_get_addr(d, want->network_id, fam, a, &got) || !node_same(&got, want);
	return bad;
}

/* Not found any way. */
static bool gone(const struct nodedir *d, const struct store_node *n)
{
	struct store_node got;
	uint8_t a[16];
	int fam;

	return !nodedir_get_id(d, n->id, &got) && !nodedir_get_key(d, n->public_key, &got) &&
	       !nodedir_get_name(d, n->network_id, n->name, &got) &&
	       (ipam_addr_parse(n->ipv4, &fam, a) ||
		!nodedir_get_addr(d, n->network_id, fam, a, &got)) &&
	       (!n->ipv6[0] || ipam_addr_parse(n->ipv6, &fam, a) ||
		!nodedir_get_addr(d, n->network_id, fam, a, &got));
}

enum { N = 5000 };
static struct store_node nodes[N];

static void test_basic(void)
{
	struct nodedir *d = nodedir_new();
	struct store_node got, moved, twin, full;
	char name[32];
	int bad = 0, left = 0;
	uint8_t a[16];
	int fam;

	CHECK(d && nodedir_count(d) == 0, "new directory is empty");
	if (!d)
		return;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		nodes[i] = make(i + 1, 1 + i % 3, (uint32_t)i + 2, name);
		bad += nodedir_put(d, &nodes[i]) != 0;
	}
	CHECK(bad == 0 && nodedir_count(d) == N, "%d records put (the tables grew)", N);
	for (int i = 0; i < N; i++)
		bad += mismatches(d, &nodes[i]);
	CHECK(bad == 0, "each found by id, key, name, IPv4 and IPv6, whole: %d wrong", bad);

	for (int i = 0; i < N; i++) {
		int64_t id4 = 0, id6 = 0, idn = 0;
		ipam_addr_parse(nodes[i].ipv4, &fam, a);
		for (int stage = 0; stage < 3; stage++) {
			id4 = nodedir_prefetch_addr(d, nodes[i].network_id, fam, a, stage);
			idn = nodedir_prefetch_name(d, nodes[i].network_id, nodes[i].name, stage);
		}
		if (nodes[i].ipv6[0] && !ipam_addr_parse(nodes[i].ipv6, &fam, a))
			for (int stage = 0; stage < 3; stage++)
				id6 = nodedir_prefetch_addr(d, nodes[i].network_id, fam, a, stage);
		bad += id4 != nodes[i].id || idn != nodes[i].id ||
		       (nodes[i].ipv6[0] && id6 != nodes[i].id);
		bad += nodedir_prefetch_name(d, nodes[i].network_id + 7, nodes[i].name, 2) != 0;
	}
	CHECK(bad == 0, "prefetch: stage 2 names the node (by IPv4, IPv6, name), 0 elsewhere");
	CHECK(!nodedir_get_id(d, N + 1, &got) && !nodedir_get_name(d, 1, "nobody", &got) &&
	      !nodedir_get_name(d, 2, "node-0", &got),
	      "unknown id, unknown name, a name in another network: not found");
	ipam_addr_parse(nodes[0].ipv4, &fam, a);
	CHECK(!nodedir_get_addr(d, 2, fam, a, &got), "an address in another network: not found");
	CHECK(!nodedir_get_name(d, 1, "NODE-0", &got) && !nodedir_get_name(d, 1, "node-", &got),
	      "names compared byte for byte, whole");

	twin = make(N + 1, 2, 2, "node-0");	/* node 1's name and IPv4, network 2 */
	CHECK(nodedir_put(d, &twin) == 0 && mismatches(d, &twin) == 0 &&
	      mismatches(d, &nodes[0]) == 0, "the same name and address in two networks");
	CHECK(nodedir_del(d, twin.id) && mismatches(d, &nodes[0]) == 0 && gone(d, &twin),
	      "deleting one leaves the other");

	moved = make(nodes[10].id, nodes[10].network_id, 90000, "renamed");
	moved.last_seen = 1;
	CHECK(nodedir_put(d, &moved) == 0 && nodedir_count(d) == N && mismatches(d, &moved) == 0 &&
	      !nodedir_get_name(d, nodes[10].network_id, nodes[10].name, &got) &&
	      (ipam_addr_parse(nodes[10].ipv4, &fam, a),
	       !nodedir_get_addr(d, nodes[10].network_id, fam, a, &got)),
	      "a put with a known id replaces the record: old name and address gone");
	nodes[10] = moved;

	full = make(N + 2, 1, 77, "");
	memset(full.name, 'n', sizeof(full.name) - 1);
	memset(full.hostname, 'h', sizeof(full.hostname) - 1);
	memset(full.tags, 't', sizeof(full.tags) - 1);
	memset(full.endpoints, 'e', sizeof(full.endpoints) - 1);
	CHECK(nodedir_put(d, &full) == 0 && mismatches(d, &full) == 0 &&
	      nodedir_get_id(d, full.id, &got) && strlen(got.endpoints) == sizeof(got.endpoints) - 1,
	      "strings at their fields' full length");
	CHECK(nodedir_del(d, full.id) && !nodedir_del(d, full.id), "delete, then delete again");

	for (int i = 0; i < N; i += 2)
		bad += !nodedir_del(d, nodes[i].id);
	for (int i = 0; i < N; i++)
		left += i % 2 ? mismatches(d, &nodes[i]) != 0 : !gone(d, &nodes[i]);
	CHECK(bad == 0 && left == 0 && nodedir_count(d) == N / 2,
	      "half deleted: gone every way, the rest intact (%d wrong)", left);
	nodedir_clear(d);
	CHECK(nodedir_count(d) == 0 && gone(d, &nodes[1]), "clear");
	CHECK(nodedir_put(d, &nodes[1]) == 0 && mismatches(d, &nodes[1]) == 0,
	      "usable after clear");
	nodedir_free(d);
}

/* Random puts (new and replacing), deletes and gets against an array. */
static void test_differential(void)
{
	enum { IDS = 600, OPS = 60000 };
	static struct store_node model[IDS + 1];
	static bool live[IDS + 1];
	struct nodedir *d = nodedir_new();
	struct store_node got;
	char name[32];
	int bad = 0, count = 0;
	uint32_t gen = 1000;

	if (!d)
		return;
	srand(12345);
	for (int op = 0; op < OPS; op++) {
		int id = 1 + rand() % IDS, r = rand() % 10;
		if (r < 4) {
			/* A new spelling each time: names and addresses move. */
			snprintf(name, sizeof(name), "n%u", gen);
			model[id] = make(id, 1 + rand() % 2, gen++, name);
			count += !live[id];
			live[id] = true;
			bad += nodedir_put(d, &model[id]) != 0;
		} else if (r < 6) {
			bad += nodedir_del(d, id) != live[id];
			if (live[id])
				gone(d, &model[id]) ? (void)0 : (void)bad++;
			count -= live[id];
			live[id] = false;
		} else if (live[id]) {
			bad += mismatches(d, &model[id]);
		} else {
			bad += nodedir_get_id(d, id, &got);
		}
		bad += nodedir_count(d) != (size_t)count;
	}
	for (int id = 1; id <= IDS; id++)
		bad += live[id] ? mismatches(d, &model[id]) : !gone(d, &model[id]) && model[id].id;
	CHECK(bad == 0, "%d random puts, deletes and gets agree with an array (%d wrong)", OPS, bad);
	nodedir_free(d);
}

int main(void)
{
	test_basic();
	test_differential();
	return check_done();
}
