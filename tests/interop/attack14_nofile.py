#!/usr/bin/python3
"""attack14: the relay under prlimit --nofile=N (hard = soft, so it cannot
raise it) while a stranger holds many idle TCP connections on the
frontend: the control endpoint must answer, CPU must not spin, a real
client must get through once the stranger lets go, and fds must come back.
Usage: attack14_nofile.py ZRELAY [N]"""
import os
import socket
import subprocess
import sys
import time
import zmq

ZRELAY = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 64
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

a.ZRELAY = "/usr/bin/prlimit"
proc, eps = a.start(["--nofile=%d:%d" % (N, N), ZRELAY, "streamer",
                     "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "nofile")
host, port = eps["frontend"][0][6:].rsplit(":", 1)


def cpu():
    with open("/proc/%d/stat" % proc.pid) as f:
        w = f.read().rsplit(")", 1)[1].split()
    return (int(w[11]) + int(w[12])) / os.sysconf("SC_CLK_TCK")


def nfd():
    return len(os.listdir("/proc/%d/fd" % proc.pid))


fd0 = nfd()
held = []
for i in range(4 * N):
    try:
        held.append(socket.create_connection((host, int(port)), timeout=2))
    except OSError:
        break
time.sleep(1)
c0 = cpu()
t0 = time.time()
time.sleep(3)
load = (cpu() - c0) / (time.time() - t0)
t1 = time.time()
try:
    st = a.stats(eps["control"][0])
    ctl_ok = True
except Exception as e:
    ctl_ok = False
ctl_ms = (time.time() - t1) * 1000
print("held %d connections, relay fds %d (limit %d), CPU %.0f%%, "
      "control answered %s in %.0f ms" % (len(held), nfd(), N, load * 100,
                                           ctl_ok, ctl_ms))
for s in held:
    s.close()
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect(eps["backend"][0])
push = ctx.socket(zmq.PUSH)
push.connect(eps["frontend"][0])
got = False
end = time.time() + 10
while not got and time.time() < end:
    push.send(b"x", zmq.NOBLOCK)
    got = bool(pull.poll(100))
time.sleep(1)
print("real client through after: %s; fds start %d end %d" %
      (got, fd0, nfd()))
ok = ctl_ok and load < 0.5 and got
pull.close(0)
push.close(0)
a.stop(proc)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
