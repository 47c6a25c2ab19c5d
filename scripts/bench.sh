#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The benchmark sweep: static transfers, live migrations and (optionally)
# the QEMU comparison, each run through the existing scripts, into one
# results folder with a JSON file per run, summary.md, gnuplot plots and,
# with --html, a self-contained report.html. Prints the folder last.
#
# scripts/bench.sh [--quick|--full] [--out DIR] [--html] [--mem SIZE]
#     [--qemu] [--qemu-rate RATE] [--groups LIST] [--hugepages]
#     [--timeout SEC] [--kvm]
#
# --quick (default): 128M; transfer 2 channels, MTU 9000, raw and auto;
#   live steady and idle at 20000 pages/s; no QEMU unless --qemu.
# --full: 1G; transfer 1 and 2 channels x MTU 9000 and 1500 x raw, auto,
#   zstd; live idle, steady, hot, stream x 5000 and 20000 pages/s (2
#   channels); compare-qemu.sh --runs 1 (add --rate RATE with --qemu-rate).
# --kvm: the live group also migrates a KVM virtual machine (lab/migvm) at
#   each rate (needs /dev/kvm).
# --out DIR: the folder (default results/bench-YYYYmmdd-HHMMSS).
# --groups LIST: a subset of transfer,live,qemu. --hugepages: reserve
#   hugepages and run migrate-image.sh with --hugepages. --timeout: per
#   migration (migrate-image.sh, default 120; compare-qemu.sh 240).
# Exit 0 when every run completed, 1 when one failed (all are recorded),
# 2 on bad options. Regenerate the report: python3 scripts/lib/bench_report.py DIR [--html]
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MIGDP_BUILD_DIR:-$TOP/build}
export MR_BUILD=$BUILD MIGDP_BUILD_DIR=$BUILD

MODE=quick OUT="" HTML=0 MEM="" QEMU=0 QEMU_RATE="" SEL_GROUPS="" HUGE=0 TIMEOUT=""
usage() { sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || { echo "bench: $1 needs a value" >&2; usage; }; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) MODE=quick ;;
	--full) MODE=full ;;
	--out) need "$@"; OUT=$2; shift ;;
	--html) HTML=1 ;;
	--mem) need "$@"; MEM=$2; shift ;;
	--qemu) QEMU=1 ;;
	--qemu-rate) need "$@"; QEMU_RATE=$2; shift ;;
	--groups) need "$@"; SEL_GROUPS=$2; shift ;;
	--hugepages) HUGE=1 ;;
	--timeout) need "$@"; TIMEOUT=$2; shift ;;
	--kvm) KVM=1 ;;
	-h|--help) usage ;;
	*) echo "bench: unknown argument $1" >&2; usage ;;
	esac
	shift
done
say() { echo "bench: $*" >&2; }

if [ "$MODE" = full ]; then
	MEM=${MEM:-1G} CHANNELS=(1 2) MTUS=(9000 1500) CODECS=(raw auto zstd)
	WORKLOADS=(idle steady hot stream) RATES=(5000 20000)
	QEMU=1
else
	MEM=${MEM:-128M} CHANNELS=(2) MTUS=(9000) CODECS=(raw auto)
	WORKLOADS=(steady idle) RATES=(20000)
fi
[ -n "$SEL_GROUPS" ] || { SEL_GROUPS=transfer,live; [ "$QEMU" = 1 ] && SEL_GROUPS+=,qemu; }
for g in ${SEL_GROUPS//,/ }; do
	case $g in transfer|live|qemu) ;; *) say "--groups: transfer, live, qemu (not '$g')"; exit 2 ;; esac
