"""test_http.py - the HTTP endpoint against the zrelay binary (issue 15).

    test_http.py ZRELAY CASE     CASE: daemon | prometheus | hostile

daemon      zrelay run with traffic on two devices: /metrics passes
            `promtool check metrics` with no warning, the counters moved
            by exactly the traffic sent; /stats is STATS; /healthz 503
            after `zrelay ctl stop`, 200 after reload; /readyz 503 while a
            connect-only device's peer is absent, 200 once it listens;
            404, 405; a taken port is refused naming it.
prometheus  a real Prometheus server (Debian's), on a free port with a
            temporary config and data directory, scrapes zrelay every
            second; its query API returns a positive rate of
            zrelay_messages_received_total. Exit 77 without the package.
hostile     `zrelay streamer --http`: slowloris connections and 200
            concurrent clients do not stop a legitimate scrape nor the
            relay; a slowloris is dropped; connections over the cap are
            refused and counted.

Every wait has a deadline and polls a state; nothing sleeps and hopes.
Exit 0 ok, 1 failed, 77 skipped (the reason printed).
"""
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import zmq

ZRELAY = None
DEADLINE = 30.0
SKIPPED = []


def fail(msg):
    print("FAIL " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(cmd, errpath, deadline=DEADLINE):
    """CMD started; (process, what it printed up to 'ready')."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=open(errpath, "w"))
    fd = proc.stdout.fileno()
    end = time.time() + deadline
    seen = b""
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            fail("%s exited before ready: %s" % (cmd[:2], open(errpath).read()))
        seen += chunk
        if b"\nready\n" in b"\n" + seen:
            return proc, seen.decode()
    proc.kill()
    fail("%s not ready within %.0f s" % (cmd[:2], deadline))


def stop(proc):
    proc.terminate()
    try:
        rc = proc.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("zrelay did not stop on SIGTERM")
    check(rc == 0, "zrelay exited %d on SIGTERM" % rc)


def get(url, method="GET"):
    """(status, content type, body)."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def wait_for(what, fn, deadline=DEADLINE):
    """Poll FN until it returns a true value; that value."""
    end = time.time() + deadline
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            fail("timed out waiting for " + what)
        time.sleep(0.05)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset of labels): value}; checks HELP/TYPE once each."""
    out, helped, typed = {}, set(), set()
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            name = line.split()[2]
            seen = helped if line.startswith("# HELP") else typed
            check(name not in seen, "%s twice for %s" % (line[:6], name))
            seen.add(name)
            continue
        m = SAMPLE.match(line)
        check(m is not None, "not a sample: %r" % line)
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        check(key not in out, "the series %r twice" % (key,))
        check(m.group(1) in typed, "%s has no # TYPE before it" % m.group(1))
        out[key] = float(m.group(3))
    return out


def value(metrics, name, **labels):
    key = (name, frozenset(labels.items()))
    check(key in metrics, "no sample %s%r" % (name, labels))
    return metrics[key]


def promtool(text):
    tool = shutil.which("promtool")
    if not tool:
        SKIPPED.append("promtool check metrics: promtool not installed "
                       "(Debian package prometheus; scripts/deps.sh)")
        return
    r = subprocess.run([tool, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=DEADLINE)
    out = (r.stdout + r.stderr).decode().strip()
    check(r.returncode == 0 and not out,
          "promtool check metrics: exit %d: %s" % (r.returncode, out))
    print("ok   promtool check metrics: no warnings (%d lines)"
          % len(text.splitlines()), flush=True)


def table_address(table, role):
    """The address of the daemon's ROLE line in zrelay run's table."""
    for line in table.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == "-" and f[1] == "daemon" and f[2] == role:
            return f[4]
    fail("no daemon %s line in: %s" % (role, table))


def device_address(table, device, role):
    for line in table.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == device and f[2] == role:
            return f[4]
    fail("no %s %s line in: %s" % (device, role, table))


def ctl(control, *args):
    r = subprocess.run([ZRELAY, "ctl", control] + list(args),
                       capture_output=True, timeout=DEADLINE)
    check(r.returncode == 0, "zrelay ctl %s: %s" % (" ".join(args),
                                                    r.stderr.decode()))
    return r.stdout.decode()


def run_daemon(tmp, extra=""):
    """zrelay run with a streamer 'pipe', a forwarder 'news' and EXTRA."""
    conf = os.path.join(tmp, "zrelay.conf")
    with open(conf, "w") as f:
        f.write("[zrelay]\ncontrol = tcp://127.0.0.1:*\n"
                "http = 127.0.0.1:0\n\n"
                "[streamer pipe]\nfrontend = @tcp://127.0.0.1:*\n"
                "backend = @tcp://127.0.0.1:*\n\n"
                "[forwarder news]\nfrontend = @tcp://127.0.0.1:*\n"
                "backend = @tcp://127.0.0.1:*\n" + extra)
    proc, table = start([ZRELAY, "run", conf],
                        os.path.join(tmp, "zrelay.err"))
    return proc, table, conf


# ---------------------------------------------------------------------
def case_daemon(tmp):
    # A connect-only device whose peer is absent: a port bound (so no one
    # else takes it) but not listening, so every connect is refused.
    hold = socket.socket()
    hold.bind(("127.0.0.1", 0))
    late_port = hold.getsockname()[1]
    proc, table, conf = run_daemon(
        tmp, "\n[streamer late]\nfrontend = @tcp://127.0.0.1:*\n"
        "backend = >tcp://127.0.0.1:%d\n" % late_port)
    url = table_address(table, "http")
    control = table_address(table, "control")
    check(url.startswith("http://127.0.0.1:"), "http line: " + url)

    # Healthy once every device's thread runs (they start as zrelay run
    # prints its table).
    wait_for("/healthz 200", lambda: get(url + "healthz")[0] == 200)
    st, _, body = get(url + "healthz")
    check(st == 200 and body == "ok\n", "/healthz: %d %r" % (st, body))
    # Ready: not while 'late' has not connected.
    st, ctype, body = get(url + "readyz")
    check(st == 503, "/readyz before the peer listens: %d %s" % (st, body))
    j = json.loads(body)
    check([d["name"] for d in j["devices"]] == ["late"], body)
    check(j["devices"][0]["waiting"] ==
          ["backend connect tcp://127.0.0.1:%d" % late_port], body)
    print("ok   /readyz 503 while late's peer is absent: " + body.strip())
    hold.close()
    ctx = zmq.Context()
    peer = ctx.socket(zmq.PULL)
    peer.bind("tcp://127.0.0.1:%d" % late_port)
    wait_for("/readyz 200", lambda: get(url + "readyz")[0] == 200)
    print("ok   /readyz 200 once it listens")

    # Traffic on two devices.
    N, M = 100, 50
    push = ctx.socket(zmq.PUSH)
    push.connect(device_address(table, "pipe", "frontend"))
    pull = ctx.socket(zmq.PULL)
    pull.connect(device_address(table, "pipe", "backend"))
    for i in range(N):
        push.send(b"%010d" % i)
    for i in range(N):
        check(pull.poll(DEADLINE * 1000), "pipe: message %d not relayed" % i)
        pull.recv()
    pub = ctx.socket(zmq.PUB)
    pub.connect(device_address(table, "news", "frontend"))
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(device_address(table, "news", "backend"))

    def subscribed():
        m = parse_metrics(get(url + "metrics")[2])
        # The subscription went through the relay to the publisher side.
        return value(m, "zrelay_messages_sent_total", device="news",
                     socket="frontend") >= 1
    wait_for("the subscription to reach the publisher", subscribed)
    # The PUB learns it asynchronously: its own pipe has it once a
    # message sent now arrives; send until then, then count from there.
    def first():
        pub.send(b"warmup")
        return sub.poll(100)
    wait_for("the first publication", first)
    while sub.poll(200):
        sub.recv()
    # Exact counts now from the control endpoint (/metrics may be up to
    # 100 ms old: rendered at most ten times a second).
    news = [d for d in json.loads(ctl(control, "stats", "--json"))["devices"]
            if d["name"] == "news"][0]
    before = {"frontend": (news["frontend"]["msgs_in"],
                           news["frontend"]["bytes_in"]),
              "backend": (news["backend"]["msgs_out"],
                          news["backend"]["bytes_out"])}
    for i in range(M):
        pub.send(b"news %04d" % i)
    for i in range(M):
        check(sub.poll(DEADLINE * 1000), "news: message %d not relayed" % i)
        sub.recv()

    def moved(m):
        return [value(m, "zrelay_messages_received_total", device="pipe",
                      socket="frontend"),
                value(m, "zrelay_messages_sent_total", device="pipe",
                      socket="backend"),
                value(m, "zrelay_received_bytes_total", device="pipe",
                      socket="frontend"),
                value(m, "zrelay_sent_bytes_total", device="pipe",
                      socket="backend"),
                value(m, "zrelay_messages_received_total", device="news",
                      socket="frontend") - before["frontend"][0],
                value(m, "zrelay_received_bytes_total", device="news",
                      socket="frontend") - before["frontend"][1],
                value(m, "zrelay_messages_sent_total", device="news",
                      socket="backend") - before["backend"][0],
                value(m, "zrelay_sent_bytes_total", device="news",
                      socket="backend") - before["backend"][1]]
    want = [N, N, 10 * N, 10 * N, M, 9 * M, M, 9 * M]
    last = [None]

    def exact():
        text = get(url + "metrics")[2]
        last[0] = moved(parse_metrics(text))
        return last[0] == want and text
    end = time.time() + 5
    while not exact():
        # The counts only grow: past the traffic sent, they stay wrong.
        check(time.time() < end and
              all(g <= w for g, w in zip(last[0], want)),
              "counters moved %r, the traffic was %r" % (last[0], want))
        time.sleep(0.05)
    text = exact()
    m = parse_metrics(text)
    promtool(text)
    check(value(m, "zrelay_build_info", version=subprocess.run(
        [ZRELAY, "--version"], capture_output=True).stdout.decode().split()[1],
        libzmq=zmq.zmq_version()) == 1, "build_info")
    check(value(m, "process_resident_memory_bytes") > 0, "rss")
    check(abs(value(m, "process_start_time_seconds") - time.time()) < 3600,
          "start time")
    check(value(m, "zrelay_device_up", device="pipe", type="streamer") == 1,
          "device_up")
    print("ok   counters moved by exactly the traffic: pipe %d messages, "
          "news %d" % (N, M))

    # /stats is STATS.
    st, ctype, body = get(url + "stats")
    check(st == 200 and ctype.startswith("application/json"), ctype)
    mine = json.loads(body)
    theirs = json.loads(ctl(control, "stats", "--json"))
    def keys(o, at=""):  # every key path, values aside (they move)
        if isinstance(o, dict):
            return set().union(*[keys(v, at + "." + k) | {at + "." + k}
                                 for k, v in o.items()] or [set()])
        if isinstance(o, list):
            return set().union(*[keys(v, "%s[%d]" % (at, i))
                                 for i, v in enumerate(o)] or [set()])
        return set()
    check(keys(mine) == keys(theirs) and
          mine["devices"][0]["frontend"]["msgs_in"] == N and
          theirs["devices"][0]["frontend"]["msgs_in"] == N,
          "/stats %s vs ctl stats %s" % (body[:200], theirs))
    print("ok   /stats is zrelay ctl stats")

    # Health: 503 after stop, 200 after reload.
    ctl(control, "stop", "pipe")
    st, ctype, body = get(url + "healthz")
    check(st == 503 and ctype.startswith("application/json"),
          "/healthz after stop: %d %s" % (st, body))
    check(json.loads(body)["devices"] == [{"name": "pipe",
                                           "state": "stopped"}], body)
    check(get(url + "readyz")[0] == 503, "/readyz after stop")
    wait_for("zrelay_device_up 0 after stop (/metrics: 100 ms old at most)",
             lambda: value(parse_metrics(get(url + "metrics")[2]),
                           "zrelay_device_up", device="pipe",
                           type="streamer") == 0, 5)
    print("ok   /healthz 503 after ctl stop: " + body.strip())
    ctl(control, "reload")
    wait_for("/healthz 200 after reload", lambda: get(url + "healthz")[0] ==
             200)
    print("ok   /healthz 200 after reload")

    # The rest of HTTP.
    check(get(url + "nope")[0] == 404, "unknown path")
    check(get(url + "metrics", "POST")[0] == 405, "POST")
    check(get(url + "metrics", "DELETE")[0] == 405, "DELETE")
    st, _, body = get(url + "metrics", "HEAD")
    check(st == 200 and body == "", "HEAD")
    print("ok   404, 405, HEAD")

    # A reload that moves the HTTP endpoint.
    port = url.rsplit(":", 1)[1].rstrip("/")
    with open(conf) as f:
        text = f.read()
    moved = free_port()
    with open(conf, "w") as f:
        f.write(text.replace("http = 127.0.0.1:0",
                             "http = 127.0.0.1:%d" % moved))
    ctl(control, "reload")
    url2 = "http://127.0.0.1:%d/" % moved

    def answers():
        try:
            return get(url2 + "healthz")[0] == 200
        except OSError:
            return False
    wait_for("the moved endpoint", answers)
    try:
        get(url + "healthz")
        fail("the old HTTP endpoint still answers after the move")
    except OSError:
        pass
    print("ok   a reload moves the HTTP endpoint")
    url, port = url2, str(moved)

    # A second daemon on the same HTTP port: refused, naming it.
    conf2 = os.path.join(tmp, "taken.conf")
    with open(conf2, "w") as f:
        f.write("[zrelay]\ncontrol = tcp://127.0.0.1:*\nhttp = 127.0.0.1:%s\n"
                "[streamer x]\nfrontend = @tcp://127.0.0.1:*\n"
                "backend = @tcp://127.0.0.1:*\n" % port)
    r = subprocess.run([ZRELAY, "run", conf2], capture_output=True,
                       timeout=DEADLINE)
    err = r.stderr.decode()
    check(r.returncode == 1 and
          "http: cannot bind 127.0.0.1:%s: Address already in use" % port
          in err, "a taken port: exit %d: %s" % (r.returncode, err))
    r = subprocess.run([ZRELAY, "check", "-"], input=b"[zrelay]\nhttp = "
                       b"127.0.0.1\n[streamer x]\nfrontend = @inproc://a\n"
                       b"backend = @inproc://b\n", capture_output=True)
    check(r.returncode == 2 and b"<stdin>:2: http: '127.0.0.1' is not "
          b"ADDRESS:PORT" in r.stderr, "a bad address: %s" % r.stderr)
    print("ok   a taken port and a bad address are named")
    # Beyond loopback: allowed, and logged.
    errpath = os.path.join(tmp, "wide.err")
    wide, lines = start([ZRELAY, "streamer", "--http", "*:0",
                         "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*"], errpath)
    check("http bind http://0.0.0.0:" in lines, lines)
    stop(wide)
    err = open(errpath).read()
    check("is reachable from the network" in err, "no warning: " + err)
    print("ok   an HTTP endpoint beyond loopback is logged: " +
          [l for l in err.splitlines() if "reachable" in l][0])
    for s in (push, pull, pub, sub, peer):
        s.close(0)
    ctx.term()
    stop(proc)


# ---------------------------------------------------------------------
def case_prometheus(tmp):
    prom = shutil.which("prometheus")
    if not prom:
        print("SKIP the Prometheus server is not installed (Debian package "
              "prometheus; scripts/deps.sh)")
        sys.exit(77)
    proc, table, _ = run_daemon(tmp)
    url = table_address(table, "http")
    target = url[len("http://"):].rstrip("/")
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(device_address(table, "pipe", "frontend"))
    pull = ctx.socket(zmq.PULL)
    pull.connect(device_address(table, "pipe", "backend"))
    done = threading.Event()
    moved = [0]

    def traffic():  # a steady trickle while Prometheus scrapes
        while not done.is_set():
            push.send(b"tick")
            if pull.poll(1000):
                pull.recv()
                moved[0] += 1
            done.wait(0.01)
    t = threading.Thread(target=traffic)
    t.start()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: zrelay\n"
                "    static_configs:\n      - targets: ['%s']\n" % target)
    for attempt in range(5):  # a free port, taken by another meanwhile
        port = free_port()
        api = "http://127.0.0.1:%d/" % port
        server = subprocess.Popen(
            [prom, "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(tmp, "data%d" % attempt),
             "--web.listen-address=127.0.0.1:%d" % port],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(tmp, "prometheus.err"), "w"))

        def ready():
            if server.poll() is not None:
                return "exited"
            try:
                return get(api + "-/ready")[0] == 200 and "ready"
            except OSError:
                return False
        if wait_for("Prometheus ready", ready, 60) == "ready":
            break
    else:
        fail("prometheus would not start: " +
             open(os.path.join(tmp, "prometheus.err")).read()[-2000:])
    try:
        query = ("rate(zrelay_messages_received_total{device=\"pipe\","
                 "socket=\"frontend\"}[5s])")

        def rate():
            q = urllib.request.quote(query)
            st, _, body = get(api + "api/v1/query?query=" + q)
            if st != 200:
                return False
            res = json.loads(body)["data"]["result"]
            return res and float(res[0]["value"][1]) > 0 and res
        res = wait_for("a positive rate from Prometheus", rate, 90)
        st, _, body = get(api + "api/v1/query?query=up")
        up = json.loads(body)["data"]["result"]
        check(up and up[0]["value"][1] == "1", "up: " + body)
        st, _, body = get(api + "api/v1/targets")
        check('"health":"up"' in body.replace(" ", ""), "targets: " + body)
        print("ok   Prometheus scraped %s: %s = %s messages/s" %
              (target, query, res[0]["value"][1]))
    finally:
        server.terminate()
        server.wait(DEADLINE)
        done.set()
        t.join()
    push.close(0)
    pull.close(0)
    ctx.term()
    stop(proc)


# ---------------------------------------------------------------------
def case_hostile(tmp):
    proc, lines = start([ZRELAY, "streamer", "--http", "127.0.0.1:0",
                         "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*"],
                        os.path.join(tmp, "streamer.err"))
    ends = dict((l.split()[0], l.split()[2]) for l in lines.splitlines()
                if len(l.split()) == 3)
    url = ends["http"]
    host, port = url[len("http://"):].rstrip("/").rsplit(":", 1)
    addr = (host, int(port))

    def scrape():
        st, _, body = get(url + "metrics")
        check(st == 200, "scrape: %d" % st)
        return parse_metrics(body)

    # Slowloris: requests begun and never finished.
    slow = []
    for _ in range(5):
        s = socket.create_connection(addr)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-a: ")
        slow.append(s)
    # 200 concurrent clients, connected, their requests to come.
    flood = [socket.create_connection(addr) for _ in range(200)]
    wait_for("205 connections open", lambda: value(
        scrape(), "zrelay_http_connections") >= 205)
    # A legitimate scrape goes through, and so does the relay's traffic.
    m = scrape()
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(ends["frontend"])
    pull = ctx.socket(zmq.PULL)
    pull.connect(ends["backend"])
    for i in range(1000):
        push.send(b"x")
    for i in range(1000):
        check(pull.poll(DEADLINE * 1000), "message %d not relayed" % i)
        pull.recv()
    wait_for("1000 messages in /metrics (100 ms old at most)", lambda: value(
        scrape(), "zrelay_messages_sent_total", device="streamer",
        socket="backend") == 1000, 5)
    print("ok   a scrape and 1000 messages through 5 slowloris and 200 "
          "concurrent clients")
    # Every flood client gets its answer.
    for s in flood:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    for s in flood:
        s.settimeout(DEADLINE)
        head = s.recv(64)
        check(head.startswith(b"HTTP/1.1 200"), "flood client got %r" % head)
        s.close()
    # A slowloris is dropped once silent for the idle timeout (10 s).
    t0 = time.time()
    slow[0].settimeout(60)
    try:
        got = slow[0].recv(4096)
    except ConnectionResetError:
        got = b""
    check(got == b"" or b"408" in got, "slowloris got %r" % got)
    print("ok   a slowloris is dropped after %.0f s of silence" %
          (time.time() - t0))
    for s in slow:
        s.close()
    # Over the cap (256 open): closed at once, and counted.
    many = [socket.create_connection(addr) for _ in range(300)]

    def refused():
        for s in many:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    return True
            except BlockingIOError:
                pass
            except ConnectionResetError:
                return True
        return False
    wait_for("a connection over the cap to be closed", refused)
    for s in many:
        s.close()
    def below_cap():  # refused itself while the server sees them open
        try:
            return value(scrape(), "zrelay_http_connections") <= 1
        except OSError:
            return False
    wait_for("the cap's connections gone", below_cap)
    m = wait_for("refusals counted", lambda: value(
        scrape(), "zrelay_http_connections_refused_total",
        reason="max_connections") > 0 and scrape(), 5)
    print("ok   connections over the cap refused: %d counted" % value(
        m, "zrelay_http_connections_refused_total", reason="max_connections"))
    push.close(0)
    pull.close(0)
    ctx.term()
    stop(proc)


def main():
    global ZRELAY
    if len(sys.argv) != 3 or sys.argv[2] not in ("daemon", "prometheus",
                                                 "hostile"):
        print(__doc__)
        sys.exit(2)
    ZRELAY = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="zrelay-http.")
    try:
        globals()["case_" + sys.argv[2]](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if SKIPPED:
        for s in SKIPPED:
            print("SKIP " + s)
        sys.exit(77)
    print("ok   " + sys.argv[2])


if __name__ == "__main__":
    main()
