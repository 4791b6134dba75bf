/*
 * tun — the Linux TUN device (Documentation/networking/tuntap.rst):
 * open, name, MTU.  Syscall wrappers return -errno.
 */
#ifndef WEFT_TUN_H
#define WEFT_TUN_H

#include <stdbool.h>

/* Creates (or attaches to) TUN interface name with a virtio-net header on
 * every packet; returns a nonblocking fd.  *offload says whether the
 * kernel accepted TSO/checksum offload (so reads may be super-packets). */
int tun_open(const char *name, int *ifindex, bool want_offload, bool *offload);
int tun_get_mtu(const char *name);
int tun_set_mtu(const char *name, int mtu);

#endif
