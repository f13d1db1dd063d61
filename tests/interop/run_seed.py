#!/usr/bin/python3
"""run_seed.py - the seed's own pyzmq programs against the zrelay binary.

usage: /usr/bin/python3 run_seed.py ZRELAY SCENARIO   (s1 s2 s4 s5 s6)

Exit status: 0 passed, 1 failed, 77 skipped (no pyzmq: CTest's
SKIP_RETURN_CODE).

The programs in seed/ are byte-identical copies of the seed's
(/work/shared/seed/programs/*.py). s1_proxy.py, s2_reqrep_proxy.py and
s5_broker.py are the seed's proxies, which zrelay replaces: they are kept
for reference and never run. The programs are never edited: at run time this
runner reads one, substitutes literal strings in its text and runs the
result from a temporary directory. Substitutions change only
  - endpoints: the seed's fixed ports (5559, 5560, ...) become the ports
    zrelay actually bound, and a connect to the seed's own in-process proxy
    becomes a connect to zrelay over tcp;
  - run length: `while True:` loops are bounded (a subscriber loops while
    a message arrives within a quiet period, S6's clients send a fixed
    number of requests), and S6's never-ending main ends when its clients
    do;
  - the proxy: S6's ServerTask, which ran zmq.proxy between a ROUTER and
    a DEALER of its own, binds neither and only blocks; zrelay queue is
    its proxy;
  - the one known defect of s6_asyncsrv.py (ServerWorker(context) lacks
    the id), fixed minimally.
Every substitution names the exact text it replaces and how many times
that text must occur, so a change to a seed program fails the test loudly
instead of silently testing something else. Endpoint strings are swapped
in place; every other changed line carries an "# interop:" comment saying
why, and the log shows each program's diff against the seed. The programs
run with `python3 -u` (unbuffered output, so nothing is lost when one is
stopped); their logic is the seed's.

zrelay runs on dynamic loopback ports ('@tcp://127.0.0.1:*'): the runner
reads its stdout up to 'ready' (with a deadline) to learn the real
ports, and stops it with SIGTERM, requiring exit status 0. (S2 alone
starts a seed program before zrelay, as the seed does; its ports are
taken from the kernel beforehand, see s2_trial.) Everything has a
deadline; nothing sleeps to wait for readiness.
"""

import difflib
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_DIR = os.path.join(HERE, "seed")
PYTHON = sys.executable  # the interpreter that has zmq (checked in main)
ANY = "@tcp://127.0.0.1:*"

# Seconds each scenario may take in all; CMakeLists.txt's TIMEOUT is larger
# so that on expiry the runner itself reports and cleans up.
BUDGET = {"s1": 45, "s2": 75, "s4": 40, "s5": 40, "s6": 75, "default": 45,
          "gate": 100, "s3_netns": 60, "broker": 60, "client": 45}

# A bounded subscriber stops after this long without a message. The seed's
# publishers send one message a second (S1) or all at once (S2).
QUIET_MS = 3000


class Failure(Exception):
    pass


class RelayStartError(Failure):
    pass


def log(msg):
    print(msg, flush=True)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def indent(text):
    return "".join("    | " + line + "\n" for line in text.splitlines())


# ---------------------------------------------------------------------------
# zrelay


class Relay:
    """One `zrelay VERB FRONTEND BACKEND --control @tcp://127.0.0.1:*`
    process. After construction, self.endpoints maps each role printed
    ('frontend', 'backend', 'control') to its real address."""

    def __init__(self, zrelay, verb, frontend=ANY, backend=ANY,
                 control=True, ready_timeout=15, extra=()):
        self.zrelay = zrelay
        self.verb = verb
        self.stderr = tempfile.TemporaryFile(mode="w+")
        args = [zrelay, verb, frontend, backend]
        if control:
            args += ["--control", ANY]
        args += list(extra)
        self.args = args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.endpoints = {}
        self.stopped = False
        try:
            self._read_until_ready(ready_timeout)
        except BaseException:
            self.kill()
            raise

    def _read_until_ready(self, timeout):
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure("%s: no 'ready' within %ds; stdout so far:"
                                  "\n%s%s" % (" ".join(self.args), timeout,
                                              indent(buf.decode()),
                                              self.stderr_text()))
                if not sel.select(left):
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    rc = self.proc.wait(timeout=5)
                    raise RelayStartError(
                        "%s exited with %d before 'ready'; stdout:\n%s%s" % (
                            " ".join(self.args), rc, indent(buf.decode()),
                            self.stderr_text()))
                buf += chunk
                lines = buf.decode().split("\n")
                for line in lines[:-1]:
                    if line == "ready":
                        return
                    parts = line.split()
                    check(len(parts) == 3 and parts[1] in ("bind", "connect"),
                          "zrelay printed an unexpected line before 'ready':"
                          " %r" % line)
                    self.endpoints[parts[0]] = parts[2]
                buf = lines[-1].encode()
        finally:
            sel.close()

    @property
    def frontend(self):
        return self.endpoints["frontend"]

    @property
    def backend(self):
        return self.endpoints["backend"]

    def stderr_text(self):
        self.stderr.seek(0)
        text = self.stderr.read()
        return "zrelay stderr:\n" + indent(text) if text else ""

    def stats(self):
        """`zrelay ctl EP stats --json`, parsed."""
        args = [self.zrelay, "ctl", self.endpoints["control"], "stats",
                "--json", "--timeout", "5s"]
        res = subprocess.run(args, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=15)
        check(res.returncode == 0, "%s: exit %d: %s" % (
            " ".join(args), res.returncode, res.stderr.decode()))
        try:
            return json.loads(res.stdout)
        except ValueError:
            raise Failure("%s printed no JSON: %r" % (" ".join(args),
                                                      res.stdout))

    def stop(self, timeout=15):
        """SIGTERM; zrelay must exit with status 0."""
        if self.stopped:
            return
        self.stopped = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("zrelay %s did not exit within %ds of SIGTERM\n%s"
                          % (self.verb, timeout, self.stderr_text()))
        self.proc.stdout.close()
        check(rc == 0, "zrelay %s exited with %d after SIGTERM, not 0\n%s"
              % (self.verb, rc, self.stderr_text()))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stopped = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill()
        return False


