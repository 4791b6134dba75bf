#!/usr/bin/env bash
# test_isolation — two networks on one server, one of them with the very
# same address prefix as the other: nodes of one network can neither
# learn of nor reach nodes of the other, by name or by address (ICMP
# unreachable, "no such node"), even when their addresses coincide; each
# network still works inside.
. "$(dirname "$0")/lib.sh"
wt_init isolation

ov_lan
ov_server_init
ov_server_start
ovs networks create red --prefix4 100.70.0.0/16 >/dev/null || wt_fail "networks create red"
out=$(ovs networks create blue --prefix4 100.70.0.0/16 2>&1) ||
	wt_fail "a second network with the same prefix was refused: $out"
wt_pass "a second network may reuse the first one's prefix"
ov_token RED --network red --reusable
ov_token BLUE --network blue --reusable
ov_node r1 11
ov_node r2 12
ov_node b1 13
ov_node b2 14
for x in r1 r2; do ovw $x up --token "$RED" --hostname "$x" >/dev/null || wt_fail "$x joins red"; done
for x in b1 b2; do ovw $x up --token "$BLUE" --hostname "$x" >/dev/null || wt_fail "$x joins blue"; done
declare -A V6
for x in r1 r2 b1 b2; do V4[$x]=$(ov_ip $x -4); V6[$x]=$(ov_ip $x -6); done
wt_assert_eq "overlapping networks hand out the same first address" "${V4[r1]}" "${V4[b1]}"

wt_assert "red: r1 reaches r2" ov_ping r1 "${V4[r2]}"
wt_assert "blue: b1 reaches b2" ov_ping b1 "${V4[b2]}"
wt_assert "blue: b2 reaches b1 over IPv6" ov_ping b2 "${V6[b1]}"

# The same address means the node of one's own network, never the other's.
out=$(ovw r2 ping -c 1 "${V4[b1]}" 2>&1)
ov_assert_has "r2 pinging b1's (= r1's) address reaches r1, in red" 'pong from r1\.red\.weft' "$out"
# Names of the other network do not resolve.
out=$(ovw r1 ping -c 1 b2 2>&1)
ov_assert_has "r1 cannot resolve blue's b2 by name" 'no such node' "$out"
out=$(ovw r1 ping -c 1 b2.blue.weft 2>&1)
ov_assert_has "... nor by its full name" 'no such node' "$out"
# Blue's IPv6 prefix differs: red's node gets unreachable for it.
out=$(ip netns exec "${OV_NS[r1]}" ping -n -c 1 -W 2 "${V6[b2]}" 2>&1)
if grep -q ' 0% packet loss' <<<"$out"; then wt_fail "r1 reached blue's b2 over IPv6"; fi
wt_pass "r1 cannot reach blue's b2 over IPv6"
# An unassigned address in the shared prefix: unreachable for both.
out=$(ip netns exec "${OV_NS[b1]}" ping -n -c 1 -W 2 100.70.9.9 2>&1)
ov_assert_has "unassigned address in blue: host unreachable" 'Unreachable' "$out"
# Nobody learned of a node of the other network.
for x in r1 r2; do
	st=$(ovw $x status --json)
	if grep -q 'blue\.weft' <<<"$st"; then wt_fail "$x learned of a blue node: $st"; fi
done
for x in b1 b2; do
	st=$(ovw $x status --json)
	if grep -q 'red\.weft' <<<"$st"; then wt_fail "$x learned of a red node: $st"; fi
done
wt_pass "no node knows of any node of the other network"
red=$(ovs nodes list --network red)
if grep -qE '^b[12] ' <<<"$red"; then wt_fail "blue nodes listed in red: $red"; fi
wt_pass "nodes list --network red shows only red's nodes"
wt_done
