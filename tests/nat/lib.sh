# shellcheck shell=bash
#
# tests/nat/lib.sh — a NAT test bed for weft's reachability matrix, on top
# of tests/overlay/lib.sh (server, weftd and weft helpers) and through it
# tests/netns/lib.sh (namespaces, traps: everything made here is killed
# and deleted on every exit).
#
# Topology (every address a documentation or private one, every host a
# namespace made by this run):
#
#   "internet": namespace inet with bridge br0, 203.0.113.0/24
#     server   203.0.113.1    weft-server, listening 0.0.0.0:7000, its
#                             tokens name 203.0.113.1:7000
#     stun     203.0.113.2/.3 udp_probe.py: tells a host its mapping
#     routers  203.0.113.(10+N) on eth0; no default route (a private
#                             destination is unreachable, as on the
#                             internet)
#   router N's LAN: bridge br0 in the router, 10.N.0.1/24; its hosts
#     10.N.0.K with a default route via 10.N.0.1
#
# Router kinds (nftables in the router namespace; every kind forwards with
# a stateful firewall: replies, the LAN's own traffic and port forwards
# pass, nothing else comes in):
#   eim        endpoint-independent mapping AND filtering ("full cone"),
#              with hairpinning (RFC 4787 REQ-1, REQ-8 EIF, REQ-9):
#              masquerade (keeps the inside port while it is free, the
#              same mapping for every destination), plus for each inside
#              host's fixed port P (nat_forward) a prerouting
#              "ip daddr PUBLIC udp dport P dnat to HOST:P", so anyone may
#              send to PUBLIC:P once the host has (or has not) sent.  The
#              dnat matches on the public address, not the interface, so
#              it also applies from the LAN (hairpin); the hairpinned
#              packet is snat'ed to PUBLIC, i.e. it arrives from the
#              sender's own external mapping, as REQ-9 asks.
#   symmetric  endpoint-dependent mapping with random ports:
#              "masquerade fully-random" (a new random port for every new
#              destination), conntrack filtering (address-and-port
#              dependent), no hairpin.
#   nohairpin  plain Linux masquerade: port-preserving endpoint-independent
#              mapping, address-and-port-dependent filtering (conntrack),
#              and no hairpinning (a packet from the LAN to the public
#              address is the router's own; nothing listens there).
#   udpblock   like nohairpin, plus the forward chain drops every UDP
#              packet from the LAN to the outside (TCP passes).
# nat_check_kind measures these properties with udp_probe.py.
#
#   nat_init NAME                 wt_init + tools
#   nat_inet                      the internet bridge
#   nat_server_init / nat_server_start
#   nat_server_seen ADDR          UDP source ports the server saw from ADDR
#   nat_stun_start                the mapping echo service
#   nat_router NAME KIND N        a router of KIND with LAN 10.N.0.0/24
#   nat_forward ROUTER PORT ADDR  (eim) PUBLIC:PORT -> ADDR:PORT
#   nat_host NAME ROUTER K PORT   a node namespace 10.N.0.K behind ROUTER,
#                                 its weftd to use UDP port PORT
#   nat_weftd NAME [args]         start weftd there (--port PORT -v)
#   nat_node NAME ROUTER K PORT   both
#   nat_probe NAME                udp_probe.py's line for NAME's NAT
#   nat_check_kind NAME           asserts NAME's router behaves as its kind
#   nat_peer NAME FIELD           FIELD of NAME's (only) peer in status
#   nat_rtt NS ADDR COUNT         "AVG_MS RECEIVED" of COUNT pings
#   nat_pcap NAME                 tcpdump NAME's UDP (automatic with NAT_PCAP=1)

NAT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$NAT_HERE/../overlay/lib.sh"

# WEFT_BIN=DIR: take weft-server, weftd and weft from DIR instead.
if [[ -n "${WEFT_BIN:-}" ]]; then
	OV_BIN=$WEFT_BIN
	OV_SERVER=$OV_BIN/weft-server OV_WEFTD=$OV_BIN/weftd OV_WEFT=$OV_BIN/weft
fi

NAT_SRV_ADDR=203.0.113.1
NAT_SRV_PORT=7000
NAT_STUN1=203.0.113.2
NAT_STUN2=203.0.113.3
NAT_PROBE=$NAT_HERE/udp_probe.py
declare -A NAT_R_NS NAT_R_KIND NAT_R_PUB NAT_R_N	# routers
declare -A NAT_ROUTER NAT_PORT			# nodes: router name, UDP port
NAT_NODES=0

nat_init() {
	wt_init "$1"
	local t
	for t in nft python3 jq iperf3; do
		command -v "$t" >/dev/null || { echo "[$WT_TEST] missing tool: $t" >&2; exit 1; }
	done
	[[ -x "$OV_WEFTD" && -x "$OV_SERVER" && -x "$OV_WEFT" ]] ||
		wt_fail "weft binaries missing in $OV_BIN (run make)"
}

