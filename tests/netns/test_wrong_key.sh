#!/usr/bin/env bash
# A peer the responder does not know gets no answer.  Three namespaces: A
# and B are a working pair; C (running IMPL_A) reaches B over a second veth
# (198.51.100.0/24) and tries to talk to it:
#   1. C's own key is unknown to B          -> weft-wg: rx_unknown_peer grows
#   2. C uses a wrong public key for B      -> weft-wg: rx_invalid_mac grows
#   3. C sends malformed UDP junk to B's port -> weft-wg: rx_malformed grows
# Each time C must never complete a handshake nor receive a byte, and A <-> B
# must keep working.  The --stats checks run only when B is weft-wg.
set -u
. "$(dirname "$0")/lib.sh"
wt_init wrong_key
wt_pair v4
wt_ns NS_C c
wt_veth "$NS_C" vc "$NS_B" vbc
U4_C=198.51.100.3 U4_BC=198.51.100.2
wt_addr "$NS_C" vc "$U4_C/24"
wt_addr "$NS_B" vbc "$U4_BC/24"
wt_ifname IF_C C
wt_keypair C
wt_keypair X	# a public key nobody uses
wt_start PID_C "$NS_C" "$IF_C" "$IMPL_A"
wt_wg "$NS_C" set "$IF_C" private-key "$C_KEY" listen-port 51823 \
	peer "$B_PUB" endpoint "$U4_BC:$PORT_B" allowed-ips 100.64.0.0/24,fd00:77::/64 ||
	wt_fail "wg set $IF_C"
wt_overlay "$NS_C" "$IF_C" 100.64.0.3 fd00:77::3
wt_pass "wrong peer C started ($(wt_impl_name "$IMPL_A"), key unknown to B)"

wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "ping A -> B not answered within 15s"
wt_pass "A <-> B tunnel up"

STATS=0
if wt_is_weft "$IMPL_B"; then
	st=$(wt_stats "$NS_B" "$IF_B" "$IMPL_B")
	[[ -n "$st" ]] || wt_fail "'$IMPL_B --stats $IF_B' printed no key=value lines"
	STATS=1
	wt_pass "B --stats: $(echo $st)"
else
	wt_skip "drop counters: B is $(wt_impl_name "$IMPL_B"), not weft-wg"
fi

# stats_check BEFORE AFTER KEY: KEY must have grown (if weft-wg has that
# counter; otherwise the sum of all rx_* counters must have).
stats_check() {
	local before=$1 after=$2 key=$3 b a k changes=""
	for k in $(awk -F= '{ print $1 }' <<<"$after"); do
		b=$(wt_stat "$before" "$k") a=$(wt_stat "$after" "$k")
		[[ "${b:-0}" != "$a" ]] && changes+=" $k:${b:-0}->$a"
	done
	wt_log "B counter changes:${changes:- none}"
	if [[ -n "$(wt_stat "$after" "$key")" ]]; then
		wt_assert_gt "B --stats $key grew" "$(wt_stat "$after" "$key")" "$(wt_stat "$before" "$key")"
	else
		wt_log "no counter named $key; checking the sum of rx_* counters"
		sum() { awk -F= '$1 ~ /^rx_/ { s += $2 } END { print s + 0 }' <<<"$1"; }
		wt_assert_gt "B --stats sum of rx_* grew" "$(sum "$after")" "$(sum "$before")"
	fi
}

# c_attempt DESC: C pings through its tunnel; nothing may come back.
c_attempt() {
	local got hs rx tx
	got=$(timeout 10 ip netns exec "$NS_C" ping -n -q -c 4 -i 0.5 -W 1 -w 4 "$O4_B" 2>&1 |
		awk '/packets transmitted/ { print $4 }')
	wt_assert_eq "$1: C's pings answered" 0 "${got:-0}"
	hs=$(wt_handshake "$NS_C" "$IF_C" "$2")
	wt_assert_eq "$1: C's latest-handshake" 0 "$hs"
	read -r rx tx <<<"$(wt_transfer "$NS_C" "$IF_C" "$2")"
	wt_assert_eq "$1: C's transfer received bytes" 0 "$rx"
	wt_assert_gt "$1: C did send handshake initiations (transfer sent bytes)" "$tx" 0
	wt_assert_ne "$1: B has no peer for C" "$C_PUB" "$(wt_wg "$NS_B" show "$IF_B" peers | grep -Fx "$C_PUB")"
}

# --- 1. C's key unknown to B
[[ $STATS == 1 ]] && before=$(wt_stats "$NS_B" "$IF_B" "$IMPL_B")
c_attempt "unknown initiator key" "$B_PUB"
if [[ $STATS == 1 ]]; then
	after=$(wt_stats "$NS_B" "$IF_B" "$IMPL_B")
	stats_check "$before" "$after" rx_unknown_peer
fi
wt_assert_ping "$NS_A" "$O4_B" 3

# --- 2. C has the wrong public key for B (mac1 cannot verify)
wt_wg "$NS_C" set "$IF_C" peer "$B_PUB" remove peer "$X_PUB" endpoint "$U4_BC:$PORT_B" \
	allowed-ips 100.64.0.0/24,fd00:77::/64 || wt_fail "wg set $IF_C (wrong responder key)"
[[ $STATS == 1 ]] && before=$(wt_stats "$NS_B" "$IF_B" "$IMPL_B")
c_attempt "wrong responder key" "$X_PUB"
if [[ $STATS == 1 ]]; then
	after=$(wt_stats "$NS_B" "$IF_B" "$IMPL_B")
	stats_check "$before" "$after" rx_invalid_mac
fi
wt_assert_ping "$NS_A" "$O4_B" 3

# --- 3. malformed datagrams to B's port
junk() {	# HEX_PREFIX RANDOM_BYTES
	local f
	f=$(mktemp "$WT_TMP/junk.XXXXXX")
	{ printf "$1"; head -c "$2" /dev/urandom; } >"$f"
	timeout 5 ip netns exec "$NS_C" bash -c 'cat "$1" >"/dev/udp/$2/$3"' _ "$f" "$U4_BC" "$PORT_B"
}
[[ $STATS == 1 ]] && before=$(wt_stats "$NS_B" "$IF_B" "$IMPL_B")
junk '\x01' 0                        # 1 byte
junk '\x01\x00\x00\x00' 20           # initiation, far too short
junk '\x01\x00\x00\x00' 200          # initiation, too long
junk '\x02\x00\x00\x00' 10           # response, too short
junk '\x03\x00\x00\x00' 8            # cookie reply, too short
junk '\x04\x00\x00\x00' 4            # data, shorter than a header
junk '\x04\x00\x00\x00' 60           # data to a random receiver index
junk '\x09\x00\x00\x00' 60           # unknown message type
junk '\x01\x01\x01\x01' 144          # initiation size, reserved bytes set
sleep 1
wt_pass "sent 9 malformed datagrams from C to B:$PORT_B"
if [[ $STATS == 1 ]]; then
	after=$(wt_stats "$NS_B" "$IF_B" "$IMPL_B")
	stats_check "$before" "$after" rx_malformed
fi
wt_assert "B's daemon still running" wt_alive "$PID_B"
wt_assert_ping "$NS_A" "$O4_B" 5
wt_assert_ping "$NS_B" "$O6_A" 5
wt_done
