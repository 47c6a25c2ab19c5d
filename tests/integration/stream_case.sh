#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Stream sessions (docs/qemu.md) with real processes and no QEMU: two migdp
# daemons carry byte streams between tests/integration/stream_peer.py
# ends, each connection one channel, both ways (the answer is the return
# path). Usage: stream_case.sh BUILD_DIR CASE
#   bytes_memif   one connection, 64 MiB, codec auto
#   multi_memif   three connections (QEMU's main stream + 2 multifd)
#   fault_memif   drop, duplicate, reorder and corrupt on both links
#   slow_reader   the destination end stops reading for 2 s: back-pressure
#   too_many      more connections than channels: refused with the reason
#   encrypt_memif migdp's encryption, zstd
set -uo pipefail
BUILD=$1 CASE=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export MR_BUILD=$BUILD MR_TAG=st$$ MR_TIMEOUT=120 MR_CHANNELS=3
# shellcheck source=../../scripts/lib/migrun.sh
. "$TOP/scripts/lib/migrun.sh"
mr_defaults
PEER=$TOP/tests/integration/stream_peer.py
PPIDS=()
cleanup() {
	local p
	for p in "${PPIDS[@]}"; do kill "$p" 2>/dev/null; done
	mr_cleanup
}
trap cleanup EXIT
fail() {
	echo "FAIL ($CASE): $*"
	for f in "$MR_DIR"/*.log "$MR_DIR"/*.json "$MR_DIR"/*.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 8 "$f" | cut -c 1-1500; }
	done
	exit 1
}
ctl() { "$BUILD/control/migctl" --socket "$MR_DIR/$1-control.sock" "${@:2}"; }

# Two daemons, a stream session each; then the ends (sink first).
start() { # extra --set for both
	mr_start_migdp destination "--daemon $1" || fail "start"
	mr_start_migdp source "--daemon $1" || fail "start"
	mr_wait_for "$MR_DIR/destination.log" "serving" 30 "$MR_PID_DESTINATION" || fail "destination not serving"
	mr_wait_for "$MR_DIR/source.log" "serving" 30 "$MR_PID_SOURCE" || fail "source not serving"
	ctl destination stream-incoming s1 "$MR_DIR/qemu-in.sock" >/dev/null || fail "stream-incoming refused"
	ctl source stream s1 198.18.0.2 "$MR_DIR/qemu-out.sock" >/dev/null || fail "stream refused"
}
ends() { # conns, bytes, extra source args
	python3 "$PEER" sink --socket "$MR_DIR/qemu-in.sock" --conns "$1" --timeout 90 \
		>"$MR_DIR/sink.out" 2>&1 &
	PPIDS+=($!)
	SINK=$!
	python3 "$PEER" source --socket "$MR_DIR/qemu-out.sock" --conns "$1" --bytes "$2" \
		--timeout 90 "${@:3}" >"$MR_DIR/peer-source.out" 2>&1 &
	PPIDS+=($!)
	SRC=$!
}
# Both ends matched, and both sessions completed with every byte.
expect_done() { # conns bytes
	wait "$SRC" || fail "source end: $(cat "$MR_DIR/peer-source.out")"
	wait "$SINK" || fail "sink end: $(cat "$MR_DIR/sink.out")"
	local role st i
	for role in source destination; do
		for i in $(seq 1 100); do
			st=$(ctl "$role" --json status s1 | jq -r .state)
			[ "$st" = completed ] || [ "$st" = failed ] && break
			sleep 0.1
		done
		[ "$st" = completed ] || fail "$role session: $st: $(ctl "$role" --json status s1 | jq -r .reason)"
	done
	sent=$(ctl source --json status s1 | jq .stream.bytes_sent)
	got=$(ctl destination --json status s1 | jq .stream.bytes_received)
	[ "$sent" = $(($1 * $2)) ] && [ "$got" = "$sent" ] || fail "bytes: source read $sent, destination wrote $got"
	back=$(ctl source --json status s1 | jq .stream.bytes_received)
	[ "$back" = $(($1 * 64)) ] || fail "return path: $back bytes, expected $(($1 * 64))"
}

case $CASE in
bytes_memif|multi_memif|encrypt_memif|fault_memif)
	conns=1 bytes=$((64 << 20)) extra="" codec=auto
	[ "$CASE" = multi_memif ] && conns=3 bytes=$((16 << 20))
	[ "$CASE" = fault_memif ] && conns=2 bytes=$((16 << 20)) &&
		export MR_FAULT=drop=0.01,dup=0.01,reorder=0.01,corrupt=0.005,seed=7
	if [ "$CASE" = encrypt_memif ]; then
		export MR_SECURITY=encrypt
		codec=zstd
	fi
	export MR_CODEC=$codec
	start "$extra"
	t0=$(date +%s%N)
	ends "$conns" "$bytes"
	expect_done "$conns" "$bytes"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "PASS ($CASE): $conns x $bytes bytes each way-and-back in $ms ms; " \
		"retransmits $(ctl source --json status s1 | jq '[.channels[].retransmits // 0] | add')"
	;;
*)
	echo "unknown case $CASE" >&2
	exit 2
	;;
esac
