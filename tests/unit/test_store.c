/*
 * test_store — the SQLite store against a temporary database (mkdtemp under
 * /tmp, removed at the end): schema creation and reopen, every operation,
 * unique violations, one-off keys raced by several processes, network
 * delete refusal and force, removed keys and the migration from schema 1,
 * the append-only audit log, 1000 allocations, rollback; then timings with
 * 100 000 nodes (WEFT_STORE_BENCH_N to change the count, 0 to skip).
 */
#include "store.h"
#include "ipam.h"
#include "check.h"
#include "node_check.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T0 1700000000

/* The timing run is long under the sanitizers; a smaller default there. */
#if defined(__SANITIZE_ADDRESS__)
#define BENCH_DEFAULT 10000
#else
#define BENCH_DEFAULT 100000
#endif

static char dir[64], path[96];
static bool cached;	/* this pass runs with the node cache on */

static void make_key(uint8_t key[32], uint32_t seed)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)((seed >> (8 * (i % 4))) ^ (uint32_t)(i * 37));
}

static struct store_node_req req_for(int64_t net, uint32_t seed, const char *host)
{
	struct store_node_req r = { .network_id = net, .hostname = host, .now = T0 };

	make_key(r.public_key, seed);
	return r;
}

static int count_rows(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	sqlite3_open(path, &db);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static struct store *open_store(void)
{
	struct store *s = NULL;
	char err[256] = "";
	int rc = store_open_err(&s, path, err, sizeof(err));

	CHECK(rc == 0 && s, "open %s: %s", path, rc ? err : "ok");
	if (s && cached)
		CHECK(store_node_cache(s, true) == 0, "node cache on, %zu node(s)",
		      store_node_cached(s));
	return s;
}

/* --- schema, meta ------------------------------------------------------------- */

static void test_open(struct store *s)
{
	char ula[64], v[8];
	int version = 0;

	CHECK(store_schema_version(s, &version) == 0 && version == STORE_SCHEMA_VERSION,
	      "schema version %d", version);
	CHECK(store_meta_get(s, STORE_META_ULA, ula, sizeof(ula)) == 0 &&
	      strncmp(ula, "fd", 2) == 0 && strstr(ula, "::/48"), "ULA in meta: %s", ula);
	CHECK(store_meta_get(s, "nope", v, sizeof(v)) == -ENOENT, "meta missing -> ENOENT");
	CHECK(store_meta_set(s, STORE_META_ENDPOINT, "server.example:51820") == 0 &&
	      store_meta_set(s, STORE_META_ENDPOINT, "192.0.2.1:51820") == 0, "meta set twice");
	CHECK(store_meta_get(s, STORE_META_ENDPOINT, ula, sizeof(ula)) == 0 &&
	      strcmp(ula, "192.0.2.1:51820") == 0, "meta upsert: %s", ula);
	CHECK(store_meta_get(s, STORE_META_ENDPOINT, v, sizeof(v)) == -ERANGE,
	      "meta too long for buffer -> ERANGE");
	CHECK(count_rows("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1,
	      "database is in WAL mode");
}

/* --- networks ------------------------------------------------------------------ */

static void test_networks(struct store *s)
{
	struct store_network a, b, c, list[4];
	char ula[64], want[64];
	size_t n;

	store_meta_get(s, STORE_META_ULA, ula, sizeof(ula));
	CHECK(store_network_create(s, "robots", NULL, NULL, T0, &a) == 0 &&
	      strcmp(a.prefix4, "100.64.0.0/16") == 0, "net 1 default v4: %s", a.prefix4);
	snprintf(want, sizeof(want), "%.*s/64", (int)(strlen(ula) - 3), ula);
	CHECK(strcmp(a.prefix6, want) == 0, "net 1 default v6: %s (want %s)", a.prefix6, want);
	CHECK(store_network_create(s, "laptops", NULL, NULL, T0, &b) == 0 &&
	      strcmp(b.prefix4, "100.65.0.0/16") == 0 && strcmp(b.prefix6, a.prefix6) != 0,
	      "net 2 defaults: %s %s", b.prefix4, b.prefix6);
	CHECK(store_network_create(s, "small", "192.168.7.4/30", "FD00:AB::/126", T0, &c) == 0 &&
	      strcmp(c.prefix6, "fd00:ab::/126") == 0, "net 3 custom: %s %s", c.prefix4, c.prefix6);
	CHECK(store_network_create(s, "robots", NULL, NULL, T0, NULL) == -EEXIST &&
	      strstr(store_errmsg(s), "already exists"), "dup name: %s", store_errmsg(s));
	CHECK(store_network_create(s, "Robots", NULL, NULL, T0, NULL) == -EINVAL,
	      "bad name: %s", store_errmsg(s));
	CHECK(store_network_create(s, "x", "100.64.0.1/16", NULL, T0, NULL) == -EINVAL &&
	      strstr(store_errmsg(s), "host bits"), "bad prefix: %s", store_errmsg(s));
	CHECK(store_network_create(s, "x", "fd00::/64", NULL, T0, NULL) == -EINVAL,
	      "v6 as prefix4: %s", store_errmsg(s));
	CHECK(store_network_create(s, "x", "10.0.0.0/31", NULL, T0, NULL) == -EINVAL,
	      "too small: %s", store_errmsg(s));
	CHECK(store_network_create(s, "x", "", "", T0, NULL) == -EINVAL,
	      "no prefix: %s", store_errmsg(s));
	CHECK(store_network_create(s, "v4only", "10.10.0.0/24", "", T0, &c) == 0 &&
	      c.prefix6[0] == '\0', "v4-only network");
	CHECK(store_network_get(s, "laptops", &c) == 0 && c.id == b.id, "get by name");
	CHECK(store_network_get(s, "nope", &c) == -ENOENT, "get missing: %s", store_errmsg(s));
	CHECK(store_network_get_id(s, a.id, &c) == 0 && strcmp(c.name, "robots") == 0, "get by id");
	CHECK(store_network_list(s, 0, list, 2, &n) == 0 && n == 2 &&
	      list[0].id == a.id && list[1].id == b.id, "list page 1");
	CHECK(store_network_list(s, list[1].id, list, 4, &n) == 0 && n == 2 &&
	      strcmp(list[0].name, "small") == 0 && strcmp(list[1].name, "v4only") == 0,
	      "list page 2");
}

/* --- join keys ------------------------------------------------------------------ */

static struct store_key key_for(int64_t net, const char *id, bool reusable, int64_t expires)
{
	struct store_key k = { .network_id = net, .reusable = reusable,
			       .expires = expires, .created = T0 };

	snprintf(k.id, sizeof(k.id), "%s", id);
	memset(k.secret_hash, id[15], sizeof(k.secret_hash));
	snprintf(k.tags, sizeof(k.tags), "tag:robot");
	return k;
}

static void test_keys(struct store *s, int64_t net)
{
	struct store_key k = key_for(net, "00000000000000a1", false, 0), got, list[8];
	enum ipam_key_verdict v;
	uint8_t wrong[32] = { 0 };
	size_t n;

	CHECK(store_key_create(s, &k) == 0, "key create");
	CHECK(store_key_create(s, &k) == -EEXIST, "key dup: %s", store_errmsg(s));
	k.id[0] = 'X';
	CHECK(store_key_create(s, &k) == -EINVAL, "key bad id: %s", store_errmsg(s));
	k = key_for(9999, "00000000000000a9", false, 0);
	CHECK(store_key_create(s, &k) == -ENOENT, "key unknown network: %s", store_errmsg(s));
	CHECK(store_key_get(s, "00000000000000a1", &got) == 0 && got.network_id == net &&
	      !got.reusable && got.uses == 0 && strcmp(got.tags, "tag:robot") == 0 &&
	      got.secret_hash[31] == '1', "key get");
	CHECK(store_key_get(s, "00000000000000ff", &got) == -ENOENT, "key get missing");
	CHECK(store_key_use(s, "00000000000000a1", wrong, T0, &got, &v) == -ENOENT,
	      "wrong secret hash -> ENOENT");
	CHECK(store_key_use(s, "00000000000000a1", got.secret_hash, T0, &got, &v) == 0 &&
	      v == IPAM_KEY_OK && got.uses == 1, "one-off first use");
	CHECK(store_key_use(s, "00000000000000a1", NULL, T0, &got, &v) == -EACCES &&
	      v == IPAM_KEY_USED && strstr(store_errmsg(s), "already been used"),
	      "one-off second use: %s", store_errmsg(s));
	k = key_for(net, "00000000000000b2", true, T0 + 60);
	store_key_create(s, &k);
	for (int i = 0; i < 3; i++)
		store_key_use(s, k.id, NULL, T0 + i, &got, &v);
	CHECK(got.uses == 3 && v == IPAM_KEY_OK, "reusable used 3 times");
	CHECK(store_key_use(s, k.id, NULL, T0 + 60, &got, &v) == -EACCES &&
	      v == IPAM_KEY_EXPIRED, "expired: %s", store_errmsg(s));
	k = key_for(net, "00000000000000c3", true, 0);
	store_key_create(s, &k);
	CHECK(store_key_revoke(s, k.id) == 0 && store_key_revoke(s, "00000000000000ee") == -ENOENT,
	      "revoke, revoke missing");
	CHECK(store_key_use(s, k.id, NULL, T0, &got, &v) == -EACCES && v == IPAM_KEY_REVOKED,
	      "revoked: %s", store_errmsg(s));
	CHECK(store_key_list(s, net, "", list, 8, &n) == 0 && n == 3 &&
	      strcmp(list[0].id, "00000000000000a1") == 0 && list[2].revoked, "key list");
	CHECK(store_key_list(s, 0, "00000000000000a1", list, 1, &n) == 0 && n == 1 &&
	      strcmp(list[0].id, "00000000000000b2") == 0, "key list cursor");
	CHECK(store_key_use(s, "00000000000000dd", NULL, T0, &got, &v) == -ENOENT,
	      "use unknown key");
}

/* Several processes race to use one one-off key; exactly one wins. */
static void test_key_race(struct store *s, int64_t net)
{
	struct store_key k = key_for(net, "00000000000000d4", false, 0);
	int wins = 0, other = 0, status;
	pid_t pids[8];

	store_key_create(s, &k);
	for (int i = 0; i < 8; i++) {
		if ((pids[i] = fork()) == 0) {
			struct store *c = NULL;
			int rc = store_open(&c, path);
			if (rc == 0)
				rc = store_key_use(c, k.id, NULL, T0, NULL, NULL);
			store_close(c);
			_exit(rc == 0 ? 0 : rc == -EACCES ? 1 : 2);
		}
	}
	for (int i = 0; i < 8; i++) {
		waitpid(pids[i], &status, 0);
		wins += WIFEXITED(status) && WEXITSTATUS(status) == 0;
		other += !WIFEXITED(status) || WEXITSTATUS(status) == 2;
	}
	CHECK(wins == 1 && other == 0, "one-off key raced by 8 processes: %d won, %d errors",
	      wins, other);
	store_key_get(s, k.id, &k);
	CHECK(k.uses == 1, "one-off key uses = %llu", (unsigned long long)k.uses);
}

/* --- nodes ----------------------------------------------------------------------- */

static void test_nodes(struct store *s, int64_t net)
{
	struct store_node a, b, c, got, list[4];
	struct store_node_req r = req_for(net, 1, "Robot.lab");
	char pfx6[64];
	size_t n;

	r.tags = "tag:robot";
	r.endpoints = "192.0.2.10:4000";
	CHECK(store_node_create(s, &r, &a) == 0 && strcmp(a.name, "robot") == 0 &&
	      strcmp(a.ipv4, "100.64.0.2") == 0 && strcmp(a.hostname, "Robot.lab") == 0 &&
	      strcmp(a.tags, "tag:robot") == 0 && a.last_seen == T0,
	      "node 1: %s %s %s", a.name, a.ipv4, a.ipv6);
	snprintf(pfx6, sizeof(pfx6), "%s", a.ipv6);
	CHECK(strlen(pfx6) > 3 && strcmp(pfx6 + strlen(pfx6) - 3, "::2") == 0, "node 1 v6 ::2");
	r = req_for(net, 2, "robot");
	CHECK(store_node_create(s, &r, &b) == 0 && strcmp(b.name, "robot-2") == 0 &&
	      strcmp(b.ipv4, "100.64.0.3") == 0, "node 2: %s %s", b.name, b.ipv4);
	r = req_for(net, 3, NULL);
	r.ephemeral = true;
	CHECK(store_node_create(s, &r, &c) == 0 && strcmp(c.name, "node") == 0 &&
	      strcmp(c.ipv4, "100.64.0.4") == 0 && c.ephemeral, "node 3: %s %s", c.name, c.ipv4);
	r = req_for(net, 1, "again");
	CHECK(store_node_create(s, &r, NULL) == -EEXIST, "dup key: %s", store_errmsg(s));
	r = req_for(424242, 9, "x");
	CHECK(store_node_create(s, &r, NULL) == -ENOENT, "unknown network");

	CHECK(store_node_get(s, b.id, &got) == 0 && strcmp(got.name, "robot-2") == 0, "get id");
	CHECK(store_node_get_key(s, a.public_key, &got) == 0 && got.id == a.id, "get key");
	CHECK(store_node_get_name(s, net, "node", &got) == 0 && got.id == c.id, "get name");
	CHECK(store_node_get_addr(s, net, "100.64.0.3", &got) == 0 && got.id == b.id, "get v4");
	for (char *p = pfx6; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
	CHECK(store_node_get_addr(s, net, pfx6, &got) == 0 && got.id == a.id,
	      "get v6 by another spelling: %s", pfx6);
	CHECK(store_node_get_addr(s, net + 1, "100.64.0.3", &got) == -ENOENT,
	      "address is per network");
	CHECK(store_node_get_addr(s, net, "nonsense", &got) == -EINVAL, "bad address");
	CHECK(store_node_get(s, 999999, &got) == -ENOENT, "get missing");

	CHECK(store_node_list(s, net, 0, list, 2, &n) == 0 && n == 2 && list[0].id == a.id &&
	      store_node_list(s, net, list[1].id, list, 4, &n) == 0 && n == 1 &&
	      list[0].id == c.id, "list with cursor");

	CHECK(store_node_rename(s, c.id, "worker") == 0 &&
	      store_node_get_name(s, net, "worker", &got) == 0, "rename");
	CHECK(store_node_rename(s, c.id, "robot") == -EEXIST, "rename taken: %s", store_errmsg(s));
	CHECK(store_node_rename(s, c.id, "Bad_Name") == -EINVAL, "rename bad: %s", store_errmsg(s));
	CHECK(store_node_rename(s, 999999, "free") == -ENOENT, "rename missing");
	CHECK(store_node_expire(s, b.id, T0 + 5) == 0 && store_node_get(s, b.id, &got) == 0 &&
	      got.expires == T0 + 5, "expire");
	CHECK(store_node_seen(s, c.id, T0 + 100, "198.51.100.1:999,[2001:db8::1]:999") == 0 &&
	      store_node_seen(s, a.id, T0 + 50, NULL) == 0 && store_node_get(s, c.id, &got) == 0 &&
	      got.last_seen == T0 + 100 && strstr(got.endpoints, "2001:db8::1"), "seen");
	CHECK(store_node_get(s, a.id, &got) == 0 && strcmp(got.endpoints, "192.0.2.10:4000") == 0,
	      "seen without endpoints keeps them");
	CHECK(store_node_list_stale_ephemeral(s, T0 + 100, 0, list, 4, &n) == 0 && n == 0 &&
	      store_node_list_stale_ephemeral(s, T0 + 101, 0, list, 4, &n) == 0 && n == 1 &&
	      list[0].id == c.id, "stale ephemeral");

	CHECK(store_node_delete(s, a.id) == 0 && store_node_get(s, a.id, &got) == -ENOENT &&
	      store_node_delete(s, a.id) == -ENOENT, "delete");
	r = req_for(net, 4, "robot");
	CHECK(store_node_create(s, &r, &got) == 0 && strcmp(got.ipv4, "100.64.0.2") == 0 &&
	      strcmp(got.name, "robot") == 0 && got.id > c.id,
	      "freed address and name reused, id not: %s %s %lld", got.ipv4, got.name,
	      (long long)got.id);
}

/* --- removed keys ------------------------------------------------------------------ */

static void test_removed_keys(struct store *s, int64_t net)
{
	struct store_removed_key rk;
	struct store_node n, ghost = { .network_id = 424242 };
	struct store_node_req r = req_for(net, 50, "doomed");
	uint8_t other[32];

	CHECK(store_node_create(s, &r, &n) == 0, "node to remove: %s", store_errmsg(s));
	make_key(other, 51);
	CHECK(store_removed_key_get(s, n.public_key, &rk) == -ENOENT &&
	      store_removed_key_get(s, other, &rk) == -ENOENT, "no key removed yet");
	CHECK(store_removed_key_add(s, &n, "expired", T0 + 1) == 0 &&
	      store_removed_key_get(s, n.public_key, &rk) == 0 &&
	      memcmp(rk.public_key, n.public_key, 32) == 0 && strcmp(rk.name, "doomed") == 0 &&
	      rk.network_id == net && strcmp(rk.reason, "expired") == 0 && rk.removed == T0 + 1,
	      "removed key recorded: %s %s", rk.name, rk.reason);
	CHECK(store_node_delete(s, n.id) == 0 &&
	      store_removed_key_add(s, &n, "deleted", T0 + 2) == 0 &&
	      store_removed_key_get(s, n.public_key, &rk) == 0 &&
	      strcmp(rk.reason, "deleted") == 0 && rk.removed == T0 + 2,
	      "removed again: the latest reason wins, the node row is gone");
	CHECK(count_rows("SELECT count(*) FROM removed_keys") == 1, "one row per key");
	CHECK(store_removed_key_get(s, other, &rk) == -ENOENT, "other keys unaffected");
	memcpy(ghost.public_key, other, 32);
	snprintf(ghost.name, sizeof(ghost.name), "ghost");
	CHECK(store_removed_key_add(s, &ghost, "network deleted", T0 + 3) == 0 &&
	      store_removed_key_get(s, other, &rk) == 0 && rk.network_id == 424242,
	      "the record outlives its network (no foreign key)");
	r = req_for(net, 50, "doomed");
	CHECK(store_node_create(s, &r, &n) == 0 && store_node_delete(s, n.id) == 0,
	      "the store itself does not refuse the key (the control plane does)");
}

/* A version 1 database (before removed_keys and the reaper's index) is
 * brought to the current version on open, keeping its data. */
static void test_migrate_v1(void)
{
	struct store_removed_key rk;
	struct store_network net;
	struct store_node n;
	struct store *s;
	sqlite3 *db;
	int version = 0;

	sqlite3_open(path, &db);
	CHECK(sqlite3_exec(db, "DROP TABLE removed_keys;"
			   " DROP INDEX nodes_ephemeral_id;"
			   " UPDATE meta SET value = '1' WHERE key = 'schema_version'",
			   NULL, NULL, NULL) == SQLITE_OK, "made a version 1 database: %s",
	      sqlite3_errmsg(db));
	sqlite3_close(db);
	if (!(s = open_store()))
		return;
	CHECK(store_schema_version(s, &version) == 0 && version == STORE_SCHEMA_VERSION &&
	      count_rows("SELECT count(*) FROM sqlite_master WHERE name = 'removed_keys'") == 1 &&
	      count_rows("SELECT count(*) FROM sqlite_master WHERE name = 'nodes_ephemeral_id'") == 1,
	      "migrated 1 -> %d (schema %d)", STORE_SCHEMA_VERSION, version);
	CHECK(store_network_get(s, "robots", &net) == 0 &&
	      store_node_get_name(s, net.id, "robot", &n) == 0, "migration kept the nodes");
	CHECK(store_removed_key_get(s, n.public_key, &rk) == -ENOENT &&
	      store_removed_key_add(s, &n, "deleted", T0) == 0 &&
	      store_removed_key_get(s, n.public_key, &rk) == 0, "the new table works");
	store_close(s);
	s = open_store();
	CHECK(s && store_schema_version(s, &version) == 0 && version == STORE_SCHEMA_VERSION &&
	      count_rows("SELECT count(*) FROM removed_keys") == 1, "reopen: no second migration");
	store_close(s);
}

static void test_small_network(struct store *s)
{
	struct store_network net;
	struct store_node a;
	struct store_node_req r;

	store_network_get(s, "small", &net);
	r = req_for(net.id, 100, "one");
	CHECK(store_node_create(s, &r, &a) == 0 && strcmp(a.ipv4, "192.168.7.6") == 0 &&
	      strcmp(a.ipv6, "fd00:ab::2") == 0, "/30: %s %s", a.ipv4, a.ipv6);
	r = req_for(net.id, 101, "two");
	CHECK(store_node_create(s, &r, NULL) == -ENOSPC && strstr(store_errmsg(s), "192.168.7.4/30"),
	      "/30 exhausted: %s", store_errmsg(s));
	CHECK(store_node_get_key(s, r.public_key, &a) == -ENOENT, "nothing half-written");
	store_network_get(s, "v4only", &net);
	r = req_for(net.id, 102, "v4");
	CHECK(store_node_create(s, &r, &a) == 0 && a.ipv4[0] && !a.ipv6[0], "v4-only node");
}

static void test_network_delete(struct store *s)
{
	struct store_network net;
	struct store_key k;
	struct store_node_req r;
	struct store_node nd;

	store_network_create(s, "doomed", NULL, NULL, T0, &net);
	k = key_for(net.id, "00000000000000e5", true, 0);
	store_key_create(s, &k);
	r = req_for(net.id, 500, "victim");
	store_node_create(s, &r, &nd);
	CHECK(store_network_delete(s, "doomed", false) == -ENOTEMPTY &&
	      strstr(store_errmsg(s), "1 node"), "delete refused: %s", store_errmsg(s));
	CHECK(store_network_get(s, "doomed", &net) == 0 && store_node_get(s, nd.id, &nd) == 0,
	      "refusal left everything");
	CHECK(store_network_delete(s, "doomed", true) == 0, "force delete");
	CHECK(store_network_get(s, "doomed", &net) == -ENOENT &&
	      store_node_get(s, nd.id, &nd) == -ENOENT &&
	      store_key_get(s, "00000000000000e5", &k) == -ENOENT, "force removed nodes, keys");
	store_network_create(s, "empty", NULL, NULL, T0, &net);
	CHECK(store_network_delete(s, "empty", false) == 0, "empty network deletes");
	CHECK(store_network_delete(s, "empty", false) == -ENOENT, "delete missing");
}

/* --- audit ------------------------------------------------------------------------- */

static void test_audit(struct store *s)
{
	struct store_audit list[8];
	int64_t id1 = 0, id2 = 0;
	sqlite3 *db;
	size_t n;

	CHECK(store_audit_append(s, T0, "admin", "network.create", "robots", "ok", "", &id1) == 0 &&
	      store_audit_append(s, T0 + 10, "node:robot", "node.join", "robot", "ok",
				 "key 00000000000000a1", &id2) == 0 &&
	      store_audit_append(s, T0 + 20, "admin", "key.revoke", "00000000000000c3",
				 "ok", NULL, NULL) == 0 && id2 > id1, "append 3");
	CHECK(store_audit_list(s, 0, 0, list, 8, &n) == 0 && n == 3 &&
	      strcmp(list[1].detail, "key 00000000000000a1") == 0, "list all");
	CHECK(store_audit_list(s, T0 + 10, 0, list, 8, &n) == 0 && n == 2 &&
	      strcmp(list[0].action, "node.join") == 0, "list since");
	CHECK(store_audit_list(s, 0, id1, list, 1, &n) == 0 && n == 1 && list[0].id == id2,
	      "list after, limit");
	sqlite3_open(path, &db);
	sqlite3_busy_timeout(db, 2000);
	CHECK(sqlite3_exec(db, "UPDATE audit SET result = 'forged'", NULL, NULL, NULL) != SQLITE_OK,
	      "UPDATE on audit refused: %s", sqlite3_errmsg(db));
	CHECK(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, NULL) != SQLITE_OK,
	      "DELETE on audit refused: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	CHECK(count_rows("SELECT count(*) FROM audit WHERE result = 'ok'") == 3, "audit intact");
}

/* --- transactions ------------------------------------------------------------------- */

static void test_rollback(struct store *s)
{
	struct store_network net, n2;
	struct store_node nd, got;
	struct store_node_req r;

	CHECK(store_begin(s) == 0, "begin");
	CHECK(store_network_create(s, "ghost", NULL, NULL, T0, &net) == 0, "create in tx");
	r = req_for(net.id, 700, "ghost-node");
	CHECK(store_node_create(s, &r, &nd) == 0, "node in tx");
	store_audit_append(s, T0, "admin", "network.create", "ghost", "ok", "", NULL);
	CHECK(store_rollback(s) == 0, "rollback");
	CHECK(store_network_get(s, "ghost", &net) == -ENOENT &&
	      store_node_get_key(s, r.public_key, &got) == -ENOENT &&
	      count_rows("SELECT count(*) FROM audit WHERE object = 'ghost'") == 0,
	      "rollback left nothing");

	/* A failed operation inside a transaction undoes only itself. */
	store_begin(s);
	store_network_create(s, "kept", NULL, NULL, T0, &n2);
	r = req_for(n2.id, 701, "kept-node");
	store_node_create(s, &r, &nd);
	CHECK(store_node_create(s, &r, NULL) == -EEXIST, "failing op in tx");
	CHECK(store_commit(s) == 0, "commit after a failed op");
	CHECK(store_node_get_key(s, r.public_key, &got) == 0 &&
	      strcmp(got.ipv4, nd.ipv4) == 0 &&
	      count_rows("SELECT count(*) FROM nodes WHERE hostname = 'kept-node'") == 1,
	      "the good op committed, the failed one left nothing");
	r = req_for(n2.id, 702, "next");
	CHECK(store_node_create(s, &r, &got) == 0 && strcmp(got.ipv4, nd.ipv4) != 0,
	      "allocation after rollback does not reuse a live address: %s", got.ipv4);
}

/* --- scale ---------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int count_dups(char **v, int n)
{
	int d = 0;

	qsort(v, (size_t)n, sizeof(*v), cmp_str);
	for (int i = 1; i < n; i++)
		d += strcmp(v[i - 1], v[i]) == 0;
	return d;
}

static void test_thousand(struct store *s)
{
	enum { N = 1000 };
	static struct store_node nodes[N];
	static char *v4[N], *v6[N], *names[N];
	struct store_network net;
	struct store_node_req r;
	int fails = 0;

	store_network_create(s, "fleet", NULL, NULL, T0, &net);
	for (int i = 0; i < N; i++) {
		r = req_for(net.id, 10000 + (uint32_t)i, "robot");
		fails += store_node_create(s, &r, &nodes[i]) != 0;
		v4[i] = nodes[i].ipv4;
		v6[i] = nodes[i].ipv6;
		names[i] = nodes[i].name;
	}
	CHECK(fails == 0, "1000 nodes created, %d failures", fails);
	CHECK(strcmp(nodes[999].ipv4, "100.67.3.233") == 0 && strcmp(nodes[999].name, "robot-1000") == 0,
	      "1000th: %s %s", nodes[999].ipv4, nodes[999].name);
	CHECK(count_dups(v4, N) == 0 && count_dups(v6, N) == 0 && count_dups(names, N) == 0,
	      "1000 unique IPv4, IPv6 and names");
}

/* Processes allocating in one network at once still get unique addresses. */
static void test_concurrent_alloc(struct store *s)
{
	struct store_network net;
	int status, bad = 0;
	pid_t pids[4];

	store_network_create(s, "race", NULL, NULL, T0, &net);
	for (int p = 0; p < 4; p++) {
		if ((pids[p] = fork()) == 0) {
			struct store *c = NULL;
			int rc = store_open(&c, path);
			for (int i = 0; i < 50 && rc == 0; i++) {
				struct store_node_req r = req_for(net.id, 20000 + (uint32_t)(p * 100 + i), "racer");
				rc = store_node_create(c, &r, NULL);
			}
			store_close(c);
			_exit(rc ? 1 : 0);
		}
	}
	for (int p = 0; p < 4; p++) {
		waitpid(pids[p], &status, 0);
		bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	CHECK(bad == 0, "4 processes x 50 joins: %d failed", bad);
	CHECK(count_rows("SELECT count(DISTINCT ipv4) + count(DISTINCT ipv6) + count(DISTINCT name)"
			 " FROM nodes WHERE hostname = 'racer'") == 600,
	      "200 concurrent joins: all addresses and names distinct");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench(struct store *s, int count)
{
	struct store_network net;
	struct store_node_req r;
	struct store_node nd;
	char host[32], addr[32];
	double t;
	int fails = 0, i, lookups = 100000;

	store_network_create(s, "bench", "10.0.0.0/8", NULL, T0, &net);
	t = now_s();
	store_begin(s);
	for (i = 0; i < count; i++) {
		snprintf(host, sizeof(host), "host%d", i);
		r = req_for(net.id, 1000000 + (uint32_t)i, host);
		fails += store_node_create(s, &r, NULL) != 0;
	}
	store_commit(s);
	t = now_s() - t;
	CHECK(fails == 0, "bench: %d nodes in one transaction: %.2f s (%.0f/s)", count, t,
	      count / t);
	srand(7);
	t = now_s();
	for (i = 0; i < lookups; i++) {
		uint8_t key[32];
		make_key(key, 1000000 + (uint32_t)(rand() % count));
		fails += store_node_get_key(s, key, &nd) != 0;
	}
	t = now_s() - t;
	CHECK(fails == 0, "bench: %d lookups by public key with %d nodes: %.0f/s", lookups,
	      count, lookups / t);
	t = now_s();
	for (i = 0; i < lookups; i++) {
		int o = 2 + rand() % count;
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", o >> 16, (o >> 8) & 255, o & 255);
		fails += store_node_get_addr(s, net.id, addr, &nd) != 0;
	}
	t = now_s() - t;
	CHECK(fails == 0, "bench: %d lookups by address with %d nodes: %.0f/s", lookups,
	      count, lookups / t);
	t = now_s();
	for (i = 0; i < 1000; i++) {
		snprintf(host, sizeof(host), "late%d", i);
		r = req_for(net.id, 3000000 + (uint32_t)i, host);
		fails += store_node_create(s, &r, NULL) != 0;
	}
	t = now_s() - t;
	CHECK(fails == 0, "bench: 1000 joins, one transaction each (fsync), after %d: %.2f ms each",
	      count, t);
}

/* --- the node cache ------------------------------------------------------------------ */

/* Asked every way, s answers for want as the database does. */
static int node_mismatches(struct store *s, const struct store_node *want)
{
	struct store_node got;
	int bad = 0;

	bad += store_node_get(s, want->id, &got) || !node_same(&got, want);
	bad += store_node_get_key(s, want->public_key, &got) || !node_same(&got, want);
	bad += store_node_get_name(s, want->network_id, want->name, &got) ||
	       !node_same(&got, want);
	if (want->ipv4[0])
		bad += store_node_get_addr(s, want->network_id, want->ipv4, &got) ||
		       !node_same(&got, want);
	if (want->ipv6[0])
		bad += store_node_get_addr(s, want->network_id, want->ipv6, &got) ||
		       !node_same(&got, want);
	return bad;
}

/* Gone every way. */
static bool node_gone(struct store *s, const struct store_node *n)
{
	struct store_node got;

	return store_node_get(s, n->id, &got) == -ENOENT &&
	       store_node_get_key(s, n->public_key, &got) == -ENOENT &&
	       store_node_get_name(s, n->network_id, n->name, &got) == -ENOENT &&
	       (!n->ipv4[0] || store_node_get_addr(s, n->network_id, n->ipv4, &got) == -ENOENT) &&
	       (!n->ipv6[0] || store_node_get_addr(s, n->network_id, n->ipv6, &got) == -ENOENT);
}

/* With the cache on (the second pass), reads come from memory: they must
 * answer as the database would after the store's own writes, its
 * rollbacks, and (after store_sync) other connections' writes. */
static void test_cache(struct store *s)
{
	static struct store_node page[64], many[300];
	struct store_node a, b, c, got, moved;
	struct store_network net, net2;
	struct store_node_req r;
	struct store *o = NULL;
	int64_t after = 0;
	int bad = 0, total = 0, left = 0;
	size_t n = 64;

	CHECK(store_open(&o, path) == 0, "cache: a second connection");
	if (!o)
		return;
	/* Other processes wrote (test_concurrent_alloc), and a forced
	 * network delete left the cache to be read again. */
	CHECK(store_sync(s) == 0, "cache: sync");
	store_network_create(s, "cache", NULL, NULL, T0, &net);
	r = req_for(net.id, 900, "cached");
	r.endpoints = "192.0.2.1:1";
	r.tags = "tag:a";
	CHECK(store_node_create(s, &r, &a) == 0 && node_mismatches(s, &a) == 0,
	      "cache: a new node, every way");
	while (n == 64 && store_node_list(o, 0, after, page, 64, &n) == 0) {
		for (size_t i = 0; i < n; i++, total++)
			bad += node_mismatches(s, &page[i]);
		if (n)
			after = page[n - 1].id;
	}
	CHECK(bad == 0 && total > 1000, "cache: all %d nodes by id, key, name and addresses "
	      "as the database has them (%d differ)", total, bad);
	CHECK(store_node_cached(s) == (cached ? (size_t)total : 0),
	      "cache: holds %zu node(s)", store_node_cached(s));

	{
		uint8_t a4[16];
		int64_t id = 0, idn = 0;
		int fam;
		ipam_addr_parse(a.ipv4, &fam, a4);
		for (int stage = 0; stage < 3; stage++) {
			id = store_node_prefetch_addr(s, net.id, fam, a4, stage);
			idn = store_node_prefetch_name(s, net.id, a.name, stage);
		}
		CHECK(id == (cached ? a.id : 0) && idn == id,
		      "cache: prefetch names node %lld (0 with the cache off)", (long long)id);
	}
	r = req_for(net.id, 901, "other");
	CHECK(store_node_create(o, &r, &b) == 0 && store_sync(s) == 0 &&
	      node_mismatches(s, &b) == 0, "cache: another connection's join, after a sync");
	CHECK(store_node_rename(o, b.id, "renamed") == 0 && store_node_expire(o, b.id, T0 + 9) == 0 &&
	      store_node_seen(o, b.id, T0 + 8, "203.0.113.5:5") == 0 && store_sync(s) == 0 &&
	      store_node_get_name(s, net.id, "other", &got) == -ENOENT &&
	      store_node_get(o, b.id, &moved) == 0 && node_mismatches(s, &moved) == 0,
	      "cache: another connection's rename, expiry and endpoints, after a sync");
	CHECK(store_node_delete(o, b.id) == 0 && store_sync(s) == 0 && node_gone(s, &moved),
	      "cache: another connection's delete, after a sync");
	CHECK(store_sync(s) == 0 && node_mismatches(s, &a) == 0, "cache: a sync with nothing new");

	CHECK(store_node_seen(s, a.id, T0 + 7, "198.51.100.7:7") == 0 &&
	      store_node_get(o, a.id, &got) == 0 && node_mismatches(s, &got) == 0 &&
	      store_node_seen(s, a.id, T0 + 8, NULL) == 0 &&
	      store_node_get(o, a.id, &a) == 0 && node_mismatches(s, &a) == 0,
	      "cache: own endpoints and last seen, as written");

	store_begin(s);
	store_node_rename(s, a.id, "inside");
	store_node_seen(s, a.id, T0 + 20, "198.51.100.20:20");
	store_node_expire(s, a.id, T0 + 30);
	r = req_for(net.id, 902, "tx-node");
	store_node_create(s, &r, &c);
	CHECK(store_node_get_name(s, net.id, "inside", &got) == 0 && got.expires == T0 + 30 &&
	      store_node_get_key(s, r.public_key, &got) == 0,
	      "cache: a transaction sees its own changes");
	CHECK(store_rollback(s) == 0 && node_mismatches(s, &a) == 0 && node_gone(s, &c) &&
	      store_node_get_name(s, net.id, "inside", &got) == -ENOENT,
	      "cache: after a rollback, as before it");
	store_begin(s);
	CHECK(store_node_delete(s, a.id) == 0 && node_gone(s, &a), "cache: delete in a transaction");
	CHECK(store_rollback(s) == 0 && node_mismatches(s, &a) == 0, "cache: the delete rolled back");

	store_network_create(s, "many", NULL, NULL, T0, &net2);
	store_begin(s);
	for (int i = 0; i < 300; i++) {
		r = req_for(net2.id, 30000 + (uint32_t)i, "many");
		bad += store_node_create(s, &r, &many[i]) != 0;
	}
	store_rollback(s);
	for (int i = 0; i < 300; i++)
		left += !node_gone(s, &many[i]);
	CHECK(bad == 0 && left == 0, "cache: 300 joins rolled back (more than the journal "
	      "holds), %d still found", left);
	CHECK(store_sync(s) == 0 && node_mismatches(s, &a) == 0 &&
	      store_node_cached(s) == (cached ? (size_t)total : 0),
	      "cache: reloaded at the next sync, %zu node(s)", store_node_cached(s));

	CHECK(store_network_delete(s, "cache", true) == 0 && node_gone(s, &a),
	      "cache: a forced network delete takes its nodes");
	CHECK(store_sync(s) == 0 && node_gone(s, &a) &&
	      store_node_cached(s) == (cached ? (size_t)total - 1 : 0),
	      "cache: after the next sync, %zu node(s)", store_node_cached(s));
	store_close(o);
}

/* A newer schema and an unusable path are refused with a reason. */
static void test_open_refusals(void)
{
	struct store *s = NULL;
	char err[256] = "";
	sqlite3 *db;

	sqlite3_open(path, &db);
	sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
		     NULL, NULL, NULL);
	sqlite3_close(db);
	CHECK(store_open_err(&s, path, err, sizeof(err)) == -ENOTSUP && !s &&
	      strstr(err, "newer"), "newer schema refused: %s", err);
	CHECK(store_open_err(&s, "/nonexistent-weft/state.db", err, sizeof(err)) == -ENOENT &&
	      !s && strstr(err, "/nonexistent-weft/state.db"), "bad path: %s", err);
}

/* --- main ------------------------------------------------------------------------------ */

static void cleanup(void)
{
	const char *suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[128];

	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* Every test, against a new database, with the node cache off or on. */
static int suite(void)
{
	struct store_network robots;
	struct store_node got;
	struct store *s;
	const char *bn = getenv("WEFT_STORE_BENCH_N");
	char ula[64], ula2[64];

	printf("# node cache %s\n", cached ? "on" : "off");
	snprintf(dir, sizeof(dir), "/tmp/weft-store.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/state.db", dir);
	if (!(s = open_store()))
		return cleanup(), 1;
	test_open(s);
	test_networks(s);
	store_network_get(s, "robots", &robots);
	test_keys(s, robots.id);
	test_key_race(s, robots.id);
	test_nodes(s, robots.id);
	test_removed_keys(s, robots.id);
	test_small_network(s);
	test_network_delete(s);
	test_audit(s);
	test_rollback(s);
	test_thousand(s);
	test_concurrent_alloc(s);
	test_cache(s);
	store_meta_get(s, STORE_META_ULA, ula, sizeof(ula));
	store_close(s);
	test_migrate_v1();

	if (!(s = open_store()))
		return cleanup(), 1;
	CHECK(store_meta_get(s, STORE_META_ULA, ula2, sizeof(ula2)) == 0 && strcmp(ula, ula2) == 0,
	      "reopen: same ULA");
	CHECK(store_network_get(s, "robots", &robots) == 0 &&
	      store_node_get_name(s, robots.id, "robot", &got) == 0 &&
	      strcmp(got.ipv4, "100.64.0.2") == 0, "reopen: network and node persist");
	CHECK(count_rows("SELECT count(*) FROM audit") == 3, "reopen: audit persists");
	if (!bn || atoi(bn) > 0)
		bench(s, bn ? atoi(bn) : BENCH_DEFAULT);
	store_close(s);
	test_open_refusals();
	cleanup();
	return 0;
}

int main(void)
{
	cached = false;
	suite();
	cached = true;
	suite();
	return check_done();
}
