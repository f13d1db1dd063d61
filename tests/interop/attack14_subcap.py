#!/usr/bin/python3
"""attack14: max_subscriptions is one cap for the whole forwarder: one
stranger's XSUB that sends N distinct (small, valid) subscriptions takes
all of it, and every later subscriber's subscription is refused: it gets
nothing, and (over 100 refused held) is disconnected itself.
Usage: attack14_subcap.py ZRELAY"""
import json
import os
import sys
import time
import zmq

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

N = 10000  # the default max_subscriptions
proc, eps = a.start(["forwarder", "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "subcap")
ctx = zmq.Context()
evil = ctx.socket(zmq.XSUB)
evil.sndhwm = 0
evil.connect(eps["backend"][0])
for i in range(N):
    evil.send(b"\x01z%d" % i)
pub = ctx.socket(zmq.PUB)
pub.connect(eps["frontend"][0])
for _ in range(50):
    if json.dumps(a.stats(eps["control"][0])).find("\"total\": %d" % N) >= 0:
        break
    time.sleep(0.2)
sub = ctx.socket(zmq.SUB)
sub.connect(eps["backend"][0])
sub.subscribe(b"news")
got = False
end = time.time() + 5
while not got and time.time() < end:
    pub.send(b"news 1")
    got = bool(sub.poll(100))
st = json.dumps(a.stats(eps["control"][0]))
i = st.find("subscriptions")
print("legit subscriber got its topic: %s; %s" % (got, st[i - 1:i + 200]))
a.stop(proc)
print("PASS" if got else "FAIL: one stranger locked every subscriber out")
sys.exit(0 if got else 1)
