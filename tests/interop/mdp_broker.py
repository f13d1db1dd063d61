#!/usr/bin/python3
"""zrelay majordomo against MDP clients and workers written here from the
RFCs (ZeroMQ RFC 7 MDP/0.1, RFC 18 MDP/0.2, RFC 8 MMI), over tcp.

usage: mdp_broker.py ZRELAY SCENARIO
  echo       10,000 requests from 4 clients (0.1 and 0.2) on 2 services
             with 4 workers each (0.1 and 0.2): every request answered
             once, by a worker of its service
  kill       a worker (a subprocess) killed with SIGKILL holding a request:
             another worker of the service answers it once; retried == 1
  unknown    a service with no worker: an error reply after
             request_timeout; mmi.service 404/200, 501, mmi.services,
             mmi.workers; max_waiting's error reply
  v2         PARTIAL + FINAL to a 0.2 client; the same worker to a 0.1
             client (one reply, every frame); a 0.1 worker to a 0.2 client
  malformed  garbage frames, a wrong protocol header, a REPLY nobody asked
             for, a silent worker expired: counted, dropped, and the
             broker keeps serving
  guide      the Guide's client and worker APIs (mdcliapi: REQ, timeout,
             retries, a new socket per retry; mdwrkapi: heartbeats,
             liveness, reconnect): 4 clients x 250 calls on 2 services
             with 4 workers each while the broker is killed (SIGKILL) and
             restarted on its port: every call answered, with its own key
Every wait has a deadline; nothing sleeps and hopes.
(python3 mdp_broker.py --worker EP SERVICE hold: the killable worker.)
"""
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

try:
    import zmq
except ImportError:
    print("SKIP: pyzmq is not installed (scripts/deps.sh)")
    sys.exit(77)


DEADLINE = 20.0  # seconds any one expected event may take, at most

W1 = {"READY": b"\x01", "REQUEST": b"\x02", "REPLY": b"\x03",
      "HEARTBEAT": b"\x04", "DISCONNECT": b"\x05"}
W2 = {"READY": b"\x01", "REQUEST": b"\x02", "PARTIAL": b"\x03",
      "FINAL": b"\x04", "HEARTBEAT": b"\x05", "DISCONNECT": b"\x06"}


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)


class Worker(threading.Thread):
    """An MDP worker (RFC 7 / RFC 18) on a DEALER: READY, then each
    REQUEST answered by REPLY (0.1) or PARTIAL* + FINAL (0.2); heartbeats
    while idle; DISCONNECT: a new socket and READY again."""

    def __init__(self, ctx, ep, service, v=1, partials=0, tag=None,
                 heartbeat=0.2, beat=True):
        super().__init__(daemon=True)
        self.ctx, self.ep, self.service, self.v = ctx, ep, service, v
        self.partials, self.tag = partials, tag or service
        self.heartbeat, self.beat = heartbeat, beat
        self.stop = threading.Event()
        self.served = 0
        self.disconnects = 0
        self.ready = threading.Event()

    def header(self, cmd):
        if self.v == 1:
            return [b"", b"MDPW01", W1[cmd]]
        return [b"MDPW02", W2[cmd]]

    def connect(self):
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.ep)
        s.send_multipart(self.header("READY") + [self.service.encode()])
        self.ready.set()
        return s

    def run(self):
        s = self.connect()
        cmds = W1 if self.v == 1 else W2
        names = {v: k for k, v in cmds.items()}
        next_beat = time.time() + self.heartbeat
        while not self.stop.is_set():
            if s.poll(int(self.heartbeat * 1000 / 2)):
                m = s.recv_multipart()
                if self.v == 1:
                    assert m[0] == b"" and m[1] == b"MDPW01", m
                    m = m[2:]
                else:
                    assert m[0] == b"MDPW02", m
                    m = m[1:]
                cmd = names.get(m[0])
                if cmd == "REQUEST":
                    client, body = m[1], m[3:]
                    assert m[2] == b""
                    reply = [self.tag.encode()] + body
                    if self.v == 2:
                        for i in range(self.partials):
                            s.send_multipart(self.header("PARTIAL") +
                                             [client, b"", b"part%d" % i])
                        s.send_multipart(self.header("FINAL") +
                                         [client, b""] + reply)
                    else:
                        s.send_multipart(self.header("REPLY") +
                                         [client, b""] + reply)
                    self.served += 1
                elif cmd == "DISCONNECT":
                    self.disconnects += 1
                    s.close()
                    s = self.connect()
            if self.beat and time.time() >= next_beat:
                s.send_multipart(self.header("HEARTBEAT"))
                next_beat = time.time() + self.heartbeat
        s.close()


