#!/usr/bin/python3
"""No split brain: cut only the link between the two nodes of a
high-availability queue pair (issue 17).

  clients (.3): 4 Lazy Pirate REQ clients (first on the primary), 2 REP
                workers on both backends
  primary (.1) and backup (.2): zrelay queue --ha, heartbeat 250 ms

With nftables rules inside the primary's and the backup's namespaces,
every packet between the two is dropped, both ways; the clients still
reach the primary. Over 3 s (12 heartbeats), sampled every 100 ms:
  - each node has lost its peer (ha.peer_alive false: the cut works);
  - the primary stays active, the backup stays passive (a passive node
    takes over only on a client request, and none comes to it);
  - the clients are served by the primary throughout.
The rules go; each node hears its peer again, and for 2 s more nothing
changes: the same states, no transition, no conflict, no request
refused.
usage: ha_split.py ZRELAY
Skips (77), saying why, where namespaces or nftables cannot be used.
"""
import os
import shutil
import subprocess
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

from hapair import Clients, Node, check, start_workers  # noqa: E402

HEARTBEAT = "250ms"
CUT_S = 3.0
AFTER_S = 2.0
TABLE = "zrt_ha_split"


def nft(net, host, script):
    r = subprocess.run(["ip", "netns", "exec", net.ns(host), "nft", "-f",
                        "-"], input=script, capture_output=True, text=True)
    return r.returncode, r.stderr.strip()


def cut(net, host, other_ip):
    return nft(net, host,
               "table inet %s {\n"
               " chain in { type filter hook input priority 0;"
               " ip saddr %s drop; }\n"
               " chain out { type filter hook output priority 0;"
               " ip daddr %s drop; }\n"
               "}\n" % (TABLE, other_ip, other_ip))


def heal(net, host):
    rc, err = nft(net, host, "delete table inet %s\n" % TABLE)
    check(rc == 0, "nft delete table in %s: %s" % (host, err))


def states(nodes):
    return [n.ha() for n in nodes]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    zrelay = os.path.abspath(sys.argv[1])
    netns.skip_unless_available()
    if not shutil.which("nft"):
        print("SKIP: no 'nft' (nftables; scripts/deps.sh installs it)")
        sys.exit(77)
    net = netns.Net("has")
    tmp = tempfile.mkdtemp(prefix="zr-has-")
    p_ip = net.host("primary")
    b_ip = net.host("backup")
    net.host("clients")
    # nftables in a namespace of ours, or skip saying why.
    rc, err = nft(net, "clients", "table inet zrt_probe { }\n"
                  "delete table inet zrt_probe\n")
    if rc != 0:
        print("SKIP: nftables cannot be used in a network namespace: %s" %
              err)
        sys.exit(77)
    nodes = [Node(net, "primary", b_ip, zrelay, tmp, HEARTBEAT),
             Node(net, "backup", p_ip, zrelay, tmp, HEARTBEAT)]
    nodes[0].wait_state("active")
    nodes[1].wait_state("passive")
    start_workers(net, "clients", nodes, 2)
    for n in nodes:
        n.wait("2 workers on its backend",
               lambda st: st["backend"]["connections"]["connected"] == 2)
    # A client gives up on a request only after 3 s: the primary answers.
    clients = Clients(net, "clients", nodes, 4, 3.0, 0.01)
    clients.wait_replies_from(0, 100)
    before = states(nodes)
    print("pair up: primary active, backup passive; clients served")

    for host, other in (("primary", b_ip), ("backup", p_ip)):
        rc, err = cut(net, host, other)
        check(rc == 0, "nft in %s: %s" % (host, err))
    t0 = time.monotonic()
    served = clients.replies_from(0)
    lost = [False, False]
    samples = 0
    while time.monotonic() < t0 + CUT_S:
        for i, st in enumerate(states(nodes)):
            want = "active" if i == 0 else "passive"
            check(st["state"] == want,
                  "%s is %s during the cut, not %s: ha %s" %
                  (nodes[i].name, st["state"], want, st))
            lost[i] |= not st["peer_alive"]
        samples += 1
        time.sleep(0.1)
    check(all(lost), "the cut did not cut: peer_alive stayed true (%s)" %
          lost)
    # The peer's silence is the cut's: still silent now.
    for n in nodes:
        n.wait("without its peer", lambda st: not st["ha"]["peer_alive"])
    served = clients.wait_replies_from(0, served)
    check(clients.replies_from(1) == 0, "a client was served by the backup")
    print("link cut %.1f s: %d samples, primary active, backup passive, "
          "each without its peer; clients served by the primary" %
          (CUT_S, samples))

    for host in ("primary", "backup"):
        heal(net, host)
    for n in nodes:
        n.wait("with its peer again", lambda st: st["ha"]["peer_alive"])
    t1 = time.monotonic()
    while time.monotonic() < t1 + AFTER_S:
        for i, st in enumerate(states(nodes)):
            want = "active" if i == 0 else "passive"
            check(st["state"] == want,
                  "%s is %s after the cut, not %s" %
                  (nodes[i].name, st["state"], want))
        time.sleep(0.1)
    after = states(nodes)
    for b, a, n in zip(before, after, nodes):
        check(a["transitions"] == b["transitions"],
              "%s: transitions changed: %s -> %s" %
              (n.name, b["transitions"], a["transitions"]))
        check(a["conflicts"] == {"dual_active": 0, "dual_passive": 0},
              "%s: conflicts %s" % (n.name, a["conflicts"]))
        check(a["refused"] == 0, "%s refused %d requests" %
              (n.name, a["refused"]))
    clients.wait_replies_from(0, served)
    replies, bad, switches = clients.count()
    check(bad == 0 and switches == 0,
          "%d wrong replies, %d switches of node" % (bad, switches))
    print("link back: both hear their peer; %.0f s later the same states, "
          "no transition, no conflict, nothing refused; %d replies, all "
          "from the primary" % (AFTER_S, replies))
    print("ok")


if __name__ == "__main__":
    main()
