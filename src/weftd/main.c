/*
 * weftd — the node agent: weftd [--state-dir DIR] [--socket PATH]
 * [--interface NAME] [--port N] [-d].  Runs in the foreground, logging to
 * stderr, unless -d detaches it once the interface and socket are ready.
 * The `weft` CLI drives it through the socket (local.c); the commands it
 * accepts are answered here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "encoding.h"
#include "uapi.h"
#include "weftd.h"

#define WEFT_VERSION "0.1.0"
#define DEFAULT_STATE_DIR "/var/lib/weft"
#define DEFAULT_SOCKET "/run/weft/weftd.sock"

static const char *jstr(struct json_object *args, const char *k)
{
	struct json_object *v;

	if (!args || !json_object_object_get_ex(args, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *peer_json(struct agent *a, struct apeer *p)
{
	struct json_object *o = json_object_new_object();
	char buf[INET6_ADDRSTRLEN + 16], key[45];
	const struct wg_peer *w = p->wp;

	json_object_object_add(o, "name", json_object_new_string(p->name));
	inet_ntop(AF_INET, p->ipv4, buf, sizeof(buf));
	json_object_object_add(o, "ipv4", json_object_new_string(buf));
	inet_ntop(AF_INET6, p->ipv6, buf, sizeof(buf));
	json_object_object_add(o, "ipv6", json_object_new_string(buf));
	key_to_base64(key, p->pub);
	json_object_object_add(o, "public_key", json_object_new_string(key));
	buf[0] = 0;
	if (w->has_endpoint)
		uapi_format_endpoint(buf, sizeof(buf), &w->endpoint);
	json_object_object_add(o, "endpoint", json_object_new_string(buf));
	json_object_object_add(o, "last_handshake",
			       json_object_new_int64((int64_t)(w->last_handshake_real /
							       NSEC_PER_SEC)));
	json_object_object_add(o, "rx_bytes", json_object_new_int64((int64_t)w->rx_bytes));
	json_object_object_add(o, "tx_bytes", json_object_new_int64((int64_t)w->tx_bytes));
	/* The path: "relay" when the endpoint is the relay, "direct" (UDP
	 * to the endpoint) once a probe or a handshake went through, else
	 * "none"; "probed" when a probe answered lately, with its round
	 * trip. */
	const struct apath *t = path_best(a, p);
	json_object_object_add(o, "path", json_object_new_string(
		w->has_endpoint && wg_sockaddr_is_relay(&w->endpoint) ? "relay" :
		t || w->last_handshake_real ? "direct" : "none"));
	json_object_object_add(o, "probed", json_object_new_boolean(t != NULL));
	if (t) {
		uapi_format_endpoint(buf, sizeof(buf), &t->addr);
		json_object_object_add(o, "path_endpoint", json_object_new_string(buf));
		json_object_object_add(o, "path_rtt_ms", json_object_new_double(t->rtt_us / 1000.0));
	}
	return o;
}

static struct json_object *status_json(struct agent *a)
{
	struct json_object *o = json_object_new_object(), *peers, *srv;
	char buf[INET6_ADDRSTRLEN + 16], key[45];
	uint64_t now = clock_mono_ns();

