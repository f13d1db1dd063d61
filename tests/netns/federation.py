#!/usr/bin/python3
"""Federated majordomo brokers across hosts (issue 17): brokers A, B and C,
each on a host of its own (network namespaces on one switch,
tests/netns/netns.py), all peered; service x has workers only on C.

  client (host a) --tcp--> A (10.77.0.1) ~~state/requests~~ C (.3) <-- 2 workers of x
                               B (10.77.0.2) peered with both, no workers

Every broker binds its MDP endpoint as tcp://*:5555 and its state as
tcp://*:5556; its state message names tcp://0.0.0.0:5555 and its peers
reach it at the address its state comes from. Asserted:
  - a client on A's host is served through C: its replies come from C's
    workers; A's peers.C.sent/received and C's services.x.requests.served
    count them, A's peers.B.sent stays 0 (B offers nothing);
  - C's cable out (netns.Net.unplug): A declares C dead within liveness
    heartbeats (peers.C.alive 0, deaths 1), and A's client gets the
    error reply "ZRELAY-ERROR timeout" after request_timeout, not
    silence: once for a request sent as the cable went, once for one
    sent after A forgot C;
  - the cable back: A sees C alive again and its client is served through
    C again.
usage: federation.py ZRELAY
Every wait has a deadline; nothing sleeps and hopes.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402

try:
    import zmq  # noqa: F401  (the workers and the client use it)
except ImportError:
    print("SKIP: pyzmq is not installed (scripts/deps.sh)")
    sys.exit(77)

DEADLINE = 20.0
PY = "/usr/bin/python3"
HEARTBEAT_MS = 200
LIVENESS = 3
TIMEOUT_MS = 2000  # request_timeout

# An MDP/0.1 worker of SERVICE (RFC 7): READY, REPLY ["on-C", body...],
# HEARTBEAT every 100 ms, a new socket after DISCONNECT.
WORKER = r"""
import sys, time, zmq
ep, service, tag = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
ctx = zmq.Context()
def connect():
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(ep)
    s.send_multipart([b"", b"MDPW01", b"\x01", service])
    return s
s = connect()
print("ready", flush=True)
beat = time.time()
while True:
    if s.poll(50):
        m = s.recv_multipart()
        if m[2] == b"\x02":
            s.send_multipart([b"", b"MDPW01", b"\x03", m[3], b"", tag] + m[5:])
        elif m[2] == b"\x05":
            s.close()
            s = connect()
    if time.time() - beat > 0.1:
        s.send_multipart([b"", b"MDPW01", b"\x04"])
        beat = time.time()
"""

# An MDP/0.1 client: one line "SERVICE BODY" in, one JSON line out:
# {"reply": [frames], "took": seconds} or {"silence": seconds}.
CLIENT = r"""
import json, sys, time, zmq
ep = sys.argv[1]
s = zmq.Context().socket(zmq.DEALER)
s.linger = 0
s.connect(ep)
print("ready", flush=True)
for line in sys.stdin:
    service, body = line.split()
    t0 = time.time()
    s.send_multipart([b"", b"MDPC01", service.encode(), body.encode()])
    if s.poll(15000):
        m = s.recv_multipart()
        print(json.dumps({"reply": [f.decode() for f in m[3:]],
                          "service": m[2].decode(),
                          "took": time.time() - t0}), flush=True)
    else:
        print(json.dumps({"silence": time.time() - t0}), flush=True)
