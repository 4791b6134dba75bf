# shellcheck shell=bash disable=SC2034
# (SC2034: the OV_* variables set here are read by tests/overlay/lib.sh)
#
# bench/lib_weftd.sh — the weftd row of bench/run.sh: two nodes joined
# through a weft-server, with the helpers of tests/overlay/lib.sh (source
# that first; it brings tests/netns/lib.sh).
#
# Unlike the overlay tests (a bridge namespace), the two nodes are the
# bench's own namespaces NS_A and NS_B on the one veth pair, so the measured
# path is the very underlay of the raw-veth row.  The server runs in NS_A,
# on A's underlay address; it only carries the control plane, since the
# row is measured only once the path between the nodes is direct.

# (tests/overlay/lib.sh declares these; repeated, harmlessly, for shellcheck)
declare -A OV_NS OV_SOCK OV_STATE OV_IF

# bench_weftd_pair IF_A IF_B: weft-server in NS_A on $U4_A:7000, weftd as
# IF_A in NS_A and IF_B in NS_B (sockets and state in $WT_TMP), both joined
# to network "bench".  Waits (bounded) until A pings B's overlay address and
# A's weftd reports a direct path.  Sets BW_A4, BW_B4 (overlay addresses).
# Fails (wt_fail) otherwise.
bench_weftd_pair() {
	local tok x st

	OV_SRV=$NS_A
	OV_SRV_STATE=$WT_TMP/server
	"$OV_SERVER" --state-dir "$OV_SRV_STATE" init --endpoint "$U4_A:7000" \
		--listen 0.0.0.0:7000 >"$WT_TMP/server-init.out" 2>&1 ||
		wt_fail "weft-server init: $(cat "$WT_TMP/server-init.out")"
	ov_server_start
	ovs networks create bench >/dev/null || wt_fail "weft-server networks create bench"
	ov_token tok --network bench --reusable

	OV_NS[a]=$NS_A OV_IF[a]=$1
	OV_NS[b]=$NS_B OV_IF[b]=$2
	for x in a b; do
		OV_SOCK[$x]=$WT_TMP/weftd-$x.sock
		OV_STATE[$x]=$WT_TMP/state-$x
		ov_weftd_start "$x"
		ovw "$x" up --token "$tok" --hostname "bench-$x" >"$WT_TMP/up-$x.out" 2>&1 ||
			wt_fail "weft up on $x: $(cat "$WT_TMP/up-$x.out")"
	done
	BW_A4=$(ov_ip a 2>&1)
	[[ "$BW_A4" =~ ^[0-9.]+$ ]] || wt_fail "weft ip -4 on a: '$BW_A4'"
	BW_B4=$(ov_ip b 2>&1)
	[[ "$BW_B4" =~ ^[0-9.]+$ ]] || wt_fail "weft ip -4 on b: '$BW_B4'"
	wt_log "weftd: a $BW_A4 ($1), b $BW_B4 ($2); waiting for ping and a direct path"
	wt_wait_ping "$NS_A" "$BW_B4" 20 || wt_fail "weftd: no ping from a to b ($BW_B4)"
	wt_wait_for "direct path a -> b" 20 bench__weftd_direct a ||
		wt_fail "weftd: the path a -> b is not direct: $(ovw a status 2>&1 | tail -n 3)"
	wt_wait_for "direct path b -> a" 20 bench__weftd_direct b ||
		wt_fail "weftd: the path b -> a is not direct: $(ovw b status 2>&1 | tail -n 3)"
	st=$(ovw a status --json 2>/dev/null)
	bench_note "weftd: a -> b over $(sed -n 's/.*"path_endpoint": *"\([^"]*\)".*/\1/p' <<<"$st" | head -n 1) (direct), server in a's namespace on $U4_A:7000."
}

# bench_weftd_still_direct: after the measurements, a note if the path
# between the nodes is no longer direct (the figures may be partly relayed).
bench_weftd_still_direct() {
	bench__weftd_direct a && bench__weftd_direct b && return 0
	wt_log "weftd: after the measurements the path a <-> b is no longer direct"
	bench_note "weftd: after the measurements the path a <-> b was no longer direct (some traffic may have gone through the relay)."
}

# bench__weftd_direct NAME: NAME's weftd has a peer on a probed, direct path.
bench__weftd_direct() {
	local st
	st=$(ovw "$1" status --json 2>/dev/null) || return 1
	grep -Eq '"path": *"direct"' <<<"$st" && grep -Eq '"probed": *true' <<<"$st"
}
