#!/usr/bin/python3
"""No acknowledged loss on a majordomo pair with Titanic (issue 17).

  clients (.3): 4 Titanic clients, 2 MDP echo workers (one per node)
  primary (.1): zrelay majordomo --ha primary --titanic DIR
  backup  (.2): zrelay majordomo --ha backup  --titanic DIR
                (ha_sync = yes: replication over ha_sync_bind/_peer)

The clients are the Guide's ticlient over a Lazy Pirate mdcliapi that
fails over: titanic.request, and when no answer comes within a timeout,
the request again on a new socket to the other node. They send 1,000
durable requests while the active node is killed (kill -9) 5 times at
random moments and started again; each time it comes back passive and
catches up from the active node's store (ha_sync.synced) before the next
kill. Then every acknowledged UUID is asked for with titanic.reply
(300: later; on whichever node answers) and must get its request's echo:
  "acknowledged N, answered N, lost 0"; any loss fails.
usage: ha_titanic.py ZRELAY [SEED]
Every wait has a deadline; nothing sleeps and hopes.
"""
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402

try:
    import zmq  # noqa: F401
except ImportError:
    print("SKIP: pyzmq is not installed (scripts/deps.sh)")
    sys.exit(77)

from hapair import PY, Node, check, fail  # noqa: E402

REQUESTS = 1000
KILLS = 5
HEARTBEAT = "250ms"
SYNC = 5571

