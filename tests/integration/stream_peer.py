#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Both ends of a stream session without QEMU (tests/integration/
stream_case.sh): byte streams through two migdp, each way.

  stream_peer.py sink --socket PATH [--conns K] [--timeout SEC]
      [--stall-after B --stall-ms MS]
      listens on PATH (the destination migdp connects to it, as to QEMU's
      migrate-incoming socket), accepts K connections, reads each to its
      end, answers with the SHA-256 of what came (hex, the return path),
      closes; prints one JSON line. With --stall-after, connection 0
      stops reading for MS once B bytes came (a slow hypervisor).
  stream_peer.py source --socket PATH [--conns K] [--bytes N] [--seed S]
      [--chunk C] [--timeout SEC] [--stall-after B --stall-ms MS]
      connects K times to PATH (the source migdp's socket, as QEMU's
      migrate unix:PATH), connection 0 first; sends N pseudo-random bytes
      (seeded per connection, a quarter of them zeros in runs so that
      zstd has something to do) on each, shuts its write side, reads the
      answer and checks it is the SHA-256 of what it sent; prints one
      JSON line; exit 0 when every answer matched.
"""
import argparse
import hashlib
import json
import os
import random
import socket
import sys
import threading
import time


def payload(seed, n):
    r = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        k = r.randrange(1, 65536)
        out += bytes(k) if r.random() < 0.25 else r.randbytes(k)
    return bytes(out[:n])


def sink(o):
    if os.path.exists(o.socket):
        os.unlink(o.socket)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(o.socket)
    ls.listen(16)
    ls.settimeout(o.timeout)
    res = [None] * o.conns
    deadline = time.monotonic() + o.timeout

    def serve(i, c):
        h, n = hashlib.sha256(), 0
        c.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
                if o.stall_after and n >= o.stall_after and o.stall_ms and i == 0:
                    # A reader that stops: the writer at the other end
                    # must be held back, nothing buffered without bound.
                    print(json.dumps({"stalled_at": n}), flush=True)
                    time.sleep(o.stall_ms / 1000)
                    o.stall_after = 0
            c.sendall(h.hexdigest().encode())
            c.shutdown(socket.SHUT_WR)
            res[i] = {"conn": i, "bytes": n, "sha256": h.hexdigest()}
        except OSError as e:
            res[i] = {"conn": i, "bytes": n, "error": str(e)}
        c.close()

    threads = []
    try:
        for i in range(o.conns):
            c, _ = ls.accept()
            t = threading.Thread(target=serve, args=(i, c))
            t.start()
            threads.append(t)
    except OSError as e:
        print(json.dumps({"role": "sink", "error": f"accept: {e}", "conns": res}), flush=True)
        return 1
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    ok = all(r is not None and "error" not in r for r in res)
    print(json.dumps({"role": "sink", "ok": ok, "conns": res}), flush=True)
    return 0 if ok else 1


def source(o):
    res = [None] * o.conns
    deadline = time.monotonic() + o.timeout

    def run(i, c):
        data = payload(o.seed * 1000 + i, o.bytes)
        t0 = time.monotonic()
        c.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            off = 0
            while off < len(data):
                if o.stall_after and off >= o.stall_after and o.stall_ms:
                    time.sleep(o.stall_ms / 1000)
                    o.stall_after = 0
                off += c.send(data[off:off + o.chunk])
            c.shutdown(socket.SHUT_WR)
            ans = b""
            while True:
                b = c.recv(4096)
                if not b:
                    break
                ans += b
            want = hashlib.sha256(data).hexdigest()
            res[i] = {"conn": i, "bytes": len(data), "ms": round((time.monotonic() - t0) * 1e3, 1),
                      "answer_ok": ans.decode(errors="replace") == want}
            if not res[i]["answer_ok"]:
                res[i]["answer"] = ans[:80].decode(errors="replace")
        except OSError as e:
            res[i] = {"conn": i, "bytes": off, "error": str(e)}
        c.close()

    threads = []
    for i in range(o.conns):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                c.connect(o.socket)
                break
            except OSError:
                if time.monotonic() > deadline:
                    print(json.dumps({"role": "source", "error": f"no socket {o.socket}"}))
                    return 1
                time.sleep(0.05)
        t = threading.Thread(target=run, args=(i, c))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # the main stream first, as QEMU
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    ok = all(r is not None and r.get("answer_ok") for r in res)
    print(json.dumps({"role": "source", "ok": ok, "conns": res}), flush=True)
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=("sink", "source"))
    ap.add_argument("--socket", required=True)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--bytes", type=int, default=16 << 20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=1 << 16)
    ap.add_argument("--stall-after", type=int, default=0)
    ap.add_argument("--stall-ms", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60)
    o = ap.parse_args()
    return sink(o) if o.role == "sink" else source(o)


if __name__ == "__main__":
    sys.exit(main())
