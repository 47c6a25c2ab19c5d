# SPDX-License-Identifier: BSD-3-Clause
"""A relay between two Unix sockets, like
`socat UNIX-LISTEN:SRC,fork UNIX-CONNECT:DST`, that can take the
connections to DST out of their order (qemu_relay_check.sh's case
"reordered"; "return-path-bytes"): with --hold-first N, the first connection accepted at SRC is
connected onward only once N later ones have been. One JSON line on stderr
per connection: its accept index, the first 4 bytes the source sent (a
QEMU main stream starts with "QEVM", a multifd channel with 11223344, TLS
with 16 03) and its place among the connections to DST.

When a connection ends, one more: the bytes it carried each way.

  unix_relay.py SRC DST [--hold-first N]
"""
import argparse
import json
import os
import socket
import sys
import threading

lock = threading.Condition()
connected = 0  # connections made to DST so far


def pump(a, b, count, key):
    try:
        while True:
            data = a.recv(1 << 20)
            if not data:
                break
            b.sendall(data)
            count[key] += len(data)
        b.shutdown(socket.SHUT_WR)
    except OSError:
        # One end is gone: so is the other (as socat does).
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(index, conn, dst, hold):
    global connected
    conn.settimeout(2)  # QEMU's source speaks first; a peer that does not is told apart
    try:
        first = conn.recv(4, socket.MSG_PEEK)
    except socket.timeout:
        first = b""
    conn.settimeout(None)
    with lock:
        if index == 0 and hold:
            lock.wait_for(lambda: connected >= hold)
        out = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            out.connect(dst)
        except OSError as e:
            print(f"unix_relay: {index}: cannot connect to {dst}: {e}", file=sys.stderr, flush=True)
            conn.close()
            return
        place = connected
        connected += 1
        lock.notify_all()
    print(json.dumps({"accepted": index, "first_bytes": first.hex(), "connected": place}),
          file=sys.stderr, flush=True)
    count = {"accepted": index, "to_destination": 0, "to_source": 0}
    t = threading.Thread(target=pump, args=(out, conn, count, "to_source"), daemon=True)
    t.start()
    pump(conn, out, count, "to_destination")
    t.join()
    conn.close()
    out.close()
    print(json.dumps(count), file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--hold-first", type=int, default=0)
    o = ap.parse_args()
    if os.path.exists(o.src):
        os.unlink(o.src)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(o.src)
    ls.listen(64)
    index = 0
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(index, conn, o.dst, o.hold_first),
                         daemon=True).start()
        index += 1


if __name__ == "__main__":
    main()
