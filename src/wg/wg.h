/*
 * weft-wg — the daemon's shared state: one interface, its engine, its
 * sockets and its configuration socket.
 */
#ifndef WEFT_WG_H
#define WEFT_WG_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "offload.h"

#define WG_RUN_DIR "/var/run/wireguard"

struct wgd {
	const char *ifname;
	int ifindex;
	int tun_fd;
	int udp4, udp6;			/* -1 when absent */
	uint16_t port;
	uint32_t fwmark;
	int uapi_fd;
	char uapi_path[108];
	int epoll_fd;
	int timer_fd;
	int signal_fd;
	int netlink_fd;
	uint64_t armed_deadline;
	bool offload;			/* TUN gives TSO super-packets */
	bool udp_gso;			/* UDP_SEGMENT works; cleared on failure */
	struct gro gro;
	bool running;
	struct wg_device *dev;
};

/* Rebinds both UDP sockets to port (0: pick one).  0 or -errno; on error
 * the old sockets stay. */
int wgd_bind(struct wgd *w, uint16_t port);
int wgd_set_fwmark(struct wgd *w, uint32_t mark);

/* The configuration socket (ipc.c). */
int ipc_listen(struct wgd *w);
void ipc_accept(struct wgd *w);
void ipc_client_event(struct wgd *w, int fd);
void ipc_close(struct wgd *w);

void wgd_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum { LOG_SILENT, LOG_ERROR, LOG_VERBOSE };

#endif
