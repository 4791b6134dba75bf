/*
 * store — SQLite backend of store.h.
 *
 * Durability: WAL with synchronous=FULL.  In WAL mode NORMAL never corrupts
 * the database, but a commit acknowledged just before a power cut can be
 * lost; here a lost commit is a join whose address the node already uses,
 * which a later join could then receive again.  FULL syncs the WAL on every
 * commit, so whatever the server has answered survives.  Joins are rare
 * next to lookups (which the store does not do on the hot path), so the
 * fsync per commit is affordable.
 *
 * Every statement is prepared once (from store_sql[]) and kept; all values
 * are bound, never pasted into SQL.  Address allocation keeps a per-network
 * hint (lowest possibly free offset) so that a join costs O(1) probes rather
 * than a scan from the start of the prefix; a hint is only an optimisation,
 * the UNIQUE constraints and the probe inside the write transaction decide.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nodedir.h"

#define STORE_ERR_SIZE 256
#define STORE_HINTS    64

/* --- schema ---------------------------------------------------------------- */

/* store_migrations[v] takes the schema from version v to v + 1. */
static const char *const store_migrations[STORE_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE networks("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE,"
	" prefix4 TEXT, prefix6 TEXT,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE join_keys("
	" id TEXT PRIMARY KEY,"
	" network_id INTEGER NOT NULL REFERENCES networks(id),"
	" secret_hash BLOB NOT NULL CHECK(length(secret_hash) = 32),"
	" reusable INTEGER NOT NULL DEFAULT 0,"
	" ephemeral INTEGER NOT NULL DEFAULT 0,"
	" expires INTEGER NOT NULL DEFAULT 0,"
	" tags TEXT NOT NULL DEFAULT '',"
	" uses INTEGER NOT NULL DEFAULT 0,"
	" revoked INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX join_keys_network ON join_keys(network_id, id);"
	"CREATE TABLE nodes("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" network_id INTEGER NOT NULL REFERENCES networks(id),"
	" public_key BLOB NOT NULL UNIQUE CHECK(length(public_key) = 32),"
	" name TEXT NOT NULL,"
	" hostname TEXT NOT NULL DEFAULT '',"
	" ipv4 TEXT, ipv6 TEXT,"
	" tags TEXT NOT NULL DEFAULT '',"
	" ephemeral INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL DEFAULT 0,"
	" expires INTEGER NOT NULL DEFAULT 0,"
	" endpoints TEXT NOT NULL DEFAULT '',"
	" UNIQUE(network_id, name),"
	" UNIQUE(network_id, ipv4),"
	" UNIQUE(network_id, ipv6));"
	"CREATE INDEX nodes_network ON nodes(network_id, id);"
	"CREATE INDEX nodes_ephemeral ON nodes(last_seen) WHERE ephemeral = 1;"
	"CREATE TABLE audit("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time INTEGER NOT NULL,"
	" actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL,"
	" result TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX audit_time ON audit(time);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;",
	/* 1 -> 2: keys of nodes an administrator removed.  No foreign key:
	 * the record outlives the node and its network. */
	"CREATE TABLE removed_keys("
	" public_key BLOB PRIMARY KEY CHECK(length(public_key) = 32),"
	" name TEXT NOT NULL,"
	" network_id INTEGER NOT NULL,"
	" reason TEXT NOT NULL,"
	" removed INTEGER NOT NULL);",
	/* 2 -> 3: the ephemeral reaper pages through ephemeral nodes by id;
	 * without this it walks every node (11 ms at 100 000 nodes). */
	"CREATE INDEX IF NOT EXISTS nodes_ephemeral_id ON nodes(id) WHERE ephemeral = 1;",
};

#define STORE_TOUCHED 256

#define NET_COLS  "id, name, ifnull(prefix4, ''), ifnull(prefix6, ''), created"
#define KEY_COLS  "id, network_id, secret_hash, reusable, ephemeral, revoked, " \
		  "expires, uses, tags, created"
#define NODE_COLS "id, network_id, public_key, name, hostname, ifnull(ipv4, ''), " \
		  "ifnull(ipv6, ''), tags, ephemeral, created, last_seen, expires, endpoints"
#define AUDIT_COLS "id, time, actor, action, object, result, detail"
#define REMOVED_COLS "public_key, name, network_id, reason, removed"

enum store_st {
	ST_META_GET, ST_META_SET,
	ST_NET_INSERT, ST_NET_BY_NAME, ST_NET_BY_ID, ST_NET_LIST, ST_NET_PREFIXES,
	ST_NET_NODES, ST_NET_DEL_NODES, ST_NET_DEL_KEYS, ST_NET_DELETE,
	ST_KEY_INSERT, ST_KEY_GET, ST_KEY_LIST, ST_KEY_LIST_NET, ST_KEY_REVOKE,
	ST_KEY_USE,
	ST_NODE_INSERT, ST_NODE_BY_ID, ST_NODE_BY_KEY, ST_NODE_BY_NAME,
	ST_NODE_BY_IP4, ST_NODE_BY_IP6, ST_NODE_LIST, ST_NODE_LIST_NET,
	ST_NODE_STALE, ST_NODE_DELETE, ST_NODE_RENAME, ST_NODE_EXPIRE,
	ST_NODE_SEEN, ST_NODE_SEEN_EP, ST_NAME_TAKEN, ST_IP4_TAKEN, ST_IP6_TAKEN,
	ST_REMOVED_ADD, ST_REMOVED_GET,
	ST_AUDIT_APPEND, ST_AUDIT_LIST, ST_DATA_VERSION,
	ST_COUNT
};

static const char *const store_sql[ST_COUNT] = {
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
			" ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[ST_NET_INSERT] = "INSERT INTO networks(name, prefix4, prefix6, created)"
			  " VALUES(?1, nullif(?2, ''), nullif(?3, ''), ?4)",
	[ST_NET_BY_NAME] = "SELECT " NET_COLS " FROM networks WHERE name = ?1",
	[ST_NET_BY_ID] = "SELECT " NET_COLS " FROM networks WHERE id = ?1",
	[ST_NET_LIST] = "SELECT " NET_COLS " FROM networks WHERE id > ?1"
			" ORDER BY id LIMIT ?2",
	[ST_NET_PREFIXES] = "SELECT ifnull(prefix4, ''), ifnull(prefix6, '') FROM networks",
	[ST_NET_NODES] = "SELECT count(*) FROM nodes WHERE network_id = ?1",
	[ST_NET_DEL_NODES] = "DELETE FROM nodes WHERE network_id = ?1",
	[ST_NET_DEL_KEYS] = "DELETE FROM join_keys WHERE network_id = ?1",
	[ST_NET_DELETE] = "DELETE FROM networks WHERE id = ?1",
	[ST_KEY_INSERT] = "INSERT INTO join_keys(id, network_id, secret_hash, reusable,"
			  " ephemeral, expires, tags, created)"
			  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_KEY_GET] = "SELECT " KEY_COLS " FROM join_keys WHERE id = ?1",
	[ST_KEY_LIST] = "SELECT " KEY_COLS " FROM join_keys WHERE id > ?2"
			" ORDER BY id LIMIT ?3",
	[ST_KEY_LIST_NET] = "SELECT " KEY_COLS " FROM join_keys WHERE network_id = ?1"
			    " AND id > ?2 ORDER BY id LIMIT ?3",
	[ST_KEY_REVOKE] = "UPDATE join_keys SET revoked = 1 WHERE id = ?1",
	/* The rules again, in the UPDATE itself: the count is atomic. */
	[ST_KEY_USE] = "UPDATE join_keys SET uses = uses + 1 WHERE id = ?1"
		       " AND revoked = 0 AND (reusable = 1 OR uses = 0)"
		       " AND (expires = 0 OR expires > ?2)",
	[ST_NODE_INSERT] = "INSERT INTO nodes(network_id, public_key, name, hostname,"
			   " ipv4, ipv6, tags, ephemeral, created, last_seen, endpoints)"
			   " VALUES(?1, ?2, ?3, ?4, nullif(?5, ''), nullif(?6, ''),"
			   " ?7, ?8, ?9, ?9, ?10)",
	[ST_NODE_BY_ID] = "SELECT " NODE_COLS " FROM nodes WHERE id = ?1",
	[ST_NODE_BY_KEY] = "SELECT " NODE_COLS " FROM nodes WHERE public_key = ?1",
	[ST_NODE_BY_NAME] = "SELECT " NODE_COLS " FROM nodes"
			    " WHERE network_id = ?1 AND name = ?2",
	[ST_NODE_BY_IP4] = "SELECT " NODE_COLS " FROM nodes"
			   " WHERE network_id = ?1 AND ipv4 = ?2",
	[ST_NODE_BY_IP6] = "SELECT " NODE_COLS " FROM nodes"
			   " WHERE network_id = ?1 AND ipv6 = ?2",
	[ST_NODE_LIST] = "SELECT " NODE_COLS " FROM nodes WHERE id > ?2"
			 " ORDER BY id LIMIT ?3",
	[ST_NODE_LIST_NET] = "SELECT " NODE_COLS " FROM nodes WHERE network_id = ?1"
			     " AND id > ?2 ORDER BY id LIMIT ?3",
	[ST_NODE_STALE] = "SELECT " NODE_COLS " FROM nodes WHERE ephemeral = 1"
			  " AND last_seen < ?1 AND id > ?2 ORDER BY id LIMIT ?3",
	[ST_NODE_DELETE] = "DELETE FROM nodes WHERE id = ?1",
	[ST_NODE_RENAME] = "UPDATE nodes SET name = ?2 WHERE id = ?1",
	[ST_NODE_EXPIRE] = "UPDATE nodes SET expires = ?2 WHERE id = ?1",
	[ST_NODE_SEEN] = "UPDATE nodes SET last_seen = ?2 WHERE id = ?1",
	[ST_NODE_SEEN_EP] = "UPDATE nodes SET last_seen = ?2, endpoints = ?3 WHERE id = ?1",
	[ST_NAME_TAKEN] = "SELECT 1 FROM nodes WHERE network_id = ?1 AND name = ?2",
	[ST_IP4_TAKEN] = "SELECT 1 FROM nodes WHERE network_id = ?1 AND ipv4 = ?2",
	[ST_IP6_TAKEN] = "SELECT 1 FROM nodes WHERE network_id = ?1 AND ipv6 = ?2",
	/* Removed again (expired, then deleted): the latest reason wins. */
	[ST_REMOVED_ADD] = "INSERT INTO removed_keys(" REMOVED_COLS ")"
			   " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(public_key) DO UPDATE"
			   " SET name = excluded.name, network_id = excluded.network_id,"
			   " reason = excluded.reason, removed = excluded.removed",
	[ST_REMOVED_GET] = "SELECT " REMOVED_COLS " FROM removed_keys WHERE public_key = ?1",
	[ST_AUDIT_APPEND] = "INSERT INTO audit(time, actor, action, object, result, detail)"
			    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM audit WHERE time >= ?1 AND id > ?2"
			  " ORDER BY id LIMIT ?3",
	/* Changes when another connection commits (not for our own). */
	[ST_DATA_VERSION] = "PRAGMA data_version",
};

