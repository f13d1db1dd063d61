#!/usr/bin/python3
"""Attack on Titanic (issue 16, second pass): a hostile client of
titanic.request, titanic.reply and titanic.close, and the counters.

usage: attack16b_titanic.py ZRELAY

- requests with too few frames, for titanic.* / mmi.* / an empty name,
  for titanic.foo: 400, never stored;
- titanic.reply / close with UUIDs short, long, not hex, lower case,
  unknown: 400 (close: 200 for an unknown one, as RFC 9 says);
- a request bigger than titanic_max_bytes: 500 full; the store still
  takes the next one (the map is not broken);
- titanic.close of a request in a worker's hands, then its reply:
  the reply is dropped and counted, titanic.reply says 400, and the
  pending gauge goes back to 0 (no underflow);
- after every step the broker's identity holds: received = answered +
  mmi + titanic + failed + timeouts + rejected + stopped + dropped +
  waiting + in_flight.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, Client, check, get,  # noqa
                        start_broker, wait_service, wait_stat, zmq)

OUTCOMES = ("answered", "mmi", "titanic", "failed", "timeouts", "rejected",
            "stopped", "dropped", "waiting", "in_flight")


def balance(b, step):
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


def status(c, service, *body):
    c.send(service, *body)
    kind, svc, reply = c.recv()
    check(svc == service, "reply from %s to %s" % (svc, service))
    return reply


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    store = tempfile.mkdtemp(prefix="attack16b-")
    try:
        run(zrelay, store)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    print("ok: titanic held against a hostile client (%.1f s)" %
          (time.time() - t0))


def run(zrelay, store):
    b = start_broker(zrelay, "--titanic", store, "--titanic-max-bytes",
                     "1M", "--heartbeat", "60s")
    ctx = zmq.Context()
    c = Client(ctx, b.ep, v=1)
    c2 = Client(ctx, b.ep, v=2)
    # Too few frames: titanic.request with a name only.
    for cl in (c, c2):
        r = status(cl, "titanic.request", "echo")
        check(r[0] == b"400", "request without body: %r" % r)
    for name in ("titanic.request", "titanic.reply", "mmi.service",
                 "mmi.", "titanic."):
        r = status(c, "titanic.request", name, "x")
        check(r[0] == b"400", "request for %s: %r" % (name, r))
    r = status(c, "titanic.request", "", "x")
    check(r[0] == b"400", "request for no name: %r" % r)
    r = status(c, "titanic.foo", "x")
    check(r[0] == b"400", "titanic.foo: %r" % r)
    balance(b, "refused requests")
    # UUIDs: every malformed one refused, never crashing the lookup.
    bad = [b"", b"0", b"A" * 31, b"A" * 33, b"G" * 32, b"-" * 32,
           b"\x00" * 32, b"A" * 1000000, b"%s" * 16]
    for svc in ("titanic.reply", "titanic.close"):
        for u in bad:
            r = status(c, svc, u)
            check(r[0] == b"400", "%s %r...: %r" % (svc, u[:8], r[:1]))
    check(status(c, "titanic.reply", "F" * 32) == [b"400"], "unknown reply")
    check(status(c, "titanic.close", "F" * 32) == [b"200"], "unknown close")
    # Extra frames after the UUID are ignored.
    check(status(c, "titanic.reply", "F" * 32, "more")[0] == b"400",
          "extra frames")
    balance(b, "bad UUIDs")
    st = get(b.stats(), "titanic")
    check(st["requests"]["stored"] == 0, "something stored: %r" % st)
    # Bigger than the store: 500 full; a small one is stored after it.
    r = status(c, "titanic.request", "echo", b"x" * (2 << 20))
    check(r[0] == b"500" and r[1].startswith(b"ZRELAY-ERROR full"),
          "huge request: %r" % [f[:60] for f in r])
    r = status(c2, "titanic.request", "echo", "small")
    check(r[0] == b"200" and len(r[1]) == 32, "after huge: %r" % r)
    small = r[1]
    # Lower case names the same request.
    check(status(c, "titanic.reply", small.lower()) == [b"300"],
          "lower case UUID")
    balance(b, "huge + small")
    # A worker takes the small one and holds it; the client closes it.
    w = ctx.socket(zmq.DEALER)
    w.linger = 0
    w.connect(b.ep)
    w.send_multipart([b"", b"MDPW01", W1["READY"], b"echo"])
    check(w.poll(int(DEADLINE * 1000)), "the worker got nothing")
    m = w.recv_multipart()
    check(m[2] == W1["REQUEST"] and m[3] == small, "worker got %r" % m)
    wait_stat(b, "titanic/requests/pending", lambda v: v == 1, "pending 1")
    check(status(c, "titanic.close", small) == [b"200"], "close in flight")
    wait_stat(b, "titanic/requests/pending", lambda v: v == 0,
              "pending after close")
    w.send_multipart([b"", b"MDPW01", W1["REPLY"], small, b"", b"late"])
    wait_stat(b, "titanic/replies/dropped", lambda v: v == 1,
              "reply of a closed request")
    check(status(c, "titanic.reply", small) == [b"400"], "closed: 400")
    st = get(b.stats(), "titanic")
    check(st["requests"]["pending"] == 0, "pending %r" % st)
    balance(b, "close in flight, then its reply")
    # The worker is idle again: a new stored request reaches it, its
    # reply is stored and fetched (the store works after all this).
    r = status(c, "titanic.request", "echo", "again")
    check(r[0] == b"200", "again: %r" % r)
    check(w.poll(int(DEADLINE * 1000)), "the worker got nothing (2)")
    m = w.recv_multipart()
    check(m[3] == r[1], "worker got %r" % m)
    w.send_multipart([b"", b"MDPW01", W1["REPLY"], r[1], b"", b"done"])
    end = time.time() + DEADLINE
    while True:
        got = status(c, "titanic.reply", r[1])
        if got[0] == b"200":
            break
        check(got == [b"300"] and time.time() < end, "reply: %r" % got)
        time.sleep(0.02)
    check(got == [b"200", b"done"], "fetched %r" % got)
    check(status(c, "titanic.close", r[1]) == [b"200"], "close")
    st = get(b.stats(), "titanic")
    check(st["requests"]["pending"] == 0, "pending at the end %r" % st)
    balance(b, "the end")
    b.stop()


if __name__ == "__main__":
    main()
