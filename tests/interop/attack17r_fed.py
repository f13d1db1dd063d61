#!/usr/bin/python3
"""Second attack on federation (issue 17), after 26a074d: the paths it
added (a peer's request connection made afresh after it closed, a
request given back counted as a retry, the majordomo taking back a
request at a silent peer after busy_timeout), on both federating
brokers: the lru queue ([queue NAME]) and the majordomo ([majordomo
NAME]). The peer is played here (attack17q_lib.HostilePeer) or is a
zrelay.

usage: attack17r_fed.py ZRELAY SCENARIO
  flip_q    a peer whose state alternates between two request endpoints
  flip_mdp  (both its ROUTERs answer) at every message, 1000 times, while
            a client sends without pause: every request answered exactly
            once, the counters add up, and the relay's open files and
            RSS do not grow with the reconnects
  rebind_q  the peer's request ROUTER closed and bound again on the same
  rebind_mdp port 100 times under load: each time the connection is made
            afresh, every request answered once, counters add up, no
            fd growth
  stop_mdp  a majordomo whose only worker of x is ready locally and busy,
            requests held by a mute peer: SIGTERM answers every one with
            ZRELAY-ERROR stopping (none sent to the local worker while
            stopping), exits 0
  expire_mdp  a 0.2 client of majordomo A served through majordomo B,
            whose 0.2 worker sends PARTIALs and its FINAL after 1.5
            busy_timeouts of A: A gives it up (retries 0: 'failed'), B's
            reply is late (counted), the client gets one answer; A's
            counters (requests, services.x, federation, peers.B) add up
  expire_retry_mdp  the same with retries 1 and two slow workers at B:
            tried twice at B, then 'failed'; retried counted once
  stop_q    the same on the lru queue
  drain_q   a client floods A (a local worker answering at once) through
  drain_mdp SIGTERM until A has gone: no request sent after the first
            'stopping' answer reaches the worker and is answered
            'stopping' as well (worked on behind its client's back)
  churn_mdp majordomo B (x's only workers) killed and started again 5
            times under A's load: every request answered once, A's
            counters add up
  titanic   a federated majordomo with titanic, x only at a peer: a
            titanic.request for x is stored, never forwarded (a plain
            request for x is); a local worker of x gets it
Every wait has a deadline; nothing sleeps and hopes.
"""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack17q_lib as L  # noqa: E402
from attack17q_lib import (DEADLINE, HEARTBEAT_MS, HostilePeer,  # noqa
                           Queue, check, fail, zmq)


class Lru(Queue):
    """Queue, whose stats say so when the relay died."""

    def stats(self):
        out = subprocess.run([self.zrelay, "ctl", self.ctl, "stats",
                              "--json"], capture_output=True, text=True,
                             timeout=10)
        if out.returncode != 0:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                fail("%s: ctl stats: %s" % (self.name, out.stderr))
            fail("%s died (exit %d): %s" % (
                self.name, self.proc.returncode,
                open(self.err).read()[-1500:]))
        return json.loads(out.stdout)


class Majordomo(Lru):
    """`zrelay run` with one [majordomo NAME] (Queue's life and stats)."""

    def start(self):
        conf = os.path.join(self.tmp, self.name + ".conf")
        with open(conf, "w") as f:
            f.write("[zrelay]\ncontrol = @ipc://%s/%s.daemon\n\n"
                    % (self.tmp, self.name))
            f.write("[majordomo %s]\n" % self.name)
            f.write("frontend = @%s\n" % (self.fe or "tcp://127.0.0.1:*"))
            f.write("control = @%s\n" % self.ctl)
            if self.bind_state:
                f.write("peer_bind = @%s\n" % self.state)
            if self.peers:
                f.write("peers = %s\n" % ", ".join(self.peers))
            f.write("heartbeat = %dms\nliveness = %d\n"
                    "request_timeout = %dms\n%s"
                    % (HEARTBEAT_MS, L.LIVENESS, self.timeout_ms,
                       self.extra))
        self.runs += 1
        self.err = os.path.join(self.tmp, "%s.%d.err" % (self.name,
                                                         self.runs))
        self.proc, eps = L.launch(self.zrelay, conf, self.name, self.err)
        self.fe = eps.get("frontend", self.fe)


