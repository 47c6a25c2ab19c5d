#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Codec benchmark, whole migrations: a 1 GiB guest of about 30% zero pages,
# 55% pages cut from files under /usr and 15% random pages, over memif with
# 2 channels and hugepages, migrated with --codec raw, zstd and auto in one
# run. Prints the per-page codec benchmark on the same mix, one JSON object
# per migration, and a summary: wire bytes / guest bytes with zstd (target
# <= 0.45), auto's time / raw's time (target <= 1), and zstd's wire ratio vs
# what the codec benchmark predicts.
# scripts/bench-codec.sh [--mem SIZE] [--no-hugepages]
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MIGDP_BUILD_DIR:-$TOP/build}
MEM=1G HUGE=1
MIX=zero=30,text=55,binary=0,random=15
while [ $# -gt 0 ]; do
	case $1 in
	--mem) MEM=$2; shift ;;
	--no-hugepages) HUGE=0 ;;
	*) sed -n '3,10p' "$0" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$BUILD/control/migdp" ] || "$TOP/scripts/setup.sh" >&2 || exit 1
# shellcheck source=lib/hugepages.sh
. "$TOP/scripts/lib/hugepages.sh"
trap huge_restore EXIT
[ "$HUGE" = 1 ] && { huge_reserve "$MEM" || exit 1; }

bench=$("$BUILD/lab/migdp-codec-bench" --mem 256M --mix "$MIX" --files /usr 2>/dev/null)
echo "$bench"
codec=$(echo "$bench" | jq -s -c .)
runs=()
for c in raw zstd auto; do
	args=(--mem "$MEM" --channels 2 --codec "$c" --mix "$MIX" --files-dir /usr)
	[ "$HUGE" = 1 ] && args+=(--hugepages)
	run=$("$TOP/scripts/migrate-image.sh" "${args[@]}" 2>/dev/null | tail -n 1 |
	      jq -c '{benchmark: "codec_migration", codec, status, verified, guest_bytes,
		      wire_bytes, wire_ratio: (.wire_bytes / .guest_bytes), total_ms,
		      transfer_ms, pages, cpu_s}')
	echo "$run"
	runs+=("$run")
done
printf '%s\n' "${runs[@]}" | jq -s -c --argjson cb "$codec" '
	(map({(.codec): .}) | add) as $r | {
	benchmark: "codec_summary",
	all_completed: all(.[]; .status == "completed" and .verified),
	zstd_wire_ratio: $r.zstd.wire_ratio, zstd_wire_target: 0.45,
	auto_time_vs_raw: ($r.auto.total_ms / $r.raw.total_ms),
	auto_transfer_vs_raw: ($r.auto.transfer_ms / $r.raw.transfer_ms),
	auto_target: "<= 1",
	codec_bench_zstd1_image_ratio: ($cb | map(select(.method == "zstd" and .level == 1 and (.dict | not)))[0].image_ratio),
	zstd_wire_vs_prediction: ($r.zstd.wire_ratio * ($cb | map(select(.method == "zstd" and .level == 1 and (.dict | not)))[0].image_ratio))}'
