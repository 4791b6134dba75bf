#!/usr/bin/env bash
# matrix.sh [TEST...] — runs the network-namespace tests for each pair of
# implementations (A initiates, B responds) and prints one TAP line per
# (test, pair), then "N passed, N failed".
#
#   NETNS_PAIRS    pairs to run, default "weft:weft weft:wgo wgo:weft
#                  weftthreads:weftplain" (weftthreads: weft-wg with four
#                  crypto helper threads, tests/netns/weft-wg-threads;
#                  weftplain: without offloads or helpers, weft-wg-plain)
#                  (weft = $WEFT_WG, wgo = $WGO)
#   WEFT_WG        weft-wg binary, default <repo>/weft-wg
#   WGO            wireguard-go command, default wireguard-go
#   NETNS_TIMEOUT  seconds per test run, default 180
#   NETNS_BUDGET   seconds for the whole matrix, default 1500: tests not
#                  started by then count as failed (keeps a hanging
#                  implementation from eating CI's time)
#   VERBOSE=1      print every test's output (default: only failures')
#
# Tests marked "# matrix: single" only exercise IMPL_A; they run for the
# pairs whose two sides are the same implementation.
# TEST is a name like "roaming", "test_roaming" or a path; default: all.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
: "${WEFT_WG:=$ROOT/weft-wg}"
: "${WGO:=wireguard-go}"
: "${NETNS_PAIRS:=weft:weft weft:wgo wgo:weft weftthreads:weftplain}"
: "${NETNS_TIMEOUT:=180}"
: "${NETNS_BUDGET:=1500}"
export WEFT_WG

if ((EUID != 0)); then
	echo "# netns tests need root"
	echo "0 passed, 0 failed"
	exit 0
fi

tests=()
if (($#)); then
	for t in "$@"; do
		t=${t##*/}; t=${t%.sh}; t=test_${t#test_}
		[[ -f "$HERE/$t.sh" ]] || { echo "no such test: $HERE/$t.sh" >&2; exit 2; }
		tests+=("$HERE/$t.sh")
	done
else
	for t in "$HERE"/test_*.sh; do [[ -f "$t" ]] && tests+=("$t"); done
fi

impl_of() {
	case $1 in
	weft) echo "$WEFT_WG" ;;
	wgo) echo "$WGO" ;;
	weftplain) echo "$HERE/weft-wg-plain" ;;
	weftthreads) echo "$HERE/weft-wg-threads" ;;
	*) echo "$1" ;;
	esac
}

RESDIR=$(mktemp -d "${TMPDIR:-/tmp}/weft-matrix.XXXXXX")
OUT=$RESDIR/out
child=""
on_signal() {
	[[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
	sweep
	rm -rf "$RESDIR"
	exit 130
}
# sweep: cleans up after a test that could not clean up itself (killed).
sweep() {
	local f left=0
	for f in "$RESDIR"/*.res; do
		[[ -f "$f" ]] || continue
		left=1
		echo "# sweeping resources left by a test: $(grep -c '^ns' "$f") namespace(s)"
		(. "$HERE/lib.sh"; wt_cleanup_resfile "$f")
	done
	return $left
}
trap on_signal INT TERM HUP

n=0 pass=0 fail=0
for pair in $NETNS_PAIRS; do
	a=$(impl_of "${pair%%:*}") b=$(impl_of "${pair#*:}")
	for t in "${tests[@]}"; do
		name=$(basename "$t" .sh)
		if grep -q '^# matrix: single' "$t"; then
			[[ "$a" == "$b" ]] || continue
			label="$name [$(basename "${a%% *}")]"
		else
			label="$name [$(basename "${a%% *}") -> $(basename "${b%% *}")]"
		fi
		n=$((n + 1))
		missing=""
		for impl in "$a" "$b"; do
			w=${impl%% *}
			if [[ "$w" == */* ]]; then [[ -x "$w" ]] || missing=$w
			else command -v "$w" >/dev/null || missing=$w; fi
		done
		if [[ -n "$missing" ]]; then
			echo "not ok $n - $label # implementation not found: $missing"
			fail=$((fail + 1))
			continue
		fi
		if ((SECONDS >= NETNS_BUDGET)); then
			echo "not ok $n - $label # not run: the matrix's ${NETNS_BUDGET}s budget is used up"
			fail=$((fail + 1))
			continue
		fi
		t0=$SECONDS
		if [[ "${VERBOSE:-0}" == 1 ]]; then
			IMPL_A=$a IMPL_B=$b WT_RESDIR=$RESDIR timeout -k 10 "$NETNS_TIMEOUT" "$t" > >(tee "$OUT") 2>&1 &
		else
			IMPL_A=$a IMPL_B=$b WT_RESDIR=$RESDIR timeout -k 10 "$NETNS_TIMEOUT" "$t" >"$OUT" 2>&1 &
		fi
		child=$!
		wait "$child"
		rc=$?
		child=""
		note=""
		((rc == 124 || rc == 137)) && note=" # timed out after ${NETNS_TIMEOUT}s"
		if ! sweep; then
			note+=" # left namespaces/processes behind"
			((rc == 0)) && rc=1
		fi
		if ((rc == 0)); then
			echo "ok $n - $label ($((SECONDS - t0))s)"
			pass=$((pass + 1))
		else
			[[ "${VERBOSE:-0}" == 1 ]] || sed 's/^/    /' "$OUT"
			echo "not ok $n - $label (exit $rc, $((SECONDS - t0))s)$note"
			fail=$((fail + 1))
		fi
	done
done
rm -rf "$RESDIR"
echo "$pass passed, $fail failed"
((fail == 0))
