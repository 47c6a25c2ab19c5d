#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Failure scenarios with real processes: a peer killed mid-transfer, a
# handshake that must be rejected. Usage: failure_case.sh BUILD_DIR CASE
set -uo pipefail
BUILD=$1 CASE=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export MR_BUILD=$BUILD MR_TAG=fc$$ MR_TIMEOUT=60 MR_MEM=256M MR_CHANNELS=2
# shellcheck source=../../scripts/lib/migrun.sh
. "$TOP/scripts/lib/migrun.sh"
mr_defaults
trap mr_cleanup EXIT

fail() {
	echo "FAIL ($CASE): $*"
	for f in "$MR_DIR"/*.log "$MR_DIR"/*.json; do echo "--- $f"; tail -n 4 "$f"; done
	exit 1
}
get() { mr_get "$@"; }
wait_for() { mr_wait_for "$@"; }
PEER_TIMEOUT_MS=3000

case $CASE in
kill_destination|kill_source)
	victim=${CASE#kill_}
	# Paced to 1 Gb/s so that the transfer lasts a few seconds.
	MR_CODEC=raw MR_EXTRA_SRC="--set channels.max_bandwidth=1G"
	mr_start_all || fail "start"
	wait_for "$MR_DIR/source.log" "accepted" 30 || fail "no session"
	sleep 0.5
	pid=MR_PID_${victim^^}
	pkill -9 -P "${!pid}"; kill -9 "${!pid}"
	t0=$(date +%s%N)
	survivor=source; [ "$victim" = source ] && survivor=destination
	spid=MR_PID_${survivor^^}
	wait "${!spid}"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	mr_wait_all
	[ "$rc" != 0 ] || fail "$survivor migdp exited 0 after its peer died"
	[ "$(get "$survivor" .status)" = failed ] || fail "$survivor says $(get "$survivor" .status)"
	get "$survivor" .reason | grep -q "silent" || fail "reason: $(get "$survivor" .reason)"
	[ "$ms" -le $((PEER_TIMEOUT_MS + 3000)) ] || fail "$survivor took $ms ms to notice"
	[ "$(get "guest-$survivor" .status)" = failed ] || fail "the $survivor guest was told $(get "guest-$survivor" .status)"
	if [ "$survivor" = source ]; then
		[ "$(get guest-source .digest)" = "$(get guest-source .digest_after)" ] ||
			fail "source memory changed"
	else
		[ "$(get destination .verified)" = false ] || fail "destination claims verified"
	fi
	echo "PASS ($CASE): $survivor failed after $ms ms: $(get "$survivor" .reason)"
	;;
interrupt_source)
	# Ctrl-C on the source mid-transfer: it aborts, tells its peer and its
	# hypervisor; nobody claims completion.
	MR_CODEC=raw MR_EXTRA_SRC="--set channels.max_bandwidth=1G"
	mr_start_all || fail "start"
	wait_for "$MR_DIR/source.log" "accepted" 30 || fail "no session"
	sleep 0.5
	pkill -INT -P "$MR_PID_SOURCE"
	mr_wait_all && fail "an interrupted migration succeeded"
	[ "$(get source .reason)" = interrupted ] || fail "source: $(get source .reason)"
	get destination .reason | grep -q "peer aborted" || fail "destination: $(get destination .reason)"
	[ "$(get guest-source .status)" = failed ] || fail "source guest: $(get guest-source .status)"
	[ "$(get guest-destination .status)" = failed ] || fail "destination guest: $(get guest-destination .status)"
	[ "$(get guest-source .digest)" = "$(get guest-source .digest_after)" ] || fail "source memory changed"
	echo "PASS ($CASE): $(get destination .reason)"
	;;
layout_mismatch)
	mr_start_migdp destination ""
	MR_MEM=128M mr_start_guest destination
	mr_start_migdp source ""
	mr_start_guest source
	mr_wait_all && fail "a mismatched layout migrated"
	get source .reason | grep -q "rejected.*region" || fail "source reason: $(get source .reason)"
	grep -q "rejecting session: region" "$MR_DIR/destination.log" || fail "destination logged no reason"
	echo "PASS ($CASE): $(get source .reason)"
	;;
version_mismatch|old_version|previous_version)
	# A newer protocol announced in HELLO; or a version-1 or version-2
	# migdp (HELLO in its own framing, answered in kind).
	announce=5 expect="protocol version mismatch"
	[ "$CASE" = old_version ] && announce=1 expect="source speaks wire version 1, this migdp 4"
	[ "$CASE" = previous_version ] && announce=2 expect="source speaks wire version 2, this migdp 4"
	mr_start_migdp destination ""
	mr_start_guest destination
	mr_start_migdp source "--hello-version $announce"
	mr_start_guest source
	mr_wait_all && fail "a mismatched version migrated"
	get source .reason | grep -q "rejected.*$expect" || fail "source reason: $(get source .reason)"
	grep -q "rejecting session: $expect" "$MR_DIR/destination.log" ||
		fail "destination logged no reason"
	echo "PASS ($CASE): $(get source .reason)"
	;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
