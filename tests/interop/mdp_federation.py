#!/usr/bin/python3
"""Federated majordomo brokers (issue 17) on loopback: `zrelay run` with
[majordomo NAME] sections whose peers and peer_bind join them, MDP
clients and workers written here (tests/interop/mdp_broker.py's).

usage: mdp_federation.py ZRELAY SCENARIO
  forward  A and B peered; service x has workers only on B: a client of
           A is served by B's workers (A's peers.B.sent/received, B's
           federation rows), and mmi.* is never forwarded
  local    x has workers on A and on B: A's client is served by A's
           worker while it is ready (nothing forwarded); with A's worker
           busy, the next request goes to B
  loop     A and B peered both ways, service y nowhere, then y only on A
           with its worker busy: a request to B goes to A at most once
           (the hop limit), is never sent back to B, and gets A's error
           reply after request_timeout (not silence, no circle)
  unreachable  a peer whose state flows but whose MDP endpoint cannot be
           reached (its state names a port nobody listens on): nothing is
           sent to it, A's client gets the error reply after
           request_timeout (not silence)
  death    x only on B; B killed (SIGKILL) with a request forwarded to it:
           A declares B dead within liveness heartbeats, the request comes
           back and gets the error reply after request_timeout; B started
           again: served through it again
  bench    (not a test: no ctest runs it) the cost of the hop: N
           sequential requests of one client straight to B's worker, then
           through A; p50, p99 and the rate of each (MDP_FED_N, 5000)
Every wait has a deadline; nothing sleeps and hopes.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (DEADLINE, Client, Worker, check,  # noqa: E402
                        fail, get)

try:
    import zmq
except ImportError:
    print("SKIP: pyzmq is not installed (scripts/deps.sh)")
    sys.exit(77)

HEARTBEAT_MS = 100
LIVENESS = 3
TIMEOUT_MS = 1500  # request_timeout


class HoldWorker(threading.Thread):
    """An MDP/0.1 worker that heartbeats but holds each request until the
    test answers it (answer()), so that the test decides when it is busy."""

    def __init__(self, ctx, ep, service):
        super().__init__(daemon=True)
        self.ctx, self.ep, self.service = ctx, ep, service
        self.requests = queue.Queue()
        self.replies = queue.Queue()
        self.stop = threading.Event()
        self.start()

    def run(self):
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.ep)
        s.send_multipart([b"", b"MDPW01", b"\x01", self.service.encode()])
        beat = time.time()
        while not self.stop.is_set():
            if s.poll(20):
                m = s.recv_multipart()
                if m[2] == b"\x02":  # REQUEST: client, "", body
                    self.requests.put((m[3], m[5:]))
            while not self.replies.empty():
                client, body = self.replies.get()
                s.send_multipart([b"", b"MDPW01", b"\x03", client, b""] +
                                 body)
            if time.time() - beat > 0.05:
                s.send_multipart([b"", b"MDPW01", b"\x04"])
                beat = time.time()
        s.close()

    def request(self):
        try:
            return self.requests.get(timeout=DEADLINE)
        except queue.Empty:
            fail("the worker of %s got no request" % self.service)

    def answer(self, client, *body):
        self.replies.put((client, list(body)))


def launch(zrelay, conf, name, err, fail=fail, started=None):
    """`zrelay run -c CONF` (stderr to ERR) until its `ready` line:
    (process, {"frontend": endpoint, "backend": ...}) of device NAME's
    sockets as it printed them. STARTED(process) right after the start
    (a list of processes to kill on a failure); FAIL(why) on a failure."""
    proc = subprocess.Popen([zrelay, "run", "-c", conf],
                            stdout=subprocess.PIPE, stderr=open(err, "w"),
                            text=True)
    if started:
        started(proc)
    eps = {}
    end = time.time() + DEADLINE
    while time.time() < end:
        line = proc.stdout.readline()
        if not line:
            fail("%s exited: %s" % (name, open(err).read()))
        w = line.split()
        if w == ["ready"]:
            return proc, eps
        if len(w) >= 5 and w[0] == name:
            eps[w[2]] = w[4]
    fail("%s was not ready in time" % name)


class Node:
    """`zrelay run` with one [majordomo NAME] whose state is on ipc. A
    subclass may give FAIL(why), the failure its stats and wait report
    with."""

    fail = staticmethod(fail)

    def __init__(self, zrelay, tmp, name, peers, mdp_ep=None):
        self.zrelay, self.tmp, self.name = zrelay, tmp, name
        self.state = "ipc://%s/%s.state" % (tmp, name)
        self.ctl = "ipc://%s/%s.ctl" % (tmp, name)
        self.ep = mdp_ep
        self.peers = peers
        self.start()

    def start(self):
        conf = os.path.join(self.tmp, self.name + ".conf")
        with open(conf, "w") as f:
            f.write("[zrelay]\ncontrol = @ipc://%s/%s.daemon\n\n"
                    % (self.tmp, self.name))
            f.write("[majordomo %s]\n" % self.name)
            f.write("frontend = @%s\n" % (self.ep or "tcp://127.0.0.1:*"))
            f.write("control = @%s\n" % self.ctl)
            f.write("peer_bind = @%s\n" % self.state)
            if self.peers:
                f.write("peers = %s\n" % ", ".join(
                    "ipc://%s/%s.state" % (self.tmp, p) for p in self.peers))
            f.write("heartbeat = %dms\nliveness = %d\n"
                    "request_timeout = %dms\n"
                    % (HEARTBEAT_MS, LIVENESS, TIMEOUT_MS))
        self.err = os.path.join(self.tmp, self.name + ".err")
        self.proc, eps = launch(self.zrelay, conf, self.name, self.err)
        self.ep = eps.get("frontend", self.ep)

    def stats(self):
        out = subprocess.run([self.zrelay, "ctl", self.ctl, "stats",
                              "--json"], capture_output=True, text=True,
                             timeout=10)
        if out.returncode != 0:
            self.fail("%s: ctl stats: %s" % (self.name, out.stderr))
        return json.loads(out.stdout)

    def stat(self, path, default=None):
        try:
            return get(self.stats(), path)
        except KeyError:
            return default

    def wait(self, path, pred, what):
        end = time.time() + DEADLINE
        v = None
        while time.time() < end:
            v = self.stat(path)
            if v is not None and pred(v):
                return v
            time.sleep(0.05)  # polling a counter with a deadline
        self.fail("%s: %s: %s stayed %r" % (self.name, what, path, v))

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("%s did not stop on SIGTERM" % self.name)
        check(self.proc.returncode == 0, "%s exited %d: %s" % (
            self.name, self.proc.returncode, open(self.err).read()))


def wait_offer(node, peer, service_count=1):
    """NODE sees PEER alive, advertising ready workers."""
    node.wait("peers/%s/alive" % peer, lambda v: v == 1, "peer alive")
    node.wait("peers/%s/ready" % peer, lambda v: v >= service_count,
              "peer's ready workers")


def scenario_forward(zrelay, tmp, ctx):
    a = Node(zrelay, tmp, "A", ["B"])
    b = Node(zrelay, tmp, "B", ["A"])
    w = Worker(ctx, b.ep, "x", tag="on-B", heartbeat=0.1)
    w.start()
    wait_offer(a, "B")
    c = Client(ctx, a.ep)
    for i in range(20):
        reply = c.call("x", "hello %d" % i)
        check(reply == [b"on-B", b"hello %d" % i], "reply %r" % reply)
    c2 = Client(ctx, a.ep, v=2)
    c2.send("x", "v2")
    kind, svc, reply = c2.recv()
    check((kind, svc, reply) == ("final", "x", [b"on-B", b"v2"]),
          "0.2 client through a peer: %r" % ((kind, svc, reply),))
    st = a.stats()
    check(get(st, "peers/B/sent") == 21, "A sent %r" %
          get(st, "peers/B/sent"))
    check(get(st, "peers/B/received") == 21, "A received")
    check(get(st, "federation/requests/forwarded") == 21, "forwarded")
    check(get(st, "majordomo/requests/answered") == 21, "A answered")
    check(get(st, "federation/peers_alive") == 1, "A's live peers")
    sb = b.stats()
    check(get(sb, "services/x/requests/served") == 21, "B served")
    check(get(sb, "federation/requests/forwarded") == 0,
          "B forwarded a peer's request")
    # mmi.* is the broker's own: A answers 404 for x (no local worker).
    check(c.call("mmi.service", "x") == [b"404"], "mmi forwarded?")
    print("forward: 21 requests on A served by B's worker; A: sent 21, "
          "received 21; B: served 21, forwarded 0")
    w.stop.set()
    c.close()
    c2.close()
    a.stop()
    b.stop()


def scenario_local(zrelay, tmp, ctx):
    a = Node(zrelay, tmp, "A", ["B"])
    b = Node(zrelay, tmp, "B", ["A"])
    wb = Worker(ctx, b.ep, "x", tag="on-B", heartbeat=0.1)
    wb.start()
    wait_offer(a, "B")
    wa = HoldWorker(ctx, a.ep, "x")  # A's own: we decide when it is busy
    a.wait("services/x/workers/ready", lambda v: v == 1, "A's worker")
    c = Client(ctx, a.ep)
    for i in range(5):
        c.send("x", "local %d" % i)
        client, body = wa.request()
        check(body == [b"local %d" % i], "request %r" % body)
        wa.answer(client, b"on-A", *body)
        kind, svc, reply = c.recv()
        check(reply == [b"on-A", b"local %d" % i], "reply %r" % reply)
    check(a.stat("peers/B/sent") == 0, "A forwarded with a ready worker")
    # A's worker busy: the next goes to B.
    c.send("x", "busy")
    held, body = wa.request()
    c3 = Client(ctx, a.ep)
    reply = c3.call("x", "overflow")
    check(reply == [b"on-B", b"overflow"], "overflow reply %r" % reply)
    check(a.stat("peers/B/sent") == 1, "A sent %r" % a.stat("peers/B/sent"))
    wa.answer(held, b"on-A", *body)
    kind, svc, reply = c.recv()
    check(reply == [b"on-A", b"busy"], "held reply %r" % reply)
    print("local: 5 requests served by A's ready worker (0 forwarded); "
          "with it busy, the 6th went to B")
    wb.stop.set()
    wa.stop.set()
    c.close()
    c3.close()
    a.stop()
    b.stop()


def scenario_loop(zrelay, tmp, ctx):
    a = Node(zrelay, tmp, "A", ["B"])
    b = Node(zrelay, tmp, "B", ["A"])
    a.wait("peers/B/alive", lambda v: v == 1, "B alive")
    b.wait("peers/A/alive", lambda v: v == 1, "A alive")
    # y nowhere: B's client waits on B, nothing is forwarded, error reply.
    c = Client(ctx, b.ep)
    t0 = time.time()
    c.send("y", "nobody")
    kind, svc, reply = c.recv()
    took = time.time() - t0
    check(reply[0].startswith(b"ZRELAY-ERROR timeout"), "reply %r" % reply)
    check(took >= TIMEOUT_MS / 1000.0 * 0.9, "answered after %.2f s" % took)
    check(a.stat("federation/requests/forwarded") == 0, "A forwarded")
    check(b.stat("federation/requests/forwarded") == 0, "B forwarded")
    # y on B only. A request that already crossed one broker (a hop frame
    # in its envelope, as a peer sends it) comes to A: A, with no worker
    # of y, does not send it on to B (the hop limit), and answers it on
    # its envelope with the error reply after request_timeout.
    w = Worker(ctx, b.ep, "y", tag="on-B", heartbeat=0.1)
    w.start()
    wait_offer(a, "B")
    peer = ctx.socket(zmq.DEALER)
    peer.linger = 0
    peer.connect(a.ep)
    hop = b"zrelay-hop:Z:1f"
    t0 = time.time()
    peer.send_multipart([hop, b"", b"MDPC01", b"y", b"hopped"])
    check(peer.poll(int(DEADLINE * 1000)), "no reply to the hopped request")
    m = peer.recv_multipart()
    took2 = time.time() - t0
    check(m[:4] == [hop, b"", b"MDPC01", b"y"], "envelope %r" % m)
    check(m[4].startswith(b"ZRELAY-ERROR timeout"), "reply %r" % m)
    check(took2 >= TIMEOUT_MS / 1000.0 * 0.9, "after %.2f s" % took2)
    check(a.stat("federation/requests/forwarded") == 0,
          "A forwarded a peer's request")
    check(w.served == 0, "B's worker served the hopped request")
    # The same request from A's own client goes to B once.
    c2 = Client(ctx, a.ep)
    reply = c2.call("y", "fresh")
    check(reply == [b"on-B", b"fresh"], "reply %r" % reply)
    check(a.stat("peers/B/sent") == 1, "A sent %r" % a.stat("peers/B/sent"))
    check(b.stat("federation/requests/forwarded") == 0, "B forwarded")
    print("loop: y nowhere -> B's error reply after %.2f s, 0 forwarded "
          "either way; a request with a hop frame -> not forwarded (A "
          "forwarded 0, B's worker served 0), error reply on its envelope "
          "after %.2f s; A's own client's -> B once" % (took, took2))
    w.stop.set()
    peer.close()
    c.close()
    c2.close()
    a.stop()
    b.stop()


def scenario_unreachable(zrelay, tmp, ctx):
    a = Node(zrelay, tmp, "A", ["Z"])
    # Z: a peer's state flow played here, naming an MDP endpoint that
    # nobody serves.
    pub = ctx.socket(zmq.PUB)
    pub.linger = 0
    pub.bind("ipc://%s/Z.state" % tmp)
    stop = threading.Event()

    def beat():
        while not stop.is_set():
            pub.send_multipart([b"ZRFED01", b"Z", b"tcp://127.0.0.1:1",
                                b"%d" % HEARTBEAT_MS, b"x", b"5"])
            stop.wait(HEARTBEAT_MS / 1000.0)
    t = threading.Thread(target=beat, daemon=True)
    t.start()
    a.wait("peers/Z/ready", lambda v: v == 5, "Z's offer")
    c = Client(ctx, a.ep)
    t0 = time.time()
    c.send("x", "into the void?")
    kind, svc, reply = c.recv()
    took = time.time() - t0
    check(reply[0].startswith(b"ZRELAY-ERROR timeout"), "reply %r" % reply)
    check(took >= TIMEOUT_MS / 1000.0 * 0.9, "answered after %.2f s" % took)
    st = a.stats()
    check(get(st, "peers/Z/alive") == 1, "Z not alive")
    check(get(st, "peers/Z/sent") == 0, "sent to an endpoint never "
          "connected: %r" % get(st, "peers/Z"))
    print("unreachable: Z alive (its state flows), its MDP endpoint never "
          "connected: nothing sent to it, error reply after %.2f s" % took)
    stop.set()
    t.join()
    pub.close()
    c.close()
    a.stop()


def scenario_bench(zrelay, tmp, ctx):
    n = int(os.environ.get("MDP_FED_N", "5000"))
    a = Node(zrelay, tmp, "A", ["B"])
    b = Node(zrelay, tmp, "B", ["A"])
    w = Worker(ctx, b.ep, "x", tag="on-B", heartbeat=0.1)
    w.start()
    wait_offer(a, "B")
    for name, node in (("straight to B", b), ("through A", a)):
        c = Client(ctx, node.ep)
        for i in range(100):  # warm up
            c.call("x", "w")
        took = []
        t0 = time.time()
        for i in range(n):
            t = time.perf_counter()
            c.call("x", "b")
            took.append(time.perf_counter() - t)
        rate = n / (time.time() - t0)
        took.sort()
        print("%-14s %d requests, one at a time: p50 %.0f us, p99 %.0f us, "
              "%.0f requests/s" % (name, n, took[n // 2] * 1e6,
                                   took[n * 99 // 100] * 1e6, rate))
        c.close()
    w.stop.set()
    a.stop()
    b.stop()


def scenario_death(zrelay, tmp, ctx):
    a = Node(zrelay, tmp, "A", ["B"])
    b = Node(zrelay, tmp, "B", ["A"])
    wb = HoldWorker(ctx, b.ep, "x")  # holds its request
    wait_offer(a, "B")
    c = Client(ctx, a.ep)
    t0 = time.time()
    c.send("x", "doomed")
    wb.request()
    b.kill()
    kind, svc, reply = c.recv()
    took = time.time() - t0
    check(reply[0].startswith(b"ZRELAY-ERROR timeout"), "reply %r" % reply)
    check(took >= TIMEOUT_MS / 1000.0 * 0.9, "answered after %.2f s" % took)
    st = a.stats()
    check(get(st, "peers/B/alive") == 0, "B still alive on A")
    check(get(st, "peers/B/deaths") == 1, "deaths")
    check(get(st, "peers/B/failed") == 1, "failed")
    check(get(st, "federation/requests/given_back") == 1, "given back")
    check(get(st, "peers/B/services_forgotten") == 1, "forgotten")
    print("death: B killed holding A's request: A declared it dead, the "
          "request came back, error reply after %.2f s" % took)
    wb.stop.set()
    # B again: served through it.
    b.start()
    w = Worker(ctx, b.ep, "x", tag="on-B", heartbeat=0.1)
    w.start()
    wait_offer(a, "B")
    reply = c.call("x", "again")
    check(reply == [b"on-B", b"again"], "reply %r" % reply)
    print("death: B back, served through it again (A: sent %d, received "
          "%d)" % (a.stat("peers/B/sent"), a.stat("peers/B/received")))
    w.stop.set()
    c.close()
    a.stop()
    b.stop()


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    zrelay = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="zr-fed-")
    ctx = zmq.Context()
    scenarios = {"forward": scenario_forward, "local": scenario_local,
                 "loop": scenario_loop, "death": scenario_death,
                 "unreachable": scenario_unreachable,
                 "bench": scenario_bench}
    if sys.argv[2] not in scenarios:
        print(__doc__)
        sys.exit(2)
    scenarios[sys.argv[2]](zrelay, tmp, ctx)
    ctx.term()
    print("ok")


if __name__ == "__main__":
    main()
