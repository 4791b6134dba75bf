#!/usr/bin/env python3
"""udp_probe.py — measures how the NAT in front of a host behaves (RFC 4787
terms), with plain UDP and no conntrack tooling.  Used by tests/nat/lib.sh.

  udp_probe.py serve ADDR1 ADDR2 LIFETIME_S
      The "public" side, on two addresses of one host.  It listens on
      ADDR1:3478, ADDR1:3479, ADDR2:3478 and ADDR2:3479 and answers:
        "map"   from the same socket: the sender's address as seen here
        "addr"  the same answer, but from ADDR2:3479 (another address and
                port: only an endpoint-independent filter lets it in)
        "port"  the same answer, but from ADDR1:3479 (same address, other
                port: an address-dependent filter lets it in, an
                address-and-port-dependent one does not)
      It also accepts TCP on ADDR1:3478 and writes the client's address
      as seen here, then closes.  Exits after LIFETIME_S seconds.

  udp_probe.py probe ADDR1 ADDR2 LOCAL_PORT
      Behind the NAT: from one socket on LOCAL_PORT, asks ADDR1:3478 and
      ADDR2:3478 for its mapping (mapping behaviour), then whether "addr"
      and "port" answers get in (filtering behaviour), then sends from a
      second socket of the same host to the first mapping (hairpinning).
      Prints one line of key=value words, e.g.
        udp=ok mapping=independent port=preserved filtering=independent
        hairpin=yes hairpin_from=203.0.113.11:40001 m1=... m2=...
      or "udp=blocked" when no mapping answer comes back at all; then a
      "tcp=ok m1=..." or "tcp=blocked" word says whether TCP gets through.
      Every wait is bounded (at most about 6 s in all).
"""
import select
import socket
import sys
import time

STUN_PORT = 3478
ALT_PORT = 3479


def addr_str(a):
    return "%s:%d" % (a[0], a[1])


def serve(a1, a2, lifetime):
    socks = {}
    for host in (a1, a2):
        for port in (STUN_PORT, ALT_PORT):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((host, port))
            socks[(host, port)] = s
    by_fd = {s.fileno(): (k, s) for k, s in socks.items()}
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((a1, STUN_PORT))
    tcp.listen(8)
    by_fd[tcp.fileno()] = (None, tcp)
    deadline = time.monotonic() + lifetime
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        r, _, _ = select.select(list(by_fd), [], [], min(left, 1.0))
        for fd in r:
            k, s = by_fd[fd]
            if k is None:
                try:
                    c, src = s.accept()
                    c.settimeout(1.0)
                    c.sendall(addr_str(src).encode())
                    c.close()
                except OSError:
                    pass
                continue
            try:
                data, src = s.recvfrom(2048)
            except OSError:
                continue
            cmd = data.split(b" ", 1)[0]
            reply = addr_str(src).encode()
            out = s
            if cmd == b"addr":
                out = socks[(a2, ALT_PORT)]
            elif cmd == b"port":
                out = socks[(a1, ALT_PORT)]
            elif cmd != b"map":
                continue
            try:
                out.sendto(reply, src)
            except OSError:
                pass


def recv_from(s, want_src, timeout):
    """The first datagram from want_src (or from anyone if None) within
    timeout seconds: (data, src) or (None, None)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, None
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return None, None
        try:
            data, src = s.recvfrom(2048)
        except OSError:
            continue
        if want_src is None or src == want_src:
            return data, src


def ask_map(s, server, tries=3, timeout=0.5):
    for _ in range(tries):
        try:
            s.sendto(b"map", server)
        except OSError:
            pass
        data, _ = recv_from(s, server, timeout)
        if data:
            return data.decode()
    return None


def probe(a1, a2, local_port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", local_port))
    m1 = ask_map(s, (a1, STUN_PORT))
    if not m1:
        try:
            c = socket.create_connection((a1, STUN_PORT), timeout=2.0)
            c.settimeout(2.0)
            seen = c.recv(64).decode()
            c.close()
            print("udp=blocked tcp=ok m1=%s" % seen)
        except OSError:
            print("udp=blocked tcp=blocked")
        return 0
    m2 = ask_map(s, (a2, STUN_PORT))
    words = ["udp=ok"]
    if not m2:
        words.append("mapping=unknown")
    elif m1 == m2:
        words.append("mapping=independent")
    else:
        words.append("mapping=dependent")
    words.append("port=%s" % ("preserved" if m1.rsplit(":", 1)[1] == str(local_port) else "changed"))
    s.sendto(b"addr", (a1, STUN_PORT))
    data, _ = recv_from(s, (a2, ALT_PORT), 0.5)
    if data:
        words.append("filtering=independent")
    else:
        s.sendto(b"port", (a1, STUN_PORT))
        data, _ = recv_from(s, (a1, ALT_PORT), 0.5)
        words.append("filtering=%s" % ("address" if data else "address+port"))
    # Hairpinning: another socket of this host sends to our mapping m1.
    host, port = m1.rsplit(":", 1)
    h = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    h.bind(("0.0.0.0", 0))
    token = b"hairpin %d" % h.getsockname()[1]
    got = None
    for _ in range(2):
        try:
            h.sendto(token, (host, int(port)))
        except OSError:
            pass
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline:
            data, src = recv_from(s, None, max(0.0, deadline - time.monotonic()))
            if data == token:
                got = src
                break
        if got:
            break
    if got:
        words.append("hairpin=yes hairpin_from=%s" % addr_str(got))
    else:
        words.append("hairpin=no")
    words.append("m1=%s m2=%s" % (m1, m2 or "-"))
    print(" ".join(words))
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "serve":
        return serve(argv[2], argv[3], float(argv[4]))
    if len(argv) == 5 and argv[1] == "probe":
        return probe(argv[2], argv[3], int(argv[4]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
