/*
 * weft-server — the coordination server and its admin CLI.
 *
 *   weft-server [--state-dir DIR] COMMAND [ARGS] [--help]
 *
 * A table of subcommands: `init` and `serve` work on the state directory
 * themselves; every other command is a request to the running server over
 * its admin socket (cli.c).  --help prints to stdout and exits 0; usage
 * errors go to stderr with exit 1; every failure is one line saying what
 * failed and what to do.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "crypto.h"
#include "encoding.h"
#include "ipam.h"
#include "log.h"
#include "noise.h"
#include "ops.h"
#include "serve.h"
#include "state.h"

#define WEFT_VERSION "0.1.0"

_Static_assert(CONTROL_ONLINE_WINDOW_S == 180, "nodes list --help names the window");

static int main_init(struct cli *c);
static int main_serve(struct cli *c);

static const struct cli_cmd main_cmds[] = {
	{ NULL, "init", "--endpoint HOST:PORT [--listen ADDR:PORT]",
	  "create the server key pair and database in the state directory",
	  "  --endpoint HOST:PORT  where nodes reach this server (join tokens carry it);\n"
	  "                        several may be given as HOST:PORT,HOST:PORT\n"
	  "  --listen ADDR:PORT    UDP address to listen on (default 0.0.0.0 and the\n"
	  "                        endpoint's port; [::]:PORT for an IPv6 endpoint)\n",
	  0, 0, { "--endpoint=", "--listen=" }, main_init },
	{ NULL, "serve", "[--check] [--ephemeral-timeout DURATION] "
	  "[--relay-listen ADDR:PORT | --no-relay] [--relay-tls-listen ADDR:PORT] "
	  "[--stun-listen ADDR:PORT | --no-stun] "
	  "[--log-level LEVEL]",
	  "run the server in the foreground (logs to stderr)",
	  "  --check                      check the state directory, key and database,\n"
	  "                               print what was found and exit\n"
	  "  --foreground                 accepted for symmetry: serve always runs in\n"
	  "                               the foreground\n"
	  "  --ephemeral-timeout DURATION remove nodes joined with an ephemeral key\n"
	  "                               once nothing came from them for this long\n"
	  "                               (90s, 30m, 12h, 1h30m; default 10m); keep\n"
	  "                               it above weftd's 25 s keepalive, or idle\n"
	  "                               but running nodes are removed too\n"
	  "  --relay-listen ADDR:PORT     TCP address of the relay (default: the\n"
	  "                               control plane's UDP address and port, so\n"
	  "                               nodes reach both at the token's endpoint)\n"
	  "  --relay-tls-listen ADDR:PORT also serve the relay inside TLS here\n"
	  "                               (e.g. 0.0.0.0:443; off by default), for\n"
	  "                               nodes behind firewalls that pass only\n"
	  "                               HTTPS (weftd --relay-tls PORT); the\n"
	  "                               certificate is self-signed, made at start\n"
	  "  --no-relay                   no relay: nodes that cannot use UDP to\n"
	  "                               the server or each other cannot join\n"
	  "  --stun-listen ADDR:PORT[,..] UDP address(es) of the STUN responder\n"
	  "                               (default 0.0.0.0:3478, [::]:3478 for an\n"
	  "                               IPv6 listen address); the control port\n"
	  "                               answers STUN too\n"
	  "  --no-stun                    no STUN responder on its own port\n"
	  "  --log-level LEVEL            debug, info (default), warn or error\n",
	  0, 0, { "--check", "--foreground", "--ephemeral-timeout=", "--relay-listen=",
		  "--no-relay", "--stun-listen=", "--no-stun", "--log-level=" },
	  main_serve },
	{ "networks", "create", "NAME [--prefix4 CIDR] [--prefix6 CIDR]",
	  "create an overlay network",
	  "  --prefix4 CIDR  IPv4 prefix (default: a free /16 of 100.64.0.0/10;\n"
	  "                  \"none\" for no IPv4)\n"
	  "  --prefix6 CIDR  IPv6 prefix (default: a free /64 of the server's ULA /48;\n"
	  "                  \"none\" for no IPv6)\n"
	  "  --json          print the new network as JSON\n",
	  1, 1, { "--prefix4=", "--prefix6=", "--json" }, cli_networks_create },
	{ "networks", "list", "[--json]", "list the overlay networks",
	  "  --json  print JSON\n", 0, 0, { "--json" }, cli_networks_list },
	{ "networks", "delete", "NAME [--force]",
	  "delete a network (refused while it has nodes unless --force)",
	  "  --force  delete its nodes and join keys with it\n"
	  "  --json   print the result as JSON\n",
	  1, 1, { "--force", "--json" }, cli_networks_delete },
	{ "keys", "create",
	  "--network NAME [--reusable] [--ephemeral] [--expires DURATION] [--tag TAG]...",
	  "create a join key and print its join token (one line)",
	  "  --network NAME       the network the key joins nodes to\n"
	  "  --reusable           admit any number of nodes (default: one)\n"
	  "  --ephemeral          nodes joined with it are removed when offline\n"
	  "  --expires DURATION   the key stops working after this long (90s, 30m,\n"
	  "                       12h, 7d, 1h30m; default never)\n"
	  "  --tag TAG            give joined nodes this tag (repeatable)\n"
	  "  --json               print the key and token as JSON\n",
	  0, 0, { "--network=", "--reusable", "--ephemeral", "--expires=", "--tag=*",
		  "--json" }, cli_keys_create },
	{ "keys", "list", "[--network NAME] [--json]",
	  "list join keys (never their secrets)",
	  "  --network NAME  only this network's keys\n  --json          print JSON\n",
	  0, 0, { "--network=", "--json" }, cli_keys_list },
	{ "keys", "revoke", "ID", "revoke a join key (nodes it admitted stay)",
	  "  --json  print the result as JSON\n", 1, 1, { "--json" }, cli_keys_revoke },
	{ "nodes", "list", "[--network NAME] [--json]",
	  "list nodes: name, addresses, key, online, last seen, endpoints",
	  "  --network NAME  only this network's nodes\n  --json          print JSON\n"
	  "  (ONLINE is yes when the server had a packet from the node in the\n"
	  "  last 180 s; LAST SEEN is the time of the latest one)\n",
	  0, 0, { "--network=", "--json" }, cli_nodes_list },
	{ "nodes", "delete", "NAME|ID [--network NAME]",
	  "delete a node; its peers lose it at once and it cannot rejoin with its key",
	  "  --network NAME  the node's network (needed when the name is in several)\n"
	  "  --json          print the deleted node as JSON\n",
	  1, 1, { "--network=", "--json" }, cli_nodes_delete },
	{ "nodes", "rename", "OLD NEW [--network NAME]",
	  "rename a node; the nodes that looked it up are told at once",
	  "  --network NAME  the node's network (needed when the name is in several)\n"
	  "  --json          print the renamed node as JSON\n",
	  2, 2, { "--network=", "--json" }, cli_nodes_rename },
	{ "nodes", "expire", "NAME|ID [--network NAME]",
	  "expire a node now: it is disconnected and must join again with a new key",
	  "  --network NAME  the node's network (needed when the name is in several)\n"
	  "  --json          print the expired node as JSON\n",
	  1, 1, { "--network=", "--json" }, cli_nodes_expire },
	{ NULL, "audit", "[--since TIME] [--json]",
	  "show the audit log: every admin command and node lifecycle event",
	  "  --since TIME  only entries from TIME on: RFC 3339\n"
	  "                (2024-05-01T12:00:00Z) or a duration ago (1h, 7d)\n"
	  "  --json        print JSON\n",
	  0, 0, { "--since=", "--json" }, cli_audit },
	{ NULL, "status", "[--json]", "show the running server's key, addresses and counters",
	  "  --json  print JSON\n", 0, 0, { "--json" }, cli_status },
};
#define MAIN_N_CMDS (sizeof(main_cmds) / sizeof(*main_cmds))
static const char *const main_groups[] = { "networks", "keys", "nodes" };

/* --- help --- */

