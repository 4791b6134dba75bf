/* ops — see ops.h. */
#include "ops.h"

#include <errno.h>
#include <stddef.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "control.h"
#include "crypto.h"
#include "encoding.h"
#include "ipam.h"
#include "log.h"
#include "relayd.h"
#include "stunsrv.h"
#include "token.h"
#include "when.h"

#define OPS_PAGE 256
#define OPS_ERR_SIZE 512
#define OPS_KEY_PREFIX 8	/* base64 characters shown of a node's key */

/* A node a command removed or changed: pushed and logged after the commit. */
struct ops_touched {
	int64_t id;
	char name[STORE_NAME_SIZE];
	char network[STORE_NAME_SIZE];
	bool removed;			/* else changed (renamed) */
};

/* What one command did, for the response, the audit and the pushes. */
struct ops_res {
	const char *actor;
	int64_t now;
	struct json_object *result;
	char object[STORE_AUDIT_FIELD];
	char detail[STORE_AUDIT_DETAIL];
	char error[OPS_ERR_SIZE];	/* on failure: one line for the user */
	const char *reason;		/* on failure: the audit's result */
	struct ops_touched *touched;	/* nodes to push and log */
	size_t n_touched;
};

typedef int (*ops_fn)(struct ops *o, struct json_object *args, struct ops_res *r);

struct ops_field {
	const char *name;
	enum json_type type;
	bool required;
};

struct ops_cmd {
	const char *name;
	ops_fn fn;
	struct ops_field fields[6];	/* ends at name NULL */
};

/* --- small helpers --- */

static const char *ops_reason(int rc)
{
	switch (rc) {
	case -ENOENT: return "not found";
	case -EEXIST: return "already exists";
	case -EINVAL: return "invalid";
	case -ENOTEMPTY: return "not empty";
	case -ENOSPC: return "no space";
	case -EBUSY: return "busy";
	case -ENOTUNIQ: return "ambiguous";
	default: return "error";
	}
}

__attribute__((format(printf, 3, 4)))
static int ops_fail(struct ops_res *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->reason = ops_reason(rc);
	return rc;
}

/* A store failure: its message, and what to do when we know. */
static int ops_store_fail(struct ops *o, struct ops_res *r, int rc, const char *hint)
{
	if (rc == -EBUSY)
		return ops_fail(r, rc, "the database stayed locked; try again");
	return ops_fail(r, rc, "%s%s%s", store_errmsg(o->st), hint ? "; " : "",
			hint ? hint : "");
}

static const char *ops_str(struct json_object *args, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(args, name, &v) ? json_object_get_string(v)
							 : NULL;
}

static bool ops_bool(struct json_object *args, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(args, name, &v) && json_object_get_boolean(v);
}

static struct json_object *ops_json_time(int64_t t)
{
	char text[WHEN_SIZE];

	if (!t)
		return NULL;
	when_format(t, text);
	return json_object_new_string(text);
}

static struct json_object *ops_json_text(const char *s)
{
	return s[0] ? json_object_new_string(s) : NULL;
}

/* "a,b,c" as ["a", "b", "c"]. */
static struct json_object *ops_json_list(const char *csv)
{
	struct json_object *a = json_object_new_array();
	const char *p = csv, *comma;

	while (*p) {
		comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n)
			json_object_array_add(a, json_object_new_string_len(p, (int)n));
		p += n + (comma ? 1 : 0);
	}
	return a;
}

static bool ops_touch(struct ops_res *r, const struct store_node *n,
		      const char *network, bool removed)
{
	struct ops_touched *m = realloc(r->touched, (r->n_touched + 1) * sizeof(*m));

	if (!m)
		return false;
	r->touched = m;
	m += r->n_touched++;
	m->id = n->id;
	m->removed = removed;
	snprintf(m->name, sizeof(m->name), "%s", n->name);
	snprintf(m->network, sizeof(m->network), "%s", network);
	return true;
}

/* The key of a node an administrator removes may never register again. */
static int ops_forbid_key(struct ops *o, struct ops_res *r,
			  const struct store_node *n, const char *why)
{
	int rc = store_removed_key_add(o->st, n, why, r->now);

	return rc ? ops_store_fail(o, r, rc, NULL) : 0;
}

/* --- networks --- */

/* All networks (caller frees *out). */
static int ops_networks(struct ops *o, struct store_network **out, size_t *n)
{
	struct store_network *all = NULL, *m;
	size_t got, cap = 0;
	int64_t after = 0;
	int rc;

	*n = 0;
	do {
		if (!(m = realloc(all, (cap + OPS_PAGE) * sizeof(*m)))) {
			free(all);
			return -ENOMEM;
		}
		all = m;
		cap += OPS_PAGE;
		if ((rc = store_network_list(o->st, after, all + *n, OPS_PAGE, &got))) {
			free(all);
			return rc;
		}
		*n += got;
		if (got)
			after = all[*n - 1].id;
	} while (got == OPS_PAGE);
	*out = all;
	return 0;
}

static const char *ops_net_name(const struct store_network *nets, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (nets[i].id == id)
			return nets[i].name;
	return "?";
}

