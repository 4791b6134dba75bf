#!/usr/bin/env bash
# scripts/test.sh — the whole test suite, as CI runs it (.ci/run):
# installs the packages (scripts/deps.sh), builds, runs `make check`
# (unit + network-namespace tests) for the normal and the sanitizer
# (ASan+UBSan) builds, and ends with one line "N passed, N failed" summing
# both.  Exit status 1 if anything failed.
#
#   SUITES   which builds to test, default "normal sanitize"
#   any env that tests/run.sh reads (NETNS_PAIRS, NETNS_TIMEOUT, ...)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
SUITES=${SUITES:-normal sanitize}
JOBS=$(nproc 2>/dev/null || echo 2)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-test.XXXXXX")
CHILD=""
trap 'rm -rf "$TMP"' EXIT
on_signal() {
	[[ -n "$CHILD" ]] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
	exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

pass=0 fail=0
t_start=$SECONDS
step() { echo "=== $* ($((SECONDS - t_start))s)"; }

step "dependencies"
if ! ./scripts/deps.sh; then
	echo "not ok - scripts/deps.sh"
	fail=$((fail + 1))
fi

for suite in $SUITES; do
	case $suite in
	normal) margs=() ;;
	sanitize) margs=(SANITIZE=1) ;;
	*) echo "unknown suite: $suite" >&2; fail=$((fail + 1)); continue ;;
	esac
	step "build ($suite): make -j$JOBS ${margs[*]}"
	if ! make -j"$JOBS" "${margs[@]}" all >"$TMP/build.log" 2>&1; then
		tail -n 40 "$TMP/build.log"
		echo "not ok - build ($suite) failed"
		fail=$((fail + 1))
		continue
	fi
	step "test ($suite): make ${margs[*]} check"
	# The suite's own summary line is shown as "# <suite>: ..." so that the
	# only plain "N passed, N failed" line is the total at the end.
	make -s "${margs[@]}" check >"$TMP/check.log" 2>&1 &
	CHILD=$!
	tail -n +1 --pid="$CHILD" -f "$TMP/check.log" 2>/dev/null |
		sed -u -E "s/^([0-9]+ passed, [0-9]+ failed)\$/# $suite: \\1/"
	wait "$CHILD"
	rc=$?
	CHILD=""
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/check.log" | tail -n 1)
	if [[ -z "$summary" ]]; then
		echo "not ok - make ${margs[*]} check ended without a summary (exit $rc)"
		fail=$((fail + 1))
		continue
	fi
	read -r p _ f _ <<<"${summary//,/}"
	pass=$((pass + p))
	fail=$((fail + f))
	if ((rc != 0 && f == 0)); then
		echo "not ok - make ${margs[*]} check exited $rc"
		fail=$((fail + 1))
	fi
done

step "done"
echo "$pass passed, $fail failed"
((fail == 0))
