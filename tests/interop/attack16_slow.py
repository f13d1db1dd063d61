#!/usr/bin/python3
"""Attack on the majordomo (issue 16): peers that do not keep up.

usage: attack16_slow.py ZRELAY

- A client that sends 4,000 requests and reads none of the replies (its
  receive HWM 1): the broker does not block on it. Another client is
  served all along (each call within the deadline); the replies that do
  not fit are dropped and counted on the frontend (drops.peer_full,
  peer_stalls); the worker answers every request.
- A client that vanishes with requests in flight: the replies to it are
  dropped and counted (drops.no_route); the broker keeps serving.
- A worker that READYs, takes a request, keeps heartbeating and never
  answers: as documented (docs/MAJORDOMO.md, a busy worker is not
  expired by silence; no busy timeout), the request stays in flight past
  request_timeout, with no reply; when that worker goes, the request goes
  to another worker and is answered once.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, Client, Worker, check, get,  # noqa
                        start_broker, wait_service, wait_stat, zmq)
from attack16_counters import balance  # noqa


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    b = start_broker(zrelay, "--heartbeat", "30s")
    ctx = zmq.Context()
    w = Worker(ctx, b.ep, "echo", tag="w", heartbeat=0.1)
    w.start()
    fast = Client(ctx, b.ep)
    wait_service(fast, "echo")
    # 1. The client that does not read.
    slow = Client(ctx, b.ep)
    slow.s.rcvhwm = 1
    slow.s.sndhwm = 0
    slow.s.disconnect(b.ep)
    slow.s.connect(b.ep)  # the HWM applies to pipes made after it is set
    body = b"z" * 16384
    n = 4000
    stop = threading.Event()

    def flood():
        for i in range(n):
            slow.s.send_multipart([b"", b"MDPC01", b"echo", body])
        stop.set()

    th = threading.Thread(target=flood, daemon=True)
    th.start()
    worst = 0.0
    calls = 0
    while not stop.is_set() or calls < 20:
        t = time.time()
        r = fast.call("echo", "f%d" % calls)
        check(r == [b"w", b"f%d" % calls], "the fast client: %r" % r)
        worst = max(worst, time.time() - t)
        calls += 1
    th.join()
    wait_stat(b, "services/echo/requests/served", lambda v: v >= n + calls,
              "the worker answers every request")
    st = b.stats()
    drops = get(st, "frontend/drops/peer_full")
    stalls = get(st, "frontend/peer_stalls")
    print("     slow reader: %d requests; fast client %d calls, worst %.3f s;"
          " peer_full %d, peer_stalls %d" % (n, calls, worst, drops, stalls))
    check(drops > 0 and stalls >= 1, "the drops are not counted")
    balance(b, "after the slow reader")
    slow.close()
    # 2. A client that vanishes with requests in flight: replies dropped.
    hold = ctx.socket(zmq.DEALER)
    hold.linger = 0
    hold.connect(b.ep)
    hold.send_multipart([b"", b"MDPW01", W1["READY"], b"hold"])
    wait_service(fast, "hold")
    gone = Client(ctx, b.ep)
    gone.send("hold", "orphan")
    check(hold.poll(int(DEADLINE * 1000)), "hold got nothing")
    m = hold.recv_multipart()
    while m[2] != W1["REQUEST"]:
        m = hold.recv_multipart()
    gone.close()
    nr0 = get(b.stats(), "frontend/drops/no_route")
    wait_stat(b, "frontend/connections/disconnected",
              lambda v: v >= 1, "the client's connection closed")
    hold.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"", b"late"])
    wait_stat(b, "frontend/drops/no_route", lambda v: v == nr0 + 1,
              "the reply to a vanished client")
    check(fast.call("echo", "after") == [b"w", b"after"], "still serving")
    print("     client gone with a request in flight: reply dropped, "
          "counted no_route")
    balance(b, "at the end")
    w.stop.set()
    w.join()
    hold.close()
    fast.close()
    b.stop()
    # 3. The worker that never answers (but heartbeats).
    b = start_broker(zrelay, "--heartbeat", "1s", "--request-timeout",
                     "300ms")
    fast = Client(ctx, b.ep)
    hold = ctx.socket(zmq.DEALER)
    hold.linger = 0
    hold.connect(b.ep)
    hold.send_multipart([b"", b"MDPW01", W1["READY"], b"hold"])
    wait_service(fast, "hold")
    fast.send("hold", "stuck")
    m = hold.recv_multipart()
    while m[2] != W1["REQUEST"]:
        m = hold.recv_multipart()
    end = time.time() + 1.5  # 5 x request_timeout, heartbeating
    while time.time() < end:
        hold.send_multipart([b"", b"MDPW01", W1["HEARTBEAT"]])
        check(not fast.s.poll(100), "a reply came for the stuck request")
    st = b.stats()
    check(get(st, "services/hold/requests/in_flight") == 1, "in flight")
    check(get(st, "services/hold/requests/timeouts") == 0, "timed out")
    other = Worker(ctx, b.ep, "hold", tag="other")
    other.start()
    wait_stat(b, "services/hold/workers/ready", lambda v: v == 1, "other")
    hold.close()  # the stuck worker goes: its request to the other
    kind, svc, body = fast.recv()
    check(body == [b"other", b"stuck"], "after the stuck worker %r" % body)
    check(not fast.s.poll(200), "answered twice")
    print("     a worker that never answers holds its request past "
          "request_timeout (documented); answered once when it goes")
    balance(b, "at the end")
    other.stop.set()
    other.join()
    fast.close()
    b.stop()
    err = open(b.err).read()
    check("AddressSanitizer" not in err and "runtime error" not in err,
          "sanitizer: %s" % err[-2000:])
    ctx.term()
    print("PASS slow (%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
