#!/usr/bin/env bash
# bench/first_packet.sh — first-packet latency of the overlay
# (docs/first-packet-bench.md).
#
# The issue's figure: the time from a node's first packet to an unknown
# peer until the reply arrives, median and p99 over at least 100 fresh
# peers on the namespace LAN.  Target: median under 3 ms.
#
# One weft-server and 1 + N weftd nodes, each in its own namespace on a
# bridged LAN (tests/overlay/lib.sh), all joined to network "bench" with
# one reusable key.  Node "a" has never exchanged a packet with any peer.
# For each peer in turn, one ICMP echo request from a's namespace to the
# peer's overlay IPv4 address; its round trip is exactly first packet ->
# reply (a's TUN read, the queued packet, LOOKUP to the server and its
# answer, the server's NOTIFY to the peer, the WireGuard handshake, the
# echo and its reply).  A second echo to the same peer right after is the
# warm path, for contrast.  Each sample also records the CPU time the
# server, a and the peer spent on it (/proc/PID/schedstat).
#
# Usage (root):  bench/first_packet.sh        (about 3 minutes, 100 peers)
#                FP_TRACE=1 bench/first_packet.sh   (+ where the time goes)
#
#   FP_PEERS     peers (default 100, 1..250)
#   FP_JOBS      joins in flight at once during setup (default 8)
#   FP_WAIT      seconds each ping waits for its reply (default 3)
#   FP_TIMEOUT   overall limit in seconds (default 900); on expiry the run
#                is stopped and cleaned up
#   FP_SAMPLES   where the samples go (default
#                ${TMPDIR:-/tmp}/weft-first-packet.YYYYmmdd-HHMMSS.tsv)
#   FP_MAX_BUSY  each peer is measured once the machine has been quiet
#                for 0.2 s: at most this share of all CPUs (%) busy
#                (default 25; this run's own nodes are idle then, so more
#                is somebody else's load).  100 turns the check off
#   FP_QUIET_WAIT  seconds to wait for such a quiet moment, per peer
#                (default 60); after that it measures anyway and counts it
#   FP_PINGER    python (default when python3 is there): one long-lived
#                pinger process in a's namespace (raw ICMP socket, kernel
#                receive timestamps), so no process starts around a
#                measured packet; ping: one ping(8) per packet, as
#                `ip netns exec A ping -c 1` (a fork/exec on every sample)
#   FP_ARP       cold (default): a and the peer have never exchanged a
#                frame either, so a's first packet to the peer's LAN address
#                waits for ARP, broadcast to every host on the bridge; warm:
#                one underlay ping from a to each peer's 192.0.2.x address
#                first (weft is still fresh: no overlay packet, no LOOKUP)
#   FP_PRIO      how the server, every weftd and the pings are scheduled
#                while measuring: none (default), nice (nice -20) or fifo
#                (SCHED_FIFO 10, chrt).  An experiment against other
#                programs' load on a shared machine; on this 2-vCPU VM
#                neither helped (nice does not shorten a busy CPU's time
#                slice; fifo made even warm pings slower, measured with
#                FP_PINGER=ping)
#   FP_TRACE     1: also capture the packets (tcpdump on the LAN bridge and
#                on a's interface) and break each first packet's time down
#                into its steps (written to FP_SAMPLES.trace, medians
#                printed); needs tcpdump
#   FP_VERBOSE   1: node a's weftd runs with -v (its log is kept in
#                $WT_TMP, see WT_KEEP_TMP)
#   FP_STRICT    1: exit 1 when the target is missed
#   BUILD        build directory (default build, else the repository root)
#
# Exit 0 when the figures were measured (and, with FP_STRICT=1, the target
# met), 1 otherwise.  Addresses: 192.0.2.0/24 on the namespace LAN and the
# overlay's 100.64.0.0/10 inside the namespaces, nothing else.  Every
# namespace, process and file is removed on every exit (lib.sh's trap).
set -u
FP_HERE=$(cd "$(dirname "$0")" && pwd)
FP_ROOT=$(cd "$FP_HERE/.." && pwd)
: "${FP_PEERS:=100}" "${FP_JOBS:=8}" "${FP_WAIT:=3}"
: "${FP_TIMEOUT:=900}" "${FP_VERBOSE:=0}" "${FP_STRICT:=0}" "${FP_TRACE:=0}"
: "${FP_MAX_BUSY:=25}" "${FP_QUIET_WAIT:=60}" "${FP_PRIO:=none}" "${FP_ARP:=cold}"
if [[ -z "${FP_PINGER:-}" ]]; then
	FP_PINGER=ping
	command -v python3 >/dev/null && FP_PINGER=python
