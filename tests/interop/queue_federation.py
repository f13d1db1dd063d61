#!/usr/bin/python3
"""Federated lru queues (issue 17, "peers on a majordomo (and lru queue)")
on loopback: `zrelay run` with [queue NAME] sections (strategy = lru)
whose peers and peer_bind join them; clients (REQ, DEALER) and workers
(the Guide's lbbroker REQ worker, Paranoid Pirate DEALER workers)
written here, the queues' counters asserted, not only the replies.

usage: queue_federation.py ZRELAY SCENARIO
  forward  A and B peered, workers only on B (one Guide REQ worker, one
           Paranoid Pirate DEALER worker): A's REQ and DEALER clients are
           served by B's workers, which see an ordinary envelope
           [identity, "", body]; A's peers.B.sent/received and
           federation.requests.forwarded, B's broker.requests.answered
           count them; B forwards nothing; B offers its one service
           ("queue", peers.B.services 1) only while it has workers
  state    A's state messages as a SUB on its peer_bind reads them:
           [ZRFEDQ1, "A", its frontend's endpoint, "100"], then
           + ["queue", "1"] with an idle worker, ["queue", "0"] with it
           busy, and no service again once it is gone
  local    a ready worker on A: A's client is served by it and nothing is
           forwarded; with A's worker busy, the next request goes to B
  loop     A and B peered both ways, no workers anywhere but one busy REQ
           worker on A: a request to B goes to A at most once (B's
           federation.requests.forwarded <= 1, A's 0) and gets the error
           reply after request_timeout; then a request that already
           crossed one queue (a hop frame in its envelope) is not sent on
           by A to B, whose worker is ready, and gets its error reply on
           its own envelope; also when one of A's own client's requests,
           waiting behind it, goes to B
  death    workers only on B; B killed (SIGKILL) with a request forwarded to
           it: A declares B dead (peers.B.alive 0, deaths 1), the request
           comes back (given_back) and gets the error reply after
           request_timeout, never silence; B started again: served again
  giveback a long request_timeout: a request given back by a killed peer
           goes to another live peer (A peers B and C; B, with more ready
           workers, took it and was killed: C answers it), or to a local
           worker that joins after the peer died; no error reply
  sigterm  A stopped (SIGTERM) with its client's request at B: the client
           gets "ZRELAY-ERROR stopping" before A exits (0); B sees A dead
  stopped  B stopped (SIGSTOP) with a request forwarded to it: A declares
           B dead, the client gets the error reply after request_timeout;
           B continued (SIGCONT) and its worker answering the old request
           late: A sees B alive again, the client never gets that late
           reply (the next message it gets is its next request's reply),
           a request is never answered twice
  late     a peer Z played here (its ZRFEDQ1 state on ipc, a ROUTER as its
           frontend): A sends it [hop, "", body] (hop "zrelay-hop:A:..."),
           Z's state stops: A declares Z dead, the client gets the error
           reply after request_timeout; Z's reply then comes on the open
           connection: dropped and counted (peers.Z.late,
           federation.requests.late_replies), never delivered; Z's state
           again: the next request is answered through Z
  seed     the seed's own REQ client program (seed/s2_stable_publisher.py,
           endpoints changed only; the seed has no lbbroker-style worker,
           see scenario_seed) against A, 8 of them at once, with the
           Guide's lbbroker workers on B: every request answered, and the
           counters of A and B show each one crossing
  bench    (not a test: no ctest runs it) the cost of the hop: one
           client's sequential requests straight to B, then through A
           (QUEUE_FED_N, 5000), 3 alternating rounds; p50, p99, rate
  envelopes  a peer named "B.x" (its counters: peers.B_x): DEALER
           clients' requests of other shapes (no empty delimiter, a body
           of several frames, an envelope of its own) get through A the
           same reply as straight from B, and every one is counted
  mixed    a majordomo M and a queue Q peered both ways (M with a worker
           of a service named "queue"): each refuses the other's state
           (federation.states.malformed, one error in its log, no
           peers.* section), and Q's client gets its error reply after
           request_timeout, nothing forwarded
  config   peers or peer_bind on a queue with strategy rr or hash, or on a
           forwarder or streamer: `zrelay run` refuses the config (exit 2)
           with an error naming the key (and, on a queue, the strategy or
           lru); on an lru queue both are accepted
Every wait has a deadline; nothing sleeps and hopes.
"""
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mdp_broker import DEADLINE, check, fail, get  # noqa: E402
from mdp_federation import Node, launch  # noqa: E402

try:
    import zmq
except ImportError:
    print("SKIP: pyzmq is not installed (scripts/deps.sh)")
    sys.exit(77)

HEARTBEAT_MS = 100
LIVENESS = 3
TIMEOUT_MS = 1500  # request_timeout
ERROR = b"ZRELAY-ERROR timeout"
NODES = []  # every queue started, for its log on a failure


class Queue(Node):
    """`zrelay run` with one [queue NAME], strategy lru, whose state is on
    ipc (mdp_federation.Node's stats, stat, wait, kill and stop)."""

    timeout_ms = TIMEOUT_MS  # its request_timeout

    def start(self):
        conf = os.path.join(self.tmp, self.name + ".conf")
        with open(conf, "w") as f:
            f.write("[zrelay]\ncontrol = @ipc://%s/%s.daemon\n\n"
                    % (self.tmp, self.name))
            f.write("[queue %s]\n" % self.name)
            f.write("frontend = @%s\n" % (self.ep or "tcp://127.0.0.1:*"))
            f.write("backend = @tcp://127.0.0.1:*\n")
            f.write("strategy = lru\n")
            f.write("control = @%s\n" % self.ctl)
            f.write("peer_bind = @%s\n" % self.state)
            if self.peers:
                f.write("peers = %s\n" % ", ".join(
                    "ipc://%s/%s.state" % (self.tmp, p) for p in self.peers))
            f.write("heartbeat = %dms\nliveness = %d\n"
                    "request_timeout = %dms\n"
                    % (HEARTBEAT_MS, LIVENESS, self.timeout_ms))
        self.err = os.path.join(self.tmp, self.name + ".err")
        if self not in NODES:
            NODES.append(self)
        self.proc, eps = launch(self.zrelay, conf, self.name, self.err)
        self.backend = None
        self.ep = eps.get("frontend", self.ep)
        self.backend = eps.get("backend", self.backend)
        check(self.backend, "%s printed no backend endpoint" % self.name)


