#!/usr/bin/env bash
# test_join — one server, three nodes on a LAN, through the real binaries:
# joins with a reusable and a one-off key, `weft ip`, ping between every
# pair by address (IPv4 and IPv6, no configuration anywhere), `weft ping`
# by name, iperf3 between two nodes, ICMP unreachable for an address no
# node has, refused tokens (used one-off, expired, revoked, unknown,
# malformed) with clear messages, and the audit log of all of it.
. "$(dirname "$0")/lib.sh"
wt_init join

ov_setup lab
ov_token ONCE --network lab

ov_node a 11
ov_node b 12
ov_node c 13
out=$(ovw a up --token "$REUSE" --hostname robot1 2>&1)
ov_assert_has "a joins with a reusable key" '^up: robot1\.lab\.weft 100\.64\.' "$out"
out=$(ovw b up --token "$REUSE" --hostname robot2 2>&1)
ov_assert_has "b joins with the same reusable key" '^up: robot2\.lab\.weft' "$out"
out=$(ovw c up --token "$ONCE" --hostname robot1 2>&1)
ov_assert_has "c joins with a one-off key; its name clash is suffixed" \
	'^up: robot1-[0-9a-z]+\.lab\.weft' "$out"

# A second join with the used one-off key is refused, clearly.
ov_node d 14
out=$(ovw d up --token "$ONCE" --hostname robot4 2>&1)
ov_assert_has "a used one-off key is refused with a reason" \
	'(used|expired).*' "$out"
st=$(ovw d status --json)
ov_assert_has "the refused node stays without identity" '"state": *"needs-login"' "$st"

declare -A V6
for n in a b c; do
	V4[$n]=$(ov_ip $n -4) || wt_fail "weft ip -4 on $n"
	V6[$n]=$(ov_ip $n -6) || wt_fail "weft ip -6 on $n"
done
wt_assert_eq "addresses are unique" 3 "$(printf '%s\n' "${V4[@]}" | sort -u | wc -l)"
ov_assert_has "weft ip -6 prints a ULA address" '^fd[0-9a-f:]+$' "${V6[a]}"
both=$(ovw a ip)
wt_assert_eq "weft ip prints both, IPv4 first" "${V4[a]}"$'\n'"${V6[a]}" "$both"
ov_assert_has "the interface carries the address and the network's prefix" \
	"inet ${V4[a]}/16" "$(ip -n "${OV_NS[a]}" addr show "${OV_IF[a]}")"

# Every pair, both directions, both families: no manual configuration.
for x in a b c; do
	for y in a b c; do
		[[ $x == "$y" ]] && continue
		wt_assert "ping $x -> $y (IPv4) on first contact" ov_ping "$x" "${V4[$y]}"
		wt_assert "ping $x -> $y (IPv6)" ov_ping "$x" "${V6[$y]}"
	done
done

out=$(ovw a ping -c 2 -i 0.2 robot2 2>&1)
# (the path: either of robot2's LAN addresses, whichever answered faster)
ov_assert_has "weft ping by short name" 'pong from robot2\.lab\.weft \(100\.64\.[0-9.]+\) via direct (192\.0\.2\.12|\[2001:db8:1::12\]):[0-9]+ in [0-9.]+ ms' "$out"
name_c=$(ovw c status --json | sed -n 's/.*"name": *"\([^"]*\)".*/\1/p' | head -n 1)
out=$(ovw b ping -c 1 "$name_c" 2>&1)
ov_assert_has "weft ping by full name" "pong from ${name_c//./\\.}" "$out"
out=$(ovw b ping -c 1 "${V4[a]}" 2>&1)
ov_assert_has "weft ping by address" 'pong from robot1\.lab\.weft' "$out"
out=$(ovw a ping -c 1 nosuchnode 2>&1)
ov_assert_has "weft ping of an unknown name fails clearly" 'no such node' "$out"

# Status shows the peers with handshake, bytes and path.
st=$(ovw a status --json)
ov_assert_has "status --json lists peer robot2 with its endpoint" \
	'"name": *"robot2\.lab\.weft"' "$st"
