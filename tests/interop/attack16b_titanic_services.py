#!/usr/bin/python3
"""Attack on Titanic (issue 16, second pass): stored requests for more
services than the broker holds (10,000).

usage: attack16b_titanic_services.py ZRELAY

A stored request waits in its service's queue for as long as it takes,
so its service stays. A client stores one titanic.request for each of
10,050 service names, with no worker anywhere. A request the broker
cannot queue (no room for its service) must not be acknowledged: every
"200" must be a request that waits for a worker (majordomo
requests.waiting == titanic requests.pending), and the broker's identity
holds: received = answered + mmi + titanic + failed + timeouts + rejected
+ stopped + dropped + waiting + in_flight.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import check, get, start_broker, zmq  # noqa

OUTCOMES = ("answered", "mmi", "titanic", "failed", "timeouts", "rejected",
            "stopped", "dropped", "waiting", "in_flight")
N = 10050


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    store = tempfile.mkdtemp(prefix="attack16b-svc-")
    try:
        run(zrelay, store)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    print("ok: titanic held against too many services (%.1f s)" %
          (time.time() - t0))


def run(zrelay, store):
    b = start_broker(zrelay, "--titanic", store, "--heartbeat", "60s")
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.sndhwm = s.rcvhwm = 0
    s.connect(b.ep)
    for i in range(N):
        s.send_multipart([b"MDPC02", b"\x01", b"titanic.request",
                          b"svc%d" % i, b"x"])
    codes = {}
    for i in range(N):
        check(s.poll(20000), "only %d answers" % i)
        m = s.recv_multipart()
        codes[m[3]] = codes.get(m[3], 0) + 1
    st = b.stats()
    r = get(st, "majordomo/requests")
    t = get(st, "titanic/requests")
    print("answers %r; titanic pending %d; majordomo waiting %d, "
          "received %d, dropped %d, rejected %d" % (
              codes, t["pending"], r["waiting"], r["received"], r["dropped"],
              r["rejected"]))
    total = sum(r[k] for k in OUTCOMES)
    check(r["received"] == total, "received %d != %d = %s" % (
        r["received"], total,
        " + ".join("%s %d" % (k, r[k]) for k in OUTCOMES)))
    check(t["pending"] == r["waiting"],
          "acknowledged but not queued: titanic pending %d, waiting %d" % (
              t["pending"], r["waiting"]))
    check(codes.get(b"200", 0) == t["pending"], "200s %r" % codes)
    b.stop()


if __name__ == "__main__":
    main()
