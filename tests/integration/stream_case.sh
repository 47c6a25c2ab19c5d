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
#   socket_in_use a path in use (another session, another program) refused
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
ctl() { mr_ctl "$@"; }

# Two daemons, a stream session each; then the ends (sink first).
start() { # extra --set for both
	mr_stream_start "$1" s1 || fail "start"
}
ends() { # conns, bytes, extra source args
	python3 "$PEER" sink --socket "$MR_STREAM_IN" --conns "$1" --timeout 90 \
		>"$MR_DIR/sink.out" 2>&1 &
	PPIDS+=($!)
	SINK=$!
	for _ in $(seq 1 100); do [ -S "$MR_STREAM_IN" ] && break; sleep 0.05; done
	python3 "$PEER" source --socket "$MR_STREAM_OUT" --conns "$1" --bytes "$2" \
		--timeout 90 "${@:3}" >"$MR_DIR/peer-source.out" 2>&1 &
	PPIDS+=($!)
	SRC=$!
}
# Both ends matched, and both sessions completed with every byte.
expect_done() { # conns bytes
	wait "$SRC" || fail "source end: $(cat "$MR_DIR/peer-source.out")"
	wait "$SINK" || fail "sink end: $(cat "$MR_DIR/sink.out")"
	[ "$(mr_stream_wait s1 10)" = "completed completed" ] ||
		fail "sessions: $(mr_stream_wait s1 1): $(ctl source --json status s1 | jq -r .reason)"
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
slow_reader)
	# The destination's hypervisor stops reading for 3 s: the source
	# migdp stops reading its end (its writes block), the link carries
	# no more than the receive window and the sockets hold.
	export MR_CODEC=raw
	start ""
	python3 "$PEER" sink --socket "$MR_STREAM_IN" --conns 1 --timeout 90 \
		--stall-after $((8 << 20)) --stall-ms 3000 >"$MR_DIR/sink.out" 2>&1 &
	PPIDS+=($!)
	SINK=$!
	python3 "$PEER" source --socket "$MR_STREAM_OUT" --conns 1 --bytes $((256 << 20)) \
		--timeout 90 >"$MR_DIR/peer-source.out" 2>&1 &
	PPIDS+=($!)
	SRC=$!
	mr_wait_for "$MR_DIR/sink.out" stalled_at 30 "$SINK" || fail "the sink never stalled"
	sleep 1.5 # well into the stall
	a=$(ctl source --json status s1 | jq .stream.bytes_sent)
	b=$(ctl destination --json status s1 | jq .stream.bytes_received)
	sleep 1
	a2=$(ctl source --json status s1 | jq .stream.bytes_sent)
	held=$((a - b))
	[ "$a2" = "$a" ] || fail "the source kept reading during the stall: $a then $a2 bytes"
	# Held at most: the receive window (256 frames of ~9 KB) and what
	# the destination's socket buffers take.
	[ "$held" -lt $((16 << 20)) ] || fail "$held bytes read but not written during the stall"
	expect_done 1 $((256 << 20))
	echo "PASS ($CASE): during the stall the source read $a bytes and stopped; $held of them held between the two hypervisors"
	;;
too_many)
	# One connection more than channels: the session fails and says why;
	# every connection is closed (the hypervisor sees the end).
	export MR_CHANNELS=1
	start ""
	ends 2 $((1 << 20))
	wait "$SRC"
	for i in $(seq 1 50); do
		st=$(ctl source --json status s1 | jq -r .state)
		[ "$st" = failed ] && break
		sleep 0.1
	done
	[ "$st" = failed ] || fail "source session: $st"
	why=$(ctl source --json status s1 | jq -r .reason)
	[[ $why == *"opened connection 2; this migdp has 1 channels"* ]] || fail "reason: $why"
	grep -q '"ok": false' "$MR_DIR/peer-source.out" || fail "the source end did not see the failure"
	echo "PASS ($CASE): $why"
	;;
socket_in_use)
	# A path another session or program listens on is never taken (nor
	# removed): refused with the reason; a stale socket file is replaced.
	start ""
	out=$(ctl source stream s2 198.18.0.2 "$MR_STREAM_OUT" 2>&1) && fail "a second session took $MR_STREAM_OUT"
	[[ $out == *"is stream session 's1''s already"* ]] || fail "second session: $out"
	python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(30)' \
		"$MR_DIR/other.sock" &
	PPIDS+=($!)
	sleep 0.5
	out=$(ctl source stream s3 198.18.0.2 "$MR_DIR/other.sock" 2>&1) && fail "took a live socket"
	[[ $out == *"a socket in use"* ]] || fail "live socket: $out"
	[ -S "$MR_DIR/other.sock" ] || fail "the other program's socket was removed"
	kill "${PPIDS[-1]}"; sleep 0.2 # its socket file stays, nobody listens
	ctl source stream s4 198.18.0.2 "$MR_DIR/other.sock" >/dev/null || fail "stale socket not replaced"
	ctl source cancel s4 >/dev/null
	echo "PASS ($CASE): a second session and a live socket refused, a stale one replaced"
	;;
*)
	echo "unknown case $CASE" >&2
	exit 2
	;;
esac
