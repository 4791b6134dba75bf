/*
 * tun — the Linux TUN device (Documentation/networking/tuntap.rst):
 * open, name, MTU.  Syscall wrappers return -errno.
 */
#ifndef WEFT_TUN_H
#define WEFT_TUN_H

/* Creates (or attaches to) TUN interface name; returns a nonblocking fd. */
int tun_open(const char *name, int *ifindex);
int tun_get_mtu(const char *name);
int tun_set_mtu(const char *name, int mtu);

#endif
