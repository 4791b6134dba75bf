#!/usr/bin/env bash
# Roaming: one side's underlay address changes mid-session (address
# deleted, a new one added in the same veth subnet).  Traffic sent from the
# side that moved keeps flowing, and the other side's `wg show endpoints`
# shows the new address.  First the initiator (A) moves, then B.
set -u
. "$(dirname "$0")/lib.sh"
wt_init roaming
wt_pair v4

wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "ping A -> B not answered within 15s"
wt_assert_ping "$NS_A" "$O4_B" 5
wt_assert_eq "B sees A's endpoint" "$U4_A:$PORT_A" "$(wt_endpoint "$NS_B" "$IF_B" "$A_PUB")"

# How long the side that moved may take to get traffic through again.  The
# kernel module and a correct sticky-source implementation recover at once
# (the stale source address is cleared when sending fails); wireguard-go
# 0.0.20220316 only recovers when it re-handshakes after 15 s of silence.
roam_timeout() {
	if [[ -n "${ROAM_TIMEOUT:-}" ]]; then echo "$ROAM_TIMEOUT"
	elif wt_is_weft "$1"; then echo 10
	else echo 30; fi
}
T_A=$(roam_timeout "$IMPL_A") T_B=$(roam_timeout "$IMPL_B")

ep_is() { [[ "$(wt_endpoint "$1" "$2" "$3")" == "$4" ]]; }

# --- A moves: 192.0.2.1 -> 192.0.2.11
NEW_A=192.0.2.11
wt_addr_del "$NS_A" va "$U4_A/24"
wt_addr "$NS_A" va "$NEW_A/24"
wt_log "A's underlay moved $U4_A -> $NEW_A"
t0=$SECONDS
wt_wait_ping "$NS_A" "$O4_B" "$T_A" || wt_fail "after A moved: ping A -> B not answered within ${T_A}s"
wt_log "after A moved: traffic through again after $((SECONDS - t0))s"
wt_assert_ping "$NS_A" "$O4_B" 5
wt_assert_ping "$NS_A" "$O6_B" 5
wt_wait_for "B sees A at $NEW_A" 10 ep_is "$NS_B" "$IF_B" "$A_PUB" "$NEW_A:$PORT_A"
wt_assert_eq "B's endpoint for A after A moved" "$NEW_A:$PORT_A" "$(wt_endpoint "$NS_B" "$IF_B" "$A_PUB")"
wt_assert_ping "$NS_B" "$O4_A" 5

# --- B moves: 192.0.2.2 -> 192.0.2.12; B sends, A learns.
NEW_B=192.0.2.12
wt_addr_del "$NS_B" vb "$U4_B/24"
wt_addr "$NS_B" vb "$NEW_B/24"
wt_log "B's underlay moved $U4_B -> $NEW_B"
t0=$SECONDS
wt_wait_ping "$NS_B" "$O4_A" "$T_B" || wt_fail "after B moved: ping B -> A not answered within ${T_B}s"
wt_log "after B moved: traffic through again after $((SECONDS - t0))s"
wt_assert_ping "$NS_B" "$O4_A" 5
wt_wait_for "A sees B at $NEW_B" 10 ep_is "$NS_A" "$IF_A" "$B_PUB" "$NEW_B:$PORT_B"
wt_assert_eq "A's endpoint for B after B moved" "$NEW_B:$PORT_B" "$(wt_endpoint "$NS_A" "$IF_A" "$B_PUB")"
wt_assert_ping "$NS_A" "$O4_B" 5
wt_assert_ping "$NS_A" "$O6_B" 5

# --- A moves to the IPv6 underlay: drops its IPv4 address and points its
# peer at B's IPv6 address; once A sends, B follows.
wt_addr_del "$NS_A" va "$NEW_A/24"
wt_wg "$NS_A" set "$IF_A" peer "$B_PUB" endpoint "[$U6_B]:$PORT_B" || wt_fail "wg set endpoint v6"
wt_log "A dropped IPv4 underlay, peer endpoint now [$U6_B]:$PORT_B"
t0=$SECONDS
wt_wait_ping "$NS_A" "$O4_B" "$T_A" || wt_fail "after A went IPv6: ping A -> B not answered within ${T_A}s"
wt_log "after A went IPv6: traffic through again after $((SECONDS - t0))s"
wt_wait_for "B sees A at [$U6_A]" 10 ep_is "$NS_B" "$IF_B" "$A_PUB" "[$U6_A]:$PORT_A"
wt_assert_eq "B's endpoint for A after A switched to IPv6" "[$U6_A]:$PORT_A" "$(wt_endpoint "$NS_B" "$IF_B" "$A_PUB")"
wt_assert_ping "$NS_B" "$O6_A" 5
wt_done
