/*
 * store — the coordination server's durable state behind a narrow
 * interface: meta, networks, join keys, nodes, the keys of removed nodes
 * and the append-only audit log.
 * The backend today is SQLite (WAL, synchronous=FULL, foreign keys on); a
 * PostgreSQL backend can implement this same header.
 *
 * Errors: 0 or a negative errno, with one line of text in store_errmsg():
 *   -ENOENT   no such object          -EEXIST  a unique name/key/address clash
 *   -EBUSY    the database stayed locked past the busy timeout
 *   -EINVAL   bad input (names, prefixes, addresses)
 *   -ENOSPC   no free address in a network's prefix, no default prefix left
 *   -ENOTEMPTY network delete refused while nodes remain (use force)
 *   -EACCES   join key refused (revoked, expired, used; see the verdict)
 *   -ERANGE   a meta value does not fit the caller's buffer
 *   -ENOTSUP  the database's schema is newer than this program
 *   -EIO      any other database error
 *
 * Transactions: store_begin() takes the write lock at once (BEGIN
 * IMMEDIATE), so concurrent writers queue instead of failing mid-way.  Every
 * operation that writes more than one row runs in its own transaction, or in
 * a savepoint inside the caller's: a failed operation leaves nothing behind
 * and the caller's transaction stays usable.  After store_rollback() nothing
 * done since store_begin() remains.
 *
 * Ownership: struct store is opaque; store_open() allocates it and
 * store_close() frees it.  Result structs are filled by copy into the
 * caller's memory; text longer than a field is cut to fit.  Input strings
 * are borrowed for the duration of the call.  A struct store is used by one
 * thread at a time (one per thread, or a lock around it); several processes
 * may open the same file.
 *
 * Times are Unix seconds passed in by the caller; the store reads no clock.
 */
#ifndef WEFT_STORE_H
#define WEFT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipam.h"

#define STORE_SCHEMA_VERSION 3
#define STORE_BUSY_TIMEOUT_MS 5000

#define STORE_NAME_SIZE      IPAM_NAME_SIZE
#define STORE_PREFIX_SIZE    IPAM_PREFIX_STRLEN
#define STORE_ADDR_SIZE      IPAM_ADDR_STRLEN
#define STORE_KEYID_SIZE     17		/* 16 hex digits */
#define STORE_HOSTNAME_SIZE  256
#define STORE_TAGS_SIZE      256	/* comma-separated */
#define STORE_ENDPOINTS_SIZE 512	/* comma-separated host:port */
#define STORE_META_SIZE      256
#define STORE_AUDIT_FIELD    128
#define STORE_AUDIT_DETAIL   512

/* Meta keys.  The server key pair lives in a file, not here. */
#define STORE_META_ULA      "ula_prefix"	/* set on database creation */
#define STORE_META_ENDPOINT "endpoint"		/* server HOST:PORT */

struct store;

struct store_network {
	int64_t id;
	char name[STORE_NAME_SIZE];
	char prefix4[STORE_PREFIX_SIZE];	/* "" when none */
	char prefix6[STORE_PREFIX_SIZE];	/* "" when none */
	int64_t created;
};

struct store_key {
	char id[STORE_KEYID_SIZE];	/* hex of the hash's first 8 bytes */
	int64_t network_id;
	uint8_t secret_hash[32];
	bool reusable, ephemeral, revoked;
	int64_t expires;		/* 0 = never */
	uint64_t uses;
	char tags[STORE_TAGS_SIZE];
	int64_t created;
};

struct store_node {
	int64_t id;
	int64_t network_id;
	uint8_t public_key[32];
	char name[STORE_NAME_SIZE];
	char hostname[STORE_HOSTNAME_SIZE];	/* as the node reported it */
	char ipv4[STORE_ADDR_SIZE];		/* "" when none */
	char ipv6[STORE_ADDR_SIZE];		/* "" when none */
	char tags[STORE_TAGS_SIZE];
	bool ephemeral;
	int64_t created, last_seen;
	int64_t expires;			/* 0 = never; expired once now >= */
	char endpoints[STORE_ENDPOINTS_SIZE];
};

