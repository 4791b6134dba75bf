#!/usr/bin/env bash
# tests/run.sh [unit|integration|netns|overlay|nat|all] — the runner behind
# `make check`.
#
#   BUILD=build|build-san   which build to test (default build)
#   unit    only the unit tests: every $BUILD/tests/test_* binary, whose
#           TAP lines ("ok N - ...", "not ok N - ...") are counted one by
#           one; a binary that exits nonzero without a "not ok" line (a
#           crash, a sanitizer report) counts as one failure.
#   integration  every tests/integration/test_*.sh once (real binaries,
#           no root or namespaces), each bounded by INTEGRATION_TIMEOUT
#           seconds (default 120) and counted as one pass or failure by
#           its exit status; its output is shown.
#   netns   only the network-namespace tests (root only): tests/netns/
#           matrix.sh runs every tests/netns/test_*.sh for each pair of
#           implementations (NETNS_PAIRS, default weft:weft weft:wgo
#           wgo:weft weftthreads:weftplain; weftthreads:weft alone for build-san) with
#           $BUILD/weft-wg
#           as weft; each run counts once.
#   overlay every tests/overlay/test_*.sh once (root only): weft-server,
#           weftd and weft from $BUILD in network namespaces; each bounded
#           by OVERLAY_TIMEOUT seconds (default 300), one pass or failure.
#   nat     every tests/nat/test_*.sh once (root only): the NAT test bed
#           and the reachability matrix (routers with nftables NAT), each
#           bounded by NAT_TIMEOUT seconds (default 300).
#   all     all five (default).
# Ends with exactly one line "N passed, N failed"; exit 1 if any failed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
MODE=${1:-all}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
INTEGRATION_TIMEOUT=${INTEGRATION_TIMEOUT:-120}
OVERLAY_TIMEOUT=${OVERLAY_TIMEOUT:-300}
NAT_TIMEOUT=${NAT_TIMEOUT:-300}
pass=0 fail=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-run.XXXXXX")
CHILD=""
trap 'rm -rf "$TMP"' EXIT
# Background children ignore SIGINT: pass INT/TERM on so they clean up.
on_signal() {
	[[ -n "$CHILD" ]] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
	exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

case $MODE in unit | integration | netns | overlay | nat | all) ;; *)
	echo "usage: $0 [unit|integration|netns|overlay|nat|all]" >&2
	exit 2
	;;
esac

run_unit() {
	local b name rc okc notok found=0
	for b in "$ROOT/$BUILD"/tests/test_*; do
		[[ -f "$b" && -x "$b" ]] || continue
		case $b in *.o | *.d) continue ;; esac
		found=1
		name=${b##*/}
		echo "# $name"
		# (the group's redirection also catches bash's "Segmentation fault")
		{ timeout -k 5 "$UNIT_TIMEOUT" "$b"; rc=$?; } >"$TMP/out" 2>&1
		cat "$TMP/out"
		okc=$(grep -cE '^ok [0-9]+' "$TMP/out")
		notok=$(grep -cE '^not ok [0-9]+' "$TMP/out")
		pass=$((pass + okc))
		fail=$((fail + notok))
		if ((rc != 0 && notok == 0)); then
			fail=$((fail + 1))
			if ((rc == 124 || rc == 137)); then
				echo "not ok - $name timed out after ${UNIT_TIMEOUT}s"
			else
				echo "not ok - $name exited with status $rc without a failed check (crash or sanitizer report?)"
			fi
		elif ((rc == 0 && okc + notok == 0)); then
			fail=$((fail + 1))
			echo "not ok - $name ran no checks"
		fi
	done
	((found)) || echo "# no unit test binaries in $BUILD/tests/"
}

# run_scripts DIR TIMEOUT: each DIR/test_*.sh once, one result each.
run_scripts() {
	local dir=$1 limit=$2 t name rc found=0
	for t in "$ROOT"/tests/"$dir"/test_*.sh; do
		[[ -f "$t" ]] || continue
		found=1
		name=$dir/${t##*/}
		echo "# $name"
		BUILD=$BUILD timeout -k 5 "$limit" bash "$t" >"$TMP/out" 2>&1 &
		CHILD=$!
		wait "$CHILD"
		rc=$?
		CHILD=""
		cat "$TMP/out"
		if ((rc == 0)); then
			pass=$((pass + 1))
			echo "ok - $name"
		else
			fail=$((fail + 1))
			if ((rc == 124 || rc == 137)); then
				echo "not ok - $name timed out after ${limit}s"
			else
				echo "not ok - $name exited with status $rc"
			fi
		fi
	done
	((found)) || echo "# no tests in tests/$dir/"
}

run_integration() { run_scripts integration "$INTEGRATION_TIMEOUT"; }

run_overlay() {
	if ((EUID != 0)); then
		echo "# skipping the overlay tests: they need root"
		return
	fi
	run_scripts overlay "$OVERLAY_TIMEOUT"
}

run_nat() {
	if ((EUID != 0)); then
		echo "# skipping the NAT tests: they need root"
		return
	fi
	# The sanitizer build runs the rows that exercise most code (hole
	# punching, the relay both ways, a double move): the suite must stay
	# under 20 minutes on 2 cores.
	[[ $BUILD == build-san ]] && export NAT_ROWS=${NAT_ROWS:-2 4 5 8}
	run_scripts nat "$NAT_TIMEOUT"
}

run_netns() {
	if ((EUID != 0)); then
		echo "# skipping the network-namespace tests: they need root"
		return
	fi
	local okc notok rc
	local weft=${WEFT_WG:-$ROOT/$BUILD/weft-wg}
	# Under the sanitizers weft against itself (both ends weft's code);
	# the interop pairs with wireguard-go run with the normal build.
	[[ $BUILD == build-san ]] && export NETNS_PAIRS=${NETNS_PAIRS:-weftthreads:weft}
	echo "# network-namespace tests: weft-wg = ${weft#$ROOT/}, pairs: ${NETNS_PAIRS:-weft:weft weft:wgo wgo:weft weftthreads:weftplain}"
	WEFT_WG=$weft "$ROOT/tests/netns/matrix.sh" >"$TMP/netns" 2>&1 &
	CHILD=$!
	# Stream the output (all but matrix.sh's own summary line) as it comes.
	tail -n +1 --pid="$CHILD" -f "$TMP/netns" 2>/dev/null | grep -vE '^[0-9]+ passed, [0-9]+ failed$'
	wait "$CHILD"
	rc=$?
	CHILD=""
	okc=$(grep -cE '^ok [0-9]+' "$TMP/netns")
	notok=$(grep -cE '^not ok [0-9]+' "$TMP/netns")
	pass=$((pass + okc))
	fail=$((fail + notok))
	if ((rc != 0 && notok == 0)); then
		fail=$((fail + 1))
		echo "not ok - tests/netns/matrix.sh exited with status $rc"
	fi
}

[[ $MODE == unit || $MODE == all ]] && run_unit
[[ $MODE == integration || $MODE == all ]] && run_integration
[[ $MODE == netns || $MODE == all ]] && run_netns
[[ $MODE == overlay || $MODE == all ]] && run_overlay
[[ $MODE == nat || $MODE == all ]] && run_nat
echo "$pass passed, $fail failed"
((fail == 0))