	json_object_object_add(o, "state", json_object_new_string(agent_state_name(a->state)));
	json_object_object_add(o, "interface", json_object_new_string(a->dp.ifname));
	json_object_object_add(o, "listen_port", json_object_new_int(a->dp.port));
	key_to_base64(key, a->dp.dev->local.public_key);
	json_object_object_add(o, "public_key", json_object_new_string(key));
	if (a->have_conf) {
		json_object_object_add(o, "name", json_object_new_string(a->conf.name));
		inet_ntop(AF_INET, a->conf.ipv4.addr, buf, sizeof(buf));
		snprintf(buf + strlen(buf), 8, "/%u", a->conf.ipv4.len);
		json_object_object_add(o, "ipv4", json_object_new_string(buf));
		inet_ntop(AF_INET6, a->conf.ipv6.addr, buf, sizeof(buf));
		snprintf(buf + strlen(buf), 8, "/%u", a->conf.ipv6.len);
		json_object_object_add(o, "ipv6", json_object_new_string(buf));
	}
	srv = json_object_new_object();
	if (a->have_conf || a->server) {
		key_to_base64(key, a->conf.server_pub);
		json_object_object_add(srv, "public_key", json_object_new_string(key));
		json_object_object_add(srv, "endpoints", json_object_new_string(a->conf.endpoints));
	}
	json_object_object_add(srv, "connected", json_object_new_boolean(
		a->state == AGENT_RUNNING && a->server_ok && a->server_last_rx &&
		now - a->server_last_rx < AGENT_ONLINE_TTL));
	json_object_object_add(srv, "last_contact_ago_s", a->server_last_rx ?
		json_object_new_double((double)(now - a->server_last_rx) / 1e9) : NULL);
	json_object_object_add(o, "server", srv);
	if (a->last_error[0])
		json_object_object_add(o, "error", json_object_new_string(a->last_error));
	peers = json_object_new_array();
	for (struct apeer *p = a->peers; p; p = p->next)
		json_object_array_add(peers, peer_json(a, p));
	json_object_object_add(o, "peers", peers);
	json_object_object_add(o, "lookups_sent", json_object_new_int64((int64_t)a->stat_lookups));
	json_object_object_add(o, "icmp_unreachable_sent",
			       json_object_new_int64((int64_t)a->stat_icmp_sent));
	json_object_object_add(o, "queue_dropped",
			       json_object_new_int64((int64_t)a->stat_queue_dropped));
	struct json_object *rl = json_object_new_object();
	json_object_object_add(rl, "connected", json_object_new_boolean(relayc_ready(a)));
	json_object_object_add(rl, "control_via_relay", json_object_new_boolean(a->server_via_relay));
	json_object_object_add(rl, "frames_sent", json_object_new_int64((int64_t)a->relay.frames_tx));
	json_object_object_add(rl, "frames_received", json_object_new_int64((int64_t)a->relay.frames_rx));
	json_object_object_add(rl, "dropped", json_object_new_int64((int64_t)a->relay.dropped));
	json_object_object_add(rl, "connects", json_object_new_int64((int64_t)a->relay.connects));
	json_object_object_add(o, "relay", rl);
	json_object_object_add(o, "probes", json_object_new_object());
	struct json_object *pr;
	json_object_object_get_ex(o, "probes", &pr);
	json_object_object_add(pr, "pings_received", json_object_new_int64((int64_t)a->stat_pings_rx));
	json_object_object_add(pr, "pongs_received", json_object_new_int64((int64_t)a->stat_pongs_rx));
	json_object_object_add(pr, "unknown_sender", json_object_new_int64((int64_t)a->stat_probe_unknown));
	json_object_object_add(pr, "malformed", json_object_new_int64((int64_t)a->stat_probe_bad));
	return o;
}

void local_handle(struct agent *a, struct local_conn *c, const char *command,
		  struct json_object *args)
{
	char err[512] = "";
	int r;