class Client:
    """An MDP client on a DEALER: 0.1 sends the empty frame REQ would."""

    def __init__(self, ctx, ep, v=1):
        self.v = v
        self.s = ctx.socket(zmq.DEALER)
        self.s.linger = 0
        self.s.connect(ep)

    def send(self, service, *body):
        if self.v == 1:
            head = [b"", b"MDPC01", service.encode()]
        else:
            head = [b"MDPC02", b"\x01", service.encode()]
        self.s.send_multipart(head + [b if isinstance(b, bytes) else
                                      b.encode() for b in body])

    def recv(self, timeout=DEADLINE):
        """(kind, service, body): kind "reply" (0.1), "partial", "final"."""
        if not self.s.poll(int(timeout * 1000)):
            fail("no reply within %.0f s" % timeout)
        m = self.s.recv_multipart()
        if self.v == 1:
            check(m[:2] == [b"", b"MDPC01"], "bad 0.1 reply %r" % m)
            return "reply", m[2].decode(), m[3:]
        check(m[0] == b"MDPC02", "bad 0.2 reply %r" % m)
        kind = {b"\x02": "partial", b"\x03": "final"}.get(m[1])
        check(kind is not None, "bad 0.2 command %r" % m)
        return kind, m[2].decode(), m[3:]

    def call(self, service, *body):
        self.send(service, *body)
        kind, svc, reply = self.recv()
        check(svc == service, "reply for %s, asked %s" % (svc, service))
        return reply

    def close(self):
        self.s.close()


class Broker:
    """A running zrelay majordomo: made by start_broker."""

    def stats(self):
        out = subprocess.run([self.zrelay, "ctl", self.ctl, "stats", "--json"],
                             capture_output=True, text=True, timeout=10)
        return json.loads(out.stdout)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("the broker did not stop on SIGTERM")
        check(self.proc.returncode == 0,
              "the broker exited %d (%s)" % (self.proc.returncode, self.err))


def start_broker(zrelay, *opts, ep="@tcp://127.0.0.1:*"):
    """The broker and its endpoint and control endpoint, read from the
    lines it prints before 'ready'."""
    err = tempfile.NamedTemporaryFile(prefix="mdp-", suffix=".err",
                                      delete=False).name
    cmd = [zrelay, "majordomo", "--control", "@tcp://127.0.0.1:*"]
    cmd += list(opts) + [ep]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=open(err, "w"), text=True)
    # A failing scenario exits at once: no broker outlives it.
    atexit.register(lambda: proc.poll() is None and proc.kill())
    eps = {}
    end = time.time() + DEADLINE
    while time.time() < end:
        line = proc.stdout.readline()
        if not line:
            fail("the broker exited before ready: %s" % open(err).read())
        words = line.split()
        if words == ["ready"]:
            break
        if len(words) == 3:
            eps[words[0]] = words[2]
    else:
        proc.kill()
        fail("the broker was not ready in time")
    b = Broker.__new__(Broker)
    b.zrelay, b.err, b.proc = zrelay, err, proc
    b.ep, b.ctl = eps["frontend"], eps["control"]
    return b


def get(d, path):
    for k in path.split("/"):
        d = d[k]
    return d


def wait_stat(b, path, pred, what):
    """Wait (with a deadline) until the stat at PATH satisfies PRED."""
    end = time.time() + DEADLINE
    v = None
    while time.time() < end:
        try:
            v = get(b.stats(), path)
        except (KeyError, json.JSONDecodeError):
            v = None
        if v is not None and pred(v):
            return v
        time.sleep(0.05)  # polling a counter with a deadline, not a guess
    fail("%s: %s stayed %r" % (what, path, v))


def mmi(client, name, *body):
    return client.call(name, *body)


def wait_service(client, service, code=b"200"):
    end = time.time() + DEADLINE
    while time.time() < end:
        if mmi(client, "mmi.service", service) == [code]:
            return
        time.sleep(0.02)
    fail("mmi.service %s never said %s" % (service, code.decode()))


# ---------------------------------------------------------------------

