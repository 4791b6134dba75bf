# shellcheck shell=bash
# tests/integration/lib.sh — what the loopback integration tests share: a
# weft-server with a fresh state directory in $T, its start and stop,
# bounded runs, and the "# ok - / # FAIL -" lines tests/run.sh shows.
#
#   it_init NAME        T, BIN, WEFT_STATE_DIR, SOCK, PY; traps clean up
#   start_server ARGS   serve (STUN on a free loopback port), wait for it
#   stop_server
#   run LIMIT CMD...    OUT, ERR, RC of one bounded run
#   ws ARGS...          run 10 weft-server ARGS
#   ok DESC / not_ok DESC / it_done / it_check_server_log
#   free_udp_port       a free UDP port on 127.0.0.1; free_port UDP and TCP
set -u
IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
BIN=${WEFT_SERVER:-$IT_ROOT/$BUILD/weft-server}
SERVER_PID="" SERVER_RC=-1
passed=0 failed=0

it_init() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/weft-$1-test.XXXXXX")
	export WEFT_STATE_DIR=$T/state
	SOCK=$WEFT_STATE_DIR/admin.sock
	trap 'stop_server; rm -rf "$T"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	PY=$(python3 -c 'import sys; print(sys.executable)') ||
		{ echo "# FAIL - python3 is needed"; exit 1; }
}

ok() { echo "# ok - $1"; passed=$((passed + 1)); }
not_ok() {
	echo "# FAIL - $1"
	[[ -s $T/err ]] && sed 's/^/#   stderr: /' "$T/err" | head -5
	failed=$((failed + 1))
}
# it_check_server_log: no sanitizer report in the server's log.
it_check_server_log() {
	if grep -q Sanitizer "$T/server.log"; then
		not_ok "the server's log has a sanitizer report"
		grep -A20 Sanitizer "$T/server.log" | sed 's/^/#   server: /' | head -40
	else
		ok "no sanitizer report in the server's log"
	fi
}

it_done() {
	echo "# $1: $passed passed, $failed failed"
	((failed == 0))
}

run() {
	local limit=$1
	shift
	timeout -k 2 "$limit" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	[[ $ERR == *Sanitizer* ]] && not_ok "sanitizer report from: ${1##*/}"
}
ws() { run 10 "$BIN" "$@"; }

wait_for_socket() {
	for _ in $(seq 100); do
		[[ -S $SOCK ]] && "$BIN" status >/dev/null 2>&1 && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
start_server() {
	"$BIN" serve --stun-listen 127.0.0.1:0 "$@" >>"$T/server.log" 2>&1 &
	SERVER_PID=$!
	wait_for_socket
}
stop_server() {
	[[ -n "$SERVER_PID" ]] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_RC=$?
	SERVER_PID=""
}
# free_port: one free for both UDP and TCP on 127.0.0.1 (the relay
# shares the control plane's port number).
free_port() {
	"$PY" -c '
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break'
}
free_udp_port() {
	"$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