/* Lowest possibly free host offset per network and family. */
struct store_hint {
	int64_t network_id;		/* 0 = empty slot */
	uint64_t next[2];		/* [0] IPv4, [1] IPv6 */
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	char err[STORE_ERR_SIZE];
	struct store_hint hints[STORE_HINTS];
	unsigned hint_victim;
	/* The node cache (store_node_cache): NULL when off.  Stale: it may
	 * miss a change, so reads go to SQLite until store_sync reloads it. */
	struct nodedir *dir;
	bool dir_stale;
	int64_t data_version;
	/* Nodes the cache changed inside the open transaction: a rollback
	 * reads them again. */
	int64_t touched[STORE_TOUCHED];
	size_t n_touched;
	bool touched_over;
};

/* --- errors and statements -------------------------------------------------- */

static int store_fail(struct store *s, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* Maps a SQLite result to -errno, keeping SQLite's text as the message. */
static int store_rc(struct store *s, int rc)
{
	int e;

	switch (rc) {
	case SQLITE_OK: case SQLITE_ROW: case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT_UNIQUE: case SQLITE_CONSTRAINT_PRIMARYKEY:
		e = -EEXIST;
		break;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		e = -ENOENT;
		break;
	default:
		e = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? -EBUSY : -EIO;
	}
	return store_fail(s, e, "database: %s", sqlite3_errmsg(s->db));
}

/* The prepared statement for id, reset and unbound; NULL on error. */
static sqlite3_stmt *store_stmt(struct store *s, enum store_st id)
{
	int rc;

	if (s->st[id])
		return s->st[id];
	rc = sqlite3_prepare_v3(s->db, store_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				&s->st[id], NULL);
	if (rc != SQLITE_OK) {
		store_rc(s, rc);
		s->st[id] = NULL;
	}
	return s->st[id];
}

static void store_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Steps st once: 1 row, 0 done (st reset), <0 error (st reset). */
static int store_step(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	rc = rc == SQLITE_DONE ? 0 : sqlite3_extended_errcode(s->db);
	store_done(st);
	return rc ? store_rc(s, rc) : 0;
}

/* Runs a statement that returns no rows; 0 or <0. */
static int store_run(struct store *s, sqlite3_stmt *st)
{
	int rc = store_step(s, st);

	if (rc == 1) {
		store_done(st);
		rc = 0;
	}
	return rc;
}

/* Runs a row-less statement that must change one row: 0, -ENOENT or <0. */
static int store_run_one(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = store_run(s, st);

	if (rc == 0 && sqlite3_changes(s->db) != 1)
		rc = store_fail(s, -ENOENT, "no such %s", what);
	return rc;
}

/* Ends a row loop that stopped early (rc 1) or ran out (rc 0, already reset). */
static int store_rows_end(sqlite3_stmt *st, int rc)
{
	if (rc == 1)
		store_done(st);
	return rc == 1 ? 0 : rc;
}

static int store_exec(struct store *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		rc = sqlite3_extended_errcode(s->db);
		rc = store_rc(s, rc ? rc : SQLITE_ERROR);
		if (msg)
			store_fail(s, rc, "database: %s", msg);
	}
	sqlite3_free(msg);
	return rc;
}

