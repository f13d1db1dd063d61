#!/usr/bin/python3
"""ATTACK12: one slow client must not starve the workers (lru broker).

A "slow" DEALER client floods requests and reads its replies slowly
(--max-waiting 2: most of them are rejected at once, so the frontend
toward it is always full). A Paranoid Pirate worker with heartbeats is
connected and ready; a well-behaved client sends requests one at a
time. Expected: every good request is answered by the worker, quickly
(well under the 3 s liveness), and the worker is never expired.

With "hard", the slow client sends as fast as it can and reads a few
replies between bursts (its pipe refills at once after each read).

usage: attack12_slowclient.py ZRELAY [SECONDS] [hard]
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
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    fe, be, ctl = ["tcp://127.0.0.1:%d" % free_port() for _ in range(3)]
    relay = start([zrelay, "queue", "@" + fe, "@" + be, "--strategy", "lru",
         "--heartbeat", "1s", "--max-waiting", "2", "--control", "@" + ctl,
         "-v"], "/tmp/attack12-slow.err")
    ctx = zmq.Context()
    stop = threading.Event()

    def worker():
        w = ctx.socket(zmq.DEALER)
        w.identity = b"W1"
        w.connect(be)
        w.send(b"\x01")
        nxt = time.time() + 0.2
        while not stop.is_set():
            if time.time() >= nxt:
                w.send(b"\x02")
                nxt = time.time() + 0.2
            if w.poll(50):
                m = w.recv_multipart()
                if m != [b"\x02"]:
                    w.send_multipart(m[:-1] + [b"ok:" + m[-1]])
        w.close(0)

    def slow():
        f = ctx.socket(zmq.DEALER)
        f.rcvhwm = 10
        f.connect(fe)
        hard = "hard" in sys.argv[3:]
        while not stop.is_set():
            for _ in range(100):
                f.send(b"flood")
            if hard:
                while f.poll(0):
                    f.recv_multipart()
                continue
            time.sleep(0.05)
            if f.poll(0):
                f.recv_multipart()
        f.close(0)

    tw = threading.Thread(target=worker)
    tw.start()
    time.sleep(0.5)
    ts = threading.Thread(target=slow)
    ts.start()
    good = ctx.socket(zmq.DEALER)
    good.connect(fe)
    worst, n, bad, busy = 0.0, 0, 0, 0
    t0 = time.time()
    while time.time() - t0 < secs:
        t = time.time()
        good.send(b"g%d" % n)
        r = good.recv_multipart() if good.poll(6000) else None
        dt = time.time() - t
        if r is None or r[-1] != b"ok:g%d" % n:
            if r and r[-1].startswith(b"ZRELAY-ERROR busy"):
                busy += 1
            else:
                bad += 1
                print("request g%d: got %r after %.2fs" % (n, r, dt))
        worst = max(worst, dt)
        n += 1
    out = subprocess.run([zrelay, "ctl", ctl, "stats", "--json"],
                         capture_output=True, text=True, timeout=10)
    st = json.loads(out.stdout)
    b = st.get("broker", {})
    print("frontend:", {k: v for k, v in st.get("frontend", st).items()
                        if not isinstance(v, dict)})
    stop.set()
    tw.join()
    ts.join()
    relay.terminate()
    relay.wait(10)
    print("good requests %d, wrong %d, rejected busy %d, worst %.2fs; "
          "workers expired %d" % (n, bad, busy, worst,
                                  b["workers"]["expired"]))
    if bad or b["workers"]["expired"]:
        print("FAIL: ATTACK12: a slow client starves the workers")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
