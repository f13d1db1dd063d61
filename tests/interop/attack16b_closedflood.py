#!/usr/bin/python3
"""Attack on the majordomo (issue 16, second pass): a busy worker whose
connection closes is removed only once the broker's socket was read dry
since (s_disconnected / s_closed_gone). Under a flood that never lets
the socket run dry, is its request held forever?

usage: attack16b_closedflood.py ZRELAY

A worker takes a request and closes its socket without replying (as a
worker killed with -9 does). Meanwhile flooders keep the broker's ROUTER
full of malformed messages (each dropped and counted, cheap to read),
so that no burst finds it empty. The request must reach a second worker
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


def flood(ep, stop):
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.sndhwm = 100000
    s.connect(ep)
    junk = [b"", b"JUNK01", b"x"]
    while not stop.is_set():
        for _ in range(1000):
            s.send_multipart(junk)
    s.close()
    ctx.term()


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    b = start_broker(zrelay, "--heartbeat", "1s", "--busy-timeout", "0")
    ctx = zmq.Context()
    c = Client(ctx, b.ep, v=1)
    dead = ctx.socket(zmq.DEALER)
    dead.linger = 0
    dead.connect(b.ep)
    dead.send_multipart([b"", b"MDPW01", W1["READY"], b"echo"])
    wait_service(c, "echo")
    # spawn, not fork: a forked flooder would hold the worker's socket
    # open after the worker closed it.
    mp = multiprocessing.get_context("spawn")
    stop = mp.Event()
    procs = [mp.Process(target=flood, args=(b.ep, stop))
             for _ in range(FLOODERS)]
    for p in procs:
        p.start()
    try:
        wait_stat(b, "majordomo/malformed/protocol", lambda v: v > 100000,
                  "the flood")
        c.send("echo", "hello")
        while True:  # heartbeats come too
            check(dead.poll(int(DEADLINE * 1000)), "the worker got nothing")
            m = dead.recv_multipart()
            if m[2] != W1["HEARTBEAT"]:
                break
        check(m[2] == W1["REQUEST"], "worker got %r" % m)
        dead.close()  # gone with the request, no reply
        wait_stat(b, "majordomo/workers/gone", lambda v: v >= 0, "stats")
        w = Worker(ctx, b.ep, "echo", tag="second")
        w.start()
        if not c.s.poll(int(WITHIN * 1000)):
            st = get(b.stats(), "majordomo")
            fail("the request of the closed worker is still held after "
                 "%.0f s of flood (in_flight %d, workers %r, gone %d)" % (
                     WITHIN, st["requests"]["in_flight"],
                     st["workers"], st["workers"]["gone"]))
        kind, svc, body = c.recv()
        check(body == [b"second", b"hello"], "reply %r" % body)
    finally:
        stop.set()
        for p in procs:
            p.join(DEADLINE)
            if p.is_alive():
                p.kill()
    w.stop.set()
    b.stop()
    print("ok: a closed worker's request went on under a flood (%.1f s)" %
          (time.time() - t0))


if __name__ == "__main__":
    main()
