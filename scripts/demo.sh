#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job: a live migration of a running guest on this machine. Two
# migdp daemons (source and destination) joined by a virtual NIC, a lab
# guest on each side; the source guest runs a workload while its memory
# moves; migctl starts the migration through the control socket and shows
# its live progress; a short summary, then one JSON object as the last
# line. Exit 0 only when every migration completed and the destination
# guest verified its memory after resume.
#
# scripts/demo.sh [--mem SIZE] [--image FILE] [--workload idle|steady|hot|stream]
#     [--dirty-rate PAGES_PER_S] [--channels N] [--link memif|veth]
#     [--mtu 1500|9000] [--codec auto|raw|zstd[:L]] [--fault drop=..,dup=..,...]
#     [--sessions N] [--vm lab|kvm] [--security plain|auth|encrypt]
#     [--no-hugepages] [--timeout SEC] [--keep]
# --security: auth (default) authenticates every frame with a key made for
# the run, encrypt encrypts the pages too, plain neither (README Security).
# --vm kvm: the guests are real KVM virtual machines (lab/migvm) whose
# program checks its own pages after resume (needs /dev/kvm).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MIGDP_BUILD_DIR:-$TOP/build}

usage() {
	sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

MEM=1G IMAGE="" WORKLOAD=steady RATE=20000 CHANNELS=2 LINK=memif MTU=9000
CODEC=auto FAULT="" SESSIONS=1 HUGE=1 TIMEOUT=300 KEEP=0 VMKIND=lab SECURITY=auth
while [ $# -gt 0 ]; do
	case $1 in
	--mem) MEM=$2; shift ;;
	--image) IMAGE=$2; shift ;;
	--workload) WORKLOAD=$2; shift ;;
	--dirty-rate) RATE=$2; shift ;;
	--channels) CHANNELS=$2; shift ;;
	--link) LINK=$2; shift ;;
	--mtu) MTU=$2; shift ;;
	--codec) CODEC=$2; shift ;;
	--fault) FAULT=$2; shift ;;
	--sessions) SESSIONS=$2; shift ;;
	--vm) VMKIND=$2; shift ;;
	--security) SECURITY=$2; shift ;;
	--no-hugepages) HUGE=0 ;;
	--timeout) TIMEOUT=$2; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) usage ;;
	*) echo "demo: unknown option $1" >&2; usage ;;
	esac
	shift