class Worker(threading.Thread):
    """A worker on a queue's backend, in a thread of the test:
      kind "req": the Guide's lbbroker worker (lbbroker.py worker_task), a
        REQ that sends "READY", then unpacks each request as exactly
        `address, empty, request` and sends [address, "", reply];
      kind "ppp": a Paranoid Pirate (RFC 6) DEALER: "\\x01" READY,
        "\\x02" heartbeats every HEARTBEAT_MS, [envelope..., reply].
    The reply is TAG + b": " + request (or FIXED). With hold, each
    request waits until the test answers it (answer()), so that the test
    says when the worker is busy. Every request's frames are kept
    (envelopes) and one that is not [address, "", request] is noted
    (bad): the Guide's worker would raise on it."""

    def __init__(self, ctx, ep, kind, tag, hold=False, fixed=None):
        super().__init__(daemon=True)
        self.ctx, self.ep, self.kind = ctx, ep, kind
        self.tag, self.hold, self.fixed = tag.encode(), hold, fixed
        self.requests = queue.Queue()
        self.replies = queue.Queue()
        self.envelopes = []
        self.bad = []
        self.served = 0
        self.stop = threading.Event()
        self.start()

    def reply(self, s, frames, body):
        s.send_multipart(frames[:-1] + [body])
        self.served += 1

    def run(self):
        s = self.ctx.socket(zmq.REQ if self.kind == "req" else zmq.DEALER)
        s.linger = 0
        s.connect(self.ep)
        s.send(b"READY" if self.kind == "req" else b"\x01")
        beat = time.time()
        held = None
        while not self.stop.is_set():
            if s.poll(20):
                frames = s.recv_multipart()
                if self.kind == "ppp" and len(frames) == 1:
                    continue  # the queue's heartbeat
                self.envelopes.append(frames)
                if len(frames) != 3 or frames[1] != b"":
                    self.bad.append(frames)
                if self.hold:
                    held = frames
                    self.requests.put(frames)
                elif self.fixed is not None:
                    self.reply(s, frames, self.fixed)
                else:
                    self.reply(s, frames, self.tag + b": " + frames[-1])
            if held is not None and not self.replies.empty():
                self.reply(s, held, self.replies.get())
                held = None
            if self.kind == "ppp" and \
                    time.time() - beat > HEARTBEAT_MS / 1000.0:
                s.send(b"\x02")
                beat = time.time()
        s.close()

    def request(self):
        """The frames of the next request the worker got (hold)."""
        try:
            return self.requests.get(timeout=DEADLINE)
        except queue.Empty:
            fail("worker %s got no request" % self.tag.decode())

    def answer(self, body):
        self.replies.put(body)

    def check_envelopes(self):
        check(not self.bad, "worker %s got requests that are not [address, "
              "'', body]: %r" % (self.tag.decode(), self.bad))


class Client:
    """A client of a queue's frontend: a REQ (kind "req") or a DEALER that
    sends the empty delimiter a REQ would (kind "dealer")."""

    def __init__(self, ctx, ep, kind="req"):
        self.kind = kind
        self.s = ctx.socket(zmq.REQ if kind == "req" else zmq.DEALER)
        self.s.linger = 0
        self.s.connect(ep)

    def send(self, body):
        if self.kind == "req":
            self.s.send(body)
        else:
            self.s.send_multipart([b"", body])

    def recv(self, timeout=DEADLINE):
        if not self.s.poll(int(timeout * 1000)):
            fail("no reply within %.0f s: silence" % timeout)
        m = self.s.recv_multipart()
        if self.kind == "dealer":
            check(len(m) == 2 and m[0] == b"", "DEALER client got %r" % m)
            m = m[1:]
        check(len(m) == 1, "client got %r" % m)
        return m[0]

    def call(self, body):
        self.send(body)
        return self.recv()

    def timed_error(self, body):
        """Send BODY; its reply must be the timeout error reply, not before
        request_timeout. Returns the seconds it took."""
        t0 = time.time()
        self.send(body)
        reply = self.recv()
        took = time.time() - t0
        check(reply.startswith(ERROR), "reply %r, not %r" % (reply, ERROR))
        check(took >= TIMEOUT_MS / 1000.0 * 0.9,
              "the error reply came after %.2f s, before request_timeout "
              "(%d ms)" % (took, TIMEOUT_MS))
        return took

    def close(self):
        self.s.close()


def wait_offer(node, peer, ready=1):
    """NODE sees PEER alive, with at least READY ready workers."""
    node.wait("peers/%s/alive" % peer, lambda v: v == 1, "peer alive")
    node.wait("peers/%s/ready" % peer, lambda v: v >= ready,
              "peer's ready workers")


