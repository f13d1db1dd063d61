"""What the ATTACK scripts share: free ports, and a relay started the way
a user would, waited for on its "ready" line (with a deadline), never on a
sleep."""
import os
import select
import socket
import subprocess
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(cmd, errpath, deadline=10.0):
    """Start CMD (stderr to ERRPATH); return the process once it printed
    'ready' on stdout. Raises if it exits or is not ready in time."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=open(errpath, "w"))
    fd = proc.stdout.fileno()  # read unbuffered: select sees all there is
    end = time.time() + deadline
    seen = b""
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError("%s exited before ready (%s)" % (cmd[:2], errpath))
        seen += chunk
        if b"\nready\n" in b"\n" + seen:
            return proc
    proc.kill()
    raise RuntimeError("%s not ready within %.0f s" % (cmd[:2], deadline))
