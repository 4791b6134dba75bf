# shellcheck shell=bash
#
# tests/overlay/lib.sh — helpers for the overlay tests (weft-server +
# weftd + weft through the real binaries), on top of tests/netns/lib.sh,
# whose traps clean up every namespace, process and file on every exit.
#
# Topology: a "lan" namespace holds a bridge; every host (the server and
# each node) is a namespace with a veth into that bridge and an address in
# 192.0.2.0/24 (IPv6 2001:db8:1::/64).  The server listens on 192.0.2.1.
# Each node's interface, socket and state directory are unique to the run.
#
#   ov_lan                      the bridge
#   ov_host VAR ROLE N          namespace on the LAN with 192.0.2.N
#   ov_server_start             init (first time) + serve in the server ns
#   ov_server_stop
#   ovs ARGS...                 weft-server admin command (state dir set)
#   ov_node NAME N              a host with weftd running (detached)
#   ov_weftd_stop NAME / ov_weftd_start NAME
#   ovw NAME ARGS...            weft CLI of node NAME
#   ov_token VAR ARGS...        keys create ARGS, token into VAR

OV_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$OV_HERE/../netns/lib.sh"
: "${BUILD:=build}"
OV_BIN=$WT_ROOT/$BUILD
[[ -x "$OV_BIN/weftd" ]] || OV_BIN=$WT_ROOT
OV_SERVER=$OV_BIN/weft-server
OV_WEFTD=$OV_BIN/weftd
OV_WEFT=$OV_BIN/weft
declare -A OV_NS OV_SOCK OV_STATE OV_IF OV_ADDR

ov_lan() {
	wt_ns OV_LAN lan
	ip -n "$OV_LAN" link add br0 type bridge || wt_fail "bridge"
	ip -n "$OV_LAN" link set br0 up
}

ov_host() {	# VAR ROLE N
	local ov_h
	wt_ns ov_h "$2"
	ip -n "$OV_LAN" link add "v$3" type veth peer name eth0 netns "$ov_h" ||
		wt_fail "veth for $2"
	ip -n "$OV_LAN" link set "v$3" master br0 up
	ip -n "$ov_h" link set eth0 up
	wt_addr "$ov_h" eth0 "192.0.2.$3/24"
	wt_addr "$ov_h" eth0 "2001:db8:1::$3/64"
	printf -v "$1" '%s' "$ov_h"
}

ov_server_init() {
	OV_SRV_STATE=$WT_TMP/server
	ov_host OV_SRV server 1
	"$OV_SERVER" --state-dir "$OV_SRV_STATE" init --endpoint 192.0.2.1:7000 \
		--listen 0.0.0.0:7000 >"$WT_TMP/server-init.out" 2>&1 ||
		wt_fail "weft-server init: $(cat "$WT_TMP/server-init.out")"
}

ov_server_start() {
	ip netns exec "$OV_SRV" "$OV_SERVER" --state-dir "$OV_SRV_STATE" serve "$@" \
		>>"$WT_TMP/server.log" 2>&1 &
	OV_SRV_PID=$!
	WT_PIDS+=("$OV_SRV_PID")
	wt__res "pid $OV_SRV_PID"
	wt_wait_for "weft-server answers" 10 ovs status >/dev/null ||
		wt_fail "weft-server did not start: $(tail -n 5 "$WT_TMP/server.log")"
}

ov_server_stop() {
	kill -TERM "$OV_SRV_PID" 2>/dev/null
	wt_wait_exit "$OV_SRV_PID" 10 || kill -KILL "$OV_SRV_PID"
}

ovs() { timeout 20 "$OV_SERVER" --state-dir "$OV_SRV_STATE" "$@"; }

ov_token() {	# VAR ARGS...
	local var=$1 t
	shift
	t=$(ovs keys create "$@") || wt_fail "keys create $*: $t"
	printf -v "$var" '%s' "$t"
}

# Foreground in the background, so its log stays in $WT_TMP/weftd-NAME.log.
ov_weftd_start() {	# NAME [weftd args]
	local name=$1 pid
	shift
	ip netns exec "${OV_NS[$name]}" "$OV_WEFTD" --state-dir "${OV_STATE[$name]}" \
		--socket "${OV_SOCK[$name]}" --interface "${OV_IF[$name]}" "$@" \
		>>"$WT_TMP/weftd-$name.log" 2>&1 &
	pid=$!
	WT_PIDS+=("$pid")
	wt__res "pid $pid"
	wt_wait_for "weftd $name answers" 10 ovw "$name" status >/dev/null ||
		wt_fail "weftd $name did not start: $(tail -n 3 "$WT_TMP/weftd-$name.log")"
}

ov_weftd_pid() { ip netns pids "${OV_NS[$1]}" | while read -r p; do
	[[ "$(readlink "/proc/$p/exe" 2>/dev/null)" == */weftd ]] && echo "$p"; done | head -n 1; }

ov_weftd_stop() {
	local p
	p=$(ov_weftd_pid "$1")
	[[ -n "$p" ]] || return 0
	kill -TERM "$p"
	wt_wait_exit "$p" 10 || kill -KILL "$p"
}

ov_node() {	# NAME N [weftd args]
	local name=$1 n=$2 ov_n
	shift 2
	ov_host ov_n "$name" "$n"
	OV_NS[$name]=$ov_n
	OV_ADDR[$name]=192.0.2.$n
	OV_SOCK[$name]=$WT_TMP/$name.sock
	OV_STATE[$name]=$WT_TMP/state-$name
	OV_IF[$name]=wft$n$$
	OV_IF[$name]=${OV_IF[$name]:0:15}
	ov_weftd_start "$name" "$@"
}

ovw() {	# NAME ARGS...
	local name=$1
	shift
	timeout 40 ip netns exec "${OV_NS[$name]}" "$OV_WEFT" --socket "${OV_SOCK[$name]}" "$@"
}

# ov_ip NAME [-4|-6]: the node's overlay address.
ov_ip() { ovw "$1" ip "${2:--4}"; }

# ov_ping FROM ADDR: one kernel ping through the overlay (2 s).
ov_ping() { ip netns exec "${OV_NS[$1]}" ping -n -c 1 -W 2 "$2" >/dev/null 2>&1; }

# ov_assert_has DESC ERE TEXT: some line of TEXT matches; shows that line.
ov_assert_has() {
	local m
	if m=$(grep -E -m1 -- "$2" <<<"$3"); then wt_pass "$1 ('$m')"
	else wt_fail "$1: no line matches /$2/ in: $(head -c 800 <<<"$3")"; fi
}

# ov_peer_known NAME PEERNAME: NAME's weftd lists PEERNAME among its peers.
ov_peer_known() { ovw "$1" status --json | grep -Eq "\"name\": *\"$2[.\"]"; }

# ov_setup NETWORK: the LAN, a running server, NETWORK made, and a reusable
# key for it in REUSE.
ov_setup() {
	ov_lan
	ov_server_init
	ov_server_start
	ovs networks create "$1" >/dev/null || wt_fail "networks create $1"
	ov_token REUSE --network "$1" --reusable
}

# ov_nodes NAME...: one node per NAME (192.0.2.11, .12, ...),
# each joined with $REUSE as "node-NAME"; V4[NAME] holds its address.
declare -A V4
ov_nodes() {
	local i=11 x
	for x in "$@"; do
		ov_node "$x" "$i"
		ovw "$x" up --token "$REUSE" --hostname "node-$x" >/dev/null || wt_fail "$x joins"
		V4[$x]=$(ov_ip "$x")
		i=$((i + 1))
	done
}
