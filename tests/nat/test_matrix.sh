#!/usr/bin/env bash
# test_matrix — the NAT reachability matrix (issue 4), rows 1, 2, 3 and 6,
# on the test bed of tests/nat/lib.sh: a public server, routers of several
# NAT kinds, nodes behind them.  Each row: both nodes join with a reusable
# key, kernel ping through the overlay both ways, a short iperf3 through
# it, and both sides' `weft status --json` must show a probed path of the
# expected kind:
#
#   row 1  A and B on one LAN (an eim router, which hairpins, as RFC 4787
#          REQ-9 asks and most home routers do: the address the server
#          sees each node at works from the LAN too, through the router):
#          direct, path_endpoint the other's private LAN address
#   row 2  A behind an EIM NAT, B behind another EIM NAT:
#          direct, path_endpoint the other router's public address
#   row 3  A behind an EIM NAT, B behind a symmetric NAT:
#          direct, path_endpoint the other router's public address; on A's
#          side with a port other than the one the server sees B at
#   row 6  A and B behind one NAT that does not hairpin:
#          direct, path_endpoint the other's private LAN address
#
# The paths must still be the expected ones after the traffic (a path
# that flaps between candidates fails the row).
#
# Before its nodes start, each row measures its routers' behaviour
# (udp_probe.py).  It prints, per row, the ping round trip and iperf3
# throughput through weft, and on the raw LAN where one exists (rows 1, 6).
#
#   NAT_ROWS="2 3" bash tests/nat/test_matrix.sh     only those rows
#
# A row that fails does not stop the others; the test fails at the end.
. "$(dirname "$0")/lib.sh"
nat_init matrix

: "${NAT_ROWS:=1 2 3 6}"
T0=$SECONDS
declare -A ROW_RESULT ROW_FIG ROW_FIRST ROW_PATH

nat_inet
nat_server_init
nat_server_start
nat_stun_start
wt_pass "test bed: internet, server at $NAT_SRV_ADDR:$NAT_SRV_PORT, stun at $NAT_STUN1/$NAT_STUN2"

# row_fail ROW MSG: a failed check of ROW (the test goes on with the next
# row and fails at the end).
row_fail() {
	ROW_RESULT[$1]=FAIL
	wt_soft_fail "row $1: $2"
}

# row_diag A B: what both sides and the server know, for a failed row.
row_diag() {
	local x
	for x in "$@"; do
		wt_log "  $x (${OV_ADDR[$x]}:${NAT_PORT[$x]} behind ${NAT_ROUTER[$x]}," \
			"server saw ${NAT_R_PUB[${NAT_ROUTER[$x]}]}:$(nat_server_seen "${NAT_R_PUB[${NAT_ROUTER[$x]}]}" | paste -sd,)):"
		nat_peer_summary "$x" | sed 's/^/    | /'
		grep -E 'direct path|endpoint\(s\)|peer ' "$WT_TMP/weftd-$x.log" | tail -n 8 | sed 's/^/    | /'
	done
}

# row_connect ROW A B ERE_A ERE_B: both join network rowROW, ping both
# ways through the overlay, and each side's proven path matches its ERE
# (A's view of B, B's view of A).
row_connect() {
	local row=$1 a=$2 b=$3 ere_a=$4 ere_b=$5 tok out x
	ovs networks create "row$row" >/dev/null || wt_fail "networks create row$row"
	ov_token tok --network "row$row" --reusable
	for x in "$a" "$b"; do
		out=$(ovw "$x" up --token "$tok" --hostname "$x" 2>&1) ||
			{ row_fail "$row" "$x joins: $out"; return 1; }
		V4[$x]=$(ov_ip "$x") || { row_fail "$row" "weft ip on $x"; return 1; }
	done
	wt_pass "row $row: $a (${V4[$a]}) and $b (${V4[$b]}) joined"
	# The first packet: one ping that waits up to 15 s for its reply (the
	# time it takes is the first-contact latency), then retries.
	local t0=$EPOCHREALTIME
	if ! timeout 20 ip netns exec "${OV_NS[$a]}" ping -n -c 1 -W 15 "${V4[$b]}" >/dev/null 2>&1 &&
		! wt_wait_for "ping $a -> $b" 5 ov_ping "$a" "${V4[$b]}"; then
		row_fail "$row" "no ping reply $a -> $b through the overlay"
		row_diag "$a" "$b"
		return 1
	fi
	ROW_FIRST[$row]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	wt_pass "row $row: ping $a -> $b through the overlay (first reply after ${ROW_FIRST[$row]} s)"
	if ! wt_wait_for "ping $b -> $a" 10 ov_ping "$b" "${V4[$a]}"; then
		row_fail "$row" "no ping reply $b -> $a through the overlay"
		row_diag "$a" "$b"
		return 1
	fi
	wt_pass "row $row: ping $b -> $a through the overlay"
	# The burst lasts about 3 s; give it a few more.
	if ! wt_wait_for "$a's path to $b" 10 nat_path_is "$a" "$ere_a"; then
		row_fail "$row" "$a's path to $b: want probed, path_endpoint /$ere_a/; got $(nat_peer_summary "$a" | head -n 1)"
		row_diag "$a" "$b"
		return 1
	fi
	wt_pass "row $row: $a -> $b path direct, probed, path_endpoint $(nat_peer "$a" path_endpoint) (rtt $(nat_peer "$a" path_rtt_ms) ms)"
	if ! wt_wait_for "$b's path to $a" 10 nat_path_is "$b" "$ere_b"; then
		row_fail "$row" "$b's path to $a: want probed, path_endpoint /$ere_b/; got $(nat_peer_summary "$b" | head -n 1)"
		row_diag "$a" "$b"
		return 1
	fi
	wt_pass "row $row: $b -> $a path direct, probed, path_endpoint $(nat_peer "$b" path_endpoint) (rtt $(nat_peer "$b" path_rtt_ms) ms)"
	for x in "$a" "$b"; do
		out=$(nat_peer "$x" path)
		[[ $out == direct ]] || { row_fail "$row" "$x's path is '$out', not direct"; return 1; }
	done
	wt_pass "row $row: both paths are \"direct\""
	ROW_PATH[$row]="$(nat_peer "$a" path_endpoint) / $(nat_peer "$b" path_endpoint)"
}