	if (!strcmp(command, "status")) {
		local_reply_ok(a, c, status_json(a));
		return;
	}
	if (!strcmp(command, "up")) {
		const char *token = jstr(args, "token"), *host = jstr(args, "hostname");
		if (host && (!*host || strlen(host) > CTL_HOSTNAME_MAX)) {
			local_reply_error(a, c, "hostname must be 1 to %d characters",
					  CTL_HOSTNAME_MAX);
			return;
		}
		r = agent_up(a, token, host, c, err, sizeof(err));
	} else if (!strcmp(command, "down")) {
		r = agent_down(a, err, sizeof(err));
		if (!r)
			local_reply_ok(a, c, NULL);
	} else if (!strcmp(command, "logout")) {
		r = agent_logout(a, c, err, sizeof(err));
	} else if (!strcmp(command, "ping")) {
		const char *peer = jstr(args, "peer");
		if (!peer) {
			local_reply_error(a, c, "ping needs a peer name or address");
			return;
		}
		r = agent_ping(a, peer, c, err, sizeof(err));
	} else if (!strcmp(command, "netcheck")) {
		r = discover_netcheck(a, c, err, sizeof(err));
	} else {
		local_reply_error(a, c, "unknown command '%s'", command);
		return;
	}
	if (r)
		local_reply_error(a, c, "%s", err[0] ? err : strerror(-r));
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: weftd [--state-dir DIR] [--socket PATH] [--interface NAME] [--port N]\n"
"             [--relay-tls PORT] [-d]\n"
"       weftd --version | --help\n"
"\n"
"The weft node agent.  Creates the overlay interface (a TUN device running\n"
"WireGuard), keeps the node's identity in DIR, and joins the network when\n"
"told to with 'weft up --token TOKEN'; after that it reconnects by itself\n"
"on every start.  Peers are configured on demand: the first packet to an\n"
"overlay address (or 'weft ping NAME') asks the coordination server.\n"
"\n"
"  --state-dir DIR   identity and settings (default %s; WEFT_STATE_DIR)\n"
"  --socket PATH     where the weft CLI reaches it (default %s;\n"
"                    WEFT_SOCKET)\n"
"  --interface NAME  the overlay interface (default weft0)\n"
"  --port N          UDP port for WireGuard (default: any free port)\n"
"  --relay-tls PORT  reach the relay inside TLS on this TCP port of the\n"
"                    server's host (weft-server --relay-tls-listen), for\n"
"                    networks that pass only HTTPS (WEFT_RELAY_TLS)\n"
"  -d, --daemon      detach once ready (errors are still reported)\n"
"  -v, --verbose     log more (LOG_LEVEL=verbose does the same)\n"
"\n"
"The data plane's knobs are weft-wg's (see weft-wg --help): WEFT_WG_OFFLOAD,\n"
"WEFT_WG_THREADS, WEFT_WG_ANSWER_POLL_US, WEFT_WG_POLL_US.\n",
		DEFAULT_STATE_DIR, DEFAULT_SOCKET);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "interface", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' },
		{ "relay-tls", required_argument, NULL, 'T' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	static struct agent a;	/* large: not on the stack */
	const char *lvl = getenv("LOG_LEVEL");
	const char *relay_tls = getenv("WEFT_RELAY_TLS");
	char why[512] = "", *end;
	bool detach = false;
	long port = 0;
	int c, report = -1, r;

	a.state_dir = getenv("WEFT_STATE_DIR") ? getenv("WEFT_STATE_DIR") : DEFAULT_STATE_DIR;
	a.socket_path = getenv("WEFT_SOCKET") ? getenv("WEFT_SOCKET") : DEFAULT_SOCKET;
	a.dp.ifname = "weft0";
	a.local_fd = -1;
	dp_set_log_level(LOG_INFO);
	while ((c = getopt_long(argc, argv, "dvh", opts, NULL)) != -1) {
		switch (c) {
		case 's': a.state_dir = optarg; break;
		case 'S': a.socket_path = optarg; break;
		case 'i': a.dp.ifname = optarg; break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || port < 0 || port > 65535) {
				fprintf(stderr, "weftd: --port wants 0..65535, not '%s'\n", optarg);
				return 1;
			}
			break;
		case 'T': relay_tls = optarg; break;
		case 'd': detach = true; break;
		case 'v': dp_set_log_level(LOG_VERBOSE); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("weftd %s\n", WEFT_VERSION); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if (relay_tls && *relay_tls) {
		long tls = strtol(relay_tls, &end, 10);
		if (*end || tls < 1 || tls > 65535) {
			fprintf(stderr, "weftd: --relay-tls (WEFT_RELAY_TLS) wants a TCP "
				"port 1..65535, not '%s'\n", relay_tls);
			return 1;
		}
		a.relay.tls_port = (uint16_t)tls;
	}
	if (strlen(a.dp.ifname) == 0 || strlen(a.dp.ifname) > 15) {
		fprintf(stderr, "weftd: interface names are 1 to 15 characters\n");
		return 1;
	}
	if (lvl && (!strcmp(lvl, "verbose") || !strcmp(lvl, "debug")))
		dp_set_log_level(LOG_VERBOSE);
	else if (lvl && !strcmp(lvl, "silent"))
		dp_set_log_level(LOG_SILENT);
	if (!crypto_init()) {
		fprintf(stderr, "weftd: OpenSSL lacks X25519, BLAKE2s or ChaCha20-Poly1305\n");
		return 1;
	}
	noise_init();
	snprintf(a.key_path, sizeof(a.key_path), "%s/node.key", a.state_dir);
	snprintf(a.conf_path, sizeof(a.conf_path), "%s/node.conf", a.state_dir);
	snprintf(a.hostname, sizeof(a.hostname), "node");
	gethostname(a.hostname, sizeof(a.hostname) - 1);
	if ((r = mkdir_p(a.state_dir, 0700))) {
		fprintf(stderr, "weftd: cannot create %s: %s\n", a.state_dir, strerror(-r));
		return 1;
	}
	{
		char dir[4096], *slash;
		snprintf(dir, sizeof(dir), "%s", a.socket_path);
		if ((slash = strrchr(dir, '/')) && slash != dir) {
			*slash = 0;
			mkdir_p(dir, 0755);
		}
	}
	if (detach && dp_daemonize(&report) < 0) {
		fprintf(stderr, "weftd: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	a.dp.log_name = "weftd";
	a.dp.host = &agent_host;
	if (dp_init(&a.dp, &agent_ops, why, sizeof(why)) < 0 ||
	    local_open(&a, why, sizeof(why)) < 0 ||
	    dp_open(&a.dp, (uint16_t)port, why, sizeof(why)) < 0 ||
	    agent_start(&a, why, sizeof(why)) < 0) {
		fprintf(stderr, "weftd: %s\n", why);
		local_close(&a);
		if (report >= 0)
			dp_detach_report(report, false);
		return 1;
	}
	dp_log(LOG_INFO, "interface %s up, UDP port %u, control socket %s, state %s",
	       a.dp.ifname, a.dp.port, a.socket_path, agent_state_name(a.state));
	if (report >= 0)
		dp_detach_report(report, true);
	dp_loop(&a.dp);
	dp_log(LOG_INFO, "shutting down %s", a.dp.ifname);
	agent_stop(&a);
	local_close(&a);
	dp_close(&a.dp);
	return 0;
}