def mdp_accounted(st):
    """A majordomo's requests in, and those accounted for."""
    b = st["majordomo"]["requests"]
    f = st["federation"]["requests"]
    at_peers = (f["forwarded"] - f["answered"] - f["given_back"] -
                f.get("expired", 0))
    out = (b["answered"] + b["failed"] + b["stopped"] + b["timeouts"] +
           b["rejected"] + b["dropped"] + b["waiting"] + b["in_flight"] +
           at_peers + b["mmi"] + b["titanic"])
    return b["received"], out


def proc_usage(pid):
    fds = len(os.listdir("/proc/%d/fd" % pid))
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return fds, rss


class Load(threading.Thread):
    """A client keeping WINDOW requests outstanding until told to stop,
    then collecting the rest: each request's replies, by body."""

    def __init__(self, ctx, ep, mdp, window=20):
        super().__init__(daemon=True)
        self.s = ctx.socket(zmq.DEALER)
        self.s.linger = 0
        self.s.connect(ep)
        self.mdp, self.window = mdp, window
        self.sent = 0
        self.replies = {}  # request id -> [bodies]
        self.errors = 0
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.start()

    def _send(self):
        body = b"q%d" % self.sent
        self.sent += 1
        if self.mdp:
            self.s.send_multipart([b"", b"MDPC01", b"x", body])
        else:
            self.s.send_multipart([b"", body])

    def _take(self):
        m = self.s.recv_multipart()
        body = m[-1]
        if body.startswith(b"ZRELAY-ERROR"):
            self.errors += 1
            key = None
        else:
            key = body.split(b": ", 1)[-1]
        with self.lock:
            if key is not None:
                self.replies.setdefault(key, []).append(body)
            self.got = getattr(self, "got", 0) + 1

    def run(self):
        self.got = 0
        while not self.halt.is_set():
            while self.sent - self.got < self.window:
                self._send()
            if self.s.poll(20):
                self._take()

    def finish(self, deadline=DEADLINE * 2):
        self.halt.set()
        self.join(5)
        end = time.time() + deadline
        while self.got < self.sent and time.time() < end:
            if self.s.poll(50):
                self._take()
        twice = [k for k, v in self.replies.items() if len(v) > 1]
        check(not twice, "answered twice: %r" % twice[:5])
        check(self.got == self.sent, "%d requests, %d answers" % (
            self.sent, self.got))
        # quiet: nothing more comes
        end = time.time() + 0.3
        while time.time() < end:
            if self.s.poll(20):
                fail("an extra reply: %r" % self.s.recv_multipart())
        self.s.close()


class FlipPeer(HostilePeer):
    """A peer with two request ROUTERs answering everything; its state
    names one then the other, alternately, every STEP seconds."""

    def __init__(self, ctx, state, mdp, step):
        self.mdp, self.step, self.flips = mdp, step, 0
        super().__init__(ctx, state, protocol=b"ZRFED01" if mdp
                         else b"ZRFEDQ1")

    def run(self):
        r2 = self.ctx.socket(zmq.ROUTER)
        r2.linger = 0
        r2.bind("tcp://127.0.0.1:*")
        eps = [self.ep, r2.getsockopt(zmq.LAST_ENDPOINT).decode()]
        routers = [self.router, r2]
        poller = zmq.Poller()
        for r in routers:
            poller.register(r, zmq.POLLIN)
        svc = b"x" if self.mdp else b"queue"
        beat = 0
        while not self.stop.is_set():
            if time.time() - beat > self.step:
                beat = time.time()
                if self.publishing.is_set():
                    self.flips += 1
                    ep = eps[self.flips % 2]
                    self.pub.send_multipart(
                        [self.protocol, self.name.encode(), ep.encode(),
                         str(HEARTBEAT_MS).encode(), svc, b"5"])
            for sock, _ in poller.poll(2):
                m = sock.recv_multipart()
                with self.lock:
                    self.got.append(m)
                # Queue: [id, hop, "", body]; MDP: [id, hop, "", MDPC01,
                # x, body]: the reply on the same envelope.
                sock.send_multipart(m[:-1] + [b"H: " + m[-1]])
        self.pub.close()
        for r in routers:
            r.close()


