/*
 * weft-wg — a userspace WireGuard interface driven by `wg` and `wg-quick`
 * exactly like wireguard-go: weft-wg [-f] IFNAME.
 *
 * The data plane (src/dp) runs the loop; this file adds the configuration
 * socket (ipc.c) to it, and the command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "wg.h"

#define WEFT_VERSION "0.1.0"

enum { EV_UAPI = DP_EV_HOST };

static void wgd_event(struct dp *d, uint64_t tag)
{
	struct wgd *w = (struct wgd *)d;

	if (tag == EV_UAPI)
		ipc_accept(w);
	else
		ipc_client_event(w, (int)(uint32_t)tag);
}

static const struct dp_host wgd_host = { .event = wgd_event };
static const struct wg_ops wgd_ops = {
	.send = dp_send, .deliver = dp_deliver, .crypt = dp_crypt,
	.sent_staged = dp_sent_staged,
};

/* Everything that can fail for a reason the user must hear about. */
static int wgd_setup(struct wgd *w, char *why, size_t whylen)
{
	int r;

	w->uapi_fd = -1;
	w->dp.host = &wgd_host;
	if (dp_init(&w->dp, &wgd_ops, why, whylen) < 0)
		return -1;
	r = ipc_listen(w);
	if (r < 0) {
		snprintf(why, whylen, r == -EADDRINUSE ?
			 "interface %s is already served by another daemon (%s/%s.sock answers)" :
			 "cannot create the configuration socket for %s: %s",
			 w->dp.ifname, r == -EADDRINUSE ? WG_RUN_DIR : strerror(-r),
			 w->dp.ifname);
		return -1;
	}
	if (dp_open(&w->dp, 0, why, whylen) < 0) {
		ipc_close(w);
		return -1;
	}
	dp_watch(&w->dp, w->uapi_fd, EV_UAPI);
	return 0;
}

static void wgd_teardown(struct wgd *w)
{
	ipc_close(w);
	dp_close(&w->dp);
	wgd_log(LOG_VERBOSE, "shut down %s", w->dp.ifname);
}

/* --- the command line --- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: weft-wg [-f|--foreground] INTERFACE\n"
"       weft-wg --stats INTERFACE\n"
"       weft-wg --version | --help\n"
"\n"
"A userspace WireGuard interface.  Creates the TUN interface INTERFACE and\n"
"serves %s/INTERFACE.sock, so that wg(8) and wg-quick(8) configure it\n"
"exactly as the kernel module or wireguard-go (for wg-quick, set\n"
"WG_QUICK_USERSPACE_IMPLEMENTATION=weft-wg).  Without -f it detaches once\n"
"the interface is ready.  It stops on SIGTERM/SIGINT or when the interface\n"
"is deleted (ip link del INTERFACE, wg-quick down).\n"
"\n"
"  -f, --foreground  stay in the foreground, log to stderr\n"
"      --stats       print the running daemon's drop and event counters\n"
"\n"
"Environment:\n"
"  LOG_LEVEL               verbose|error|silent (default error)\n"
"  WEFT_WG_OFFLOAD         all (default), none, or a list of tun,gso,gro:\n"
"                          TUN segmentation/coalescing, UDP GSO, UDP GRO\n"
"  WEFT_WG_THREADS         threads that encrypt/decrypt, 1-8 (default half\n"
"                          the CPUs)\n"
"  WEFT_WG_ANSWER_POLL_US  poll this long after a handshake message, or\n"
"                          after packets that waited for a handshake went\n"
"                          out, instead of sleeping (default 300, 0 = off)\n"
"  WEFT_WG_POLL_US         poll this long after any traffic (default 0)\n",
		WG_RUN_DIR);
}

static int wgd_print_stats(const char *ifname)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", WG_RUN_DIR, ifname);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "weft-wg: cannot reach %s: %s (is weft-wg running for %s?)\n",
			sa.sun_path, strerror(errno), ifname);
		return 1;
	}
	if (write(fd, "stats=1\n\n", 9) != 9)
		return 1;
	while (len < sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		if (len >= 2 && !memcmp(buf + len - 2, "\n\n", 2))
			break;
	}
	close(fd);
	buf[len] = 0;
	if (!strstr(buf, "errno=0\n")) {
		fprintf(stderr, "weft-wg: %s did not answer the stats request\n", ifname);
		return 1;
	}
	*strstr(buf, "errno=0\n") = 0;
	fputs(buf, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	static struct wgd w;	/* large (the coalescer): not on the stack */
	bool foreground = false, stats = false;
	char why[256];
	int c, report = -1;
	const char *lvl = getenv("LOG_LEVEL");

	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 's': stats = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("weft-wg %s\n", WEFT_VERSION); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 1;
	}
	w.dp.ifname = argv[optind];
	w.dp.log_name = "weft-wg";
	if (stats)
		return wgd_print_stats(w.dp.ifname);
	if (lvl && (!strcmp(lvl, "verbose") || !strcmp(lvl, "debug")))
		dp_set_log_level(LOG_VERBOSE);
	else if (lvl && !strcmp(lvl, "silent"))
		dp_set_log_level(LOG_SILENT);
	if (!crypto_init()) {
		fprintf(stderr, "weft-wg: OpenSSL lacks X25519, BLAKE2s or ChaCha20-Poly1305\n");
		return 1;
	}
	noise_init();
	if (!foreground && dp_daemonize(&report) < 0) {
		fprintf(stderr, "weft-wg: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	if (wgd_setup(&w, why, sizeof(why)) < 0) {
		fprintf(stderr, "weft-wg: %s\n", why);
		if (report >= 0)
			dp_detach_report(report, false);
		return 1;
	}
	wgd_log(LOG_VERBOSE, "interface %s is up (UAPI %s)", w.dp.ifname, w.uapi_path);
	if (report >= 0)
		dp_detach_report(report, true);
	dp_loop(&w.dp);
	wgd_teardown(&w);
	return 0;
}
