#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# bench/run.sh — `make bench` (root): the data plane against raw veth and
# wireguard-go, measured in one run between two network namespaces joined
# by one veth pair (underlay 192.0.2.1 <-> 192.0.2.2; no traffic leaves the
# namespaces made here).
#
# Rows, in this order:
#   raw-veth        no tunnel, the underlay addresses
#   wireguard-go    wireguard-go at both ends ($WGO)
#   weft-wg         build/weft-wg at both ends, defaults (all offloads,
#                   WEFT_WG_THREADS automatic: half the CPUs, so 1 here)
#   weft-wg plain   WEFT_WG_OFFLOAD=none        WEFT_WG_THREADS=1  \  ablation:
#   +tun offload    WEFT_WG_OFFLOAD=tun         WEFT_WG_THREADS=1   | each adds one
#   +udp gso        WEFT_WG_OFFLOAD=tun,gso     WEFT_WG_THREADS=1   | technique (both
#   +udp gro        WEFT_WG_OFFLOAD=tun,gso,gro WEFT_WG_THREADS=1   | ends get the env)
#   +threads        WEFT_WG_OFFLOAD=tun,gso,gro WEFT_WG_THREADS=$(nproc) /
#   tun-floor       bench/tunfloor at both ends: TUN <-> UDP, one packet
#                   per system call, no encryption, no header.  The least
#                   work a process between a TUN device and the network
#                   can do; what a userspace tunnel's RTT cannot go below
#                   on this machine (each echo wakes a process at each end
#                   twice), measured with 5 s iperf3 tests like the
#                   ablation rows ($BUILD/bench/tunfloor)
#   weftd           two weftd nodes joined through a weft-server (in A's
#                   namespace, on A's underlay address), traffic between
#                   their overlay addresses once the path is direct; IPv4
#                   underlay only (the IPv6 underlay addresses are removed
#                   first, so the path is the same as in every other row)
#
# Per row, from A to B:
#   ping     BENCH_PINGS echo requests every 10 ms; average and p99
#            (nearest rank over the per-reply times) in ms
#   TCP1     iperf3, one stream; receiver Mbit/s
#   TCP4     iperf3 -P 4; receiver Mbit/s (sum)
#   UDP      iperf3 -u -l BENCH_UDP_LEN -b BENCH_UDP_RATE (0 = unlimited);
#            receiver Mbit/s and loss %.  The default 1372 bytes of payload
#            make 1400-byte IP datagrams, which fit the tunnels' 1420-byte
#            MTU (1400 bytes of payload would be 1428-byte packets, each
#            sent through a tunnel as two fragments).
#   CPU      CPU seconds per GB during TCP1: busy time of the whole machine
#            from /proc/stat (user + nice + system + irq + softirq + steal
#            of all CPUs; idle and iowait excluded, guest already inside
#            user) between the start and the end of the iperf3 client,
#            divided by the bytes received (iperf3's JSON, 1 GB = 1e9
#            bytes).  Both ends, iperf3 and the kernel are all counted, and
#            so is anything else running on the machine.
# then the values as a table, and the ratios of every row against
# wireguard-go and against raw-veth: throughput and CPU s/GB as row / ref,
# RTT as row - ref (ms) and row / ref.  The tables are printed and written
# as Markdown to BENCH_OUT.
#
# Knobs (environment):
#   BENCH_SECONDS           s per iperf3 test, rows raw-veth, wireguard-go,
#                           weft-wg, weftd (default 10)
#   BENCH_ABLATION_SECONDS  s per iperf3 test in the ablation rows (default 5)
#   BENCH_ABLATION=0        skip the ablation rows
#   BENCH_WEFTD=0           skip the weftd row
#   BENCH_FLOOR=0           skip the tun-floor row
#   BENCH_PINGS             pings per row (default 300, at 10 ms)
#   BENCH_UDP_LEN           UDP payload bytes (default 1372: 1400-byte datagrams)
#   BENCH_UDP_RATE          iperf3 -b for UDP (default 0 = unlimited)
#   BENCH_OUT               Markdown output (default /tmp/weft-bench.DATE.md)
#   WEFT_WG                 weft-wg binary (default build/weft-wg, else ./weft-wg)
#   WGO                     wireguard-go command (default wireguard-go)
#   BUILD                   build directory of weftd, weft, weft-server (build)
# Defaults take about 4 minutes.  Needs ip, wg, ping, iperf3, jq.
#
# A row that fails to start or to carry traffic shows FAILED (a single
# measurement that fails shows FAILED in its cell); the other rows are still
# measured, and the exit status is 1.  Every row runs in a subshell; the
# namespaces, processes and sockets are removed on every exit path (the
# EXIT/INT/TERM traps of tests/netns/lib.sh), including Ctrl-C.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
if [[ -z "${WEFT_WG:-}" ]]; then
	WEFT_WG=$ROOT/build/weft-wg
	[[ -x "$WEFT_WG" ]] || WEFT_WG=$ROOT/weft-wg
