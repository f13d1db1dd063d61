#!/usr/bin/python3
"""attack14: a queue with the lru strategy reads its backend's monitor
polled (not through ZAP): max_connections must still hold there (after
the fact: a worker over the limit is shut down), and on its frontend (at
the handshake). --max-connections 2: four REQ workers say READY, two
stay; four clients, two get served. Usage: attack14_lrumax.py ZRELAY"""
import os
import sys
import time
import zmq

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

proc, eps = a.start(["queue", "--strategy", "lru", "--max-connections", "2",
                     "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "lrumax")
front, back, ctl = eps["frontend"][0], eps["backend"][0], eps["control"][0]
ok = True
try:
    workers = []
    for i in range(4):
        w = a.CTX.socket(zmq.REQ)
        w.linger = 0
        w.connect(back)
        w.send(b"\x01")  # lbbroker READY
        workers.append(w)
        time.sleep(0.2)

    def side(s):
        return a.stats(ctl)[s]["connections"]
    a.wait_for(lambda: side("backend")["refused"]["max_connections"] >= 2,
               "workers over the limit refused")
    time.sleep(0.5)
    b = side("backend")
    print("backend:", b)
    if b["connected"] > 2:
        print("FAIL: %d workers connected with max_connections 2"
              % b["connected"])
        ok = False
    clients = []
    for i in range(4):
        c = a.plain_socket(zmq.REQ, front)
        c.send(b"req%d" % i)
        clients.append(c)
        time.sleep(0.2)
    a.wait_for(lambda: side("frontend")["refused"]["max_connections"] >= 2,
               "clients over the limit refused")
    served = 0
    end = time.time() + 5
    while time.time() < end and served < 4:
        for w in workers:
            if w.poll(50):
                msg = w.recv_multipart()
                w.send_multipart(msg[:-1] + [b"rep"])
        for c in clients:
            if c.poll(0):
                c.recv()
                served += 1
    f = side("frontend")
    print("frontend:", f, "served:", served)
    if served > 2 or f["connected"] > 2:
        print("FAIL: more than 2 clients served/connected")
        ok = False
except a.Fail as e:
    print("FAIL:", e)
    ok = False
finally:
    a.stop(proc)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