def scenario_flip(zrelay, tmp, ctx, mdp):
    hs = "ipc://%s/H.state" % tmp
    h = FlipPeer(ctx, hs, mdp, step=0.004)
    kind = Majordomo if mdp else Lru
    extra = "busy_timeout = 2000ms\nretries = 1000\n"
    a = kind(zrelay, tmp, "A", peers=[hs], timeout_ms=30000, extra=extra)
    a.wait("peers/H/states", lambda v: v >= 50, "H's states")
    load = Load(ctx, a.fe, mdp)
    a.wait("peers/H/states", lambda v: v >= 100, "H's states")
    # RSS: with ASan's quarantine off (ASAN_OPTIONS below), what the
    # relay holds; the first 1000 flips warm the allocator up.
    s0 = a.stat("peers/H/states")
    a.wait("peers/H/states", lambda v: v >= s0 + 1000, "1000 flips")
    fds0, rss0 = proc_usage(a.proc.pid)
    a.wait("peers/H/states", lambda v: v >= s0 + 2000, "1000 more flips")
    fds1, rss1 = proc_usage(a.proc.pid)
    h.publishing.clear()
    load.finish()
    st = a.stats()
    acc = mdp_accounted if mdp else L.accounted
    taken, out = acc(st)
    check(taken == out, "requests taken %d, accounted for %d: %s %s" % (
        taken, out, st["majordomo" if mdp else "broker"]["requests"],
        st["federation"]))
    # No local worker: every retry is a request given back or expired.
    r = st["majordomo" if mdp else "broker"]["requests"]
    f = st["federation"]["requests"]
    check(r["retried"] == f["given_back"] + f["expired"],
          "retried %d, given back %d + expired %d" % (
              r["retried"], f["given_back"], f["expired"]))
    # H's row: each request sent to it answered, given back or expired
    # (its 'failed' counts refused sends too); nothing left there.
    ph = st["peers"]["H"]
    check(ph["sent"] == ph["received"] + ph["failed"] - f["refused"] and
          f["forwarded"] == ph["sent"] and ph["received"] == f["answered"],
          "peers.H %s, federation %s" % (ph, f))
    if mdp:
        x = st["services"]["x"]["requests"]
        check(x["retried"] == r["retried"], "services.x: %s" % x)
    print("flip: %d requests (%d errors), %d answered by H, %d given back "
          "(retried); fds %d -> %d, RSS %d -> %d kB over 1000 reconnects"
          % (load.sent, load.errors, f["answered"], f["given_back"], fds0,
             fds1, rss0, rss1))
    check(fds1 <= fds0 + 4, "open files grew %d -> %d" % (fds0, fds1))
    check(rss1 <= rss0 + 8192, "RSS grew %d -> %d kB" % (rss0, rss1))
    a.stop()
    h.close()


def scenario_flip_q(zrelay, tmp, ctx):
    scenario_flip(zrelay, tmp, ctx, False)


def scenario_flip_mdp(zrelay, tmp, ctx):
    scenario_flip(zrelay, tmp, ctx, True)


class RebindPeers(threading.Thread):
    """K peers in one thread, each a PUB at STATES[i] and a request
    ROUTER answering everything; every STEP seconds all K ROUTERs are
    closed and bound again on their ports (a peer restarting under
    load, K at once)."""

    def __init__(self, ctx, states, mdp, step, rounds):
        super().__init__(daemon=True)
        self.ctx, self.states, self.mdp = ctx, states, mdp
        self.step, self.rounds = step, rounds
        self.done_rounds = 0
        self.got = 0
        self.stop = threading.Event()
        self.pubs, self.routers, self.eps = [], [], []
        self.state_eps = []
        for st in states:
            pub = ctx.socket(zmq.PUB)
            pub.linger = 0
            pub.bind(st)
            self.pubs.append(pub)
            self.state_eps.append(
                pub.getsockopt(zmq.LAST_ENDPOINT).decode())
            r = self._router("tcp://127.0.0.1:*")
            self.eps.append(r.getsockopt(zmq.LAST_ENDPOINT).decode())
            self.routers.append(r)
        self.start()

    def _router(self, ep):
        end = time.time() + DEADLINE
        while True:
            r = self.ctx.socket(zmq.ROUTER)
            r.linger = 0
            try:
                r.bind(ep)
                return r
            except zmq.ZMQError:  # the port not free again yet
                r.close()
                if time.time() > end:
                    raise
                time.sleep(0.01)

    def run(self):
        svc = b"x" if self.mdp else b"queue"
        proto = b"ZRFED01" if self.mdp else b"ZRFEDQ1"
        beat = flip = time.time()
        while not self.stop.is_set():
            now = time.time()
            if now - beat > HEARTBEAT_MS / 1000.0:
                beat = now
                for i, pub in enumerate(self.pubs):
                    pub.send_multipart([proto, b"P%d" % i,
                                        self.eps[i].encode(),
                                        str(HEARTBEAT_MS).encode(), svc,
                                        b"5"])
            if (now - flip > self.step and
                    self.done_rounds < self.rounds):
                flip = now
                for i in range(len(self.routers)):
                    self.routers[i].close()
                    self.routers[i] = self._router(self.eps[i])
                self.done_rounds += 1
            poller = zmq.Poller()
            for r in self.routers:
                poller.register(r, zmq.POLLIN)
            for sock, _ in poller.poll(5):
                for _ in range(50):
                    try:
                        m = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self.got += 1
                    sock.send_multipart(m[:-1] + [b"P: " + m[-1]])
        for x in self.pubs + self.routers:
            x.close()

    def close(self):
        self.stop.set()
        self.join(5)


