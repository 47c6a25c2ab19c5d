#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A real KVM virtual machine (lab/migvm) migrated live through libmigshim
# and migdp: its guest checks its own pages after resume. Usage:
# kvm_case.sh BUILD_DIR CASE. Exit 0 pass, 1 fail, 77 skipped (no /dev/kvm).
set -uo pipefail
BUILD=$1 CASE=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export MR_BUILD=$BUILD MR_TAG=kv$$ MR_TIMEOUT=${MR_TIMEOUT:-120} MR_CHANNELS=2 MR_MEM=256M
# shellcheck source=../../scripts/lib/migrun.sh
. "$TOP/scripts/lib/migrun.sh"
MIGVM=$BUILD/lab/migvm/migvm MIGCTL=$BUILD/control/migctl
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: $CASE needs /dev/kvm"; exit 77; }
mr_defaults
trap mr_cleanup EXIT

fail() {
	echo "FAIL ($CASE): $*"
	for f in "$MR_DIR"/*.log "$MR_DIR"/*.json; do echo "--- $f"; tail -n 4 "$f"; done
	exit 1
}
get() { mr_get "$@"; }
# Start one migvm: role, more options.
start_vm() {
	timeout "$MR_TIMEOUT" "$MIGVM" --live --role "$1" --socket "$MR_DIR/$1.sock" --mem "$MR_MEM" \
		--channels "$MR_CHANNELS" --timeout $((MR_TIMEOUT / 2)) --name vm1 --quiet ${2:-} \
		>"$MR_DIR/vm-$1.json" 2>"$MR_DIR/vm-$1.log" &
	MR_PIDS+=($!)
	eval "VM_$1=$!"
}
# The source VM ran on, verifying, after the migration failed.
source_ran_on() {
	[ "$(get vm-source .status)" = failed ] || fail "source VM: $(get vm-source .status)"
	[ "$(get vm-source .verified)" = true ] ||
		fail "the source VM did not go on verifying: $(mr_last vm-source)"
}

rate=20000 src_set="" when=""
case $CASE in
kvm_steady) ;;
kvm_no_converge|kvm_auto_converge)
	# Writing ~200 MB/s over a 400 Mb/s pace: only auto-converge helps.
	MR_MEM=64M rate=50000 src_set="--set channels.max_bandwidth=400M --set migration.max_rounds=5"
	[ "$CASE" = kvm_auto_converge ] &&
		src_set="--set channels.max_bandwidth=400M --set migration.max_rounds=40 --set migration.auto_converge=on --set migration.throttle_initial=80 --set migration.throttle_step=19" ;;
kvm_cancel|kvm_kill_destination)
	src_set="--set channels.max_bandwidth=300M" when="handshake -> precopy" ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
mr_start_migdp destination "" || fail "start"
mr_wait_ready destination || fail "destination migdp"
# After resume the destination VM runs 3 s, verifying.
start_vm destination "--run-after-ms 3000"
mr_start_migdp source "$src_set" || fail "start"
mr_wait_ready source || fail "source migdp"
start_vm source "--rate $rate"
if [ -n "$when" ]; then
	mr_wait_for "$MR_DIR/source.log" "$when" 30 || fail "never reached '$when'"
	sleep 0.5
	if [ "$CASE" = kvm_cancel ]; then
		"$MIGCTL" --socket "$MR_DIR/source-control.sock" cancel >/dev/null || fail "migctl cancel"
	else
		pkill -9 -f "file-prefix $MR_TAG-des" || fail "no destination migdp"
	fi
fi
wait "$VM_source"; src_rc=$?
wait "$VM_destination"
mr_wait_all

case $CASE in
kvm_steady|kvm_auto_converge)
	[ "$src_rc" = 0 ] || fail "source VM exit $src_rc: $(get vm-source .reason)"
	[ "$(get source .status)" = completed ] || fail "source migdp: $(get source .reason)"
	[ "$(get vm-destination .verified)" = true ] ||
		fail "destination guest: $(get vm-destination .reason)"
	[ "$(get vm-destination '.writes_after_resume > 0 and .mismatches == 0')" = true ] ||
		fail "the guest did not go on: $(mr_last vm-destination)"
	if [ "$CASE" = kvm_auto_converge ]; then
		[ "$(get vm-source .throttle_max_pct)" -gt 0 ] || fail "never throttled"
	fi
	echo "PASS ($CASE): $(get source '{rounds: (.rounds | length + 1), downtime_ms, total_ms}' | tr -d '\n ') guest: $(get vm-destination '{downtime_ms, writes_after_resume, verify_passes_after_resume}' | tr -d '\n ')" ;;
kvm_no_converge)
	get source .reason | grep -q "did not converge" || fail "source: $(get source .reason)"
	source_ran_on
	echo "PASS ($CASE): $(get source .reason)" ;;
kvm_cancel|kvm_kill_destination)
	expect="cancelled by migrate-cancel"
	[ "$CASE" = kvm_kill_destination ] && expect="peer silent"
	get source .reason | grep -q "$expect" || fail "source: $(get source .reason)"
	source_ran_on
	echo "PASS ($CASE): $(get source .reason); the source VM verified $(get vm-source .verify_passes_after_resume) more passes" ;;
esac
exit 0