def scenario_forward(zrelay, tmp, ctx):
    a = Queue(zrelay, tmp, "A", ["B"])
    b = Queue(zrelay, tmp, "B", ["A"])
    # B without workers: alive, offering nothing (no service).
    wait_offer(a, "B", 0)
    states = a.stat("peers/B/states")
    a.wait("peers/B/states", lambda v: v >= states + 2, "B's states")
    check(a.stat("peers/B/services") == 0, "B without workers offers %r" %
          a.stat("peers/B"))
    wreq = Worker(ctx, b.backend, "req", "B-req")
    wppp = Worker(ctx, b.backend, "ppp", "B-ppp")
    b.wait("broker/workers/ready", lambda v: v == 2, "B's 2 workers")
    wait_offer(a, "B", 2)
    check(a.stat("broker/workers/known") == 0, "A has workers")
    sa = a.stats()
    check(get(sa, "peers/B/services") == 1, "B's services on A: %r" %
          get(sa, "peers/B"))
    check(get(sa, "federation/peers_alive") == 1, "A's live peers")
    check(get(sa, "federation/states/received") >= 1, "A's states")
    check(b.stat("federation/states/sent") >= 1, "B's states sent")
    c = Client(ctx, a.ep, "req")
    n = 20
    who = {}
    for i in range(n):
        reply = c.call(b"hello %d" % i)
        tag, _, body = reply.partition(b": ")
        check(body == b"hello %d" % i and tag in (b"B-req", b"B-ppp"),
              "reply %r" % reply)
        who[tag] = who.get(tag, 0) + 1
    d = Client(ctx, a.ep, "dealer")
    reply = d.call(b"dealer")
    check(reply.split(b": ", 1)[1:] == [b"dealer"], "DEALER client got %r"
          % reply)
    n += 1
    check(set(who) == {b"B-req", b"B-ppp"}, "not both of B's workers "
          "served A's client: %r" % who)
    wreq.check_envelopes()
    wppp.check_envelopes()
    sa, sb = a.stats(), b.stats()
    check(get(sa, "peers/B/sent") == n, "A's peers.B.sent %r, not %d" %
          (get(sa, "peers/B/sent"), n))
    check(get(sa, "peers/B/received") == n, "A's peers.B.received %r" %
          get(sa, "peers/B/received"))
    check(get(sa, "federation/requests/forwarded") == n, "A forwarded %r" %
          get(sa, "federation/requests/forwarded"))
    check(get(sa, "federation/requests/answered") == n, "A's federation "
          "answered %r" % get(sa, "federation/requests/answered"))
    check(get(sa, "peers/B/failed") == 0 and get(sa, "peers/B/late") == 0,
          "A: %r" % get(sa, "peers/B"))
    check(get(sa, "broker/requests/answered") == n, "A's broker answered "
          "%r, not %d" % (get(sa, "broker/requests/answered"), n))
    check(get(sb, "broker/requests/answered") == n, "B's broker answered "
          "%r, not %d" % (get(sb, "broker/requests/answered"), n))
    check(get(sb, "federation/requests/forwarded") == 0,
          "B forwarded a peer's request")
    check(wreq.served + wppp.served == n, "B's workers served %d + %d" %
          (wreq.served, wppp.served))
    print("forward: %d requests on A (20 REQ, 1 DEALER) served by B's "
          "workers (Guide REQ %d, Paranoid Pirate %d), each an ordinary "
          "[address, '', body]; A: peers.B.sent %d, received %d, "
          "forwarded %d, broker.requests.answered %d; B: "
          "broker.requests.answered %d, forwarded 0" %
          (n, wreq.served, wppp.served, n, n, n, n, n))
    # B's workers gone: B offers no service again.
    wreq.stop.set()
    wppp.stop.set()
    b.wait("broker/workers/known", lambda v: v == 0, "B's workers gone")
    a.wait("peers/B/services", lambda v: v == 0, "B's offer withdrawn")
    check(a.stat("peers/B/alive") == 1, "B died with its workers")
    c.close()
    d.close()
    a.stop()
    b.stop()


def scenario_state(zrelay, tmp, ctx):
    a = Queue(zrelay, tmp, "A", [])  # peer_bind only: lends, borrows not
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(a.state)
    head = [b"ZRFEDQ1", b"A", a.ep.encode(), b"%d" % HEARTBEAT_MS]

    def expect(tail, what):
        """The state messages come to be HEAD + TAIL (within DEADLINE)."""
        end = time.time() + DEADLINE
        m = None
        while time.time() < end:
            if not sub.poll(int(DEADLINE * 1000)):
                break
            m = sub.recv_multipart()
            check(m[:4] == head, "state %r, not %r..." % (m, head))
            if m[4:] == tail:
                return
        fail("%s: A's state stayed %r" % (what, m))
    expect([], "no workers")
    w = Worker(ctx, a.backend, "ppp", "on-A", hold=True)
    expect([b"queue", b"1"], "an idle worker")
    c = Client(ctx, a.ep, "req")
    c.send(b"busy")
    w.request()
    expect([b"queue", b"0"], "its worker busy")
    w.answer(b"done")
    check(c.recv() == b"done", "reply")
    expect([b"queue", b"1"], "its worker idle again")
    w.stop.set()
    a.wait("broker/workers/known", lambda v: v == 0, "A's worker gone")
    expect([], "its worker gone")
    check(a.stat("federation/states/sent") >= 5, "states sent %r" %
          a.stat("federation"))
    print("state: [ZRFEDQ1, A, %s, %d] + nothing / queue 1 / queue 0 / "
          "queue 1 / nothing as its worker came, worked and went" %
          (a.ep, HEARTBEAT_MS))
    sub.close()
    c.close()
    a.stop()


def scenario_local(zrelay, tmp, ctx):
    a = Queue(zrelay, tmp, "A", ["B"])
    b = Queue(zrelay, tmp, "B", ["A"])
    wb = Worker(ctx, b.backend, "req", "on-B")
    wait_offer(a, "B")
    wa = Worker(ctx, a.backend, "ppp", "on-A", hold=True)
    a.wait("broker/workers/ready", lambda v: v == 1, "A's worker")
    c = Client(ctx, a.ep, "req")
    for i in range(5):
        c.send(b"local %d" % i)
        frames = wa.request()
        check(frames[-1] == b"local %d" % i, "request %r" % frames)
        wa.answer(b"on-A: " + frames[-1])
        reply = c.recv()
        check(reply == b"on-A: local %d" % i, "reply %r" % reply)
    sa = a.stats()
    check(get(sa, "peers/B/sent") == 0, "A forwarded with a ready worker: "
          "%r" % get(sa, "peers/B"))
    check(get(sa, "federation/requests/forwarded") == 0, "A forwarded")
    check(wb.served == 0, "B's worker served A's requests")
    # A's worker busy: the next request goes to B.
    c.send(b"busy")
    frames = wa.request()
    a.wait("broker/workers/busy", lambda v: v == 1, "A's worker busy")
    c2 = Client(ctx, a.ep, "dealer")
    reply = c2.call(b"overflow")
    check(reply == b"on-B: overflow", "overflow reply %r" % reply)
    sa = a.stats()
    check(get(sa, "peers/B/sent") == 1, "A's peers.B.sent %r" %
          get(sa, "peers/B/sent"))
    check(get(sa, "peers/B/received") == 1, "A's peers.B.received")
    check(b.stat("broker/requests/answered") == 1, "B answered")
    wa.answer(b"on-A: " + frames[-1])
    reply = c.recv()
    check(reply == b"on-A: busy", "held reply %r" % reply)
    wa.check_envelopes()
    wb.check_envelopes()
    check(a.stat("peers/B/sent") == 1, "A sent more")
    print("local: 5 requests served by A's ready worker (0 forwarded); "
          "with it busy, the 6th went to B (A: peers.B.sent 1, received 1)")
    wb.stop.set()
    wa.stop.set()
    c.close()
    c2.close()
    a.stop()
    b.stop()


