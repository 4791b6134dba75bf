/*
 * weft-wg — the daemon's shared state: one interface, its engine, its
 * sockets and its configuration socket.
 */
#ifndef WEFT_WG_H
#define WEFT_WG_H

#include <stdbool.h>
#include <stdint.h>

#include "dp.h"

#define WG_RUN_DIR "/var/run/wireguard"

struct wgd {
	struct dp dp;			/* first: the engine's ctx is &dp */
	int uapi_fd;
	char uapi_path[108];
};

/* The configuration socket (ipc.c). */
int ipc_listen(struct wgd *w);
void ipc_accept(struct wgd *w);
void ipc_client_event(struct wgd *w, int fd);
void ipc_close(struct wgd *w);

#define wgd_log dp_log

#endif
