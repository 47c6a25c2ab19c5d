#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""An attacker on the migration link, for the security integration tests.

It runs in the SOURCE namespace on <if>-s (scripts/lib/migrun.sh
mr_netns_up): there it sees what the destination sends (ACKs, COMMIT, ...),
sees the source's own frames as PACKET_OUTGOING, and what it transmits
reaches the destination. Python standard library only: AF_PACKET raw
sockets (a classic BPF filter keeps the migration's bulk traffic out of
this process), struct, a table-driven CRC32C.

  attack.py forge   --iface IF --duration S [--rate N] [--kinds data,abort,commit,hello,hello_live,hello_old]
                    [--dst-ip 198.18.0.2] [--src-ip 198.18.0.1] [--ctl-port P]
                    [--gpa-base B] [--gpa-size BYTES] [--block-pages N] [--nchannels N]
                    [--vm NAME] [--version V] [--seq-span N] [--pattern BYTE]
                    [--abort-text T] [--mtu N]
  attack.py capture --iface IF --duration S --out FILE [--src-ip 198.18.0.1]
  attack.py replay  --iface IF --in FILE [--rate N] [--types data,hello,...]
  attack.py decode  --in FILE            (one JSON line per frame of a pcap)
  attack.py selftest

Each prints one JSON object on stdout at the end (decode: one per frame).
Errors go to stderr; exit 2 on a usage error, 1 on a failure (forge: nothing
learned), 0 otherwise. SIGINT/SIGTERM end a run early and still print it.
"""
import argparse
import ctypes
import errno
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import tempfile
import time

# ===========================================================================
# Wire layout. docs/wire-format.md describes it; dataplane/wire.h, wire.c,
# wire_msg.c and crc.c are the truth where the two disagree (noted below).
# All multi-byte fields are big-endian.
# ===========================================================================

# -- "Frame layout": Ethernet II + IPv4 (IHL 5, DF, TTL 64) + UDP + migdp header
ETH = struct.Struct("!6s6sH")            # dst MAC, src MAC, ethertype
ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
IPV4 = struct.Struct("!BBHHHBBH4s4s")    # vhl tos total_len id frag ttl proto csum src dst
IPV4_DF, IPV4_MF, IPV4_OFFMASK = 0x4000, 0x2000, 0x1FFF
IPPROTO_UDP = 17
UDP = struct.Struct("!HHHH")             # sport dport length checksum (0 = none)
ETH_OFF, IP_OFF, UDP_OFF = 0, 14, 34

# -- "migdp header (48 bytes)" (struct migdp_hdr)
#    magic version type flags channel session seq payload_len nrecords tstamp check auth[16]
HDR = struct.Struct("!HBBHHQIHHII16s")
HDR_OFF = 14 + 20 + 8                    # MIGDP_HDR_OFF
PAYLOAD_OFF = HDR_OFF + HDR.size         # 90 = MIGDP_L2_HDRS_LEN
CHECK_OFF = 28                           # `check` inside the header
AUTH_OFF, AUTH_LEN = 32, 16
MAGIC = 0x4D44                           # "MD"
VERSION = 3                              # MIGDP_WIRE_VERSION of the code read
VERSION_LEGACY = 1                       # no frame check, UDP checksum required
F_RETRANSMIT, F_ACK_NOW = 0x0001, 0x0002

# -- "Frame types"
TYPES = {1: "hello", 2: "accept", 3: "reject", 4: "data", 5: "ack", 6: "fin",
         7: "commit", 8: "abort", 9: "keepalive", 10: "dict"}
T = {name: num for num, name in TYPES.items()}

# -- "Records (24-byte header)" (struct migdp_rec_hdr)
#    gpa type flags len crc npages frag_off ver_delta
REC = struct.Struct("!QBBHIIHH")
REC_ZERO_RUN, REC_RAW_PAGE, REC_FRAGMENT, REC_ZSTD, REC_ZSTD_FRAG = 1, 2, 3, 4, 5
REC_NAMES = {1: "zero_run", 2: "raw_page", 3: "fragment", 4: "zstd", 5: "zstd_frag"}
PAGE = 4096
DATA_MAX_RECORDS = 64

# -- "HELLO": wire_hello (48 bytes) + the VM name (32 bytes, NUL-terminated)
#    + nregions x (gpa, size). The VM name is in wire_msg.c (enc_hello) but
#    not in the doc's diagram; a HELLO without it (48 + 16 n) is versions 1/2.
#    proto_version nchannels page_size nregions reserved isn block_pages reserved2[28]
HELLO = struct.Struct("!HHIHHII28s")
VM_NAME_LEN = 32
REGION = struct.Struct("!QQ")
MAX_REGIONS = 64
# -- "ACCEPT": proto_version nchannels page_size window mtu reserved
ACCEPT = struct.Struct("!HHIIHH")
# -- "REJECT and ABORT": reason reserved text[60] (NUL-terminated, zero-padded)
REASON = struct.Struct("!HH60s")
REASONS = ["none", "protocol version mismatch", "guest memory layout mismatch",
           "channel count mismatch", "page size mismatch", "peer busy",
           "authentication failed", "peer timed out", "memory digest mismatch",
           "cancelled", "internal error"]
R_CANCELLED = 9
# -- "ACK": cum_ack ts_echo nsack reserved, then nsack x (start, end)
ACK = struct.Struct("!IIHH")
SACK = struct.Struct("!II")
MAX_SACK = 16
# -- "FIN": end_seq reserved pages zero_pages bytes
FIN = struct.Struct("!IIQQQ")
# -- "COMMIT": flags reserved guest_bytes digest[32]
COMMIT = struct.Struct("!IIQ32s")
COMMIT_VERIFIED, COMMIT_READY, COMMIT_GO, COMMIT_CONFIRM = 0x1, 0x2, 0x4, 0x8
# -- "DICT": dict_id total offset len reserved, then len bytes
DICT = struct.Struct("!IIIHH")

# -- "Checksums". CRC32C: Castagnoli (reflected polynomial 0x82F63B78),
#    init and final xor 0xffffffff; crc32c(b"123456789") == 0xE3069283.
#    Record crc: CRC32C of the plain content (raw page, fragment bytes).
#    Frame check (`check`): CRC32C over the 48-byte header with `check` taken
#    as 0, followed by the covered payload: the record table (24 x nrecords)
#    of a DATA frame, the whole payload of any other frame (crc.c
#    migdp_frame_check, wire.c check_covered). Version 1: check 0 and a UDP
#    checksum instead. UDP checksum otherwise 0.


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


CRC32C_TABLE = _crc32c_table()


def crc32c_update(crc, data):
    """CRC32C register after @data (no final xor)."""
    t = CRC32C_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def crc32c(data):
    return crc32c_update(0xFFFFFFFF, data) ^ 0xFFFFFFFF


def frame_check(hdr, covered):
    """migdp_frame_check(): @hdr the 48 header bytes, @covered the payload
    bytes the check covers."""
    h = bytes(hdr[:CHECK_OFF]) + b"\0\0\0\0" + bytes(hdr[CHECK_OFF + 4:HDR.size])
    return crc32c_update(crc32c_update(0xFFFFFFFF, h), covered) ^ 0xFFFFFFFF


def check_covered_len(mtype, payload_len, nrecords):
    return nrecords * REC.size if mtype == T["data"] else payload_len


def inet_sum(data):
    """One's-complement sum of @data folded to 16 bits (RFC 1071)."""
    if len(data) & 1:
        data = bytes(data) + b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ip_checksum(hdr20):
    return ~inet_sum(hdr20) & 0xFFFF


