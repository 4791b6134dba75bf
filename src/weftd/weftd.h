/*
 * weftd — the node agent: one overlay interface whose peers are found on
 * demand through the coordination server (docs/control-plane.md).
 *
 * Modules: agent.c (the control session, on-demand peers, the packet
 * queue, ICMP errors, pings), nodestate.c (node.key, node.conf), netcfg.c
 * (addresses and link state through rtnetlink), local.c (the JSON socket
 * the `weft` CLI talks to) and main.c (command line, setup, the loop).
 */
#ifndef WEFTD_H
#define WEFTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "dp.h"
#include "probe.h"
#include "stun.h"
#include "token.h"

#define AGENT_MAX_REQS     256	/* control requests in flight */
#define AGENT_QUEUE_PKTS   32	/* packets held per unresolved destination */
#define AGENT_MAX_LOOKUPS  256	/* destinations being resolved at once */
#define AGENT_LOOKUP_TTL   (5 * NSEC_PER_SEC)	/* give up, send ICMP */
#define AGENT_NEGATIVE_TTL (5 * NSEC_PER_SEC)	/* remember "no such node" */
#define AGENT_REQ_LIFETIME (10 * NSEC_PER_SEC)
#define AGENT_HEARTBEAT    (20 * NSEC_PER_SEC)
#define AGENT_ONLINE_TTL   (60 * NSEC_PER_SEC)	/* server answered within */
#define AGENT_MAX_PINGS    64
#define AGENT_SCAN         (NSEC_PER_SEC / 10)	/* timeouts checked this often */
#define AGENT_HS_SECOND    (NSEC_PER_SEC / 10)	/* first candidate, then the rest */

/* What node.conf records after a join (nodestate.c). */
struct node_conf {
	uint8_t server_pub[32];
	char endpoints[TOKEN_ENDPOINTS_MAX];	/* as in the token */
	uint64_t node_id;
	char name[CTL_NAME_MAX + 1];
	struct ctl_prefix4 ipv4;	/* address / network prefix length */
	struct ctl_prefix6 ipv6;
	bool down;			/* `weft down` was the last word */
};

enum agent_state {
	AGENT_NEEDS_LOGIN,	/* no identity: `weft up --token` */
	AGENT_JOINING,		/* REGISTER with a join secret in flight */
	AGENT_CONNECTING,	/* known identity, server not answering yet */
	AGENT_RUNNING,		/* registered; the server answers */
	AGENT_DOWN,		/* `weft down` */
	AGENT_REMOVED,		/* the server refused our key for good */
};

struct local_conn;

/* STUN rounds (discover.c). */
#define DISC_MAX_TARGETS 4
struct disc_target {
	union wg_sockaddr to, mapped;
	uint8_t txid[STUN_TXID_LEN];
	uint8_t req[STUN_REQUEST_LEN];
	uint64_t sent_first, sent_last;
	unsigned sends;
	bool answered;
	uint32_t rtt_us;
};
struct discover {
	struct disc_target t[DISC_MAX_TARGETS];
	unsigned n;
	bool running, mapping_varies;
	uint64_t started, next_round;
	struct local_conn *waiter;	/* `weft netcheck` */
};

/* The relay connection (relayc.c). */
enum relayc_state { RC_IDLE, RC_CONNECTING, RC_OPENING, RC_READY };
struct relayc {
	bool enabled;
	int fd;				/* -1 when none */
	enum relayc_state state;
	bool want_out;			/* EPOLLOUT asked for */
	uint8_t k[32], nc[16];
	uint8_t *in, *out;		/* buffers, made on first use */
	size_t in_len, out_len, out_off;
	uint64_t deadline;		/* of the opening */
	uint64_t next_try, backoff, last_rx, next_ping;
	uint64_t frames_tx, frames_rx, dropped, bad, connects;
	uint64_t ping_sent, rtt_ns;	/* the last measured round trip */
	/* --relay-tls PORT: the relay inside TLS on that port of the
	 * server's host instead of plain TCP on the control port; 0 = off */
	uint16_t tls_port;
	struct ssl_ctx_st *tls_ctx;	/* OpenSSL's SSL_CTX, made on first use */
	struct ssl_st *ssl;		/* SSL of the connection; NULL = plain */
	bool tls_open;			/* its handshake is done */
	bool tls_rd_out;		/* SSL_read waits for the socket to be writable */
};

