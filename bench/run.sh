#!/usr/bin/env bash
# bench/run.sh — `make bench`: throughput and latency of raw veth,
# wireguard-go <-> wireguard-go and weft-wg <-> weft-wg, measured in one run
# between two network namespaces joined by a veth pair.
#
#   iperf3 TCP, one stream, BENCH_SECONDS (default 10) seconds, A -> B
#   ping, BENCH_PINGS (default 100) echo requests every 10 ms, average RTT
#
#   WEFT_WG   weft-wg binary (default build/weft-wg, else ./weft-wg)
#   WGO       wireguard-go command (default wireguard-go)
#   BENCH_IMPLS  rows to run after raw veth (default "wireguard-go weft-wg")
#
# A row whose implementation fails to start or to carry traffic shows
# FAILED; the others are still measured.  Everything is cleaned up on every
# exit path (lib.sh's trap).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
if [[ -z "${WEFT_WG:-}" ]]; then
	WEFT_WG=$ROOT/build/weft-wg
	[[ -x "$WEFT_WG" ]] || WEFT_WG=$ROOT/weft-wg
fi
WGO=${WGO:-wireguard-go}
SECS=${BENCH_SECONDS:-10}
PINGS=${BENCH_PINGS:-100}
IMPLS=${BENCH_IMPLS:-wireguard-go weft-wg}
. "$ROOT/tests/netns/lib.sh"
wt_init bench
for t in iperf3 awk; do command -v "$t" >/dev/null || wt_fail "missing tool: $t"; done

RESULTS=$WT_TMP/results
: >"$RESULTS"

# measure NAME SERVER_ADDR: iperf3 + ping from A to SERVER_ADDR in B,
# appends "NAME MBITS RTT_AVG_MS LOSS%" to RESULTS.
measure() {
	local name=$1 addr=$2 res bps out rtt loss
	wt_iperf res "$NS_B" "$addr" "$NS_A" "$SECS" || { wt_log "$name: iperf3 failed"; return 1; }
	read -r _ bps <<<"$res"
	out=$(timeout $((PINGS / 50 + 30)) ip netns exec "$NS_A" \
		ping -n -q -c "$PINGS" -i 0.01 -W 1 -w $((PINGS / 50 + 20)) "$addr" 2>&1)
	rtt=$(awk -F'/' '/^(rtt|round-trip)/ { print $5 }' <<<"$out")
	loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' <<<"$out")
	[[ -n "$rtt" ]] || { wt_log "$name: ping failed: $out"; return 1; }
	echo "$name $(awk -v b="$bps" 'BEGIN { printf "%.1f", b / 1e6 }') $rtt ${loss:-?}" >>"$RESULTS"
	wt_log "$name: $(tail -n 1 "$RESULTS")"
}

wt_pair_net
wt_log "$(uname -sr), $(nproc) CPUs; iperf3 ${SECS}s single TCP stream, $PINGS pings at 10 ms"

# --- raw veth
measure "raw-veth" "$U4_B" || echo "raw-veth FAILED" >>"$RESULTS"

# --- each implementation, in a subshell so a failure only fails its row
n=0
for impl_name in $IMPLS; do
	n=$((n + 1))
	case $impl_name in
	weft-wg) impl=$WEFT_WG ;;
	wireguard-go) impl=$WGO ;;
	*) impl=$impl_name ;;
	esac
	(
		# On any exit of this row, stop what it started.
		trap 'wt__kill_ns "$NS_A"; wt__kill_ns "$NS_B"' EXIT
		IMPL_A=$impl IMPL_B=$impl
		wt_ifname IF_A "${n}A"
		wt_ifname IF_B "${n}B"
		wt_keypair A
		wt_keypair B
		wt_start PID_A "$NS_A" "$IF_A" "$impl"
		wt_start PID_B "$NS_B" "$IF_B" "$impl"
		wt_pair_config v4 >/dev/null
		wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "$impl_name: no traffic through the tunnel"
		measure "$impl_name" "$O4_B" || exit 1
	)
	rc=$?
	((rc == 0)) || { echo "$impl_name FAILED" >>"$RESULTS"; wt_log "$impl_name: FAILED"; }
	# the row's interface names are done with
	for ifn in "wg${n}A$$" "wg${n}B$$"; do rm -f "$(wt_sock "$ifn")"; done
done

# --- table and ratios
echo
awk -v secs="$SECS" -v pings="$PINGS" '
	{ name[NR] = $1; tput[$1] = $2; rtt[$1] = $3; loss[$1] = $4 }
	END {
		printf "%-14s %16s %14s %8s\n", "", "TCP Mbit/s", "RTT avg ms", "loss"
		for (i = 1; i <= NR; i++) {
			n = name[i]
			if (tput[n] == "FAILED") printf "%-14s %16s %14s %8s\n", n, "FAILED", "FAILED", "-"
			else printf "%-14s %16.1f %14.3f %7s%%\n", n, tput[n], rtt[n], loss[n]
		}
		print ""
		ok["raw-veth"] = tput["raw-veth"] != "" && tput["raw-veth"] != "FAILED"
		ok["weft-wg"] = tput["weft-wg"] != "" && tput["weft-wg"] != "FAILED"
		ok["wireguard-go"] = tput["wireguard-go"] != "" && tput["wireguard-go"] != "FAILED"
		if (ok["weft-wg"] && ok["wireguard-go"]) {
			printf "weft-wg / wireguard-go throughput: %.2fx\n", tput["weft-wg"] / tput["wireguard-go"]
			printf "weft-wg / wireguard-go RTT:        %.2fx\n", rtt["weft-wg"] / rtt["wireguard-go"]
		} else print "weft-wg / wireguard-go: n/a (a row FAILED)"
		if (ok["raw-veth"]) {
			for (i = 2; i <= NR; i++) {
				n = name[i]
				if (tput[n] == "FAILED") continue
				printf "%s / raw veth: throughput %.3fx, RTT %.2fx\n", n, tput[n] / tput["raw-veth"], rtt[n] / rtt["raw-veth"]
			}
		}
	}' "$RESULTS"
grep -q FAILED "$RESULTS" && exit 1
exit 0
