#!/usr/bin/python3
"""Attack on the majordomo (issue 16, second pass): workers that close
their connection right after replying, while requests wait.

usage: attack16b_replyclose.py ZRELAY

The broker sees the reply, takes the worker for ready again and may give
it the next waiting request before it sees the close; then that request
goes to another worker (retried). 4 threads churn one-request workers
(READY, one REQUEST, REPLY, close, no DISCONNECT) while a client has 400
requests waiting, --retries 1. Counted: requests answered by a worker,
error replies (failed: a request that met two closing workers), retried.
Afterwards no worker is left known, nothing in flight or waiting, and
the identity holds. The broker must live: each new connection's ZAP
handshake drained the majordomo's monitor in the ZAP handler's thread,
which removed (freed) workers there while the broker's thread used them
(ASan: heap-use-after-free in s_worker_remove).
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, check, get, start_broker,  # noqa
                        wait_stat, zmq)
from attack16_counters import balance  # noqa

N = 1000
ROUNDS = 4  # the race below is not hit every time


def alive(b):
    """Fail, with the broker's last words, when it died."""
    if b.proc.poll() is not None:
        err = open(b.err).read().splitlines()
        why = [l for l in err if "ERROR" in l or "SUMMARY" in l or
               "#0 " in l or "#1 " in l][:4]
        check(False, "the broker died (exit %d): %s" % (
            b.proc.returncode, " | ".join(l.strip() for l in why)))


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    for rnd in range(ROUNDS):
        one_round(zrelay)
    print("ok: workers closing after their reply, %d rounds (%.1f s)" %
          (ROUNDS, time.time() - t0))


def one_round(zrelay):
    b = start_broker(zrelay, "--heartbeat", "1s", "--retries", "1",
                     "--request-timeout", "60s")
    ctx = zmq.Context()
    c = ctx.socket(zmq.DEALER)
    c.linger = 0
    c.sndhwm = c.rcvhwm = 0
    c.connect(b.ep)
    for i in range(N):
        c.send_multipart([b"MDPC02", b"\x01", b"rc", b"%d" % i])
    stop = threading.Event()
    served = [0]
    lock = threading.Lock()

    def churn():
        while not stop.is_set():
            w = ctx.socket(zmq.DEALER)
            w.linger = 1000  # the reply goes out before the close
            w.connect(b.ep)
            w.send_multipart([b"", b"MDPW01", W1["READY"], b"rc"])
            while not stop.is_set():
                if not w.poll(100):
                    continue
                m = w.recv_multipart()
                if m[2] == W1["REQUEST"]:
                    w.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"",
                                      b"ok"] + m[5:])
                    with lock:
                        served[0] += 1
                    break
                if m[2] == W1["DISCONNECT"]:
                    break
            w.close()
    threads = [threading.Thread(target=churn, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    ok = failed = 0
    got = set()
    for i in range(N):
        if not c.poll(int(DEADLINE * 1000)):
            stop.set()
            alive(b)
            st = get(b.stats(), "majordomo")
            check(False, "only %d of %d answered (%d replies sent by "
                  "workers); broker: requests %r, workers %r" % (
                      i, N, served[0], st["requests"], st["workers"]))
        m = c.recv_multipart()
        if m[3] == b"ok":
            check(m[4] not in got, "answered twice: %r" % m[4])
            got.add(m[4])
            ok += 1
        else:
            failed += 1
    stop.set()
    for t in threads:
        t.join()
    alive(b)
    st = wait_stat(b, "majordomo", lambda v: v["workers"]["known"] == 0 and
                   v["requests"]["in_flight"] == 0, "no worker left")
    r = balance(b, "the end")
    print("%d requests: %d answered, %d failed (met two closing workers); "
          "retried %d; %d replies sent by workers" % (
              N, ok, failed, r["retried"], served[0]))
    check(r["waiting"] == 0, "waiting %r" % r)
    check(failed == r["failed"], "failed %d, counted %d" % (failed,
                                                             r["failed"]))
    b.stop()


if __name__ == "__main__":
    main()
