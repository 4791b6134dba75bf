/*
 * dp — see dp.h.  One thread, one epoll loop: the TUN device, an IPv4 and
 * an IPv6 UDP socket, a timerfd for the nearest of the engine's and the
 * host's deadlines, a signalfd, and a netlink socket that tells us when
 * the interface is deleted; the host adds its own descriptors.
 */
#include "dp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/udp.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "tun.h"

#define BATCH 64
#define BUF_SIZE 65536	/* a whole UDP datagram / TUN packet, plus room */

static int dp_level = LOG_ERROR;
static const char *dp_name = "weft";

void dp_set_log_level(int level)
{
	dp_level = level;
}

int dp_log_level(void)
{
	return dp_level;
}

void dp_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > dp_level)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "%s: %s", dp_name, level == LOG_ERROR ? "error: " : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* --- UDP --- */

static int dp_udp_socket(int family, uint16_t port, uint32_t mark, bool gro)
{
	union wg_sockaddr sa = { 0 };
	int one = 1, size = 4 << 20;
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(port);
		len = sizeof(sa.in6);
	} else {
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_port = htons(port);
		len = sizeof(sa.in4);
	}
	/* Bursts of a fast peer must not overflow the default buffers. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (mark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	/* UDP GRO (Linux 5.0): a train of datagrams of one sender arrives
	 * as one buffer with its segment size; without it, one by one. */
	if (gro)
		setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
	if (bind(fd, &sa.sa, len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static uint16_t dp_local_port(int fd)
{
	union wg_sockaddr sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, &sa.sa, &len) < 0)
		return 0;
	return ntohs(sa.sa.sa_family == AF_INET6 ? sa.in6.sin6_port
						 : sa.in4.sin_port);
}

