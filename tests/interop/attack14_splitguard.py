#!/usr/bin/python3
"""attack14: refuse_unversioned (default on) promises every bound port goes
through ZAP, so a ZMTP/1.0 peer's raw bytes never come out as a message.
With --secure-side frontend|backend the other side is not secured and
(suspected, device.c s_secure: zr__auth_applies() false => no ZAP domain)
also loses the guard. Usage: attack14_splitguard.py path/to/zrelay"""
import os
import sys
import time
import zmq

sys.argv = [sys.argv[0], sys.argv[1]]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402  (reuses start/stop/zmtp1)


def run(args, raw_side):
    proc, eps = a.start(["streamer"] + args + ["tcp://127.0.0.1:*",
                                               "tcp://127.0.0.1:*"], "split")
    try:
        pull = a.plain_socket(zmq.PULL, eps["backend"][0])
        raw = a.zmtp1(eps["frontend"][0], b"zmtp1-bytes")
        push = a.plain_socket(zmq.PUSH, eps["frontend"][0])
        got = set()
        end = time.time() + 10
        while b"real" not in got and time.time() < end:
            push.send(b"real", zmq.NOBLOCK)
            while pull.poll(50):
                got.add(pull.recv())
        while pull.poll(300):
            got.add(pull.recv())
        raw.close()
        push.close()
        pull.close()
        return b"real" in got, b"zmtp1-bytes" in got
    finally:
        a.stop(proc)


bad = 0
for args in ([], ["--allow", "127.0.0.0/8"],
             ["--allow", "127.0.0.0/8", "--secure-side", "frontend"],
             ["--allow", "127.0.0.0/8", "--secure-side", "backend"]):
    real, raw = run(args, "frontend")
    print("%-55s real=%s zmtp1-delivered=%s" % (args, real, raw))
    if raw:
        bad += 1
print("FAIL: ZMTP/1.0 bytes delivered in %d configurations" % bad if bad
      else "PASS")
sys.exit(1 if bad else 0)