/* Calls fn for every node of network net (0 = all). */
static int ops_each_node(struct ops *o, int64_t net,
			 int (*fn)(void *ctx, const struct store_node *n), void *ctx)
{
	struct store_node *page = malloc(OPS_PAGE * sizeof(*page));
	int64_t after = 0;
	size_t got;
	int rc;

	if (!page)
		return -ENOMEM;
	do {
		if ((rc = store_node_list(o->st, net, after, page, OPS_PAGE, &got)))
			break;
		for (size_t i = 0; i < got && !rc; i++)
			rc = fn(ctx, &page[i]);
		if (got)
			after = page[got - 1].id;
	} while (!rc && got == OPS_PAGE);
	free(page);
	return rc;
}

static int ops_count_node(void *ctx, const struct store_node *n)
{
	(*(int64_t *)ctx)++;
	return 0;
}

static struct json_object *ops_json_network(struct ops *o, const struct store_network *n)
{
	struct json_object *j = json_object_new_object();
	int64_t count = 0;

	ops_each_node(o, n->id, ops_count_node, &count);
	json_object_object_add(j, "id", json_object_new_int64(n->id));
	json_object_object_add(j, "name", json_object_new_string(n->name));
	json_object_object_add(j, "prefix4", ops_json_text(n->prefix4));
	json_object_object_add(j, "prefix6", ops_json_text(n->prefix6));
	json_object_object_add(j, "nodes", json_object_new_int64(count));
	json_object_object_add(j, "created", ops_json_time(n->created));
	return j;
}

/* A --prefix4/--prefix6 value: NULL = default, "none" = "", else a valid
 * prefix of that family. */
static int ops_prefix_arg(struct ops_res *r, const char *arg, int family,
			  const char **out)
{
	const char *opt = family == AF_INET ? "--prefix4" : "--prefix6";
	char err[IPAM_ERR_SIZE];
	struct ipam_prefix p;

	*out = arg;
	if (!arg)
		return 0;
	if (!strcmp(arg, "none")) {
		*out = "";
		return 0;
	}
	if (ipam_prefix_parse(arg, &p, err) || ipam_prefix_check_network(&p, err))
		return ops_fail(r, -EINVAL, "bad %s '%.64s': %s", opt, arg, err);
	if (p.family != family)
		return ops_fail(r, -EINVAL, "bad %s '%.64s': it is an %s prefix; "
				"use %s for it", opt, arg,
				family == AF_INET ? "IPv6" : "IPv4",
				family == AF_INET ? "--prefix6" : "--prefix4");
	return 0;
}

static int ops_network_create(struct ops *o, struct json_object *args,
			      struct ops_res *r)
{
	const char *name = ops_str(args, "name"), *p4, *p6;
	char err[IPAM_ERR_SIZE];
	struct store_network net;
	int rc;

	snprintf(r->object, sizeof(r->object), "%s", name);
	if (ipam_name_check(name, "network name", err))
		return ops_fail(r, -EINVAL, "%s", err);
	if ((rc = ops_prefix_arg(r, ops_str(args, "prefix4"), AF_INET, &p4)) ||
	    (rc = ops_prefix_arg(r, ops_str(args, "prefix6"), AF_INET6, &p6)))
		return rc;
	rc = store_network_create(o->st, name, p4, p6, r->now, &net);
	if (rc == -EEXIST)
		return ops_fail(r, rc, "network \"%s\" already exists; see: "
				"weft-server networks list", name);
	if (rc)
		return ops_store_fail(o, r, rc, NULL);
	snprintf(r->detail, sizeof(r->detail), "prefix4=%s prefix6=%s",
		 net.prefix4[0] ? net.prefix4 : "none",
		 net.prefix6[0] ? net.prefix6 : "none");
	r->result = ops_json_network(o, &net);
	return 0;
}

static int ops_network_list(struct ops *o, struct json_object *args,
			    struct ops_res *r)
{
	struct store_network *nets;
	size_t n;
	int rc;

	if ((rc = ops_networks(o, &nets, &n)))
		return ops_store_fail(o, r, rc, NULL);
	r->result = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(r->result, ops_json_network(o, &nets[i]));
	free(nets);
	snprintf(r->detail, sizeof(r->detail), "%zu network(s)", n);
	return 0;
}

static int ops_network_get(struct ops *o, struct ops_res *r, const char *name,
			   struct store_network *net)
{
	int rc = store_network_get(o->st, name, net);

	if (rc == -ENOENT)
		return ops_fail(r, rc, "no network named \"%.64s\"; see: "
				"weft-server networks list", name);
	return rc ? ops_store_fail(o, r, rc, NULL) : 0;
}

struct ops_doomed {
	struct ops *o;
	struct ops_res *r;
	const char *network;
};

/* A node going with its network: recorded and pushed like any removal. */
static int ops_doom_node(void *ctx, const struct store_node *n)
{
	struct ops_doomed *d = ctx;
	char detail[STORE_AUDIT_DETAIL];
	int rc;

	if (!ops_touch(d->r, n, d->network, true))
		return -ENOMEM;
	if ((rc = store_removed_key_add(d->o->st, n, "deleted with its network",
					d->r->now)))
		return rc;
	snprintf(detail, sizeof(detail), "id=%lld; network \"%s\" deleted with --force",
		 (long long)n->id, d->network);
	return store_audit_append(d->o->st, d->r->now, d->r->actor, "node.delete",
				  n->name, "ok", detail, NULL);
}

static int ops_network_delete(struct ops *o, struct json_object *args,
			      struct ops_res *r)
{
	const char *name = ops_str(args, "name");
	bool force = ops_bool(args, "force");
	struct ops_doomed d = { o, r, name };
	struct store_network net;
	int64_t count = 0;
	int rc;