"""


BROKERS = []  # for the logs on a failure


def fail(why):
    print("FAIL:", why)
    for b in BROKERS:
        try:
            lines = open(b.errfile).read().splitlines()
        except OSError:
            continue
        print("--- %s's log (last 15 lines):" % b.name)
        print("\n".join(lines[-15:]))
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)


class Broker:
    """`zrelay run` on host NAME with one [majordomo NAME] (a subclass:
    another device, by DEVICE), control over ipc."""

    DEVICE = "majordomo %s]\nfrontend = @tcp://*:5555\n"

    def __init__(self, net, name, zrelay, tmp, peers):
        self.net, self.name, self.zrelay = net, name, zrelay
        self.ctl = "ipc://%s/%s.ctl" % (tmp, name)
        conf = os.path.join(tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write(("[zrelay]\ncontrol = @ipc://%s/%s.daemon\n\n[" +
                     self.DEVICE +
                     "control = @%s\n"
                     "peer_bind = @tcp://*:5556\n"
                     "peers = %s\n"
                     "heartbeat = %dms\nliveness = %d\n"
                     "request_timeout = %dms\n")
                    % (tmp, name, name, self.ctl,
                       ", ".join("tcp://%s:5556" % net.addr(p)
                                 for p in peers),
                       HEARTBEAT_MS, LIVENESS, TIMEOUT_MS))
        self.errfile = os.path.join(tmp, name + ".err")
        BROKERS.append(self)
        err = open(self.errfile, "w")
        self.proc = net.popen(name, [zrelay, "run", "-c", conf],
                              stdout=subprocess.PIPE, stderr=err, text=True)
        err.close()
        for line in self.proc.stdout:
            if line.strip() == "ready":
                return
        fail("%s did not start: %s" % (name, open(self.errfile).read()))

    def stats(self):
        out = subprocess.run([self.zrelay, "ctl", self.ctl, "stats",
                              "--json"], capture_output=True, text=True,
                             timeout=10)
        check(out.returncode == 0, "%s: ctl stats: %s" % (self.name,
                                                         out.stderr))
        return json.loads(out.stdout)

    def stat(self, path):
        v = self.stats()
        for k in path.split("/"):
            if not isinstance(v, dict) or k not in v:
                return None
            v = v[k]
        return v

    def wait(self, path, pred, what):
        deadline = time.monotonic() + DEADLINE
        while True:
            v = self.stat(path)
            if v is not None and pred(v):
                return v
            check(time.monotonic() < deadline,
                  "%s: %s: %s is %r after %.0f s" %
                  (self.name, what, path, v, DEADLINE))
            time.sleep(0.05)  # polling a counter with a deadline


class Client:
    def __init__(self, net, host, ep):
        self.proc = net.popen(host, [PY, "-c", CLIENT, ep],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
        check(self.proc.stdout.readline().strip() == "ready",
              "the client did not start")

    def send(self, service, body):
        self.proc.stdin.write("%s %s\n" % (service, body))
        self.proc.stdin.flush()

    def recv(self):
        line = self.proc.stdout.readline()
        check(line, "the client died")
        r = json.loads(line)
        check("silence" not in r,
              "no reply at all within %.1f s: silence" % r.get("silence", 0))
        return r

    def call(self, service, body):
        self.send(service, body)
        return self.recv()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    zrelay = os.path.abspath(sys.argv[1])
    netns.skip_unless_available()
    t_start = time.monotonic()
    net = netns.Net("fed")
    tmp = tempfile.mkdtemp(prefix="zr-fed-")
    for h in ("a", "b", "c"):
        net.host(h)
    brokers = {h: Broker(net, h, zrelay, tmp,
                         [p for p in ("a", "b", "c") if p != h])
               for h in ("a", "b", "c")}
    a, b, c = brokers["a"], brokers["b"], brokers["c"]
    for i in range(2):
        w = net.popen("c", [PY, "-c", WORKER,
                            "tcp://%s:5555" % net.addr("c"), "x", "on-C"],
                      stdout=subprocess.PIPE, text=True)
        check(w.stdout.readline().strip() == "ready", "worker %d" % i)
    c.wait("services/x/workers/ready", lambda v: v == 2, "C's workers")
    a.wait("peers/c/alive", lambda v: v == 1, "C alive on A")
    a.wait("peers/b/alive", lambda v: v == 1, "B alive on A")
    a.wait("peers/c/ready", lambda v: v == 2, "C's offer on A")
    check(a.stat("peers/b/ready") == 0, "B offers workers it has not")
    print("state flow: A sees B (0 ready) and C (x: 2 ready)")

    # A client on A's host is served through C.
    client = Client(net, "a", "tcp://%s:5555" % net.addr("a"))
    n = 20
    for i in range(n):
        r = client.call("x", "req%d" % i)
        check(r["reply"] == ["on-C", "req%d" % i], "reply %r" % r)
    sa, sc = a.stats(), c.stats()
    check(sa["peers"]["c"]["sent"] == n, "A sent %r" % sa["peers"]["c"])
    check(sa["peers"]["c"]["received"] == n, "A got %r" % sa["peers"]["c"])
    check(sa["peers"]["b"]["sent"] == 0, "A sent to B: %r" %
          sa["peers"]["b"])
    check(sa["federation"]["requests"]["forwarded"] == n, "forwarded")
    check(sa["majordomo"]["requests"]["answered"] == n, "A answered")
    check(sc["services"]["x"]["requests"]["served"] == n, "C served %r" %
          sc["services"]["x"])
    check(sc["federation"]["requests"]["forwarded"] == 0,
          "C forwarded a peer's request")
    print("served through C: %d requests; A: peers.c.sent %d, received %d, "
          "peers.b.sent 0; C: services.x.requests.served %d" %
          (n, n, n, n))

    # C's cable out, with a request on its way to C: a state message of
    # C's came since the last reply, so A's estimate of C is fresh.
    states = a.stat("peers/c/states")
    a.wait("peers/c/states", lambda v: v > states, "C's next state")
    t_cut = time.monotonic()
    net.unplug("c")
    client.send("x", "during-cut")
    a.wait("peers/c/alive", lambda v: v == 0, "C dead on A")
    t_dead = time.monotonic() - t_cut
    r1 = client.recv()
    check(r1["reply"][0].startswith("ZRELAY-ERROR timeout"),
          "reply during the cut: %r" % r1)
    check(r1["took"] >= TIMEOUT_MS / 1000.0 * 0.9,
          "the error reply came after %.2f s, before request_timeout" %
          r1["took"])
    r2 = client.call("x", "after-death")
    check(r2["reply"][0].startswith("ZRELAY-ERROR timeout"),
          "reply with C dead: %r" % r2)
    check(r2["took"] >= TIMEOUT_MS / 1000.0 * 0.9, "after %.2f s" %
          r2["took"])
    sa = a.stats()
    check(sa["peers"]["c"]["deaths"] == 1, "deaths %r" % sa["peers"]["c"])
    check(sa["peers"]["c"]["services"] == 0, "C's services remembered")
    check(sa["peers"]["b"]["alive"] == 1, "B died with C's cable")
    check(sa["peers"]["c"]["sent"] == n + 1, "the request during the cut "
          "was not sent to C: %r" % sa["peers"]["c"])
    check(sa["federation"]["requests"]["given_back"] == 1, "given back")
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
    r3 = client.call("x", "back")
    check(r3["reply"] == ["on-C", "back"], "reply after the plug: %r" % r3)
    sa = a.stats()
    print("C's cable back: A sees C again after %.2f s; served through C "
          "again (A: peers.c.sent %d, received %d, late %d)" %
          (t_back, sa["peers"]["c"]["sent"], sa["peers"]["c"]["received"],
           sa["peers"]["c"]["late"]))
    check(b.stat("federation/requests/forwarded") == 0, "B forwarded")
    print("ok (%.1f s)" % (time.monotonic() - t_start))


if __name__ == "__main__":
    main()
