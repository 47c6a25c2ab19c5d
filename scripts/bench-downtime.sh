#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Downtime benchmark: live-migrate a running lab guest K times over memif
# and print one JSON object per run (downtime_ms and its parts, total_ms,
# rounds, verified), then a last line with the medians.
# scripts/bench-downtime.sh [--mem SIZE] [--workload idle|steady|hot|stream]
#     [--dirty-rate PAGES_PER_S] [--runs K] [--channels N] [--codec C]
#     [--lab-verify] [--no-hugepages] [--vm kvm]
# Without --dirty-rate the guest dirties a tenth of the link rate measured
# by one static migration of the same size first. downtime_ms is the
# source's view (PAUSE to GO plus half the GO/CONFIRM round trip);
# guest_downtime_ms the guests' own (pause at the source to resume at the
# destination, one clock on one machine). --lab-verify adds the lab
# guests' full-memory digests (a pass over guest memory at pause, inside
# the downtime); without it the check is migdp's incremental digest.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MIGDP_BUILD_DIR:-$TOP/build}
MEM=1G WORKLOAD=steady RATE="" RUNS=5 CHANNELS=2 CODEC=raw VERIFY=0 HUGE=1 VMARGS=()
while [ $# -gt 0 ]; do
	case $1 in
	--mem) MEM=$2; shift ;;
	--workload) WORKLOAD=$2; shift ;;
	--dirty-rate) RATE=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--channels) CHANNELS=$2; shift ;;
	--codec) CODEC=$2; shift ;;
	--lab-verify) VERIFY=1 ;;
	--no-hugepages) HUGE=0 ;;
	--vm) VMARGS=(--vm "$2"); shift ;;
	*) sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
	shift
done
[ -x "$BUILD/control/migdp" ] || "$TOP/scripts/setup.sh" >&2 || exit 1
# shellcheck source=lib/hugepages.sh
. "$TOP/scripts/lib/hugepages.sh"
trap huge_restore EXIT
[ "$HUGE" = 1 ] && { huge_reserve "$MEM" || exit 1; }
common=(--mem "$MEM" --link memif --channels "$CHANNELS" --codec "$CODEC" --timeout 300)
[ "$HUGE" = 1 ] && common+=(--hugepages)

if [ -z "$RATE" ]; then
	link=$("$TOP/scripts/migrate-image.sh" "${common[@]}" 2>/dev/null | tail -n 1)
	RATE=$(echo "$link" | jq '(.guest_bytes / 4096) / (.transfer_ms / 1000) / 10 | floor')
	echo "$link" | jq -c --argjson r "$RATE" '{benchmark: "downtime-link", status,
		guest_bytes, transfer_ms, pages_per_s: ($r * 10), dirty_rate: $r}'
	[ "$RATE" -gt 0 ] 2>/dev/null || { echo "bench-downtime: no link rate measured" >&2; exit 1; }
fi
extra=""
[ "$VERIFY" = 0 ] && extra="--no-verify"
results=()
for ((k = 1; k <= RUNS; k++)); do
	wl=(--workload "$WORKLOAD")
	[ ${#VMARGS[@]} -gt 0 ] && wl=("${VMARGS[@]}")
	out=$(MR_GUEST_EXTRA=$extra "$TOP/scripts/migrate-image.sh" "${common[@]}" \
		"${wl[@]}" --dirty-rate "$RATE" 2>/dev/null | tail -n 1)
	# A run that printed nothing is a failed run, not a missing one.
	echo "$out" | jq -e . >/dev/null 2>&1 ||
		out='{"status":"failed","reason":"migrate-image.sh printed no report","round_figures":[]}'

	run=$(echo "$out" | jq -c --argjson k "$k" --argjson lv "$VERIFY" '{benchmark: "downtime",
		run: $k, workload, dirty_rate, channels, status, reason, verified, lab_verify: ($lv == 1),
		downtime_ms, downtime, guest_downtime_ms, total_ms, rounds, throttle_max_pct,
		round_pages: [.round_figures[].pages]}')
	echo "$run"
	results+=("$run")
done
printf '%s\n' "${results[@]}" | jq -s -c '
	def median: sort | if length == 0 then null else .[length / 2 | floor] end;
	map(select(.status == "completed")) as $ok |
	{benchmark: "downtime", workload: .[0].workload, dirty_rate: .[0].dirty_rate,
	 runs: length, completed: ($ok | length), verified: ($ok | map(select(.verified)) | length),
	 total_ms_median: ($ok | map(.total_ms) | median),
	 rounds_median: ($ok | map(.rounds) | median),
	 guest_downtime_ms_median: ($ok | map(.guest_downtime_ms) | median),
	 downtime_ms_median: ($ok | map(.downtime_ms) | median)}'
# Exit 0 only when every run completed and was verified.
printf '%s\n' "${results[@]}" | jq -s -e 'all(.status == "completed" and .verified)' >/dev/null
