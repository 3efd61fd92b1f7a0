#!/usr/bin/env python3
"""make_issue12.py - write the hand-made fixtures of issue 12 into tests/data.

Not captures: every octet is computed here from RFC 5905 (mode 4), RFC 1305
appendix B (mode 6), RFC 8573 (AES-CMAC) and the shapes the captured daemons
use (tests/data/README.md). Run from anywhere; needs python3-cryptography for
the AES-CMAC. The output is deterministic: rerunning rewrites the same files.

    m6_sysvars_reply.hex        READVAR ntppool_verify,stratum,refid answered
                                (m6_sysvars_unsynced.hex, the same from the
                                unsynchronised NTPsec 1.2.2, is a capture)
    m6_fragshape_<D>.hex        fragment sets, D = data length before CR LF
    ntp3_kiss_rate_signed_aes128.hex / _sha1.hex   signed RATE kisses
    ntp3_auth_unsynced_aes128.hex                  keyed reply, stratum 0 INIT
"""
import hashlib
import os

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

HERE = os.path.dirname(os.path.abspath(__file__))
XMT = 0xE00000379ECEDF01          # the V6 capture's transmit timestamp
AES_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")  # RFC 4493
SHA1_KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233")
KEY_ID = 42
TOKEN = b"tok-3f9a1c2b7d"


def hexlines(data, width=32):
    h = data.hex()
    return "\n".join(h[i:i + 2 * width] for i in range(0, len(h), 2 * width))


def write(name, comment, packets):
    with open(os.path.join(HERE, name), "w") as f:
        for line in comment:
            f.write("# " + line + "\n")
        f.write("\n--\n".join(hexlines(p) for p in packets) + "\n")


def m6_reply(seq, offset, data, more):
    """A READVAR response datagram: LI 3, VN 2, R set, status 0xc016 (the
    captured daemons are unsynchronised), association 0."""
    op = 0x80 | (0x20 if more else 0) | 0x02
    hdr = bytes([0xD6, op]) + seq.to_bytes(2, "big") + b"\xc0\x16" + \
        b"\x00\x00" + offset.to_bytes(2, "big") + len(data).to_bytes(2, "big")
    pad = (-len(data)) % 4
    return hdr + data + b"\x00" * pad


def fragments(item):
    """Split one item the way the shapes of issue 12 come out: while the
    rest and 3 octets of trailer do not fit in the 468 left, send what fits
    (at most 468) with M set; the final fragment is the rest plus CR LF."""
    frags, rest = [], item
    while len(rest) + 3 > 468:
        n = min(len(rest), 468)
        frags.append(rest[:n])
        rest = rest[n:]
    frags.append(rest + b"\r\n")
    return frags


def fragshape(d):
    name = b"longvar="
    value = bytes((ord("a") + i % 26) for i in range(d - len(name)))
    frags = fragments(name + value)
    pkts, off = [], 0
    for i, fr in enumerate(frags):
        pkts.append(m6_reply(0x2A2A, off, fr, i + 1 < len(frags)))
        off += len(fr)
    sizes = ", ".join(str(len(f)) for f in frags)
    write("m6_fragshape_%d.hex" % d, [
        "READVAR longvar reply, seq 0x2a2a, item longvar=<%d octets> "
        "(%d octets of data before the CR LF)" % (d - len(name), d),
        "fragments of %s data octets; the last ends in CR LF" % sizes,
        "Hand-made by tests/data/make_issue12.py (issue 12 fragment "
        "shapes); not a capture",
    ], pkts)


def ntp4(li_vn_mode, stratum, poll, prec, rootdelay, rootdisp, refid,
         ref, org, rec, xmt):
    return bytes([li_vn_mode, stratum, poll & 0xFF, prec & 0xFF]) + \
        rootdelay.to_bytes(4, "big") + rootdisp.to_bytes(4, "big") + refid + \
        ref.to_bytes(8, "big") + org.to_bytes(8, "big") + \
        rec.to_bytes(8, "big") + xmt.to_bytes(8, "big")


def mac_aes(hdr):
    c = cmac.CMAC(algorithms.AES(AES_KEY))
    c.update(hdr)
    return KEY_ID.to_bytes(4, "big") + c.finalize()


def mac_sha1(hdr):
    return KEY_ID.to_bytes(4, "big") + hashlib.sha1(SHA1_KEY + hdr).digest()


def main():
    write("m6_sysvars_reply.hex", [
        "READVAR ntppool_verify,stratum,refid answered, seq 1: "
        "stratum=2, refid=192.0.2.1, ntppool_verify=tok-3f9a1c2b7d\\r\\n",
        "Hand-made by tests/data/make_issue12.py in the shape of the "
        "NTPsec 1.2.2 capture m6_sysvars_unsynced.hex; not a capture",
    ], [m6_reply(1, 0, b"stratum=2, refid=192.0.2.1, ntppool_verify=" +
                 TOKEN + b"\r\n", False)])
    for d in list(range(466, 471)) + list(range(934, 939)):
        fragshape(d)
    # RATE kiss as 4.2.8p15 sends it (LI 3, VN 4, poll 3, org=rec=xmt).
    kiss = ntp4(0xE4, 0, 3, 0, 0, 0, b"RATE", 0, XMT, XMT, XMT)
    write("ntp3_kiss_rate_signed_aes128.hex", [
        "RATE kiss to a keyed request, signed: key ID 42, AES-128-CMAC "
        "under 2b7e151628aed2a6abf7158809cf4f3c (68 octets)",
        "org=rec=xmt=0xe00000379ecedf01, the shape of the 4.2.8p15 capture "
        "ntp3_v6_kod_rate.hex",
        "Hand-made by tests/data/make_issue12.py; not a capture",
    ], [kiss + mac_aes(kiss)])
    write("ntp3_kiss_rate_signed_sha1.hex", [
        "RATE kiss to a keyed request, signed: key ID 42, SHA1(key || "
        "packet) under 00112233445566778899aabbccddeeff00112233 (72 octets)",
        "Hand-made by tests/data/make_issue12.py; not a capture",
    ], [kiss + mac_sha1(kiss)])
    # The captured unsynchronised 4.2.8p15 reply, MAC'd.
    init = bytes.fromhex(
        "e40003e80000000000000036494e49540000000000000000e00000379ecedf01"
        "eeb7dc2790e4c6d2eeb7dc27921cfafb")
    write("ntp3_auth_unsynced_aes128.hex", [
        "keyed reply from an unsynchronised server: LI 3, stratum 0, refid "
        "INIT (header of ntp3_v6_reply_init.hex), origin 0xe00000379ecedf01",
        "MAC: key ID 42, AES-128-CMAC under 2b7e151628aed2a6abf7158809cf4f3c "
        "(68 octets)",
        "Hand-made by tests/data/make_issue12.py; not a capture",
    ], [init + mac_aes(init)])


if __name__ == "__main__":
    main()
