/*
 * cli — weft-server's command line: a table of subcommands (main.c) and
 * the admin commands' client side (cli.c): each builds one admin request,
 * sends it over admin.sock and prints the answer as a table or, with
 * --json, as JSON.  Errors: one line on stderr, exit status 1.
 */
#ifndef WEFT_SERVER_CLI_H
#define WEFT_SERVER_CLI_H

#include <stdbool.h>

#include "state.h"

#define CLI_MAX_POS  4
#define CLI_MAX_OPTS 32

struct cli;

struct cli_cmd {
	const char *group;	/* "networks", ...; NULL for a top-level command */
	const char *name;
	const char *usage;	/* what follows the command words */
	const char *summary;	/* one line */
	const char *help;	/* the options, one per line; may be NULL */
	int min_pos, max_pos;
	/* "--name" is a flag, "--name=" takes a value, "--name=*" takes one
	 * and may be repeated. --state-dir and --help are always accepted. */
	const char *opts[8];
	int (*run)(struct cli *c);
};

struct cli {
	const struct cli_cmd *cmd;
	const char *state_dir;		/* --state-dir, or NULL */
	struct state_paths paths;	/* resolved before run */
	const char *pos[CLI_MAX_POS];
	int n_pos;
	char opt_name[CLI_MAX_OPTS][32];	/* "--network" */
	const char *opt_val[CLI_MAX_OPTS];	/* "" for a flag */
	int n_opts;
};

/* The value of option name ("--network"), or NULL. */
const char *cli_opt(const struct cli *c, const char *name);
bool cli_flag(const struct cli *c, const char *name);

/* Admin commands (cli.c). */
int cli_networks_create(struct cli *c);
int cli_networks_list(struct cli *c);
int cli_networks_delete(struct cli *c);
int cli_keys_create(struct cli *c);
int cli_keys_list(struct cli *c);
int cli_keys_revoke(struct cli *c);
int cli_nodes_list(struct cli *c);
int cli_nodes_delete(struct cli *c);
int cli_nodes_rename(struct cli *c);
int cli_nodes_expire(struct cli *c);
int cli_audit(struct cli *c);
int cli_status(struct cli *c);

#endif