	snprintf(r->object, sizeof(r->object), "%s", name);
	if ((rc = ops_network_get(o, r, name, &net)))
		return rc;
	if ((rc = ops_each_node(o, net.id, ops_count_node, &count)))
		return ops_store_fail(o, r, rc, NULL);
	if (count && !force)
		return ops_fail(r, -ENOTEMPTY, "network \"%s\" still has %lld node(s); "
				"delete them first (weft-server nodes delete) or run: "
				"weft-server networks delete %s --force", name,
				(long long)count, name);
	if (count && (rc = ops_each_node(o, net.id, ops_doom_node, &d)))
		return rc == -ENOMEM ? ops_fail(r, rc, "out of memory")
				     : ops_store_fail(o, r, rc, NULL);
	if ((rc = store_network_delete(o->st, name, force)))
		return ops_store_fail(o, r, rc, NULL);
	snprintf(r->detail, sizeof(r->detail), "%s%lld node(s) removed",
		 force ? "force; " : "", (long long)count);
	r->result = json_object_new_object();
	json_object_object_add(r->result, "name", json_object_new_string(name));
	json_object_object_add(r->result, "nodes_removed", json_object_new_int64(count));
	return 0;
}

/* --- join keys --- */

/* tags as "a,b": each a DNS label, none twice. */
static int ops_tags(struct ops_res *r, struct json_object *tags,
		    char out[STORE_TAGS_SIZE])
{
	char err[IPAM_ERR_SIZE];
	size_t len = 0, n = tags ? json_object_array_length(tags) : 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(tags, i);
		const char *s;
		size_t sl;
		if (!json_object_is_type(t, json_type_string))
			return ops_fail(r, -EINVAL, "tags must be strings");
		s = json_object_get_string(t);
		sl = strlen(s);
		if (ipam_name_check(s, "tag", err))
			return ops_fail(r, -EINVAL, "%s", err);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s, json_object_get_string(json_object_array_get_idx(tags, j))))
				return ops_fail(r, -EINVAL, "tag \"%s\" is given twice", s);
		if (len + sl + 2 > STORE_TAGS_SIZE)
			return ops_fail(r, -EINVAL, "too many tags (at most %d "
					"characters in all)", STORE_TAGS_SIZE - 1);
		len += (size_t)sprintf(out + len, "%s%s", i ? "," : "", s);
	}
	return 0;
}

static const char *ops_key_state(const struct store_key *k, int64_t now)
{
	struct ipam_key_rule rule = {
		.reusable = k->reusable, .ephemeral = k->ephemeral,
		.revoked = k->revoked, .expires = k->expires, .uses = k->uses,
	};

	switch (ipam_key_check(&rule, now)) {
	case IPAM_KEY_OK: return "valid";
	case IPAM_KEY_REVOKED: return "revoked";
	case IPAM_KEY_EXPIRED: return "expired";
	case IPAM_KEY_USED: return "used";
	}
	return "?";
}

static struct json_object *ops_json_key(const struct store_key *k, const char *network,
					int64_t now)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_string(k->id));
	json_object_object_add(j, "network", json_object_new_string(network));
	json_object_object_add(j, "reusable", json_object_new_boolean(k->reusable));
	json_object_object_add(j, "ephemeral", json_object_new_boolean(k->ephemeral));
	json_object_object_add(j, "expires", ops_json_time(k->expires));
	json_object_object_add(j, "uses", json_object_new_int64((int64_t)k->uses));
	json_object_object_add(j, "revoked", json_object_new_boolean(k->revoked));
	json_object_object_add(j, "state", json_object_new_string(ops_key_state(k, now)));
	json_object_object_add(j, "tags", ops_json_list(k->tags));
	json_object_object_add(j, "created", ops_json_time(k->created));
	return j;
}

/* A fresh secret stored as its hash; the token carries the secret. */
static int ops_key_new(struct ops *o, struct ops_res *r, struct store_key *k,
		       char token[TOKEN_MAX_LEN + 1])
{
	uint8_t secret[TOKEN_SECRET_LEN];
	char err[256];
	int rc = -EIO;

	for (int tries = 0; tries < 2 && rc; tries++) {	/* ids are 64 bits */
		if (!token_generate_secret(secret)) {
			rc = ops_fail(r, -EIO, "cannot generate a join secret "
				      "(random number generator failed)");
			goto out;
		}
		token_secret_hash(k->secret_hash, secret);
		token_key_id(k->id, k->secret_hash);
		rc = store_key_create(o->st, k);
		if (rc && rc != -EEXIST) {
			rc = ops_store_fail(o, r, rc, NULL);
			goto out;
		}
	}
	if (rc) {
		rc = ops_store_fail(o, r, rc, "try again");
		goto out;
	}
	if ((rc = token_format(token, TOKEN_MAX_LEN + 1, o->server_pub, secret,
			       o->endpoint, err, sizeof(err))) < 0) {
		rc = ops_fail(r, -EINVAL, "cannot make a join token with the server's "
			      "endpoint '%s': %s", o->endpoint, err);
		goto out;
	}
	rc = 0;
out:
	crypto_wipe(secret, sizeof(secret));
	return rc;
}

