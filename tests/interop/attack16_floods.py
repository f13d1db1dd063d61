#!/usr/bin/python3
"""Attack on the majordomo (issue 16): floods.

usage: attack16_floods.py ZRELAY

- Services: echo, "nobody" and requests for 9,999 names nobody
  serves: 10,000 services exist; the one beyond gets "busy" at once; a
  worker's READY for yet another name gets DISCONNECT; each waiting one
  gets "timeout"; then no service is left (the table empties again).
- At the same time, 3 x max_waiting requests to "nobody", a service
  with no worker: the ones beyond max_waiting get "busy" at once, the
  others "timeout"; every request answered once (the broker's resident
  size after the floods is reported).
- READY floods: one identity READY for 2,000 names in a row (every
  second one is a second READY: the worker is dropped and told
  DISCONNECT); no worker or service is left over.
- HEARTBEAT floods: 20,000 from an identity that is no worker (each
  answered DISCONNECT, counted; the peer does not read them) and 20,000
  from a real worker; the broker serves a client all along.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, Client, Worker, check, get,  # noqa
                        start_broker, wait_service, wait_stat, zmq)
from attack16_counters import balance  # noqa


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def collect(c, n, what):
    """N replies on client C: {error code or b'ok': count}."""
    out = {}
    end = time.time() + DEADLINE * 3
    while sum(out.values()) < n and time.time() < end:
        if not c.s.poll(500):
            continue
        while c.s.poll(0):
            m = c.s.recv_multipart()
            body = m[-1]
            code = body.split()[1] if body.startswith(b"ZRELAY-ERROR") \
                else b"ok"
            out[code] = out.get(code, 0) + 1
    check(sum(out.values()) == n, "%s: %d of %d replies (%r)" % (
        what, sum(out.values()), n, out))
    check(not c.s.poll(200), "%s: more replies than requests" % what)
    return out


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    # request_timeout well beyond the time it takes to send a flood, so
    # that none times out before the last one of it is in.
    b = start_broker(zrelay, "--heartbeat", "30s", "--request-timeout",
                     "5s", "--max-waiting", "500")
    ctx = zmq.Context()
    c = Client(ctx, b.ep)
    c.s.sndhwm = c.s.rcvhwm = 0
    w = Worker(ctx, b.ep, "echo", tag="w", heartbeat=0.2)
    w.start()
    wait_service(c, "echo")
    rss0 = rss_kb(b.proc.pid)
    # Both floods at once (one request_timeout to wait for): first the
    # one to "nobody", then names enough to fill the service table.
    c2 = Client(ctx, b.ep)
    c2.s.sndhwm = c2.s.rcvhwm = 0
    n2 = 1500
    for i in range(n2):
        c2.send("nobody", "%d" % i)
    # 1. The service table's bound: echo, nobody and 9,998 more; one more
    # is refused.
    n = 9999
    for i in range(n):
        c.send("svc%05d" % i, "x")
    wait_stat(b, "majordomo/requests/rejected", lambda v: v == 1001,
              "the 10,001st service (and max_waiting)")
    check(get(b.stats(), "majordomo/services") == 10000,
          "services %r" % get(b.stats(), "majordomo/services"))
    late = ctx.socket(zmq.DEALER)
    late.linger = 0
    late.connect(b.ep)
    late.send_multipart([b"", b"MDPW01", W1["READY"], b"one-too-many"])
    check(late.poll(int(DEADLINE * 1000)), "READY beyond the bound: nothing")
    check(late.recv_multipart()[2] == W1["DISCONNECT"], "not DISCONNECT")
    late.close()
    got = collect(c, n, "10,000 services")
    check(got == {b"busy": 1, b"timeout": 9998}, "services: %r" % got)
    # 2. max_waiting (500).
    got2 = collect(c2, n2, "flood to a service with no worker")
    check(got2 == {b"busy": 1000, b"timeout": 500}, "flood: %r" % got2)
    wait_stat(b, "majordomo/services", lambda v: v == 1, "services freed")
    print("     echo + 10,000 services: %r; the table empties again" % got)
    wait_stat(b, "majordomo/requests/waiting", lambda v: v == 0, "waiting")
    check(c.call("echo", "alive") == [b"w", b"alive"], "still serving")
    balance(b, "after the floods")
    print("     %d requests to no worker: %r; broker RSS %d kB -> %d kB"
          % (n2, got2, rss0, rss_kb(b.proc.pid)))
    c2.close()
    # 3. READY flood from one identity.
    r = ctx.socket(zmq.DEALER)
    r.linger = 0
    r.rcvhwm = 0
    r.connect(b.ep)
    u0 = get(b.stats(), "majordomo/workers/unexpected")
    for i in range(2000):
        r.send_multipart([b"", b"MDPW01", W1["READY"], b"r%04d" % i])
    wait_stat(b, "majordomo/workers/unexpected", lambda v: v == u0 + 1000,
              "second READYs")
    wait_stat(b, "majordomo/workers/known", lambda v: v == 1, "workers")
    wait_stat(b, "majordomo/services", lambda v: v == 1, "services")
    r.close()
    print("     2,000 READYs from one identity: 1,000 refused, nothing left")
    # 4. HEARTBEAT floods, the broker serving all along.
    hb = ctx.socket(zmq.DEALER)
    hb.linger = 0
    hb.rcvhwm = 1  # it never reads the DISCONNECTs
    hb.sndhwm = 0
    hb.connect(b.ep)
    known = ctx.socket(zmq.DEALER)
    known.linger = 0
    known.sndhwm = 0
    known.connect(b.ep)
    known.send_multipart([b"", b"MDPW01", W1["READY"], b"beats"])
    wait_service(c, "beats")
    u0 = get(b.stats(), "majordomo/workers/unexpected")
    for i in range(20000):
        hb.send_multipart([b"", b"MDPW01", W1["HEARTBEAT"]])
        known.send_multipart([b"", b"MDPW01", W1["HEARTBEAT"]])
        if i % 5000 == 0:
            check(c.call("echo", "hb%d" % i) == [b"w", b"hb%d" % i],
                  "serving during the flood")
    wait_stat(b, "majordomo/workers/unexpected", lambda v: v == u0 + 20000,
              "unknown HEARTBEATs")
    check(c.call("mmi.service", "beats") == [b"200"], "the beating worker")
    print("     20,000 + 20,000 HEARTBEATs: counted, served all along")
    for s in (hb, known):
        s.close()
    balance(b, "at the end")
    w.stop.set()
    w.join()
    c.close()
    b.stop()
    err = open(b.err).read()
    check("AddressSanitizer" not in err and "runtime error" not in err,
          "sanitizer: %s" % err[-2000:])
    ctx.term()
    print("PASS floods (%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
