"""Shared parts of the attack17q_*.py scripts (issue 17, the lru queue's
federation attacked): `zrelay run` with one [queue NAME] (strategy lru,
peers, peer_bind), a hostile peer written here (a PUB for its state, a
ROUTER for the requests forwarded to it, doing what the script says), a
Paranoid Pirate worker, DEALER clients, and the checks every script
makes: the counters add up, no request answered twice, no ASan report.
Every wait has a deadline; nothing sleeps and hopes.
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mdp_federation  # noqa: E402

try:
    import zmq
except ImportError:
    print("SKIP: pyzmq is not installed (scripts/deps.sh)")
    sys.exit(77)

DEADLINE = 20.0
HEARTBEAT_MS = 100
LIVENESS = 3


RUNNING = []  # every zrelay started here: killed when a check fails


def fail(why):
    print("FAIL: %s" % why)
    sys.stdout.flush()
    for p in RUNNING:
        if p.poll() is None:
            p.kill()
            p.wait()
    os._exit(1)


def check(cond, why):
    if not cond:
        fail(why)


def launch(zrelay, conf, name, err):
    """mdp_federation.launch, the relay on RUNNING, this module's fail."""
    return mdp_federation.launch(zrelay, conf, name, err, fail=fail,
                                 started=RUNNING.append)


class Queue(mdp_federation.Node):
    """`zrelay run` with one lru [queue NAME]; state on ipc in TMP (Node's
    stats, stat and wait, failing with this module's fail)."""

    fail = staticmethod(fail)

    def __init__(self, zrelay, tmp, name, peers=(), timeout_ms=1500,
                 extra="", bind_state=True):
        self.zrelay, self.tmp, self.name = zrelay, tmp, name
        self.state = "ipc://%s/%s.state" % (tmp, name)
        self.ctl = "ipc://%s/%s.ctl" % (tmp, name)
        self.peers, self.timeout_ms, self.extra = peers, timeout_ms, extra
        self.bind_state = bind_state
        self.fe = self.be = None
        self.runs = 0
        self.start()

    def start(self):
        conf = os.path.join(self.tmp, self.name + ".conf")
        with open(conf, "w") as f:
            f.write("[zrelay]\ncontrol = @ipc://%s/%s.daemon\n\n"
                    % (self.tmp, self.name))
            f.write("[queue %s]\n" % self.name)
            f.write("frontend = @%s\n" % (self.fe or "tcp://127.0.0.1:*"))
            f.write("backend = @%s\n" % (self.be or "tcp://127.0.0.1:*"))
            f.write("strategy = lru\ncontrol = @%s\n" % self.ctl)
            if self.bind_state:
                f.write("peer_bind = @%s\n" % self.state)
            if self.peers:
                f.write("peers = %s\n" % ", ".join(self.peers))
            f.write("heartbeat = %dms\nliveness = %d\n"
                    "request_timeout = %dms\n%s"
                    % (HEARTBEAT_MS, LIVENESS, self.timeout_ms, self.extra))
        self.runs += 1
        self.err = os.path.join(self.tmp, "%s.%d.err" % (self.name,
                                                         self.runs))
        self.proc, eps = launch(self.zrelay, conf, self.name, self.err)
        self.fe = eps.get("frontend", self.fe)
        self.be = eps.get("backend", self.be)

    def asan_clean(self):
        text = open(self.err).read()
        check("ERROR: AddressSanitizer" not in text and
              "runtime error:" not in text and
              "LeakSanitizer" not in text,
              "%s: sanitizer report:\n%s" % (self.name, text[-6000:]))

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                fail("%s did not stop on SIGTERM" % self.name)
        self.asan_clean()
        check(self.proc.returncode == 0, "%s exited %d: %s" % (
            self.name, self.proc.returncode, open(self.err).read()[-3000:]))


def accounted(st):
    """Every request the queue took is answered, failed, waiting, in
    flight here or at a peer: (requests in, requests accounted for)."""
    b = st["broker"]["requests"]
    f = st["federation"]["requests"]
    at_peers = (f["forwarded"] - f["answered"] - f["given_back"] -
                f.get("expired", 0))
    out = (b["answered"] + b["failed"] + b["stopped"] + b["timeouts"] +
           b["rejected"] + b["dropped"] + b["waiting"] + b["in_flight"] +
           at_peers)
    return st["frontend"]["msgs_in"], out


