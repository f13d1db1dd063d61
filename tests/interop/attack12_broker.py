#!/usr/bin/python3
"""ATTACK12: lru/hash broker under worker churn (issue 12, point 1).

Workers (Paranoid Pirate DEALERs or lbbroker REQs) connect, take a few
requests and either answer or vanish mid-request (close, linger 0), then
come back at once, with the SAME identity (fd reuse + same identity) or a
fresh one, over tcp or ipc. Clients (DEALERs) keep sending meanwhile.
Checks: every request gets exactly one reply (a worker's answer or the
broker's error), no duplicates, and the broker's counters add up:
answered + failed + timeouts + rejected == requests sent, nothing left
waiting or in flight, and the last stable workers are all known.

usage: attack12_broker.py ZRELAY [tcp|ipc] [lru|hash] [same|fresh]
                          [ppp|req|mix] [SECONDS] [REQUESTS]
"""
import json
import os
import random
import subprocess
import sys
import threading
import time

import zmq

from attacklib import free_port, start



def stats(zrelay, ep):
    out = subprocess.run([zrelay, "ctl", ep, "stats", "--json"],
                         capture_output=True, text=True, timeout=10)
    return json.loads(out.stdout)


def find(d, key):
    """The first value of KEY anywhere in D."""
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


STOP = threading.Event()
CALM = threading.Event()   # churn over: workers stay up and answer


def worker(ctx, be, k, same, kind, log):
    rnd = random.Random(k)
    gen = 0
    while not STOP.is_set():
        gen += 1
        ident = (b"W%d" % k) if same else (b"W%d-%d" % (k, gen))
        req = kind == "req" or (kind == "mix" and rnd.random() < 0.5)
        s = ctx.socket(zmq.REQ if req else zmq.DEALER)
        s.linger = 0
        s.identity = ident
        s.connect(be)
        s.send(b"READY" if req else b"\x01")
        todo = rnd.randint(1, 4)
        while not STOP.is_set():
            if not s.poll(50):
                if not req and rnd.random() < 0.2:
                    s.send(b"\x02")
                continue
            m = s.recv_multipart()
            if not req and m == [b"\x02"]:
                continue
            if not CALM.is_set() and (todo == 0 or rnd.random() < 0.3):
                log.append(("vanish", ident))
                break  # vanish mid-request
            s.send_multipart(m[:-1] + [b"ok:" + m[-1]])
            todo -= 1
        s.close()
        if CALM.is_set() and not STOP.is_set():
            continue


def main():
    zrelay = sys.argv[1]
    transport = sys.argv[2] if len(sys.argv) > 2 else "tcp"
    strategy = sys.argv[3] if len(sys.argv) > 3 else "lru"
    same = (sys.argv[4] if len(sys.argv) > 4 else "same") == "same"
    kind = sys.argv[5] if len(sys.argv) > 5 else "ppp"
    secs = float(sys.argv[6]) if len(sys.argv) > 6 else 8
    nreq = int(sys.argv[7]) if len(sys.argv) > 7 else 3000
    fe = "tcp://127.0.0.1:%d" % free_port()
    ctl = "tcp://127.0.0.1:%d" % free_port()
    if transport == "ipc":
        be = "ipc:///tmp/attack12-be-%d" % os.getpid()
    else:
        be = "tcp://127.0.0.1:%d" % free_port()
    relay = start([zrelay, "queue", "@" + fe, "@" + be, "--strategy", strategy,
         "--heartbeat", "300ms", "--control", "@" + ctl,
         "--busy-timeout", "0"], "/tmp/attack12-broker-%d.err"
                                                % os.getpid())
    ctx = zmq.Context()
    log = []
    workers = [threading.Thread(target=worker,
                                args=(ctx, be, k, same, kind, log))
               for k in range(6)]
    for t in workers:
        t.start()
    clients = [ctx.socket(zmq.DEALER) for _ in range(4)]
    for c in clients:
        c.connect(fe)
    got = {}
    sent = 0
    poller = zmq.Poller()
    for c in clients:
        poller.register(c, zmq.POLLIN)
    t0 = time.time()
    window = 0
    while sent < nreq or window > 0:
        if time.time() - t0 > secs and not CALM.is_set():
            CALM.set()
        if time.time() - t0 > secs + 20:
            break
        while sent < nreq and window < 40:
            c = clients[sent % 4]
            c.send(b"r%06d" % sent)
            sent += 1
            window += 1
        for c, _ in poller.poll(100):
            while True:
                try:
                    m = c.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                window -= 1
                key = m[-1]
                got.setdefault(key, []).append(m)
    time.sleep(0.5)
    for c in clients:
        while c.poll(0):
            m = c.recv_multipart()
            got.setdefault(m[-1], []).append(m)
    st = stats(zrelay, ctl)
    STOP.set()
    for t in workers:
        t.join()
    relay.terminate()
    relay.wait(10)
    ok_ids = set()
    errors = []
    dup = 0
    for key, ms in got.items():
        if key.startswith(b"ok:r"):
            ok_ids.add(key[3:])
            if len(ms) > 1:
                dup += 1
        else:
            errors.append(ms)
    nerr = sum(len(e) for e in errors)
    lost = nreq - len(ok_ids) - nerr
    b = find(st, "broker") or {}
    print("sent %d answered-ok %d error-replies %d duplicates %d "
          "missing %d vanishes %d" % (nreq, len(ok_ids), nerr, dup, lost,
                                      len(log)))
    print("broker stats:", json.dumps(b))
    if errors:
        print("first error reply:", errors[0][0])
    fail = False
    if dup or lost != 0:
        print("FAIL: ATTACK12: requests lost or answered twice")
        fail = True
    req = b.get("requests", {})
    # Each error outcome has its own counter (failed: after the retries).
    errors = sum(req.get(k, 0)
                 for k in ("failed", "timeouts", "rejected", "stopped"))
    total = req.get("answered", 0) + errors
    if total != nreq or errors != nerr:
        print("FAIL: ATTACK12: answered+failed=%d != %d" % (total, nreq))
        fail = True
    if req.get("waiting", 0) or req.get("in_flight", 0):
        print("FAIL: ATTACK12: requests still waiting/in flight")
        fail = True
    if relay.returncode not in (0, -15):
        print("FAIL: ATTACK12: relay exit", relay.returncode)
        fail = True
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
