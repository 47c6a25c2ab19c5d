#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Transfer benchmark: scripts/migrate-image.sh on a generated 1 GiB guest over
# net_memif with hugepages, 1 and 2 channels, MTU 1500 and 9000; prints one
# JSON object per run and a summary with the ratio of the best raw transfer
# to single-core memcpy measured in the same run. With --security each
# configuration also runs authenticated and encrypted (README "Security"),
# and the summary gives their throughput as ratios to the plain run.
# scripts/bench-transfer.sh [--mem SIZE] [--no-hugepages] [--backoff-us N] [--security]
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MIGDP_BUILD_DIR:-$TOP/build}
MEM=1G HUGE=1 BACKOFF=50 SECS=plain
while [ $# -gt 0 ]; do
	case $1 in
	--mem) MEM=$2; shift ;;
	--no-hugepages) HUGE=0 ;;
	--backoff-us) BACKOFF=$2; shift ;;
	--security) SECS="plain auth encrypt" ;;
	*) sed -n '3,10p' "$0" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$BUILD/control/migdp" ] || "$TOP/scripts/setup.sh" >&2 || exit 1

# shellcheck source=lib/hugepages.sh
. "$TOP/scripts/lib/hugepages.sh"
trap huge_restore EXIT
[ "$HUGE" = 1 ] && { huge_reserve "$MEM" || exit 1; }

memcpy=$("$BUILD/lab/migdp-memcpy-bench" --mib 256)
echo "$memcpy"
memcpy_bps=$(echo "$memcpy" | jq .bytes_per_sec)
runs=()
for ch in 1 2; do
	for mtu in 9000 1500; do
	for sec in $SECS; do
		args=(--mem "$MEM" --link memif --channels "$ch" --mtu "$mtu" --codec raw --security "$sec")
		[ "$HUGE" = 1 ] && args+=(--hugepages)
		out=$(MR_BACKOFF_US=$BACKOFF "$TOP/scripts/migrate-image.sh" "${args[@]}" 2>/dev/null | tail -n 1)
		run=$(echo "$out" | jq -c --argjson m "$memcpy_bps" '{
			benchmark: "transfer", link, channels, mtu, security, status, verified,
			guest_bytes, wire_bytes, total_ms, transfer_ms,
			guest_bytes_per_sec: (if .transfer_ms > 0 then .guest_bytes / (.transfer_ms / 1000) else 0 end),
			wire_bytes_per_sec: (if .transfer_ms > 0 then .wire_bytes / (.transfer_ms / 1000) else 0 end),
			frames_per_sec: (if .transfer_ms > 0 then .frames / (.transfer_ms / 1000) else 0 end),
			retransmits, cpu_s,
			ratio_to_memcpy: (if .transfer_ms > 0 then .guest_bytes / (.transfer_ms / 1000) / $m else 0 end)}')
		echo "$run"
		runs+=("$run")
	done
	done
done
printf '%s\n' "${runs[@]}" | jq -s -c --argjson m "$memcpy_bps" '{
	benchmark: "transfer_summary", memcpy_bytes_per_sec: $m,
	all_completed: all(.[]; .status == "completed" and .verified),
	best: (map(select(.security == "plain")) | max_by(.guest_bytes_per_sec) |
	       {channels, mtu, guest_bytes_per_sec, ratio_to_memcpy}),
	one_channel_9000_ratio: (map(select(.channels == 1 and .mtu == 9000 and .security == "plain"))[0].ratio_to_memcpy),
	target_ratio: 0.5,
	security_vs_plain: (group_by([.channels, .mtu]) | map(
		(map(select(.security == "plain"))[0].guest_bytes_per_sec) as $p |
		{channels: .[0].channels, mtu: .[0].mtu} +
		(map(select(.security != "plain") | {(.security): (if $p > 0 then .guest_bytes_per_sec / $p else null end)}) | add // {}))),
	security_targets: {auth_min_ratio: 0.85, encrypt_min_ratio: 0.65}}'
