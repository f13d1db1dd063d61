#!/usr/bin/python3
"""attack14: a connection refused over max_connections at the ZAP
handshake is a max_connections refusal, not an auth failure: on a CURVE
frontend with --max-connections 1, allowed clients over the limit must
leave auth.denied.protocol at 0 (it counts garbage and mechanism
mismatches). Usage: attack14_zapcount.py ZRELAY"""
import os
import sys
import zmq

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

c = a.certs()
proc, eps = a.start(["queue", "--curve-secret", c["server"],
                     "--curve-allow", c["allow"], "--max-connections", "1",
                     "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "zapcount")
ok = True
try:
    front, ctl = eps["frontend"][0], eps["control"][0]
    first = a.curve_socket(zmq.REQ, c["alice"], c["server"], front)
    a.wait_for(lambda: a.stats(ctl, c["alice"], c["server"])["frontend"]["connections"]["handshakes"]
               == 1, "the first client's handshake")
    extra = [a.curve_socket(zmq.REQ, c["alice"], c["server"], front)
             for _ in range(3)]

    def refused():
        return a.stats(ctl, c["alice"], c["server"])["frontend"]["connections"]["refused"][
            "max_connections"]
    a.wait_for(lambda: refused() == 3, "3 refusals over the limit")
    # the monitor sees the failed handshakes a little later than ZAP
    a.wait_for(lambda: a.stats(ctl, c["alice"], c["server"])["frontend"]["connections"][
        "handshake_failed"] == 3, "the refused handshakes seen")
    st = a.stats(ctl, c["alice"], c["server"])
    print("refused.max_connections=%d auth=%s" % (
        st["frontend"]["connections"]["refused"]["max_connections"],
        a.auth_of(st)))
    if a.denied(st, "protocol") != 0:
        print("FAIL: %d max_connections refusals counted as "
              "auth.denied.protocol" % a.denied(st, "protocol"))
        ok = False
    for s in [first] + extra:
        s.close()
finally:
    a.stop(proc)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
