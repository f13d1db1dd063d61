#!/usr/bin/python3
"""attack14 (unended.c false negative): a streamer whose consumers are
gone (or stalled; an attacker can be the only consumer and never read)
holds a message, so its frontend direction is parked and unended.c
starts every window afresh: a raw peer's endless message (empty frames
with MORE) grows the relay's memory without bound and is never closed,
though issue 14.3 asks for memory bounded "even while the destination
is blocked". FAIL when the relay grew by more than LIMIT_MIB, none closed.
Usage: attack14_unended_parked.py ZRELAY [MIB_SENT LIMIT_MIB]"""
import os
import socket
import sys
import time
import zmq

ZRELAY = sys.argv[1]
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 24
LIMIT = int(sys.argv[3]) if len(sys.argv) > 3 else 256
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) >> 10
    return -1


proc, eps = a.start(["streamer", "--max-msg-bytes", "1M",
                     "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "parked")
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)
push.connect(eps["frontend"][0])
push.send(b"held: no consumer")  # the outlet holds it: parked
a.wait_for(lambda: a.stats(eps["control"][0])["frontend"]["msgs_in"] >= 1,
           "the message read")
host, port = eps["frontend"][0][len("tcp://"):].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
g = bytearray(64)
g[0], g[9], g[10] = 0xff, 0x7f, 3
g[12:16] = b"NULL"
s.sendall(bytes(g))
s.sendall(b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH")
got = b""
while b"READY" not in got:
    got += s.recv(512)
before = rss_mib(proc.pid)
chunk = b"\x01\x00" * (1 << 19)  # 1 MiB of empty frames with MORE
closed = False
sent = 0
s.settimeout(20)
try:
    for _ in range(MIB):
        s.sendall(chunk)
        sent += 1
except OSError:
    closed = True
end = time.time() + 15  # longer than a look (10 s)
while time.time() < end:
    time.sleep(0.5)
after = rss_mib(proc.pid)
unended = a.stats(eps["control"][0])["frontend"]["connections"]["closed"][
    "unended"]
print("consumer-less streamer: sent %d MiB of empty frames; write failed "
      "%s; closed.unended %d; relay RSS %d -> %d MiB (+%d)" %
      (sent, closed, unended, before, after, after - before))
a.stop(proc)
ok = after - before <= LIMIT or unended > 0
print("PASS" if ok else "FAIL: memory grew by %d MiB, bound %d, none closed"
      % (after - before, LIMIT))
sys.exit(0 if ok else 1)