def scenario_rebind(zrelay, tmp, ctx, mdp):
    k, rounds = 8, 60
    ps = RebindPeers(ctx, ["tcp://127.0.0.1:*"] * k, mdp, step=0.1,
                     rounds=rounds)
    states = ps.state_eps
    kind = Majordomo if mdp else Lru
    extra = "busy_timeout = 5000ms\nretries = 1000\n"
    a = kind(zrelay, tmp, "A", peers=states, timeout_ms=60000, extra=extra)
    a.wait("federation/peers_alive", lambda v: v == k, "all peers alive")
    load = Load(ctx, a.fe, mdp, window=40)
    fds0, rss0 = proc_usage(a.proc.pid)
    end = time.time() + DEADLINE * 3
    while ps.done_rounds < rounds and time.time() < end:
        time.sleep(0.05)  # the peers' own pace, with a deadline
    check(ps.done_rounds == rounds, "only %d rebinds" % ps.done_rounds)
    # Served again through every peer after the last rebind.
    answered = a.stat("federation/requests/answered")
    a.wait("federation/requests/answered", lambda v: v > answered + 100,
           "served after the rebinds")
    fds1, rss1 = proc_usage(a.proc.pid)
    load.finish()
    st = a.stats()
    acc = mdp_accounted if mdp else L.accounted
    taken, out = acc(st)
    check(taken == out, "requests taken %d, accounted for %d: %s %s" % (
        taken, out, st["majordomo" if mdp else "broker"]["requests"],
        st["federation"]))
    print("rebind: %d peers x %d rebinds; %d requests (%d errors), %d "
          "answered by peers, %d given back; fds %d -> %d, RSS %d -> %d "
          "kB" % (k, rounds, load.sent, load.errors,
                  st["federation"]["requests"]["answered"],
                  st["federation"]["requests"]["given_back"], fds0, fds1,
                  rss0, rss1))
    check(fds1 <= fds0 + 2 * k, "open files grew %d -> %d" % (fds0, fds1))
    a.stop()
    ps.close()


def scenario_rebind_q(zrelay, tmp, ctx):
    scenario_rebind(zrelay, tmp, ctx, False)


def scenario_rebind_mdp(zrelay, tmp, ctx):
    scenario_rebind(zrelay, tmp, ctx, True)


