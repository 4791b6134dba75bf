# shellcheck shell=bash
#
# bench/lib_bench.sh — the measurements of bench/run.sh, on top of
# tests/netns/lib.sh (source that first, then wt_init).
#
#   bench_busy_ticks            busy CPU ticks of the whole machine so far
#   bench_iperf VAR NS_SRV ADDR NS_CLI SECS [iperf3 client args...]
#                               one iperf3 test, bounded; VAR = its JSON file
#   bench_ping VAR NS ADDR COUNT
#                               VAR = "AVG_MS P99_MS REPLIES"
#   bench_measure NAME NS_SRV ADDR NS_CLI SECS OUT
#                               ping, TCP x1, TCP x4, UDP; one TSV line to OUT
#   bench_tables RESULTS        the Markdown tables (values and ratios)
#
# Knobs read here (set by run.sh): BENCH_PORT, BENCH_UDP_LEN, BENCH_UDP_RATE,
# BENCH_NOTES (a file collecting remarks printed under the tables).

: "${BENCH_PORT:=5201}"
: "${BENCH_UDP_LEN:=1372}"
: "${BENCH_UDP_RATE:=0}"
BENCH_HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

bench_note() { [[ -n "${BENCH_NOTES:-}" ]] && printf '%s\n' "$*" >>"$BENCH_NOTES"; }