static int ops_key_create(struct ops *o, struct json_object *args, struct ops_res *r)
{
	const char *network = ops_str(args, "network"), *expires = ops_str(args, "expires");
	struct store_key k = { .reusable = ops_bool(args, "reusable"),
			       .ephemeral = ops_bool(args, "ephemeral"),
			       .created = r->now };
	char err[IPAM_ERR_SIZE], token[TOKEN_MAX_LEN + 1];
	struct json_object *tags = NULL;
	struct store_network net;
	int64_t secs;
	int rc;

	snprintf(r->object, sizeof(r->object), "network %s", network);
	if ((rc = ops_network_get(o, r, network, &net)))
		return rc;
	k.network_id = net.id;
	if (expires && ipam_duration_parse(expires, &secs, err))
		return ops_fail(r, -EINVAL, "bad --expires: %s", err);
	k.expires = expires ? r->now + secs : 0;
	json_object_object_get_ex(args, "tags", &tags);
	if ((rc = ops_tags(r, tags, k.tags)) || (rc = ops_key_new(o, r, &k, token)))
		return rc;
	snprintf(r->object, sizeof(r->object), "%s", k.id);
	snprintf(r->detail, sizeof(r->detail), "network=%s reusable=%s ephemeral=%s "
		 "expires=%s tags=%s", network, k.reusable ? "yes" : "no",
		 k.ephemeral ? "yes" : "no", expires ? expires : "never", k.tags);
	r->result = ops_json_key(&k, network, r->now);
	json_object_object_add(r->result, "token", json_object_new_string(token));
	crypto_wipe(token, sizeof(token));
	return 0;
}

static int ops_key_list(struct ops *o, struct json_object *args, struct ops_res *r)
{
	const char *network = ops_str(args, "network");
	struct store_key *page = NULL;
	struct store_network *nets = NULL, net = { 0 };
	char after[STORE_KEYID_SIZE] = "";
	size_t n_nets, got, total = 0;
	int rc;

	snprintf(r->object, sizeof(r->object), "%s", network ? network : "*");
	if (network && (rc = ops_network_get(o, r, network, &net)))
		return rc;
	if ((rc = ops_networks(o, &nets, &n_nets)) ||
	    !(page = malloc(OPS_PAGE * sizeof(*page)))) {
		free(nets);
		return rc ? ops_store_fail(o, r, rc, NULL) : ops_fail(r, -ENOMEM, "out of memory");
	}
	r->result = json_object_new_array();
	do {
		if ((rc = store_key_list(o->st, net.id, after, page, OPS_PAGE, &got)))
			break;
		for (size_t i = 0; i < got; i++)
			json_object_array_add(r->result, ops_json_key(&page[i],
				ops_net_name(nets, n_nets, page[i].network_id), r->now));
		if (got)
			snprintf(after, sizeof(after), "%s", page[got - 1].id);
		total += got;
	} while (got == OPS_PAGE);
	free(page);
	free(nets);
	if (rc)
		return ops_store_fail(o, r, rc, NULL);
	snprintf(r->detail, sizeof(r->detail), "%zu key(s)", total);
	return 0;
}

static int ops_key_revoke(struct ops *o, struct json_object *args, struct ops_res *r)
{
	const char *id = ops_str(args, "id");
	struct store_key k;
	int rc;

	snprintf(r->object, sizeof(r->object), "%s", id);
	rc = store_key_get(o->st, id, &k);
	if (rc == -ENOENT || rc == -EINVAL)
		return ops_fail(r, -ENOENT, "no join key with id \"%.32s\"; see: "
				"weft-server keys list", id);
	if (rc || (rc = store_key_revoke(o->st, id)))
		return ops_store_fail(o, r, rc, NULL);
	snprintf(r->detail, sizeof(r->detail), "%s", k.revoked ? "was already revoked" : "");
	r->result = json_object_new_object();
	json_object_object_add(r->result, "id", json_object_new_string(id));
	json_object_object_add(r->result, "revoked", json_object_new_boolean(1));
	return 0;
}

/* --- nodes --- */

/* Online and last seen come from the live control plane when there is
 * one (the store's last_seen lags it by up to CONTROL_FLUSH_INTERVAL_S,
 * and says nothing of the present). */
static struct json_object *ops_json_node(struct ops *o, const struct store_node *n,
					 const char *network, int64_t now)
{
	struct json_object *j = json_object_new_object();
	char key[48], prefix[OPS_KEY_PREFIX + 1];
	struct control_presence p = { 0 };
	bool expired = n->expires && now >= n->expires;

	if (o->ctl)
		control_presence(o->ctl, n->public_key, &p);
	if (n->last_seen > p.last_seen)
		p.last_seen = n->last_seen;

	b64_encode(key, n->public_key, 32, B64_STD);
	memcpy(prefix, key, OPS_KEY_PREFIX);
	prefix[OPS_KEY_PREFIX] = '\0';
	json_object_object_add(j, "id", json_object_new_int64(n->id));
	json_object_object_add(j, "name", json_object_new_string(n->name));
	json_object_object_add(j, "network", json_object_new_string(network));
	json_object_object_add(j, "hostname", json_object_new_string(n->hostname));
	json_object_object_add(j, "ipv4", ops_json_text(n->ipv4));
	json_object_object_add(j, "ipv6", ops_json_text(n->ipv6));
	json_object_object_add(j, "public_key", json_object_new_string(key));
	json_object_object_add(j, "key_prefix", json_object_new_string(prefix));
	json_object_object_add(j, "online", json_object_new_boolean(p.online && !expired));
	json_object_object_add(j, "last_seen", ops_json_time(p.last_seen));
	json_object_object_add(j, "endpoints", ops_json_list(n->endpoints));
	json_object_object_add(j, "ephemeral", json_object_new_boolean(n->ephemeral));
	json_object_object_add(j, "tags", ops_json_list(n->tags));
	json_object_object_add(j, "expires", ops_json_time(n->expires));
	json_object_object_add(j, "expired", json_object_new_boolean(expired));
	json_object_object_add(j, "created", ops_json_time(n->created));
	return j;
}

