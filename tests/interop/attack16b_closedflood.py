#!/usr/bin/python3
"""Attack on the majordomo (issue 16, second pass): a busy worker whose
connection closes is removed only once the broker's socket was read dry
since (s_disconnected / s_closed_gone). Under a flood that never lets
the socket run dry, is its request held forever?

usage: attack16b_closedflood.py ZRELAY

A worker takes a request and closes its socket without replying (as a
worker killed with -9 does). Meanwhile flooders keep the broker's ROUTER
full: two with malformed messages, one with mmi.workers requests, cheap
to send and dear to answer (a JSON of 1,000 services each), so that the
broker reads slower than they send and no burst finds the socket empty. The request must reach a second worker
of the service and its client get the reply within the deadline, flood
or not; busy_timeout must not be needed for it.
"""
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, Client, Worker, check, fail,  # noqa
                        get, start_broker, wait_service, wait_stat, zmq)

FLOODERS = 3
WITHIN = 10.0  # seconds for the request to reach the second worker


def flood(ep, stop, slow, sent):
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.sndhwm = 100000
    s.connect(ep)
    junk = [b"", b"JUNK01", b"x"]
    if slow:
        # Cheap to send, dear to answer: the JSON of every service.
        junk = [b"", b"MDPC01", b"mmi.workers"]
    while not stop.is_set():
        n = 0
        for _ in range(100):
            try:
                s.send_multipart(junk, zmq.NOBLOCK)
                n += 1
            except zmq.Again:
                time.sleep(0.001)  # full: the broker is behind, as meant
        with sent.get_lock():
            sent.value += n
        while s.poll(0):
            s.recv_multipart()
    s.close()
    ctx.term()


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    b = start_broker(zrelay, "--heartbeat", "1s", "--busy-timeout", "0",
                     "--request-timeout", "60s")
    ctx = zmq.Context()
    c = Client(ctx, b.ep, v=1)
    # 1,000 services (a request waiting in each), so that each
    # mmi.workers costs the broker a JSON of all of them.
    many = ctx.socket(zmq.DEALER)
    many.linger = 0
    many.sndhwm = 0
    many.connect(b.ep)
    for i in range(1000):
        many.send_multipart([b"", b"MDPC01", b"s%d" % i, b"x"])
    wait_stat(b, "majordomo/services", lambda v: v >= 1000, "services")
    dead = ctx.socket(zmq.DEALER)
    dead.linger = 0
    dead.connect(b.ep)
    dead.send_multipart([b"", b"MDPW01", W1["READY"], b"echo"])
    wait_service(c, "echo")
    # spawn, not fork: a forked flooder would hold the worker's socket
    # open after the worker closed it.
    mp = multiprocessing.get_context("spawn")
    stop = mp.Event()
    sent = mp.Value("q", 0)
    procs = [mp.Process(target=flood, args=(b.ep, stop, i == 0, sent))
             for i in range(FLOODERS)]
    for p in procs:
        p.start()
    try:
        end = time.time() + DEADLINE
        while sent.value < 20000:  # the flood is under way
            check(time.time() < end, "the flood did not start")
            time.sleep(0.05)
        c.send("echo", "hello")
        while True:  # heartbeats come too
            check(dead.poll(int(DEADLINE * 1000)), "the worker got nothing")
            m = dead.recv_multipart()
            if m[2] != W1["HEARTBEAT"]:
                break
        check(m[2] == W1["REQUEST"], "worker got %r" % m)
        dead.close()  # gone with the request, no reply
        w = Worker(ctx, b.ep, "echo", tag="second")
        w.start()
        if not c.s.poll(int(WITHIN * 1000)):
            fail("the request of the closed worker is still held after "
                 "%.0f s of flood (%d messages sent)" % (WITHIN, sent.value))
        kind, svc, body = c.recv()
        check(body == [b"second", b"hello"], "reply %r" % body)
    finally:
        stop.set()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
    w.stop.set()
    b.proc.kill()  # its backlog of mmi.workers is not the point here
    b.proc.wait()
    print("ok: a closed worker's request went on under a flood (%.1f s)" %
          (time.time() - t0))


if __name__ == "__main__":
    main()
