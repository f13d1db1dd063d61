#!/usr/bin/python3
"""attack14: a raw ZMTP/1.0 peer (no handshake, no ZAP) sends TERMINATE to
a device's --control endpoint. With the default refuse_unversioned the
control socket goes through ZAP and refuses it; with --secure-side
frontend|backend the control socket is neither secured nor guarded.
Usage: attack14_ctlzmtp1.py ZRELAY"""
import os
import socket
import sys
import time

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

bad = 0
for args in ([], ["--allow", "127.0.0.0/8", "--secure-side", "frontend"]):
    proc, eps = a.start(["streamer"] + args +
                        ["--control", "tcp://127.0.0.1:*",
                         "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "ctl1")
    host, port = eps["control"][0][6:].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    body = b"TERMINATE"
    s.sendall(b"\x01\x00" + b"\x01\x01" + bytes([len(body) + 1, 0]) + body)
    try:
        proc.wait(3)
    except Exception:
        pass
    died = proc.poll() is not None
    print("%-45s raw ZMTP/1.0 TERMINATE stopped the device: %s" % (args, died))
    bad += died
    s.close()
    a.stop(proc)
print("FAIL" if bad else "PASS")
sys.exit(1 if bad else 0)
