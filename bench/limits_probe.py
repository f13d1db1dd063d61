#!/usr/bin/python3
"""limits_probe.py - what a stranger can cost a relay: measurements for
issue 14 (probe items 3, 4, 6, 8). Not a test: it prints numbers.

  limits_probe.py frames PID HOST:PORT N [--end]
      A raw ZMTP 3.0 NULL peer (PUSH) sends N empty frames with MORE
      (2 bytes each on the wire), and with --end a last frame that ends
      the message. Prints the relay's RSS (VmRSS of PID) before and after.
  limits_probe.py subs PID HOST:PORT N SIZE [ROUNDS]
      ROUNDS subscribers (XSUB, pyzmq) one after the other each send N
      distinct subscriptions of SIZE bytes to an XPUB backend. Prints RSS
      before and after each, and per subscription.
  limits_probe.py flood HOST:PORT N CONTROL
      N idle TCP connections to HOST:PORT, then asks the control endpoint
      CONTROL for STATS (5 s timeout): prints whether it answered.
  limits_probe.py stall PID FRONT N SIZE [BACK]
      A PUSH sends N messages of SIZE bytes into a streamer whose consumer
      (a PULL on BACK) never reads; prints RSS after (item 8: HWM x size).
"""
import socket
import struct
import sys
import time

import zmq


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def settle(pid, secs=1.0):
    """RSS once it stops moving (the I/O thread decodes in batches)."""
    last, stable, end = -1, 0, time.time() + 30
    while time.time() < end:
        now = rss_kib(pid)
        stable = stable + 1 if now == last else 0
        if stable >= int(secs / 0.1):
            return now
        last = now
        time.sleep(0.1)
    return last


def zmtp_connect(addr, socket_type=b"PUSH"):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    greeting = (b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" +
                b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31)
    s.sendall(greeting)
    got = b""
    while len(got) < 64:
        chunk = s.recv(64 - len(got))
        if not chunk:
            raise SystemExit("peer closed during the greeting")
        got += chunk
    prop = b"\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + \
        socket_type
    body = b"\x05READY" + prop
    s.sendall(b"\x04" + bytes([len(body)]) + body)
    return s


def cmd_frames(pid, addr, n, end):
    s = zmtp_connect(addr)
    before = settle(pid)
    chunk = b"\x01\x00" * 65536
    sent = 0
    while sent < n:
        k = min(65536, n - sent)
        s.sendall(chunk[:2 * k])
        sent += k
    if end:
        s.sendall(b"\x00\x00")
    after = settle(pid)
    print("frames=%d wire_bytes=%d rss_before_kib=%d rss_after_kib=%d "
          "growth_kib=%d ratio=%.1f" % (n, 2 * n + (2 if end else 0), before,
                                         after, after - before,
                                         (after - before) * 1024.0 /
                                         max(1, 2 * n)))
    s.close()
    time.sleep(0.5)
    print("rss_after_close_kib=%d" % settle(pid))


def cmd_subs(pid, addr, n, size, rounds=1):
    """ROUNDS subscribers one after the other, each an XSUB sending N
    distinct subscriptions of SIZE bytes (none dropped: SNDHWM 0)."""
    ctx = zmq.Context()
    before = settle(pid)
    for r in range(rounds):
        sub = ctx.socket(zmq.XSUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SNDHWM, 0)
        sub.connect("tcp://" + addr)
        for i in range(n):
            topic = (b"\x01%02d%07d." % (r, i)).ljust(size + 1, b"abcdefgh"[i % 8:i % 8 + 1])
            sub.send(topic)
        after = settle(pid, 2.0)
        print("round=%d subs=%d size=%d rss_before_kib=%d rss_after_kib=%d "
              "per_sub_bytes=%.0f ratio=%.1f" %
              (r, n, size, before, after,
               (after - before) * 1024.0 / (n * (r + 1)),
               (after - before) * 1024.0 / (n * (r + 1) * size)))
        sub.close()
    ctx.term()


def ctl_stats(control, timeout_ms=5000):
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(control)
    req.send(b"STATS")
    ok = req.poll(timeout_ms)
    text = req.recv() if ok else None
    req.close()
    ctx.term()
    return text


def cmd_flood(addr, n, control):
    host, port = addr.rsplit(":", 1)
    conns = []
    refused = 0
    t0 = time.time()
    for _ in range(n):
        try:
            c = socket.socket()
            c.settimeout(2)
            c.connect((host, int(port)))
            conns.append(c)
        except OSError:
            refused += 1
    print("connections=%d refused=%d in %.1fs" % (len(conns), refused,
                                                 time.time() - t0))
    time.sleep(1)
    t0 = time.time()
    text = ctl_stats(control)
    print("control answered=%s in %.2fs" % (text is not None,
                                            time.time() - t0))
    for c in conns:
        c.close()


def cmd_stall(pid, front, n, size, back=None):
    ctx = zmq.Context()
    if back:
        pull = ctx.socket(zmq.PULL)  # a consumer that never reads
        pull.setsockopt(zmq.LINGER, 0)
        pull.setsockopt(zmq.RCVHWM, 1)
        pull.setsockopt(zmq.RCVBUF, 65536)
        pull.connect(back)
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.setsockopt(zmq.SNDTIMEO, 2000)
    push.connect(front)
    before = settle(pid)
    body = b"x" * size
    sent = 0
    for _ in range(n):
        try:
            push.send(body)
            sent += 1
        except zmq.Again:
            break
    after = settle(pid, 2.0)
    print("sent=%d size=%d rss_before_kib=%d rss_after_kib=%d "
          "growth_mib=%.1f" % (sent, size, before, after,
                               (after - before) / 1024.0))
    push.close()
    ctx.term()


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd = argv[1]
    if cmd == "frames":
        cmd_frames(int(argv[2]), argv[3], int(argv[4]), "--end" in argv)
    elif cmd == "subs":
        cmd_subs(int(argv[2]), argv[3], int(argv[4]), int(argv[5]),
                 int(argv[6]) if len(argv) > 6 else 1)
    elif cmd == "flood":
        cmd_flood(argv[2], int(argv[3]), argv[4])
    elif cmd == "stall":
        cmd_stall(int(argv[2]), argv[3], int(argv[4]), int(argv[5]),
                  argv[6] if len(argv) > 6 else None)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