fi
FP_TARGET_MS=3

fp_int() { [[ "$2" =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) ||
	{ echo "first_packet: $1 must be an integer in $3..$4 (got '$2')" >&2; exit 1; }; }
fp_int FP_PEERS "$FP_PEERS" 1 250
fp_int FP_JOBS "$FP_JOBS" 1 64
fp_int FP_WAIT "$FP_WAIT" 1 10
fp_int FP_TIMEOUT "$FP_TIMEOUT" 60 7200
fp_int FP_MAX_BUSY "$FP_MAX_BUSY" 0 100
fp_int FP_QUIET_WAIT "$FP_QUIET_WAIT" 0 3600
[[ "$FP_PINGER" == python || "$FP_PINGER" == ping ]] ||
	{ echo "first_packet: FP_PINGER is python or ping (got '$FP_PINGER')" >&2; exit 1; }
[[ "$FP_ARP" == cold || "$FP_ARP" == warm ]] ||
	{ echo "first_packet: FP_ARP is cold or warm (got '$FP_ARP')" >&2; exit 1; }
case $FP_PRIO in
fifo) FP_RUN=(chrt -f 10) ;;
nice) FP_RUN=(nice -n -20) ;;
none) FP_RUN=() ;;
*) echo "first_packet: FP_PRIO is fifo, nice or none (got '$FP_PRIO')" >&2; exit 1 ;;
esac

# The overall bound: run under timeout(1), which sends TERM to this script
# only (--foreground); lib.sh's trap then cleans up everything.
if [[ -z "${FP_UNDER_TIMEOUT:-}" ]]; then
	command -v timeout >/dev/null || { echo "first_packet: needs timeout(1)" >&2; exit 1; }
	FP_UNDER_TIMEOUT=1 exec timeout --foreground -k 120 "$FP_TIMEOUT" \
		"$BASH" "$0" "$@"
fi

. "$FP_ROOT/tests/overlay/lib.sh"
wt_init first_packet
for t in awk sort; do command -v "$t" >/dev/null || wt_fail "missing tool: $t"; done
if [[ "$FP_TRACE" == 1 ]] && ! command -v tcpdump >/dev/null; then
	wt_fail "FP_TRACE=1 needs tcpdump (apt-get install tcpdump)"
fi
for b in "$OV_SERVER" "$OV_WEFTD" "$OV_WEFT"; do
	[[ -x "$b" ]] || wt_fail "$b is missing: run make"
done
# The binaries this run measures, copied: a rebuild meanwhile (make in
# another shell) neither breaks nor mixes the run.
mkdir -p "$WT_TMP/bin" && cp "$OV_SERVER" "$OV_WEFTD" "$OV_WEFT" "$WT_TMP/bin/" ||
	wt_fail "cannot copy the binaries"
wt_log "binaries from $OV_BIN ($(stat -c %y "$OV_WEFTD" | cut -d. -f1))"
OV_SERVER=$WT_TMP/bin/weft-server OV_WEFTD=$WT_TMP/bin/weftd OV_WEFT=$WT_TMP/bin/weft
for b in "$OV_SERVER" "$OV_WEFTD" "$OV_WEFT"; do
	timeout 10 "$b" --help >/dev/null 2>&1 || wt_fail "$b does not run (a build in progress?)"
done
: "${FP_SAMPLES:=${TMPDIR:-/tmp}/weft-first-packet.$(date +%Y%m%d-%H%M%S).tsv}"
: >"$FP_SAMPLES" || wt_fail "cannot write $FP_SAMPLES"

# ------------------------------------------------------------ helpers