def udp_checksum(src_ip, dst_ip, udp_bytes):
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, IPPROTO_UDP, len(udp_bytes))
    c = ~inet_sum(pseudo + bytes(udp_bytes)) & 0xFFFF
    return c or 0xFFFF

# ===========================================================================
# Building frames
# ===========================================================================


class Flow:
    """Addresses of one flow, as struct migdp_flow: MACs (6 bytes), IPs (4
    bytes), UDP ports, channel, session."""

    def __init__(self, src_mac, dst_mac, src_ip, dst_ip, sport, dport,
                 channel=0, session=1):
        self.src_mac, self.dst_mac = src_mac, dst_mac
        self.src_ip, self.dst_ip = src_ip, dst_ip
        self.sport, self.dport = sport, dport
        self.channel, self.session = channel, session


def build_frame(fl, mtype, payload=b"", *, version=VERSION, flags=0, seq=0,
                tstamp=0, nrecords=0, auth=None):
    """A complete frame: Ethernet, IPv4 (checksum), UDP (checksum 0 unless
    version 1), migdp header with its frame check, payload."""
    auth = bytes(AUTH_LEN) if auth is None else auth
    udp_len = UDP.size + HDR.size + len(payload)
    hdr = bytearray(HDR.pack(MAGIC, version, mtype, flags, fl.channel, fl.session,
                             seq & 0xFFFFFFFF, len(payload), nrecords,
                             tstamp & 0xFFFFFFFF, 0, auth))
    if version != VERSION_LEGACY:
        covered = payload[:check_covered_len(mtype, len(payload), nrecords)]
        struct.pack_into("!I", hdr, CHECK_OFF, frame_check(hdr, covered))
    ip = bytearray(IPV4.pack(0x45, 0, 20 + udp_len, 0, IPV4_DF, 64, IPPROTO_UDP, 0,
                             fl.src_ip, fl.dst_ip))
    struct.pack_into("!H", ip, 10, ip_checksum(ip))
    udp = bytearray(UDP.pack(fl.sport, fl.dport, udp_len, 0))
    if version == VERSION_LEGACY:
        struct.pack_into("!H", udp, 6,
                         udp_checksum(fl.src_ip, fl.dst_ip, bytes(udp) + hdr + payload))
    return ETH.pack(fl.dst_mac, fl.src_mac, ETH_P_IP) + bytes(ip) + bytes(udp) + \
        bytes(hdr) + bytes(payload)


def _text(s, size):
    b = s.encode()[:size - 1]
    return b + bytes(size - len(b))


def hello_payload(*, proto_version=VERSION, nchannels=2, page_size=PAGE, isn=0,
                  block_pages=512, vm="vm", regions=((0, 1 << 20),),
                  reserved2=bytes(28), named=True):
    p = HELLO.pack(proto_version, nchannels, page_size, len(regions), 0, isn,
                   block_pages, reserved2)
    if named:
        p += _text(vm, VM_NAME_LEN)
    return p + b"".join(REGION.pack(g, s) for g, s in regions)


def accept_payload(*, proto_version=VERSION, nchannels=2, page_size=PAGE,
                   window=512, mtu=9000):
    return ACCEPT.pack(proto_version, nchannels, page_size, window, mtu, 0)


def reason_payload(reason, text):
    return REASON.pack(reason, 0, _text(text, 60))


def ack_payload(cum_ack, ts_echo=0, sacks=()):
    return ACK.pack(cum_ack & 0xFFFFFFFF, ts_echo & 0xFFFFFFFF, len(sacks), 0) + \
        b"".join(SACK.pack(a & 0xFFFFFFFF, b & 0xFFFFFFFF) for a, b in sacks)


def fin_payload(end_seq, pages=0, zero_pages=0, nbytes=0):
    return FIN.pack(end_seq & 0xFFFFFFFF, 0, pages, zero_pages, nbytes)


def commit_payload(flags, guest_bytes=0, digest=bytes(32)):
    return COMMIT.pack(flags, 0, guest_bytes, digest)


def dict_payload(dict_id, total, offset, data=b""):
    return DICT.pack(dict_id, total, offset, len(data), 0) + data


def data_payload(records):
    """Record table then payloads (section "DATA"). Each record is a dict:
    gpa, type, data (bytes, may be empty), and optionally npages, frag_off,
    ver_delta, crc (default: CRC32C of data; 0 for a zero run).
    @return (payload, nrecords)."""
    tab, body = [], []
    for r in records:
        data = r.get("data", b"")
        crc = r.get("crc")
        if crc is None:
            crc = 0 if r["type"] == REC_ZERO_RUN else crc32c(data)
        tab.append(REC.pack(r["gpa"], r["type"], 0, len(data), crc,
                            r.get("npages", 1), r.get("frag_off", 0),
                            r.get("ver_delta", 0)))
        body.append(data)
    return b"".join(tab) + b"".join(body), len(records)

# ===========================================================================
# Parsing
# ===========================================================================


class WireError(Exception):
    """A frame the tool cannot read; .reason is a MIGDP_DROP_* name."""

    def __init__(self, reason, detail=""):
        super().__init__("%s%s" % (reason, ": " + detail if detail else ""))
        self.reason = reason


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def ip_str(b):
    return socket.inet_ntoa(b)


def _cstr(b):
    if b"\0" not in b:
        raise WireError("BAD_PAYLOAD", "text without NUL")
    return b.split(b"\0", 1)[0].decode(errors="replace")


