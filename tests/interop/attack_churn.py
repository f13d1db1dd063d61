#!/usr/bin/python3
"""Churn attack on a zrelay streamer (PUSH backend): a producer sends N
multipart messages (seq, K filler frames, seq again) while consumer
processes connect, read and are killed with SIGKILL (or SIGSTOPped and
then killed) mid-stream. Checks:
  - no consumer ever receives a fragment (wrong frame count or frames of
    two different messages);
  - the relay's counters add up: frontend msgs_in == N, backend
    msgs_out >= distinct messages received, and every message the
    consumers did not get is either in a killed consumer's buffers or
    counted.
usage: attack_churn.py ZRELAY N FRAMES [SECONDS [FRAME_WORDS]]
"""
import json
import os
import signal
import subprocess
import sys
import time

import zmq

CONSUMER = r'''
import sys, zmq, os
ctx = zmq.Context()
s = ctx.socket(zmq.PULL); s.rcvhwm = int(sys.argv[3]); s.connect(sys.argv[1])
k = int(sys.argv[2]); FW = int(sys.argv[4])
out = os.fdopen(1, "w", buffering=1)
while True:
    m = s.recv_multipart()
    seq = m[0]
    ok = len(m) == k + 2 and m[-1] == seq and all(f == seq[:4] * FW for f in m[1:-1])
    out.write(("%s\n" % seq.decode()) if ok else ("FRAG %d %r\n" % (len(m), [f[:8] for f in m[:3]])))
'''


def stats(zrelay, ep):
    out = subprocess.run([zrelay, "ctl", ep, "stats", "--json"],
                         capture_output=True, text=True, timeout=10)
    return json.loads(out.stdout)


def main():
    zrelay, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    secs = float(sys.argv[4]) if len(sys.argv) > 4 else 10
    fw = int(sys.argv[5]) if len(sys.argv) > 5 else 64
    base = int(os.environ.get("ATTACK_PORT", "6100"))
    fe, be, ctl = ["tcp://127.0.0.1:%d" % (base + i) for i in range(3)]
    relay = subprocess.Popen([zrelay, "streamer", "@" + fe, "@" + be,
                              "--control", "@" + ctl, "--sndhwm", "50",
                              "--rcvhwm", "50", "-v"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    while "running" not in relay.stderr.readline():
        if relay.poll() is not None:
            print("relay died:", relay.returncode)
            return 1
    ctx = zmq.Context()
    prod = ctx.socket(zmq.PUSH)
    prod.sndhwm = 100
    prod.connect(fe)
    consumers = []
    outputs = []

    def spawn():
        f = open("/tmp/churn-%d-%d.out" % (os.getpid(), len(outputs)), "w+")
        outputs.append(f)
        p = subprocess.Popen([sys.executable, "-c", CONSUMER, be, str(k),
                              "5", str(fw)], stdout=f)
        consumers.append(p)

    for _ in range(4):
        spawn()
    time.sleep(0.5)
    sent = 0
    t0 = time.time()
    last_churn = t0
    killed = 0
    while sent < n:
        seq = b"%08d" % sent
        try:
            prod.send_multipart([seq] + [seq[:4] * fw] * k + [seq],
                                zmq.NOBLOCK)
            sent += 1
        except zmq.Again:
            time.sleep(0.001)
        now = time.time()
        if now - last_churn > 0.05:
            last_churn = now
            live = [p for p in consumers if p.poll() is None]
            if len(live) > 1:
                victim = live[sent % len(live)]
                victim.send_signal(signal.SIGKILL)
                killed += 1
            spawn()
        if now - t0 > secs * 3:
            print("producer stuck at", sent)
            break
    # Let everything drain into the surviving consumers.
    live = [p for p in consumers if p.poll() is None]
    deadline = time.time() + 15
    prev = None
    while time.time() < deadline:
        s = stats(zrelay, ctl)
        cur = (s["frontend"]["msgs_in"], s["backend"]["msgs_out"])
        if cur[0] == sent and cur == prev:
            break
        prev = cur
        time.sleep(0.5)
    time.sleep(1)
    for p in consumers:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()
    got = set()
    frags = []
    dup = 0
    for f in outputs:
        f.flush()
        f.seek(0)
        for line in f:
            if line.startswith("FRAG"):
                frags.append(line.strip())
            elif line.strip():
                if line.strip() in got:
                    dup += 1
                got.add(line.strip())
        f.close()
        os.unlink(f.name)
    s = stats(zrelay, ctl)
    relay.send_signal(signal.SIGTERM)
    err = relay.communicate(timeout=20)[1]
    b = s["backend"]
    print("sent %d, relay in %d, out %d (resent %d), drops %s; consumers "
          "got %d distinct (%d dups), %d fragments, %d consumers killed"
          % (sent, s["frontend"]["msgs_in"], b["msgs_out"], b["msgs_resent"],
             b["drops"], len(got), dup, len(frags), killed))
    for fr in frags[:5]:
        print("  ", fr)
    if "AddressSanitizer" in err or "runtime error" in err:
        print(err[-3000:])
        return 1
    if frags:
        print("FAIL: a consumer received a fragment of a multipart message")
        return 1
    if s["frontend"]["msgs_in"] != sent:
        print("FAIL: relay took in %d of %d" % (s["frontend"]["msgs_in"],
                                                 sent))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
