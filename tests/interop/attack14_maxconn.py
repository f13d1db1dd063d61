#!/usr/bin/python3
"""attack14: --max-connections 3 at its edge: a 4th and 5th connection are
refused and counted, the 3 first keep working, and once one leaves a new
one gets in (the count goes down). Raw sockets that RST mid-greeting must
not leak slots. Usage: attack14_maxconn.py ZRELAY"""
import json
import os
import socket
import struct
import sys
import time
import zmq

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

proc, eps = a.start(["streamer", "--max-connections", "3", "--control",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*"], "maxconn")
fe, be = eps["frontend"][0], eps["backend"][0]
host, port = fe[6:].rsplit(":", 1)
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect(be)
# churn first: 300 raw connections that RST mid-greeting
for i in range(int(os.environ.get("CHURN", "300"))):
    k = socket.create_connection((host, int(port)))
    k.sendall(b"\xff\0\0\0")
    k.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    k.close()
time.sleep(1)


def through(s, tag, secs=3):
    end = time.time() + secs
    while time.time() < end:
        try:
            s.send(tag, zmq.NOBLOCK)
        except zmq.Again:
            pass
        while pull.poll(50):
            if pull.recv() == tag:
                return True
    return False


pushes = []
for i in range(5):
    s = ctx.socket(zmq.PUSH)
    s.linger = 0
    s.connect(fe)
    pushes.append(s)
    time.sleep(0.2)
res = [through(s, b"p%d" % i, 2) for i, s in enumerate(pushes)]
print("through per client (3 allowed):", res)
pushes[0].close()
# The two refused ones wait (a refusal over the limit is temporary: they
# reconnect after the relay's handshake timeout) and would take the
# freed slot first; closed, their connections go at once.
for s in pushes[3:]:
    s.close()
time.sleep(0.5)
late = ctx.socket(zmq.PUSH)
late.connect(fe)
late_ok = through(late, b"late", 5)
st = json.dumps(a.stats(eps["control"][0]))
i = st.find('"refused"')
print("after one left, a new one through: %s; %s" % (late_ok, st[i:i + 50]))
ok = res[:3] == [True] * 3 and late_ok and not any(res[3:])
if any(res[3:]):
    print("clients over max_connections delivered messages")
a.stop(proc)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
