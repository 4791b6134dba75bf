/*
 * weft — the node's command line: talks to weftd over its Unix socket
 * (--socket PATH, WEFT_SOCKET, default /run/weft/weftd.sock) with the
 * admin protocol's framing (src/weft-server/admin.h).
 *
 *   weft up [--token TOKEN] [--hostname NAME]
 *   weft ip [-4|-6]
 *   weft status [--json]
 *   weft ping [-c COUNT] [-i SECONDS] PEER
 *   weft down
 *   weft logout
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"

#define DEFAULT_SOCKET "/run/weft/weftd.sock"

static const char *sock_path;

static void usage(FILE *f)
{
	fprintf(f,
"usage: weft [--socket PATH] COMMAND [ARGS]\n"
"\n"
"Controls the weft node agent (weftd) on this machine.\n"
"\n"
"  up [--token TOKEN] [--hostname NAME]\n"
"                     join the network the token names (first time), or\n"
"                     reconnect with the identity this node already has\n"
"  ip [-4|-6]         print this node's overlay address(es)\n"
"  status [--json]    this node, its server and the peers it knows\n"
"  ping [-c N] [-i S] PEER\n"
"                     round trips to PEER (name or overlay address)\n"
"                     through the tunnel, with latency and path\n"
"  netcheck [--json]  what the network allows: UDP, reflexive addresses,\n"
"                     NAT mapping by destination, relay latency\n"
"  down               take the interface down; keep the identity\n"
"  logout             leave the network; the server removes this node\n"
"\n"
"  --socket PATH      weftd's socket (default %s; WEFT_SOCKET)\n"
"\n"
"Run 'weft COMMAND --help' for a command's options.\n", DEFAULT_SOCKET);
}

/* One request; prints the error and returns NULL-result with rc 1 on
 * failure. */
static int call(const char *command, struct json_object *args,
		struct json_object **result)
{
	char err[1024];
	int r = admin_call(sock_path, command, args, result, err, sizeof(err));

	json_object_put(args);
	if (r) {
		fprintf(stderr, "weft: %s\n", err);
		return 1;
	}
	return 0;
}

static const char *get(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "hostname", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct json_object *args = json_object_new_object(), *res;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			json_object_object_add(args, "token", json_object_new_string(optarg));
			break;
		case 'n':
			json_object_object_add(args, "hostname", json_object_new_string(optarg));
			break;
		case 'h':
			printf("usage: weft up [--token TOKEN] [--hostname NAME]\n\n"
			       "Joins the network with TOKEN (from 'weft-server keys create'),\n"
			       "or, once joined, brings the node up again without one.\n"
			       "NAME is the name to ask for (default: this host's name).\n");
			json_object_put(args);
			return 0;
		default:
			json_object_put(args);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "weft up: unexpected argument '%s'\n", argv[optind]);
		json_object_put(args);
		return 2;
	}
	if (call("up", args, &res))
		return 1;
	printf("up: %s %s %s\n", get(res, "name"), get(res, "ipv4"), get(res, "ipv6"));
	json_object_put(res);
	return 0;
}

static int cmd_ip(int argc, char **argv)
{
	struct json_object *res;
	bool four = true, six = true;
	const char *a;
	char buf[64], *slash;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-4"))
			six = false;
		else if (!strcmp(argv[i], "-6"))
			four = false;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: weft ip [-4|-6]\n\nPrints this node's overlay "
			       "addresses, IPv4 then IPv6, one per line.\n");
			return 0;
		} else {
			fprintf(stderr, "weft ip: unknown option '%s' (try -4 or -6)\n", argv[i]);
			return 2;
		}
	}
	if (!four && !six) {
		fprintf(stderr, "weft ip: -4 and -6 exclude each other\n");
		return 2;
	}
	if (call("status", NULL, &res))
		return 1;
	if (!get(res, "ipv4")) {
		fprintf(stderr, "weft: this node has not joined a network (state %s)\n",
			get(res, "state"));
		json_object_put(res);
		return 1;
	}
	for (int k = 0; k < 2; k++) {
		if ((k == 0 && !four) || (k == 1 && !six))
			continue;
		a = get(res, k == 0 ? "ipv4" : "ipv6");
		snprintf(buf, sizeof(buf), "%s", a ? a : "");
		if ((slash = strchr(buf, '/')))
			*slash = 0;
		printf("%s\n", buf);
	}
	json_object_put(res);
	return 0;
}