def free_ports(n):
    """N loopback ports the kernel has just handed out and released, for
    the one scenario (S2) whose programs must start before zrelay."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# ---------------------------------------------------------------------------
# The seed's programs


def seed_text(name, subs):
    """The seed program NAME with SUBS applied: (old, new, count) triples;
    OLD must occur exactly COUNT times."""
    with open(os.path.join(SEED_DIR, name), encoding="utf-8") as f:
        text = f.read()
    for old, new, count in subs:
        found = text.count(old)
        check(found == count, "seed/%s: expected %d occurrence(s) of %r, "
              "found %d (did the seed program change?)" % (name, count, old,
                                                           found))
        text = text.replace(old, new)
    return text


class Program:
    """A seed program, substituted, running as `python3 -u` in WORKDIR with
    its output in files (no pipe to fill up)."""

    def __init__(self, workdir, name, subs, tag=None):
        self.name = name
        self.tag = tag or name
        path = os.path.join(workdir, self.tag + ".run.py")
        text = seed_text(name, subs)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        # The log shows exactly what differs from the seed.
        with open(os.path.join(SEED_DIR, name), encoding="utf-8") as f:
            seed = f.read()
        log(("running %s, which differs from seed/%s only by:\n%s" % (
            self.tag, name, indent("".join(difflib.unified_diff(
                seed.splitlines(True), text.splitlines(True), "seed/" + name,
                self.tag, n=0))))).rstrip())
        self.out = tempfile.TemporaryFile(mode="w+")
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([PYTHON, "-u", path], cwd=workdir,
                                     stdout=self.out, stderr=self.err)
        self.rc = None

    def wait(self, timeout):
        """Wait for exit; fail (after killing it) past TIMEOUT seconds or on
        a non-zero exit status. Returns its stdout."""
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("%s still running after %ss\n%s" % (
                self.tag, timeout, self.report()))
        check(self.rc == 0, "%s exited with %d\n%s" % (self.tag, self.rc,
                                                       self.report()))
        return self.stdout()

    def stdout(self):
        self.out.seek(0)
        return self.out.read()

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def report(self):
        return "%s stdout:\n%s%s stderr:\n%s" % (
            self.tag, indent(self.stdout()), self.tag, indent(self.stderr()))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Cleanup:
    """Kills whatever is still running when a scenario ends, however it
    ends."""

    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        return item

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for item in reversed(self.items):
            item.kill()
        return False


def bounded_subscriber(old="while True:"):
    # interop: the seed's subscribers loop forever; this bounds the loop
    # (run length only): it goes on while a message arrives within
    # QUIET_MS, i.e. it receives everything that comes and ends QUIET_MS
    # after the last message.
    lead = old[:len(old) - len(old.lstrip())]
    return (old, "%swhile receiver.poll(%d):  # interop: bounded, was %s"
            % (lead, QUIET_MS, old.strip()), 1)


# ---------------------------------------------------------------------------
# S1: zrelay forwarder in place of s1_proxy.py


def wait_for(what, cond, timeout):
    """Poll COND (each call is itself a round trip, no sleep) until true."""
    deadline = time.monotonic() + timeout
    while not cond():
        check(time.monotonic() < deadline, "no %s within %ds" % (what,
                                                                 timeout))


def scenario_s1(zrelay, workdir):
    with Cleanup() as running, \
            Relay(zrelay, "forwarder") as relay:
        log("zrelay forwarder: frontend %s, backend %s, control %s" % (
            relay.frontend, relay.backend, relay.endpoints["control"]))
        sub = running.add(Program(workdir, "s1_subscriber.py", [
            ("tcp://127.0.0.1:5560", relay.backend, 1),
            bounded_subscriber(),
        ]))
        # The seed starts the subscriber first; its subscription reaching
        # the relay (backend msgs_in) tells us it is up.
        wait_for("subscription at the forwarder",
                 lambda: relay.stats()["backend"]["msgs_in"] >= 1, 15)
        pub = running.add(Program(workdir, "s1_publisher.py", [
            ("tcp://127.0.0.1:5559", relay.frontend, 1),
        ]))
        pub.wait(timeout=20)
        out = sub.wait(timeout=20)
        log(sub.report().rstrip())
        got = out.count("Subscriber got  [b'Hello there']")
        lines = [l for l in out.splitlines() if l.strip()]
        check(got == len(lines), "unexpected subscriber output:\n"
              + indent(out))
        log("S1: subscriber received %d of 3" % got)
        check(got >= 2, "S1: subscriber received %d of the publisher's 3 "
              "messages, want at least 2 (the seed loses at most the "
              "first)" % got)
        stats = relay.stats()
        fin = stats["frontend"]["msgs_in"]
        bout = stats["backend"]["msgs_out"]
        log("S1: forwarder frontend msgs_in %d, backend msgs_out %d"
            % (fin, bout))
        check(got <= bout <= fin <= 3,
              "S1: counters disagree with reality: received %d, backend "
              "msgs_out %d, frontend msgs_in %d, sent 3" % (got, bout, fin))


# ---------------------------------------------------------------------------
# S2: the handshake, through zrelay forwarder (5559/5560) and zrelay queue
# (5561/5562)


def s2_trial(zrelay, workdir, n):
    """One run of the seed's S2 in the seed's order: subscriber, proxies,
    publisher. The subscriber starts before zrelay, so the ports are
    chosen first (by the kernel) and given to zrelay explicitly. Returns
    the number of messages the subscriber got."""
    for attempt in range(3):
        p = free_ports(4)
        ep = ["tcp://127.0.0.1:%d" % port for port in p]
        with Cleanup() as running:
            sub = running.add(Program(workdir, "s2_stable_subscriber.py", [
                ("tcp://127.0.0.1:5560", ep[1], 1),
                ("tcp://127.0.0.1:5562", ep[3], 1),
                bounded_subscriber("    while True:"),
            ], tag="s2_stable_subscriber.%d" % n))
            try:
                fwd = running.add(Relay(zrelay, "forwarder", "@" + ep[0],
                                        "@" + ep[1]))
                queue = running.add(Relay(zrelay, "queue", "@" + ep[2],
                                          "@" + ep[3]))
            except RelayStartError as e:
                if "in use" in str(e) and attempt < 2:
                    log("S2: a port was taken meanwhile, new ports (%s)" % e)
                    continue
                raise
            pub = running.add(Program(workdir, "s2_stable_publisher.py", [
                ("tcp://127.0.0.1:5559", ep[0], 1),
                ("tcp://127.0.0.1:5561", ep[2], 1),
            ], tag="s2_stable_publisher.%d" % n))
            pout = pub.wait(timeout=20)
            sout = sub.wait(timeout=20)
            log(sub.report().rstrip())
            log(pub.report().rstrip())
            check("Some error" not in sout + pout, "S2 trial %d: the seed "
                  "reported an error" % n)
            check("req =  b'Hello'" in sout, "S2 trial %d: the subscriber "
                  "did not get the handshake's Hello" % n)
            check("rep =  b'yes'" in pout, "S2 trial %d: the publisher did "
                  "not get the handshake's yes" % n)
            got = sout.count("Subscriber got  [b'Blablabla']")
            fs, qs = fwd.stats(), queue.stats()
            log("S2 trial %d: forwarder frontend msgs_in %d, backend "
                "msgs_out %d; queue requests %d, replies %d" % (
                    n, fs["frontend"]["msgs_in"], fs["backend"]["msgs_out"],
                    qs["frontend"]["msgs_in"], qs["backend"]["msgs_in"]))
            check(qs["frontend"]["msgs_in"] == 1
                  and qs["backend"]["msgs_out"] == 1
                  and qs["backend"]["msgs_in"] == 1
                  and qs["frontend"]["msgs_out"] == 1,
                  "S2 trial %d: the queue's counters do not show one "
                  "request and one reply: %s" % (n, json.dumps(qs)))
            check(got <= fs["backend"]["msgs_out"]
                  <= fs["frontend"]["msgs_in"] <= 3,
                  "S2 trial %d: forwarder counters disagree with reality "
                  "(received %d): %s" % (n, got, json.dumps(fs)))
            queue.stop()
            fwd.stop()
            return got
    raise Failure("S2: no free ports")


def scenario_s2(zrelay, workdir):
    # The handshake must complete every time. The seed's messages race the
    # subscription's way to the publisher (and the publisher's exit right
    # after sending), so one trial may rarely lose some: up to 3 trials,
    # at least one must deliver all 3.
    counts = []
    for n in range(1, 4):
        got = s2_trial(zrelay, workdir, n)
        counts.append(got)
        log("S2 trial %d: handshake done, subscriber received %d of 3"
            % (n, got))
        if got == 3:
            break
    log("S2: messages received per trial: %s" % counts)
    check(3 in counts, "S2: no trial delivered all 3 messages: %s" % counts)


# ---------------------------------------------------------------------------
# S4/S5: REQ clients and REP servers (written here, pyzmq) through zrelay
# queue in place of the seed's broker.


def reqrep(zrelay, nclients, nrequests, nservers, make_request):
    import zmq

    timeout_ms = 5000
    errors = []
    served = [0] * nservers
    replies = [0] * nclients
    stop = threading.Event()

    with Relay(zrelay, "queue") as relay:
        log("zrelay queue: frontend %s, backend %s" % (relay.frontend,
                                                        relay.backend))
        ctx = zmq.Context()

        def server(k, ready):
            rep = ctx.socket(zmq.REP)
            rep.setsockopt(zmq.LINGER, 0)
            event = getattr(zmq, "EVENT_HANDSHAKE_SUCCEEDED",
                            zmq.EVENT_CONNECTED)
            mon = rep.get_monitor_socket(event)
            try:
                rep.connect(relay.backend)
                # Ready once connected to the relay: so that every server
                # is there before the first request.
                if not mon.poll(timeout_ms):
                    errors.append("server %d: not connected within %d ms"
                                  % (k, timeout_ms))
                    return
                ready.set()
                name = b"server-%d" % k
                while not stop.is_set():
                    if rep.poll(50):
                        req = rep.recv_multipart()
                        rep.send_multipart([name] + req)
                        served[k] += 1
            except Exception as e:
                errors.append("server %d: %r" % (k, e))
            finally:
                rep.disable_monitor()
                mon.close(0)
                rep.close(0)

        def client(i):
            req = ctx.socket(zmq.REQ)
            req.setsockopt(zmq.LINGER, 0)
            req.setsockopt(zmq.RCVTIMEO, timeout_ms)
            try:
                req.connect(relay.frontend)
                for j in range(nrequests):
                    request = make_request(i, j)
                    req.send_multipart(request)
                    try:
                        reply = req.recv_multipart()
                    except zmq.Again:
                        errors.append("client %d: no reply to request %d "
                                      "within %d ms" % (i, j, timeout_ms))
                        return
                    # REP put its name first; the rest must be this very
                    # request, every frame, in order.
                    if (len(reply) != len(request) + 1
                            or not reply[0].startswith(b"server-")
                            or reply[1:] != request):
                        errors.append("client %d: request %d got the reply "
                                      "%r" % (i, j, [f[:40] for f in reply]))
                        return
                    replies[i] += 1
            except Exception as e:
                errors.append("client %d: %r" % (i, e))
            finally:
                req.close(0)

        readies = [threading.Event() for _ in range(nservers)]
        servers = [threading.Thread(target=server, args=(k, readies[k]),
                                    daemon=True) for k in range(nservers)]
        for t in servers:
            t.start()
        for k, ready in enumerate(readies):
            check(ready.wait(timeout_ms / 1000.0 + 5) and not errors,
                  "server %d not ready: %s" % (k, errors))
        clients = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(nclients)]
        for t in clients:
            t.start()
        deadline = time.monotonic() + 30
        for t in clients:
            t.join(max(0, deadline - time.monotonic()))
        hung = sum(t.is_alive() for t in clients)
        stop.set()
        for t in servers:
            t.join(5)
        check(not hung, "%d client(s) still running after 30 s" % hung)
        check(not errors, "errors:\n" + indent("\n".join(errors)))
        ctx.term()
        total = nclients * nrequests
        log("replies per client: %s; requests served per server: %s"
            % (replies, served))
        check(replies == [nrequests] * nclients,
              "replies per client %s, want %d each" % (replies, nrequests))
        check(sum(served) == total, "servers served %d, want %d"
              % (sum(served), total))
        stats = relay.stats()
        f, b = stats["frontend"], stats["backend"]
        log("queue counters: frontend in %d out %d, backend in %d out %d"
            % (f["msgs_in"], f["msgs_out"], b["msgs_in"], b["msgs_out"]))
        check(f["msgs_in"] == b["msgs_out"] == b["msgs_in"] == f["msgs_out"]
              == total, "queue counters disagree with the %d round trips: "
              "%s" % (total, json.dumps(stats)))
        return served


def scenario_s4(zrelay, workdir):
    # S4: 3 clients x 20 requests, 2 servers; every reply to its asker
    # (the reply carries the client's and request's numbers), both
    # servers did work.
    served = reqrep(zrelay, 3, 20, 2,
                    lambda i, j: [b"client %d request %d" % (i, j)])
    check(all(served), "S4: a server did no work: %s" % served)


def scenario_s5(zrelay, workdir):
    # S5: the seed's hand-written broker forwards whole messages, every
    # frame: requests of several frames (one empty, one 64 KiB) go
    # through zrelay queue and come back intact to the client that asked.
    big = bytes(range(256)) * 256
    served = reqrep(zrelay, 4, 10, 3,
                    lambda i, j: [b"client-%d" % i, b"request-%d" % j, b"",
                                  big[j:] + b"%d/%d" % (i, j)])
    check(sum(1 for s in served if s) >= 2,
          "S5: fewer than 2 servers did work: %s" % served)


# ---------------------------------------------------------------------------
# S6: s6_asyncsrv.py with zrelay queue as its server's proxy

S6_REQUESTS = 4  # per client


def s6_trial(zrelay, workdir, n):
    with Cleanup() as running, \
            Relay(zrelay, "queue") as relay:
        log("zrelay queue: frontend %s, backend %s" % (relay.frontend,
                                                        relay.backend))
        subs = [
            # The clients connect to zrelay's ROUTER frontend.
            ("socket.connect('tcp://localhost:5570')",
             "socket.connect('%s')  # interop: zrelay's frontend"
             % relay.frontend, 1),
            # Bounded clients (run length): S6_REQUESTS requests each.
            ("        while True:\n            reqs = reqs + 1",
             "        while reqs < %d:  # interop: bounded, was while True\n"
             "            reqs = reqs + 1" % S6_REQUESTS, 1),
            # The ServerTask keeps its context and starts its workers, but
            # zrelay queue is its proxy: it binds neither socket and,
            # instead of zmq.proxy, blocks as zmq.proxy did.
            ("frontend.bind('tcp://*:5570')",
             "pass  # interop: zrelay queue binds the ROUTER frontend", 1),
            ("backend.bind('inproc://backend')",
             "pass  # interop: zrelay queue binds the DEALER backend", 1),
            ("zmq.proxy(frontend, backend)",
             "threading.Event().wait()  # interop: zrelay is the proxy", 1),
            # Seed defect: ServerWorker.__init__ takes (context, id).
            ("worker = ServerWorker(context)",
             "worker = ServerWorker(context, i)  # interop: seed defect, "
             "id was missing", 1),
            # The workers reach the proxy's backend over tcp, not inproc.
            ("worker.connect('inproc://backend')",
             "worker.connect('%s')  # interop: zrelay's backend"
             % relay.backend, 1),
            # Run length: main joined the never-ending server; it now ends
            # the program once the (bounded) clients are done.
            ("    server.join()",
             "    import os  # interop: end when the clients end\n"
             "    [t.join() for t in threading.enumerate()"
             " if isinstance(t, ClientTask)]\n"
             "    sys.stdout.flush()\n"
             "    os._exit(0)", 1),
        ]
        prog = running.add(Program(workdir, "s6_asyncsrv.py", subs,
                                   tag="s6_asyncsrv.%d" % n))
        # Each request is followed by at most 5 polls of 1 s.
        out = prog.wait(timeout=S6_REQUESTS * 5 + 20)
        check("Traceback" not in prog.stderr(), "S6: an exception\n"
              + prog.report())
        log(prog.report().rstrip())
        clients = ["----%d" % i for i in range(3)]
        for i in range(3):
            check("Client %s started" % clients[i] in out,
                  "S6: client %d did not start" % i)
        for k in range(5):
            check("Worker-%d started" % k in out,
                  "S6: worker %d did not start" % k)
        # Output lines of several threads may run together (the seed mixes
        # print and tprint), so match anywhere, not per line.
        asked = set(re.findall(r"Worker-\d+ received b'request #(\d+)' "
                               r"from b'(----\d+)'", out))
        received = re.findall(r"Client (\S+) received: (b'[^']*')", out)
        check(len(received) == out.count(" received: "),
              "S6: a client received something unexpected\n"
              + prog.report())
        per_client = {c: 0 for c in clients}
        for ident, msg in received:
            m = re.match(r"b'request #(\d+)'$", msg)
            check(ident in per_client and m
                  and 1 <= int(m.group(1)) <= S6_REQUESTS,
                  "S6: client %s received %s, not one of its requests"
                  % (ident, msg))
            # The worker echoes what it received from this client.
            check((m.group(1), ident) in asked,
                  "S6: client %s received %s, but no worker got that "
                  "request from it" % (ident, msg))
            per_client[ident] += 1
        stats = relay.stats()
        f, b = stats["frontend"], stats["backend"]
        log("S6 trial %d: replies per client %s; queue counters: requests "
            "in %d out %d, replies in %d out %d, dropped no_route %d"
            % (n, per_client, f["msgs_in"], b["msgs_out"], b["msgs_in"],
               f["msgs_out"], f["drops"]["no_route"]))
        check(f["msgs_in"] == b["msgs_out"] == 3 * S6_REQUESTS,
              "S6: queue counters disagree with the %d requests sent: %s"
              % (3 * S6_REQUESTS, json.dumps(stats)))
        check(len(received) <= f["msgs_out"] <= b["msgs_in"],
              "S6: queue counters disagree with the %d replies received: %s"
              % (len(received), json.dumps(stats)))
        return per_client


def scenario_s6(zrelay, workdir):
    # Every reply goes to the client that asked (checked above). That each
    # client gets any reply at all is up to the seed's workers, which
    # answer a request 0 to 4 times at random: a client sees none with
    # probability (1/5)**S6_REQUESTS. Only that outcome earns a second
    # trial; a misrouted reply fails at once.
    for n in (1, 2):
        per_client = s6_trial(zrelay, workdir, n)
        if all(per_client.values()):
            return
        log("S6 trial %d: a client got no reply (the seed's workers chose "
            "0 replies for each of its requests): %s" % (n, per_client))
    raise Failure("S6: a client got no reply in 2 trials: %s" % per_client)


# ---------------------------------------------------------------------------
# The seed's S2 cured in the broker: the seed's S1 programs (S2's story) in
# the seed's start order, subscriber, proxy, publisher, with the
# publisher's PUB changed to PUSH and nothing else, through a forwarder
# with a PULL frontend that holds publications until a subscription is
# there: 3 of 3, every trial.

GATE_TRIALS = 20
GATE_BATCH = 5


def gate_trial(zrelay, workdir, n, running):
    """Start one trial; returns (subscriber, publisher, relay)."""
    for attempt in range(3):
        front, back = ["tcp://127.0.0.1:%d" % p for p in free_ports(2)]
        sub = running.add(Program(workdir, "s1_subscriber.py", [
            ("tcp://127.0.0.1:5560", back, 1),
            bounded_subscriber(),
        ], tag="s1_subscriber.gate%d" % n))
        try:
            relay = running.add(Relay(zrelay, "forwarder", "@" + front,
                                      "@" + back, extra=[
                                          "--ingest", "pull",
                                          "--hold-until", "1"]))
        except RelayStartError as e:
            sub.kill()
            if "in use" in str(e) and attempt < 2:
                continue
            raise
        pub = running.add(Program(workdir, "s1_publisher.py", [
            ("tcp://127.0.0.1:5559", front, 1),
            # interop: the one change, PUB to PUSH (PUSH queues, PUB drops)
            ("context.socket(zmq.PUB)", "context.socket(zmq.PUSH)", 1),
        ], tag="s1_publisher.gate%d" % n))
        return sub, pub, relay
    raise Failure("gate: no free ports")


def scenario_gate(zrelay, workdir):
    results = []
    for first in range(0, GATE_TRIALS, GATE_BATCH):
        with Cleanup() as running:
            trials = [gate_trial(zrelay, workdir, n, running)
                      for n in range(first, first + GATE_BATCH)]
            for n, (sub, pub, relay) in enumerate(trials, first):
                pub.wait(timeout=30)
                out = sub.wait(timeout=30)
                got = out.count("Subscriber got  [b'Hello there']")
                gate = relay.stats().get("gate", {})
                relay.stop()
                log("gate trial %d: %d of 3 (gate: %s)" % (n, got,
                                                           json.dumps(gate)))
                results.append(got)
                check(got == 3, "gate trial %d: the subscriber got %d of 3"
                      "\n%s" % (n, got, sub.report()))
    log("gate: %d trials, 3 of 3 in each: %s" % (len(results), results))


# ---------------------------------------------------------------------------
# S3 across real networks: a publisher in one network namespace binds
# there; zrelay, between the two, connects its frontend to it and binds
# its backend on the other network; a subscriber in the second namespace
# gets the topics it asked for, and only those reach zrelay. Needs root
# (network namespaces and veth pairs); otherwise skipped, with the reason.

NETNS_PUBLISHER = r"""
import sys, threading, time, zmq
ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
pub.bind(sys.argv[1])
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:
    n += 1
    pub.send_multipart([b"A", b"%d" % n])
    pub.send_multipart([b"B", b"%d" % n])
    threading.Event().wait(0.01)  # a publication every 10 ms
