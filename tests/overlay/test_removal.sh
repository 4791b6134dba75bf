#!/usr/bin/env bash
# test_removal — nodes leaving: an administrator deletes a node (its peers
# lose it within 5 s, it cannot come back with its key, even with a valid
# token), expires one (same), a node logs out (removed from the server and
# its peers; it may join again as a new node), `weft down` / `weft up`
# keep the identity; the audit log records each.
. "$(dirname "$0")/lib.sh"
wt_init removal

ov_setup lab
ov_nodes a b c d
# Everyone talks to c and d, so they know them.
for x in a b; do
	for y in c d; do
		wt_assert "ping $x -> $y" ov_ping $x "${V4[$y]}"
	done
done
wt_assert "a knows node-c" ov_peer_known a node-c

# --- delete: pushed to the peers within 5 s --------------------------
t0=$(date +%s%N)
out=$(ovs nodes delete node-c --network lab 2>&1) || wt_fail "nodes delete: $out"
gone() { ! ov_peer_known a node-c && ! ov_peer_known b node-c; }
wt_wait_for "a and b forget node-c" 5 gone || wt_fail "peers still know node-c 5 s after its deletion"
ms=$((($(date +%s%N) - t0) / 1000000))
wt_pass "a and b dropped node-c ${ms} ms after the delete (limit 5000)"
out=$(ip netns exec "${OV_NS[a]}" ping -n -c 1 -W 2 "${V4[c]}" 2>&1)
ov_assert_has "a's packets to the deleted node get host unreachable" '[Uu]nreachable' "$out"
# c finds out and stops: it cannot reconnect with its key.
removed() { ovw c status --json | grep -Eq '"state": *"removed"'; }
wt_wait_for "node-c sees it was removed" 40 removed || wt_fail "c still thinks it is connected: $(ovw c status)"
wt_pass "node-c's agent reports it was removed"
ov_assert_has "c's status says why" '"error": *".*(removed|not registered)' "$(ovw c status --json)"
out=$(ovw c up --token "$REUSE" 2>&1)
ov_assert_has "c cannot rejoin with its key, even holding a valid token" 'removed|logout' "$out"
out=$(ovs nodes list --network lab)
if grep -q node-c <<<"$out"; then wt_fail "node-c is back in the list: $out"; fi
wt_pass "node-c is not in the node list"
out=$(ip netns exec "${OV_NS[c]}" ping -n -c 1 -W 2 "${V4[a]}" 2>&1)
if grep -q ' 0% packet loss' <<<"$out"; then wt_fail "the removed node still reaches a"; fi
wt_pass "the removed node no longer reaches a"

# --- expire: the same for an expired node ----------------------------
out=$(ovs nodes expire node-d --network lab 2>&1) || wt_fail "nodes expire: $out"
gone_d() { ! ov_peer_known a node-d && ! ov_peer_known b node-d; }
wt_wait_for "a and b forget node-d" 5 gone_d || wt_fail "peers still know node-d 5 s after it expired"
wt_pass "an expired node is dropped by its peers within 5 s"
out=$(ip netns exec "${OV_NS[d]}" ping -n -c 1 -W 2 "${V4[a]}" 2>&1)
if grep -q ' 0% packet loss' <<<"$out"; then wt_fail "the expired node still reaches a"; fi
wt_pass "the expired node no longer reaches a"

# --- logout: removed, forgotten, may come back as a new node ----------
wt_assert "b reaches a" ov_ping b "${V4[a]}"
out=$(ovw b logout 2>&1)
ov_assert_has "weft logout" 'logged out' "$out"
wt_wait_for "a forgets node-b" 5 eval '! ov_peer_known a node-b' || wt_fail "a still knows node-b after its logout"
wt_pass "a forgot node-b within 5 s of its logout"
wt_assert_eq "b forgot its identity (no node.conf)" no "$([[ -e ${OV_STATE[b]}/node.conf ]] && echo yes || echo no)"
ov_assert_has "b's status after logout" '"state": *"needs-login"' "$(ovw b status --json)"
out=$(ovw b ip 2>&1)
ov_assert_has "weft ip without identity explains" 'not joined' "$out"
out=$(ovw b up --token "$REUSE" --hostname node-b 2>&1)
ov_assert_has "b joins again (a new node, new key)" '^up: node-b' "$out"
V4[b]=$(ov_ip b)
wt_assert "a reaches the rejoined b" ov_ping a "${V4[b]}"

# --- down / up keep the identity ---------------------------------------
old=$(ovw a ip)
out=$(ovw a down 2>&1)
ov_assert_has "weft down" '^down' "$out"
ov_assert_has "a is down" '"state": *"down"' "$(ovw a status --json)"
if ov_ping b "${V4[a]}"; then wt_fail "a answers while down"; fi
wt_pass "a does not answer while down"
out=$(ovw a up 2>&1)
ov_assert_has "weft up without a token brings a back" '^up: node-a' "$out"
wt_assert_eq "same addresses after down/up" "$old" "$(ovw a ip)"
# b still holds a session a forgot: the server's push makes b start over
# (within §6.1's 5 s between handshakes).
wt_wait_for "b reaches a again" 8 ov_ping b "${V4[a]}" || wt_fail "b cannot reach a after a's down/up"
wt_pass "b reaches a again"

audit=$(ovs audit)
ov_assert_has "audit: the delete" 'node\.delete +node-c +ok' "$audit"
ov_assert_has "audit: the expiry" 'node\.expire +node-d +ok' "$audit"
ov_assert_has "audit: the logout" 'node\.logout +node-b +ok' "$audit"
ov_assert_has "audit: the refused return of node-c" 'node\.(join|reconnect) +node-c +refused' "$audit"
wt_done
