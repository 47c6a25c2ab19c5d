# SPDX-License-Identifier: BSD-3-Clause
# Shared by scripts/migrate-image.sh, the benchmarks and the integration
# tests: start a destination and a source migdp with their lab guests on
# this one machine, over memif or over af_packet on a veth pair between two
# network namespaces, and clean everything up. Source it; set the MR_*
# variables first (see mr_defaults).

mr_defaults() {
	MR_TOP=${MR_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
	MR_BUILD=${MR_BUILD:-$MR_TOP/build}
	MR_TAG=${MR_TAG:-mr$$}
	MR_DIR=${MR_DIR:-$(mktemp -d /tmp/migdp-$MR_TAG.XXXXXX)}
	MR_LINK=${MR_LINK:-memif}
	MR_CHANNELS=${MR_CHANNELS:-1}
	MR_MTU=${MR_MTU:-9000}
	MR_IMAGE=${MR_IMAGE:-}
	# An image sets the guest size unless MR_MEM is given (set and empty:
	# the image's size; migrate-image.sh does that).
	if [ -n "$MR_IMAGE" ]; then MR_MEM=${MR_MEM-}; else MR_MEM=${MR_MEM:-256M}; fi
	MR_RATE=${MR_RATE:-0}
	MR_MIX=${MR_MIX:-}
	MR_FAULT=${MR_FAULT:-}
	MR_CODEC=${MR_CODEC:-auto}
	# plain, auth (a fresh pre-shared key, frames authenticated) or
	# encrypt (payloads encrypted too); README "Security".
	MR_SECURITY=${MR_SECURITY:-plain}
	MR_HUGE=${MR_HUGE:-0}
	MR_TIMEOUT=${MR_TIMEOUT:-120}
	MR_PROGRESS=${MR_PROGRESS:-0}
	MR_BACKOFF_US=${MR_BACKOFF_US:-50}
	MR_EXTRA_SRC=${MR_EXTRA_SRC:-}
	MR_EXTRA_DST=${MR_EXTRA_DST:-}
	# A running guest (live migration): the workload and its dirty rate
	# (pages/s); empty MR_WORKLOAD = a static image (one round).
	MR_WORKLOAD=${MR_WORKLOAD:-}
	MR_DIRTY_RATE=${MR_DIRTY_RATE:-1000}
	MR_DEVICE_STATE=${MR_DEVICE_STATE:-1M}
	MR_GUEST_EXTRA=${MR_GUEST_EXTRA:-}
	MR_PIDS=()
	MR_NS_SRC="" MR_NS_DST=""
	# veth names stay within the kernel's 15 bytes whatever the tag.
	MR_IF=${MR_IF:-mv$(($$ % 100000))}
}

mr_log() { echo "migrate: $*" >&2; }

# For the tests: the last JSON line of report NAME ($MR_DIR/NAME.json), a
# field of it, and waiting for a PATTERN in FILE (SECONDS at most).
mr_last() { grep '^{' "$MR_DIR/$1.json" | tail -n 1; }
mr_get() { mr_last "$1" | jq -r "$2"; }
mr_wait_for() {
	local i p
	for ((i = 0; i < $3 * 20; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		# Processes given after the seconds must live while we wait.
		for p in "${@:4}"; do
			kill -0 "$p" 2>/dev/null || return 2
		done
		sleep 0.05
	done
	return 1
}

# A rate in bits/s: digits with an optional decimal suffix K, M or G
# (100M, 1G, 2.5G; 0 = unshaped). Prints the integer, fails on garbage.
mr_rate_bits() {
	python3 - "$1" <<'PY'
import re, sys
m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([kKmMgG]?)", sys.argv[1])
if not m:
    sys.exit(1)
print(int(float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2).lower()]))
PY
}

# tc tbf arguments for a rate in bits/s, the same for every tool that uses
# a shaped veth: a bucket of 1 ms at the rate (at least 64 KiB, so that a
# jumbo frame or a GSO burst fits) and a queue of 20 ms.
mr_tbf_args() {
	local bits=$1 burst
	burst=$((bits / 8 / 1000))
	[ "$burst" -lt 65536 ] && burst=65536
	echo "rate ${bits}bit burst $burst latency 20ms"
}
# Map lcores onto the two cores so that the busy channel lcores of the two
# sides sit on different cores: source channel i on core i % 2, destination
# channel i on core (i + 1) % 2, each main lcore on the other core.
mr_eal() {
	local prefix=$1 off=0 lcores i
	[ "$prefix" = des ] && off=1
	lcores="0@$(((off + 1) % 2))"
	for ((i = 1; i <= MR_CHANNELS; i++)); do
		lcores+=",$i@$(((i - 1 + off) % 2))"
	done
	local mem="--no-huge -m 1024"
	[ "$MR_HUGE" = 1 ] && mem="-m 1024 --huge-unlink"
	echo "$mem --no-pci --lcores $lcores --file-prefix $MR_TAG-$prefix --log-level=lib.eal:warning"
}

# --fault drop=..,dup=..,reorder=..,corrupt=.. -> --set fault.tx_* for the
# source and the destination (both directions of the link are hit).
mr_fault_sets() {
	local kv k v out=""
	[ -n "$MR_FAULT" ] || return 0
	IFS=, read -ra kv <<<"$MR_FAULT"
	for k in "${kv[@]}"; do
		v=${k#*=}
		k=${k%%=*}
		case $k in
		drop|dup|reorder|corrupt) out+=" --set fault.tx_$k=$v" ;;
		seed) out+=" --set fault.seed=$v" ;;
		*) mr_log "bad --fault key '$k' (drop, dup, reorder, corrupt, seed)"; return 1 ;;
		esac
	done
	echo "$out"
}

