#!/usr/bin/python3
"""A forwarder tree across hosts (issue 17): a root forwarder, two regional
forwarders connecting to it, and four leaf subscribers, each on a host
of its own (network namespaces on one switch, tests/netns/netns.py).

  publisher --ipc--> root (10.77.0.1) <--tcp-- region1 (.2) <-- leaf1 "a", leaf2 "b"
                                      <--tcp-- region2 (.3) <-- leaf3 "a", leaf4 "c"

Asserted on the relays' own counters (a SUB filters locally, so what a
leaf receives cannot prove where filtering happened):
  - subscriptions travel up: the root holds a, b, c and "end" (4 topics,
    6 subscriptions: 3 from each region);
  - publications travel down only where someone subscribed: of the
    topics a, b, c, d the root's frontend receives a, b, c (the publisher
    filters d away on the root's subscriptions), region1's frontend a and
    b, region2's a and c; every leaf gets all of its topic;
  - a region that restarts (kill -9, started again) re-sends its
    subscriptions: the root loses region2's (c goes, 3 held), gets them
    back (6 held), and a second round reaches every leaf.
usage: forwarder_tree.py ZRELAY
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
    import zmq
except ImportError:
    print("SKIP: pyzmq is not installed (scripts/deps.sh)")
    sys.exit(77)

DEADLINE = 20.0
N = 200  # messages per topic per round: below every HWM
PY = "/usr/bin/python3"

LEAF = r"""
import sys, zmq
ep, topic = sys.argv[1], sys.argv[2].encode()
s = zmq.Context().socket(zmq.SUB)
s.connect(ep)
s.subscribe(topic)
s.subscribe(b"end")
got = 0
print("ready", flush=True)
while True:
    t, body = s.recv_multipart()
    if t == b"end":
        print("got %d" % got, flush=True)
        got = 0
    elif t == topic:
        got += 1
    else:
        print("wrong topic %r" % t, flush=True)
