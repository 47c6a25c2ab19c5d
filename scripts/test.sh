#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's test command: install what is missing, build, run every test.
# Ends with one line "N passed, N failed, N skipped" for the whole run: the
# sum over the stages below, each a meson test of its own build directory.
# MIGDP_FUZZ=0 leaves out the fuzz stage, MIGDP_ASAN=0 the sanitizer stage.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${MIGDP_BUILD_DIR:-build}
FUZZ_BUILD=${MIGDP_FUZZ_BUILD_DIR:-build-fuzz}
ASAN_BUILD=${MIGDP_ASAN_BUILD_DIR:-build-asan}

if ! scripts/setup.sh; then
	echo "0 passed, 1 failed"
	exit 1
fi

logs=()
rc=0

# stage BUILD_DIR [MESON_TEST_ARGS...]: run meson test in BUILD_DIR and
# count its results in the last line; a failed stage fails the script. A
# stage that could not run leaves no log and counts as one failure.
stage() {
	local dir=$1
	shift
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs "$@" || rc=1
	logs+=("$dir/meson-logs/testlog.json")
}

# The fuzz stage (tests/fuzz/README.md): a clang build of the libFuzzer
# harnesses with ASan and UBSan, each harness over its corpus, then
# MIGDP_FUZZ_SECONDS (30) of fuzzing each, one at a time.
fuzz_stage() {
	if [ ! -f "$FUZZ_BUILD/build.ninja" ] &&
	   ! CC=clang meson setup "$FUZZ_BUILD" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debugoptimized; then
		rc=1
		logs+=("$FUZZ_BUILD/meson-logs/testlog.json")
		return
	fi
	# Only the fuzz targets: the rest of the tree need not build with clang.
	if ! ninja -C "$FUZZ_BUILD" fuzz; then
		rc=1
		rm -f "$FUZZ_BUILD/meson-logs/testlog.json"
		logs+=("$FUZZ_BUILD/meson-logs/testlog.json")
		return
	fi
	stage "$FUZZ_BUILD" --suite fuzz --num-processes 1
}

# The sanitizer stage: the whole suite once more, built with ASan and
# UBSan (gcc) in its own directory, every process it starts (migdp, the
# guests, migctl, the tools) reporting to one directory; any report is a
# failure, whatever the test that started the process concluded. The KVM
# cases are left out: their guests run against the clock, which the
# sanitizers slow down.
asan_stage() {
	local dir=$ASAN_BUILD reports f
	reports=$(mktemp -d /tmp/migdp-sanitizer.XXXXXX)
	if [ ! -f "$dir/build.ninja" ] &&
	   ! meson setup "$dir" -Db_sanitize=address,undefined -Db_lundef=false; then
		rc=1
		logs+=("$dir/meson-logs/testlog.json")
		return
	fi
	if ! ninja -C "$dir"; then
		rc=1
		rm -f "$dir/meson-logs/testlog.json"
		logs+=("$dir/meson-logs/testlog.json")
		return
	fi
	ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:log_path=$reports/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan \
		stage "$dir" --no-suite kvm "$@"
	: >"$reports/results.json"
	for f in "$reports"/asan.* "$reports"/ubsan.*; do
		[ -f "$f" ] || continue
		echo "--- sanitizer report $f:"
		head -n 30 "$f"
		printf '{"name": "sanitizer report %s", "result": "FAIL"}\n' "${f##*/}" >>"$reports/results.json"
		rc=1
	done
	logs+=("$reports/results.json")
}

stage "$BUILD" "$@"
if [ "${MIGDP_FUZZ:-1}" != 0 ]; then
	fuzz_stage
fi
if [ "${MIGDP_ASAN:-1}" != 0 ]; then
	asan_stage "$@"
fi

python3 - "${logs[@]}" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            for line in f:
                r = json.loads(line).get("result")
                if r in ("OK", "EXPECTEDFAIL"):
                    counts["passed"] += 1
                elif r == "SKIP":
                    counts["skipped"] += 1
                else:
                    counts["failed"] += 1
    except OSError:
        counts["failed"] += 1
print("{passed} passed, {failed} failed, {skipped} skipped".format(**counts))
PY
exit $rc
