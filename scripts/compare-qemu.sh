#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# migdp against QEMU's own migration, side by side on this machine, on the
# same warm guest memory image: QEMU (a paused guest whose RAM is the image)
# as a plain stream, multifd with N channels and multifd zstd level 1, and
# migdp with N channels and --codec raw, auto and zstd; unshaped (QEMU over
# loopback TCP, migdp over memif) or, with --rate, both over a veth pair
# shaped with tc tbf. K runs of each. Prints one JSON object per run, a
# Markdown table of medians and, last, a summary JSON line of ratios.
#
# scripts/compare-qemu.sh [IMAGE] [--mem SIZE] [--channels N] [--rate RATE]
#     [--runs K] [--security] [--streams] [--only qemu|migdp] [--no-hugepages]
#     [--timeout SEC] [--keep]
#
# IMAGE: a guest memory image (a multiple of 2 MiB); without one, a --mem
# (default 1G) image of 30% zero pages, 55% pages cut from files under /usr
# and 15% random pages is generated (build/lab/migdp-genimage). --channels
# defaults to 2, --runs to 3; --rate in bits/s (100M, 1G, 10G; 0 = unshaped);
# --timeout bounds each migration (default 240 s). --security adds QEMU over
# TLS (stream-tls, multifd-tls: tls-creds-x509 with a CA and certificates
# made for this run, openssl) and migdp --security auth and encrypt with
# --codec raw and auto (raw-auth, raw-encrypt, auto-auth, auto-encrypt; the
# plain migdp runs then get --security plain), and ratios to the plain runs
# and to QEMU multifd-tls. --streams adds QEMU itself through migdp (stream
# sessions, docs/qemu.md; tool "qemu+migdp"): its plain stream and multifd
# (N channels) with migdp --codec raw, multifd with --codec auto, multifd
# with migdp's encryption and QEMU's TLS off; and QEMU's own multifd-tls
# to compare with. Those rows count the CPU of QEMU and of migdp together
# (each side), and migdp's wire bytes. --only runs one tool's
# configurations (qemu+migdp counts as both). Needs root.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MIGDP_BUILD_DIR:-$TOP/build}
export MR_BUILD=$BUILD # for migrate-image.sh
# shellcheck source=lib/migrun.sh
. "$TOP/scripts/lib/migrun.sh" # mr_rate_bits, mr_tbf_args: the same shaping as migdp's
# shellcheck source=lib/hugepages.sh
. "$TOP/scripts/lib/hugepages.sh"
# shellcheck source=lib/tls_certs.sh
. "$TOP/scripts/lib/tls_certs.sh" # tls_certs: QEMU's x509 credentials
# shellcheck source=lib/qemu_vm.sh
. "$TOP/scripts/lib/qemu_vm.sh" # qvm_init, qvm_start: the two QEMU

MIX=zero=30,text=55,binary=0,random=15
IMAGE="" IMAGE_DESC="" MEM=1G CHANNELS=2 RATE=0 RUNS=3 HUGE=1 TIMEOUT=240 KEEP=0
SECURITY=0 STREAMS=0 ONLY=""
usage() { sed -n '3,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--mem) MEM=$2; shift ;;
	--channels) CHANNELS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--no-hugepages) HUGE=0 ;;
	--security) SECURITY=1 ;;
	--streams) STREAMS=1 ;;
	--only) ONLY=$2; shift ;;
	--timeout) TIMEOUT=$2; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) usage ;;
	-*) echo "compare-qemu: unknown option $1" >&2; usage ;;
	*) IMAGE=$1 ;;
	esac
	shift
done
say() { echo "compare-qemu: $*" >&2; }
die() { say "$*"; exit 1; }
[[ $CHANNELS =~ ^[1-9][0-9]?$ ]] || { say "--channels 1..99"; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { say "--runs K (K >= 1)"; exit 2; }
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || { say "--timeout SEC"; exit 2; }
case $ONLY in ""|qemu|migdp) ;; *) say "--only qemu|migdp"; exit 2 ;; esac
RUN_QEMU=1 RUN_MIGDP=1
[ "$ONLY" = qemu ] && RUN_MIGDP=0
[ "$ONLY" = migdp ] && RUN_QEMU=0
[ "$RUN_MIGDP" = 0 ] && HUGE=0 # (hugepages are migdp's)
RATE_BITS=$(mr_rate_bits "$RATE") || { say "--rate in bits/s with K, M or G (100M, 1G, 10G)"; exit 2; }
[ "$(id -u)" = 0 ] || { say "needs root (network namespaces, hugepages, apt-get)"; exit 2; }