# nat__nobrnf NS: bridged frames skip iptables/nftables (this kernel has
# br_netfilter built in, on by default): a LAN switch does not NAT.
nat__nobrnf() {
	ip netns exec "$1" sh -c 'for f in /proc/sys/net/bridge/bridge-nf-call-*; do
		[ -w "$f" ] && echo 0 >"$f"; done; true' 2>/dev/null
}

# nat__uplink NS BRNS BRPORT CIDR: a veth from bridge br0 of BRNS (port
# named BRPORT there) to eth0 in NS, with CIDR on eth0.
nat__uplink() {
	ip -n "$2" link add "$3" type veth peer name eth0 netns "$1" ||
		wt_fail "veth $3 for $1"
	ip -n "$2" link set "$3" master br0 up || wt_fail "$3 into br0 of $2"
	ip -n "$1" link set eth0 up
	wt_addr "$1" eth0 "$4"
}

# nat_inet: the "internet", a bridge; OV_LAN is it (overlay helpers agree).
nat_inet() {
	wt_ns OV_LAN inet
	ip -n "$OV_LAN" link add br0 type bridge || wt_fail "bridge"
	ip -n "$OV_LAN" link set br0 up
	nat__nobrnf "$OV_LAN"
}

# nat_server_init: the server's host at 203.0.113.1 and its state; like
# ov_server_init, with the public endpoint.  An nftables set in the
# server's namespace records every UDP source (address . port) that
# reaches port 7000: what the server sees of each node (nat_server_seen).
nat_server_init() {
	OV_SRV_STATE=$WT_TMP/server
	wt_ns OV_SRV server
	nat__uplink "$OV_SRV" "$OV_LAN" srv "$NAT_SRV_ADDR/24"
	ip netns exec "$OV_SRV" nft -f - <<-EOF || wt_fail "nft in the server namespace"
		table ip seen {
			set from {
				type ipv4_addr . inet_service
				flags dynamic
				size 4096
			}
			chain in {
				type filter hook input priority 0; policy accept;
				udp dport $NAT_SRV_PORT add @from { ip saddr . udp sport }
			}
		}
	EOF
	"$OV_SERVER" --state-dir "$OV_SRV_STATE" init --endpoint "$NAT_SRV_ADDR:$NAT_SRV_PORT" \
		--listen "0.0.0.0:$NAT_SRV_PORT" >"$WT_TMP/server-init.out" 2>&1 ||
		wt_fail "weft-server init: $(cat "$WT_TMP/server-init.out")"
}

nat_server_start() { ov_server_start "$@"; }

# nat_server_seen ADDR: the source ports (one a line, sorted) of UDP
# packets from ADDR that reached the server.
nat_server_seen() {
	ip netns exec "$OV_SRV" nft list set ip seen from 2>/dev/null |
		grep -oE "${1//./\\.} \. [0-9]+" | awk '{ print $3 }' | sort -n | uniq
}

# nat_stun_start: udp_probe.py serve on 203.0.113.2 and .3 (bounded life).
nat_stun_start() {
	local pid
	wt_ns NAT_STUN stun
	nat__uplink "$NAT_STUN" "$OV_LAN" stun "$NAT_STUN1/24"
	wt_addr "$NAT_STUN" eth0 "$NAT_STUN2/24"
	timeout 600 ip netns exec "$NAT_STUN" python3 "$NAT_PROBE" serve \
		"$NAT_STUN1" "$NAT_STUN2" 590 >>"$WT_TMP/stun.log" 2>&1 &
	pid=$!
	WT_PIDS+=("$pid")
	wt__res "pid $pid"
	wt_wait_for "stun answers" 10 nat__stun_up ||
		wt_fail "udp_probe.py serve did not start: $(tail -n 3 "$WT_TMP/stun.log")"
}
nat__stun_up() {
	ip netns exec "$NAT_STUN" ss -Hunl "sport = :3478" 2>/dev/null | grep -c . | grep -qx 2 &&
		ip netns exec "$NAT_STUN" ss -Htnl "sport = :3478" 2>/dev/null | grep -q .
}

