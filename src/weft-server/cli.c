/* cli — the admin commands' client side; see cli.h. */
#include "cli.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"

#define CLI_MAX_COLS 10

/* --- talking to the server --- */

/* Sends command with args (taken over); 0 with *result, or 1 after
 * printing the error line. */
static int cli_call(struct cli *c, const char *command, struct json_object *args,
		    struct json_object **result)
{
	char err[1024];
	int r = admin_call(c->paths.sock, command, args, result, err, sizeof(err));

	json_object_put(args);
	if (r == 0)
		return 0;
	fprintf(stderr, "weft-server %s%s%s: %s\n", c->cmd->group ? c->cmd->group : "",
		c->cmd->group ? " " : "", c->cmd->name, err);
	return 1;
}

static void cli_print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_SPACED |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Prints the result as JSON when --json was given; true then. */
static bool cli_json_out(struct cli *c, struct json_object *result)
{
	if (!cli_flag(c, "--json"))
		return false;
	cli_print_json(result);
	return true;
}

static struct json_object *cli_args(void)
{
	return json_object_new_object();
}

static void cli_arg(struct json_object *args, const char *name, const char *value)
{
	if (value)
		json_object_object_add(args, name, json_object_new_string(value));
}

/* --- reading results --- */

/* A member as text: strings as they are, null as dflt, others as JSON. */
static const char *cli_field(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return dflt;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v) ? "yes" : "no";
	return json_object_get_string(v);
}

/* An array of strings joined with commas into buf ("-" when empty). */
static const char *cli_list(struct json_object *o, const char *key, char *buf,
			    size_t size)
{
	struct json_object *a;
	size_t len = 0;

	buf[0] = '\0';
	if (json_object_object_get_ex(o, key, &a) && json_object_is_type(a, json_type_array))
		for (size_t i = 0; i < json_object_array_length(a) && len < size; i++)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "," : "",
				json_object_get_string(json_object_array_get_idx(a, i)));
	return buf[0] ? buf : "-";
}

/* --- tables --- */

struct cli_table {
	size_t ncol;
	const char *head[CLI_MAX_COLS];
	struct json_object *rows;	/* arrays of strings */
	struct json_object *row;	/* being filled */
};

static void cli_table_init(struct cli_table *t, const char *const *head, size_t ncol)
{
	t->ncol = ncol;
	memcpy(t->head, head, ncol * sizeof(*head));
	t->rows = json_object_new_array();
	t->row = NULL;
}

static void cli_cell(struct cli_table *t, const char *text)
{
	if (!t->row) {
		t->row = json_object_new_array();
		json_object_array_add(t->rows, t->row);
	}
	json_object_array_add(t->row, json_object_new_string(text && *text ? text : "-"));
	if (json_object_array_length(t->row) == t->ncol)
		t->row = NULL;
}

static const char *cli_cell_at(struct cli_table *t, size_t r, size_t col)
{
	struct json_object *row = json_object_array_get_idx(t->rows, r);

	return json_object_get_string(json_object_array_get_idx(row, col));
}

static void cli_table_print(struct cli_table *t)
{
	size_t w[CLI_MAX_COLS], n = json_object_array_length(t->rows);

	for (size_t col = 0; col < t->ncol; col++) {
		w[col] = strlen(t->head[col]);
		for (size_t r = 0; r < n; r++)
			if (strlen(cli_cell_at(t, r, col)) > w[col])
				w[col] = strlen(cli_cell_at(t, r, col));
	}
	for (size_t r = 0; r <= n; r++)
		for (size_t col = 0; col < t->ncol; col++) {
			const char *s = r ? cli_cell_at(t, r - 1, col) : t->head[col];
			if (col + 1 == t->ncol)
				printf("%s\n", s);
			else
				printf("%-*s  ", (int)w[col], s);
		}
	json_object_put(t->rows);
}

/* --- networks --- */

int cli_networks_create(struct cli *c)
{
	struct json_object *args = cli_args(), *res;

	cli_arg(args, "name", c->pos[0]);
	cli_arg(args, "prefix4", cli_opt(c, "--prefix4"));
	cli_arg(args, "prefix6", cli_opt(c, "--prefix6"));
	if (cli_call(c, "network.create", args, &res))
		return 1;
	if (!cli_json_out(c, res))
		printf("created network %s: IPv4 %s, IPv6 %s\n", cli_field(res, "name", "?"),
		       cli_field(res, "prefix4", "none"), cli_field(res, "prefix6", "none"));
	json_object_put(res);
	return 0;
}