"""

NETNS_SUBSCRIBER = r"""
import sys, zmq
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"A")
sub.connect(sys.argv[1])
got = 0
while got < 20 and sub.poll(10000):
    topic, value = sub.recv_multipart()
    assert topic == b"A", topic
    got += 1
print("got", got, flush=True)
"""


class Spawned:
    """A helper process of a scenario, killed by Cleanup."""

    def __init__(self, args):
        self.proc = subprocess.Popen(args)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def sh(*args, check_rc=True):
    res = subprocess.run(list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=20)
    if check_rc and res.returncode != 0:
        raise Failure("%s: exit %d: %s" % (" ".join(args), res.returncode,
                                          res.stderr.decode().strip()))
    return res


def scenario_s3_netns(zrelay, workdir):
    if os.geteuid() != 0:
        print("SKIP: network namespaces need root (this runs as uid %d)"
              % os.geteuid())
        sys.exit(77)
    ip = ip_command()
    if not ip:
        print("SKIP: no 'ip' command (iproute2)")
        sys.exit(77)
    tag = "%d" % (os.getpid() % 100000)
    net = 200 + os.getpid() % 50
    ns_pub, ns_sub = "zrpub" + tag, "zrsub" + tag
    probe = sh(ip, "netns", "add", ns_pub, check_rc=False)
    if probe.returncode != 0:
        print("SKIP: cannot create a network namespace here: %s"
              % probe.stderr.decode().strip())
        sys.exit(77)
    try:
        sh(ip, "netns", "add", ns_sub)
        for ns, side, host in ((ns_pub, "p", 1), (ns_sub, "s", 2)):
            outer, inner = "zr%so%s" % (side, tag), "zr%si%s" % (side, tag)
            sh(ip, "link", "add", outer, "type", "veth", "peer", "name",
               inner)
            sh(ip, "link", "set", inner, "netns", ns)
            sh(ip, "addr", "add", "10.%d.%d.1/24" % (net, host), "dev", outer)
            sh(ip, "link", "set", outer, "up")
            sh(ip, "netns", "exec", ns, ip, "addr", "add",
               "10.%d.%d.2/24" % (net, host), "dev", inner)
            sh(ip, "netns", "exec", ns, ip, "link", "set", inner, "up")
            sh(ip, "netns", "exec", ns, ip, "link", "set", "lo", "up")
        pub_ep = "tcp://10.%d.1.2:5600" % net
        with Cleanup() as running:
            pubf = os.path.join(workdir, "netns_pub.py")
            subf = os.path.join(workdir, "netns_sub.py")
            with open(pubf, "w") as f:
                f.write(NETNS_PUBLISHER)
            with open(subf, "w") as f:
                f.write(NETNS_SUBSCRIBER)
            running.add(Spawned([ip, "netns", "exec", ns_pub, PYTHON, pubf,
                                 pub_ep, "30"]))
            relay = running.add(Relay(
                zrelay, "forwarder", ">" + pub_ep,
                "@tcp://10.%d.2.1:*" % net))
            log("zrelay forwarder between namespaces: frontend %s, backend %s"
                % (relay.frontend, relay.backend))
            sub = subprocess.run([ip, "netns", "exec", ns_sub, PYTHON, subf,
                                  relay.backend], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=30)
            out = sub.stdout.decode()
            check(sub.returncode == 0 and "got 20" in out,
                  "the subscriber in %s: exit %d, %r %r" % (
                      ns_sub, sub.returncode, out, sub.stderr.decode()))
            stats = relay.stats()
            fin = stats["frontend"]["msgs_in"]
            bout = stats["backend"]["msgs_out"]
            log("s3_netns: frontend msgs_in %d, backend msgs_out %d" % (
                fin, bout))
            # Its subscription to A crossed both networks to the publisher:
            # B never reached zrelay.
            check(stats["frontend"]["msgs_out"] >= 1,
                  "no subscription went upstream")
            check(fin == bout, "zrelay received messages nobody wanted "
                  "(B): frontend in %d, backend out %d" % (fin, bout))
            relay.stop()
    finally:
        for ns in (ns_pub, ns_sub):
            sh(ip, "netns", "del", ns, check_rc=False)


# ---------------------------------------------------------------------------
# The broker's worker protocols from pyzmq, written from ZeroMQ RFC 6
# (Paranoid Pirate) and the Guide's lbbroker worker, and a kill -9 of a
# worker with a request in flight: the request is answered by another
# worker within (liveness + 1) x heartbeat + 1 s, once; the client sent
# it once.

PPP_WORKER = r"""
import sys, threading, time, zmq
READY, HEARTBEAT = b"\x01", b"\x02"
ident, endpoint, service = sys.argv[1], sys.argv[2], float(sys.argv[3])
ctx = zmq.Context()
w = ctx.socket(zmq.DEALER)
w.setsockopt(zmq.IDENTITY, ident.encode())
w.linger = 0
w.connect(endpoint)
w.send(READY)
next_beat = time.monotonic() + 0.1
while True:
    if w.poll(100):
        frames = w.recv_multipart()
        if len(frames) == 1:
            continue                         # the broker's heartbeat
        print("got", frames[-1].decode(), flush=True)
        threading.Event().wait(service)      # the work
        w.send_multipart(frames[:-1] + [ident.encode() + b": " + frames[-1]])
    if time.monotonic() >= next_beat:
        w.send(HEARTBEAT)
        next_beat = time.monotonic() + 0.1