def scenario_loop(zrelay, tmp, ctx):
    a = Queue(zrelay, tmp, "A", ["B"])
    b = Queue(zrelay, tmp, "B", ["A"])
    a.wait("peers/B/alive", lambda v: v == 1, "B alive")
    b.wait("peers/A/alive", lambda v: v == 1, "A alive")
    # One REQ worker on A, busy with a request of A's own client.
    wa = Worker(ctx, a.backend, "req", "on-A", hold=True)
    a.wait("broker/workers/ready", lambda v: v == 1, "A's worker")
    ca = Client(ctx, a.ep, "req")
    ca.send(b"held")
    held = wa.request()
    a.wait("broker/workers/busy", lambda v: v == 1, "A's worker busy")
    # B has A's state since its worker was busy: A has 1 service, 0 ready.
    states = b.stat("peers/A/states", 0)
    b.wait("peers/A/states", lambda v: v >= states + 2, "A's next states")
    sb = b.stats()
    check(get(sb, "peers/A/services") == 1 and get(sb, "peers/A/ready") == 0,
          "A's offer on B: %r" % get(sb, "peers/A"))
    # A request to B: no worker anywhere is ready.
    cb = Client(ctx, b.ep, "req")
    took = cb.timed_error(b"loop?")
    sa, sb = a.stats(), b.stats()
    check(get(sb, "federation/requests/forwarded") <= 1, "B forwarded %r" %
          get(sb, "federation/requests/forwarded"))
    check(get(sb, "peers/A/sent") <= 1, "B sent A %r" %
          get(sb, "peers/A/sent"))
    check(get(sa, "federation/requests/forwarded") == 0, "A forwarded %r" %
          get(sa, "federation/requests/forwarded"))
    check(get(sa, "peers/B/sent") == 0, "A sent B %r" %
          get(sa, "peers/B/sent"))
    check(get(sb, "broker/requests/timeouts") +
          get(sa, "broker/requests/timeouts") == 1,
          "timeouts: A %r, B %r" % (get(sa, "broker/requests/timeouts"),
                                    get(sb, "broker/requests/timeouts")))
    check(len(wa.envelopes) == 1, "A's busy worker got more: %r" %
          wa.envelopes)
    # A request that already crossed one queue (a hop frame in its
    # envelope, as a peer sends it) comes to A, with B's worker ready: A
    # does not send it on (the hop limit), and answers it on its own
    # envelope with the error reply after request_timeout.
    wb = Worker(ctx, b.backend, "ppp", "on-B")
    wait_offer(a, "B")
    peer = ctx.socket(zmq.DEALER)
    peer.linger = 0
    peer.connect(a.ep)
    hop = b"zrelay-hop:Z:1f"
    t0 = time.time()
    peer.send_multipart([hop, b"", b"hopped"])
    check(peer.poll(int(DEADLINE * 1000)), "no reply to the hopped request")
    m = peer.recv_multipart()
    took2 = time.time() - t0
    check(len(m) == 3 and m[:2] == [hop, b""], "envelope %r" % m)
    check(m[2].startswith(ERROR), "reply %r" % m)
    check(took2 >= TIMEOUT_MS / 1000.0 * 0.9, "after %.2f s" % took2)
    check(a.stat("federation/requests/forwarded") == 0,
          "A forwarded a peer's request")
    check(a.stat("peers/B/sent") == 0, "A sent a peer's request to B")
    check(wb.served == 0, "B's worker served the hopped request")
    # A hopped request waiting on A ahead of one of A's own client's: the
    # own one goes to B, once; the hopped one stays and gets its error
    # reply.
    hop2 = b"zrelay-hop:Z:20"
    t0 = time.time()
    peer.send_multipart([hop2, b"", b"hopped again"])
    a.wait("broker/requests/waiting", lambda v: v == 1,
           "the hopped request waiting")
    c2 = Client(ctx, a.ep, "req")
    reply = c2.call(b"fresh")
    check(reply == b"on-B: fresh", "reply %r" % reply)
    check(peer.poll(int(DEADLINE * 1000)), "no reply to the hopped request")
    m = peer.recv_multipart()
    took3 = time.time() - t0
    check(m[:2] == [hop2, b""] and m[2].startswith(ERROR),
          "reply to the hopped request behind which A's own went: %r" % m)
    check(took3 >= TIMEOUT_MS / 1000.0 * 0.9, "after %.2f s" % took3)
    check(a.stat("peers/B/sent") == 1, "A sent %r" % a.stat("peers/B/sent"))
    check(a.stat("federation/requests/forwarded") == 1, "A forwarded")
    check([f[-1] for f in wb.envelopes] == [b"fresh"],
          "B's worker got %r" % wb.envelopes)
    wa.answer(b"on-A: " + held[-1])
    check(ca.recv() == b"on-A: held", "the held request's reply")
    wa.check_envelopes()
    wb.check_envelopes()
    print("loop: B's request with A's only worker busy -> error reply "
          "after %.2f s (B forwarded %d, A forwarded 0); a request with a "
          "hop frame on A -> not sent on (B's worker served 0), error "
          "reply on its envelope after %.2f s; one waiting ahead of A's "
          "own client's: the own one -> B once, the hopped one -> error "
          "reply after %.2f s" % (took, get(sb, "federation/requests/"
                                             "forwarded"), took2, took3))
    wa.stop.set()
    wb.stop.set()
    peer.close()
    ca.close()
    cb.close()
    c2.close()
    a.stop()
    b.stop()


