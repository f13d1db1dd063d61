#!/usr/bin/python3
"""attack14: CURVE forwarder under a flood of bad-key HELLOs, garbage and
kill-mid-handshake connections while its allow dir is rewritten (good
keys, malformed, huge, symlink, dangling symlink) and SIGHUP/ctl reload
run in a loop. Checks: alive, a good client still gets through, counters
(auth.denied.unknown_key >= bad clients whose handshake reached ZAP), fds
and RSS back near the start. Usage: attack14_flood.py ZRELAY [SECONDS]"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import zmq
import zmq.auth

ZRELAY = sys.argv[1]
SECS = float(sys.argv[2]) if len(sys.argv) > 2 else 20
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

c = a.certs()
allow = os.path.join(a.TMP, "allow-flood")
os.makedirs(allow)
pub_alice = c["alice"]
import shutil  # noqa: E402
for f in os.listdir(c["allow"]):
    shutil.copy(os.path.join(c["allow"], f), allow)
from attacklib import free_port  # noqa: E402
pf, pb, pc = free_port(), free_port(), free_port()
conf = os.path.join(a.TMP, "flood.conf")
with open(conf, "w") as f:
    f.write("[zrelay]\ncontrol = tcp://127.0.0.1:%d\n"
            "[forwarder fl]\nfrontend = tcp://127.0.0.1:%d\n"
            "backend = tcp://127.0.0.1:%d\ncurve_secret = %s_secret\n"
            "curve_allow = %s\n" % (pc, pf, pb, c["server"], allow))
proc, eps = a.start(["run", conf], "flood")
fe, be = "tcp://127.0.0.1:%d" % pf, "tcp://127.0.0.1:%d" % pb
ctl = "tcp://127.0.0.1:%d" % pc
host, port = fe[6:].rsplit(":", 1)
port = int(port)


def fds():
    return len(os.listdir("/proc/%d/fd" % proc.pid))


def rss():
    with open("/proc/%d/status" % proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])


stop = threading.Event()
bad_sent = [0]


def bad_curve():
    ctx = zmq.Context()
    sp, ss = zmq.curve_keypair()
    srv = zmq.auth.load_certificate(c["server"])[0]
    while not stop.is_set():
        s = ctx.socket(zmq.PUB)
        s.linger = 0
        s.curve_publickey, s.curve_secretkey = zmq.curve_keypair()
        s.curve_serverkey = srv
        s.connect(fe)
        time.sleep(0.005)  # pacing: one bad client every 5 ms, not a wait
        s.close()
        bad_sent[0] += 1
    ctx.term()


def garbage():
    while not stop.is_set():
        try:
            k = socket.create_connection((host, port), timeout=2)
            mode = random.randrange(4)
            if mode == 0:
                k.sendall(os.urandom(random.randrange(1, 300)))
            elif mode == 1:   # a greeting announcing CURVE, then a huge frame
                k.sendall(b"\xff" + b"\0" * 8 + b"\x7f\x03\x00" +
                          b"CURVE".ljust(20, b"\0") + b"\0" * 32 +
                          b"\x06" + b"\xff" * 8)
            elif mode == 2:   # half a greeting, then gone (RST)
                k.sendall(b"\xff\0\0")
                k.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\0\0\0\0\0\0\0")
            k.close()
        except OSError:
            time.sleep(0.01)  # pacing: the port is busy, try again later


def rewrite_allow():
    n = 0
    while not stop.is_set():
        n += 1
        p = os.path.join(allow, "junk%d" % (n % 5))
        try:
            os.unlink(p)
        except OSError:
            pass
        kind = n % 5
        if kind == 0:
            open(p, "w").write("metadata\ncurve\n    public-key = \"short\"\n")
        elif kind == 1:
            open(p, "wb").write(b"x" * (8 << 20))
        elif kind == 2:
            os.symlink("/dev/zero", p)
        elif kind == 3:
            os.symlink(os.path.join(allow, "nope"), p)
        else:
            open(p, "wb").write(b"curve\n    public-key = \"" +
                                b"\x00\xff" * 40000 + b"\"\n")
        proc.send_signal(signal.SIGHUP)
        subprocess.run([ZRELAY, "ctl", ctl, "reload", "--timeout", "2s"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.05)  # pacing: 20 reloads a second


fd0, rss0 = fds(), rss()
ths = [threading.Thread(target=f) for f in (bad_curve, bad_curve, garbage,
                                            garbage, rewrite_allow)]
for t in ths:
    t.start()
end = time.time() + SECS
maxfd = fd0
maxrss = rss0
while time.time() < end and proc.poll() is None:
    maxfd = max(maxfd, fds())
    maxrss = max(maxrss, rss())
    time.sleep(0.5)  # sampling interval of fds and RSS
stop.set()
for t in ths:
    t.join()
alive = proc.poll() is None
print("alive", alive, "bad curve clients", bad_sent[0])
ok = alive
if alive:
    # a good client still gets through
    sub = a.curve_socket(zmq.SUB, c["alice"], c["server"], be)
    sub.subscribe(b"")
    pub = a.curve_socket(zmq.PUB, c["alice"], c["server"], fe)
    got = False
    e2 = time.time() + 10
    while not got and time.time() < e2:
        pub.send(b"hello")
        got = sub.poll(100) and sub.recv() == b"hello"
    print("good client through:", got)
    ok = ok and got
    st = a.stats(ctl, name="fl")
    txt = json.dumps(st)
    i = txt.find('"auth"')
    print("auth:", txt[i:i + 400] if i >= 0 else txt[:600])
    sub.close()
    pub.close()
    # The relay closes what the flood left open as it notices: wait for
    # its descriptors to come back (10 s at most), then report them.
    e3 = time.time() + 10
    while fds() > fd0 + 2 and time.time() < e3:
        stop.wait(0.05)  # between two looks at the descriptors
    fd_end = fds()
    print("fds start %d max %d end %d; RSS kB start %d max %d end %d" %
          (fd0, maxfd, fd_end, rss0, maxrss, rss()))
    if fd_end > fd0 + 2:
        print("descriptors not given back")
        ok = False
    a.stop(proc)
err = a.errtext("flood")
lines = err.splitlines()
print("stderr lines:", len(lines), "longest:", max(map(len, lines or [""])))
for l in lines:
    if "ERROR: AddressSanitizer" in l or "runtime error" in l or \
            "LeakSanitizer" in l:
        print("SANITIZER:", l)
        ok = False
print("exit", proc.returncode)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
