#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Unmodified QEMU through migdp (docs/qemu.md): two real QEMU (KVM where
# /dev/kvm opens) with 256 MiB of RAM from an image, migrated with QEMU's
# own `migrate unix:` through two migdp daemons (stream sessions) over
# memif or af_packet on veth. The destination's RAM file must equal the
# source's at switchover (both stay paused after it), QEMU's destination
# must report completed; failures must end in QEMU's failed, the source VM
# still in its state of before, never a hang.
# Usage: qemu_stream_case.sh BUILD_DIR CASE
#   paused_memif      a paused guest, QEMU's plain stream
#   multifd_memif     multifd with 2 channels (3 connections)
#   running_memif     a running guest rewriting 32 MiB (scripts/lib/dirty_guest.py),
#                     multifd, return path; under TCG: this machine's nested KVM
#                     never gets SeaBIOS to the boot sector
#   paused_veth       af_packet on a veth pair, plain stream
#   multifd_veth      af_packet on a veth pair, multifd 2 channels
#   faults            drop, duplicate, reorder, corrupt on both links
#   kill_qemu_dst     the destination QEMU killed mid-migration
#   kill_migdp_dst    the destination migdp killed mid-migration
#   tls_plain         QEMU's TLS (x509 made here) through migdp's plain path
#   encrypt_notls     migdp's encryption, QEMU's TLS off (timed against tls_plain)
set -uo pipefail
BUILD=$1 CASE=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export MR_BUILD=$BUILD MR_TAG=qs$$ MR_TIMEOUT=150 MR_CHANNELS=3 MR_CODEC=raw
# shellcheck source=../../scripts/lib/migrun.sh
. "$TOP/scripts/lib/migrun.sh"
# shellcheck source=../../scripts/lib/qemu_vm.sh
. "$TOP/scripts/lib/qemu_vm.sh"
# shellcheck source=../../scripts/lib/tls_certs.sh
. "$TOP/scripts/lib/tls_certs.sh"
mr_defaults
SIZE=$((256 << 20))

command -v qemu-system-x86_64 >/dev/null ||
	{ echo "SKIP: no qemu-system-x86_64 (Debian's qemu-system-x86: scripts/setup.sh installs it)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: $CASE needs root (daemons, namespaces)"; exit 77; }
(exec 3<>/dev/kvm) 2>/dev/null || { echo "SKIP: no /dev/kvm (KVM guests)"; exit 77; }
qvm_init kvm || exit 1