mr_netns_up() {
	MR_NS_SRC=migdp-$MR_TAG-s MR_NS_DST=migdp-$MR_TAG-d
	ip netns add "$MR_NS_SRC" && ip netns add "$MR_NS_DST" || return 1
	# Made inside the namespaces: nothing to leave behind in the root one.
	ip link add "$MR_IF-s" netns "$MR_NS_SRC" type veth peer name "$MR_IF-d" \
		netns "$MR_NS_DST" || return 1
	local ns side
	for side in s d; do
		ns=$MR_NS_SRC; [ $side = d ] && ns=$MR_NS_DST
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		ip -n "$ns" link set "$MR_IF-$side" mtu 9000 up
		ip -n "$ns" link set lo up
	done
	# MR_RATE: shape what the source sends (the data direction) with tbf;
	# af_packet then goes through the qdisc (qdisc_bypass=0 in mr_device).
	if [ "$MR_RATE" != 0 ]; then
		local bits
		bits=$(mr_rate_bits "$MR_RATE") || { mr_log "bad rate '$MR_RATE' (100M, 1G, 10G: bits/s)"; return 1; }
		# shellcheck disable=SC2046
		ip netns exec "$MR_NS_SRC" tc qdisc add dev "$MR_IF-s" root tbf $(mr_tbf_args "$bits") || return 1
	fi
}

mr_device() { # role -> --set port.device=...
	local role=$1 q=$((MR_CHANNELS + 1))
	if [ "$MR_LINK" = veth ]; then
		local side=s; [ "$role" = destination ] && side=d
		local bypass=""
		[ "$MR_RATE" != 0 ] && bypass=",qdisc_bypass=0" # through the tbf
		echo "net_af_packet_$MR_TAG$side,iface=$MR_IF-$side,qpairs=$q,blocksz=20480,framesz=10240,framecnt=512$bypass"
	else
		local r=server; [ "$role" = destination ] && r=client
		# bsize holds a whole frame: memif of DPDK 22.11 mis-assembles
		# jumbo frames chained over small buffers under load (seen here).
		echo "net_memif_$MR_TAG,role=$r,id=0,socket=$MR_DIR/memif.sock,bsize=16384"
	fi
}

# The --set arguments of MR_SECURITY: one key for both sides, made once
# per run (32 random bytes, mode 0600).
mr_security_sets() {
	case $MR_SECURITY in
	plain) return 0 ;;
	auth|encrypt) ;;
	*) mr_log "bad security '$MR_SECURITY' (plain, auth, encrypt)"; return 1 ;;
	esac
	if [ ! -s "$MR_DIR/migdp.key" ]; then
		(umask 077 && head -c 32 /dev/urandom >"$MR_DIR/migdp.key") || return 1
	fi
	echo -n " --set security.key_file=$MR_DIR/migdp.key"
	[ "$MR_SECURITY" = encrypt ] && echo -n " --set security.encrypt=on"
	echo
}

