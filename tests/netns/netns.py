"""netns.py - hosts for zrelay's multi-host tests: Linux network namespaces
joined by one switch (issue 17).

A Net is one L2 segment: a namespace holding a bridge, and for each host
a namespace of its own with `eth0` (a veth pair to the bridge) at
10.77.0.N/24 and `lo` up. Every Net is a world of its own, so tests run
in parallel with the same addresses. Processes run in a host with
Net.popen; the test itself stays in the root namespace and talks to the
relays' control endpoints over ipc:// (Unix sockets are files, seen from
every network namespace).

Needs root and `ip` (iproute2). Net.available() says whether namespaces
can be made here; a test that cannot make them exits 77 (ctest's SKIP)
saying why. Every namespace is deleted at exit, also after a failure;
namespaces left by a test that was killed are deleted by the next Net
(their names carry the pid that made them).
"""
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys

SUBNET = "10.77.0"
_PREFIX = "zrt"


def _ip(*args, ns=None, check=True):
    cmd = ["ip"] + (["netns", "exec", ns, "ip"] if ns else []) + list(args)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r


def _reap_stale():
    """Delete namespaces of ours whose maker is gone (a killed test)."""
    r = _ip("netns", "list", check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(r"^%s(\d+)-" % _PREFIX, name)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
            continue  # alive: its maker deletes it
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        _ip("netns", "del", name, check=False)


def available():
    """(True, "") when namespaces can be made here, else (False, why)."""
    if os.geteuid() != 0:
        return False, "not root: network namespaces need root"
    if not shutil.which("ip"):
        return False, "no 'ip' (iproute2)"
    probe = "%s%d-probe" % (_PREFIX, os.getpid())
    r = _ip("netns", "add", probe, check=False)
    if r.returncode != 0:
        return False, "ip netns add: " + r.stderr.strip()
    _ip("netns", "del", probe, check=False)
    return True, ""


def skip_unless_available():
    ok, why = available()
    if not ok:
        print("SKIP: %s" % why)
        sys.exit(77)


class Net:
    """One switch and its hosts."""

    def __init__(self, tag="t"):
        _reap_stale()
        self.prefix = "%s%d-%s" % (_PREFIX, os.getpid(), tag)
        self.switch = self.prefix + "-sw"
        self.hosts = {}  # name -> (namespace, address)
        self.procs = []
        _ip("netns", "add", self.switch)
        _ip("link", "set", "lo", "up", ns=self.switch)
        _ip("link", "add", "br0", "type", "bridge", ns=self.switch)
        _ip("link", "set", "br0", "up", ns=self.switch)
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sys.exit(1))

    def host(self, name):
        """A new host NAME; its address."""
        n = len(self.hosts) + 1
        ns = "%s-%s" % (self.prefix, name)
        addr = "%s.%d" % (SUBNET, n)
        _ip("netns", "add", ns)
        _ip("link", "set", "lo", "up", ns=ns)
        port = "p%d" % n
        # Made in the host, its peer moved to the switch.
        _ip("link", "add", "eth0", "type", "veth", "peer", "name", port,
            ns=ns)
        _ip("link", "set", port, "netns", self.switch, ns=ns)
        _ip("addr", "add", addr + "/24", "dev", "eth0", ns=ns)
        _ip("link", "set", "eth0", "up", ns=ns)
        _ip("link", "set", port, "master", "br0", ns=self.switch)
        _ip("link", "set", port, "up", ns=self.switch)
        self.hosts[name] = (ns, addr, port)
        return addr

    def addr(self, name):
        return self.hosts[name][1]

    def ns(self, name):
        return self.hosts[name][0]

    def popen(self, name, argv, **kw):
        """ARGV run in host NAME; killed at close if still running."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(name)] + argv,
                             **kw)
        self.procs.append(p)
        return p

    def unplug(self, name):
        """Host NAME's cable out: its switch port down."""
        _ip("link", "set", self.hosts[name][2], "down", ns=self.switch)

    def plug(self, name):
        _ip("link", "set", self.hosts[name][2], "up", ns=self.switch)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.procs = []
        for ns, _, _ in self.hosts.values():
            _ip("netns", "del", ns, check=False)
        self.hosts = {}
        if self.switch:
            _ip("netns", "del", self.switch, check=False)
            self.switch = None
