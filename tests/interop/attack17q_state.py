#!/usr/bin/python3
"""Attack on the lru queue's federation (issue 17): its state endpoints.

usage: attack17q_state.py ZRELAY SCENARIO
  bigsub   a SUB connects to the queue's peer_bind and subscribes with a
           4 MB topic: libzmq 4.3.4's PUB keeps a trie node per byte of
           every subscription (tens of times its size), so without a
           limit one subscription costs the relay about a gigabyte; the
           connection must be dropped instead (the hostile SUB sees it
           closed), the relay's memory stay bounded, a real peer's SUB
           still get the state, the queue still serve
  garbage  the PUB the queue's peers= connects to sends garbage: short,
           long, bad names, bad numbers, bad endpoints, a majordomo's
           state (ZRFED01), our own name, 10,001 services, random
           frames, 200 names (more than the 128 peers a broker keeps),
           one name whose endpoint changes with each message: every one
           is counted (states.received or states.malformed), the
           majordomo's kind is logged once, no crash, the queue serves
  claim    a state publisher X on one of A's peers endpoints advertises
           the request endpoint of A's live peer B as its own, then
           another: A must still reach B afterwards (B's clients served
           through it), X's claim counted (states.malformed) and logged;
           before, A's connection to B went with X's (zmq_disconnect of
           the shared endpoint) and never came back: every request to B
           refused until A restarted
  badep    states whose endpoint is no use: one libzmq cannot connect to
           (tcp://bad-no-port), one inside the relay (inproc://), one of
           another transport: each counted in states.malformed, none
           makes its peer alive; a good state after them is taken
Every wait has a deadline; nothing sleeps and hopes.
"""
import os
import random
import sys
import time

import socket
import struct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack17q_lib  # noqa: E402
from attack17q_lib import (DEADLINE, HEARTBEAT_MS, Client,  # noqa
                           HostilePeer, Queue,
                           Worker, check, zmq)

BIG = 4 << 20
GROWTH_MB = 48  # the relay's RSS may grow this much, at most


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def serves(q, ctx):
    w = Worker(ctx, q.be, b"L")
    q.wait("broker/workers/ready", lambda v: v == 1, "local worker")
    c = Client(ctx, q.fe)
    c.send(b"after")
    r = c.collect(1)
    check(r.get(b"after") == b"L: after", "after the attack: %r" % r)
    w.close()
    c.close()


