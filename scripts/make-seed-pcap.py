#!/usr/bin/python3
"""Writes tests/data/seed.pcap: the seed recipe's story as WAN-side traffic.

A scanner probes, a client knocks 888 -> 555 -> 222 and reaches the web
server, a second client knocks in the wrong order, a third knocks with the
UDP passphrase, plus ARP and an IPv4 fragment aimed at a knock port.
Timestamps are part of the story: knockgate --replay uses them as its clock.
Run with Debian's /usr/bin/python3 (python3-scapy).
"""
import sys

from scapy.all import ARP, IP, TCP, UDP, Ether, Raw, wrpcap

SERVER = "192.0.2.10"
GW_MAC = "02:00:00:00:00:01"
CLIENT_MAC = "02:00:00:00:00:02"


def eth():
    return Ether(src=CLIENT_MAC, dst=GW_MAC)


def syn(src, dport, sport=40000):
    return eth() / IP(src=src, dst=SERVER) / TCP(sport=sport, dport=dport, flags="S")


def main(out):
    t = 1_700_000_000.0
    story = []

    def at(offset, pkt):
        pkt.time = t + offset
        story.append(pkt)

    scanner, client, wrong, phrase = "203.0.113.66", "198.51.100.7", "198.51.100.8", "198.51.100.9"
    at(0.0, Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=client, pdst=SERVER))
    for i, port in enumerate([22, 80, 443, 8291]):
        at(0.1 + i * 0.01, syn(scanner, port, 50000 + i))
    at(1.0, syn(client, 80))            # closed before the knock
    at(2.0, syn(client, 888))           # knock 1
    at(3.0, syn(client, 555))           # knock 2
    at(4.0, syn(client, 222))           # knock 3: granted
    at(5.0, syn(client, 80, 40001))     # open
    at(6.0, syn(wrong, 555))            # wrong order
    at(6.5, syn(wrong, 888))
    at(7.0, syn(wrong, 222))
    at(7.5, syn(wrong, 80))             # stays closed
    at(8.0, eth() / IP(src=phrase, dst=SERVER) / UDP(sport=40000, dport=888) / Raw(b"password/\n"))
    at(8.5, eth() / IP(src=phrase, dst=SERVER) / UDP(sport=40000, dport=888) / Raw(b"passphrase/\n"))
    at(9.0, syn(phrase, 555))
    at(9.5, syn(phrase, 222))
    at(10.0, syn(phrase, 443))          # open
    # A non-first fragment whose data happens to read like "dst port 888".
    frag = eth() / IP(src=scanner, dst=SERVER, proto=6, frag=100) / Raw(b"\x9c\x40\x03\x78" + b"\x00" * 16)
    at(11.0, frag)
    at(40.0, syn(wrong, 888))           # a late knock: 555 comes after the 30 s window
    at(71.0, syn(wrong, 555))
    at(72.0, syn(wrong, 222))
    at(73.0, syn(wrong, 80))            # closed
    at(4.0 + 1800.0, syn(client, 80, 40002))  # the 30 m grant has ended
    wrpcap(out, story)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/seed.pcap")
