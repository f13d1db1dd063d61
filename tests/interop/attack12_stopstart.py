#!/usr/bin/python3
"""ATTACK12: the daemon's STOP NAME / START NAME raced with RELOAD
(SIGHUP and ctl reload), traffic, odd names, and a START whose port is
taken; then TERMINATE. Checks: the daemon never dies or hangs, every
command gets an answer (ok or a clear ERROR), LIST stays sane, and it
exits 0 promptly at the end, with nothing from ASan in its log.

usage: attack12_stopstart.py ZRELAY [SECONDS]
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

import zmq

from attacklib import free_port, start



def main():
    zrelay = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 15
    ctl = "tcp://127.0.0.1:%d" % free_port()
    pf, pb = free_port(), free_port()
    conf = "/tmp/attack12-ss-%d.conf" % os.getpid()
    open(conf, "w").write(
        "[zrelay]\ncontrol = %s\nlinger = 200ms\n"
        "[streamer s1]\nfrontend = @tcp://127.0.0.1:%d\n"
        "backend = @tcp://127.0.0.1:%d\n"
        "[queue q1]\nfrontend = @tcp://127.0.0.1:*\n"
        "backend = @tcp://127.0.0.1:*\nstrategy = lru\n"
        "[forwarder f1]\nfrontend = @ipc:///tmp/attack12-ss-%d-f\n"
        "backend = @ipc:///tmp/attack12-ss-%d-b\n"
        % (ctl, pf, pb, os.getpid(), os.getpid()))
    errpath = "/tmp/attack12-ss-%d.err" % os.getpid()
    d = start([zrelay, "run", conf, "-v"], errpath)
    ctx = zmq.Context()
    stop = threading.Event()
    problems = []
    counts = {}

    def ask(frames, timeout=8000):
        s = ctx.socket(zmq.REQ)
        s.linger = 0
        s.connect(ctl)
        s.send_multipart(frames)
        if not s.poll(timeout):
            s.close()
            return None
        r = s.recv_multipart()
        s.close()
        return r

    def traffic():
        p = ctx.socket(zmq.PUSH)
        p.linger = 0
        p.sndhwm = 100
        p.connect("tcp://127.0.0.1:%d" % pf)
        c = ctx.socket(zmq.PULL)
        c.linger = 0
        c.connect("tcp://127.0.0.1:%d" % pb)
        while not stop.is_set():
            try:
                p.send(b"x" * 100, zmq.NOBLOCK)
            except zmq.Again:
                time.sleep(0.001)
            while c.poll(0):
                c.recv()

    names = [b"s1", b"q1", b"f1", b"nope", b"s1\x00x", b"\xff\xfe", b"",
             b"S1", b"s1 ", b"a" * 5000]

    def commander(k):
        rnd = random.Random(k)
        while not stop.is_set():
            cmd = rnd.choice([b"STOP", b"START", b"STOP", b"START",
                              b"RELOAD", b"LIST", b"STATS", b"PAUSE",
                              b"RESUME"])
            frames = [cmd]
            if cmd not in (b"RELOAD", b"LIST") or rnd.random() < 0.1:
                frames.append(rnd.choice(names))
            t = time.time()
            r = ask(frames)
            dt = time.time() - t
            key = (frames[0], frames[1][:8] if len(frames) > 1 else None,
                   None if r is None else r[0][:60])
            counts[key] = counts.get(key, 0) + 1
            if r is None:
                problems.append("no reply to %r in 8 s" % frames[:2])
            elif dt > 5:
                problems.append("slow reply %.1fs to %r" % (dt, frames[:2]))

    def hupper():
        while not stop.is_set():
            time.sleep(0.3)
            d.send_signal(signal.SIGHUP)

    def squatter():
        # take s1's frontend port while s1 is stopped, now and then
        while not stop.is_set():
            time.sleep(0.5)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", pf))
                s.listen(1)
                time.sleep(0.4)
            except OSError:
                pass
            s.close()

    threads = [threading.Thread(target=f) for f in (traffic, hupper, squatter)]
    threads += [threading.Thread(target=commander, args=(k,))
                for k in range(3)]
    for t in threads:
        t.start()
    time.sleep(secs)
    stop.set()
    for t in threads:
        t.join()
    alive = d.poll() is None
    lst = ask([b"LIST"])
    for n in (b"s1", b"q1", b"f1"):
        r = ask([b"START", n])
        if r != [b""]:
            print("final START %s: %r" % (n.decode(), r))
    lst2 = ask([b"LIST"])
    t = time.time()
    r = ask([b"TERMINATE"])
    try:
        rc = d.wait(15)
    except subprocess.TimeoutExpired:
        rc = "hang"
        d.kill()
        d.wait()
    dt = time.time() - t
    for k in sorted(counts, key=str):
        print(counts[k], k)
    print("alive during run:", alive, "terminate reply:", r,
          "exit:", rc, "in %.1fs" % dt)
    if lst2:
        for dev in json.loads(lst2[0])["devices"]:
            print("final:", dev["name"], dev["state"])
            if dev["state"] != "running":
                problems.append("%s not running after START" % dev["name"])
    else:
        problems.append("no LIST at the end")
    log = open(errpath).read()
    if "ERROR: AddressSanitizer" in log or "runtime error" in log:
        problems.append("sanitizer report in %s" % errpath)
    if rc != 0:
        problems.append("daemon exit %r" % rc)
    for p in problems[:20]:
        print("problem:", p)
    if problems:
        print("FAIL: ATTACK12: STOP/START races (%d problems; log %s)"
              % (len(problems), errpath))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
