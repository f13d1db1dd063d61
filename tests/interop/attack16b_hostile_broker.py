#!/usr/bin/python3
"""Attack on `zrelay mdp-call` and `zrelay mdp-worker` (issue 16, second
pass): the broker is a hostile pyzmq ROUTER.

usage: attack16b_hostile_broker.py ZRELAY

mdp-call (MDP/0.1 and 0.2):
  garbage, a reply for another service, a 0.2 command that is no reply,
  then the real reply: the garbage ignored, the reply printed, exit 0;
  a reply with no body: exit 0, nothing but a newline;
  never answering: exit 3 after --retries + 1 attempts, in about that
  time;
  a 64 MB reply: printed whole;
  endless PARTIALs (0.2): printed as they come; SIGTERM ends it, exit
  128 + 15.
mdp-worker:
  a REQUEST with too few frames: ignored, the next one served;
  DISCONNECT after every READY: the worker connects again, but not in a
  loop (the --reconnect delay after the second);
  a flood of garbage while it waits: SIGTERM still ends it, exit 0.
"""
import os
import signal
import subprocess
import sys
import threading
import time

try:
    import zmq
except ImportError:
    print("SKIP: pyzmq is not installed (scripts/deps.sh)")
    sys.exit(77)

DEADLINE_MS = 20000


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)


def recv(sock, what):
    if not sock.poll(DEADLINE_MS):
        fail("no %s within %d ms" % (what, DEADLINE_MS))
    return sock.recv_multipart()