void dp_watch(struct dp *d, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (fd >= 0)
		epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

void dp_unwatch(struct dp *d, int fd)
{
	if (fd >= 0)
		epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

int dp_bind(struct dp *d, uint16_t port)
{
	int fd4 = -1, fd6 = -1;

	/* With port 0 the kernel picks for IPv4 and IPv6 must match it;
	 * a clash on the IPv6 side means try another. */
	for (int attempt = 0; attempt < 16; attempt++) {
		fd4 = dp_udp_socket(AF_INET, port, d->fwmark, d->udp_gro);
		if (fd4 < 0)
			return fd4;
		fd6 = dp_udp_socket(AF_INET6, dp_local_port(fd4), d->fwmark,
				    d->udp_gro);
		if (fd6 >= 0 || fd6 == -EAFNOSUPPORT || port != 0)
			break;
		close(fd4);
		fd4 = -1;
	}
	if (fd4 < 0)
		return -EADDRINUSE;
	if (fd6 < 0 && fd6 != -EAFNOSUPPORT) {
		close(fd4);
		return fd6;
	}
	if (d->udp4 >= 0)
		close(d->udp4);
	if (d->udp6 >= 0)
		close(d->udp6);
	d->udp4 = fd4;
	d->udp6 = fd6 < 0 ? -1 : fd6;
	d->port = dp_local_port(fd4);
	dp_watch(d, d->udp4, DP_EV_UDP4);
	dp_watch(d, d->udp6, DP_EV_UDP6);
	dp_log(LOG_VERBOSE, "listening on UDP port %u", d->port);
	return 0;
}

int dp_set_fwmark(struct dp *d, uint32_t mark)
{
	int fds[2] = { d->udp4, d->udp6 };

	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0 &&
		    setsockopt(fds[i], SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
			return -errno;
	d->fwmark = mark;
	return 0;
}

/*
 * Outgoing datagrams are gathered while one event is handled and leave in
 * one sendmsg with UDP_SEGMENT (UDP GSO, Linux 4.18): a run of equal-sized
 * messages to one endpoint, the last possibly shorter.  Without GSO the
 * run leaves through sendmmsg.
 */
#define GSO_MAX_SEGS 64
#define UDP_MAX_PAYLOAD 65507

static struct {
	int fd;
	union wg_sockaddr to;
	size_t seg, count, len;
	bool closed;
	size_t lens[GSO_MAX_SEGS];
	_Alignas(16) uint8_t buf[UDP_MAX_PAYLOAD];
} dp_batch;

static void dp_flush_mmsg(void)
{
	struct mmsghdr m[GSO_MAX_SEGS];
	struct iovec iov[GSO_MAX_SEGS];
	size_t off = 0;

	for (size_t i = 0; i < dp_batch.count; i++) {
		iov[i] = (struct iovec){ dp_batch.buf + off, dp_batch.lens[i] };
		m[i].msg_hdr = (struct msghdr){
			.msg_name = &dp_batch.to, .msg_namelen = wg_sockaddr_len(&dp_batch.to),
			.msg_iov = &iov[i], .msg_iovlen = 1,
		};
		off += dp_batch.lens[i];
	}
	for (size_t done = 0; done < dp_batch.count;) {
		int n = sendmmsg(dp_batch.fd, m + done,
				 (unsigned)(dp_batch.count - done), 0);
		if (n <= 0)
			break;		/* a full socket buffer drops, like a NIC */
		done += (size_t)n;
	}
}

void dp_flush(struct dp *d)
{
	char ctl[CMSG_SPACE(sizeof(uint16_t))] = { 0 };
	struct iovec iov = { dp_batch.buf, dp_batch.len };
	struct msghdr mh = {
		.msg_name = &dp_batch.to, .msg_namelen = wg_sockaddr_len(&dp_batch.to),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cmsghdr *cm;
	uint16_t seg = (uint16_t)dp_batch.seg;

	if (!dp_batch.count)
		return;
	if (dp_batch.count == 1 || !d->udp_gso) {
		dp_flush_mmsg();
		goto out;
	}
	mh.msg_control = ctl;
	mh.msg_controllen = sizeof(ctl);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = IPPROTO_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	if (sendmsg(dp_batch.fd, &mh, 0) < 0 && errno != EAGAIN &&
	    errno != ENOBUFS) {
		/* No GSO on this kernel or route: fall back for good. */
		dp_log(LOG_VERBOSE, "UDP GSO unavailable (%s), using sendmmsg",
			strerror(errno));
		d->udp_gso = false;
		dp_flush_mmsg();
	}
out:
	dp_batch.count = dp_batch.len = 0;
	dp_batch.closed = false;
}

void dp_send(void *ctx, const union wg_sockaddr *to,
		     const uint8_t *msg, size_t len)
{
	struct dp *d = ctx;
	int fd = to->sa.sa_family == AF_INET6 ? d->udp6 : d->udp4;

	if (fd < 0)
		return;
	/* an initiation or a response: its answer comes within a round trip */
	if (len && (msg[0] == 1 || msg[0] == 2))
		dp_expect_answer(d);
	if (dp_batch.count &&
	    (dp_batch.fd != fd || dp_batch.closed || len > dp_batch.seg ||
	     dp_batch.count == GSO_MAX_SEGS ||
	     dp_batch.len + len > UDP_MAX_PAYLOAD ||
	     !wg_sockaddr_equal(&dp_batch.to, to)))
		dp_flush(d);
	if (!dp_batch.count) {
		dp_batch.fd = fd;
		memcpy(&dp_batch.to, to, wg_sockaddr_len(to));
		dp_batch.seg = len;
	}
	memcpy(dp_batch.buf + dp_batch.len, msg, len);
	dp_batch.lens[dp_batch.count++] = len;
	dp_batch.len += len;
	dp_batch.closed = len < dp_batch.seg;
}

static void dp_tun_write(void *ctx, const struct virtio_net_hdr *h,
			  const uint8_t *pkt, size_t len)
{
	struct dp *d = ctx;
	struct iovec iov[2] = {
		{ (void *)h, VNET_HDR_LEN }, { (void *)pkt, len },
	};

	if (writev(d->tun_fd, iov, 2) < 0 && errno != EAGAIN)
		dp_log(LOG_VERBOSE, "tun write: %s", strerror(errno));
}

void dp_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			size_t len)
{
	struct dp *d = ctx;
	struct virtio_net_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };

	if (d->offload)
		gro_add(&d->gro, pkt, len);
	else
		dp_tun_write(d, &h, pkt, len);
}

void dp_crypt(void *ctx, struct wg_crypt_job *jobs, size_t n)
{
	struct dp *d = ctx;

	workers_run(&d->workers, jobs, n);
}

void dp_tun_write_packet(struct dp *d, const uint8_t *pkt, size_t len)
{
	struct virtio_net_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };

	dp_tun_write(d, &h, pkt, len);
}

/* --- the loop --- */

#define SEG_MAX 128
static _Alignas(16) uint8_t dp_bufs[BATCH][BUF_SIZE];
static _Alignas(16) uint8_t dp_tunbuf[WG_HEADROOM + BUF_SIZE + WG_TAILROOM];
static _Alignas(16) uint8_t dp_segbuf[SEG_MAX * 4096];

/* One datagram, or one segment of a GRO train.  A segment is 8-byte
 * aligned only if the segment size is a multiple of 8; the engine takes
 * data messages from anywhere, the rest goes through an aligned copy. */
static _Alignas(16) uint8_t dp_aligned[BUF_SIZE];

static void dp_receive(struct dp *d, const union wg_sockaddr *from,
		       uint8_t *b, size_t len)
{
	/* WireGuard's types are le32 1..4; 0 for anything else */
	uint8_t type = len >= 4 && b[0] >= 1 && b[0] <= 4 && !b[1] && !b[2] &&
		       !b[3] ? b[0] : 0;

	if (((uintptr_t)b & 7) && type != 4) {
		memcpy(dp_aligned, b, len);
		b = dp_aligned;
	}
	if (d->host && d->host->datagram && len >= 4 && !type) {
		/* the host may send from its own buffers: not batched */
		wg_device_batch_end(d->dev);
		d->host->datagram(d, from, b, len);
		wg_device_batch_begin(d->dev);
	} else
		wg_device_receive(d->dev, from, b, len);
}

/* The segment size of a GRO train, 0 for a single datagram. */
static size_t dp_gro_size(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int seg;
			memcpy(&seg, CMSG_DATA(c), sizeof(seg));
			return seg > 0 ? (size_t)seg : 0;
		}
	return 0;
}