def decode_payload(mtype, p, nrecords=0, verify_records=False):
    """The payload of one frame as a dict (section per type)."""
    if mtype == T["data"]:
        if not 1 <= nrecords <= DATA_MAX_RECORDS or nrecords * REC.size > len(p):
            raise WireError("REC_COUNT")
        recs, off = [], nrecords * REC.size
        for i in range(nrecords):
            gpa, rtype, rflags, rlen, crc, npages, frag_off, ver_delta = \
                REC.unpack_from(p, i * REC.size)
            if off + rlen > len(p):
                raise WireError("REC_LEN")
            data = p[off:off + rlen]
            off += rlen
            r = {"gpa": gpa, "type": REC_NAMES.get(rtype, rtype), "flags": rflags,
                 "len": rlen, "crc": crc, "npages": npages, "frag_off": frag_off,
                 "ver_delta": ver_delta}
            if data:
                r["first_byte"] = data[0]
                r["uniform"] = data.count(data[0]) == len(data)
            if verify_records and rtype in (REC_RAW_PAGE, REC_FRAGMENT):
                r["crc_ok"] = crc32c(data) == crc
            recs.append(r)
        if off != len(p):
            raise WireError("REC_COUNT", "payload bytes no record claims")
        return {"records": recs}
    if mtype == T["hello"]:
        if len(p) < HELLO.size:
            raise WireError("BAD_PAYLOAD", "short HELLO")
        pv, nch, psz, nreg, res, isn, bp, res2 = HELLO.unpack_from(p)
        named = len(p) == HELLO.size + VM_NAME_LEN + REGION.size * nreg
        if nreg > MAX_REGIONS or (not named and len(p) != HELLO.size + REGION.size * nreg):
            raise WireError("BAD_PAYLOAD", "HELLO length")
        off = HELLO.size
        vm = ""
        if named:
            vm = _cstr(p[off:off + VM_NAME_LEN])
            off += VM_NAME_LEN
        regions = [list(REGION.unpack_from(p, off + i * REGION.size)) for i in range(nreg)]
        return {"proto_version": pv, "nchannels": nch, "page_size": psz,
                "nregions": nreg, "reserved": res, "isn": isn, "block_pages": bp,
                "reserved2": res2.hex(), "vm": vm, "regions": regions}
    if mtype == T["accept"]:
        if len(p) != ACCEPT.size:
            raise WireError("BAD_PAYLOAD", "ACCEPT length")
        pv, nch, psz, win, mtu, res = ACCEPT.unpack(p)
        return {"proto_version": pv, "nchannels": nch, "page_size": psz,
                "window": win, "mtu": mtu, "reserved": res}
    if mtype in (T["reject"], T["abort"]):
        if len(p) != REASON.size:
            raise WireError("BAD_PAYLOAD", "REJECT/ABORT length")
        reason, res, text = REASON.unpack(p)
        return {"reason": reason, "reason_name": REASONS[reason] if reason < len(REASONS)
                else "unknown", "reserved": res, "text": _cstr(text)}
    if mtype == T["ack"]:
        if len(p) < ACK.size:
            raise WireError("BAD_PAYLOAD", "short ACK")
        cum, ts_echo, nsack, res = ACK.unpack_from(p)
        if nsack > MAX_SACK or len(p) != ACK.size + SACK.size * nsack:
            raise WireError("BAD_PAYLOAD", "ACK length")
        sacks = [list(SACK.unpack_from(p, ACK.size + i * SACK.size)) for i in range(nsack)]
        return {"cum_ack": cum, "ts_echo": ts_echo, "nsack": nsack, "reserved": res,
                "sack": sacks}
    if mtype == T["fin"]:
        if len(p) != FIN.size:
            raise WireError("BAD_PAYLOAD", "FIN length")
        end_seq, res, pages, zpages, nbytes = FIN.unpack(p)
        return {"end_seq": end_seq, "reserved": res, "pages": pages,
                "zero_pages": zpages, "bytes": nbytes}
    if mtype == T["commit"]:
        if len(p) != COMMIT.size:
            raise WireError("BAD_PAYLOAD", "COMMIT length")
        flags, res, gb, digest = COMMIT.unpack(p)
        return {"flags": flags, "reserved": res, "guest_bytes": gb, "digest": digest.hex()}
    if mtype == T["keepalive"]:
        if p:
            raise WireError("BAD_PAYLOAD", "KEEPALIVE with payload")
        return {}
    if mtype == T["dict"]:
        if len(p) < DICT.size:
            raise WireError("BAD_PAYLOAD", "short DICT")
        did, total, offset, dlen, res = DICT.unpack_from(p)
        if len(p) != DICT.size + dlen:
            raise WireError("BAD_PAYLOAD", "DICT length")
        return {"dict_id": did, "total": total, "offset": offset, "len": dlen,
                "reserved": res}
    raise WireError("UNKNOWN_TYPE", str(mtype))


def parse_frame(buf, *, decode=True, verify_records=False):
    """Read one frame with the checks of migdp_wire_parse() that do not need
    the receiver's state (address, session). Any version is read; whether
    the frame check holds is reported in check_ok, not required (an
    authenticated version-4 frame carries a counter there)."""
    buf = bytes(buf)
    if len(buf) < 34:
        raise WireError("TOO_SHORT")
    dmac, smac, etype = ETH.unpack_from(buf, 0)
    vhl, _tos, ip_len, _id, frag, ttl, proto, ipsum, sip, dip = IPV4.unpack_from(buf, IP_OFF)
    if etype != ETH_P_IP or vhl >> 4 != 4 or proto != IPPROTO_UDP:
        raise WireError("NOT_IPV4_UDP")
    ihl = (vhl & 0xF) * 4
    if ihl < 20 or ip_len < ihl:
        raise WireError("BAD_IP_HDR")
    if ip_len > len(buf) - 14 or ip_len < ihl + UDP.size + HDR.size:
        raise WireError("TOO_SHORT")
    if frag & (IPV4_MF | IPV4_OFFMASK):
        raise WireError("IP_FRAGMENT")
    if inet_sum(buf[IP_OFF:IP_OFF + ihl]) != 0xFFFF:
        raise WireError("BAD_IP_CSUM")
    uo = IP_OFF + ihl
    sport, dport, udp_len, usum = UDP.unpack_from(buf, uo)
    if udp_len != ip_len - ihl:
        raise WireError("BAD_UDP_LEN")
    ho = uo + UDP.size
    (magic, version, mtype, flags, channel, session, seq, plen, nrec, tstamp,
     check, auth) = HDR.unpack_from(buf, ho)
    if usum != 0 and inet_sum(sip + dip + struct.pack("!BBH", 0, IPPROTO_UDP, udp_len) +
                              buf[uo:uo + udp_len]) != 0xFFFF:
        raise WireError("BAD_UDP_CSUM")
    if magic != MAGIC:
        raise WireError("BAD_MAGIC")
    if mtype == 0 or mtype not in TYPES:
        raise WireError("UNKNOWN_TYPE", str(mtype))
    if plen != udp_len - UDP.size - HDR.size:
        raise WireError("BAD_LENGTH")
    payload = buf[ho + HDR.size:ho + HDR.size + plen]
    covered = check_covered_len(mtype, plen, nrec)
    if version == VERSION_LEGACY:
        check_ok = check == 0 and usum != 0
    else:
        check_ok = covered <= plen and check == frame_check(buf[ho:ho + HDR.size],
                                                            payload[:covered])
    f = {"dst_mac": mac_str(dmac), "src_mac": mac_str(smac), "src_ip": ip_str(sip),
         "dst_ip": ip_str(dip), "ttl": ttl, "df": bool(frag & IPV4_DF),
         "sport": sport, "dport": dport, "udp_csum": usum, "version": version,
         "type": TYPES[mtype], "flags": flags, "channel": channel,
         "session": "0x%016x" % session, "seq": seq, "payload_len": plen,
         "nrecords": nrec, "tstamp": tstamp, "check": check, "check_ok": check_ok,
         "auth": auth.hex(), "len": len(buf)}
    if decode:
        if mtype != T["data"] and nrec != 0:
            raise WireError("BAD_PAYLOAD", "records in a non-DATA frame")
        f["msg"] = decode_payload(mtype, payload, nrec, verify_records)
    return f


