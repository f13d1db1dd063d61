#!/usr/bin/python3
"""Attack on the majordomo (issue 16): re-dispatch order and timers.

usage: attack16_order.py ZRELAY

- Re-dispatch order: a worker dies holding q0 while q1, q2, q3 wait; the
  next worker gets q0 first (it goes back to the front), then q1, q2, q3
  in the order they came; each answered once.
- LRU: three idle workers get three requests in the order they became
  ready (the least recently ready first).
- request_timeout with a heartbeat far longer: the error reply comes no
  sooner than request_timeout after the request, and long before the
  heartbeat (the timer looks at the request's own deadline).
- Liveness: a worker that heartbeats is never expired over 20 heartbeat
  periods; a silent idle one is expired, not before heartbeat x liveness.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, Client, Worker, check, get,  # noqa
                        start_broker, wait_service, wait_stat, zmq)
from attack16_counters import balance  # noqa


def dealer(ctx, ep, ident=None):
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    if ident:
        s.setsockopt(zmq.ROUTING_ID, ident)
    s.connect(ep)
    return s


def next_request(s):
    end = time.time() + DEADLINE
    while time.time() < end:
        if s.poll(100):
            m = s.recv_multipart()
            if m[2] == W1["REQUEST"]:
                return m
    check(False, "no request within the deadline")


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    ctx = zmq.Context()
    # 1. Re-dispatch order.
    b = start_broker(zrelay, "--heartbeat", "30s")
    c = Client(ctx, b.ep)
    a = dealer(ctx, b.ep)
    a.send_multipart([b"", b"MDPW01", W1["READY"], b"ord"])
    wait_service(c, "ord")
    c.send("ord", "q0")
    check(next_request(a)[-1] == b"q0", "a got q0")
    for i in (1, 2, 3):
        c.send("ord", "q%d" % i)
    wait_stat(b, "services/ord/requests/waiting", lambda v: v == 3, "wait")
    a.close()
    wait_stat(b, "services/ord/requests/retried", lambda v: v == 1, "retry")
    nb = dealer(ctx, b.ep)
    nb.send_multipart([b"", b"MDPW01", W1["READY"], b"ord"])
    order = []
    for _ in range(4):
        m = next_request(nb)
        order.append(m[-1])
        nb.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"", m[-1]])
    check(order == [b"q0", b"q1", b"q2", b"q3"], "order %r" % order)
    got = sorted(c.recv()[2][0] for _ in range(4))
    check(got == [b"q0", b"q1", b"q2", b"q3"], "answers %r" % got)
    check(not c.s.poll(200), "answered twice")
    nb.close()
    print("     re-dispatch: the orphan first, then the others in order")
    # 2. LRU among idle workers.
    ws = []
    for k in range(3):
        s = dealer(ctx, b.ep)
        s.send_multipart([b"", b"MDPW01", W1["READY"], b"lru"])
        wait_stat(b, "services/lru/workers/ready", lambda v, k=k: v == k + 1,
                  "lru %d" % k)
        ws.append(s)
    for i in range(3):
        c.send("lru", "r%d" % i)
    for k, s in enumerate(ws):
        m = next_request(s)
        check(m[-1] == b"r%d" % k, "worker %d got %r" % (k, m[-1]))
        s.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"", m[-1]])
    for _ in range(3):
        c.recv()
    for s in ws:
        s.close()
    print("     LRU: the least recently ready worker first")
    b.stop()
    # 3. request_timeout against a long heartbeat.
    b = start_broker(zrelay, "--heartbeat", "30s", "--request-timeout",
                     "400ms")
    c = Client(ctx, b.ep)
    for _ in range(3):
        t = time.time()
        c.send("nobody", "x")
        kind, svc, body = c.recv()
        took = time.time() - t
        check(body[0].startswith(b"ZRELAY-ERROR timeout"), "%r" % body)
        check(took >= 0.4, "timeout after %.3f s < request_timeout" % took)
        check(took < 15, "timeout after %.1f s: the heartbeat's?" % took)
    print("     request_timeout 400 ms, heartbeat 30 s: last took %.3f s"
          % took)
    b.stop()
    # 4. Liveness.
    b = start_broker(zrelay, "--heartbeat", "100ms", "--liveness", "20")
    c = Client(ctx, b.ep)
    alive = Worker(ctx, b.ep, "alive", heartbeat=0.05)
    alive.start()
    wait_service(c, "alive")
    silent = dealer(ctx, b.ep)
    t = time.time()
    silent.send_multipart([b"", b"MDPW01", W1["READY"], b"silent"])
    wait_service(c, "silent")
    wait_stat(b, "majordomo/workers/expired", lambda v: v == 1, "expired")
    took = time.time() - t
    check(took >= 2.0, "expired after %.3f s < heartbeat x liveness" % took)
    end = time.time() + 2.0  # 20 more heartbeat periods
    while time.time() < end:
        check(get(b.stats(), "majordomo/workers/expired") == 1,
              "the heartbeating worker was expired")
        time.sleep(0.1)
    check(c.call("mmi.service", "alive") == [b"200"], "alive")
    check(alive.disconnects == 0, "alive was told DISCONNECT")
    print("     liveness: silent worker expired after %.2f s; the beating "
          "one kept" % took)
    silent.close()
    alive.stop.set()
    alive.join()
    balance(b, "at the end")
    c.close()
    b.stop()
    ctx.term()
    print("PASS order (%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