static void store_bind_text(sqlite3_stmt *st, int i, const char *t)
{
	sqlite3_bind_text(st, i, t ? t : "", -1, SQLITE_STATIC);
}

static void store_col_text(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, size, "%s", t ? (const char *)t : "");
}

static void store_col_blob(sqlite3_stmt *st, int i, uint8_t *out, size_t len)
{
	const void *b = sqlite3_column_blob(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);

	memset(out, 0, len);
	if (b)
		memcpy(out, b, n < len ? n : len);
}

/* --- hints ---------------------------------------------------------------- */

static struct store_hint *store_hint(struct store *s, int64_t network_id, bool add)
{
	struct store_hint *h;

	for (unsigned i = 0; i < STORE_HINTS; i++)
		if (s->hints[i].network_id == network_id)
			return &s->hints[i];
	if (!add)
		return NULL;
	h = &s->hints[s->hint_victim++ % STORE_HINTS];
	memset(h, 0, sizeof(*h));
	h->network_id = network_id;
	return h;
}

static void store_hints_clear(struct store *s)
{
	memset(s->hints, 0, sizeof(s->hints));
}

/* A freed host at offset o: the next scan must start no later than o. */
static void store_hint_lower(struct store *s, int64_t network_id, int fam, uint64_t o)
{
	struct store_hint *h = store_hint(s, network_id, false);

	if (h && h->next[fam] > o)
		h->next[fam] = o;
}

/* --- transactions --------------------------------------------------------- */

static void store_dir_undone(struct store *s);

int store_begin(struct store *s)
{
	return store_exec(s, "BEGIN IMMEDIATE");
}

int store_commit(struct store *s)
{
	int rc = store_exec(s, "COMMIT");

	if (!rc) {
		s->n_touched = 0;
		s->touched_over = false;
		return 0;
	}
	/* A failed COMMIT (SQLITE_BUSY, say) may leave the transaction
	 * open: end it, so that nothing stays half done and the caller is
	 * not left inside it.  The COMMIT's error is the one kept. */
	store_hints_clear(s);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	store_dir_undone(s);
	return rc;
}

int store_rollback(struct store *s)
{
	int rc;

	store_hints_clear(s);
	if (sqlite3_get_autocommit(s->db))
		return 0;	/* none open: a failed commit ended it */
	rc = store_exec(s, "ROLLBACK");
	store_dir_undone(s);
	return rc;
}

/* Starts an operation's own transaction, or a savepoint inside the
 * caller's; *outer says which. */
static int store_op_begin(struct store *s, bool *outer)
{
	*outer = sqlite3_get_autocommit(s->db) != 0;
	return store_exec(s, *outer ? "BEGIN IMMEDIATE" : "SAVEPOINT store_op");
}

/* Ends an operation: commits when rc is 0, else undoes it and keeps the
 * first error's message.  Returns the final code. */
static int store_op_end(struct store *s, bool outer, int rc)
{
	if (rc == 0)
		rc = store_exec(s, outer ? "COMMIT" : "RELEASE store_op");
	if (rc == 0)
		return 0;
	store_hints_clear(s);
	sqlite3_exec(s->db, outer ? "ROLLBACK" :
		     "ROLLBACK TO store_op; RELEASE store_op", NULL, NULL, NULL);
	store_dir_undone(s);
	return rc;
}

/* --- open, migrate, close --------------------------------------------------- */

static int store_version_read(struct store *s, int *version)
{
	sqlite3_stmt *st;
	char v[16] = "0";
	int rc;

	rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master"
				" WHERE type = 'table' AND name = 'meta'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_rc(s, rc);
	rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (rc < 0)
		return store_rc(s, sqlite3_extended_errcode(s->db));
	if (rc == 1 && (rc = store_meta_get(s, "schema_version", v, sizeof(v))) < 0)
		return rc;
	*version = atoi(v);
	return 0;
}

int store_schema_version(struct store *s, int *version)
{
	return store_version_read(s, version);
}

/* A new database's ULA /48 (RFC 4193 §3.2.1, 40 random bits). */
static int store_ula_init(struct store *s)
{
	uint8_t rnd[5];
	struct ipam_prefix p;
	char text[IPAM_PREFIX_STRLEN];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return store_fail(s, -EIO, "getrandom: %s", strerror(errno));
	ipam_ula_from_random(rnd, &p);
	ipam_prefix_format(&p, text);
	return store_meta_set(s, STORE_META_ULA, text);
}

static int store_migrate_from(struct store *s, int v)
{
	char text[16];
	int rc = 0;

	if (v > STORE_SCHEMA_VERSION)
		return store_fail(s, -ENOTSUP, "database schema version %d is newer "
				  "than this program's (%d); upgrade weft-server",
				  v, STORE_SCHEMA_VERSION);
	for (int i = v; i < STORE_SCHEMA_VERSION && rc == 0; i++)
		rc = store_exec(s, store_migrations[i]);
	if (rc == 0 && v == 0)
		rc = store_ula_init(s);
	if (rc == 0 && v != STORE_SCHEMA_VERSION) {
		snprintf(text, sizeof(text), "%d", STORE_SCHEMA_VERSION);
		rc = store_meta_set(s, "schema_version", text);
	}
	return rc;
}

/* Brings the schema up to date in one write transaction, so two processes
 * opening a new database at once migrate it once. */
static int store_migrate(struct store *s)
{
	int rc, v = 0;

	if ((rc = store_exec(s, "BEGIN IMMEDIATE")))
		return rc;
	rc = store_version_read(s, &v);
	if (rc == 0)
		rc = store_migrate_from(s, v);
	if (rc == 0)
		return store_exec(s, "COMMIT");
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int store_pragmas(struct store *s)
{
	sqlite3_stmt *st;
	int rc, wal;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_rc(s, rc);
	rc = sqlite3_step(st);
	wal = rc == SQLITE_ROW &&
	      sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (!wal)
		return rc == SQLITE_ROW ? store_fail(s, -EIO, "database: cannot use WAL mode")
					: store_rc(s, sqlite3_extended_errcode(s->db));
	/* synchronous: see the top of the file.  A 32 MiB page cache holds
	 * the indexes of ~100 000 nodes; temp_store=MEMORY keeps the
	 * savepoint sub-journals off disk (2.5x faster joins in bulk). */
	return store_exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
			  " PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY");
}

/* Creates the file owner-only before SQLite does (its -wal and -shm files
 * copy the mode). */
static int store_create_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int store_connect(struct store *s, const char *path)
{
	int rc = store_create_file(path);

	if (rc)
		return store_fail(s, rc, "%s: %s", path, strerror(-rc));
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, -EIO, "%s: %s", path,
				  s->db ? sqlite3_errmsg(s->db) : "cannot open");
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if ((rc = store_pragmas(s)) == 0)
		rc = store_migrate(s);
	return rc;
}

