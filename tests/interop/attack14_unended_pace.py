#!/usr/bin/python3
"""attack14 (unended.c false negative): CONNS raw ZMTP PUSH peers each
send empty frames with MORE set, paced at KIB KiB/s, for SECONDS s, to a
streamer with --max-msg-bytes 1M. Each stays under what one look (10 s
at most) lets a connection receive (max_msg_bytes + headers + SO_RCVBUF)
and every new look starts each connection's window afresh, so none is
ever closed while the relay's memory grows ~32x what they send, without
bound. FAIL when the relay grew by more than LIMIT_MIB with no close.
Usage: attack14_unended_pace.py ZRELAY [CONNS KIB SECONDS LIMIT_MIB]"""
import json
import os
import socket
import sys
import time
import zmq

ZRELAY = sys.argv[1]
CONNS, KIB, SECONDS, LIMIT = (list(map(int, sys.argv[2:6])) +
                              [10, 80, 40, 256][len(sys.argv[2:6]):])
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
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "pace")
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect(eps["backend"][0])
push = ctx.socket(zmq.PUSH)
push.connect(eps["frontend"][0])
push.send(b"warm")
pull.recv()
host, port = eps["frontend"][0][len("tcp://"):].rsplit(":", 1)
peers = []
for _ in range(CONNS):
    s = socket.create_connection((host, int(port)))
    g = bytearray(64)
    g[0], g[9], g[10] = 0xff, 0x7f, 3
    g[12:16] = b"NULL"
    s.sendall(bytes(g))
    s.sendall(b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH")
    got = b""
    while b"READY" not in got:
        got += s.recv(512)
    s.setblocking(False)
    peers.append(s)
before = rss_mib(proc.pid)
chunk = b"\x01\x00" * 512  # 512 empty frames with MORE: 1 KiB
start = time.time()
sent = [0] * CONNS
closed = [False] * CONNS
legit_ok = True
while time.time() - start < SECONDS:
    due = int((time.time() - start) * KIB)
    for i, s in enumerate(peers):
        while not closed[i] and sent[i] < due:
            try:
                n = s.send(chunk)
                sent[i] += n >> 10
            except BlockingIOError:
                break
            except OSError:
                closed[i] = True
    push.send(b"legit")
    legit_ok = legit_ok and pull.poll(5000) and pull.recv() == b"legit"
    time.sleep(0.05)
after = rss_mib(proc.pid)
st = a.stats(eps["control"][0])
unended = st["frontend"]["connections"]["closed"]["unended"]
print("%d connections x %d KiB/s x %d s: sent %d KiB each (max), closed %d "
      "(closed.unended %d); relay RSS %d -> %d MiB (+%d); legit %s" %
      (CONNS, KIB, SECONDS, max(sent), sum(closed), unended, before, after,
       after - before, "ok" if legit_ok else "FAILED"))
a.stop(proc)
ok = after - before <= LIMIT or unended > 0
print("PASS" if ok else "FAIL: memory grew by %d MiB, bound %d, none closed"
      % (after - before, LIMIT))
sys.exit(0 if ok else 1)
