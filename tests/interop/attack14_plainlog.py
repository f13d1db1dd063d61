#!/usr/bin/python3
"""attack14: PLAIN clients with 255-byte users/passwords holding newlines,
ANSI escapes and NULs: each is refused, counted once as bad_password, and
the log lines are escaped and bounded. Usage: attack14_plainlog.py ZRELAY"""
import json
import os
import sys
import time
import zmq

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

pw = os.path.join(a.TMP, "passwords")
with open(pw, "w") as f:
    f.write("alice=secret\n")
proc, eps = a.start(["streamer", "-vv", "--plain-passwords", pw, "--secure-side",
                     "frontend", "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "plainlog")
ctx = zmq.Context()
users = [b"\n2026-12-03 zrelay: FORGED\x1b[31m" + b"u" * 200,
         b"\x00" * 255, b"\xff" * 255, b"alice", b"%s%n%x" * 40]
for u in users:
    s = ctx.socket(zmq.PUSH)
    s.linger = 0
    s.plain_username = u[:255]
    s.plain_password = b"\n\x1b" * 127
    s.connect(eps["frontend"][0])
    time.sleep(0.3)
    s.close()
time.sleep(1)
st = json.loads(json.dumps(a.stats(eps["control"][0])))
bad = a.denied(st, "bad_password")
a.stop(proc)
err = a.errtext("plainlog")
lines = err.splitlines()
forged = [l for l in lines if "FORGED" in l and not l.startswith("zrelay:")]
raw = [l for l in lines if "\x1b" in l or "\x00" in l]
longest = max(len(l) for l in lines if "final statistics" not in l)
print("bad_password %d of %d; longest log line %d; forged lines %d; raw "
      "control chars %d" % (bad, len(users), longest, len(forged), len(raw)))
ok = bad == len(users) and not forged and not raw and longest < 400
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