fp_ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# fp_cpu VAR: "BUSY TOTAL" jiffies of all CPUs so far, into VAR (builtins
# only: no process is started); fp_busy_since VAR SNAP: the busy share (%)
# since that snapshot; fp_pause S: sleeps (with FP_PINGER=python the
# pinger sleeps, so no process starts: bash's own `read -t` cannot be
# used, bash 5.2 crashes when a signal's trap exits during one).
fp_cpu() {
	local _c u n s i io irq sirq _r
	read -r _c u n s i io irq sirq _r </proc/stat
	printf -v "$1" '%s %s' $((u + n + s + irq + sirq)) $((u + n + s + i + io + irq + sirq))
}
fp_busy_since() {
	local now a0 a1 b0 b1
	fp_cpu now
	read -r a0 a1 <<<"$2"
	read -r b0 b1 <<<"$now"
	if ((b1 > a1)); then printf -v "$1" '%s' $((100 * (b0 - a0) / (b1 - a1)))
	else printf -v "$1" 0; fi
}
fp_pause() {
	if [[ "$FP_PINGER" == python ]]; then
		printf 'pause %s\n' "$1" >&"${PINGER[1]}" && read -r -u "${PINGER[0]}" _ ||
			wt_fail "the pinger is gone"
	else
		sleep "$1"
	fi
}
fp_busy() { local a b; fp_cpu a; sleep 1; fp_busy_since b "$a"; echo "$b"; }

# fp_gate: waits (at most FP_QUIET_WAIT s) for 0.2 s in which the machine
# was quiet; GATE_BUSY gets the busy share of the last 0.2 s.
fp_gate() {
	local a end=$((SECONDS + FP_QUIET_WAIT))
	while :; do
		fp_cpu a
		fp_pause 0.2
		fp_busy_since GATE_BUSY "$a"
		((GATE_BUSY <= FP_MAX_BUSY || SECONDS >= end)) && break
	done
}

# fp_join NAME: `weft up` with the bench key; the outcome in a file.
fp_join() {
	local out
	out=$(ovw "$1" up --token "$TOK" --hostname "$1" 2>&1)
	if [[ "$out" =~ ^up:\ [^\ ]+\ (100\.[0-9.]+) ]]; then
		echo "${BASH_REMATCH[1]}" >"$WT_TMP/join-$1.ok"
	else
		printf '%s\n' "$out" >"$WT_TMP/join-$1.err"
	fi
}

# The pinger (FP_PINGER=python): one process in a's namespace for the
# whole run, so that no process starts (or exits) around a measured
# packet: on this kind of machine a fork/exec costs milliseconds of CPU
# and wakes kernel workers that would compete with the nodes.  It reads
# "ADDR SEQ" lines and answers the round trip in ms ("fail" after
# FP_WAIT s; "pause S" sleeps S s and answers "ok"): taken like ping(8) does, from just before sendto() to the
# kernel's receive timestamp (SO_TIMESTAMPNS) of the echo reply.
FP_PINGER_PY='
import os, select, socket, struct, sys, time
W = float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
TS = getattr(socket, "SO_TIMESTAMPNS", 35)
s.setsockopt(socket.SOL_SOCKET, TS, 1)
ident = os.getpid() & 0xFFFF
def csum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF)
    return ~(t + (t >> 16)) & 0xFFFF
for line in sys.stdin:
    addr, seq = line.split()
    if addr == "pause":
        time.sleep(float(seq))
        print("ok", flush=True)
        continue
    seq = int(seq) & 0xFFFF
    body = struct.pack("!HH", ident, seq) + bytes(range(56))
    pkt = struct.pack("!BBH", 8, 0, csum(struct.pack("!BBH", 8, 0, 0) + body)) + body
    res = "fail"
    t0 = time.clock_gettime_ns(time.CLOCK_REALTIME)
    s.sendto(pkt, (addr, 0))
    end = time.monotonic() + W
    while time.monotonic() < end:
        if not select.select([s], [], [], max(0.0, end - time.monotonic()))[0]:
            break
        data, anc, _, src = s.recvmsg(2048, 256)
        h = (data[0] & 15) * 4
        if src[0] != addr or len(data) < h + 8:
            continue
        typ, _, _, i, q = struct.unpack("!BBHHH", data[h:h + 8])
        if typ == 0 and i == ident and q == seq:
            t1 = time.clock_gettime_ns(time.CLOCK_REALTIME)
            for lvl, kind, val in anc:
                if lvl == socket.SOL_SOCKET and kind == TS:
                    sec, ns = struct.unpack("qq", val[:16])
                    t1 = sec * 1000000000 + ns
            res = "%.3f" % ((t1 - t0) / 1e6)
            break
    print(res, flush=True)
'

