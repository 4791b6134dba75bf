#!/usr/bin/env bash
# scripts/demo-wg.sh — the engine alone: two weft-wg nodes in network namespaces,
# configured with wg(8), ping and a short iperf3 through the tunnel, then
# everything is cleaned up.  Needs root.
#   DEMO_IMPL  the implementation to run (default ./weft-wg; try wireguard-go)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMPL=${DEMO_IMPL:-${WEFT_WG:-$ROOT/weft-wg}}
IMPL_A=$IMPL IMPL_B=$IMPL
. "$ROOT/tests/netns/lib.sh"
if ! wt_impl_ok "$IMPL"; then
	echo "demo: $IMPL not found — build it first with: make" >&2
	exit 1
fi
wt_init demo
if [[ -t 1 ]]; then B=$'\033[1m' N=$'\033[0m'; else B="" N=""; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
run() {	# NS CMD...: show and run a command inside a namespace
	local ns=$1; shift
	printf '%s$ %s\n' "${ns##*-}" "$*"
	ip netns exec "$ns" "$@"
}

say "two namespaces, a and b, joined by a veth pair (192.0.2.1 <-> 192.0.2.2)"
wt_pair_net
wt_ifname IF_A A
wt_ifname IF_B B
wt_keypair A
wt_keypair B
say "start $(wt_impl_name "$IMPL") in each: $IF_A in a, $IF_B in b"
wt_start PID_A "$NS_A" "$IF_A" "$IMPL"
wt_start PID_B "$NS_B" "$IF_B" "$IMPL"
echo "a: $IMPL -f $IF_A   (pid $PID_A, socket $(wt_sock "$IF_A"))"
echo "b: $IMPL -f $IF_B   (pid $PID_B, socket $(wt_sock "$IF_B"))"

say "configure them with wg set (a knows b's endpoint; b learns a's)"
run "$NS_A" wg set "$IF_A" private-key "$A_KEY" listen-port "$PORT_A" \
	peer "$B_PUB" endpoint "$U4_B:$PORT_B" allowed-ips "$O4_B/32,$O6_B/128" || wt_fail "wg set"
run "$NS_B" wg set "$IF_B" private-key "$B_KEY" listen-port "$PORT_B" \
	peer "$A_PUB" allowed-ips "$O4_A/32,$O6_A/128" || wt_fail "wg set"
run "$NS_A" ip addr add "$O4_A/24" dev "$IF_A"
run "$NS_A" ip addr add "$O6_A/64" dev "$IF_A" nodad
run "$NS_A" ip link set "$IF_A" up
run "$NS_B" ip addr add "$O4_B/24" dev "$IF_B"
run "$NS_B" ip addr add "$O6_B/64" dev "$IF_B" nodad
run "$NS_B" ip link set "$IF_B" up

say "ping through the tunnel"
run "$NS_A" ping -c 3 -i 0.3 -W 2 "$O4_B" || wt_fail "ping over IPv4 failed"
run "$NS_A" ping -c 3 -i 0.3 -W 2 "$O6_B" || wt_fail "ping over IPv6 failed"

say "iperf3 through the tunnel (3 s)"
ip netns exec "$NS_B" timeout 30 iperf3 -s -1 -B "$O4_B" >/dev/null 2>&1 &
WT_PIDS+=("$!")
wt_wait_for "iperf3 server" 5 bash -c "ip netns exec '$NS_B' ss -Htln 'sport = :5201' | grep -q ."
run "$NS_A" timeout 20 iperf3 -c "$O4_B" -t 3 -f m | grep -E 'sender|receiver' || wt_fail "iperf3 failed"

say "wg show"
run "$NS_A" wg show "$IF_A"

say "clean up (daemons stopped, namespaces deleted, sockets removed)"
exit 0