def scenario_death(zrelay, tmp, ctx):
    a = Queue(zrelay, tmp, "A", ["B"])
    b = Queue(zrelay, tmp, "B", ["A"])
    wb = Worker(ctx, b.backend, "ppp", "on-B", hold=True)
    wait_offer(a, "B")
    c = Client(ctx, a.ep, "req")
    t0 = time.time()
    c.send(b"doomed")
    wb.request()
    # At the peer, it is neither waiting nor in flight on A
    # (docs/SCALING.md): sent - received - failed is what B holds.
    sa = a.stats()
    check(get(sa, "peers/B/sent") == 1 and get(sa, "peers/B/received") == 0
          and get(sa, "peers/B/failed") == 0, "A: %r" % get(sa, "peers/B"))
    check(get(sa, "broker/requests/waiting") == 0 and
          get(sa, "broker/requests/in_flight") == 0, "A's broker: %r" %
          get(sa, "broker/requests"))
    b.kill()
    t_kill = time.time()
    a.wait("peers/B/alive", lambda v: v == 0, "B dead on A")
    t_dead = time.time() - t_kill
    reply = c.recv()
    took = time.time() - t0
    check(reply.startswith(ERROR), "reply %r" % reply)
    check(took >= TIMEOUT_MS / 1000.0 * 0.9, "answered after %.2f s" % took)
    sa = a.stats()
    check(get(sa, "peers/B/deaths") == 1, "deaths %r" % get(sa, "peers/B"))
    check(get(sa, "peers/B/failed") == 1, "failed %r" % get(sa, "peers/B"))
    check(get(sa, "federation/requests/given_back") == 1, "given back %r" %
          get(sa, "federation/requests/given_back"))
    check(get(sa, "federation/peers_alive") == 0, "A's live peers")
    check(get(sa, "broker/requests/timeouts") == 1, "A's timeouts %r" %
          get(sa, "broker/requests/timeouts"))
    print("death: B killed holding A's request: A declared it dead (seen "
          "%.2f s after the kill), the request came back, error reply "
          "after %.2f s" % (t_dead, took))
    # With B dead, a new request is not sent to it: error reply.
    took2 = c.timed_error(b"B is dead")
    check(a.stat("peers/B/sent") == 1, "A sent to a dead peer")
    wb.stop.set()
    # B again: served through it.
    b.start()
    w = Worker(ctx, b.backend, "req", "on-B")
    wait_offer(a, "B")
    reply = c.call(b"again")
    check(reply == b"on-B: again", "reply %r" % reply)
    sa = a.stats()
    check(get(sa, "peers/B/alive") == 1 and get(sa, "peers/B/sent") == 2
          and get(sa, "peers/B/received") == 1, "A: %r" % get(sa, "peers/B"))
    check(b.stat("broker/requests/answered") == 1, "B answered")
    w.check_envelopes()
    print("death: with B dead, error reply after %.2f s, nothing sent; B "
          "back, served through it again (A: peers.B.sent %d, received "
          "%d, deaths %d)" % (took2, get(sa, "peers/B/sent"),
                              get(sa, "peers/B/received"),
                              get(sa, "peers/B/deaths")))
    w.stop.set()
    c.close()
    a.stop()
    b.stop()


class PatientQueue(Queue):
    timeout_ms = 60000  # past every deadline here: no error reply


def scenario_giveback(zrelay, tmp, ctx):
    # To another live peer.
    a = PatientQueue(zrelay, tmp, "A", ["B", "C"])
    b = PatientQueue(zrelay, tmp, "B", ["A"])
    c = PatientQueue(zrelay, tmp, "C", ["A"])
    wbs = [Worker(ctx, b.backend, "ppp", "on-B", hold=True)
           for i in range(2)]
    wc = Worker(ctx, c.backend, "req", "on-C")
    wait_offer(a, "B", 2)
    wait_offer(a, "C", 1)
    cl = Client(ctx, a.ep, "req")
    cl.send(b"moved")
    b.wait("broker/workers/busy", lambda v: v == 1, "B's worker busy")
    check(a.stat("peers/B/sent") == 1, "A sent B %r" % a.stat("peers/B"))
    b.kill()
    reply = cl.recv()
    check(reply == b"on-C: moved", "reply %r" % reply)
    sa = a.stats()
    check(get(sa, "peers/B/failed") == 1 and
          get(sa, "federation/requests/given_back") == 1 and
          get(sa, "peers/C/sent") == 1 and get(sa, "peers/C/received") == 1
          and get(sa, "broker/requests/timeouts") == 0,
          "A: %r %r %r" % (get(sa, "federation"), get(sa, "peers"),
                           get(sa, "broker/requests")))
    print("giveback: B killed holding A's request: C answered it")
    for w in wbs + [wc]:
        w.stop.set()
    cl.close()
    a.stop()
    c.stop()
    # To a local worker that comes after the peer died.
    a = PatientQueue(zrelay, tmp, "A2", ["B2"])
    b = PatientQueue(zrelay, tmp, "B2", ["A2"])
    wb = Worker(ctx, b.backend, "ppp", "on-B2", hold=True)
    wait_offer(a, "B2")
    cl = Client(ctx, a.ep, "dealer")
    cl.send(b"home")
    wb.request()
    b.kill()
    a.wait("peers/B2/alive", lambda v: v == 0, "B2 dead on A2")
    a.wait("broker/requests/waiting", lambda v: v == 1,
           "the request back, waiting on A2")
    wa = Worker(ctx, a.backend, "req", "on-A2")
    reply = cl.recv()
    check(reply == b"on-A2: home", "reply %r" % reply)
    sa = a.stats()
    check(get(sa, "federation/requests/given_back") == 1 and
          get(sa, "broker/requests/answered") == 1 and
          get(sa, "broker/requests/timeouts") == 0,
          "A2: %r %r" % (get(sa, "federation"), get(sa, "broker/requests")))
    print("giveback: B2 killed holding A2's request: it waited on A2 and "
          "A2's worker that joined then answered it")
    wb.stop.set()
    wa.stop.set()
    cl.close()
    a.stop()