def raw_sub(endpoint, topic):
    """A SUB written by hand (ZMTP 3.0, NULL), so that no libzmq trie of
    ours holds TOPIC (libzmq's recurses per byte: it would crash this
    script): connects to an ipc ENDPOINT, subscribes to TOPIC; the
    socket, to see when the relay closes it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    s.connect(endpoint[len("ipc://"):])
    s.sendall(b"\xff" + b"\0" * 8 + b"\x7f\x03\x00" +
              b"NULL".ljust(20, b"\0") + b"\0" + b"\0" * 31)
    props = b"\x0bSocket-Type" + struct.pack(">I", 3) + b"SUB"
    ready = b"\x05READY" + props
    s.sendall(b"\x04" + bytes([len(ready)]) + ready)
    body = b"\x01" + topic
    try:
        s.sendall(b"\x02" + struct.pack(">Q", len(body)) + body)
    except OSError:
        return s, True  # closed before it was all sent
    return s, False


def scenario_bigsub(zrelay, tmp, ctx):
    q = Queue(zrelay, tmp, "A", timeout_ms=800)
    before = rss_mb(q.proc.pid)
    s, dropped = raw_sub(q.state, b"x" * BIG)
    end = time.time() + DEADLINE
    grown = 0
    s.settimeout(0.05)
    while time.time() < end and not dropped:
        try:
            dropped = s.recv(65536) == b""
        except socket.timeout:
            pass
        except OSError:
            dropped = True
        grown = rss_mb(q.proc.pid) - before
        check(q.proc.poll() is None, "the relay died: %s" %
              open(q.err).read()[-3000:])
        check(grown < GROWTH_MB, "one %d MB subscription on peer_bind: the "
              "relay's RSS grew %d MB (and the connection is still up)"
              % (BIG >> 20, grown))
    check(dropped, "the connection with the %d MB subscription was not "
          "dropped in %.0fs (RSS +%d MB)" % (BIG >> 20, DEADLINE, grown))
    s.close()
    # A real peer's SUB still gets the state.
    good = ctx.socket(zmq.SUB)
    good.linger = 0
    good.setsockopt(zmq.SUBSCRIBE, b"ZRFED")
    good.connect(q.state)
    check(good.poll(DEADLINE * 1000), "no state message after the attack")
    m = good.recv_multipart()
    check(m[:2] == [b"ZRFEDQ1", b"A"], "state %r" % m[:2])
    good.close()
    serves(q, ctx)
    grown = rss_mb(q.proc.pid) - before
    check(q.proc.poll() is None, "the relay died")
    q.stop()
    print("bigsub: a %d MB subscription dropped; RSS +%d MB" %
          (BIG >> 20, grown))


def garbage_messages(rnd):
    ep = b"tcp://127.0.0.1:1"
    out = [
        [b"ZRFED"], [b"ZRFEDQ1"], [b"ZRFEDQ1", b"H"],
        [b"ZRFEDQ1", b"H", ep, b"100", b"queue"],
        [b"ZRFEDQ1", b"H", ep, b"0"], [b"ZRFEDQ1", b"H", ep, b"-1"],
        [b"ZRFEDQ1", b"H", ep, b"1000000000"],
        [b"ZRFEDQ1", b"_H", ep, b"100"], [b"ZRFEDQ1", b"H" * 49, ep, b"100"],
        [b"ZRFEDQ1", b"H\x00", ep, b"100"], [b"ZRFEDQ1", b"H", b"", b"100"],
        [b"ZRFEDQ1", b"H", b"x" * 300, b"100"],
        [b"ZRFEDQ1", b"H", b"tcp://*:", b"100"],
        [b"ZRFEDQ1", b"H", ep, b"100", b"", b"3"],
        [b"ZRFEDQ1", b"H", ep, b"100", b"queue", b"x"],
        [b"ZRFEDQ1", b"H", ep, b"100", b"queue", b"9999999999"],
        [b"ZRFEDQ1", b"H", ep, b"100", b"q" * 256, b"1"],
        [b"ZRFEDQ1", b"H", ep, b"100"] + [b"s", b"1"] * 10001,
    ]
    bad = len(out)
    # Well formed, odd: taken (a bogus endpoint fails to connect, logged).
    out += [
        [b"ZRFEDQ1", b"H", b"bogus://x", b"100", b"queue", b"3"],
        [b"ZRFEDQ1", b"H", b"tcp://0.0.0.0:1\x00zz", b"100", b"queue",
         b"3"],
        [b"ZRFEDQ1", b"H", b"ipc:///nonexistent/x", b"100", b"queue", b"3"],
        [b"ZRFEDQ1", b"H", b"tcp://[::1]:1", b"100", b"queue", b"3"],
        [b"ZRFEDQ1", b"H", b"tcp://nonexistent.invalid:1", b"100",
         b"queue", b"3"],
        [b"ZRFEDQ1", b"H", b"inproc://zr-fed-events-0x1", b"100",
         b"queue", b"3"],
    ]
    for _ in range(300):
        m = [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 20)))
             for _ in range(rnd.randint(1, 8))]
        out.append([b"ZRFEDQ1" + m[0]] + m[1:])
    return out, bad


def scenario_garbage(zrelay, tmp, ctx):
    hs = "ipc://%s/H.state" % tmp
    pub = ctx.socket(zmq.PUB)
    pub.linger = 0
    pub.sndhwm = 0
    pub.bind(hs)
    q = Queue(zrelay, tmp, "A", peers=[hs], timeout_ms=800)
    # Our SUB is connected once a state of ours is counted received.
    end = time.time() + DEADLINE
    while q.stat("federation/states/received") == 0:
        check(time.time() < end, "the queue never took a state")
        pub.send_multipart([b"ZRFEDQ1", b"probe", b"tcp://127.0.0.1:1",
                            b"%d" % HEARTBEAT_MS, b"queue", b"0"])
        time.sleep(0.05)
    stats = q.stats()
    base = stats["federation"]["states"]
    probes = stats["peers"]["probe"]["states"]
    rnd = random.Random(17)
    msgs, nbad = garbage_messages(rnd)
    sent = 0
    for m in msgs:
        pub.send_multipart(m)
        sent += 1
    pub.send_multipart([b"ZRFED01", b"M", b"tcp://127.0.0.1:1", b"100",
                        b"x", b"3"])  # a majordomo
    pub.send_multipart([b"ZRFED01", b"M2", b"tcp://127.0.0.1:1", b"100",
                        b"x", b"3"])
    sent += 2
    for i in range(200):  # more names than peers
        pub.send_multipart([b"ZRFEDQ1", b"N%d" % i, b"tcp://127.0.0.1:%d"
                            % (1000 + i), b"100", b"queue", b"1"])
    sent += 200
    for i in range(100):  # one name, its endpoint changing
        pub.send_multipart([b"ZRFEDQ1", b"C", b"tcp://127.0.0.1:%d"
                            % (2000 + i % 3), b"100", b"queue", b"2"])
    sent += 100

    pub.send_multipart([b"ZRFEDQ1", b"A", b"tcp://127.0.0.1:1", b"100",
                        b"queue", b"3"])  # our own name: not counted

    def count(st):
        v = st["federation"]["states"]
        return (v["received"] + v["malformed"] - base["received"] -
                base["malformed"] - (st["peers"]["probe"]["states"] -
                                     probes))

    end = time.time() + DEADLINE
    while True:
        stats = q.stats()
        got = count(stats)
        if got >= sent or time.time() > end:
            break
        time.sleep(0.05)  # polling a counter with a deadline
    st = stats["federation"]["states"]
    check(got == sent, "%d state messages sent, %d counted" % (sent, got))
    check(st["malformed"] - base["malformed"] >= nbad + 2,
          "malformed %d, want at least %d" % (
              st["malformed"] - base["malformed"], nbad + 2))
    log = open(q.err).read()
    check(log.count("is a majordomo and this is a queue") == 1,
          "the majordomo's state should be logged once:\n%s" % log[-2000:])
    check(q.proc.poll() is None, "the relay died")
    serves(q, ctx)
    q.stop()
    pub.close()
    print("garbage: %d state messages, every one counted (%d malformed)" %
          (sent, st["malformed"] - base["malformed"]))


def scenario_claim(zrelay, tmp, ctx):
    b = Queue(zrelay, tmp, "B", timeout_ms=1500)
    w = Worker(ctx, b.be, b"W")
    xs = "ipc://%s/X.state" % tmp
    x = HostilePeer(ctx, xs, name="X", ready=0)
    a = Queue(zrelay, tmp, "A", peers=[b.state, xs], timeout_ms=1500)
    a.wait("peers/B/ready", lambda v: v >= 1, "B offers")
    a.wait("peers/X/alive", lambda v: v == 1, "X alive")
    c = Client(ctx, a.fe)
    c.send(b"before")
    r = c.collect(1)
    check(r.get(b"before") == b"W: before", "before: %r" % r)
    st = a.stats()
    bad = st["federation"]["states"]["malformed"]
    n = st["federation"]["states"]["received"]
    x.ep = b.fe  # X claims B's endpoint
    st = a.wait("federation/states", lambda v: v["received"] + v[
        "malformed"] >= n + bad + 10, "X's claims")
    x.ep = "tcp://127.0.0.1:1"  # and leaves it
    n = a.stat("peers/X/states")
    a.wait("peers/X/states", lambda v: v >= n + 3, "X's new endpoint")
    c.replies.clear()
    for i in range(5):
        c.send(b"r%d" % i)
    r = c.collect(5)
    check(all(r.get(b"r%d" % i) == b"W: r%d" % i for i in range(5)),
          "after X claimed B's endpoint: %r (A's B: %r)" % (
              r, a.stat("peers/B")))
    check(a.stat("federation/states/malformed") > bad,
          "X's claims not counted")
    check("advertises the endpoint of peer B" in open(a.err).read(),
          "the claim is not logged")
    a.stop()
    b.stop()
    x.close()
    w.close()
    print("claim: B's endpoint claimed by X: refused, B still serves")


def scenario_badep(zrelay, tmp, ctx):
    hs = "ipc://%s/H.state" % tmp
    pub = ctx.socket(zmq.PUB)
    pub.linger = 0
    pub.bind(hs)
    q = Queue(zrelay, tmp, "A", peers=[hs], timeout_ms=800)
    bad = [(b"B1", b"tcp://bad-no-port"), (b"B2", b"inproc://zr-a-front"),
           (b"B3", b"udp://127.0.0.1:5555")]
    end = time.time() + DEADLINE
    while True:  # until A's SUB is connected and each was refused twice
        for name, ep in bad:
            pub.send_multipart([b"ZRFEDQ1", name, ep, b"%d" % HEARTBEAT_MS,
                                b"queue", b"3"])
        st = q.stats()
        if st["federation"]["states"]["malformed"] >= 2 * len(bad):
            break
        check(time.time() < end, "bad endpoints not counted: %r"
              % st["federation"])
        time.sleep(0.05)  # polling a counter with a deadline
    check(st["federation"]["peers_alive"] == 0, "a peer alive: %r"
          % st.get("peers"))
    check(st["federation"]["states"]["received"] == 0,
          "a bad state taken: %r" % st["federation"])
    for name, _ in bad:
        row = st.get("peers", {}).get(name.decode())
        check(row is None or row["alive"] == 0,
              "%s alive: %r" % (name, row))
    # A good one afterwards is taken.
    h = HostilePeer(ctx, "ipc://%s/G.state" % tmp, name="G")
    pub.close()
    q2 = Queue(zrelay, tmp, "A2", peers=["ipc://%s/G.state" % tmp],
               timeout_ms=800)
    q2.wait("peers/G/alive", lambda v: v == 1, "G alive")
    q.stop()
    q2.stop()
    h.close()
    print("badep: %d bad endpoints refused, counted malformed; a good one "
          "taken" % len(bad))


if __name__ == "__main__":
    attack17q_lib.main(__doc__, globals())