# Runs on the clients' host: workers, then clients; prints "progress N"
# as requests are acknowledged (or refused), then the reply phase's
# outcome. argv: EP0 EP1 REQUESTS.
PEERS = r"""
import sys, threading, time, zmq
eps = sys.argv[1:3]
total = int(sys.argv[3])
CLIENTS, HB, LIVENESS, TIMEOUT, PACE = 4, 0.25, 3, 0.6, 0.05
END = time.time() + 75
ctx = zmq.Context()
out = threading.Lock()

def say(line):
    with out:
        print(line, flush=True)

def worker(ep):
    # An MDP/0.1 echo worker (RFC 7) on one node, reconnecting as the
    # Guide's mdwrkapi does (DISCONNECT, or a silent broker).
    def connect():
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(ep)
        s.send_multipart([b"", b"MDPW01", b"\x01", b"echo"])
        return s
    s = connect()
    heard = time.time()
    beat = heard + HB
    while True:
        if s.poll(int(HB * 500)):
            m = s.recv_multipart()
            heard = time.time()
            if len(m) >= 3 and m[2] == b"\x02":
                s.send_multipart([b"", b"MDPW01", b"\x03", m[3], b""] + m[5:])
            elif len(m) >= 3 and m[2] == b"\x05":
                s.close()
                s = connect()
        if time.time() - heard > HB * LIVENESS:
            s.close()
            s = connect()
            heard = time.time()
        if time.time() >= beat:
            s.send_multipart([b"", b"MDPW01", b"\x04"])
            beat = time.time() + HB

class Client:
    # mdcliapi (MDP/0.1 on REQ), Lazy Pirate across the two nodes.
    def __init__(self):
        self.node, self.s, self.retries = 0, None, 0
        self.connect()
    def connect(self):
        if self.s:
            self.s.close()
        self.s = ctx.socket(zmq.REQ)
        self.s.linger = 0
        self.s.connect(eps[self.node])
    def call(self, service, *body):
        msg = [b"MDPC01", service] + list(body)
        while True:
            if time.time() > END:
                say("FAIL no answer to %s before the deadline" % service)
                sys.exit(1)
            self.s.send_multipart(msg)
            if self.s.poll(int(TIMEOUT * 1000)):
                m = self.s.recv_multipart()
                return m[2:]
            self.retries += 1
            self.node = 1 - self.node
            self.connect()

for ep in eps:
    threading.Thread(target=worker, args=(ep,), daemon=True).start()

acked, refused, done = {}, [], [0]
lock = threading.Lock()
retries = []

def client(k):
    c = Client()
    for i in range(total // CLIENTS):
        body = b"client %d request %d" % (k, i)
        m = c.call(b"titanic.request", b"echo", body)
        with lock:
            if m[:1] == [b"200"] and len(m) == 2 and len(m[1]) == 32:
                acked[m[1]] = body
            else:
                refused.append(m)
            done[0] += 1
            n = done[0]
        if n % 10 == 0:
            say("progress %d" % n)
        time.sleep(PACE)  # the kills are to fall among the requests
    retries.append(c.retries)

say("ready")
ts = [threading.Thread(target=client, args=(k,), daemon=True)
      for k in range(CLIENTS)]
for t in ts:
    t.start()
for t in ts:
    t.join(max(0, END - time.time()))
    if t.is_alive():
        say("FAIL the clients did not finish")
        sys.exit(1)
say("sent %d acked %d refused %d retries %d" %
    (done[0], len(acked), len(refused), sum(retries)))
c = Client()
answered, wrong, unknown = 0, 0, 0
for uuid, body in acked.items():
    while True:
        m = c.call(b"titanic.reply", uuid)
        if m[:1] == [b"200"]:
            answered += 1
            wrong += m[1:] != [body]
            break
        if m[:1] != [b"300"]:
            unknown += 1
            say("LOST %s: %r" % (uuid.decode(), m))
            break
        if time.time() > END:
            break
        time.sleep(0.01)
say("acknowledged %d, answered %d, lost %d (wrong replies %d, "
    "refused %d, client retries %d)" %
    (len(acked), answered, len(acked) - answered, wrong, len(refused),
     c.retries + sum(retries)))
say("end %d %d %d %d" % (len(acked), answered, wrong, len(refused)))
"""


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        sys.exit(2)
    zrelay = os.path.abspath(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("seed %d (ha_titanic.py ZRELAY %d repeats this run)" % (seed, seed),
          flush=True)
    netns.skip_unless_available()
    started = time.monotonic()
    net = netns.Net("hat")
    tmp = tempfile.mkdtemp(prefix="zr-hat-")
    addr = {"primary": net.host("primary"), "backup": net.host("backup")}
    net.host("clients")

    def node(name, peer):
        return Node(net, name, addr[peer], zrelay, tmp, HEARTBEAT,
                    "majordomo",
                    ["--titanic", os.path.join(tmp, name + ".store"),
                     "--heartbeat", HEARTBEAT, "--liveness", "3",
                     "--ha-sync-bind", "@tcp://%s:%d" % (addr[name], SYNC),
                     "--ha-sync-peer", "tcp://%s:%d" % (addr[peer], SYNC)])

    nodes = [node("primary", "backup"), node("backup", "primary")]
    nodes[0].wait_state("active")
    nodes[1].wait("passive and synced",
                  lambda s: s["ha"]["state"] == "passive"
                  and s["ha_sync"]["synced"])
    print("majordomo pair with titanic up: primary active, backup passive "
          "and synced")
    peers = net.popen("clients", [PY, "-c", PEERS, nodes[0].front,
                                  nodes[1].front, str(REQUESTS)],
                      stdout=__import__("subprocess").PIPE, text=True)
    check(peers.stdout.readline().strip() == "ready",
          "the clients did not start")

    def line():
        text = peers.stdout.readline()
        if not text:
            fail("the clients ended early")
        if text.startswith(("FAIL", "LOST")):
            print(text.strip(), flush=True)
            if text.startswith("FAIL"):
                fail("the clients: " + text.strip())
        return text.split()

    # One kill in each fifth of the run, at a random point of it.
    span = (REQUESTS - 100) // KILLS
    moments = [50 + k * span + rng.randrange(0, span // 2, 10)
               for k in range(KILLS)]
    progress = 0
    for k, at in enumerate(moments, 1):
        while progress < at:
            words = line()
            if words[:1] == ["progress"]:
                progress = int(words[1])
            elif words[:1] == ["sent"]:
                fail("the clients finished before kill %d" % k)
        time.sleep(rng.random() * 0.05)  # the random moment itself
        states = [n.ha()["state"] for n in nodes]
        check(states.count("active") == 1, "states %s before kill %d" %
              (states, k))
        active = states.index("active")
        other = 1 - active
        nodes[active].kill()
        try:
            st = nodes[other].wait_state("active")
        except SystemExit:
            import json
            print("peers alive:", peers.poll() is None)
            print(json.dumps(nodes[other].stats()["frontend"], indent=1))
            raise
        print("%5.1f s: kill %d at %d acknowledged: %s killed, %s active "
              "(ha_sync.degraded %d)" %
              (time.monotonic() - started, k, progress, nodes[active].name,
               nodes[other].name,
               st["ha_sync"]["degraded"]), flush=True)
        nodes[active].start()
        st = nodes[active].wait("passive and caught up",
                                lambda s: s["ha"]["state"] == "passive"
                                and s["ha_sync"]["synced"])
        print("  %s back: passive, caught up (%d records from the snapshot)"
              % (nodes[active].name, st["ha_sync"]["snapshot"]["received"]),
              flush=True)
    while True:
        words = line()
        if words[:1] == ["end"]:
            break
        if words[:1] in (["sent"], ["acknowledged"]):
            print(" ".join(words), flush=True)
    acked, answered, wrong, refused = (int(x) for x in words[1:5])
    peers.kill()
    print("%.0f s in all" % (time.monotonic() - started))
    check(wrong == 0, "%d replies were not their request's echo" % wrong)
    check(answered == acked, "acknowledged %d, answered %d: %d lost" %
          (acked, answered, acked - answered))
    check(acked + refused == REQUESTS and acked > 0,
          "acknowledged %d + refused %d != %d" % (acked, refused, REQUESTS))
    shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