# fp_ping1 ADDR: one echo request from a, bounded; RTT gets the reply's
# time in ms, or "fail".
FP_SEQ=0
fp_ping1() {
	local out
	RTT=fail
	FP_SEQ=$((FP_SEQ + 1))
	if [[ "$FP_PINGER" == python ]]; then
		[[ -n "${PINGER[1]:-}" ]] || wt_fail "the pinger is gone"
		printf '%s %s\n' "$1" "$FP_SEQ" >&"${PINGER[1]}" || wt_fail "the pinger is gone"
		# No read -t (see fp_pause): the pinger answers within FP_WAIT s.
		read -r -u "${PINGER[0]}" RTT || wt_fail "the pinger does not answer"
		return
	fi
	out=$(timeout $((FP_WAIT + 5)) "${FP_RUN[@]}" ip netns exec "${OV_NS[a]}" \
		ping -n -c 1 -W "$FP_WAIT" "$1" 2>&1)
	[[ "$out" =~ time=([0-9.]+)\ ms ]] && RTT=${BASH_REMATCH[1]}
}

# fp_sched VAR PID...: "CPU_NS WAIT_NS" for each process, on one line,
# into VAR: time on a CPU and time runnable but waiting for one
# (/proc/PID/schedstat, summed over its threads; builtins only).
fp_sched() {
	local var=$1 p f c w x y _z res=()
	shift
	for p in "$@"; do
		c=0 w=0
		for f in /proc/"$p"/task/*/schedstat; do
			read -r x y _z <"$f" 2>/dev/null || continue
			c=$((c + x)) w=$((w + y))
		done
		res+=("$c" "$w")
	done
	printf -v "$var" '%s' "${res[*]}"
}

# fp_stats FILE COLUMN: "n fail median p90 p99 max" of that column (ms).
# Failures rank after every reply (a percentile that lands on one is
# "timeout"); median of an even count is the mean of the middle two,
# p90/p99 are nearest-rank (p99 of 100 is the 99th smallest).
fp_stats() {
	awk -v c="$2" '$c == "fail" { f++; next } $c ~ /^[0-9.]+$/ { print $c }
		END { for (i = 0; i < f; i++) print "inf" }' "$1" | sort -g |
	awk '{ v[++n] = $1 } $1 == "inf" { f++ }
	function rank(q,  k) { k = int(q * n); if (k < q * n) k++; if (k < 1) k = 1; return v[k] }
	function fmt(x) { return x == "inf" ? "timeout" : sprintf("%.3f", x) }
	END {
		if (!n) { print 0, 0, "-", "-", "-", "-"; exit }
		if (n % 2) med = v[(n + 1) / 2]
		else if (v[n / 2 + 1] == "inf") med = v[n / 2 + 1]
		else med = (v[n / 2] + v[n / 2 + 1]) / 2
		print n, f + 0, fmt(med), fmt(rank(0.90)), fmt(rank(0.99)), fmt(v[n])
	}'
}

# fp_rss: "COUNT MB" — processes of this run still alive and their RSS.
fp_rss() {
	local p kb=0 n=0 v
	for p in "${WT_PIDS[@]}"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		[[ -n "$v" ]] || continue
		kb=$((kb + v)) n=$((n + 1))
	done
	echo "$n $((kb / 1024))"
}

# fp_trace MAPFILE OUT: from the captures, each first packet's steps (ms):
#   total   echo request on a's interface -> echo reply on it
#   a_tun   request -> LOOKUP leaves a (a's weftd: TUN read, no_route, send)
#   server  LOOKUP reaches the bridge -> LOOKUP_OK leaves the server
#   notify  NOTIFY to the peer leaves the server, relative to the LOOKUP
#   a_init  LOOKUP_OK -> handshake initiation leaves a (peer set up,
#           initiation made)
#   b_resp  initiation -> response leaves the peer
#   a_data  response -> the queued echo request leaves a
#   b_echo  echo request -> echo reply leaves the peer (its TUN, the
#           kernel's echo, back through weftd)
#   a_out   reply on the bridge -> on a's interface
#   early   1 when the initiation reached the peer before the NOTIFY
#   a_arp   a's ARP request for the peer's LAN address -> reply ("-": a
#           knew the address; its time is inside a_init)
#   b_arp   1 when the peer asked ARP for a's address
# A first packet whose exchange took another shape (an initiation resent,
# the peer initiating) has "other" steps.  Times are the captures' kernel
# timestamps (the bridge and a's TUN, one clock).
fp_trace() {
	local map=$1 out=$2
	{
		tcpdump -r "$WT_TMP/tun.pcap" -n -tt -q 2>/dev/null | awk '
			/echo request/ { sub(/:$/, "", $5); print $1, "Q", $5 }
			/echo reply/ { print $1, "R", $3 }'
		tcpdump -r "$WT_TMP/lan.pcap" -n -tt -q 2>/dev/null | awk '
			$2 == "IP" && $7 == "length" {
				s = $3; d = $5; sub(/:$/, "", d)
				sub(/\.[0-9]+$/, "", s); sub(/\.[0-9]+$/, "", d)
				print $1, "U", s, d, $8 }
			$2 == "ARP," && $3 == "Request" { t = $7; sub(/,$/, "", t); print $1, "AQ", t, $5 }
			$2 == "ARP," && $3 == "Reply" { print $1, "AR", $4 }'
	} | sort -g -k1,1 | awk -v A=192.0.2.2 -v S=192.0.2.1 '
	FNR == NR { lan[$1] = $2; next }
	function ms(x, y) { return (x && y && !odd) ? sprintf("%.3f", (y - x) * 1000) : "other" }
	$2 == "Q" && !($3 in seen) && ($3 in lan) {
		seen[$3] = 1; cur = $3; B = lan[cur]; t0 = $1
		tl = tn = tok = ti = tr = td = tp = aq = ar = barp = odd = 0; next }
	cur == "" { next }
	$2 == "R" && $3 == cur {
		print cur, ms(t0, $1), ms(t0, tl), ms(tl, tok), ms(tl, tn), ms(tok, ti),
		      ms(ti, tr), ms(tr, td), ms(td, tp), ms(tp, $1), (tn && ti && ti < tn) ? 1 : 0,
		      aq ? ms(aq, ar) : "-", barp
		cur = ""; next }
	$2 == "AQ" && $3 == A && $4 == B && !aq { aq = $1; next }
	$2 == "AR" && $3 == B && aq && !ar { ar = $1; next }
	$2 == "AQ" && $3 == B && $4 == A { barp = 1; next }
	$2 != "U" { next }
	$3 == A && $4 == S && $5 > 32 && !tl { tl = $1; next }
	$3 == S && $4 == B && $5 > 32 && !tn { tn = $1; next }
	$3 == S && $4 == A && $5 > 32 && tl && !tok { tok = $1; next }
	$3 == A && $4 == B && $5 == 148 { if (!ti) ti = $1; else odd = 1; next }
	$3 == B && $4 == A && $5 == 148 { odd = 1; next }
	$3 == B && $4 == A && $5 == 92 && ti && !tr { tr = $1; next }
	$3 == A && $4 == B && $5 > 32 && $5 != 148 && tr && !td { td = $1; next }
	$3 == B && $4 == A && $5 > 32 && $5 != 92 && td && !tp { tp = $1; next }
	' "$map" - >"$out"
}

# fp_col_median FILE COL [DIV]: median of the numeric values of a column
# (divided by DIV).
fp_col_median() {
	awk -v c="$2" -v d="${3:-1}" '!/^#/ && $c ~ /^[0-9.]+$/ { print $c / d }' "$1" | sort -g |
		awk '{ v[++n] = $1 } END { if (!n) { print "-"; exit }
			printf "%.3f", n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'
}

# ------------------------------------------------------------ setup

T0=$EPOCHREALTIME
wt_log "$(uname -sr), $(nproc) CPUs; $FP_PEERS fresh peers, joins $FP_JOBS at a time"
ov_lan
ov_server_init
ov_server_start
ovs networks create bench >/dev/null || wt_fail "networks create bench"
ov_token TOK --network bench --reusable

# a is 192.0.2.2, the peers p1..pN are 192.0.2.3...
FP_A_ARGS=()
[[ "$FP_VERBOSE" == 1 ]] && FP_A_ARGS=(-v)
ov_node a 2 "${FP_A_ARGS[@]}"
PEERS=()
for ((i = 1; i <= FP_PEERS; i++)); do
	ov_node "p$i" $((i + 2))
	PEERS+=("p$i")
	((i % 25 == 0 || i == FP_PEERS)) &&
		wt_log "started weftd on $i/$FP_PEERS peers ($(fp_ms_since "$T0") ms)"
done

# Joins, FP_JOBS at a time (wait -n on the join jobs only: weftd and the
# server are children of this shell too).
T1=$EPOCHREALTIME
JOBS=()
fp_joined() { local f=("$WT_TMP"/join-*.ok "$WT_TMP"/join-*.err); local g=(); for x in "${f[@]}"; do [[ -e "$x" ]] && g+=("$x"); done; echo "${#g[@]}"; }
# fp_reap: waits for one join job, drops it from JOBS.
fp_reap() {
	local fin="" p live=()
	wait -n -p fin "${JOBS[@]}" 2>/dev/null
	[[ -n "$fin" ]] || { JOBS=(); return; }	# none left to wait for
	for p in "${JOBS[@]}"; do [[ "$p" == "$fin" ]] || live+=("$p"); done
	JOBS=("${live[@]}")
}
last=0
for name in a "${PEERS[@]}"; do
	fp_join "$name" &
	JOBS+=($!)
	while ((${#JOBS[@]} >= FP_JOBS)); do fp_reap; done
	j=$(fp_joined)
	if ((j / 25 > last / 25)); then
		wt_log "joined $j/$((FP_PEERS + 1)) ($(fp_ms_since "$T1") ms)"
		last=$j
	fi
done
while ((${#JOBS[@]})); do fp_reap; done
errs=("$WT_TMP"/join-*.err)
if [[ -e "${errs[0]}" ]]; then
	wt_fail "${#errs[@]} join(s) failed, e.g. ${errs[0]##*/join-}: $(head -c 300 "${errs[0]}")"
