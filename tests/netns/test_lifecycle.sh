#!/usr/bin/env bash
# Daemon lifecycle (IMPL_A only): SIGTERM and SIGINT make the foreground
# daemon exit and remove its socket; `ip link del` makes it exit; the
# detached mode returns once ready and serves the socket; a stale socket
# left by a SIGKILLed daemon does not block a restart; a second daemon for
# the same interface is refused without disturbing the first; weft-wg
# refuses data-plane settings it does not know.
# matrix: single
set -u
. "$(dirname "$0")/lib.sh"
wt_init lifecycle
IMPL=$IMPL_A
NAME=$(wt_impl_name "$IMPL")
wt_ns NS a
wt_ifname IF L
wt_keypair K
SOCK=$(wt_sock "$IF")

sock_gone() { [[ ! -e "$SOCK" ]]; }
link_gone() { ! ip -n "$NS" link show dev "$IF" >/dev/null 2>&1; }

# stopped PID HOW: the daemon exits within 10 s, socket and link go away.
stopped() {
	local pid=$1 how=$2 rc
	wt_wait_exit "$pid" 10 || wt_fail "$how: $NAME (pid $pid) still running after 10s"
	wait "$pid" 2>/dev/null
	rc=$?
	if ((rc == 127)); then rc="not our child"; else rc="status $rc"; fi
	wt_pass "$how: $NAME exited ($rc)"
	wt_wait_for "socket removed" 5 sock_gone || wt_fail "$how: $SOCK still exists"
	wt_pass "$how: socket removed"
	wt_wait_for "link removed" 5 link_gone || wt_fail "$how: $IF still exists"
	wt_pass "$how: interface gone"
}

configure() {
	wt_wg "$NS" set "$IF" private-key "$K_KEY" listen-port 51820 || wt_fail "wg set $IF"
	ip -n "$NS" link set "$IF" up || wt_fail "ip link set $IF up"
	wt_assert_eq "$1: wg show $IF public-key" "$K_PUB" "$(wt_wg "$NS" show "$IF" public-key)"
}

# 1. SIGTERM
wt_start PID "$NS" "$IF" "$IMPL"
wt_pass "started $NAME -f $IF (pid $PID)"
configure "foreground"
kill -TERM "$PID"
stopped "$PID" SIGTERM

# 2. SIGINT
wt_start PID "$NS" "$IF" "$IMPL"
kill -INT "$PID"
stopped "$PID" SIGINT

# 3. ip link del
wt_start PID "$NS" "$IF" "$IMPL"
ip -n "$NS" link del "$IF" || wt_fail "ip link del $IF"
stopped "$PID" "ip link del"

# 4. detached
t0=$SECONDS
wt_start PID "$NS" "$IF" "$IMPL" detach
wt_pass "detached: '$NAME $IF' returned in $((SECONDS - t0))s, daemon pid $PID"
wt_assert "detached: daemon running" wt_alive "$PID"
configure "detached"
kill -TERM "$PID"
stopped "$PID" "detached, SIGTERM"

# 5. stale socket after SIGKILL
wt_start PID "$NS" "$IF" "$IMPL"
kill -KILL "$PID"
wt_wait_exit "$PID" 5
wait "$PID" 2>/dev/null
wt_wait_for "link removed" 5 link_gone
if [[ -e "$SOCK" ]]; then wt_pass "SIGKILL left a stale socket"; else wt_log "SIGKILL left no socket"; fi
ip netns exec "$NS" $IMPL -f "$IF" >>"$WT_TMP/$IF.log" 2>&1 &
PID=$!
WT_PIDS+=("$PID"); wt__res "pid $PID"
wt_wait_for "$IF ready" 15 wt_ready "$NS" "$IF" || wt_fail "restart over a stale socket: $IF not ready"
configure "restart over a stale socket"

# 6. a second daemon for the same interface is refused
timeout 15 ip netns exec "$NS" $IMPL -f "$IF" >>"$WT_TMP/second.log" 2>&1
rc=$?
if ((rc == 124)); then wt_fail "second '$NAME -f $IF' still running after 15s"; fi
wt_assert_ne "second daemon for $IF refused (exit status)" 0 "$rc"
wt_assert "first daemon still running" wt_alive "$PID"
wt_assert_eq "first daemon still answers" "$K_PUB" "$(wt_wg "$NS" show "$IF" public-key)"
kill -TERM "$PID"
stopped "$PID" "after refused second start, SIGTERM"

# 7. weft-wg's data-plane settings: a value it does not know is refused
# at start with a message naming it, and no interface is made
if wt_is_weft "$IMPL"; then
	for bad in WEFT_WG_THREADS=0 WEFT_WG_THREADS=x WEFT_WG_OFFLOAD=tun,foo \
		WEFT_WG_ANSWER_POLL_US=-1 WEFT_WG_POLL_US=1e3; do
		out=$(env "$bad" timeout 15 ip netns exec "$NS" $IMPL -f "$IF" 2>&1)
		rc=$?
		wt_assert_ne "$bad refused (exit status)" 0 "$rc"
		wt_assert_match "$bad: the message names it" "${bad%%=*}" "$out"
		wt_assert "$bad: no interface left" link_gone
	done
fi
wt_done
