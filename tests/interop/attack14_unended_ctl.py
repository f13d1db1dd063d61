#!/usr/bin/python3
"""attack14 (probe item 3 on the side ports): unended.c watches the
frontend and backend only. A raw DEALER peer on a device's control port
(or a forwarder's sync port) sending empty frames with MORE, on and on,
grows the relay ~32x what it sends and is never closed. FAIL when the
relay grew by more than LIMIT_MIB with the connection still open.
Usage: attack14_unended_ctl.py ZRELAY [control|sync] [MIB_SENT LIMIT_MIB]"""
import os
import socket
import sys
import time
import zmq

ZRELAY = sys.argv[1]
ROLE = sys.argv[2] if len(sys.argv) > 2 else "control"
MIB = int(sys.argv[3]) if len(sys.argv) > 3 else 16
LIMIT = int(sys.argv[4]) if len(sys.argv) > 4 else 256
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) >> 10
    return -1


args = ["forwarder", "--control", "tcp://127.0.0.1:*"]
if ROLE == "sync":
    args += ["--sync", "tcp://127.0.0.1:*"]
proc, eps = a.start(args + ["tcp://127.0.0.1:*", "tcp://127.0.0.1:*"],
                    "side" + ROLE)
host, port = eps[ROLE][0][len("tcp://"):].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
g = bytearray(64)
g[0], g[9], g[10] = 0xff, 0x7f, 3
g[12:16] = b"NULL"
s.sendall(bytes(g))
s.sendall(b"\x04\x1c\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER")
got = b""
while b"READY" not in got:
    got += s.recv(512)
before = rss_mib(proc.pid)
chunk = b"\x01\x00" * (1 << 19)
sent = 0
closed = False
s.settimeout(20)
try:
    for _ in range(MIB):
        s.sendall(chunk)
        sent += 1
except OSError:
    closed = True
time.sleep(12)  # longer than a look
s.setblocking(False)
try:
    closed = closed or s.recv(1) == b""
except BlockingIOError:
    pass
except OSError:
    closed = True
after = rss_mib(proc.pid)
print("%s port: sent %d MiB of empty frames; closed %s; relay RSS %d -> %d "
      "MiB (+%d)" % (ROLE, sent, closed, before, after, after - before))
a.stop(proc)
ok = closed or after - before <= LIMIT
print("PASS" if ok else "FAIL: memory grew by %d MiB, bound %d, not closed"
      % (after - before, LIMIT))
sys.exit(0 if ok else 1)