struct ops_lister {
	struct ops *o;
	struct json_object *out;
	const struct store_network *nets;
	size_t n_nets;
	int64_t now;
};

static int ops_list_node(void *ctx, const struct store_node *n)
{
	struct ops_lister *l = ctx;

	json_object_array_add(l->out, ops_json_node(l->o, n,
		ops_net_name(l->nets, l->n_nets, n->network_id), l->now));
	return 0;
}

static int ops_node_list(struct ops *o, struct json_object *args, struct ops_res *r)
{
	const char *network = ops_str(args, "network");
	struct store_network net = { 0 }, *nets;
	struct ops_lister l = { .o = o, .now = r->now };
	int rc;

	snprintf(r->object, sizeof(r->object), "%s", network ? network : "*");
	if (network && (rc = ops_network_get(o, r, network, &net)))
		return rc;
	if ((rc = ops_networks(o, &nets, &l.n_nets)))
		return ops_store_fail(o, r, rc, NULL);
	l.nets = nets;
	l.out = r->result = json_object_new_array();
	rc = ops_each_node(o, net.id, ops_list_node, &l);
	free(nets);
	if (rc)
		return ops_store_fail(o, r, rc, NULL);
	snprintf(r->detail, sizeof(r->detail), "%zu node(s)",
		 json_object_array_length(r->result));
	return 0;
}

static bool ops_is_id(const char *s)
{
	if (!*s || *s == '0' || strlen(s) > 18)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A node by id (digits) or name, in network when given, else in whichever
 * single network has it. */
static int ops_node_find(struct ops *o, struct ops_res *r, const char *ref,
			 const char *network, struct store_node *out)
{
	struct store_network net = { 0 }, *nets;
	size_t n_nets, found = 0;
	char where[256] = "";
	int rc;

	if (network && (rc = ops_network_get(o, r, network, &net)))
		return rc;
	if (ops_is_id(ref) && !store_node_get(o->st, strtoll(ref, NULL, 10), out) &&
	    (!network || out->network_id == net.id))
		return 0;
	if (network) {
		rc = store_node_get_name(o->st, net.id, ref, out);
		if (rc == -ENOENT || rc == -EINVAL)
			return ops_fail(r, -ENOENT, "no node \"%.64s\" in network \"%s\"; "
					"see: weft-server nodes list --network %s",
					ref, network, network);
		return rc ? ops_store_fail(o, r, rc, NULL) : 0;
	}
	if ((rc = ops_networks(o, &nets, &n_nets)))
		return ops_store_fail(o, r, rc, NULL);
	for (size_t i = 0; i < n_nets; i++) {
		struct store_node n;
		if (store_node_get_name(o->st, nets[i].id, ref, &n))
			continue;
		if (!found++)
			*out = n;
		size_t len = strlen(where);
		snprintf(where + len, sizeof(where) - len, "%s%s", len ? ", " : "",
			 nets[i].name);
	}
	free(nets);
	if (!found)
		return ops_fail(r, -ENOENT, "no node \"%.64s\"; see: weft-server "
				"nodes list", ref);
	if (found > 1)
		return ops_fail(r, -ENOTUNIQ, "node name \"%.64s\" is in several "
				"networks (%s); add --network NAME", ref, where);
	return 0;
}

static int ops_node_removal(struct ops *o, struct json_object *args,
			    struct ops_res *r, bool expire)
{
	const char *network = ops_str(args, "network");
	struct store_network net;
	struct store_node n;
	int rc;

	snprintf(r->object, sizeof(r->object), "%s", ops_str(args, "node"));
	if ((rc = ops_node_find(o, r, ops_str(args, "node"), network, &n)))
		return rc;
	snprintf(r->object, sizeof(r->object), "%s", n.name);
	rc = expire ? store_node_expire(o->st, n.id, r->now) : store_node_delete(o->st, n.id);
	if (rc)
		return ops_store_fail(o, r, rc, NULL);
	if ((rc = ops_forbid_key(o, r, &n, expire ? "expired" : "deleted")))
		return rc;
	if (store_network_get_id(o->st, n.network_id, &net))
		snprintf(net.name, sizeof(net.name), "?");
	if (!ops_touch(r, &n, net.name, true))
		return ops_fail(r, -ENOMEM, "out of memory");
	snprintf(r->detail, sizeof(r->detail), "id=%lld network=%s ipv4=%s ipv6=%s",
		 (long long)n.id, net.name, n.ipv4, n.ipv6);
	if (expire)
		n.expires = r->now;
	r->result = ops_json_node(o, &n, net.name, r->now);
	return 0;
}

static int ops_node_delete(struct ops *o, struct json_object *args, struct ops_res *r)
{
	return ops_node_removal(o, args, r, false);
}

static int ops_node_expire(struct ops *o, struct json_object *args, struct ops_res *r)
{
	return ops_node_removal(o, args, r, true);
}

static int ops_node_rename(struct ops *o, struct json_object *args, struct ops_res *r)
{
	const char *name = ops_str(args, "name");
	char err[IPAM_ERR_SIZE];
	struct store_network net;
	struct store_node n;
	int rc;

	snprintf(r->object, sizeof(r->object), "%s", ops_str(args, "node"));
	if (ipam_name_check(name, "node name", err))
		return ops_fail(r, -EINVAL, "%s", err);
	if ((rc = ops_node_find(o, r, ops_str(args, "node"), ops_str(args, "network"), &n)))
		return rc;
	if (store_network_get_id(o->st, n.network_id, &net))
		snprintf(net.name, sizeof(net.name), "?");
	snprintf(r->object, sizeof(r->object), "%s", n.name);
	rc = store_node_rename(o->st, n.id, name);
	if (rc == -EEXIST)
		return ops_fail(r, rc, "name \"%s\" is already taken in network \"%s\"; "
				"choose another", name, net.name);
	if (rc)
		return ops_store_fail(o, r, rc, NULL);
	snprintf(r->detail, sizeof(r->detail), "id=%lld network=%s new name %s",
		 (long long)n.id, net.name, name);
	snprintf(n.name, sizeof(n.name), "%s", name);
	if (!ops_touch(r, &n, net.name, false))
		return ops_fail(r, -ENOMEM, "out of memory");
	r->result = ops_json_node(o, &n, net.name, r->now);
	return 0;
}

/* --- audit and status --- */

static struct json_object *ops_json_audit(const struct store_audit *a)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_int64(a->id));
	json_object_object_add(j, "time", ops_json_time(a->time));
	json_object_object_add(j, "actor", json_object_new_string(a->actor));
	json_object_object_add(j, "action", json_object_new_string(a->action));
	json_object_object_add(j, "object", json_object_new_string(a->object));
	json_object_object_add(j, "result", json_object_new_string(a->result));
	json_object_object_add(j, "detail", json_object_new_string(a->detail));
	return j;
}

