#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# scripts/lib/bench_report.py on a synthetic results folder (no DPDK, no
# migration): a transfer run, two live runs with a progress series (one
# without the series, from an older JSON: its round figures), a failed run
# and two compare-qemu.sh lines. Checks that summary.md lists every run,
# that the PNG files are real PNG images over 1 KiB, and that report.html
# embeds them as data: URIs. Usage: bench_report_case.sh [BUILD_DIR].
# Exit 0 pass, 1 fail, 77 skipped (no gnuplot).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL (bench_report): $*"; exit 1; }

if ! command -v gnuplot >/dev/null; then
	echo "SKIP: bench_report needs gnuplot (apt-get install gnuplot-nox; scripts/setup.sh installs it)"
	exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: bench_report needs python3"; exit 77; }

D=$(mktemp -d /tmp/bench-report-case.XXXXXX) || fail "mktemp"
[ -n "${BENCH_REPORT_KEEP:-}" ] || trap 'rm -rf "$D"' EXIT
mkdir -p "$D/runs"

python3 - "$D/runs" <<'PY'
import json, os, sys
d = sys.argv[1]
def put(name, obj):
    with open(os.path.join(d, name + ".json"), "w") as f:
        f.write(json.dumps(obj) + "\n")

pages = 32768  # 128 MiB
put("001-c2-mtu9000-raw", {
    "status": "completed", "reason": "", "link": "memif", "rate": 0, "channels": 2,
    "mtu": 9000, "codec": "raw", "guest_bytes": pages * 4096, "wire_bytes": 135004160,
    "total_ms": 301.5, "transfer_ms": 288.0, "throughput_gbps": 3.56, "frames": 15000,
    "retransmits": 0, "verified": True, "pages": {"zero": 0, "raw": pages},
    "live": False, "workload": None, "dirty_rate": None, "rounds": 0, "round_figures": [],
    "downtime_ms": None, "downtime": None, "guest_downtime_ms": None,
    "transitions": ["handshake", "precopy", "commit", "done"],
    "bench_name": "c2-mtu9000-raw", "bench_group": "transfer"})
put("002-c2-mtu9000-auto", {
    "status": "failed", "reason": "timeout waiting for the destination",
    "bench_name": "c2-mtu9000-auto", "bench_group": "transfer", "bench_exit": 1})

def live(name, workload, rate, series=True):
    s, t, wb, rem, rnd = [], 0.0, 0, pages, 1
    per_tick = 9000  # pages sent per 20 ms
    state = "precopy"
    switch = None
    while True:
        s.append({"t_ms": round(t, 1), "state": state, "round": rnd, "pages": pages - rem,
                  "wire_bytes": wb, "remaining_pages": rem, "dirty_rate_pps": float(rate)})
        if state == "switchover":
            break
        t += 20.0 + (t % 7) / 10
        sent = min(rem, per_tick)
        rem -= sent
        wb += sent * 4150
        if rem == 0:
            rnd += 1
            rem = int(rate * t / 1000 / (4 if rnd > 2 else 1)) if rnd <= 3 else 0
            if rnd == 4 or rem < 200:
                state, switch = "switchover", t
    out = {
        "status": "completed", "reason": "", "link": "memif", "rate": 0, "channels": 2,
        "mtu": 9000, "codec": "auto", "guest_bytes": pages * 4096, "wire_bytes": wb,
        "total_ms": t + 9.5, "transfer_ms": t, "throughput_gbps": pages * 4096 * 8 / ((t + 9.5) * 1e6),
        "frames": wb // 9000, "retransmits": 2, "verified": True, "pages": {},
        "live": True, "workload": workload, "dirty_rate": rate, "rounds": rnd,
        "round_figures": [{"round": 1, "pages": pages, "wire_bytes": pages * 4150, "ms": 80.0,
                           "bandwidth_bps": 1.36e10, "dirty_rate_pps": rate,
                           "remaining_pages": 1600, "decision": "continue"},
                          {"round": 2, "pages": 1600, "wire_bytes": 1600 * 4150, "ms": 6.0,
                           "bandwidth_bps": 8.8e9, "dirty_rate_pps": rate,
                           "remaining_pages": 120, "decision": "switchover"}],
        "downtime_ms": 7.8, "downtime": {"final_pass_ms": 4.1, "device_state_ms": 1.2, "commit_ms": 1.5},
        "guest_downtime_ms": 6.9, "transitions": ["handshake", "precopy", "switchover", "commit", "done"],
        "bench_name": name, "bench_group": "live"}
    if series:
        out["series"] = s
        out["switchover_ms"] = switch
    return out