class MdpWorker(threading.Thread):
    """An MDP/0.1 worker of SERVICE on EP: READY, heartbeats, records
    every request; answers each after DELAY s (None: never)."""

    def __init__(self, ctx, ep, service=b"x", delay=None, partials=0,
                 v=1):
        super().__init__(daemon=True)
        self.ctx, self.ep, self.service = ctx, ep, service
        self.delay, self.partials, self.v = delay, partials, v
        self.requests = []
        self.halt = threading.Event()
        self.start()

    def run(self):
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.ep)
        head = [b"", b"MDPW01"] if self.v == 1 else [b"MDPW02"]
        s.send_multipart(head + [b"\x01", self.service])
        beat = time.time()
        pending = []  # (due, client, body)
        while not self.halt.is_set():
            if s.poll(10):
                m = s.recv_multipart()
                cmd = m[len(head) - 1 + 1]
                if cmd == (b"\x02"):  # REQUEST, 0.1 and 0.2 alike
                    client, body = m[len(head) + 1], m[-1]
                    self.requests.append(body)
                    if self.delay is not None:
                        for i in range(self.partials):
                            # 0.2 PARTIAL: [MDPW02, 3, client, "", body]
                            s.send_multipart([b"MDPW02", b"\x03", client,
                                              b"", b"part%d" % i])
                        pending.append((time.time() + self.delay, client,
                                        body))
            now = time.time()
            for item in [p for p in pending if p[0] <= now]:
                pending.remove(item)
                _, client, body = item
                final = b"\x03" if self.v == 1 else b"\x04"
                s.send_multipart(head + [final, client, b"",
                                         b"W: " + body])
            if now - beat > HEARTBEAT_MS / 1000.0 / 2:
                s.send_multipart(head + [b"\x04" if self.v == 1
                                         else b"\x05"])
                beat = now
        s.close()

    def close(self):
        self.halt.set()
        self.join(5)


def mdp_hostile(ctx, hs, ready=3, handle=None):
    """A HostilePeer speaking for a majordomo, offering x."""
    h = HostilePeer(ctx, hs, ready=ready, handle=handle,
                    protocol=b"ZRFED01")
    h.state_msg = lambda: [b"ZRFED01", b"H", h.ep.encode(),
                           str(HEARTBEAT_MS).encode(), b"x",
                           str(h.ready).encode()]
    return h


def scenario_stop_mdp(zrelay, tmp, ctx):
    hs = "ipc://%s/H.state" % tmp
    h = mdp_hostile(ctx, hs, ready=3)  # takes them, never replies
    a = Majordomo(zrelay, tmp, "A", peers=[hs], timeout_ms=60000)
    a.wait("peers/H/ready", lambda v: v == 3, "H offers")
    c = ctx.socket(zmq.DEALER)
    c.linger = 0
    c.connect(a.fe)
    for i in range(3):
        c.send_multipart([b"", b"MDPC01", b"x", b"r%d" % i])
    a.wait("federation/requests/forwarded", lambda v: v == 3, "at H")
    w = MdpWorker(ctx, a.fe, delay=0.0)  # ready here now, idle
    a.wait("majordomo/workers/known", lambda v: v == 1, "local worker")
    check(a.stat("majordomo/requests/in_flight") == 0, "worker busy")
    a.proc.send_signal(15)
    got = []
    end = time.time() + DEADLINE
    while len(got) < 3 and time.time() < end:
        if c.poll(50):
            got.append(c.recv_multipart())
    check(len(got) == 3, "%d of 3 answered at stop" % len(got))
    check(all(m[-1].startswith(b"ZRELAY-ERROR stopping") for m in got),
          "at stop: %r" % got)
    a.stop()
    w.close()
    check(w.requests == [], "while stopping, the local worker was sent "
          "%r: it works on them, their clients are told 'stopping' (and "
          "may ask elsewhere: done twice)" % w.requests)
    h.close()
    print("stop_mdp: 3 requests at the peer answered 'stopping', none sent "
          "to the idle local worker")


