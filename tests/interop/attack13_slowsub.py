#!/usr/bin/python3
"""ATTACK13: a forwarder's fast subscriber beside a slow or stalled one
(issue 13: NODROP backend, 1 ms grace, wake on ZMQ_FD).

A publisher sends [topic, seq, filler, seq] as fast as it can for SECS
seconds. A fast SUB reads everything; a second SUB is either absent
("none"), reads at RATE msgs/s ("slow"), or never reads ("stalled").
Reported: what the fast one got (msgs/s), the relay's CPU while
publishing and for 3 s idle afterwards, backend drops.slow_subscriber.
Checked: every message whole, no subscriber sees a seq twice or out of
order (gaps are fine: the PUB and libzmq may drop).

usage: attack13_slowsub.py ZRELAY MODE [SECS] [RATE] [extra relay args...]
  MODE: none | slow | stalled
"""
import json
import os
import subprocess
import sys
import threading
import time

import zmq

from attacklib import free_port, start


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def stats(zrelay, ctl):
    out = subprocess.run([zrelay, "ctl", ctl, "stats", "--json"],
                         capture_output=True, timeout=10).stdout
    return json.loads(out)


def find(d, key):
    """First value of KEY anywhere in D."""
    if isinstance(d, dict):
        if key in d:
            return d[key]
        for v in d.values():
            r = find(v, key)
            if r is not None:
                return r
    elif isinstance(d, list):
        for v in d:
            r = find(v, key)
            if r is not None:
                return r
    return None


def main():
    zrelay, mode = sys.argv[1], sys.argv[2]
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 5
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 10000
    extra = sys.argv[5:]
    single = os.environ.get("FRAMES", "4") == "1"
    pace = float(os.environ.get("PACE", "0"))  # msgs/s, 0: flat out
    fe, be, ctl = ["tcp://127.0.0.1:%d" % free_port() for _ in range(3)]
    relay = start([zrelay, "forwarder", "@" + fe, "@" + be, "--control",
                   "@" + ctl] + extra, "/tmp/attack13-slowsub.err")
    ctx = zmq.Context()
    stop = threading.Event()
    res = {}
    errors = []

    def sub(name, delay_every):
        s = ctx.socket(zmq.SUB)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(be)
        got, last = 0, -1
        ready.set() if name == "fast" else None
        t0 = None
        while not stop.is_set() or s.poll(500):
            if mode == "stalled" and name == "slow":
                if stop.is_set():
                    break
                time.sleep(0.05)
                continue
            if not s.poll(200):
                continue
            m = s.recv_multipart()
            if t0 is None:
                t0 = time.time()
            if single:
                seq = int(m[0][1:])
            elif len(m) != 4 or m[1] != m[3] or len(m[2]) != 32:
                errors.append((name, "torn", [len(f) for f in m]))
                continue
            else:
                seq = int(m[1])
            if seq <= last:
                errors.append((name, "order", last, seq))
            last = seq
            got += 1
            if delay_every and got % 100 == 0:
                time.sleep(100.0 / rate)
        res[name] = got
        s.close(0)

    ready = threading.Event()
    subs = [threading.Thread(target=sub, args=("fast", 0))]
    if mode in ("slow", "stalled"):
        subs.append(threading.Thread(target=sub, args=("slow", 1)))
    for t in subs:
        t.start()
    pub = ctx.socket(zmq.PUB)
    pub.sndhwm = 100000
    pub.connect(fe)
    time.sleep(1.0)  # subscriptions through
    c0 = cpu_s(relay.pid)
    t0 = time.time()
    seq = 0
    filler = b"x" * 32
    while time.time() - t0 < secs:
        for _ in range(1000):
            if single:
                pub.send(b"t%d" % seq)
            else:
                pub.send_multipart([b"t", b"%d" % seq, filler, b"%d" % seq])
            seq += 1
        if pace:
            ahead = t0 + seq / pace - time.time()
            if ahead > 0:
                time.sleep(ahead)
    pub_s = time.time() - t0
    c1 = cpu_s(relay.pid)
    time.sleep(0.5)
    c2 = cpu_s(relay.pid)
    time.sleep(3.0)
    c3 = cpu_s(relay.pid)
    st = stats(zrelay, ctl)
    stop.set()
    for t in subs:
        t.join(30)
    slow_drops = find(st.get("backend", st), "slow_subscriber")
    print("mode=%s secs=%.1f published=%d (%.0f/s) fast_got=%d (%.0f/s of "
          "publishing) slow_got=%s relay_cpu_busy=%.0f%% relay_cpu_idle=%.1f%% "
          "drops.slow_subscriber=%s" %
          (mode, pub_s, seq, seq / pub_s, res.get("fast", 0),
           res.get("fast", 0) / pub_s, res.get("slow"),
           100 * (c1 - c0) / pub_s, 100 * (c3 - c2) / 3.0, slow_drops))
    relay.terminate()
    relay.wait(10)
    pub.close(0)
    ctx.term()
    if errors:
        print("ERRORS", errors[:10], len(errors))
        sys.exit(1)


if __name__ == "__main__":
    main()