class HostilePeer(threading.Thread):
    """A peer queue named NAME as fed.c sees one: a PUB bound at STATE
    publishing [ZRFEDQ1, NAME, its ROUTER's endpoint, heartbeat,
    "queue", READY] every heartbeat, and a ROUTER taking the requests
    forwarded to it; HANDLE(peer, frames) decides what to do with each
    (frames: [identity, hop, "", body...])."""

    def __init__(self, ctx, state, name="H", ready=5, handle=None,
                 protocol=b"ZRFEDQ1"):
        super().__init__(daemon=True)
        self.ctx, self.name, self.ready = ctx, name, ready
        self.handle, self.protocol = handle, protocol
        self.pub = ctx.socket(zmq.PUB)
        self.pub.linger = 0
        self.pub.bind(state)
        self.router = ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        self.router.bind("tcp://127.0.0.1:*")
        self.ep = self.router.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.got = []  # every request, as it came
        self.lock = threading.Lock()
        self.publishing = threading.Event()
        self.publishing.set()
        self.stop = threading.Event()
        self.outbox = []  # frames to send from the thread
        self.start()

    def state_msg(self):
        return [self.protocol, self.name.encode(), self.ep.encode(),
                str(HEARTBEAT_MS).encode(), b"queue",
                str(self.ready).encode()]

    def send(self, frames):
        with self.lock:
            self.outbox.append(frames)

    def run(self):
        beat = 0
        while not self.stop.is_set():
            if time.time() - beat > HEARTBEAT_MS / 1000.0:
                beat = time.time()
                if self.publishing.is_set():
                    self.pub.send_multipart(self.state_msg())
            if self.router.poll(10):
                m = self.router.recv_multipart()
                with self.lock:
                    self.got.append(m)
                if self.handle:
                    self.handle(self, m)
            with self.lock:
                out, self.outbox = self.outbox, []
            for frames in out:
                self.router.send_multipart(frames)
        self.pub.close()
        self.router.close()

    def close(self):
        self.stop.set()
        self.join(5)


def echo(peer, m):
    """A well-behaved peer: its reply on the request's envelope."""
    peer.send(m[:3] + [b"H: " + m[-1]])


class Worker(threading.Thread):
    """A Paranoid Pirate worker on EP answering "TAG: body"."""

    def __init__(self, ctx, ep, tag=b"W", delay=0.0):
        super().__init__(daemon=True)
        self.ctx, self.ep, self.tag, self.delay = ctx, ep, tag, delay
        self.stop = threading.Event()
        self.served = 0
        self.start()

    def run(self):
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.ep)
        s.send(b"\x01")
        beat = time.time()
        while not self.stop.is_set():
            if s.poll(20):
                m = s.recv_multipart()
                if len(m) > 1:
                    if self.delay:
                        time.sleep(self.delay)  # the work
                    s.send_multipart(m[:-1] + [self.tag + b": " + m[-1]])
                    self.served += 1
            if time.time() - beat > HEARTBEAT_MS / 1000.0 / 2:
                s.send(b"\x02")
                beat = time.time()
        s.close()

    def close(self):
        self.stop.set()
        self.join(5)


class Client:
    """A DEALER client sending [\"\", body] (as a REQ would) and
    collecting replies by body: no reply may come twice."""

    def __init__(self, ctx, ep):
        self.s = ctx.socket(zmq.DEALER)
        self.s.linger = 0
        self.s.connect(ep)
        self.replies = {}

    def send(self, body):
        self.s.send_multipart([b"", body])

    def collect(self, want, deadline=DEADLINE):
        """Replies until WANT of them came in all; {request: reply}."""
        end = time.time() + deadline
        while len(self.replies) < want and time.time() < end:
            if self.s.poll(50):
                m = self.s.recv_multipart()
                check(len(m) == 2 and m[0] == b"", "reply %r" % m)
                body = m[1]
                key = body.split(b": ", 1)[-1] if not body.startswith(
                    b"ZRELAY-ERROR") else body
                if not body.startswith(b"ZRELAY-ERROR"):
                    check(key not in self.replies,
                          "%r answered twice" % key)
                else:
                    key = b"err-%d" % len(self.replies)
                self.replies[key] = body
        return self.replies

    def close(self):
        self.s.close()


def main(doc, scope, prefix="a17q", setup=None):
    """`SCRIPT ZRELAY SCENARIO`: runs scope's scenario_SCENARIO(zrelay,
    tmp, ctx) in a temporary directory; the relays go with a failure.
    SETUP(): before, once (environment for the relays)."""
    if len(sys.argv) != 3:
        fail(doc)
    zrelay, scenario = sys.argv[1], sys.argv[2]
    fn = scope.get("scenario_" + scenario)
    if not fn:
        fail("no scenario %s" % scenario)
    if setup:
        setup()
    import tempfile
    import traceback
    ctx = zmq.Context()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        try:
            fn(zrelay, tmp, ctx)
        except Exception as e:  # the relays go too
            traceback.print_exc()
            fail("%s: %r" % (scenario, e))
    print("OK")
    os._exit(0)
