#!/usr/bin/python3
"""Attack on the majordomo (issue 16): worker churn and kill -9.

usage: attack16_churn.py ZRELAY

- 2,000 workers connect, READY and go (half say DISCONNECT, half just
  close their connection), 100 at a time: none is left known, no service
  is left over.
- Rounds of 20 workers each given one request: every second one closes
  without answering, the others answer theirs and then the orphans
  (re-dispatched): every request answered exactly once, retried counts
  each orphan, nothing left over.
- 8 worker processes killed with SIGKILL, each holding a request: another
  worker answers all 8, each once; retried == 8.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mdp_broker  # noqa
from mdp_broker import (W1, DEADLINE, Client, Worker, check, get,  # noqa
                        start_broker, wait_service, wait_stat, zmq)
from attack16_counters import balance  # noqa


def dealer(ctx, ep):
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(ep)
    return s


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    b = start_broker(zrelay, "--heartbeat", "60s", "--retries", "50")
    ctx = zmq.Context()
    c = Client(ctx, b.ep)
    # 1. Churn.
    for batch in range(20):
        socks = [dealer(ctx, b.ep) for _ in range(100)]
        for s in socks:
            s.send_multipart([b"", b"MDPW01", W1["READY"], b"churn"])
        wait_stat(b, "services/churn/workers/ready", lambda v: v == 100,
                  "batch %d ready" % batch)
        for i, s in enumerate(socks):
            if i % 2:
                s.send_multipart([b"", b"MDPW01", W1["DISCONNECT"]])
        wait_stat(b, "majordomo/workers/disconnected",
                  lambda v: v == 50 * (batch + 1), "DISCONNECTs")
        for s in socks:
            s.close()
    wait_stat(b, "majordomo/workers/known", lambda v: v == 0, "workers left")
    wait_stat(b, "majordomo/services", lambda v: v == 0, "services left")
    st = get(b.stats(), "majordomo/workers")
    print("     2,000 workers came and went: %r" % st)
    check(st["gone"] == 1000 and st["disconnected"] == 1000,
          "gone/disconnected %r" % st)
    # 2. Rounds with requests in flight.
    sent = got = 0
    for rnd in range(10):
        ws = [dealer(ctx, b.ep) for _ in range(20)]
        for s in ws:
            s.send_multipart([b"", b"MDPW01", W1["READY"], b"mix"])
        wait_stat(b, "services/mix/workers/ready", lambda v: v == 20,
                  "round %d ready" % rnd)
        for i in range(20):
            c.send("mix", "%d-%d" % (rnd, i))
        sent += 20
        live = []
        for i, s in enumerate(ws):
            check(s.poll(int(DEADLINE * 1000)), "worker %d: no request" % i)
            m = s.recv_multipart()
            check(m[2] == W1["REQUEST"], "%r" % m)
            if i % 2:
                s.close()  # dies holding it
            else:
                s.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"",
                                  b"w%d" % i, m[-1]])
                live.append(s)
        seen = set()
        poller = zmq.Poller()
        for s in live:
            poller.register(s, zmq.POLLIN)
        poller.register(c.s, zmq.POLLIN)
        end = time.time() + DEADLINE
        while len(seen) < 20 and time.time() < end:
            for s, _ in poller.poll(200):
                m = s.recv_multipart()
                if s is c.s:
                    key = m[-1]
                    check(key not in seen, "%r answered twice" % key)
                    seen.add(key)
                elif m[2] == W1["REQUEST"]:
                    s.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3],
                                      b"", b"orphan", m[-1]])
        check(len(seen) == 20, "round %d: %d of 20 answered" % (rnd,
                                                              len(seen)))
        got += len(seen)
        check(not c.s.poll(100), "a late duplicate")
        for s in live:
            s.close()
        wait_stat(b, "majordomo/workers/known", lambda v: v == 0,
                  "round %d workers left" % rnd)
    st = b.stats()
    check(get(st, "majordomo/requests/retried") >= 100, "retried")
    balance(b, "after the rounds")
    print("     %d requests, 100 workers died holding one: each answered "
          "once (retried %d)" % (got, get(st, "majordomo/requests/retried")))
    r0 = get(st, "majordomo/requests/retried")
    # 3. kill -9 of worker processes mid-request.
    procs = []
    for i in range(8):
        p = subprocess.Popen([sys.executable, mdp_broker.__file__,
                              "--worker", b.ep, "k9", "hold"],
                             stdout=subprocess.PIPE, text=True)
        check(p.stdout.readline().strip() == "ready", "victim not ready")
        procs.append(p)
    wait_service(c, "k9")
    end = time.time() + DEADLINE
    while time.time() < end:
        r = c.call("mmi.workers", "k9")
        if r[0] == b"200" and b'"ready":8' in r[1]:
            break
        time.sleep(0.02)
    for i in range(8):
        c.send("k9", "precious%d" % i)
    for p in procs:
        line = p.stdout.readline().strip()
        check(line.startswith("got precious"), "victim: %r" % line)
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait()
    good = Worker(ctx, b.ep, "k9", tag="good")
    good.start()
    answers = [c.recv()[2] for _ in range(8)]
    check(sorted(a[1] for a in answers) ==
          [b"precious%d" % i for i in range(8)] and
          all(a[0] == b"good" for a in answers), "answers %r" % answers)
    check(not c.s.poll(300), "answered twice")
    wait_stat(b, "majordomo/requests/retried", lambda v: v == r0 + 8,
              "retried")
    print("     8 workers killed -9 holding a request: 8 answered once by "
          "another")
    good.stop.set()
    good.join()
    balance(b, "at the end")
    c.close()
    b.stop()
    err = open(b.err).read()
    check("AddressSanitizer" not in err and "runtime error" not in err,
          "sanitizer: %s" % err[-2000:])
    ctx.term()
    print("PASS churn (%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
