#!/usr/bin/python3
"""Attack on the majordomo (issue 16): hostile frames and identities.

usage: attack16_frames.py ZRELAY

- Every valid MDP message (client requests 0.1/0.2, worker READY, REPLY,
  PARTIAL, FINAL, HEARTBEAT, DISCONNECT) mutated in every position: cut
  short after each frame, each frame replaced by an empty one, one byte,
  a wrong byte, 64 KiB, 1 MiB; extra frames added; each from a fresh
  peer and from the peers already known. The broker must drop or answer
  each, keep serving, keep its request counters balanced, and stop
  cleanly (ASan builds: no error).
- Identities of length 1 and 255 (ZMQ_ROUTING_ID), and, over a raw ZMTP
  3.0 connection that libzmq's own peers cannot make, of length 0 (the
  ROUTER makes one up) and 256 and 1000 (beyond ZMTP's 255 for identities
  a broker can send to): such a request is malformed, not served.
- One peer that is client and worker at once (READY for a service, then
  a request for it from the same identity): it serves itself, as the
  RFCs allow; nothing is confused.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, W2, DEADLINE, Client, Worker, check, get,  # noqa
                        start_broker, wait_service, wait_stat, zmq)
from attack16_counters import balance  # noqa


def templates():
    return [
        [b"", b"MDPC01", b"echo", b"body"],
        [b"MDPC02", b"\x01", b"echo", b"body"],
        [b"", b"MDPC01", b"mmi.service", b"echo"],
        [b"", b"MDPW01", W1["READY"], b"fz"],
        [b"MDPW02", W2["READY"], b"fz"],
        [b"", b"MDPW01", W1["REPLY"], b"cl", b"", b"r"],
        [b"MDPW02", W2["PARTIAL"], b"cl", b"", b"r"],
        [b"MDPW02", W2["FINAL"], b"cl", b"", b"r"],
        [b"", b"MDPW01", W1["HEARTBEAT"]],
        [b"MDPW02", W2["DISCONNECT"]],
    ]


def mutations(t):
    big = b"x" * 65536
    huge = b"y" * (1 << 20)
    for i in range(len(t)):
        yield t[:i]
        for rep in (b"", b"\x00", b"\xff", b"\x07", big, huge):
            yield t[:i] + [rep] + t[i + 1:]
    yield t + [b"extra"]
    yield t + [b""] * 50
    yield [b"\x00"] + t


def zmtp_peer(ep, identity):
    """A DEALER over a raw ZMTP 3.0 NULL handshake, any identity length."""
    host, port = ep.rsplit("/", 1)[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=DEADLINE)
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" +
              b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31)
    got = b""
    while len(got) < 64:
        got += s.recv(64 - len(got))

    def prop(name, value):
        return (bytes([len(name)]) + name + struct.pack(">I", len(value)) +
                value)

    body = b"\x05READY" + prop(b"Socket-Type", b"DEALER")
    body += prop(b"Identity", identity)
    if len(body) > 255:
        s.sendall(b"\x06" + struct.pack(">Q", len(body)) + body)
    else:
        s.sendall(b"\x04" + bytes([len(body)]) + body)
    return s


def zmtp_send(s, frames):
    out = b""
    for i, f in enumerate(frames):
        more = 1 if i < len(frames) - 1 else 0
        if len(f) > 255:
            out += bytes([more | 2]) + struct.pack(">Q", len(f)) + f
        else:
            out += bytes([more, len(f)]) + f
    s.sendall(out)


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    b = start_broker(zrelay, "--heartbeat", "5s", "--request-timeout",
                     "500ms")
    ctx = zmq.Context()
    w = Worker(ctx, b.ep, "echo", tag="w", heartbeat=0.1)
    w.start()
    c = Client(ctx, b.ep)
    wait_service(c, "echo")
    # 1. Mutations, from fresh peers and from one long-lived peer.
    sent = 0
    old = ctx.socket(zmq.DEALER)
    old.linger = 0
    old.connect(b.ep)
    peers = []
    for t in templates():
        for m in mutations(t):
            if not m:
                continue
            p = ctx.socket(zmq.DEALER)
            p.linger = 2000
            p.sndhwm = p.rcvhwm = 0
            p.connect(b.ep)
            p.send_multipart(m)
            old.send_multipart(m)
            peers.append(p)
            sent += 2
        # The broker keeps serving after each template's mutations.
        check(c.call("echo", "alive") == [b"w", b"alive"], "still serving")
    print("     %d mutated messages from %d peers: still serving"
          % (sent, len(peers) + 1))
    for p in peers:
        p.close()
    old.close()
    # Requests that the mutations made wait for services nobody serves
    # time out; the counters balance.
    wait_stat(b, "majordomo/requests/waiting", lambda v: v == 0, "waiting")
    r = balance(b, "after the mutations")
    st = get(b.stats(), "majordomo/malformed")
    print("     counters balance (received %d); malformed %s" % (
        r["received"], st))
    # 2. Identities 1 and 255 through libzmq.
    for n in (1, 255):
        for v in (1, 2):
            s = ctx.socket(zmq.DEALER)
            s.linger = 0
            s.setsockopt(zmq.ROUTING_ID, bytes([0x41 + v]) * n)
            s.connect(b.ep)
            cl = Client.__new__(Client)
            cl.v, cl.s = v, s
            check(cl.call("echo", "id%d" % n) == [b"w", b"id%d" % n],
                  "identity of %d bytes (0.%d)" % (n, v))
            s.close()
    # A worker with a 255-byte identity.
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.setsockopt(zmq.ROUTING_ID, b"W" * 255)
    s.connect(b.ep)
    s.send_multipart([b"", b"MDPW01", W1["READY"], b"long"])
    wait_service(c, "long")
    c.send("long", "q")
    m = request_for(s, "the 255-byte worker")
    s.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"", b"ok255"])
    check(c.recv()[2] == [b"ok255"], "the 255-byte worker's reply")
    s.close()
    print("     identities of 1 and 255 bytes: served (client and worker)")
    # 3. Raw ZMTP: identities of 0, 256 and 1000 bytes.
    bad0 = get(b.stats(), "majordomo/malformed/frames")
    for n in (0, 256, 1000):
        raw = zmtp_peer(b.ep, b"Z" * n)
        zmtp_send(raw, [b"", b"MDPC01", b"echo", b"raw%d" % n])
        if n:
            zmtp_send(raw, [b"", b"MDPW01", W1["READY"], b"rawsvc"])
        if n == 0:
            # The ROUTER made an identity up: served like any client.
            raw.settimeout(DEADLINE)
            data = b""
            end = time.time() + DEADLINE
            while b"raw0" not in data and time.time() < end:
                data += raw.recv(4096)
            check(b"raw0" in data, "identity 0: no reply (%r)" % data)
        peers.append(raw)
    # 256 and 1000: two malformed messages each, nothing served.
    wait_stat(b, "majordomo/malformed/frames", lambda v: v == bad0 + 4,
              "oversized identities")
    check(mmi(c, "rawsvc") == [b"404"], "a worker with a 1000-byte identity")
    for raw in peers[-3:]:
        raw.close()
    print("     raw ZMTP identities: 0 served, 256 and 1000 malformed")
    # 4. Client and worker at once, one identity.
    both = ctx.socket(zmq.DEALER)
    both.linger = 0
    both.setsockopt(zmq.ROUTING_ID, b"both")
    both.connect(b.ep)
    both.send_multipart([b"", b"MDPW01", W1["READY"], b"self"])
    wait_service(c, "self")
    both.send_multipart([b"", b"MDPC01", b"self", b"ask"])
    m = request_for(both, "the self worker")
    check(m[:4] == [b"", b"MDPW01", W1["REQUEST"], b"both"], "self %r" % m)
    both.send_multipart([b"", b"MDPW01", W1["REPLY"], b"both", b"",
                         b"answer"])
    m = request_for(both, "the self client", b"MDPC01")
    check(m == [b"", b"MDPC01", b"self", b"answer"], "self reply %r" % m)
    # Still a worker: a second request goes to it again.
    c.send("self", "again")
    m = request_for(both, "the self worker, again")
    check(m[2] == W1["REQUEST"] and m[-1] == b"again", "again %r" % m)
    both.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"", b"a2"])
    check(c.recv()[2] == [b"a2"], "the self worker's reply to another")
    both.close()
    print("     one identity as client and worker: served itself, then others")
    balance(b, "at the end")
    w.stop.set()
    w.join()
    c.close()
    b.stop()
    err = open(b.err).read()
    check("ERROR: AddressSanitizer" not in err and "runtime error" not in err,
          "sanitizer: %s" % err[-2000:])
    ctx.term()
    print("PASS frames (%.1f s)" % (time.time() - t0))


def request_for(s, who, proto=b"MDPW01"):
    """The next message on S that is not a HEARTBEAT: a REQUEST (or, with
    PROTO MDPC01, a reply)."""
    end = time.time() + DEADLINE
    while time.time() < end:
        if not s.poll(100):
            continue
        m = s.recv_multipart()
        if m[1] == b"MDPW01" and m[2] == W1["HEARTBEAT"]:
            continue
        check(m[1] == proto, "%s: %r" % (who, m))
        return m
    check(False, "%s got nothing" % who)


def mmi(c, svc):
    return c.call("mmi.service", svc)


if __name__ == "__main__":
    main()