fi
declare -A V4
for name in a "${PEERS[@]}"; do
	V4[$name]=$(cat "$WT_TMP/join-$name.ok") || wt_fail "no address for $name"
done
wt_assert_eq "distinct overlay addresses" $((FP_PEERS + 1)) \
	"$(printf '%s\n' "${V4[@]}" | sort -u | wc -l)"
wt_log "all $((FP_PEERS + 1)) nodes joined in $(fp_ms_since "$T1") ms (setup $(fp_ms_since "$T0") ms)"
read -r rn rmb < <(fp_rss)
wt_log "memory: $rn processes (server + weftd) use $rmb MB RSS in all"

# The processes whose time each first packet is: server, a, the peer.
declare -A PID
for name in a "${PEERS[@]}"; do
	PID[$name]=$(ov_weftd_pid "$name")
	[[ -n "${PID[$name]}" ]] || wt_fail "no weftd process for $name"
done

# Fresh means fresh: a knows no peer and has asked for none.
st=$(ovw a status --json) || wt_fail "status of a"
if grep -Eq '"name": *"p[0-9]+\.' <<<"$st"; then
	wt_fail "node a already knows a peer before the measurement"
fi
if [[ "$FP_ARP" == warm ]]; then
	for name in "${PEERS[@]}"; do
		timeout 5 ip netns exec "${OV_NS[a]}" ping -n -c 1 -W 2 "${OV_ADDR[$name]}" \
			>/dev/null 2>&1 || wt_fail "underlay ping a -> $name (${OV_ADDR[$name]})"
	done
	wt_log "FP_ARP=warm: a and every peer know each other's MAC address (one underlay ping each)"
