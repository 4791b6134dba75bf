/*
 * relayd — the relay inside weft-server (docs/relay.md): a TCP listener,
 * by default on the control plane's UDP address and port, speaking the
 * relay stream of src/lib/relay.h.  A client proves its static key
 * (HELLO, CHALLENGE, PROOF from X25519(server, client)); then its SEND
 * frames are forwarded by public key as RECV frames to the connection of
 * the destination key, or, when the destination is the server's own key,
 * handed to the control plane's engine from a pseudo endpoint
 * (WG_AF_RELAY) that names the connection, whose answers come back
 * through relayd_send.  The relay never reads a payload.
 *
 * Everything is bounded: connections in the opening and in all, X25519
 * computations per second, each connection's output queue (a full queue
 * drops, like a router's) and the buffers of all connections together.
 * Failures close the one connection and are counted, never answered.
 *
 * The serve loop owns the epoll set: relayd adds its descriptors with
 * data.u64 = tag << 32 | id and the loop calls relayd_event(id, events)
 * for them, and relayd_tick once a second.  Not thread-safe.
 *
 * Optionally (relayd_listen_tls) a second listener, typically on port
 * 443, whose connections carry the same stream inside TLS with a
 * throwaway self-signed certificate: camouflage for firewalls that pass
 * only HTTPS, not security (the opening inside authenticates both ends).
 * Both listeners feed one relay: a client on either reaches clients on
 * both.
 */
#ifndef WEFT_SERVER_RELAYD_H
#define WEFT_SERVER_RELAYD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockaddr.h"

#define RELAYD_MAX_CONNS	8192	/* connections, opening or open */
#define RELAYD_MAX_OPENING	256	/* connections before their PROOF; one
					 * more evicts the oldest */
#define RELAYD_DH_PER_S		2000	/* HELLOs answered per second */
#define RELAYD_OPEN_TTL_S	5	/* HELLO and PROOF arrive within this */
#define RELAYD_IDLE_TTL_S	60	/* an open connection silent this long
					 * is closed (clients PING every 25 s) */
#define RELAYD_OUT_MAX		(4u << 20)	/* queued output per connection */
#define RELAYD_MEM_MAX		(512u << 20)	/* all connections' buffers */

struct relayd;

struct relayd_hooks {
	/* A packet from the relayed client `from` (a WG_AF_RELAY pseudo
	 * endpoint) for the server's own key.  pkt is only valid during the
	 * call; the hook may call relayd_send and relayd_flush. */
	void (*to_server)(void *ctx, const union wg_sockaddr *from,
			  const uint8_t *pkt, size_t len);
	/* Whether pub is a known node, which may send to other keys (an
	 * unknown key only reaches the server, so that it can join).  Asked
	 * at most once a second per connection. */
	bool (*known)(void *ctx, const uint8_t pub[32]);
	void *ctx;
};

/* listen: "ADDR:PORT" or "[ADDR6]:PORT".  private_key is copied (wiped by
 * relayd_close).  0 or -errno with a message in err. */
int relayd_open(struct relayd **out, const uint8_t private_key[32],
		const char *listen, int epfd, uint32_t tag,
		const struct relayd_hooks *hooks, char *err, size_t errlen);
void relayd_close(struct relayd *r);	/* NULL ok; closes every connection */
/* Adds the TLS listener on listen ("ADDR:PORT" or "[ADDR6]:PORT"), with
 * a P-256 key and a certificate made now, in memory only.  Once per
 * relay.  0 or -errno with a message in err. */
int relayd_listen_tls(struct relayd *r, const char *listen, char *err, size_t errlen);

/* A descriptor of ours is ready (events as epoll_wait gave them). */
void relayd_event(struct relayd *r, uint32_t id, uint32_t events);
/* Closes the connections whose opening or silence timed out, and logs
 * what the rate limit held back.  Call once a second. */
void relayd_tick(struct relayd *r);

/* The control plane's answer to a relayed client: queued as RECV from
 * the server's key on the connection `to` names, dropped (and counted)
 * when that connection is gone.  relayd_flush writes what is queued. */
void relayd_send(struct relayd *r, const union wg_sockaddr *to,
		 const uint8_t *pkt, size_t len);
void relayd_flush(struct relayd *r);

/* Counters for `weft-server status`. */
struct relayd_stats {
	uint64_t opening, open;			/* connections now */
	uint64_t accepted, authenticated, replaced;
	uint64_t tls_accepted, tls_handshakes;	/* on the TLS listener */
	uint64_t bad_tls;		/* TLS handshakes that failed */
	/* connections closed before or instead of authenticating */
	uint64_t refused_full, opening_evicted, refused_dh_rate;
	uint64_t bad_hello, bad_proof, open_timeouts;
	uint64_t open_abandoned;	/* the client hung up in the opening */
	/* open connections closed */
	uint64_t idle_timeouts, broken_streams, closed;
	/* forwarded between clients (bytes are WireGuard packets' bytes) */
	uint64_t frames, bytes;
	uint64_t to_server, from_server, pings;
	/* frames dropped, by reason */
	uint64_t drop_no_peer;		/* no connection has the destination key */
	uint64_t drop_not_node;		/* an unknown key sent to another than us */
	uint64_t drop_queue_full;	/* the destination's queue is full */
	uint64_t drop_memory;		/* all buffers together are full */
	uint64_t drop_gone;		/* server answer to a closed connection */
};
void relayd_get_stats(const struct relayd *r, struct relayd_stats *out);
/* The address the relay listens on, as given. */
const char *relayd_address(const struct relayd *r);
/* The TLS listener's address as given, or NULL when there is none. */
const char *relayd_tls_address(const struct relayd *r);

#endif
