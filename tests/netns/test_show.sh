#!/usr/bin/env bash
# `wg show IFNAME dump`, `wg showconf IFNAME` and `wg set` edits, parsed and
# checked field by field: keys, listen port, fwmark, preshared key,
# endpoint, allowed IPs, handshake time, transfer counters, keepalive.
set -u
. "$(dirname "$0")/lib.sh"
wt_init show
wt_pair_net
wt_pair_start
PSK=$(wg genpsk) || wt_fail "wg genpsk"
printf '%s\n' "$PSK" >"$WT_TMP/psk"
AIPS_A="$O4_B/32,$O6_B/128,100.64.9.0/24,fd00:99::/48"
wt_wg "$NS_A" set "$IF_A" private-key "$A_KEY" listen-port "$PORT_A" fwmark 0x1234 \
	peer "$B_PUB" preshared-key "$WT_TMP/psk" endpoint "$U4_B:$PORT_B" \
	allowed-ips "$AIPS_A" persistent-keepalive 25 || wt_fail "wg set $IF_A"
wt_wg "$NS_B" set "$IF_B" private-key "$B_KEY" listen-port "$PORT_B" \
	peer "$A_PUB" preshared-key "$WT_TMP/psk" allowed-ips "$O4_A/32,$O6_A/128" ||
	wt_fail "wg set $IF_B"
wt_overlay "$NS_A" "$IF_A" "$O4_A" "$O6_A"
wt_overlay "$NS_B" "$IF_B" "$O4_B" "$O6_B"
wt_pass "configured (preshared key, fwmark, persistent keepalive on A)"

wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "ping A -> B not answered within 15s"
wt_assert_ping "$NS_A" "$O4_B" 5
wt_assert_ping "$NS_B" "$O6_A" 5

sorted() { tr ',' '\n' <<<"$1" | sed 's/^ *//' | sort | paste -sd, -; }

# --- wg show dump on A
dump=$(wt_wg "$NS_A" show "$IF_A" dump) || wt_fail "wg show $IF_A dump"
printf '%s\n' "$dump" | sed 's/^/    | /; s/\t/  /g' | sed -E 's/[A-Za-z0-9+\/]{43}=/<key>/g'
wt_assert_eq "A dump: line count (interface + 1 peer)" 2 "$(wc -l <<<"$dump")"
IFS=$'\t' read -r d_priv d_pub d_port d_fwmark <<<"$(sed -n 1p <<<"$dump")"
wt_assert_eq "A dump: private key matches" "$A_PRIV" "$d_priv"
wt_assert_eq "A dump: public key matches" "$A_PUB" "$d_pub"
wt_assert_eq "A dump: listen port" "$PORT_A" "$d_port"
wt_assert_eq "A dump: fwmark" 0x1234 "$d_fwmark"
IFS=$'\t' read -r p_pub p_psk p_ep p_aips p_hs p_rx p_tx p_ka <<<"$(sed -n 2p <<<"$dump")"
wt_assert_eq "A dump: peer public key" "$B_PUB" "$p_pub"
wt_assert_eq "A dump: peer preshared key" "$PSK" "$p_psk"
wt_assert_eq "A dump: peer endpoint" "$U4_B:$PORT_B" "$p_ep"
wt_assert_eq "A dump: peer allowed ips" "$(sorted "$AIPS_A")" "$(sorted "$p_aips")"
wt_assert_gt "A dump: latest handshake nonzero" "$p_hs" 0
now=$(date +%s)
wt_assert_gt "A dump: latest handshake not in the future" $((now + 5)) "$p_hs"
wt_assert_gt "A dump: transfer rx nonzero" "$p_rx" 0
wt_assert_gt "A dump: transfer tx nonzero" "$p_tx" 0
wt_assert_eq "A dump: persistent keepalive" 25 "$p_ka"

# --- wg show dump on B (learned endpoint, keepalive off)
dump=$(wt_wg "$NS_B" show "$IF_B" dump) || wt_fail "wg show $IF_B dump"
IFS=$'\t' read -r d_priv d_pub d_port d_fwmark <<<"$(sed -n 1p <<<"$dump")"
wt_assert_eq "B dump: private key matches" "$B_PRIV" "$d_priv"
wt_assert_eq "B dump: listen port" "$PORT_B" "$d_port"
wt_assert_eq "B dump: fwmark" off "$d_fwmark"
IFS=$'\t' read -r p_pub p_psk p_ep p_aips p_hs p_rx p_tx p_ka <<<"$(sed -n 2p <<<"$dump")"
wt_assert_eq "B dump: peer public key" "$A_PUB" "$p_pub"
wt_assert_eq "B dump: peer preshared key" "$PSK" "$p_psk"
wt_assert_eq "B dump: learned endpoint" "$U4_A:$PORT_A" "$p_ep"
wt_assert_eq "B dump: allowed ips" "$(sorted "$O4_A/32,$O6_A/128")" "$(sorted "$p_aips")"
wt_assert_gt "B dump: latest handshake nonzero" "$p_hs" 0
wt_assert_gt "B dump: transfer rx nonzero" "$p_rx" 0
wt_assert_gt "B dump: transfer tx nonzero" "$p_tx" 0
wt_assert_eq "B dump: persistent keepalive" off "$p_ka"