fi
# Everybody's session to the server is up (the peers answered `up`);
# let the joins' aftermath (ENDPOINTS, flush) settle.
sleep 1
case $FP_PRIO in
fifo)	for p in "${WT_PIDS[@]}"; do
		chrt -a -f -p 10 "$p" >/dev/null || wt_fail "chrt -f -p 10 $p"
	done ;;
nice)	renice -n -20 -p "${WT_PIDS[@]}" >/dev/null || wt_fail "renice -n -20" ;;
esac
[[ "$FP_PRIO" == none ]] || wt_log "server, weftd and pings scheduled: FP_PRIO=$FP_PRIO"
BUSY=$(fp_busy)
wt_log "machine busy before measuring: ${BUSY}% of all CPUs (this run's nodes are idle)"
((FP_MAX_BUSY < 100)) &&
	wt_log "each peer waits for a quiet moment (<= ${FP_MAX_BUSY}% busy for 0.2 s, at most ${FP_QUIET_WAIT}s)"

# FP_TRACE: packet captures on the bridge and on a's interface.
fp_tcpdump() {	# NS IFACE FILE FILTER
	local pid i
	ip netns exec "$1" tcpdump -i "$2" -n -U -w "$3" "$4" >"$3.log" 2>&1 &
	pid=$!
	WT_PIDS+=("$pid")
	wt__res "pid $pid"
	TD_PIDS+=("$pid")
	for ((i = 0; i < 50; i++)); do
		grep -q 'listening on' "$3.log" 2>/dev/null && return 0
		sleep 0.1
	done
	wt_fail "tcpdump on $2 did not start: $(head -c 300 "$3.log")"
}
TD_PIDS=()
if [[ "$FP_TRACE" == 1 ]]; then
	fp_tcpdump "$OV_LAN" br0 "$WT_TMP/lan.pcap" "udp or arp"
	fp_tcpdump "${OV_NS[a]}" "${OV_IF[a]}" "$WT_TMP/tun.pcap" icmp
	sleep 0.5
