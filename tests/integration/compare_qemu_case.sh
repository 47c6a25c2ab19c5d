#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The QEMU comparison in short: scripts/compare-qemu.sh on a 64 MiB image,
# one run of each configuration, unshaped. Asserts from its JSON lines that
# every run of both tools completed and that every migdp run was verified
# (not the speeds: this machine is shared). Usage: compare_qemu_case.sh
# BUILD_DIR. Exit 0 pass, 1 fail, 77 skipped (says why).
set -uo pipefail
BUILD=$1
TOP=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL (compare_qemu): $*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: compare_qemu needs root (network namespaces, hugepages)"
	exit 77
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends qemu-system-x86 >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 &&
		  apt-get install -y -q --no-install-recommends qemu-system-x86 >/dev/null 2>&1; }
	command -v qemu-system-x86_64 >/dev/null ||
		{ echo "SKIP: qemu-system-x86_64 is absent and apt-get cannot install qemu-system-x86"; exit 77; }
fi

err=$(mktemp /tmp/compare-qemu-case.XXXXXX)
trap 'rm -f "$err"' EXIT
out=$(MIGDP_BUILD_DIR=$BUILD timeout 200 "$TOP/scripts/compare-qemu.sh" --mem 64M --runs 1 --timeout 60 2>"$err")
rc=$?
echo "$out"
runs=$(echo "$out" | grep '^{' | jq -c 'select(.tool)')
[ "$rc" = 0 ] || { tail -n 30 "$err"; fail "compare-qemu.sh exited $rc"; }
for t in qemu migdp; do
	n=$(echo "$runs" | jq -s --arg t "$t" 'map(select(.tool == $t)) | length')
	[ "$n" = 3 ] || fail "$n $t runs, 3 expected"
done
bad=$(echo "$runs" | jq -c 'select(.status != "completed") | {tool, config, status, reason}')
[ -z "$bad" ] || { tail -n 30 "$err"; fail "not completed: $bad"; }
bad=$(echo "$runs" | jq -c 'select(.tool == "migdp" and .verified != true) | {config, verified}')
[ -z "$bad" ] || fail "migdp not verified: $bad"
summary=$(echo "$out" | tail -n 1)
[ "$(echo "$summary" | jq -r .benchmark)" = compare_qemu_summary ] || fail "no summary line last"
[ "$(echo "$summary" | jq -r .image_unchanged)" = true ] || fail "the image changed"
echo "PASS (compare_qemu): $(echo "$summary" | jq -c '{all_completed, migdp_all_verified, qemu_all_verified, auto_vs_qemu_multifd_plain_speed, zstd_vs_qemu_multifd_zstd1_speed}')"
exit 0
