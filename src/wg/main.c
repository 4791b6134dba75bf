/*
 * weft-wg — a userspace WireGuard interface driven by `wg` and `wg-quick`
 * exactly like wireguard-go: weft-wg [-f] IFNAME.
 *
 * One thread, one epoll loop: the TUN device, an IPv4 and an IPv6 UDP
 * socket, the configuration socket, a timerfd for the engine's next
 * deadline, a signalfd, and a netlink socket that tells us when the
 * interface is deleted (how `wg-quick down` stops us).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <linux/rtnetlink.h>
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
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "tun.h"
#include "wg.h"

#define WEFT_VERSION "0.1.0"
#define BATCH 64
#define BUF_SIZE 65536	/* a whole UDP datagram / TUN packet, plus room */

enum { EV_TUN = 1, EV_UDP4, EV_UDP6, EV_UAPI, EV_TIMER, EV_SIGNAL, EV_NETLINK };

static int wgd_log_level = LOG_ERROR;

void wgd_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > wgd_log_level)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "weft-wg: %s", level == LOG_ERROR ? "error: " : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* --- UDP --- */

static int wgd_udp_socket(int family, uint16_t port, uint32_t mark)
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
	if (bind(fd, &sa.sa, len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static uint16_t wgd_local_port(int fd)
{
	union wg_sockaddr sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, &sa.sa, &len) < 0)
		return 0;
	return ntohs(sa.sa.sa_family == AF_INET6 ? sa.in6.sin6_port
						 : sa.in4.sin_port);
}

