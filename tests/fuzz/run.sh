#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# One libFuzzer harness as a meson test (tests/fuzz/meson.build):
#   run.sh corpus HARNESS CORPUS_DIR OUT_DIR
#       every corpus file once: a regression test
#   run.sh fuzz HARNESS CORPUS_DIR OUT_DIR
#       fuzz for $MIGDP_FUZZ_SECONDS (default 30) on a copy of the corpus
#       (the repository's is never written), then print the executions
# A crash, a sanitizer report (ASan, UBSan), a leak or an input slower than
# $MIGDP_FUZZ_TIMEOUT s (default 10) fails the test; the input that did it
# is kept as OUT_DIR/NAME-crash-... and the log as OUT_DIR/NAME-MODE.log.
set -uo pipefail

mode=$1 harness=$2 corpus=$3 out=$4
name=$(basename "$harness")
name=${name#fuzz_}
secs=${MIGDP_FUZZ_SECONDS:-30}
slow=${MIGDP_FUZZ_TIMEOUT:-10}

# Any sanitizer report is fatal (the build also has -fno-sanitize-recover).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
mkdir -p "$out"
log=$out/$name-$mode.log
tmp=$(mktemp -d "${TMPDIR:-/tmp}/migdp-fuzz-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# What went wrong, from the log: the report and the input that did it.
report() {
	echo "$name-$mode: FAILED (exit $1), log $log"
	grep -E -A30 -m1 'broken promise|runtime error|==[0-9]+== ?ERROR' "$log" | head -60
	grep -E 'Test unit written to|^Running: ' "$log" | tail -3
}

case $mode in
corpus)
	files=("$corpus"/*)
	if [ ! -e "${files[0]}" ]; then
		echo "$name: empty corpus $corpus"
		exit 1
	fi
	# Files as arguments: each is run once, not fuzzed.
	"$harness" -timeout="$slow" -rss_limit_mb=2048 -artifact_prefix="$out/$name-" \
		"${files[@]}" >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		report $rc
		exit 1
	fi
	echo "$name: ${#files[@]} corpus files, all passed"
	;;
fuzz)
	cp -r "$corpus" "$tmp/corpus"
	n0=$(find "$tmp/corpus" -type f | wc -l)
	start=$SECONDS
	timeout --kill-after=30 $((secs + 120)) "$harness" -max_total_time="$secs" \
		-detect_leaks=1 -print_final_stats=1 -timeout="$slow" -rss_limit_mb=2048 \
		-artifact_prefix="$out/$name-" "$tmp/corpus" >"$log" 2>&1
	rc=$?
	stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
	n1=$(find "$tmp/corpus" -type f | wc -l)
	echo "$name: $(stat number_of_executed_units) executions in $((SECONDS - start)) s," \
		"$(stat average_exec_per_sec) exec/s, corpus $n0 -> $n1 files," \
		"peak RSS $(stat peak_rss_mb) MB"
	if [ $rc -ne 0 ]; then
		report $rc
		exit 1
	fi
	;;
*)
	echo "usage: $0 corpus|fuzz HARNESS CORPUS_DIR OUT_DIR" >&2
	exit 2
	;;
esac
