#!/usr/bin/python3
"""Attack on `zrelay mdp-worker --exec` (issue 16, second pass): commands
that hang, leave a child holding stdout, print without end, read no
stdin, die by a signal; and signals to the worker while one runs.

usage: attack16b_exec.py ZRELAY

Each case: a zrelay majordomo, one mdp-worker with the command, one
mdp-call; the call's exit status and output are checked, and the worker
must still serve the next request (it goes on after a failure). Last,
the worker gets two SIGTERMs while its command hangs: it must end at
once, and so must the command (no orphan left running).
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_broker import DEADLINE, check, fail, start_broker  # noqa


def call(zrelay, ep, service, *body, stdin=None, timeout="20s"):
    p = subprocess.run([zrelay, "mdp-call", service, "--broker", ep,
                        "--timeout", timeout, "--retries", "0"] + list(body),
                       input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def worker(zrelay, ep, service, cmd, *opts):
    w = subprocess.Popen([zrelay, "mdp-worker", service, "--broker", ep,
                          "--exec", cmd] + list(opts),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    check(w.stdout.readline() == b"ready\n", "worker %s: no ready" % cmd)
    return w


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not running
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def main():
    zrelay = sys.argv[1]
    t0 = time.time()
    b = start_broker(zrelay, "--heartbeat", "1s")
    ep = b.ep
    tmp = tempfile.mkdtemp(prefix="attack16b-exec-")
    cases = [
        # name, command, worker options, call stdin, expected (rc, out|err)
        ("hang", "sleep 60", ["--exec-timeout", "1s"], None,
         (4, b"ran longer than 1000 ms")),
        ("child-holds-stdout", "sleep 60 & echo early", ["--exec-timeout",
                                                         "1s"], None,
         (4, b"ran longer than 1000 ms")),
        ("gigabytes", "yes", ["--max-output", "4M"], None,
         (4, b"printed more than 4194304 bytes")),
        ("no-stdin", "echo ignored", [], b"x" * (4 << 20),
         (0, b"ignored\n")),
        ("kills-itself", "kill -KILL $$", [], None,
         (4, b"killed by signal 9")),
        ("exit-3", "exit 3", [], None, (4, b"exited with status 3")),
        ("closes-stdout", "exec >&-; sleep 0.2", [], None, (0, b"\n")),
    ]
    for name, cmd, opts, stdin, (rc, want) in cases:
        w = worker(zrelay, ep, name, cmd, *opts)
        args = [] if stdin is not None else ["x"]
        t = time.time()
        got_rc, out, err = call(zrelay, ep, name, *args, stdin=stdin)
        took = time.time() - t
        text = out if rc == 0 else err
        check(got_rc == rc and want in text,
              "%s: exit %d (want %d) out %r err %r" % (
                  name, got_rc, rc, out[:80], err[:200]))
        # The worker goes on: a second request gets the same treatment.
        got_rc2, _, _ = call(zrelay, ep, name, *args, stdin=stdin)
        check(got_rc2 == rc, "%s: second request exit %d" % (name, got_rc2))
        w.send_signal(signal.SIGTERM)
        try:
            w.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            w.kill()
            fail("%s: the worker did not stop on SIGTERM" % name)
        print("%-20s exit %d in %.1f s: held" % (name, got_rc, took))
    # Two SIGTERMs while the command hangs: the worker ends at once, and
    # its command with it.
    pidfile = os.path.join(tmp, "pid")
    w = worker(zrelay, ep, "stuck", "echo $$ > %s; exec sleep 60" % pidfile)
    c = subprocess.Popen([zrelay, "mdp-call", "stuck", "x", "--broker", ep,
                          "--timeout", "30s", "--retries", "0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + DEADLINE
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
        check(time.time() < end, "the command never started")
        time.sleep(0.02)
    pid = int(open(pidfile).read())
    w.send_signal(signal.SIGTERM)
    time.sleep(0.1)  # two signals, not one: let the first be taken
    w.send_signal(signal.SIGTERM)
    try:
        w.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        w.kill()
        fail("the worker did not end on a second SIGTERM")
    end = time.time() + 5
    while alive(pid) and time.time() < end:
        time.sleep(0.02)
    orphan = alive(pid)
    if orphan:
        os.kill(pid, signal.SIGKILL)
    c.kill()
    c.wait()
    check(not orphan, "the worker ended on a second SIGTERM, its command "
          "(pid %d) still runs" % pid)
    print("%-20s the command ended with the worker: held" % "second-signal")
    b.stop()
    print("ok: mdp-worker --exec held against hostile commands (%.1f s)" %
          (time.time() - t0))


if __name__ == "__main__":
    main()