"""

REQ_WORKER = r"""
import sys, zmq
ident, endpoint = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
w = ctx.socket(zmq.REQ)
w.setsockopt(zmq.IDENTITY, ident.encode())
w.connect(endpoint)
w.send(b"READY")
while True:
    frames = w.recv_multipart()           # client envelope, "", request
    w.send_multipart(frames[:-1] + [ident.encode() + b": " + frames[-1]])
"""


class Worker(Spawned):
    def __init__(self, workdir, script, args):
        path = os.path.join(workdir, "worker_%s.py" % args[0])
        with open(path, "w") as f:
            f.write(script)
        self.out = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([PYTHON, "-u", path] + args,
                                     stdout=self.out)

    def got(self):
        self.out.seek(0)
        return [l.split(" ", 1)[1] for l in self.out.read().splitlines()
                if l.startswith("got ")]


def scenario_broker(zrelay, workdir):
    import zmq
    heartbeat, liveness = 0.1, 3
    with Cleanup() as running:
        relay = running.add(Relay(zrelay, "queue", extra=[
            "--strategy", "lru", "--heartbeat", "100ms"]))
        ppp = [running.add(Worker(workdir, PPP_WORKER,
                                  ["ppp%d" % i, relay.backend, "0.3"]))
               for i in range(3)]
        req = running.add(Worker(workdir, REQ_WORKER,
                                 ["req0", relay.backend]))
        wait_for("4 workers ready", lambda: relay.stats()["broker"][
            "workers"]["known"] == 4, 15)
        ctx = zmq.Context()
        client = ctx.socket(zmq.DEALER)
        client.linger = 0
        client.connect(relay.frontend)
        n = 40
        for i in range(n):
            client.send_multipart([b"", b"request %d" % i])
        # Wait until the Paranoid Pirates all had work, then kill one.
        deadline = time.monotonic() + 15
        while not all(w.got() for w in ppp):
            check(time.monotonic() < deadline,
                  "not every worker got work: %s; broker %s" % (
                      [w.got() for w in ppp + [req]],
                      json.dumps(relay.stats()["broker"])))
            threading.Event().wait(0.01)
        victim = ppp[0]
        lost = victim.got()[-1]
        victim.proc.kill()
        victim.proc.wait()
        killed_at = time.monotonic()
        log("killed ppp0 (kill -9) with %r in flight" % lost)
        answers = {}
        deadline = time.monotonic() + 30
        while len(answers) < n:
            left = deadline - time.monotonic()
            check(left > 0, "only %d of %d answered: %s" % (
                len(answers), n, sorted(answers)))
            if not client.poll(int(left * 1000)):
                continue
            empty, body = client.recv_multipart()
            who, text = body.decode().split(": ", 1)
            check(text not in answers, "%r answered twice" % text)
            answers[text] = (who, time.monotonic())
        who, at = answers[lost]
        limit = (liveness + 1) * heartbeat + 1
        log("%r answered by %s %.2f s after the kill (limit %.1f s)" % (
            lost, who, at - killed_at, limit))
        check(who != "ppp0", "the killed worker answered")
        check(at - killed_at <= limit + 0.3 * 2,  # plus its service time
              "the lost request took %.2f s" % (at - killed_at))
        stats = relay.stats()["broker"]
        log("broker: %s" % json.dumps(stats))
        check(stats["requests"]["retried"] >= 1, "no retry counted")
        check(stats["requests"]["answered"] == n, "answered %d, not %d" % (
            stats["requests"]["answered"], n))
        check(any(w == "req0" for w, _ in answers.values()),
              "the lbbroker REQ worker got no work")
        client.close()
        ctx.term()
        relay.stop()


# ---------------------------------------------------------------------------
# The embedded default (`zrelay run`, what `make run` starts) with the
# seed's S1 programs on the seed's own ports, not one endpoint changed.
# It runs in a network namespace of its own, so that those fixed ports are
# free whatever else this host runs (a `make run` of its own, say).

SEED_PORTS = (5558, 5559, 5560, 5561, 5562, 5565, 5570, 5571)
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def ip_command():
    for path in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"):
        if os.access(path, os.X_OK):
            return path
    return None


def private_network():
    """Moves this process, and whatever it starts from now on, into a new
    network namespace with only loopback, up: as root, unshare(2) with
    CLONE_NEWNET; otherwise with CLONE_NEWUSER as well, mapping this user
    to root there (what `unshare --net --map-root-user` does). Must run
    while this process has a single thread. Returns (True, how) or
    (False, why not): then this process stays in the host's network."""
    import ctypes
    ip = ip_command()
    if not ip:
        return False, "no 'ip' command (iproute2) to bring up loopback"
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0:
        flags, how = CLONE_NEWNET, "unshare(CLONE_NEWNET)"
    else:
        flags = CLONE_NEWUSER | CLONE_NEWNET
        how = "unshare(CLONE_NEWUSER|CLONE_NEWNET), uid %d as root" % uid
    if libc.unshare(flags) != 0:
        return False, "%s: %s" % (how, os.strerror(ctypes.get_errno()))
    # Past unshare there is no way back to the host's network: a failure
    # from here on is the test's.
    if flags & CLONE_NEWUSER:
        for name, text in (("setgroups", "deny"),
                           ("uid_map", "0 %d 1" % uid),
                           ("gid_map", "0 %d 1" % gid)):
            try:
                with open("/proc/self/" + name, "w") as f:
                    f.write(text)
            except OSError as e:
                raise Failure("after %s: /proc/self/%s: %s" % (how, name, e))
    sh(ip, "link", "set", "lo", "up")
    return True, how


