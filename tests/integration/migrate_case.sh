#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# One integration scenario with real processes: two migdp on virtual NICs
# and two lab guests. Usage: migrate_case.sh BUILD_DIR CASE
# Exit 0 pass, 1 fail, 77 skipped (says why).
set -uo pipefail
BUILD=$1 CASE=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export MR_BUILD=$BUILD MR_TAG=it$$ MR_TIMEOUT=${MR_TIMEOUT:-120}
MIG="$TOP/scripts/migrate-image.sh"

fail() { echo "FAIL ($CASE): $*"; exit 1; }
need_root() {
	[ "$(id -u)" = 0 ] && command -v ip >/dev/null || { echo "SKIP: $CASE needs root and iproute2 for network namespaces"; exit 77; }
}
# Run a migration, keep its JSON in $OUT; args go to migrate-image.sh.
run() {
	OUT=$("$MIG" "$@" 2>"/tmp/$MR_TAG.err" | tail -n 1)
	RC=$?
	echo "$OUT"
}
field() { echo "$OUT" | jq -r "$1"; }
expect_ok() {
	[ "$(field .status)" = completed ] || { cat "/tmp/$MR_TAG.err"; fail "status $(field .status): $(field .reason)"; }
	[ "$(field .verified)" = true ] || fail "not verified"
	[ "$(field .source_digest)" = "$(field .destination_digest)" ] || fail "digests differ"
	[ "$(field .guest_bytes)" -ge $((${MIN_GUEST_MIB:-128} << 20)) ] || fail "guest_bytes $(field .guest_bytes)"
	[ "$RC" = 0 ] || fail "exit status $RC"
}

case $CASE in
memif_1ch_9000) run --mem 256M --link memif --channels 1 --mtu 9000; expect_ok ;;
memif_2ch_9000) run --mem 256M --link memif --channels 2 --mtu 9000; expect_ok ;;
memif_1ch_1500) run --mem 256M --link memif --channels 1 --mtu 1500; expect_ok
	[ "$(field .pages.fragmented)" -gt 0 ] || fail "MTU 1500 sent no fragments" ;;
memif_2ch_1500) run --mem 256M --link memif --channels 2 --mtu 1500; expect_ok ;;
veth_1ch_9000) need_root; run --mem 256M --link veth --channels 1 --mtu 9000; expect_ok ;;
veth_2ch_9000) need_root; run --mem 256M --link veth --channels 2 --mtu 9000; expect_ok ;;
veth_1ch_1500) need_root; run --mem 256M --link veth --channels 1 --mtu 1500; expect_ok ;;
veth_2ch_1500) need_root; run --mem 256M --link veth --channels 2 --mtu 1500; expect_ok ;;
faults_memif|faults_veth)
	link=${CASE#faults_}
	[ "$link" = veth ] && need_root
	run --mem 256M --link "$link" --channels 2 --mtu 9000 \
		--fault drop=0.02,dup=0.01,reorder=0.02,corrupt=0.005
	expect_ok
	[ "$(field .retransmits)" -gt 0 ] || fail "no retransmission under 2% loss"
	for k in dropped duplicated reordered corrupted; do
		[ "$(field ".fault.source.tx.$k")" -gt 0 ] || fail "no frame $k by the source's fault injection"
		[ "$(field ".fault.destination.tx.$k")" -gt 0 ] || fail "no frame $k by the destination's fault injection"
	done
	# Damage lands in a header or the record table (frame check) or in a
	# page (its CRC32C, checked before anything of the frame is written).
	[ "$(field '(.drops.destination["bad frame check (header or record table)"] // 0) +
		(.drops.destination["record content checksum mismatch"] // 0)')" -gt 0 ] ||
		fail "corrupted frames not counted as bad frame checks or record checksums" ;;
codec_zstd)
	# 512 MiB of the default mix with zstd forced: the wire carries what
	# the per-page codec benchmark predicts for the same mix (within 10%).
	mix=zero=30,text=30,binary=25,random=15
	run --mem 512M --link memif --channels 2 --mtu 9000 --codec zstd --mix $mix
	expect_ok
	[ "$(field .pages.zstd)" -gt 0 ] || fail "no page compressed"
	predicted=$("$BUILD/lab/migdp-codec-bench" --mem 64M --rounds 1 --mix $mix --files '' 2>/dev/null |
		jq -s 'map(select(.method == "zstd" and .level == 1 and (.dict | not)))[0].image_ratio')
	echo "codec benchmark predicts a ratio of $predicted"
	ok=$(echo "$OUT" | jq --argjson p "$predicted" \
		'(.guest_bytes / .wire_bytes) >= $p * 0.9')
	[ "$ok" = true ] || fail "wire ratio $(field '.guest_bytes / .wire_bytes') below 90% of the predicted $predicted" ;;
codec_dict)
	# A dictionary trained on the source's memory crosses the lossy link
	# before the pages that use it.
	run --mem 256M --channels 2 --codec zstd:-1 --dict on \
		--fault drop=0.02,dup=0.01,reorder=0.02,corrupt=0.005
	expect_ok
	[ "$(field .dict.bytes)" -gt 0 ] || fail "no dictionary sent"
	[ "$(field .pages.zstd)" -gt 0 ] || fail "no page compressed" ;;
codec_auto_paced)
	# The link is the bottleneck (paced to 1 Gb/s): auto compresses.
	MR_EXTRA_SRC="--set channels.max_bandwidth=1G" run --mem 256M --channels 2 --codec auto
	expect_ok
	[ "$(field .pages.zstd)" -gt "$(field .pages.raw)" ] ||
		fail "auto sent $(field .pages.zstd) zstd / $(field .pages.raw) raw pages on a slow link" ;;
