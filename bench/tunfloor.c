/*
 * tunfloor — the floor under any userspace tunnel, for `make bench`.
 *
 * Moves IP packets between a TUN device and a UDP socket, one packet per
 * system call, with no encryption and no header: the least work a process
 * that sits between a TUN device and the network can do.  bench/run.sh
 * runs it at both ends of the veth pair as the "tun floor" row, so that a
 * tunnel's added latency can be split into what the architecture costs on
 * this machine (waking a process at each end, twice per round trip) and
 * what the tunnel itself adds.  A measuring tool, not part of weft.
 *
 *   tunfloor IFNAME LOCAL_PORT PEER_IPV4 PEER_PORT
 *
 * It runs until SIGTERM or SIGINT.  The datagrams it accepts must come
 * from PEER_IPV4:PEER_PORT; anything else is dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int tun_open(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int port_arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && !*end && v > 0 && v < 65536 ? (int)v : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in local = { .sin_family = AF_INET };
	struct sockaddr_in peer = { .sin_family = AF_INET };
	struct sigaction sa = { .sa_handler = on_signal };
	static unsigned char buf[65536];
	struct pollfd pfd[2];
	int lport, pport, tun, udp;

	if (argc != 5 || (lport = port_arg(argv[2])) < 0 ||
	    (pport = port_arg(argv[4])) < 0 ||
	    inet_pton(AF_INET, argv[3], &peer.sin_addr) != 1) {
		fprintf(stderr, "usage: tunfloor IFNAME LOCAL_PORT PEER_IPV4 PEER_PORT\n");
		return 2;
	}
	local.sin_port = htons((uint16_t)lport);
	peer.sin_port = htons((uint16_t)pport);
	if ((tun = tun_open(argv[1])) < 0) {
		fprintf(stderr, "tunfloor: TUN %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (udp < 0 || bind(udp, (struct sockaddr *)&local, sizeof(local)) < 0) {
		fprintf(stderr, "tunfloor: UDP port %d: %s\n", lport, strerror(errno));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pfd[0] = (struct pollfd){ .fd = tun, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = udp, .events = POLLIN };
	while (!stop) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("tunfloor: poll");
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			ssize_t n = read(tun, buf, sizeof(buf));
			if (n > 0)
				sendto(udp, buf, (size_t)n, 0,
				       (struct sockaddr *)&peer, sizeof(peer));
		}
		if (pfd[1].revents & POLLIN) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(udp, buf, sizeof(buf), 0,
					     (struct sockaddr *)&from, &fl);
			if (n > 0 && from.sin_addr.s_addr == peer.sin_addr.s_addr &&
			    from.sin_port == peer.sin_port &&
			    write(tun, buf, (size_t)n) < 0)
				continue;	/* dropped, as a full link would */
		}
	}
	return 0;
}