/* One way to reach a peer: an address of its that a probe may prove
 * (path.c). */
#define PATH_MAX_PATHS (CTL_MAX_ENDPOINTS + 4)
enum path_origin { PATH_CANDIDATE = 1, PATH_PEER_REFLEXIVE };
struct apath {
	union wg_sockaddr addr;
	uint8_t origin;			/* enum path_origin */
	uint8_t txid[2][PROBE_TXID_LEN];	/* the last two pings */
	uint64_t sent[2];		/* their times, monotonic ns; 0 = none */
	uint64_t last_pong;		/* 0 = never answered */
	uint32_t rtt_us;		/* of the last answer */
};

/* A peer the server told us about. */
struct apeer {
	uint64_t node_id;
	uint8_t pub[32];
	char name[CTL_NAME_MAX + 1];
	uint8_t ipv4[4], ipv6[16];
	struct ctl_endpoint endpoints[CTL_MAX_ENDPOINTS];
	uint8_t n_endpoints;
	struct wg_peer *wp;
	struct apeer *next;

	/* path.c */
	uint8_t probe_key[32];
	bool probing;			/* has a key; probes may go */
	struct apath paths[PATH_MAX_PATHS];
	uint8_t n_paths;
	int8_t best;			/* index into paths, -1 = none proven */
	uint8_t round;			/* of the current burst of probes */
	uint64_t next_probe;		/* monotonic ns; 0 = idle */
	uint64_t last_full;		/* last probe of every path */
	uint64_t pong_window;		/* rate limit of our answers */
	unsigned pongs;

	/* An initiation's second step: other candidates and the relay
	 * (agent_send_initiation). */
	uint8_t hs_msg[148];
	uint32_t hs_index;		/* its sender index */
	uint64_t hs_second_at;		/* monotonic ns; 0 = none */
};

/* Packets waiting for a LOOKUP of their destination. */
struct lookup {
	int family;
	uint8_t addr[16];
	uint64_t req_id;
	uint64_t born;
	uint64_t negative_until;	/* > 0: answered NOT_FOUND/DENIED */
	uint16_t neg_code;
	size_t n;
	uint8_t *pkts[AGENT_QUEUE_PKTS];	/* WG_HEADROOM + len + WG_TAILROOM */
	size_t lens[AGENT_QUEUE_PKTS];
	struct lookup *next;
};

enum req_purpose { REQ_JOIN = 1, REQ_RECONNECT, REQ_LOOKUP_ADDR,
		   REQ_LOOKUP_NAME, REQ_LOOKUP_KEY, REQ_ENDPOINTS, REQ_LOGOUT };

struct agent_req {
	bool used;
	uint8_t purpose;		/* enum req_purpose */
	uint64_t id;
	uint64_t next_send, deadline;
	unsigned sends;
	bool held;			/* waits for us to register again */
	size_t len;
	uint8_t wire[CTL_MAX_MSG];
	struct local_conn *waiter;	/* a CLI request waiting for it */
};

struct ping {
	bool used;
	uint16_t seq;
	uint64_t sent;			/* monotonic ns */
	uint64_t deadline;
	struct apeer *peer;
	struct local_conn *waiter;
};

struct agent {
	struct dp dp;			/* first: the engine's ctx is &dp */
	const char *state_dir;
	const char *socket_path;
	char key_path[4096], conf_path[4096];
	enum agent_state state;
	bool have_conf;
	struct node_conf conf;
	char hostname[CTL_HOSTNAME_MAX + 1];
	uint8_t join_secret[32];	/* only while joining; wiped after */
	char last_error[1400];