static void main_usage_line(FILE *f, const struct cli_cmd *c)
{
	fprintf(f, "  weft-server %s%s%s %s\n", c->group ? c->group : "",
		c->group ? " " : "", c->name, c->usage);
}

static void main_help_all(FILE *f)
{
	fprintf(f, "usage: weft-server [--state-dir DIR] COMMAND [ARGS] [--help]\n\n"
		"The weft coordination server and its admin commands.\n\n"
		"commands:\n");
	for (size_t i = 0; i < MAIN_N_CMDS; i++)
		main_usage_line(f, &main_cmds[i]);
	fprintf(f, "\nThe state directory (key, database, admin socket) is --state-dir\n"
		"DIR, else $%s, else %s.  Commands other than init and\n"
		"serve talk to the running server.  Run any command with --help.\n",
		STATE_ENV_DIR, STATE_DEFAULT_DIR);
}

static void main_help_group(FILE *f, const char *group)
{
	fprintf(f, "usage: weft-server %s COMMAND [ARGS] [--help]\n\ncommands:\n", group);
	for (size_t i = 0; i < MAIN_N_CMDS; i++)
		if (main_cmds[i].group && !strcmp(main_cmds[i].group, group)) {
			main_usage_line(f, &main_cmds[i]);
			fprintf(f, "      %s\n", main_cmds[i].summary);
		}
}