fi
WGO=${WGO:-wireguard-go}
SECS=${BENCH_SECONDS:-10}
ABL_SECS=${BENCH_ABLATION_SECONDS:-5}
ABLATION=${BENCH_ABLATION:-1}
WEFTD=${BENCH_WEFTD:-1}
FLOOR=${BENCH_FLOOR:-1}
PINGS=${BENCH_PINGS:-300}
BENCH_UDP_LEN=${BENCH_UDP_LEN:-1372}
BENCH_UDP_RATE=${BENCH_UDP_RATE:-0}
BENCH_OUT=${BENCH_OUT:-/tmp/weft-bench.$(date +%Y%m%d-%H%M%S).md}
for v in SECS ABL_SECS PINGS BENCH_UDP_LEN; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "bench: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done

# shellcheck source=../tests/overlay/lib.sh
. "$ROOT/tests/overlay/lib.sh"	# brings tests/netns/lib.sh
# shellcheck source=lib_bench.sh
. "$HERE/lib_bench.sh"
# shellcheck source=lib_weftd.sh
. "$HERE/lib_weftd.sh"
wt_init bench
for t in iperf3 jq awk sort; do command -v "$t" >/dev/null || wt_fail "missing tool: $t"; done

RESULTS=$WT_TMP/results
BENCH_NOTES=$WT_TMP/notes
: >"$RESULTS"
: >"$BENCH_NOTES"
FAILED_ROWS=()
ROW=0

# bench_row NAME KIND SECS [IMPL [ENV...]]: one row, in a subshell so that a
# failure (wt_fail) only fails the row.  KIND is raw (the underlay), wg (IMPL
# at both ends, configured with wg set, each started with the VAR=VALUE
# words ENV in its environment), floor (bench/tunfloor at both ends) or
# weftd.  The subshell runs in the
# background while this shell waits for it, so a signal to the script is
# handled at once; its pid is in WT_PIDS meanwhile, so the cleanup stops it.
bench_row() {
	local name=$1 kind=$2 secs=$3 impl=${4:-} rc pid ifn saved
	shift 3
	(($# > 0)) && shift
	local envs=("$@")
	ROW=$((ROW + 1))
	# (named here, so that the cleanup of this shell knows the sockets)
	wt_ifname IF_A "${ROW}A"
	wt_ifname IF_B "${ROW}B"
	wt_log "--- row $ROW: $name${envs[*]:+ (${envs[*]})}"
	(
		trap 'wt__kill_ns "$NS_A"; wt__kill_ns "$NS_B"' EXIT
		unset WEFT_WG_OFFLOAD WEFT_WG_THREADS
		for e in "${envs[@]}"; do
			[[ "$e" =~ ^[A-Z_][A-Z0-9_]*= ]] || wt_fail "bad environment word '$e'"
			export "${e?}"
		done
		case $kind in
		raw) addr=$U4_B ;;
		wg)
			wt_keypair A
			wt_keypair B
			wt_start PID_A "$NS_A" "$IF_A" "$impl"
			wt_start PID_B "$NS_B" "$IF_B" "$impl"
			wt_pair_config v4
			wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "$name: no traffic through the tunnel"
			addr=$O4_B
			;;
		floor)
			bench_floor_start "$NS_A" "$IF_A" "$PORT_A" "$U4_B" "$PORT_B" "$O4_A"
			bench_floor_start "$NS_B" "$IF_B" "$PORT_B" "$U4_A" "$PORT_A" "$O4_B"
			wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "$name: no traffic through the tunnel"
			addr=$O4_B
			;;
		weftd)
			ip -n "$NS_A" addr del "$U6_A/64" dev va 2>/dev/null
			ip -n "$NS_B" addr del "$U6_B/64" dev vb 2>/dev/null
			bench_weftd_pair "$IF_A" "$IF_B"
			addr=$BW_B4
			;;
		esac
		bench_measure "$name" "$NS_B" "$addr" "$NS_A" "$secs" "$RESULTS"
		rc=$?
		[[ $kind == weftd ]] && bench_weftd_still_direct
		exit "$rc"
	) &
	pid=$!
	saved=("${WT_PIDS[@]}")
	WT_PIDS+=("$pid")
	wait "$pid"
	rc=$?
	WT_PIDS=("${saved[@]}")
	if ((rc != 0)); then
		FAILED_ROWS+=("$name")
		wt_log "$name: FAILED"
		# a row that ended before measuring: every cell FAILED
		awk -F'\t' -v n="$name" '$1 == n { f = 1 } END { exit !f }' "$RESULTS" ||
			printf '%s\t%s\tFAILED\tFAILED\tFAILED\tFAILED\tFAILED\tFAILED\tFAILED\n' "$name" "$secs" >>"$RESULTS"
	fi
	for ifn in "$IF_A" "$IF_B"; do rm -f "$(wt_sock "$ifn")"; done
}