int cli_networks_list(struct cli *c)
{
	static const char *const head[] = { "NAME", "PREFIX4", "PREFIX6", "NODES", "CREATED" };
	static const char *const keys[] = { "name", "prefix4", "prefix6", "nodes", "created" };
	struct json_object *res;
	struct cli_table t;

	if (cli_call(c, "network.list", NULL, &res))
		return 1;
	if (!cli_json_out(c, res)) {
		cli_table_init(&t, head, 5);
		for (size_t i = 0; i < json_object_array_length(res); i++)
			for (size_t k = 0; k < 5; k++)
				cli_cell(&t, cli_field(json_object_array_get_idx(res, i),
						       keys[k], "-"));
		cli_table_print(&t);
	}
	json_object_put(res);
	return 0;
}

int cli_networks_delete(struct cli *c)
{
	struct json_object *args = cli_args(), *res;

	cli_arg(args, "name", c->pos[0]);
	if (cli_flag(c, "--force"))
		json_object_object_add(args, "force", json_object_new_boolean(1));
	if (cli_call(c, "network.delete", args, &res))
		return 1;
	if (!cli_json_out(c, res))
		printf("deleted network %s (%s node(s) removed)\n", c->pos[0],
		       cli_field(res, "nodes_removed", "0"));
	json_object_put(res);
	return 0;
}

/* --- join keys --- */

int cli_keys_create(struct cli *c)
{
	struct json_object *args, *tags, *res;

	if (!cli_opt(c, "--network")) {
		fprintf(stderr, "weft-server keys create: --network NAME is required "
			"(the network the key joins nodes to); see: weft-server keys "
			"create --help\n");
		return 1;
	}
	args = cli_args();
	tags = json_object_new_array();
	cli_arg(args, "network", cli_opt(c, "--network"));
	if (cli_flag(c, "--reusable"))
		json_object_object_add(args, "reusable", json_object_new_boolean(1));
	if (cli_flag(c, "--ephemeral"))
		json_object_object_add(args, "ephemeral", json_object_new_boolean(1));
	cli_arg(args, "expires", cli_opt(c, "--expires"));
	for (int i = 0; i < c->n_opts; i++)
		if (!strcmp(c->opt_name[i], "--tag"))
			json_object_array_add(tags, json_object_new_string(c->opt_val[i]));
	if (json_object_array_length(tags))
		json_object_object_add(args, "tags", tags);
	else
		json_object_put(tags);
	if (cli_call(c, "key.create", args, &res))
		return 1;
	if (!cli_json_out(c, res))
		printf("%s\n", cli_field(res, "token", ""));
	json_object_put(res);
	return 0;
}

int cli_keys_list(struct cli *c)
{
	static const char *const head[] = { "ID", "NETWORK", "REUSABLE", "EPHEMERAL",
					    "EXPIRES", "USES", "REVOKED", "STATE", "TAGS" };
	static const char *const keys[] = { "id", "network", "reusable", "ephemeral",
					    "expires", "uses", "revoked", "state" };
	struct json_object *args = cli_args(), *res;
	struct cli_table t;
	char tags[512];

	cli_arg(args, "network", cli_opt(c, "--network"));
	if (cli_call(c, "key.list", args, &res))
		return 1;
	if (!cli_json_out(c, res)) {
		cli_table_init(&t, head, 9);
		for (size_t i = 0; i < json_object_array_length(res); i++) {
			struct json_object *k = json_object_array_get_idx(res, i);
			for (size_t f = 0; f < 8; f++)
				cli_cell(&t, cli_field(k, keys[f], f == 4 ? "never" : "-"));
			cli_cell(&t, cli_list(k, "tags", tags, sizeof(tags)));
		}
		cli_table_print(&t);
	}
	json_object_put(res);
	return 0;
}

int cli_keys_revoke(struct cli *c)
{
	struct json_object *args = cli_args(), *res;

	cli_arg(args, "id", c->pos[0]);
	if (cli_call(c, "key.revoke", args, &res))
		return 1;
	if (!cli_json_out(c, res))
		printf("revoked join key %s\n", c->pos[0]);
	json_object_put(res);
	return 0;
}

/* --- nodes --- */