def call(zrelay, ep, v, *args, timeout="5s", retries="0"):
    return subprocess.Popen(
        [zrelay, "mdp-call", "echo", "--broker", ep, "--mdp", str(v),
         "--timeout", timeout, "--retries", retries] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def client_req(broker, v):
    """The identity and the header for replies to it."""
    m = recv(broker, "the request")
    if v == 1:
        check(m[1:4] == [b"", b"MDPC01", b"echo"], "request %r" % m)
        return m[0], [b"", b"MDPC01"], [b"", b"MDPC01", b"echo"]
    check(m[1:4] == [b"MDPC02", b"\x01", b"echo"], "request %r" % m)
    return m[0], [b"MDPC02", b"\x03"], [b"MDPC02", b"\x03", b"echo"]


def client_cases(zrelay, ctx, broker, ep):
    for v in (1, 2):
        # Garbage, another service, then the reply.
        p = call(zrelay, ep, v, "hello")
        ident, proto, head = client_req(broker, v)
        broker.send_multipart([ident, b"junk"])
        broker.send_multipart([ident] + proto)
        broker.send_multipart([ident] + proto + [b"other", b"not yours"])
        if v == 2:
            broker.send_multipart([ident, b"MDPC02", b"\x09", b"echo", b"x"])
        broker.send_multipart([ident] + head + [b"yours"])
        out, err = p.communicate(timeout=30)
        check(p.returncode == 0 and out == b"yours\n",
              "v%d: garbage then reply: %d %r %r" % (v, p.returncode, out,
                                                     err))
        # No body.
        p = call(zrelay, ep, v, "hello")
        ident, proto, head = client_req(broker, v)
        broker.send_multipart([ident] + head)
        out, err = p.communicate(timeout=30)
        check(p.returncode == 0 and out == b"\n",
              "v%d: no body: %d %r %r" % (v, p.returncode, out, err))
        # Never answering: exit 3 after 2 attempts of 500 ms.
        t = time.time()
        p = call(zrelay, ep, v, "hello", timeout="500ms", retries="1")
        out, err = p.communicate(timeout=30)
        took = time.time() - t
        check(p.returncode == 3 and took < 10, "v%d: silence: %d in %.1f s"
              % (v, p.returncode, took))
        while broker.poll(0):
            broker.recv_multipart()
        # 64 MB.
        p = call(zrelay, ep, v, "hello", "--format", "raw")
        ident, proto, head = client_req(broker, v)
        big = b"z" * (64 << 20)
        broker.send_multipart([ident] + head + [big])
        out, err = p.communicate(timeout=60)
        check(p.returncode == 0 and len(out) >= len(big),
              "v%d: 64 MB: %d, %d bytes, %r" % (v, p.returncode, len(out),
                                                 err[:200]))
        print("mdp-call v%d: garbage, no body, silence, 64 MB: held" % v)
    # Endless PARTIALs: each printed; SIGTERM ends it.
    p = call(zrelay, ep, 2, "hello", timeout="1s")
    ident, proto, head = client_req(broker, 2)
    stop = threading.Event()

    def stream():
        while not stop.is_set():
            broker.send_multipart([ident, b"MDPC02", b"\x02", b"echo",
                                   b"more"])
            time.sleep(0.01)
    t = threading.Thread(target=stream, daemon=True)
    t.start()
    line = p.stdout.readline()
    check(line == b"more\n", "a PARTIAL printed: %r" % line)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("mdp-call went on after SIGTERM under endless PARTIALs")
    stop.set()
    t.join()
    check(p.returncode == 128 + 15, "endless PARTIALs: exit %d" %
          p.returncode)
    print("mdp-call v2: endless PARTIALs, SIGTERM: held")


def worker_cases(zrelay, ctx, broker, ep):
    w = subprocess.Popen(
        [zrelay, "mdp-worker", "echo", "--exec", "cat", "--broker", ep,
         "--heartbeat", "100ms", "--liveness", "1000", "--reconnect",
         "300ms"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    m = recv(broker, "READY")
    ident = m[0]
    check(m[1:] == [b"", b"MDPW01", b"\x01", b"echo"], "READY %r" % m)
    # Too few frames, then a real request.
    broker.send_multipart([ident, b"", b"MDPW01", b"\x02"])
    broker.send_multipart([ident, b"", b"MDPW01", b"\x02", b"cl"])
    broker.send_multipart([ident, b"", b"MDPW01", b"\x02", b"cl", b"x",
                           b"bad"])
    broker.send_multipart([ident, b"", b"MDPW01", b"\x02", b"cl", b"",
                           b"good"])
    while True:
        m = recv(broker, "the reply")
        if m[3] != b"\x04":  # not a HEARTBEAT
            break
    check(m[1:] == [b"", b"MDPW01", b"\x03", b"cl", b"", b"good"],
          "reply %r" % m)
    # DISCONNECT after every READY for 2 s: READYs come, not in a loop.
    readies = 0
    end = time.time() + 2
    broker.send_multipart([ident, b"", b"MDPW01", b"\x05"])
    while time.time() < end:
        if not broker.poll(50):
            continue
        m = broker.recv_multipart()
        if m[3] == b"\x01":
            readies += 1
            broker.send_multipart([m[0], b"", b"MDPW01", b"\x05"])
    # At once after a DISCONNECT, after the delay when the one before
    # was less than --reconnect ago: the delay itself makes the next one
    # "at once" again, so at most two READYs per 300 ms (not a loop).
    check(2 <= readies <= 2 * 2000 // 300 + 2,
          "READYs in 2 s of DISCONNECTs: %d" % readies)
    print("mdp-worker: short REQUESTs, %d READYs in 2 s of DISCONNECTs: "
          "held" % readies)
    # A flood of garbage while it waits; SIGTERM ends it.
    m = recv(broker, "READY again")
    while m[3] != b"\x01":
        m = recv(broker, "READY again")
    ident = m[0]
    broker.sndhwm = 0
    stop = threading.Event()
    sent = [0]

    def flood():
        junk = [ident, b"", b"MDPW01", b"\x07", b"x"]
        while not stop.is_set():
            try:
                broker.send_multipart(junk, zmq.NOBLOCK)
                sent[0] += 1
            except zmq.Again:
                time.sleep(0.001)
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    time.sleep(1)  # let the flood build up (a load, not a wait for it)
    w.send_signal(signal.SIGTERM)
    try:
        w.wait(20)
    except subprocess.TimeoutExpired:
        w.kill()
        stop.set()
        fail("mdp-worker went on after SIGTERM under a flood (%d sent)" %
             sent[0])
    stop.set()
    t.join()
    check(w.returncode == 0, "mdp-worker exit %d" % w.returncode)
    print("mdp-worker: SIGTERM under a flood of %d messages: held" % sent[0])


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    ctx = zmq.Context()
    broker = ctx.socket(zmq.ROUTER)
    broker.linger = 0
    broker.bind("tcp://127.0.0.1:*")
    ep = broker.getsockopt_string(zmq.LAST_ENDPOINT)
    client_cases(zrelay, ctx, broker, ep)
    worker_cases(zrelay, ctx, broker, ep)
    print("ok: mdp-call and mdp-worker held against a hostile broker "
          "(%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