wt_pair_net
wt_log "$(uname -sr), $(nproc) CPUs; iperf3 ${SECS}s (ablation $([[ "$ABLATION" != 0 ]] && echo "${ABL_SECS}s" || echo off)) per test, $PINGS pings at 10 ms"

bench_row raw-veth raw "$SECS"
bench_row wireguard-go wg "$SECS" "$WGO"
bench_row weft-wg wg "$SECS" "$WEFT_WG"
if [[ "$ABLATION" != 0 ]]; then
	bench_row "weft-wg plain" wg "$ABL_SECS" "$WEFT_WG" WEFT_WG_OFFLOAD=none WEFT_WG_THREADS=1
	bench_row "+tun offload" wg "$ABL_SECS" "$WEFT_WG" WEFT_WG_OFFLOAD=tun WEFT_WG_THREADS=1
	bench_row "+udp gso" wg "$ABL_SECS" "$WEFT_WG" WEFT_WG_OFFLOAD=tun,gso WEFT_WG_THREADS=1
	bench_row "+udp gro" wg "$ABL_SECS" "$WEFT_WG" WEFT_WG_OFFLOAD=tun,gso,gro WEFT_WG_THREADS=1
	bench_row "+threads" wg "$ABL_SECS" "$WEFT_WG" WEFT_WG_OFFLOAD=tun,gso,gro "WEFT_WG_THREADS=$(nproc)"
fi
[[ "$FLOOR" != 0 ]] && bench_row tun-floor floor "$ABL_SECS"
[[ "$WEFTD" != 0 ]] && bench_row weftd weftd "$SECS"

# --- the tables: printed, and written as Markdown to BENCH_OUT
{
	echo "## weft data plane benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "$(uname -sr), $(nproc) CPUs, $(iperf3 --version 2>/dev/null | head -n 1 | awk '{ print $1, $2 }');" \
		"weft $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?');" \
		"wireguard-go $($WGO --version 2>/dev/null | awk '/wireguard-go/ { v = $NF; exit } END { print v ? v : "?" }')."
	[[ "$WEFT_WG" == "$ROOT/build/weft-wg" ]] || echo "weft-wg: $WEFT_WG."
	[[ "$OV_BIN" == "$ROOT/build" ]] || echo "weftd, weft, weft-server: $OV_BIN."
	echo "Two namespaces, one veth pair; from A to B: iperf3 TCP one stream (TCP1) and 4 streams" \
		"(TCP4), UDP -l $BENCH_UDP_LEN -b $BENCH_UDP_RATE, ${SECS} s each$([[ "$ABLATION" != 0 ]] && echo " (ablation rows ${ABL_SECS} s)");" \
		"$PINGS pings at 10 ms (p99: nearest rank)."
	if ((BENCH_UDP_LEN + 28 > 1420)); then
		echo "UDP: $BENCH_UDP_LEN-byte datagrams are $((BENCH_UDP_LEN + 28))-byte IP packets, above the 1420-byte MTU" \
			"of the tunnel interfaces: through a tunnel each is sent as two fragments."
	fi
	[[ "$BENCH_UDP_RATE" == 0 ]] && echo "UDP -b 0 offers all the sender can: the loss is what the path and the receiver drop under overload."
	echo "CPU s/GB: busy CPU time of the whole machine (/proc/stat user+nice+system+irq+softirq+steal," \
		"all CPUs) during TCP1, per GB (1e9 bytes) received."
	[[ "$ABLATION" != 0 ]] &&
		echo "Ablation: weft-wg plain (WEFT_WG_OFFLOAD=none WEFT_WG_THREADS=1) -> +tun offload (tun)" \
			"-> +udp gso (tun,gso) -> +udp gro (tun,gso,gro) -> +threads (WEFT_WG_THREADS=$(nproc), one per CPU);" \
			"the weft-wg row runs the defaults."
	echo
	bench_tables "$RESULTS"
	if [[ -s "$BENCH_NOTES" ]]; then
		echo
		sed 's/^/- /' "$BENCH_NOTES"
	fi
} >"$WT_TMP/table.md"
echo
cat "$WT_TMP/table.md"
echo
if cp "$WT_TMP/table.md" "$BENCH_OUT" 2>/dev/null && chmod 0644 "$BENCH_OUT"; then
	wt_log "Markdown table written to $BENCH_OUT"
else
	wt_log "could not write $BENCH_OUT"
fi
if ((${#FAILED_ROWS[@]})); then
	wt_log "FAILED rows: ${FAILED_ROWS[*]}"
	exit 1
fi
exit 0