	struct wg_peer *server;
	union wg_sockaddr server_ep;
	uint64_t server_last_rx;	/* monotonic ns of its last message */
	bool server_ok;			/* it answered; nothing overdue since */
	uint64_t server_last_hs;	/* its peer's last handshake we acted on */
	uint64_t next_heartbeat;
	uint64_t next_scan;		/* agent_tick's next look at the tables */
	uint64_t next_id;
	bool resync;			/* re-LOOKUP known peers once registered */

	struct agent_req reqs[AGENT_MAX_REQS];
	struct apeer *peers;
	size_t n_peers;
	struct lookup *lookups;
	size_t n_lookups;
	struct ping pings[AGENT_MAX_PINGS];
	uint16_t ping_ident, ping_seq;

	/* Initiations from keys we did not know yet (dropped): if the server
	 * then announces that key, we initiate ourselves at once instead of
	 * letting the caller wait out its retransmission. */
	struct { uint8_t pub[32]; uint64_t when; } early[16];
	unsigned early_next;
	uint64_t key_lookup_window;	/* rate limit of LOOKUP by key */
	unsigned key_lookups;

	struct relayc relay;
	bool server_via_relay;		/* the control session uses the relay */
	struct discover disc;
	int addr_watch_fd;		/* netcfg_watch_open, -1 if none */
	uint64_t moved_at;		/* underlay addresses changed: act then */
	struct ctl_endpoint stun[CTL_MAX_RELAYS];	/* from REGISTER_OK */
	unsigned n_stun;
	union wg_sockaddr reflexive[DISC_MAX_TARGETS];	/* what STUN saw */
	unsigned n_reflexive;
	uint64_t stat_stun_stray;

	int local_fd;
	struct local_conn *conns;
	uint64_t stat_icmp_sent, stat_queue_dropped, stat_lookups;
	uint64_t stat_probe_bad, stat_probe_unknown, stat_pings_rx, stat_pongs_rx;
};

/* agent.c */
int agent_start(struct agent *a, char *why, size_t whylen);
void agent_stop(struct agent *a);
extern const struct wg_ops agent_ops;
extern const struct dp_host agent_host;
/* `weft up`: joins with a token (NULL: reconnect with the identity we
 * have).  0, or -errno with a message; completion reaches waiter. */
int agent_up(struct agent *a, const char *token, const char *hostname,
	     struct local_conn *waiter, char *err, size_t errlen);
int agent_down(struct agent *a, char *err, size_t errlen);
/* Something with a timeout was started: scan within AGENT_SCAN. */
void agent_soon(struct agent *a);
int agent_logout(struct agent *a, struct local_conn *waiter, char *err,
		 size_t errlen);
/* `weft ping`: one echo request to peer (a name or an address). */
int agent_ping(struct agent *a, const char *peer, struct local_conn *waiter,
	       char *err, size_t errlen);
const char *agent_state_name(enum agent_state s);
struct apeer *agent_peer_by_name(struct agent *a, const char *name);
struct apeer *agent_peer_by_addr(struct agent *a, int family,
				 const uint8_t *addr);
void agent_forget_waiter(struct agent *a, struct local_conn *c);

/* path.c: probes and the choice of a peer's endpoint. */
/* The server told us (again) where p may be: take its candidates. */
void path_update(struct agent *a, struct apeer *p);
/* Probe every candidate now and in a burst of rounds (hole punching
 * needs both sides to): on a lookup's answer and on an announcement. */
void path_probe(struct agent *a, struct apeer *p);
void path_datagram(struct dp *d, const union wg_sockaddr *from,
		   const uint8_t *buf, size_t len);