def scenario_echo(zrelay):
    b = start_broker(zrelay, "--heartbeat", "200ms")
    ctx = zmq.Context()
    workers = []
    for svc in ("echo", "upper"):
        for k in range(4):
            w = Worker(ctx, b.ep, svc, v=1 + k % 2, tag="%s-%d" % (svc, k))
            w.start()
            workers.append(w)
    probe = Client(ctx, b.ep)
    wait_service(probe, "echo")
    wait_service(probe, "upper")
    wait_stat(b, "services/echo/workers/ready", lambda v: v == 4,
              "echo's workers")
    wait_stat(b, "services/upper/workers/ready", lambda v: v == 4,
              "upper's workers")
    n_clients, per = 4, 2500
    clients = [Client(ctx, b.ep, v=1 + (i % 2)) for i in range(n_clients)]
    sent = {}
    for i, c in enumerate(clients):
        for j in range(per):
            svc = "echo" if (i + j) % 2 == 0 else "upper"
            key = "%d-%d" % (i, j)
            c.send(svc, key)
            sent[key] = svc
    got = {}
    poller = zmq.Poller()
    for c in clients:
        poller.register(c.s, zmq.POLLIN)
    end = time.time() + DEADLINE * 3
    while len(got) < len(sent) and time.time() < end:
        for sock, _ in poller.poll(1000):
            c = next(c for c in clients if c.s is sock)
            while c.s.poll(0):
                kind, svc, body = c.recv()
                check(kind in ("reply", "final"), "kind %s" % kind)
                tag, key = body[0].decode(), body[1].decode()
                check(key not in got, "request %s answered twice" % key)
                check(tag.startswith(sent[key] + "-"),
                      "%s (for %s) answered by %s" % (key, sent[key], tag))
                check(svc == sent[key], "service frame %s" % svc)
                got[key] = tag
    check(len(got) == len(sent), "%d of %d answered" % (len(got), len(sent)))
    served = {w.tag: w.served for w in workers}
    print("     %d requests, each answered once; per worker %s"
          % (len(got), served))
    check(all(v > 0 for v in served.values()), "a worker got nothing")
    st = b.stats()
    check(get(st, "majordomo/requests/answered") >= len(sent), "answered")
    check(get(st, "services/echo/requests/served") +
          get(st, "services/upper/requests/served") == len(sent), "served")
    for w in workers:
        w.stop.set()
        w.join()
    for c in clients + [probe]:
        c.close()
    b.stop()
    ctx.term()