cleanup() {
	qvm_stop "$MR_DIR" src
	qvm_stop "$MR_DIR" dst
	mr_cleanup
}
trap cleanup EXIT
fail() {
	echo "FAIL ($CASE): $*"
	for f in "$MR_DIR"/*.log "$MR_DIR"/*.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 8 "$f" | cut -c 1-1500; }
	done
	exit 1
}

# Two QEMU, the migration driven over QMP; its JSON in $MR_DIR/qemu.out.
# Options for qemu_migrate.py follow the configuration.
QVM_SRC=() QVM_DST=() IMG=$MR_DIR/image BOOT=""
migrate_qemu() { # config [qemu_migrate.py options...]
	local config=$1
	shift
	"$BUILD/lab/migdp-genimage" --mem 256M --out "$IMG" >/dev/null || fail "no image"
	qvm_start dst "$MR_DIR" "$SIZE" --timeout 200 "${QVM_DST[@]}" || fail "QEMU dst"
	qvm_start src "$MR_DIR" "$SIZE" --ram-image "$IMG" --timeout 200 "${QVM_SRC[@]}" || fail "QEMU src"
	python3 "$TOP/scripts/lib/qemu_migrate.py" --src-qmp "$MR_DIR/src.qmp" \
		--dst-qmp "$MR_DIR/dst.qmp" --src-pidfile "$MR_DIR/src.pid" \
		--dst-pidfile "$MR_DIR/dst.pid" --config "$config" --channels 2 \
		--uri "unix:$MR_STREAM_OUT" --incoming-uri "unix:$MR_STREAM_IN" \
		--src-ram "$MR_DIR/src-ram" --dst-ram "$MR_DIR/dst-ram" --timeout 100 "$@" \
		>"$MR_DIR/qemu.out" 2>"$MR_DIR/qemu-driver.log"
}
q() { jq -r "$1" "$MR_DIR/qemu.out"; }
expect_completed() {
	[ "$(q .status)" = completed ] || fail "QEMU: $(q .status): $(q .reason)"
	[ "$(q .verified)" = true ] || fail "destination RAM: $(q .verify)"
	[ "$(mr_stream_wait q1 10)" = "completed completed" ] ||
		fail "migdp sessions: $(mr_stream_wait q1 1): $(mr_ctl source --json status q1 | jq -r .reason)"
}
summary() {
	local s
	s=$(mr_ctl source --json status q1)
	echo "PASS ($CASE): QEMU $(q .config) $(q .status) in $(q .total_ms) ms (destination" \
		"$(q .dest_total_ms) ms), RAM $(q .verify); migdp: $(echo "$s" |
		jq -r '"\(.stream.connections) connections, \(.stream.bytes_sent) bytes out, \(.stream.bytes_received) back"')," \
		"retransmits $(echo "$s" | jq '[.channels[].retransmits] | add'), cpu QEMU src $(q .cpu_s.source) s"
}

case $CASE in
paused_memif|multifd_memif|running_memif|paused_veth|multifd_veth|faults)
	config=stream opts=()
	[[ $CASE == multifd_* || $CASE == running_* || $CASE == faults ]] && config=multifd-plain
	[[ $CASE == *_veth ]] && export MR_LINK=veth
	[ "$CASE" = faults ] && export MR_FAULT=drop=0.01,dup=0.01,reorder=0.01,corrupt=0.005,seed=11
	if [ "$CASE" = running_memif ]; then
		qvm_init tcg || exit 1
		BOOT=$MR_DIR/boot.img
		python3 "$TOP/scripts/lib/dirty_guest.py" "$BOOT" >/dev/null || fail "no boot image"
		QVM_SRC=(--boot "$BOOT") QVM_DST=(--boot "$BOOT")
		opts=(--running --return-path)
	fi
	mr_stream_start "" q1 || fail "migdp"
	migrate_qemu "$config" "${opts[@]}"
	expect_completed
	if [ "$CASE" = faults ]; then
		r=$(mr_ctl source --json status q1 | jq '[.channels[].retransmits] | add')
		[ "$r" -gt 0 ] || fail "no retransmission under 1% loss"
	fi
	summary
	;;
kill_qemu_dst)
	mr_stream_start "" q1 || fail "migdp"
	# At 100 MiB/s (QEMU's max-bandwidth) the kill lands mid-way.
	migrate_qemu multifd-plain --max-bandwidth $((100 << 20)) \
		--kill-dst-after-bytes $((64 << 20)) --expect failed ||
		fail "QEMU: $(q .status) $(q .reason); source after: $(q .source_status_after)"
	st=$(mr_stream_wait q1 15)
	[[ $st == "failed "* ]] || fail "migdp source session: $st"
	echo "PASS ($CASE): QEMU source $(q .status) ($(q .reason)), VM $(q .source_status_after);" \
		"migdp: $(mr_ctl source --json status q1 | jq -r .reason)"
	;;
kill_migdp_dst)
	mr_stream_start "--set migdp.peer_timeout_ms=2000" q1 || fail "migdp"
	(
		# Once some 64 MiB went through, the destination migdp dies.
		for i in $(seq 1 300); do
			b=$(mr_ctl source --json status q1 2>/dev/null | jq '.stream.bytes_sent // 0')
			[ "${b:-0}" -gt $((64 << 20)) ] && break
			sleep 0.02
		done
		pkill -9 -P "$MR_PID_DESTINATION"; kill -9 "$MR_PID_DESTINATION" # migdp, its timeout
	) &
	killer=$!
	# The source's QEMU is the subject: the destination's, its transport
	# gone mid-way, may stay in inmigrate (QEMU 7.2's multifd; seen under ASan).
	migrate_qemu multifd-plain --max-bandwidth $((100 << 20)) --expect failed --source-only ||
		fail "QEMU: $(q .status) $(q .reason); source after: $(q .source_status_after)"
	wait "$killer"
	st=$(mr_stream_wait q1 15)
	[[ $st == "failed "* ]] || fail "migdp source session: $st"
	echo "PASS ($CASE): QEMU source $(q .status) ($(q .reason)), VM $(q .source_status_after);" \
		"migdp source: $(mr_ctl source --json status q1 | jq -r .reason)"
	;;
tls_plain|encrypt_notls)
	config=multifd-plain
	if [ "$CASE" = tls_plain ]; then
		tls_certs "$MR_DIR/tls" migdp-dst >/dev/null 2>&1 || fail "no TLS credentials"
		QVM_SRC=(--tls "$MR_DIR/tls") QVM_DST=(--tls "$MR_DIR/tls")
		config=multifd-tls
	else
		export MR_SECURITY=encrypt
	fi
	mr_stream_start "" q1 || fail "migdp"
	migrate_qemu "$config" --tls-hostname migdp-dst
	expect_completed
	[ "$CASE" = encrypt_notls ] &&
		{ [ "$(mr_ctl source --json status q1 | jq -r .security.encrypted)" = true ] || fail "not encrypted"; }
	summary
	;;
*)
	echo "unknown case $CASE" >&2
	exit 2
	;;
esac