static int ops_audit_list(struct ops *o, struct json_object *args, struct ops_res *r)
{
	const char *since_text = ops_str(args, "since");
	struct store_audit *page = malloc(OPS_PAGE * sizeof(*page));
	char err[256];
	int64_t since = 0, after = 0;
	size_t got, total = 0;
	int rc;

	snprintf(r->object, sizeof(r->object), "since %s", since_text ? since_text : "start");
	if (!page)
		return ops_fail(r, -ENOMEM, "out of memory");
	if (since_text && when_parse(since_text, r->now, &since, err, sizeof(err))) {
		free(page);
		return ops_fail(r, -EINVAL, "bad --since: %s", err);
	}
	r->result = json_object_new_array();
	do {
		if ((rc = store_audit_list(o->st, since, after, page, OPS_PAGE, &got)))
			break;
		for (size_t i = 0; i < got; i++)
			json_object_array_add(r->result, ops_json_audit(&page[i]));
		if (got)
			after = page[got - 1].id;
		total += got;
	} while (got == OPS_PAGE);
	free(page);
	if (rc)
		return ops_store_fail(o, r, rc, NULL);
	snprintf(r->detail, sizeof(r->detail), "%zu entries", total);
	return 0;
}

/* The relay's connections and counters, flat (the text status prints
 * them one per line). */
static struct json_object *ops_json_relay(const struct relayd *relay)
{
#define F(x) { #x, offsetof(struct relayd_stats, x) }
	static const struct { const char *name; size_t off; } f[] = {
		F(open), F(opening), F(accepted), F(authenticated), F(replaced),
		F(frames), F(bytes), F(to_server), F(from_server), F(pings),
		F(drop_no_peer), F(drop_not_node), F(drop_queue_full),
		F(drop_memory), F(drop_gone), F(refused_full), F(opening_evicted),
		F(refused_dh_rate), F(bad_hello), F(bad_proof), F(open_timeouts),
		F(open_abandoned), F(idle_timeouts), F(broken_streams), F(closed),
		F(tls_accepted), F(tls_handshakes), F(bad_tls),
	};
#undef F
	struct json_object *j = json_object_new_object();
	struct relayd_stats s;

	relayd_get_stats(relay, &s);
	json_object_object_add(j, "listen", json_object_new_string(relayd_address(relay)));
	json_object_object_add(j, "listen_tls", relayd_tls_address(relay) ?
		json_object_new_string(relayd_tls_address(relay)) : NULL);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		uint64_t v;
		memcpy(&v, (const char *)&s + f[i].off, sizeof(v));
		json_object_object_add(j, f[i].name, json_object_new_int64((int64_t)v));
	}
	return j;
}