# nat_router NAME KIND N: a router namespace (see the kinds above) with
# public address 203.0.113.(10+N) on eth0 and LAN 10.N.0.1/24 on br0.
nat_router() {
	local name=$1 kind=$2 n=$3 ns pub lan post fwd_extra=""
	pub=203.0.113.$((10 + n))
	lan=10.$n.0.0/24
	case $kind in
	eim)
		post="oifname \"eth0\" masquerade
			oifname \"br0\" ip saddr $lan ct status dnat snat to $pub" ;;
	symmetric)
		post="oifname \"eth0\" masquerade fully-random" ;;
	nohairpin)
		post="oifname \"eth0\" masquerade" ;;
	udpblock)
		post="oifname \"eth0\" masquerade"
		fwd_extra="iifname \"br0\" oifname \"eth0\" meta l4proto udp drop" ;;
	*) wt_fail "unknown router kind '$kind'" ;;
	esac
	wt_ns ns "r-$name"
	nat__uplink "$ns" "$OV_LAN" "r$n" "$pub/24"
	ip -n "$ns" link add br0 type bridge || wt_fail "LAN bridge of $name"
	ip -n "$ns" link set br0 up
	wt_addr "$ns" br0 "10.$n.0.1/24"
	nat__nobrnf "$ns"
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 \
		net.ipv4.conf.br0.send_redirects=0 >/dev/null || wt_fail "sysctl in $name"
	ip netns exec "$ns" nft -f - <<-EOF || wt_fail "nft ruleset of router $name ($kind)"
		table ip nat {
			chain prerouting {
				type nat hook prerouting priority dstnat; policy accept;
			}
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				$post
			}
		}
		table ip filter {
			chain forward {
				type filter hook forward priority 0; policy drop;
				$fwd_extra
				ct state established,related accept
				iifname "br0" accept
				ct status dnat accept
			}
		}
	EOF
	NAT_R_NS[$name]=$ns
	NAT_R_KIND[$name]=$kind
	NAT_R_PUB[$name]=$pub
	NAT_R_N[$name]=$n
}

# nat_forward ROUTER PORT ADDR: UDP to the router's public PORT goes to
# ADDR:PORT, from outside and (hairpin) from the LAN.
nat_forward() {
	ip netns exec "${NAT_R_NS[$1]}" nft add rule ip nat prerouting \
		ip daddr "${NAT_R_PUB[$1]}" udp dport "$2" dnat to "$3:$2" ||
		wt_fail "port forward $2 on $1"
}

# nat_host NAME ROUTER K PORT: namespace for node NAME at 10.N.0.K behind
# ROUTER (its port PORT forwarded when the router is eim); sets OV_NS,
# OV_ADDR, OV_SOCK, OV_STATE, OV_IF as ov_node does.
nat_host() {
	local name=$1 r=$2 k=$3 port=$4 ns n
	n=${NAT_R_N[$r]}
	[[ -n "$n" ]] || wt_fail "no router $r"
	wt_ns ns "$name"
	nat__uplink "$ns" "${NAT_R_NS[$r]}" "n$k" "10.$n.0.$k/24"
	ip -n "$ns" route add default via "10.$n.0.1" || wt_fail "default route of $name"
	NAT_NODES=$((NAT_NODES + 1))
	OV_NS[$name]=$ns
	OV_ADDR[$name]=10.$n.0.$k
	OV_SOCK[$name]=$WT_TMP/$name.sock
	OV_STATE[$name]=$WT_TMP/state-$name
	OV_IF[$name]=wn$NAT_NODES$$
	OV_IF[$name]=${OV_IF[$name]:0:15}
	NAT_ROUTER[$name]=$r
	NAT_PORT[$name]=$port
	[[ ${NAT_R_KIND[$r]} == eim ]] && nat_forward "$r" "$port" "10.$n.0.$k"
	return 0
}

# nat_weftd NAME [weftd args]: weftd on the node's port, verbose (its log
# is $WT_TMP/weftd-NAME.log, shown when the test fails).
nat_weftd() {
	local name=$1
	shift
	[[ -n "${NAT_PCAP:-}" ]] && nat_pcap "$name"
	ov_weftd_start "$name" --port "${NAT_PORT[$name]}" -v "$@"
}

nat_node() {	# NAME ROUTER K PORT [weftd args]
	nat_host "$1" "$2" "$3" "$4"
	nat_weftd "$1" "${@:5}"
}

# nat_probe NAME: udp_probe.py's classification of NAME's NAT, measured
# from NAME's port (run it before weftd takes that port).
nat_probe() {
	timeout 20 ip netns exec "${OV_NS[$1]}" python3 "$NAT_PROBE" probe \
		"$NAT_STUN1" "$NAT_STUN2" "${NAT_PORT[$1]}"
}

