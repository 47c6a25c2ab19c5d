# SPDX-License-Identifier: BSD-3-Clause
"""Drive one QEMU migration over QMP and print one JSON object (one line).

Used by scripts/compare-qemu.sh, which starts the two QEMU processes (source
paused with -S, destination with -incoming defer) and removes them. This
script: connects to both QMP sockets, sets the capabilities and parameters
of the configuration on both sides, starts the incoming side, reads the CPU
times (utime + stime of /proc/PID/stat, all threads) and the link's byte
counter, migrates, waits for the MIGRATION events of both sides, reads them
again, takes query-migrate's figures, quits both QEMU and compares the
destination's RAM file with the image.

A configuration ending in -tls (stream-tls, multifd-tls) migrates over TLS:
both QEMU were started with a tls-creds-x509 object of id --tls-creds
(endpoint=server on the destination, client on the source); this sets the
migration parameter tls-creds to it on both sides and, on the source,
tls-hostname to the listen address's host (which the server certificate's
subjectAltName holds). The other configurations set tls-creds to "" (off).

  qemu_migrate.py --src-qmp P --dst-qmp P --src-pidfile F --dst-pidfile F
      --config stream|stream-tls|multifd-plain|multifd-tls|multifd-zstd1
      --channels N --listen tcp:HOST:PORT --image FILE --dst-ram FILE
      [--tls-creds ID] [--ns NS --dev DEV] [--rate BITS] [--timeout SEC]
"""
import argparse
import json
import os
import select
import socket
import subprocess
import sys
import time

CONFIGS = ("stream", "stream-tls", "multifd-plain", "multifd-tls", "multifd-zstd1")
TICK = os.sysconf("SC_CLK_TCK")
LOW_RAM = 1 << 20  # below 1 MiB: where machine init could write (BIOS area)


def log(msg):
    print("compare-qemu: " + msg, file=sys.stderr, flush=True)


class Qmp:
    """A QMP connection that keeps the events it reads (with QEMU's
    timestamps) while waiting for command answers."""

    def __init__(self, path, deadline, name):
        self.name = name
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: no QMP at {path}")
                time.sleep(0.05)
        self.buf = b""
        self.events = []
        # The greeting comes once QEMU's main loop runs (after the
        # preallocation of its RAM).
        self.read(deadline)
        self.cmd("qmp_capabilities", deadline=deadline)

    def read(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.name}: QMP timeout")
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                data = self.sock.recv(65536)
                if not data:
                    raise RuntimeError(f"{self.name}: QMP closed")
                self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        msg = json.loads(line)
        if "event" in msg:
            self.events.append(msg)
        return msg

    def cmd(self, name, deadline=None, **args):
        deadline = deadline or time.monotonic() + 30
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall((json.dumps(req) + "\n").encode())
        while True:
            msg = self.read(deadline)
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise RuntimeError(f"{self.name}: {name}: {msg['error'].get('desc')}")

    def migration_event(self, statuses):
        for e in self.events:
            if e["event"] == "MIGRATION" and e["data"]["status"] in statuses:
                return e
        return None

    def wait_migration(self, deadline):
        end = ("completed", "failed", "cancelled")
        while self.migration_event(end) is None:
            self.read(deadline)
        return self.migration_event(end)


def ts(event):
    t = event["timestamp"]
    return t["seconds"] + t["microseconds"] * 1e-6