static void ago(char *out, size_t cap, int64_t unix_s)
{
	time_t now = time(NULL);

	if (!unix_s)
		snprintf(out, cap, "never");
	else if (now - unix_s < 120)
		snprintf(out, cap, "%llds ago", (long long)(now - unix_s));
	else if (now - unix_s < 7200)
		snprintf(out, cap, "%lldm ago", (long long)(now - unix_s) / 60);
	else
		snprintf(out, cap, "%lldh ago", (long long)(now - unix_s) / 3600);
}

/* A command whose only option is --json: parses the options, calls
 * weftd, and prints the JSON when asked.  Returns an exit code when done
 * (help, bad option, error, JSON printed), -1 when the caller prints
 * *res as text (and puts it). */
static int json_command(int argc, char **argv, const char *command,
			const char *help, struct json_object **res, bool *json)
{
	*json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			*json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(help, stdout);
			return 0;
		} else {
			fprintf(stderr, "weft %s: unknown option '%s'\n", command, argv[i]);
			return 2;
		}
	}
	if (call(command, NULL, res))
		return 1;
	if (!*json)
		return -1;
	printf("%s\n", json_object_to_json_string_ext(*res,
	       JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(*res);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	struct json_object *res, *srv, *peers, *v;
	bool json;
	size_t n;
	int r;

	if ((r = json_command(argc, argv, "status",
			      "usage: weft status [--json]\n\nThis node (name, addresses, "
			       "state), its server, and the peers it\nknows: name, "
			       "addresses, endpoint, last handshake, bytes, path.\n", &res, &json)) >= 0)
		return r;
	printf("node:   %s  %s  %s  (%s, interface %s, port %s)\n",
	       get(res, "name") ? get(res, "name") : "-",
	       get(res, "ipv4") ? get(res, "ipv4") : "-",
	       get(res, "ipv6") ? get(res, "ipv6") : "-",
	       get(res, "state"), get(res, "interface"), get(res, "listen_port"));
	if (json_object_object_get_ex(res, "server", &srv)) {
		json_object_object_get_ex(srv, "connected", &v);
		printf("server: %s  %s\n", get(srv, "endpoints") ? get(srv, "endpoints") : "-",
		       v && json_object_get_boolean(v) ? "connected" : "not connected");
	}
	if (get(res, "error"))
		printf("error:  %s\n", get(res, "error"));
	json_object_object_get_ex(res, "peers", &peers);
	n = peers ? json_object_array_length(peers) : 0;
	if (n)
		printf("\n%-28s %-15s %-24s %-22s %-10s %10s %10s %s\n", "PEER", "IPV4",
		       "IPV6", "ENDPOINT", "HANDSHAKE", "RX", "TX", "PATH");
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(peers, i), *h;
		char when[32];
		json_object_object_get_ex(p, "last_handshake", &h);
		ago(when, sizeof(when), h ? json_object_get_int64(h) : 0);
		printf("%-28s %-15s %-24s %-22s %-10s %10s %10s %s\n", get(p, "name"),
		       get(p, "ipv4"), get(p, "ipv6"),
		       *get(p, "endpoint") ? get(p, "endpoint") : "-", when,
		       get(p, "rx_bytes"), get(p, "tx_bytes"), get(p, "path"));
	}
	if (!n)
		printf("peers:  none yet (peers appear on first contact)\n");
	json_object_put(res);
	return 0;
}

static int cmd_netcheck(int argc, char **argv)
{
	struct json_object *res, *arr, *v, *rl;
	bool json;
	int r;

	if ((r = json_command(argc, argv, "netcheck",
			      "usage: weft netcheck [--json]\n\nAsks the server's STUN "
			       "services from weftd's own socket and\nreports: whether UDP "
			       "gets through, the addresses this node is seen\nat (its NAT's "
			       "face), whether that address changes with the\ndestination "
			       "(a NAT that maps by destination makes direct paths\nharder), "
			       "and the relay's round trip.  Takes up to 2 s.\n", &res, &json)) >= 0)
		return r;
	json_object_object_get_ex(res, "udp", &v);
	printf("UDP:            %s\n", v && json_object_get_boolean(v) ? "yes" : "no (blocked?)");
	json_object_object_get_ex(res, "stun", &arr);
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i), *rtt;
		json_object_object_get_ex(e, "rtt_ms", &rtt);
		if (get(e, "reflexive"))
			printf("seen as:        %s by %s (%.2f ms)\n", get(e, "reflexive"),
			       get(e, "server"), rtt ? json_object_get_double(rtt) : 0);
		else
			printf("seen as:        no answer from %s\n", get(e, "server"));
	}
	json_object_object_get_ex(res, "mapping_varies_by_destination", &v);
	printf("mapping varies: %s\n", !v ? "unknown (fewer than two answers)" :
	       json_object_get_boolean(v) ? "yes (endpoint-dependent NAT)" : "no");
	json_object_object_get_ex(res, "relay", &rl);
	if (rl) {
		json_object_object_get_ex(rl, "connected", &v);
		struct json_object *lat;
		json_object_object_get_ex(rl, "latency_ms", &lat);
		if (v && json_object_get_boolean(v) && lat)
			printf("relay:          %s, %.2f ms\n", get(rl, "server"),
			       json_object_get_double(lat));
		else
			printf("relay:          %s, %s\n", get(rl, "server"),
			       v && json_object_get_boolean(v) ? "connected (no answer yet)" :
			       "not connected");
	}
	json_object_object_get_ex(res, "control_via_relay", &v);
	if (v && json_object_get_boolean(v))
		printf("control:        through the relay (UDP to the server fails)\n");
	json_object_put(res);
	return 0;
}

