#!/usr/bin/env bash
# test_bed — the NAT test bed itself, without weft: one router of each kind
# (eim, symmetric, nohairpin, udpblock) with a host behind it, and
# udp_probe.py's measurement of each against what lib.sh promises
# (mapping, filtering, hairpinning; UDP blocked but TCP passing).
. "$(dirname "$0")/lib.sh"
# Uses none of weft's binaries: once (with the normal build) is enough.
if [[ ${BUILD:-build} == build-san ]]; then
	echo "[bed] the test bed does not depend on the build: checked with the normal one"
	exit 0
fi
nat_init bed
nat_inet
nat_server_init
nat_server_start
nat_stun_start
n=1
for kind in eim symmetric nohairpin udpblock; do
	nat_router "$kind" "$kind" "$n"
	nat_host "h$n" "$kind" 11 $((42000 + n))
	nat_check_kind "h$n"
	n=$((n + 1))
done
# What a server sees: the symmetric router's mapping towards the server
# differs from the one the stun service saw.
ip netns exec "${OV_NS[h2]}" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.sendto(b"x", (sys.argv[2], int(sys.argv[3])))' 42002 "$NAT_SRV_ADDR" "$NAT_SRV_PORT" ||
	wt_fail "a datagram from h2 to the server"
wt_wait_for "the server's view of h2" 5 eval '[[ -n "$(nat_server_seen "${NAT_R_PUB[symmetric]}")" ]]'
seen=$(nat_server_seen "${NAT_R_PUB[symmetric]}" | paste -sd,)
m1=${NAT_PROBED[h2]#*m1=}
m1=${m1%% *}
wt_assert_ne "behind the symmetric NAT the server sees another port than the stun service (${m1})" \
	"${m1##*:}" "$seen"
wt_done
