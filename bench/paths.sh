#!/usr/bin/env bash
# bench/paths.sh — issue 4's figures, from one run on this machine
# (docs/paths-bench.md):
#   1. the NAT reachability matrix rows 1-5 (tests/nat/test_matrix.sh):
#      ping round trip and iperf3 TCP through weft against the raw
#      underlay in the same run, as ratios;
#   2. relayed against direct: row 4 (relay) and row 2 (direct) iperf3
#      in the same run, and the relay alone on loopback for one pair
#      (build/tools/relayload --throughput against a local weft-server);
#   3. first packet to a direct path in row 2, PATHS_RUNS times (default
#      5): median.
# Root (namespaces).  About 3 minutes.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
RUNS=${PATHS_RUNS:-5}
OUT=$(mktemp -d /tmp/weft-paths-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
((EUID == 0)) || { echo "bench/paths.sh: needs root (network namespaces)" >&2; exit 1; }

echo "== matrix rows 1-5 (one run)"
NAT_ROWS="1 2 3 4 5" BUILD=$BUILD timeout 600 bash "$ROOT/tests/nat/test_matrix.sh" >"$OUT/matrix" 2>&1
grep -E 'figures|=== row .*(PASS|FAIL)|checks passed|failed' "$OUT/matrix" | sed 's/^\[matrix\] //'
echo
echo "row | ping weft ms | ping raw ms | RTT ratio | iperf3 weft Mbit/s | raw Mbit/s | throughput ratio"
awk '/row [0-9] figures/ {
	match($0, /row [0-9]/); row = substr($0, RSTART + 4, 1)
	split($0, f, /[ ,;]+/)
	for (i = 1; i <= length(f); i++) {
		if (f[i] ~ /->/ && p1 == "") p1 = f[i + 1]
		else if (f[i] ~ /->/) p2 = f[i + 1]
		if (f[i] == "underlay" || f[i] == "LAN") { if (rr == "") rr = f[i + 1]; else rb = f[i + 1] }
		if (f[i] == "weft") wb = f[i + 1]
	}
	avg = (p1 + p2) / 2
	printf "%s | %.3f | %s | %s | %s | %s | %s\n", row, avg, rr,
		(rr + 0 > 0 ? sprintf("%.2f", avg / rr) : "-"), wb, rb,
		(rb + 0 > 0 ? sprintf("%.2f", wb / rb) : "-")
	p1 = p2 = rr = rb = wb = ""
}' "$OUT/matrix"
d=$(awk '/row 2 figures/ { for (i = 1; i <= NF; i++) if ($i == "weft") { v = $(i + 1); sub(/,/, "", v); print v } }' "$OUT/matrix")
r=$(awk '/row 4 figures/ { for (i = 1; i <= NF; i++) if ($i == "weft") { v = $(i + 1); sub(/,/, "", v); print v } }' "$OUT/matrix")
echo
echo "== relayed (row 4) against direct (row 2), same run: ${r:-?} / ${d:-?} Mbit/s" \
	"= $(awk -v r="${r:-0}" -v d="${d:-0}" 'BEGIN { print (d > 0 ? sprintf("%.2f", r / d) : "-") }')"

echo
echo "== the relay alone on loopback, one pair (relayload --throughput, 5 s)"
T=$OUT/srv
PORT=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export WEFT_STATE_DIR=$T
"$ROOT/$BUILD/weft-server" init --endpoint "127.0.0.1:$PORT" --listen "127.0.0.1:$PORT" >/dev/null 2>&1
"$ROOT/$BUILD/weft-server" serve --stun-listen 127.0.0.1:0 --log-level warn >"$OUT/server.log" 2>&1 &
SPID=$!
for _ in $(seq 50); do "$ROOT/$BUILD/weft-server" status >/dev/null 2>&1 && break; sleep 0.1; done
"$ROOT/$BUILD/weft-server" networks create bench >/dev/null
TOKEN=$("$ROOT/$BUILD/weft-server" keys create --network bench --reusable)
timeout 60 "$ROOT/$BUILD/tools/relayload" --throughput --seconds 5 "$TOKEN" 2>&1 | sed "s|$TOKEN|TOKEN|"
kill "$SPID"; wait "$SPID" 2>/dev/null

echo
echo "== first packet to a direct path, row 2, $RUNS runs"
for ((k = 1; k <= RUNS; k++)); do
	NAT_ROWS=2 BUILD=$BUILD timeout 300 bash "$ROOT/tests/nat/test_matrix.sh" 2>&1 |
		sed -n 's/.*proven \([0-9.]*\) s after the first packet.*/\1/p' | head -n 1
done >"$OUT/direct"
echo "samples (s): $(paste -sd' ' "$OUT/direct")"
echo "median: $(sort -n "$OUT/direct" | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }') s (target < 1 s)"
