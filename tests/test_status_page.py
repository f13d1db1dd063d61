"""test_status_page.py - the status page (GET /) in a real browser (issue 15).

    test_status_page.py ZRELAY SOURCE_DIR OUT_DIR

zrelay run with two devices ('orders', a streamer, and 'ticks.eu', a
forwarder) and traffic through both; headless Chromium (Debian's
`chromium`) opens http://.../ and the test reads the rendered DOM through
the DevTools protocol (a websocket client of the standard library below),
twice in the same page: both device names are there, and each device's
message count grew between the two reads while the page was never
reloaded (its script refreshed the numbers from /stats). Also:

- GET / is src/status.html byte for byte, text/html, with a
  Content-Security-Policy that allows no load from elsewhere and
  Cache-Control: no-cache;
- the page asked for nothing but its own origin's pages (the browser's
  network log), threw no exception and logged no error (a CSP violation
  would be one);
- an endpoint holding HTML ('in<i>x&amp;', a legal ipc:// file name) is
  shown as that text, not turned into markup;
- at a phone's width (390 CSS pixels) the page does not scroll sideways.

Screenshots for people to look at: OUT_DIR/status-page.png (1280x1000)
and OUT_DIR/status-page-phone.png (390x844 at 2x).

Why the DevTools protocol and not `chromium --dump-dom`: --dump-dom prints
one snapshot of one page load; the test must see the same page change.

Every wait has a deadline and polls a state; nothing sleeps and hopes.
Exit 0 ok, 1 failed, 77 skipped (no chromium: scripts/deps.sh --browser
installs it; CI does); without chromium the checks of GET / itself still
run first.
"""
import base64
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import zmq

DEADLINE = 60.0