def scenario_expire_mdp(zrelay, tmp, ctx):
    """A 0.2 client of A served through B, whose 0.2 worker sends
    PARTIALs and its FINAL only after 1.5 of A's busy_timeout: A gives
    the request up at B after busy_timeout (retries 0: 'failed'), B's
    reply comes late (counted), and the client gets exactly one answer,
    never the late one; every counter adds up on A."""
    busy = 600
    b = Majordomo(zrelay, tmp, "B", timeout_ms=60000,
                  extra="busy_timeout = 60000ms\n")
    w = MdpWorker(ctx, b.fe, delay=busy * 1.5 / 1000.0, partials=2, v=2)
    a = Majordomo(zrelay, tmp, "A", peers=[b.state], timeout_ms=60000,
                  extra="busy_timeout = %dms\nretries = 0\n" % busy)
    a.wait("peers/B/ready", lambda v: v == 1, "B offers x")
    c = ctx.socket(zmq.DEALER)
    c.linger = 0
    c.connect(a.fe)
    c.send_multipart([b"MDPC02", b"\x01", b"x", b"slow"])
    check(c.poll(DEADLINE * 1000), "no answer")
    m = c.recv_multipart()
    check(m[:3] == [b"MDPC02", b"\x03", b"x"] and
          m[3].startswith(b"ZRELAY-ERROR failed"),
          "not the 'failed' FINAL: %r" % m)
    a.wait("federation/requests/late_replies", lambda v: v == 1,
           "B's late reply")
    end = time.time() + 0.5
    while time.time() < end:
        if c.poll(20):
            fail("a second answer: %r" % c.recv_multipart())
    st = a.stats()
    taken, out = mdp_accounted(st)
    r, f = st["majordomo"]["requests"], st["federation"]["requests"]
    svc = st["services"]["x"]["requests"]
    check(taken == out == 1, "taken %d, accounted %d: %s %s" % (
        taken, out, r, f))
    check((r["failed"], r["retried"], f["expired"], f["answered"],
           st["peers"]["B"]["late"]) == (1, 0, 1, 0, 1),
          "counters: %s %s %s" % (r, f, st["peers"]["B"]))
    check((svc["failed"], svc["retried"]) == (1, 0),
          "services.x: %s" % svc)
    print("expire_mdp: answered %r; late reply counted" % m[3][:40])
    a.stop()
    b.stop()
    w.close()


def scenario_expire_retry_mdp(zrelay, tmp, ctx):
    """As expire_mdp with retries 1 and two slow workers at B: tried
    twice at B, then 'failed'; both B replies late; retried 1 on A and
    on services.x."""
    busy = 600
    b = Majordomo(zrelay, tmp, "B", timeout_ms=60000,
                  extra="busy_timeout = 60000ms\n")
    ws = [MdpWorker(ctx, b.fe, delay=busy * 1.5 / 1000.0, partials=1,
                    v=2) for _ in range(2)]
    a = Majordomo(zrelay, tmp, "A", peers=[b.state], timeout_ms=60000,
                  extra="busy_timeout = %dms\nretries = 1\n" % busy)
    a.wait("peers/B/ready", lambda v: v == 2, "B offers x")
    c = ctx.socket(zmq.DEALER)
    c.linger = 0
    c.connect(a.fe)
    c.send_multipart([b"", b"MDPC01", b"x", b"slow"])
    check(c.poll(DEADLINE * 1000), "no answer")
    m = c.recv_multipart()
    check(m[:3] == [b"", b"MDPC01", b"x"] and
          m[3].startswith(b"ZRELAY-ERROR failed"),
          "not the 'failed' reply: %r" % m)
    a.wait("federation/requests/late_replies", lambda v: v == 2,
           "B's late replies")
    end = time.time() + 0.5
    while time.time() < end:
        if c.poll(20):
            fail("a second answer: %r" % c.recv_multipart())
    st = a.stats()
    taken, out = mdp_accounted(st)
    r, f = st["majordomo"]["requests"], st["federation"]["requests"]
    svc = st["services"]["x"]["requests"]
    check(taken == out == 1, "taken %d, accounted %d: %s %s" % (
        taken, out, r, f))
    check((r["failed"], r["retried"], f["expired"], f["forwarded"]) ==
          (1, 1, 2, 2), "counters: %s %s" % (r, f))
    check((svc["failed"], svc["retried"]) == (1, 1),
          "services.x: %s" % svc)
    print("expire_retry_mdp: tried twice at B, answered %r" % m[3][:40])
    a.stop()
    b.stop()
    for w in ws:
        w.close()


