#!/usr/bin/env python3
"""UDP with segmentation offload through a tunnel (tests/netns/test_udp_gso.sh).

  udp_gso.py recv ADDR PORT COUNT TIMEOUT   prints "ok N" or "bad ..." (exit 1)
  udp_gso.py send ADDR PORT BUFS SEG NSEG   sends BUFS buffers with UDP_SEGMENT

Each sent buffer is NSEG datagrams of SEG bytes cut by the kernel (UDP GSO):
datagram k carries its number k in 4 bytes and then bytes (k + i) % 251.
The receiver checks every datagram it gets: length, number, content.
"""
import socket
import struct
import sys
import time

UDP_SEGMENT = 103


def body(k, seg):
    return struct.pack("!I", k) + bytes((k + i) % 251 for i in range(seg - 4))


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv(addr, port, count, timeout):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    s.settimeout(0.5)
    print("listening", flush=True)
    seen, bad, end = set(), 0, time.time() + float(timeout)
    while len(seen) < int(count) and time.time() < end:
        try:
            d = s.recv(65535)
        except socket.timeout:
            continue
        if len(d) < 4:
            bad += 1
            continue
        k = struct.unpack("!I", d[:4])[0]
        if d != body(k, len(d)):
            bad += 1
        seen.add(k)
    if bad or len(seen) < int(count):
        print("bad: %d datagrams right of %s, %d wrong" % (len(seen), count, bad))
        sys.exit(1)
    print("ok %d" % len(seen))


def send(addr, port, bufs, seg, nseg):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    seg, nseg = int(seg), int(nseg)
    s.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, seg)
    k = 0
    for _ in range(int(bufs)):
        buf = b"".join(body(k + j, seg) for j in range(nseg))
        k += nseg
        s.sendto(buf, (addr, int(port)))
        time.sleep(0.002)


if __name__ == "__main__":
    {"recv": recv, "send": send}[sys.argv[1]](*sys.argv[2:])
