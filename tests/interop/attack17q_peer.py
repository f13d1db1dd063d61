#!/usr/bin/python3
"""Attack on the lru queue's federation (issue 17): a hostile peer that
takes the requests forwarded to it and answers them wrongly or not at
all. The queue A peers with it (its state on a PUB written here).

usage: attack17q_peer.py ZRELAY SCENARIO
  mute     the peer takes every request and never replies (its state
           keeps coming): each request is given up at the peer after
           busy_timeout, as a worker busy too long is: another try (to
           the same peer here), then, retries spent, its ZRELAY-ERROR
           failed reply, not silence; a reply that comes after that is
           late (counted), not a second answer
  slow     the peer replies to each request 1.5 request_timeouts after
           it came (busy_timeout is longer): each client gets its real
           reply, as from a slow local worker (request_timeout bounds
           the wait for a worker, not the work)
  badseq   the peer replies with a hop frame whose sequence number has
           junk after it ("...:1zz"), a wrong one, an empty body, then
           the right reply: only the right one answers the client, once;
           the others are counted late
  twice    the peer replies twice to each request: one answer each, the
           second counted late
  stop     the peer holds every request (never replies), one local
           worker holds one more, others wait: the queue stopped
           (SIGTERM) answers each with ZRELAY-ERROR stopping, exits 0,
           nothing leaked (LeakSanitizer) or freed twice
  huge     the peer answers every request with a frame over the queue's
           max_msg_size: the connection closes, the request comes back and
           is retried (the connection made afresh at the peer's next
           state); after `retries` its 'failed' error reply, never a
           huge answer, never bounced for ever
  mute_mdp mute, on a majordomo (busy_timeout 600 ms, retries 1): the
           request is given up at the peer after busy_timeout, sent to it
           once more, given up again: the client's 'failed' error reply
For each: the counters add up (every request taken is answered, failed
or still held, each in one counter), the queue serves a local worker
afterwards, no sanitizer report.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack17q_lib  # noqa: E402
from attack17q_lib import (DEADLINE, HEARTBEAT_MS, Client,  # noqa
                           HostilePeer, Queue, Worker, accounted, check,
                           fail, zmq)

N = 6
TIMEOUT_MS = 800
BUSY_MS = 600


def quiet(c, ms=300):
    """Nothing more comes to C for MS (a second answer would)."""
    end = time.time() + ms / 1000.0
    while time.time() < end:
        if c.s.poll(20):
            fail("an extra reply: %r" % c.s.recv_multipart())


def finish(q, ctx, c):
    st = q.stats()
    taken, out = accounted(st)
    check(taken == out, "requests taken %d, accounted for %d: %s %s" % (
        taken, out, st["broker"]["requests"], st["federation"]))
    # The queue still serves: a local worker answers the next request.
    w = Worker(ctx, q.be, b"L")
    q.wait("broker/workers/ready", lambda v: v == 1, "local worker")
    c.replies.clear()
    c.send(b"after")
    r = c.collect(1)
    check(r.get(b"after") == b"L: after", "after the attack: %r" % r)
    w.close()
    return st


def scenario_mute(zrelay, tmp, ctx):
    hs = "ipc://%s/H.state" % tmp
    h = HostilePeer(ctx, hs)  # no handler: takes, never replies
    q = Queue(zrelay, tmp, "A", peers=[hs], timeout_ms=TIMEOUT_MS * 20,
              extra="busy_timeout = %dms\nretries = 1\n" % BUSY_MS)
    q.wait("peers/H/ready", lambda v: v >= 1, "H offers")
    c = Client(ctx, q.fe)
    sent = time.time()
    for i in range(N):
        c.send(b"r%d" % i)
    r = c.collect(N, deadline=BUSY_MS / 1000.0 * 2 + DEADLINE)
    check(len(r) == N, "%d of %d requests answered (forwarded: %s)" % (
        len(r), N, q.stat("federation/requests")))
    took = time.time() - sent
    check(all(v.startswith(b"ZRELAY-ERROR failed") for v in r.values()),
          "replies %r" % r)
    # Given up twice each (retries = 1), busy_timeout each time.
    check(took >= BUSY_MS / 1000.0 * 2 * 0.9, "answered early: %.2fs" % took)
    q.wait("federation/requests/expired", lambda v: v == 2 * N,
           "given up twice each")
    # Its replies now: late, not second answers.
    for m in list(h.got):
        h.send(m[:3] + [b"H: " + m[-1]])
    q.wait("federation/requests/late_replies", lambda v: v >= 2 * N,
           "late replies counted")
    quiet(c)
    st = finish(q, ctx, c)
    b = st["broker"]["requests"]
    check(b["failed"] == N and b["retried"] == N, "broker %r" % b)
    check(st["peers"]["H"]["late"] >= 2 * N and
          st["peers"]["H"]["failed"] == 2 * N, "peer %r" % st["peers"]["H"])
    q.stop()
    h.close()
    print("mute: %d requests given up at the peer after busy_timeout, "
          "twice (retries 1), answered 'failed' after %.2fs; late replies "
          "counted" % (N, took))


def scenario_slow(zrelay, tmp, ctx):
    import threading

    def handle(p, m):
        threading.Timer(TIMEOUT_MS * 1.5 / 1000.0, p.send,
                        [m[:3] + [b"H: " + m[-1]]]).start()
    hs = "ipc://%s/H.state" % tmp
    h = HostilePeer(ctx, hs, handle=handle, ready=N)
    q = Queue(zrelay, tmp, "A", peers=[hs], timeout_ms=TIMEOUT_MS,
              extra="busy_timeout = %dms\n" % (TIMEOUT_MS * 4))
    q.wait("peers/H/ready", lambda v: v >= N, "H offers")
    c = Client(ctx, q.fe)
    for i in range(N):
        c.send(b"r%d" % i)
    r = c.collect(N)
    check(r == {b"r%d" % i: b"H: r%d" % i for i in range(N)},
          "replies %r (federation %r)" % (r, q.stat("federation/requests")))
    quiet(c)
    finish(q, ctx, c)
    q.stop()
    h.close()
    print("slow: %d requests served by a peer slower than request_timeout"
          % N)


def scenario_badseq(zrelay, tmp, ctx):
    def handle(p, m):
        ident, hop = m[0], m[1]
        name, seq = hop.rsplit(b":", 1)
        p.send([ident, hop + b"zz", b"", b"junk: " + m[-1]])
        p.send([ident, name + b":%x" % (int(seq, 16) + 1000), b"",
                b"wrong: " + m[-1]])
        p.send([ident, hop + b"\x00", b"", b"nul: " + m[-1]])
        p.send([ident, b"0" + hop[:0] + hop.replace(b"A:", b"A:0"), b"",
                b"zero: " + m[-1]])
        p.send([ident, hop, b""])
        p.send([ident, hop, b"", b"H: " + m[-1]])
    hs = "ipc://%s/H.state" % tmp
    h = HostilePeer(ctx, hs, handle=handle)
    q = Queue(zrelay, tmp, "A", peers=[hs], timeout_ms=TIMEOUT_MS * 10)
    q.wait("peers/H/ready", lambda v: v >= 1, "H offers")
    c = Client(ctx, q.fe)
    for i in range(N):
        c.send(b"r%d" % i)
    r = c.collect(N)
    check(len(r) == N, "%d of %d answered" % (len(r), N))
    bad = {k: v for k, v in r.items() if v != b"H: " + k}
    check(not bad, "answered by a malformed reply: %r" % bad)
    q.wait("federation/requests/late_replies", lambda v: v >= 5 * N,
           "malformed replies counted")
    quiet(c)
    finish(q, ctx, c)
    q.stop()
    h.close()
    print("badseq: %d requests, each answered once by its right reply" % N)


def scenario_twice(zrelay, tmp, ctx):
    def handle(p, m):
        p.send(m[:3] + [b"H: " + m[-1]])
        p.send(m[:3] + [b"H: " + m[-1]])
    hs = "ipc://%s/H.state" % tmp
    h = HostilePeer(ctx, hs, handle=handle)
    q = Queue(zrelay, tmp, "A", peers=[hs], timeout_ms=TIMEOUT_MS * 10)
    q.wait("peers/H/ready", lambda v: v >= 1, "H offers")
    c = Client(ctx, q.fe)
    for i in range(N):
        c.send(b"r%d" % i)
    r = c.collect(N)
    check(len(r) == N, "%d of %d answered" % (len(r), N))
    q.wait("federation/requests/late_replies", lambda v: v >= N,
           "second replies counted")
    quiet(c)
    finish(q, ctx, c)
    q.stop()
    h.close()
    print("twice: %d requests answered once each" % N)


def scenario_huge(zrelay, tmp, ctx):
    """A peer that answers every request with a frame over the queue's
    max_msg_size: its connection is closed, the request comes back, and
    a request it keeps bouncing is not sent to it for ever: after
    `retries` it gets its error reply."""
    def handle(p, m):
        p.send(m[:3] + [b"x" * (256 * 1024)])
    hs = "ipc://%s/H.state" % tmp
    h = HostilePeer(ctx, hs, handle=handle)
    q = Queue(zrelay, tmp, "A", peers=[hs], timeout_ms=TIMEOUT_MS * 20,
              extra="max_msg_size = 65536\nretries = 2\n")
    q.wait("peers/H/ready", lambda v: v >= 1, "H offers")
    c = Client(ctx, q.fe)
    for i in range(N):
        c.send(b"r%d" % i)
    end = time.time() + DEADLINE
    r = []
    while len(r) < N and time.time() < end:
        if c.s.poll(50):
            r.append(c.s.recv_multipart()[-1])
    check(len(r) == N, "%d of %d requests answered (federation: %s)" % (
        len(r), N, q.stat("federation/requests")))
    check(all(v.startswith(b"ZRELAY-ERROR failed") for v in r),
          "replies: %r (federation: %s, H: %s)" % ([v[:60] for v in r[:2]], q.stat("federation/requests"), q.stat("peers/H")))
    # Sent once and given back twice more (retries = 2): 3 times each.
    check(len(h.got) == 3 * N, "H got %d requests, not %d" % (len(h.got),
                                                             3 * N))
    check(q.stat("federation/requests/answered") == 0, "a huge one taken")
    quiet(c)
    finish(q, ctx, c)
    q.stop()
    h.close()
    print("huge: %d requests, each bounced 3 times, answered 'failed'" % N)


def scenario_stop(zrelay, tmp, ctx):
    hs = "ipc://%s/H.state" % tmp
    h = HostilePeer(ctx, hs, ready=3)  # takes 3 a heartbeat, never replies
    q = Queue(zrelay, tmp, "A", peers=[hs], timeout_ms=60000)
    q.wait("peers/H/ready", lambda v: v >= 1, "H offers")
    w = Worker(ctx, q.be, b"L", delay=30)  # takes one, holds it
    q.wait("broker/workers/ready", lambda v: v == 1, "local worker")
    c = Client(ctx, q.fe)
    for i in range(N * 2):
        c.send(b"r%d" % i)
    q.wait("federation/requests/forwarded", lambda v: v >= 3,
           "requests held by H")
    q.wait("broker/requests/in_flight", lambda v: v == 1, "one local")
    st = q.stats()
    taken, out = accounted(st)
    check(taken == out, "before stop: %d taken, %d accounted" % (taken, out))
    q.proc.send_signal(2)  # SIGINT, as SIGTERM: stop
    r = c.collect(N * 2)
    check(len(r) == N * 2, "%d of %d answered at stop" % (len(r), N * 2))
    check(all(v.startswith(b"ZRELAY-ERROR stopping") for v in r.values()),
          "at stop: %r" % r)
    q.stop()
    w.stop.set()
    h.close()
    print("stop: %d requests (%d at the peer) answered 'stopping'" % (
        N * 2, st["federation"]["requests"]["forwarded"]))


def scenario_mute_mdp(zrelay, tmp, ctx):
    hs = "ipc://%s/H.state" % tmp
    h = HostilePeer(ctx, hs, protocol=b"ZRFED01")
    h.state_msg = lambda: [b"ZRFED01", b"H", h.ep.encode(),
                           str(HEARTBEAT_MS).encode(), b"x", b"5"]
    conf = os.path.join(tmp, "M.conf")
    ctl = "ipc://%s/M.ctl" % tmp
    with open(conf, "w") as f:
        f.write("[zrelay]\ncontrol = @ipc://%s/M.daemon\n\n"
                "[majordomo M]\nfrontend = @tcp://127.0.0.1:*\n"
                "control = @%s\npeers = %s\nheartbeat = %dms\n"
                "request_timeout = %dms\nbusy_timeout = %dms\n"
                "retries = 1\n" % (tmp, ctl, hs, HEARTBEAT_MS, TIMEOUT_MS,
                                   BUSY_MS))
    import subprocess
    from attack17q_lib import RUNNING
    err = os.path.join(tmp, "M.err")
    p = subprocess.Popen([zrelay, "run", "-c", conf], stdout=subprocess.PIPE,
                         stderr=open(err, "w"), text=True)
    RUNNING.append(p)
    ep = None
    for line in p.stdout:
        w = line.split()
        if len(w) >= 5 and w[0] == "M" and w[2] == "frontend":
            ep = w[4]
        if w == ["ready"]:
            break
    end = time.time() + DEADLINE
    while time.time() < end:  # M knows H's workers of x
        out = subprocess.run([zrelay, "ctl", ctl, "stats", "--json"],
                             capture_output=True, text=True, timeout=10)
        if '"ready": 5' in out.stdout:
            break
        time.sleep(0.05)  # polling a counter with a deadline
    c = ctx.socket(zmq.DEALER)
    c.linger = 0
    c.connect(ep)
    c.send_multipart([b"", b"MDPC01", b"x", b"hello"])
    answered = c.poll(TIMEOUT_MS * 4)
    p.kill()
    p.wait()
    h.close()
    check(answered, "mute_mdp: a request forwarded to a peer that never "
          "replies (H got %d) got no answer in %d ms (request_timeout %d "
          "ms)" % (len(h.got), TIMEOUT_MS * 4, TIMEOUT_MS))
    log = open(err).read()
    check("Sanitizer" not in log and "runtime error" not in log,
          "mute_mdp: a sanitizer report: %s" % log[-3000:])
    reply = c.recv_multipart()
    # [MDPC01, x, body]: given up after busy_timeout, tried once more
    # (retries 1) at the same peer, given up again: "failed".
    check(len(reply) == 4 and reply[3].startswith(b"ZRELAY-ERROR failed"),
          "mute_mdp: %r, not the 'failed' error reply" % reply)
    check(len(h.got) == 2, "mute_mdp: H got %d requests, not 2 (one retry)"
          % len(h.got))
    print("mute_mdp: answered %r" % reply)


if __name__ == "__main__":
    attack17q_lib.main(__doc__, globals())
