#!/usr/bin/python3
"""ATTACK13: the subscription table (src/subs.c, a red-black tree) under
floods, churn and kill -9, with STATS read in a loop all along.

Phases:
 flood  one SUB subscribes N distinct topics, the empty topic, binary
        topics with NUL bytes and a few huge ones; the table must count
        them all and list the first 1000 in byte order.
 churn  C connections subscribe and unsubscribe random topics of a set
        that straddles the listed range, then close; the table must come
        back to what the flood left.
 kill   P subscriber processes holding K topics each are killed with
        SIGKILL; the table must come back again.
A reader thread asks STATS all along and checks every answer: the list
in strict byte order, counts > 0, at most 1000 rows, and consistent with
subscriptions.total/topics (all of them when not truncated).

Run against the ASan build; its stderr goes to /tmp/attack13-subs.err.
usage: attack13_subs.py ZRELAY [N] [C] [P] [K]
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import zmq

from attacklib import free_port, start


def topic_key(row):
    if "topic_hex" in row:
        return bytes.fromhex(row["topic_hex"])
    return row["topic"].encode()


def check(st, problems):
    s = st.get("subscriptions", {})
    lst = s.get("list", [])
    keys = [topic_key(r) for r in lst]
    if any(keys[i] >= keys[i + 1] for i in range(len(keys) - 1)):
        problems.append("list not in strict byte order")
    if any(r["count"] <= 0 for r in lst):
        problems.append("a listed count <= 0")
    if len(lst) > 1000:
        problems.append("list longer than 1000")
    if s.get("truncated"):
        if len(lst) != 1000:
            problems.append("truncated with %d rows" % len(lst))
    else:
        if len(lst) != s.get("topics"):
            problems.append("topics %s but %d rows (not truncated)" %
                            (s.get("topics"), len(lst)))
        if sum(r["count"] for r in lst) != s.get("total"):
            problems.append("total %s but rows sum to %d" %
                            (s.get("total"), sum(r["count"] for r in lst)))
    return s


class Stats:
    def __init__(self, ctx, ctl):
        self.ctx, self.ctl = ctx, ctl
        self.sock = None

    def get(self):
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.REQ)
            self.sock.connect(self.ctl)
        self.sock.send(b"STATS")
        if not self.sock.poll(120000):
            raise RuntimeError("STATS: no answer in 120 s")
        return json.loads(self.sock.recv())


def wait_total(stats, want, what, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        s = stats.get()["subscriptions"]
        if s["total"] == want:
            return s
        time.sleep(0.05)
    raise RuntimeError("%s: total %s, want %d" % (what, s["total"], want))


CHILD = r"""
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.sndhwm = 0
s.connect(sys.argv[1])
for t in range(int(sys.argv[3])):
    s.setsockopt(zmq.SUBSCRIBE, b"k%s-%06d" % (sys.argv[2].encode(), t))
    s.setsockopt(zmq.SUBSCRIBE, b"shared%04d" % (t % 50))
print("ok", flush=True)
time.sleep(3600)
"""


def main():
    zrelay = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    nconn = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    nproc = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    k = int(sys.argv[5]) if len(sys.argv) > 5 else 3000
    fe, be, ctl = ["tcp://127.0.0.1:%d" % free_port() for _ in range(3)]
    relay = start([zrelay, "forwarder", "@" + fe, "@" + be, "--control",
                   "@" + ctl], "/tmp/attack13-subs.err", deadline=30)
    ctx = zmq.Context()
    stats = Stats(ctx, ctl)
    problems, reads = [], [0]
    stop = threading.Event()

    def reader():
        r = Stats(ctx, ctl)
        while not stop.is_set():
            try:
                check(r.get(), problems)
                reads[0] += 1
            except Exception as e:  # noqa
                problems.append("reader: %r" % e)
                return
        r.sock.close(0)

    rt = threading.Thread(target=reader, daemon=True)
    rt.start()

    # flood
    t0 = time.time()
    flood = ctx.socket(zmq.SUB)
    flood.sndhwm = 0  # else libzmq's SUB drops subscriptions past its HWM
    flood.connect(be)
    special = [b"", b"\x00", b"\x00a\x00", b"a\x00b", b"\xff\x00\xff",
               b"\x00" * 300]
    huge = int(os.environ.get("HUGE", "200000"))
    if huge:
        special += [b"H" * (huge // 3), b"\x01" * huge]
    for t in special:
        flood.setsockopt(zmq.SUBSCRIBE, t)
    for i in range(n):
        flood.setsockopt(zmq.SUBSCRIBE, b"t%06d" % i)
    base = n + len(special)
    s = wait_total(stats, base, "flood")
    print("flood: %d subscriptions in %.1f s; topics=%s truncated=%s "
          "first=%r" % (base, time.time() - t0, s["topics"],
                        s.get("truncated"), s["list"][:3]))
    st = stats.get()
    check(st, problems)
    keys = [topic_key(r) for r in st["subscriptions"]["list"]]
    want = sorted(special + [b"t%06d" % i for i in range(n)])[:1000]
    if keys != want:
        problems.append("flood list differs from the first 1000 topics")

    # churn
    t0 = time.time()
    pool = [b"t%06d" % i for i in range(0, 3000, 3)] + \
           [b"c%05d" % i for i in range(500)] + [b"", b"\x00", b"t"]
    socks = []
    ops = 0
    rnd = random.Random(13)
    for c in range(nconn):
        so = ctx.socket(zmq.SUB)
        so.sndhwm = 0
        so.connect(be)
        held = set()
        for _ in range(400):
            t = rnd.choice(pool)
            if t in held and rnd.random() < 0.5:
                so.setsockopt(zmq.UNSUBSCRIBE, t)
                held.discard(t)
            else:
                so.setsockopt(zmq.SUBSCRIBE, t)
                held.add(t)
            ops += 1
        socks.append(so)
        if len(socks) > 10:
            socks.pop(0).close(0)
    for so in socks:
        so.close(0)
    s = wait_total(stats, base, "churn")
    print("cpu %.2f s; churn: %d ops over %d connections in %.1f s, back to %d" %
          (stats.get()["cpu_seconds"], ops, nconn, time.time() - t0, s["total"]))

    # kill -9
    t0 = time.time()
    procs = []
    for p in range(nproc):
        pr = subprocess.Popen(["/usr/bin/python3", "-c", CHILD, be, str(p),
                               str(k)], stdout=subprocess.PIPE)
        procs.append(pr)
    for pr in procs:
        pr.stdout.readline()
    wait_total(stats, base + nproc * k + 50 * 4 // 4 * min(nproc, 1) * 0 + nproc * min(k, 50), "kill: up")
    for pr in procs:
        os.kill(pr.pid, signal.SIGKILL)
        pr.wait()
    s = wait_total(stats, base, "kill: down")
    print("kill: %d processes x %d topics killed, back to %d in %.1f s" %
          (nproc, k + min(k, 50), s["total"], time.time() - t0))

    flood.close(0)
    wait_total(stats, 0, "all gone")
    stop.set()
    rt.join(30)
    stats.sock.close(0)
    relay.terminate()
    rc = relay.wait(30)
    err = open("/tmp/attack13-subs.err").read()
    asan = "ERROR: AddressSanitizer" in err or "runtime error" in err
    print("STATS reads checked: %d; relay exit %d; sanitizer report: %s" %
          (reads[0], rc, asan))
    ctx.term()
    if problems or asan or rc != 0:
        print("PROBLEMS (%d):" % len(problems), sorted(set(problems))[:10])
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
