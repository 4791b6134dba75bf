/*
 * stunsrv — weft-server's embedded STUN responder (RFC 8489 Binding,
 * answering RFC 3489 clients too; the codec is src/lib/stun.c).  One UDP
 * socket per listen address (default 0.0.0.0:3478 and [::]:3478 where
 * IPv6 exists), read in batches; every Binding request gets its answer
 * from the same socket, anything else is counted and dropped.  Stateless:
 * it remembers nothing between datagrams.
 */
#ifndef WEFT_STUNSRV_H
#define WEFT_STUNSRV_H

#include <stddef.h>
#include <stdint.h>

#define STUNSRV_MAX_SOCKETS 4

struct stunsrv_stats {
	uint64_t requests, answered, errors_sent, dropped;
};

struct stunsrv;

/* Opens a socket for each comma-separated ADDR:PORT of listen.
 * 0, or a negative errno with a message naming the address. */
int stunsrv_open(struct stunsrv **out, const char *listen, char *err,
		 size_t errlen);
void stunsrv_close(struct stunsrv *s);		/* NULL ok */
int stunsrv_fds(const struct stunsrv *s, int *fds, int max);
/* Reads and answers what is waiting on fd. */
void stunsrv_event(struct stunsrv *s, int fd);
const struct stunsrv_stats *stunsrv_stats(const struct stunsrv *s);
/* The port of the first socket (what nodes are told to ask). */
uint16_t stunsrv_port(const struct stunsrv *s);

/* Answers one datagram that reached another socket (weft-server's
 * control port answers STUN too): the answer's length in out, or 0. */
size_t stunsrv_answer(uint8_t *out, size_t cap, const uint8_t *req, size_t len,
		      const void *from_sockaddr);

#endif
