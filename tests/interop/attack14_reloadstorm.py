#!/usr/bin/python3
"""attack14: lock order and lifetimes around the ZAP handler's monitor
reads. Under 'zrelay run' with devices whose max_connections is decided
at the handshake (NULL guard, CURVE with secure_side = frontend, an
allow list, an lru queue whose backend is polled), hundreds of
handshakes stay in flight (pyzmq clients that connect and close, raw
garbage, unknown CURVE keys, idle half-open connections) while the
daemon reloads (ctl reload with max_connections changed, so every device
restarts; SIGHUP), and devices are stopped and started by name. The
daemon must answer its control endpoint every round, exit 0 on SIGTERM,
and leave no sanitizer report. Usage: attack14_reloadstorm.py ZRELAY
[ROUNDS]"""
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import zmq

ZRELAY = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402
from attacklib import free_port, start  # noqa: E402

c = a.certs()
ports = [free_port() for _ in range(9)]
conf = os.path.join(a.TMP, "storm.conf")


def write_conf(mx):
    with open(conf, "w") as f:
        f.write("[zrelay]\ncontrol = tcp://127.0.0.1:%d\n" % ports[0])
        f.write("[streamer open]\nfrontend = tcp://127.0.0.1:%d\n"
                "backend = tcp://127.0.0.1:%d\nmax_connections = %d\n"
                % (ports[1], ports[2], mx))
        f.write("[queue sec]\nfrontend = tcp://127.0.0.1:%d\n"
                "backend = tcp://127.0.0.1:%d\ncurve_secret = %s\n"
                "curve_allow = %s\nsecure_side = frontend\n"
                "max_connections = %d\n"
                % (ports[3], ports[4], c["server"] + "_secret", c["allow"],
                   mx))
        f.write("[queue lru]\nfrontend = tcp://127.0.0.1:%d\n"
                "backend = tcp://127.0.0.1:%d\nstrategy = lru\n"
                "allow = 127.0.0.0/8\nmax_connections = %d\n"
                % (ports[5], ports[6], mx))
        f.write("[forwarder fwd]\nfrontend = tcp://127.0.0.1:%d\n"
                "backend = tcp://127.0.0.1:%d\nhandshake_ivl = 300ms\n"
                "max_connections = %d\n" % (ports[7], ports[8], mx))


write_conf(3)
errpath = os.path.join(a.TMP, "storm.err")
proc = start([ZRELAY, "run", "-c", conf], errpath, 30)
ctl = "tcp://127.0.0.1:%d" % ports[0]
stop = threading.Event()
counts = {"zmq": 0, "raw": 0, "curve": 0}


def hammer(seed):
    rnd = random.Random(seed)
    ctx = zmq.Context()
    idle = []
    while not stop.is_set():
        p = rnd.choice(ports[1:])
        kind = rnd.random()
        try:
            if kind < 0.4:
                s = ctx.socket(rnd.choice([zmq.PUSH, zmq.DEALER, zmq.PUB,
                                           zmq.SUB, zmq.REQ]))
                s.linger = 0
                s.reconnect_ivl = 5
                s.connect("tcp://127.0.0.1:%d" % p)
                time.sleep(rnd.random() * 0.02)
                s.close()
                counts["zmq"] += 1
            elif kind < 0.7:
                k = socket.create_connection(("127.0.0.1", p), timeout=1)
                k.sendall(rnd.choice([b"\xff\0\0\0\0\0\0\0\x01\x7f\x03\x00NULL",
                                      b"GET / HTTP/1.0\r\n\r\n", b"\x01\x00",
                                      os.urandom(64)]))
                if rnd.random() < 0.3 and len(idle) < 40:
                    idle.append(k)
                else:
                    k.close()
                counts["raw"] += 1
            else:
                s = ctx.socket(zmq.DEALER)
                s.linger = 0
                who = rnd.choice(["alice", "mallory"])
                pub, sec = zmq.auth.load_certificate(c[who])
                spub, _ = zmq.auth.load_certificate(c["server"])
                s.curve_publickey, s.curve_secretkey = pub, sec
                s.curve_serverkey = spub
                s.connect("tcp://127.0.0.1:%d" % ports[3])
                s.send(b"x")
                time.sleep(rnd.random() * 0.02)
                s.close()
                counts["curve"] += 1
        except OSError:
            pass
        if len(idle) >= 40:
            for k in idle:
                k.close()
            idle = []
    for k in idle:
        k.close()
    ctx.destroy(linger=0)


def ctl_cmd(*args):
    try:
        r = subprocess.run([ZRELAY, "ctl", ctl] + list(args) +
                           ["--timeout", "10s"], capture_output=True,
                           timeout=30)
        return r.returncode, (r.stdout + r.stderr).decode()
    except subprocess.TimeoutExpired:
        return -1, "(ctl itself hung)"


threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
for t in threads:
    t.start()
ok = True
try:
    for rnd in range(ROUNDS):
        op = rnd % 4
        if op == 0:
            write_conf(2 + rnd % 3)
            rc, out = ctl_cmd("reload")
        elif op == 1:
            write_conf(5 - rnd % 3)
            proc.send_signal(signal.SIGHUP)
            rc, out = 0, "SIGHUP"
        else:
            name = ["open", "sec", "lru", "fwd"][rnd % 4]
            ctl_cmd("stop", name)
            rc, out = ctl_cmd("start", name)
        lrc, lout = ctl_cmd("list")
        if lrc != 0:
            print("round %d: the control endpoint did not answer: %s"
                  % (rnd, lout.strip()))
            ok = False
            break
        if proc.poll() is not None:
            print("round %d: the daemon exited (%d)" % (rnd, proc.returncode))
            ok = False
            break
    print("rounds done; %s" % counts)
finally:
    stop.set()
    for t in threads:
        t.join()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            print("FAIL: SIGTERM did not stop the daemon within 30 s "
                  "(pid %d left running for inspection)" % proc.pid)
            ok = False
    if proc.returncode not in (0, None):
        print("FAIL: exit %s" % proc.returncode)
        ok = False
    with open(errpath) as f:
        err = f.read()
    if "Sanitizer" in err or "runtime error" in err:
        i = max(err.find("Sanitizer"), err.find("runtime error"))
        print("FAIL: sanitizer report:\n" + err[max(0, i - 200):i + 3000])
        ok = False
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