def scenario_default(zrelay, workdir):
    private, how = private_network()
    if private:
        log("default: in a network namespace of its own (%s): the seed's "
            "ports are free" % how)
    else:
        log("default: in the host's network namespace, since a private "
            "one is not possible here (%s)" % how)
    for port in SEED_PORTS:
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as e:
            raise Failure("port %d on 127.0.0.1 is taken (%s): the embedded "
                          "default needs 5558-5571, and this runs in the "
                          "host's network namespace (%s); free the port or "
                          "run as root" % (port, e, how))
        finally:
            probe.close()
    stderr = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([zrelay, "run"], stdout=subprocess.PIPE,
                            stderr=stderr)
    try:
        deadline = time.monotonic() + 15
        table = []
        while True:
            check(time.monotonic() < deadline, "zrelay run: no 'ready'")
            line = proc.stdout.readline().decode()
            check(line, "zrelay run exited before 'ready'")
            if line.strip() == "ready":
                break
            table.append(line.rstrip())
        log("zrelay run printed:\n" + indent("\n".join(table)))
        for want in ("seed-pubsub", "seed-handshake", "seed-async",
                     "services", "tcp://127.0.0.1:5555",
                     "tcp://127.0.0.1:5558", "tcp://127.0.0.1:5559",
                     "tcp://127.0.0.1:5560", "tcp://127.0.0.1:5561",
                     "tcp://127.0.0.1:5562", "tcp://127.0.0.1:5570",
                     "tcp://127.0.0.1:5571"):
            check(any(want in l for l in table),
                  "the table does not show %s" % want)
        with Cleanup() as running:
            # Only the run length changes: the seed's endpoints stay.
            sub = running.add(Program(workdir, "s1_subscriber.py",
                                      [bounded_subscriber()]))

            def subscribed():
                res = subprocess.run(
                    [zrelay, "ctl", "stats", "seed-pubsub", "--json"],
                    stdout=subprocess.PIPE, timeout=15)
                check(res.returncode == 0, "zrelay ctl stats failed")
                return json.loads(res.stdout)["backend"]["msgs_in"] >= 1
            wait_for("subscription at seed-pubsub", subscribed, 15)
            pub = running.add(Program(workdir, "s1_publisher.py", []))
            pub.wait(timeout=20)
            out = sub.wait(timeout=20)
            got = out.count("Subscriber got  [b'Hello there']")
            log("default: subscriber received %d of 3" % got)
            check(got >= 2, "the seed's S1 through the embedded default: "
                  "%d of 3 arrived, want at least 2" % got)
        # The default control endpoint, with no endpoint given.
        res = subprocess.run([zrelay, "ctl", "terminate"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=15)
        check(res.returncode == 0 and res.stdout == b"terminated\n",
              "zrelay ctl terminate: %d %r %r" % (res.returncode, res.stdout,
                                                   res.stderr))
        rc = proc.wait(timeout=15)
        check(rc == 0, "zrelay run exited %d after terminate" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.seek(0)
        log("zrelay run stderr:\n" + indent(stderr.read()))


# ---------------------------------------------------------------------------
# The client verbs (zrelay pub, sub, req, rep, push, pull) against pyzmq
# peers: pyzmq's own UTF-8 decoder and base64 judge `--format json`.


def client_run(zrelay, args, stdin=b"", timeout=20):
    """Run `zrelay ARGS` with STDIN to its end: (status, stdout, stderr)."""
    proc = subprocess.Popen([zrelay] + args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise Failure("zrelay %s: still running after %ds; stderr:\n%s"
                      % (" ".join(args), timeout, indent(err.decode())))
    return proc.returncode, out, err.decode(errors="replace")


class Client:
    """`zrelay ARGS` in the background; finish() waits for its end."""

    def __init__(self, zrelay, args):
        self.args = args
        self.proc = subprocess.Popen([zrelay] + args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)

    def finish(self, want=0, timeout=20):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("zrelay %s: still running after %ds"
                          % (" ".join(self.args), timeout))
        check(self.proc.returncode == want, "zrelay %s exited %d, want %d; "
              "stderr:\n%s" % (" ".join(self.args), self.proc.returncode,
                               want, indent(err.decode(errors="replace"))))
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def sync_wait(ctx, pub, sync_endpoint, n, prefix=b"", timeout_ms=10000):
    """The publisher's side of docs/SYNC.md, as that page writes it."""
    import zmq
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(sync_endpoint)
    s.send_multipart([b"", b"WAIT", str(n).encode(), prefix,
                      str(timeout_ms).encode()])
    probe = None
    while True:
        if s.poll(10 if probe else timeout_ms + 1000):
            _, verdict, detail = s.recv_multipart()
            if verdict == b"PROBE":
                probe = detail
            else:
                s.close()
                return verdict == b"GO", int(detail)
        elif probe is None:
            s.close()
            return False, 0
        if probe:
            pub.send(probe, zmq.NOBLOCK)


def client_frames():
    """Multipart messages of awkward frames, the same on every run: every
    JSON-relevant UTF-8 case, then random bytes."""
    import random
    rng = random.Random(20261125)
    cases = [b"", b"plain", "h\u00e9llo \u20ac \U0001F600".encode(),
             b"a\x00b", b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xf4\x8f\xbf\xbf",
             b"\xc0\x80", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
             b"\xc3", b"\x80", b"\xff", b"\"\\\n\t\x01\x7f"]
    msgs = [[b"t", c] for c in cases]
    for _ in range(40):
        msgs.append([b"t"] + [bytes(rng.randrange(256) for _ in
                                    range(rng.randrange(40)))
                              for _ in range(rng.randrange(1, 4))])
    msgs.append([b"t", bytes(rng.randrange(256) for _ in range(100000))])
    return msgs


def parse_raw(data):
    msgs, cur, pos = [], [], 0
    while pos < len(data):
        check(len(data) - pos >= 9, "raw: a header cut short")
        flags, n = data[pos], int.from_bytes(data[pos + 1:pos + 9], "big")
        check(flags in (0, 1), "raw: flags %#x" % flags)
        cur.append(data[pos + 9:pos + 9 + n])
        check(len(cur[-1]) == n, "raw: a frame cut short")
        pos += 9 + n
        if not flags & 1:
            msgs.append(cur)
            cur = []
    check(not cur, "raw: the output ends inside a message")
    return msgs


def scenario_client(zrelay, workdir):
    import base64
    import zmq
    ctx = zmq.Context()
    with Cleanup() as running:
        # 1. A pyzmq PUB, synced as docs/SYNC.md says, through a forwarder
        # to `zrelay sub --format json` and `--format raw`.
        relay = running.add(Relay(zrelay, "forwarder",
                                  extra=["--sync", ANY]))
        msgs = client_frames()
        n = str(len(msgs))
        subs = [running.add(Client(zrelay, [
            "sub", ">" + relay.backend, "--topic", "t", "--format", fmt,
            "--count", n, "--timeout", "15s"])) for fmt in ("json", "raw")]
        pub = ctx.socket(zmq.PUB)
        pub.linger = 5000
        pub.sndhwm = 0
        pub.connect(relay.frontend)
        go, count = sync_wait(ctx, pub, relay.endpoints["sync"], 2, b"t")
        check(go, "pyzmq PUB: no go from the forwarder (%d)" % count)
        for m in msgs:
            pub.send_multipart(m)
        lines = subs[0].finish().decode("utf-8").splitlines()
        check(len(lines) == len(msgs), "json: %d lines for %d messages"
              % (len(lines), len(msgs)))
        texts = 0
        for i, (line, want) in enumerate(zip(lines, msgs)):
            frames = json.loads(line)["frames"]
            got = []
            for f, w in zip(frames, want):
                check(len(f) == 1, "json line %d: %r" % (i, f))
                try:
                    w.decode("utf-8")
                    valid = True
                except UnicodeDecodeError:
                    valid = False
                check(("text" in f) == valid, "json line %d: %r for %r, "
                      "but Python says valid UTF-8: %s" % (i, f, w, valid))
                texts += valid
                got.append(f["text"].encode("utf-8") if "text" in f
                           else base64.b64decode(f["base64"], validate=True))
            check(got == want, "json line %d: %r, sent %r" % (i, got, want))
        raw = parse_raw(subs[1].finish())
        check(raw == msgs, "raw: what came differs from what was sent")
        log("client: %d binary multipart messages from a pyzmq PUB, "
            "byte-exact in json (%d text frames) and raw" % (len(msgs), texts))
        pub.close()
        relay.stop()

        # 2. `zrelay pub --sync` through a forwarder to a pyzmq SUB.
        relay = running.add(Relay(zrelay, "forwarder",
                                  extra=["--sync", ANY]))
        sub = ctx.socket(zmq.SUB)
        sub.linger = 0
        sub.subscribe(b"news")
        sub.connect(relay.backend)
        lines = b"".join(b"news|%d\n" % i for i in range(100))
        rc, out, err = client_run(zrelay, [
            "pub", ">" + relay.frontend, "--sync", relay.endpoints["sync"],
            "--sync-prefix", "news", "--frames-sep", "|", "--timeout",
            "10s"], lines)
        check(rc == 0, "zrelay pub --sync: exit %d: %s" % (rc, err))
        for i in range(100):
            check(sub.poll(10000), "pyzmq SUB: message %d did not come" % i)
            got = sub.recv_multipart()
            check(got == [b"news", b"%d" % i], "pyzmq SUB: %r" % got)
        log("client: zrelay pub --sync: 100 of 100 at a pyzmq SUB")
        sub.close()
        relay.stop()

        # 3. A pyzmq REP answers `zrelay req` (lines from stdin).
        rep = ctx.socket(zmq.REP)
        rep.linger = 0
        port = rep.bind_to_random_port("tcp://127.0.0.1")

        def serve(k):
            for _ in range(k):
                if not rep.poll(15000):
                    return
                rep.send_multipart([b"re:" + f for f in rep.recv_multipart()])
        t = threading.Thread(target=serve, args=(3,), daemon=True)
        t.start()
        rc, out, err = client_run(zrelay, [
            "req", ">tcp://127.0.0.1:%d" % port, "--timeout", "10s",
            "--frames-sep", " "], b"one\ntwo parts\n\xff\n")
        check(rc == 0, "zrelay req: exit %d: %s" % (rc, err))
        check(out == b"re:one\nre:two re:parts\nre:\xff\n",
              "zrelay req printed %r" % out)
        t.join(15)
        # ... and a pyzmq REQ asks `zrelay rep --echo`.
        req = ctx.socket(zmq.REQ)
        req.linger = 0
        port = req.bind_to_random_port("tcp://127.0.0.1")
        server = running.add(Client(zrelay, [
            "rep", ">tcp://127.0.0.1:%d" % port, "--echo", "--count", "2",
            "--format", "hex", "--timeout", "10s"]))
        for m in ([b"\x00\x01", b"", b"x"], [b"single"]):
            req.send_multipart(m)
            check(req.poll(10000), "zrelay rep --echo did not answer")
            got = req.recv_multipart()
            check(got == m, "zrelay rep --echo answered %r to %r" % (got, m))
        out = server.finish()
        check(out == b"0001||78\n73696e676c65\n", "zrelay rep printed %r"
              % out)
        log("client: zrelay req <-> pyzmq REP, pyzmq REQ <-> zrelay rep")
        rep.close()
        req.close()

        # 4. `zrelay push` (1000 lines of stdin) to a pyzmq PULL.
        pull = ctx.socket(zmq.PULL)
        pull.linger = 0
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        lines = b"".join(b"line %d\n" % i for i in range(1000))
        rc, out, err = client_run(zrelay, [
            "push", ">tcp://127.0.0.1:%d" % port, "--timeout", "10s"], lines)
        check(rc == 0, "zrelay push: exit %d: %s" % (rc, err))
        for i in range(1000):
            check(pull.poll(10000), "pyzmq PULL: line %d did not come" % i)
            got = pull.recv_multipart()
            check(got == [b"line %d" % i], "pyzmq PULL got %r" % got)
        log("client: zrelay push: 1000 of 1000 lines at a pyzmq PULL")
        pull.close()
    ctx.term()


SCENARIOS = {"default": scenario_default, "gate": scenario_gate,
             "s3_netns": scenario_s3_netns, "broker": scenario_broker, "s1": scenario_s1, "s2": scenario_s2, "s4": scenario_s4,
             "s5": scenario_s5, "s6": scenario_s6, "client": scenario_client}


class Timeout(BaseException):
    pass


def on_alarm(signum, frame):
    raise Timeout()


def main(argv):
    if len(argv) != 3 or argv[2] not in SCENARIOS:
        sys.stderr.write("usage: %s ZRELAY {%s}\n"
                         % (argv[0], "|".join(sorted(SCENARIOS))))
        return 2
    zrelay, name = os.path.abspath(argv[1]), argv[2]
    try:
        import zmq
    except ImportError as e:
        print("SKIP: %s cannot import zmq (%s); install python3-zmq"
              % (sys.executable, e))
        return 77
    log("%s: pyzmq %s, libzmq %s, %s" % (name, zmq.pyzmq_version(),
                                         zmq.zmq_version(), sys.executable))
    check(os.access(zrelay, os.X_OK), "%s is not executable" % zrelay)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(BUDGET[name])
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="zrelay-interop-") as wd:
            SCENARIOS[name](zrelay, wd)
    except Failure as e:
        print("FAIL %s: %s" % (name, e), flush=True)
        return 1
    except Timeout:
        print("FAIL %s: over its %d s budget" % (name, BUDGET[name]),
              flush=True)
        return 1
    finally:
        signal.alarm(0)
    print("PASS %s (%.1f s)" % (name, time.monotonic() - start), flush=True)
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # No waiting on leftover threads or sockets at interpreter exit.
    os._exit(code)
