/*
 * netcfg — the overlay interface's link state and addresses, set through
 * rtnetlink (rtnetlink(7)): one request, one acknowledgement.  An address
 * with its network's prefix length gives the kernel the route for the
 * whole overlay prefix through the interface.  IPv6 addresses skip
 * duplicate address detection (the server hands out unique ones), so they
 * are usable at once.
 */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weftd.h"

struct nlreq {
	struct nlmsghdr h;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
	};
	char attrs[128];
};

static void nl_attr(struct nlreq *r, unsigned short type, const void *data,
		    size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends r and waits for the kernel's verdict: 0 or -errno. */
static int nl_talk(struct nlreq *r)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	struct timeval tv = { .tv_sec = 2 };
	ssize_t n;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), ret;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->h.nlmsg_seq = 1;
	if (sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = -EIO;
	n = recv(fd, buf, sizeof(buf), 0);
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
	     n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n))
		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(h);
			ret = e->error;
			break;
		}
	close(fd);
	return ret;
}

int netcfg_link_up(int ifindex, bool up)
{
	struct nlreq r;

	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.h.nlmsg_type = RTM_NEWLINK;
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex;
	r.ifi.ifi_flags = up ? IFF_UP : 0;
	r.ifi.ifi_change = IFF_UP;
	return nl_talk(&r);
}

int netcfg_addr(int ifindex, bool add, int family, const uint8_t *addr,
		uint8_t prefix)
{
	struct nlreq r;
	size_t alen = family == AF_INET ? 4 : 16;
	uint32_t flags = IFA_F_NODAD;
	int ret;

	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.h.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	r.h.nlmsg_flags = add ? NLM_F_CREATE | NLM_F_REPLACE : 0;
	r.ifa.ifa_family = (unsigned char)family;
	r.ifa.ifa_prefixlen = prefix;
	r.ifa.ifa_index = (unsigned)ifindex;
	r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	if (family == AF_INET6)
		r.ifa.ifa_flags = IFA_F_NODAD;
	nl_attr(&r, IFA_LOCAL, addr, alen);
	nl_attr(&r, IFA_ADDRESS, addr, alen);
	if (family == AF_INET6)
		nl_attr(&r, IFA_FLAGS, &flags, sizeof(flags));
	ret = nl_talk(&r);
	if (!add && ret == -EADDRNOTAVAIL)
		ret = 0;
	return ret;
}

int netcfg_watch_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_LINK |
			     RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
	};
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

/* Addresses, links and routes of other interfaces than ours. */
static bool netcfg_watch_event(const struct nlmsghdr *h, int ignore)
{
	switch (h->nlmsg_type) {
	case RTM_NEWADDR:
	case RTM_DELADDR: {
		const struct ifaddrmsg *ifa = NLMSG_DATA(h);
		return h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifa)) &&
		       (int)ifa->ifa_index != ignore;
	}
	case RTM_NEWLINK:
	case RTM_DELLINK: {
		const struct ifinfomsg *ifi = NLMSG_DATA(h);
		return h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)) &&
		       ifi->ifi_index != ignore;
	}
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		const struct rtmsg *rt = NLMSG_DATA(h);
		int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rt));
		if (len < 0 || rt->rtm_table != RT_TABLE_MAIN)
			return false;
		for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len))
			if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int))
				return *(const int *)RTA_DATA(a) != ignore;
		return true;
	}
	}
	return false;
}

bool netcfg_watch_read(int fd, int ignore_ifindex)
{
	char buf[8192];
	bool changed = false;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n))
			if (netcfg_watch_event(h, ignore_ifindex))
				changed = true;
	}
	if (n < 0 && errno == ENOBUFS)
		changed = true;		/* we missed some: assume the worst */
	return changed;
}
