/*
 * tun — see tun.h.
 */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* UDP segmentation offload flags (Linux 6.2); older headers lack them. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

static int tun_ifreq(const char *name, unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -errno;
	strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
	r = ioctl(fd, req, ifr) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int tun_open(const char *name, int *ifindex, bool want_offload, bool *offload)
{
	struct ifreq ifr = { 0 };
	int fd, r;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	/* Checksum and TCP segmentation offload: the kernel may then hand us
	 * 64 KiB TCP super-packets and skip checksums we will compute; UDP
	 * segmentation too where the kernel has it (6.2), else without. */
	*offload = want_offload &&
		   (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
			  TUN_F_USO4 | TUN_F_USO6) == 0 ||
		    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0);
	memset(&ifr, 0, sizeof(ifr));
	r = tun_ifreq(name, SIOCGIFINDEX, &ifr);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ifindex = ifr.ifr_ifindex;
	return fd;
}

int tun_get_mtu(const char *name)
{
	struct ifreq ifr = { 0 };
	int r = tun_ifreq(name, SIOCGIFMTU, &ifr);

	return r < 0 ? r : ifr.ifr_mtu;
}

int tun_set_mtu(const char *name, int mtu)
{
	struct ifreq ifr = { 0 };

	ifr.ifr_mtu = mtu;
	return tun_ifreq(name, SIOCSIFMTU, &ifr);
}