def classify(buf):
    """Type name of a migdp frame, "other" for anything else (cheap)."""
    if len(buf) < PAYLOAD_OFF or buf[12:14] != b"\x08\x00" or buf[23] != IPPROTO_UDP:
        return "other"
    ho = IP_OFF + (buf[IP_OFF] & 0xF) * 4 + UDP.size
    if len(buf) < ho + HDR.size or buf[ho:ho + 2] != b"\x4d\x44":
        return "other"
    return TYPES.get(buf[ho + 3], "other")

# ===========================================================================
# pcap (libpcap classic format, LINKTYPE_ETHERNET): tcpdump reads what we
# write; we read µs and ns files of either byte order.
# ===========================================================================

PCAP_MAGIC_US, PCAP_MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
PCAP_SNAPLEN = 262144


class PcapWriter:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, PCAP_SNAPLEN, 1))

    def write(self, frame, ts=None):
        ts = time.time() if ts is None else ts
        sec = int(ts)
        self.f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
        self.f.write(frame)

    def close(self):
        self.f.close()


def pcap_read(path):
    """Yield (timestamp, frame) of a pcap file."""
    with open(path, "rb") as f:
        gh = f.read(24)
        if len(gh) < 24:
            raise ValueError("%s: not a pcap file (too short)" % path)
        for bo in "<>":
            magic = struct.unpack(bo + "I", gh[:4])[0]
            if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                break
        else:
            raise ValueError("%s: not a pcap file (magic %s)" % (path, gh[:4].hex()))
        div = 1e6 if magic == PCAP_MAGIC_US else 1e9
        linktype = struct.unpack(bo + "I", gh[20:24])[0] & 0xFFFF
        if linktype != 1:
            raise ValueError("%s: link type %d, not Ethernet" % (path, linktype))
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            sec, frac, incl, _orig = struct.unpack(bo + "IIII", rh)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec + frac / div, data

# ===========================================================================
# Raw sockets
# ===========================================================================

SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
PACKET_OUTGOING = 4

# Classic BPF (linux/filter.h): opcode, jt, jf, k.
BPF_LDH, BPF_LDB, BPF_LDW = 0x28, 0x30, 0x20      # BPF_LD | size | BPF_ABS
BPF_JEQ, BPF_JGT, BPF_RET = 0x15, 0x25, 0x06      # BPF_JMP | op | BPF_K; BPF_RET | BPF_K


def bpf_assemble(prog):
    """@prog: list of (label or None, opcode, k, jt label, jf label)."""
    where = {ins[0]: i for i, ins in enumerate(prog) if ins[0]}
    out = []
    for i, (_lab, op, k, jt, jf) in enumerate(prog):
        rel = (lambda lab: 0 if lab is None else where[lab] - i - 1)
        out.append(struct.pack("HBBI", op, rel(jt), rel(jf), k & 0xFFFFFFFF))
    return out


def bpf_ipv4_udp(accept_src, small_src=None, small_len=1200):
    """Frames IPv4/UDP from @accept_src (whole), or from @small_src with an
    IP total length of at most @small_len (control frames, not DATA)."""
    a = int.from_bytes(accept_src, "big")
    prog = [(None, BPF_LDH, 12, None, None),
            (None, BPF_JEQ, ETH_P_IP, None, "drop"),
            (None, BPF_LDB, 23, None, None),
            (None, BPF_JEQ, IPPROTO_UDP, None, "drop"),
            (None, BPF_LDW, 26, None, None)]
    if small_src is None:
        prog += [(None, BPF_JEQ, a, "accept", "drop")]
    else:
        prog += [(None, BPF_JEQ, a, "accept", None),
                 (None, BPF_JEQ, int.from_bytes(small_src, "big"), None, "drop"),
                 (None, BPF_LDH, 16, None, None),
                 (None, BPF_JGT, small_len, "drop", "accept")]
    prog += [("accept", BPF_RET, PCAP_SNAPLEN, None, None),
             ("drop", BPF_RET, 0, None, None)]
    return bpf_assemble(prog)


def rx_socket(iface, bpf=None):
    """A non-blocking AF_PACKET socket receiving on @iface (every direction),
    the filter attached before the socket is bound, so nothing else queues."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    if bpf:
        code = ctypes.create_string_buffer(b"".join(bpf))
        fprog = struct.pack("HL", len(bpf), ctypes.addressof(code))
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)  # copied
        except OSError as e:  # filtered in Python anyway
            print("attack.py: BPF filter not attached (%s), filtering in Python" % e,
                  file=sys.stderr)
    for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 64 << 20)
            break
        except OSError:
            pass
    s.bind((iface, ETH_P_ALL))
    s.setblocking(False)
    return s


def tx_socket(iface):
    """An AF_PACKET socket that only transmits (protocol 0: receives nothing)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((iface, 0))
    return s