# --- what it needs -----------------------------------------------------------
if ! command -v qemu-system-x86_64 >/dev/null; then
	say "installing qemu-system-x86 (Debian)"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get install -y -q --no-install-recommends qemu-system-x86 ||
	  { apt-get update -q && apt-get install -y -q --no-install-recommends qemu-system-x86; }; } >&2 ||
		die "cannot install qemu-system-x86"
fi
qvm_init || die "no qemu-system-x86_64" # KVM when /dev/kvm opens, else TCG
QEMU_VERSION=$QVM_VERSION ACCEL_NAME=$QVM_ACCEL
NEED=()
[ "$RUN_MIGDP" = 1 ] && NEED+=(control/migdp lab/migguest)
[ "$STREAMS" = 1 ] && NEED+=(control/migdp control/migctl)
[ -z "$IMAGE" ] && NEED+=(lab/migdp-genimage)
for t in "${NEED[@]}"; do
	[ -x "$BUILD/$t" ] || { "$TOP/scripts/setup.sh" >&2 || die "build failed"; break; }
done
NEED_TLS=0
{ [ "$SECURITY" = 1 ] || [ "$STREAMS" = 1 ]; } && [ "$RUN_QEMU" = 1 ] && NEED_TLS=1
[ "$NEED_TLS" = 1 ] && ! command -v openssl >/dev/null && {
	say "installing openssl (Debian)"
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssl ||
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssl; }; } >&2 ||
		die "cannot install openssl"
}
for c in python3 jq ip tc; do command -v $c >/dev/null || die "$c missing (scripts/setup.sh installs it)"; done

