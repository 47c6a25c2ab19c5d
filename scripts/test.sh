#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's test command: install what is missing, build, run every test.
# Ends with one line "N passed, N failed, N skipped" for the whole run.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${MIGDP_BUILD_DIR:-build}

if ! scripts/setup.sh; then
	echo "0 passed, 1 failed"
	exit 1
fi

meson test -C "$BUILD" --print-errorlogs "$@"
rc=$?

python3 - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
try:
    with open(sys.argv[1]) as f:
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
