#!/usr/bin/env bash
# scripts/demo.sh — a live demo of weft: a coordination server and three
# nodes, each in its own network namespace on one LAN (192.0.2.0/24).  The
# administrator creates a network and a join key; each node joins with one
# command; then they reach each other by overlay address and by name, with
# no WireGuard configuration anywhere.  Everything is cleaned up at the
# end (also on Ctrl-C).  Needs root and a build (make).
#   DEMO_WG=1  also show the stand-alone weft-wg driven by wg(8)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
. "$ROOT/tests/overlay/lib.sh"
for b in "$OV_SERVER" "$OV_WEFTD" "$OV_WEFT"; do
	[[ -x "$b" ]] || { echo "demo: $b not found — build first with: make" >&2; exit 1; }
done
wt_init demo
if [[ -t 1 ]]; then B=$'\033[1m' N=$'\033[0m'; else B="" N=""; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
show() { printf '%s$ %s\n' "$1" "$2"; }
srv() { show server "weft-server $*"; ovs "$@"; }
node() { local n=$1; shift; show "$n" "weft $*"; ovw "$n" "$@"; }

say "a LAN (a bridge) and the coordination server on 192.0.2.1"
ov_lan
ov_server_init
show server "weft-server init --endpoint 192.0.2.1:7000"
cat "$WT_TMP/server-init.out"
show server "weft-server serve &"
ov_server_start

say "the administrator makes a network and a reusable join key"
srv networks create robots || wt_fail "networks create"
show server "weft-server keys create --network robots --reusable"
TOKEN=$(ovs keys create --network robots --reusable) || wt_fail "keys create"
echo "$TOKEN"

say "three machines, each running weftd, each joining with one command"
declare -A V4
n=11
for name in arm base camera; do
	ov_node "$name" "$n"
	echo "$name: weftd running (192.0.2.$n, interface ${OV_IF[$name]})"
	show "$name" "weft up --token ${TOKEN:0:20}... --hostname $name"
	ovw "$name" up --token "$TOKEN" --hostname "$name" || wt_fail "$name did not join"
	V4[$name]=$(ov_ip "$name")
	n=$((n + 1))
done

say "the server's view"
srv nodes list

say "arm pings base by address: the first packet asks the server, then goes direct"
show arm "ping -c 3 ${V4[base]}"
ip netns exec "${OV_NS[arm]}" ping -c 3 -i 0.3 -W 2 "${V4[base]}" || wt_fail "ping failed"

say "camera pings arm by name, through the tunnel"
node camera ping -c 3 -i 0.3 arm || wt_fail "weft ping failed"

say "iperf3 from camera to base through the overlay (3 s)"
ip netns exec "${OV_NS[base]}" timeout 30 iperf3 -s -1 -B "${V4[base]}" >/dev/null 2>&1 &
WT_PIDS+=("$!")
wt_wait_for "iperf3 server" 5 bash -c "ip netns exec '${OV_NS[base]}' ss -Htln 'sport = :5201' | grep -q ."
show camera "iperf3 -c ${V4[base]} -t 3"
ip netns exec "${OV_NS[camera]}" timeout 20 iperf3 -c "${V4[base]}" -t 3 -f m |
	grep -E 'sender|receiver' || wt_fail "iperf3 failed"

say "what arm knows"
node arm status

say "the administrator removes camera: its peers drop it at once"
srv nodes delete camera --network robots
sleep 1
node arm status | grep -E '^(node|server|PEER)|\.weft ' || true
show arm "ping -c 1 ${V4[camera]}"
ip netns exec "${OV_NS[arm]}" ping -c 1 -W 2 "${V4[camera]}" || true

say "the audit log"
srv audit | tail -n 12

if [[ -n "${DEMO_WG:-}" ]]; then
	say "and the engine alone: weft-wg, configured with wg(8) like wireguard-go"
	"$ROOT/scripts/demo-wg.sh" || wt_fail "weft-wg demo"
fi

say "clean up (daemons stopped, namespaces deleted)"
exit 0
