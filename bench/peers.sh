#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # awk programs in single quotes
# bench/peers.sh — memory of weft-wg with many peers, against wireguard-go.
#
# Target (the issue): weft-wg with 10 000 peers configured through
# `wg setconf` stays under 40 MiB RSS; the bytes per peer are reported.
#
# One network namespace made here (only lo in it, no route anywhere else),
# then for weft-wg and then for wireguard-go, one after the other, each in
# the same namespace under its own interface name:
#   1. start the daemon (tests/netns/lib.sh wt_start, foreground), give it
#      a private key and a listen port with `wg set`;
#   2. read VmRSS / VmHWM / RssAnon of the daemon from /proc/PID/status
#      (baseline);
#   3. `wg setconf IF FILE` with PEERS peers (timed), then VmRSS again;
#   4. check `wg show IF peers | wc -l` = PEERS, and that the private key and
#      the listen port are still set;
#   5. `wg show IF dump` (timed, and its line count checked), then VmRSS and
#      VmHWM again;
#   6. stop the daemon.
# The configuration is generated once and used for both: the same
# PrivateKey and ListenPort as set before (setconf replaces the whole
# configuration, and would clear them otherwise), then PEERS random
# 32-byte public keys (base64; any 32 bytes make a public key), each peer
# with one IPv4 /32 in 10.0.0.0/8, one IPv6 /128 in 2001:db8::/32, an
# endpoint in 192.0.2.0/24 or 198.51.100.0/24 with varying ports and
# PersistentKeepalive = 0.
#
# Nothing is sent: with no keepalive and no traffic neither daemon sends
# anything, the tunnel links stay down, and the namespace has no route to
# the endpoints anyway.  This is checked: the namespace's UDP/UDP6
# OutDatagrams and IP/IP6 OutNoRoutes counters (/proc/net/snmp, snmp6) must
# not move, and every peer's transfer counters must stay 0.
#
# Output: per implementation, baseline RSS, RSS with PEERS peers, bytes per
# peer = (RSS_N - RSS_0) / PEERS, setconf seconds, `wg show dump` seconds,
# RSS after the dump and the high-water mark; then one line with the
# verdict (plus a note when weft-wg's RSS after the dump reaches the
# target, which does not change the verdict).  Exit 0 when weft-wg's RSS
# with PEERS peers (right after setconf) is below 40 MiB and every step (of
# both implementations) worked; 1 otherwise; 2 on bad arguments; 77 when
# not root.
#
# Knobs (environment):
#   PEERS      number of peers (default 10000, at most 16000000)
#   WEFT_WG    weft-wg binary (default build/weft-wg, else ./weft-wg)
#   WGO        wireguard-go command (default wireguard-go); WGO=none skips it
#   PEERS_TARGET_MIB  RSS target for weft-wg (default 40)
# Every step is bounded by timeout; the namespace, the daemons, the
# sockets and the temporary files are removed on every exit path (the
# EXIT/INT/TERM/HUP traps of tests/netns/lib.sh).  Needs root, ip, wg,
# timeout, awk, and python3 (or od, for the key generation).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
if [[ -z "${WEFT_WG:-}" ]]; then
	WEFT_WG=$ROOT/build/weft-wg
	[[ -x "$WEFT_WG" ]] || WEFT_WG=$ROOT/weft-wg
fi
WGO=${WGO:-wireguard-go}
PEERS=${PEERS:-10000}
TARGET_MIB=${PEERS_TARGET_MIB:-40}
for v in PEERS TARGET_MIB; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "peers: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
((PEERS <= 16000000)) || { echo "peers: PEERS must be at most 16000000" >&2; exit 2; }
export WEFT_WG
export IMPL_A="$WEFT_WG" IMPL_B="$WGO"

# shellcheck source=../tests/netns/lib.sh
. "$ROOT/tests/netns/lib.sh"
wt_init peers
command -v awk >/dev/null || wt_fail "missing tool: awk"

# Time limits (s), growing with the number of peers.
T_GEN=$((30 + PEERS / 2000))
T_SET=$((30 + PEERS / 500))
T_SHOW=$((20 + PEERS / 1000))

RESULTS=$WT_TMP/results	# NAME<TAB>KEY<TAB>VALUE lines from the subshells
: >"$RESULTS"
CONF=$WT_TMP/peers.conf
FAILED=()

# ---------------------------------------------------------------- helpers

