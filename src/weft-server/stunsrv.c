/* stunsrv — see stunsrv.h. */
#include "stunsrv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockaddr.h"
#include "stun.h"
#include "uapi.h"

#define STUNSRV_BATCH 32
#define STUNSRV_SOFTWARE "weft-server"

struct stunsrv {
	int fd[STUNSRV_MAX_SOCKETS];
	int n;
	uint16_t port;
	struct stunsrv_stats stats;
};

static int stunsrv_socket(const char *spec, size_t len, uint16_t *port,
			  char *err, size_t errlen)
{
	union wg_sockaddr sa;
	int fd, one = 1;

	if (!uapi_parse_endpoint(&sa, spec, len)) {
		snprintf(err, errlen, "STUN listen address '%.*s' is not ADDR:PORT "
			 "or [ADDR6]:PORT", (int)len, spec);
		return -EINVAL;
	}
	fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open a UDP socket for STUN: %s",
			 strerror(errno));
		return -errno;
	}
	if (sa.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &sa.sa, wg_sockaddr_len(&sa)) < 0) {
		int r = -errno;
		snprintf(err, errlen, "cannot listen for STUN on UDP %.*s: %s",
			 (int)len, spec, strerror(errno));
		close(fd);
		return r;
	}
	/* port 0: the kernel's choice (tests) */
	socklen_t sl = sizeof(sa);
	getsockname(fd, &sa.sa, &sl);
	*port = ntohs(sa.sa.sa_family == AF_INET ? sa.in4.sin_port : sa.in6.sin6_port);
	return fd;
}

int stunsrv_open(struct stunsrv **out, const char *listen, char *err,
		 size_t errlen)
{
	struct stunsrv *s = calloc(1, sizeof(*s));
	const char *p = listen;
	int r;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		uint16_t port = 0;
		if (s->n == STUNSRV_MAX_SOCKETS) {
			snprintf(err, errlen, "at most %d STUN listen addresses",
				 STUNSRV_MAX_SOCKETS);
			stunsrv_close(s);
			return -E2BIG;
		}
		if ((r = stunsrv_socket(p, len, &port, err, errlen)) < 0) {
			stunsrv_close(s);
			return r;
		}
		if (!s->n)
			s->port = port;
		s->fd[s->n++] = r;
		p += len + (comma ? 1 : 0);
	}
	*out = s;
	return 0;
}

void stunsrv_close(struct stunsrv *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		close(s->fd[i]);
	free(s);
}

int stunsrv_fds(const struct stunsrv *s, int *fds, int max)
{
	int n = 0;

	for (int i = 0; s && i < s->n && n < max; i++)
		fds[n++] = s->fd[i];
	return n;
}

const struct stunsrv_stats *stunsrv_stats(const struct stunsrv *s)
{
	return &s->stats;
}

uint16_t stunsrv_port(const struct stunsrv *s)
{
	return s ? s->port : 0;
}

size_t stunsrv_answer(uint8_t *out, size_t cap, const uint8_t *req, size_t len,
		      const void *from_sockaddr)
{
	if (!stun_is_binding_request(req, len))
		return 0;
	return stun_server_answer(out, cap, req, len, from_sockaddr, STUNSRV_SOFTWARE);
}

void stunsrv_event(struct stunsrv *s, int fd)
{
	static uint8_t in[STUNSRV_BATCH][1500], ans[STUNSRV_BATCH][STUN_ANSWER_MAX];
	struct mmsghdr rx[STUNSRV_BATCH], tx[STUNSRV_BATCH];
	struct iovec riov[STUNSRV_BATCH], tiov[STUNSRV_BATCH];
	union wg_sockaddr from[STUNSRV_BATCH];
	int n, m = 0;

	for (int i = 0; i < STUNSRV_BATCH; i++) {
		riov[i] = (struct iovec){ .iov_base = in[i], .iov_len = sizeof(in[i]) };
		rx[i].msg_hdr = (struct msghdr){
			.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
			.msg_iov = &riov[i], .msg_iovlen = 1,
		};
	}
	n = recvmmsg(fd, rx, STUNSRV_BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		size_t a;
		s->stats.requests++;
		a = stunsrv_answer(ans[m], sizeof(ans[m]), in[i], rx[i].msg_len, &from[i]);
		if (!a) {
			s->stats.dropped++;
			continue;
		}
		if (ans[m][1] == 0x11)
			s->stats.errors_sent++;
		else
			s->stats.answered++;
		tiov[m] = (struct iovec){ .iov_base = ans[m], .iov_len = a };
		tx[m].msg_hdr = (struct msghdr){
			.msg_name = &from[i], .msg_namelen = rx[i].msg_hdr.msg_namelen,
			.msg_iov = &tiov[m], .msg_iovlen = 1,
		};
		m++;
	}
	if (m > 0)
		sendmmsg(fd, tx, (unsigned)m, MSG_DONTWAIT);
}