put("003-steady-r20000", live("steady-r20000", "steady", 20000))
put("004-idle-r20000", live("idle-r20000", "idle", 20000, series=False))
put("005-hot-r5000", dict(live("hot-r5000", "hot", 5000), downtime_ms=None, downtime=None))
put("006-qemu-multifd-plain", {
    "tool": "qemu", "config": "multifd-plain", "rate": 0, "channels": 2, "status": "completed",
    "guest_bytes": pages * 4096, "total_ms": 412, "wire_bytes": 136000000, "verified": True,
    "cpu_s": {"source": 0.4, "destination": 0.3}, "dest_total_ms": 420, "downtime_ms": 12,
    "accel": "tcg", "bench_name": "qemu-multifd-plain", "bench_group": "qemu"})
put("007-migdp-auto", {
    "tool": "migdp", "config": "auto", "rate": 0, "channels": 2, "status": "completed",
    "guest_bytes": pages * 4096, "total_ms": 250.2, "wire_bytes": 80000000, "verified": True,
    "frames": 9000, "retransmits": 0, "bench_name": "migdp-auto", "bench_group": "qemu"})
PY
# A run file that is not JSON at all (an interrupted write): reported as failed.
echo 'not json' >"$D/runs/008-broken.json"

python3 "$TOP/scripts/lib/bench_report.py" "$D" --html || fail "bench_report.py exited $?"

[ -s "$D/summary.md" ] || fail "no summary.md"
for n in c2-mtu9000-raw c2-mtu9000-auto steady-r20000 idle-r20000 hot-r5000 \
	qemu-multifd-plain migdp-auto broken; do
	grep -q "| $n |" "$D/summary.md" || fail "summary.md does not list $n"
done
grep -q '| c2-mtu9000-auto | \*\*failed\*\* |' "$D/summary.md" || fail "the failed run is not marked failed"
for g in Transfer Live QEMU; do
	grep -q "^## .*$g" "$D/summary.md" || fail "summary.md has no $g section"
done

npng=0
for p in "$D"/plots/*.png; do
	[ -f "$p" ] || continue
	sig=$(head -c 8 "$p" | od -An -tx1 | tr -d ' \n')
	[ "$sig" = 89504e470d0a1a0a ] || fail "$(basename "$p"): not a PNG (signature $sig)"
	[ "$(stat -c %s "$p")" -gt 1024 ] || fail "$(basename "$p"): $(stat -c %s "$p") bytes"
	npng=$((npng + 1))
done
[ "$npng" -ge 2 ] || fail "$npng PNG file(s), at least 2 expected"
for p in throughput downtime qemu progress-steady-r20000 progress-idle-r20000; do
	[ -f "$D/plots/$p.png" ] || fail "no plots/$p.png"
	[ -f "$D/plots/$p.gp" ] || fail "no plots/$p.gp"
done
# Each plot can be made again by hand from its folder.
(cd "$D/plots" && rm -f throughput.png && gnuplot throughput.gp) && [ -s "$D/plots/throughput.png" ] ||
	fail "gnuplot throughput.gp does not regenerate throughput.png"

[ -s "$D/report.html" ] || fail "no report.html"
n=$(grep -o 'data:image/png;base64,' "$D/report.html" | wc -l)
[ "$n" = "$npng" ] || fail "report.html embeds $n image(s), $npng PNG files"
grep -Eq '(src|href)=.(plots/|https?:)' "$D/report.html" && fail "report.html refers to external files"
grep -q '<td>steady-r20000</td>' "$D/report.html" || fail "report.html has no row for steady-r20000"
echo "bench_report: $npng plots, $(grep -c '^| ' "$D/summary.md") table lines, report.html $(stat -c %s "$D/report.html") bytes"
