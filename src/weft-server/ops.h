/*
 * ops — what the admin commands do to the store: networks, join keys,
 * nodes and the audit log, one handler per command behind admin.h.
 *
 * Every request, carried out, refused or malformed, appends one audit
 * entry (actor "admin:uid=N", action = the command, object, result "ok" or
 * a short reason, detail).  A command runs in one transaction with its
 * audit entry: it happens with its record or not at all.  Nodes an admin
 * removes (delete, expire, a forced network delete) have their keys
 * recorded as removed (they may never register again) and are pushed to
 * the control plane after the commit, as are renames (peer_changed).
 * `node.list` takes online and last seen from the live control plane.
 *
 * Protocol commands and their args (strings unless said otherwise):
 *   network.create  name, [prefix4], [prefix6]   ("none" = no prefix)
 *   network.list    -
 *   network.delete  name, [force: bool]
 *   key.create      network, [reusable: bool], [ephemeral: bool],
 *                   [expires: duration], [tags: array of strings]
 *   key.list        [network]
 *   key.revoke      id
 *   node.list       [network]
 *   node.delete     node (name or id), [network]
 *   node.rename     node, name, [network]
 *   node.expire     node, [network]
 *   audit.list      [since: RFC 3339 time or duration ago]
 *   status          -
 * Times in results are RFC 3339 (UTC) strings, or null for "never".
 */
#ifndef WEFT_SERVER_OPS_H
#define WEFT_SERVER_OPS_H

#include <stdint.h>

#include "admin.h"
#include "store.h"

struct control;
struct relayd;
struct stunsrv;

/* Default time an ephemeral node may stay offline before removal. */
#define OPS_EPHEMERAL_TIMEOUT_S 600

struct ops {
	struct store *st;		/* borrowed */
	struct control *ctl;		/* borrowed; NULL = none */
	struct relayd *relay;		/* borrowed; NULL = no relay */
	struct stunsrv *stun;		/* borrowed; NULL = no STUN */
	uint8_t server_pub[32];
	char endpoint[STORE_META_SIZE];	/* what join tokens carry */
	char listen[STORE_META_SIZE];
	int64_t ephemeral_timeout;	/* seconds */
	int64_t started;		/* Unix seconds */
};

/* The admin_handler: ctx is a struct ops. */
struct json_object *ops_handle(void *ctx, const struct admin_peer *peer,
			       const char *command, struct json_object *args,
			       const char *malformed);

/* Removes ephemeral nodes not seen for ephemeral_timeout, by the store's
 * last_seen and the live sessions' (audited "node.reap", logged, pushed). */
void ops_reap(struct ops *o, int64_t now);

#endif
