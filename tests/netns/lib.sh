# shellcheck shell=bash
#
# lib.sh — helpers for the network-namespace tests (tests/netns/test_*.sh),
# bench/run.sh and scripts/demo.sh.  Source it, then call wt_init NAME.
#
#   Every namespace, interface name and socket is unique to this process
#   (test name + $$), every wait is bounded in count and time, and an EXIT
#   trap (also reached on INT/TERM/HUP/PIPE) always kills what was started,
#   deletes the namespaces and removes the sockets.  Resources are listed in
#   a file ($WT_RESDIR/$$.res) so a runner can sweep them up even if the
#   test itself was SIGKILLed (see wt_cleanup_resfile).
#
#   Traffic only ever goes to addresses inside namespaces made here:
#   underlay 192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32 on veth pairs;
#   overlay 100.64.0.0/10 and fd00::/8 on the WireGuard interfaces.
#
# Implementations: IMPL_A / IMPL_B (a command: a path or a name in PATH,
# optionally followed by arguments), default "$WEFT_WG", itself defaulting
# to the repository's ./weft-wg.  An implementation is started as
# `IMPL -f IFNAME` (foreground) or `IMPL IFNAME` (detaches once ready),
# exactly like wireguard-go.

WT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${WEFT_WG:=$WT_ROOT/weft-wg}"
: "${IMPL_A:=$WEFT_WG}"
: "${IMPL_B:=$WEFT_WG}"
WT_SOCKDIR=/var/run/wireguard

WT_TEST=${WT_TEST:-}
WT_NS=()        # namespaces made by this process
WT_IFS=()       # WireGuard interface names used by this process
WT_PIDS=()      # daemons/helpers started by this process
WT_CHECKS=0
WT_SOFT_FAILS=0
WT_CLEANED=0

# ---------------------------------------------------------------- output

wt_log()  { printf '[%s] %s\n' "${WT_TEST:-netns}" "$*"; }
wt_pass() { WT_CHECKS=$((WT_CHECKS + 1)); printf '[%s] PASS %s\n' "${WT_TEST:-netns}" "$*"; }
wt_skip() { printf '[%s] SKIP %s\n' "${WT_TEST:-netns}" "$*"; }
# wt_fail MSG: a failed check; ends the test (exit 1, cleanup runs).
wt_fail() {
	printf '[%s] FAIL %s\n' "${WT_TEST:-netns}" "$*"
	exit 1
}
# wt_soft_fail MSG: a failed check that lets the test go on; exit 1 at the end.
wt_soft_fail() {
	WT_SOFT_FAILS=$((WT_SOFT_FAILS + 1))
	printf '[%s] FAIL %s\n' "${WT_TEST:-netns}" "$*"
}
# wt_done: ends a test; 0 only if nothing failed.
wt_done() {
	if ((WT_SOFT_FAILS)); then
		wt_log "$WT_SOFT_FAILS check(s) failed"
		exit 1
	fi
	wt_log "all $WT_CHECKS checks passed"
	exit 0
}

# ---------------------------------------------------------------- asserts

# wt_assert DESC CMD...: CMD must succeed.
wt_assert() {
	local desc=$1; shift
	if "$@"; then wt_pass "$desc"; else wt_fail "$desc (command failed: $*)"; fi
}
wt_assert_eq() {	# DESC EXPECTED ACTUAL
	if [[ "$2" == "$3" ]]; then wt_pass "$1 (= $3)"
	else wt_fail "$1: expected '$2', got '$3'"; fi
}
wt_assert_ne() {	# DESC UNWANTED ACTUAL
	if [[ "$2" != "$3" ]]; then wt_pass "$1 ('$3')"
	else wt_fail "$1: got '$3'"; fi
}
wt_assert_match() {	# DESC ERE ACTUAL
	if [[ "$3" =~ $2 ]]; then wt_pass "$1 ('$3')"
	else wt_fail "$1: '$3' does not match /$2/"; fi
}
wt_assert_gt() {	# DESC A B   (integers: A > B)
	if [[ "$2" =~ ^-?[0-9]+$ && "$3" =~ ^-?[0-9]+$ ]] && (($2 > $3)); then
		wt_pass "$1 ($2 > $3)"
	else
		wt_fail "$1: expected $2 > $3"
	fi
}
wt_assert_ge() {	# DESC A B   (integers: A >= B)
	if [[ "$2" =~ ^-?[0-9]+$ && "$3" =~ ^-?[0-9]+$ ]] && (($2 >= $3)); then
		wt_pass "$1 ($2 >= $3)"
	else
		wt_fail "$1: expected $2 >= $3"
	fi
}

