#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The one-command demo (scripts/demo.sh) as a newcomer runs it, and the
# traps a newcomer fell into with migrate-image.sh. Usage: demo_case.sh
# BUILD_DIR CASE. Exit 0 pass, 1 fail, 77 skipped (says why).
set -uo pipefail
BUILD=$1 CASE=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export MIGDP_BUILD_DIR=$BUILD MR_BUILD=$BUILD
DEMO=$TOP/scripts/demo.sh MIG=$TOP/scripts/migrate-image.sh
OUT=/tmp/demo-case-$$ ERR=/tmp/demo-case-$$.err

fail() {
	echo "FAIL ($CASE): $*"
	tail -n 25 "$ERR"
	exit 1
}
need_root() {
	[ "$(id -u)" = 0 ] && command -v ip >/dev/null || { echo "SKIP: $CASE needs root and iproute2"; exit 77; }
}
field() { tail -n 1 "$OUT" | jq -r "$1"; }
# Nothing of run TAG may outlive it: processes, namespaces, sockets,
# EAL runtime directories; and the hugepage count is what it was.
nothing_left() {
	local tag=$1 huge_before=$2
	sleep 0.5
	pgrep -f "$tag" >/dev/null && fail "processes left: $(pgrep -af "$tag")"
	ip netns list 2>/dev/null | grep -q "$tag" && fail "namespaces left"
	ls -d /tmp/migdp-"$tag"* 2>/dev/null && fail "files left"
	ls -d /var/run/dpdk/"$tag"* 2>/dev/null && fail "EAL runtime directories left"
	[ "$(cat /proc/sys/vm/nr_hugepages)" = "$huge_before" ] ||
		fail "hugepages $(cat /proc/sys/vm/nr_hugepages), were $huge_before"
	return 0
}
expect_verified() {
	[ "$RC" = 0 ] || fail "exit status $RC"
	[ "$(field .status)" = completed ] || fail "status $(field .status): $(field .reason)"
	[ "$(field .verified)" = true ] || fail "not verified"
	grep -q "precopy round" "$ERR" || fail "no live progress shown"
}
huge=$(cat /proc/sys/vm/nr_hugepages)
trap 'rm -rf "$OUT" "$ERR" "$OUT.img" "$OUT.bench"; echo "$huge" >/proc/sys/vm/nr_hugepages 2>/dev/null' EXIT
# The tag of the demo run started last: its processes and files.
demo_tag() { grep -o 'logs in /tmp/migdp-demo[0-9]*' "$ERR" | head -n 1 | sed 's|.*/migdp-||'; }

case $CASE in
demo_memif)
	"$DEMO" --mem 128M >"$OUT" 2>"$ERR"; RC=$?
	expect_verified
	# Authenticated by default (a key made for the run).
	[ "$(field .security)" = AES-256-GMAC ] || fail "security: $(field .security)"
	nothing_left "$(demo_tag)" "$huge"
	[ "$(field '.rounds >= 2 and .downtime_ms > 0 and .guest_bytes > 0')" = true ] ||
		fail "rounds $(field .rounds), downtime $(field .downtime_ms)" ;;
demo_veth)
	need_root
	"$DEMO" --mem 128M --link veth >"$OUT" 2>"$ERR"; RC=$?
	expect_verified
	nothing_left "$(demo_tag)" "$huge" ;;
demo_faults)
	"$DEMO" --mem 128M --fault drop=0.02,dup=0.01,reorder=0.02,corrupt=0.005 >"$OUT" 2>"$ERR"; RC=$?
	expect_verified
	[ "$(field .retransmits)" -gt 0 ] || fail "no retransmission under 2% loss" ;;
demo_sessions)
	"$DEMO" --mem 128M --sessions 2 >"$OUT" 2>"$ERR"; RC=$?
	[ "$RC" = 0 ] || fail "exit status $RC"
	[ "$(field '[.sessions[] | select(.status == "completed" and .verified)] | length')" = 2 ] ||
		fail "sessions: $(field '.sessions | map({vm, status, verified})')" ;;
