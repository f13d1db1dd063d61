#!/usr/bin/python3
"""Federated lru queues across hosts (issue 17, "peers on a majordomo (and
lru queue)"): queues A, B and C ([queue NAME], strategy = lru), each on a
host of its own (network namespaces on one switch, tests/netns/netns.py),
all peered; workers only on C. Modelled on federation.py (the majordomo's).

  REQ client (host a) --tcp--> A (10.77.0.1) ~~state/requests~~ C (.3) <-- 2 workers
                                   B (10.77.0.2) peered with both, no workers

Every queue binds its frontend as tcp://*:5555, its backend as
tcp://*:5557 and its state as tcp://*:5556. C's workers are the ones of
tests/interop/run_seed.py: a Paranoid Pirate DEALER (READY "\\x01",
heartbeats "\\x02") and the Guide's lbbroker REQ worker ("READY").
Asserted:
  - a REQ client on A's host is served through C: its replies come from
    C's workers; A's peers.c.sent/received and federation.requests.
    forwarded, C's broker.requests.answered count them, A's peers.b.sent
    stays 0 (B offers nothing);
  - C's cable out (netns.Net.unplug): A declares C dead within liveness
    heartbeats (peers.c.alive 0, deaths 1), and A's client gets the
    error reply "ZRELAY-ERROR timeout" after request_timeout, not
    silence: once for a request sent as the cable went (it comes back,
    federation.requests.given_back 1), once for one sent after A forgot C;
  - the cable back: A sees C alive again and its client is served through
    C again.
usage: federation_queue.py ZRELAY
Every wait has a deadline; nothing sleeps and hopes.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(os.path.dirname(HERE), "interop"))
import netns  # noqa: E402
from federation import BROKERS, PY, Broker, check, fail  # noqa: E402
from run_seed import PPP_WORKER, REQ_WORKER  # noqa: E402

try:
    import zmq  # noqa: F401  (the workers and the client use it)
except ImportError:
    print("SKIP: pyzmq is not installed (scripts/deps.sh)")
    sys.exit(77)

HEARTBEAT_MS = 200
LIVENESS = 3
TIMEOUT_MS = 2000  # request_timeout

# A REQ client (as the Guide's lbbroker client): one line BODY in, one JSON
# line out: {"reply": reply, "took": seconds} or {"silence": seconds}.
CLIENT = r"""
import json, sys, time, zmq
s = zmq.Context().socket(zmq.REQ)
s.linger = 0
s.connect(sys.argv[1])
print("ready", flush=True)
for line in sys.stdin:
    t0 = time.time()
    s.send(line.strip().encode())
    if s.poll(15000):
        m = s.recv_multipart()
        print(json.dumps({"reply": [f.decode() for f in m],
                          "took": time.time() - t0}), flush=True)
    else:
        print(json.dumps({"silence": time.time() - t0}), flush=True)
