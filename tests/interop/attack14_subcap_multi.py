#!/usr/bin/python3
"""attack14 (max_subscriptions_per_peer gets around): the per-peer cap
is per connection, so a stranger with max_subscriptions /
max_subscriptions_per_peer connections (10 by default: 10,000 / 1,000)
still takes all of max_subscriptions, and every later subscriber is
refused. FAIL when the legitimate subscriber gets nothing.
Usage: attack14_subcap_multi.py ZRELAY"""
import json
import os
import sys
import time
import zmq

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

CONNS, PER = 10, 1000  # the defaults: max_subscriptions 10,000
proc, eps = a.start(["forwarder", "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "subcapm")
ctx = zmq.Context()
evil = []
for c in range(CONNS):
    x = ctx.socket(zmq.XSUB)
    x.sndhwm = 0
    x.connect(eps["backend"][0])
    for i in range(PER):
        x.send(b"\x01z%d.%d" % (c, i))
    evil.append(x)
a.wait_for(lambda: a.stats(eps["control"][0])["subscriptions"]["total"] >=
           CONNS * PER, "the stranger's subscriptions in", 30)
pub = ctx.socket(zmq.PUB)
pub.connect(eps["frontend"][0])
sub = ctx.socket(zmq.SUB)
sub.connect(eps["backend"][0])
sub.subscribe(b"news")
got = False
end = time.time() + 5
while not got and time.time() < end:
    pub.send(b"news 1")
    got = bool(sub.poll(100))
s = a.stats(eps["control"][0])["subscriptions"]
s.pop("list", None)
print("legit subscriber got its topic: %s; %s" % (got, json.dumps(s)))
a.stop(proc)
print("PASS" if got else "FAIL: %d connections of one stranger locked every "
      "subscriber out" % CONNS)
sys.exit(0 if got else 1)
