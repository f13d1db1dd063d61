#!/usr/bin/python3
"""attack14 (issue 14, probe item 3, unended.c): a LEGITIMATE producer
sends one single-frame message bigger than max_msg_bytes + the kernel's
receive buffer over a paced (slow) link. max_msg_bytes bounds multipart
messages only and a streamer bound on loopback takes frames of any size
(max_msg_size unset), so the message is valid and must be delivered;
the unended guard must not close its connection.
Usage: attack14_unended_bigframe.py ZRELAY [MIB [MIB_PER_S]]"""
import json
import os
import socket
import struct
import sys
import time
import zmq

ZRELAY = sys.argv[1]
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 200
RATE = int(sys.argv[3]) if len(sys.argv) > 3 else 40
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

proc, eps = a.start(["streamer", "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "bigframe")
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect(eps["backend"][0])
host, port = eps["frontend"][0][len("tcp://"):].rsplit(":", 1)

# A ZMTP 3.0 NULL PUSH peer, paced: one frame of MIB MiB, no MORE.
s = socket.create_connection((host, int(port)))
greeting = bytearray(64)
greeting[0], greeting[9], greeting[10] = 0xff, 0x7f, 3
greeting[12:16] = b"NULL"
s.sendall(bytes(greeting))
s.sendall(b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH")
got = b""
end = time.time() + 10
while b"READY" not in got and time.time() < end:
    got += s.recv(512)
size = MIB << 20
s.sendall(b"\x02" + struct.pack(">Q", size))  # LONG, last frame
chunk = b"x" * (1 << 20)
start = time.time()
sent = 0
closed = False
try:
    while sent < size:
        s.sendall(chunk)
        sent += len(chunk)
        ahead = sent / (RATE << 20) - (time.time() - start)
        if ahead > 0:
            time.sleep(ahead)
except OSError as e:
    closed = True
    print("producer's connection failed after %d MiB: %s" % (sent >> 20, e))
delivered = False
if not closed:
    if pull.poll(15000):
        m = pull.recv_multipart()
        delivered = len(m) == 1 and len(m[0]) == size
st = a.stats(eps["control"][0])
conn = st.get("frontend", {}).get("connections", {})
print("sent %d MiB at %d MiB/s; delivered %s; frontend.connections %s" %
      (sent >> 20, RATE, delivered, json.dumps(conn)))
a.stop(proc)
ok = delivered and not closed
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
