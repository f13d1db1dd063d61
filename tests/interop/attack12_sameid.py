#!/usr/bin/python3
"""ATTACK12: a worker that reconnects at once with the SAME identity
(and, the kernel reusing the lowest free fd, usually the same fd): after
each reconnect + READY it must get the next request. If the broker
takes the old connection's DISCONNECTED (same fd number) for the new
one, the live worker is dropped and the request waits for nobody.

With FLOOD, another client keeps the broker busy (requests beyond
--max-waiting are rejected at once), so that the new connection's READY
and the old one's DISCONNECTED are read in the same turn.

usage: attack12_sameid.py ZRELAY [tcp|ipc] [req|ppp] [ROUNDS] [flood]
"""
import os
import subprocess
import sys
import threading
import time

import zmq

from attacklib import free_port, start



def main():
    zrelay = sys.argv[1]
    transport = sys.argv[2] if len(sys.argv) > 2 else "tcp"
    kind = sys.argv[3] if len(sys.argv) > 3 else "req"
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    flood = len(sys.argv) > 5 and sys.argv[5] == "flood"
    fe = "tcp://127.0.0.1:%d" % free_port()
    ctl = "tcp://127.0.0.1:%d" % free_port()
    if transport == "ipc":
        be = "ipc:///tmp/attack12-sameid-%d" % os.getpid()
    else:
        be = "tcp://127.0.0.1:%d" % free_port()
    errpath = "/tmp/attack12-sameid-%d.err" % os.getpid()
    relay = start([zrelay, "queue", "@" + fe, "@" + be, "--strategy", "lru",
         "--heartbeat", "1s", "--request-timeout", "3s", "--max-waiting", "2", "-v", "--control", "@" + ctl], errpath)
    ctx = zmq.Context()
    client = ctx.socket(zmq.DEALER)
    client.connect(fe)
    bad = 0
    stop = threading.Event()

    def flooder():
        f = ctx.socket(zmq.DEALER)
        f.linger = 0
        f.connect(fe)
        while not stop.is_set():
            for _ in range(50):
                f.send(b"flood")
            while f.poll(0):
                f.recv_multipart()
        f.close()

    if flood:
        th = threading.Thread(target=flooder)
        th.start()
    for i in range(rounds):
        w = ctx.socket(zmq.REQ if kind == "req" else zmq.DEALER)
        w.linger = 0
        w.identity = b"W1"
        w.connect(be)
        w.send(b"READY" if kind == "req" else b"\x01")
        client.send(b"q%d" % i)
        deadline = time.time() + 4
        got = None
        beats = kind == "ppp" and os.environ.get("ATTACK12_BEATS")
        while time.time() < deadline:
            if beats:
                w.send(b"\x02")
            if w.poll(100):
                m = w.recv_multipart()
                if m[-1] == b"\x02":
                    continue
                if m[-1] == b"flood":
                    w.send_multipart(m[:-1] + [b"ok:flood"])
                    continue
                got = m
                break
        if got is None:
            # the request comes back as an error (request-timeout)
            r = client.recv_multipart() if client.poll(5000) else None
            if r and r[-1].startswith(b"ZRELAY-ERROR busy"):
                w.close()  # rejected under the flood: inconclusive
                continue
            print("round %d: worker W1 (READY sent) never got request" % i)
            out = subprocess.run([zrelay, "ctl", ctl, "stats", "--json"],
                                 capture_output=True, text=True, timeout=10)
            try:
                import json
                print("  broker:", json.dumps(json.loads(out.stdout)
                                               .get("broker")))
            except ValueError:
                print("  stats:", out.stdout[:300], out.stderr[:300])
            print("  client got:", r)
            bad += 1
            w.close()
            if bad >= 3:
                break
            continue
        w.send_multipart(got[:-1] + [b"ok:" + got[-1]])
        if not client.poll(4000):
            print("round %d: no reply to the client" % i)
            bad += 1
            w.close()
            continue
        r = client.recv_multipart()
        while r[-1].startswith(b"ZRELAY-ERROR busy") and client.poll(4000):
            r = client.recv_multipart()
        if r[-1] != b"ok:q%d" % i:
            print("round %d: client got %r" % (i, r))
            bad += 1
        w.close()  # and at once back with the same identity
    stop.set()
    if flood:
        th.join()
    relay.terminate()
    relay.wait(10)
    print("rounds %d bad %d (log: %s)" % (i + 1, bad, errpath))
    if bad:
        print("FAIL: ATTACK12: same-identity reconnect loses the worker")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