static void main_help_cmd(const struct cli_cmd *c)
{
	printf("usage: weft-server %s%s%s %s\n\n%s.\n\noptions:\n%s"
	       "  --state-dir DIR  the state directory (default $%s, else %s)\n"
	       "  --help           show this help\n",
	       c->group ? c->group : "", c->group ? " " : "", c->name, c->usage,
	       c->summary, c->help ? c->help : "", STATE_ENV_DIR, STATE_DEFAULT_DIR);
}

/* --- parsing --- */

__attribute__((format(printf, 2, 3)))
static int main_usage_error(const struct cli_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "weft-server%s%s%s%s: ", c ? " " : "",
		c && c->group ? c->group : "", c && c->group ? " " : "", c ? c->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (c)
		fprintf(stderr, "; see: weft-server %s%s%s --help\n",
			c->group ? c->group : "", c->group ? " " : "", c->name);
	else
		fprintf(stderr, "; see: weft-server --help\n");
	return 1;
}

const char *cli_opt(const struct cli *c, const char *name)
{
	for (int i = 0; i < c->n_opts; i++)
		if (!strcmp(c->opt_name[i], name))
			return c->opt_val[i];
	return NULL;
}

bool cli_flag(const struct cli *c, const char *name)
{
	return cli_opt(c, name) != NULL;
}

/* serve's options beyond the eight slots of struct cli_cmd (cli.h). */
static const char *const main_serve_more[] = { "--relay-tls-listen=", NULL };

static const char *main_opt_match(const char *spec, const char *name, size_t len)
{
	return !strncmp(spec, name, len) && (spec[len] == '\0' || spec[len] == '=') ?
	       spec : NULL;
}

/* The command's spec for option name ("--x"): NULL when unknown. */
static const char *main_opt_spec(const struct cli_cmd *c, const char *name, size_t len)
{
	const char *spec = NULL;

	for (size_t i = 0; i < 8 && c->opts[i] && !spec; i++)
		spec = main_opt_match(c->opts[i], name, len);
	for (size_t i = 0; c->run == main_serve && main_serve_more[i] && !spec; i++)
		spec = main_opt_match(main_serve_more[i], name, len);
	return spec;
}