# Start one migdp: role, extra --set arguments.
mr_start_migdp() {
	local role=$1 extra=$2 ns="" cfg sets faults secs
	cfg=$MR_TOP/config/$role.ini
	[ "$MR_LINK" = veth ] && { ns="ip netns exec $MR_NS_SRC"; [ "$role" = destination ] && ns="ip netns exec $MR_NS_DST"; }
	faults=$(mr_fault_sets) || return 1
	secs=$(mr_security_sets) || return 1
	sets="--set port.device=$(mr_device "$role") --set channels.count=$MR_CHANNELS"
	sets+=" --set port.mtu=$MR_MTU --set migdp.shim_socket=$MR_DIR/$role.sock"
	sets+=" --set migdp.control_socket=$MR_DIR/$role-control.sock"
	sets+=" --set migdp.idle_backoff_us=$MR_BACKOFF_US --set codec.method=${MR_CODEC:-auto}"
	sets+=" --set codec.dict=${MR_DICT:-off}"
	sets+=" $faults $secs $extra"
	# shellcheck disable=SC2086
	$ns timeout "$MR_TIMEOUT" "$MR_BUILD/control/migdp" $(mr_eal "${role:0:3}") -- \
		--config "$cfg" $sets --progress --wait-ms $((MR_TIMEOUT * 1000 / 2)) \
		>"$MR_DIR/$role.json" 2>"$MR_DIR/$role.log" &
	MR_PIDS+=($!)
	eval "MR_PID_${role^^}=$!"
}

# Stream sessions (docs/qemu.md): both migdp as daemons (extra --set in
# $1 for both), a stream session NAME ($2, default s1) on each. The source's
# hypervisor connects to $MR_STREAM_OUT (QEMU: migrate unix:$MR_STREAM_OUT),
# the destination migdp to $MR_STREAM_IN (QEMU: migrate-incoming
# unix:$MR_STREAM_IN). MR_SECURITY sets the daemons' key.
mr_ctl() { "$MR_BUILD/control/migctl" --socket "$MR_DIR/$1-control.sock" "${@:2}"; }
mr_stream_start() {
	local name=${2:-s1}
	MR_STREAM_OUT=$MR_DIR/$name-out.sock MR_STREAM_IN=$MR_DIR/$name-in.sock
	if [ "$MR_LINK" = veth ] && [ -z "${MR_NS_SRC:-}" ]; then
		mr_netns_up || { mr_log "cannot create network namespaces"; return 1; }
	fi
	mr_start_migdp destination "--daemon $1" || return 1
	mr_start_migdp source "--daemon $1" || return 1
	mr_wait_for "$MR_DIR/destination.log" serving 30 "$MR_PID_DESTINATION" ||
		{ mr_log "destination migdp not serving"; return 1; }
	mr_wait_for "$MR_DIR/source.log" serving 30 "$MR_PID_SOURCE" ||
		{ mr_log "source migdp not serving"; return 1; }
	mr_ctl destination stream-incoming "$name" "$MR_STREAM_IN" >/dev/null || return 1
	mr_ctl source stream "$name" 198.18.0.2 "$MR_STREAM_OUT" >/dev/null || return 1
}
# Wait (up to $2 s) until both sides of stream session $1 ended; prints
# "source-state destination-state".
mr_stream_wait() {
	local i st s d
	for ((i = 0; i < ${2:-30} * 10; i++)); do
		s=$(mr_ctl source --json status "$1" 2>/dev/null | jq -r .state)
		d=$(mr_ctl destination --json status "$1" 2>/dev/null | jq -r .state)
		case "$s $d" in
		*handshake*|*streaming*|*setup*|"null"*|*" null"|" ") ;;
		*) break ;;
		esac
		sleep 0.1
	done
	echo "$s $d"
}