static void dp_read_udp(struct dp *d, int fd)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	union wg_sockaddr from[BATCH];
	char ctl[BATCH][CMSG_SPACE(sizeof(int))];
	int n;

	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = dp_bufs[i], .iov_len = BUF_SIZE };
		msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
			.msg_iov = &iov[i], .msg_iovlen = 1,
			.msg_control = d->udp_gro ? ctl[i] : NULL,
			.msg_controllen = d->udp_gro ? sizeof(ctl[i]) : 0,
		};
	}
	n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	clock_feed(d->dev);
	wg_device_batch_begin(d->dev);
	for (int i = 0; i < n; i++) {
		size_t len = msgs[i].msg_len;
		size_t seg = d->udp_gro ? dp_gro_size(&msgs[i].msg_hdr) : 0;

		if (!seg || seg >= len) {
			dp_receive(d, &from[i], dp_bufs[i], len);
			continue;
		}
		for (size_t off = 0; off < len; off += seg)
			dp_receive(d, &from[i], dp_bufs[i] + off,
				   len - off < seg ? len - off : seg);
	}
	wg_device_batch_end(d->dev);
	gro_flush(&d->gro);
}

/* One read from the TUN device: a packet, or a TCP super-packet that is
 * cut into segments here, each then encrypted by the engine. */
static bool dp_read_tun_one(struct dp *d)
{
	uint8_t *pkt = dp_tunbuf + WG_HEADROOM;
	struct virtio_net_hdr h;
	uint8_t *segs[SEG_MAX];
	size_t lens[SEG_MAX], nsegs, len;
	ssize_t n = read(d->tun_fd, pkt - VNET_HDR_LEN, BUF_SIZE);

	if (n < 0) {
		if (errno == EBADFD || errno == EIO) {
			dp_log(LOG_VERBOSE, "interface gone");
			d->running = false;
		}
		return false;
	}
	if ((size_t)n <= VNET_HDR_LEN)
		return true;
	memcpy(&h, pkt - VNET_HDR_LEN, VNET_HDR_LEN);
	len = (size_t)n - VNET_HDR_LEN;
	if (!offload_segment(&h, pkt, len, dp_segbuf, sizeof(dp_segbuf),
			     WG_HEADROOM, WG_TAILROOM, SEG_MAX, segs, lens, &nsegs))
		return true;	/* a packet the kernel mislabelled: drop */
	if (!nsegs) {
		wg_device_send(d->dev, dp_tunbuf, len);
		return true;
	}
	wg_device_batch_begin(d->dev);
	for (size_t i = 0; i < nsegs; i++)
		wg_device_send(d->dev, segs[i], lens[i]);
	wg_device_batch_end(d->dev);
	return true;
}

