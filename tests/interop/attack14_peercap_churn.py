#!/usr/bin/python3
"""attack14 (max_subscriptions_per_peer): a legitimate subscriber that
churns (subscribe N, resubscribe the same N, unsubscribe all, subscribe
N new, reconnect on a reused descriptor and subscribe N again) is never
refused while it holds at most N = max_subscriptions_per_peer; the
N+1th is refused and counted once.
Usage: attack14_peercap_churn.py ZRELAY"""
import json
import os
import sys
import time
import zmq

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

N = 200
proc, eps = a.start(["forwarder", "--max-subscriptions-per-peer", str(N),
                     "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "peercap")
ctx = zmq.Context()


def subs():
    return a.stats(eps["control"][0]).get("subscriptions", {})


def settle(want_total, what):
    last = {}

    def once():
        last.update(subs())
        return last.get("total") == want_total and dict(last)
    try:
        return a.wait_for(once, what, 5)
    except a.Fail:
        raise a.Fail("%s: %s" % (what, json.dumps(last)))


fails = []
x = ctx.socket(zmq.XSUB)
x.connect(eps["backend"][0])
for i in range(N):
    x.send(b"\x01a%d" % i)
settle(N, "first N")
for i in range(N):          # duplicates
    x.send(b"\x01a%d" % i)
for i in range(2 * N):      # XSUB counts its own duplicates
    x.send(b"\x00a%d" % (i % N))
settle(0, "all unsubscribed")
for i in range(N):
    x.send(b"\x01b%d" % i)
s = settle(N, "N new after churn")
if s.get("refused_per_peer", 0) != 0:
    fails.append("refused after churn: %r" % s)
x.close(linger=0)
settle(0, "gone")
y = ctx.socket(zmq.XSUB)
y.connect(eps["backend"][0])
for i in range(N):
    y.send(b"\x01c%d" % i)
y.send(b"\x01over")
s = settle(N, "reconnected N")
time.sleep(0.5)
s = subs()
print(json.dumps(s))
if s.get("refused_per_peer") != 1:
    fails.append("refused_per_peer %r, want 1" % s.get("refused_per_peer"))
a.stop(proc)
print("FAIL: " + "; ".join(fails) if fails else "PASS")
sys.exit(1 if fails else 0)