int cli_nodes_list(struct cli *c)
{
	static const char *const head[] = { "NAME", "NETWORK", "IPV4", "IPV6", "KEY",
					    "ONLINE", "LAST SEEN", "ENDPOINTS" };
	static const char *const keys[] = { "name", "network", "ipv4", "ipv6",
					    "key_prefix", "online", "last_seen" };
	struct json_object *args = cli_args(), *res;
	struct cli_table t;
	char eps[1024];

	cli_arg(args, "network", cli_opt(c, "--network"));
	if (cli_call(c, "node.list", args, &res))
		return 1;
	if (!cli_json_out(c, res)) {
		cli_table_init(&t, head, 8);
		for (size_t i = 0; i < json_object_array_length(res); i++) {
			struct json_object *n = json_object_array_get_idx(res, i);
			for (size_t f = 0; f < 7; f++) {
				const char *v = cli_field(n, keys[f], f == 6 ? "never" : "-");
				if (f == 5 && !strcmp(cli_field(n, "expired", "no"), "yes"))
					v = "expired";
				cli_cell(&t, v);
			}
			cli_cell(&t, cli_list(n, "endpoints", eps, sizeof(eps)));
		}
		cli_table_print(&t);
	}
	json_object_put(res);
	return 0;
}

static int cli_node_cmd(struct cli *c, const char *command, const char *done)
{
	struct json_object *args = cli_args(), *res;

	cli_arg(args, "node", c->pos[0]);
	if (c->n_pos > 1)
		cli_arg(args, "name", c->pos[1]);
	cli_arg(args, "network", cli_opt(c, "--network"));
	if (cli_call(c, command, args, &res))
		return 1;
	if (cli_json_out(c, res))
		;
	else if (c->n_pos > 1)
		printf("%s node %s to %s (network %s)\n", done, c->pos[0], c->pos[1],
		       cli_field(res, "network", "?"));
	else
		printf("%s node %s (id %s, network %s)\n", done, cli_field(res, "name", "?"),
		       cli_field(res, "id", "?"), cli_field(res, "network", "?"));
	json_object_put(res);
	return 0;
}

int cli_nodes_delete(struct cli *c)
{
	return cli_node_cmd(c, "node.delete", "deleted");
}

int cli_nodes_rename(struct cli *c)
{
	return cli_node_cmd(c, "node.rename", "renamed");
}

int cli_nodes_expire(struct cli *c)
{
	return cli_node_cmd(c, "node.expire", "expired");
}

/* --- audit and status --- */

int cli_audit(struct cli *c)
{
	static const char *const head[] = { "TIME", "ACTOR", "ACTION", "OBJECT",
					    "RESULT", "DETAIL" };
	static const char *const keys[] = { "time", "actor", "action", "object",
					    "result", "detail" };
	struct json_object *args = cli_args(), *res;
	struct cli_table t;

	cli_arg(args, "since", cli_opt(c, "--since"));
	if (cli_call(c, "audit.list", args, &res))
		return 1;
	if (!cli_json_out(c, res)) {
		cli_table_init(&t, head, 6);
		for (size_t i = 0; i < json_object_array_length(res); i++)
			for (size_t f = 0; f < 6; f++)
				cli_cell(&t, cli_field(json_object_array_get_idx(res, i),
						       keys[f], "-"));
		cli_table_print(&t);
	}
	json_object_put(res);
	return 0;
}

int cli_status(struct cli *c)
{
	static const char *const keys[] = { "public_key", "endpoint", "listen",
					    "started", "uptime_s" };
	struct json_object *res, *ctl, *relay;

	if (cli_call(c, "status", NULL, &res))
		return 1;
	if (!cli_json_out(c, res)) {
		for (size_t i = 0; i < 5; i++)
			printf("%-11s %s\n", keys[i], cli_field(res, keys[i], "-"));
		if (json_object_object_get_ex(res, "control", &ctl) && ctl) {
			json_object_object_foreach(ctl, k, v)
				printf("%-11s %s\n", k, json_object_get_string(v));
		}
		if (json_object_object_get_ex(res, "relay", &relay) && relay) {
			json_object_object_foreach(relay, k, v)
				printf("relay %-17s %s\n", k, json_object_get_string(v));
		} else {
			printf("%-11s off\n", "relay");
		}
	}
	json_object_put(res);
	return 0;
}