done
case $LINK in memif|veth) ;; *) echo "demo: --link memif|veth" >&2; exit 2 ;; esac
case $WORKLOAD in idle|steady|hot|stream) ;; *) echo "demo: --workload idle|steady|hot|stream" >&2; exit 2 ;; esac
case $SESSIONS in [1-8]) ;; *) echo "demo: --sessions 1..8" >&2; exit 2 ;; esac
case $VMKIND in lab|kvm) ;; *) echo "demo: --vm lab|kvm" >&2; exit 2 ;; esac
case $SECURITY in plain|auth|encrypt) ;; *) echo "demo: --security plain|auth|encrypt" >&2; exit 2 ;; esac
if [ "$VMKIND" = kvm ] && ! { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
	echo "demo: --vm kvm needs /dev/kvm (KVM is not available on this machine)" >&2
	exit 1
fi
[ "$VMKIND" = kvm ] && [ -n "$IMAGE" ] && { echo "demo: --vm kvm runs its own guest program: no --image" >&2; exit 2; }
if [ -n "$IMAGE" ]; then
	[ -r "$IMAGE" ] || { echo "demo: cannot read image $IMAGE" >&2; exit 2; }
	MEM=$(stat -c %s "$IMAGE")
fi
if [ ! -x "$BUILD/control/migdp" ] || [ ! -x "$BUILD/lab/migguest" ] ||
   [ ! -x "$BUILD/control/migctl" ]; then
	"$TOP/scripts/setup.sh" >&2 || exit 1
fi

# shellcheck source=lib/migrun.sh
. "$TOP/scripts/lib/migrun.sh"
# shellcheck source=lib/hugepages.sh
. "$TOP/scripts/lib/hugepages.sh"
export MR_BUILD=$BUILD MR_TAG=demo$$ MR_TIMEOUT=$TIMEOUT MR_CHANNELS=$CHANNELS
export MR_LINK=$LINK MR_MTU=$MTU MR_CODEC=$CODEC MR_FAULT=$FAULT MR_KEEP=$KEEP
export MR_MEM=$MEM MR_IMAGE=$IMAGE MR_WORKLOAD=$WORKLOAD MR_DIRTY_RATE=$RATE MR_VM_KIND=$VMKIND
export MR_SECURITY=$SECURITY
mr_defaults
MIGCTL=$BUILD/control/migctl
SRC=$MR_DIR/source-control.sock DST=$MR_DIR/destination-control.sock

log() { echo "demo: $*" >&2; }
# Fail before any migration ran: the reason said, and still one JSON
# object as the last line.
die() {
	log "$*"
	jq -cn --arg r "$*" '{status: "failed", reason: $r, verified: false}'
	exit 1
}
cleanup() {
	mr_cleanup
	huge_restore
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# Hugepages if the machine has them to give (two EALs, every guest), else
# 4 KiB pages, said.
MR_HUGE=0
if [ "$HUGE" = 1 ]; then
	if huge_reserve "$MEM" $((2 * SESSIONS)) 2>"$MR_DIR/huge.err"; then
		MR_HUGE=1
		log "hugepages: $HUGE_WANT pages of 2 MiB reserved for this run (released at the end)"
	else
		log "no hugepages ($(cat "$MR_DIR/huge.err")): running on 4 KiB pages"
		huge_restore
	fi
fi
export MR_HUGE

vms=()
for ((k = 1; k <= SESSIONS; k++)); do
	vms+=("$([ "$SESSIONS" = 1 ] && echo guest1 || echo "vm-$k")")
done
if [ "$VMKIND" = kvm ]; then
	log "live-migrating ${#vms[@]} KVM virtual machine(s) of $MEM (lab/migvm: its guest writes $RATE pages/s and checks every page it wrote)"
else
	log "live-migrating ${#vms[@]} running guest(s) of $MEM (workload $WORKLOAD, $RATE pages/s dirtied)"
fi
log "source migdp -> $LINK -> destination migdp, $CHANNELS channel(s), MTU $MTU, codec $CODEC${FAULT:+, faults $FAULT}"
log "guest memory is shared with migdp, never copied into it; logs in $MR_DIR"

if [ "$LINK" = veth ]; then
	mr_netns_up || die "cannot create network namespaces (root and iproute2 needed)"
fi
# MR_EXTRA_SRC / MR_EXTRA_DST: more migdp options (--set ...), for tests.
mr_start_migdp destination "--daemon --set migdp.sessions=$SESSIONS ${MR_EXTRA_DST:-}" ||
	die "cannot start the destination migdp"
mr_wait_ready destination || die "the destination migdp did not start"
mr_start_migdp source "--daemon --set migdp.sessions=$SESSIONS ${MR_EXTRA_SRC:-}" ||
	die "cannot start the source migdp"
mr_wait_ready source || die "the source migdp did not start"
guests=()
for vm in "${vms[@]}"; do
	MR_VM=$vm mr_start_guest destination; guests+=("$MR_PID_GUEST_DESTINATION")
	MR_VM=$vm mr_start_guest source; guests+=("$MR_PID_GUEST_SOURCE")
done
for vm in "${vms[@]}"; do
	for role in source destination; do
		# Every guest and both migdp must live while we wait.
		if ! mr_wait_for "$MR_DIR/$role.log" "VM '$vm' connected" $((TIMEOUT / 2)) \
			"${guests[@]}" "$MR_PID_SOURCE" "$MR_PID_DESTINATION"; then
			tail -n 5 "$MR_DIR/guest-$role-$vm.log" "$MR_DIR/$role.log" >&2
			die "$vm never reached the $role migdp (a guest or a migdp stopped, or it took over $((TIMEOUT / 2)) s)"
		fi
	done
done
for vm in "${vms[@]}"; do
	"$MIGCTL" --socket "$DST" incoming "$vm" >/dev/null || die "migctl incoming $vm failed"
	"$MIGCTL" --socket "$SRC" migrate "$vm" 198.18.0.2 >/dev/null || die "migctl migrate $vm failed"
done
# The first VM's progress on screen, the others' watched quietly.
watchers=()
for vm in "${vms[@]:1}"; do
	"$MIGCTL" --socket "$SRC" watch "$vm" >"$MR_DIR/watch-$vm.txt" 2>&1 &
	watchers+=($!)
done
"$MIGCTL" --socket "$SRC" watch "${vms[0]}" >&2
for p in "${watchers[@]}" "${guests[@]}"; do
	wait "$p"
done
# One after the other (DPDK 22.11's memif: see docs/design-notes.md).
kill -TERM "$MR_PID_SOURCE" 2>/dev/null
wait "$MR_PID_SOURCE" 2>/dev/null
kill -TERM "$MR_PID_DESTINATION" 2>/dev/null
wait "$MR_PID_DESTINATION" 2>/dev/null

summary=$(python3 - "$MR_DIR" "${vms[@]}" <<'PY'
import json, os, sys
d, vms = sys.argv[1], sys.argv[2:]
def lines(name):
    try:
        with open(os.path.join(d, name)) as f:
            return [json.loads(l) for l in f if l.startswith("{")]
    except (OSError, ValueError):
        return []
src, dst = lines("source.json"), lines("destination.json")
runs = []
for vm in vms:
    s = next((x for x in src if x.get("vm") == vm), {})
    t = next((x for x in dst if x.get("vm") == vm), {})
    gd = (lines(f"guest-destination-{vm}.json") or [{}])[-1]
    gs = (lines(f"guest-source-{vm}.json") or [{}])[-1]
    ok = s.get("status") == "completed" and t.get("status") == "completed"
    runs.append({
        "vm": vm, "status": "completed" if ok and gd.get("status") == "completed" else "failed",
        "reason": next((x.get("reason") for x in (s, t, gd, gs) if x.get("reason")), ""),
        "guest_bytes": s.get("guest_bytes", 0), "wire_bytes": s.get("wire_bytes", 0),
        "total_ms": s.get("total_ms", 0), "downtime_ms": s.get("downtime_ms"),
        "downtime": s.get("downtime"), "guest_downtime_ms": gd.get("downtime_ms"),
        "rounds": len(s.get("rounds", [])) + (1 if s else 0),
        "throughput_gbps": s.get("throughput_gbps", 0),
        "verified": bool(ok and s.get("verified") and t.get("verified") and gd.get("verified")),
        "workload": gs.get("workload"), "dirty_rate": gs.get("dirty_rate"),
        "retransmits": s.get("retransmits", 0), "guest_fill_ms": gs.get("fill_ms"),
        "security": (s.get("security") or {}).get("cipher", "none")
                    if (s.get("security") or {}).get("authenticated") else "none",
    })
out = dict(runs[0]) if len(runs) == 1 else {
    "status": "completed" if all(r["status"] == "completed" for r in runs) else "failed",
    "reason": "; ".join(f'{r["vm"]}: {r["reason"]}' for r in runs if r["reason"]),
    "verified": all(r["verified"] for r in runs),
    "guest_bytes": sum(r["guest_bytes"] for r in runs),
    "wire_bytes": sum(r["wire_bytes"] for r in runs),
    "total_ms": max(r["total_ms"] for r in runs),
    "downtime_ms": max((r["downtime_ms"] or 0) for r in runs),
    "rounds": max(r["rounds"] for r in runs),
    "throughput_gbps": sum(r["guest_bytes"] for r in runs) * 8 / (max(r["total_ms"] for r in runs) * 1e6)
                       if runs and max(r["total_ms"] for r in runs) else 0,
    "sessions": runs}
if out["status"] == "completed" and not out["verified"]:
    out["status"] = "failed"
    out["reason"] = out.get("reason") or "not verified"
print(json.dumps(out))
PY
)
echo "$summary" | jq -r '(if .sessions then .sessions[] else . end) |
	"demo: \(.vm): \(.status)\(if .reason != "" then " (" + .reason + ")" else "" end): \(.guest_bytes / 1048576 | floor) MiB in \(.total_ms | floor) ms over \(.rounds) rounds (\(.security)), downtime \(.downtime_ms // 0 | . * 10 | floor / 10) ms, \(.wire_bytes / 1048576 | floor) MiB on the wire, verified by the destination guest: \(.verified)"' >&2
if [ "$(echo "$summary" | jq -r .status)" != completed ]; then
	for f in "$MR_DIR"/*.log; do
		echo "--- $(basename "$f") (last lines)" >&2
		grep -v '^progress' "$f" | tail -n 4 >&2
	done
fi
echo "$summary"
[ "$(echo "$summary" | jq -r '.status == "completed" and .verified')" = true ]
