/*
 * control — the node-facing side of weft-server: one UDP socket per
 * listen address carrying WireGuard to the server's static key, and inside
 * those sessions the control protocol (src/lib/ctl.h): REGISTER, LOOKUP
 * with NOTIFY to the target, ENDPOINTS, LIST, LOGOUT.  Nodes are found in
 * and written to the store; every node lifecycle event is audited.
 *
 * The serve loop owns the event loop: it watches control_fds() for input,
 * calls control_event() for each readable one, and control_tick() when
 * the deadline it returned has passed.  Errors: 0 or -errno, with a
 * message in err.  Not thread-safe.
 */
#ifndef WEFT_SERVER_CONTROL_H
#define WEFT_SERVER_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

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

/* An administrator deleted or expired a node, or deleted its network:
 * tell every node that looked it up (push), and drop its session. */
void control_node_removed(struct control *c, int64_t node_id);

/* Counters for `weft-server status`. */
struct control_stats {
	uint64_t sessions, registers, lookups, notifies, errors;
};
void control_get_stats(const struct control *c, struct control_stats *out);

#endif
