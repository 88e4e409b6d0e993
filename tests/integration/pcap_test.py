#!/usr/bin/python3
"""net_pcap in -> knockgate -> net_pcap out, byte for byte.

Builds a WAN-side and a LAN-side capture of the seed scenario (knocks, scans,
a secured flow with IPv4 fragments and a VLAN tag, ARP, a passphrase knock,
malformed frames), runs knockgate on two net_pcap ports, and asserts exactly
which frames came out of each port, in order and unchanged.
Usage: pcap_test.py KNOCKGATE SOURCE_ROOT
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import ARP, IP, TCP, UDP, Dot1Q, Ether, Raw, fragment, rdpcap, wrpcap

SERVER = "192.0.2.10"
CLIENT, WRONG, PHRASE, SCANNER = "198.51.100.7", "198.51.100.8", "198.51.100.9", "203.0.113.66"


def eth():
    return Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")


def syn(src, dport, sport=40000):
    return eth() / IP(src=src, dst=SERVER) / TCP(sport=sport, dport=dport, flags="S")


def build():
    """Returns (wan_in, lan_in, expected_lan_out, expected_wan_out)."""
    wan, lan_out = [], []

    def send(pkt, passes):
        wan.append(pkt)
        if passes:
            lan_out.append(pkt)

    send(Ether(src="02:00:00:00:00:02", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=CLIENT, pdst=SERVER), True)
    for i, port in enumerate([22, 80, 443, 8291]):
        send(syn(SCANNER, port, 50000 + i), False)
    send(syn(CLIENT, 80), False)                      # closed before the knock
    send(syn(CLIENT, 888), False)
    send(syn(CLIENT, 555), False)
    send(syn(CLIENT, 222), True)                      # the grant: accepted by the secured rule
    send(syn(CLIENT, 80, 40001), True)                # the secured flow
    big = IP(src=CLIENT, dst=SERVER) / UDP(sport=5000, dport=9000) / Raw(b"x" * 1400)
    for frag in fragment(big, fragsize=600):          # fragments of a secured flow
        send(eth() / frag, True)
    tagged = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / Dot1Q(vlan=100) / \
        IP(src=CLIENT, dst=SERVER) / TCP(sport=40002, dport=443, flags="S")
    send(tagged, True)                                # classified by the inner header, tag kept
    qinq = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01", type=0x88A8) / \
        Dot1Q(vlan=200, type=0x8100) / Dot1Q(vlan=100) / \
        IP(src=CLIENT, dst=SERVER) / TCP(sport=40003, dport=443, flags="S")
    send(qinq, True)                                  # QinQ: both tags kept
    qinq_closed = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01", type=0x88A8) / \
        Dot1Q(vlan=200, type=0x8100) / Dot1Q(vlan=100) / \
        IP(src=WRONG, dst=SERVER) / TCP(sport=40003, dport=443, flags="S")
    send(qinq_closed, False)                          # and the policy still applies inside
    send(syn(WRONG, 555), False)                      # wrong order
    send(syn(WRONG, 888), False)
    send(syn(WRONG, 222), False)
    send(syn(WRONG, 80), False)
    send(eth() / IP(src=PHRASE, dst=SERVER) / UDP(sport=40000, dport=888) / Raw(b"password/\n"), False)
    send(eth() / IP(src=PHRASE, dst=SERVER) / UDP(sport=40000, dport=888) / Raw(b"passphrase/\n"), False)
    send(syn(PHRASE, 555), False)
    send(syn(PHRASE, 222), True)
    # A scanner's later fragment whose data reads like "dst port 888": never a knock.
    send(eth() / IP(src=SCANNER, dst=SERVER, proto=6, frag=100) / Raw(b"\x9c\x40\x03\x78" + b"\0" * 16), False)
    send(syn(SCANNER, 555), False)
    send(syn(SCANNER, 222), False)
    send(syn(SCANNER, 80), False)
    bad = bytearray(bytes(syn(CLIENT, 80)))
    bad[14] = 0x44                                    # IHL 4: malformed, a counted drop
    send(Ether(bytes(bad)), False)

    lan = [
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ARP(op=2, psrc=SERVER, pdst=CLIENT),
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=SERVER, dst=CLIENT) /
        TCP(sport=80, dport=40001, flags="SA"),
    ]
    return wan, lan, lan_out, list(lan)


def main():
    knockgate, root = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="kg-pcap-")
    wan_in, lan_in, want_lan, want_wan = build()
    paths = {n: os.path.join(tmp, n + ".pcap") for n in ("wan_in", "lan_in", "wan_out", "lan_out")}
    wrpcap(paths["wan_in"], wan_in)
    wrpcap(paths["lan_in"], lan_in)
    with open(os.path.join(root, "conf", "knockgate.toml")) as f:
        config = f.read()
    config = config.replace('"net_af_packet0"', '"net_pcap0"').replace('"net_af_packet1"', '"net_pcap1"')
    config = config.replace("mbufs = 65536", "mbufs = 8192")
    config = config.replace('idle-sleep = "20us"', 'idle-sleep = "20us"\nstats-interval = "1s"')
    conf_path = os.path.join(tmp, "knockgate.toml")
    with open(conf_path, "w") as f:
        f.write(config)
    cmd = [knockgate, "-l", "0-1", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
           "--file-prefix", "kgpcap%d" % os.getpid(),
           "--vdev", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (paths["wan_in"], paths["wan_out"]),
           "--vdev", "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (paths["lan_in"], paths["lan_out"]),
           "--", "--config", conf_path]
    out_path = os.path.join(tmp, "stdout")
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        # Wait until the worker has taken in every frame of both captures.
        total = len(wan_in) + len(lan_in)
        deadline = time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            text = open(out_path).read()
            seen = [int(a) + int(b) for a, b in re.findall(r"rx wan=(\d+) lan=(\d+)", text)]
            if seen and seen[-1] >= total:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    log = open(out_path).read()
    failures = []

    def check(what, ok):
        print(("ok   - " if ok else "FAIL - ") + what)
        if not ok:
            failures.append(what)

    check("knockgate exits 0 on SIGINT", rc == 0)
    check("final counters printed", "final counters:" in log)
    check("malformed frame counted as bad_ipv4_header", "bad_ipv4_header=1" in log)
    for side, want in (("lan_out", want_lan), ("wan_out", want_wan)):
        got = [bytes(p) for p in rdpcap(paths[side])] if os.path.getsize(paths[side]) > 24 else []
        want_bytes = [bytes(p) for p in want]
        check("%s: %d frames, want %d" % (side, len(got), len(want_bytes)), len(got) == len(want_bytes))
        check("%s: the expected frames, in order, byte for byte" % side, got == want_bytes)
    check("grant event logged", "list=secured address=%s" % CLIENT in log)
    check("passphrase knock logged", "list=888 address=%s" % PHRASE in log)
    check("no event for the scanner", "address=%s" % SCANNER not in log)
    if failures:
        print(log)
        sys.exit(1)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
