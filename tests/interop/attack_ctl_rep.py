#!/usr/bin/python3
"""A malformed control request from a peer that hangs up eats the NEXT
peer's reply.

A raw ZMTP 3 DEALER completes the handshake with a control endpoint,
sends a request without the empty delimiter frame (REP discards it) and
closes the TCP connection at once. Then a well-behaved REQ asks STATS.
Expected (docs/CONTROL.md, issue 11 point 9): the relay goes on serving,
the REQ gets its answer. Observed: the REQ gets no reply, once per such
junk request (the control socket is a libzmq REP; libzmq 4.3.4's
router_t::rollback() leaves _more_out set when the junk's pipe is already
gone, so the next reply is swallowed as the tail of a dropped message).

usage: attack_ctl_rep.py ZRELAY
Exit 1 when a legitimate request went unanswered.
"""
import os
import socket
import struct
import subprocess
import sys
import time

import zmq


def greeting():
    return (b"\xff" + b"\0" * 8 + b"\x7f\x03\x00" + b"NULL".ljust(20, b"\0")
            + b"\0" * 32)


def ready(socktype):
    body = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I",
                                                            len(socktype))
    body += socktype
    return b"\x04" + bytes([len(body)]) + body


def frame(data, more=False):
    return bytes([1 if more else 0, len(data)]) + data


def junk(host, port):
    s = socket.socket()
    s.connect((host, port))
    s.sendall(greeting() + ready(b"DEALER"))
    got = b""
    while len(got) < 64:
        chunk = s.recv(64 - len(got))
        if not chunk:
            break
        got += chunk
    s.sendall(frame(b"x", True) + frame(b"STATS"))  # no empty delimiter
    s.close()


def main():
    zrelay = sys.argv[1]
    base = int(os.environ.get("ATTACK_PORT", "6950"))
    fe, be, ctl = ["tcp://127.0.0.1:%d" % (base + i) for i in range(3)]
    relay = subprocess.Popen([zrelay, "streamer", "@" + fe, "@" + be,
                              "--control", "@" + ctl],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    ctx = zmq.Context()

    def ask():
        s = ctx.socket(zmq.REQ)
        s.linger = 0
        s.rcvtimeo = 1000
        s.connect(ctl)
        s.send(b"STATS")
        try:
            s.recv()
            return True
        except zmq.Again:
            return False
        finally:
            s.close()

    deadline = time.time() + 10
    while not ask():
        if time.time() > deadline:
            print("relay not answering at start")
            relay.kill()
            return 1
    answered = []
    for _ in range(6):
        junk("127.0.0.1", base + 2)
        answered.append(ask())
    alive = relay.poll() is None
    relay.kill()
    relay.wait()
    print("legitimate STATS answered after each malformed request from a "
          "vanished peer:", answered, "(relay alive: %s)" % alive)
    if not all(answered):
        print("FAIL: %d of %d legitimate requests went unanswered"
              % (answered.count(False), len(answered)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