# wt_wait_for DESC TIMEOUT_S CMD...: retries CMD every 0.1 s until it
# succeeds; bounded by both an iteration count and wall time.  Returns 1 on
# timeout (does not fail the test by itself).
wt_wait_for() {
	local desc=$1 timeout=$2; shift 2
	local i max=$((timeout * 10)) deadline=$((SECONDS + timeout + 1))
	for ((i = 0; i < max && SECONDS <= deadline; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	"$@" 2>/dev/null && return 0
	wt_log "timed out after ${timeout}s waiting for: $desc"
	return 1
}

# ---------------------------------------------------------------- setup

wt_need_root() {
	if ((EUID != 0)); then
		echo "[${WT_TEST:-netns}] needs root (network namespaces)" >&2
		exit 77
	fi
}

# wt_init NAME: names this run, makes the temp dir, installs the traps.
wt_init() {
	WT_TEST=${1:-$(basename "$0" .sh)}
	WT_TEST=${WT_TEST#test_}
	wt_need_root
	local t
	for t in ip wg ping timeout ss; do
		command -v "$t" >/dev/null || { echo "[$WT_TEST] missing tool: $t" >&2; exit 1; }
	done
	umask 077
	WT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-$WT_TEST.$$.XXXXXX") || exit 1
	: "${WT_RESDIR:=$WT_TMP}"
	WT_RESFILE=$WT_RESDIR/$$.res
	echo "tmp $WT_TMP" >>"$WT_RESFILE"
	WT_PREFIX="wt-$WT_TEST-$$"
	# Sanitizer builds report into files here; the cleanup reads them.
	if [[ "${ASAN_OPTIONS:-}" != *log_path=* ]]; then
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$WT_TMP/asan"
	fi
	if [[ "${UBSAN_OPTIONS:-}" != *log_path=* ]]; then
		export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$WT_TMP/ubsan"
	fi
	trap 'wt__on_exit' EXIT
	trap 'wt_log "interrupted (SIGINT)"; exit 130' INT
	trap 'wt_log "terminated (SIGTERM)"; exit 143' TERM
	trap 'wt_log "hangup (SIGHUP)"; exit 129' HUP
	# whoever read our output went away (`... | head`): clean up all the same
	trap 'exit 141' PIPE
	wt_log "implementations: A='$IMPL_A' B='$IMPL_B'"
}

wt__res() { [[ -n "${WT_RESFILE:-}" ]] && echo "$*" >>"$WT_RESFILE"; }

# wt_ns VAR ROLE: makes namespace "$WT_PREFIX-ROLE" (lo up, no IPv6 DAD),
# stores its name in VAR.
wt_ns() {
	local var=$1 name="$WT_PREFIX-$2"
	ip netns add "$name" || wt_fail "ip netns add $name"
	WT_NS+=("$name")
	wt__res "ns $name"
	ip -n "$name" link set lo up
	ip netns exec "$name" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 >/dev/null 2>&1
	printf -v "$var" '%s' "$name"
}

# wt_veth NS1 IF1 NS2 IF2: a veth pair between two namespaces, both up.
wt_veth() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" ||
		wt_fail "veth $1/$2 <-> $3/$4"
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up ||
		wt_fail "veth up $2/$4"
}

# wt_addr NS DEV CIDR / wt_addr_del NS DEV CIDR (IPv6 without DAD).
wt_addr() {
	local extra=()
	[[ "$3" == *:* ]] && extra=(nodad)
	ip -n "$1" addr add "$3" dev "$2" "${extra[@]}" || wt_fail "ip addr add $3 dev $2 in $1"
}
wt_addr_del() { ip -n "$1" addr del "$3" dev "$2" || wt_fail "ip addr del $3 dev $2 in $1"; }

# wt_ifname VAR LETTER: a unique interface name (<= 15 chars), e.g. wgA12345.
wt_ifname() {
	local name="wg$2$$"
	name=${name:0:15}
	WT_IFS+=("$name")
	wt__res "if $name"
	printf -v "$1" '%s' "$name"
}

# wt_keypair NAME: NAME_KEY (private key file), NAME_PRIV, NAME_PUB.
wt_keypair() {
	local f="$WT_TMP/$1.key" priv pub
	priv=$(wg genkey) || wt_fail "wg genkey"
	pub=$(printf '%s\n' "$priv" | wg pubkey) || wt_fail "wg pubkey"
	printf '%s\n' "$priv" >"$f"
	printf -v "$1_KEY" '%s' "$f"
	printf -v "$1_PRIV" '%s' "$priv"
	printf -v "$1_PUB" '%s' "$pub"
}

# wt_is_weft IMPL: true if the command looks like weft-wg.
wt_is_weft() {
	local w
	read -r w _ <<<"$1"
	[[ "$(basename "$w")" == *weft* ]]
}

# wt_impl_ok IMPL: true if the command's program exists.
wt_impl_ok() {
	local w
	read -r w _ <<<"$1"
	if [[ "$w" == */* ]]; then [[ -x "$w" ]]; else command -v "$w" >/dev/null; fi
}

# wt_impl_name IMPL: a short name for output.
wt_impl_name() {
	local w
	read -r w _ <<<"$1"
	basename "$w"
}

# wt_wrapper IMPL: prints a path to a one-word executable running IMPL
# (wg-quick wants a single command name in WG_QUICK_USERSPACE_IMPLEMENTATION).
wt_wrapper() {
	local w rest f
	read -r w rest <<<"$1"
	if [[ -z "$rest" && "$w" == /* ]]; then echo "$w"; return; fi
	f=$(mktemp "$WT_TMP/impl.XXXXXX")
	printf '#!/bin/sh\nexec %s "$@"\n' "$1" >"$f"
	chmod 0755 "$f"
	echo "$f"
}

# wt_sock IFNAME: the UAPI socket path.
wt_sock() { echo "$WT_SOCKDIR/$1.sock"; }

# wt_alive PID: running and not a zombie.
wt_alive() {
	local st
	[[ -r /proc/$1/stat ]] || return 1
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n "$st" && "$st" != Z && "$st" != X ]]
}

# wt_sock_pid NS IFNAME: pid of the process listening on IFNAME's socket.
wt_sock_pid() {
	ip netns exec "$1" ss -Hxlpn 2>/dev/null |
		awk -v p="$(wt_sock "$2")" '$0 ~ p { if (match($0, /pid=[0-9]+/)) { print substr($0, RSTART + 4, RLENGTH - 4); exit } }'
}

# wt__stale_sock IFNAME: removes a socket nobody serves (left by a crash or
# a recycled pid); fails if a live daemon already serves it.
wt__stale_sock() {
	local s
	s=$(wt_sock "$1")
	[[ -e "$s" ]] || return 0
	if timeout 3 wg show "$1" >/dev/null 2>&1; then
		wt_fail "socket $s is served by a daemon this test did not start"
	fi
	wt_log "removing stale socket $s"
	rm -f "$s"
}

# wt_ready NS IFNAME: the socket answers and the link exists in NS.
wt_ready() {
	[[ -S "$(wt_sock "$2")" ]] &&
		ip -n "$1" link show dev "$2" >/dev/null 2>&1 &&
		timeout 3 ip netns exec "$1" wg show "$2" >/dev/null 2>&1
}

# wt_start VAR NS IFNAME IMPL [detach]: starts IMPL for IFNAME in NS and
# waits (bounded) until its socket answers; VAR gets the daemon's pid.
# Foreground (default): `IMPL -f IFNAME &`, output in $WT_TMP/IFNAME.log.
# detach: `IMPL IFNAME` must return 0 once ready; pid found via the socket.
wt_start() {
	local var=$1 ns=$2 ifn=$3 impl=$4 mode=${5:-fg} pid rc log
	log="$WT_TMP/$ifn.log"
	wt_impl_ok "$impl" || wt_fail "implementation not found: '$impl'"
	wt__stale_sock "$ifn"
	# shellcheck disable=SC2086  # IMPL may carry arguments
	if [[ "$mode" == detach ]]; then
		timeout 20 ip netns exec "$ns" $impl "$ifn" >>"$log" 2>&1
		rc=$?
		((rc == 0)) || { sed 's/^/    | /' "$log" | tail -n 20; wt_fail "'$impl $ifn' (detach) exited $rc"; }
		if ! wt_wait_for "$ifn ready" 10 wt_ready "$ns" "$ifn"; then
			sed 's/^/    | /' "$log" | tail -n 20
			wt_fail "$(wt_impl_name "$impl") $ifn not ready after detaching"
		fi
		pid=$(wt_sock_pid "$ns" "$ifn")
		[[ -n "$pid" ]] || wt_fail "no process listens on $(wt_sock "$ifn")"
	else
		ip netns exec "$ns" $impl -f "$ifn" >>"$log" 2>&1 &
		pid=$!
		local i
		for ((i = 0; i < 150; i++)); do
			wt_ready "$ns" "$ifn" && break
			wt_alive "$pid" || break
			sleep 0.1
		done
		if ! wt_ready "$ns" "$ifn"; then
			sed 's/^/    | /' "$log" | tail -n 20
			wt_alive "$pid" || { wait "$pid"; wt_fail "$(wt_impl_name "$impl") -f $ifn died (status $?)"; }
			wt_fail "$(wt_impl_name "$impl") -f $ifn not ready after 15s"
		fi
	fi
	WT_PIDS+=("$pid")
	wt__res "pid $pid"
	printf -v "$var" '%s' "$pid"
}

# wt_wait_exit PID TIMEOUT_S: waits until PID is gone; 1 on timeout.
wt_wait_exit() {
	local i max=$(($2 * 10))
	for ((i = 0; i < max; i++)); do
		wt_alive "$1" || return 0
		sleep 0.1
	done
	! wt_alive "$1"
}

# wt_wg NS ARGS...: wg(8) inside NS.
wt_wg() { local ns=$1; shift; timeout 10 ip netns exec "$ns" wg "$@"; }

# wt_handshake NS IFNAME PUB: latest-handshake time (0 if none).
wt_handshake() {
	wt_wg "$1" show "$2" latest-handshakes 2>/dev/null | awk -v k="$3" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'
}
wt__hs_nonzero() { local t; t=$(wt_handshake "$@"); [[ "$t" =~ ^[0-9]+$ ]] && ((t > 0)); }

# wt_wait_handshake NS IFNAME PUB [TIMEOUT_S]: 0 once a handshake happened.
wt_wait_handshake() {
	wt_wait_for "handshake on $2 with ${3:0:8}..." "${4:-15}" wt__hs_nonzero "$1" "$2" "$3"
}

# wt_transfer NS IFNAME PUB: "RX TX" bytes for that peer ("0 0" if none).
wt_transfer() {
	wt_wg "$1" show "$2" transfer 2>/dev/null | awk -v k="$3" '$1 == k { print $2, $3; f = 1 } END { if (!f) print 0, 0 }'
}

# wt_endpoint NS IFNAME PUB: the peer's endpoint as wg shows it.
wt_endpoint() {
	wt_wg "$1" show "$2" endpoints 2>/dev/null | awk -v k="$3" '$1 == k { print $2 }'
}

# wt_ping_count NS ADDR COUNT [SIZE]: prints the number of replies
# (bounded by ping's own deadline).
wt_ping_count() {
	local out size=()
	[[ -n "${4:-}" ]] && size=(-s "$4")
	out=$(timeout $(($3 + 10)) ip netns exec "$1" ping -n -q -c "$3" -i 0.05 -W 2 -w $(($3 + 5)) "${size[@]}" "$2" 2>&1)
	awk '/packets transmitted/ { for (i = 1; i <= NF; i++) if ($i ~ /^received/) { print $(i-1); f = 1 } } END { if (!f) print 0 }' <<<"$out"
}
wt__ping1() { timeout 3 ip netns exec "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1; }

# wt_wait_ping NS ADDR [TIMEOUT_S]: 0 once one ping is answered.
wt_wait_ping() { wt_wait_for "ping $2 from $1" "${3:-15}" wt__ping1 "$1" "$2"; }

# wt_assert_ping NS ADDR COUNT [SIZE]: at least COUNT-1 of COUNT replies.
wt_assert_ping() {
	local got what="ping ${4:+-s $4 }$2 from ${1##*-}"
	got=$(wt_ping_count "$@")
	if ((got >= $3 - 1 && got > 0)); then wt_pass "$what: $got/$3 replies"
	else wt_fail "$what: $got/$3 replies"; fi
}

# wt_iperf VAR NS_SRV ADDR NS_CLI SECONDS [-R]: TCP iperf3, single stream,
# bounded; VAR gets "BYTES_RECEIVED BITS_PER_SECOND" (receiver side), or
# stays empty on failure.  The JSON is kept in $WT_TMP/iperf.*.json.
wt_iperf() {
	local var=$1 srv=$2 addr=$3 cli=$4 secs=$5 rev=${6:-} spid rc json port=5201 i
	printf -v "$var" '%s' ""
	json=$(mktemp "$WT_TMP/iperf.XXXXXX.json")
	timeout $((secs + 30)) ip netns exec "$srv" iperf3 -s -1 -B "$addr" -p "$port" \
		>"$json.server" 2>&1 &
	spid=$!
	WT_PIDS+=("$spid")
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$srv" ss -Htln "sport = :$port" 2>/dev/null | grep -q . && break
		wt_alive "$spid" || break
		sleep 0.1
	done
	timeout $((secs + 20)) ip netns exec "$cli" iperf3 -c "$addr" -p "$port" -t "$secs" \
		--connect-timeout 5000 -J $rev >"$json" 2>&1
	rc=$?
	wt_wait_exit "$spid" 5 || kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	if ((rc != 0)); then
		wt_log "iperf3 client exited $rc:"; sed 's/^/    | /' "$json" | grep -i error | head -n 5
		return 1
	fi
	local _r
	_r=$(awk '
		/"sum_received"/ { in_r = 1 }
		in_r && /"bytes"/ && !b { gsub(/[^0-9]/, "", $2); b = $2 }
		in_r && /"bits_per_second"/ && !s { v = $2; gsub(/[^0-9.e+]/, "", v); s = v }
		END { if (b != "") print b, s }' "$json")
	[[ -n "$_r" ]] || { wt_log "iperf3: no result in JSON"; return 1; }
	printf -v "$var" '%s' "$_r"
}

# wt_stats NS IFNAME IMPL: weft-wg's drop counters (key=value lines).
wt_stats() {
	# shellcheck disable=SC2086
	timeout 10 ip netns exec "$1" $3 --stats "$2" 2>/dev/null | grep -E '^[a-z0-9_]+=[0-9]+$'
}
# wt_stat STATS KEY: one value from wt_stats output (empty if absent).
wt_stat() { awk -F= -v k="$2" '$1 == k { print $2 }' <<<"$1"; }

# ---------------------------------------------------------------- two nodes

# The standard two-node topology: namespaces a and b joined by veth va/vb.
U4_A=192.0.2.1   U4_B=192.0.2.2   U6_A=2001:db8:1::1 U6_B=2001:db8:1::2
O4_A=100.64.0.1  O4_B=100.64.0.2  O6_A=fd00:77::1    O6_B=fd00:77::2
PORT_A=51820     PORT_B=51821

# wt_pair_net: namespaces NS_A, NS_B, veth va <-> vb with the underlay
# addresses above.
wt_pair_net() {
	wt_ns NS_A a
	wt_ns NS_B b
	wt_veth "$NS_A" va "$NS_B" vb
	wt_addr "$NS_A" va "$U4_A/24"
	wt_addr "$NS_B" vb "$U4_B/24"
	wt_addr "$NS_A" va "$U6_A/64"
	wt_addr "$NS_B" vb "$U6_B/64"
}

# wt_pair_start [fg|detach]: IMPL_A as IF_A in NS_A, IMPL_B as IF_B in NS_B;
# pids in PID_A, PID_B; keys A_* and B_*.
wt_pair_start() {
	wt_ifname IF_A A
	wt_ifname IF_B B
	wt_keypair A
	wt_keypair B
	wt_start PID_A "$NS_A" "$IF_A" "$IMPL_A" "${1:-fg}"
	wt_start PID_B "$NS_B" "$IF_B" "$IMPL_B" "${1:-fg}"
	wt_pass "started $(wt_impl_name "$IMPL_A") ($IF_A, pid $PID_A) and $(wt_impl_name "$IMPL_B") ($IF_B, pid $PID_B)"
}

# wt_overlay NS IFNAME V4 V6: overlay addresses (/24, /64) and link up.
wt_overlay() {
	wt_addr "$1" "$2" "$3/24"
	wt_addr "$1" "$2" "$4/64"
	ip -n "$1" link set "$2" up || wt_fail "ip link set $2 up"
}

# wt_pair_config [v4|v6] [EXTRA_A...]: A knows B's endpoint (so A is the
# initiator), B does not know A's.  EXTRA_A is appended to A's peer line
# (e.g. persistent-keepalive 25).
wt_pair_config() {
	local fam=${1:-v4} ep
	shift || true
	if [[ $fam == v6 ]]; then ep="[$U6_B]:$PORT_B"; else ep="$U4_B:$PORT_B"; fi
	wt_wg "$NS_A" set "$IF_A" private-key "$A_KEY" listen-port "$PORT_A" \
		peer "$B_PUB" endpoint "$ep" allowed-ips "$O4_B/32,$O6_B/128" "$@" ||
		wt_fail "wg set $IF_A"
	wt_wg "$NS_B" set "$IF_B" private-key "$B_KEY" listen-port "$PORT_B" \
		peer "$A_PUB" allowed-ips "$O4_A/32,$O6_A/128" ||
		wt_fail "wg set $IF_B"
	wt_overlay "$NS_A" "$IF_A" "$O4_A" "$O6_A"
	wt_overlay "$NS_B" "$IF_B" "$O4_B" "$O6_B"
	wt_pass "configured with wg set (A -> B endpoint $ep)"
}

# wt_pair [v4|v6]: all of the above.
wt_pair() {
	wt_pair_net
	wt_pair_start
	wt_pair_config "$@"
}

# ---------------------------------------------------------------- cleanup

# wt__kill_ns NS: TERM every process in NS, wait up to 5 s, then KILL.
wt__kill_ns() {
	local pids p i
	pids=$(ip netns pids "$1" 2>/dev/null)
	[[ -n "$pids" ]] || return 0
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for ((i = 0; i < 50; i++)); do
		pids=$(ip netns pids "$1" 2>/dev/null)
		[[ -n "$pids" ]] || return 0
		sleep 0.1
	done
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	sleep 0.2
}

# wt__cleanup_list: kills, deletes and removes everything in WT_NS, WT_IFS,
# WT_PIDS.  Idempotent.
wt__cleanup_list() {
	local p ns ifn i
	for p in "${WT_PIDS[@]}"; do
		wt_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for ns in "${WT_NS[@]}"; do wt__kill_ns "$ns"; done
	for p in "${WT_PIDS[@]}"; do
		wt_wait_exit "$p" 5 || kill -KILL "$p" 2>/dev/null
	done
	for ns in "${WT_NS[@]}"; do
		for ((i = 0; i < 5; i++)); do
			ip netns del "$ns" 2>/dev/null && break
			[[ -e "/run/netns/$ns" ]] || break
			sleep 0.2
		done
	done
	for ifn in "${WT_IFS[@]}"; do rm -f "$(wt_sock "$ifn")"; done
}

# wt_cleanup_resfile FILE: sweeps up what a (killed) test listed in FILE.
wt_cleanup_resfile() {
	local kind val tmp=()
	WT_NS=() WT_IFS=() WT_PIDS=()
	while read -r kind val; do
		case $kind in
		ns) WT_NS+=("$val") ;;
		if) WT_IFS+=("$val") ;;
		pid) WT_PIDS+=("$val") ;;
		tmp) tmp+=("$val") ;;
		esac
	done <"$1"
	# A pid from the file may have been recycled: only kill it if it is
	# still inside one of the listed namespaces (namespace sweep covers it).
	WT_PIDS=()
	wt__cleanup_list
	for val in "${tmp[@]}"; do [[ "$val" == */weft-* ]] && rm -rf "$val"; done
	rm -f "$1"
}

# wt__sanitizer_reports: prints sanitizer reports from this run; 1 if any.
wt__sanitizer_reports() {
	local f found=0
	for f in "$WT_TMP"/asan.* "$WT_TMP"/ubsan.*; do
		[[ -s "$f" ]] || continue
		found=1
		printf '[%s] FAIL sanitizer report %s:\n' "$WT_TEST" "${f##*/}"
		head -n 60 "$f" | sed 's/^/    | /'
	done
	for f in "$WT_TMP"/*.log; do
		[[ -f "$f" ]] || continue
		if grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' "$f"; then
			found=1
			printf '[%s] FAIL sanitizer report in %s:\n' "$WT_TEST" "${f##*/}"
			grep -A 40 -E 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' "$f" |
				head -n 60 | sed 's/^/    | /'
		fi
	done
	return $found
}

wt__on_exit() {
	local rc=$? f
	# (PIPE too: a reader of our output that went away must not stop
	# the cleanup half way)
	trap '' INT TERM HUP PIPE
	((WT_CLEANED)) && exit "$rc"
	WT_CLEANED=1
	wt__cleanup_list
	wait 2>/dev/null
	if ! wt__sanitizer_reports; then
		((rc == 0)) && rc=1
	fi
	if ((rc != 0)); then
		for f in "$WT_TMP"/*.log; do
			[[ -s "$f" ]] || continue
			# (without wireguard-go's boxed banner)
			grep -v '[│┌└]' "$f" | tail -n 15 | sed 's/^/    | /' >"$WT_TMP/.tail"
			[[ -s "$WT_TMP/.tail" ]] || continue
			wt_log "--- last lines of ${f##*/}:"
			cat "$WT_TMP/.tail"
		done
	fi
	if [[ -n "${WT_KEEP_TMP:-}" ]]; then
		wt_log "kept $WT_TMP"
	else
		rm -rf "$WT_TMP"
	fi
	[[ -n "${WT_RESFILE:-}" ]] && rm -f "$WT_RESFILE"
	exit "$rc"
}
