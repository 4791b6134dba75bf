/*
 * seednodes — fills a weft-server database with N registered nodes, for
 * the LOOKUP benchmark (bench/lookup.sh, docs/lookup-bench.md).  The nodes
 * are made by store_node_create, the very call a REGISTER makes: same
 * address allocation, same names, same UNIQUE constraints, real rows that
 * the server's LOOKUP path queries.  Only the transactions differ: a join
 * commits one node with an fsync, the seeder commits --batch nodes at once
 * (store_begin/store_commit; store_node_create runs as a savepoint inside).
 *
 *   seednodes --db PATH --network NAME --count N [--batch N]
 *             [--hostname-prefix P] [--targets FILE]
 *
 * Public keys are 32 random bytes: the seeded nodes never connect, so no
 * private key is needed (and a server never checks that a stored key is a
 * curve point).  --targets writes one line per seeded node,
 * "NAME IPV4 IPV6", for ctlload to look up.  Prints one line:
 *
 *   seeded=N seconds=S rate=R/s
 *
 * Run it while the server is stopped, or at least not joining nodes: both
 * may write, but a server started later begins its address scan from the
 * start of the prefix (its allocation hint lives in memory).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "crypto.h"
#include "store.h"

#define SEED_MAX 10000000L

struct seed_opts {
	const char *db, *network, *prefix, *targets;
	long count, batch;
};

static void seed_usage(void)
{
	fprintf(stderr, "usage: seednodes --db PATH --network NAME --count N "
		"[--batch N] [--hostname-prefix P] [--targets FILE]\n");
}

static bool seed_parse(int argc, char **argv, struct seed_opts *o)
{
	*o = (struct seed_opts){ .prefix = "seed", .batch = 10000 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return false;
		if (!strcmp(a, "--db")) o->db = v;
		else if (!strcmp(a, "--network")) o->network = v;
		else if (!strcmp(a, "--hostname-prefix")) o->prefix = v;
		else if (!strcmp(a, "--targets")) o->targets = v;
		else if (!strcmp(a, "--count")) o->count = strtol(v, NULL, 10);
		else if (!strcmp(a, "--batch")) o->batch = strtol(v, NULL, 10);
		else
			return false;
		i++;
	}
	return o->db && o->network && o->count >= 1 && o->count <= SEED_MAX &&
	       o->batch >= 1 && o->batch <= SEED_MAX && strlen(o->prefix) <= 40;
}

/* Creates one node; writes its target line when out is not NULL. */
static int seed_one(struct store *st, int64_t net, const char *prefix, long i,
		    int64_t now, FILE *out)
{
	char host[64];
	struct store_node_req req = { .network_id = net, .now = now };
	struct store_node n;
	int r;

	snprintf(host, sizeof(host), "%s-%07ld", prefix, i);
	req.hostname = host;
	if (!crypto_random(req.public_key, sizeof(req.public_key)))
		return -EIO;
	if ((r = store_node_create(st, &req, &n)))
		return r;
	if (out)
		fprintf(out, "%s %s %s\n", n.name, n.ipv4[0] ? n.ipv4 : "-",
			n.ipv6[0] ? n.ipv6 : "-");
	return 0;
}

static int seed_run(struct store *st, const struct seed_opts *o,
		    int64_t net, FILE *out)
{
	int64_t now = (int64_t)time(NULL);
	long i = 0;
	int r = 0;

	while (i < o->count && !r) {
		long end = i + o->batch < o->count ? i + o->batch : o->count;
		if ((r = store_begin(st)))
			break;
		for (; i < end && !r; i++)
			r = seed_one(st, net, o->prefix, i, now, out);
		if (r)
			store_rollback(st);
		else
			r = store_commit(st);
	}
	if (r)
		fprintf(stderr, "seednodes: node %ld: %s\n", i, store_errmsg(st));
	return r;
}

/* Opens an existing database and finds the network; NULL on failure. */
static struct store *seed_open(const struct seed_opts *o, int64_t *net_id)
{
	struct store *st = NULL;
	struct store_network net;
	char err[256];

	if (access(o->db, R_OK | W_OK)) {	/* store_open would create it */
		fprintf(stderr, "seednodes: %s: %s (run weft-server init first)\n",
			o->db, strerror(errno));
		return NULL;
	}
	if (store_open_err(&st, o->db, err, sizeof(err))) {
		fprintf(stderr, "seednodes: cannot open %s: %s\n", o->db, err);
		return NULL;
	}
	if (store_network_get(st, o->network, &net)) {
		fprintf(stderr, "seednodes: no network \"%s\" in %s: %s\n",
			o->network, o->db, store_errmsg(st));
		store_close(st);
		return NULL;
	}
	*net_id = net.id;
	return st;
}

int main(int argc, char **argv)
{
	struct seed_opts o;
	struct store *st;
	FILE *out = NULL;
	int64_t net_id;
	uint64_t t0;
	double s;
	int r;

	if (!seed_parse(argc, argv, &o)) {
		seed_usage();
		return 2;
	}
	if (!crypto_init()) {
		fprintf(stderr, "seednodes: crypto library did not initialise\n");
		return 1;
	}
	if (!(st = seed_open(&o, &net_id)))
		return 1;
	if (o.targets && !(out = fopen(o.targets, "w"))) {
		fprintf(stderr, "seednodes: cannot write %s: %s\n", o.targets,
			strerror(errno));
		store_close(st);
		return 1;
	}
	t0 = clock_mono_ns();
	r = seed_run(st, &o, net_id, out);
	s = (double)(clock_mono_ns() - t0) / 1e9;
	if (out && fclose(out) && !r) {
		fprintf(stderr, "seednodes: writing %s failed\n", o.targets);
		r = -EIO;
	}
	store_close(st);
	if (r)
		return 1;
	printf("seeded=%ld seconds=%.3f rate=%.0f/s\n", o.count, s,
	       (double)o.count / s);
	return 0;
}
