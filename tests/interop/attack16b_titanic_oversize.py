#!/usr/bin/python3
"""Attack on Titanic (issue 16, second pass): one client's oversize
requests must not get other clients' requests refused.

usage: attack16b_titanic_oversize.py ZRELAY

titanic_max_bytes 1M. A hostile client sends 2 MB titanic.requests
(each bigger than the store: 500 full, rightly) while an honest client
pipelines 2,000 requests of 100 bytes, which all fit. Group commit puts
both in the same transactions; the honest requests must still be
stored: none of them refused.
"""
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import check, get, start_broker, zmq  # noqa

N = 2000


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    store = tempfile.mkdtemp(prefix="attack16b-big-")
    try:
        run(zrelay, store)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    print("ok: oversize requests refused alone (%.1f s)" % (time.time() - t0))


def run(zrelay, store):
    b = start_broker(zrelay, "--titanic", store, "--titanic-max-bytes", "1M",
                     "--heartbeat", "60s")
    ctx = zmq.Context()
    stop = threading.Event()
    big = [0, 0]

    def hostile():
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(b.ep)
        body = b"B" * (2 << 20)
        while not stop.is_set():
            s.send_multipart([b"MDPC02", b"\x01", b"titanic.request", b"svc",
                              body])
            big[0] += 1
            if s.poll(1000):
                m = s.recv_multipart()
                big[1] += m[3] == b"500"
        s.close()
    t = threading.Thread(target=hostile, daemon=True)
    t.start()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.sndhwm = s.rcvhwm = 0
    s.connect(b.ep)
    codes = {}
    # In waves, so that the honest requests meet the big ones in commits.
    for wave in range(N // 100):
        for i in range(100):
            s.send_multipart([b"MDPC02", b"\x01", b"titanic.request", b"svc",
                              b"h" * 100])
        for i in range(100):
            check(s.poll(20000), "no answer")
            m = s.recv_multipart()
            codes[m[3]] = codes.get(m[3], 0) + 1
    stop.set()
    t.join()
    st = get(b.stats(), "titanic")
    print("honest answers %r; hostile sent %d, refused %d; commits %d" % (
        codes, big[0], big[1], st["commits"]))
    check(big[1] > 0, "no oversize request met")
    check(codes.get(b"200", 0) == N,
          "honest requests refused because of another's oversize one: %r" %
          codes)
    b.stop()


if __name__ == "__main__":
    main()