# The guest is the lab guest (migguest), or with MR_VM_KIND=kvm a real KVM
# virtual machine (lab/migvm) running its self-checking program.
mr_start_vm() {
	local role=$1 out=guest-$1${MR_VM:+-$MR_VM} args
	args="--live --role $role --socket $MR_DIR/$role.sock --mem ${MR_MEM:-256M}"
	args+=" --channels $MR_CHANNELS --timeout $((MR_TIMEOUT / 2)) --name ${MR_VM:-guest1} --quiet"
	[ "$role" = source ] && args+=" --rate $MR_DIRTY_RATE"
	# shellcheck disable=SC2086
	timeout "$MR_TIMEOUT" "$MR_BUILD/lab/migvm/migvm" $args \
		>"$MR_DIR/$out.json" 2>"$MR_DIR/$out.log" &
	MR_PIDS+=($!)
	eval "MR_PID_GUEST_${role^^}=$!"
}

mr_start_guest() {
	local role=$1 args
	if [ "${MR_VM_KIND:-lab}" = kvm ]; then
		mr_start_vm "$role"
		return
	fi
	args="--role $role --socket $MR_DIR/$role.sock --timeout $((MR_TIMEOUT / 2))"
	if [ "$role" = source ]; then
		args+=" --channels $MR_CHANNELS"
		[ -n "$MR_IMAGE" ] && args+=" --image $MR_IMAGE"
		[ -n "$MR_MIX" ] && args+=" --mix $MR_MIX"
		[ -n "${MR_FILES:-}" ] && args+=" --files-dir $MR_FILES"
	elif [ -n "$MR_IMAGE" ]; then
		args+=" --image $MR_IMAGE" # a destination uses only its size
	fi
	[ -n "$MR_MEM" ] && args+=" --mem $MR_MEM"
	[ "$MR_HUGE" = 1 ] && args+=" --hugepages"
	if [ -n "$MR_WORKLOAD" ]; then
		args+=" --live --name ${MR_VM:-guest1} --device-state $MR_DEVICE_STATE"
		[ "$role" = source ] && args+=" --workload $MR_WORKLOAD --dirty-rate $MR_DIRTY_RATE"
		[ "$role" = destination ] && args+=" --workload $MR_WORKLOAD"
	fi
	args+=" $MR_GUEST_EXTRA"
	# shellcheck disable=SC2086
	# Several VMs on one daemon (MR_VM set): one report per VM.
	local out=guest-$role${MR_VM:+-$MR_VM}
	timeout "$MR_TIMEOUT" "$MR_BUILD/lab/migguest" $args \
		>"$MR_DIR/$out.json" 2>"$MR_DIR/$out.log" &
	MR_PIDS+=($!)
	eval "MR_PID_GUEST_${role^^}=$!"
}

# Wait until migdp ROLE listens on its control socket (it opens it before
# its port: a memif client does not wait for its server here). A migdp that
# dies at start (EAL without memory, a bad option) is noticed at once, its
# own error shown.
mr_wait_ready() {
	local role=$1 pid i
	pid=MR_PID_${role^^}
	for ((i = 0; i < 600; i++)); do
		[ -S "$MR_DIR/$role-control.sock" ] && return 0
		if ! kill -0 "${!pid}" 2>/dev/null; then
			mr_log "the $role migdp exited at start:"
			grep -v '^progress' "$MR_DIR/$role.log" | tail -n 8 >&2
			return 1
		fi
		sleep 0.05
	done
	mr_log "the $role migdp is not ready after 30 s"
	return 1
}

# Start all four: destination first (memif client waits for the server).
mr_start_all() {
	if [ "$MR_LINK" = veth ]; then
		mr_netns_up || { mr_log "cannot create network namespaces"; return 1; }
	fi
	mr_start_migdp destination "$MR_EXTRA_DST" || return 1
	mr_wait_ready destination || return 1
	mr_start_guest destination
	mr_start_migdp source "$MR_EXTRA_SRC" || return 1
	mr_wait_ready source || return 1
	mr_start_guest source
}

# Show the source's progress lines while it runs.
mr_follow_progress() {
	tail -n +1 -F "$MR_DIR/source.log" 2>/dev/null | grep --line-buffered '^progress' >&2 &
	MR_TAIL=$!
}

mr_wait_all() {
	local p rc=0
	for p in "${MR_PIDS[@]}"; do
		wait "$p" || rc=1
	done
	if [ -n "${MR_TAIL:-}" ]; then
		sleep 0.3 # let tail -F show the last lines
		kill "$MR_TAIL" 2>/dev/null
	fi
	return $rc
}

