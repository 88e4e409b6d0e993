#!/usr/bin/python3
"""Writes the throughput harness's traffic-mix pcaps: PROFILE-SIZE.pcap.

Profiles (all WAN-arriving, against perf/harness.toml):
  trusted  flows from sources in the static "trusted" list (forwarded)
  flood    random sources at closed ports (dropped by wan-default)
  knock    stage-one knocks (tcp/888) from random sources (list inserts)
  l7knock  UDP passphrase knocks from random sources (Hyperscan on each)
  mix      70% trusted, 20% flood, 8% knock, 2% l7knock
  spaflood 90% trusted, 10% forged SPA packets (a real fwknop packet with its
           HMAC broken) from random sources at udp/62201
Sizes are Ethernet frame sizes without FCS: 64, 512, 1518 (60, 508, 1514 here).
Usage: gen_traffic.py OUTDIR [PACKETS]
"""
import os
import random
import sys

from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap

SERVER = "192.0.2.10"


def eth():
    return Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")


def rand_src(rng):
    return "10.%d.%d.%d" % (rng.randrange(2, 250), rng.randrange(256), rng.randrange(1, 255))


def frame(kind, rng, size):
    if kind == "trusted":
        pkt = eth() / IP(src="10.1.%d.%d" % (rng.randrange(256), rng.randrange(1, 255)), dst=SERVER) / \
            TCP(sport=rng.randrange(1024, 65535), dport=443, flags="A")
    elif kind == "flood":
        pkt = eth() / IP(src=rand_src(rng), dst=SERVER) / TCP(sport=rng.randrange(1024, 65535),
                                                              dport=rng.choice([22, 80, 443, 3389]),
                                                              flags="S")
    elif kind == "knock":
        pkt = eth() / IP(src=rand_src(rng), dst=SERVER) / TCP(sport=rng.randrange(1024, 65535),
                                                              dport=888, flags="S")
    elif kind == "spa":
        pkt = eth() / IP(src=rand_src(rng), dst=SERVER) / UDP(sport=rng.randrange(1024, 65535),
                                                              dport=62201) / Raw(FORGED_SPA)
    else:  # l7knock
        pkt = eth() / IP(src=rand_src(rng), dst=SERVER) / UDP(sport=rng.randrange(1024, 65535),
                                                              dport=888) / Raw(b"passphrase/\n")
    pad = size - 4 - len(pkt)  # the sizes include the 4-byte FCS
    if pad > 0:
        if kind in ("l7knock", "spa"):
            pkt = eth() / pkt[IP]  # keep the passphrase exact: pad after the IP packet
            return Ether(bytes(pkt) + b"\0" * pad)
        pkt = pkt / Raw(b"\0" * pad)
    return pkt


MIX = [("trusted", 70), ("flood", 20), ("knock", 8), ("l7knock", 2)]
SPA_MIX = [("trusted", 90), ("spa", 10)]


def forged_spa():
    """A packet the real fwknop client made (tests/data/spa), its HMAC broken."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "tests", "data", "spa", "vectors.tsv")) as f:
        payload = bytearray(f.readline().rstrip("\n").split("\t")[2].encode())
    payload[-2] = ord("B") if payload[-2] == ord("A") else ord("A")
    return bytes(payload)


FORGED_SPA = forged_spa()


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
    os.makedirs(out, exist_ok=True)
    for size in (64, 512, 1518):
        for profile in ("trusted", "flood", "knock", "l7knock", "mix", "spaflood"):
            rng = random.Random(size * 7 + len(profile))
            mix = MIX if profile == "mix" else SPA_MIX
            kinds = [profile] * count if profile not in ("mix", "spaflood") else \
                rng.choices([k for k, _ in mix], weights=[w for _, w in mix], k=count)
            wrpcap(os.path.join(out, "%s-%d.pcap" % (profile, size)), [frame(k, rng, size) for k in kinds])


if __name__ == "__main__":
    main()
