#!/usr/bin/python3
"""`zrelay mdp-worker` and `zrelay mdp-call` against a broker played here
by a pyzmq ROUTER, frame by frame, as ZeroMQ RFC 7 (MDP/0.1) and RFC 18
(MDP/0.2) write them: what the API (zr_mdp_worker_*, zr_mdp_client_*)
puts on the wire, independent of zrelay's own broker.

usage: mdp_wire.py ZRELAY VERSION     (VERSION: 1 or 2)
  worker  READY with the service; HEARTBEATs while idle; a REQUEST
          answered by REPLY (0.2: FINAL) to the client it named; after
          the broker's DISCONNECT, READY again on a new connection; on
          SIGTERM, DISCONNECT and exit 0; a broker that stays silent
          given up after --liveness heartbeats: READY on a new connection
  client  the request's frames; silence: the same request again on a new
          connection (a new identity); the reply printed, exit 0 (0.2: a
          PARTIAL printed before the FINAL)
Every wait has a deadline.
"""
import subprocess
import sys
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


def recv(sock, what):
    if not sock.poll(DEADLINE_MS):
        fail("no %s within %d ms" % (what, DEADLINE_MS))
    return sock.recv_multipart()


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("1", "2"):
        print(__doc__)
        return 2
    zrelay, version = sys.argv[1], int(sys.argv[2])
    ctx = zmq.Context()
    broker = ctx.socket(zmq.ROUTER)
    broker.linger = 0
    broker.bind("tcp://127.0.0.1:*")
    ep = broker.getsockopt_string(zmq.LAST_ENDPOINT)

    # Envelopes: 0.1 peers send an empty frame after the identity.
    wproto = b"MDPW0%d" % version
    cproto = b"MDPC0%d" % version
    head = [b""] if version == 1 else []
    W = ({"READY": b"\x01", "REQUEST": b"\x02", "REPLY": b"\x03",
          "HEARTBEAT": b"\x04", "DISCONNECT": b"\x05"} if version == 1 else
         {"READY": b"\x01", "REQUEST": b"\x02", "PARTIAL": b"\x03",
          "REPLY": b"\x04", "HEARTBEAT": b"\x05", "DISCONNECT": b"\x06"})

    def worker_msg(what):
        m = recv(broker, what)
        body = m[1:]
        if body[:len(head)] != head or body[len(head)] != wproto:
            fail("%s: not an MDPW0%d message: %r" % (what, version, m))
        return m[0], body[len(head) + 1:]

    # --- the worker --------------------------------------------------
    w = subprocess.Popen([zrelay, "mdp-worker", "echo", "--exec", "cat",
                          "--broker", ep, "--mdp", str(version),
                          "--heartbeat", "100ms", "--liveness", "100",
                          "--reconnect", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ident, cmd = worker_msg("READY")
        if cmd != [W["READY"], b"echo"]:
            fail("READY: %r" % cmd)
        if w.stdout.readline() != b"ready\n":
            fail("mdp-worker printed no 'ready'")
        ident2, cmd = worker_msg("HEARTBEAT")
        if ident2 != ident or cmd != [W["HEARTBEAT"]]:
            fail("HEARTBEAT: %r" % cmd)
        broker.send_multipart([ident] + head + [wproto, W["REQUEST"],
                              b"\x00client", b"", b"hello", b"world"])
        while True:
            ident2, cmd = worker_msg("REPLY")
            if cmd != [W["HEARTBEAT"]]:
                break
        if ident2 != ident or cmd != [W["REPLY"], b"\x00client", b"",
                                      b"hello\nworld"]:
            fail("REPLY: %r" % cmd)
        broker.send_multipart([ident] + head + [wproto, W["DISCONNECT"]])
        while True:
            ident3, cmd = worker_msg("READY again")
            if cmd[0] == W["READY"]:
                break
        if ident3 == ident or cmd != [W["READY"], b"echo"]:
            fail("READY again: %r from %r (was %r)" % (cmd, ident3, ident))
        w.terminate()
        while True:
            ident4, cmd = worker_msg("DISCONNECT")
            if cmd != [W["HEARTBEAT"]]:
                break
        if ident4 != ident3 or cmd != [W["DISCONNECT"]]:
            fail("DISCONNECT: %r" % cmd)
        if w.wait(DEADLINE_MS / 1000) != 0:
            fail("mdp-worker exited %d" % w.returncode)
        print("worker: READY, HEARTBEAT, REPLY, READY after DISCONNECT, "
              "DISCONNECT on SIGTERM: ok")
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()

    # A broker that stays silent is dead after liveness heartbeats: READY
    # again on a new connection, HEARTBEATs meanwhile.
    w = subprocess.Popen([zrelay, "mdp-worker", "echo", "--exec", "cat",
                          "--broker", ep, "--mdp", str(version),
                          "--heartbeat", "50ms", "--liveness", "2",
                          "--reconnect", "50ms"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ident, cmd = worker_msg("READY")
        if cmd != [W["READY"], b"echo"]:
            fail("READY: %r" % cmd)
        heartbeats = 0
        while True:
            ident2, cmd = worker_msg("READY after silence")
            if ident2 == ident and cmd == [W["HEARTBEAT"]]:
                heartbeats += 1
                continue
            break
        if ident2 == ident or cmd != [W["READY"], b"echo"]:
            fail("after silence: %r from %r (was %r)" % (cmd, ident2, ident))
        if heartbeats < 1:
            fail("no HEARTBEAT before giving the broker up")
        w.terminate()
        if w.wait(DEADLINE_MS / 1000) != 0:
            fail("mdp-worker exited %d" % w.returncode)
        print("worker: a silent broker given up, READY again: ok")
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()

    # --- the client --------------------------------------------------
    c = subprocess.Popen([zrelay, "mdp-call", "echo", "hi", "there",
                          "--broker", ep, "--mdp", str(version),
                          # Long enough for this script to answer the
                          # resend in time on a loaded machine (300 ms
                          # was not, once in a full parallel run).
                          "--timeout", "2s", "--retries", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def client_msg(what):
            # What the workers above still had on the way (their last
            # HEARTBEATs, DISCONNECT) is not the client's.
            while True:
                m = recv(broker, what)
                if wproto not in m[1:3]:
                    return m

        first = client_msg("request")
        want = head + ([cproto, b"echo"] if version == 1 else
                       [cproto, b"\x01", b"echo"]) + [b"hi", b"there"]
        if first[1:] != want:
            fail("request: %r, want %r" % (first[1:], want))
        # No answer: the same request again, from a new connection.
        again = client_msg("request sent again")
        if again[1:] != want or again[0] == first[0]:
            fail("resend: %r from %r (first from %r)" %
                 (again[1:], again[0], first[0]))
        # An answer to the first one now goes nowhere (its socket is
        # gone); the second one's is printed.
        if version == 1:
            broker.send_multipart([again[0], b"", cproto, b"echo", b"HI",
                                   b"THERE"])
        else:
            broker.send_multipart([again[0], cproto, b"\x02", b"echo",
                                   b"part"])
            broker.send_multipart([again[0], cproto, b"\x03", b"echo", b"HI",
                                   b"THERE"])
        out, err = c.communicate(timeout=DEADLINE_MS / 1000)
        want_out = (b"" if version == 1 else b"part\n") + b"HI\nTHERE\n"
        if c.returncode != 0 or out != want_out:
            fail("mdp-call exited %d, printed %r (want %r); stderr %r" %
                 (c.returncode, out, want_out, err))
        print("client: request, resend on a new connection, reply: ok")
    finally:
        if c.poll() is None:
            c.kill()
            c.wait()
    ctx.destroy(linger=0)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
