#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Live migration with real processes: two migdp over memif and two lab
# guests whose vCPU threads write memory while the pre-copy rounds run.
# Usage: live_case.sh BUILD_DIR CASE. Exit 0 pass, 1 fail, 77 skipped.
set -uo pipefail
BUILD=$1 CASE=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export MR_BUILD=$BUILD MR_TAG=lv$$ MR_TIMEOUT=${MR_TIMEOUT:-90} MR_CHANNELS=2
# shellcheck source=../../scripts/lib/migrun.sh
. "$TOP/scripts/lib/migrun.sh"
MIG="$TOP/scripts/migrate-image.sh"
MIGCTL=$BUILD/control/migctl

fail() {
	echo "FAIL ($CASE): $*"
	if [ -n "${MR_DIR:-}" ] && [ -d "$MR_DIR" ]; then
		for f in "$MR_DIR"/*.log "$MR_DIR"/*.json; do echo "--- $f"; tail -n 6 "$f"; done
	fi
	[ -n "${ERR:-}" ] && tail -n 30 "$ERR"
	exit 1
}
ERR=/tmp/$MR_TAG.err
trap 'rm -f "$ERR"' EXIT
# One migration through migrate-image.sh; its summary in $OUT.
run() {
	OUT=$("$MIG" "$@" 2>"$ERR" | tail -n 1)
	RC=$?
	echo "$OUT" | jq -c '{status, reason, verified, rounds, downtime_ms, guest_downtime_ms, total_ms, transitions}'
}
field() { echo "$OUT" | jq -r "$1"; }
get() { mr_get "$@"; }
wait_for() { mr_wait_for "$@"; }
# After a failed live migration: the source VM ran on, its memory its own.
source_ran_on() {
	[ "$(get guest-source .status)" = failed ] || fail "source guest: $(get guest-source .status)"
	[ "$(get guest-destination .status)" = failed ] || fail "destination guest: $(get guest-destination .status)"
	[ "$(get guest-destination .resumed_writes // 0)" = 0 ] || fail "the destination VM ran"
}

case $CASE in
live_steady)
	# A guest dirtying pages at a moderate rate converges in a few rounds;
	# the destination guest finds its memory equal to the source's at pause.
	# A device state of 64 MiB rides the final round like pages.
	MR_DEVICE_STATE=64M run --mem 256M --channels 2 --workload steady --dirty-rate 20000
	[ "$(field .status)" = completed ] || fail "status $(field .status): $(field .reason)"
	[ "$(field .verified)" = true ] || fail "not verified"
	[ "$(field .rounds)" -ge 2 ] || fail "$(field .rounds) round(s): no pre-copy"
	[ "$(field '.transitions | index("switchover") != null and index("device-state") != null')" = true ] ||
		fail "transitions $(field .transitions)"
	[ "$(field '.guest_downtime_ms > 0 and .downtime_ms > 0')" = true ] || fail "no downtime measured"
	[ "$(field '.round_figures[0].pages')" -ge 65536 ] || fail "round 1 did not send all memory" ;;
live_no_converge|live_auto_converge)
	# Dirtying faster than a 400 Mb/s pace: without auto-converge the
	# rounds never shrink and the migration fails, the source running on;
	# with it the guest is throttled until it converges.
	ac=off; rounds=4
	[ "$CASE" = live_auto_converge ] && ac=on rounds=40
	set_src="--set channels.max_bandwidth=400M --set migration.max_rounds=$rounds"
	set_src+=" --set migration.auto_converge=$ac --set migration.throttle_initial=50"
	set_src+=" --set migration.throttle_step=20"
	MR_EXTRA_SRC=$set_src run --mem 64M --channels 2 --workload steady --dirty-rate 60000
	if [ "$ac" = off ]; then
		[ "$(field .status)" = failed ] || fail "converged at 60000 pages/s over 400 Mb/s"
		field .reason | grep -q "did not converge" || fail "reason: $(field .reason)"
		[ "$RC" != 0 ] || fail "exit status 0"
	else
		[ "$(field .status)" = completed ] || fail "status $(field .status): $(field .reason)"
		[ "$(field .verified)" = true ] || fail "not verified"
		[ "$(field '.throttle_max_pct // 0')" -gt 0 ] || fail "never throttled"
	fi ;;
live_cancel|live_kill_destination|live_hypervisor_stopped|live_hypervisor_killed|live_cancel_switchover|live_kill_destination_switchover|live_kill_destination_commit)
	# Mid pre-copy: cancelled by migctl, the destination killed, or the
	# source hypervisor silent (stopped): the session fails with the
	# reason, the source guest runs on.
	mr_defaults
	trap mr_cleanup EXIT
	MR_MEM=256M MR_WORKLOAD=steady MR_DIRTY_RATE=20000 MR_CODEC=raw
	MR_EXTRA_SRC="--set channels.max_bandwidth=1G --set migdp.watchdog_ms=1500"
	when="handshake -> precopy" pause=0.5
	case $CASE in
	*_switchover)
		# A large final pass (a long downtime allowed, a slow pace).
		MR_MEM=128M MR_DIRTY_RATE=3000
		MR_EXTRA_SRC="--set channels.max_bandwidth=300M --set migration.downtime_limit_ms=3000"
		when="precopy -> switchover" pause=0.05 ;;
	*_commit)
		MR_EXTRA_DST="--hold-ready-ms 20000"
		when="device-state -> commit" pause=0.05 ;;
	esac
	mr_start_all || fail "start"
	wait_for "$MR_DIR/source.log" "$when" 60 || fail "never reached '$when'"
	sleep $pause
	case $CASE in
	live_cancel|live_cancel_switchover)
		MIGDP_CONTROL_SOCKET=$MR_DIR/source-control.sock "$MIGCTL" cancel guest1 ||
			fail "migctl cancel exit $?"
		expect="cancelled by migrate-cancel" ;;
	live_kill_destination*)
		pkill -9 -P "$MR_PID_DESTINATION"; expect="peer silent" ;;
	live_hypervisor_killed)
		pkill -9 -P "$MR_PID_GUEST_SOURCE"; expect="the hypervisor went away" ;;
	live_hypervisor_stopped)
		pkill -STOP -P "$MR_PID_GUEST_SOURCE"; expect="no progress for 1500 ms"
		sleep 5; pkill -CONT -P "$MR_PID_GUEST_SOURCE" ;;
	esac
	mr_wait_all && fail "a disturbed migration succeeded"
	get source .reason | grep -q "$expect" || fail "source reason: $(get source .reason)"
	if [ "$CASE" != live_hypervisor_killed ]; then
		[ "$(get guest-source .status)" = failed ] || fail "source guest: $(get guest-source .status)"
		[ "$(get guest-source .writes)" -gt 0 ] || fail "the source guest did not run"
	fi
	case $CASE in
	live_kill_destination*) ;;
	live_hypervisor_killed)
		get destination .reason | grep -q "peer aborted" || fail "destination: $(get destination .reason)"
		[ "$(get guest-destination .status)" = failed ] || fail "destination guest: $(get guest-destination .status)" ;;
	*)	get destination .reason | grep -q "peer aborted" || fail "destination: $(get destination .reason)"
		source_ran_on ;;
	esac
	# Paused for the switchover: resumed at the source when it failed.
	case $CASE in
	*_switchover|*_commit)
		[ "$(get guest-source .resumed_after_failure)" = true ] ||
			fail "the source guest was not resumed" ;;
	esac
	get source .transitions | jq -e 'map(.to) | index("completed") == null' >/dev/null ||
		fail "a failed session passed through completed"
	echo "PASS ($CASE): $(get source .reason)"; exit 0 ;;
live_set_parameters)
	# Parameters changed during pre-copy take effect: max-bandwidth, the
	# session's pacing limit, lowered from 200 to 100 Mb/s mid-round holds
	# from then on; both values show in the report.
	mr_defaults
	trap mr_cleanup EXIT
	MR_MEM=64M MR_WORKLOAD=steady MR_DIRTY_RATE=500 MR_CODEC=raw
	MR_EXTRA_SRC="--set migration.max_bandwidth=200M"
	mr_start_all || fail "start"
	wait_for "$MR_DIR/source.log" "handshake -> precopy" 60 || fail "no pre-copy"
	sleep 0.5
	sock=$MR_DIR/source-control.sock
	before=$("$MIGCTL" --socket "$sock" --json status) || fail "status"
	"$MIGCTL" --socket "$sock" set max-bandwidth=100M downtime-limit=250 >/dev/null ||
		fail "migctl set: exit $?"
	mr_wait_all || fail "the migration failed: $(get source .reason)"
	[ "$(get source '.parameters["max-bandwidth"]')" = 100000000 ] || fail "max-bandwidth not kept"
	[ "$(get source '.parameters["downtime-limit"]')" = 250 ] || fail "downtime-limit not kept"
	rate=$(jq -n --argjson b "$before" --argjson a "$(mr_last source)" \
		'($a.wire_bytes - $b.bytes.wire) * 8 / (($a.total_ms - $b.total_ms) / 1000)')
	echo "after the change: $rate b/s under a 100 Mb/s limit"
	[ "$(jq -n "$rate < 1.3 * 100000000 and $rate > 0")" = true ] ||
		fail "$rate b/s after max-bandwidth=100M"
	[ "$(get guest-destination .verified)" = true ] || fail "not verified"
	echo "PASS ($CASE): $(get source '.parameters | tostring')"; exit 0 ;;
daemon_concurrent)
	# Two VMs migrated at once by one pair of daemons: their channels
	# share the channel lcores; both verified at their destination.
	mr_defaults
	trap mr_cleanup EXIT
	MR_MEM=256M MR_WORKLOAD=steady MR_DIRTY_RATE=5000
	src=$MR_DIR/source-control.sock dst=$MR_DIR/destination-control.sock
	mr_start_migdp destination "--daemon" || fail "start"
	# Each session paced to 1 Gb/s: they overlap for a few seconds.
	mr_start_migdp source "--daemon --set migration.max_bandwidth=1G" || fail "start"
	pids=()
	for vm in vm-a vm-b; do
		MR_VM=$vm mr_start_guest destination; pids+=("$MR_PID_GUEST_DESTINATION")
		MR_VM=$vm mr_start_guest source; pids+=("$MR_PID_GUEST_SOURCE")
	done
	for vm in vm-a vm-b; do
		wait_for "$MR_DIR/source.log" "VM '$vm' connected" 30 || fail "$vm not connected"
		wait_for "$MR_DIR/destination.log" "VM '$vm' connected" 30 || fail "$vm not at the destination"
	done
	for vm in vm-a vm-b; do
		"$MIGCTL" --socket "$dst" incoming $vm >/dev/null || fail "migctl incoming $vm"
	done
	for vm in vm-a vm-b; do
		"$MIGCTL" --socket "$src" migrate $vm 198.18.0.2 >/dev/null || fail "migctl migrate $vm"
	done
	"$MIGCTL" --socket "$src" --json sessions >"$MR_DIR/sessions.json" || fail "sessions"
	running=$(jq '[.sessions[] | select(.state != "completed" and .state != "failed")] | length' "$MR_DIR/sessions.json")
	echo "sessions running at once: $running"
	[ "$running" = 2 ] || fail "$running sessions running: $(cat "$MR_DIR/sessions.json")"
	# DPDK telemetry shows both sessions and their channels.
	if command -v dpdk-telemetry.py >/dev/null; then
		ids=$(echo /migdp/sessions | dpdk-telemetry.py -f "$MR_TAG-sou" 2>/dev/null |
			jq -r '."/migdp/sessions"[]?' 2>/dev/null)
		[ "$(echo "$ids" | grep -c .)" = 2 ] || fail "telemetry sessions: '$ids'"
		id=$(echo "$ids" | head -n 1)
		printf '/migdp/session,%s\n/migdp/channels,%s\n' "$id" "$id" |
			dpdk-telemetry.py -f "$MR_TAG-sou" 2>/dev/null | jq -s . >"$MR_DIR/tel.json"
		jq -e '.[0]."/migdp/session".vm | test("^vm-[ab]$")' "$MR_DIR/tel.json" >/dev/null ||
			fail "telemetry session: $(cat "$MR_DIR/tel.json")"
		jq -e '.[1]."/migdp/channels" | length == 2' "$MR_DIR/tel.json" >/dev/null ||
			fail "telemetry channels: $(cat "$MR_DIR/tel.json")"
		echo "telemetry: sessions $(echo $ids), $(jq -c '.[0]."/migdp/session" | {vm, state}' "$MR_DIR/tel.json")"
	else
		echo "dpdk-telemetry.py missing (Debian's dpdk-dev): telemetry not checked"
	fi
	"$MIGCTL" --socket "$src" watch vm-a >/dev/null & wa=$!
	"$MIGCTL" --socket "$src" watch vm-b >/dev/null & wb=$!
	wait $wa || fail "watch vm-a: exit $?"
	wait $wb || fail "watch vm-b: exit $?"
	for p in "${pids[@]}"; do wait "$p" || fail "a guest failed"; done
	for vm in vm-a vm-b; do
		"$MIGCTL" --socket "$dst" --json status $vm | jq -e '.state == "completed" and .verified' \
			>/dev/null || fail "$vm: $("$MIGCTL" --socket "$dst" --json status $vm)"
		[ "$(get "guest-destination-$vm" .verified)" = true ] || fail "guest $vm not verified"
		[ "$(get "guest-destination-$vm" .name)" = $vm ] || fail "guest $vm got another VM"
	done
	# One after the other: DPDK 22.11's memif can crash the EAL interrupt
	# thread of a side that closes its port while its peer disconnects.
	kill -TERM "$MR_PID_SOURCE"
	wait "$MR_PID_SOURCE" || fail "source daemon exit $?"
	kill -TERM "$MR_PID_DESTINATION"
	wait "$MR_PID_DESTINATION" || fail "destination daemon exit $?"
	[ "$(grep -c '"status":"completed"' "$MR_DIR/source.json")" = 2 ] || fail "source: $(grep -c '"status":"completed"' "$MR_DIR/source.json") completed"
	[ "$(grep -c '"status":"completed"' "$MR_DIR/destination.json")" = 2 ] || fail "destination reports"
	echo "PASS ($CASE): two VMs at once, both verified"; exit 0 ;;
daemon_migctl)
	# Two long-lived migdp (--daemon); two VMs migrated one after the
	# other on migctl's command, watched to the end; then SIGTERM.
	mr_defaults
	trap mr_cleanup EXIT
	MR_MEM=128M MR_WORKLOAD=steady MR_DIRTY_RATE=5000
	src=$MR_DIR/source-control.sock dst=$MR_DIR/destination-control.sock
	MR_EXTRA_SRC="--daemon" MR_EXTRA_DST="--daemon"
	mr_start_migdp destination "$MR_EXTRA_DST" || fail "start"
	mr_start_migdp source "$MR_EXTRA_SRC" || fail "start"
	for vm in vm-a vm-b; do
		MR_VM=$vm mr_start_guest destination
		MR_VM=$vm mr_start_guest source
		wait_for "$MR_DIR/source.log" "VM '$vm' connected" 20 || fail "$vm not connected"
		wait_for "$MR_DIR/destination.log" "VM '$vm' connected" 20 || fail "$vm not connected at the destination"
		"$MIGCTL" --socket "$dst" incoming $vm >/dev/null || fail "migctl incoming $vm"
		"$MIGCTL" --socket "$src" migrate $vm 198.18.0.2 >/dev/null || fail "migctl migrate $vm"
		"$MIGCTL" --socket "$src" watch $vm >"$MR_DIR/watch-$vm.txt" || fail "watch $vm: exit $?"
		grep -q "precopy" "$MR_DIR/watch-$vm.txt" || fail "watch showed no pre-copy"
		for p in "$MR_PID_GUEST_SOURCE" "$MR_PID_GUEST_DESTINATION"; do
			wait "$p" || fail "a guest of $vm failed"
		done
		[ "$(get "guest-destination-$vm" .verified)" = true ] || fail "$vm not verified"
		"$MIGCTL" --socket "$src" --json status $vm | jq -e '.state == "completed"' >/dev/null ||
			fail "status of $vm"
	done
	# Errors name the problem; nothing crashes.
	"$MIGCTL" --socket "$src" migrate nosuch 198.18.0.2 2>"$MR_DIR/err.txt" && fail "migrated nothing"
	grep -q "no VM 'nosuch' connected" "$MR_DIR/err.txt" || fail "error: $(cat "$MR_DIR/err.txt")"
	python3 - "$src" >"$MR_DIR/raw.txt" <<'PY' || fail "control socket abuse: $(cat "$MR_DIR/raw.txt")"
import json, socket, sys
def talk(lines, close_early=False):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rwb")
    json.loads(f.readline())                      # greeting
    out = []
    for l in lines:
        f.write(l + b"\n"); f.flush()
        if close_early:
            s.close(); return out
        out.append(json.loads(f.readline()))
    s.close(); return out
r = talk([b'{"execute":', b'[1,2]', b'{"execute":"nosuch"}',
          b'{"execute":"migrate","arguments":{"vm":7}}', b'{"execute":"query-migrate","id":5}'])
assert r[0]["error"]["class"] == "ParseError", r[0]
assert r[1]["error"]["class"] == "InvalidRequest", r[1]
assert r[2]["error"]["class"] == "CommandNotFound", r[2]
assert "vm" in r[3]["error"]["desc"], r[3]
assert r[4]["id"] == 5 and r[4]["return"]["state"] == "completed", r[4]
talk([b'{"execute":"query-sessi'], close_early=True)   # gone mid-request
r = talk([b'{"execute":"query-sessions"}'])
assert len(r[0]["return"]["sessions"]) >= 1, r
print("control socket: errors answered, nothing harmed")
PY
	"$MIGCTL" --socket "$dst" set downtime-limit=0 2>"$MR_DIR/err.txt" && fail "downtime-limit=0 accepted"
	"$MIGCTL" --socket "$src" sessions | grep -q vm-b || fail "sessions lists no vm-b"
	# One after the other: DPDK 22.11's memif can crash the EAL interrupt
	# thread of a side that closes its port while its peer disconnects.
	kill -TERM "$MR_PID_SOURCE"
	wait "$MR_PID_SOURCE" || fail "source daemon exit $?"
	kill -TERM "$MR_PID_DESTINATION"
	wait "$MR_PID_DESTINATION" || fail "destination daemon exit $?"
	[ "$(grep -c '^{' "$MR_DIR/source.json")" = 2 ] || fail "source reported $(grep -c '^{' "$MR_DIR/source.json") sessions"
	echo "PASS ($CASE): two VMs migrated by one pair of daemons"; exit 0 ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS ($CASE): $(echo "$OUT" | jq -c '{status, rounds, downtime_ms, verified}')"
exit 0