def fail(msg):
    print("FAIL " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def ok(msg):
    print("ok   " + msg, flush=True)


def wait_for(what, fn, deadline=DEADLINE):
    """Poll FN until it returns a true value; that value."""
    end = time.time() + deadline
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            fail("timed out after %.0f s waiting for %s" % (deadline, what))
        time.sleep(0.05)


# ---------------------------------------------------------------------
# The daemon.

def start_daemon(zrelay, conf, errpath):
    """zrelay run CONF; (process, its status page's URL)."""
    proc = subprocess.Popen([zrelay, "run", conf], stdout=subprocess.PIPE,
                            stderr=open(errpath, "w"))
    fd = proc.stdout.fileno()
    end = time.time() + DEADLINE
    seen = b""
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            fail("zrelay run exited before ready: " + open(errpath).read())
        seen += chunk
        if b"\nready\n" in b"\n" + seen:
            for line in seen.decode().splitlines():
                words = line.split()
                if words[1:4] == ["daemon", "http", "bind"]:
                    return proc, words[4]
            fail("no http line in zrelay run's table:\n" + seen.decode())
    proc.kill()
    fail("zrelay run not ready within %.0f s" % DEADLINE)


def stop_daemon(proc):
    proc.terminate()
    try:
        rc = proc.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("zrelay did not stop on SIGTERM")
    check(rc == 0, "zrelay exited %d on SIGTERM" % rc)


class Traffic(threading.Thread):
    """Messages through both devices until stopped: PUSH -> orders ->
    PULL, PUB -> ticks.eu -> SUB; a few hundred a second, paced (the
    counts must grow, how fast does not matter); and now and then a
    message orders drops (5 frames, over its max_msg_frames)."""

    def __init__(self, ctx, eps):
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.push = ctx.socket(zmq.PUSH)
        self.push.connect(eps["orders_in"])
        self.pull = ctx.socket(zmq.PULL)
        self.pull.connect(eps["orders_out"])
        self.pub = ctx.socket(zmq.PUB)
        self.pub.connect(eps["ticks_in"])
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(eps["ticks_out"])
        self.received = {"orders": 0, "ticks.eu": 0}

    def run(self):
        body = b"x" * 200
        rounds = 0
        while not self.stopping.is_set():
            rounds += 1
            if rounds % 10 == 1:
                # Over orders' max_msg_frames: dropped, drops.too_big.
                try:
                    self.push.send_multipart([b"too", b"many", b"frames",
                                              b"for", b"orders"],
                                             zmq.DONTWAIT)
                except zmq.Again:
                    pass
            for _ in range(10):
                try:
                    self.push.send(body, zmq.DONTWAIT)
                except zmq.Again:
                    pass
                self.pub.send(b"EURUSD 1.0842")
            for s, name in ((self.pull, "orders"), (self.sub, "ticks.eu")):
                while s.poll(0):
                    s.recv()
                    self.received[name] += 1
            self.stopping.wait(0.02)
        for s in (self.push, self.pull, self.pub, self.sub):
            s.close(0)


# ---------------------------------------------------------------------
# The DevTools protocol over a websocket (RFC 6455), client side only:
# what Chromium's endpoint needs and no more.

class DevTools:
    def __init__(self, ws_url):
        u = urllib.parse.urlparse(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port),
                                             timeout=DEADLINE)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"
                           % (u.path, u.hostname, u.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                fail("DevTools closed the websocket handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        check(lines[0].split()[1:2] == ["101"],
              "DevTools websocket handshake: " + lines[0])
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
            .digest()).decode()
        check(any(l.lower() == "sec-websocket-accept: " + want.lower()
                  for l in lines), "DevTools: bad Sec-WebSocket-Accept")
        self.next_id = 0
        self.events = []

    def _send(self, data, opcode=1):
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def _read(self, n, end):
        while len(self.buf) < n:
            left = end - time.time()
            if left <= 0:
                fail("DevTools: no answer within %.0f s" % DEADLINE)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                fail("DevTools closed the connection (did chromium crash?)")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _message(self, end):
        """The next whole text message (pings answered)."""
        parts = []
        while True:
            b0, b1 = self._read(2, end)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2, end))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8, end))[0]
            mask = self._read(4, end) if b1 & 0x80 else None
            data = self._read(n, end)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 9:
                self._send(data, 10)
                continue
            if opcode == 8:
                fail("DevTools closed the websocket")
            if opcode in (0, 1, 2):
                parts.append(data)
                if b0 & 0x80:
                    return json.loads(b"".join(parts))

    def call(self, method, **params):
        """METHOD's result; events that arrive meanwhile are kept."""
        self.next_id += 1
        mid = self.next_id
        self._send(json.dumps({"id": mid, "method": method,
                               "params": params}).encode())
        end = time.time() + DEADLINE
        while True:
            m = self._message(end)
            if m.get("id") == mid:
                if "error" in m:
                    fail("DevTools %s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def poll_events(self):
        """Events that arrived without a call (the page runs on its own)."""
        while True:
            r, _, _ = select.select([self.sock], [], [], 0)
            if not r and not self.buf:
                return
            if not r and len(self.buf) < 2:
                return
            self.events.append(self._message(time.time() + DEADLINE))

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression,
                      returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            fail("evaluate %s: %s" % (expression[:60], r["exceptionDetails"]))
        return r["result"].get("value")


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def start_chromium(chromium, tmp):
    """Headless Chromium on a blank page; (process, DevTools page URL)."""
    profile = os.path.join(tmp, "chromium-profile")
    os.mkdir(profile)
    # --no-sandbox: its sandbox cannot start as root nor in most
    # containers; the page it opens is ours.
    proc = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
         "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--user-data-dir=" + profile,
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         "--window-size=1280,1000", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(tmp, "chromium.err"), "w"),
        start_new_session=True)
    # Port 0: Chromium picks a free port and writes it here.
    active = os.path.join(profile, "DevToolsActivePort")

    def port():
        if proc.poll() is not None:
            fail("chromium exited %d: %s" % (proc.returncode, open(
                os.path.join(tmp, "chromium.err")).read()[-2000:]))
        try:
            with open(active) as f:
                lines = f.read().split("\n")
            return int(lines[0]) if len(lines) >= 2 and lines[1] else None
        except (OSError, ValueError):
            return None
    devtools = wait_for("chromium's DevToolsActivePort", port)

    def page():
        try:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/json/list" % devtools,
                    timeout=DEADLINE) as r:
                targets = json.loads(r.read())
        except (OSError, ValueError):
            return None
        pages = [t for t in targets if t.get("type") == "page"]
        return pages[0]["webSocketDebuggerUrl"] if pages else None
    return proc, wait_for("chromium's page target", page)


