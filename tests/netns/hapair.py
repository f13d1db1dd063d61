"""hapair.py - what the high-availability tests share (ha_failover.py,
ha_split.py; issue 17): a node of the pair (`zrelay queue --ha ...` on a
host of its own), echo workers, and Lazy Pirate clients that measure how
long they went without a reply.

A node's control endpoint is ipc:// (seen from every namespace); its
frontend, backend and state endpoint are tcp on its host's address:
  frontend 5560, backend 5561, ha state 5570.
A node is a queue (REP workers, plain REQ clients) or, with KIND
"majordomo", a majordomo (one socket, 5560, for MDP/0.1 clients and
workers of service "echo").
"""
import json
import os
import subprocess
import sys
import time

PY = "/usr/bin/python3"
DEADLINE = 20.0
FRONT, BACK, STATE = 5560, 5561, 5570


def fail(why):
    print("FAIL:", why, flush=True)
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)


class Node:
    """`zrelay queue` as NAME ("primary" or "backup") of a pair on host
    NAME; PEER_ADDR is the other node's host address."""

    def __init__(self, net, name, peer_addr, zrelay, tmp, heartbeat,
                 kind="queue"):
        self.net, self.name, self.zrelay = net, name, zrelay
        addr = net.addr(name)
        self.front = "tcp://%s:%d" % (addr, FRONT)
        self.back = ("tcp://%s:%d" % (addr, BACK) if kind == "queue"
                     else self.front)
        self.ctl = "ipc://%s/%s.ctl" % (tmp, name)
        self.argv = [zrelay, kind, "--ha", name,
                     "--ha-bind", "@tcp://%s:%d" % (addr, STATE),
                     "--ha-peer", "tcp://%s:%d" % (peer_addr, STATE),
                     "--ha-heartbeat", heartbeat,
                     "--control", "@" + self.ctl, "@" + self.front]
        if kind == "queue":
            self.argv.append("@" + self.back)
        self.errfile = os.path.join(tmp, name + ".err")
        self.proc = None
        self.start()

    def start(self):
        # Binding the addresses a killed relay held can fail for a moment.
        deadline = time.monotonic() + DEADLINE
        while True:
            err = open(self.errfile, "a")
            self.proc = self.net.popen(self.name, self.argv,
                                       stdout=subprocess.PIPE, stderr=err,
                                       text=True)
            err.close()
            for line in self.proc.stdout:
                if line.strip() == "ready":
                    return
            self.proc.wait()
            text = open(self.errfile).read()
            if "in use" not in text or time.monotonic() > deadline:
                fail("%s did not start: %s" % (self.name, text[-2000:]))

    def kill(self):
        """kill -9; returns when it is dead (time.monotonic())."""
        self.proc.kill()
        self.proc.wait()
        return time.monotonic()

    def stats(self):
        out = subprocess.run([self.zrelay, "ctl", self.ctl, "stats",
                              "--json"], capture_output=True, text=True,
                             timeout=10)
        check(out.returncode == 0, "%s: ctl stats: %s" % (self.name,
                                                         out.stderr))
        return json.loads(out.stdout)

    def ha(self):
        return self.stats()["ha"]

    def wait(self, what, pred):
        """Until PRED(stats) holds; the stats then."""
        deadline = time.monotonic() + DEADLINE
        while True:
            st = self.stats()
            if pred(st):
                return st
            check(time.monotonic() < deadline,
                  "%s: not %s within %.0f s: ha %s" %
                  (self.name, what, DEADLINE, st.get("ha")))
            time.sleep(0.05)

    def wait_state(self, state):
        return self.wait("ha.state %s" % state,
                         lambda st: st["ha"]["state"] == state)

    def log(self):
        return open(self.errfile).read()


WORKER = r"""
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.REP)
for ep in sys.argv[1:]:
    s.connect(ep)
print("ready", flush=True)
while True:
    s.send_multipart(s.recv_multipart())
"""


