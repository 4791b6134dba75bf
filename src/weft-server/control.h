/*
 * control — the node-facing side of weft-server: one UDP socket per
 * listen address carrying WireGuard to the server's static key, and inside
 * those sessions the control protocol (src/lib/ctl.h): REGISTER, LOOKUP
 * with NOTIFY to the target, ENDPOINTS, LIST, LOGOUT.  Nodes are found in
 * and written to the store; every node lifecycle event (join, reconnect,
 * logout, refusal) is audited and logged one line each.
 *
 * The serve loop owns the event loop: it watches control_fds() for input,
 * calls control_event() for each readable one, and control_tick() when
 * the deadline it returned has passed.  Errors: 0 or -errno, with a
 * message in err.  Not thread-safe.
 */
#ifndef WEFT_SERVER_CONTROL_H
#define WEFT_SERVER_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "sockaddr.h"
#include "store.h"

/* A node is online while the server has had an authenticated packet from
 * its key (a control message or a keepalive) this recently.  180 s is
 * REJECT_AFTER_TIME: no session carries anything longer without a new
 * handshake, and an agent's keepalive to the server is far more frequent. */
#define CONTROL_ONLINE_WINDOW_S 180
/* Live last-seen times reach the store this often (and at close): one
 * transaction per interval, never a write per packet. */
#define CONTROL_FLUSH_INTERVAL_S 30

struct control;

/* listen is "ADDR:PORT" or "[ADDR6]:PORT" (ADDR may be 0.0.0.0 or ::).
 * The store is borrowed and must outlive the control plane. */
int control_open(struct control **out, struct store *st,
		 const uint8_t private_key[32], const char *listen,
		 char *err, size_t errlen);
void control_close(struct control *c);	/* NULL ok; wipes keys */

/* Descriptors to watch for input; returns how many were written. */
int control_fds(const struct control *c, int *fds, int max);
void control_event(struct control *c, int fd);
/* Runs due timers; returns the next deadline (CLOCK_MONOTONIC ns), 0 none. */
uint64_t control_tick(struct control *c);

/* An administrator deleted or expired a node, or deleted its network, or
 * it logged out or was reaped: tell every node that looked it up (NOTIFY
 * peer_removed), and drop its session. */
void control_node_removed(struct control *c, int64_t node_id);
/* An administrator renamed a node: tell every node that looked it up
 * (NOTIFY peer_changed with the new name, addresses and endpoints). */
void control_node_changed(struct control *c, int64_t node_id);

/* What the live control plane knows of a key: when the server last
 * received an authenticated packet from it (Unix seconds; 0 = not since
 * the server started) and whether that was within CONTROL_ONLINE_WINDOW_S.
 * The store's last_seen lags it by up to CONTROL_FLUSH_INTERVAL_S. */
struct control_presence {
	bool online;
	int64_t last_seen;
};
void control_presence(const struct control *c, const uint8_t public_key[32],
		      struct control_presence *out);

/* Writes the registered nodes' live last-seen times that the store lacks,
 * in one transaction.  control_tick calls it every CONTROL_FLUSH_INTERVAL_S
 * and control_close once more.  0 or -errno (the store's message is in
 * store_errmsg); what failed is written again next time. */
int control_flush(struct control *c);

/* The relay (relayd.h) as the control plane sees it.  A node whose
 * packets come through the relay has a pseudo endpoint (WG_AF_RELAY, the
 * identifier of its relay connection); what the engine sends to such an
 * endpoint goes to send() instead of the UDP socket, in the order the
 * engine produced it, and flush() is called after each run of them. */
struct control_relay {
	void (*send)(void *ctx, const union wg_sockaddr *to, const uint8_t *pkt,
		     size_t len);
	void (*flush)(void *ctx);
	void *ctx;
};
/* r is copied; NULL detaches (relay endpoints are then dropped). */
void control_set_relay(struct control *c, const struct control_relay *r);
/* A WireGuard message for the server's key that came through the relay
 * from the pseudo endpoint from: handled as if it arrived by UDP.
 * Messages longer than a control datagram (2048 bytes) are dropped. */
void control_relay_input(struct control *c, const union wg_sockaddr *from,
			 const uint8_t *pkt, size_t len);
/* True when pub is a node the store knows (not expired): a live
 * registered session answers without the store. */
bool control_node_known(struct control *c, const uint8_t pub[32]);

/* The STUN servers nodes are told about at registration (REGISTER_OK),
 * at most CTL_MAX_RELAYS; n = 0 for none. */
void control_set_stun(struct control *c, const struct ctl_endpoint *eps, unsigned n);

/* Counters for `weft-server status`. */
struct control_stats {
	uint64_t sessions, registers, lookups, notifies, errors;
	uint64_t stun_answered;		/* STUN Binding requests on the control port */
};
void control_get_stats(const struct control *c, struct control_stats *out);

#endif
