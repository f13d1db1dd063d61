#!/usr/bin/python3
"""Hostile raw-ZMTP peer for zrelay: random bytes, malformed greetings,
malformed READY metadata, bogus frames, huge declared sizes, then checks
that every port still serves (a real ZMTP handshake still completes) and
the process is alive.

usage: attack_zmtp.py HOST PORT[,PORT...] [ROUNDS] [SEED]
Exit 0 when every port survives, 1 otherwise.
"""
import os
import random
import socket
import struct
import sys
import time


def greeting(mech=b"NULL", server=0, major=3, minor=0):
    return (b"\xff" + b"\0" * 8 + b"\x7f" + bytes([major, minor]) +
            mech.ljust(20, b"\0") + bytes([server]) + b"\0" * 31)


def cmd(name, body):
    data = bytes([len(name)]) + name + body
    if len(data) < 256:
        return b"\x04" + bytes([len(data)]) + data
    return b"\x06" + struct.pack(">Q", len(data)) + data


def prop(k, v):
    return bytes([len(k)]) + k + struct.pack(">I", len(v)) + v


def ready(socktype, extra=b""):
    return cmd(b"READY", prop(b"Socket-Type", socktype) + extra)


def frame(data, more=False):
    f = 1 if more else 0
    if len(data) < 256:
        return bytes([f, len(data)]) + data
    return bytes([f | 2]) + struct.pack(">Q", len(data)) + data


TYPES = [b"PUB", b"SUB", b"XPUB", b"XSUB", b"REQ", b"REP", b"DEALER",
         b"ROUTER", b"PUSH", b"PULL", b"PAIR", b"STREAM", b"BOGUS", b""]


def payloads(rng):
    """Yield (label, bytes) attacks."""
    yield "random", os.urandom(rng.randint(1, 4096))
    yield "empty-close", b""
    yield "sig-only", b"\xff" + b"\0" * 8 + b"\x7f"
    yield "zmtp1", b"\x01\x00"  # ZMTP 1.0 anonymous identity
    yield "zmtp2", b"\xff" + b"\0" * 8 + b"\x7f\x01\x05\x00"
    yield "bad-version", greeting(major=255)
    yield "mech-curve", greeting(b"CURVE")
    yield "mech-plain", greeting(b"PLAIN")
    yield "mech-garbage", greeting(os.urandom(20))
    yield "as-server-1", greeting(server=1) + ready(b"DEALER")
    for t in TYPES:
        yield "ready-" + t.decode(errors="replace"), greeting() + ready(t)
    yield "ready-hugeprop", greeting() + cmd(
        b"READY", prop(b"Socket-Type", b"DEALER") +
        prop(b"Identity", b"x" * 255) + prop(b"X-Big", b"y" * 100000))
    yield "ready-propoverrun", greeting() + cmd(
        b"READY", b"\x0bSocket-Type" + struct.pack(">I", 0xFFFFFFF0) + b"DE")
    yield "ready-identity-empty", greeting() + cmd(
        b"READY", prop(b"Socket-Type", b"DEALER") + prop(b"Identity", b""))
    yield "ready-identity-zero", greeting() + cmd(
        b"READY", prop(b"Socket-Type", b"DEALER") +
        prop(b"Identity", b"\0abc"))
    yield "ready-twice", greeting() + ready(b"DEALER") + ready(b"DEALER")
    yield "error-cmd", greeting() + cmd(b"ERROR", b"\x05hello")
    yield "unknown-cmd", greeting() + ready(b"DEALER") + cmd(b"FOOBAR", b"")
    yield "ping-huge-ttl", greeting() + ready(b"DEALER") + cmd(
        b"PING", b"\xff\xff" + b"c" * 16)
    yield "pong", greeting() + ready(b"DEALER") + cmd(b"PONG", b"ctx")
    yield "frame-before-ready", greeting() + frame(b"hi")
    for t in (b"DEALER", b"PUB", b"SUB", b"XPUB", b"PUSH", b"PAIR",
              b"REQ", b"REP", b"ROUTER"):
        tn = t.decode()
        yield "huge-decl-" + tn, greeting() + ready(t) + b"\x02" + \
            struct.pack(">Q", 0x7FFFFFFFFFFFFFFF)
        yield "neg-decl-" + tn, greeting() + ready(t) + b"\x02" + \
            struct.pack(">Q", 0xFFFFFFFFFFFFFFFF)
        yield "bad-flags-" + tn, greeting() + ready(t) + b"\xf8\x03abc"
        yield "trunc-more-" + tn, greeting() + ready(t) + \
            frame(b"", True) + frame(b"partial", True)
        yield "many-frames-" + tn, greeting() + ready(t) + \
            b"".join(frame(b"f", True) for _ in range(5000)) + frame(b"end")
        yield "sub-garbage-" + tn, greeting() + ready(t) + \
            frame(b"\x07garbage") + frame(b"\x01") + frame(b"\x00") + \
            frame(b"")
        yield "random-after-ready-" + tn, greeting() + ready(t) + \
            os.urandom(rng.randint(1, 2048))
        yield "envelope-junk-" + tn, greeting() + ready(t) + \
            frame(os.urandom(300), True) + frame(b"", True) + \
            frame(os.urandom(10))
    yield "slowloris", None


def attack(host, port, label, data, hold):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, port))
    except OSError as e:
        return "connect failed: %s" % e
    try:
        if data is None:  # slowloris: one byte at a time, then hang up
            for b in greeting()[:5]:
                s.send(bytes([b]))
                time.sleep(0.05)
        else:
            s.sendall(data)
        if hold:
            try:
                s.recv(65536)
            except OSError:
                pass
    except OSError:
        pass
    finally:
        # RST half the time
        if hold:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        s.close()
    return None


def alive(host, port):
    """A real ZMTP handshake must still complete."""
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((host, port))
        s.sendall(greeting())
        got = b""
        while len(got) < 64:
            chunk = s.recv(64 - len(got))
            if not chunk:
                return False
            got += chunk
        return got[0] == 0xFF and got[9] == 0x7F
    except OSError:
        return False
    finally:
        s.close()


def main():
    host = sys.argv[1]
    ports = [int(p) for p in sys.argv[2].split(",")]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    bad = 0
    n = 0
    for r in range(rounds):
        for port in ports:
            for label, data in payloads(rng):
                err = attack(host, port, label, data, rng.random() < 0.5)
                n += 1
                if err:
                    print("FAIL port %d %s: %s" % (port, label, err))
                    bad += 1
                    break
            if not alive(host, port):
                print("FAIL port %d: no ZMTP greeting after round %d"
                      % (port, r))
                bad += 1
    print("%d attacks on %d ports, %d failures" % (n, len(ports), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