ov_assert_has "status --json shows the path" '"path": *"direct"' "$st"
ov_assert_has "... proven by a probe" '"probed": *true' "$st"
ov_assert_has "... on a LAN address" '"path_endpoint": *"(192\.0\.2\.1[23]|\[2001:db8:1::1[23]\]):[0-9]+"' "$st"
ov_assert_has "... with its round trip" '"path_rtt_ms": *[0-9.]+' "$st"
ov_assert_has "... and probes were answered" '"pongs_received": *[1-9]' "$st"
st=$(ovw a status)
ov_assert_has "status (text) has a peer table" 'PEER +IPV4 +IPV6 +ENDPOINT' "$st"

# An overlay address no node has: ICMP unreachable, not silence.
out=$(ip netns exec "${OV_NS[a]}" ping -n -c 1 -W 3 100.64.200.200 2>&1)
ov_assert_has "ping to an unassigned overlay address gets host unreachable" \
	'Destination Host Unreachable|Unreachable' "$out"
out=$(ip netns exec "${OV_NS[a]}" ping -n -c 1 -W 3 "${V6[a]%::*}::dead" 2>&1)
ov_assert_has "... and for IPv6, address unreachable" '[Uu]nreachable' "$out"

# iperf3 between two nodes through the overlay.
wt_iperf res "${OV_NS[b]}" "${V4[b]}" "${OV_NS[a]}" 3 || wt_fail "iperf3 a -> b"
read -r bytes bps <<<"$res"
wt_assert_gt "iperf3 a -> b moved data" "$bytes" 1000000
wt_log "iperf3 a -> b: $(awk -v b="$bps" 'BEGIN { printf "%.0f Mbit/s", b / 1e6 }')"

# Refused tokens.
key_ids() { ovs keys list --json | tr ',' '\n' | sed -n 's/.*"id": *"\([0-9a-f]*\)".*/\1/p' | sort; }
ov_token EXP --network lab --expires 1s
ids_before=$(key_ids)
ov_token REV --network lab --reusable
rev_id=$(comm -13 <(echo "$ids_before") <(key_ids))
[[ "$rev_id" =~ ^[0-9a-f]{16}$ ]] || wt_fail "cannot find the new key's id: '$rev_id'"
ovs keys revoke "$rev_id" >/dev/null || wt_fail "keys revoke $rev_id"
sleep 1.5
out=$(ovw d up --token "$EXP" 2>&1)
ov_assert_has "an expired key is refused, saying so" 'expired' "$out"
out=$(ovw d up --token "$REV" 2>&1)
ov_assert_has "a revoked key is refused, saying so" 'revoked' "$out"
fake=$(sed 's/^\(weft1:.\{10\}\)./\1A/' <<<"$REUSE")
[[ "$fake" == "$REUSE" ]] && fake=$(sed 's/^\(weft1:.\{10\}\)./\1B/' <<<"$REUSE")
out=$(ovw d up --token "weft1:garbage" 2>&1)
ov_assert_has "a malformed token is refused before anything is sent" 'invalid token' "$out"
nowhere="${REUSE%:192.0.2.1:7000}:192.0.2.99:7000"
[[ "$nowhere" != "$REUSE" ]] || wt_fail "unexpected token form: $REUSE"
out=$(ovw d up --token "$nowhere" 2>&1)
ov_assert_has "an unreachable server: a clear error after the wait" 'no answer from the server at 192\.0\.2\.99:7000' "$out"
wt_assert_eq "the refused node has no node.conf" no "$([[ -e ${OV_STATE[d]}/node.conf ]] && echo yes || echo no)"
out=$(ovw d up 2>&1)
ov_assert_has "up without a token before any join explains what to do" 'weft up --token' "$out"
key_mode=$(stat -c %a "${OV_STATE[a]}/node.key")
wt_assert_eq "node.key is private" 600 "$key_mode"

# The server's view and its audit log.
nodes=$(ovs nodes list --network lab)
ov_assert_has "nodes list shows the nodes online" 'robot2 +lab +100\.64\.[0-9.]+ .* yes' "$nodes"
audit=$(ovs audit)
for what in network.create key.create key.revoke node.join; do
	ov_assert_has "audit lists $what" "$what" "$audit"
done
ov_assert_has "audit lists refused joins" 'node.join.*refused' "$audit"
wt_done
