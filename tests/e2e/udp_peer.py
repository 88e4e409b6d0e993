#!/usr/bin/python3
"""UDP peers for the fragment lab, using the kernel's own fragmentation.

  udp_peer.py serve PORT                 reply to "N" with N bytes, forever
  udp_peer.py ask HOST PORT N...         ask for each N; print "N GOT" per answer
  udp_peer.py count PORT SECONDS         print how many datagrams arrived
  udp_peer.py send HOST PORT N...        send one datagram of each size N
"""
import socket
import sys
import time


def main():
    mode = sys.argv[1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if mode == "serve":
        s.bind(("0.0.0.0", int(sys.argv[2])))
        while True:
            data, peer = s.recvfrom(100)
            s.sendto(b"r" * int(data), peer)
    elif mode == "ask":
        host, port = sys.argv[2], int(sys.argv[3])
        s.settimeout(1.0)
        for n in map(int, sys.argv[4:]):
            got = 0
            for _ in range(3):  # a datagram can be lost; the verdict cannot change
                s.sendto(str(n).encode(), (host, port))
                try:
                    got = len(s.recvfrom(65536)[0])
                    break
                except socket.timeout:
                    pass
            print(n, got, flush=True)
    elif mode == "count":
        s.bind(("0.0.0.0", int(sys.argv[2])))
        s.settimeout(0.2)
        end = time.time() + float(sys.argv[3])
        n = 0
        while time.time() < end:
            try:
                s.recvfrom(65536)
                n += 1
            except socket.timeout:
                pass
        print(n, flush=True)
    elif mode == "send":
        host, port = sys.argv[2], int(sys.argv[3])
        for n in map(int, sys.argv[4:]):
            s.sendto(b"u" * n, (host, port))
            time.sleep(0.05)


if __name__ == "__main__":
    main()