def scenario_sigterm(zrelay, tmp, ctx):
    a = Queue(zrelay, tmp, "A", ["B"])
    b = Queue(zrelay, tmp, "B", ["A"])
    wb = Worker(ctx, b.backend, "ppp", "on-B", hold=True)
    wait_offer(a, "B")
    c = Client(ctx, a.ep, "dealer")
    c.send(b"at B")
    wb.request()
    check(a.stat("peers/B/sent") == 1, "A sent %r" % a.stat("peers/B"))
    a.proc.send_signal(signal.SIGTERM)
    reply = c.recv()
    check(reply.startswith(b"ZRELAY-ERROR stopping"), "reply %r" % reply)
    a.stop()  # exit status 0
    b.wait("peers/A/alive", lambda v: v == 0, "A dead on B")
    wb.answer(b"on-B: at B")  # to nobody: A is gone
    b.wait("broker/requests/answered", lambda v: v == 1, "B's answer")
    check(b.stat("peers/A/deaths") == 1, "B: %r" % b.stat("peers/A"))
    print("sigterm: A stopped with its request at B: 'ZRELAY-ERROR "
          "stopping' at once, A exited 0, B saw A die")
    wb.stop.set()
    c.close()
    b.stop()


def scenario_stopped(zrelay, tmp, ctx):
    a = Queue(zrelay, tmp, "A", ["B"])
    b = Queue(zrelay, tmp, "B", ["A"])
    wb = Worker(ctx, b.backend, "ppp", "on-B", hold=True)
    wait_offer(a, "B")
    c = Client(ctx, a.ep, "dealer")
    t0 = time.time()
    c.send(b"stalled")
    wb.request()
    b.proc.send_signal(signal.SIGSTOP)
    a.wait("peers/B/alive", lambda v: v == 0, "B dead on A")
    wb.answer(b"on-B: stalled")  # waits in B's backend while B is stopped
    reply = c.recv()
    took = time.time() - t0
    check(reply.startswith(ERROR), "reply %r" % reply)
    check(took >= TIMEOUT_MS / 1000.0 * 0.9, "answered after %.2f s" % took)
    b.proc.send_signal(signal.SIGCONT)
    a.wait("peers/B/alive", lambda v: v == 1, "B alive again on A")
    b.wait("broker/requests/answered", lambda v: v == 1,
           "B's worker's late answer read")
    wb.stop.set()
    w2 = Worker(ctx, b.backend, "req", "on-B2")
    wait_offer(a, "B")
    reply = c.call(b"next")
    check(reply == b"on-B2: next", "the next message the client got: %r "
          "(a late reply delivered?)" % reply)
    sa = a.stats()
    check(get(sa, "peers/B/deaths") == 1 and get(sa, "peers/B/failed") == 1
          and get(sa, "peers/B/sent") == 2 and
          get(sa, "peers/B/received") + get(sa, "peers/B/late") <= 2,
          "A: %r" % get(sa, "peers/B"))
    check(get(sa, "federation/requests/given_back") == 1, "given back")
    check(get(sa, "broker/requests/timeouts") == 1, "A's timeouts")
    check(get(sa, "federation/requests/late_replies") ==
          get(sa, "peers/B/late"), "late: %r" % get(sa, "federation"))
    print("stopped: B stopped holding A's request: error reply after %.2f "
          "s; B continued, its worker's late answer never reached the "
          "client (A: peers.B.late %d), the next request served by B" %
          (took, get(sa, "peers/B/late")))
    w2.stop.set()
    c.close()
    a.stop()
    b.stop()


def scenario_late(zrelay, tmp, ctx):
    a = Queue(zrelay, tmp, "A", ["Z"])
    pub = ctx.socket(zmq.PUB)
    pub.linger = 0
    pub.bind("ipc://%s/Z.state" % tmp)
    z = ctx.socket(zmq.ROUTER)  # Z's frontend
    z.linger = 0
    z.bind("tcp://127.0.0.1:*")
    zep = z.getsockopt(zmq.LAST_ENDPOINT)
    beating, stop = threading.Event(), threading.Event()
    beating.set()

    def beat():  # Z's state, as a queue with 2 idle workers sends it
        while not stop.is_set():
            if beating.is_set():
                pub.send_multipart([b"ZRFEDQ1", b"Z", zep,
                                    b"%d" % HEARTBEAT_MS, b"queue", b"2"])
            stop.wait(HEARTBEAT_MS / 1000.0)
    t = threading.Thread(target=beat, daemon=True)
    t.start()
    a.wait("peers/Z/ready", lambda v: v == 2, "Z's offer")
    c = Client(ctx, a.ep, "dealer")
    t0 = time.time()
    c.send(b"late?")
    check(z.poll(int(DEADLINE * 1000)), "Z got no request")
    m = z.recv_multipart()
    check(len(m) == 4 and m[1].startswith(b"zrelay-hop:A:") and
          m[2:] == [b"", b"late?"], "Z got %r, not [id, hop, '', body]" % m)
    beating.clear()
    a.wait("peers/Z/alive", lambda v: v == 0, "Z dead on A")
    reply = c.recv()
    took = time.time() - t0
    check(reply.startswith(ERROR), "reply %r" % reply)
    check(took >= TIMEOUT_MS / 1000.0 * 0.9, "answered after %.2f s" % took)
    z.send_multipart([m[0], m[1], b"", b"too late"])
    a.wait("peers/Z/late", lambda v: v == 1, "Z's late reply counted")
    sa = a.stats()
    check(get(sa, "federation/requests/late_replies") == 1 and
          get(sa, "federation/requests/given_back") == 1 and
          get(sa, "peers/Z/failed") == 1 and
          get(sa, "peers/Z/received") == 0, "A: %r %r" %
          (get(sa, "federation"), get(sa, "peers/Z")))
    beating.set()
    a.wait("peers/Z/alive", lambda v: v == 1, "Z alive again on A")
    a.wait("peers/Z/ready", lambda v: v == 2, "Z's offer again")
    c.send(b"again")
    check(z.poll(int(DEADLINE * 1000)), "Z got no second request")
    m2 = z.recv_multipart()
    check(len(m2) == 4 and m2[1].startswith(b"zrelay-hop:A:") and
          m2[1] != m[1] and m2[2:] == [b"", b"again"], "Z got %r" % m2)
    z.send_multipart([m2[0], m2[1], b"", b"in time"])
    reply = c.recv()
    check(reply == b"in time", "the next message the client got: %r (the "
          "late reply delivered?)" % reply)
    sa = a.stats()
    check(get(sa, "peers/Z/received") == 1 and get(sa, "peers/Z/late") == 1
          and get(sa, "federation/requests/answered") == 1, "A: %r" %
          get(sa, "peers/Z"))
    print("late: A sent Z [id, %r, '', body]; Z silent: dead, error reply "
          "after %.2f s; Z's reply after that: counted late, not "
          "delivered; Z back: the next request answered through it" %
          (m[1], took))
    stop.set()
    t.join()
    pub.close()
    z.close()
    c.close()
    a.stop()