static int ops_status(struct ops *o, struct json_object *args, struct ops_res *r)
{
	struct json_object *j = json_object_new_object(), *c = NULL;
	char key[48];

	b64_encode(key, o->server_pub, 32, B64_STD);
	json_object_object_add(j, "public_key", json_object_new_string(key));
	json_object_object_add(j, "endpoint", json_object_new_string(o->endpoint));
	json_object_object_add(j, "listen", json_object_new_string(o->listen));
	json_object_object_add(j, "started", ops_json_time(o->started));
	json_object_object_add(j, "uptime_s", json_object_new_int64(r->now - o->started));
	if (o->ctl) {
		struct control_stats s;
		control_get_stats(o->ctl, &s);
		c = json_object_new_object();
		json_object_object_add(c, "sessions", json_object_new_int64((int64_t)s.sessions));
		json_object_object_add(c, "registers", json_object_new_int64((int64_t)s.registers));
		json_object_object_add(c, "lookups", json_object_new_int64((int64_t)s.lookups));
		json_object_object_add(c, "notifies", json_object_new_int64((int64_t)s.notifies));
		json_object_object_add(c, "errors", json_object_new_int64((int64_t)s.errors));
		json_object_object_add(c, "stun_answered", json_object_new_int64((int64_t)s.stun_answered));
	}
	json_object_object_add(j, "control", c);
	json_object_object_add(j, "relay", o->relay ? ops_json_relay(o->relay) : NULL);
	if (o->stun) {
		const struct stunsrv_stats *ss = stunsrv_stats(o->stun);
		struct json_object *st = json_object_new_object();
		json_object_object_add(st, "port", json_object_new_int(stunsrv_port(o->stun)));
		json_object_object_add(st, "requests", json_object_new_int64((int64_t)ss->requests));
		json_object_object_add(st, "answered", json_object_new_int64((int64_t)ss->answered));
		json_object_object_add(st, "errors_sent", json_object_new_int64((int64_t)ss->errors_sent));
		json_object_object_add(st, "dropped", json_object_new_int64((int64_t)ss->dropped));
		json_object_object_add(j, "stun", st);
	} else {
		json_object_object_add(j, "stun", NULL);
	}
	r->result = j;
	snprintf(r->object, sizeof(r->object), "server");
	return 0;
}

/* --- dispatch --- */

#define S json_type_string
#define B json_type_boolean
static const struct ops_cmd ops_cmds[] = {
	{ "network.create", ops_network_create,
	  { { "name", S, true }, { "prefix4", S, false }, { "prefix6", S, false } } },
	{ "network.list", ops_network_list, { { 0 } } },
	{ "network.delete", ops_network_delete,
	  { { "name", S, true }, { "force", B, false } } },
	{ "key.create", ops_key_create,
	  { { "network", S, true }, { "reusable", B, false }, { "ephemeral", B, false },
	    { "expires", S, false }, { "tags", json_type_array, false } } },
	{ "key.list", ops_key_list, { { "network", S, false } } },
	{ "key.revoke", ops_key_revoke, { { "id", S, true } } },
	{ "node.list", ops_node_list, { { "network", S, false } } },
	{ "node.delete", ops_node_delete, { { "node", S, true }, { "network", S, false } } },
	{ "node.rename", ops_node_rename,
	  { { "node", S, true }, { "name", S, true }, { "network", S, false } } },
	{ "node.expire", ops_node_expire, { { "node", S, true }, { "network", S, false } } },
	{ "audit.list", ops_audit_list, { { "since", S, false } } },
	{ "status", ops_status, { { 0 } } },
};
#undef S
#undef B

static const char *ops_type_name(enum json_type t)
{
	return t == json_type_string ? "a string" : t == json_type_boolean ? "true or false"
	       : t == json_type_array ? "an array" : "of another type";
}

/* Strict args: only the command's fields, each of its type, required ones
 * present.  0 or -EINVAL with the problem in r. */
static int ops_check_args(const struct ops_cmd *c, struct json_object *args,
			  struct ops_res *r)
{
	struct json_object_iterator it = json_object_iter_begin(args),
				    end = json_object_iter_end(args);
	const struct ops_field *f;
	struct json_object *v;

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		for (f = c->fields; f->name && strcmp(f->name, k); f++)
			;
		if (!f->name)
			return ops_fail(r, -EINVAL, "%s has no argument \"%.32s\"",
					c->name, k);
		if (!json_object_is_type(json_object_iter_peek_value(&it), f->type))
			return ops_fail(r, -EINVAL, "%s: \"%s\" must be %s", c->name,
					k, ops_type_name(f->type));
	}
	for (f = c->fields; f->name; f++)
		if (f->required && !json_object_object_get_ex(args, f->name, &v))
			return ops_fail(r, -EINVAL, "%s needs \"%s\"", c->name, f->name);
	return 0;
}

static void ops_audit(struct ops *o, struct ops_res *r, const char *action,
		      const char *result, const char *detail)
{
	if (store_audit_append(o->st, r->now, r->actor, action, r->object, result,
			       detail, NULL))
		log_error("audit: cannot record %s %s by %s: %s", action, r->object,
			  r->actor, store_errmsg(o->st));
}

/* The command and its audit entry in one transaction. */
static int ops_run(struct ops *o, const struct ops_cmd *c, struct json_object *args,
		   struct ops_res *r)
{
	int rc;

	if ((rc = ops_check_args(c, args, r))) {
		ops_audit(o, r, c->name, r->reason, r->error);
		return rc;
	}
	if ((rc = store_begin(o->st))) {
		ops_fail(r, rc, "the database is busy (%s); try again", store_errmsg(o->st));
		ops_audit(o, r, c->name, r->reason, r->error);
		return rc;
	}
	if ((rc = c->fn(o, args, r))) {
		store_rollback(o->st);
		r->n_touched = 0;
		ops_audit(o, r, c->name, r->reason, r->error);
		return rc;
	}
	if ((rc = store_audit_append(o->st, r->now, r->actor, c->name, r->object,
				     "ok", r->detail, NULL)) ||
	    (rc = store_commit(o->st))) {
		ops_fail(r, rc, "cannot record the change (%s); nothing was changed",
			 store_errmsg(o->st));
		store_rollback(o->st);
		r->n_touched = 0;
		log_error("admin: %s %s: %s", c->name, r->object, r->error);
	}
	return rc;
}