fi

# ------------------------------------------------------------ measure

if [[ "$FP_PINGER" == python ]]; then
	coproc PINGER { exec "${FP_RUN[@]}" ip netns exec "${OV_NS[a]}" python3 -c "$FP_PINGER_PY" "$FP_WAIT"; }
	WT_PIDS+=("$PINGER_PID")
	wt__res "pid $PINGER_PID"
fi
wt_log "measuring with FP_PINGER=$FP_PINGER: one ping to each fresh peer, then a second (warm) one"
printf '# peer\taddress\tfirst_ms\tsecond_ms\tbusy_pct_before\ta_cpu_us\ta_wait_us\tsrv_cpu_us\tsrv_wait_us\tpeer_cpu_us\tpeer_wait_us\ta_cpu2_us\tsrv_cpu2_us\tpeer_cpu2_us\n' >"$FP_SAMPLES"
T2=$EPOCHREALTIME
fp_cpu CPU2
k=0
NOISY=0 s0="" s1="" s2="" GATE_BUSY=0 RTT=""
for name in "${PEERS[@]}"; do
	fp_gate
	((GATE_BUSY > FP_MAX_BUSY)) && NOISY=$((NOISY + 1))
	fp_pause 0.05	# whatever the gate's checks set going settles
	fp_sched s0 "$OV_SRV_PID" "${PID[a]}" "${PID[$name]}"
	fp_ping1 "${V4[$name]}"
	cold=$RTT
	fp_sched s1 "$OV_SRV_PID" "${PID[a]}" "${PID[$name]}"
	fp_ping1 "${V4[$name]}"
	warm=$RTT
	fp_sched s2 "$OV_SRV_PID" "${PID[a]}" "${PID[$name]}"
	# Each process's time on a CPU and waiting for one during the first
	# ping (and the idle ticks that fell in it: a few us each), and on a
	# CPU during the second.
	read -r -a x <<<"$s0"
	read -r -a y <<<"$s1"
	read -r -a z <<<"$s2"
	printf '%s\t%s\t%s\t%s\t%s' "$name" "${V4[$name]}" "$cold" "$warm" "$GATE_BUSY" >>"$FP_SAMPLES"
	for v in $(((y[2] - x[2]) / 1000)) $(((y[3] - x[3]) / 1000)) $(((y[0] - x[0]) / 1000)) \
		$(((y[1] - x[1]) / 1000)) $(((y[4] - x[4]) / 1000)) $(((y[5] - x[5]) / 1000)) \
		$(((z[2] - y[2]) / 1000)) $(((z[0] - y[0]) / 1000)) $(((z[4] - y[4]) / 1000)); do
		printf '\t%s' "$v" >>"$FP_SAMPLES"
	done
	printf '\n' >>"$FP_SAMPLES"
	k=$((k + 1))
	((k % 25 == 0)) && wt_log "measured $k/$FP_PEERS (last: first $cold ms, second $warm ms)"
done
fp_busy_since BUSYM "$CPU2"
wt_log "measured in $(fp_ms_since "$T2") ms; machine busy ${BUSYM}% meanwhile (the pings and checks included)"
BUSY2=$(fp_busy)
if [[ "$FP_TRACE" == 1 ]]; then
	for p in "${TD_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
	for p in "${TD_PIDS[@]}"; do wt_wait_exit "$p" 5 || kill -KILL "$p" 2>/dev/null; done
	for name in "${PEERS[@]}"; do
		echo "${V4[$name]} 192.0.2.$((${name#p} + 2))"
	done >"$WT_TMP/map"
	{
		echo "# peer_overlay total a_tun server notify a_init b_resp a_data b_echo a_out early a_arp b_arp"
		fp_trace "$WT_TMP/map" /dev/stdout
	} >"$FP_SAMPLES.trace"
fi

read -r n fail med p90 p99 max < <(fp_stats "$FP_SAMPLES" 3)
read -r wn wfail wmed wp90 wp99 wmax < <(fp_stats "$FP_SAMPLES" 4)
st=$(ovw a status --json 2>/dev/null)
known=$(grep -Ec '"name": *"p[0-9]+\.' <<<"$st")