mr_cleanup() {
	local p i left
	for p in "${MR_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	[ -n "${MR_TAIL:-}" ] && kill "$MR_TAIL" 2>/dev/null
	# A process that does not stop on TERM within 3 s is killed.
	for ((i = 0; i < 30; i++)); do
		left=0
		for p in "${MR_PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null && left=1
		done
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	for p in "${MR_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && { pkill -9 -P "$p"; kill -9 "$p"; } 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "$MR_NS_SRC" ]; then
		ip netns del "$MR_NS_SRC" 2>/dev/null
		ip netns del "$MR_NS_DST" 2>/dev/null
	fi
	rm -rf "/var/run/dpdk/$MR_TAG-sou" "/var/run/dpdk/$MR_TAG-des"
	[ "${MR_KEEP:-0}" = 1 ] || rm -rf "$MR_DIR"
}

# One JSON object from the four reports (last line of each).
mr_summary() {
	python3 - "$MR_DIR" "$MR_LINK" "${MR_CODEC:-auto}" "${MR_RATE:-0}" "${MR_SECURITY:-plain}" <<'PY'
import json, sys, os
d, link, codec, rate, security = sys.argv[1:6]
def last(name):
    try:
        with open(os.path.join(d, name)) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}
src, dst = last("source.json"), last("destination.json")
gs, gd = last("guest-source.json"), last("guest-destination.json")
ok = all(x.get("status") == "completed" for x in (src, dst, gs, gd))
live = bool(gs.get("live"))
# A static guest: its memory digests compared; a running one: the
# destination guest checks its memory at resume against the source's at
# pause (the digest rides in the device state).
verified = bool(ok and dst.get("verified") and src.get("verified") and
                (gd.get("verified") if live else
                 gs.get("digest") and gs.get("digest") == gd.get("digest")))
total_ms = src.get("total_ms", 0) or 0
guest = gs.get("guest_bytes", src.get("guest_bytes", 0))
reason = next((x.get("reason") for x in (src, dst, gs, gd) if x.get("reason")), "")
if not src:
    reason = reason or "source migdp gave no report"
out = {
    "status": "completed" if ok and verified else "failed",
    "reason": reason,
    "link": link, "rate": int(rate), "channels": src.get("nchannels"), "mtu": src.get("mtu"),
    "codec": codec, "security": security, "security_status": src.get("security"),
    "guest_bytes": guest, "wire_bytes": src.get("wire_bytes", 0),
    "total_ms": total_ms, "transfer_ms": src.get("transfer_ms", 0),
    "throughput_gbps": guest * 8 / (total_ms * 1e6) if total_ms else 0,
    "frames": src.get("frames", 0),
    "retransmits": src.get("retransmits", 0),
    "verified": verified,
    "pages": src.get("pages", {}),
    "dict": src.get("dict", {}),
    "adaptive": src.get("adaptive", {}),
    "source_digest": gs.get("digest"), "destination_digest": gd.get("digest"),
    "drops": {"source": src.get("drops", {}), "destination": dst.get("drops", {})},
    "fault": {"source": src.get("fault", {}), "destination": dst.get("fault", {})},
    "cpu_s": {"source": src.get("cpu_s"), "destination": dst.get("cpu_s")},
    "cpu_s_process": {"source": src.get("cpu_s_process"),
                      "destination": dst.get("cpu_s_process")},
    "tx_mode": src.get("tx_mode"),
    "spurious_retransmits": src.get("spurious_retransmits"),
    "discovered_rate_bps": src.get("discovered_rate_bps"),
    "live": live, "workload": gs.get("workload"), "dirty_rate": gs.get("dirty_rate"),
    "rounds": len(src.get("rounds", [])) + (1 if live else 0),
    "round_figures": src.get("rounds", []),
    "downtime_ms": src.get("downtime_ms"), "downtime": src.get("downtime"),
    "guest_downtime_ms": gd.get("downtime_ms"),
    "throttle_max_pct": gs.get("throttle_max_pct"),
    "transitions": [t.get("to") for t in src.get("transitions", [])],
    "series": src.get("series", []), "switchover_ms": src.get("switchover_ms"),
    "guest_fill_ms": gs.get("fill_ms"),
}
print(json.dumps(out))
PY
}
