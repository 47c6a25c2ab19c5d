#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The report of a scripts/bench.sh results folder.

python3 scripts/lib/bench_report.py DIR [--html]

Reads DIR/runs/*.json (one JSON object per run, with bench_name and
bench_group), writes DIR/summary.md (a Markdown table per group), gnuplot
data (*.dat) and scripts (*.gp) into DIR/plots/ and runs gnuplot there
(PNG files, skipped with a warning when gnuplot is missing), and with
--html DIR/report.html: the tables and the plots as data: URIs, no other
file needed. Fields missing from older run files are tolerated; a plot
without data is not written. Regenerate one plot: cd DIR/plots && gnuplot NAME.gp
"""
import base64
import glob
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time

GROUP_ORDER = ["transfer", "live", "qemu"]
GROUP_TITLES = {
    "transfer": "Transfer (static image)",
    "live": "Live migration (running guest)",
    "qemu": "Against QEMU (compare-qemu.sh)",
}
COLUMNS = ["configuration", "status", "verified", "total_ms", "throughput_gbps",
           "downtime_ms", "rounds", "wire_bytes"]
PAGE = 4096


def warn(msg):
    print(f"bench_report: {msg}", file=sys.stderr)


def num(v):
    """A finite number or None (bools are not numbers here)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if v != v or v in (float("inf"), float("-inf")):
        return None
    return v


def load_runs(d):
    runs = []
    for path in sorted(glob.glob(os.path.join(d, "runs", "*.json"))):
        base = os.path.basename(path)[:-5]
        try:
            with open(path) as f:
                text = f.read()
            lines = [l for l in text.splitlines() if l.strip().startswith("{")]
            r = json.loads(lines[-1] if lines else text)
            if not isinstance(r, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, IndexError) as e:
            r = {"status": "failed", "reason": f"unreadable run file: {e}"}
        r.setdefault("bench_name", re.sub(r"^\d+-", "", base))
        r.setdefault("bench_group", "other")
        r["_file"] = base
        runs.append(r)
    return runs


def throughput(r):
    t = num(r.get("throughput_gbps"))
    if t is not None:
        return t
    g, ms = num(r.get("guest_bytes")), num(r.get("total_ms"))
    # The same definition as migrate-image.sh's (guest bits / total time),
    # for runs without the field (QEMU's).
    if g and ms:
        return g * 8 / (ms * 1e6)
    return None


def completed(r):
    return r.get("status") == "completed"


def groups_of(runs):
    names = []
    for g in GROUP_ORDER + sorted({r["bench_group"] for r in runs}):
        if g not in names and any(r["bench_group"] == g for r in runs):
            names.append(g)
    return [(g, [r for r in runs if r["bench_group"] == g]) for g in names]


def fmt(v, nd=0):
    v = num(v)
    if v is None:
        return "—"
    return f"{v:.{nd}f}"


def cells(r):
    ver = r.get("verified")
    return {
        "configuration": r["bench_name"],
        "status": str(r.get("status") or "failed"),
        "verified": {True: "yes", False: "NO"}.get(ver, "—"),
        "total_ms": fmt(r.get("total_ms"), 1),
        "throughput_gbps": fmt(throughput(r), 2),
        "downtime_ms": fmt(r.get("downtime_ms"), 1),
        "rounds": fmt(r.get("rounds")),
        "wire_bytes": fmt(r.get("wire_bytes")),
    }


def describe(runs, d):
    failed = [r for r in runs if not completed(r)]
    return (f"{len(runs)} run(s), {len(runs) - len(failed)} completed, {len(failed)} failed "
            f"— `{os.path.abspath(d)}`, report made {time.strftime('%Y-%m-%d %H:%M:%S')}")


def write_markdown(d, runs):
    out = ["# Benchmark sweep", "", describe(runs, d), ""]
    for g, rs in groups_of(runs):
        out += [f"## {GROUP_TITLES.get(g, g)}", ""]
        out.append("| " + " | ".join(COLUMNS) + " |")
        out.append("| --- | --- | --- | " + " | ".join(["---:"] * (len(COLUMNS) - 3)) + " |")
        for r in rs:
            c = cells(r)
            if not completed(r):
                c["status"] = f"**{c['status']}**"
            out.append("| " + " | ".join(c[k].replace("|", "\\|") for k in COLUMNS) + " |")
        out.append("")
        bad = [r for r in rs if not completed(r)]
        for r in bad:
            out.append(f"- `{r['bench_name']}` {r.get('status') or 'failed'}: "
                       f"{r.get('reason') or 'no reason given'}")
        if bad:
            out.append("")
    if not runs:
        out += ["No run files in `runs/`.", ""]
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write("\n".join(out).rstrip("\n") + "\n")


# --- gnuplot -----------------------------------------------------------------

def safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def gq(s):
    """A gnuplot double-quoted string."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def terminal():
    if not shutil.which("gnuplot"):
        return None
    try:
        p = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"],
                           capture_output=True, text=True, timeout=20)
        if p.returncode == 0 and not p.stderr.strip():
            return "pngcairo size 800,480 enhanced font 'sans,10'"
    except (OSError, subprocess.SubprocessError):
        pass
    return "png size 800,480"


def header(term, png, title):
    return [f"set terminal {term or 'pngcairo size 800,480'}",
            f"set output {gq(png)}",
            f"set title {gq(title)} noenhanced",
            "set grid ytics lc rgb '#dddddd'",
            "set key top right"]


def write_dat(path, header_line, rows):
    with open(path, "w") as f:
        f.write("# " + header_line + "\n")
        for row in rows:
            f.write(" ".join(str(x) for x in row) + "\n")


def bars(plots, term, name, title, ylabel, labels, values, colors=None, fmtv="%.2f"):
    """A bar chart with one bar per label."""
    dat = f"{name}.dat"
    rows = []
    for i, (lab, v) in enumerate(zip(labels, values)):
        rows.append([i, v, gq(lab), colors[i] if colors else 1])
    write_dat(os.path.join(plots, dat), "index value label color", rows)
    gp = header(term, f"{name}.png", title) + [
        "set style fill solid 0.8 border -1",
        "set boxwidth 0.7",
        "set xtics rotate by -35 noenhanced",
        f"set xrange [-0.6:{len(rows) - 0.4}]",
        "set yrange [0:*]",
        "set offsets 0, 0, graph 0.1, 0",
        f"set ylabel {gq(ylabel)}",
        "set key off",
        "set bmargin 7",
        "set linetype 1 lc rgb '#4472c4'",
        "set linetype 2 lc rgb '#ed7d31'",
        "set linetype 3 lc rgb '#70ad47'",
        "set linetype 4 lc rgb '#a5a5a5'",
        f"plot {gq(dat)} using 1:2:4:xticlabels(3) with boxes lc variable, \\",
        f"     '' using 1:2:(sprintf({gq(fmtv)}, $2)) with labels offset 0,0.7 font ',8'",
    ]
    return gp


def plot_throughput(plots, term, runs):
    rs = [r for r in runs if r["bench_group"] == "transfer" and completed(r) and throughput(r) is not None]
    if not rs:
        return None
    colour = {"raw": 1, "auto": 2, "zstd": 3}
    colors = [colour.get(str(r.get("codec") or "").split(":")[0], 4) for r in rs]
    return bars(plots, term, "throughput", "Transfer: guest throughput by configuration "
                "(blue: raw, orange: auto, green: zstd)",
                "Gb/s (guest bytes / total time)", [r["bench_name"] for r in rs],
                [throughput(r) for r in rs], colors=colors)


def plot_qemu(plots, term, runs):
    rs = [r for r in runs if r["bench_group"] == "qemu" and completed(r) and num(r.get("total_ms")) is not None]
    if not rs:
        return None
    labels = [f"{r.get('tool', '?')} {r.get('config', '?')}" for r in rs]
    colors = [1 if r.get("tool") == "migdp" else 2 for r in rs]
    return bars(plots, term, "qemu", "migdp and QEMU: total time by tool and configuration "
                "(blue: migdp, orange: QEMU)", "total ms", labels,
                [r["total_ms"] for r in rs], colors=colors, fmtv="%.0f")


def plot_downtime(plots, term, runs):
    rs = [r for r in runs if r["bench_group"] == "live" and completed(r)
          and (num(r.get("downtime_ms")) is not None or isinstance(r.get("downtime"), dict))]
    if not rs:
        return None
    rows = []
    for r in rs:
        p = r.get("downtime") if isinstance(r.get("downtime"), dict) else {}
        parts = [num(p.get(k)) or 0 for k in ("final_pass_ms", "device_state_ms", "commit_ms")]
        total = num(r.get("downtime_ms"))
        rest = max(0.0, total - sum(parts)) if total is not None else 0.0
        rows.append([gq(r["bench_name"])] + [round(x, 3) for x in parts + [rest]])
    write_dat(os.path.join(plots, "downtime.dat"),
              "configuration final_pass_ms device_state_ms commit_ms other_ms", rows)
    return header(term, "downtime.png", "Live migration: downtime and its parts (source's view)") + [
        "set style data histograms",
        "set style histogram rowstacked",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.7",
        "set xtics rotate by -35 noenhanced",
        "set yrange [0:*]",
        "set ylabel 'ms'",
        "set key outside bottom center horizontal",
        "plot 'downtime.dat' using 2:xticlabels(1) title 'final dirty pass' lc rgb '#4472c4', \\",
        "     '' using 3 title 'device state' lc rgb '#ed7d31', \\",
        "     '' using 4 title 'commit' lc rgb '#70ad47', \\",
        "     '' using 5 title 'other (to GO + half the GO/CONFIRM RTT)' lc rgb '#a5a5a5'",
    ]


def progress_series(r):
    """(rows, source): rows of t_ms remaining_pages MB/s round state."""
    series = r.get("series")
    rows = []
    if isinstance(series, list) and series:
        prev = None
        for s in series:
            if not isinstance(s, dict) or num(s.get("t_ms")) is None:
                continue
            t = float(s["t_ms"])
            wb = num(s.get("wire_bytes"))
            rate = None
            if prev and wb is not None and prev[1] is not None and t > prev[0]:
                rate = max(0.0, (wb - prev[1]) / (t - prev[0]) / 1000.0)  # bytes/ms -> MB/s
            rem = num(s.get("remaining_pages"))
            rows.append([t, rem, rate, num(s.get("round")), str(s.get("state") or "")])
            prev = (t, wb)
        if rows:
            rows[0][2] = 0.0  # the rate steps up from 0 at the first sample
            return rows, "series"
    figs = r.get("round_figures")
    if isinstance(figs, list) and figs:
        # Older JSON: one point per round (its end), the round's bandwidth.
        t = 0.0
        guest = num(r.get("guest_bytes"))
        rows.append([0.0, guest // PAGE if guest else None, 0.0, 1, "precopy"])
        for f in figs:
            if not isinstance(f, dict):
                continue
            t += num(f.get("ms")) or 0.0
            bw = num(f.get("bandwidth_bps"))
            rows.append([t, num(f.get("remaining_pages")), bw / 8e6 if bw is not None else None,
                         num(f.get("round")), str(f.get("decision") or "")])
        if len(rows) > 1:
            return rows, "round figures"
    return [], None


def plot_progress(plots, term, r):
    rows, source = progress_series(r)
    if not rows:
        return None
    name = f"progress-{safe(r['bench_name'])}"
    na = lambda v: "NaN" if v is None else (f"{v:.3f}" if isinstance(v, float) else v)
    write_dat(os.path.join(plots, f"{name}.dat"), "t_ms remaining_pages MB_per_s round state",
              [[na(a), na(b), na(c), na(d), gq(e or "-")] for a, b, c, d, e in rows])
    gp = header(term, f"{name}.png", f"{r['bench_name']}: progress ({source})") + [
        "set xlabel 'time since the session start (ms)'",
        "set ylabel 'guest pages remaining (4 KiB)'",
        "set y2label 'wire MB/s'",
        "set ytics nomirror",
        "set y2tics",
        "set yrange [0:*]",
        "set y2range [0:*]",
        "set key outside bottom center horizontal",
        "set xrange [0:*]",
    ]
    # Round changes: dashed lines, labelled at the top.
    last = None
    n = 0
    for t, _, _, rnd, _ in rows:
        if rnd is not None and rnd != last:
            if last is not None:
                n += 1
                gp.append(f"set arrow {n} from {t}, graph 0 to {t}, graph 1 nohead dt 2 lc rgb '#888888'")
                gp.append(f"set label {n} {gq(f'r{int(rnd)}')} at {t}, graph 0.97 offset 0.3,0 "
                          "font ',8' tc rgb '#555555'")
            last = rnd
    sw = num(r.get("switchover_ms"))
    if sw is not None:
        sw = round(float(sw), 3)
        gp.append(f"set arrow {n + 1} from {sw}, graph 0 to {sw}, graph 1 nohead lw 2 lc rgb '#c00000' front")
        gp.append(f"set label {n + 1} 'switchover {sw:g} ms' at {sw}, graph 0.5 center rotate by 90 "
                  "offset -1,0 tc rgb '#c00000' front")
    have_rate = any(x[2] is not None for x in rows)
    pl = f"plot {gq(name + '.dat')} using 1:2 with linespoints pt 7 ps 0.4 lw 2 lc rgb '#4472c4' title 'pages remaining'"
    if have_rate:
        # Column 3 is the rate over the interval that ends at its row's
        # time: fsteps draws it over that interval.
        what = "MB/s on the wire" if source == "series" else "MB/s on the wire (round's mean)"
        pl += (f", \\\n     '' using 1:3 axes x1y2 with fsteps lw 1.5 lc rgb '#ed7d31' "
               f"title {gq(what)}")
    else:
        gp.append("unset y2tics")
        gp.append("unset y2label")
    gp.append(pl)
    return name, gp


def run_gnuplot(plots, name, gp, have_gnuplot):
    with open(os.path.join(plots, f"{name}.gp"), "w") as f:
        f.write("# Regenerate: cd into this folder and run: gnuplot " + name + ".gp\n")
        f.write("\n".join(gp) + "\n")
    png = os.path.join(plots, f"{name}.png")
    if not have_gnuplot:
        return None
    try:
        if os.path.exists(png):
            os.remove(png)
        p = subprocess.run(["gnuplot", f"{name}.gp"], cwd=plots, capture_output=True,
                           text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        warn(f"gnuplot {name}.gp: {e}")
        return None
    if p.returncode != 0 or not os.path.exists(png) or os.path.getsize(png) == 0:
        warn(f"gnuplot {name}.gp failed: {p.stderr.strip()[-400:]}")
        return None
    return png


def make_plots(d, runs):
    plots = os.path.join(d, "plots")
    os.makedirs(plots, exist_ok=True)
    # Plots of an earlier report of this folder go: each is made again.
    for f in glob.glob(os.path.join(plots, "*")):
        if f.endswith((".png", ".dat", ".gp")):
            os.remove(f)
    term = terminal()
    if term is None:
        warn("gnuplot not found (apt-get install gnuplot-nox): data and scripts only, no PNG")
    jobs = []
    for r in runs:
        if r["bench_group"] == "live" or r.get("live") is True:
            pg = plot_progress(plots, term, r)
            if pg:
                jobs.append((pg[0], pg[1], f"Progress of {r['bench_name']}"))
    for name, fn, caption in (("throughput", plot_throughput, "Transfer throughput"),
                              ("downtime", plot_downtime, "Downtime parts"),
                              ("qemu", plot_qemu, "migdp and QEMU")):
        gp = fn(plots, term, runs)
        if gp:
            jobs.append((name, gp, caption))
    made = []
    for name, gp, caption in jobs:
        png = run_gnuplot(plots, name, gp, term is not None)
        if png:
            made.append((name, png, caption))
    # Progress plots after the summary plots in the report.
    made.sort(key=lambda x: (x[0].startswith("progress-"), 0))
    return made


# --- HTML --------------------------------------------------------------------

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 8px;font-size:0.9em}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#fde8e8}code{background:#f4f4f4;padding:0 3px}
figure{margin:1em 0}figcaption{font-size:0.85em;color:#555}
img{max-width:100%;border:1px solid #ddd}
"""


def write_html(d, runs, made):
    h = lambda s: html.escape(str(s))
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           "<title>migdp benchmark sweep</title>", f"<style>{CSS}</style></head><body>",
           "<h1>migdp benchmark sweep</h1>", f"<p>{h(describe(runs, d)).replace('`', '')}</p>"]
    for g, rs in groups_of(runs):
        out.append(f"<h2>{h(GROUP_TITLES.get(g, g))}</h2><table><tr>")
        out += [f"<th>{h(c)}</th>" for c in COLUMNS]
        out.append("</tr>")
        for r in rs:
            c = cells(r)
            cls = "" if completed(r) else " class='failed'"
            title = "" if completed(r) else f" title='{h(r.get('reason') or '')}'"
            out.append(f"<tr{cls}{title}>" + "".join(
                f"<td{' class=n' if i >= 3 else ''}>{h(c[k])}</td>" for i, k in enumerate(COLUMNS))
                + "</tr>")
        out.append("</table>")
        bad = [r for r in rs if not completed(r)]
        if bad:
            out.append("<ul>" + "".join(
                f"<li><code>{h(r['bench_name'])}</code> {h(r.get('status') or 'failed')}: "
                f"{h(r.get('reason') or 'no reason given')}</li>" for r in bad) + "</ul>")
    if made:
        out.append("<h2>Plots</h2>")
    for name, png, caption in made:
        with open(png, "rb") as f:
            b64 = base64.b64encode(f.read()).decode("ascii")
        out.append(f"<figure><img alt='{h(name)}' src='data:image/png;base64,{b64}'>"
                   f"<figcaption>{h(caption)} (<code>plots/{h(name)}.png</code>)</figcaption></figure>")
    out.append("</body></html>")
    with open(os.path.join(d, "report.html"), "w") as f:
        f.write("\n".join(out) + "\n")


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    opts = [a for a in argv if a.startswith("--")]
    if len(args) != 1 or any(o not in ("--html",) for o in opts) or not os.path.isdir(args[0]):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    d = args[0]
    runs = load_runs(d)
    write_markdown(d, runs)
    made = make_plots(d, runs)
    if "--html" in opts:
        write_html(d, runs, made)
    warn(f"{len(runs)} run(s), {len(made)} plot(s): {os.path.join(d, 'summary.md')}"
         + (f", {os.path.join(d, 'report.html')}" if "--html" in opts else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