static void wgd_watch(struct wgd *w, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (fd >= 0)
		epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

int wgd_bind(struct wgd *w, uint16_t port)
{
	int fd4 = -1, fd6 = -1;

	/* With port 0 the kernel picks for IPv4 and IPv6 must match it;
	 * a clash on the IPv6 side means try another. */
	for (int attempt = 0; attempt < 16; attempt++) {
		fd4 = wgd_udp_socket(AF_INET, port, w->fwmark);
		if (fd4 < 0)
			return fd4;
		fd6 = wgd_udp_socket(AF_INET6, wgd_local_port(fd4), w->fwmark);
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
	if (w->udp4 >= 0)
		close(w->udp4);
	if (w->udp6 >= 0)
		close(w->udp6);
	w->udp4 = fd4;
	w->udp6 = fd6 < 0 ? -1 : fd6;
	w->port = wgd_local_port(fd4);
	wgd_watch(w, w->udp4, EV_UDP4);
	wgd_watch(w, w->udp6, EV_UDP6);
	wgd_log(LOG_VERBOSE, "listening on UDP port %u", w->port);
	return 0;
}

int wgd_set_fwmark(struct wgd *w, uint32_t mark)
{
	int fds[2] = { w->udp4, w->udp6 };

	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0 &&
		    setsockopt(fds[i], SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
			return -errno;
	w->fwmark = mark;
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
} wgd_batch;

static void wgd_flush_mmsg(void)
{
	struct mmsghdr m[GSO_MAX_SEGS];
	struct iovec iov[GSO_MAX_SEGS];
	size_t off = 0;

	for (size_t i = 0; i < wgd_batch.count; i++) {
		iov[i] = (struct iovec){ wgd_batch.buf + off, wgd_batch.lens[i] };
		m[i].msg_hdr = (struct msghdr){
			.msg_name = &wgd_batch.to, .msg_namelen = wg_sockaddr_len(&wgd_batch.to),
			.msg_iov = &iov[i], .msg_iovlen = 1,
		};
		off += wgd_batch.lens[i];
	}
	for (size_t done = 0; done < wgd_batch.count;) {
		int n = sendmmsg(wgd_batch.fd, m + done,
				 (unsigned)(wgd_batch.count - done), 0);
		if (n <= 0)
			break;		/* a full socket buffer drops, like a NIC */
		done += (size_t)n;
	}
}

static void wgd_flush(struct wgd *w)
{
	char ctl[CMSG_SPACE(sizeof(uint16_t))] = { 0 };
	struct iovec iov = { wgd_batch.buf, wgd_batch.len };
	struct msghdr mh = {
		.msg_name = &wgd_batch.to, .msg_namelen = wg_sockaddr_len(&wgd_batch.to),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cmsghdr *cm;
	uint16_t seg = (uint16_t)wgd_batch.seg;

	if (!wgd_batch.count)
		return;
	if (wgd_batch.count == 1 || !w->udp_gso) {
		wgd_flush_mmsg();
		goto out;
	}
	mh.msg_control = ctl;
	mh.msg_controllen = sizeof(ctl);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = IPPROTO_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	if (sendmsg(wgd_batch.fd, &mh, 0) < 0 && errno != EAGAIN &&
	    errno != ENOBUFS) {
		/* No GSO on this kernel or route: fall back for good. */
		wgd_log(LOG_VERBOSE, "UDP GSO unavailable (%s), using sendmmsg",
			strerror(errno));
		w->udp_gso = false;
		wgd_flush_mmsg();
	}
out:
	wgd_batch.count = wgd_batch.len = 0;
	wgd_batch.closed = false;
}

static void wgd_send(void *ctx, const union wg_sockaddr *to,
		     const uint8_t *msg, size_t len)
{
	struct wgd *w = ctx;
	int fd = to->sa.sa_family == AF_INET6 ? w->udp6 : w->udp4;

	if (fd < 0)
		return;
	if (wgd_batch.count &&
	    (wgd_batch.fd != fd || wgd_batch.closed || len > wgd_batch.seg ||
	     wgd_batch.count == GSO_MAX_SEGS ||
	     wgd_batch.len + len > UDP_MAX_PAYLOAD ||
	     !wg_sockaddr_equal(&wgd_batch.to, to)))
		wgd_flush(w);
	if (!wgd_batch.count) {
		wgd_batch.fd = fd;
		memcpy(&wgd_batch.to, to, wg_sockaddr_len(to));
		wgd_batch.seg = len;
	}
	memcpy(wgd_batch.buf + wgd_batch.len, msg, len);
	wgd_batch.lens[wgd_batch.count++] = len;
	wgd_batch.len += len;
	wgd_batch.closed = len < wgd_batch.seg;
}

static void wgd_tun_write(void *ctx, const struct virtio_net_hdr *h,
			  const uint8_t *pkt, size_t len)
{
	struct wgd *w = ctx;
	struct iovec iov[2] = {
		{ (void *)h, VNET_HDR_LEN }, { (void *)pkt, len },
	};

	if (writev(w->tun_fd, iov, 2) < 0 && errno != EAGAIN)
		wgd_log(LOG_VERBOSE, "tun write: %s", strerror(errno));
}

static void wgd_deliver(void *ctx, struct wg_peer *peer, const uint8_t *pkt,
			size_t len)
{
	struct wgd *w = ctx;
	struct virtio_net_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };

	if (w->offload)
		gro_add(&w->gro, pkt, len);
	else
		wgd_tun_write(w, &h, pkt, len);
}

static const struct wg_ops wgd_ops = { .send = wgd_send, .deliver = wgd_deliver };

/* --- the loop --- */

#define SEG_MAX 128
static _Alignas(16) uint8_t wgd_bufs[BATCH][BUF_SIZE];
static _Alignas(16) uint8_t wgd_tunbuf[WG_HEADROOM + BUF_SIZE + WG_TAILROOM];
static _Alignas(16) uint8_t wgd_segbuf[SEG_MAX * 4096];

static void wgd_read_udp(struct wgd *w, int fd)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	union wg_sockaddr from[BATCH];
	int n;

	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = wgd_bufs[i], .iov_len = BUF_SIZE };
		msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
			.msg_iov = &iov[i], .msg_iovlen = 1,
		};
	}
	n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	clock_feed(w->dev);
	for (int i = 0; i < n; i++)
		wg_device_receive(w->dev, &from[i], wgd_bufs[i], msgs[i].msg_len);
	gro_flush(&w->gro);
}

/* One read from the TUN device: a packet, or a TCP super-packet that is
 * cut into segments here, each then encrypted by the engine. */
static bool wgd_read_tun_one(struct wgd *w)
{
	uint8_t *pkt = wgd_tunbuf + WG_HEADROOM;
	struct virtio_net_hdr h;
	uint8_t *segs[SEG_MAX];
	size_t lens[SEG_MAX], nsegs, len;
	ssize_t n = read(w->tun_fd, pkt - VNET_HDR_LEN, BUF_SIZE);

	if (n < 0) {
		if (errno == EBADFD || errno == EIO) {
			wgd_log(LOG_VERBOSE, "interface gone");
			w->running = false;
		}
		return false;
	}
	if ((size_t)n <= VNET_HDR_LEN)
		return true;
	memcpy(&h, pkt - VNET_HDR_LEN, VNET_HDR_LEN);
	len = (size_t)n - VNET_HDR_LEN;
	if (!offload_segment(&h, pkt, len, wgd_segbuf, sizeof(wgd_segbuf),
			     WG_HEADROOM, WG_TAILROOM, SEG_MAX, segs, lens, &nsegs))
		return true;	/* a packet the kernel mislabelled: drop */
	if (!nsegs)
		wg_device_send(w->dev, wgd_tunbuf, len);
	for (size_t i = 0; i < nsegs; i++)
		wg_device_send(w->dev, segs[i], lens[i]);
	return true;
}

