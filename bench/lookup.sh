#!/usr/bin/env bash
# bench/lookup.sh — the LOOKUP handling rate of weft-server on one core,
# with 1 000 and with 100 000 registered nodes (docs/lookup-bench.md).
#
# For each size: a fresh state directory, `weft-server init` on loopback,
# a network big enough (10.64.0.0/14) and a reusable join key, N nodes
# seeded into the database (build/tools/seednodes, the store's own
# store_node_create), then `weft-server serve` pinned to CPU 0 and the load
# generator (build/tools/ctlload: K clients, real WireGuard sessions,
# REGISTER with the key, W LOOKUPs in flight each) pinned to CPU 1.
#
# Targets (the issue): at least 20 000 lookups/s with 100 000 nodes, and
# that rate within 20% of the rate with 1 000.  Exit 0 when both are met,
# 1 when one is missed or a run failed.
#
#   LOOKUP_SIZES    node counts to measure (default "1000 100000"; the
#                   verdict needs the first and the last)
#   LOOKUP_SECONDS  measured seconds per size (default 10, at most 120)
#   LOOKUP_WARMUP   unmeasured seconds first (default 2)
#   LOOKUP_CLIENTS  load clients (default 64)
#   LOOKUP_WINDOW   LOOKUPs in flight per client (default 8)
#   LOOKUP_BY       ipv4 | ipv6 | name | mix (default ipv4)
#   LOOKUP_RUNS     runs per size, the median is kept (default 3)
#   LOOKUP_MAX_OTHER  a run during which other processes used more than
#                   this share of a core (%, default 15) is repeated, at
#                   most twice: the figure is the server's, not the
#                   machine's neighbours'
#   BUILD           build directory (default build)
#   WEFT_SERVER     server binary (default $BUILD/weft-server)
#
# Loopback only; every step is bounded by timeout; the servers and the
# temporary directory are removed on every exit path.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
SERVER=${WEFT_SERVER:-$ROOT/$BUILD/weft-server}
SEED=$ROOT/$BUILD/tools/seednodes
LOAD=$ROOT/$BUILD/tools/ctlload
SIZES=${LOOKUP_SIZES:-1000 100000}
SECS=${LOOKUP_SECONDS:-10}
WARMUP=${LOOKUP_WARMUP:-2}
CLIENTS=${LOOKUP_CLIENTS:-64}
WINDOW=${LOOKUP_WINDOW:-8}
BY=${LOOKUP_BY:-ipv4}
RUNS=${LOOKUP_RUNS:-3}
MAX_OTHER=${LOOKUP_MAX_OTHER:-15}
TARGET_RATE=20000
TARGET_RATIO=0.80

SERVER_PID="" LOAD_PID=""
T=""

log() { echo "lookup: $*" >&2; }
die() { log "$*"; exit 1; }