# --- clean-up ---------------------------------------------------------------
TAG=cq$$
WORK=$(mktemp -d /dev/shm/migdp-compare.XXXXXX) || die "no room in /dev/shm"
CHILDREN=() NETNS=()
cleanup() {
	local p f n
	trap "" INT TERM # a second Ctrl-C must not cut the clean-up short
	trap - EXIT
	for f in "$WORK"/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for p in "${CHILDREN[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
	if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
	[ -n "${HUGE_OLD:-}" ] && echo "$HUGE_OLD" >/proc/sys/vm/nr_hugepages
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM
if [ "$HUGE" = 1 ]; then
	hsize=$MEM
	[ -n "$IMAGE" ] && hsize=$(stat -c %s "$IMAGE" 2>/dev/null || echo 0)
	if ! huge_reserve "$hsize" 2>"$WORK/huge.err"; then
		say "no hugepages for migdp ($(cat "$WORK/huge.err")): running it without"
		HUGE=0
		[ -n "${HUGE_OLD:-}" ] && echo "$HUGE_OLD" >/proc/sys/vm/nr_hugepages
		unset HUGE_OLD
	fi
	# (cleanup, the EXIT trap, restores the count)
fi

# Run a command in the background, its stdout and stderr to files, and wait
# for it, so that a signal reaches our trap at once and the trap can stop it
# (and our own stderr stays ours).
run_child() { # out err command...
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err" &
	CHILDREN+=($!)
	wait $!
}

# --- the image ----------------------------------------------------------------
if [ -n "$IMAGE" ]; then
	[ -r "$IMAGE" ] || die "cannot read image $IMAGE"
	GUEST=$(stat -c %s "$IMAGE")
	if [ "$GUEST" = 0 ] || [ $((GUEST % 2097152)) != 0 ]; then
		die "image size $GUEST is not a multiple of 2 MiB"
	fi
	say "image $IMAGE ($GUEST bytes)"
	IMAGE_DESC=$IMAGE
else
	IMAGE=$WORK/image
	say "generating a $MEM image ($MIX, files under /usr)"
	"$BUILD/lab/migdp-genimage" --out "$IMAGE" --mem "$MEM" --mix "$MIX" --files-dir /usr \
		>"$WORK/genimage.json" || die "migdp-genimage failed"
	GUEST=$(stat -c %s "$IMAGE")
	[ $((GUEST % 2097152)) = 0 ] || die "--mem must be a multiple of 2 MiB"
	IMAGE_DESC="generated: $MIX, files under /usr (migdp-genimage, seed 1)"
fi
cat "$IMAGE" >/dev/null # warm: both tools read it from memory
IMAGE_SUM=$(md5sum "$IMAGE" | cut -d' ' -f1)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
emit() { # one run's JSON line: to stdout and to the results
	local line=$1
	[ "$OTHERS" != 0 ] && line=$(echo "$line" | jq -c --argjson n "$OTHERS" '. + {others_running: $n}')
	echo "$line"
	echo "$line" >>"$RESULTS"
}
# Other migrations on this 2-core machine (none of ours runs between our
# runs) skew the timings: counted before each run, warned about, and noted
# in that run's JSON as others_running.
OTHERS=0
others() {
	OTHERS=$(pgrep -c -f '^[^ ]*(control/migdp|qemu-system-x86_64|lab/migguest) ' || true)
	[ "$OTHERS" != 0 ] && say "warning: $OTHERS other migdp/QEMU/migguest process(es) running: timings will suffer"
}

# --- QEMU -------------------------------------------------------------------
# Network for one QEMU run: unshaped, both QEMU in one namespace over its
# loopback; with a rate, a veth pair between two namespaces, 198.18.0.1/24
# and 198.18.0.2/24, the source's side shaped by the same tbf as migdp's.
qemu_net_up() {
	if [ "$RATE_BITS" = 0 ]; then
		QNS_S=$TAG-q QNS_D=$TAG-q QDEV=lo QLISTEN=tcp:127.0.0.1:4444
		ip netns add "$QNS_S" || return 1
		NETNS+=("$QNS_S")
		ip -n "$QNS_S" link set lo up
		return 0
	fi
	QNS_S=$TAG-qs QNS_D=$TAG-qd QDEV=${TAG}s QLISTEN=tcp:198.18.0.2:4444
	ip netns add "$QNS_S" && NETNS+=("$QNS_S") && ip netns add "$QNS_D" && NETNS+=("$QNS_D") || return 1
	ip link add "${TAG}s" netns "$QNS_S" type veth peer name "${TAG}d" netns "$QNS_D" || return 1
	ip -n "$QNS_S" addr add 198.18.0.1/24 dev "${TAG}s"
	ip -n "$QNS_D" addr add 198.18.0.2/24 dev "${TAG}d"
	local ns
	for ns in "$QNS_S" "$QNS_D"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		ip -n "$ns" link set lo up
	done
	ip -n "$QNS_S" link set "${TAG}s" mtu 9000 up && ip -n "$QNS_D" link set "${TAG}d" mtu 9000 up || return 1
	# shellcheck disable=SC2046
	ip netns exec "$QNS_S" tc qdisc add dev "${TAG}s" root tbf $(mr_tbf_args "$RATE_BITS")
}
qemu_net_down() {
	local n keep=()
	ip netns del "$QNS_S" 2>/dev/null
	[ "$QNS_D" != "$QNS_S" ] && ip netns del "$QNS_D" 2>/dev/null
	for n in "${NETNS[@]}"; do [ "$n" != "$QNS_S" ] && [ "$n" != "$QNS_D" ] && keep+=("$n"); done
	NETNS=("${keep[@]}")
}
# QEMU's TLS credentials, once per invocation: the server certificate for
# the destination's listen address (its IP in subjectAltName, checked by
# the source), a client certificate (checked by the destination,
# verify-peer=on), both from a CA made here.
TLS_DIR=$WORK/tls
if [ "$NEED_TLS" = 1 ]; then
	tls_ip=127.0.0.1
	[ "$RATE_BITS" != 0 ] && tls_ip=198.18.0.2
	tls_certs "$TLS_DIR" "$tls_ip" || die "cannot make the TLS certificates"
	say "TLS credentials for QEMU in $TLS_DIR (server certificate for $tls_ip)"
fi
# One QEMU process: role (src|dst), namespace, configuration. The source's
# RAM is the image itself, private: the guest's writes (and the
# preallocation's) never reach the file. The destination's, a fresh file,
# shared, to compare with the image afterwards (WORK/dst-ram).
qemu_start() {
	local role=$1 ns=$2 opt=()
	[ "$role" = src ] && opt=(--ram-file "$IMAGE" --private)
	[[ $3 == *-tls ]] && opt+=(--tls "$TLS_DIR")
	qvm_start "$role" "$WORK" "$GUEST" --ns "$ns" --timeout "$((TIMEOUT + 60))" \
		--name "migdp-compare-$role" "${opt[@]}"
	CHILDREN+=("$QVM_PID")
}
qemu_run() {
	local config=$1 out p
	qemu_net_up || { qemu_net_down; die "cannot set up the network namespaces for QEMU"; }
	qemu_start dst "$QNS_D" "$config"
	qemu_start src "$QNS_S" "$config"
	run_child "$WORK/qemu.json" "$WORK/driver.log" python3 "$TOP/scripts/lib/qemu_migrate.py" \
		--src-qmp "$WORK/src.qmp" --dst-qmp "$WORK/dst.qmp" \
		--src-pidfile "$WORK/src.pid" --dst-pidfile "$WORK/dst.pid" \
		--config "$config" --channels "$CHANNELS" --listen "$QLISTEN" --tls-creds tls0 \
		--image "$IMAGE" --dst-ram "$WORK/dst-ram" --ns "$QNS_S" --dev "$QDEV" \
		--rate "$RATE_BITS" --timeout "$TIMEOUT"
	out=$(tail -n 1 "$WORK/qemu.json")
	# The driver quit both; make sure.
	for p in src dst; do
		[ -f "$WORK/$p.pid" ] && kill "$(cat "$WORK/$p.pid")" 2>/dev/null
		rm -f "$WORK/$p.pid"
	done
	wait 2>/dev/null
	CHILDREN=()
	qemu_net_down
	rm -f "$WORK/dst-ram"
	if [ -z "$out" ]; then
		out=$(jq -nc --arg c "$config" --argjson r "$RATE_BITS" \
			'{tool: "qemu", config: $c, rate: $r, status: "failed", reason: "no report from the QMP driver"}')
	fi
	if [ "$(echo "$out" | jq -r .status)" != completed ]; then
		say "qemu $config failed: $(echo "$out" | jq -r .reason)"
		tail -n 3 "$WORK"/qemu-*.log "$WORK/driver.log" >&2
	fi
	emit "$(echo "$out" | jq -c --arg a "$ACCEL_NAME" '. + {accel: $a}')"
}

# --- migdp ------------------------------------------------------------------
# migrate-image.sh on the same image: memif, or af_packet on a shaped veth.
# With --security, every run names its mode (--security plain|auth|encrypt);
# without, no --security at all (a migrate-image.sh without the option).
migdp_args() {
	MARGS=("$IMAGE" --channels "$CHANNELS" --timeout "$TIMEOUT")
	[ "$HUGE" = 1 ] && MARGS+=(--hugepages)
	[ "$RATE_BITS" != 0 ] && MARGS+=(--link veth --rate "$RATE_BITS")
}
migdp_run() { # codec [plain|auth|encrypt]
	local codec=$1 sec=${2:-} config=$1 out
	migdp_args
	MARGS+=(--codec "$codec")
	if [ "$SECURITY" = 1 ]; then
		MARGS+=(--security "${sec:-plain}")
		[ "${sec:-plain}" != plain ] && config=$codec-$sec
	fi
	run_child "$WORK/migdp.json" "$WORK/migdp.err" "$TOP/scripts/migrate-image.sh" "${MARGS[@]}"
	CHILDREN=()
	out=$(tail -n 1 "$WORK/migdp.json")
	if ! echo "$out" | jq -e .status >/dev/null 2>&1; then
		out=$(jq -nc '{status: "failed", reason: "no report from migrate-image.sh"}')
	fi
	if [ "$(echo "$out" | jq -r .status)" != completed ]; then
		say "migdp $config failed: $(echo "$out" | jq -r .reason)"
		tail -n 12 "$WORK/migdp.err" >&2
	fi
	# security: as migrate-image.sh reports it (null from one that does not).
	emit "$(echo "$out" | jq -c --arg c "$config" --argjson r "$RATE_BITS" --argjson ch "$CHANNELS" \
		--argjson h "$([ "$HUGE" = 1 ] && echo true || echo false)" '{
		tool: "migdp", config: $c, rate: $r, channels: $ch, status, reason,
		guest_bytes, total_ms, transfer_ms, wire_bytes, frames, retransmits,
		verified, cpu_s, cpu_s_process, link, mtu, hugepages: $h, tx_mode, pages,
		spurious_retransmits, discovered_rate_bps, security}')"
}

