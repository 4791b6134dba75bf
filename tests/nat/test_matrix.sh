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

: "${NAT_ROWS:=1 2 3 4 5 6 7 8}"
T0=$SECONDS
declare -A ROW_RESULT ROW_FIG ROW_FIRST ROW_PATH ROW_DIRECT

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
# row_join ROW A B: both join network rowROW with a reusable key and ping
# each other through the overlay.  A's first ping waits up to 15 s for its
# reply: the time it takes (ROW_FIRST) is the first-contact latency; it
# started at T0_FIRST.
row_join() {
	local row=$1 a=$2 b=$3 tok out x
	ovs networks create "row$row" >/dev/null || wt_fail "networks create row$row"
	ov_token tok --network "row$row" --reusable
	for x in "$a" "$b"; do
		out=$(ovw "$x" up --token "$tok" --hostname "$x" 2>&1) ||
			{ row_fail "$row" "$x joins: $out"; return 1; }
		V4[$x]=$(ov_ip "$x") || { row_fail "$row" "weft ip on $x"; return 1; }
	done
	wt_pass "row $row: $a (${V4[$a]}) and $b (${V4[$b]}) joined"
	T0_FIRST=$EPOCHREALTIME
	if ! timeout 20 ip netns exec "${OV_NS[$a]}" ping -n -c 1 -W 15 "${V4[$b]}" >/dev/null 2>&1 &&
		! wt_wait_for "ping $a -> $b" 5 ov_ping "$a" "${V4[$b]}"; then
		row_fail "$row" "no ping reply $a -> $b through the overlay"
		row_diag "$a" "$b"
		return 1
	fi
	ROW_FIRST[$row]=$(awk -v a="$T0_FIRST" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	wt_pass "row $row: ping $a -> $b through the overlay (first reply after ${ROW_FIRST[$row]} s)"
	if ! wt_wait_for "ping $b -> $a" 10 ov_ping "$b" "${V4[$a]}"; then
		row_fail "$row" "no ping reply $b -> $a through the overlay"
		row_diag "$a" "$b"
		return 1
	fi
	wt_pass "row $row: ping $b -> $a through the overlay"
}

row_connect() {
	local row=$1 a=$2 b=$3 ere_a=$4 ere_b=$5 out x
	row_join "$row" "$a" "$b" || return 1
	local t0=$T0_FIRST
	# The burst lasts about 3 s; give it a few more.  How long after
	# the first packet the direct path was proven on a's side (polled
	# every 50 ms, at most 10 s): the "first packet to direct path" time.
	local i
	for ((i = 0; i < 200; i++)); do
		nat_path_is "$a" "$ere_a" && break
		sleep 0.05
	done
	ROW_DIRECT[$row]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	if ! wt_wait_for "$a's path to $b" 10 nat_path_is "$a" "$ere_a"; then
		row_fail "$row" "$a's path to $b: want probed, path_endpoint /$ere_a/; got $(nat_peer_summary "$a" | head -n 1)"
		row_diag "$a" "$b"
		return 1
	fi
	wt_pass "row $row: $a -> $b path direct, probed, path_endpoint $(nat_peer "$a" path_endpoint) (rtt $(nat_peer "$a" path_rtt_ms) ms; proven ${ROW_DIRECT[$row]} s after the first packet)"
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
	if [[ $raw == nat ]]; then
		# The raw underlay between two NATed hosts: TCP to B's router's
		# public address, forwarded to B (a port forward made for this),
		# and ping to that router (one hop short of B).
		local rb=${NAT_ROUTER[$b]} rpub
		rpub=${NAT_R_PUB[$rb]}
		ip netns exec "${NAT_R_NS[$rb]}" nft add rule ip nat prerouting \
			ip daddr "$rpub" tcp dport 5299 dnat to "${OV_ADDR[$b]}:5299" &&
		ip netns exec "${NAT_R_NS[$rb]}" nft add rule ip filter forward \
			ip daddr "${OV_ADDR[$b]}" tcp dport 5299 accept || wt_fail "raw port forward on $rb"
		read -r rr _ <<<"$(nat_rtt "${OV_NS[$a]}" "$rpub" 20)"
		timeout 20 ip netns exec "${OV_NS[$b]}" iperf3 -s -1 -p 5299 >/dev/null 2>&1 &
		WT_PIDS+=("$!")
		wt_wait_for "raw iperf3 server in $b" 5 \
			sh -c "ip netns exec '${OV_NS[$b]}' ss -Htln 'sport = :5299' | grep -q ."
		if timeout 15 ip netns exec "${OV_NS[$a]}" iperf3 -c "$rpub" -p 5299 -t 2 -J \
			>"$WT_TMP/raw$row.json" 2>&1; then
			rbps=$(nat_mbps "$(jq '.end.sum_received.bits_per_second' "$WT_TMP/raw$row.json")")
		fi
	fi
	if [[ $raw == raw ]]; then
		read -r rr _ <<<"$(nat_rtt "${OV_NS[$a]}" "${OV_ADDR[$b]}" 20)"
		if wt_iperf res "${OV_NS[$b]}" "${OV_ADDR[$b]}" "${OV_NS[$a]}" 2; then
			read -r _ bps <<<"$res"
			rbps=$(nat_mbps "$bps")
		fi
	fi
	ROW_FIG[$row]=$(printf '%-8s %-8s %-8s %-9s %-9s' "$r1" "$r2" "$rr" "$(nat_mbps "$wbps")" "$rbps")
	wt_log "row $row figures: ping avg ms $a->$b $r1, $b->$a $r2, raw underlay $rr; iperf3 Mbit/s weft $(nat_mbps "$wbps"), raw underlay $rbps"
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
		row_netcheck 2 a2 true false &&
		row_measure 2 a2 b2 nat &&
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
			row_netcheck 3 b3 true true
			row_measure 3 a3 b3 nat &&
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

# row_relayed ROW A B: both join network rowROW and reach each other
# through the relay: pings both ways, both sides' path "relay" (after the
# probe burst gave up on a direct one), then the figures.
row_relayed() {
	local row=$1 a=$2 b=$3 x
	row_join "$row" "$a" "$b" || return 1
	for x in "$a" "$b"; do
		if ! wt_wait_for "$x's path is the relay" 10 nat_peer_path_is "$x" relay; then
			row_fail "$row" "$x's path: want relay; got $(nat_peer_summary "$x" | head -n 1)"
			row_diag "$a" "$b"
			return 1
		fi
	done
	wt_pass "row $row: both sides' path is \"relay\" (no direct path answers)"
	ROW_PATH[$row]="relay / relay"
}

# row_netcheck ROW NAME UDP VARIES: `weft netcheck --json` on NAME says
# udp UDP (true/false) and mapping_varies_by_destination VARIES
# (true/false/null), and the relay answered.
row_netcheck() {
	local row=$1 x=$2 nc got
	nc=$(ovw "$x" netcheck --json 2>&1) || { row_fail "$row" "weft netcheck on $x: $nc"; return 1; }
	got=$(jq -r '"\(.udp) \(.mapping_varies_by_destination) \(.relay.latency_ms != null)"' <<<"$nc")
	if [[ "$got" == "$3 $4 true" ]]; then
		wt_pass "row $row: netcheck on $x: udp $3, mapping varies $4, relay answers ($(jq -c '[.stun[].reflexive]' <<<"$nc"))"
	else
		row_fail "$row" "netcheck on $x: want 'udp $3 varies $4 relay true', got '$got': $(jq -c . <<<"$nc")"
	fi
}

# nat_peer_path_is NAME PATH: NAME's peer's "path" is PATH.
nat_peer_path_is() { [[ "$(nat_peer "$1" path)" == "$2" ]]; }

row_4() {	# symmetric NAT <-> symmetric NAT: relay
	nat_router r4a symmetric 14
	nat_router r4b symmetric 15
	nat_host a4 r4a 11 41041
	nat_host b4 r4b 11 41042
	nat_check_kind a4
	nat_check_kind b4
	nat_weftd a4
	nat_weftd b4
	row_relayed 4 a4 b4 && row_measure 4 a4 b4 nat &&
		{ nat_peer_path_is a4 relay && nat_peer_path_is b4 relay &&
		  wt_pass "row 4: still relayed after the traffic" ||
		  row_fail 4 "the path changed under traffic: $(nat_peer a4 path) / $(nat_peer b4 path)"; }
	row_stop a4 b4
}

row_5() {	# UDP blocked entirely at A, B behind a NAT: relay; A joined through it
	nat_router r5a udpblock 16
	nat_router r5b eim 17
	nat_host a5 r5a 11 41051
	nat_host b5 r5b 11 41052
	nat_check_kind a5
	nat_check_kind b5
	nat_weftd a5
	nat_weftd b5
	if row_relayed 5 a5 b5; then
		if [[ "$(ovw a5 status --json | jq -r .relay.control_via_relay)" == true ]]; then
			wt_pass "row 5: a5's control session runs over the relay (it joined that way)"
		else
			row_fail 5 "a5's control session is not over the relay: $(ovw a5 status --json | jq -c .relay)"
		fi
		row_netcheck 5 a5 false null
		row_measure 5 a5 b5 nat
	fi
	row_stop a5 b5
}

row_7() {	# A's underlay address changes in the middle of an iperf3
	local res bytes mid
	nat_router r7a eim 7
	nat_router r7b eim 8
	nat_router r7c eim 9
	nat_host a7 r7a 11 41071
	nat_host b7 r7c 11 41072
	nat_second_link a7 r7b 11
	nat_weftd a7
	nat_weftd b7
	row_connect 7 a7 b7 "$(ere "${NAT_R_PUB[r7c]}:41072")" "$(ere "${NAT_R_PUB[r7a]}:41071")" ||
		{ row_stop a7 b7; return; }
	# iperf3 a7 -> b7 for 8 s; a7 moves to another network after 3 s.
	ip netns exec "${OV_NS[b7]}" timeout 30 iperf3 -s -1 -B "${V4[b7]}" >/dev/null 2>&1 &
	WT_PIDS+=("$!")
	sleep 0.5
	timeout 30 ip netns exec "${OV_NS[a7]}" iperf3 -c "${V4[b7]}" -t 8 -i 1 -J \
		>"$WT_TMP/row7.json" 2>&1 &
	local ip=$!
	sleep 3
	nat_move a7
	wt_log "row 7: a7 moved from ${NAT_R_PUB[r7a]} to ${NAT_R_PUB[r7b]} (LAN ${OV_ADDR[a7]}) during the transfer"
	if ! wait "$ip"; then
		row_fail 7 "iperf3 a7 -> b7 across the move failed: $(head -c 300 "$WT_TMP/row7.json")"
		row_diag a7 b7
		row_stop a7 b7
		return
	fi
	bytes=$(jq '.end.sum_received.bytes' "$WT_TMP/row7.json")
	mid=$(jq '[.intervals[5:][].sum.bytes] | min' "$WT_TMP/row7.json")
	if [[ "$mid" =~ ^[0-9]+$ ]] && ((mid > 0)); then
		wt_pass "row 7: the transfer went on after the move (every second after it moved data, least $mid bytes; $bytes in all)"
	else
		row_fail 7 "no data in some second after the move: $(jq -c '[.intervals[].sum.bytes]' "$WT_TMP/row7.json")"
		row_diag a7 b7
	fi
	if wt_wait_for "b7's path to a7's new network" 10 nat_path_is b7 "$(ere "${NAT_R_PUB[r7b]}:41071")"; then
		wt_pass "row 7: b7 now reaches a7 at ${NAT_R_PUB[r7b]}:41071"
	else
		row_fail 7 "b7's path to a7 after the move: $(nat_peer_summary b7 | head -n 1)"
	fi
	ROW_FIG[7]=$(printf '%-8s %-8s %-8s %-9s %-9s' - - - \
		"$(nat_mbps "$(jq '.end.sum_received.bits_per_second' "$WT_TMP/row7.json")")" -)
	ROW_PATH[7]="$(nat_peer a7 path_endpoint) / $(nat_peer b7 path_endpoint)"
	row_stop a7 b7
}

row_8() {	# both change networks at the same time
	local t0 took
	nat_router r8a eim 10
	nat_router r8b eim 11
	nat_router r8c eim 12
	nat_router r8d eim 13
	nat_host a8 r8a 11 41081
	nat_host b8 r8c 11 41082
	nat_second_link a8 r8b 11
	nat_second_link b8 r8d 11
	nat_weftd a8
	nat_weftd b8
	row_connect 8 a8 b8 "$(ere "${NAT_R_PUB[r8c]}:41082")" "$(ere "${NAT_R_PUB[r8a]}:41081")" ||
		{ row_stop a8 b8; return; }
	t0=$EPOCHREALTIME
	nat_move a8
	nat_move b8
	wt_log "row 8: a8 and b8 both moved (to ${NAT_R_PUB[r8b]} and ${NAT_R_PUB[r8d]})"
	# pings of 0.2 s each until one is answered (at most 75: 15 s)
	local i ok=0
	for ((i = 0; i < 75; i++)); do
		if ip netns exec "${OV_NS[a8]}" ping -n -c 1 -W 0.2 "${V4[b8]}" >/dev/null 2>&1; then
			ok=1
			break
		fi
	done
	if ((!ok)); then
		row_fail 8 "no ping a8 -> b8 within 15 s of both moving"
		row_diag a8 b8
		row_stop a8 b8
		return
	fi
	took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	if awk -v t="$took" 'BEGIN { exit !(t <= 10) }'; then
		wt_pass "row 8: reconnected $took s after both moved (limit 10 s)"
	else
		row_fail 8 "reconnected only after $took s (limit 10 s)"
	fi
	ROW_FIRST[8]=$took
	if wt_wait_for "ping b8 -> a8" 5 ov_ping b8 "${V4[a8]}" &&
		wt_wait_for "a8's new path" 10 nat_path_is a8 "$(ere "${NAT_R_PUB[r8d]}:41082")" &&
		wt_wait_for "b8's new path" 10 nat_path_is b8 "$(ere "${NAT_R_PUB[r8b]}:41081")"; then
		wt_pass "row 8: both ways again, direct on the new networks"
	else
		row_fail 8 "after the move: a8 $(nat_peer_summary a8 | head -n 1); b8 $(nat_peer_summary b8 | head -n 1)"
		row_diag a8 b8
	fi
	ROW_PATH[8]="$(nat_peer a8 path_endpoint) / $(nat_peer b8 path_endpoint)"
	row_stop a8 b8
}

declare -A ROW_NAME=(
	[1]="same LAN (eim router, hairpin)"
	[2]="EIM NAT <-> EIM NAT"
	[3]="EIM NAT <-> symmetric NAT"
	[4]="symmetric <-> symmetric"
	[5]="UDP blocked <-> NAT"
	[6]="one NAT, no hairpin"
	[7]="A moves during iperf3"
	[8]="both move at once"
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
