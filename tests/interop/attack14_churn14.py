#!/usr/bin/python3
"""attack14: after an attacker's churn against a CURVE queue with a small
max_connections (unknown keys, NULL peers at the CURVE port, garbage,
half-open handshakes left to the handshake timeout, allowed clients
killed with SIGKILL mid-session, PLAIN peers at a CURVE port), the
frontend's 'connected' comes back to 0 and legitimate clients get in up
to the limit (and one more is refused). Usage: attack14_churn14.py ZRELAY
[ROUNDS]"""
import os
import signal
import socket
import subprocess
import sys
import time
import zmq

ZRELAY = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

MAX = 3
c = a.certs()
proc, eps = a.start(["queue", "--curve-secret", c["server"],
                     "--curve-allow", c["allow"], "--secure-side",
                     "frontend", "--max-connections", str(MAX),
                     "--handshake-ivl", "1s",
                     "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "churn14")
front, back, ctl = eps["frontend"][0], eps["backend"][0], eps["control"][0]
host, port = front[6:].rsplit(":", 1)
port = int(port)
CHILD = r'''
import sys, zmq, zmq.auth, time
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
pub, sec = zmq.auth.load_certificate(sys.argv[1])
spub, _ = zmq.auth.load_certificate(sys.argv[2])
s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, spub
s.connect(sys.argv[3])
s.send_multipart([b"", b"from a client killed later"])
print("up", flush=True)
time.sleep(60)
'''


def fconn():
    return a.stats(ctl)["frontend"]["connections"]


ok = True
try:
    for rnd in range(ROUNDS):
        socks = []
        for i in range(15):
            socks.append(a.curve_socket(zmq.DEALER, c["mallory"], c["server"],
                                        front))
            socks.append(a.plain_socket(zmq.DEALER, front))
            socks.append(a.plain_socket(zmq.DEALER, front, "u", "p"))
        raws = []
        for i in range(30):
            k = socket.create_connection((host, port))
            k.sendall(b"\x01\x02garbage\r\n" if i % 2 else b"\xff\0\0")
            (raws.append(k) if i % 3 == 0 else k.close())
        kids = [subprocess.Popen(["/usr/bin/python3", "-c", CHILD, c["alice"],
                                  c["server"], front], stdout=subprocess.PIPE)
                for _ in range(4)]
        for k in kids:
            k.stdout.readline()
        time.sleep(0.3)
        for k in kids:
            k.send_signal(signal.SIGKILL)
            k.wait()
        for s in socks:
            s.close()
        # half of the half-open raw ones are left to the handshake timeout
        for k in raws[::2]:
            k.close()
        print("round %d: %s" % (rnd, fconn()))
    a.wait_for(lambda: fconn()["connected"] == 0,
               "connected back to 0 after the attacker left", 20)
    st = fconn()
    print("after the churn:", st)
    # legitimate clients: MAX get through, one more is refused
    rep = a.plain_socket(zmq.REP, back)
    reqs = []
    for i in range(MAX):
        r = a.curve_socket(zmq.REQ, c["alice"], c["server"], front)
        r.send(b"q%d" % i)
        a.check(rep.poll(a.DEADLINE * 1000), "legit client %d not through" % i)
        m = rep.recv()
        rep.send(m)
        a.check(r.poll(a.DEADLINE * 1000) and r.recv() == m,
                "legit client %d: no reply" % i)
        reqs.append(r)
    before = fconn()["refused"]["max_connections"]
    extra = a.curve_socket(zmq.REQ, c["alice"], c["server"], front)
    extra.send(b"over")
    a.wait_for(lambda: fconn()["refused"]["max_connections"] == before + 1,
               "the client over the limit was not refused")
    a.check(not rep.poll(300), "the client over the limit got through")
    print("%d legitimate clients in, the next refused: %s" % (MAX, fconn()))
    for s in reqs + [extra, rep]:
        s.close()
except a.Fail as e:
    print("FAIL:", e)
    ok = False
finally:
    a.stop(proc)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
