#!/usr/bin/python3
"""Stop under load: a zrelay streamer with a producer flooding it and a
consumer (a separate process) that is SIGSTOPped, then the relay gets
SIGTERM (or SIGINT, or ctl terminate). After the relay exits, the
consumer is SIGCONTed and reads everything that reached it.

Promise: every message the relay took in (frontend msgs_in) was either
delivered (the consumer gets it) or counted in drops.shutdown, and the
log says the same number.

usage: attack_stop.py ZRELAY [TERM|INT|ctl] [FRAMES]
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import zmq

CONSUMER = r'''
import sys, zmq, time
ctx = zmq.Context()
s = ctx.socket(zmq.PULL); s.connect(sys.argv[1])
s.rcvtimeo = 3000
n = 0
seen = set()
try:
    while True:
        m = s.recv_multipart()
        seen.add(m[0])
        n += 1
except zmq.Again:
    pass
print(n, len(seen), flush=True)
'''


def main():
    zrelay = sys.argv[1]
    how = sys.argv[2] if len(sys.argv) > 2 else "TERM"
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    base = int(os.environ.get("ATTACK_PORT", "6200"))
    fe, be, ctl = ["tcp://127.0.0.1:%d" % (base + i) for i in range(3)]
    relay = subprocess.Popen([zrelay, "streamer", "@" + fe, "@" + be,
                              "--control", "@" + ctl, "--linger", "1s",
                              "-v"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    while "running" not in relay.stderr.readline():
        if relay.poll() is not None:
            print("relay died")
            return 1
    cons = subprocess.Popen([sys.executable, "-c", CONSUMER, be],
                            stdout=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    prod = ctx.socket(zmq.PUSH)
    prod.sndhwm = 1000
    prod.linger = 0
    prod.connect(fe)
    time.sleep(0.5)
    sent = 0
    t0 = time.time()
    stopped = False
    while time.time() - t0 < 4:
        try:
            prod.send_multipart([b"%08d" % sent] + [b"x" * 100] * (k - 1),
                                zmq.NOBLOCK)
            sent += 1
        except zmq.Again:
            time.sleep(0.0005)
        if not stopped and time.time() - t0 > 1:
            cons.send_signal(signal.SIGSTOP)
            stopped = True
    # The producer keeps sending while the relay stops.
    if how == "ctl":
        subprocess.run([zrelay, "ctl", ctl, "terminate"], timeout=10)
    else:
        relay.send_signal(getattr(signal, "SIG" + how))
    t1 = time.time()
    while relay.poll() is None and time.time() - t1 < 20:
        try:
            prod.send_multipart([b"%08d" % sent] + [b"x" * 100] * (k - 1),
                                zmq.NOBLOCK)
            sent += 1
        except zmq.Again:
            time.sleep(0.0005)
    err = relay.communicate(timeout=30)[1]
    stop_s = time.time() - t1
    cons.send_signal(signal.SIGCONT)
    got, distinct = map(int, cons.communicate(timeout=60)[0].split())
    final = None
    for line in err.splitlines():
        if "final statistics:" in line:
            final = json.loads(line.split("final statistics:", 1)[1])
    m = re.search(r"(\d+) message\(s\) undelivered", err)
    logged = int(m.group(1)) if m else None
    fin = final["frontend"]
    bk = final["backend"]
    shutdown = fin["drops"]["shutdown"] + bk["drops"]["shutdown"]
    other = sum(v for d in (fin["drops"], bk["drops"]) for v in d.values())
    print("%s: producer sent %d; relay in %d, out %d, drops.shutdown %d "
          "(log: %s undelivered), other drops %d; consumer got %d (%d "
          "distinct); relay took %.1fs to stop, rc %d"
          % (how, sent, fin["msgs_in"], bk["msgs_out"], shutdown, logged,
             other - shutdown, got, distinct, stop_s, relay.returncode))
    for line in err.splitlines():
        if "stop" in line or "undeliver" in line or "drain" in line:
            print("  log:", line[:300])
    bad = []
    if fin["msgs_in"] != got + shutdown:
        bad.append("in %d != delivered %d + shutdown %d (%+d unaccounted)"
                   % (fin["msgs_in"], got, shutdown,
                      fin["msgs_in"] - got - shutdown))
    if logged is not None and logged != shutdown:
        bad.append("log says %d undelivered, counters %d" % (logged,
                                                              shutdown))
    if got != distinct:
        bad.append("duplicates")
    if relay.returncode != 0:
        bad.append("exit status %d" % relay.returncode)
    if "AddressSanitizer" in err or "runtime error" in err:
        bad.append("sanitizer: " + err[-2000:])
    for b in bad:
        print("FAIL:", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
