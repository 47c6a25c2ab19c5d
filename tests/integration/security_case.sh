#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Security with real processes (README "Security"): authenticated and
# encrypted migrations, an attacker on the veth link (tests/integration/
# attack.py) forging frames from what it sees or replaying an earlier
# migration, a wrong key, a key file of the wrong mode, a control-socket
# client of another user. Usage: security_case.sh BUILD_DIR CASE
set -uo pipefail
BUILD=$1 CASE=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export MR_BUILD=$BUILD MR_TAG=sc$$ MR_TIMEOUT=90 MR_MEM=256M MR_CHANNELS=2
# shellcheck source=../../scripts/lib/migrun.sh
. "$TOP/scripts/lib/migrun.sh"
mr_defaults
ATTACK=$TOP/tests/integration/attack.py
APIDS=()
cleanup() {
	local p
	for p in "${APIDS[@]}"; do kill "$p" 2>/dev/null; done
	mr_cleanup
}
trap cleanup EXIT

fail() {
	echo "FAIL ($CASE): $*"
	for f in "$MR_DIR"/*.log "$MR_DIR"/*.json "$MR_DIR"/*.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 6 "$f" | cut -c 1-1500; }
	done
	exit 1
}
need_root() {
	[ "$(id -u)" = 0 ] && command -v ip >/dev/null ||
		{ echo "SKIP: $CASE needs root and iproute2 for network namespaces"; exit 77; }
}
get() { mr_get "$@"; }
drop() { # report, drop reason text -> count (0 when none)
	mr_last "$1" | jq -r --arg d "$2" '(.drops[$d] // 0) + (.unrouted_drops[$d] // 0)'
}
expect_verified() {
	mr_wait_all
	[ "$(get source .status)" = completed ] || fail "source: $(get source .status): $(get source .reason)"
	[ "$(get destination .status)" = completed ] || fail "destination: $(get destination .reason)"
	[ "$(get destination .verified)" = true ] || fail "destination not verified"
	[ "$(get guest-source .digest)" = "$(get guest-destination .digest)" ] ||
		fail "guest memory differs: $(get guest-source .digest) vs $(get guest-destination .digest)"
	[ "$(get source .security.authenticated)" = true ] || fail "source not authenticated"
	[ "$(get destination .security.authenticated)" = true ] || fail "destination not authenticated"
}
BAD_AUTH="bad authentication tag"

case $CASE in
auth_memif|encrypt_memif)
	# Lost, duplicated and reordered frames: every retransmission is
	# sealed again (a new nonce); encrypted frames out of place.
	MR_SECURITY=${CASE%_memif} MR_CODEC=auto MR_FAULT=drop=0.01,dup=0.01,reorder=0.01,seed=5
	mr_start_all || fail "start"
	expect_verified
	[ "$(get source .security.encrypted)" = "$([ "$MR_SECURITY" = encrypt ] && echo true || echo false)" ] ||
		fail "encrypted: $(get source .security.encrypted)"
	r=$(get source .retransmits)
	[ "$r" -gt 0 ] || fail "no retransmission: the faults did not act"
	echo "PASS ($CASE): verified, $(get source .security.cipher), $r retransmissions, $(get source .total_ms) ms"
	;;
attack_forge)
	# A third process on the link: it learns the session id, ports and
	# sequence numbers from the destination's ACKs and injects DATA aimed
	# at guest memory, ABORT, COMMIT and HELLO while the pages flow.
	need_root
	command -v python3 >/dev/null || fail "python3 missing"
	MR_LINK=veth MR_SECURITY=auth MR_CODEC=raw MR_RATE=300M
	mr_netns_up || fail "namespaces"
	MR_LINK_UP=1
	ip netns exec "$MR_NS_SRC" python3 "$ATTACK" forge --iface "$MR_IF-s" --duration 30 \
		--rate 400 --kinds data,abort,commit,hello,hello_live,hello_old --vm migguest --nchannels 2 \
		--gpa-size "$MR_MEM" >"$MR_DIR/attack.out" 2>"$MR_DIR/attack.log" &
	APIDS+=($!)
	apid=$!
	sleep 1 # the attacker listens before the handshake
	mr_start_migdp destination "" || fail "start destination"
	mr_wait_ready destination || fail "destination not ready"
	mr_start_guest destination
	mr_start_migdp source "" || fail "start source"
	mr_wait_ready source || fail "source not ready"
	mr_start_guest source
	mr_wait_all
	kill -INT "$apid" 2>/dev/null
	wait "$apid"
	expect_verified
	jq -e '.learned == true' "$MR_DIR/attack.out" >/dev/null || fail "the attacker learned nothing: $(cat "$MR_DIR/attack.out")"
	# DATA, ABORT, COMMIT and HELLOs naming the running session (in this
	# version and in version 3): the session's, refused for their tag or MAC.
	sent=$(jq '[.sent.data, .sent.abort, .sent.commit, .sent.hello_live, .sent.hello_old] | add' "$MR_DIR/attack.out")
	hellos=$(jq '.sent.hello' "$MR_DIR/attack.out")
	bad=$(drop destination "$BAD_AUTH")
	[ "$sent" -ge 50 ] || fail "only $sent frames forged"
	# Every forged frame the destination got is counted: tag (DATA, ABORT,
	# COMMIT with the session's id) or, for HELLOs of other sessions, no
	# session. A veth may lose a few under load; none may be applied.
	[ "$bad" -ge $((sent * 8 / 10)) ] && [ "$bad" -le "$sent" ] ||
		fail "forged $sent, counted $bad under '$BAD_AUTH'"
	ws=$(drop destination "wrong session")
	[ "$ws" -ge $((hellos * 8 / 10)) ] || fail "forged $hellos HELLOs, $ws counted as wrong session"
	[ "$(drop destination "replayed (transmit counter seen or too old)")" = 0 ] ||
		fail "forged frames counted as replays"
	[ "$(get source .security.authenticated)" = true ] || fail "source lost its keys"
	echo "PASS ($CASE): verified; forged $sent DATA/ABORT/COMMIT/HELLO of the session ($bad dropped: $BAD_AUTH), $hellos HELLO of other sessions ($ws: wrong session)"
	;;
attack_replay)
	# Frames captured from a migration, replayed into the next one (same
	# key, same VM) from before its HELLO: the recorded HELLO still has a
	# valid MAC and reaches the waiting destination first (without key
	# confirmation it took the VM's incoming migration: seen here); its
	# pages and commit carry the old session id and keys. The second
	# migration must complete, every replayed frame refused.
	need_root
	MR_LINK=veth MR_SECURITY=auth MR_CODEC=raw MR_RATE=300M MR_MEM=64M
	mr_netns_up || fail "namespaces"
	ip netns exec "$MR_NS_SRC" python3 "$ATTACK" capture --iface "$MR_IF-s" --duration 60 \
		--out "$MR_DIR/first.pcap" >"$MR_DIR/capture.out" 2>"$MR_DIR/capture.log" &
	APIDS+=($!)
	cpid=$!
	sleep 1
	for side in destination source; do
		mr_start_migdp $side "" || fail "start $side"
		mr_wait_ready $side || fail "$side not ready"
		mr_start_guest $side
	done
	mr_wait_all
	kill -INT "$cpid" 2>/dev/null
	wait "$cpid"
	[ "$(get destination .verified)" = true ] || fail "first migration: $(get destination .reason)"
	n=$(jq .captured "$MR_DIR/capture.out")
	[ "${n:-0}" -ge 100 ] || fail "captured ${n:-0} frames"
	mkdir -p "$MR_DIR/first" && mv "$MR_DIR"/*.json "$MR_DIR/first/"
	MR_PIDS=()
	# The second paced (60 Mb/s: some 9 s) so that every replayed frame
	# arrives while it runs.
	for side in destination source; do
		extra=""; [ $side = source ] && extra="--set migration.max_bandwidth=60M"
		mr_start_migdp $side "$extra" || fail "start $side (second)"
		mr_wait_ready $side || fail "$side not ready (second)"
		mr_start_guest $side
		if [ $side = destination ]; then
			ip netns exec "$MR_NS_SRC" python3 "$ATTACK" replay --iface "$MR_IF-s" \
				--in "$MR_DIR/first.pcap" --rate 1000 >"$MR_DIR/replay.out" 2>"$MR_DIR/replay.log" &
			APIDS+=($!)
			rpid=$!
		fi
	done
	wait "$rpid"
	expect_verified
	r=$(jq .replayed "$MR_DIR/replay.out")
	refused=$(mr_last destination | jq '[(.drops // {}), (.unrouted_drops // {})] | map(to_entries[] |
		select(.key == "wrong session" or .key == "'"$BAD_AUTH"'" or
		       .key == "replayed (transmit counter seen or too old)") | .value) | add // 0')
	[ "$refused" -ge $((r * 8 / 10)) ] || fail "replayed $r frames, $refused refused: $(mr_last destination | jq -c "{drops, unrouted_drops, total_ms}")"
	echo "PASS ($CASE): second migration verified; $r frames of the first replayed, $refused refused"
	;;
wrong_key)
	# Each side its own key: refused on both sides, nothing transferred.
	MR_SECURITY=auth MR_TIMEOUT=24
	(umask 077 && head -c 32 /dev/urandom >"$MR_DIR/other.key")
	MR_EXTRA_DST="--set security.key_file=$MR_DIR/other.key"
	mr_start_all || fail "start"
	mr_wait_all
	[ "$(get source .status)" = failed ] || fail "source: $(get source .status)"
	get source .reason | grep -q "authentication failed: wrong key" ||
		fail "source reason: $(get source .reason)"
	[ "$(get destination .status)" = failed ] || fail "destination: $(get destination .status)"
	get destination .reason | grep -q "authentication failed: wrong key" ||
		fail "destination reason: $(get destination .reason)"
	p=$(mr_last destination | jq '.pages.transferred // 0')
	[ "$p" = 0 ] || fail "destination took $p pages"
	echo "PASS ($CASE): source: $(get source .reason); destination: $(get destination .reason)"
	;;
key_mode)
	# A key readable by others: refused at start, with the reason.
	(umask 022 && head -c 32 /dev/urandom >"$MR_DIR/migdp.key" && chmod 0644 "$MR_DIR/migdp.key")
	MR_SECURITY=auth
	mr_start_migdp destination "" || fail "start"
	wait "$MR_PID_DESTINATION"
	rc=$?
	[ "$rc" = 2 ] || fail "migdp exited $rc with a 0644 key"
	grep -q "accessible by group or others (mode 0644)" "$MR_DIR/destination.log" ||
		fail "no reason given"
	echo "PASS ($CASE): $(grep -m1 -o 'key file.*' "$MR_DIR/destination.log")"
	;;
ctl_other_user)
	# Another user's client: refused by the socket's mode, and by the
	# daemon's check of its credentials when the mode was widened.
	[ "$(id -u)" = 0 ] || { echo "SKIP: $CASE needs root (to be another user)"; exit 77; }
	id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
	command -v setpriv >/dev/null || { echo "SKIP: no setpriv"; exit 77; }
	mr_start_migdp destination "--daemon" || fail "start"
	mr_start_migdp source "--daemon" || fail "start" # the memif link's other end
	mr_wait_for "$MR_DIR/destination.log" "serving" 30 || fail "daemon not serving"
	chmod 755 "$MR_DIR"
	sock=$MR_DIR/destination-control.sock
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$BUILD/control/migctl" --socket "$sock" sessions; }
	out=$(as_nobody 2>&1); rc=$?
	[ "$rc" = 3 ] || fail "migctl as nobody, socket 0600: exit $rc: $out"
	chmod 666 "$sock"
	out=$(as_nobody 2>&1); rc=$?
	[ "$rc" != 0 ] || fail "migctl as nobody got an answer: $out"
	echo "$out" | grep -q "permission denied: uid" || fail "no reason: $out"
	"$BUILD/control/migctl" --socket "$sock" sessions >/dev/null || fail "root refused"
	grep -q "refused a client of uid" "$MR_DIR/destination.log" || fail "not logged"
	echo "PASS ($CASE): mode 0600: exit 3; widened: '$out'"
	;;
*)
	echo "unknown case $CASE"
	exit 2
	;;
esac