int store_open_err(struct store **out, const char *path, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s) {
		if (err)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = store_connect(s, path);
	if (rc) {
		if (err)
			snprintf(err, errlen, "%s", s->err);
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

int store_open(struct store **out, const char *path)
{
	return store_open_err(out, path, NULL, 0);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	nodedir_free(s->dir);
	free(s);
}

const char *store_errmsg(const struct store *s)
{
	return s ? s->err : "out of memory";
}

/* --- meta ------------------------------------------------------------------ */

int store_meta_get(struct store *s, const char *key, char *out, size_t size)
{
	sqlite3_stmt *st = store_stmt(s, ST_META_GET);
	int rc;

	if (!st)
		return -EIO;
	store_bind_text(st, 1, key);
	if ((rc = store_step(s, st)) <= 0)
		return rc ? rc : store_fail(s, -ENOENT, "no meta value \"%s\"", key);
	rc = 0;
	if ((size_t)sqlite3_column_bytes(st, 0) >= size)
		rc = store_fail(s, -ERANGE, "meta value \"%s\" is too long", key);
	else
		store_col_text(st, 0, out, size);
	store_done(st);
	return rc;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = store_stmt(s, ST_META_SET);

	if (!st)
		return -EIO;
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, value);
	return store_run(s, st);
}

/* --- networks --------------------------------------------------------------- */

static void store_net_row(sqlite3_stmt *st, struct store_network *n)
{
	n->id = sqlite3_column_int64(st, 0);
	store_col_text(st, 1, n->name, sizeof(n->name));
	store_col_text(st, 2, n->prefix4, sizeof(n->prefix4));
	store_col_text(st, 3, n->prefix6, sizeof(n->prefix6));
	n->created = sqlite3_column_int64(st, 4);
}

/* Runs a one-row network query already bound. */
static int store_net_one(struct store *s, sqlite3_stmt *st, struct store_network *out)
{
	int rc = store_step(s, st);

	if (rc <= 0)
		return rc ? rc : store_fail(s, -ENOENT, "no such network");
	store_net_row(st, out);
	store_done(st);
	return 0;
}

int store_network_get(struct store *s, const char *name, struct store_network *out)
{
	sqlite3_stmt *st = store_stmt(s, ST_NET_BY_NAME);
	int rc;

	if (!st)
		return -EIO;
	store_bind_text(st, 1, name);
	rc = store_net_one(s, st, out);
	if (rc == -ENOENT)
		store_fail(s, rc, "no network named \"%.64s\"", name);
	return rc;
}

int store_network_get_id(struct store *s, int64_t id, struct store_network *out)
{
	sqlite3_stmt *st = store_stmt(s, ST_NET_BY_ID);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return store_net_one(s, st, out);
}

int store_network_list(struct store *s, int64_t after, struct store_network *out,
		       size_t max, size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, ST_NET_LIST);
	int rc = 0;

	*n = 0;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (*n < max && (rc = store_step(s, st)) == 1)
		store_net_row(st, &out[(*n)++]);
	return store_rows_end(st, rc);
}

static int store_grow(struct ipam_prefix **u, size_t *cap, size_t need)
{
	struct ipam_prefix *g;
	size_t c = *cap * 2 + 16;

	if (need <= *cap)
		return 0;
	if (!(g = realloc(*u, c * sizeof(*g))))
		return -ENOMEM;
	*u = g;
	*cap = c;
	return 0;
}

/* Every prefix in use by a network, parsed; caller frees *used (also on
 * error). */
static int store_net_used(struct store *s, struct ipam_prefix **used, size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, ST_NET_PREFIXES);
	char text[STORE_PREFIX_SIZE];
	size_t cap = 0;
	int rc;

	*n = 0;
	*used = NULL;
	if (!st)
		return -EIO;
	while ((rc = store_step(s, st)) == 1) {
		if (store_grow(used, &cap, *n + 2)) {
			store_done(st);
			return store_fail(s, -ENOMEM, "out of memory");
		}
		for (int i = 0; i < 2; i++) {
			store_col_text(st, i, text, sizeof(text));
			if (text[0] && ipam_prefix_parse(text, &(*used)[*n], NULL) == 0)
				(*n)++;
		}
	}
	return rc;
}

/* Resolves one prefix argument to canonical text ("" = none): NULL picks
 * the default, anything else must parse and suit a network. */
static int store_net_prefix(struct store *s, const char *arg, int family,
			    const struct ipam_prefix *used, size_t n,
			    char out[STORE_PREFIX_SIZE])
{
	struct ipam_prefix p, ula;
	char err[IPAM_ERR_SIZE], text[STORE_PREFIX_SIZE];
	int rc;

	out[0] = '\0';
	if (arg && !arg[0])
		return 0;
	if (arg) {
		if (ipam_prefix_parse(arg, &p, err) || ipam_prefix_check_network(&p, err))
			return store_fail(s, -EINVAL, "%s", err);
		ipam_prefix_format(&p, out);
		if (p.family != family)
			return store_fail(s, -EINVAL, "%s is not an %s prefix", out,
					  family == AF_INET ? "IPv4" : "IPv6");
		return 0;
	}
	if (family == AF_INET) {
		if (ipam_default_prefix4(used, n, &p))
			return store_fail(s, -ENOSPC, "no free /16 left in %s; "
					  "give an IPv4 prefix", IPAM_POOL4);
	} else {
		if ((rc = store_meta_get(s, STORE_META_ULA, text, sizeof(text))))
			return rc;
		if (ipam_prefix_parse(text, &ula, NULL) ||
		    ipam_default_prefix6(&ula, used, n, &p))
			return store_fail(s, -ENOSPC, "no free /64 left in %s; "
					  "give an IPv6 prefix", text);
	}
	ipam_prefix_format(&p, out);
	return 0;
}

static int store_net_insert(struct store *s, const char *name, const char *p4,
			    const char *p6, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, ST_NET_INSERT);
	int rc;

	if (!st)
		return -EIO;
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, p4);
	store_bind_text(st, 3, p6);
	sqlite3_bind_int64(st, 4, now);
	rc = store_run(s, st);
	if (rc == -EEXIST)
		store_fail(s, rc, "network \"%s\" already exists", name);
	return rc;
}

int store_network_create(struct store *s, const char *name, const char *prefix4,
			 const char *prefix6, int64_t now, struct store_network *out)
{
	char err[IPAM_ERR_SIZE], p4[STORE_PREFIX_SIZE], p6[STORE_PREFIX_SIZE];
	struct store_network local;
	struct ipam_prefix *used = NULL;
	size_t n = 0;
	bool outer;
	int rc;

	if (ipam_name_check(name, "network name", err))
		return store_fail(s, -EINVAL, "%s", err);
	if ((rc = store_op_begin(s, &outer)))
		return rc;
	rc = store_net_used(s, &used, &n);
	if (rc == 0)
		rc = store_net_prefix(s, prefix4, AF_INET, used, n, p4);
	if (rc == 0)
		rc = store_net_prefix(s, prefix6, AF_INET6, used, n, p6);
	free(used);
	if (rc == 0 && !p4[0] && !p6[0])
		rc = store_fail(s, -EINVAL, "network \"%s\" needs at least one prefix", name);
	if (rc == 0)
		rc = store_net_insert(s, name, p4, p6, now);
	if (rc == 0)
		rc = store_network_get(s, name, out ? out : &local);
	return store_op_end(s, outer, rc);
}

