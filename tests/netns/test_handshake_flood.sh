#!/usr/bin/env bash
# A handshake flood makes the responder answer with cookie replies instead
# of doing Diffie-Hellman work for each initiation (whitepaper §5.3).  A
# floods B with 20000 initiations whose mac1 is valid for B's key (so they
# pass the cheap check) but whose contents are garbage; B must answer with
# cookie replies, never with a handshake response, keep its expensive work
# bounded (weft-wg: rx_bad_auth far below the flood), and keep the A <-> B
# tunnel working afterwards.
set -u
. "$(dirname "$0")/lib.sh"
wt_init handshake_flood
FLOOD=$WT_ROOT/${BUILD:-build}/tools/wgflood
[[ -x $FLOOD ]] || wt_fail "$FLOOD not built (make)"
wt_pair v4
wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "ping A -> B not answered within 15s"
wt_pass "A <-> B tunnel up"

if wt_is_weft "$IMPL_B"; then before=$(wt_stats "$NS_B" "$IF_B" "$IMPL_B"); fi
N=20000
out=$(timeout 60 ip netns exec "$NS_A" "$FLOOD" "$U4_B" "$PORT_B" "$B_PUB" "$N") ||
	wt_fail "wgflood failed: $out"
wt_log "flood: $out"
val() { sed -E "s/.*\\b$1=([0-9]+).*/\\1/" <<<"$out"; }
wt_assert_eq "initiations sent" "$N" "$(val sent)"
wt_assert_gt "cookie replies received" "$(val cookie_replies)" 0
wt_assert_eq "handshake responses to garbage" 0 "$(val responses)"

if wt_is_weft "$IMPL_B"; then
	after=$(wt_stats "$NS_B" "$IF_B" "$IMPL_B")
	sent=$(( $(wt_stat "$after" cookie_replies_sent) - $(wt_stat "$before" cookie_replies_sent) ))
	work=$(( $(wt_stat "$after" rx_bad_auth) - $(wt_stat "$before" rx_bad_auth) ))
	wt_log "B: cookie_replies_sent +$sent, rx_bad_auth (DH work done) +$work"
	wt_assert_gt "B --stats cookie_replies_sent grew" "$sent" 0
	wt_assert_gt "B did DH work for under a quarter of the flood" $((N / 4)) "$work"
fi

wt_wait_ping "$NS_A" "$O4_B" 30 || wt_fail "ping A -> B not answered after the flood"
wt_pass "A <-> B tunnel still works after the flood"
wt_done