def kernel_drops(s):
    try:
        _pk, drops = struct.unpack("II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        return drops
    except OSError:
        return None


def send_frame(s, frame, stats):
    """Send one frame; ENOBUFS/EAGAIN retried briefly. @return True if sent."""
    for _ in range(50):
        try:
            s.send(frame)
            return True
        except OSError as e:
            if e.errno in (errno.ENOBUFS, errno.EAGAIN):
                time.sleep(0.0002)
                continue
            stats["send_errors"] = stats.get("send_errors", 0) + 1
            stats["last_error"] = os.strerror(e.errno) if e.errno else str(e)
            return False
    stats["send_errors"] = stats.get("send_errors", 0) + 1
    stats["last_error"] = "ENOBUFS"
    return False


STOP = False


def _on_signal(_sig, _frm):
    global STOP
    STOP = True


def iface_mtu(iface):
    with open("/sys/class/net/%s/mtu" % iface) as f:
        return int(f.read())

# ===========================================================================
# forge
# ===========================================================================


class Learned:
    """What the attacker knows of the session, from what it sniffs."""

    def __init__(self, dst_ip, src_ip):
        self.dst_ip, self.src_ip = dst_ip, src_ip
        self.session = None
        self.version = None
        self.dst_mac = self.src_mac = None  # the destination's, the source's
        self.peer_ip = None                 # the source's IP as the ACKs say
        self.chans = {}                     # channel -> state from its ACKs
        self.ports_from_dst = set()
        self.ctl_dst = self.ctl_src = None  # control ports (dst's, src's)
        self.acks = 0
        self.hello = None                   # the source's HELLO, if seen
        self.seen_gpas = {}                 # channel -> gpas of source DATA
        # (source tstamp, local time): from the source's own frames, else
        # from the ACKs' ts_echo (which lags by a round trip).
        self.clock_src = self.clock_ack = None

    def src_clock(self, now):
        """Estimate of the source's microsecond clock (its tstamps), so that
        forged frames carry plausible ones (the destination echoes them)."""
        c = self.clock_src
        if c is None or (self.clock_ack and c[1] < now - 1):
            c = self.clock_ack
        if c is None:
            return int(now * 1e6) & 0xFFFFFFFF
        return (c[0] + int((now - c[1]) * 1e6)) & 0xFFFFFFFF

    def from_dst(self, buf, now):
        """A frame the destination sent: its ACKs teach the session."""
        try:
            f = parse_frame(buf, decode=False)
        except WireError:
            return
        if f["src_ip"] != ip_str(self.dst_ip) or buf[IP_OFF] != 0x45:
            return  # migdp never sends IPv4 options
        self.ports_from_dst.add(f["sport"])
        if f["type"] != "ack":
            return
        try:
            a = decode_payload(T["ack"], buf[PAYLOAD_OFF:PAYLOAD_OFF + f["payload_len"]])
        except WireError:
            return
        session = int(f["session"], 16)
        if session == 0:
            return
        self.acks += 1
        if session != self.session:
            self.session, self.chans = session, {}
        self.version = f["version"]
        self.dst_mac = bytes.fromhex(f["src_mac"].replace(":", ""))
        self.src_mac = bytes.fromhex(f["dst_mac"].replace(":", ""))
        self.peer_ip = socket.inet_aton(f["dst_ip"])
        ch = f["channel"]
        self.chans[ch] = {"cum_ack": a["cum_ack"], "dst_port": f["sport"],
                          "src_port": f["dport"], "at": now}
        self.clock_ack = (a["ts_echo"], now)
        # Channel i uses base + 1 + i on both sides (dataplane/dp.c), the
        # control flow base.
        self.ctl_dst = f["sport"] - 1 - ch
        self.ctl_src = f["dport"] - 1 - ch

    def from_src(self, buf, now):
        """A frame the source sent (outgoing here): its HELLO, its clock and
        which pages each channel carries."""
        try:
            f = parse_frame(buf, decode=False)
        except WireError:
            return
        if buf[IP_OFF] != 0x45:
            return
        self.clock_src = (f["tstamp"], now)
        p = bytes(buf[PAYLOAD_OFF:PAYLOAD_OFF + f["payload_len"]])
        try:
            if f["type"] == "hello":
                self.hello = decode_payload(T["hello"], p)
            elif f["type"] == "data":
                gpas = self.seen_gpas.setdefault(f["channel"], [])
                for i in range(min(f["nrecords"], len(p) // REC.size)):
                    if len(gpas) < 4096:
                        gpas.append(REC.unpack_from(p, i * REC.size)[0])
        except WireError:
            pass


class Forger:
    def __init__(self, args, L):
        self.a, self.L = args, L
        self.k = 0
        self.kind_i = 0
        self.commit_i = 0
        self.chan_i = 0
        self.sent = {k: 0 for k in args.kinds}
        self.stats = {}
        self.gpas = set()
        self.hello_sessions = []
        mtu = args.mtu
        if not mtu:
            mtu = iface_mtu(args.iface)
        self.mtu = mtu
        self.page = bytes([args.pattern]) * PAGE
        room = mtu - 20 - UDP.size - HDR.size - REC.size
        if room >= PAGE:
            self.rec_type, self.rec_data = REC_RAW_PAGE, self.page
        else:  # the page does not fit a frame at this MTU: its first bytes
            self.rec_type, self.rec_data = REC_FRAGMENT, self.page[:room & ~7]
        self.rec_crc = crc32c(self.rec_data)
        self.gpa_policy = {}  # how each forged page address was chosen

    def version(self):
        return self.a.version if self.a.version is not None else self.L.version

    def regions(self):
        a, h = self.a, self.L.hello
        if a.gpa_size is not None:
            return [(a.gpa_base, a.gpa_size)]
        if h and h["regions"]:
            return [tuple(r) for r in h["regions"]]
        return [(a.gpa_base, 16 << 20)]

    def partition(self):
        a, h = self.a, self.L.hello
        bp = a.block_pages or (h["block_pages"] if h else 0)
        nch = a.nchannels or (h["nchannels"] if h else 0)
        return bp, nch

    def pick_gpa(self, ch):
        regs = [(-(-g // PAGE) * PAGE, (g + s) // PAGE * PAGE) for g, s in self.regions()]
        regs = [(lo, hi) for lo, hi in regs if hi > lo]
        if not regs:
            return None
        bp, nch = self.partition()
        if bp and nch:
            shift = bp.bit_length() - 1 + 12
            for _ in range(64):
                lo, hi = random.choice(regs)
                g = random.randrange(lo, hi, PAGE)
                blk = g >> shift
                blk += (ch - blk % nch) % nch
                g = (blk << shift) | (g & ((1 << shift) - 1))
                if lo <= g < hi:
                    self.gpa_policy["partition"] = self.gpa_policy.get("partition", 0) + 1
                    return g
        seen = [g for g in self.L.seen_gpas.get(ch, [])
                if any(lo <= g < hi for lo, hi in regs) and g % PAGE == 0]
        if seen:
            self.gpa_policy["seen"] = self.gpa_policy.get("seen", 0) + 1
            return random.choice(seen)
        self.gpa_policy["random"] = self.gpa_policy.get("random", 0) + 1
        lo, hi = random.choice(regs)
        return random.randrange(lo, hi, PAGE)

    def ctl_flow(self, session):
        L, a = self.L, self.a
        dport = a.ctl_port or min([L.ctl_dst] + [p for p in L.ports_from_dst if p < L.ctl_dst])
        return Flow(L.src_mac, L.dst_mac, L.peer_ip, L.dst_ip, L.ctl_src, dport, 0, session)

    def one(self, now):
        """Forge and send the next frame (kinds in turn)."""
        L, a = self.L, self.a
        kind = a.kinds[self.kind_i % len(a.kinds)]
        self.kind_i += 1
        ts = L.src_clock(now)
        auth = os.urandom(AUTH_LEN)
        if kind == "data":
            chans = sorted(L.chans)
            ch = chans[self.chan_i % len(chans)]
            self.chan_i += 1
            st = L.chans[ch]
            seq = (st["cum_ack"] + self.k % a.seq_span) & 0xFFFFFFFF
            self.k += 1
            gpa = self.pick_gpa(ch)
            if gpa is None:
                return
            payload, n = data_payload([{"gpa": gpa, "type": self.rec_type,
                                        "data": self.rec_data, "crc": self.rec_crc}])
            fl = Flow(L.src_mac, L.dst_mac, L.peer_ip, L.dst_ip, st["src_port"],
                      st["dst_port"], ch, L.session)
            frame = build_frame(fl, T["data"], payload, version=self.version(), seq=seq,
                                tstamp=ts, nrecords=n, auth=auth)
            if len(self.gpas) < 4096:
                self.gpas.add(gpa)
        elif kind == "abort":
            frame = build_frame(self.ctl_flow(L.session), T["abort"],
                                reason_payload(R_CANCELLED, a.abort_text),
                                version=self.version(), tstamp=ts, auth=auth)
        elif kind == "commit":
            flags = a.commit_flags[self.commit_i % len(a.commit_flags)]
            self.commit_i += 1
            guest = sum(s for _g, s in self.regions())
            frame = build_frame(self.ctl_flow(L.session), T["commit"],
                                commit_payload(flags, guest, bytes(32)),
                                version=self.version(), tstamp=ts, auth=auth)
        else:  # hello: a new session for --vm; hello_live: the running
            # session's id (a refusal the source must not trust); hello_old:
            # the same in version 3 (no authentication in that version)
            session = L.session if kind != "hello" else (random.getrandbits(64) or 1)
            if kind == "hello" and len(self.hello_sessions) < 16:
                self.hello_sessions.append("0x%016x" % session)
            bp, nch = self.partition()
            nch = nch or max(len(L.chans), max(L.chans, default=0) + 1)
            ver = 3 if kind == "hello_old" else self.version()
            p = hello_payload(proto_version=ver, nchannels=nch,
                              isn=random.getrandbits(32), block_pages=bp or 512,
                              vm=a.vm, regions=self.regions()[:MAX_REGIONS])
            frame = build_frame(self.ctl_flow(session), T["hello"], p,
                                version=ver, tstamp=ts, auth=auth)
        if send_frame(self.tx, frame, self.stats):
            self.sent[kind] += 1


def cmd_forge(a):
    L = Learned(socket.inet_aton(a.dst_ip), socket.inet_aton(a.src_ip))
    F = Forger(a, L)
    rx = rx_socket(a.iface, bpf_ipv4_udp(L.dst_ip, L.src_ip))
    # Sent on the receiving socket: the kernel does not loop a packet
    # socket's own frames back to it, so forged HELLOs are never mistaken
    # for the source's.
    F.tx = rx
    start = time.monotonic()
    end = start + a.duration
    gap = 1.0 / a.rate
    next_t = None
    learned_at = None
    sniffed = {"from_dst": 0, "from_src": 0}  # BPF: the source's small frames only
    while not STOP:
        now = time.monotonic()
        if now >= end:
            break
        if L.session is not None and next_t is None:
            next_t, learned_at = now, now - start
        wait = end - now if next_t is None else max(0.0, next_t - now)
        r, _, _ = select.select([rx], [], [], min(wait, 0.05))
        if r:
            for _ in range(512):
                try:
                    buf, addr = rx.recvfrom(65536)
                except BlockingIOError:
                    break
                now = time.monotonic()
                if len(buf) >= 34 and buf[26:30] == L.dst_ip and addr[2] != PACKET_OUTGOING:
                    L.from_dst(buf, now)
                    sniffed["from_dst"] += 1
                elif len(buf) >= 34 and buf[26:30] == L.src_ip and addr[2] == PACKET_OUTGOING:
                    L.from_src(buf, now)
                    sniffed["from_src"] += 1
        now = time.monotonic()
        if next_t is not None and now >= next_t and now < end:
            F.one(now)
            next_t += gap
            if next_t < now - 0.1:  # fell behind: no burst to catch up
                next_t = now
    learned = L.session is not None
    bp, nch = F.partition()
    out = {"sent": F.sent, "acks_seen": L.acks,
           "session": "0x%016x" % L.session if learned else None,
           "learned": learned, "sniffed": sniffed}
    if learned:
        out.update({
            "learned_after_s": round(learned_at, 3) if learned_at is not None else None,
            "version": F.version(), "dst_mac": mac_str(L.dst_mac),
            "src_mac": mac_str(L.src_mac), "src_ip": ip_str(L.peer_ip),
            "ctl_port": F.ctl_flow(L.session).dport, "src_ctl_port": L.ctl_src,
            "channels": {str(c): {"port": s["dst_port"], "src_port": s["src_port"],
                                  "cum_ack": s["cum_ack"]}
                         for c, s in sorted(L.chans.items())},
            "hello_seen": L.hello is not None, "block_pages": bp, "nchannels": nch,
            "record": REC_NAMES[F.rec_type], "record_len": len(F.rec_data),
            "pattern": "0x%02x" % a.pattern, "gpa_policy": F.gpa_policy,
            "data_gpas": ["0x%x" % g for g in sorted(F.gpas)],
            "hello_sessions": F.hello_sessions,
        })
    out.update(F.stats)
    print(json.dumps(out))
    return 0 if learned else 1

# ===========================================================================
# capture, replay, decode
# ===========================================================================


def cmd_capture(a):
    src = socket.inet_aton(a.src_ip)
    rx = rx_socket(a.iface, bpf_ipv4_udp(src))
    w = PcapWriter(a.out)
    n, by_type = 0, {}
    end = time.monotonic() + a.duration
    try:
        while not STOP:
            now = time.monotonic()
            if now >= end:
                break
            r, _, _ = select.select([rx], [], [], min(end - now, 0.05))
            if not r:
                continue
            for _ in range(1024):
                try:
                    buf = rx.recv(65536)
                except BlockingIOError:
                    break
                if len(buf) < 34 or buf[26:30] != src or buf[12:14] != b"\x08\x00":
                    continue
                w.write(buf)
                n += 1
                t = classify(buf)
                by_type[t] = by_type.get(t, 0) + 1
    finally:
        w.close()
    print(json.dumps({"captured": n, "by_type": by_type, "kernel_drops": kernel_drops(rx),
                      "out": a.out}))
    return 0


def cmd_replay(a):
    try:
        frames = list(pcap_read(a.inp))
    except (OSError, ValueError) as e:
        print("attack.py replay: %s" % e, file=sys.stderr)
        return 1
    tx = tx_socket(a.iface)
    n, by_type, skipped, stats = 0, {}, 0, {}
    gap = 1.0 / a.rate if a.rate else 0.0
    next_t = time.monotonic()
    for _ts, buf in frames:
        if STOP:
            break
        t = classify(buf)
        if a.types and t not in a.types:
            skipped += 1
            continue
        if gap:
            d = next_t - time.monotonic()
            if d > 0:
                time.sleep(d)
            next_t = max(next_t + gap, time.monotonic() - 0.1)
        if send_frame(tx, buf, stats):
            n += 1
            by_type[t] = by_type.get(t, 0) + 1
    out = {"replayed": n, "by_type": by_type, "skipped": skipped, "in_file": len(frames)}
    out.update(stats)
    print(json.dumps(out))
    return 0


def cmd_decode(a):
    try:
        for ts, buf in pcap_read(a.inp):
            try:
                f = parse_frame(buf, verify_records=True)
            except WireError as e:
                f = {"error": str(e), "len": len(buf)}
            f["ts"] = round(ts, 6)
            print(json.dumps(f))
    except (OSError, ValueError) as e:
        print("attack.py decode: %s" % e, file=sys.stderr)
        return 1
    return 0

# ===========================================================================
# selftest
# ===========================================================================


def cmd_selftest(_a):
    checks = 0

    def ok(cond, what):
        nonlocal checks
        if not cond:
            raise AssertionError(what)
        checks += 1

    ok(crc32c(b"123456789") == 0xE3069283, "crc32c check value")
    ok(crc32c(b"") == 0, "crc32c of nothing")
    ok(crc32c(bytes(32)) == 0x8A9136AA, "crc32c of 32 zeros (RFC 3720 B.4)")
    ok(crc32c(b"\xff" * 32) == 0x62A8AB43, "crc32c of 32 0xff (RFC 3720 B.4)")
    ok(crc32c(bytes(range(32))) == 0x46DD794E, "crc32c of 0..31 (RFC 3720 B.4)")
    ok(crc32c_update(crc32c_update(0xFFFFFFFF, b"1234"), b"56789") ^ 0xFFFFFFFF ==
       0xE3069283, "crc32c in two pieces")

    mac_s, mac_d = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
    ip_s, ip_d = socket.inet_aton("198.18.0.1"), socket.inet_aton("198.18.0.2")
    sess = 0x1122334455667788
    ctl = Flow(mac_s, mac_d, ip_s, ip_d, 47000, 47000, 0, sess)
    ch1 = Flow(mac_s, mac_d, ip_s, ip_d, 47002, 47002, 1, sess)
    back = Flow(mac_d, mac_s, ip_d, ip_s, 47002, 47002, 1, sess)
    page = b"\xa5" * PAGE
    data, nrec = data_payload([
        {"gpa": 0x200000, "type": REC_RAW_PAGE, "data": page},
        {"gpa": 0x400000, "type": REC_ZERO_RUN, "npages": 8},
        {"gpa": 0x201000, "type": REC_FRAGMENT, "data": page[:1400], "frag_off": 8,
         "ver_delta": 2}])
    cases = [
        ("hello", ctl, hello_payload(nchannels=2, isn=0xdeadbeef, block_pages=512,
                                     vm="guest-1", regions=[(0, 256 << 20), (1 << 32, 1 << 20)]),
         {}, lambda m: m["vm"] == "guest-1" and m["isn"] == 0xdeadbeef and
         m["regions"] == [[0, 256 << 20], [1 << 32, 1 << 20]] and m["block_pages"] == 512),
        ("accept", back, accept_payload(window=512, mtu=9000), {},
         lambda m: m["window"] == 512 and m["mtu"] == 9000),
        ("reject", back, reason_payload(5, "busy"), {},
         lambda m: m["reason_name"] == "peer busy" and m["text"] == "busy"),
        ("data", ch1, data, {"seq": 0xfffffff0, "nrecords": nrec, "flags": F_ACK_NOW},
         lambda m: [r["type"] for r in m["records"]] == ["raw_page", "zero_run", "fragment"]
         and all(r.get("crc_ok", True) for r in m["records"])
         and m["records"][0]["crc"] == crc32c(page) and m["records"][0]["uniform"]
         and m["records"][1]["npages"] == 8 and m["records"][2]["frag_off"] == 8),
        ("ack", back, ack_payload(1000, 12345, [(1005, 1010), (1020, 1021)]), {},
         lambda m: m["cum_ack"] == 1000 and m["sack"] == [[1005, 1010], [1020, 1021]]),
        ("fin", ch1, fin_payload(77, 10, 3, 4096), {},
         lambda m: m["end_seq"] == 77 and m["zero_pages"] == 3),
        ("commit", ctl, commit_payload(COMMIT_GO, 1 << 28), {},
         lambda m: m["flags"] == COMMIT_GO and m["digest"] == "00" * 32),
        ("abort", ctl, reason_payload(R_CANCELLED, "forged"), {},
         lambda m: m["reason_name"] == "cancelled" and m["text"] == "forged"),
        ("keepalive", ctl, b"", {}, lambda m: m == {}),
        ("dict", ctl, dict_payload(7, 3000, 1024, b"x" * 100), {},
         lambda m: m["len"] == 100 and m["offset"] == 1024),
    ]
    frames = []
    for name, fl, payload, kw, pred in cases:
        auth = os.urandom(AUTH_LEN)
        fr = build_frame(fl, T[name], payload, tstamp=424242, auth=auth, **kw)
        frames.append(fr)
        f = parse_frame(fr, verify_records=True)
        ok(f["type"] == name and f["check_ok"], name + ": type and frame check")
        ok(f["session"] == "0x%016x" % sess and f["channel"] == fl.channel and
           f["sport"] == fl.sport and f["dport"] == fl.dport and f["version"] == VERSION
           and f["auth"] == auth.hex() and f["tstamp"] == 424242 and f["udp_csum"] == 0
           and f["df"] and f["ttl"] == 64, name + ": header fields")
        ok(f["seq"] == kw.get("seq", 0) and f["flags"] == kw.get("flags", 0), name + ": seq")
        ok(pred(f["msg"]), name + ": payload fields")
        ok(classify(fr) == name, name + ": classify")
        ok(inet_sum(fr[IP_OFF:IP_OFF + 20]) == 0xFFFF, name + ": IPv4 checksum")
        # The frame check covers the header and the covered payload, not auth
        # alone: flip a covered byte, it must fail; a DATA page byte is not.
        bad = bytearray(fr)
        bad[HDR_OFF + 16] ^= 1
        ok(not parse_frame(bytes(bad), decode=False)["check_ok"], name + ": check covers seq")
    # DATA: a record payload byte is not covered by the frame check (its record CRC is).
    bad = bytearray(frames[3])
    bad[PAYLOAD_OFF + 3 * REC.size + 100] ^= 1
    f = parse_frame(bytes(bad), verify_records=True)
    ok(f["check_ok"] and not f["msg"]["records"][0]["crc_ok"], "data: record CRC catches a page byte")
    # Version 1: no frame check, a UDP checksum.
    fr = build_frame(ctl, T["hello"], hello_payload(named=False), version=VERSION_LEGACY)
    f = parse_frame(fr)
    ok(f["check"] == 0 and f["udp_csum"] != 0 and f["check_ok"], "version 1 framing")
    # A copied version byte (the version-4 migration): still a valid frame check.
    f = parse_frame(build_frame(ctl, T["abort"], reason_payload(9, "x"), version=4))
    ok(f["version"] == 4 and f["check_ok"], "version copied into a frame")
    # Errors are reported, not raised past parse_frame's contract.
    for mut, why in ((lambda b: b.__setitem__(HDR_OFF, 0), "BAD_MAGIC"),
                     (lambda b: b.__setitem__(IP_OFF + 10, b[IP_OFF + 10] ^ 1), "BAD_IP_CSUM"),
                     (lambda b: b.__setitem__(HDR_OFF + 3, 0), "UNKNOWN_TYPE")):
        b = bytearray(frames[0])
        mut(b)
        try:
            parse_frame(bytes(b))
            ok(False, why)
        except WireError as e:
            ok(e.reason == why, why)
    # pcap round trip.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.pcap")
        w = PcapWriter(path)
        for fr in frames:
            w.write(fr)
        w.close()
        ok([fr for _t, fr in pcap_read(path)] == frames, "pcap round trip")
    ok(len(bpf_ipv4_udp(ip_d, ip_s)) == 11 and len(bpf_ipv4_udp(ip_s)) == 8, "BPF programs")
    print(json.dumps({"selftest": "ok", "checks": checks}))
    return 0

# ===========================================================================
# command line
# ===========================================================================


def main(argv=None):
    p = argparse.ArgumentParser(prog="attack.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", metavar="{forge,capture,replay,decode,selftest}")
    sub.required = True

    def rate(s):
        v = float(s[:-2] if s.endswith("/s") else s)
        if v < 0:
            raise argparse.ArgumentTypeError("a rate is >= 0")
        return v

    def num(s):
        return int(s, 0)

    def size(s):  # bytes: 4096, 0x100000, 256M (K, M, G: 1024-based)
        mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(s[-1:].lower(), 1)
        try:
            return int(s[:-1] if mult > 1 else s, 0) * mult
        except ValueError:
            raise argparse.ArgumentTypeError("not a size: %r (4096, 0x1000, 256M)" % s)

    def listof(allowed):
        def parse(s):
            items = [x.strip() for x in s.split(",") if x.strip()]
            bad = [x for x in items if x not in allowed]
            if bad or not items:
                raise argparse.ArgumentTypeError(
                    "unknown %s (known: %s)" % (",".join(bad) or "empty list", ",".join(allowed)))
            return items
        return parse

    f = sub.add_parser("forge", help="learn the session from the destination's ACKs and "
                       "inject forged frames toward the destination")
    f.add_argument("--iface", required=True)
    f.add_argument("--duration", type=float, required=True,
                   help="seconds, learning included: injection starts at the first ACK")
    f.add_argument("--rate", type=rate, default=200.0, help="forged frames per second (all kinds)")
    f.add_argument("--kinds", type=listof(["data", "abort", "commit", "hello", "hello_live",
                                           "hello_old"]),
                   default=["data", "abort", "commit", "hello"])
    f.add_argument("--dst-ip", default="198.18.0.2", help="the destination migdp")
    f.add_argument("--src-ip", default="198.18.0.1",
                   help="the source migdp (its HELLO and DATA, seen outgoing, are read)")
    f.add_argument("--ctl-port", type=int, default=0,
                   help="destination's control port (default: ACK port - 1 - channel)")
    f.add_argument("--gpa-base", type=size, default=0)
    f.add_argument("--gpa-size", type=size, default=None,
                   help="bytes (default: the regions of a sniffed HELLO, else 16 MiB)")
    f.add_argument("--block-pages", type=num, default=0,
                   help="partition block (default: the sniffed HELLO's)")
    f.add_argument("--nchannels", type=int, default=0,
                   help="channel count (default: the sniffed HELLO's)")
    f.add_argument("--seq-span", type=int, default=64,
                   help="DATA seq in [cum_ack, cum_ack + span)")
    f.add_argument("--pattern", type=num, default=0xA5, help="byte the forged page is made of")
    f.add_argument("--vm", default="attack-vm", help="VM name of forged HELLOs")
    f.add_argument("--abort-text", default="forged abort (attack.py)")
    f.add_argument("--commit-flags", type=lambda s: [int(x, 0) for x in s.split(",")],
                   default=[COMMIT_READY | COMMIT_VERIFIED, COMMIT_GO, COMMIT_CONFIRM],
                   help="COMMIT flags in turn (default 0x3,0x4,0x8)")
    f.add_argument("--version", type=num, default=None,
                   help="version byte (default: copied from the sniffed ACKs)")
    f.add_argument("--mtu", type=int, default=0, help="IP MTU (default: the interface's)")

    c = sub.add_parser("capture", help="save the source's frames to a pcap file")
    c.add_argument("--iface", required=True)
    c.add_argument("--duration", type=float, required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--src-ip", default="198.18.0.1")

    r = sub.add_parser("replay", help="re-send the frames of a pcap file unchanged")
    r.add_argument("--iface", required=True)
    r.add_argument("--in", dest="inp", required=True)
    r.add_argument("--rate", type=rate, default=1000.0, help="frames per second, 0 = no pause")
    r.add_argument("--types", type=listof(list(TYPES.values()) + ["other"]), default=None)

    d = sub.add_parser("decode", help="print each frame of a pcap file as one JSON line")
    d.add_argument("--in", dest="inp", required=True)

    sub.add_parser("selftest", help="CRC32C vectors; build and parse one frame of each kind")

    a = p.parse_args(argv)
    if getattr(a, "iface", None) and not os.path.exists("/sys/class/net/%s" % a.iface):
        p.error("no interface %s (in this network namespace)" % a.iface)
    if a.cmd == "forge":
        if a.rate <= 0 or a.duration < 0 or not 1 <= a.seq_span <= 4096 or \
                not 0 <= a.pattern <= 255 or (a.version is not None and not 0 <= a.version <= 255):
            p.error("forge: --rate > 0, --duration >= 0, 1 <= --seq-span <= 4096, "
                    "--pattern and --version a byte")
        if a.gpa_size is not None and (a.gpa_size < PAGE or a.gpa_base < 0):
            p.error("forge: --gpa-size is at least a page")
        if a.block_pages and a.block_pages & (a.block_pages - 1):
            p.error("forge: --block-pages is a power of two")
        if any(x & ~0xF for x in a.commit_flags):
            p.error("forge: COMMIT flags are within 0xf")
        if len(a.vm.encode()) >= VM_NAME_LEN or len(a.abort_text.encode()) >= 60:
            p.error("forge: --vm is at most 31 bytes, --abort-text at most 59")
        for ip in (a.dst_ip, a.src_ip):
            try:
                socket.inet_aton(ip)
            except OSError:
                p.error("forge: bad IPv4 address %s" % ip)
    if a.cmd == "capture" and a.duration < 0:
        p.error("capture: --duration >= 0")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    cmds = {"forge": cmd_forge, "capture": cmd_capture, "replay": cmd_replay,
            "decode": cmd_decode, "selftest": cmd_selftest}
    try:
        return cmds[a.cmd](a)
    except PermissionError as e:
        print("attack.py %s: %s (raw sockets need CAP_NET_RAW)" % (a.cmd, e), file=sys.stderr)
        return 1
    except AssertionError as e:
        print("attack.py selftest: FAILED: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("attack.py %s: %s" % (a.cmd, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
