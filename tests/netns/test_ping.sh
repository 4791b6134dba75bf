#!/usr/bin/env bash
# Handshake (A initiates) and ping over the tunnel, IPv4 and IPv6 inner
# addresses, both directions, small, MTU-sized and fragmented packets.
set -u
. "$(dirname "$0")/lib.sh"
wt_init ping
wt_pair v4

wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "first ping A -> B not answered within 15s"
wt_wait_handshake "$NS_A" "$IF_A" "$B_PUB" 15 || wt_fail "no handshake within 15s"
hs_a=$(wt_handshake "$NS_A" "$IF_A" "$B_PUB")
hs_b=$(wt_handshake "$NS_B" "$IF_B" "$A_PUB")
wt_assert_gt "A: latest-handshake with B nonzero" "$hs_a" 0
wt_assert_gt "B: latest-handshake with A nonzero" "$hs_b" 0

wt_assert_ping "$NS_A" "$O4_B" 5
wt_assert_ping "$NS_A" "$O6_B" 5
wt_assert_ping "$NS_B" "$O4_A" 5
wt_assert_ping "$NS_B" "$O6_A" 5
# Largest unfragmented inner packets for MTU 1420 (IPv4 1420-28, IPv6
# 1420-48), a tiny one, and ones the inner IP layer must fragment.
wt_assert_ping "$NS_A" "$O4_B" 3 1392
wt_assert_ping "$NS_A" "$O6_B" 3 1372
wt_assert_ping "$NS_A" "$O4_B" 3 0
wt_assert_ping "$NS_B" "$O4_A" 3 4000
wt_assert_ping "$NS_B" "$O6_A" 3 4000

ep=$(wt_endpoint "$NS_B" "$IF_B" "$A_PUB")
wt_assert_eq "B learned A's endpoint" "$U4_A:$PORT_A" "$ep"
wt_done