static int cmd_ping(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	long count = 4;
	double interval = 1.0, sum = 0, min = INFINITY, max = 0;
	int c, got = 0;
	char *end;

	while ((c = getopt_long(argc, argv, "c:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1 || count > 100000) {
				fprintf(stderr, "weft ping: -c wants 1..100000\n");
				return 2;
			}
			break;
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || !(interval >= 0.01 && interval <= 60)) {
				fprintf(stderr, "weft ping: -i wants 0.01..60 seconds\n");
				return 2;
			}
			break;
		case 'h':
			printf("usage: weft ping [-c COUNT] [-i SECONDS] PEER\n\n"
			       "Sends COUNT (default 4) echo requests through the tunnel to\n"
			       "PEER, a name ('robot2' or 'robot2.lab.weft') or an overlay\n"
			       "address, and prints each round trip and the path it took.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: weft ping [-c COUNT] [-i SECONDS] PEER\n");
		return 2;
	}
	for (long k = 0; k < count; k++) {
		struct json_object *args = json_object_new_object(), *res, *rtt;
		json_object_object_add(args, "peer", json_object_new_string(argv[optind]));
		if (k)
			usleep((useconds_t)(interval * 1e6));
		if (call("ping", args, &res))
			continue;
		json_object_object_get_ex(res, "rtt_ms", &rtt);
		double ms = rtt ? json_object_get_double(rtt) : 0;
		printf("pong from %s (%s) via %s %s in %.3f ms\n", get(res, "peer"),
		       get(res, "address"), get(res, "path"),
		       get(res, "endpoint") && *get(res, "endpoint") ? get(res, "endpoint") : "-",
		       ms);
		fflush(stdout);
		got++;
		sum += ms;
		min = ms < min ? ms : min;
		max = ms > max ? ms : max;
		json_object_put(res);
	}
	if (count > 1)
		printf("%d/%ld replies%s", got, count, got ? "" : "\n");
	if (count > 1 && got)
		printf(", rtt min/avg/max %.3f/%.3f/%.3f ms\n", min, sum / got, max);
	return got ? 0 : 1;
}

static int cmd_simple(const char *command, int argc, char **argv,
		      const char *help, const char *done)
{
	struct json_object *res = NULL;

	if (wants_help(argc, argv)) {
		printf("%s", help);
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "weft %s: takes no arguments\n", command);
		return 2;
	}
	if (call(command, NULL, &res))
		return 1;
	printf("%s\n", done);
	json_object_put(res);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;

	sock_path = getenv("WEFT_SOCKET") ? getenv("WEFT_SOCKET") : DEFAULT_SOCKET;
	admin_client_names("weftd", "weftd -d");
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock_path = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock_path = argv[i] + 9;
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("weft 0.1.0\n");
			return 0;
		} else {
			fprintf(stderr, "weft: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	argc -= i;
	argv += i;
	if (!strcmp(argv[0], "up"))
		return cmd_up(argc, argv);
	if (!strcmp(argv[0], "ip"))
		return cmd_ip(argc, argv);
	if (!strcmp(argv[0], "status"))
		return cmd_status(argc, argv);
	if (!strcmp(argv[0], "ping"))
		return cmd_ping(argc, argv);
	if (!strcmp(argv[0], "netcheck"))
		return cmd_netcheck(argc, argv);
	if (!strcmp(argv[0], "down"))
		return cmd_simple("down", argc, argv, "usage: weft down\n\nTakes the "
				  "overlay interface down and stops talking to the server;\n"
				  "the identity stays ('weft up' brings it back).\n",
				  "down");
	if (!strcmp(argv[0], "logout"))
		return cmd_simple("logout", argc, argv, "usage: weft logout\n\nLeaves "
				  "the network: the server removes this node and the\n"
				  "node forgets its identity (join again with a token).\n",
				  "logged out");
	if (!strcmp(argv[0], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "weft: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