static int store_net_id_run(struct store *s, enum store_st id, int64_t net)
{
	sqlite3_stmt *st = store_stmt(s, id);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, net);
	return store_run(s, st);
}

static int store_net_count(struct store *s, int64_t net, int64_t *count)
{
	sqlite3_stmt *st = store_stmt(s, ST_NET_NODES);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, net);
	if ((rc = store_step(s, st)) < 0)
		return rc;
	*count = rc ? sqlite3_column_int64(st, 0) : 0;
	store_done(st);
	return 0;
}

int store_network_delete(struct store *s, const char *name, bool force)
{
	struct store_network net;
	struct store_hint *h;
	int64_t count = 0;
	bool outer;
	int rc;

	if ((rc = store_op_begin(s, &outer)))
		return rc;
	rc = store_network_get(s, name, &net);
	if (rc == 0)
		rc = store_net_count(s, net.id, &count);
	if (rc == 0 && count > 0 && !force)
		rc = store_fail(s, -ENOTEMPTY, "network \"%s\" still has %lld node(s); "
				"delete them first or force the delete", name, (long long)count);
	if (rc == 0)
		rc = store_net_id_run(s, ST_NET_DEL_NODES, net.id);
	if (rc == 0)
		rc = store_net_id_run(s, ST_NET_DEL_KEYS, net.id);
	if (rc == 0)
		rc = store_net_id_run(s, ST_NET_DELETE, net.id);
	rc = store_op_end(s, outer, rc);
	if (rc == 0 && (h = store_hint(s, net.id, false)))
		h->network_id = 0;
	/* Its nodes went with it: the cache is read again at the next sync. */
	if (rc == 0 && count > 0 && s->dir)
		s->dir_stale = true;
	return rc;
}

/* --- join keys ----------------------------------------------------------------- */

static bool store_key_id_valid(const char *id)
{
	size_t n = strlen(id);

	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return n == STORE_KEYID_SIZE - 1;
}

static void store_key_row(sqlite3_stmt *st, struct store_key *k)
{
	store_col_text(st, 0, k->id, sizeof(k->id));
	k->network_id = sqlite3_column_int64(st, 1);
	store_col_blob(st, 2, k->secret_hash, sizeof(k->secret_hash));
	k->reusable = sqlite3_column_int(st, 3) != 0;
	k->ephemeral = sqlite3_column_int(st, 4) != 0;
	k->revoked = sqlite3_column_int(st, 5) != 0;
	k->expires = sqlite3_column_int64(st, 6);
	k->uses = (uint64_t)sqlite3_column_int64(st, 7);
	store_col_text(st, 8, k->tags, sizeof(k->tags));
	k->created = sqlite3_column_int64(st, 9);
}

/* Binds text, cut to what a result field of size can hold. */
static void store_bind_field(sqlite3_stmt *st, int i, const char *t, size_t size)
{
	t = t ? t : "";
	sqlite3_bind_text(st, i, t, (int)strnlen(t, size - 1), SQLITE_STATIC);
}

int store_key_create(struct store *s, const struct store_key *k)
{
	sqlite3_stmt *st;
	int rc;

	if (!store_key_id_valid(k->id))
		return store_fail(s, -EINVAL, "join key id must be 16 lowercase hex digits");
	if (!(st = store_stmt(s, ST_KEY_INSERT)))
		return -EIO;
	store_bind_text(st, 1, k->id);
	sqlite3_bind_int64(st, 2, k->network_id);
	sqlite3_bind_blob(st, 3, k->secret_hash, sizeof(k->secret_hash), SQLITE_STATIC);
	sqlite3_bind_int(st, 4, k->reusable);
	sqlite3_bind_int(st, 5, k->ephemeral);
	sqlite3_bind_int64(st, 6, k->expires);
	store_bind_field(st, 7, k->tags, sizeof(k->tags));
	sqlite3_bind_int64(st, 8, k->created);
	rc = store_run(s, st);
	if (rc == -EEXIST)
		store_fail(s, rc, "join key %s already exists", k->id);
	else if (rc == -ENOENT)
		store_fail(s, rc, "no network with id %lld", (long long)k->network_id);
	return rc;
}

int store_key_get(struct store *s, const char *id, struct store_key *out)
{
	sqlite3_stmt *st = store_stmt(s, ST_KEY_GET);
	int rc;

	if (!st)
		return -EIO;
	store_bind_text(st, 1, id);
	if ((rc = store_step(s, st)) <= 0)
		return rc ? rc : store_fail(s, -ENOENT, "no join key \"%.32s\"", id);
	store_key_row(st, out);
	store_done(st);
	return 0;
}

int store_key_list(struct store *s, int64_t network_id, const char *after,
		   struct store_key *out, size_t max, size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, network_id ? ST_KEY_LIST_NET : ST_KEY_LIST);
	int rc = 0;

	*n = 0;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, network_id);
	store_bind_text(st, 2, after);
	sqlite3_bind_int64(st, 3, (int64_t)max);
	while (*n < max && (rc = store_step(s, st)) == 1)
		store_key_row(st, &out[(*n)++]);
	return store_rows_end(st, rc);
}

int store_key_revoke(struct store *s, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, ST_KEY_REVOKE);

	if (!st)
		return -EIO;
	store_bind_text(st, 1, id);
	return store_run_one(s, st, "join key");
}