def scenario_titanic(zrelay, tmp, ctx):
    """A federated majordomo with titanic; x has workers only at peer H
    (which takes whatever it gets): a titanic.request for x is stored
    and acknowledged, never forwarded, while plain requests for x are;
    a local worker of x then gets the stored one."""
    hs = "ipc://%s/H.state" % tmp
    h = mdp_hostile(ctx, hs, ready=5, handle=lambda p, m: p.send(
        m[:-1] + [b"H: " + m[-1]]))
    store = os.path.join(tmp, "store")
    os.mkdir(store)
    a = Majordomo(zrelay, tmp, "A", peers=[hs], timeout_ms=60000,
                  extra="titanic = %s\n" % store)
    a.wait("peers/H/ready", lambda v: v == 5, "H offers")
    c = ctx.socket(zmq.DEALER)
    c.linger = 0
    c.connect(a.fe)
    c.send_multipart([b"", b"MDPC01", b"titanic.request", b"x", b"durable"])
    check(c.poll(DEADLINE * 1000), "no titanic answer")
    m = c.recv_multipart()
    check(m[3] == b"200", "titanic.request: %r" % m)
    uuid = m[4]
    # A plain request after it is forwarded (and answered by H): the
    # stored one had every chance to go the same way.
    c.send_multipart([b"", b"MDPC01", b"x", b"plain"])
    check(c.poll(DEADLINE * 1000), "no answer to the plain one")
    m = c.recv_multipart()
    check(m[-1] == b"H: plain", "plain: %r" % m)
    states = a.stat("peers/H/states")
    a.wait("peers/H/states", lambda v: v >= states + 3, "3 more states")
    bodies = [f[-1] for f in h.got]
    check(bodies == [b"plain"], "H got %r: a titanic request forwarded"
          % bodies)
    w = MdpWorker(ctx, a.fe, delay=0.0)
    end = time.time() + DEADLINE
    while not w.requests and time.time() < end:
        time.sleep(0.02)  # the worker's own thread, with a deadline
    check(w.requests == [b"durable"], "local worker got %r" % w.requests)
    print("titanic: %s stored, not forwarded; served here" % uuid[:8])
    a.stop()
    w.close()
    h.close()


def scenario_stop_q(zrelay, tmp, ctx):
    """stop_mdp on the lru queue: requests held by a mute peer, a local
    worker idle: SIGTERM answers them 'stopping', none sent to it."""
    hs = "ipc://%s/H.state" % tmp
    h = HostilePeer(ctx, hs, ready=3)  # takes them, never replies
    a = Lru(zrelay, tmp, "A", peers=[hs], timeout_ms=60000)
    a.wait("peers/H/ready", lambda v: v == 3, "H offers")
    c = L.Client(ctx, a.fe)
    for i in range(3):
        c.send(b"r%d" % i)
    a.wait("federation/requests/forwarded", lambda v: v == 3, "at H")
    w = L.Worker(ctx, a.be, b"L")
    a.wait("broker/workers/ready", lambda v: v == 1, "local worker")
    a.proc.send_signal(15)
    r = c.collect(3)
    check(len(r) == 3 and all(v.startswith(b"ZRELAY-ERROR stopping")
                              for v in r.values()), "at stop: %r" % r)
    a.stop()
    w.close()
    check(w.served == 0, "while stopping, the local worker served %d"
          % w.served)
    h.close()
    print("stop_q: 3 requests at the peer answered 'stopping', none sent "
          "to the idle local worker")


def scenario_churn_mdp(zrelay, tmp, ctx):
    """Majordomo B, x's only workers, killed (SIGKILL) and started again
    5 times while A's client keeps 20 requests outstanding: every request
    answered exactly once (a reply or an error reply), A's counters add
    up, no sanitizer report."""
    b = Majordomo(zrelay, tmp, "B", timeout_ms=60000)
    ws = [MdpWorker(ctx, b.fe, delay=0.005) for _ in range(3)]
    a = Majordomo(zrelay, tmp, "A", peers=[b.state], timeout_ms=4000,
                  extra="busy_timeout = 2000ms\nretries = 3\n")
    a.wait("peers/B/ready", lambda v: v >= 1, "B offers x")
    load = Load(ctx, a.fe, True, window=20)
    for k in range(5):
        done = a.stat("federation/requests/answered")
        a.wait("federation/requests/answered", lambda v: v > done + 50,
               "served through B")
        b.kill()
        for w in ws:
            w.close()
        b.start()
        ws = [MdpWorker(ctx, b.fe, delay=0.005) for _ in range(3)]
    done = a.stat("federation/requests/answered")
    a.wait("federation/requests/answered", lambda v: v > done + 50,
           "served through B at the end")
    load.finish()
    st = a.stats()
    taken, out = mdp_accounted(st)
    check(taken == out, "requests taken %d, accounted for %d: %s %s" % (
        taken, out, st["majordomo"]["requests"], st["federation"]))
    f = st["federation"]["requests"]
    print("churn_mdp: %d requests (%d error replies); federation %s; "
          "retried %d" % (load.sent, load.errors, f,
                          st["majordomo"]["requests"]["retried"]))
    a.stop()
    b.stop()
    for w in ws:
        w.close()