# Lazy Pirate clients: each a REQ on one node at a time; a request not
# answered within TIMEOUT is sent again, whole, on a new REQ to the other
# node. Each keeps the times of its replies and which node answered.
# Commands on stdin, one answer line each on stdout:
#   gap T N   for each client, the time from its last reply before T
#             (time.monotonic) to its first reply from node N after T,
#             once every client has one: "gaps g1 g2 ..." (seconds)
#   count     "count REPLIES BAD SWITCHES": replies, replies that were not
#             the request, and endpoint switches, over all clients
#   from N    "from R": replies from node N so far
CLIENTS = r"""
import sys, threading, time, zmq
eps = sys.argv[1:3]
nclients, timeout, pace = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
mdp = sys.argv[6] == "mdp"
ctx = zmq.Context()
lock = threading.Lock()
replies = [[] for _ in range(nclients)]  # (time, node)
bad = [0]
switches = [0]

def client(i):
    node = 0
    req = None
    seq = 0
    while True:
        if req is None:
            req = ctx.socket(zmq.REQ)
            req.setsockopt(zmq.LINGER, 0)
            req.connect(eps[node])
        body = b"%d:%d" % (i, seq)
        req.send_multipart([b"MDPC01", b"echo", body] if mdp else [body])
        if req.poll(int(timeout * 1000)):
            got = req.recv_multipart()[-1]
            now = time.monotonic()
            with lock:
                replies[i].append((now, node))
                if got != body:
                    bad[0] += 1
            seq += 1
            time.sleep(pace)
        else:
            req.close()
            req = None
            node = 1 - node
            with lock:
                switches[0] += 1

for i in range(nclients):
    threading.Thread(target=client, args=(i,), daemon=True).start()
print("ready", flush=True)

def gaps(t, n):
    out = []
    for r in replies:
        before = [x for x, _ in r if x <= t]
        after = [x for x, node in r if x > t and node == n]
        if not before or not after:
            return None
        out.append(after[0] - before[-1])
    return out

for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "gap":
        t, n = float(cmd[1]), int(cmd[2])
        end = time.monotonic() + 20
        while True:
            with lock:
                g = gaps(t, n)
            if g is not None or time.monotonic() > end:
                break
            time.sleep(0.02)
        print("gaps " + (" ".join("%.3f" % x for x in g) if g else "none"),
              flush=True)
    elif cmd[0] == "count":
        with lock:
            print("count %d %d %d" % (sum(len(r) for r in replies), bad[0],
                                      switches[0]), flush=True)
    elif cmd[0] == "from":
        n = int(cmd[1])
        with lock:
            print("from %d" % sum(1 for r in replies for _, node in r
                                  if node == n), flush=True)
"""


# An MDP/0.1 worker of "echo" on each endpoint given, one DEALER each: a
# DEALER spreads what it sends over its connections. HEARTBEAT every
# 250 ms; on DISCONNECT (a broker that restarted and knows it not) a new
# socket and READY again, as RFC 7 says.
MDP_WORKER = r"""
import sys, threading, time, zmq
ctx = zmq.Context()
def serve(ep):
    def ready():
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(ep)
        s.send_multipart([b"", b"MDPW01", b"\x01", b"echo"])
        return s
    s = ready()
    beat = time.monotonic()
    while True:
        if s.poll(100):
            f = s.recv_multipart()
            if len(f) >= 3 and f[2] == b"\x02":
                s.send_multipart([b"", b"MDPW01", b"\x03"] + f[3:])
            elif len(f) >= 3 and f[2] == b"\x05":
                s.close()
                s = ready()
        if time.monotonic() - beat > 0.25:
            s.send_multipart([b"", b"MDPW01", b"\x04"])
            beat = time.monotonic()
for ep in sys.argv[1:]:
    threading.Thread(target=serve, args=(ep,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def start_workers(net, host, nodes, n, mdp=False):
    procs = []
    for _ in range(n):
        p = net.popen(host, [PY, "-c", MDP_WORKER if mdp else WORKER] +
                      [x.back for x in nodes],
                      stdout=subprocess.PIPE, text=True)
        check(p.stdout.readline().strip() == "ready", "a worker did not start")
        procs.append(p)
    return procs


class Clients:
    """N Lazy Pirate clients on HOST, first on NODES[0], then the other."""

    def __init__(self, net, host, nodes, n, timeout, pace, mdp=False):
        self.proc = net.popen(host, [PY, "-c", CLIENTS, nodes[0].front,
                                     nodes[1].front, str(n), str(timeout),
                                     str(pace), "mdp" if mdp else "plain"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
        check(self.proc.stdout.readline().strip() == "ready",
              "the clients did not start")

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().split()

    def gaps(self, t, node):
        """Each client's time without service across T, until NODE (0 or
        1) answered it."""
        a = self.ask("gap %.6f %d" % (t, node))
        check(a[:1] == ["gaps"] and a[1:] != ["none"],
              "some client was not served by node %d within 20 s" % node)
        return [float(x) for x in a[1:]]

    def count(self):
        a = self.ask("count")
        return int(a[1]), int(a[2]), int(a[3])

    def replies_from(self, node):
        return int(self.ask("from %d" % node)[1])

    def wait_replies_from(self, node, more_than):
        deadline = time.monotonic() + DEADLINE
        while True:
            n = self.replies_from(node)
            if n > more_than:
                return n
            check(time.monotonic() < deadline,
                  "no more replies from node %d within %.0f s" %
                  (node, DEADLINE))
            time.sleep(0.05)