/* After the commit: the nodes that knew a touched node hear of it, and
 * the log gets one line per node lifecycle event. */
static void ops_pushed(struct ops *o, const struct ops_res *r, const char *command,
		       const struct ops_touched *t)
{
	if (t->removed) {
		log_info("node %s (network %s) removed by %s (%s); its key may "
			 "not register again", t->name, t->network, r->actor, command);
		if (o->ctl)
			control_node_removed(o->ctl, t->id);
	} else {
		log_info("node %s (network %s) renamed from %s by %s", t->name,
			 t->network, r->object, r->actor);
		if (o->ctl)
			control_node_changed(o->ctl, t->id);
	}
}

struct json_object *ops_handle(void *ctx, const struct admin_peer *peer,
			       const char *command, struct json_object *args,
			       const char *malformed)
{
	struct ops *o = ctx;
	char actor[STORE_AUDIT_FIELD];
	struct ops_res r = { .actor = actor, .now = (int64_t)time(NULL) };
	const struct ops_cmd *c = NULL;
	struct json_object *resp;
	int rc = -EINVAL;

	snprintf(actor, sizeof(actor), "admin:uid=%u", (unsigned)peer->uid);
	snprintf(r.object, sizeof(r.object), "-");
	for (size_t i = 0; command && i < sizeof(ops_cmds) / sizeof(*ops_cmds); i++)
		if (!strcmp(ops_cmds[i].name, command))
			c = &ops_cmds[i];
	if (command && (malformed || !c))
		snprintf(r.object, sizeof(r.object), "%s", command);
	if (malformed) {
		ops_fail(&r, rc, "malformed admin request: %s", malformed);
		ops_audit(o, &r, "admin.request", "malformed", malformed);
	} else if (!c) {
		ops_fail(&r, rc, "unknown admin command \"%.64s\" (is the CLI newer "
			 "than the running server?)", command);
		ops_audit(o, &r, "admin.request", "unknown command", r.error);
	} else {
		/* The control plane audits reconnects in batches: the log
		 * an administrator reads is complete up to now. */
		if (c->fn == ops_audit_list && o->ctl && control_flush(o->ctl))
			log_warn("audit: pending entries not written yet: %s",
				 store_errmsg(o->st));
		rc = ops_run(o, c, args, &r);
	}
	for (size_t i = 0; rc == 0 && i < r.n_touched; i++)
		ops_pushed(o, &r, c->name, &r.touched[i]);
	free(r.touched);
	if (rc) {
		log_info("%s: %s %s refused: %s", actor, c ? c->name : "request",
			 r.object, r.error);
		json_object_put(r.result);
		return admin_error("%s", r.error);
	}
	log_info("%s: %s %s ok%s%s", actor, c->name, r.object,
		 r.detail[0] ? ": " : "", r.detail);
	resp = admin_ok(r.result);
	return resp;
}

/* --- ephemeral nodes --- */

/* One ephemeral node offline too long: deleted with its audit entry in one
 * transaction, then pushed.  Its key is not forbidden: the same machine may
 * join again with an ephemeral key. */
static void ops_reap_node(struct ops *o, const struct store_node *n,
			  int64_t last_seen, int64_t now)
{
	char detail[STORE_AUDIT_DETAIL], seen[WHEN_SIZE], net[STORE_NAME_SIZE];
	struct store_network nw;

	when_format(last_seen, seen);
	snprintf(net, sizeof(net), "%s",
		 store_network_get_id(o->st, n->network_id, &nw) ? "?" : nw.name);
	snprintf(detail, sizeof(detail), "ephemeral node reaped: offline since %s "
		 "(longer than %llds); id=%lld network=%s", seen,
		 (long long)o->ephemeral_timeout, (long long)n->id, net);
	if (store_begin(o->st))
		return;
	if (store_node_delete(o->st, n->id) ||
	    store_audit_append(o->st, now, "server", "node.reap", n->name, "ok",
			       detail, NULL) ||
	    store_commit(o->st)) {
		log_error("ephemeral node %s: %s", n->name, store_errmsg(o->st));
		store_rollback(o->st);
		return;
	}
	log_info("node %s (network %s) removed: ephemeral, offline since %s",
		 n->name, net, seen);
	if (o->ctl)
		control_node_removed(o->ctl, n->id);
}

void ops_reap(struct ops *o, int64_t now)
{
	struct store_node page[16];
	int64_t after = 0, before = now - o->ephemeral_timeout;
	size_t got;

	do {
		if (store_node_list_stale_ephemeral(o->st, before, after, page, 16, &got)) {
			log_error("ephemeral nodes: %s", store_errmsg(o->st));
			return;
		}
		for (size_t i = 0; i < got; i++) {
			struct control_presence p = { 0 };
			after = page[i].id;
			/* The store lags the live sessions: ask them last. */
			if (o->ctl)
				control_presence(o->ctl, page[i].public_key, &p);
			if (p.last_seen >= before)
				continue;
			ops_reap_node(o, &page[i], p.last_seen > page[i].last_seen ?
				      p.last_seen : page[i].last_seen, now);
		}
	} while (got == 16);
}
