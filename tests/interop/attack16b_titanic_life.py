#!/usr/bin/python3
"""Attack on Titanic (issue 16, second pass): the store's life.

usage: attack16b_titanic_life.py ZRELAY [N]     (N stored requests,
                                                  default 20000)

- a second broker on the same DIR is refused at start, naming DIR;
- (root) a DIR on a read-only filesystem, new or already a store, stops
  the start with its name and the reason, no crash;
- N titanic.requests pipelined by 8 clients with no worker: every one
  acknowledged; group commit (commits << N); the broker's memory
  measured (RSS before and after: bytes per unanswered stored request);
- kill -9, restart: all N recovered; kill -9 again *during* that
  recovery, restart: still all N pending;
- kill -9 right after a worker's reply, 5 times: each request either
  has its reply stored or reaches a worker again after the restart.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import (W1, DEADLINE, Client, check, fail, get,  # noqa
                        start_broker, wait_stat, zmq)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def status(c, service, *body):
    c.send(service, *body)
    kind, svc, reply = c.recv()
    return reply


def start_fail(zrelay, store):
    """A broker on STORE that must not start: its exit and stderr."""
    p = subprocess.run([zrelay, "majordomo", "--titanic", store,
                        "@tcp://127.0.0.1:*"], capture_output=True,
                       timeout=30, text=True)
    return p.returncode, p.stderr + p.stdout


def fill(ep, n, clients=8):
    """N titanic.requests from CLIENTS pipelining DEALERs: the UUIDs."""
    ctx = zmq.Context.instance()
    socks = []
    for i in range(clients):
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.sndhwm = s.rcvhwm = 0
        s.connect(ep)
        socks.append(s)
    for i in range(n):
        socks[i % clients].send_multipart(
            [b"MDPC02", b"\x01", b"titanic.request", b"svc",
             b"%06d" % i + b"b" * 1000])
    uuids = []
    poller = zmq.Poller()
    for s in socks:
        poller.register(s, zmq.POLLIN)
    end = time.time() + 60
    while len(uuids) < n:
        check(time.time() < end, "only %d of %d acknowledged" % (len(uuids),
                                                                   n))
        for s, _ in poller.poll(1000):
            m = s.recv_multipart()
            check(m[3] == b"200", "a titanic.request answered %r" % m[3:5])
            uuids.append(m[4])
    for s in socks:
        s.close()
    return uuids


def main():
    zrelay = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    t0 = time.time()
    top = tempfile.mkdtemp(prefix="attack16b-life-")
    try:
        run(zrelay, n, top)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", os.path.join(top, "ro")],
                           stderr=subprocess.DEVNULL)
        shutil.rmtree(top, ignore_errors=True)
    print("ok: the store held (%.1f s)" % (time.time() - t0))


def run(zrelay, n, top):
    store = os.path.join(top, "store")
    b = start_broker(zrelay, "--titanic", store, "--heartbeat", "60s")
    rc, err = start_fail(zrelay, store)
    check(rc != 0 and "in use by another broker" in err and store in err,
          "a second broker on DIR: exit %d %r" % (rc, err))
    print("second broker on DIR: refused: %s" % err.strip().splitlines()[-1])
    if os.geteuid() == 0:
        ro = os.path.join(top, "ro")
        os.mkdir(ro)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                        ro], check=True)
        b2 = start_broker(zrelay, "--titanic", os.path.join(ro, "old"))
        b2.stop()
        subprocess.run(["mount", "-o", "remount,ro", ro], check=True)
        for name in ("new", "old"):
            rc, err = start_fail(zrelay, os.path.join(ro, name))
            check(rc != 0 and rc < 128 and "titanic" in err and ro in err,
                  "read-only %s: exit %d %r" % (name, rc, err))
            print("read-only fs, %s store: refused: %s" % (
                name, err.strip().splitlines()[-1]))
    rss0 = rss_kb(b.proc.pid)
    t = time.time()
    uuids = fill(b.ep, n)
    took = time.time() - t
    st = wait_stat(b, "titanic", lambda v: v["requests"]["pending"] == n,
                   "pending")
    rss1 = rss_kb(b.proc.pid)
    print("%d requests of 1 kB stored in %.1f s by 8 pipelining clients: "
          "%d commits (%.0f per commit, at most %d); RSS %d -> %d kB "
          "(%.1f kB per request); map in use %d kB" % (
              n, took, st["commits"], st["commit_ops"] / st["commits"],
              st["commit_max"], rss0, rss1, (rss1 - rss0) / n,
              st["bytes"] // 1024))
    check(st["commits"] < n / 4, "no group commit: %d commits" %
          st["commits"])
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait()
    t = time.time()
    b = start_broker(zrelay, "--titanic", store, "--heartbeat", "60s")
    st = get(b.stats(), "titanic")
    print("restart after kill -9: %d recovered in %.1f s, RSS %d kB" % (
        st["requests"]["recovered"], time.time() - t, rss_kb(b.proc.pid)))
    check(st["requests"]["recovered"] == n, "recovered %r" % st)
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait()
    # kill -9 during the recovery: at once after the start.
    p = subprocess.Popen([zrelay, "majordomo", "--titanic", store,
                          "@tcp://127.0.0.1:*"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(0.05)  # somewhere in its start: any moment will do
    p.send_signal(signal.SIGKILL)
    p.wait()
    b = start_broker(zrelay, "--titanic", store, "--heartbeat", "60s")
    st = get(b.stats(), "titanic")
    check(st["requests"]["recovered"] == n and
          st["requests"]["pending"] == n, "after a kill in recovery %r" % st)
    print("kill -9 during recovery, restart: %d pending: held" % n)
    # Close them all (the next part wants an empty service).
    c = Client(zmq.Context.instance(), b.ep, v=1)
    for u in uuids:
        c.send("titanic.close", u)
    for u in uuids:
        kind, svc, r = c.recv()
        check(r == [b"200"], "close %r" % r)
    wait_stat(b, "titanic/requests/pending", lambda v: v == 0, "closed")
    # kill -9 right after a worker's reply.
    ctx = zmq.Context.instance()
    for i in range(5):
        r = status(c, "titanic.request", "k9", "job%d" % i)
        check(r[0] == b"200", "request %r" % r)
        uuid = r[1]
        w = ctx.socket(zmq.DEALER)
        w.linger = 0
        w.connect(b.ep)
        w.send_multipart([b"", b"MDPW01", W1["READY"], b"k9"])
        check(w.poll(DEADLINE * 1000), "no request")
        m = w.recv_multipart()
        check(m[3] == uuid, "got %r" % m)
        w.send_multipart([b"", b"MDPW01", W1["REPLY"], uuid, b"", b"done"])
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait()
        w.close()
        c.close()
        b = start_broker(zrelay, "--titanic", store, "--heartbeat", "60s",
                         ep="@" + b.ep)
        c = Client(ctx, b.ep, v=1)
        r = status(c, "titanic.reply", uuid)
        if r == [b"200", b"done"]:
            how = "stored before the kill"
        else:
            check(r == [b"300"], "after the kill: %r" % r)
            w = ctx.socket(zmq.DEALER)
            w.linger = 0
            w.connect(b.ep)
            w.send_multipart([b"", b"MDPW01", W1["READY"], b"k9"])
            check(w.poll(DEADLINE * 1000), "not dispatched again")
            m = w.recv_multipart()
            check(m[3] == uuid, "again %r" % m)
            w.send_multipart([b"", b"MDPW01", W1["REPLY"], uuid, b"",
                              b"done"])
            end = time.time() + DEADLINE
            while r != [b"200", b"done"]:
                check(time.time() < end, "no reply %r" % r)
                time.sleep(0.02)
                r = status(c, "titanic.reply", uuid)
            w.close()
            how = "dispatched again after the restart"
        check(status(c, "titanic.close", uuid) == [b"200"], "close")
        print("kill -9 after reply %d: %s" % (i, how))
    b.stop()


if __name__ == "__main__":
    main()
