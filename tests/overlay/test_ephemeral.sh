#!/usr/bin/env bash
# test_ephemeral — a node joined with an ephemeral key stays while its
# weftd runs (the 25 s keepalive to the server keeps it present, even
# idle), and is removed — from the server and from every peer that knew
# it — once it has been gone longer than --ephemeral-timeout.
. "$(dirname "$0")/lib.sh"
wt_init ephemeral

ov_lan
ov_server_init
ov_server_start --ephemeral-timeout 30s
ovs networks create lab >/dev/null || wt_fail "networks create"
ov_token REUSE --network lab --reusable
ov_token EPH --network lab --ephemeral
ov_nodes a
ov_node e 20
out=$(ovw e up --token "$EPH" --hostname temp 2>&1)
ov_assert_has "a node joins with an ephemeral key" '^up: temp\.lab\.weft' "$out"
V4[e]=$(ov_ip e)
wt_assert "a reaches the ephemeral node" ov_ping a "${V4[e]}"
wt_log "idle for 40 s (longer than the timeout) while its weftd runs"
sleep 40
wt_assert "the idle but running ephemeral node is still listed" eval 'ovs nodes list --network lab | grep -q "^temp "'
wt_assert "and still reachable" ov_ping a "${V4[e]}"

ov_weftd_stop e
wt_pass "the ephemeral node's weftd stopped"
t0=$SECONDS
gone() { ! ovs nodes list --network lab | grep -q '^temp '; }
wt_wait_for "the server reaps the ephemeral node" 75 gone || wt_fail "not reaped 75 s after it went away"
wt_pass "reaped $((SECONDS - t0)) s after it went away (timeout 30 s, plus up to 25 s since its last keepalive)"
wt_wait_for "a forgets it" 5 eval '! ov_peer_known a temp' || wt_fail "a still knows the reaped node"
wt_pass "a forgot the reaped node"
ov_assert_has "audit: the reap" 'node\.reap +temp +ok' "$(ovs audit)"
wt_done