def stop_chromium(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# What the test reads from the rendered page: for each device card its
# name, state, message counts and endpoints as the page shows them.
READ_DOM = r"""(() => {
  if (!document.body) {
    return {reads: 0, marker: false, devices: {}};  /* still loading */
  }
  const out = {reads: Number(document.body.getAttribute("data-reads") || 0),
               marker: window.__zrtMarker === 1, devices: {}};
  for (const card of document.querySelectorAll("[data-device]")) {
    const field = (n) => {
      const e = card.querySelector('[data-field="' + n + '"]');
      return e ? e.textContent : null;
    };
    out.devices[card.getAttribute("data-device")] = {
      heading: card.querySelector("h2").textContent,
      state: field("state"), msgs_in: field("msgs_in"),
      msgs_out: field("msgs_out"),
      endpoints: [...card.querySelectorAll('[data-field="endpoint"]')]
                   .map((e) => e.textContent),
      losses: [...card.querySelectorAll("[data-loss]")].map(
                (e) => [e.getAttribute("data-loss"), e.className,
                        e.textContent]),
      markup_in_endpoints: card.querySelectorAll(".eps *:not(li)").length,
      rows: card.querySelectorAll("tr[data-socket]").length,
      held: [...card.querySelectorAll('[data-field="held"]')]
              .map((e) => e.textContent),
      chart_points: (card.querySelector("polyline").getAttribute("points")
                     || "").split(" ").filter((p) => p).length};
  }
  return out;
})()"""


def count(text):
    """'12,345' as the page shows it: 12345 (None: not shown)."""
    if text is None or not text.replace(",", "").isdigit():
        return None
    return int(text.replace(",", ""))


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    zrelay, srcdir, outdir = sys.argv[1:]
    chromium = find_chromium()
    tmp = tempfile.mkdtemp(prefix="zrt-status-")
    procs = []
    try:
        return run(zrelay, srcdir, outdir, chromium, tmp, procs)
    finally:
        for stop, proc in reversed(procs):
            if proc.poll() is None:
                if stop is stop_chromium:
                    stop_chromium(proc)
                else:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def run(zrelay, srcdir, outdir, chromium, tmp, procs):
    # ipc:// endpoints in a private directory: no port to race for. The
    # orders frontend's file name holds HTML, legal in a file name.
    eps = {"orders_in": "ipc://%s/in<i>x&amp;" % tmp,
           "orders_out": "ipc://%s/out" % tmp,
           "ticks_in": "ipc://%s/pub" % tmp,
           "ticks_out": "ipc://%s/sub" % tmp}
    conf = os.path.join(tmp, "zrelay.conf")
    with open(conf, "w") as f:
        f.write("[zrelay]\ncontrol = ipc://%s/control\n"
                "http = 127.0.0.1:0\n\n"
                "[streamer orders]\nfrontend = @%s\nbackend = @%s\n"
                "max_msg_frames = 4\n\n"
                "[forwarder ticks.eu]\nfrontend = @%s\nbackend = @%s\n"
                % (tmp, eps["orders_in"], eps["orders_out"],
                   eps["ticks_in"], eps["ticks_out"]))
    daemon, url = start_daemon(zrelay, conf, os.path.join(tmp, "zrelay.err"))
    procs.append((stop_daemon, daemon))
    check(url.startswith("http://127.0.0.1:") and url.endswith("/"),
          "the http line names " + url)

    # The page as served: the file compiled in, and its headers.
    with urllib.request.urlopen(url, timeout=DEADLINE) as r:
        body, headers, status = r.read(), r.headers, r.status
    with open(os.path.join(srcdir, "src", "status.html"), "rb") as f:
        check(body == f.read(), "GET / is not src/status.html byte for byte")
    check(status == 200, "GET / answered %d" % status)
    check(headers.get("Content-Type") == "text/html; charset=utf-8",
          "Content-Type: %s" % headers.get("Content-Type"))
    csp = headers.get("Content-Security-Policy") or ""
    check("default-src 'none'" in csp and "connect-src 'self'" in csp,
          "Content-Security-Policy: %r" % csp)
    check(headers.get("Cache-Control") == "no-cache",
          "Cache-Control: %s" % headers.get("Cache-Control"))
    for needle in (b"http://", b"https://", b"//cdn", b"@import", b"url("):
        check(needle not in body.replace(b"http://www.w3.org/2000/svg", b""),
              "the page refers to something outside: %r" % needle)
    ok("GET / is src/status.html (%d bytes), text/html, CSP %r, "
       "Cache-Control: no-cache" % (len(body), csp))
    if not chromium:
        stop_daemon(daemon)
        print("SKIP: chromium is not installed (Debian's package 'chromium'; "
              "scripts/deps.sh --browser installs it): the status page was "
              "served, but not tested in a browser", flush=True)
        return 77

    ctx = zmq.Context()
    traffic = Traffic(ctx, eps)
    traffic.start()
    try:
        browser, ws_url = start_chromium(chromium, tmp)
        procs.append((stop_chromium, browser))
        dt = DevTools(ws_url)
        for domain in ("Page", "Runtime", "Network", "Log"):
            dt.call(domain + ".enable")
        dt.call("Page.navigate", url=url)

        # First read: both devices drawn, with traffic counted.
        def first():
            d = dt.evaluate(READ_DOM)
            devs = d["devices"]
            if (set(devs) == {"orders", "ticks.eu"} and
                    all((count(devs[n]["msgs_in"]) or 0) > 0 for n in devs)):
                return d
            return None
        r1 = wait_for("both devices on the page with messages counted",
                      first)
        dt.evaluate("window.__zrtMarker = 1")
        ok("first read (page refresh #%d): %s" % (r1["reads"], ", ".join(
            "%s %s in" % (n, d["msgs_in"]) for n, d in
            sorted(r1["devices"].items()))))

        # Second read, same page: every count grew, no reload happened.
        def grown():
            d = dt.evaluate(READ_DOM)
            if d["reads"] > r1["reads"] and all(
                    (count(d["devices"][n]["msgs_in"]) or 0) >
                    count(r1["devices"][n]["msgs_in"])
                    for n in ("orders", "ticks.eu")):
                return d
            return None
        r2 = wait_for("the message counts to grow on the page", grown)
        check(r2["marker"], "the page was reloaded between the two reads")
        navigations = [e for e in dt.events
                       if e["method"] == "Page.frameNavigated"]
        check(len(navigations) == 1,
              "%d navigations, want 1" % len(navigations))
        ok("second read (page refresh #%d), same page: %s" % (
            r2["reads"], ", ".join(
                "%s %s -> %s in" % (n, r1["devices"][n]["msgs_in"],
                                    d["msgs_in"])
                for n, d in sorted(r2["devices"].items()))))

        # What the page shows is what /stats says (read after it).
        with urllib.request.urlopen(url + "stats", timeout=DEADLINE) as r:
            stats = json.loads(r.read())
        for dev in stats["devices"]:
            shown = count(r2["devices"][dev["name"]]["msgs_in"])
            actual = dev["frontend"]["msgs_in"] + dev["backend"]["msgs_in"]
            check(0 < shown <= actual,
                  "%s: the page shows %d messages in, /stats then said %d"
                  % (dev["name"], shown, actual))
            check(r2["devices"][dev["name"]]["heading"] == dev["name"],
                  "%s: heading %r" % (dev["name"],
                                      r2["devices"][dev["name"]]["heading"]))
            check(r2["devices"][dev["name"]]["state"] == "running",
                  "%s: state %r" % (dev["name"],
                                    r2["devices"][dev["name"]]["state"]))
            check(r2["devices"][dev["name"]]["rows"] == 3,
                  "%s: want frontend, backend, total rows" % dev["name"])
            check(all(count(h) is not None
                      for h in r2["devices"][dev["name"]]["held"]),
                  "%s: held %r" % (dev["name"],
                                   r2["devices"][dev["name"]]["held"]))
        orders = r2["devices"]["orders"]
        want = "frontend @" + eps["orders_in"]
        check(want in orders["endpoints"],
              "orders' endpoints %r lack %r" % (orders["endpoints"], want))
        check(orders["markup_in_endpoints"] == 0,
              "an endpoint's text became markup: %r" % orders["endpoints"])
        check(orders["chart_points"] >= 1, "orders' chart has no point")
        check(not r2["devices"]["ticks.eu"]["losses"],
              "ticks.eu shows drops: %r" % r2["devices"]["ticks.eu"]["losses"])

        def hot():
            losses = dt.evaluate(READ_DOM)["devices"]["orders"]["losses"]
            return [l for l in losses
                    if l[0] == "frontend.drops.too_big" and l[1] == "bad"]
        ok("drops highlighted while they grow: %r"
           % wait_for("orders' too_big drops shown in red", hot)[0][2])
        ok("the page matches /stats; endpoint shown as text: %r"
           % orders["endpoints"][0])

        # Desktop screenshot, once the chart has a few seconds.
        wait_for("a few seconds of chart", lambda: dt.evaluate(READ_DOM)
                 ["devices"]["orders"]["chart_points"] >= 8)
        shot = dt.call("Page.captureScreenshot", format="png")
        path = os.path.join(outdir, "status-page.png")
        png = base64.b64decode(shot["data"])
        check(png.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG")
        with open(path, "wb") as f:
            f.write(png)
        ok("screenshot: %s (%d bytes)" % (path, len(png)))

        # A phone: 390 CSS pixels wide; nothing scrolls sideways.
        dt.call("Emulation.setDeviceMetricsOverride", width=390, height=844,
                deviceScaleFactor=2, mobile=True)
        before = dt.evaluate(READ_DOM)["reads"]
        wait_for("a refresh at phone size",
                 lambda: dt.evaluate(READ_DOM)["reads"] > before)
        widths = dt.evaluate("[document.documentElement.scrollWidth, "
                             "window.innerWidth]")
        check(widths[0] <= widths[1],
              "at 390 px the page is %d px wide: it scrolls sideways"
              % widths[0])
        shot = dt.call("Page.captureScreenshot", format="png")
        path = os.path.join(outdir, "status-page-phone.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        ok("at a phone's width (%d px) nothing scrolls sideways; "
           "screenshot: %s" % (widths[1], path))

        # The browser's own record: nothing loaded from elsewhere, no
        # exception, no error logged (a CSP violation would be one).
        dt.poll_events()
        urls = [e["params"]["request"]["url"] for e in dt.events
                if e["method"] == "Network.requestWillBeSent"]
        outside = [u for u in urls if not u.startswith(url)]
        check(not outside, "the page loaded from elsewhere: %r" % outside)
        asked = sorted(set(u[len(url):] or "/" for u in urls))
        check(set(asked) <= {"/", "stats", "healthz"},
              "the page asked for %r" % asked)
        thrown = [e["params"] for e in dt.events
                  if e["method"] == "Runtime.exceptionThrown"]
        check(not thrown, "the page threw: %r" % thrown)
        errors = [e["params"]["entry"] for e in dt.events
                  if e["method"] == "Log.entryAdded" and
                  e["params"]["entry"].get("level") == "error"]
        errors += [e["params"] for e in dt.events
                   if e["method"] == "Runtime.consoleAPICalled" and
                   e["params"].get("type") == "error"]
        check(not errors, "the browser logged errors: %r" % errors)
        ok("%d requests, all to %s (%s); no exception, no error logged"
           % (len(urls), url, ", ".join(asked)))

        # A device stopped through the control endpoint: its state and
        # the health pill say so, on the same page.
        r = subprocess.run([zrelay, "ctl", "ipc://%s/control" % tmp, "stop",
                            "ticks.eu"], capture_output=True, timeout=DEADLINE)
        check(r.returncode == 0, "zrelay ctl stop: " + r.stderr.decode())

        def stopped():
            d = dt.evaluate("[" + READ_DOM + ", document.getElementById("
                            "'health').textContent]")
            return (d[0]["devices"]["ticks.eu"]["state"] == "stopped" and
                    d[0]["devices"]["orders"]["state"] == "running" and
                    d[1].startswith("unhealthy") and d[1])
        ok("ticks.eu stopped: shown so, health %r"
           % wait_for("ticks.eu shown stopped, and unhealthy", stopped))
    finally:
        traffic.stopping.set()
        traffic.join(DEADLINE)
        ctx.term()

    # zrelay gone: the page keeps its numbers and says it has no answer.
    stop_daemon(daemon)
    ok("zrelay stopped cleanly")
    link = wait_for("the page to notice zrelay is gone", lambda: (
        lambda t: t.startswith("no answer") and t)(
            dt.evaluate("document.getElementById('link').textContent")))
    d = dt.evaluate(READ_DOM)
    check(set(d["devices"]) == {"orders", "ticks.eu"},
          "the page dropped its devices when zrelay went: %r" % d["devices"])
    dt.poll_events()
    thrown = [e["params"] for e in dt.events
              if e["method"] == "Runtime.exceptionThrown"]
    check(not thrown, "the page threw once zrelay was gone: %r" % thrown)
    ok("the page says %r and keeps the last numbers" % link)
    stop_chromium(browser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