# --- wg showconf on A
conf=$(wt_wg "$NS_A" showconf "$IF_A") || wt_fail "wg showconf $IF_A"
# confval SECTION KEY: value of KEY in the first SECTION.
confval() {
	awk -v sec="[$1]" -v key="$2" '
		/^\[/ { cur = $0; next }
		cur == sec { i = index($0, "="); if (i) { k = substr($0, 1, i - 1); gsub(/ /, "", k)
			if (k == key) { v = substr($0, i + 1); sub(/^ */, "", v); print v; exit } } }' <<<"$conf"
}
wt_assert_eq "A showconf: [Interface] PrivateKey" "$A_PRIV" "$(confval Interface PrivateKey)"
wt_assert_eq "A showconf: [Interface] ListenPort" "$PORT_A" "$(confval Interface ListenPort)"
wt_assert_eq "A showconf: [Interface] FwMark" 0x1234 "$(confval Interface FwMark)"
wt_assert_eq "A showconf: [Peer] PublicKey" "$B_PUB" "$(confval Peer PublicKey)"
wt_assert_eq "A showconf: [Peer] PresharedKey" "$PSK" "$(confval Peer PresharedKey)"
wt_assert_eq "A showconf: [Peer] AllowedIPs" "$(sorted "$AIPS_A")" "$(sorted "$(confval Peer AllowedIPs)")"
wt_assert_eq "A showconf: [Peer] Endpoint" "$U4_B:$PORT_B" "$(confval Peer Endpoint)"
wt_assert_eq "A showconf: [Peer] PersistentKeepalive" 25 "$(confval Peer PersistentKeepalive)"

# --- edits through wg set, read back through dump
wt_wg "$NS_A" set "$IF_A" peer "$B_PUB" allowed-ips "$O4_B/32,$O6_B/128" persistent-keepalive 0 ||
	wt_fail "wg set (replace allowed-ips, keepalive off)"
IFS=$'\t' read -r p_pub p_psk p_ep p_aips p_hs p_rx p_tx p_ka <<<"$(wt_wg "$NS_A" show "$IF_A" dump | sed -n 2p)"
wt_assert_eq "after set: allowed ips replaced" "$(sorted "$O4_B/32,$O6_B/128")" "$(sorted "$p_aips")"
wt_assert_eq "after set: persistent keepalive off" off "$p_ka"
wt_wg "$NS_A" set "$IF_A" listen-port 51830 fwmark 0 || wt_fail "wg set listen-port 51830 fwmark 0"
IFS=$'\t' read -r d_priv d_pub d_port d_fwmark <<<"$(wt_wg "$NS_A" show "$IF_A" dump | sed -n 1p)"
wt_assert_eq "after set: listen port" 51830 "$d_port"
wt_assert_eq "after set: fwmark off" off "$d_fwmark"
wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "after port change: ping A -> B not answered within 15s"
ep_is() { [[ "$(wt_endpoint "$NS_B" "$IF_B" "$A_PUB")" == "$U4_A:51830" ]]; }
wt_wait_for "B sees A's new port" 10 ep_is
wt_assert_eq "after port change: B's endpoint for A" "$U4_A:51830" "$(wt_endpoint "$NS_B" "$IF_B" "$A_PUB")"
wt_assert_ping "$NS_B" "$O4_A" 3

# --- peer removal
wt_wg "$NS_B" set "$IF_B" peer "$A_PUB" remove || wt_fail "wg set peer remove"
wt_assert_eq "after remove: B's dump has no peer" 1 "$(wt_wg "$NS_B" show "$IF_B" dump | wc -l)"
got=$(timeout 10 ip netns exec "$NS_A" ping -n -q -c 3 -i 0.3 -W 1 -w 3 "$O4_B" | awk '/packets transmitted/ { print $4 }')
wt_assert_eq "after remove: A's pings to B answered" 0 "${got:-0}"
wt_done
