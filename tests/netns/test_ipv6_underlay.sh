#!/usr/bin/env bash
# The tunnel over an IPv6 underlay: A's peer endpoint is [2001:db8:1::2]:port.
# Handshake, IPv4 and IPv6 inner pings both ways, B learns A's IPv6
# endpoint, and a short iperf3 run.
set -u
. "$(dirname "$0")/lib.sh"
wt_init ipv6_underlay
wt_pair v6

wt_wait_ping "$NS_A" "$O6_B" 15 || wt_fail "ping A -> B not answered within 15s"
wt_assert_gt "A: latest-handshake with B nonzero" "$(wt_handshake "$NS_A" "$IF_A" "$B_PUB")" 0
wt_assert_ping "$NS_A" "$O4_B" 5
wt_assert_ping "$NS_A" "$O6_B" 5
wt_assert_ping "$NS_B" "$O4_A" 5
wt_assert_ping "$NS_B" "$O6_A" 5
wt_assert_ping "$NS_A" "$O6_B" 3 1372
wt_assert_eq "A's endpoint for B" "[$U6_B]:$PORT_B" "$(wt_endpoint "$NS_A" "$IF_A" "$B_PUB")"
wt_assert_eq "B learned A's IPv6 endpoint" "[$U6_A]:$PORT_A" "$(wt_endpoint "$NS_B" "$IF_B" "$A_PUB")"
wt_iperf res "$NS_B" "$O4_B" "$NS_A" 2 || wt_fail "iperf3 over the IPv6 underlay did not finish"
read -r bytes bps <<<"$res"
wt_assert_gt "iperf3 TCP A->B 2s over the IPv6 underlay, bytes received" "$bytes" 0
wt_done