def hold_worker(ep, service):
    """The killable worker: READY, then it takes a request, says 'got' on
    stdout and never answers (it is killed)."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.connect(ep)
    s.send_multipart([b"", b"MDPW01", W1["READY"], service.encode()])
    print("ready", flush=True)
    while True:
        m = s.recv_multipart()
        if m[2] == W1["REQUEST"]:
            print("got", m[-1].decode(), flush=True)
        elif m[2] == W1["HEARTBEAT"]:
            s.send_multipart([b"", b"MDPW01", W1["HEARTBEAT"]])


def scenario_kill(zrelay):
    # Heartbeats far apart: only the socket monitor can find the dead
    # worker within the deadline ("dead at once", not at liveness).
    b = start_broker(zrelay, "--heartbeat", "60s", "--retries", "1")
    ctx = zmq.Context()
    client = Client(ctx, b.ep)
    victim = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                               "--worker", b.ep, "echo", "hold"],
                              stdout=subprocess.PIPE, text=True)
    check(victim.stdout.readline().strip() == "ready", "victim not ready")
    wait_service(client, "echo")
    client.send("echo", "precious")
    line = victim.stdout.readline().strip()  # blocks until it has it
    check(line == "got precious", "the victim said %r" % line)
    good = Worker(ctx, b.ep, "echo", tag="good")
    good.start()
    wait_stat(b, "services/echo/workers/ready", lambda v: v == 1,
              "the second worker")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    kind, svc, body = client.recv()
    check(body == [b"good", b"precious"], "answered %r" % body)
    check(not client.s.poll(300), "answered twice")  # a late duplicate
    st = b.stats()
    check(get(st, "services/echo/requests/retried") == 1, "retried != 1")
    check(get(st, "majordomo/requests/retried") == 1, "retried != 1")
    check(get(st, "majordomo/workers/gone") >= 1, "gone not counted")
    print("     killed worker's request answered once by another; retried 1")
    # Its retries used up: the next victim's request gets an error reply.
    good.stop.set()
    good.join()
    wait_stat(b, "services/echo/workers/ready", lambda v: v == 0,
              "the good worker gone")
    for rnd in range(2):
        v = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                              "--worker", b.ep, "echo", "hold"],
                             stdout=subprocess.PIPE, text=True)
        check(v.stdout.readline().strip() == "ready", "victim not ready")
        if rnd == 0:
            wait_service(client, "echo")
            client.send("echo", "doomed")
        check(v.stdout.readline().strip() == "got doomed", "victim")
        v.send_signal(signal.SIGKILL)
        v.wait()
    kind, svc, body = client.recv()
    check(len(body) == 1 and body[0].startswith(b"ZRELAY-ERROR failed "),
          "after its retries: %r" % body)
    wait_stat(b, "services/echo/requests/failed", lambda v: v == 1, "failed")
    print("     after its retries: %s" % body[0].decode())
    client.close()
    b.stop()
    ctx.term()


def scenario_unknown(zrelay):
    # A long heartbeat: the timeout must not wait for the next one.
    b = start_broker(zrelay, "--request-timeout", "300ms", "--max-waiting",
                     "2", "--heartbeat", "10s")
    ctx = zmq.Context()
    c1 = Client(ctx, b.ep, v=1)
    c2 = Client(ctx, b.ep, v=2)
    t0 = time.time()
    c1.send("nosuch", "hello")
    kind, svc, body = c1.recv()
    took = time.time() - t0
    check(svc == "nosuch" and len(body) == 1 and
          body[0].startswith(b"ZRELAY-ERROR timeout "), "reply %r" % body)
    check(took >= 0.3, "the error came before request_timeout (%.3f s)" % took)
    check(took < 5.0, "the error came %.1f s after a 300 ms request_timeout "
          "(it waited for the heartbeat timer)" % took)
    print("     unknown service: %r after %.2f s" % (body[0].decode(), took))
    c2.send("nosuch", "hello")
    kind, svc, body = c2.recv()
    check(kind == "final" and body[0].startswith(b"ZRELAY-ERROR timeout "),
          "0.2: %s %r" % (kind, body))
    check(mmi(c1, "mmi.service", "nosuch") == [b"404"], "mmi 404")
    check(mmi(c2, "mmi.service", "nosuch") == [b"404"], "mmi 404 (0.2)")
    check(mmi(c1, "mmi.nothing") == [b"501"], "mmi 501")
    w = Worker(ctx, b.ep, "echo")
    w.start()
    wait_service(c1, "echo")
    check(mmi(c1, "mmi.services") == [b"200", b"echo"], "mmi.services")
    r = mmi(c1, "mmi.workers")
    check(r[0] == b"200", "mmi.workers %r" % r)
    check(json.loads(r[1])["echo"]["ready"] == 1, "mmi.workers %r" % r)
    print("     mmi.service 404/200, 501, mmi.services, mmi.workers %s"
          % r[1].decode())
    # max_waiting 2: the third request waiting for "slow" is refused.
    for i in range(3):
        c1.send("slow", "r%d" % i)
    kind, svc, body = c1.recv()
    check(body[0].startswith(b"ZRELAY-ERROR busy "), "max_waiting %r" % body)
    for i in range(2):
        kind, svc, body = c1.recv()
        check(body[0].startswith(b"ZRELAY-ERROR timeout "), "then timeouts")
    st = b.stats()
    check(get(st, "majordomo/requests/timeouts") == 4, "timeouts")
    check(get(st, "majordomo/requests/rejected") == 1, "rejected")
    print("     max_waiting: %s" % "busy, then 2 timeouts")
    w.stop.set()
    w.join()
    c1.close()
    c2.close()
    b.stop()
    ctx.term()


def scenario_v2(zrelay):
    b = start_broker(zrelay)
    ctx = zmq.Context()
    w2 = Worker(ctx, b.ep, "stream", v=2, partials=2, tag="w2")
    w1 = Worker(ctx, b.ep, "old", v=1, tag="w1")
    w2.start()
    w1.start()
    c2 = Client(ctx, b.ep, v=2)
    c1 = Client(ctx, b.ep, v=1)
    wait_service(c1, "stream")
    wait_service(c1, "old")
    c2.send("stream", "q")
    seen = [c2.recv() for _ in range(3)]
    check([k for k, _, _ in seen] == ["partial", "partial", "final"],
          "0.2: %r" % seen)
    check([x for _, _, x in seen] == [[b"part0"], [b"part1"], [b"w2", b"q"]],
          "0.2 bodies %r" % seen)
    print("     0.2 client, 0.2 worker: PARTIAL, PARTIAL, FINAL")
    body = c1.call("stream", "q1")
    check(body == [b"part0", b"part1", b"w2", b"q1"], "0.1 client %r" % body)
    check(not c1.s.poll(200), "a 0.1 client got more than one reply")
    print("     0.1 client, 0.2 worker: one reply %r" % body)
    c2.send("old", "q2")
    kind, svc, body = c2.recv()
    check(kind == "final" and body == [b"w1", b"q2"], "0.2 client, 0.1 worker")
    print("     0.2 client, 0.1 worker: FINAL %r" % body)
    st = b.stats()
    check(get(st, "majordomo/partials") == 4, "partials")
    for w in (w1, w2):
        w.stop.set()
        w.join()
    c1.close()
    c2.close()
    b.stop()
    ctx.term()


def scenario_malformed(zrelay):
    b = start_broker(zrelay, "--heartbeat", "100ms", "--liveness", "3")
    ctx = zmq.Context()
    w = Worker(ctx, b.ep, "echo", heartbeat=0.05)
    w.start()
    c = Client(ctx, b.ep)
    wait_service(c, "echo")
    bad = ctx.socket(zmq.DEALER)
    bad.linger = 0
    bad.connect(b.ep)
    bad.send_multipart([b"garbage"])                         # frames
    bad.send_multipart([b"", b"HTTP/1", b"x", b"y"])         # protocol
    bad.send_multipart([b"", b"MDPC01"])                     # no service
    bad.send_multipart([b"MDPC02", b"\x07", b"echo", b"x"])  # command
    bad.send_multipart([b"", b"MDPW01", W1["REPLY"], b"someone", b"",
                        b"unasked"])                         # late reply
    wait_stat(b, "majordomo/malformed/protocol", lambda v: v == 1, "protocol")
    wait_stat(b, "majordomo/malformed/frames", lambda v: v == 2, "frames")
    wait_stat(b, "majordomo/malformed/command", lambda v: v == 1, "command")
    wait_stat(b, "majordomo/requests/late_replies", lambda v: v == 1, "late")
    check(bad.poll(int(DEADLINE * 1000)), "no DISCONNECT for the unasked")
    check(bad.recv_multipart() == [b"", b"MDPW01", W1["DISCONNECT"]],
          "the unasked REPLY's answer")
    check(c.call("echo", "still") == [b"echo", b"still"], "still serving")
    print("     garbage, bad protocol, bad command, unasked REPLY: counted")
    # A worker that goes silent (its socket open) is expired.
    silent = Worker(ctx, b.ep, "quiet", beat=False)
    silent.start()
    wait_service(c, "quiet")
    wait_stat(b, "majordomo/workers/expired", lambda v: v == 1, "expired")
    check(mmi(c, "mmi.service", "quiet") == [b"404"], "expired still known")
    check(c.call("echo", "again") == [b"echo", b"again"], "still serving")
    print("     a silent worker expired; the broker keeps serving")
    silent.stop.set()
    silent.join()
    w.stop.set()
    w.join()
    bad.close()
    c.close()
    b.stop()
    ctx.term()


class GuideWorker(threading.Thread):
    """The Guide's mdwrkapi (MDP/0.1): a DEALER that sends READY, beats
    every HEARTBEAT while it waits, takes the broker for dead after
    LIVENESS silent heartbeats and then reconnects with a new socket
    (and READY again) after RECONNECT."""

    def __init__(self, ctx, ep, service, tag, heartbeat=0.2, liveness=3,
                 reconnect=0.2):
        super().__init__(daemon=True)
        self.ctx, self.ep, self.service, self.tag = ctx, ep, service, tag
        self.heartbeat, self.liveness = heartbeat, liveness
        self.reconnect = reconnect
        self.stop = threading.Event()
        self.served = 0
        self.reconnects = 0

    def connect(self):
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.ep)
        s.send_multipart([b"", b"MDPW01", W1["READY"],
                          self.service.encode()])
        return s

    def run(self):
        s = self.connect()
        live = self.liveness
        next_beat = time.time() + self.heartbeat
        while not self.stop.is_set():
            if s.poll(int(self.heartbeat * 1000)):
                m = s.recv_multipart()
                live = self.liveness
                cmd = m[2]
                if cmd == W1["REQUEST"]:
                    client, body = m[3], m[5:]
                    s.send_multipart([b"", b"MDPW01", W1["REPLY"], client,
                                      b"", self.tag.encode()] + body)
                    self.served += 1
                elif cmd == W1["DISCONNECT"]:
                    live = 0
            else:
                live -= 1
            if live <= 0:
                s.close()
                self.stop.wait(self.reconnect)
                s = self.connect()
                self.reconnects += 1
                live = self.liveness
            if time.time() >= next_beat:
                s.send_multipart([b"", b"MDPW01", W1["HEARTBEAT"]])
                next_beat = time.time() + self.heartbeat
        s.send_multipart([b"", b"MDPW01", W1["DISCONNECT"]])
        s.close()


def guide_call(ctx, ep, service, body, timeout=1.0, retries=30):
    """The Guide's mdcliapi send (MDP/0.1): a REQ; on a timeout a new
    socket and the request again, up to RETRIES; (reply, attempts)."""
    for attempt in range(1, retries + 1):
        s = ctx.socket(zmq.REQ)
        s.linger = 0
        s.connect(ep)
        s.send_multipart([b"MDPC01", service.encode(), body])
        if s.poll(int(timeout * 1000)):
            m = s.recv_multipart()
            s.close()
            check(m[:2] == [b"MDPC01", service.encode()], "reply %r" % m)
            return m[2:], attempt
        s.close()
    fail("%s %r: no reply in %d attempts" % (service, body, retries))


def scenario_guide(zrelay):
    b = start_broker(zrelay, "--heartbeat", "200ms", "--request-timeout",
                     "0")
    ep = b.ep
    ctx = zmq.Context()
    workers = [GuideWorker(ctx, ep, svc, "%s-%d" % (svc, k))
               for svc in ("echo", "upper") for k in range(4)]
    for w in workers:
        w.start()
    wait_stat(b, "majordomo/workers/known", lambda v: v == 8, "workers")
    per, done, lock = 250, [], threading.Lock()
    retried = [0]
    killed = threading.Event()

    def client(i):
        for j in range(per):
            svc = "echo" if (i + j) % 2 == 0 else "upper"
            key = b"%d-%d" % (i, j)
            reply, attempts = guide_call(ctx, ep, svc, key)
            check(reply[1:] == [key], "%r answered %r" % (key, reply))
            check(reply[0].decode().startswith(svc + "-"),
                  "%r (for %s) answered by %r" % (key, svc, reply[0]))
            with lock:
                done.append(key)
                retried[0] += attempts - 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True)
               for i in range(4)]
    for t in threads:
        t.start()
    end = time.time() + DEADLINE
    while len(done) < 400:
        check(time.time() < end, "only %d calls in %.0f s" % (len(done),
                                                             DEADLINE))
        time.sleep(0.01)
    b.proc.kill()  # SIGKILL: nothing is flushed, nothing said
    b.proc.wait()
    at_kill = len(done)
    # The same port again; binding it can fail for a moment.
    end = time.time() + DEADLINE
    while True:
        try:
            b = start_broker(zrelay, "--heartbeat", "200ms",
                             "--request-timeout", "0", ep="@" + ep)
            break
        except SystemExit:
            check(time.time() < end, "the broker did not come back")
    for t in threads:
        t.join(DEADLINE * 3)
        check(not t.is_alive(), "a client is stuck")
    check(len(done) == 4 * per and len(set(done)) == 4 * per,
          "%d calls answered" % len(done))
    wait_stat(b, "majordomo/workers/known", lambda v: v == 8,
              "workers back")
    print("     1000 calls answered, %d before the kill; %d retries; "
          "worker reconnects %d" % (at_kill, retried[0],
                                    sum(w.reconnects for w in workers)))
    # Every worker saw the broker go: silence, or DISCONNECT from the new
    # one, which does not know it.
    check(all(w.reconnects > 0 for w in workers),
          "a worker never reconnected")
    for w in workers:
        w.stop.set()
        w.join()
    b.stop()
    ctx.term()


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "--worker":
        hold_worker(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    zrelay, name = sys.argv[1], sys.argv[2]
    fn = globals().get("scenario_" + name)
    if not fn:
        fail("unknown scenario %s" % name)
    t0 = time.time()
    fn(zrelay)
    print("PASS %s (%.1f s)" % (name, time.time() - t0))


if __name__ == "__main__":
    main()