static void dp_read_tun(struct dp *d)
{
	clock_feed(d->dev);
	for (int i = 0; i < BATCH && dp_read_tun_one(d); i++)
		;
}

/* RTM_DELLINK for our interface ends the daemon; RTM_NEWLINK refreshes
 * the MTU the engine pads to. */
static void dp_read_netlink(struct dp *d)
{
	char buf[8192];
	ssize_t n = recv(d->netlink_fd, buf, sizeof(buf), MSG_DONTWAIT);

	for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
	     n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		struct ifinfomsg *ifi = NLMSG_DATA(h);
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) ||
		    ifi->ifi_index != d->ifindex)
			continue;
		if (h->nlmsg_type == RTM_DELLINK) {
			dp_log(LOG_VERBOSE, "interface %s deleted", d->ifname);
			d->running = false;
		} else if (h->nlmsg_type == RTM_NEWLINK) {
			int mtu = tun_get_mtu(d->ifname);
			if (mtu > 0)
				d->dev->mtu = (uint32_t)mtu;
		}
	}
}

static void dp_arm_timer(struct dp *d)
{
	uint64_t next;
	struct itimerspec its = { 0 };

	clock_feed(d->dev);
	next = wg_device_tick(d->dev);
	if (d->host && d->host->tick) {
		uint64_t h = d->host->tick(d);
		if (h && (!next || h < next))
			next = h;
	}
	dp_flush(d);	/* what the timers and the host just sent */
	/* A deadline that moved later needs no new arming: the timer fires
	 * early, finds nothing due and arms the real one.  Every packet
	 * moves a timer, so this saves a syscall per packet. */
	if (next == d->armed_deadline ||
	    (next && d->armed_deadline && next > d->armed_deadline))
		return;
	d->armed_deadline = next;
	if (next) {
		its.it_value.tv_sec = (time_t)(next / NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(next % NSEC_PER_SEC);
	}
	timerfd_settime(d->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void dp_dispatch(struct dp *d, uint64_t tag)
{
	uint64_t junk;

	switch (tag) {
	case DP_EV_TUN:
		dp_read_tun(d);
		break;
	case DP_EV_UDP4:
		dp_read_udp(d, d->udp4);
		break;
	case DP_EV_UDP6:
		dp_read_udp(d, d->udp6);
		break;
	case DP_EV_TIMER:
		if (read(d->timer_fd, &junk, sizeof(junk)) < 0)
			break;
		d->armed_deadline = 0;
		break;
	case DP_EV_SIGNAL: {
		struct signalfd_siginfo si;
		if (read(d->signal_fd, &si, sizeof(si)) != sizeof(si))
			break;
		if (si.ssi_signo == SIGHUP && d->host && d->host->hangup)
			d->host->hangup(d);
		else
			d->running = false;
		break;
	}
	case DP_EV_NETLINK:
		dp_read_netlink(d);
		break;
	default:
		clock_feed(d->dev);
		if (d->host && d->host->event)
			d->host->event(d, tag);
		break;
	}
}

static void dp_poll_for(struct dp *d, uint64_t ns)
{
	uint64_t until = clock_mono_ns() + ns;

	if (until > d->poll_until)
		d->poll_until = until;
}

void dp_expect_answer_within(struct dp *d, uint64_t ns)
{
	if (d->answer_poll_ns)
		dp_poll_for(d, ns > d->answer_poll_ns ? ns : d->answer_poll_ns);
}

void dp_expect_answer(struct dp *d)
{
	dp_expect_answer_within(d, 0);
}

void dp_sent_staged(void *ctx, struct wg_peer *peer)
{
	(void)peer;
	dp_expect_answer(ctx);
}

void dp_loop(struct dp *d)
{
	struct epoll_event evs[16];

	d->running = true;
	while (d->running) {
		dp_arm_timer(d);
		/* the next handshake's ephemeral key, made while idle */
		if (d->dev->local.has_key && !d->dev->local.has_spare)
			noise_local_refill(&d->dev->local);
		/* After traffic (if asked) or a message whose answer is
		 * near, poll for a short while instead of sleeping: a
		 * halted vCPU takes far longer to wake.  Each empty poll
		 * yields to whatever else could run. */
		int timeout = -1;
		if (d->poll_until && clock_mono_ns() < d->poll_until)
			timeout = 0;
		int n = epoll_wait(d->epoll_fd, evs, 16, timeout);
		if (n < 0 && errno != EINTR)
			break;
		/* What we polled for came: stop, unless what it brings
		 * asks for more (the handlers below may). */
		if (n > 0)
			d->poll_until = 0;
		if (n > 0 && d->poll_ns)
			dp_poll_for(d, d->poll_ns);
		else if (n == 0 && timeout == 0)
			sched_yield();
		for (int i = 0; i < n && d->running; i++) {
			dp_dispatch(d, evs[i].data.u64);
			dp_flush(d);
		}
	}
}

/* --- setup --- */

static int dp_netlink_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int dp_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* WEFT_WG_OFFLOAD: which offloads to ask for (dp.h); 0, or -1 with a
 * message for a word it does not know. */
static int dp_offloads(struct dp *d, const char *spec, char *why, size_t whylen)
{
	char buf[64], *save = NULL;

	d->tun_offload = d->udp_gso = d->udp_gro = true;
	if (!spec || !strcmp(spec, "all") || !strcmp(spec, "1"))
		return 0;
	d->tun_offload = d->udp_gso = d->udp_gro = false;
	if (!strcmp(spec, "none") || !strcmp(spec, "0"))
		return 0;
	if (strlen(spec) >= sizeof(buf))
		goto bad;
	strcpy(buf, spec);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "tun"))
			d->tun_offload = true;
		else if (!strcmp(w, "gso"))
			d->udp_gso = true;
		else if (!strcmp(w, "gro"))
			d->udp_gro = true;
		else
			goto bad;
	}
	return 0;
bad:
	snprintf(why, whylen, "WEFT_WG_OFFLOAD=%s: expected all, none or a "
		 "comma list of tun, gso, gro", spec);
	return -1;
}

