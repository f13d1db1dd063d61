#!/usr/bin/python3
"""ATTACK12: capture copies under a slow listener (issue 12, point 4).

A streamer with --capture; a producer sends N 3-frame messages
(seq, filler, seq); a consumer reads them all; two SUB listeners to the
capture, one fast and one slow (rcvhwm 5, sleeps). Checks: every copy a
listener gets is whole ([way, seq, filler, seq], way "frontend" or
"backend" as the socket it was sent on: a streamer sends on its backend
only); every copy is sent or counted (capture.msgs + capture.drops ==
backend.msgs_out); the fast listener gets every copy sent (capture.msgs:
with NODROP libzmq sends to all listeners or none, so while the slow one
is full the fast one misses the same copies, counted); the slow one's
missing copies are at most capture.drops.

With "fastonly", only the fast listener: it must get every copy.

usage: attack12_capture.py ZRELAY [N] [fastonly]
"""
import json
import subprocess
import sys
import threading
import time

import zmq

from attacklib import free_port, start



def main():
    zrelay = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    fe, be, cap, ctl = ["tcp://127.0.0.1:%d" % free_port() for _ in range(4)]
    relay = start([zrelay, "streamer", "@" + fe, "@" + be, "--capture", "@" + cap,
         "--control", "@" + ctl], "/tmp/attack12-capture.err")
    ctx = zmq.Context()
    res = {}

    def listener(name, hwm, delay):
        s = ctx.socket(zmq.SUB)
        s.rcvhwm = hwm
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(cap)
        got, bad, ways = 0, [], {}
        while True:
            if not s.poll(3000):
                break
            m = s.recv_multipart()
            ways[m[0]] = ways.get(m[0], 0) + 1
            if (len(m) != 4 or m[0] not in (b"frontend", b"backend")
                    or m[1] != m[3] or m[2] != m[1][:4] * 50):
                bad.append([f[:10] for f in m[:5]])
            got += 1
            if delay and got % 100 == 0:
                time.sleep(delay)
        res[name] = (got, bad, ways)
        s.close(0)

    ls = [threading.Thread(target=listener, args=("fast", 0, 0))]
    if "fastonly" not in sys.argv[3:]:
        ls.append(threading.Thread(target=listener, args=("slow", 5, 0.01)))
    for t in ls:
        t.start()
    time.sleep(0.5)
    cons = ctx.socket(zmq.PULL)
    cons.connect(be)
    prod = ctx.socket(zmq.PUSH)
    prod.connect(fe)
    time.sleep(0.3)
    recvd = [0]

    def consume():
        while recvd[0] < n and cons.poll(5000):
            cons.recv_multipart()
            recvd[0] += 1

    tc = threading.Thread(target=consume)
    tc.start()
    for i in range(n):
        seq = b"%08d" % i
        prod.send_multipart([seq, seq[:4] * 50, seq])
    tc.join()
    for t in ls:
        t.join()
    st = json.loads(subprocess.run([zrelay, "ctl", ctl, "stats", "--json"],
                                   capture_output=True, text=True).stdout)
    relay.terminate()
    relay.wait(10)
    c = st.get("capture", {})
    out = st["backend"]["msgs_out"]
    print("consumer got %d of %d; backend msgs_out %d; capture %s"
          % (recvd[0], n, out, json.dumps(c)))
    fail = False
    for name, (got, bad, ways) in res.items():
        print("%s listener: %d copies, %d broken, ways %r"
              % (name, got, len(bad), ways))
        if bad:
            print("  broken:", bad[:3])
            fail = True
    sent, missed = c.get("msgs", 0), c.get("drops", 0)
    if sent + missed != out or res["fast"][0] != sent:
        print("FAIL: ATTACK12: fast listener %d, capture.msgs %d + drops %d"
              " != %d" % (res["fast"][0], sent, missed, out))
        fail = True
    if "slow" in res and out - res["slow"][0] > c.get("drops", 0):
        print("FAIL: ATTACK12: slow listener missed %d, capture.drops %s"
              % (out - res["slow"][0], c.get("drops")))
        fail = True
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