class RecWorker(threading.Thread):
    """A local worker answering at once and recording every request's
    body: lru (Paranoid Pirate, on the queue's backend) or MDP/0.1."""

    def __init__(self, ctx, ep, mdp):
        super().__init__(daemon=True)
        self.ctx, self.ep, self.mdp = ctx, ep, mdp
        self.bodies = []
        self.halt = threading.Event()
        self.start()

    def run(self):
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.ep)
        s.send_multipart([b"", b"MDPW01", b"\x01", b"x"] if self.mdp
                         else [b"\x01"])
        beat = time.time()
        while not self.halt.is_set():
            if s.poll(10):
                m = s.recv_multipart()
                if self.mdp and m[2] == b"\x02":
                    self.bodies.append(m[-1])
                    s.send_multipart([b"", b"MDPW01", b"\x03", m[3], b"",
                                      b"W: " + m[-1]])
                elif not self.mdp and len(m) > 1:
                    self.bodies.append(m[-1])
                    s.send_multipart(m[:-1] + [b"W: " + m[-1]])
            if time.time() - beat > HEARTBEAT_MS / 1000.0 / 2:
                s.send_multipart([b"", b"MDPW01", b"\x04"] if self.mdp
                                 else [b"\x02"])
                beat = time.time()
        s.close()


def scenario_drain(zrelay, tmp, ctx, mdp):
    """A client floods A (a local worker answering at once) through
    SIGTERM, until A has gone: the requests A reads while it drains at
    stop are answered 'stopping'; none of those sent after the first
    'stopping' answer may reach the worker and be answered 'stopping'
    too (worked on, its client told to ask elsewhere: done twice)."""
    kind = Majordomo if mdp else Lru
    a = kind(zrelay, tmp, "A", timeout_ms=60000)
    w = RecWorker(ctx, a.fe if mdp else a.be, mdp)
    a.wait("majordomo/workers/known" if mdp else "broker/workers/ready",
           lambda v: v == 1, "the worker")
    c = ctx.socket(zmq.DEALER)
    c.linger = 0
    c.connect(a.fe)
    sent, answers, first_stop = 0, {}, None
    signalled = False
    end = time.time() + DEADLINE
    while a.proc.poll() is None and time.time() < end:
        if sent - len(answers) < 20:
            body = b"d%d" % sent
            c.send_multipart([b"", b"MDPC01", b"x", body] if mdp
                             else [b"", body])
            sent += 1
        if sent == 200 and not signalled:
            a.proc.send_signal(15)
            signalled = True
        while c.poll(0):
            m = c.recv_multipart()
            body = m[-1]
            if body.startswith(b"ZRELAY-ERROR stopping"):
                if first_stop is None:
                    first_stop = sent
                answers[b"stop%d" % len(answers)] = body
            else:
                answers[body.split(b": ", 1)[-1]] = body
    a.stop()
    w.halt.set()
    w.join(5)
    check(first_stop is not None, "no 'stopping' answer came")
    later = set(b"d%d" % i for i in range(first_stop, sent))
    served = set(k for k, v in answers.items() if v.startswith(b"W: "))
    worked = [b for b in w.bodies if b in later and b not in served]
    check(not worked, "sent after stop began, worked on by the worker and "
          "answered 'stopping': %r (of %d sent after)" % (
              worked[:5], len(later)))
    print("drain: %d sent, %d after stop began; %d reached the worker after "
          "(served), none answered 'stopping' behind its back" % (
              sent, len(later), len([b for b in w.bodies if b in later])))


def scenario_drain_q(zrelay, tmp, ctx):
    scenario_drain(zrelay, tmp, ctx, False)


def scenario_drain_mdp(zrelay, tmp, ctx):
    scenario_drain(zrelay, tmp, ctx, True)


def s_setup():
    # What the relay holds, not what ASan keeps of what it freed.
    os.environ["ASAN_OPTIONS"] = ":".join(
        [o for o in [os.environ.get("ASAN_OPTIONS")] if o] +
        ["quarantine_size_mb=0"])


if __name__ == "__main__":
    L.main(__doc__, globals(), prefix="a17r", setup=s_setup)