static void wgd_read_tun(struct wgd *w)
{
	clock_feed(w->dev);
	for (int i = 0; i < BATCH && wgd_read_tun_one(w); i++)
		;
}

/* RTM_DELLINK for our interface ends the daemon; RTM_NEWLINK refreshes
 * the MTU the engine pads to. */
static void wgd_read_netlink(struct wgd *w)
{
	char buf[8192];
	ssize_t n = recv(w->netlink_fd, buf, sizeof(buf), MSG_DONTWAIT);

	for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
	     n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		struct ifinfomsg *ifi = NLMSG_DATA(h);
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) ||
		    ifi->ifi_index != w->ifindex)
			continue;
		if (h->nlmsg_type == RTM_DELLINK) {
			wgd_log(LOG_VERBOSE, "interface %s deleted", w->ifname);
			w->running = false;
		} else if (h->nlmsg_type == RTM_NEWLINK) {
			int mtu = tun_get_mtu(w->ifname);
			if (mtu > 0)
				w->dev->mtu = (uint32_t)mtu;
		}
	}
}

static void wgd_arm_timer(struct wgd *w)
{
	uint64_t next;
	struct itimerspec its = { 0 };

	clock_feed(w->dev);
	next = wg_device_tick(w->dev);
	if (next == w->armed_deadline)
		return;
	w->armed_deadline = next;
	if (next) {
		its.it_value.tv_sec = (time_t)(next / NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(next % NSEC_PER_SEC);
	}
	timerfd_settime(w->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void wgd_dispatch(struct wgd *w, uint64_t tag)
{
	uint64_t junk;

	switch (tag) {
	case EV_TUN:
		wgd_read_tun(w);
		break;
	case EV_UDP4:
		wgd_read_udp(w, w->udp4);
		break;
	case EV_UDP6:
		wgd_read_udp(w, w->udp6);
		break;
	case EV_UAPI:
		ipc_accept(w);
		break;
	case EV_TIMER:
		if (read(w->timer_fd, &junk, sizeof(junk)) < 0)
			break;
		w->armed_deadline = 0;
		break;
	case EV_SIGNAL:
		w->running = false;
		break;
	case EV_NETLINK:
		wgd_read_netlink(w);
		break;
	default:
		clock_feed(w->dev);
		ipc_client_event(w, (int)(uint32_t)tag);
		break;
	}
}

static void wgd_loop(struct wgd *w)
{
	struct epoll_event evs[16];

	w->running = true;
	while (w->running) {
		wgd_arm_timer(w);
		int n = epoll_wait(w->epoll_fd, evs, 16, -1);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n && w->running; i++) {
			wgd_dispatch(w, evs[i].data.u64);
			wgd_flush(w);
		}
	}
}

/* --- setup --- */

static int wgd_netlink_open(void)
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

static int wgd_signals(void)
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

/* Everything that can fail for a reason the user must hear about. */
static int wgd_setup(struct wgd *w, char *why, size_t whylen)
{
	int r;

	const char *off = getenv("WEFT_WG_OFFLOAD");
	bool want_offload = !off || strcmp(off, "0");

	w->udp4 = w->udp6 = w->uapi_fd = -1;
	w->udp_gso = want_offload;
	gro_init(&w->gro, wgd_tun_write, w);
	w->dev = wg_device_new(&wgd_ops, w);
	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w->signal_fd = wgd_signals();
	w->netlink_fd = wgd_netlink_open();
	if (!w->dev || w->epoll_fd < 0 || w->timer_fd < 0 || w->signal_fd < 0 ||
	    w->netlink_fd < 0) {
		snprintf(why, whylen, "cannot set up the event loop: %s",
			 strerror(errno));
		return -1;
	}
	if (getenv("WEFT_WG_HANDSHAKE_LOAD"))
		wg_device_set_load_threshold(w->dev,
			(unsigned)strtoul(getenv("WEFT_WG_HANDSHAKE_LOAD"), NULL, 10));
	r = ipc_listen(w);
	if (r < 0) {
		snprintf(why, whylen, r == -EADDRINUSE ?
			 "interface %s is already served by another daemon (%s/%s.sock answers)" :
			 "cannot create the configuration socket for %s: %s",
			 w->ifname, r == -EADDRINUSE ? WG_RUN_DIR : strerror(-r),
			 w->ifname);
		return -1;
	}
	w->tun_fd = tun_open(w->ifname, &w->ifindex, want_offload, &w->offload);
	if (w->tun_fd < 0) {
		snprintf(why, whylen, "cannot create TUN interface %s: %s",
			 w->ifname, strerror(-w->tun_fd));
		ipc_close(w);
		return -1;
	}
	if (tun_get_mtu(w->ifname) == 1500)
		tun_set_mtu(w->ifname, WG_DEFAULT_MTU);
	r = tun_get_mtu(w->ifname);
	w->dev->mtu = r > 0 ? (uint32_t)r : WG_DEFAULT_MTU;
	r = wgd_bind(w, 0);
	if (r < 0) {
		snprintf(why, whylen, "cannot open UDP sockets: %s", strerror(-r));
		ipc_close(w);
		return -1;
	}
	wgd_watch(w, w->tun_fd, EV_TUN);
	wgd_watch(w, w->uapi_fd, EV_UAPI);
	wgd_watch(w, w->timer_fd, EV_TIMER);
	wgd_watch(w, w->signal_fd, EV_SIGNAL);
	wgd_watch(w, w->netlink_fd, EV_NETLINK);
	return 0;
}

static void wgd_teardown(struct wgd *w)
{
	ipc_close(w);
	wg_device_free(w->dev);
	wgd_log(LOG_VERBOSE, "shut down %s", w->ifname);
}

/* --- the command line --- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: weft-wg [-f|--foreground] INTERFACE\n"
"       weft-wg --stats INTERFACE\n"
"       weft-wg --version | --help\n"
"\n"
"A userspace WireGuard interface.  Creates the TUN interface INTERFACE and\n"
"serves %s/INTERFACE.sock, so that wg(8) and wg-quick(8) configure it\n"
"exactly as the kernel module or wireguard-go (for wg-quick, set\n"
"WG_QUICK_USERSPACE_IMPLEMENTATION=weft-wg).  Without -f it detaches once\n"
"the interface is ready.  It stops on SIGTERM/SIGINT or when the interface\n"
"is deleted (ip link del INTERFACE, wg-quick down).\n"
"\n"
"  -f, --foreground  stay in the foreground, log to stderr\n"
"      --stats       print the running daemon's drop and event counters\n"
"\n"
"Environment: LOG_LEVEL=verbose|error|silent (default error);\n"
"WEFT_WG_OFFLOAD=0 turns off TUN segmentation/coalescing and UDP GSO.\n",
		WG_RUN_DIR);
}

static int wgd_print_stats(const char *ifname)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", WG_RUN_DIR, ifname);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "weft-wg: cannot reach %s: %s (is weft-wg running for %s?)\n",
			sa.sun_path, strerror(errno), ifname);
		return 1;
	}
	if (write(fd, "stats=1\n\n", 9) != 9)
		return 1;
	while (len < sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		if (len >= 2 && !memcmp(buf + len - 2, "\n\n", 2))
			break;
	}
	close(fd);
	buf[len] = 0;
	if (!strstr(buf, "errno=0\n")) {
		fprintf(stderr, "weft-wg: %s did not answer the stats request\n", ifname);
		return 1;
	}
	*strstr(buf, "errno=0\n") = 0;
	fputs(buf, stdout);
	return 0;
}

/* Detaches: the parent waits for the child's verdict on setup, so a
 * failure is reported by the command the user ran, with its exit code. */
static int wgd_daemonize(int *report_fd)
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

static void wgd_detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	static struct wgd w;	/* large (the coalescer): not on the stack */
	bool foreground = false, stats = false;
	char why[256];
	int c, report = -1;
	const char *lvl = getenv("LOG_LEVEL");

	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 's': stats = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("weft-wg %s\n", WEFT_VERSION); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 1;
	}
	w.ifname = argv[optind];
	if (stats)
		return wgd_print_stats(w.ifname);
	if (lvl && (!strcmp(lvl, "verbose") || !strcmp(lvl, "debug")))
		wgd_log_level = LOG_VERBOSE;
	else if (lvl && !strcmp(lvl, "silent"))
		wgd_log_level = LOG_SILENT;
	if (!crypto_init()) {
		fprintf(stderr, "weft-wg: OpenSSL lacks X25519, BLAKE2s or ChaCha20-Poly1305\n");
		return 1;
	}
	noise_init();
	if (!foreground && wgd_daemonize(&report) < 0) {
		fprintf(stderr, "weft-wg: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	if (wgd_setup(&w, why, sizeof(why)) < 0) {
		fprintf(stderr, "weft-wg: %s\n", why);
		if (report >= 0 && write(report, "\1", 1) < 0)
			return 1;
		return 1;
	}
	wgd_log(LOG_VERBOSE, "interface %s is up (UAPI %s)", w.ifname, w.uapi_path);
	if (report >= 0) {
		wgd_detach_stdio();
		if (write(report, "\0", 1) < 0)
			return 1;
		close(report);
	}
	wgd_loop(&w);
	wgd_teardown(&w);
	return 0;
}