/* Join secrets' hashes are compared in constant time. */
static bool store_hash_equal(const uint8_t *a, const uint8_t *b)
{
	volatile uint8_t d = 0;

	for (size_t i = 0; i < 32; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static int store_key_count(struct store *s, const char *id, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, ST_KEY_USE);
	int rc;

	if (!st)
		return -EIO;
	store_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	if ((rc = store_run(s, st)) == 0 && sqlite3_changes(s->db) != 1)
		rc = 1;		/* the rules refused it after all */
	return rc;
}

/* Checks and counts one use inside the operation's transaction. */
static int store_key_use_tx(struct store *s, const char *id, const uint8_t *hash,
			    int64_t now, struct store_key *k,
			    enum ipam_key_verdict *v)
{
	struct ipam_key_rule r;
	int rc;

	if ((rc = store_key_get(s, id, k)))
		return rc;
	if (hash && !store_hash_equal(hash, k->secret_hash))
		return store_fail(s, -ENOENT, "no join key \"%.32s\"", id);
	r = (struct ipam_key_rule){ k->reusable, k->ephemeral, k->revoked,
				    k->expires, k->uses };
	if ((*v = ipam_key_check(&r, now)) == IPAM_KEY_OK &&
	    (rc = store_key_count(s, id, now)) == 1)
		*v = IPAM_KEY_USED;
	if (rc < 0)
		return rc;
	if (*v != IPAM_KEY_OK)
		return store_fail(s, -EACCES, "%s", ipam_key_message(*v));
	k->uses++;
	return 0;
}

int store_key_use(struct store *s, const char *id, const uint8_t *secret_hash,
		  int64_t now, struct store_key *out, enum ipam_key_verdict *verdict)
{
	enum ipam_key_verdict v = IPAM_KEY_OK;
	struct store_key local;
	bool outer;
	int rc;

	if ((rc = store_op_begin(s, &outer)))
		return rc;
	rc = store_key_use_tx(s, id, secret_hash, now, out ? out : &local, &v);
	if (verdict)
		*verdict = v;
	explicit_bzero(&local, sizeof(local));
	return store_op_end(s, outer, rc);
}

/* --- nodes ----------------------------------------------------------------- */

static void store_node_row(sqlite3_stmt *st, struct store_node *n)
{
	n->id = sqlite3_column_int64(st, 0);
	n->network_id = sqlite3_column_int64(st, 1);
	store_col_blob(st, 2, n->public_key, sizeof(n->public_key));
	store_col_text(st, 3, n->name, sizeof(n->name));
	store_col_text(st, 4, n->hostname, sizeof(n->hostname));
	store_col_text(st, 5, n->ipv4, sizeof(n->ipv4));
	store_col_text(st, 6, n->ipv6, sizeof(n->ipv6));
	store_col_text(st, 7, n->tags, sizeof(n->tags));
	n->ephemeral = sqlite3_column_int(st, 8) != 0;
	n->created = sqlite3_column_int64(st, 9);
	n->last_seen = sqlite3_column_int64(st, 10);
	n->expires = sqlite3_column_int64(st, 11);
	store_col_text(st, 12, n->endpoints, sizeof(n->endpoints));
}

/* Runs a one-row node query already bound. */
static int store_node_one(struct store *s, sqlite3_stmt *st, struct store_node *out)
{
	int rc = store_step(s, st);

	if (rc <= 0)
		return rc ? rc : store_fail(s, -ENOENT, "no such node");
	store_node_row(st, out);
	store_done(st);
	return 0;
}

static int store_node_rows(struct store *s, sqlite3_stmt *st,
			   struct store_node *out, size_t max, size_t *n)
{
	int rc = 0;

	while (*n < max && (rc = store_step(s, st)) == 1)
		store_node_row(st, &out[(*n)++]);
	return store_rows_end(st, rc);
}

static int store_node_get_sql(struct store *s, int64_t id, struct store_node *out)
{
	sqlite3_stmt *st = store_stmt(s, ST_NODE_BY_ID);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return store_node_one(s, st, out);
}

/* --- the node cache --------------------------------------------------------- */

#define STORE_LOAD_PAGE 256

static bool store_dir_on(const struct store *s)
{
	return s->dir && !s->dir_stale;
}

/* A cache answer: 0, or -ENOENT as the query would say it. */
static int store_dir_answer(struct store *s, bool found)
{
	return found ? 0 : store_fail(s, -ENOENT, "no such node");
}

static int store_data_version(struct store *s, int64_t *v)
{
	sqlite3_stmt *st = store_stmt(s, ST_DATA_VERSION);
	int rc;

	if (!st)
		return -EIO;
	if ((rc = store_step(s, st)) <= 0)
		return rc ? rc : store_fail(s, -EIO, "database: no data_version");
	*v = sqlite3_column_int64(st, 0);
	store_done(st);
	return 0;
}

/* Fills the cache with every node, and the data version that goes with
 * them (one read transaction).  Outside transactions only. */
static int store_dir_load(struct store *s)
{
	struct store_node *page = malloc(STORE_LOAD_PAGE * sizeof(*page));
	int64_t after = 0, v = 0;
	size_t n = STORE_LOAD_PAGE;
	int rc;

	if (!page)
		return store_fail(s, -ENOMEM, "out of memory for the node cache");
	nodedir_clear(s->dir);
	s->dir_stale = true;
	s->n_touched = 0;
	s->touched_over = false;
	rc = store_exec(s, "BEGIN");
	if (!rc)
		rc = store_data_version(s, &v);
	while (!rc && n == STORE_LOAD_PAGE) {
		rc = store_node_list(s, 0, after, page, STORE_LOAD_PAGE, &n);
		for (size_t i = 0; !rc && i < n; i++)
			if (nodedir_put(s->dir, &page[i]))
				rc = store_fail(s, -ENOMEM, "out of memory for the node cache");
		if (n)
			after = page[n - 1].id;
	}
	if (rc)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	else
		rc = store_exec(s, "COMMIT");
	free(page);
	if (rc) {
		nodedir_clear(s->dir);
		return rc;
	}
	s->data_version = v;
	s->dir_stale = false;
	return 0;
}

int store_node_cache(struct store *s, bool on)
{
	int rc;

	if (!on) {
		nodedir_free(s->dir);
		s->dir = NULL;
		return 0;
	}
	if (s->dir)
		return 0;
	if (!sqlite3_get_autocommit(s->db))
		return store_fail(s, -EBUSY, "the node cache cannot start inside a transaction");
	if (!(s->dir = nodedir_new()))
		return store_fail(s, -ENOMEM, "out of memory for the node cache");
	if ((rc = store_dir_load(s))) {
		nodedir_free(s->dir);
		s->dir = NULL;
	}
	return rc;
}

size_t store_node_cached(const struct store *s)
{
	return store_dir_on(s) ? nodedir_count(s->dir) : 0;
}

int store_sync(struct store *s)
{
	int64_t v;
	int rc;

	if (!s->dir || !sqlite3_get_autocommit(s->db))
		return 0;
	if (!s->dir_stale) {
		if ((rc = store_data_version(s, &v)))
			return rc;
		if (v == s->data_version)
			return 0;
	}
	return store_dir_load(s);
}

/* The cache changed node id inside a transaction: remember it. */
static void store_dir_touch(struct store *s, int64_t id)
{
	if (sqlite3_get_autocommit(s->db))
		return;
	if (s->n_touched < STORE_TOUCHED)
		s->touched[s->n_touched++] = id;
	else
		s->touched_over = true;
}

static void store_dir_put(struct store *s, const struct store_node *n)
{
	if (!store_dir_on(s))
		return;
	if (nodedir_put(s->dir, n))
		s->dir_stale = true;
	store_dir_touch(s, n->id);
}

/* Node id as the database has it now, into the cache. */
static void store_dir_reread(struct store *s, int64_t id)
{
	struct store_node n;
	int rc;

	if (!store_dir_on(s))
		return;
	rc = store_node_get_sql(s, id, &n);
	if (rc == 0)
		store_dir_put(s, &n);
	else if (rc == -ENOENT) {
		nodedir_del(s->dir, id);
		store_dir_touch(s, id);
	} else
		s->dir_stale = true;
}

/* A rollback (whole, or to a savepoint) undid changes: what the cache
 * changed since the transaction began is read again.  The error message
 * of whatever failed stays the store's. */
static void store_dir_undone(struct store *s)
{
	char err[STORE_ERR_SIZE];
	int64_t ids[STORE_TOUCHED];
	size_t n = s->n_touched;
	bool over = s->touched_over;

	if (!s->dir)
		return;
	memcpy(err, s->err, sizeof(err));
	memcpy(ids, s->touched, n * sizeof(ids[0]));
	s->n_touched = 0;
	s->touched_over = false;
	if (over)
		s->dir_stale = true;
	for (size_t i = 0; i < n; i++) {
		int64_t id = ids[i];
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = ids[k] == id;
		if (!seen)
			store_dir_reread(s, id);
	}
	if (sqlite3_get_autocommit(s->db))
		s->n_touched = 0, s->touched_over = false;
	memcpy(s->err, err, sizeof(err));
}

int64_t store_node_prefetch_addr(struct store *s, int64_t network_id, int family,
				 const uint8_t addr[16], int stage)
{
	if (!store_dir_on(s) || (family != AF_INET && family != AF_INET6))
		return 0;
	return nodedir_prefetch_addr(s->dir, network_id, family, addr, stage);
}

int64_t store_node_prefetch_name(struct store *s, int64_t network_id,
				 const char *name, int stage)
{
	return store_dir_on(s) ? nodedir_prefetch_name(s->dir, network_id, name, stage) : 0;
}

int store_node_get(struct store *s, int64_t id, struct store_node *out)
{
	if (store_dir_on(s))
		return store_dir_answer(s, nodedir_get_id(s->dir, id, out));
	return store_node_get_sql(s, id, out);
}

int store_node_get_key(struct store *s, const uint8_t public_key[32],
		       struct store_node *out)
{
	sqlite3_stmt *st;

	if (store_dir_on(s))
		return store_dir_answer(s, nodedir_get_key(s->dir, public_key, out));
	if (!(st = store_stmt(s, ST_NODE_BY_KEY)))
		return -EIO;
	sqlite3_bind_blob(st, 1, public_key, 32, SQLITE_STATIC);
	return store_node_one(s, st, out);
}

int store_node_get_name(struct store *s, int64_t network_id, const char *name,
			struct store_node *out)
{
	sqlite3_stmt *st;

	if (store_dir_on(s))
		return store_dir_answer(s, nodedir_get_name(s->dir, network_id, name, out));
	if (!(st = store_stmt(s, ST_NODE_BY_NAME)))
		return -EIO;
	sqlite3_bind_int64(st, 1, network_id);
	store_bind_text(st, 2, name);
	return store_node_one(s, st, out);
}

int store_node_get_addr(struct store *s, int64_t network_id, const char *addr,
			struct store_node *out)
{
	char text[STORE_ADDR_SIZE];
	uint8_t a[16];
	sqlite3_stmt *st;
	int family;

	if (ipam_addr_parse(addr, &family, a))
		return store_fail(s, -EINVAL, "\"%.64s\" is not an IP address", addr);
	if (store_dir_on(s))
		return store_dir_answer(s, nodedir_get_addr(s->dir, network_id, family,
							    a, out));
	ipam_addr_format(family, a, text);	/* the stored spelling */
	if (!(st = store_stmt(s, family == AF_INET ? ST_NODE_BY_IP4 : ST_NODE_BY_IP6)))
		return -EIO;
	sqlite3_bind_int64(st, 1, network_id);
	store_bind_text(st, 2, text);
	return store_node_one(s, st, out);
}

int store_node_list(struct store *s, int64_t network_id, int64_t after,
		    struct store_node *out, size_t max, size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, network_id ? ST_NODE_LIST_NET : ST_NODE_LIST);

	*n = 0;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, network_id);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, (int64_t)max);
	return store_node_rows(s, st, out, max, n);
}