# row_still ROW A B ERE_A ERE_B: after the traffic, the paths are still
# the expected ones (a path that flaps between candidates fails).
row_still() {
	local row=$1 a=$2 b=$3
	if ! nat_path_is "$a" "$4" || ! nat_path_is "$b" "$5"; then
		row_fail "$row" "the path changed under traffic: $a: $(nat_peer_summary "$a" | head -n 1); $b: $(nat_peer_summary "$b" | head -n 1)"
		row_diag "$a" "$b"
		return 1
	fi
	wt_pass "row $row: after the traffic the paths are still $(nat_peer "$a" path_endpoint) / $(nat_peer "$b" path_endpoint)"
}

# row_measure ROW A B [raw]: ping RTT both ways and iperf3 A -> B through
# weft; with "raw" the same on the LAN (B's private address).
row_measure() {
	local row=$1 a=$2 b=$3 raw=${4:-} r1 r2 n1 n2 rr res bytes bps wbps rbps="-"
	read -r r1 n1 <<<"$(nat_rtt "${OV_NS[$a]}" "${V4[$b]}" 20)"
	read -r r2 n2 <<<"$(nat_rtt "${OV_NS[$b]}" "${V4[$a]}" 20)"
	if ((n1 < 19 || n2 < 19)); then
		row_fail "$row" "pings through the overlay: $n1/20 $a -> $b, $n2/20 $b -> $a"
		return 1
	fi
	wt_pass "row $row: 20 pings each way through the overlay ($n1/20, $n2/20)"
	if ! wt_iperf res "${OV_NS[$b]}" "${V4[$b]}" "${OV_NS[$a]}" 2; then
		row_fail "$row" "iperf3 $a -> $b through the overlay"
		return 1
	fi
	read -r bytes wbps <<<"$res"
	if ((bytes < 1000000)); then
		row_fail "$row" "iperf3 $a -> $b through the overlay moved only $bytes bytes"
		return 1
	fi
	wt_pass "row $row: iperf3 $a -> $b through the overlay: $(nat_mbps "$wbps") Mbit/s"
	rr="-"
	if [[ $raw == raw ]]; then
		read -r rr _ <<<"$(nat_rtt "${OV_NS[$a]}" "${OV_ADDR[$b]}" 20)"
		if wt_iperf res "${OV_NS[$b]}" "${OV_ADDR[$b]}" "${OV_NS[$a]}" 2; then
			read -r _ bps <<<"$res"
			rbps=$(nat_mbps "$bps")
		fi
	fi
	ROW_FIG[$row]=$(printf '%-8s %-8s %-8s %-9s %-9s' "$r1" "$r2" "$rr" "$(nat_mbps "$wbps")" "$rbps")
	wt_log "row $row figures: ping avg ms $a->$b $r1, $b->$a $r2, raw LAN $rr; iperf3 Mbit/s weft $(nat_mbps "$wbps"), raw LAN $rbps"
}

# row_stop NAME...: the row's weftds stop (the next row has the CPUs).
row_stop() {
	local x
	for x in "$@"; do ov_weftd_stop "$x"; done
}