"""


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)


class Relay:
    """zrelay forwarder FRONTEND BACKEND on host HOST, control over ipc."""

    def __init__(self, net, host, name, zrelay, tmp, frontend, backend):
        self.net, self.host, self.name = net, host, name
        self.zrelay = zrelay
        self.ctl = "ipc://%s/%s.ctl" % (tmp, name)
        self.argv = [zrelay, "forwarder", "--control", "@" + self.ctl,
                     frontend, backend]
        self.errfile = os.path.join(tmp, name + ".err")
        self.start()

    def start(self):
        # Binding the address a killed relay held can fail for a moment.
        deadline = time.monotonic() + DEADLINE
        while True:
            err = open(self.errfile, "w")
            self.proc = self.net.popen(self.host, self.argv,
                                       stdout=subprocess.PIPE, stderr=err,
                                       text=True)
            err.close()
            for line in self.proc.stdout:
                if line.strip() == "ready":
                    return
            self.proc.wait()
            text = open(self.errfile).read()
            if "in use" not in text or time.monotonic() > deadline:
                fail("%s did not start: %s" % (self.name, text))

    def kill(self):
        self.proc.kill()
        self.proc.wait()

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
            v = v[k]
        return v

    def wait(self, path, want):
        deadline = time.monotonic() + DEADLINE
        while True:
            v = self.stat(path)
            if v == want:
                return
            check(time.monotonic() < deadline,
                  "%s: %s is %s, not %s within %.0f s" %
                  (self.name, path, v, want, DEADLINE))
            time.sleep(0.05)


def wait_subscribed(pub, held, want):
    """Read subscription messages on the publisher's XPUB until the topics
    subscribed (HELD, a set kept by the caller) are WANT."""
    deadline = time.monotonic() + DEADLINE
    while held != want:
        left = deadline - time.monotonic()
        check(left > 0, "the publisher holds %s, not %s" % (held, want))
        if pub.poll(int(left * 1000)):
            m = pub.recv()
            (held.add if m[0] == 1 else held.discard)(m[1:])
    return held


def publish_round(pub, leaves):
    for i in range(N):
        for t in (b"a", b"b", b"c", b"d"):
            pub.send_multipart([t, b"%d" % i])
    pub.send_multipart([b"end", b""])
    for name, (proc, topic) in leaves.items():
        line = proc.stdout.readline().strip()
        check(line == "got %d" % N,
              "%s (%s): '%s', not 'got %d'" % (name, topic, line, N))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    zrelay = os.path.abspath(sys.argv[1])
    netns.skip_unless_available()
    net = netns.Net("tree")
    tmp = tempfile.mkdtemp(prefix="zr-tree-")
    root_ip = net.host("root")
    r_ip = {1: net.host("region1"), 2: net.host("region2")}
    for i in range(1, 5):
        net.host("leaf%d" % i)
    pub_ep = "ipc://%s/pub" % tmp
    root = Relay(net, "root", "root", zrelay, tmp,
                 "@%s" % pub_ep, "@tcp://%s:5560" % root_ip)
    regions = {i: Relay(net, "region%d" % i, "region%d" % i, zrelay, tmp,
                        ">tcp://%s:5560" % root_ip,
                        "@tcp://%s:5560" % r_ip[i]) for i in (1, 2)}
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.connect(pub_ep)
    held = set()
    topics = {1: "a", 2: "b", 3: "a", 4: "c"}
    leaves = {}
    for i, topic in topics.items():
        region = 1 if i <= 2 else 2
        p = net.popen("leaf%d" % i,
                      [PY, "-c", LEAF, "tcp://%s:5560" % r_ip[region], topic],
                      stdout=subprocess.PIPE, text=True)
        check(p.stdout.readline().strip() == "ready", "leaf%d not ready" % i)
        leaves["leaf%d" % i] = (p, topic)

    # Subscriptions travel up.
    root.wait("subscriptions/topics", 4)
    root.wait("subscriptions/total", 6)
    for i in (1, 2):
        regions[i].wait("subscriptions/total", 4)  # 2 leaves x (topic, end)
        regions[i].wait("subscriptions/topics", 3)
    wait_subscribed(pub, held, {b"a", b"b", b"c", b"end"})
    print("subscriptions up: root holds 6 (4 topics), each region 4")

    # Publications travel down only where someone subscribed.
    publish_round(pub, leaves)
    root.wait("frontend/msgs_in", 3 * N + 1)
    root.wait("backend/msgs_out", 3 * N + 1)
    regions[1].wait("frontend/msgs_in", 2 * N + 1)
    regions[2].wait("frontend/msgs_in", 2 * N + 1)
    print("round 1: root's frontend got %d (a, b, c; not d), each region "
          "%d, every leaf %d of its topic" % (3 * N + 1, 2 * N + 1, N))

    # A region restarts: it re-sends its subscriptions.
    before = root.stat("subscriptions/total")
    regions[2].kill()
    root.wait("subscriptions/total", 3)
    root.wait("subscriptions/topics", 3)  # c went with region2
    wait_subscribed(pub, held, {b"a", b"b", b"end"})
    regions[2].start()
    root.wait("subscriptions/total", 6)
    root.wait("subscriptions/topics", 4)
    regions[2].wait("subscriptions/total", 4)
    wait_subscribed(pub, held, {b"a", b"b", b"c", b"end"})
    print("region2 killed: the root held %d, then 3, then 6 again after "
          "its restart" % before)
    publish_round(pub, leaves)
    root.wait("frontend/msgs_in", 2 * (3 * N + 1))
    regions[2].wait("frontend/msgs_in", 2 * N + 1)  # a new process
    print("round 2: every leaf %d of its topic" % N)
    pub.close(0)
    ctx.term()
    print("ok")


if __name__ == "__main__":
    main()