# nat_check_kind NAME: NAME's router measures as its kind promises.
nat_check_kind() {
	local name=$1 r=${NAT_ROUTER[$1]} out want
	out=$(nat_probe "$name") || wt_fail "udp_probe.py probe from $name: $out"
	case ${NAT_R_KIND[$r]} in
	eim) want='^udp=ok mapping=independent port=preserved filtering=independent hairpin=yes hairpin_from='"${NAT_R_PUB[$r]//./\\.}"':[0-9]+ ' ;;
	symmetric) want='^udp=ok mapping=dependent port=changed filtering=address\+port hairpin=no ' ;;
	nohairpin) want='^udp=ok mapping=independent port=preserved filtering=address\+port hairpin=no ' ;;
	udpblock) want='^udp=blocked tcp=ok ' ;;
	esac
	wt_assert_match "router $r behaves as '${NAT_R_KIND[$r]}' seen from $name" "$want" "$out"
	NAT_PROBED[$name]=$out
}
declare -A NAT_PROBED

# nat_peer NAME FIELD: FIELD of the first peer in NAME's status (empty
# when absent; booleans as true/false).
nat_peer() {
	ovw "$1" status --json 2>/dev/null | jq -r ".peers[0].$2 // empty | tostring"
}

# nat_path_is NAME ERE: NAME's peer path is probed and its proven
# endpoint matches ERE.
nat_path_is() {
	local st
	st=$(ovw "$1" status --json 2>/dev/null) || return 1
	jq -e --arg re "$2" '.peers[0] | .probed == true and
		((.path_endpoint // "") | test($re))' >/dev/null <<<"$st"
}

# nat_peer_summary NAME: one line on NAME's peer, for logs.
nat_peer_summary() {
	ovw "$1" status --json 2>/dev/null | jq -c '(.peers[] | {name, endpoint,
		path, probed, path_endpoint, path_rtt_ms}), {probes}'
}

# nat_pcap NAME: tcpdump of UDP on NAME's eth0 into $WT_TMP/NAME.pcap
# (packet-buffered; bounded life; keep it with WT_KEEP_TMP=1).
nat_pcap() {
	local pid
	timeout 600 ip netns exec "${OV_NS[$1]}" tcpdump -i any -U -n -s 200 \
		-w "$WT_TMP/$1.pcap" udp >>"$WT_TMP/tcpdump-$1.out" 2>&1 &
	pid=$!
	WT_PIDS+=("$pid")
	wt__res "pid $pid"
	wt_wait_for "tcpdump in $1" 5 grep -q listening "$WT_TMP/tcpdump-$1.out"
}

# nat_rtt NS ADDR COUNT: "AVG_MS RECEIVED" (bounded by ping's deadline).
nat_rtt() {
	local out
	out=$(timeout $(($3 + 10)) ip netns exec "$1" ping -n -q -c "$3" -i 0.05 -W 2 \
		-w $(($3 + 5)) "$2" 2>&1)
	awk '/packets transmitted/ { for (i = 1; i <= NF; i++) if ($i ~ /^received/) r = $(i-1) }
	     /^rtt|^round-trip/ { split($4, v, "/"); avg = v[2] }
	     END { print (avg == "" ? "-" : avg), (r == "" ? 0 : r) }' <<<"$out"
}

# nat_mbps BITS_PER_S: whole Mbit/s.
nat_mbps() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }'; }

# nat_second_link NAME ROUTER K: a second, idle uplink (eth1, down) from
# NAME into ROUTER's LAN at 10.N.0.K (the network NAME will move to); the
# node's port is forwarded there too when ROUTER is eim.
nat_second_link() {
	local name=$1 r=$2 k=$3 n
	n=${NAT_R_N[$r]}
	ip -n "${NAT_R_NS[$r]}" link add "m$k" type veth peer name eth1 netns "${OV_NS[$name]}" ||
		wt_fail "second uplink of $name"
	ip -n "${NAT_R_NS[$r]}" link set "m$k" master br0 up || wt_fail "m$k into br0 of $r"
	wt_addr "${OV_NS[$name]}" eth1 "10.$n.0.$k/24"
	NAT_MOVE_TO[$name]=$r
	NAT_MOVE_ADDR[$name]=10.$n.0.$k
	[[ ${NAT_R_KIND[$r]} == eim ]] && nat_forward "$r" "${NAT_PORT[$name]}" "10.$n.0.$k"
	return 0
}
declare -A NAT_MOVE_TO NAT_MOVE_ADDR

# nat_move NAME: NAME leaves its network for the one nat_second_link
# prepared (as a laptop going from one Wi-Fi to another): eth0 down,
# eth1 up, the default route through the new router.
nat_move() {
	local name=$1 ns=${OV_NS[$1]} r=${NAT_MOVE_TO[$1]}
	ip -n "$ns" link set eth0 down || wt_fail "eth0 down in $name"
	ip -n "$ns" link set eth1 up || wt_fail "eth1 up in $name"
	ip -n "$ns" route replace default via "10.${NAT_R_N[$r]}.0.1" dev eth1 ||
		wt_fail "default route of $name through $r"
	NAT_ROUTER[$name]=$r
	OV_ADDR[$name]=${NAT_MOVE_ADDR[$name]}
}