done
want() { [[ ,$SEL_GROUPS, == *,$1,* ]]; }
numfmt --from=iec "$MEM" >/dev/null 2>&1 || { say "--mem SIZE (128M, 1G)"; exit 2; }
[ -z "$TIMEOUT" ] || [[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || { say "--timeout SEC"; exit 2; }
command -v jq >/dev/null && command -v python3 >/dev/null || { say "needs jq and python3 (scripts/setup.sh)"; exit 2; }
command -v gnuplot >/dev/null || say "warning: no gnuplot (scripts/setup.sh installs gnuplot-nox): no plots"

if [ -z "$OUT" ]; then
	OUT=$TOP/results/bench-$(date +%Y%m%d-%H%M%S)
fi
if [ -d "$OUT/runs" ] && [ -n "$(ls -A "$OUT/runs" 2>/dev/null)" ]; then
	say "$OUT/runs already has runs: choose another --out"
	exit 2
fi
mkdir -p "$OUT/runs" "$OUT/logs" "$OUT/plots" || { say "cannot create $OUT"; exit 2; }
OUT=$(cd "$OUT" && pwd)

if want transfer || want live; then
	if [ ! -x "$BUILD/control/migdp" ] || [ ! -x "$BUILD/lab/migguest" ]; then
		"$TOP/scripts/setup.sh" >&2 || { say "build failed"; exit 1; }
	fi
fi
if [ "$HUGE" = 1 ]; then
	# shellcheck source=lib/hugepages.sh
	. "$TOP/scripts/lib/hugepages.sh"
	trap huge_restore EXIT
	huge_reserve "$MEM" || exit 1
fi

N=0 FAILED=0
report() {
	local args=("$OUT")
	[ "$HTML" = 1 ] && args+=(--html)
	python3 "$TOP/scripts/lib/bench_report.py" "${args[@]}" >&2 || say "bench_report.py failed"
}
trap 'say interrupted; report; echo "$OUT"; exit 130' INT TERM

# Write one run file: runs/NNN-NAME.json = the JSON object on stdin plus
# bench_name, bench_group, bench_command, bench_exit.
save_run() { # group name exit command-string
	local f
	N=$((N + 1))
	f=$(printf '%s/runs/%03d-%s.json' "$OUT" "$N" "$2")
	jq -c --arg g "$1" --arg n "$2" --argjson rc "$3" --arg cmd "$4" \
		'. + {bench_name: $n, bench_group: $g, bench_command: $cmd, bench_exit: $rc}' >"$f"
	if [ "$(jq -r '.status // "failed"' "$f")" != completed ]; then
		FAILED=$((FAILED + 1))
		say "  $2: FAILED ($(jq -r '.reason // "no reason"' "$f"))"
	else
		say "  $2: completed, $(jq -r '"\(.total_ms // "?") ms, verified \(.verified)"' "$f")"
	fi
}
# The last line of FILE that is a JSON object, or a failed-run object.
last_json() { # file exit
	local line
	line=$(grep '^{' "$1" 2>/dev/null | tail -n 1)
	if [ -n "$line" ] && echo "$line" | jq -e 'type == "object"' >/dev/null 2>&1; then
		echo "$line"
	else
		jq -nc --argjson rc "$2" '{status: "failed", reason: "no JSON report (exit \($rc))"}'
	fi
}

# One migrate-image.sh run: group name args...
run_migrate() {
	local group=$1 name=$2 log rc line
	shift 2
	local cmd=("$TOP/scripts/migrate-image.sh" --mem "$MEM" "$@")
	[ "$HUGE" = 1 ] && cmd+=(--hugepages)
	[ -n "$TIMEOUT" ] && cmd+=(--timeout "$TIMEOUT")
	log=$(printf '%s/logs/%03d-%s' "$OUT" $((N + 1)) "$name")
	say "[$group] $name: ${cmd[*]#"$TOP/"}"
	"${cmd[@]}" >"$log.out" 2>"$log.err"
	rc=$?
	line=$(last_json "$log.out" "$rc")
	# A completed report with a non-zero exit (not verified, say) stays
	# as migrate-image.sh wrote it: its status says what happened.
	save_run "$group" "$name" "$rc" "scripts/${cmd[*]#"$TOP/scripts/"}" <<<"$line"
}

if want transfer; then
	for c in "${CHANNELS[@]}"; do
		for m in "${MTUS[@]}"; do
			for x in "${CODECS[@]}"; do
				run_migrate transfer "c$c-mtu$m-$x" --channels "$c" --mtu "$m" --codec "$x"
			done
		done
	done
fi
if want live; then
	for w in "${WORKLOADS[@]}"; do
		for r in "${RATES[@]}"; do
			run_migrate live "$w-r$r" --channels 2 --workload "$w" --dirty-rate "$r"
		done
	done
	if [ "${KVM:-0}" = 1 ]; then
		for r in "${RATES[@]}"; do
			run_migrate live "kvm-r$r" --channels 2 --vm kvm --dirty-rate "$r"
		done
	fi
fi
if want qemu; then
	cmd=("$TOP/scripts/compare-qemu.sh" --runs 1 --mem "$MEM")
	suffix=""
	[ -n "$QEMU_RATE" ] && { cmd+=(--rate "$QEMU_RATE"); suffix=-$QEMU_RATE; }
	[ "$HUGE" = 1 ] || cmd+=(--no-hugepages)
	[ -n "$TIMEOUT" ] && cmd+=(--timeout "$TIMEOUT")
	log=$(printf '%s/logs/%03d-qemu%s' "$OUT" $((N + 1)) "$suffix")
	say "[qemu] ${cmd[*]#"$TOP/"}"
	"${cmd[@]}" >"$log.out" 2>"$log.err"
	rc=$?
	cmdstr="scripts/${cmd[*]#"$TOP/scripts/"}"
	lines=$(grep '^{' "$log.out" | jq -cR 'fromjson? | select(type == "object" and has("tool"))')
	if [ -z "$lines" ]; then
		save_run qemu "compare-qemu$suffix" "$rc" "$cmdstr" \
			<<<"$(jq -nc --argjson rc "$rc" '{status: "failed", reason: "compare-qemu.sh gave no run (exit \($rc))"}')"
	else
		while IFS= read -r l; do
			name=$(echo "$l" | jq -r '"\(.tool // "tool")-\(.config // "config")"' | tr -c 'A-Za-z0-9_.\n-' '_')
			save_run qemu "$name$suffix" "$rc" "$cmdstr" <<<"$l"
		done <<<"$lines"
		# Its last line: the summary of ratios (not a run).
		grep '^{' "$log.out" | jq -cR 'fromjson? | select(type == "object" and .benchmark == "compare_qemu_summary")' \
			>"$OUT/qemu-summary$suffix.json"
		[ -s "$OUT/qemu-summary$suffix.json" ] || rm -f "$OUT/qemu-summary$suffix.json"
		if [ "$rc" != 0 ]; then
			say "  compare-qemu.sh exited $rc"
			FAILED=$((FAILED + 1))
		fi
	fi
fi

trap - INT TERM
report
say "$N run(s), $FAILED failed: $OUT/summary.md"
echo "$OUT"
[ "$FAILED" = 0 ]
