#!/usr/bin/python3
"""Writes a pcap for flood.lua: N TCP SYNs to 192.0.2.10:888 (the first
knock step), each from a different source in 10.16.0.0/12 (10.16.0.1 upwards,
skipping .0 and .255), 60-byte frames with correct checksums. pktgen replays
it frame by frame, so the flood has N distinct sources; pktgen's range mode
cannot (it builds each packet once per mbuf and cycles through a pool's worth).
Usage: make_flood_pcap.py N OUT.pcap
"""
import struct
import sys


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    dst = bytes([192, 0, 2, 10])
    eth = bytes.fromhex("020000000001" "020000000002" "0800")
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        addr = 0x0A100001  # 10.16.0.1: clear of knockgate.toml's trusted 10.1.0.0/16
        for i in range(n):
            while (addr & 0xFF) in (0, 255):
                addr += 1
            src = struct.pack("!I", addr)
            addr += 1
            sport = 1024 + i % 60000
            ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0, 64, 6, 0, src, dst))
            ip[10:12] = struct.pack("!H", 0xFFFF - fold(sum(struct.unpack("!10H", ip))))
            tcp = bytearray(struct.pack("!HHIIBBHHH", sport, 888, i, 0, 5 << 4, 0x02, 65535, 0, 0))
            pseudo = src + dst + struct.pack("!BBH", 0, 6, 20)
            tcp[16:18] = struct.pack("!H", 0xFFFF - fold(sum(struct.unpack("!16H", pseudo + tcp))))
            frame = eth + bytes(ip) + bytes(tcp) + bytes(6)  # padded to 60 bytes
            f.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
