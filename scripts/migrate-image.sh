#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Migrate a guest memory image from a source migdp to a destination migdp on
# this one machine, over virtual NICs, and print as the last line one JSON
# object (status, guest_bytes, wire_bytes, total_ms, throughput_gbps,
# retransmits, verified, ...). Exit 0 only when completed and verified.
#
# scripts/migrate-image.sh [IMAGE] [--mem SIZE] [--link memif|veth]
#     [--channels N] [--mtu 1500|9000] [--rate RATE]
#     [--fault drop=..,dup=..,reorder=..,corrupt=..]
#     [--mix zero=..,text=..,binary=..,random=..] [--files-dir DIR]
#     [--codec auto|raw|zstd[:LEVEL]] [--dict on|off]
#     [--security plain|auth|encrypt]   (a fresh key for the run)
#     [--hugepages] [--progress]
#     [--timeout SEC] [--keep]
#     [--workload idle|steady|hot|stream [--dirty-rate PAGES_PER_S]
#      [--device-state SIZE]]   (a running guest: a live migration)
#     [--vm kvm]   (the guest is a real KVM virtual machine, lab/migvm)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/migrun.sh
. "$HERE/lib/migrun.sh"

usage() {
	sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

MR_MEM=""
while [ $# -gt 0 ]; do
	case $1 in
	--mem) MR_MEM=$2; shift ;;
	--link) MR_LINK=$2; shift ;;
	--channels) MR_CHANNELS=$2; shift ;;
	--mtu) MR_MTU=$2; shift ;;
	--fault) MR_FAULT=$2; shift ;;
	--rate) MR_RATE=$2; shift ;;
	--mix) MR_MIX=$2; shift ;;
	--codec) MR_CODEC=$2; shift ;;
	--dict) MR_DICT=$2; shift ;;
	--security) MR_SECURITY=$2; shift ;;
	--files-dir) MR_FILES=$2; shift ;;
	--hugepages) MR_HUGE=1 ;;
	--progress) MR_PROGRESS=1 ;;
	--timeout) MR_TIMEOUT=$2; shift ;;
	--keep) MR_KEEP=1 ;;
	--workload) MR_WORKLOAD=$2; shift ;;
	--dirty-rate) MR_DIRTY_RATE=$2; shift ;;
	--device-state) MR_DEVICE_STATE=$2; shift ;;
	--vm) MR_VM_KIND=$2; MR_WORKLOAD=${MR_WORKLOAD:-kvm}; shift ;;
	-h|--help) usage ;;
	-*) echo "migrate-image: unknown option $1" >&2; usage ;;
	*) MR_IMAGE=$1 ;;
	esac
	shift
done
[ -z "$MR_MEM" ] && [ -z "${MR_IMAGE:-}" ] && MR_MEM=256M
mr_defaults
# shellcheck source=lib/hugepages.sh
. "$HERE/lib/hugepages.sh"
trap 'mr_cleanup; huge_restore' EXIT
case $MR_LINK in memif|veth) ;; *) echo "migrate-image: --link memif|veth" >&2; exit 2 ;; esac
case $MR_MTU in 1500|9000) ;; *) echo "migrate-image: --mtu 1500|9000" >&2; exit 2 ;; esac
if ! MR_RATE=$(mr_rate_bits "$MR_RATE"); then
	echo "migrate-image: --rate in bits/s with K, M or G (100M, 1G, 10G)" >&2
	exit 2
fi
if [ "$MR_RATE" != 0 ] && [ "$MR_LINK" != veth ]; then
	echo "migrate-image: --rate shapes the veth link (tc tbf): add --link veth" >&2
	exit 2
fi
if [ -n "$MR_IMAGE" ] && [ ! -r "$MR_IMAGE" ]; then
	echo "migrate-image: cannot read image $MR_IMAGE" >&2
	exit 2
fi
if [ ! -x "$MR_BUILD/control/migdp" ] || [ ! -x "$MR_BUILD/lab/migguest" ]; then
	echo "migrate-image: build missing in $MR_BUILD: run scripts/setup.sh" >&2
	exit 2
fi
if [ "$MR_HUGE" = 1 ]; then
	size=${MR_MEM:-$(stat -c %s "$MR_IMAGE")}
	# What two EALs and both guests need, reserved for this run (and the
	# count restored), or exactly what is missing.
	huge_reserve "$size" 2 || { echo "migrate-image: --hugepages: not enough hugepages (see above)" >&2; exit 2; }
	mr_log "hugepages: $HUGE_WANT free pages of 2 MiB for this run"
fi
trap 'mr_log "interrupted"; exit 130' INT TERM

shaped=""; [ "$MR_RATE" != 0 ] && shaped=" shaped to $MR_RATE bit/s"
[ "${MR_KEEP:-0}" = 1 ] && mr_log "logs kept in $MR_DIR"
mr_log "$MR_LINK link$shaped, $MR_CHANNELS channel(s), MTU $MR_MTU, ${MR_IMAGE:-generated ${MR_MEM}}${MR_FAULT:+, faults $MR_FAULT}"
mr_start_all || exit 1
[ "$MR_PROGRESS" = 1 ] && mr_follow_progress
mr_wait_all
summary=$(mr_summary)
if [ "$MR_PROGRESS" = 1 ] || [ "$(echo "$summary" | jq -r .status)" != completed ]; then
	echo "$summary" | jq -r '"migrate: \(.status) \(.reason) — \(.guest_bytes / 1048576 | floor) MiB in \(.total_ms | floor) ms = \(.throughput_gbps * 100 | floor / 100) Gb/s, wire \(.wire_bytes / 1048576 | floor) MiB, \(.retransmits) retransmissions, verified \(.verified)"' >&2
	if [ "$(echo "$summary" | jq -r .status)" != completed ]; then
		for f in "$MR_DIR"/*.log; do
			echo "--- $(basename "$f") (last lines)" >&2
			grep -v '^progress' "$f" | tail -n 5 >&2
		done
	fi
fi
echo "$summary"
[ "$(echo "$summary" | jq -r .status)" = completed ]