int store_node_list_stale_ephemeral(struct store *s, int64_t before, int64_t after,
				    struct store_node *out, size_t max, size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, ST_NODE_STALE);

	*n = 0;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, (int64_t)max);
	return store_node_rows(s, st, out, max, n);
}

/* Allocation probes: which network, through which store. */
struct store_probe {
	struct store *s;
	int64_t network_id;
};

static int store_taken(struct store *s, enum store_st id, int64_t net, const char *t)
{
	sqlite3_stmt *st = store_stmt(s, id);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, net);
	store_bind_text(st, 2, t);
	if ((rc = store_step(s, st)) == 1)
		store_done(st);
	return rc;
}

static int store_name_taken(void *ctx, const char *name)
{
	struct store_probe *p = ctx;

	return store_taken(p->s, ST_NAME_TAKEN, p->network_id, name);
}

static int store_addr_taken(void *ctx, int family, const uint8_t addr[16])
{
	struct store_probe *p = ctx;
	char text[STORE_ADDR_SIZE];

	ipam_addr_format(family, addr, text);
	return store_taken(p->s, family == AF_INET ? ST_IP4_TAKEN : ST_IP6_TAKEN,
			   p->network_id, text);
}

/* Allocates a host of prefix ("" = none) from *next on; advances *next. */
static int store_node_addr(struct store *s, int64_t net, const char *prefix,
			   uint64_t *next, char out[STORE_ADDR_SIZE])
{
	struct store_probe probe = { s, net };
	struct ipam_prefix p;
	uint8_t a[16];
	uint64_t o;
	int rc;

	out[0] = '\0';
	if (!prefix[0])
		return 0;
	if (ipam_prefix_parse(prefix, &p, NULL))
		return store_fail(s, -EIO, "network %lld has a bad prefix", (long long)net);
	rc = ipam_alloc(&p, *next, store_addr_taken, &probe, a, &o);
	if (rc == -ENOSPC)
		return store_fail(s, rc, "no free address left in %s", prefix);
	if (rc)
		return rc;
	ipam_addr_format(p.family, a, out);
	*next = o + 1;
	return 0;
}

static int store_node_name(struct store *s, const struct store_node_req *req,
			   char name[STORE_NAME_SIZE])
{
	struct store_probe probe = { s, req->network_id };
	char base[IPAM_NAME_SIZE];
	int rc;

	ipam_name_from_hostname(req->hostname ? req->hostname : "", base);
	rc = ipam_name_unique(base, store_name_taken, &probe, name);
	if (rc == -ENOSPC || rc == -EINVAL)
		return store_fail(s, rc, "cannot find a free name for \"%s\"", base);
	return rc;
}

static int store_node_insert(struct store *s, const struct store_node_req *req,
			     const char *name, const char *ip4, const char *ip6)
{
	sqlite3_stmt *st = store_stmt(s, ST_NODE_INSERT);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, req->network_id);
	sqlite3_bind_blob(st, 2, req->public_key, 32, SQLITE_STATIC);
	store_bind_text(st, 3, name);
	store_bind_field(st, 4, req->hostname, STORE_HOSTNAME_SIZE);
	store_bind_text(st, 5, ip4);
	store_bind_text(st, 6, ip6);
	store_bind_field(st, 7, req->tags, STORE_TAGS_SIZE);
	sqlite3_bind_int(st, 8, req->ephemeral);
	sqlite3_bind_int64(st, 9, req->now);
	store_bind_field(st, 10, req->endpoints, STORE_ENDPOINTS_SIZE);
	rc = store_run(s, st);
	if (rc == -EEXIST)
		store_fail(s, rc, "node already registered (%s)", sqlite3_errmsg(s->db));
	return rc;
}