static int main_parse_opt(struct cli *c, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	bool state_dir = len == 11 && !strncmp(arg, "--state-dir", len);
	const char *spec = state_dir ? "--state-dir=" : main_opt_spec(c->cmd, arg, len);
	const char *val;
	bool takes, multi;

	if (!spec || len >= sizeof(c->opt_name[0]))
		return main_usage_error(c->cmd, "unknown option '%.*s'", (int)len, arg);
	takes = spec[len] == '=';
	multi = takes && spec[len + 1] == '*';
	if (!takes && eq)
		return main_usage_error(c->cmd, "option %.*s takes no value", (int)len, arg);
	val = eq ? eq + 1 : !takes ? "" : *i + 1 < argc ? argv[++*i] : NULL;
	if (!val)
		return main_usage_error(c->cmd, "option %.*s needs a value", (int)len, arg);
	if (state_dir) {
		c->state_dir = val;
		return 0;
	}
	for (int k = 0; k < c->n_opts && !multi; k++)
		if (!strncmp(c->opt_name[k], arg, len) && !c->opt_name[k][len])
			return main_usage_error(c->cmd, "option %.*s is given twice",
						(int)len, arg);
	if (c->n_opts == CLI_MAX_OPTS)
		return main_usage_error(c->cmd, "too many options");
	memcpy(c->opt_name[c->n_opts], arg, len);
	c->opt_name[c->n_opts][len] = '\0';
	c->opt_val[c->n_opts++] = val;
	return 0;
}

/* Options and positionals after the command words.  Returns 0, 1 (usage
 * error, printed) or 2 (--help, printed). */
static int main_parse_args(struct cli *c, int argc, char **argv, int i)
{
	bool only_pos = false;

	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			main_help_cmd(c->cmd);
			return 2;
		}
		if (!only_pos && !strcmp(a, "--")) {
			only_pos = true;
		} else if (!only_pos && a[0] == '-' && a[1]) {
			if (a[1] != '-')
				return main_usage_error(c->cmd, "unknown option '%s'", a);
			if (main_parse_opt(c, argc, argv, &i))
				return 1;
		} else if (c->n_pos == c->cmd->max_pos) {
			return main_usage_error(c->cmd, "unexpected argument '%s'", a);
		} else {
			c->pos[c->n_pos++] = a;
		}
	}
	if (c->n_pos < c->cmd->min_pos)
		return main_usage_error(c->cmd, "missing argument (usage: weft-server "
					"%s%s%s %s)", c->cmd->group ? c->cmd->group : "",
					c->cmd->group ? " " : "", c->cmd->name, c->cmd->usage);
	return 0;
}

/* --- local commands --- */

static int main_init(struct cli *c)
{
	const char *endpoint = cli_opt(c, "--endpoint");
	char err[512], pub[48];
	uint8_t key[32];

	if (!endpoint)
		return main_usage_error(c->cmd, "--endpoint HOST:PORT is required "
					"(where nodes reach this server)");
	if (state_init(&c->paths, endpoint, cli_opt(c, "--listen"), key, err,
		       sizeof(err))) {
		fprintf(stderr, "weft-server init: %s\n", err);
		return 1;
	}
	b64_encode(pub, key, 32, B64_STD);
	fprintf(stderr, "initialised %s; start the server with: weft-server serve\n"
		"server public key:\n", c->paths.dir);
	printf("%s\n", pub);
	return 0;
}

