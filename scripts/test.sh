#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's test command: install what is missing, build, run every test.
# Ends with one line "N passed, N failed, N skipped" for the whole run: the
# sum over the stages below, each a meson test of its own build directory.
# MIGDP_FUZZ=0 leaves out the fuzz stage.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${MIGDP_BUILD_DIR:-build}
FUZZ_BUILD=${MIGDP_FUZZ_BUILD_DIR:-build-fuzz}

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

stage "$BUILD" "$@"
if [ "${MIGDP_FUZZ:-1}" != 0 ]; then
	fuzz_stage
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
