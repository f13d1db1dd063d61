#!/usr/bin/python3
"""Attack on the majordomo (issue 16): a worker that answers twice.

usage: attack16_dupreply.py ZRELAY

MDP replies carry no request id, only the client's identity: a worker's
second FINAL for one request is told from a reply to the next request
only by that identity.
- The client has nothing else in flight there: the second reply is
  unasked (the worker is idle): dropped, counted late_replies, the worker
  told DISCONNECT and forgotten. The client gets one reply.
- The same client has its next request on that worker already (two
  requests pipelined, one worker): the duplicate is taken as the reply
  to the second request (the protocol cannot tell them apart), and the
  worker's real reply to it is then unasked: dropped, the worker told
  DISCONNECT. The client gets exactly two replies for its two requests
  (one of them the worker's duplicate); none is lost, none comes three
  times, and the counters add up.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, Client, check, get,  # noqa
                        start_broker, wait_service, wait_stat, zmq)
from attack16_counters import balance  # noqa
from attack16_order import dealer, next_request  # noqa


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    b = start_broker(zrelay, "--heartbeat", "30s")
    ctx = zmq.Context()
    c = Client(ctx, b.ep)
    w = dealer(ctx, b.ep)
    w.send_multipart([b"", b"MDPW01", W1["READY"], b"dup"])
    wait_service(c, "dup")
    # 1. Nothing else in flight.
    c.send("dup", "one")
    m = next_request(w)
    for _ in range(2):
        w.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"", b"ONE"])
    check(c.recv()[2] == [b"ONE"], "the reply")
    wait_stat(b, "majordomo/requests/late_replies", lambda v: v == 1, "late")
    check(w.poll(int(DEADLINE * 1000)), "no DISCONNECT")
    check(w.recv_multipart()[2] == W1["DISCONNECT"], "not DISCONNECT")
    check(not c.s.poll(200), "answered twice")
    balance(b, "a duplicate reply, nothing else in flight")
    print("     duplicate FINAL, worker idle: dropped, late_replies 1, "
          "DISCONNECT")
    w.close()
    # 2. Pipelined: the duplicate is taken for the next request's reply.
    w = dealer(ctx, b.ep)
    w.send_multipart([b"", b"MDPW01", W1["READY"], b"dup"])
    wait_stat(b, "services/dup/workers/ready", lambda v: v == 1, "ready")
    c.send("dup", "a")
    c.send("dup", "b")
    m = next_request(w)
    check(m[-1] == b"a", "first %r" % m)
    w.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"", b"A"])
    m2 = next_request(w)
    check(m2[-1] == b"b", "second %r" % m2)
    w.send_multipart([b"", b"MDPW01", W1["REPLY"], m[3], b"", b"A"])
    w.send_multipart([b"", b"MDPW01", W1["REPLY"], m2[3], b"", b"B"])
    got = [c.recv()[2] for _ in range(2)]
    check(got == [[b"A"], [b"A"]], "pipelined: %r" % got)
    check(not c.s.poll(300), "a third reply for two requests")
    wait_stat(b, "majordomo/requests/late_replies", lambda v: v == 2, "late")
    balance(b, "pipelined, a duplicate reply")
    print("     pipelined client, duplicate FINAL: the client got %r "
          "(MDP has no request id); the real B dropped" % got)
    w.close()
    c.close()
    b.stop()
    ctx.term()
    print("PASS dupreply (%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
