# SPDX-License-Identifier: BSD-3-Clause
"""Drive one QEMU migration over QMP and print one JSON object (one line).

The caller starts the two QEMU processes (source paused with -S,
destination with -incoming defer; scripts/lib/qemu_vm.sh) and removes them.
This script: connects to both QMP sockets, sets the capabilities and
parameters of the configuration on both sides, starts the incoming side,
optionally lets the source guest run (--running), reads the CPU times
(utime + stime of /proc/PID/stat, all threads) and the link's byte counter,
migrates, waits for the MIGRATION events of both sides, reads them again,
takes query-migrate's figures, compares the destination's RAM file with
the image or with the source's RAM file, and quits both QEMU.

Where the two QEMU meet: --listen URI is both the source's migrate URI and
the destination's migrate-incoming URI (scripts/compare-qemu.sh: TCP).
With a transport between them, --uri (source) and --incoming-uri
(destination) differ, e.g. unix:SRC_SOCK and unix:DST_SOCK.

A configuration ending in -tls (stream-tls, multifd-tls) migrates over TLS:
both QEMU were started with a tls-creds-x509 object of id --tls-creds
(endpoint=server on the destination, client on the source); this sets the
migration parameter tls-creds to it on both sides and, on the source,
tls-hostname: --tls-hostname, by default the host of the tcp: URI (which the
server certificate's subjectAltName holds). A unix: URI has no host and
QEMU 7.2 then has none to check an x509 certificate against: give
--tls-hostname. The other configurations set tls-creds to "" (off).

--src-ram FILE (the source's RAM file, memory-backend-file share=on):
after a completed migration, with both QEMU still paused (the source in
postmigrate, the destination started with -S), the destination's RAM file
must equal it byte for byte (verified, first_difference). Else --image:
the destination's RAM against the image the source's RAM came from.

--running: cont the source (a running guest: scripts/lib/dirty_guest.py),
--run-ms before migrating. --kill-dst-after-bytes N, --kill-dst-after-ms
MS: kill -9 the destination QEMU (its pidfile) once query-migrate's
ram.transferred reaches N bytes or MS ms went by since migrate, whichever
comes first; the source must then end failed and keep its VM in its run
state of before (running or paused): source_status_after. Every wait ends
at --timeout: a migration that neither completes nor fails by then is
status "hung" (then: does migrate_cancel end it, does killing the
destination?). Exit 0 when the outcome is --expect's: completed (and not
verified false), or failed with the source VM in its run state of before,
its QMP answering.

  qemu_migrate.py --src-qmp P --dst-qmp P --src-pidfile F --dst-pidfile F
      --config stream|stream-tls|multifd-plain|multifd-tls|multifd-zstd1
      (--listen URI | --uri URI --incoming-uri URI)
      (--image FILE | --src-ram FILE) --dst-ram FILE
      [--channels N] [--tls-creds ID] [--tls-hostname HOST] [--return-path]
      [--running [--run-ms MS]] [--max-bandwidth BYTES_PER_S]
      [--kill-dst-after-bytes N] [--kill-dst-after-ms MS]
      [--expect completed|failed] [--source-only] [--ns NS --dev DEV] [--rate BITS]
      [--timeout SEC]
"""
import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

CONFIGS = ("stream", "stream-tls", "multifd-plain", "multifd-tls", "multifd-zstd1")
TICK = os.sysconf("SC_CLK_TCK")
LOW_RAM = 1 << 20  # below 1 MiB: where machine init could write (BIOS area)


def log(msg):
    print("qemu_migrate: " + msg, file=sys.stderr, flush=True)


class Timeout(RuntimeError):
    """A wait for QEMU that reached its deadline."""


END = ("completed", "failed", "cancelled")