def cpu_s(pid):
    """utime + stime of the whole process (every thread, also ended ones)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def tx_bytes(ns, dev):
    if not ns:
        return None
    out = subprocess.run(["ip", "-n", ns, "-j", "-s", "link", "show", "dev", dev],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]["stats64"]["tx"]["bytes"]


def compare(image, ram):
    """True when the destination's RAM equals the image, None when they
    differ only below 1 MiB (where firmware or machine init could write;
    never seen with -S), else False. Also the first differing offset."""
    first, high = None, False
    chunk = 16 << 20
    with open(image, "rb") as a, open(ram, "rb") as b:
        if os.fstat(a.fileno()).st_size != os.fstat(b.fileno()).st_size:
            return False, 0, "sizes differ"
        off = 0
        while True:
            x, y = a.read(chunk), b.read(chunk)
            if not x:
                break
            if x != y:
                i = next(i for i in range(len(x)) if x[i] != y[i])
                first = off + i if first is None else first
                if off + len(x) > LOW_RAM:
                    # any difference above 1 MiB in this chunk?
                    lo = max(0, LOW_RAM - off)
                    if x[lo:] != y[lo:]:
                        high = True
                        break
            off += len(x)
    if first is None:
        return True, None, "destination RAM file equals the image"
    if not high:
        return None, first, "differs only below 1 MiB (machine init), not comparable"
    return False, first, "destination RAM differs from the image"


def main():
    ap = argparse.ArgumentParser()
    for a in ("src-qmp", "dst-qmp", "src-pidfile", "dst-pidfile", "listen",
              "image", "dst-ram"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--config", required=True, choices=CONFIGS)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--tls-creds", default="tls0")
    ap.add_argument("--ns", default="")
    ap.add_argument("--dev", default="")
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300)
    o = ap.parse_args()
    deadline = time.monotonic() + o.timeout
    guest = os.path.getsize(o.image)
    multifd = o.config.startswith("multifd")
    tls = o.config.endswith("-tls")
    out = {"tool": "qemu", "config": o.config, "rate": o.rate,
           "channels": o.channels if multifd else 1, "tls": tls,
           "status": "failed", "reason": "", "guest_bytes": guest,
           "total_ms": None, "wire_bytes": None,
           "cpu_s": {"source": None, "destination": None}, "verified": None}
    src = dst = None
    try:
        src = Qmp(o.src_qmp, deadline, "source")
        dst = Qmp(o.dst_qmp, deadline, "destination")
        with open(o.src_pidfile) as f:
            spid = int(f.read())
        with open(o.dst_pidfile) as f:
            dpid = int(f.read())
        for q in (src, dst):
            q.cmd("migrate-set-capabilities", capabilities=[
                {"capability": "events", "state": True},
                {"capability": "multifd", "state": multifd}])
            params = {}
            if multifd:
                params = {"multifd-channels": o.channels,
                          "multifd-compression":
                              "zstd" if o.config == "multifd-zstd1" else "none",
                          "multifd-zstd-level": 1}
            # "" = no TLS (QEMU 7.2 takes a string for tls-creds and
            # tls-hostname in migrate-set-parameters).
            params["tls-creds"] = o.tls_creds if tls else ""
            if q is src:
                # The host the source checks the server certificate
                # against (tcp:HOST:PORT; QEMU would take it from the URI
                # too, set here to be explicit).
                params["tls-hostname"] = o.listen.split(":", 1)[1].rsplit(":", 1)[0] if tls else ""
                # QEMU 7.2 limits a migration to 128 MiB/s unless told.
                params["max-bandwidth"] = 10 ** 12
                params["downtime-limit"] = 300
            q.cmd("migrate-set-parameters", **params)
        dst.cmd("migrate-incoming", uri=o.listen)
        c0 = (cpu_s(spid), cpu_s(dpid))
        b0 = tx_bytes(o.ns, o.dev)
        t0 = time.monotonic()
        src.cmd("migrate", uri=o.listen)
        es = src.wait_migration(deadline)
        if es["data"]["status"] == "completed":
            ed = dst.wait_migration(deadline)
        else:
            # A failed source (a TLS handshake refused, say) can leave a
            # multifd destination waiting for its channels: not for long.
            try:
                ed = dst.wait_migration(min(deadline, time.monotonic() + 10))
            except RuntimeError:
                ed = {"data": {"status": "not ended 10 s after the source failed"},
                      "timestamp": es["timestamp"]}
        wall = (time.monotonic() - t0) * 1e3
        c1 = (cpu_s(spid), cpu_s(dpid))
        b1 = tx_bytes(o.ns, o.dev)
        info = src.cmd("query-migrate")
        ram = info.get("ram", {})
        start = src.migration_event(("setup",))
        out.update({
            "status": "completed" if es["data"]["status"] == "completed" and
                      ed["data"]["status"] == "completed" else "failed",
            "reason": info.get("error-desc", "") if es["data"]["status"] != "completed"
                      else ("" if ed["data"]["status"] == "completed"
                            else "destination: " + ed["data"]["status"]),
            "total_ms": info.get("total-time"),
            # From the source's start (setup event) to the destination's
            # completed event: QEMU's total-time ends at the source.
            "dest_total_ms": round((ts(ed) - ts(start)) * 1e3, 3) if start else None,
            "wall_ms": round(wall, 3),
            "downtime_ms": info.get("downtime"),
            "wire_bytes": b1 - b0 if b0 is not None else None,
            "wire_counter": f"{o.dev} tx bytes in {o.ns}" if o.ns else None,
            "ram_transferred": ram.get("transferred"),
            "ram": {k: ram.get(k) for k in ("total", "duplicate", "normal",
                                             "normal-bytes", "multifd-bytes",
                                             "mbps")},
            "cpu_s": {"source": round(c1[0] - c0[0], 3),
                      "destination": round(c1[1] - c0[1], 3)},
            "cpu_s_process": {"source": c1[0], "destination": c1[1]},
        })
        if not out["reason"] and out["status"] != "completed":
            out["reason"] = "source: " + es["data"]["status"]
    except (RuntimeError, OSError, ValueError, KeyError) as e:
        out["reason"] = str(e)
    for q in (src, dst):
        if q is not None:
            try:
                q.cmd("quit", deadline=time.monotonic() + 5)
            except (RuntimeError, OSError):
                pass
    if out["status"] == "completed":
        try:
            ok, first, why = compare(o.image, o.dst_ram)
            out["verified"] = ok
            out["verify"] = why
            if first is not None:
                out["first_difference"] = first
        except OSError as e:
            out["verify"] = f"cannot compare: {e}"
    print(json.dumps(out), flush=True)
    return 0 if out["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
