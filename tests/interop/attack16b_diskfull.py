#!/usr/bin/python3
"""Attack on Titanic (issue 16, second pass): the disk fills up while
requests and replies are stored.

usage: attack16b_diskfull.py ZRELAY     (root: it mounts a small tmpfs;
                                          77 = skipped otherwise)

DIR is on a 1 MB tmpfs, titanic_max_bytes 1G (the map far beyond the
disk). A worker holds every request; the client stores 20 kB requests
until one is refused (500 full): each acknowledged one is recorded. Then
the worker answers each with a 60 kB reply, more than the disk has left.
Every reply is either stored (titanic.reply 200 with it) or counted in
titanic.replies.dropped; none is lost silently; the broker lives. After
closes make room and the broker restarts on DIR, every acknowledged
request whose reply was not stored reaches the worker again, and then
has its reply (0 acknowledged requests lost).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, Client, check, fail, get,  # noqa
                        start_broker, wait_stat, zmq)


def status(c, service, *body):
    c.send(service, *body)
    kind, svc, reply = c.recv()
    return reply


def worker(ctx, ep):
    w = ctx.socket(zmq.DEALER)
    w.linger = 0
    w.connect(ep)
    w.send_multipart([b"", b"MDPW01", W1["READY"], b"echo"])
    return w


def take(w, n):
    """N requests the broker gives W (it gives one at a time: each must
    be answered before the next comes)."""
    check(w.poll(int(DEADLINE * 1000)), "the worker got nothing")
    m = w.recv_multipart()
    check(m[2] == W1["REQUEST"], "worker got %r" % m[:3])
    return m[3], m[5:]


def main():
    zrelay = sys.argv[1]
    if os.geteuid() != 0:
        print("SKIP: mounting a tmpfs needs root")
        sys.exit(77)
    t0 = time.time()
    top = tempfile.mkdtemp(prefix="attack16b-disk-")
    mnt = os.path.join(top, "fs")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                       mnt]).returncode != 0:
        print("SKIP: cannot mount a tmpfs")
        sys.exit(77)
    try:
        run(zrelay, os.path.join(mnt, "store"))
    finally:
        subprocess.run(["umount", "-l", mnt])
        shutil.rmtree(top, ignore_errors=True)
    print("ok: a full disk lost no acknowledged request (%.1f s)" %
          (time.time() - t0))


def run(zrelay, store):
    b = start_broker(zrelay, "--titanic", store, "--heartbeat", "60s")
    ctx = zmq.Context()
    c = Client(ctx, b.ep, v=1)
    acked = []
    refused = None
    for i in range(200):
        r = status(c, "titanic.request", "echo", b"%d:" % i + b"r" * 20000)
        if r[0] == b"200":
            acked.append(r[1])
            continue
        refused = r
        break
    check(refused is not None, "200 requests of 20 kB fit in 1 MB?")
    check(refused[0] == b"500" and refused[1].startswith(b"ZRELAY-ERROR full"),
          "refusal %r" % refused)
    check(len(acked) > 2, "only %d stored" % len(acked))
    print("stored %d requests before the disk was full: %r" %
          (len(acked), refused[1]))
    # The worker answers each with a reply bigger than what is left.
    w = worker(ctx, b.ep)
    for _ in acked:
        uuid, body = take(w, 1)
        check(uuid in acked, "a request never acknowledged: %r" % uuid)
        w.send_multipart([b"", b"MDPW01", W1["REPLY"], uuid, b"",
                          b"reply" * 12000])
    st = wait_stat(b, "titanic", lambda v: v["replies"]["stored"] +
                   v["replies"]["dropped"] == len(acked), "replies")
    stored, dropped = st["replies"]["stored"], st["replies"]["dropped"]
    print("replies stored %d, dropped %d" % (stored, dropped))
    fetched = []
    for u in acked:
        r = status(c, "titanic.reply", u)
        check(r[0] in (b"200", b"300"), "titanic.reply %r" % r[:2])
        if r[0] == b"200":
            check(r[1] == b"reply" * 12000, "a reply mangled")
            fetched.append(u)
    check(len(fetched) == stored, "fetched %d, stored %d" % (len(fetched),
                                                              stored))
    check(get(b.stats(), "titanic/requests/pending") == dropped,
          "pending != dropped")
    # Not broken by the failed writes (no MDB_PANIC): a close makes room
    # and a small request is stored again without a restart.
    sacrifice = [u for u in acked if u not in fetched][-1]
    check(status(c, "titanic.close", sacrifice) == [b"200"], "close one")
    acked.remove(sacrifice)
    r = status(c, "titanic.request", "echo", "small")
    check(r[0] == b"200", "after a close, a small request: %r" % r)
    acked.append(r[1])
    uuid, body = take(w, 1)
    check(uuid == r[1], "the small one")
    w.send_multipart([b"", b"MDPW01", W1["REPLY"], uuid, b"", b"ok"])
    wait_stat(b, "titanic/replies/stored", lambda v: v == stored + 1,
              "the small one's reply")
    check(status(c, "titanic.reply", uuid) == [b"200", b"ok"], "small reply")
    check(status(c, "titanic.close", uuid) == [b"200"], "close small")
    acked.remove(uuid)
    # Room again: close the answered ones; restart; the others come back.
    for u in fetched:
        check(status(c, "titanic.close", u) == [b"200"], "close")
    w.close()
    b.stop()
    b = start_broker(zrelay, "--titanic", store, "--heartbeat", "60s")
    c = Client(ctx, b.ep, v=1)
    rest = [u for u in acked if u not in fetched]
    w = worker(ctx, b.ep)
    for _ in rest:
        uuid, body = take(w, 1)
        check(uuid in rest, "unexpected %r" % uuid)
        w.send_multipart([b"", b"MDPW01", W1["REPLY"], uuid, b"", b"ok"])
    for u in rest:
        end = time.time() + DEADLINE
        while True:
            r = status(c, "titanic.reply", u)
            if r[0] != b"300" or time.time() > end:
                break
            time.sleep(0.02)
        check(r == [b"200", b"ok"], "after restart %r" % r)
    w.close()
    b.stop()


if __name__ == "__main__":
    main()