class Qmp:
    """A QMP connection that keeps the events it reads (with QEMU's
    timestamps) while waiting for command answers. Every wait ends at
    a deadline (Timeout); a closed connection is a RuntimeError."""

    def __init__(self, path, deadline, name):
        self.name = name
        self.deadline = deadline
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
        self.cmd("qmp_capabilities")

    def read(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(f"{self.name}: QMP timeout")
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

    def pump(self, seconds):
        """Read what comes (events) for this long."""
        end = min(time.monotonic() + seconds, self.deadline)
        try:
            while True:
                self.read(end)
        except Timeout:
            pass

    def cmd(self, name, deadline=None, **args):
        deadline = deadline or self.deadline
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
        while self.migration_event(END) is None:
            self.read(deadline)
        return self.migration_event(END)


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


def compare_exact(src_ram, dst_ram):
    """The destination's RAM file against the source's: equal byte for
    byte or not, the first differing offset, how many 4 KiB pages differ."""
    chunk, page = 16 << 20, 4096
    first, pages = None, 0
    with open(src_ram, "rb") as a, open(dst_ram, "rb") as b:
        if os.fstat(a.fileno()).st_size != os.fstat(b.fileno()).st_size:
            return False, 0, 0, "sizes differ"
        off = 0
        while True:
            x, y = a.read(chunk), b.read(chunk)
            if not x:
                break
            if x != y:
                for p in range(0, len(x), page):
                    if x[p:p + page] != y[p:p + page]:
                        pages += 1
                        if first is None:
                            i = next(i for i in range(p, p + page) if x[i] != y[i])
                            first = off + i
            off += len(x)
    if first is None:
        return True, None, 0, "destination RAM file equals the source's"
    return False, first, pages, "destination RAM differs from the source's"


def uri_host(uri):
    """HOST of tcp:HOST:PORT; None for a URI without a host (unix:)."""
    if not uri.startswith("tcp:"):
        return None
    return uri[4:].rsplit(":", 1)[0]


def pid_of(pidfile):
    with open(pidfile) as f:
        return int(f.read())


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def cpu_or_none(pid):
    try:
        return cpu_s(pid)
    except OSError:  # gone (killed, or exited after a failed migration)
        return None


def parse():
    ap = argparse.ArgumentParser(description="one QEMU migration over QMP")
    for a in ("src-qmp", "dst-qmp", "src-pidfile", "dst-pidfile", "dst-ram"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--listen", help="URI of both sides (tcp:HOST:PORT)")
    ap.add_argument("--uri", help="the source's migrate URI (default --listen)")
    ap.add_argument("--incoming-uri", help="the destination's migrate-incoming URI (default --listen)")
    ram = ap.add_mutually_exclusive_group(required=True)
    ram.add_argument("--image", help="the image the source's RAM came from")
    ram.add_argument("--src-ram", help="the source's RAM file (share=on): compared whole")
    ap.add_argument("--config", required=True, choices=CONFIGS)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--tls-creds", default="tls0")
    ap.add_argument("--tls-hostname", help="default: the host of a tcp: URI")
    ap.add_argument("--return-path", action="store_true")
    ap.add_argument("--running", action="store_true", help="cont the source first")
    ap.add_argument("--run-ms", type=float, default=0, help="with --running: before migrate")
    ap.add_argument("--max-bandwidth", type=int, default=10 ** 12, help="bytes/s")
    ap.add_argument("--kill-dst-after-bytes", type=int)
    ap.add_argument("--kill-dst-after-ms", type=float)
    ap.add_argument("--expect", choices=("completed", "failed"), default="completed")
    # The destination's own end is not waited for once the source failed
    # (its transport died under it: QEMU 7.2's multifd destination can stay
    # in inmigrate, its QMP unanswered, when its connections end mid-way).
    ap.add_argument("--source-only", action="store_true")
    ap.add_argument("--ns", default="")
    ap.add_argument("--dev", default="")
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300)
    o = ap.parse_args()
    o.uri = o.uri or o.listen
    o.incoming_uri = o.incoming_uri or o.listen
    if not o.uri or not o.incoming_uri:
        ap.error("--listen, or --uri and --incoming-uri")
    o.kill = o.kill_dst_after_bytes is not None or o.kill_dst_after_ms is not None
    o.multifd = o.config.startswith("multifd")
    o.tls = o.config.endswith("-tls")
    if o.tls and o.tls_hostname is None:
        o.tls_hostname = uri_host(o.uri) or ""
        if not o.tls_hostname:
            log(f"TLS over {o.uri} without --tls-hostname: QEMU has no host to check the certificate against")
    return o


def configure(q, o, source):
    caps = [{"capability": "events", "state": True},
            {"capability": "multifd", "state": o.multifd},
            {"capability": "return-path", "state": o.return_path}]
    q.cmd("migrate-set-capabilities", capabilities=caps)
    params = {}
    if o.multifd:
        params = {"multifd-channels": o.channels,
                  "multifd-compression": "zstd" if o.config == "multifd-zstd1" else "none",
                  "multifd-zstd-level": 1}
    # "" = no TLS (QEMU 7.2 takes a string for tls-creds and tls-hostname
    # in migrate-set-parameters).
    params["tls-creds"] = o.tls_creds if o.tls else ""
    if source:
        # The name the source checks the server certificate against.
        params["tls-hostname"] = o.tls_hostname if o.tls else ""
        # QEMU 7.2 limits a migration to 128 MiB/s unless told.
        params["max-bandwidth"] = o.max_bandwidth
        params["downtime-limit"] = 300
    q.cmd("migrate-set-parameters", **params)


def kill_destination(src, o, dpid, t0):
    """kill -9 the destination once the source has sent --kill-dst-after-bytes
    or --kill-dst-after-ms went by, whichever comes first. What the source
    had sent then; None when its migration ended before."""
    while src.migration_event(END) is None:
        info = src.cmd("query-migrate")
        sent = info.get("ram", {}).get("transferred", 0)
        ms = (time.monotonic() - t0) * 1e3
        if (o.kill_dst_after_bytes is not None and sent >= o.kill_dst_after_bytes) or \
                (o.kill_dst_after_ms is not None and ms >= o.kill_dst_after_ms):
            os.kill(dpid, signal.SIGKILL)
            return {"ram_transferred": sent, "ms": round(ms, 3),
                    "source_migration_status": info.get("status")}
        src.pump(0.005)
    return None


def settled_status(src, deadline):
    """query-status once the source has left finish-migrate (a failed
    migration restarts a VM that was running just after its event)."""
    end = min(deadline, time.monotonic() + 3)
    while True:
        st = src.cmd("query-status", deadline=deadline)
        if st["status"] != "finish-migrate" or time.monotonic() > end:
            return st
        src.pump(0.02)


def hung(src, dpid, out, what):
    """A wait that reached --timeout: what the source says, whether
    migrate_cancel ends its migration within 5 s and, if not, whether
    killing the destination (its connections closed) then does."""
    out["status"] = "hung"
    out["reason"] = what
    if src.migration_event(END) is not None:
        return
    try:
        end = time.monotonic() + 5
        info = src.cmd("query-migrate", deadline=end)
        out["reason"] += f" (source migration {info.get('status')}, " \
                         f"ram transferred {info.get('ram', {}).get('transferred')})"
        src.cmd("migrate_cancel", deadline=end)
        try:
            out["after_cancel"] = src.wait_migration(end)["data"]["status"]
            return
        except Timeout:
            info = src.cmd("query-migrate", deadline=time.monotonic() + 2)
            out["after_cancel"] = f"still {info.get('status')} 5 s after migrate_cancel"
        os.kill(dpid, signal.SIGKILL)
        end = time.monotonic() + 5
        try:
            out["after_destination_killed"] = src.wait_migration(end)["data"]["status"]
        except Timeout:
            out["after_destination_killed"] = "no end 5 s after"
        out["source_status_after"] = src.cmd("query-status", deadline=end + 2)["status"]
    except (RuntimeError, OSError) as e:
        out["after_cancel"] = str(e)


def destination_end(dst, es, o, out):
    """The destination's MIGRATION end event, once the source's came."""
    if es["data"]["status"] == "completed":
        return dst.wait_migration(o.deadline)  # (a Timeout: hung)
    # A failed source (a TLS handshake refused, say) can leave a multifd
    # destination waiting for its channels: not for long.
    try:
        return dst.wait_migration(min(o.deadline, time.monotonic() + 10))
    except Timeout:
        end = time.monotonic() + 2
        out["destination_after"] = {"query-status": dst.cmd("query-status", deadline=end)["status"],
                                    "query-migrate": dst.cmd("query-migrate", deadline=end)}
        return {"data": {"status": "not ended 10 s after the source failed"}}
    except (RuntimeError, OSError):  # its QMP closed: QEMU 7.2 exits when a load fails
        return {"data": {"status": "exited"}}


def figures(info, es, ed, start):
    """The outcome and query-migrate's figures (the source's)."""
    ram = info.get("ram", {})
    s_ok = es["data"]["status"] == "completed"
    d_ok = ed is not None and ed["data"]["status"] == "completed"
    reason = ""
    if not s_ok:
        reason = info.get("error-desc", "") or "source: " + es["data"]["status"]
    elif not d_ok:
        reason = "destination: " + (ed["data"]["status"] if ed else "killed")
    return {
        "status": "completed" if s_ok and d_ok else "failed",
        "reason": reason,
        "destination_end": ed["data"]["status"] if ed else "killed",
        "total_ms": info.get("total-time"),
        # From the source's start (setup event) to the destination's
        # completed event: QEMU's total-time ends at the source.
        "dest_total_ms": round((ts(ed) - ts(start)) * 1e3, 3) if start and d_ok else None,
        "downtime_ms": info.get("downtime"),
        "ram_transferred": ram.get("transferred"),
        "ram": {k: ram.get(k) for k in ("total", "duplicate", "normal",
                                         "normal-bytes", "multifd-bytes",
                                         "mbps", "dirty-sync-count")},
    }


def migrate(o, out, qs):
    src = qs["src"] = Qmp(o.src_qmp, o.deadline, "source")
    dst = qs["dst"] = Qmp(o.dst_qmp, o.deadline, "destination")
    spid, dpid = pid_of(o.src_pidfile), pid_of(o.dst_pidfile)
    configure(src, o, True)
    configure(dst, o, False)
    dst.cmd("migrate-incoming", uri=o.incoming_uri)
    if o.running:
        src.cmd("cont")
        src.pump(o.run_ms / 1e3)
    before = src.cmd("query-status")
    out["source_status_before"] = before["status"]
    out["source_running"] = before["running"]
    c0 = (cpu_s(spid), cpu_s(dpid))
    b0 = tx_bytes(o.ns, o.dev)
    t0 = time.monotonic()
    src.cmd("migrate", uri=o.uri)
    try:
        if o.kill:
            out["killed_destination"] = kill_destination(src, o, dpid, t0)
        es = src.wait_migration(o.deadline)
    except Timeout:
        return hung(src, dpid, out, f"source: no end of migration in {o.timeout:g} s")
    killed = out.get("killed_destination") is not None
    try:
        ed = None if killed or (o.source_only and es["data"]["status"] != "completed") \
            else destination_end(dst, es, o, out)
    except Timeout:
        return hung(src, dpid, out, f"destination: no end of incoming migration in {o.timeout:g} s")
    wall = (time.monotonic() - t0) * 1e3
    c1 = (cpu_s(spid), cpu_or_none(dpid))
    b1 = tx_bytes(o.ns, o.dev)
    out.update(figures(src.cmd("query-migrate"), es, ed, src.migration_event(("setup",))))
    out.update({
        "wall_ms": round(wall, 3),
        "wire_bytes": b1 - b0 if b0 is not None else None,
        "wire_counter": f"{o.dev} tx bytes in {o.ns}" if o.ns else None,
        "cpu_s": {"source": round(c1[0] - c0[0], 3),
                  "destination": round(c1[1] - c0[1], 3) if c1[1] is not None else None},
        "cpu_s_process": {"source": c1[0], "destination": c1[1]},
    })
    if not killed and ed is not None:
        # QEMU 7.2's destination exits (1) when its load fails: give it a second.
        end = time.monotonic() + (1 if ed["data"]["status"] == "failed" else 0)
        while alive(dpid) and time.monotonic() < end:
            time.sleep(0.02)
        out["destination_exited"] = not alive(dpid)
    try:
        after = settled_status(src, o.deadline)
    except Timeout:
        return hung(src, dpid, out, "source: no answer to query-status after the migration")
    out["source_status_after"] = after["status"]
    out["source_kept_run_state"] = after["running"] == before["running"]
    if out["status"] == "completed":
        out["destination_status_after"] = dst.cmd("query-status")["status"]
        verify(o, out)


def verify(o, out):
    """With both QEMU paused: the destination's RAM file against the
    source's (--src-ram) or the image."""
    try:
        if o.src_ram:
            ok, first, pages, why = compare_exact(o.src_ram, o.dst_ram)
            out["differing_pages"] = pages
        else:
            ok, first, why = compare(o.image, o.dst_ram)
        out["verified"] = ok
        out["verify"] = why
        if first is not None:
            out["first_difference"] = first
    except OSError as e:
        out["verify"] = f"cannot compare: {e}"


def as_expected(o, out):
    if o.expect == "completed":
        return out["status"] == "completed" and out["verified"] is not False
    return out["status"] == "failed" and out.get("source_kept_run_state") is True


def main():
    o = parse()
    o.deadline = time.monotonic() + o.timeout
    guest = os.path.getsize(o.image or o.src_ram)
    out = {"tool": "qemu", "config": o.config, "rate": o.rate,
           "channels": o.channels if o.multifd else 1, "tls": o.tls,
           "uri": o.uri, "incoming_uri": o.incoming_uri,
           "status": "failed", "reason": "", "guest_bytes": guest,
           "total_ms": None, "wire_bytes": None,
           "cpu_s": {"source": None, "destination": None}, "verified": None}
    if o.tls:
        out["tls_hostname"] = o.tls_hostname
    if o.return_path:
        out["return_path"] = True
    qs = {}
    try:
        migrate(o, out, qs)
    except Timeout as e:
        out["status"] = "hung"
        out["reason"] = str(e)
    except (RuntimeError, OSError, ValueError, KeyError) as e:
        out["reason"] = str(e)
    for q in qs.values():
        try:
            q.cmd("quit", deadline=time.monotonic() + 5)
        except (RuntimeError, OSError):
            pass
    out["expected"] = o.expect
    out["as_expected"] = as_expected(o, out)
    print(json.dumps(out), flush=True)
    return 0 if out["as_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
