#!/usr/bin/python3
"""Attack on the majordomo (issue 16): PARTIAL replies across a
re-dispatch.

usage: attack16_partial.py ZRELAY

A 0.1 client asks a 0.2 worker; the worker sends a PARTIAL (held by the
broker: 0.1 has one reply per request) and then dies. The request goes to
another worker. The 0.1 client's one reply must be the second worker's
answer alone: the dead worker's PARTIAL bodies belong to an answer that
never finished and must not be glued in front of the new one.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W2, Client, Worker, check, get, start_broker,  # noqa
                        wait_service, wait_stat, zmq)


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    b = start_broker(zrelay, "--heartbeat", "60s", "--retries", "2")
    ctx = zmq.Context()
    client = Client(ctx, b.ep, v=1)
    a = ctx.socket(zmq.DEALER)
    a.linger = 0
    a.connect(b.ep)
    a.send_multipart([b"MDPW02", W2["READY"], b"stream"])
    wait_service(client, "stream")
    client.send("stream", "q")
    check(a.poll(20000), "the first worker got no request")
    m = a.recv_multipart()
    check(m[:2] == [b"MDPW02", W2["REQUEST"]], "request %r" % m)
    who = m[2]
    a.send_multipart([b"MDPW02", W2["PARTIAL"], who, b"", b"dead-part"])
    wait_stat(b, "majordomo/partials", lambda v: v == 1, "the PARTIAL")
    a.close()  # its connection closes: the monitor says it is gone
    wait_stat(b, "majordomo/requests/retried", lambda v: v == 1, "retried")
    good = Worker(ctx, b.ep, "stream", v=2, tag="good")
    good.start()
    kind, svc, body = client.recv()
    check(body == [b"good", b"q"],
          "0.1 client after a re-dispatch got %r, expected [b'good', b'q'] "
          "(the dead worker's PARTIAL was kept)" % body)
    check(not client.s.poll(300), "answered twice")
    st = b.stats()
    check(get(st, "majordomo/requests/answered") == 1, "answered")
    print("     0.1 client: only the second worker's reply %r" % body)
    good.stop.set()
    good.join()
    client.close()
    b.stop()
    ctx.term()
    print("PASS partial (%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