/* What a joining node brings; the store allocates the rest. */
struct store_node_req {
	int64_t network_id;
	uint8_t public_key[32];
	const char *hostname;		/* mapped to a unique name; NULL = "node" */
	const char *tags;		/* NULL = none */
	const char *endpoints;		/* NULL = none */
	bool ephemeral;
	int64_t now;			/* created and last_seen */
};

/* A key whose node an administrator removed: never admitted again. */
struct store_removed_key {
	uint8_t public_key[32];
	char name[STORE_NAME_SIZE];	/* the node's name when it was removed */
	int64_t network_id;		/* its network then (may be gone) */
	char reason[STORE_AUDIT_FIELD];	/* "deleted", "expired", ... */
	int64_t removed;		/* when */
};

struct store_audit {
	int64_t id;			/* assigned on append, increasing */
	int64_t time;
	char actor[STORE_AUDIT_FIELD];	/* "admin", "node:<name>", ... */
	char action[STORE_AUDIT_FIELD];	/* "network.create", "node.join", ... */
	char object[STORE_AUDIT_FIELD];
	char result[STORE_AUDIT_FIELD];	/* "ok" or a short reason */
	char detail[STORE_AUDIT_DETAIL];
};

/* --- database ------------------------------------------------------------- */

/* Opens or creates the database at path (created mode 0600) and brings the
 * schema to STORE_SCHEMA_VERSION.  A new database gets a random ULA /48 in
 * meta.  On failure *out is NULL; the reason is returned only as a code
 * (use store_open_err() for the text). */
int store_open(struct store **out, const char *path);
int store_open_err(struct store **out, const char *path, char *err, size_t errlen);
void store_close(struct store *s);			/* NULL ok */
const char *store_errmsg(const struct store *s);	/* borrowed, until next call */
int store_schema_version(struct store *s, int *version);

int store_begin(struct store *s);
/* A failed commit rolls the transaction back (nothing of it remains), so
 * a rollback after it finds nothing to do (0). */
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* --- meta ----------------------------------------------------------------- */

int store_meta_get(struct store *s, const char *key, char *out, size_t size);
int store_meta_set(struct store *s, const char *key, const char *value);

/* --- networks --------------------------------------------------------------
 * prefix4 / prefix6 NULL = the default (a free /16 of 100.64.0.0/10, a free
 * /64 of the ULA); "" = none for that family (at least one is required). */
int store_network_create(struct store *s, const char *name, const char *prefix4,
			 const char *prefix6, int64_t now, struct store_network *out);
int store_network_get(struct store *s, const char *name, struct store_network *out);
int store_network_get_id(struct store *s, int64_t id, struct store_network *out);
/* Networks with id > after, by id; *n set to the number written. */
int store_network_list(struct store *s, int64_t after, struct store_network *out,
		       size_t max, size_t *n);
/* Refused with -ENOTEMPTY while nodes remain unless force, which deletes
 * the network's nodes and join keys with it. */
int store_network_delete(struct store *s, const char *name, bool force);

/* --- join keys -------------------------------------------------------------- */

/* k->uses and k->revoked are ignored (a new key starts unused). */
int store_key_create(struct store *s, const struct store_key *k);
int store_key_get(struct store *s, const char *id, struct store_key *out);
/* Keys with id > after ("" = from the start), by id; network_id 0 = all. */
int store_key_list(struct store *s, int64_t network_id, const char *after,
		   struct store_key *out, size_t max, size_t *n);
int store_key_revoke(struct store *s, const char *id);
/* One join with key id: checks the rules (ipam_key_check) and counts the
 * use atomically, so a one-off key admits exactly one join even when joins
 * race in several processes.  secret_hash, when not NULL, must equal the
 * stored hash (constant-time; a mismatch is -ENOENT).  Returns 0, -ENOENT,
 * or -EACCES with *verdict (may be NULL) and the message in store_errmsg().
 * Inside the caller's transaction the use is undone by its rollback. */
int store_key_use(struct store *s, const char *id, const uint8_t *secret_hash,
		  int64_t now, struct store_key *out, enum ipam_key_verdict *verdict);

/* --- nodes ------------------------------------------------------------------ */

