"""attack15_reload.py ZRELAY - scrapes during reload, stop/start, SIGHUP
loops and a config edit that moves the HTTP port; then SIGTERM with
scrapes in flight (issue 15).

Checks: every answer is 200, or 503 only from /healthz or /readyz while a
device is stopped, or a busy 503 from the bridge; no connection error
except in the window where the HTTP port moves; after the storm /healthz
is 200 again within a deadline (no 503 that never ends); SIGTERM with 8
scrapers in flight exits 0 within the deadline; stderr has no sanitizer
report. Exit 0 ok, 1 failed."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import free_port, start  # noqa: E402

ZRELAY = sys.argv[1]
ROUNDS = int(os.environ.get("ATTACK_ROUNDS", "40"))
PAGES = ["/metrics", "/stats", "/healthz", "/readyz", "/", "/nope"]


def fail(msg):
    print("FAIL " + msg, flush=True)
    sys.exit(1)


def conf_text(http_port, extra=""):
    return ("[zrelay]\ncontrol = tcp://127.0.0.1:%d\nhttp = 127.0.0.1:%d\n\n"
            "[streamer pipe]\nfrontend = @tcp://127.0.0.1:*\n"
            "backend = @tcp://127.0.0.1:*\n\n"
            "[forwarder news]\nfrontend = @tcp://127.0.0.1:*\n"
            "backend = @tcp://127.0.0.1:*\n\n"
            "[queue q]\nfrontend = @tcp://127.0.0.1:*\n"
            "backend = @tcp://127.0.0.1:*\n" + extra) % (CTL, http_port)


def get(port, path, timeout=10):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code
    except (OSError, socket.timeout) as e:
        return "error: %s" % e


def ctl(*args):
    return subprocess.run([ZRELAY, "ctl", "tcp://127.0.0.1:%d" % CTL] +
                          list(args), capture_output=True, timeout=30)


CTL = free_port()
H1, H2 = free_port(), free_port()
tmp = tempfile.mkdtemp(prefix="attack15-")
conf = os.path.join(tmp, "zrelay.conf")
open(conf, "w").write(conf_text(H1))
err = os.path.join(tmp, "zrelay.err")
proc = start([ZRELAY, "run", conf], err)

state = {"port": H1, "moving": False, "stop": False}
bad, counts = [], {}
lock = threading.Lock()


def scraper(i):
    n = 0
    while not state["stop"]:
        path = PAGES[(i + n) % len(PAGES)]
        n += 1
        port = state["port"]
        r = get(port, path)
        with lock:
            counts[r] = counts.get(r, 0) + 1
            ok = (r == 200 or (r == 404 and path == "/nope") or
                  (r == 503 and path in ("/healthz", "/readyz")) or
                  (isinstance(r, str) and (state["moving"] or
                                           port != state["port"])))
            if not ok:
                bad.append((path, r))


threads = [threading.Thread(target=scraper, args=(i,)) for i in range(6)]
for t in threads:
    t.start()
for rnd in range(ROUNDS):
    what = rnd % 4
    if what == 0:
        ctl("reload")
    elif what == 1:
        ctl("stop", "news")
        ctl("start", "news")
    elif what == 2:
        proc.send_signal(signal.SIGHUP)
    else:
        # move the HTTP port and back: the server is destroyed and made
        # again while scrapes are in flight
        state["moving"] = True
        nxt = H2 if state["port"] == H1 else H1
        open(conf, "w").write(conf_text(nxt))
        ctl("reload")
        end = time.time() + 10
        while time.time() < end and get(nxt, "/healthz", 1) not in (200, 503):
            time.sleep(0.05)
        state["port"] = nxt
        state["moving"] = False
state["stop"] = True
for t in threads:
    t.join()
print("answers during %d rounds: %r" % (ROUNDS, counts), flush=True)
if bad:
    fail("unexpected answers: %r" % bad[:10])
end = time.time() + 10
while get(state["port"], "/healthz") != 200:
    if time.time() > end:
        fail("/healthz not 200 again 10 s after the storm")
    time.sleep(0.1)
print("ok   /healthz 200 after the storm", flush=True)

# SIGTERM with scrapes in flight.
state["stop"] = False
threads = [threading.Thread(target=scraper, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
time.sleep(0.3)
t0 = time.time()
proc.send_signal(signal.SIGTERM)
try:
    rc = proc.wait(20)
except subprocess.TimeoutExpired:
    proc.kill()
    fail("no exit within 20 s of SIGTERM with scrapes in flight")
state["stop"] = True
for t in threads:
    t.join()
print("ok   SIGTERM mid-scrape: exit %d after %.2f s" % (rc, time.time() - t0))
text = open(err).read()
if rc != 0:
    fail("exit %d: %s" % (rc, text[-2000:]))
for mark in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
    if mark in text:
        fail("sanitizer: %s" % text[text.index(mark) - 200:][:3000])
print("ok   no sanitizer report")