"""


class Queue(Broker):
    """`zrelay run` on host NAME with one [queue NAME], strategy lru,
    control over ipc (federation.Broker's start, stats, stat and wait)."""

    DEVICE = ("queue %s]\nfrontend = @tcp://*:5555\n"
              "backend = @tcp://*:5557\nstrategy = lru\n")


class Client:
    def __init__(self, net, host, ep):
        self.proc = net.popen(host, [PY, "-c", CLIENT, ep],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
        check(self.proc.stdout.readline().strip() == "ready",
              "the client did not start")

    def send(self, body):
        self.proc.stdin.write(body + "\n")
        self.proc.stdin.flush()

    def recv(self):
        line = self.proc.stdout.readline()
        check(line, "the client died")
        r = json.loads(line)
        check("silence" not in r,
              "no reply at all within %.1f s: silence" % r.get("silence", 0))
        return r

    def call(self, body):
        self.send(body)
        return self.recv()


def served_by_c(r, body):
    return r["reply"] in (["C-ppp: " + body], ["C-req: " + body])


def check_error(r, what):
    check(len(r["reply"]) == 1 and
          r["reply"][0].startswith("ZRELAY-ERROR timeout"),
          "reply %s: %r" % (what, r))
    check(r["took"] >= TIMEOUT_MS / 1000.0 * 0.9,
          "the error reply %s came after %.2f s, before request_timeout" %
          (what, r["took"]))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    zrelay = os.path.abspath(sys.argv[1])
    netns.skip_unless_available()
    t_start = time.monotonic()
    net = netns.Net("fedq")
    tmp = tempfile.mkdtemp(prefix="zr-fedq-")
    for h in ("a", "b", "c"):
        net.host(h)
    queues = {h: Queue(net, h, zrelay, tmp,
                       [p for p in ("a", "b", "c") if p != h])
              for h in ("a", "b", "c")}
    a, b, c = queues["a"], queues["b"], queues["c"]
    backend = "tcp://%s:5557" % net.addr("c")
    for ident, script, args in (("C-ppp", PPP_WORKER, ["0"]),
                                ("C-req", REQ_WORKER, [])):
        path = os.path.join(tmp, ident + ".py")
        with open(path, "w") as f:
            f.write(script)
        net.popen("c", [PY, "-u", path, ident, backend] + args,
                  stdout=subprocess.DEVNULL)
    c.wait("broker/workers/ready", lambda v: v == 2, "C's workers")
    a.wait("peers/c/alive", lambda v: v == 1, "C alive on A")
    a.wait("peers/b/alive", lambda v: v == 1, "B alive on A")
    a.wait("peers/c/ready", lambda v: v == 2, "C's offer on A")
    check(a.stat("peers/c/services") == 1, "C's services on A")
    check(a.stat("peers/b/ready") == 0, "B offers workers it has not")
    print("state flow: A sees B (0 ready) and C (2 ready)")

    # A client on A's host is served through C.
    client = Client(net, "a", "tcp://%s:5555" % net.addr("a"))
    n = 20
    for i in range(n):
        r = client.call("req%d" % i)
        check(served_by_c(r, "req%d" % i), "reply %r" % r)
    sa, sc = a.stats(), c.stats()
    check(sa["peers"]["c"]["sent"] == n, "A sent %r" % sa["peers"]["c"])
    check(sa["peers"]["c"]["received"] == n, "A got %r" % sa["peers"]["c"])
    check(sa["peers"]["b"]["sent"] == 0, "A sent to B: %r" %
          sa["peers"]["b"])
    check(sa["federation"]["requests"]["forwarded"] == n, "forwarded")
    check(sc["broker"]["requests"]["answered"] == n, "C answered %r" %
          sc["broker"]["requests"])
    check(sc["federation"]["requests"]["forwarded"] == 0,
          "C forwarded a peer's request")
    print("served through C: %d requests; A: peers.c.sent %d, received %d, "
          "peers.b.sent 0; C: broker.requests.answered %d" % (n, n, n, n))

    # C's cable out, with a request on its way to C: a state message of
    # C's came since the last reply, so A's estimate of C is fresh.
    states = a.stat("peers/c/states")
    a.wait("peers/c/states", lambda v: v > states, "C's next state")
    t_cut = time.monotonic()
    net.unplug("c")
    client.send("during-cut")
    a.wait("peers/c/alive", lambda v: v == 0, "C dead on A")
    t_dead = time.monotonic() - t_cut
    r1 = client.recv()
    check_error(r1, "during the cut")
    r2 = client.call("after-death")
    check_error(r2, "with C dead")
    sa = a.stats()
    check(sa["peers"]["c"]["deaths"] == 1, "deaths %r" % sa["peers"]["c"])
    check(sa["peers"]["c"]["services"] == 0, "C's services remembered")
    check(sa["peers"]["b"]["alive"] == 1, "B died with C's cable")
    check(sa["peers"]["c"]["sent"] == n + 1, "the request during the cut "
          "was not sent to C: %r" % sa["peers"]["c"])
    check(sa["federation"]["requests"]["given_back"] == 1, "given back %r" %
          sa["federation"]["requests"])
    check(sa["broker"]["requests"]["timeouts"] == 2, "A's timeouts %r" %
          sa["broker"]["requests"])
    print("C's cable out: A declared C dead after %.2f s (liveness %d x "
          "%d ms); the client's requests got 'ZRELAY-ERROR timeout' after "
          "%.2f s and %.2f s (request_timeout %d ms); A: peers.c.failed %d, "
          "federation.requests.given_back %d" %
          (t_dead, LIVENESS, HEARTBEAT_MS, r1["took"], r2["took"],
           TIMEOUT_MS, sa["peers"]["c"]["failed"],
           sa["federation"]["requests"]["given_back"]))

    # The cable back.
    t_plug = time.monotonic()
    net.plug("c")
    a.wait("peers/c/alive", lambda v: v == 1, "C alive again on A")
    a.wait("peers/c/ready", lambda v: v >= 1, "C's offer again on A")
    t_back = time.monotonic() - t_plug
    r3 = client.call("back")
    check(served_by_c(r3, "back"), "reply after the plug: %r" % r3)
    sa = a.stats()
    print("C's cable back: A sees C again after %.2f s; served through C "
          "again (A: peers.c.sent %d, received %d, late %d)" %
          (t_back, sa["peers"]["c"]["sent"], sa["peers"]["c"]["received"],
           sa["peers"]["c"]["late"]))
    check(b.stat("federation/requests/forwarded") == 0, "B forwarded")
    check(b.stat("broker/requests/answered") == 0, "B answered requests")
    net.close()
    shutil.rmtree(tmp, ignore_errors=True)  # kept after a failure
    print("ok (%.1f s)" % (time.monotonic() - t_start))


if __name__ == "__main__":
    main()
