"""attack15_http.py ZRELAY - malformed and hostile HTTP against zrelay run's
HTTP endpoint (issue 15).

Each case is sent raw on a connection of its own; the server must answer
with the status given (None: close or ignore without answering is fine)
within a deadline, serve /healthz after every case, and at the end exit 0
on SIGTERM with no sanitizer report. Cases: HTTP/0.9, NUL in path and
header, a 20 KB path, 30 KB and 5000 headers, methods other than GET,
lower-case get, pipelining, CL+TE, a GET with a Content-Length or chunked
body (no answer at all before the fix), a huge and a negative
Content-Length, duplicate Content-Length, Expect: 100-continue, absolute
URI, %-encoding, HTTP/2 preface, bare LF, obsolete line folding, escape
sequences in the path (echoed raw before the fix), 2560 bytes of garbage.
Exit 0 ok, 1 failed."""
import os
import signal
import socket
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacklib import free_port, start  # noqa: E402

ZRELAY = sys.argv[1]
H = b"Host: x\r\n"
CASES = [
    ("http09", b"GET /metrics\r\n", 400),
    ("nul_path", b"GET /met\x00rics HTTP/1.1\r\n" + H + b"\r\n", 404),
    ("nul_header", b"GET /healthz HTTP/1.1\r\n" + H + b"X: a\x00b\r\n\r\n",
     200),
    ("long_path", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n" + H + b"\r\n",
     414),
    ("huge_header", b"GET /healthz HTTP/1.1\r\n" + H + b"X: " +
     b"b" * 30000 + b"\r\n\r\n", 431),
    ("many_headers", b"GET /healthz HTTP/1.1\r\n" + H +
     b"".join(b"X-%d: y\r\n" % i for i in range(5000)) + b"\r\n", 431),
    ("bad_method", b"FOO /metrics HTTP/1.1\r\n" + H + b"\r\n", 405),
    ("lower_get", b"get /metrics HTTP/1.1\r\n" + H + b"\r\n", 405),
    ("post_body", b"POST /metrics HTTP/1.1\r\n" + H +
     b"Content-Length: 1000000\r\n\r\n" + b"a" * 1000, 405),
    ("pipeline", (b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n") * 3, 200),
    ("cl_te", b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200),
    ("get_cl_body", b"GET /healthz HTTP/1.1\r\n" + H +
     b"Content-Length: 10\r\n\r\n0123456789", 200),
    ("get_chunked", b"GET /healthz HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200),
    ("cl_huge", b"GET /healthz HTTP/1.1\r\n" + H +
     b"Content-Length: 99999999999\r\n\r\nabc", None),
    ("cl_negative", b"GET /healthz HTTP/1.1\r\n" + H +
     b"Content-Length: -1\r\n\r\n", 400),
    ("cl_twice", b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n"
     b"Content-Length: 5\r\n\r\nabcde", None),
    ("expect", b"GET /healthz HTTP/1.1\r\n" + H + b"Expect: 100-continue"
     b"\r\nContent-Length: 3\r\n\r\nabc", 100),
    ("absolute_uri", b"GET http://evil/metrics HTTP/1.1\r\n" + H + b"\r\n",
     404),
    ("percent", b"GET /%68ealthz HTTP/1.1\r\n" + H + b"\r\n", 200),
    ("http2", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("bare_lf", b"GET /healthz HTTP/1.1\nHost: x\n\n", 200),
    ("folding", b"GET /healthz HTTP/1.1\r\n" + H + b"X: a\r\n b\r\n\r\n",
     200),
    ("escapes", b"GET /%1b]0;PWNED%07%1b[2J HTTP/1.1\r\n" + H + b"\r\n",
     404),
    ("garbage", bytes(range(256)) * 10, 400),
]


def send(data, wait=3.0):
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(wait)
    out = b""
    try:
        s.sendall(data)
        end = time.time() + wait
        while time.time() < end and b"\r\n\r\n" not in out:
            c = s.recv(65536)
            if not c:
                break
            out += c
    except OSError:
        pass
    s.close()
    return out


PORT = free_port()
tmp = tempfile.mkdtemp(prefix="attack15-http-")
conf = os.path.join(tmp, "zrelay.conf")
with open(conf, "w") as f:
    f.write("[zrelay]\ncontrol = tcp://127.0.0.1:*\nhttp = 127.0.0.1:%d\n\n"
            "[forwarder news]\nfrontend = @tcp://127.0.0.1:*\n"
            "backend = @tcp://127.0.0.1:*\n" % PORT)
err = os.path.join(tmp, "err")
proc = start([ZRELAY, "run", conf], err)
failed = False
for name, data, want in CASES:
    out = send(data)
    got = int(out.split(b" ", 2)[1]) if out.startswith(b"HTTP/1.") else None
    ok = want is None or got == want
    if name == "escapes" and b"\x1b" in out:
        ok = False
    print("%s %-14s want %s got %s" % ("ok  " if ok else "FAIL", name, want,
                                       got), flush=True)
    failed = failed or not ok
    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % PORT,
                                timeout=10) as r:
        if r.status != 200:
            print("FAIL /healthz %d after %s" % (r.status, name))
            failed = True
proc.send_signal(signal.SIGTERM)
rc = proc.wait(30)
text = open(err).read()
for mark in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
    if mark in text:
        print("FAIL sanitizer: " + text[text.index(mark):][:2000])
        failed = True
print("%s exit %d on SIGTERM" % ("ok  " if rc == 0 else "FAIL", rc))
sys.exit(1 if failed or rc != 0 else 0)