/* A duration in µs from the environment (0-100000), in ns. */
static int dp_microseconds(const char *name, unsigned long def, uint64_t *ns,
			   char *why, size_t whylen)
{
	const char *v = getenv(name);
	char *end;
	unsigned long us = def;

	if (v) {
		us = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || us > 100000) {
			snprintf(why, whylen, "%s=%s: expected microseconds "
				 "from 0 to 100000", name, v);
			return -1;
		}
	}
	*ns = (uint64_t)us * 1000;
	return 0;
}

/* WEFT_WG_THREADS: a count from 1 to CRYPTO_LANES, or "auto" (unset):
 * half the CPUs we may run on. */
static int dp_threads(const char *spec, unsigned *out, char *why, size_t whylen)
{
	char *end;
	unsigned long n;

	if (!spec || !strcmp(spec, "auto")) {
		cpu_set_t set;
		long cpus = sched_getaffinity(0, sizeof(set), &set) == 0
			? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
		/* Half: the kernel's side of every packet (TUN, UDP, the
		 * stack, the application) needs the other half.  Measured on
		 * 2 CPUs with both ends on the machine: a helper thread
		 * costs 15-25 % of TCP throughput (docs/dataplane.md). */
		cpus /= 2;
		*out = cpus < 1 ? 1 : cpus > CRYPTO_LANES ? CRYPTO_LANES : (unsigned)cpus;
		return 0;
	}
	n = strtoul(spec, &end, 10);
	if (*spec < '0' || *spec > '9' || *end || n < 1 || n > CRYPTO_LANES) {
		snprintf(why, whylen, "WEFT_WG_THREADS=%s: expected auto or a "
			 "number from 1 to %d", spec, CRYPTO_LANES);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

int dp_init(struct dp *d, const struct wg_ops *ops, char *why, size_t whylen)
{
	const char *load = getenv("WEFT_WG_HANDSHAKE_LOAD");
	unsigned threads;
	int r;

	if (d->log_name)
		dp_name = d->log_name;
	/* Big transient buffers (a 10 000-peer setconf or its dump) come
	 * from mmap and go back when freed, instead of raising glibc's
	 * threshold and then staying in the heap for good. */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	d->tun_fd = d->udp4 = d->udp6 = -1;
	d->offload = false;
	if (dp_offloads(d, getenv("WEFT_WG_OFFLOAD"), why, whylen) < 0)
		return -1;
	if (dp_microseconds("WEFT_WG_POLL_US", 0, &d->poll_ns, why, whylen) < 0 ||
	    dp_microseconds("WEFT_WG_ANSWER_POLL_US", 300, &d->answer_poll_ns,
			    why, whylen) < 0)
		return -1;
	if (dp_threads(getenv("WEFT_WG_THREADS"), &threads, why, whylen) < 0)
		return -1;
	gro_init(&d->gro, dp_tun_write, d);
	d->dev = wg_device_new(ops, d);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->signal_fd = dp_signals();
	d->netlink_fd = dp_netlink_open();
	if (!d->dev || d->epoll_fd < 0 || d->timer_fd < 0 || d->signal_fd < 0 ||
	    d->netlink_fd < 0) {
		snprintf(why, whylen, "cannot set up the event loop: %s",
			 strerror(errno));
		return -1;
	}
	/* after dp_signals: the helpers inherit the blocked signals */
	r = workers_start(&d->workers, threads - 1);
	if (r < 0) {
		snprintf(why, whylen, "cannot start crypto threads: %s",
			 strerror(-r));
		return -1;
	}
	if (load)
		wg_device_set_load_threshold(d->dev,
					     (unsigned)strtoul(load, NULL, 10));
	dp_watch(d, d->timer_fd, DP_EV_TIMER);
	dp_watch(d, d->signal_fd, DP_EV_SIGNAL);
	dp_watch(d, d->netlink_fd, DP_EV_NETLINK);
	return 0;
}

int dp_open(struct dp *d, uint16_t port, char *why, size_t whylen)
{
	int r;

	d->tun_fd = tun_open(d->ifname, &d->ifindex, d->tun_offload,
			     &d->offload);
	if (d->tun_fd < 0) {
		snprintf(why, whylen, "cannot create TUN interface %s: %s",
			 d->ifname, strerror(-d->tun_fd));
		d->tun_fd = -1;
		return -1;
	}
	if (tun_get_mtu(d->ifname) == 1500)
		tun_set_mtu(d->ifname, WG_DEFAULT_MTU);
	r = tun_get_mtu(d->ifname);
	d->dev->mtu = r > 0 ? (uint32_t)r : WG_DEFAULT_MTU;
	r = dp_bind(d, port);
	if (r < 0) {
		snprintf(why, whylen, "cannot open UDP sockets: %s", strerror(-r));
		return -1;
	}
	dp_watch(d, d->tun_fd, DP_EV_TUN);
	return 0;
}

void dp_close(struct dp *d)
{
	int *fds[] = { &d->tun_fd, &d->udp4, &d->udp6, &d->timer_fd,
		       &d->signal_fd, &d->netlink_fd, &d->epoll_fd };

	workers_stop(&d->workers);
	wg_device_free(d->dev);
	d->dev = NULL;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

/* Detaches: the parent waits for the child's verdict on setup, so a
 * failure is reported by the command the user ran, with its exit code. */
int dp_daemonize(int *report_fd)
{
	int p[2];
	pid_t pid;
	char c = 1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 1;
		_exit(c);
	}
	close(p[0]);
	setsid();
	*report_fd = p[1];
	return 0;
}

void dp_detach_report(int report_fd, bool ok)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (ok && fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (fd >= 0)
		close(fd);
	if (write(report_fd, ok ? "\0" : "\1", 1) < 0)
		_exit(1);
	close(report_fd);
}
