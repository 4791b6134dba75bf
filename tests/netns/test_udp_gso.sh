#!/usr/bin/env bash
# UDP segmentation offload through the tunnel: a sender using UDP_SEGMENT
# (10 datagrams per send, as QUIC stacks do) to the peer's inner IPv4 and
# IPv6 addresses; every datagram arrives whole and in content.  With
# weft-wg at A the kernel hands it UDP super-packets (TUN USO, Linux 6.2)
# that it cuts itself; with other implementations the kernel cuts them.
set -u
. "$(dirname "$0")/lib.sh"
wt_init udp_gso
wt_pair v4
HERE=$(cd "$(dirname "$0")" && pwd)

wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "first ping A -> B not answered within 15s"
wt_assert_ping "$NS_A" "$O6_B" 3

# udp_run LABEL ADDR SEG: 20 sends of 10 datagrams of SEG bytes each.
udp_run() {
	local label=$1 addr=$2 seg=$3 out pid i
	out="$WT_TMP/udp_gso.$label"
	timeout 30 ip netns exec "$NS_B" python3 "$HERE/udp_gso.py" recv "$addr" 5201 200 20 >"$out" 2>&1 &
	pid=$!
	for ((i = 0; i < 50; i++)); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
	timeout 20 ip netns exec "$NS_A" python3 "$HERE/udp_gso.py" send "$addr" 5201 20 "$seg" 10 ||
		wt_fail "$label: sending with UDP_SEGMENT failed"
	wait "$pid"
	wt_assert_match "$label: 200 datagrams of $seg bytes arrive whole" '^ok 200$' "$(tail -n 1 "$out")"
}
udp_run ipv4 "$O4_B" 1200
udp_run ipv6 "$O6_B" 1200
# the largest that fits the 1420-byte MTU: 1392 (IPv4), 1372 (IPv6)
udp_run ipv4-mtu "$O4_B" 1392
udp_run ipv6-mtu "$O6_B" 1372
wt_done