int store_node_create(struct store *s, const struct store_node_req *req,
		      struct store_node *out)
{
	char name[STORE_NAME_SIZE], ip4[STORE_ADDR_SIZE], ip6[STORE_ADDR_SIZE];
	struct store_network net;
	struct store_node local;
	struct store_hint *h;
	uint64_t next[2] = { 0, 0 };
	bool outer;
	int rc;

	if ((rc = store_op_begin(s, &outer)))
		return rc;
	if ((h = store_hint(s, req->network_id, false)))
		memcpy(next, h->next, sizeof(next));
	rc = store_network_get_id(s, req->network_id, &net);
	if (rc == 0)
		rc = store_node_name(s, req, name);
	if (rc == 0)
		rc = store_node_addr(s, net.id, net.prefix4, &next[0], ip4);
	if (rc == 0)
		rc = store_node_addr(s, net.id, net.prefix6, &next[1], ip6);
	if (rc == 0)
		rc = store_node_insert(s, req, name, ip4, ip6);
	if (rc == 0)
		rc = store_node_get_sql(s, sqlite3_last_insert_rowid(s->db),
					out ? out : &local);
	if ((rc = store_op_end(s, outer, rc)) == 0) {
		memcpy(store_hint(s, net.id, true)->next, next, sizeof(next));
		store_dir_put(s, out ? out : &local);
	}
	return rc;
}

/* A deleted node's addresses are free again: lower the hints. */
static void store_node_unhint(struct store *s, const struct store_node *n)
{
	const char *pfx[2], *addr[2] = { n->ipv4, n->ipv6 };
	struct store_network net;
	struct ipam_prefix p;
	uint8_t a[16];
	uint64_t o;
	int family;

	if (store_network_get_id(s, n->network_id, &net))
		return;
	pfx[0] = net.prefix4;
	pfx[1] = net.prefix6;
	for (int i = 0; i < 2; i++) {
		if (!addr[i][0] || ipam_prefix_parse(pfx[i], &p, NULL) ||
		    ipam_addr_parse(addr[i], &family, a) || ipam_host_offset(&p, a, &o))
			continue;
		store_hint_lower(s, n->network_id, i, o);
	}
}

int store_node_delete(struct store *s, int64_t id)
{
	struct store_node n;
	sqlite3_stmt *st;
	int rc;

	if ((rc = store_node_get(s, id, &n)))
		return rc;
	if (!(st = store_stmt(s, ST_NODE_DELETE)))
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = store_run_one(s, st, "node")) == 0) {
		store_node_unhint(s, &n);
		if (store_dir_on(s)) {
			nodedir_del(s->dir, id);
			store_dir_touch(s, id);
		}
	}
	return rc;
}

int store_node_rename(struct store *s, int64_t id, const char *name)
{
	char err[IPAM_ERR_SIZE];
	sqlite3_stmt *st;
	int rc;

	if (ipam_name_check(name, "node name", err))
		return store_fail(s, -EINVAL, "%s", err);
	if (!(st = store_stmt(s, ST_NODE_RENAME)))
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, name);
	rc = store_run_one(s, st, "node");
	if (rc == -EEXIST)
		store_fail(s, rc, "name \"%s\" is already taken in this network", name);
	if (rc == 0)
		store_dir_reread(s, id);
	return rc;
}

int store_node_expire(struct store *s, int64_t id, int64_t when)
{
	sqlite3_stmt *st = store_stmt(s, ST_NODE_EXPIRE);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, when);
	if ((rc = store_run_one(s, st, "node")) == 0)
		store_dir_reread(s, id);
	return rc;
}

int store_node_seen(struct store *s, int64_t id, int64_t last_seen,
		    const char *endpoints)
{
	sqlite3_stmt *st = store_stmt(s, endpoints ? ST_NODE_SEEN_EP : ST_NODE_SEEN);
	struct store_node n;
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, last_seen);
	if (endpoints)
		store_bind_field(st, 3, endpoints, STORE_ENDPOINTS_SIZE);
	if ((rc = store_run_one(s, st, "node")) || !store_dir_on(s))
		return rc;
	/* The presence flush writes many of these: the cached record is
	 * changed in place rather than read again. */
	if (!nodedir_get_id(s->dir, id, &n)) {
		store_dir_reread(s, id);
		return 0;
	}
	n.last_seen = last_seen;
	if (endpoints)
		snprintf(n.endpoints, sizeof(n.endpoints), "%s", endpoints);
	store_dir_put(s, &n);
	return 0;
}

/* --- removed keys ----------------------------------------------------------- */

int store_removed_key_add(struct store *s, const struct store_node *n,
			  const char *reason, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, ST_REMOVED_ADD);

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, n->public_key, 32, SQLITE_STATIC);
	store_bind_text(st, 2, n->name);
	sqlite3_bind_int64(st, 3, n->network_id);
	store_bind_field(st, 4, reason, STORE_AUDIT_FIELD);
	sqlite3_bind_int64(st, 5, now);
	return store_run(s, st);
}

int store_removed_key_get(struct store *s, const uint8_t public_key[32],
			  struct store_removed_key *out)
{
	sqlite3_stmt *st = store_stmt(s, ST_REMOVED_GET);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, public_key, 32, SQLITE_STATIC);
	if ((rc = store_step(s, st)) <= 0)
		return rc ? rc : store_fail(s, -ENOENT, "key was never removed");
	store_col_blob(st, 0, out->public_key, sizeof(out->public_key));
	store_col_text(st, 1, out->name, sizeof(out->name));
	out->network_id = sqlite3_column_int64(st, 2);
	store_col_text(st, 3, out->reason, sizeof(out->reason));
	out->removed = sqlite3_column_int64(st, 4);
	store_done(st);
	return 0;
}

/* --- audit ------------------------------------------------------------------ */

int store_audit_append(struct store *s, int64_t time, const char *actor,
		       const char *action, const char *object, const char *result,
		       const char *detail, int64_t *id_out)
{
	sqlite3_stmt *st = store_stmt(s, ST_AUDIT_APPEND);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, time);
	store_bind_text(st, 2, actor);
	store_bind_text(st, 3, action);
	store_bind_text(st, 4, object);
	store_bind_text(st, 5, result);
	store_bind_text(st, 6, detail);
	if ((rc = store_run(s, st)) == 0 && id_out)
		*id_out = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static void store_audit_row(sqlite3_stmt *st, struct store_audit *a)
{
	a->id = sqlite3_column_int64(st, 0);
	a->time = sqlite3_column_int64(st, 1);
	store_col_text(st, 2, a->actor, sizeof(a->actor));
	store_col_text(st, 3, a->action, sizeof(a->action));
	store_col_text(st, 4, a->object, sizeof(a->object));
	store_col_text(st, 5, a->result, sizeof(a->result));
	store_col_text(st, 6, a->detail, sizeof(a->detail));
}

int store_audit_list(struct store *s, int64_t since, int64_t after,
		     struct store_audit *out, size_t max, size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, ST_AUDIT_LIST);
	int rc = 0;

	*n = 0;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, (int64_t)max);
	while (*n < max && (rc = store_step(s, st)) == 1)
		store_audit_row(st, &out[(*n)++]);
	return store_rows_end(st, rc);
}