/* Due probes of every peer; returns the next time one is due (0: none). */
uint64_t path_tick(struct agent *a, uint64_t now);
/* Data from p arrived from `from`: keeps its chosen path alive. */
void path_heard(struct agent *a, struct apeer *p, const union wg_sockaddr *from);
/* The proven path (NULL if none) for status and ping. */
const struct apath *path_best(const struct agent *a, const struct apeer *p);

/* discover.c */
void discover_start(struct agent *a);
/* A STUN message on the WireGuard socket: true if it was one (handled). */
bool discover_datagram(struct agent *a, const union wg_sockaddr *from,
		       const uint8_t *buf, size_t len);
uint64_t discover_tick(struct agent *a, uint64_t now);
int discover_netcheck(struct agent *a, struct local_conn *waiter, char *err,
		      size_t errlen);
void discover_forget_waiter(struct agent *a, struct local_conn *c);
unsigned discover_candidates(const struct agent *a, union wg_sockaddr *out,
			     unsigned max);
/* agent.c: our candidates changed: tell the server. */
void agent_endpoints_changed(struct agent *a);

/* relayc.c */
/* Sends a PING and times its PONG (relay.rtt_ns). */
void relayc_measure(struct agent *a);
union wg_sockaddr relayc_endpoint(uint64_t node_id);	/* 0: the server */
bool relayc_ready(const struct agent *a);
void relayc_start(struct agent *a);
void relayc_stop(struct agent *a);
void relayc_send(struct agent *a, const union wg_sockaddr *to, const uint8_t *pkt,
		 size_t len);
void relayc_flush(struct agent *a);
void relayc_event(struct agent *a);
/* Due work; returns the next deadline (0: none). */
uint64_t relayc_tick(struct agent *a, uint64_t now);
/* agent.c: the relay came up or went down. */
void agent_relay_changed(struct agent *a, bool up);
struct apeer *agent_peer_by_id(struct agent *a, uint64_t id);
/* A candidate as the socket address it names. */
void agent_sockaddr(const struct ctl_endpoint *e, union wg_sockaddr *sa);
/* We have a UDP socket of sa's family. */
bool agent_can_send(const struct agent *a, const union wg_sockaddr *sa);

/* nodestate.c: 0 or -errno with a message. */
int nodestate_key(const char *path, uint8_t priv[32], bool create,
		  char *err, size_t errlen);
int nodestate_load(const char *path, struct node_conf *c, char *err,
		   size_t errlen);
int nodestate_save(const char *path, const struct node_conf *c, char *err,
		   size_t errlen);
int nodestate_forget(struct agent *a);

/* netcfg.c: rtnetlink; 0 or -errno. */
int netcfg_link_up(int ifindex, bool up);
int netcfg_addr(int ifindex, bool add, int family, const uint8_t *addr,
		uint8_t prefix);
/* A socket that hears of every address added or removed (-errno), and
 * its reading: true when an interface other than ignore_ifindex changed. */
int netcfg_watch_open(void);
bool netcfg_watch_read(int fd, int ignore_ifindex);

/* local.c: the CLI's socket. */
int local_open(struct agent *a, char *err, size_t errlen);
void local_close(struct agent *a);
void local_event(struct agent *a, uint64_t tag);
void local_tick(struct agent *a, uint64_t now);
/* Answers a waiting request: result (taken over) or an error message. */
struct json_object;
void local_reply_ok(struct agent *a, struct local_conn *c,
		    struct json_object *result);
void local_reply_error(struct agent *a, struct local_conn *c,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Handles one decoded request (agent side, in main.c). */
void local_handle(struct agent *a, struct local_conn *c, const char *command,
		  struct json_object *args);

#define EV_LOCAL       (DP_EV_HOST)
#define EV_RELAY       (DP_EV_HOST + 1)
#define EV_ADDRS       (DP_EV_HOST + 2)
#define EV_LOCAL_CONN  ((uint64_t)3 << 32)

#endif
