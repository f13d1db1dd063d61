#!/usr/bin/python3
"""attack14: messages over --max-msg-frames / --max-msg-bytes interleaved
with good ones from several producers: no fragment or mixed message may
come out, every good one must, and drops.too_big must equal the bad ones.
Usage: attack14_bigmsg.py ZRELAY"""
import json
import os
import sys
import time
import zmq

ZRELAY = sys.argv[1]
sys.argv = [sys.argv[0], ZRELAY]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_curve as a  # noqa: E402

proc, eps = a.start(["streamer", "--max-msg-frames", "4", "--max-msg-bytes",
                     "1000", "--control", "tcp://127.0.0.1:*",
                     "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"], "big")
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect(eps["backend"][0])
pushes = []
for i in range(4):
    p = ctx.socket(zmq.PUSH)
    p.connect(eps["frontend"][0])
    pushes.append(p)
time.sleep(0.3)
N = 3000
good = bad = 0
for k in range(N):
    p = pushes[k % 4]
    tag = b"%d" % k
    kind = k % 5
    if kind == 0:      # too many frames
        p.send_multipart([b"BAD" + tag] + [b""] * 6)
        bad += 1
    elif kind == 1:    # too many bytes over 2 frames
        p.send_multipart([b"BAD" + tag, b"y" * 999])
        bad += 1
    elif kind == 2:    # exactly at the edge: 4 frames, 1000 bytes
        p.send_multipart([b"G" + tag, b"a", b"b",
                          b"z" * (1000 - 3 - len(tag))])
        good += 1
    elif kind == 3:    # a single big frame: max_msg_bytes is for multipart
        p.send(b"G" + tag + b"s" * 5000)
        good += 1
    else:
        p.send_multipart([b"G" + tag, b"x"])
        good += 1
got = 0
wrong = []
end = time.time() + 20
while got < good and time.time() < end:
    if pull.poll(500):
        m = pull.recv_multipart()
        got += 1
        if not m[0].startswith(b"G") or len(m) > 4 or \
                (len(m) > 1 and sum(map(len, m)) > 1000):
            wrong.append(m[:2])
while pull.poll(500):
    pull.recv_multipart()
    got += 1
st = a.stats(eps["control"][0])
txt = json.dumps(st)
i = txt.find("too_big")
print("sent good %d bad %d; got %d; wrong %d; %s" %
      (good, bad, got, len(wrong), txt[i - 1:i + 20]))
ok = got == good and not wrong and ('"too_big": %d' % bad) in txt
a.stop(proc)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