def scenario_seed(zrelay, tmp, ctx):
    """The seed (/work/shared/seed) has no load-balancing broker program:
    its S4 (shared queue) gives only the broker's code, and its only
    request/reply programs are S2's handshake pair, whose server is a
    REP (s2_stable_subscriber.py), which an lru queue cannot use (it
    never says READY). So the seed's REQ client, s2_stable_publisher.py,
    runs unchanged but for its endpoints (through run_seed.py's Program,
    which checks each substitution and logs the diff): its REQ talks to
    A, its PUB to a SUB of the test's; B's workers are the Guide's
    lbbroker ones (a REQ and a Paranoid Pirate), answering "yes" as the
    seed's subscriber does."""
    from run_seed import Cleanup, Failure, Program

    class SeedQueue(Queue):
        # Requests wait on A for B's 2 workers while 8 programs start:
        # no error reply for a slow start, every one must be answered.
        timeout_ms = int(DEADLINE * 1000)

    a = SeedQueue(zrelay, tmp, "A", ["B"])
    b = Queue(zrelay, tmp, "B", ["A"])
    # The seed's server's answer: b"yes".
    workers = [Worker(ctx, b.backend, "req", "B-req", fixed=b"yes"),
               Worker(ctx, b.backend, "ppp", "B-ppp", fixed=b"yes")]
    wait_offer(a, "B", 2)
    sub = ctx.socket(zmq.SUB)  # where the seed client publishes
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.bind("tcp://127.0.0.1:*")
    n = 8
    try:
        with Cleanup() as running:
            progs = [running.add(Program(tmp, "s2_stable_publisher.py", [
                ("tcp://127.0.0.1:5559",
                 sub.getsockopt_string(zmq.LAST_ENDPOINT), 1),
                ("tcp://127.0.0.1:5561", a.ep, 1),
            ], tag="seed_client.%d" % i)) for i in range(n)]
            outs = [p.wait(timeout=DEADLINE) for p in progs]
    except Failure as e:
        fail("seed client: %s" % e)
    for i, out in enumerate(outs):
        check("rep =  b'yes'" in out and "Some error" not in out,
              "seed client %d printed %r" % (i, out))
    for w in workers:
        w.check_envelopes()
    sa, sb = a.stats(), b.stats()
    check(get(sa, "peers/B/sent") == n and get(sa, "peers/B/received") == n,
          "A: %r" % get(sa, "peers/B"))
    check(get(sa, "federation/requests/forwarded") == n, "A forwarded")
    check(get(sb, "broker/requests/answered") == n, "B answered %r" %
          get(sb, "broker/requests/answered"))
    check(sum(w.served for w in workers) == n, "B's workers served %r" %
          [w.served for w in workers])
    print("seed: %d of the seed's REQ clients (s2_stable_publisher.py) on "
          "A, all answered 'yes' by B's workers (REQ %d, Paranoid Pirate "
          "%d); A: peers.B.sent %d, received %d; B: answered %d" %
          (n, workers[0].served, workers[1].served, n, n, n))
    for w in workers:
        w.stop.set()
    sub.close()
    a.stop()
    b.stop()


def scenario_envelopes(zrelay, tmp, ctx):
    a = Queue(zrelay, tmp, "A", ["B.x"])
    b = Queue(zrelay, tmp, "B.x", ["A"])
    w = Worker(ctx, b.backend, "ppp", "on-B")  # takes any envelope
    wait_offer(a, "B_x")
    shapes = ([b"no delimiter"], [b"", b"frame 1", b"frame 2"],
              [b"own", b"", b"inner"], [b"", b""])
    got = {}
    for name, node in (("straight to B", b), ("through A", a)):
        d = ctx.socket(zmq.DEALER)
        d.linger = 0
        d.connect(node.ep)
        for shape in shapes:
            d.send_multipart(shape)
            check(d.poll(int(DEADLINE * 1000)), "%s: no reply to %r" %
                  (name, shape))
            got.setdefault(name, []).append(d.recv_multipart())
        d.close()
    check(got["through A"] == got["straight to B"], "replies differ: "
          "straight to B %r, through A %r" % (got["straight to B"],
                                              got["through A"]))
    check(got["through A"][0] == [b"on-B: no delimiter"], "reply %r" %
          got["through A"][0])
    sa = a.stats()
    check(list(sa["peers"]) == ["B_x"], "A's peers %r" % list(sa["peers"]))
    k = len(shapes)
    check(get(sa, "peers/B_x/sent") == k and
          get(sa, "peers/B_x/received") == k, "A: %r" % get(sa, "peers/B_x"))
    check(b.stat("broker/requests/answered") == 2 * k, "B answered")
    print("envelopes: %d shapes of request, the same replies through A as "
          "straight from B; A counts them under peers.B_x" % k)
    w.stop.set()
    a.stop()
    b.stop()