# bench_busy_ticks: user + nice + system + irq + softirq + steal of the
# aggregate "cpu" line of /proc/stat, in USER_HZ ticks (idle and iowait are
# not busy; guest and guest_nice are already counted in user and nice).
bench_busy_ticks() {
	awk '$1 == "cpu" { printf "%d\n", $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# bench_iperf VAR NS_SRV ADDR NS_CLI SECS [ARGS...]: an iperf3 server
# (`-s -1`, bound to ADDR) in NS_SRV, the client in NS_CLI sending to it for
# SECS seconds with ARGS; both under timeout.  VAR gets the client's JSON
# file (empty on failure); BENCH_TICKS gets the busy CPU ticks spent while
# the client ran.
bench_iperf() {
	local _var=$1 _srv=$2 _addr=$3 _cli=$4 _secs=$5 _spid _rc _json _t0 _t1 _i _err
	shift 5
	printf -v "$_var" '%s' ""
	BENCH_TICKS=0
	_json=$(mktemp "$WT_TMP/iperf.XXXXXX.json")
	timeout $((_secs + 40)) ip netns exec "$_srv" iperf3 -s -1 -B "$_addr" -p "$BENCH_PORT" \
		>"$_json.server" 2>&1 &
	_spid=$!
	for ((_i = 0; _i < 100; _i++)); do
		ip netns exec "$_srv" ss -Htln "sport = :$BENCH_PORT" 2>/dev/null | grep -q . && break
		wt_alive "$_spid" || break
		sleep 0.1
	done
	_t0=$(bench_busy_ticks)
	timeout $((_secs + 30)) ip netns exec "$_cli" iperf3 -c "$_addr" -p "$BENCH_PORT" \
		-t "$_secs" --connect-timeout 5000 -J "$@" >"$_json" 2>"$_json.err"
	_rc=$?
	_t1=$(bench_busy_ticks)
	BENCH_TICKS=$((_t1 - _t0))
	wt_wait_exit "$_spid" 5 || kill "$_spid" 2>/dev/null
	wait "$_spid" 2>/dev/null
	# (iperf3 3.12 -J exits 0 after some errors, "error" in the JSON)
	_err=$(jq -r '.error // empty' "$_json" 2>/dev/null)
	if ((_rc != 0)) || [[ -n "$_err" ]]; then
		[[ -n "$_err" ]] || _err=$(cat "$_json.err" "$_json" 2>/dev/null | head -c 300 | tr '\n' ' ')
		wt_log "iperf3 $* to $_addr: exit $_rc${_err:+: $_err}"
		return 1
	fi
	printf -v "$_var" '%s' "$_json"
}

# bench_ping VAR NS ADDR COUNT: COUNT echo requests every 10 ms (bounded);
# VAR gets "AVG P99 REPLIES" from the per-reply times (p99: nearest rank,
# the ceil(0.99 n)-th smallest), or stays empty if nothing came back.
bench_ping() {
	local _var=$1 _ns=$2 _addr=$3 _count=$4 _out _res
	printf -v "$_var" '%s' ""
	_out=$(timeout $((_count / 50 + 30)) ip netns exec "$_ns" \
		ping -n -c "$_count" -i 0.01 -W 1 -w $((_count / 50 + 20)) "$_addr" 2>&1)
	_res=$(grep -o 'time[=<][0-9.]*' <<<"$_out" | cut -c6- | sort -g | awk '
		{ v[NR] = $1; s += $1 }
		END {
			if (NR == 0) exit 1
			r = int((99 * NR + 99) / 100)	# ceil(0.99 n)
			printf "%.3f %.3f %d\n", s / NR, v[r], NR
		}') || { wt_log "ping $_addr: no reply: $(tail -n 2 <<<"$_out" | tr '\n' ' ')"; return 1; }
	printf -v "$_var" '%s' "$_res"
}

# bench_mbits JSON JQPATH: .bits_per_second at JQPATH, in Mbit/s.
bench_mbits() { jq -r "($2.bits_per_second // empty) / 1e6 | tostring" "$1" 2>/dev/null; }

# bench_floor_start NS IFNAME PORT PEER_IP PEER_PORT OVERLAY_IP: runs
# $BUILD/bench/tunfloor for IFNAME in NS (TUN <-> UDP PORT, to and from
# PEER_IP:PEER_PORT) and gives the interface OVERLAY_IP/24 and the tunnels'
# 1420-byte MTU, so that its packets fit the underlay unfragmented.
bench_floor_start() {
	local ns=$1 ifn=$2 port=$3 peer=$4 pport=$5 ip=$6 bin pid i
	bin=$ROOT/${BUILD:-build}/bench/tunfloor
	[[ -x "$bin" ]] || wt_fail "$bin not built (make)"
	ip netns exec "$ns" "$bin" "$ifn" "$port" "$peer" "$pport" >>"$WT_TMP/$ifn.log" 2>&1 &
	pid=$!
	WT_PIDS+=("$pid")
	wt__res "pid $pid"
	for ((i = 0; i < 50; i++)); do
		ip -n "$ns" link show dev "$ifn" >/dev/null 2>&1 && break
		wt_alive "$pid" || wt_fail "tunfloor $ifn died: $(tail -n 3 "$WT_TMP/$ifn.log")"
		sleep 0.1
	done
	ip -n "$ns" link set dev "$ifn" mtu 1420 up || wt_fail "tunfloor $ifn: no interface"
	wt_addr "$ns" "$ifn" "$ip/24"
}

# bench_measure NAME NS_SRV ADDR NS_CLI SECS OUT: measures from NS_CLI to
# ADDR in NS_SRV and appends one line to OUT (tab-separated):
#   NAME SECS TCP1 TCP4 UDP UDP_LOSS% RTT_AVG RTT_P99 CPU_S_PER_GB
# (Mbit/s, ms); a value that could not be measured is FAILED.  Returns 1 if
# any was.
bench_measure() {
	local name=$1 srv=$2 addr=$3 cli=$4 secs=$5 out=$6 json r bytes
	local tcp1=FAILED tcp4=FAILED udp=FAILED loss=FAILED avg=FAILED p99=FAILED cpu=FAILED
	local n

	if bench_ping r "$cli" "$addr" "$PINGS"; then
		read -r avg p99 n <<<"$r"
		((n < PINGS)) && bench_note "$name: $n of $PINGS pings answered."
	fi
	sleep 0.5
	if bench_iperf json "$srv" "$addr" "$cli" "$secs"; then
		bytes=$(jq -r '.end.sum_received.bytes // empty' "$json" 2>/dev/null)
		r=$(bench_mbits "$json" .end.sum_received)
		[[ -n "$r" ]] && tcp1=$r
		if [[ "$bytes" =~ ^[0-9]+$ ]] && ((bytes > 0)); then
			cpu=$(awk -v t="$BENCH_TICKS" -v hz="$BENCH_HZ" -v b="$bytes" \
				'BEGIN { printf "%.3f", (t / hz) / (b / 1e9) }')
		fi
	fi
	sleep 0.5
	if bench_iperf json "$srv" "$addr" "$cli" "$secs" -P 4; then
		r=$(bench_mbits "$json" .end.sum_received)
		[[ -n "$r" ]] && tcp4=$r
	fi
	sleep 0.5
	if bench_iperf json "$srv" "$addr" "$cli" "$secs" -u -l "$BENCH_UDP_LEN" -b "$BENCH_UDP_RATE"; then
		# receiver side (iperf3 >= 3.11 reports sum_received for UDP)
		r=$(jq -r '(.end.sum_received // .end.sum) |
			"\(.bits_per_second * (if .sender then 1 - .lost_percent / 100 else 1 end) / 1e6) \(.lost_percent)"' \
			"$json" 2>/dev/null)
		[[ "$r" =~ ^[0-9.e+-]+\ [0-9.e+-]+$ ]] && read -r udp loss <<<"$r"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$secs" "$tcp1" "$tcp4" "$udp" \
		"$loss" "$avg" "$p99" "$cpu" >>"$out"
	wt_log "$name: TCP1 $(bench_fmt "$tcp1" 0) TCP4 $(bench_fmt "$tcp4" 0) UDP $(bench_fmt "$udp" 0) Mbit/s" \
		"(loss $(bench_fmt "$loss" 2)%), RTT avg $(bench_fmt "$avg" 3) p99 $(bench_fmt "$p99" 3) ms," \
		"CPU $(bench_fmt "$cpu" 2) s/GB"
	[[ "$tcp1$tcp4$udp$avg$cpu" != *FAILED* ]]
}

# bench_fmt VALUE DECIMALS: a number with DECIMALS decimals, else as is.
bench_fmt() {
	if [[ "$1" =~ ^-?[0-9.]+(e[-+]?[0-9]+)?$ ]]; then printf "%.${2}f" "$1"; else printf '%s' "$1"; fi
}

# bench_md: tab-separated lines (the first one the header) to an aligned
# Markdown table, first column left, the others right.
bench_md() {
	awk -F'\t' '
		{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) }
		  if (NF > nf) nf = NF }
		END {
			for (r = 1; r <= NR; r++) {
				line = "|"
				for (i = 1; i <= nf; i++)
					line = line " " sprintf("%" (i == 1 ? "-" : "") w[i] "s", c[r, i]) " |"
				print line
				if (r > 1) continue
				line = "|"
				for (i = 1; i <= nf; i++) {
					d = ""
					for (k = 1; k < w[i]; k++) d = d "-"
					line = line " " (i == 1 ? d "-" : d ":") " |"
				}
				print line
			}
		}'
}

# bench_tables RESULTS: the values, then the ratios against wireguard-go,
# against raw-veth and (when that row ran) against tun-floor, as Markdown.
bench_tables() {
	local results=$1
	printf 'Measured values (Mbit/s at the receiver; RTT in ms; CPU: busy seconds of all CPUs per GB received in the single-stream TCP test):\n\n'
	awk -F'\t' 'BEGIN { OFS = "\t"; print "row", "TCP1 Mbit/s", "TCP4 Mbit/s", "UDP Mbit/s", "UDP loss %", "RTT avg ms", "RTT p99 ms", "CPU s/GB" }
		function f(v, d) { return v ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ ? sprintf("%." d "f", v) : v }
		{ print $1, f($3, 0), f($4, 0), f($5, 0), f($6, 2), f($7, 3), f($8, 3), f($9, 2) }' "$results" | bench_md
	local ref
	for ref in wireguard-go raw-veth tun-floor; do
		[[ $ref == tun-floor ]] && ! awk -F'\t' '$1 == "tun-floor" { f = 1 } END { exit !f }' "$results" && continue
		if ! awk -F'\t' -v r="$ref" '$1 == r { for (i = 3; i <= 9; i++) if ($i != "FAILED") f = 1 } END { exit !f }' "$results"; then
			printf '\nAgainst %s: no ratios (the %s row FAILED or did not run).\n' "$ref" "$ref"
			continue
		fi
		printf '\nAgainst %s (throughput and CPU: row / %s, so >1 is more throughput, <1 less CPU; RTT: row - %s in ms, and row / %s):\n\n' \
			"$ref" "$ref" "$ref" "$ref"
		awk -F'\t' -v ref="$ref" '
			function num(v) { return v ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ }
			function ratio(a, b) { return (num(a) && num(b) && b + 0 > 0) ? sprintf("%.2fx", a / b) : (a == "FAILED" ? "FAILED" : "n/a") }
			function diff(a, b) { return (num(a) && num(b)) ? sprintf("%+.3f", a - b) : (a == "FAILED" ? "FAILED" : "n/a") }
			{ for (i = 1; i <= NF; i++) v[NR, i] = $i; if ($1 == ref) r = NR }
			END {
				OFS = "\t"
				print "row", "TCP1", "TCP4", "UDP", "RTT avg +ms", "RTT avg x", "RTT p99 +ms", "RTT p99 x", "CPU s/GB x"
				for (n = 1; n <= NR; n++) {
					if (n == r) continue
					if (!r) { print v[n, 1], "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"; continue }
					print v[n, 1], ratio(v[n, 3], v[r, 3]), ratio(v[n, 4], v[r, 4]), ratio(v[n, 5], v[r, 5]),
						diff(v[n, 7], v[r, 7]), ratio(v[n, 7], v[r, 7]),
						diff(v[n, 8], v[r, 8]), ratio(v[n, 8], v[r, 8]), ratio(v[n, 9], v[r, 9])
				}
			}' "$results" | bench_md
	done
}
