"""attack15_bigmetrics.py ZRELAY [DEVICES] - scrapers against a large relay
(issue 15). Not in ctest: it measures, on a quiet machine.

A daemon with DEVICES streamers (default 1000, inproc endpoints) and
[zrelay] http; four clients scrape /metrics back to back for 8 s. The
daemon's own thread (the main thread, which renders every page) must be
busy less than a quarter of the time: before the fix the rendering (300
ms under ASan at 1000 devices) outlasted the 100 ms page cache, every
scrape rendered again, and the thread was 45% busy (19 answers in 8 s;
95% with four curl loops); after, 8% (524 answers). Also prints the size of /metrics and /stats and
whether promtool accepts /metrics. Exit 0 ok, 1 failed."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import free_port, start  # noqa: E402

ZRELAY = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
SECONDS = 8
tmp = tempfile.mkdtemp(prefix="attack15-big-")
conf = os.path.join(tmp, "zrelay.conf")
port = free_port()
with open(conf, "w") as f:
    f.write("[zrelay]\ncontrol = tcp://127.0.0.1:*\nhttp = 127.0.0.1:%d\n\n"
            % port)
    for i in range(N):
        f.write("[streamer s%05d]\nfrontend = @inproc://f%d\n"
                "backend = @inproc://b%d\n\n" % (i, i, i))
proc = start([ZRELAY, "run", conf], os.path.join(tmp, "err"), deadline=120)
url = "http://127.0.0.1:%d" % port


def ticks():
    with open("/proc/%d/task/%d/stat" % (proc.pid, proc.pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


body = urllib.request.urlopen(url + "/metrics", timeout=60).read()
stats = urllib.request.urlopen(url + "/stats", timeout=60).read()
print("%d devices: /metrics %d bytes, /stats %d bytes" % (N, len(body),
                                                         len(stats)))
if shutil.which("promtool"):
    r = subprocess.run(["promtool", "check", "metrics"], input=body,
                       capture_output=True)
    print("promtool check metrics: exit %d %s" % (r.returncode,
                                                  (r.stdout + r.stderr)[:200]))
answers = []
end = time.time() + SECONDS


def scrape():
    while time.time() < end:
        with urllib.request.urlopen(url + "/metrics", timeout=60) as r:
            r.read()
            answers.append(r.status)


time.sleep(0.5)  # past the cache of the scrapes above
t0, w0 = ticks(), time.time()
threads = [threading.Thread(target=scrape) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
busy = (ticks() - t0) / os.sysconf("SC_CLK_TCK") / (time.time() - w0)
print("4 scrapers for %d s: %d answers; the daemon's thread busy %.0f%%"
      % (SECONDS, len(answers), 100 * busy), flush=True)
proc.terminate()
proc.wait(60)
if busy > 0.25:
    print("FAIL the daemon's thread renders pages more than a quarter of the time")
    sys.exit(1)
print("ok")