ere() { local s=${1//./\\.}; printf '^%s$' "$s"; }

# ------------------------------------------------------------------ rows

row_1() {	# same LAN (behind an eim router that hairpins)
	nat_router r1 eim 1
	nat_host a1 r1 11 41011
	nat_host b1 r1 12 41012
	nat_check_kind a1
	nat_weftd a1
	nat_weftd b1
	row_connect 1 a1 b1 "$(ere 10.1.0.12:41012)" "$(ere 10.1.0.11:41011)" &&
		row_measure 1 a1 b1 raw &&
		row_still 1 a1 b1 "$(ere 10.1.0.12:41012)" "$(ere 10.1.0.11:41011)"
	row_stop a1 b1
}

row_2() {	# EIM NAT <-> another EIM NAT
	nat_router r2a eim 2
	nat_router r2b eim 3
	nat_host a2 r2a 11 41021
	nat_host b2 r2b 11 41022
	nat_check_kind a2
	nat_check_kind b2
	nat_weftd a2
	nat_weftd b2
	row_connect 2 a2 b2 "$(ere "${NAT_R_PUB[r2b]}:41022")" "$(ere "${NAT_R_PUB[r2a]}:41021")" &&
		row_measure 2 a2 b2 &&
		row_still 2 a2 b2 "$(ere "${NAT_R_PUB[r2b]}:41022")" "$(ere "${NAT_R_PUB[r2a]}:41021")"
	row_stop a2 b2
}

row_3() {	# EIM NAT <-> symmetric NAT
	local seen ep port
	nat_router r3a eim 4
	nat_router r3b symmetric 5
	nat_host a3 r3a 11 41031
	nat_host b3 r3b 11 41032
	nat_check_kind a3
	nat_check_kind b3
	nat_weftd a3
	nat_weftd b3
	if row_connect 3 a3 b3 "^${NAT_R_PUB[r3b]//./\\.}:[0-9]+\$" "$(ere "${NAT_R_PUB[r3a]}:41031")"; then
		seen=$(nat_server_seen "${NAT_R_PUB[r3b]}" | paste -sd,)
		ep=$(nat_peer a3 path_endpoint)
		port=${ep##*:}
		if [[ -n "$seen" && ",$seen," != *",$port,"* ]]; then
			wt_pass "row 3: a3 reaches b3 at $ep, not at the mapping the server sees (${NAT_R_PUB[r3b]}:$seen)"
			row_measure 3 a3 b3 &&
				row_still 3 a3 b3 "$(ere "$ep")" "$(ere "${NAT_R_PUB[r3a]}:41031")"
		else
			row_fail 3 "a3's path to b3 is $ep; the server sees b3 at port(s) '$seen' (want another port)"
		fi
	fi
	row_stop a3 b3
}

row_6() {	# both behind one NAT without hairpin
	nat_router r6 nohairpin 6
	nat_host a6 r6 11 41061
	nat_host b6 r6 12 41062
	nat_check_kind a6
	nat_weftd a6
	nat_weftd b6
	row_connect 6 a6 b6 "$(ere 10.6.0.12:41062)" "$(ere 10.6.0.11:41061)" &&
		row_measure 6 a6 b6 raw &&
		row_still 6 a6 b6 "$(ere 10.6.0.12:41062)" "$(ere 10.6.0.11:41061)"
	row_stop a6 b6
}

declare -A ROW_NAME=(
	[1]="same LAN (eim router, hairpin)"
	[2]="EIM NAT <-> EIM NAT"
	[3]="EIM NAT <-> symmetric NAT"
	[6]="one NAT, no hairpin"
)
ran=()
for row in $NAT_ROWS; do
	if ! declare -F "row_$row" >/dev/null; then
		wt_skip "row $row: not in this test yet"
		continue
	fi
	wt_log "=== row $row: ${ROW_NAME[$row]}"
	t=$SECONDS
	ROW_RESULT[$row]=PASS
	"row_$row"
	wt_log "=== row $row: ${ROW_RESULT[$row]} ($((SECONDS - t)) s)"
	ran+=("$row")
done

wt_log "summary (first: first ping's reply, s; ping: average round trip in ms over 20;"
wt_log "         iperf3: TCP A -> B, 2 s, Mbit/s; raw: the same on the LAN, without weft):"
wt_log "$(printf '%-4s %-31s %-5s %-6s %-8s %-8s %-8s %-9s %-9s %s' row case result first \
	'ping A>B' 'ping B>A' 'ping raw' 'iperf3' 'iperf raw' 'path at A / at B')"
for row in "${ran[@]}"; do
	wt_log "$(printf '%-4s %-31s %-5s %-6s %-44s %s' "$row" "${ROW_NAME[$row]}" "${ROW_RESULT[$row]}" \
		"${ROW_FIRST[$row]:--}" "${ROW_FIG[$row]:--}" "${ROW_PATH[$row]:--}")"
done
wt_log "run time $((SECONDS - T0)) s"
wt_done