stop_server() {
	[[ -n "$SERVER_PID" ]] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=""
}
cleanup() {
	[[ -n "$LOAD_PID" ]] && kill -TERM "$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null
	stop_server
	[[ -n "$T" ]] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

for b in "$SERVER" "$SEED" "$LOAD"; do
	[[ -x $b ]] || die "$b is not built (run make)"
done
# in_range NAME VALUE MIN MAX: dies unless VALUE is an integer in MIN..MAX.
in_range() {
	if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3 || $2 > $4)); then
		die "$1=$2: want an integer in $3..$4"
	fi
}
in_range LOOKUP_SECONDS "$SECS" 1 120
in_range LOOKUP_WARMUP "$WARMUP" 0 60
in_range LOOKUP_RUNS "$RUNS" 1 9
in_range LOOKUP_MAX_OTHER "$MAX_OTHER" 0 100
read -ra SIZE_LIST <<<"$SIZES"
((${#SIZE_LIST[@]} >= 1)) || die "LOOKUP_SIZES is empty"
for n in "${SIZE_LIST[@]}"; do in_range "a size in LOOKUP_SIZES" "$n" 1 1000000; done
T=$(mktemp -d "${TMPDIR:-/tmp}/weft-lookup.XXXXXX") || die "mktemp failed"

# One core each when there are two; unpinned (and said so) otherwise.
PIN_SERVER=() PIN_LOAD=()
if command -v taskset >/dev/null && (($(nproc) >= 2)); then
	PIN_SERVER=(taskset -c 0)
	PIN_LOAD=(taskset -c 1)
else
	log "warning: taskset or a second CPU is missing: server and load are not pinned"
fi

# A free loopback UDP port: bind to port 0 and read what the kernel chose.
free_udp_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# ws ARGS...: one bounded admin command against the current state dir.
ws() { timeout -k 2 10 "$SERVER" "$@"; }

# start_server [PIN...]: serve in the background, wait for the admin socket.
start_server() {
	"$@" "$SERVER" serve --stun-listen 127.0.0.1:0 --log-level warn >>"$WEFT_STATE_DIR/server.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		ws status >/dev/null 2>&1 && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "the server did not start; its log:"
	sed 's/^/  /' "$WEFT_STATE_DIR/server.log" >&2
	return 1
}

# prepare N: a state dir with a network, a reusable key ($DIR/token), N
# seeded nodes (targets in $DIR/targets) and a copy of the seeded database
# ($DIR/seeded.db) that every run starts from.  DIR=$T/nN.
prepare() {
	local n=$1 port
	DIR=$T/n$n
	export WEFT_STATE_DIR=$DIR/state
	port=$(free_udp_port)
	mkdir -p "$DIR"
	ws init --endpoint "127.0.0.1:$port" --listen "127.0.0.1:$port" >"$DIR/init.log" 2>&1 ||
		{ log "init failed:"; sed 's/^/  /' "$DIR/init.log" >&2; return 1; }
	start_server || return 1
	if ! ws networks create bench --prefix4 10.64.0.0/14 >/dev/null ||
	   ! ws keys create --network bench --reusable >"$DIR/token"; then
		log "network or key creation failed"
		return 1
	fi
	stop_server
	timeout -k 2 300 "$SEED" --db "$WEFT_STATE_DIR/weft.db" --network bench \
		--count "$n" --targets "$DIR/targets" >"$DIR/seed.out" ||
		{ log "seeding $n nodes failed"; return 1; }
	cp "$WEFT_STATE_DIR/weft.db" "$DIR/seeded.db"
	log "$n nodes: $(cat "$DIR/seed.out")"
}

# measure N: one run from the seeded database (the load clients' own
# registrations of earlier runs are gone); sets LINE to ctlload's line.
# Runs in this shell (not a $(...) subshell), so that the trap knows the
# server's and the load generator's pids.
measure() {
	local rc
	DIR=$T/n$1
	export WEFT_STATE_DIR=$DIR/state
	rm -f "$WEFT_STATE_DIR"/weft.db-wal "$WEFT_STATE_DIR"/weft.db-shm
	cp "$DIR/seeded.db" "$WEFT_STATE_DIR/weft.db"
	start_server "${PIN_SERVER[@]}" || return 1
	timeout --foreground -k 5 $((SECS + WARMUP + 100)) "${PIN_LOAD[@]}" "$LOAD" \
		--targets "$DIR/targets" --clients "$CLIENTS" --window "$WINDOW" \
		--seconds "$SECS" --warmup "$WARMUP" --by "$BY" \
		--server-pid "$SERVER_PID" "$(cat "$DIR/token")" \
		>"$DIR/load.out" 2>"$DIR/load.err" &
	LOAD_PID=$!
	wait "$LOAD_PID"
	rc=$?
	LOAD_PID=""
	stop_server
	LINE=$(cat "$DIR/load.out")
	if ((rc != 0)) || [[ $LINE != lookups=* ]]; then
		log "ctlload failed (exit $rc):"
		sed 's/^/  /' "$DIR/load.err" >&2
		return 1
	fi
}

# field NAME LINE: the value of NAME=... in a ctlload line.
field() { sed -n "s/.*\\b$1=\\([^ /%]*\\).*/\\1/p" <<<"$2"; }

# measure_quiet N: measure, repeated (up to 3 attempts) while other
# processes took more than MAX_OTHER% of the server's core; sets LINE.
measure_quiet() {
	local other attempt
	for attempt in 1 2 3; do
		measure "$1" || return 1
		other=$(field other_cpu "$LINE")
		((${other:-0} <= MAX_OTHER)) && break
		log "$1 nodes: disturbed run $attempt of 3 (other processes used ${other}% of the server's core)"
	done
}

row() { printf '%-8s %10s %7s %8s %11s %10s %8s %9s\n' "$@"; }

log "$(uname -sr), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "$CLIENTS clients x $WINDOW in flight, LOOKUP by $BY, ${WARMUP}s warmup + ${SECS}s measured, $RUNS run(s) per size"
for n in "${SIZE_LIST[@]}"; do
	prepare "$n" || exit 1
done
declare -A RATES
row nodes rate/s errors timeouts latency_us server_cpu load_cpu other_cpu
# Sizes alternate within each round, so a slow spell of the machine
# touches both alike.
for _ in $(seq "$RUNS"); do
	for n in "${SIZE_LIST[@]}"; do
		measure_quiet "$n" || exit 1
		line=$LINE
		RATES[$n]+="$(field rate "$line") "
		row "$n" "$(field rate "$line")" "$(field errors "$line")" \
			"$(field timeouts "$line")" "$(field avg_latency_us "$line")" \
			"$(field server_cpu "$line")%" "$(field load_cpu "$line")%" \
			"$(field other_cpu "$line")%"
		[[ $(field errors "$line") == 0 && $(field timeouts "$line") == 0 ]] ||
			log "warning: $n nodes: errors or timeouts in: $line"
	done
done

# median RATES...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

small=${SIZE_LIST[0]} large=${SIZE_LIST[-1]}
((small != large)) || exit 0
# shellcheck disable=SC2086
r_small=$(median ${RATES[$small]}) r_large=$(median ${RATES[$large]})
awk -v s="$r_small" -v l="$r_large" -v ns="$small" -v nl="$large" -v runs="$RUNS" \
	-v want="$TARGET_RATE" -v ratio="$TARGET_RATIO" 'BEGIN {
	r = l / s
	ok1 = l >= want; ok2 = r >= ratio
	printf "median of %d run(s): %d nodes %d/s, %d nodes %d/s, ratio %.3f\n", runs, ns, s, nl, l, r
	printf "target >= %d lookups/s with %d nodes: %s\n", want, nl, ok1 ? "met" : "MISSED"
	printf "target: the %d-node rate within 20%% of the %d-node rate: %s\n", nl, ns, ok2 ? "met" : "MISSED"
	exit (ok1 && ok2) ? 0 : 1
}'
