#!/usr/bin/python3
"""Attack on the lru queue's federation (issue 17): forged hop frames
from clients, peers that die and come back, a flood while the only peer
flaps, a client that stops reading.

usage: attack17q_churn.py ZRELAY SCENARIO
  forged   a DEALER client sends [hop, "", body] (a peer's request, as
           fed.c writes it) and hop-ish frames to queue A, whose only
           worker is on its peer H (H takes every request it gets): the
           hop request is served here only, never forwarded (its error
           reply after request_timeout carries the hop frame back; with a
           local worker it is served, the worker seeing three frames);
           "zrelay-hop:" alone, a 129-byte hop and a hop without the
           empty frame are ordinary requests (forwarded to H, answered)
  churn    queues A and B, B's workers the only ones; clients of A send
           without pause while B is killed (SIGKILL) and started again
           5 times: every request gets exactly one answer (a reply or an
           error reply), A's counters add up, no sanitizer report
  flap     one client floods A with 600 pipelined requests while B, A's
           only peer, is frozen (SIGSTOP) past its liveness and thawed,
           3 times: B's replies to requests A gave back come late and are
           counted, not sent twice; every request answered once
  stalled  a client sends 300 requests and never reads its replies while
           another client is served through B: the other is served, the
           stalled one's replies are counted (sent or dropped), A's
           counters add up
Every wait has a deadline; nothing sleeps and hopes.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack17q_lib  # noqa: E402
from attack17q_lib import (DEADLINE, HostilePeer, Queue, Worker,  # noqa
                           accounted, check, echo, fail, zmq)

TIMEOUT_MS = 1500


def quiet(sock, ms=300):
    end = time.time() + ms / 1000.0
    while time.time() < end:
        if sock.poll(20):
            fail("an extra reply: %r" % sock.recv_multipart())


def adds_up(q):
    st = q.stats()
    taken, out = accounted(st)
    check(taken == out, "%s: requests taken %d, accounted for %d: %s %s" % (
        q.name, taken, out, st["broker"]["requests"], st["federation"]))
    return st


def scenario_forged(zrelay, tmp, ctx):
    hs = "ipc://%s/H.state" % tmp
    h = HostilePeer(ctx, hs, handle=echo)
    q = Queue(zrelay, tmp, "A", peers=[hs], timeout_ms=TIMEOUT_MS)
    q.wait("peers/H/ready", lambda v: v >= 1, "H offers")
    d = ctx.socket(zmq.DEALER)
    d.linger = 0
    d.connect(q.fe)
    hops = [b"zrelay-hop:A:1", b"zrelay-hop:H:1", b"zrelay-hop:X:ff"]
    for i, hop in enumerate(hops):
        d.send_multipart([hop, b"", b"forged%d" % i])
    # Not hop frames: ordinary requests, forwarded to H and answered.
    odd = [[b"zrelay-hop:", b"", b"odd0"],
           [b"zrelay-hop:" + b"x" * 118, b"", b"odd1"],
           [b"zrelay-hop:A:2", b"odd2"]]
    for m in odd:
        d.send_multipart(m)
    got = {}
    end = time.time() + DEADLINE
    while len(got) < len(hops) + len(odd) and time.time() < end:
        if d.poll(50):
            m = d.recv_multipart()
            got[m[0] if m[-1].startswith(b"ZRELAY-ERROR") else m[-1]] = m
    check(len(got) == len(hops) + len(odd), "answers: %r" % got)
    for hop in hops:
        m = got.get(hop)
        check(m and m[:2] == [hop, b""] and len(m) == 3 and
              m[2].startswith(b"ZRELAY-ERROR timeout"),
              "forged hop %r: %r" % (hop, m))
    for i, m in enumerate(odd):
        check(any(k == b"H: odd%d" % i for k in got), "odd%d: %r" % (i, got))
    with h.lock:
        bodies = [m[-1] for m in h.got]
    check(not any(b.startswith(b"forged") for b in bodies),
          "a forged hop request was forwarded: %r" % bodies)
    check(sorted(bodies) == [b"odd0", b"odd1", b"odd2"], "H got %r" % bodies)
    # With a local worker, a hop request is served here, the worker
    # seeing [identity, "", body].
    w = ctx.socket(zmq.DEALER)
    w.linger = 0
    w.connect(q.be)
    w.send(b"\x01")
    q.wait("broker/workers/ready", lambda v: v == 1, "local worker")
    d.send_multipart([hops[0], b"", b"local"])
    check(w.poll(DEADLINE * 1000), "the worker got nothing")
    m = w.recv_multipart()
    while m == [b"\x02"]:
        check(w.poll(DEADLINE * 1000), "the worker got nothing")
        m = w.recv_multipart()
    check(len(m) == 3 and m[1:] == [b"", b"local"], "worker got %r" % m)
    w.send_multipart(m[:2] + [b"L: local"])
    check(d.poll(DEADLINE * 1000), "no reply")
    r = d.recv_multipart()
    check(r == [hops[0], b"", b"L: local"], "reply %r" % r)
    quiet(d)
    adds_up(q)
    q.stop()
    h.close()
    print("forged: hop requests served here only; hop-ish ones forwarded")


class Flood(threading.Thread):
    """A DEALER client sending N requests, WINDOW at most unanswered,
    counting answers: replies by body (each at most once), errors."""

    def __init__(self, ctx, ep, tag, n, window=20):
        super().__init__(daemon=True)
        self.ctx, self.ep, self.tag, self.n = ctx, ep, tag, n
        self.window = window
        self.ok = {}
        self.errors = []
        self.dup = []
        self.start()

    def run(self):
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.ep)
        sent = 0
        end = time.time() + 120
        while (len(self.ok) + len(self.errors) < self.n and
               time.time() < end):
            while (sent < self.n and
                   sent - len(self.ok) - len(self.errors) < self.window):
                s.send_multipart([b"", b"%s-%d" % (self.tag, sent)])
                sent += 1
            if s.poll(50):
                m = s.recv_multipart()
                body = m[-1]
                if body.startswith(b"ZRELAY-ERROR"):
                    self.errors.append(body)
                else:
                    key = body.split(b": ", 1)[-1]
                    if key in self.ok:
                        self.dup.append(key)
                    self.ok[key] = body
        self.sent = sent
        time.sleep(0.3)  # a window for a second answer to show
        while s.poll(0):
            self.dup.append(s.recv_multipart()[-1])
        s.close()

    def check(self):
        self.join(150)
        check(not self.is_alive(), "%s: still running" % self.tag)
        check(not self.dup, "%s: answered twice: %r" % (self.tag,
                                                        self.dup[:5]))
        check(len(self.ok) + len(self.errors) == self.n,
              "%s: %d sent, %d replies, %d errors" % (
                  self.tag, self.n, len(self.ok), len(self.errors)))


def scenario_churn(zrelay, tmp, ctx):
    b = Queue(zrelay, tmp, "B", timeout_ms=TIMEOUT_MS)
    ws = [Worker(ctx, b.be, b"W%d" % i) for i in range(2)]
    a = Queue(zrelay, tmp, "A", peers=[b.state], timeout_ms=TIMEOUT_MS)
    a.wait("peers/B/ready", lambda v: v >= 1, "B offers")
    floods = [Flood(ctx, a.fe, b"c%d" % i, 400, window=5) for i in range(2)]
    for k in range(5):
        a.wait("federation/requests/answered", lambda v, k=k: v >= 40 * k,
               "served through B")
        b.asan_clean()
        b.kill()
        b.start()
        a.wait("peers/B/ready", lambda v: v >= 1, "B back")
    for f in floods:
        f.check()
    st = adds_up(a)
    for w in ws:
        w.close()
    a.stop()
    b.stop()
    print("churn: %d requests, %d served, %d error replies; A: forwarded "
          "%d, answered %d, given back %d, expired %d, late %d" % (
              sum(f.n for f in floods), sum(len(f.ok) for f in floods),
              sum(len(f.errors) for f in floods),
              st["federation"]["requests"]["forwarded"],
              st["federation"]["requests"]["answered"],
              st["federation"]["requests"]["given_back"],
              st["federation"]["requests"]["expired"],
              st["federation"]["requests"]["late_replies"]))


def scenario_flap(zrelay, tmp, ctx):
    b = Queue(zrelay, tmp, "B", timeout_ms=TIMEOUT_MS * 4)
    ws = [Worker(ctx, b.be, b"W%d" % i, delay=0.02) for i in range(3)]
    a = Queue(zrelay, tmp, "A", peers=[b.state], timeout_ms=TIMEOUT_MS * 4)
    a.wait("peers/B/ready", lambda v: v >= 1, "B offers")
    f = Flood(ctx, a.fe, b"f", 600, window=60)
    for k in range(3):
        a.wait("federation/requests/answered",
               lambda v, k=k: v >= 50 * (k + 1), "served through B")
        deaths = a.stat("peers/B/deaths")
        b.proc.send_signal(signal.SIGSTOP)
        a.wait("peers/B/deaths", lambda v, d=deaths: v > d, "B dead")
        b.proc.send_signal(signal.SIGCONT)
        a.wait("peers/B/alive", lambda v: v == 1, "B alive again")
    check(f.is_alive(), "the flood ended before the flaps: make it longer")
    f.check()
    st = adds_up(a)
    for w in ws:
        w.close()
    a.stop()
    b.stop()
    print("flap: 600 requests, %d served, %d error replies; A: given back "
          "%d, late %d" % (len(f.ok), len(f.errors),
                           st["federation"]["requests"]["given_back"],
                           st["federation"]["requests"]["late_replies"]))


def scenario_stalled(zrelay, tmp, ctx):
    b = Queue(zrelay, tmp, "B", timeout_ms=TIMEOUT_MS)
    ws = [Worker(ctx, b.be, b"W%d" % i) for i in range(2)]
    a = Queue(zrelay, tmp, "A", peers=[b.state], timeout_ms=TIMEOUT_MS,
              extra="sndhwm = 10\n")
    a.wait("peers/B/ready", lambda v: v >= 1, "B offers")
    stalled = ctx.socket(zmq.DEALER)
    stalled.linger = 0
    stalled.rcvhwm = 1
    stalled.connect(a.fe)
    for i in range(300):
        stalled.send_multipart([b"", b"s-%d" % i])
    f = Flood(ctx, a.fe, b"ok", 200, window=10)
    f.check()
    a.wait("frontend/msgs_in", lambda v: v >= 500, "every request in")

    def settled(st):
        taken, out = accounted(st)
        b_ = st["broker"]["requests"]
        return taken == out and b_["waiting"] == 0 and \
            st["federation"]["requests"]["forwarded"] == \
            st["federation"]["requests"]["answered"] + \
            st["federation"]["requests"]["given_back"] + \
            st["federation"]["requests"]["expired"]
    end = time.time() + DEADLINE
    while not settled(a.stats()):
        check(time.time() < end, "A never settled: %r" % a.stats()["broker"])
        time.sleep(0.05)  # polling counters with a deadline
    st = adds_up(a)
    fe = st["frontend"]
    check(fe["msgs_out"] + sum(fe["drops"].values()) + fe["held"] >= 500,
          "replies: out %d, drops %r, held %d" % (
              fe["msgs_out"], fe["drops"], fe["held"]))
    for w in ws:
        w.close()
    stalled.close()
    a.stop()
    b.stop()
    print("stalled: the other client served (200); A's frontend: out %d, "
          "drops %r, held %d" % (fe["msgs_out"], fe["drops"], fe["held"]))


if __name__ == "__main__":
    attack17q_lib.main(__doc__, globals())
