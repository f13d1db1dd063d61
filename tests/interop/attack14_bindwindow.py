#!/usr/bin/python3
"""attack14: a device binds its sockets before it attaches their
monitors (device.c: s_open_sockets, then s_open_engine). A connection
accepted in between is not counted (no ACCEPTED event, and the ZAP
handler has no monitor yet to ask) but its DISCONNECTED event is, later:
every such connection leaves the count one lower for good, i.e. one more
connection over max_connections. Clients that reconnect fast hit that
window whenever the device starts again (ctl start, reload). Usage:
attack14_bindwindow.py ZRELAY [ROUNDS] [CLIENTS]"""
import json
import os
import subprocess
import sys
import tempfile
import time
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import free_port, start  # noqa: E402

Z = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
CLIENTS = int(sys.argv[3]) if len(sys.argv) > 3 else 30
MAX = int(os.environ.get("MAX", "50"))
T = tempfile.mkdtemp(prefix="zr-a14-bind-")
cp, fa, fb = (free_port() for _ in range(3))
conf = os.path.join(T, "z.conf")
with open(conf, "w") as f:
    f.write("[zrelay]\ncontrol = tcp://127.0.0.1:%d\n"
            "[streamer s]\nfrontend = tcp://127.0.0.1:%d\n"
            "backend = tcp://127.0.0.1:%d\nmax_connections = %d\n"
            % (cp, fa, fb, MAX))
ctl = "tcp://127.0.0.1:%d" % cp
proc = start([Z, "run", "-c", conf], os.path.join(T, "err"))
ctx = zmq.Context()


def ctl_cmd(*args):
    r = subprocess.run([Z, "ctl", ctl] + list(args) + ["--json"],
                       capture_output=True, timeout=20)
    return r.returncode, r.stdout.decode()


def conns():
    rc, out = ctl_cmd("stats", "s")
    st = json.loads(out)
    st = st.get("s", st)
    return st["frontend"]["connections"]


ok = True
try:
    clients = []
    for i in range(CLIENTS):
        s = ctx.socket(zmq.PUSH)
        s.linger = 0
        s.reconnect_ivl = 1
        s.reconnect_ivl_max = 5
        s.connect("tcp://127.0.0.1:%d" % fa)
        clients.append(s)
    for r in range(ROUNDS):
        ctl_cmd("stop", "s")
        ctl_cmd("start", "s")
        time.sleep(0.3)
    for s in clients:
        s.close()
    time.sleep(1.5)
    c = conns()
    print("after %d restarts with %d fast-reconnecting clients, all gone: "
          "%s" % (ROUNDS, CLIENTS, json.dumps(c)))
    if c["disconnected"] > c["accepted"]:
        print("FAIL: %d more disconnections than acceptances: the count is "
              "that much too low for good" % (c["disconnected"] - c["accepted"]))
        ok = False
    # how many now get in with max_connections = MAX
    pull = ctx.socket(zmq.PULL)
    pull.connect("tcp://127.0.0.1:%d" % fb)
    got = set()
    late = []
    for i in range(MAX + 3):
        s = ctx.socket(zmq.PUSH)
        s.linger = 0
        s.reconnect_ivl = -1
        s.connect("tcp://127.0.0.1:%d" % fa)
        late.append(s)
        time.sleep(0.2)
    for i, s in enumerate(late):
        s.send(b"%d" % i, zmq.NOBLOCK)
    end = time.time() + 3
    while time.time() < end:
        if pull.poll(200):
            got.add(pull.recv())
    print("%d of %d new clients delivered with max_connections %d"
          % (len(got), len(late), MAX))
    if len(got) > MAX:
        print("FAIL: more than max_connections got through")
        ok = False
finally:
    proc.kill()
    proc.wait()
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
