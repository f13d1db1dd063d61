#!/usr/bin/python3
"""Titanic crash test (issue 16): zrelay majordomo --titanic DIR, killed
with kill -9 at 10 random moments while clients send 1,000
titanic.requests, and restarted on the same endpoint and DIR each time.
Afterwards every request that was acknowledged (200 and a UUID) must get
its reply through titanic.reply: no acknowledged request lost.

usage: titanic_crash.py ZRELAY [SEED]

The peers are written here from the RFCs, as the Guide's examples behave:
- clients: the Guide's ticlient over its mdcliapi (MDP/0.1 on a REQ
  socket, Lazy Pirate: no reply within a timeout, a new socket and the
  request again): titanic.request -> UUID, poll titanic.reply (300:
  later), titanic.close;
- workers: MDP/0.1 echo workers (RFC 7) that heartbeat, and on DISCONNECT
  or a silent broker connect again and say READY, as the Guide's mdwrkapi
  does.
A request may reach a worker twice (at-least-once: its reply may not
have been committed before the kill); each reply must be its request's
echo. Every wait has a deadline; nothing sleeps and hopes.
"""
import atexit
import os
import random
import selectors
import shutil
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

REQUESTS = 1000
CLIENTS = 4
KILLS = 10
WORKERS = 2
HEARTBEAT = 0.25  # the broker's --heartbeat, and the workers'
LIVENESS = 3
TIMEOUT = 1.0  # a client's wait for one reply before it tries again
DEADLINE = 45.0  # the whole run (the ctest TIMEOUT is above it)
READY_WITHIN = 20.0  # a broker's start, at most


def fail(why):
    print("FAIL:", why, flush=True)
    sys.exit(1)