# now_s: wall-clock seconds with microseconds.
now_s() { echo "$EPOCHREALTIME"; }
# elapsed T0 T1: T1 - T0 in seconds, 3 decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# status_kb PID FIELD: a field of /proc/PID/status in kB (empty if none).
status_kb() { awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status" 2>/dev/null; }

# net_counters NS: "UDP_OUT UDP6_OUT IP_NOROUTE IP6_NOROUTE" of namespace NS.
net_counters() {
	timeout 10 ip netns exec "$1" awk '
		FILENAME ~ /snmp6$/ {
			if ($1 == "Udp6OutDatagrams") u6 = $2
			if ($1 == "Ip6OutNoRoutes") n6 = $2
			next
		}
		$1 == "Udp:" || $1 == "Ip:" {
			if (!($1 in hdr)) { hdr[$1] = 1; for (i = 2; i <= NF; i++) name[$1, i] = $i; next }
			for (i = 2; i <= NF; i++) {
				if (name[$1, i] == "OutDatagrams" && $1 == "Udp:") u4 = $i
				if (name[$1, i] == "OutNoRoutes" && $1 == "Ip:") n4 = $i
			}
		}
		END { print u4 + 0, u6 + 0, n4 + 0, n6 + 0 }' /proc/net/snmp /proc/net/snmp6
}

# gen_conf FILE N: the [Peer] sections of the wg(8) configuration, N peers.
gen_conf() {
	if command -v python3 >/dev/null; then
		timeout "$T_GEN" python3 - "$1" "$2" <<-'EOF'
			import base64, os, sys
			path, n = sys.argv[1], int(sys.argv[2])
			raw = os.urandom(32 * n)
			out = []
			for i in range(n):
			    j = i + 1
			    key = base64.b64encode(raw[32 * i:32 * i + 32]).decode()
			    v4 = "10.%d.%d.%d/32" % ((j >> 16) & 255, (j >> 8) & 255, j & 255)
			    v6 = "2001:db8::%x:%x/128" % (j >> 16, j & 0xffff)
			    net = "192.0.2" if i % 2 == 0 else "198.51.100"
			    ep = "%s.%d:%d" % (net, 1 + (i // 2) % 254, 1024 + (i * 7919) % 64000)
			    out.append("\n[Peer]\nPublicKey = %s\nAllowedIPs = %s, %s\n"
			               "Endpoint = %s\nPersistentKeepalive = 0\n" % (key, v4, v6, ep))
			with open(path, "w") as f:
			    f.write("".join(out))
		EOF
	else
		# No python3: 32 random bytes per line as hex, base64 in awk.
		# shellcheck disable=SC2016  # expanded by sh -c
		timeout "$T_GEN" sh -c 'head -c $((32 * $1)) /dev/urandom | od -An -v -tx1 -w32' sh "$2" |
			timeout "$T_GEN" awk '
			BEGIN {
				b = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
				for (i = 0; i < 256; i++) hex[sprintf("%02x", i)] = i
			}
			NF == 32 {
				for (i = 1; i <= 32; i++) v[i] = hex[$i]
				v[33] = 0; v[34] = 0; k = ""
				for (i = 1; i <= 32; i += 3) {
					t = v[i] * 65536 + v[i + 1] * 256 + v[i + 2]
					k = k substr(b, int(t / 262144) % 64 + 1, 1) substr(b, int(t / 4096) % 64 + 1, 1)
					k = k (i + 1 <= 32 ? substr(b, int(t / 64) % 64 + 1, 1) : "=")
					k = k (i + 2 <= 32 ? substr(b, t % 64 + 1, 1) : "=")
				}
				j = NR; i = NR - 1
				net = i % 2 == 0 ? "192.0.2" : "198.51.100"
				printf "\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32, 2001:db8::%x:%x/128\n",
					k, int(j / 65536) % 256, int(j / 256) % 256, j % 256, int(j / 65536), j % 65536
				printf "Endpoint = %s.%d:%d\nPersistentKeepalive = 0\n", net, 1 + int(i / 2) % 254, 1024 + (i * 7919) % 64000
			}' >"$1"
	fi
}

# shellcheck disable=SC2317  # called from a trap
# stop_daemon PID IFNAME: TERM, bounded wait, KILL; removes the socket.
stop_daemon() {
	[[ -n "$1" ]] || return 0
	if wt_alive "$1"; then
		kill -TERM "$1" 2>/dev/null
		wt_wait_exit "$1" 5 || kill -KILL "$1" 2>/dev/null
		wt_wait_exit "$1" 2
	fi
	rm -f "$(wt_sock "$2")"
}

# measure NAME IMPL IFNAME PORT: one implementation, in a subshell (a failed
# step ends only this measurement); results as NAME<TAB>KEY<TAB>VALUE lines.
measure() {
	local name=$1 impl=$2 ifn=$3 port=$4 pid rc
	wt_log "--- $name ($impl) as $ifn"
	(
		DPID=""
		trap 'stop_daemon "$DPID" "$ifn"' EXIT
		res() { printf '%s\t%s\t%s\n' "$name" "$1" "$2" >>"$RESULTS"; }
		wt_start DPID "$NS" "$ifn" "$impl"
		comm=$(cat "/proc/$DPID/comm" 2>/dev/null)
		wt_log "$name: pid $DPID ($comm)"
		wt_wg "$NS" set "$ifn" private-key "$KEY_KEY" listen-port "$port" ||
			wt_fail "$name: wg set private-key, listen-port"
		sleep 0.5	# let the daemon settle after binding
		rss0=$(status_kb "$DPID" VmRSS)
		anon0=$(status_kb "$DPID" RssAnon)
		[[ -n "$rss0" ]] || wt_fail "$name: no VmRSS in /proc/$DPID/status"
		res rss0 "$rss0"
		res anon0 "$anon0"
		net0=$(net_counters "$NS")

		t0=$(now_s)
		timeout "$T_SET" ip netns exec "$NS" wg setconf "$ifn" "$CONF" 2>"$WT_TMP/$ifn.setconf.err"
		rc=$?
		t1=$(now_s)
		wt_alive "$DPID" || wt_fail "$name: daemon died during setconf"
		# (read at once: nothing else has run in the daemon since)
		rssn=$(status_kb "$DPID" VmRSS)
		anonn=$(status_kb "$DPID" RssAnon)
		hwmn=$(status_kb "$DPID" VmHWM)
		if ((rc != 0)); then
			sed 's/^/    | /' "$WT_TMP/$ifn.setconf.err" | tail -n 5
			wt_fail "$name: wg setconf exited $rc (timeout ${T_SET}s)"
		fi
		res setconf_s "$(elapsed "$t0" "$t1")"
		res rssn "$rssn"
		res anonn "$anonn"
		res hwm_setconf "$hwmn"

		got=$(timeout "$T_SHOW" ip netns exec "$NS" wg show "$ifn" peers | wc -l)
		res peers "$got"
		[[ "$got" == "$PEERS" ]] || wt_fail "$name: wg show $ifn peers: $got lines, expected $PEERS"
		pub=$(wt_wg "$NS" show "$ifn" public-key)
		[[ "$pub" == "$KEY_PUB" ]] || wt_fail "$name: public key after setconf is '$pub', expected $KEY_PUB"
		lp=$(wt_wg "$NS" show "$ifn" listen-port)
		[[ "$lp" == "$port" ]] || wt_fail "$name: listen port after setconf is '$lp', expected $port"

		t0=$(now_s)
		timeout "$T_SHOW" ip netns exec "$NS" wg show "$ifn" dump >"$WT_TMP/$ifn.dump"
		rc=$?
		t1=$(now_s)
		((rc == 0)) || wt_fail "$name: wg show $ifn dump exited $rc (timeout ${T_SHOW}s)"
		res dump_s "$(elapsed "$t0" "$t1")"
		lines=$(wc -l <"$WT_TMP/$ifn.dump")
		((lines == PEERS + 1)) || wt_fail "$name: wg show dump has $lines lines, expected $((PEERS + 1))"
		# every peer: transfer 0 0 (fields 6 and 7 of a peer line)
		moved=$(awk -F'\t' 'NR > 1 && ($6 != 0 || $7 != 0) { n++ } END { print n + 0 }' "$WT_TMP/$ifn.dump")
		rm -f "$WT_TMP/$ifn.dump"
		res rss_dump "$(status_kb "$DPID" VmRSS)"
		res hwm "$(status_kb "$DPID" VmHWM)"
		res threads "$(awk '$1 == "Threads:" { print $2 }' "/proc/$DPID/status")"

		net1=$(net_counters "$NS")
		res net "$net0 -> $net1"
		((moved == 0)) || wt_fail "$name: $moved peers show transferred bytes"
		[[ -n "$net0" && "$net0" == "$net1" ]] ||
			wt_fail "$name: the namespace's send counters moved (udp udp6 noroute noroute6: $net0 -> $net1)"
		res ok 1
	) &
	pid=$!
	WT_PIDS+=("$pid")
	wait "$pid"
	rc=$?
	unset 'WT_PIDS[-1]'
	((rc == 0)) || { FAILED+=("$name"); wt_log "$name: FAILED"; }
	rm -f "$(wt_sock "$ifn")"
}

# get NAME KEY: a result ("" if none).
get() { awk -F'\t' -v n="$1" -v k="$2" '$1 == n && $2 == k { v = $3 } END { print v }' "$RESULTS"; }
mib() { [[ -n "$1" ]] && awk -v k="$1" 'BEGIN { printf "%.2f MiB", k / 1024 }' || echo "-"; }

# ---------------------------------------------------------------- run

PORT=51820	# both daemons in turn, in this namespace only
wt_ns NS m
wt_ifname IF_W W
wt_ifname IF_G G
wt_keypair KEY
wt_log "$(uname -sr), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $PEERS peers"

t0=$(now_s)
# setconf replaces the whole configuration: without these two lines it
# would clear the private key and the listen port set before.
printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n' "$KEY_PRIV" "$PORT" >"$CONF"
gen_conf "$CONF.peers" "$PEERS" || wt_fail "generating the configuration failed"
cat "$CONF.peers" >>"$CONF" || wt_fail "writing $CONF"
rm -f "$CONF.peers"
t1=$(now_s)
n=$(grep -c '^\[Peer\]' "$CONF")
((n == PEERS)) || wt_fail "configuration has $n peers, expected $PEERS"
wt_log "configuration: $PEERS peers, $(wc -c <"$CONF") bytes, made in $(elapsed "$t0" "$t1") s"

IMPLS=("weft-wg|$WEFT_WG|$IF_W|$PORT")
if [[ "$WGO" != none ]]; then
	IMPLS+=("wireguard-go|$WGO|$IF_G|$PORT")
fi
for spec in "${IMPLS[@]}"; do
	IFS='|' read -r name impl ifn port <<<"$spec"
	measure "$name" "$impl" "$ifn" "$port"
done

# ---------------------------------------------------------------- report

echo
printf 'Memory with %d peers (wg setconf), %s, %s CPUs\n' "$PEERS" "$(uname -sr)" "$(nproc)"
printf '%-14s %12s %14s %10s %10s %10s %14s %12s\n' implementation "RSS before" "RSS N peers" "B/peer" \
	"setconf s" "dump s" "RSS after dump" "VmHWM"
for spec in "${IMPLS[@]}"; do
	IFS='|' read -r name _ <<<"$spec"
	r0=$(get "$name" rss0) rn=$(get "$name" rssn)
	bpp=-
	[[ -n "$r0" && -n "$rn" ]] && bpp=$(((rn - r0) * 1024 / PEERS))
	st=$(get "$name" setconf_s) ds=$(get "$name" dump_s)
	printf '%-14s %12s %14s %10s %10s %10s %14s %12s%s\n' "$name" "$(mib "$r0")" "$(mib "$rn")" "$bpp" \
		"${st:--}" "${ds:--}" "$(mib "$(get "$name" rss_dump)")" "$(mib "$(get "$name" hwm)")" \
		"$([[ -n "$(get "$name" ok)" ]] || echo "  FAILED")"
done
echo "(RSS = VmRSS of the daemon; B/peer = (RSS with N peers - RSS before) / N, in bytes;"
echo " RssAnon before -> with N peers: $(for spec in "${IMPLS[@]}"; do IFS='|' read -r name _ <<<"$spec"
	printf '%s %s -> %s; ' "$name" "$(mib "$(get "$name" anon0)")" "$(mib "$(get "$name" anonn)")"; done)"
echo " send counters udp udp6 noroute noroute6 of the namespace: $(for spec in "${IMPLS[@]}"; do IFS='|' read -r name _ <<<"$spec"
	printf '%s %s; ' "$name" "$(get "$name" net)"; done))"
echo

rc=0
rn=$(get weft-wg rssn)
limit=$((TARGET_MIB * 1024))
if ((${#FAILED[@]})); then
	wt_log "failed: ${FAILED[*]}"
	rc=1
fi
if [[ -z "$rn" ]]; then
	echo "TARGET: weft-wg RSS with $PEERS peers: not measured -> FAIL"
	rc=1
elif ((rn < limit)); then
	echo "TARGET: weft-wg RSS with $PEERS peers = $(mib "$rn") < $TARGET_MIB MiB -> PASS"
else
	echo "TARGET: weft-wg RSS with $PEERS peers = $(mib "$rn") >= $TARGET_MIB MiB -> FAIL"
	rc=1
fi
rd=$(get weft-wg rss_dump)
if [[ -n "$rd" ]] && ((rd >= limit)); then
	echo "note: weft-wg RSS after \`wg show dump\` = $(mib "$rd") >= $TARGET_MIB MiB (not part of the verdict above)"
fi
exit "$rc"
