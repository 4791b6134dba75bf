#!/usr/bin/env bash
# wg-quick drives the implementation exactly like wireguard-go: a config
# file (mode 0600) with Address/ListenPort/PrivateKey/[Peer], brought up
# with WG_QUICK_USERSPACE_IMPLEMENTATION=IMPL wg-quick up FILE in each
# namespace (A with IMPL_A, B with IMPL_B), ping across, wg-quick save,
# wg-quick down; then each daemon must have exited and its socket be gone.
set -u
. "$(dirname "$0")/lib.sh"
wt_init wg_quick
command -v wg-quick >/dev/null || wt_fail "wg-quick not installed"
wt_pair_net
wt_ifname IF_A A
wt_ifname IF_B B
wt_keypair A
wt_keypair B
for ifn in "$IF_A" "$IF_B"; do wt__stale_sock "$ifn"; done

CONF_A=$WT_TMP/$IF_A.conf CONF_B=$WT_TMP/$IF_B.conf
( umask 077
cat >"$CONF_A" <<CONF
[Interface]
Address = $O4_A/24, $O6_A/64
ListenPort = $PORT_A
PrivateKey = $A_PRIV

[Peer]
PublicKey = $B_PUB
Endpoint = $U4_B:$PORT_B
AllowedIPs = $O4_B/32, $O6_B/128
PersistentKeepalive = 25
CONF
cat >"$CONF_B" <<CONF
[Interface]
Address = $O4_B/24, $O6_B/64
ListenPort = $PORT_B
PrivateKey = $B_PRIV

[Peer]
PublicKey = $A_PUB
AllowedIPs = $O4_A/32, $O6_A/128
CONF
)
chmod 0600 "$CONF_A" "$CONF_B"
wt_assert_eq "config file mode" 600 "$(stat -c %a "$CONF_A")"

# With a wireguard kernel module loaded, wg-quick would use it instead of
# the userspace implementation; a PATH shim for `ip link add IF type
# wireguard` then starts the implementation the way wg-quick's fallback does.
SHIM_PATH=$PATH
if [[ -e /sys/module/wireguard || -n "${WT_FORCE_IP_SHIM:-}" ]]; then
	mkdir -p "$WT_TMP/shim"
	cat >"$WT_TMP/shim/ip" <<SHIM
#!/bin/sh
if [ "\$1" = link ] && [ "\$2" = add ] && [ "\$4" = type ] && [ "\$5" = wireguard ]; then
	echo "[shim] \$WG_QUICK_USERSPACE_IMPLEMENTATION \$3" >&2
	exec "\$WG_QUICK_USERSPACE_IMPLEMENTATION" "\$3"
fi
exec $(command -v ip) "\$@"
SHIM
	chmod 0755 "$WT_TMP/shim/ip"
	SHIM_PATH=$WT_TMP/shim:$PATH
	wt_log "wireguard kernel module present (or WT_FORCE_IP_SHIM): using an ip(8) shim so wg-quick runs the userspace implementation"
fi

# quick NS IMPL up|down|save CONF
quick() {
	local ns=$1 impl=$2 wrapper
	wrapper=$(wt_wrapper "$impl")
	shift 2
	timeout 30 ip netns exec "$ns" env PATH="$SHIM_PATH" \
		WG_QUICK_USERSPACE_IMPLEMENTATION="$wrapper" wg-quick "$@" >>"$WT_TMP/wg-quick.log" 2>&1
}

for side in A B; do
	ns=NS_$side impl=IMPL_$side conf=CONF_$side ifn=IF_$side
	if ! quick "${!ns}" "${!impl}" up "${!conf}"; then
		sed 's/^/    | /' "$WT_TMP/wg-quick.log"
		wt_fail "wg-quick up ${!conf} ($(wt_impl_name "${!impl}"))"
	fi
	wt_wait_for "${!ifn} ready" 10 wt_ready "${!ns}" "${!ifn}" || wt_fail "${!ifn} not ready after wg-quick up"
	pid=$(wt_sock_pid "${!ns}" "${!ifn}")
	[[ -n "$pid" ]] || wt_fail "no process serves $(wt_sock "${!ifn}")"
	WT_PIDS+=("$pid"); wt__res "pid $pid"
	printf -v "PID_$side" '%s' "$pid"
	wt_pass "wg-quick up $side: $(wt_impl_name "${!impl}") serving ${!ifn} (pid $pid)"
done
grep -q 'Falling back to slow userspace\|\[shim\]' "$WT_TMP/wg-quick.log" &&
	wt_pass "wg-quick used the userspace implementation"

wt_wait_ping "$NS_A" "$O4_B" 15 || wt_fail "ping A -> B not answered within 15s"
wt_assert_ping "$NS_A" "$O4_B" 5
wt_assert_ping "$NS_A" "$O6_B" 5
wt_assert_ping "$NS_B" "$O4_A" 5
wt_assert_ping "$NS_B" "$O6_A" 5
wt_assert_gt "A: latest handshake nonzero" "$(wt_handshake "$NS_A" "$IF_A" "$B_PUB")" 0
mtu=$(ip -n "$NS_A" -o link show dev "$IF_A" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
wt_assert_eq "wg-quick set A's MTU (1500 - 80)" 1420 "$mtu"

quick "$NS_A" "$IMPL_A" save "$CONF_A" || wt_fail "wg-quick save"
wt_assert "wg-quick save kept the peer" grep -q "^PublicKey = $B_PUB" "$CONF_A"
wt_assert "wg-quick save kept the address" grep -q "^Address = .*$O4_A/24" "$CONF_A"
wt_assert "wg-quick save wrote the private key" grep -q "^PrivateKey = $A_PRIV" "$CONF_A"

for side in A B; do
	ns=NS_$side impl=IMPL_$side conf=CONF_$side ifn=IF_$side pid=PID_$side
	if ! quick "${!ns}" "${!impl}" down "${!conf}"; then
		sed 's/^/    | /' "$WT_TMP/wg-quick.log"
		wt_fail "wg-quick down ${!conf}"
	fi
	wt_pass "wg-quick down $side"
	wt_wait_exit "${!pid}" 10 || wt_fail "$side: daemon (pid ${!pid}) still running 10s after wg-quick down"
	wt_pass "$side: daemon exited"
	sock_gone() { [[ ! -e "$(wt_sock "$1")" ]]; }
	wt_wait_for "socket removed" 5 sock_gone "${!ifn}" || wt_fail "$side: $(wt_sock "${!ifn}") still exists"
	wt_pass "$side: socket $(wt_sock "${!ifn}") removed"
	wt_assert "$side: interface gone" bash -c "! ip -n '${!ns}' link show dev '${!ifn}' >/dev/null 2>&1"
done
wt_done