demo_kill_destination)
	# Paced to 500 Mb/s: pre-copy lasts seconds, the kill lands in it; with
	# hugepages if the machine has them, so that their release is checked.
	MR_EXTRA_SRC="--set migration.max_bandwidth=500M" "$DEMO" --mem 256M >"$OUT" 2>"$ERR" &
	demo=$!
	tag=demo$demo
	for ((i = 0; i < 600; i++)); do
		grep -q "precopy round" "$ERR" && break
		sleep 0.05
	done
	pkill -9 -f "file-prefix $tag-des" || fail "no destination migdp to kill"
	wait $demo; RC=$?
	[ "$RC" != 0 ] || fail "the demo exited 0 with its destination killed"
	[ "$(field .status)" = failed ] || fail "status $(field .status)"
	nothing_left "$tag" "$huge"
	echo "PASS ($CASE): failed ($(field .reason)), exit $RC, nothing left behind"; exit 0 ;;
image_size)
	# An image and no --mem: the guest is the image's size.
	"$BUILD/lab/migdp-genimage" --out "$OUT.img" --mem 96M >/dev/null 2>&1 || fail "genimage"
	"$MIG" "$OUT.img" >"$OUT" 2>"$ERR"; RC=$?
	rm -f "$OUT.img"
	[ "$RC" = 0 ] && [ "$(field .status)" = completed ] || fail "status $(field .status): $(field .reason)"
	[ "$(field .guest_bytes)" = $((96 << 20)) ] || fail "guest_bytes $(field .guest_bytes)" ;;
migdp_dies)
	# A migdp that cannot start is noticed at once, its error shown.
	t0=$(date +%s)
	MR_EXTRA_DST="--set port.mtu=12000" "$MIG" --mem 64M >"$OUT" 2>"$ERR"; RC=$?
	secs=$(($(date +%s) - t0))
	[ "$RC" != 0 ] || fail "exit 0"
	[ "$secs" -le 10 ] || fail "took $secs s to notice"
	grep -q "mtu" "$ERR" || fail "migdp's own error not shown"
	echo "PASS ($CASE): noticed in $secs s: $(grep -m1 mtu "$ERR")"; exit 0 ;;
hugepages_reserved)
	# --hugepages reserves what two EALs and both guests need, and gives
	# the count back.
	grep -q hugetlbfs /proc/mounts || mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null
	echo 0 >/proc/sys/vm/nr_hugepages 2>/dev/null || { echo "SKIP: $CASE cannot set hugepages"; exit 77; }
	"$MIG" --mem 64M --hugepages >"$OUT" 2>"$ERR"; RC=$?
	after=$(cat /proc/sys/vm/nr_hugepages)
	echo "$huge" >/proc/sys/vm/nr_hugepages
	# Two EALs of 1 GiB (1024 pages), two guests of 64 MiB, 64 spare.
	grep -q "hugepages: 1152 free pages" "$ERR" || fail "reservation not as computed: $(grep hugepages "$ERR")"
	if grep -q "could reserve only" "$ERR"; then
		echo "SKIP: $CASE: the machine has no hugepages to give: $(grep -m1 'could reserve' "$ERR")"
		exit 77
	fi
	[ "$RC" = 0 ] && [ "$(field .status)" = completed ] || fail "status $(field .status): $(field .reason)"
	[ "$after" = 0 ] || fail "hugepages left reserved: $after" ;;
bench_quick)
	# The quick sweep on a tiny guest: its run files, its table, its plots.
	command -v gnuplot >/dev/null || { echo "SKIP: $CASE needs gnuplot (scripts/setup.sh installs it)"; exit 77; }
	dir=$OUT.bench
	"$TOP/scripts/bench.sh" --quick --mem 64M --html --out "$dir" >"$OUT" 2>"$ERR"; RC=$?
	[ "$RC" = 0 ] || fail "exit status $RC"
	n=$(ls "$dir"/runs/*.json 2>/dev/null | wc -l)
	[ "$n" -ge 4 ] || fail "$n run files"
	for f in "$dir"/runs/*.json; do
		jq -e '.status == "completed" and .verified' "$f" >/dev/null || fail "run $(basename "$f"): $(jq -c '{status, reason}' "$f")"
	done
	grep -q '^| configuration' "$dir/summary.md" || fail "no table in summary.md"
	good=0
	for png in "$dir"/plots/*.png; do
		[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
			[ "$(stat -c %s "$png")" -gt 1024 ] && good=$((good + 1))
	done
	[ "$good" -ge 2 ] || fail "$good valid PNG plots"
	grep -q 'data:image/png;base64,' "$dir/report.html" || fail "no plot in report.html"
	rm -rf "$dir"
	echo "PASS ($CASE): $n runs, $good plots"; exit 0 ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS ($CASE): $(tail -n 1 "$OUT" | jq -c '{status, verified, rounds, downtime_ms, total_ms} | with_entries(select(.value != null))')"
exit 0
