#!/usr/bin/python3
"""Attack on the majordomo (issue 16): do the request counters add up?

usage: attack16_counters.py ZRELAY

Every request the broker counts as received ends in exactly one outcome or
is still waiting or in flight:

  received == answered + mmi + failed + timeouts + rejected + stopped
              + dropped + waiting + in_flight

checked after each hostile or ordinary step: requests with no body
(malformed: not a request at all), MMI, answered, timed out, refused by
max_waiting, a reply carrying another client's identity (its worker is
dropped, the request goes to another), a reply for a request never given,
requests left waiting and in flight.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, Client, Worker, check, get,  # noqa
                        start_broker, wait_service, wait_stat, zmq)

OUTCOMES = ("answered", "mmi", "titanic", "failed", "timeouts", "rejected",
            "stopped", "dropped", "waiting", "in_flight")


def balance(b, step):
    """The identity, with a deadline: the gauges may lag a message."""
    end = time.time() + DEADLINE
    while True:
        r = get(b.stats(), "majordomo/requests")
        total = sum(r[k] for k in OUTCOMES)
        if r["received"] == total:
            return r
        if time.time() > end:
            check(False, "%s: received %d != %d = %s" % (
                step, r["received"], total,
                " + ".join("%s %d" % (k, r[k]) for k in OUTCOMES)))
        time.sleep(0.05)


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    b = start_broker(zrelay, "--heartbeat", "60s", "--request-timeout",
                     "1s", "--max-waiting", "1", "--retries", "3")
    ctx = zmq.Context()
    c1 = Client(ctx, b.ep, v=1)
    c2 = Client(ctx, b.ep, v=2)
    # Malformed: a request with no body frame (both versions).
    c1.s.send_multipart([b"", b"MDPC01", b"echo"])
    c2.s.send_multipart([b"MDPC02", b"\x01", b"echo"])
    wait_stat(b, "majordomo/malformed/frames", lambda v: v == 2, "no body")
    balance(b, "requests with no body")
    # MMI, and an ordinary answered request.
    w = Worker(ctx, b.ep, "echo", tag="w")
    w.start()
    wait_service(c1, "echo")
    check(c1.call("echo", "x") == [b"w", b"x"], "echo")
    balance(b, "mmi + answered")
    # Timeout, then max_waiting (1): the second waiting one is refused.
    c1.send("nosuch", "a")
    c1.send("nosuch", "b")
    got = sorted(c1.recv()[2][0].split()[1] for _ in range(2))
    check(got == [b"busy", b"timeout"], "timeout/busy %r" % got)
    balance(b, "timeout + rejected")
    # A worker that replies with another client's identity: dropped (told
    # DISCONNECT), its request retried and answered by another worker.
    liar = ctx.socket(zmq.DEALER)
    liar.linger = 0
    liar.connect(b.ep)
    liar.send_multipart([b"", b"MDPW01", W1["READY"], b"lie"])
    wait_service(c1, "lie")
    c1.send("lie", "secret")
    check(liar.poll(int(DEADLINE * 1000)), "liar got nothing")
    m = liar.recv_multipart()
    check(m[2] == W1["REQUEST"], "liar %r" % m)
    # The honest worker ready first: the retried request goes to it at
    # once, whatever request_timeout.
    honest = Worker(ctx, b.ep, "lie", tag="honest")
    honest.start()
    wait_stat(b, "services/lie/workers/ready", lambda v: v == 1, "honest")
    liar.send_multipart([b"", b"MDPW01", W1["REPLY"], b"\x00other", b"",
                         b"stolen"])
    check(liar.poll(int(DEADLINE * 1000)), "liar not told DISCONNECT")
    check(liar.recv_multipart()[2] == W1["DISCONNECT"], "liar DISCONNECT")
    wait_stat(b, "majordomo/requests/retried", lambda v: v == 1, "retried")
    balance(b, "a reply with another client's identity")
    kind, svc, body = c1.recv()
    check(body == [b"honest", b"secret"], "after the liar %r" % body)
    balance(b, "re-dispatched and answered")
    # A reply for a request it was never given, from a known idle worker.
    idle = ctx.socket(zmq.DEALER)
    idle.linger = 0
    idle.connect(b.ep)
    idle.send_multipart([b"", b"MDPW01", W1["READY"], b"idle"])
    wait_service(c1, "idle")
    idle.send_multipart([b"", b"MDPW01", W1["REPLY"], b"x", b"", b"y"])
    check(idle.poll(int(DEADLINE * 1000)), "idle not told DISCONNECT")
    wait_stat(b, "majordomo/requests/late_replies", lambda v: v == 2, "late")
    balance(b, "an unasked reply")
    # One in flight (a worker that holds it), one waiting behind it.
    hold = ctx.socket(zmq.DEALER)
    hold.linger = 0
    hold.connect(b.ep)
    hold.send_multipart([b"", b"MDPW01", W1["READY"], b"hold"])
    wait_service(c1, "hold")
    c2.send("hold", "1")
    check(hold.poll(int(DEADLINE * 1000)), "hold got nothing")
    wait_stat(b, "majordomo/requests/in_flight", lambda v: v == 1, "inflight")
    c2.send("hold", "2")
    wait_stat(b, "majordomo/requests/waiting", lambda v: v == 1, "waiting")
    r = balance(b, "one in flight")
    print("     %s" % " ".join("%s=%d" % (k, r[k]) for k in
                                 ("received",) + OUTCOMES))
    for x in (w, honest):
        x.stop.set()
        x.join()
    for s in (liar, idle, hold):
        s.close()
    c1.close()
    c2.close()
    b.stop()
    ctx.term()
    print("PASS counters (%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
