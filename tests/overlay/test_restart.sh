#!/usr/bin/env bash
# test_restart — restarts: traffic between nodes continues while the server
# is down and after it returns (state intact: networks, nodes, keys; nodes
# resynchronise by themselves, new lookups work, removals are pushed
# again); weftd restarted keeps its identity and addresses and reconnects
# without the token; its peers reach it again.
. "$(dirname "$0")/lib.sh"
wt_init restart

ov_setup lab
ov_nodes a b c
wt_assert "a reaches b" ov_ping a "${V4[b]}"
before_nodes=$(ovs nodes list --json | tr ',' '\n' | grep -E '"(name|ipv4|ipv6)"' | sort)
before_keys=$(ovs keys list --json | tr ',' '\n' | grep -E '"id"' | sort)

# --- the server goes away: existing sessions keep working --------------
ip netns exec "${OV_NS[a]}" ping -n -i 0.2 -c 50 -W 1 "${V4[b]}" >"$WT_TMP/ping-during" 2>&1 &
ping_pid=$!
sleep 1
ov_server_stop
wt_pass "server stopped"
out=$(ovs status 2>&1)
ov_assert_has "admin commands say the server is not running" 'not running' "$out"
sleep 3
wt_assert "a still reaches b while the server is down" ov_ping a "${V4[b]}"
ov_server_start
wt_pass "server started again"
wait "$ping_pid"
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$WT_TMP/ping-during")
wt_assert_ge "pings a -> b across the server's restart (of 50)" "${got:-0}" 48

after_nodes=$(ovs nodes list --json | tr ',' '\n' | grep -E '"(name|ipv4|ipv6)"' | sort)
after_keys=$(ovs keys list --json | tr ',' '\n' | grep -E '"id"' | sort)
wt_assert_eq "nodes (names, addresses) intact after the restart" "$before_nodes" "$after_nodes"
wt_assert_eq "keys intact after the restart" "$before_keys" "$after_keys"

# Nodes resynchronise by themselves: the first request after the restart
# goes unanswered, a new handshake follows, they register again.
wt_wait_for "c reaches a (a fresh lookup after the restart)" 10 ov_ping c "${V4[a]}" ||
	wt_fail "c cannot reach a after the server's restart"
wt_pass "a fresh lookup works after the restart"
connected() { ovw "$1" status --json | grep -Eq '"connected": *true'; }
all_online() { [[ $(ovs nodes list --network lab | grep -cE ' yes ') == 3 ]]; }
wt_wait_for "the server sees all three nodes online again" 40 all_online ||
	wt_fail "not all nodes came back: $(ovs nodes list)"
for x in a b c; do
	wt_wait_for "$x reports the server connected" 40 connected $x ||
		wt_fail "$x did not reconnect: $(ovw $x status)"
done
wt_pass "every node reconnected to the restarted server"
out=$(ovw c ping -c 1 node-b 2>&1)
ov_assert_has "weft ping by name after the restart" 'pong from node-b' "$out"
# Interest was rebuilt: a removal is pushed to a, which knew b before.
ovs nodes delete node-b --network lab >/dev/null || wt_fail "nodes delete node-b"
wt_wait_for "a forgets node-b" 5 eval '! ov_peer_known a node-b' ||
	wt_fail "a still knows node-b 5 s after its deletion (interest lost in the restart?)"
wt_pass "removal pushed to a peer that knew the node before the restart"

# --- weftd restarts: same identity and addresses, no token needed -----
old_ip=$(ovw a ip)
old_key=$(ovw a status --json | sed -n 's/.*"public_key": *"\([^"]*\)".*/\1/p' | head -n 1)
ov_weftd_stop a
wt_pass "weftd on a stopped"
if ip -n "${OV_NS[a]}" link show "${OV_IF[a]}" >/dev/null 2>&1; then
	wt_fail "a's interface outlived its daemon"
fi
wt_pass "a's interface went with its daemon"
ov_weftd_start a
wt_wait_for "a reconnects after its restart" 20 connected a ||
	wt_fail "a did not reconnect: $(ovw a status)"
wt_assert_eq "same addresses after weftd restarts" "$old_ip" "$(ovw a ip)"
new_key=$(ovw a status --json | sed -n 's/.*"public_key": *"\([^"]*\)".*/\1/p' | head -n 1)
wt_assert_eq "same key after weftd restarts" "$old_key" "$new_key"
wt_assert "a reaches c after its restart" ov_ping a "${V4[c]}"
wt_assert "c (which knew a's old session) reaches a" ov_ping c "${V4[a]}"
n_nodes=$(ovs nodes list --network lab --json | grep -o '"name"' | wc -l)
wt_assert_eq "the restart made no new node" 2 "$n_nodes"

audit=$(ovs audit)
ov_assert_has "audit: reconnects are recorded" 'node\.(reconnect|register)' "$audit"
wt_done
