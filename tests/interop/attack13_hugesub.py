#!/usr/bin/python3
"""ATTACK13: one subscriber subscribes to one topic of SIZE bytes, then
disconnects (or is killed); is the forwarder still alive? libzmq 4.3.4's
subscription trie recurses once per byte when a pipe's subscriptions are
removed, on the relay's thread (stack overflow: SIGSEGV), and again in
the reaper when the XPUB closes. The subscriber runs in a child process
(its own SUB's trie recurses the same way when it closes).

usage: attack13_hugesub.py ZRELAY SIZE [extra relay args...]
"""
import subprocess
import sys
import time

from attacklib import free_port, start

CHILD = r"""
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.connect(sys.argv[1])
s.setsockopt(zmq.SUBSCRIBE, b"A" * int(sys.argv[2]))
time.sleep(1.5)
"""


def main():
    zrelay, size = sys.argv[1], int(sys.argv[2])
    fe, be, ctl = ["tcp://127.0.0.1:%d" % free_port() for _ in range(3)]
    relay = start([zrelay, "forwarder", "@" + fe, "@" + be, "--control",
                   "@" + ctl] + sys.argv[3:], "/tmp/attack13-hugesub.err")
    subprocess.run(["/usr/bin/python3", "-c", CHILD, be, str(size)],
                   timeout=60)  # exits: its connection closes (may segfault)
    time.sleep(1.0)
    alive = relay.poll() is None
    rc = None
    if alive:
        relay.terminate()
        try:
            rc = relay.wait(10)
        except subprocess.TimeoutExpired:
            relay.kill()
            rc = "hung"
    print("size=%d relay alive after the subscriber left: %s; exit on "
          "SIGTERM: %s (died: %s)" % (size, alive, rc, relay.returncode))
    sys.exit(0 if alive and rc == 0 else 1)


if __name__ == "__main__":
    main()
