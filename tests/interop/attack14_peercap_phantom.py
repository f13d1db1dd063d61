#!/usr/bin/python3
"""attack14 (max_subscriptions_per_peer, subs.c): libzmq's unsubscribes
for a departed subscriber name no connection, and subs.c ends a REFUSED
one of the topic first. With per-peer refusals that misattributes: A
holds "x" (accepted), B holds "x" refused (over its per-peer cap); A
leaves, its anonymous unsubscribe ends B's refused one, and A's accepted
"x" stays counted (total, the upstream subscription) for as long as B
stays connected. FAIL when total is not 1 (B's own) after A left.
Usage: attack14_peercap_phantom.py ZRELAY"""
import json
import os
import sys
import time
import zmq

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

proc, eps = a.start(["forwarder", "--max-subscriptions-per-peer", "1",
                     "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "phantom")
ctx = zmq.Context()


def subs():
    return a.stats(eps["control"][0]).get("subscriptions", {})


A = ctx.socket(zmq.XSUB)
A.connect(eps["backend"][0])
A.send(b"\x01x")
a.wait_for(lambda: subs().get("total") == 1, "A's x accepted")
B = ctx.socket(zmq.XSUB)
B.connect(eps["backend"][0])
B.send(b"\x01junk")
a.wait_for(lambda: subs().get("total") == 2, "B's junk accepted")
B.send(b"\x01x")
a.wait_for(lambda: subs().get("refused_per_peer") == 1, "B's x refused")
A.close(linger=0)
a.wait_for(lambda: a.stats(eps["control"][0])["backend"]["connections"]
           ["disconnected"] >= 1, "A gone")
time.sleep(1.0)  # libzmq's unsubscribes for A, then a look
s = subs()
print("after A left, B connected: total %s, list %s" %
      (s.get("total"), json.dumps(s.get("list"))))
ok = s.get("total") == 1
B.close(linger=0)
a.stop(proc)
print("PASS" if ok else "FAIL: A's x still counted after A left")
sys.exit(0 if ok else 1)