def scenario_mixed(zrelay, tmp, ctx):
    from mdp_broker import Worker as MdpWorker
    m = Node(zrelay, tmp, "M", ["Q"])
    NODES.append(m)
    qn = Queue(zrelay, tmp, "Q", ["M"])
    w = MdpWorker(ctx, m.ep, "queue", tag="on-M", heartbeat=0.1)
    w.start()
    m.wait("services/queue/workers/ready", lambda v: v == 1, "M's worker")
    m.wait("federation/states/malformed", lambda v: v >= 3, "Q's refused")
    qn.wait("federation/states/malformed", lambda v: v >= 3, "M's refused")
    c = Client(ctx, qn.ep, "req")
    took = c.timed_error(b"to a majordomo?")
    sm, sq = m.stats(), qn.stats()
    for node, st in ((m, sm), (qn, sq)):
        check(get(st, "federation/peers_alive") == 0 and
              get(st, "federation/states/received") == 0 and
              get(st, "federation/requests/forwarded") == 0 and
              not st.get("peers"), "%s: %r, peers %r" %
              (node.name, get(st, "federation"), st.get("peers")))
    check(w.served == 0, "M's worker served Q's client")
    m.stop()
    qn.stop()
    for node in (m, qn):
        errors = [line for line in open(node.err).read().splitlines()
                  if "error" in line]
        check(len(errors) == 1, "%s logged %r" % (node.name, errors))
        print("mixed: %s: %s" % (node.name, errors[0]))
    print("mixed: M refused %d of Q's states, Q %d of M's; Q's client got "
          "its error reply after %.2f s, nothing forwarded" %
          (get(sm, "federation/states/malformed"),
           get(sq, "federation/states/malformed"), took))
    w.stop.set()
    c.close()


def scenario_config(zrelay, tmp, ctx):
    ok = 0
    for device, strategy, key in (("queue", "rr", "peers"),
                                  ("queue", "hash", "peer_bind"),
                                  ("queue", None, "peers"),
                                  ("forwarder", None, "peers"),
                                  ("forwarder", None, "peer_bind"),
                                  ("streamer", None, "peers")):
        conf = os.path.join(tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("[zrelay]\ncontrol = @ipc://%s/bad.daemon\n\n"
                    "[%s X]\nfrontend = @tcp://127.0.0.1:*\n"
                    "backend = @tcp://127.0.0.1:*\n" % (tmp, device))
            if strategy:
                f.write("strategy = %s\n" % strategy)
            if key == "peers":
                f.write("peers = ipc://%s/nobody.state\n" % tmp)
            else:
                f.write("peer_bind = @ipc://%s/X.state\n" % tmp)
        try:
            r = subprocess.run([zrelay, "run", "-c", conf],
                               capture_output=True, text=True,
                               timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            fail("%s (strategy %s) with %s: accepted, it ran" %
                 (device, strategy, key))
        what = "%s (strategy %s) with %s" % (device, strategy or "default",
                                             key)
        check(r.returncode == 2, "%s: exit %d, not 2 (a config error): %s"
              % (what, r.returncode, r.stderr))
        check(key in r.stderr, "%s: the error does not name %r: %r" %
              (what, key, r.stderr))
        if device == "queue":  # it says why: the strategy
            check("lru" in r.stderr or (strategy or "rr") in r.stderr,
                  "%s: the error names neither the strategy nor lru: %r"
                  % (what, r.stderr))
        print("config: %s refused: %s" % (what, r.stderr.strip()))
        ok += 1
    # Both on an lru queue: it starts (and stops cleanly).
    a = Queue(zrelay, tmp, "A", ["B"])
    a.stop()
    print("config: %d configs refused; an lru queue with peers and "
          "peer_bind runs" % ok)


def scenario_bench(zrelay, tmp, ctx):
    """Not a test (no ctest runs it): the cost of the hop. QUEUE_FED_N
    (5000) sequential requests of one REQ client to B's one Guide REQ
    worker, straight to B, then through A; 3 alternating rounds."""
    n = int(os.environ.get("QUEUE_FED_N", "5000"))
    a = Queue(zrelay, tmp, "A", ["B"])
    b = Queue(zrelay, tmp, "B", ["A"])
    w = Worker(ctx, b.backend, "req", "B")
    wait_offer(a, "B")
    for rnd in range(3):
        for name, node in (("straight to B", b), ("through A", a)):
            c = Client(ctx, node.ep)
            for i in range(100):  # warm up
                c.call(b"w")
            took = []
            t0 = time.time()
            for i in range(n):
                t = time.perf_counter()
                c.call(b"b")
                took.append(time.perf_counter() - t)
            rate = n / (time.time() - t0)
            took.sort()
            print("round %d, %-14s %d requests, one at a time: p50 %.0f us, "
                  "p99 %.0f us, %.0f requests/s"
                  % (rnd, name, n, took[n // 2] * 1e6,
                     took[n * 99 // 100] * 1e6, rate))
            c.close()
    check(a.stat("federation/requests/answered") == 3 * (n + 100),
          "A's answered through B")
    w.stop.set()
    a.stop()
    b.stop()


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    zrelay = os.path.abspath(sys.argv[1])
    scenarios = {"forward": scenario_forward, "local": scenario_local,
                 "state": scenario_state,
                 "loop": scenario_loop, "death": scenario_death,
                 "seed": scenario_seed, "config": scenario_config,
                 "envelopes": scenario_envelopes, "mixed": scenario_mixed,
                 "stopped": scenario_stopped, "late": scenario_late,
                 "giveback": scenario_giveback, "sigterm": scenario_sigterm,
                 "bench": scenario_bench}
    if sys.argv[2] not in scenarios:
        print(__doc__)
        sys.exit(2)
    tmp = tempfile.mkdtemp(prefix="zr-fedq-")
    ctx = zmq.Context()
    try:
        scenarios[sys.argv[2]](zrelay, tmp, ctx)
    except SystemExit as e:
        if e.code:
            for node in NODES:
                try:
                    lines = open(node.err).read().splitlines()
                except OSError:
                    continue
                print("--- %s's log (last 15 lines):" % node.name)
                print("\n".join(lines[-15:]))
                if node.proc.poll() is None:
                    node.proc.kill()
        sys.stdout.flush()
        os._exit(e.code if isinstance(e.code, int) else 1)
    shutil.rmtree(tmp, ignore_errors=True)  # kept after a failure
    print("ok")
    sys.stdout.flush()
    # No waiting on the workers' threads or their sockets at exit.
    os._exit(0)


if __name__ == "__main__":
    main()
