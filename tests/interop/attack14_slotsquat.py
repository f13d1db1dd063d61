#!/usr/bin/python3
"""attack14: connections count against max_connections from ACCEPTED,
before any authentication: a stranger's idle TCP connections (no byte of
handshake) take every slot until handshake_ivl reaps them. And a refusal
at the handshake is final for a libzmq 4.3.4 client (it does not
reconnect after a ZAP refusal): a legitimate client that tried during a
short burst stays out after the stranger has gone. Usage:
attack14_slotsquat.py ZRELAY"""
import os
import socket
import sys
import time
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import free_port, start  # noqa: E402

Z = sys.argv[1]
MAX = 3
fa, fb = free_port(), free_port()
proc = start([Z, "streamer", "--max-connections", str(MAX),
              "--handshake-ivl", "2s",
              "tcp://127.0.0.1:%d" % fa, "tcp://127.0.0.1:%d" % fb],
             "/tmp/zr-a14-squat.err")
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect("tcp://127.0.0.1:%d" % fb)
ok = True
try:
    squat = [socket.create_connection(("127.0.0.1", fa)) for _ in range(MAX)]
    time.sleep(0.3)
    legit = ctx.socket(zmq.PUSH)  # default reconnect (100 ms)
    legit.linger = 0
    legit.connect("tcp://127.0.0.1:%d" % fa)
    legit.send(b"hello")
    time.sleep(0.5)
    for k in squat:
        k.close()
    t0 = time.time()
    through = pull.poll(8000)
    print("stranger held %d idle TCP connections for 0.8 s; legitimate "
          "client's message %s (waited %.1f s after the stranger left)"
          % (MAX, "arrived" if through else "never arrived",
             time.time() - t0))
    if through:
        pull.recv()
    else:
        ok = False
        print("FAIL: a legitimate client refused during a burst stays out")
    # and while the squat lasts (up to handshake_ivl, renewable)
    squat = [socket.create_connection(("127.0.0.1", fa)) for _ in range(MAX)]
    time.sleep(0.3)
    legit2 = ctx.socket(zmq.PUSH)
    legit2.linger = 0
    legit2.connect("tcp://127.0.0.1:%d" % fa)
    legit2.send(b"second")
    got = pull.poll(1500)
    print("while %d idle connections sit: a new client %s"
          % (MAX, "got through" if got else "was refused"))
    for k in squat:
        k.close()
finally:
    proc.kill()
    proc.wait()
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
