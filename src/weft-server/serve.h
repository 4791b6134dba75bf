/*
 * serve — `weft-server serve`: the foreground server.  One thread, one
 * epoll loop over the admin socket and its connections, the control
 * plane's UDP socket(s), the relay's TCP listener and connections
 * (relayd.h), a timerfd (the control plane's next deadline and
 * a one-second housekeeping tick) and a signalfd: SIGTERM or SIGINT stop
 * it cleanly, removing admin.sock.
 */
#ifndef WEFT_SERVER_SERVE_H
#define WEFT_SERVER_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "state.h"

struct serve_opts {
	bool check;			/* validate the state and exit */
	int64_t ephemeral_timeout;	/* seconds */
	bool no_relay;			/* no relay listener at all */
	const char *relay_listen;	/* TCP ADDR:PORT; NULL = the UDP listen */
	const char *relay_tls_listen;	/* TCP ADDR:PORT of the relay in TLS;
					 * NULL = none */
	bool no_stun;			/* no STUN responder */
	const char *stun_listen;	/* UDP ADDR:PORT[,...]; NULL = port 3478 */
};

/* Runs until a stop signal; returns the process exit code (0 or 1).
 * Failures are printed as one line on stderr. */
int serve_run(const struct state_paths *p, const struct serve_opts *opt);

#endif