# --- QEMU through migdp ------------------------------------------------------
# QEMU's own migrate unix: through two migdp daemons (stream sessions) over
# memif, or af_packet on the shaped veth: one channel per QEMU connection.
via_run() { # stream|multifd|multifd-auto|multifd-encrypt
	local config=$1 qc=stream codec=raw sec=plain out m
	[[ $config == multifd* ]] && qc=multifd-plain
	[[ $config == *-auto ]] && codec=auto
	[[ $config == *-encrypt ]] && sec=encrypt
	rm -rf "$WORK/via" "$WORK/via.json"
	mkdir -p "$WORK/via"
	(
		export MR_DIR=$WORK/via MR_TAG=${TAG}v MR_CHANNELS=$((CHANNELS + 1)) MR_CODEC=$codec
		export MR_SECURITY=$sec MR_TIMEOUT=$((TIMEOUT + 60)) MR_HUGE=0 MR_KEEP=1
		[ "$RATE_BITS" != 0 ] && export MR_LINK=veth MR_RATE=$RATE_BITS
		mr_defaults
		trap 'qvm_stop "$WORK" src; qvm_stop "$WORK" dst; mr_cleanup' EXIT
		mr_stream_start "" q1 || { echo '{"status":"failed","reason":"migdp did not start"}' >"$WORK/via.json"; exit 1; }
		qemu_start dst "" "$qc"
		qemu_start src "" "$qc"
		python3 "$TOP/scripts/lib/qemu_migrate.py" \
			--src-qmp "$WORK/src.qmp" --dst-qmp "$WORK/dst.qmp" \
			--src-pidfile "$WORK/src.pid" --dst-pidfile "$WORK/dst.pid" \
			--config "$qc" --channels "$CHANNELS" --uri "unix:$MR_STREAM_OUT" \
			--incoming-uri "unix:$MR_STREAM_IN" --image "$IMAGE" --dst-ram "$WORK/dst-ram" \
			--timeout "$TIMEOUT" >"$WORK/via-qemu.json" 2>"$WORK/driver.log"
		mr_stream_wait q1 20 >/dev/null
		# The daemons print each session's report when it ends.
		s=$(mr_last source) d=$(mr_last destination)
		jq -c --argjson s "${s:-null}" --argjson d "${d:-null}" '. + {migdp: {
			source: ($s | {status, reason, wire_bytes, retransmits, cpu_s, stream, security}),
			destination: ($d | {status, reason, cpu_s})}}' "$WORK/via-qemu.json" >"$WORK/via.json"
	) >"$WORK/via.err" 2>&1 &
	CHILDREN+=($!)
	wait $!
	CHILDREN=()
	rm -f "$WORK/dst-ram"
	out=$(tail -n 1 "$WORK/via.json" 2>/dev/null)
	echo "$out" | jq -e .status >/dev/null 2>&1 ||
		out=$(jq -nc '{status: "failed", reason: "no report from the QMP driver"}')
	m=$(echo "$out" | jq -r '.migdp.source.status // "none"')
	if [ "$(echo "$out" | jq -r .status)" != completed ] || [ "$m" != completed ]; then
		say "qemu+migdp $config failed: QEMU $(echo "$out" | jq -r .reason), migdp $m"
		tail -n 5 "$WORK/via.err" "$WORK/driver.log" "$WORK"/via/*.log >&2
	fi
	# CPU: QEMU's and migdp's on each side; wire: what the source migdp sent.
	emit "$(echo "$out" | jq -c --arg c "$config" --argjson r "$RATE_BITS" --argjson ch "$CHANNELS" \
		--arg a "$ACCEL_NAME" '{
		tool: "qemu+migdp", config: $c, rate: $r, channels: $ch, accel: $a,
		status: (if .status == "completed" and .migdp.source.status == "completed"
			 then "completed" else "failed" end),
		reason, guest_bytes, total_ms, dest_total_ms, downtime_ms, verified,
		wire_bytes: .migdp.source.wire_bytes,
		retransmits: .migdp.source.retransmits,
		cpu_s: {source: ((.cpu_s.source // 0) + (.migdp.source.cpu_s // 0)),
			destination: ((.cpu_s.destination // 0) + (.migdp.destination.cpu_s // 0))},
		cpu_s_qemu: .cpu_s,
		cpu_s_migdp: {source: .migdp.source.cpu_s, destination: .migdp.destination.cpu_s},
		stream: .migdp.source.stream, security: .migdp.source.security}')"
}

# --- the comparison ---------------------------------------------------------
link="unshaped (QEMU: loopback TCP, migdp: memif)"
[ "$RATE_BITS" != 0 ] && link="veth shaped to $RATE_BITS bit/s (tbf $(mr_tbf_args "$RATE_BITS"))"
say "$((GUEST >> 20)) MiB, $CHANNELS channel(s), $RUNS run(s), $link, QEMU $QEMU_VERSION ($ACCEL_NAME), migdp hugepages $([ "$HUGE" = 1 ] && echo on || echo off)"
QCONFIGS=(stream multifd-plain multifd-zstd1)
MCONFIGS=(raw auto zstd)
if [ "$SECURITY" = 1 ]; then
	QCONFIGS=(stream stream-tls multifd-plain multifd-tls multifd-zstd1)
	MCONFIGS=(raw raw-auth raw-encrypt auto auto-auth auto-encrypt zstd)
fi
VCONFIGS=()
if [ "$STREAMS" = 1 ]; then
	[[ " ${QCONFIGS[*]} " == *" multifd-tls "* ]] || QCONFIGS+=(multifd-tls)
	VCONFIGS=(stream multifd multifd-auto multifd-encrypt)
fi
[ "$RUN_QEMU" = 1 ] || QCONFIGS=()
[ "$RUN_MIGDP" = 1 ] || MCONFIGS=()
for ((r = 1; r <= RUNS; r++)); do
	for c in "${QCONFIGS[@]}"; do
		say "run $r/$RUNS: qemu $c"
		others
		qemu_run "$c"
	done
	for c in "${MCONFIGS[@]}"; do
		say "run $r/$RUNS: migdp $c"
		others
		case $c in
		*-auth|*-encrypt) migdp_run "${c%-*}" "${c##*-}" ;;
		*) migdp_run "$c" plain ;;
		esac
	done
	for c in "${VCONFIGS[@]}"; do
		say "run $r/$RUNS: qemu+migdp $c"
		others
		via_run "$c"
	done
done
UNCHANGED=false
[ "$(md5sum "$IMAGE" | cut -d' ' -f1)" = "$IMAGE_SUM" ] && UNCHANGED=true

python3 - "$RESULTS" "$RATE_BITS" "$CHANNELS" "$RUNS" "$GUEST" "$IMAGE_DESC" "$QEMU_VERSION" \
	"$ACCEL_NAME" "$HUGE" "$UNCHANGED" "$SECURITY" "$ONLY" <<'PY'
import json, statistics, sys
path, rate, channels, runs, guest, image, qv, accel, huge, unchanged, security, only = sys.argv[1:13]
rate, channels, runs, guest = int(rate), int(channels), int(runs), int(guest)
rows = [json.loads(l) for l in open(path) if l.strip()]
QC = ["stream", "stream-tls", "multifd-plain", "multifd-tls", "multifd-zstd1"]
MC = ["raw", "raw-auth", "raw-encrypt", "auto", "auto-auth", "auto-encrypt", "zstd"]
VC = ["stream", "multifd", "multifd-auto", "multifd-encrypt"]
order = [("qemu", c) for c in QC] + [("migdp", c) for c in MC] + [("qemu+migdp", c) for c in VC]

def med(vals):
    vals = [v for v in vals if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None

def stats(tool, config):
    rs = [r for r in rows if r.get("tool") == tool and r.get("config") == config]
    ok = [r for r in rs if r.get("status") == "completed"]
    ms = med([r.get("total_ms") for r in ok])
    v = [r.get("verified") for r in rs]
    return {
        "runs": len(rs), "completed": len(ok), "total_ms": ms,
        "gib_s": guest / 2**30 / (ms / 1e3) if ms else None,
        "wire_bytes": med([r.get("wire_bytes") for r in ok]),
        "cpu_src": med([(r.get("cpu_s") or {}).get("source") for r in ok]),
        "cpu_dst": med([(r.get("cpu_s") or {}).get("destination") for r in ok]),
        "verified": (None if any(x is None for x in v) else all(v)) if v else None,
        "retransmits": med([r.get("retransmits") for r in ok]),
        "frames": med([r.get("frames") for r in ok]),
    }

S = {f"{t}/{c}": stats(t, c) for t, c in order}

def fmt(v, f="{:.0f}"):
    return "—" if v is None else f.format(v)

label = "unshaped" if rate == 0 else f"{rate / 1e9:g} Gb/s"
print()
print(f"| tool | config | link | runs ok | total ms (median) | GiB/s | wire bytes | CPU s source | CPU s destination | verified |")
print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
for t, c in order:
    s = S[f"{t}/{c}"]
    if not s["runs"]:
        continue  # not run in this invocation (--security, --only)
    ver = {True: "yes", False: "NO", None: "—"}[s["verified"]]
    print(f"| {t} | {c} | {label} | {s['completed']}/{s['runs']} | {fmt(s['total_ms'])} | "
          f"{fmt(s['gib_s'], '{:.2f}')} | {fmt(s['wire_bytes'])} | {fmt(s['cpu_src'], '{:.2f}')} | "
          f"{fmt(s['cpu_dst'], '{:.2f}')} | {ver} |")
print()

def ratio(a, b):
    return round(a / b, 4) if a is not None and b else None

def speed(m, q):  # speed = 1 / total_ms: m's speed over q's (migdp's over QEMU's)
    return ratio(S[q]["total_ms"], S[m]["total_ms"])

def cpu(m, q):
    out = {}
    for side, k in (("source", "cpu_src"), ("destination", "cpu_dst")):
        out[side] = ratio(S[m][k], S[q][k])
    return out

def all_verified(tool):  # None when that tool did not run (--only)
    v = [r.get("verified") is True for r in rows if r.get("tool") == tool]
    return all(v) if v else None

summary = {
    "benchmark": "compare_qemu_summary",
    "image": image, "guest_bytes": guest, "channels": channels, "rate": rate,
    "runs": runs, "qemu_version": qv, "accel": accel, "migdp_hugepages": huge == "1",
    "all_completed": all(r.get("status") == "completed" for r in rows),
    "migdp_all_verified": all_verified("migdp"),
    "qemu_all_verified": all_verified("qemu"),
    "image_unchanged": unchanged == "true",
    "median_total_ms": {k: v["total_ms"] for k, v in S.items()},
    # QEMU's total-time ends when the source is done; migdp's total_ms when
    # the destination has committed. QEMU's to its destination's end:
    "qemu_median_dest_total_ms": {c: med([r.get("dest_total_ms") for r in rows
                                          if r.get("tool") == "qemu" and r.get("config") == c
                                          and r.get("status") == "completed"])
                                  for c in QC},
    "auto_vs_qemu_multifd_plain_speed": speed("migdp/auto", "qemu/multifd-plain"),
    "zstd_vs_qemu_multifd_zstd1_speed": speed("migdp/zstd", "qemu/multifd-zstd1"),
    "zstd_wire_vs_qemu_zstd1_wire": ratio(S["migdp/zstd"]["wire_bytes"], S["qemu/multifd-zstd1"]["wire_bytes"]),
    "migdp_zstd_wire_per_guest": ratio(S["migdp/zstd"]["wire_bytes"], guest),
    "qemu_zstd1_wire_per_guest": ratio(S["qemu/multifd-zstd1"]["wire_bytes"], guest),
    "cpu_auto_vs_qemu_multifd_plain": cpu("migdp/auto", "qemu/multifd-plain"),
    "cpu_zstd_vs_qemu_multifd_zstd1": cpu("migdp/zstd", "qemu/multifd-zstd1"),
    "migdp_retransmits_per_frame": {c: ratio(S[f"migdp/{c}"]["retransmits"], S[f"migdp/{c}"]["frames"])
                                    for c in MC},
    # --security: the costs of authentication and of encryption, as ratios
    # to the plain runs of this same invocation (< 1 = slower, CPU > 1 =
    # more), and encrypted migdp against QEMU's TLS migration.
    "security": security == "1",
    "only": only or None,
    "migdp_security_reported": {c: next((r.get("security") for r in rows
                                         if r.get("tool") == "migdp" and r.get("config") == c
                                         and r.get("security") is not None), None)
                                for c in MC if S[f"migdp/{c}"]["runs"]} if security == "1" else None,
    "auth_vs_plain_speed": {c: speed(f"migdp/{c}-auth", f"migdp/{c}") for c in ("raw", "auto")},
    "encrypt_vs_plain_speed": {c: speed(f"migdp/{c}-encrypt", f"migdp/{c}") for c in ("raw", "auto")},
    "cpu_auth_vs_plain": {c: cpu(f"migdp/{c}-auth", f"migdp/{c}") for c in ("raw", "auto")},
    "cpu_encrypt_vs_plain": {c: cpu(f"migdp/{c}-encrypt", f"migdp/{c}") for c in ("raw", "auto")},
    "encrypt_vs_qemu_multifd_tls_speed": {c: speed(f"migdp/{c}-encrypt", "qemu/multifd-tls")
                                          for c in ("raw", "auto")},
    "cpu_encrypt_vs_qemu_multifd_tls": {c: cpu(f"migdp/{c}-encrypt", "qemu/multifd-tls")
                                        for c in ("raw", "auto")},
    "qemu_tls_vs_plain_speed": speed("qemu/multifd-tls", "qemu/multifd-plain"),
    "qemu_stream_tls_vs_plain_speed": speed("qemu/stream-tls", "qemu/stream"),
    # --streams: QEMU through migdp against QEMU over its own TCP (and TLS).
    "streams": {
        "stream_vs_qemu_stream_speed": speed("qemu+migdp/stream", "qemu/stream"),
        "multifd_vs_qemu_multifd_speed": speed("qemu+migdp/multifd", "qemu/multifd-plain"),
        "multifd_auto_vs_qemu_multifd_speed": speed("qemu+migdp/multifd-auto", "qemu/multifd-plain"),
        "multifd_auto_vs_qemu_multifd_zstd1_speed": speed("qemu+migdp/multifd-auto", "qemu/multifd-zstd1"),
        "encrypt_vs_qemu_multifd_tls_speed": speed("qemu+migdp/multifd-encrypt", "qemu/multifd-tls"),
        "cpu_multifd_vs_qemu_multifd": cpu("qemu+migdp/multifd", "qemu/multifd-plain"),
        "cpu_encrypt_vs_qemu_multifd_tls": cpu("qemu+migdp/multifd-encrypt", "qemu/multifd-tls"),
        "auto_wire_per_guest": ratio(S["qemu+migdp/multifd-auto"]["wire_bytes"], guest),
        "multifd_wire_per_guest": ratio(S["qemu+migdp/multifd"]["wire_bytes"], guest),
    } if any(S[f"qemu+migdp/{c}"]["runs"] for c in VC) else None,
    "notes": "speed = 1/total_ms; ratios of medians, > 1 = migdp faster (speed) or "
             "more (wire, CPU). QEMU cpu_s: from just before migrate to both sides "
             "completed; migdp cpu_s: each process from the handshake to the "
             "commit (cpu_s_process: its whole life). QEMU wire_bytes: kernel tx byte counter of the link "
             "(loopback of its namespace, or the source's veth), since QEMU 7.2's "
             "ram.transferred counts multifd pages before compression. QEMU -tls: "
             "tls-creds-x509 (CA, server and client certificates made by the run, "
             "verify-peer=on), QEMU's default gnutls priority; migdp X-auth and "
             "X-encrypt: migrate-image.sh --codec X --security auth|encrypt.",
}
if rate:
    q = [x for x in ("qemu/multifd-plain", "qemu/multifd-zstd1") if S[x]["total_ms"]]
    best = min(q, key=lambda x: S[x]["total_ms"]) if q else None
    summary["best_qemu_at_rate"] = best
    summary["auto_vs_best_qemu_speed"] = speed("migdp/auto", best) if best else None
print(json.dumps(summary))
PY
