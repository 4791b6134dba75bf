/*
 * dp — the data plane shared by weft-wg and weftd: one TUN interface with
 * offloads, an IPv4 and an IPv6 UDP socket with GSO batching, the engine's
 * timer and a netlink watch on the interface, all in one epoll loop.
 *
 * The host (weft-wg's configuration socket, weftd's agent) owns the engine
 * callbacks: it builds its own struct wg_ops whose ctx is the struct dp,
 * and calls dp_send / dp_deliver from them (or does something else with a
 * packet, such as a control message).  It adds its own descriptors with
 * dp_watch and a tag of DP_EV_HOST or more; those events and the host's
 * own deadline reach it through the hooks below.  Not thread-safe.
 */
#ifndef WEFT_DP_H
#define WEFT_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "offload.h"
#include "workers.h"

enum {
	DP_EV_TUN = 1, DP_EV_UDP4, DP_EV_UDP6, DP_EV_TIMER, DP_EV_SIGNAL,
	DP_EV_NETLINK,
	DP_EV_HOST = 16		/* tags from here on go to the host */
};

enum { LOG_SILENT, LOG_ERROR, LOG_INFO, LOG_VERBOSE };

struct dp;

struct dp_host {
	/* An event on a descriptor the host watches (tag >= DP_EV_HOST). */
	void (*event)(struct dp *d, uint64_t tag);
	/* Runs the host's due work; returns its next deadline (monotonic
	 * ns, 0 = none).  Called before every wait: keep it cheap. */
	uint64_t (*tick)(struct dp *d);
	/* A datagram on the UDP sockets that is no WireGuard message
	 * (a path probe, a STUN answer); optional: without it, the engine
	 * drops and counts them. */
	void (*datagram)(struct dp *d, const union wg_sockaddr *from,
			 const uint8_t *buf, size_t len);
	/* SIGHUP (SIGTERM and SIGINT stop the loop); optional. */
	void (*hangup)(struct dp *d);
};

struct dp {
	const char *ifname;
	const char *log_name;		/* "weft-wg", "weftd" */
	int ifindex;
	int tun_fd;
	int udp4, udp6;			/* -1 when absent */
	uint16_t port;
	uint32_t fwmark;
	int epoll_fd;
	int timer_fd;
	int signal_fd;
	int netlink_fd;
	uint64_t armed_deadline;
	bool tun_offload;		/* wanted: TUN super-packets + GRO */
	bool offload;			/* TUN gives TSO super-packets */
	bool udp_gso;			/* UDP_SEGMENT works; cleared on failure */
	bool udp_gro;			/* UDP_GRO asked of the sockets */
	uint64_t poll_ns;		/* busy-poll this long after traffic */
	uint64_t answer_poll_ns;	/* ... after a message that asks */
	uint64_t poll_until;		/* monotonic ns */
	bool running;
	struct gro gro;
	struct workers workers;		/* crypto helpers (WEFT_WG_THREADS) */
	struct wg_device *dev;
	const struct dp_host *host;
	void *host_ctx;
};

/* Opens everything but the TUN device and the sockets and makes the
 * engine with ops (ctx = d).  Environment: WEFT_WG_OFFLOAD chooses the
 * offloads ("all", the default; "none" or "0"; or a comma list of "tun"
 * = TUN segmentation/coalescing, "gso" = UDP_SEGMENT sends, "gro" =
 * UDP_GRO receives); WEFT_WG_THREADS, the threads that encrypt and
 * decrypt (default: half the CPUs, at most CRYPTO_LANES; 1 = the loop's
 * own only); WEFT_WG_POLL_US, how long the loop busy-polls (yielding
 * the CPU to anything else runnable) after any traffic (default 0) and
 * WEFT_WG_ANSWER_POLL_US after a message that expects an answer (default
 * 300; 0 turns off every such poll, the host's longer ones included);
 * WEFT_WG_HANDSHAKE_LOAD sets the cookie threshold.
 * 0, or -1 with a message in why. */
int dp_init(struct dp *d, const struct wg_ops *ops, char *why, size_t whylen);
/* Creates the TUN interface d->ifname (MTU WG_DEFAULT_MTU unless set) and
 * binds the UDP sockets to port (0: any).  0, or -1 with a message. */
int dp_open(struct dp *d, uint16_t port, char *why, size_t whylen);
void dp_close(struct dp *d);	/* closes what dp_init/dp_open made */

/* Rebinds both UDP sockets to port (0: pick one).  0 or -errno; on error
 * the old sockets stay. */
int dp_bind(struct dp *d, uint16_t port);
int dp_set_fwmark(struct dp *d, uint32_t mark);

void dp_watch(struct dp *d, int fd, uint64_t tag);
void dp_unwatch(struct dp *d, int fd);
/* Runs until SIGTERM/SIGINT, the interface's deletion or d->running is
 * cleared. */
void dp_loop(struct dp *d);

/* The engine callbacks' default halves (ctx is the struct dp). */
void dp_send(void *ctx, const union wg_sockaddr *to, const uint8_t *msg,
	     size_t len);
void dp_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
		size_t len);
/* The engine's crypt hook: a batch's AEADs on the loop and the helpers. */
void dp_crypt(void *ctx, struct wg_crypt_job *jobs, size_t n);
/* Writes one plain IP packet into the TUN device (an ICMP error, say). */
void dp_tun_write_packet(struct dp *d, const uint8_t *pkt, size_t len);
/* We just sent something whose answer is near (a handshake message, a
 * request to the server): the loop polls for a short while instead of
 * sleeping, so that the answer need not wake a halted CPU.  dp_send
 * calls it for handshake messages. */
void dp_expect_answer(struct dp *d);
/* The same for at least ns (an answer that takes a few hops); nothing
 * when WEFT_WG_ANSWER_POLL_US is 0. */
void dp_expect_answer_within(struct dp *d, uint64_t ns);
/* The engine's sent_staged hook: packets that waited for a handshake
 * went out, and their answers are near (dp_expect_answer). */
void dp_sent_staged(void *ctx, struct wg_peer *peer);
/* Sends what dp_send gathered (the loop does it after every event). */
void dp_flush(struct dp *d);

/* Forks; the parent exits with the child's verdict, which the child
 * gives with dp_detach_report once set up (ok: stdio goes to /dev/null).
 * -1 when it cannot fork. */
int dp_daemonize(int *report_fd);
void dp_detach_report(int report_fd, bool ok);

void dp_set_log_level(int level);
int dp_log_level(void);
void dp_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