static int main_serve(struct cli *c)
{
	struct serve_opts opt = { .check = cli_flag(c, "--check"),
				  .ephemeral_timeout = OPS_EPHEMERAL_TIMEOUT_S,
				  .no_relay = cli_flag(c, "--no-relay"),
				  .relay_listen = cli_opt(c, "--relay-listen"),
				  .relay_tls_listen = cli_opt(c, "--relay-tls-listen"),
				  .no_stun = cli_flag(c, "--no-stun"),
				  .stun_listen = cli_opt(c, "--stun-listen") };
	const char *timeout = cli_opt(c, "--ephemeral-timeout");
	const char *level = cli_opt(c, "--log-level");
	static const char *const levels[] = { "debug", "info", "warn", "error" };
	char err[IPAM_ERR_SIZE];
	size_t l = 0;

	if (timeout && ipam_duration_parse(timeout, &opt.ephemeral_timeout, err))
		return main_usage_error(c->cmd, "bad --ephemeral-timeout: %s", err);
	if (opt.no_relay && opt.relay_listen)
		return main_usage_error(c->cmd, "--relay-listen and --no-relay "
					"contradict each other: give one");
	if (opt.no_relay && opt.relay_tls_listen)
		return main_usage_error(c->cmd, "--relay-tls-listen and --no-relay "
					"contradict each other: give one");
	if (opt.no_stun && opt.stun_listen)
		return main_usage_error(c->cmd, "--stun-listen and --no-stun "
					"contradict each other: give one");
	if (level) {
		while (l < 4 && strcmp(levels[l], level))
			l++;
		if (l == 4)
			return main_usage_error(c->cmd, "bad --log-level '%s' (debug, "
						"info, warn or error)", level);
		log_set_level((enum log_level)l);
	}
	return serve_run(&c->paths, &opt);
}

/* --- dispatch --- */

static const struct cli_cmd *main_find(const char *group, const char *name)
{
	for (size_t i = 0; i < MAIN_N_CMDS; i++) {
		const struct cli_cmd *c = &main_cmds[i];
		if ((group ? c->group && !strcmp(c->group, group) : !c->group) &&
		    !strcmp(c->name, name))
			return c;
	}
	return NULL;
}

static bool main_is_group(const char *word)
{
	for (size_t i = 0; i < sizeof(main_groups) / sizeof(*main_groups); i++)
		if (!strcmp(main_groups[i], word))
			return true;
	return false;
}

static bool main_is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	const char *state_dir = NULL, *group = NULL;
	char err[512];
	int i = 1, r;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (main_is_help(argv[i])) {
			main_help_all(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("weft-server %s\n", WEFT_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc) {
			state_dir = argv[++i];
		} else if (!strcmp(argv[i], "--state-dir")) {
			return main_usage_error(NULL, "option --state-dir needs a value");
		} else if (!strncmp(argv[i], "--state-dir=", 12)) {
			state_dir = argv[i] + 12;
		} else {
			return main_usage_error(NULL, "unknown option '%s'", argv[i]);
		}
	}
	if (i == argc) {
		main_help_all(stderr);
		return 1;
	}
	if (main_is_help(argv[i])) {
		main_help_all(stdout);
		return 0;
	}
	if (main_is_group(argv[i])) {
		group = argv[i++];
		if (i == argc || argv[i][0] == '-') {
			bool help = i < argc && main_is_help(argv[i]);
			main_help_group(help ? stdout : stderr, group);
			return help ? 0 : 1;
		}
	}
	if (!(c.cmd = main_find(group, argv[i])))
		return group ? main_usage_error(NULL, "unknown command '%s %s'", group, argv[i])
			     : main_usage_error(NULL, "unknown command '%s'", argv[i]);
	c.state_dir = state_dir;
	if ((r = main_parse_args(&c, argc, argv, i + 1)))
		return r == 2 ? 0 : 1;
	if (state_paths(&c.paths, c.state_dir, err, sizeof(err))) {
		fprintf(stderr, "weft-server: %s\n", err);
		return 1;
	}
	if (!crypto_init()) {
		fprintf(stderr, "weft-server: cannot initialise the crypto library "
			"(OpenSSL); check the installation\n");
		return 1;
	}
	noise_init();	/* the control plane's handshakes need its constants */
	return c.cmd->run(&c) ? 1 : 0;
}