codec_auto_fast)
	# No pacing, memif faster than zstd on one core: auto sends mostly
	# raw. (Not all: its probes, and moments when the shared machine stalls
	# the destination so that the link looks saturated, measured up to 28%
	# zstd pages here.)
	run --mem 512M --channels 2 --codec auto
	expect_ok
	[ "$(field .pages.zstd)" -lt "$(field .pages.raw)" ] ||
		fail "auto sent $(field .pages.zstd) zstd / $(field .pages.raw) raw pages on a fast link" ;;
commit_short_timeout)
	# A 2 GiB guest with a 400 ms peer timeout: the commit compares the
	# incremental digests, no pass over memory, so nobody falls silent;
	# handshake to commit costs a few per cent of the total at most.
	MR_EXTRA_SRC="--set migdp.peer_timeout_ms=400 --set migdp.keepalive_ms=100" \
	MR_EXTRA_DST="--set migdp.peer_timeout_ms=400 --set migdp.keepalive_ms=100" \
		run --mem 2G --channels 2 --codec raw
	expect_ok
	echo "total $(field .total_ms) ms, transfer $(field .transfer_ms) ms"
	[ "$(field '(.total_ms - .transfer_ms) < 0.05 * .total_ms + 20')" = true ] ||
		fail "outside the transfer: $(field '.total_ms - .transfer_ms') ms of $(field .total_ms)" ;;
mtu1500_zstd)
	# Compressed pages span fragments at MTU 1500: the ratio stays within
	# 10% of MTU 9000's on the same memory.
	mix=zero=30,text=55,binary=0,random=15
	run --mem 256M --channels 2 --codec zstd --mtu 9000 --mix $mix; expect_ok
	r9000=$(field '.guest_bytes / .wire_bytes')
	run --mem 256M --channels 2 --codec zstd --mtu 1500 --mix $mix; expect_ok
	[ "$(field .pages.zstd_fragmented)" -gt 0 ] || fail "no compressed page in fragments"
	echo "ratio at 9000: $r9000, at 1500: $(field '.guest_bytes / .wire_bytes')"
	[ "$(echo "$OUT" | jq --argjson r "$r9000" '(.guest_bytes / .wire_bytes) >= 0.9 * $r')" = true ] ||
		fail "ratio at 1500 below 90% of $r9000" ;;
shaped_veth)
	# A veth pair shaped to 500 Mb/s by tc tbf, well below what the link
	# carries, and no rate configured: the congestion control finds the
	# rate (within 20%) and fills the link without overrunning it.
	need_root
	command -v tc >/dev/null || { echo "SKIP: $CASE needs tc"; exit 77; }
	run --mem 128M --link veth --rate 500M --channels 2 --codec raw
	expect_ok
	echo "discovered $(field .discovered_rate_bps) b/s, retransmits $(field .retransmits) of $(field .frames) frames"
	[ "$(field '.discovered_rate_bps >= 400000000 and .discovered_rate_bps <= 600000000')" = true ] ||
		fail "discovered rate $(field .discovered_rate_bps) b/s, shaped 500 Mb/s"
	[ "$(field '.retransmits < 0.03 * .frames')" = true ] ||
		fail "$(field .retransmits) retransmissions of $(field .frames) frames" ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS ($CASE): $(field '{status, total_ms, retransmits, verified}' | tr -d '\n ')"
exit 0