echo
echo "first packet to a fresh peer -> reply (ms), $n peers, ARP $FP_ARP, pinger $FP_PINGER,"
echo "samples in $FP_SAMPLES"
printf '  %-14s %8s %8s %8s %8s %9s\n' "" median p90 p99 max failures
printf '  %-14s %8s %8s %8s %8s %9s\n' "first packet" "$med" "$p90" "$p99" "$max" "$fail/$n"
printf '  %-14s %8s %8s %8s %8s %9s\n' "second (warm)" "$wmed" "$wp90" "$wp99" "$wmax" "$wfail/$wn"
echo "  node a knows $known peers afterwards; machine busy ${BUSY}% before, ${BUSYM}% during, ${BUSY2}% after"
((FP_MAX_BUSY < 100)) && echo "  $((FP_PEERS - NOISY)) of $FP_PEERS peers measured after a quiet 0.2 s (<= ${FP_MAX_BUSY}% busy)"
((NOISY)) && echo "  WARNING: $NOISY measured on a busy machine (no quiet moment within ${FP_QUIET_WAIT}s)"
echo
echo "CPU time during each ping (medians, ms; /proc/PID/schedstat)"
printf '  %-18s %12s %14s %12s\n' "" "first: on CPU" "waiting for it" "second: on CPU"
printf '  %-18s %12s %14s %12s\n' "node a (weftd)" "$(fp_col_median "$FP_SAMPLES" 6 1000)" \
	"$(fp_col_median "$FP_SAMPLES" 7 1000)" "$(fp_col_median "$FP_SAMPLES" 12 1000)"
printf '  %-18s %12s %14s %12s\n' "weft-server" "$(fp_col_median "$FP_SAMPLES" 8 1000)" \
	"$(fp_col_median "$FP_SAMPLES" 9 1000)" "$(fp_col_median "$FP_SAMPLES" 13 1000)"
printf '  %-18s %12s %14s %12s\n' "the peer (weftd)" "$(fp_col_median "$FP_SAMPLES" 10 1000)" \
	"$(fp_col_median "$FP_SAMPLES" 11 1000)" "$(fp_col_median "$FP_SAMPLES" 14 1000)"
if [[ "$FP_TRACE" == 1 ]]; then
	tr_n=$(grep -vc '^#' "$FP_SAMPLES.trace")
	tr_full=$(awk '!/^#/ && !/other/' "$FP_SAMPLES.trace" | wc -l)
	tr_early=$(awk '!/^#/ && $11 == 1' "$FP_SAMPLES.trace" | wc -l)
	tr_arp=$(awk '!/^#/ && $12 != "-"' "$FP_SAMPLES.trace" | wc -l)
	echo
	echo "where the first packet's time goes (medians, ms; $tr_full of $tr_n exchanges had"
	echo "the usual shape; the initiation beat the NOTIFY $tr_early times) — $FP_SAMPLES.trace"
	c=2
	for step in "total (on a's interface)" "a: request -> LOOKUP sent" \
		"server: LOOKUP -> LOOKUP_OK" "server: LOOKUP -> NOTIFY to peer" \
		"a: LOOKUP_OK -> initiation" "peer: initiation -> response" \
		"a: response -> queued request" "peer: request -> echo reply" \
		"a: reply -> interface"; do
		printf '  %-36s %8s\n' "$step" "$(fp_col_median "$FP_SAMPLES.trace" $c)"
		c=$((c + 1))
	done
	printf '  %-36s %8s  (%s of %s contacts)\n' "  (in a_init: a's ARP for the peer)" \
		"$(fp_col_median "$FP_SAMPLES.trace" 12)" "$tr_arp" "$tr_n"
fi
echo

if [[ "$med" == "-" || "$fail" == "$n" ]]; then
	wt_fail "no first packet got a reply"
fi
if [[ "$med" != timeout ]] && awk -v m="$med" -v t="$FP_TARGET_MS" 'BEGIN { exit !(m < t) }'; then
	wt_log "target met: median $med ms < $FP_TARGET_MS ms"
else
	wt_log "target MISSED: median $med ms, target < $FP_TARGET_MS ms"
	[[ "$FP_STRICT" == 1 ]] && exit 1
fi
((fail)) && wt_log "$fail first ping(s) got no reply within ${FP_WAIT}s"
exit 0
