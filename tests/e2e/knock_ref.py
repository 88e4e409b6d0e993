#!/usr/bin/env python3
"""A second, independent implementation of the rotating knock derivation as
the README states it, for the tests: knock_ref.py SECRET PERIOD_NUMBER LO HI
STEPS [EXCLUDED,PORTS] prints the ports, space-separated."""
import hashlib
import hmac
import struct
import sys


def derive(secret, period, lo, hi, steps, excluded=()):
    n = hi - lo + 1
    limit = 65536 - 65536 % n
    ports = []
    counter = 0
    while len(ports) < steps:
        digest = hmac.new(secret, struct.pack(">QI", period, counter), hashlib.sha256).digest()
        for (v,) in struct.iter_unpack(">H", digest):
            if v >= limit:
                continue
            port = lo + v % n
            if port in excluded or port in ports:
                continue
            ports.append(port)
            if len(ports) == steps:
                break
        counter += 1
    return ports


if __name__ == "__main__":
    secret, period, lo, hi, steps = sys.argv[1:6]
    excluded = {int(p) for p in sys.argv[6].split(",")} if len(sys.argv) > 6 else set()
    print(" ".join(str(p) for p in derive(secret.encode(), int(period), int(lo), int(hi),
                                           int(steps), excluded)))
