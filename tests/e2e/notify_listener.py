#!/usr/bin/env python3
"""Stands in for systemd's notify socket: binds PATH, appends each datagram
it receives to OUT as one line (newlines inside shown as ' | ')."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(4096).decode("utf-8", "replace")
        f.write(data.replace("\n", " | ") + "\n")