class Broker:
    """The zrelay binary, started (and restarted) on one endpoint and
    DIR; a start waits for its `ready` line."""

    def __init__(self, zrelay, store):
        self.zrelay, self.store = zrelay, store
        self.ep = None
        self.proc = None
        self.starts = 0

    def start(self):
        bind = "@" + (self.ep or "tcp://127.0.0.1:*")
        self.proc = subprocess.Popen(
            [self.zrelay, "majordomo", bind, "--titanic", self.store,
             "--heartbeat", "%dms" % int(HEARTBEAT * 1000),
             "--liveness", str(LIVENESS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # A failing run exits at once: no broker outlives it.
        proc = self.proc
        atexit.register(lambda: proc.poll() is None and proc.kill())
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        end = time.time() + READY_WITHIN
        buf = b""
        while b"ready\n" not in buf:
            left = end - time.time()
            if left <= 0 or not sel.select(left):
                fail("the broker printed no 'ready'")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                fail("the broker ended: %s" % self.proc.stderr.read())
            buf += chunk
        sel.close()
        for line in buf.decode().splitlines():
            words = line.split()
            if len(words) == 3 and words[0] == "frontend":
                self.ep = words[2]
        self.starts += 1
        # Its stderr (log lines) must not fill a pipe nobody reads.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=READY_WITHIN)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=READY_WITHIN)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("the broker did not stop on SIGTERM")
        if code != 0:
            fail("the broker exited %d" % code)


class Worker(threading.Thread):
    """An MDP/0.1 echo worker (RFC 7) on a DEALER, reconnecting as the
    Guide's mdwrkapi does."""

    def __init__(self, ctx, ep, seen, lock):
        super().__init__(daemon=True)
        self.ctx, self.ep, self.seen, self.lock = ctx, ep, seen, lock
        self.stop = threading.Event()
        self.reconnects = 0

    def connect(self):
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.ep)
        s.send_multipart([b"", b"MDPW01", b"\x01", b"echo"])
        return s

    def run(self):
        s = self.connect()
        heard = time.time()
        next_beat = heard + HEARTBEAT
        while not self.stop.is_set():
            if s.poll(int(HEARTBEAT * 500)):
                m = s.recv_multipart()
                heard = time.time()
                if m[:2] != [b"", b"MDPW01"] or len(m) < 3:
                    fail("a worker got %r" % m)
                if m[2] == b"\x02":  # REQUEST: client, "", body
                    client, body = m[3], m[5:]
                    with self.lock:
                        self.seen[client] = self.seen.get(client, 0) + 1
                    s.send_multipart([b"", b"MDPW01", b"\x03", client, b""] +
                                     body)
                elif m[2] == b"\x05":  # DISCONNECT: start again
                    s.close()
                    self.reconnects += 1
                    s = self.connect()
            if time.time() - heard > HEARTBEAT * LIVENESS:
                s.close()  # the broker is silent: a new connection
                self.reconnects += 1
                s = self.connect()
                heard = time.time()
            if time.time() >= next_beat:
                s.send_multipart([b"", b"MDPW01", b"\x04"])
                next_beat = time.time() + HEARTBEAT
        s.close()


class Client:
    """The Guide's mdcliapi (MDP/0.1, REQ) with Lazy Pirate retries."""

    def __init__(self, ctx, ep, end):
        self.ctx, self.ep, self.end = ctx, ep, end
        self.retries = 0
        self.s = None
        self.connect()

    def connect(self):
        if self.s:
            self.s.close()
        self.s = self.ctx.socket(zmq.REQ)
        self.s.linger = 0
        self.s.connect(self.ep)

    def call(self, service, *body):
        msg = [b"MDPC01", service] + list(body)
        while True:
            if time.time() > self.end:
                fail("no reply to %s before the deadline" % service.decode())
            self.s.send_multipart(msg)
            if self.s.poll(int(TIMEOUT * 1000)):
                m = self.s.recv_multipart()
                if m[:2] != [b"MDPC01", service] or len(m) < 3:
                    fail("a client got %r" % m)
                return m[2:]
            self.retries += 1
            self.connect()  # Lazy Pirate: a new socket, the request again


def main():
    if len(sys.argv) < 2:
        fail("usage: titanic_crash.py ZRELAY [SEED]")
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("seed %d (titanic_crash.py ZRELAY %d repeats this run)" %
          (seed, seed), flush=True)
    store = tempfile.mkdtemp(prefix="zrelay-titanic-")
    broker = Broker(sys.argv[1], store)
    broker.start()
    t0 = time.time()
    end = t0 + DEADLINE
    ctx = zmq.Context()
    seen, lock = {}, threading.Lock()
    workers = [Worker(ctx, broker.ep, seen, lock) for _ in range(WORKERS)]
    for w in workers:
        w.start()

    acked = {}  # uuid -> body
    refused = []
    progress = threading.Condition()
    sent = [0]

    def client_run(k):
        c = Client(ctx, broker.ep, end)
        for i in range(REQUESTS // CLIENTS):
            body = b"client %d request %d" % (k, i)
            m = c.call(b"titanic.request", b"echo", body)
            with progress:
                sent[0] += 1
                if m[0] == b"200" and len(m) == 2 and len(m[1]) == 32:
                    acked[m[1]] = body
                else:
                    refused.append(m)
                progress.notify_all()
        clients_retries.append(c.retries)
        c.s.close()

    clients_retries = []
    clients = [threading.Thread(target=client_run, args=(k,), daemon=True)
               for k in range(CLIENTS)]
    for c in clients:
        c.start()

    # kill -9 at 10 random moments: when so many requests were answered,
    # and a random few milliseconds later.
    moments = sorted(rng.sample(range(20, REQUESTS - 20), KILLS))
    for at in moments:
        with progress:
            ok = progress.wait_for(lambda: sent[0] >= at,
                                   timeout=max(0.0, end - time.time()))
        if not ok:
            fail("only %d requests answered before the deadline" % sent[0])
        time.sleep(rng.random() * 0.02)  # the random moment itself
        broker.kill9()
        broker.start()
    for c in clients:
        c.join(max(0.0, end - time.time()))
        if c.is_alive():
            fail("the clients did not finish before the deadline")
    sending = time.time() - t0

    # Every acknowledged request gets its reply (the Guide's ticlient:
    # poll titanic.reply, 300 means later), then titanic.close.
    c = Client(ctx, broker.ep, end)
    answered, wrong = 0, []
    for uuid, body in acked.items():
        while True:
            m = c.call(b"titanic.reply", uuid)
            if m[0] == b"200":
                if m[1:] != [body]:
                    wrong.append((uuid, m))
                answered += 1
                break
            if m[0] != b"300":
                fail("titanic.reply %s: %r (acknowledged, then lost)" %
                     (uuid.decode(), m))
            if time.time() > end:
                break
            time.sleep(0.01)  # a poll loop with the deadline above
        m = c.call(b"titanic.close", uuid)
        if m[0] != b"200":
            fail("titanic.close %s: %r" % (uuid.decode(), m))
    c.s.close()
    for w in workers:
        w.stop.set()
    for w in workers:
        w.join(5)
    broker.stop()
    ctx.term()
    shutil.rmtree(store)

    lost = len(acked) - answered
    twice = sum(1 for n in seen.values() if n > 1)
    print("requests %d, kill -9 and restart %d times, client retries %d, "
          "worker reconnects %d" %
          (sent[0], broker.starts - 1, sum(clients_retries),
           sum(w.reconnects for w in workers)))
    print("requests a worker saw more than once (at-least-once): %d" % twice)
    print("sending took %.1f s, all %.1f s" % (sending, time.time() - t0))
    print("acknowledged %d, answered %d, lost %d" %
          (len(acked), answered, lost), flush=True)
    if refused:
        fail("%d requests refused: %r" % (len(refused), refused[:3]))
    if wrong:
        fail("%d replies are not their request's echo: %r" %
             (len(wrong), wrong[:3]))
    if lost or len(acked) != REQUESTS:
        fail("acknowledged %d of %d, lost %d" % (len(acked), REQUESTS, lost))
    print("ok")


if __name__ == "__main__":
    main()