/* Allocates the lowest free IPv4 and IPv6 host of the network's prefixes
 * and a unique name from the hostname, and inserts the node, all in one
 * transaction; UNIQUE constraints back the allocation, so no address or
 * name is handed out twice, even by concurrent processes.  -EEXIST when the
 * public key is already registered. */
int store_node_create(struct store *s, const struct store_node_req *req,
		      struct store_node *out);
int store_node_get(struct store *s, int64_t id, struct store_node *out);
int store_node_get_key(struct store *s, const uint8_t public_key[32],
		       struct store_node *out);
int store_node_get_name(struct store *s, int64_t network_id, const char *name,
			struct store_node *out);
/* addr is IPv4 or IPv6 text in any valid spelling. */
int store_node_get_addr(struct store *s, int64_t network_id, const char *addr,
			struct store_node *out);
/* Nodes with id > after, by id; network_id 0 = all networks. */
int store_node_list(struct store *s, int64_t network_id, int64_t after,
		    struct store_node *out, size_t max, size_t *n);
/* Ephemeral nodes with last_seen < before and id > after, by id. */
int store_node_list_stale_ephemeral(struct store *s, int64_t before, int64_t after,
				    struct store_node *out, size_t max, size_t *n);
int store_node_delete(struct store *s, int64_t id);
/* name must be a valid label (no mapping); -EEXIST if taken. */
int store_node_rename(struct store *s, int64_t id, const char *name);
int store_node_expire(struct store *s, int64_t id, int64_t when);
/* Sets last_seen and, when endpoints is not NULL, the endpoints. */
int store_node_seen(struct store *s, int64_t id, int64_t last_seen,
		    const char *endpoints);

/* --- the node cache ---------------------------------------------------------
 * A process that answers many node lookups (the server) keeps every node in
 * memory: store_node_get, _get_key, _get_name and _get_addr are then hash
 * probes, whatever the number of nodes.  This store's own writes update it
 * (a rollback reads back what it undid); writes by other connections are
 * seen by store_sync, which compares SQLite's data_version and reloads on a
 * change.  Between two syncs a read may miss another process's change, so a
 * process that turns the cache on syncs regularly (weft-server: once a
 * second).  Off by default: then every read asks the database. */
int store_node_cache(struct store *s, bool on);	/* on: loads every node */
int store_sync(struct store *s);		/* no-op in a transaction */
size_t store_node_cached(const struct store *s);	/* 0 when off or stale */
/* For a batch of address lookups about to be made (a server answering a
 * receive batch): call with stage 0 for each, then 1 for each, then 2,
 * which returns the node's id (0: not found, or the cache is off).  The
 * batch's cache misses then overlap; nothing else changes. */
int64_t store_node_prefetch_addr(struct store *s, int64_t network_id, int family,
				 const uint8_t addr[16], int stage);
int64_t store_node_prefetch_name(struct store *s, int64_t network_id,
				 const char *name, int stage);

/* --- removed keys ------------------------------------------------------------
 * Public keys of nodes an administrator deleted or expired (directly or
 * with a forced network delete): the control plane refuses them for good,
 * even with a valid join secret.  Nodes that log out or are reaped as
 * ephemeral are not recorded.  Add is an upsert (the latest reason and
 * time win); get is -ENOENT for a key never removed. */
int store_removed_key_add(struct store *s, const struct store_node *n,
			  const char *reason, int64_t now);
int store_removed_key_get(struct store *s, const uint8_t public_key[32],
			  struct store_removed_key *out);

/* --- audit -------------------------------------------------------------------
 * Append-only: the database refuses UPDATE and DELETE on it (a trigger).
 * Append stores the strings whole (NULL = "") and writes the new entry's
 * id to id_out when not NULL; list cuts them to the struct's fields. */
int store_audit_append(struct store *s, int64_t time, const char *actor,
		       const char *action, const char *object, const char *result,
		       const char *detail, int64_t *id_out);
/* Entries with time >= since and id > after, by id. */
int store_audit_list(struct store *s, int64_t since, int64_t after,
		     struct store_audit *out, size_t max, size_t *n);

#endif
