#!/usr/bin/env bash
# iperf3 TCP through the tunnel, both directions (A -> B, then B -> A with
# -R), short and bounded: each must finish and move data.
set -u
. "$(dirname "$0")/lib.sh"
wt_init iperf
wt_pair v4
SECS=${IPERF_SECONDS:-3}

wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "ping A -> B not answered within 15s"
wt_pass "tunnel up (ping A -> B)"

for dir in "A->B" "B->A"; do
	rev=""
	[[ $dir == "B->A" ]] && rev=-R
	wt_iperf res "$NS_B" "$O4_B" "$NS_A" "$SECS" $rev ||
		wt_fail "iperf3 $dir ($SECS s) did not finish"
	read -r bytes bps <<<"$res"
	wt_assert_gt "iperf3 TCP $dir ${SECS}s finished, bytes received" "$bytes" 0
	wt_log "iperf3 $dir: $(awk -v b="$bps" 'BEGIN { printf "%.1f Mbit/s", b / 1e6 }')"
done

# IPv6 inner, one direction.
wt_iperf res "$NS_A" "$O6_A" "$NS_B" 2 || wt_fail "iperf3 over IPv6 inner did not finish"
read -r bytes bps <<<"$res"
wt_assert_gt "iperf3 TCP B->A over IPv6 inner, bytes received" "$bytes" 0

read -r rx tx <<<"$(wt_transfer "$NS_A" "$IF_A" "$B_PUB")"
wt_assert_gt "A: transfer rx after iperf3 > 1 MB" "$rx" 1000000
wt_assert_gt "A: transfer tx after iperf3 > 1 MB" "$tx" 1000000
wt_done
