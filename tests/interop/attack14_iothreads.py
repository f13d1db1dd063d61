#!/usr/bin/python3
"""attack14: with more than one I/O thread, libzmq 4.3.4's listener
sends a connection to its session (another I/O thread, maybe) before it
reports ACCEPTED (stream_listener_base.cpp create_engine: send_attach,
then event_accepted). A peer whose greeting and READY are already in the
socket buffer can reach the ZAP handler before its ACCEPTED event is in
the monitor's pipe: zr__monitor_admit then counts one connection too
few. Raw NULL peers sending greeting + READY in one write, kept open;
counts how many the relay admitted (READY back) against max_connections.
Usage: attack14_iothreads.py ZRELAY [IO_THREADS] [MAX] [PEERS]"""
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import free_port, start  # noqa: E402

Z = sys.argv[1]
IOT = sys.argv[2] if len(sys.argv) > 2 else "4"
MAX = int(sys.argv[3]) if len(sys.argv) > 3 else 5
PEERS = int(sys.argv[4]) if len(sys.argv) > 4 else 200
fa, fb = free_port(), free_port()
proc = start([Z, "streamer", "--io-threads", IOT, "--handshake-ivl",
              "200ms", "--max-connections",
              str(MAX), "tcp://127.0.0.1:%d" % fa, "tcp://127.0.0.1:%d" % fb],
             "/tmp/zr-a14-iothreads.err")

greeting = (b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" +
            b"NULL".ljust(20, b"\0") + b"\0" + b"\0" * 31)
prop = b"\x0bSocket-Type" + struct.pack(">I", 4) + b"PUSH"
body = b"\x05READY" + prop
ready = b"\x04" + bytes([len(body)]) + body
hello = greeting + ready

ok = True
try:
    peers = []
    admitted = refused = undecided = 0

    def decide(k):
        # admitted: READY back; refused over the limit: nothing (status
        # 300), closed at the relay's handshake timeout. No READY within
        # WAIT counts as refused and is closed (a late admission then
        # only frees its slot again).
        buf = b""
        end = time.time() + float(os.environ.get("WAIT", "0.1"))
        while time.time() < end:
            r, _, _ = select.select([k], [], [], 0.5)
            if not r:
                continue
            try:
                d = k.recv(4096)
            except OSError:
                d = b""
            buf += d
            if b"READY" in buf[64:]:
                return True
            if b"ERROR" in buf[64:] or not d:
                return False
        return False
    # one at a time: each peer decided before the next; the admitted
    # stay open, so from the MAX-th on every one must be refused
    for i in range(PEERS):
        k = socket.socket()
        k.connect(("127.0.0.1", fa))
        k.sendall(hello)
        d = decide(k)
        if d:
            admitted += 1
            peers.append(k)
        else:
            refused += d is False
            undecided += d is None
            k.close()
    pending = range(undecided)
    print("io_threads %s, max_connections %d: %d peers, %d admitted, %d "
          "refused, %d undecided" % (IOT, MAX, PEERS, admitted, refused,
                                     len(pending)))
    if admitted > MAX:
        print("FAIL: %d connections admitted over max_connections"
              % (admitted - MAX))
        ok = False
    for k in peers:
        k.close()
finally:
    proc.kill()
    proc.wait()
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
