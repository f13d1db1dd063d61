#!/usr/bin/python3
"""readme_walk.py - README.md as a script: every example must work.

usage: /usr/bin/python3 readme_walk.py ZRELAY SOURCE_DIR [README]

Exit status: 0 passed, 1 failed, 77 skipped.

Four parts, in one network namespace of the test's own (unshare(2) with
CLONE_NEWNET as root, with CLONE_NEWUSER too otherwise, then `ip link set
lo up`: the README's fixed ports 5558-5571 are free there whatever runs on
the host). Where no namespace can be had the walk runs in the host's
network after checking that the ports are free (CTest's RESOURCE_LOCK
seed-ports keeps interop_default away), and says so.

1. readme: what `make run` starts, `zrelay run` (the embedded default), is
   started and awaited ("ready", with a deadline); its table must appear,
   line for line and in order, in the README block marked
   `<!-- readme-test: ready-table -->`. Then every fenced block of
   README.md runs, in order, by these rules (the convention authors
   follow):
     ```sh     a block of commands: it runs, as `bash -e -o pipefail`, in
               a scratch directory where `zrelay` and `build/zrelay` are
               the binary under test, and must exit 0 within BLOCK_S
               seconds. So a command that runs until stopped must end
               with `&` (it runs on in the background until the walk
               ends) or have an end of its own (--count, --timeout);
               `wait $!` makes a background job's exit status count.
               A device started in the background (`zrelay forwarder|
               queue|streamer|run ... &`) is awaited: the walk sends its
               stdout to a file and waits for its "ready" line (deadline
               READY_S) before the next command, as a reader would.
     <!-- readme-test: skip REASON -->
               on the line(s) before a ```sh block: it does not run
               (`make test`, installing as root, ...); REASON is required.
     ```text, ```ini, ```c, ...
               not commands (synopses, output samples, files): not run.
     A fence without a language fails the walk: say which it is.
   The embedded default is left running across blocks; the README may stop
   it (`zrelay ctl terminate`), which must end it with exit status 0 (if
   it does not, the walk stops it with SIGTERM, also expecting 0).
2. help: the examples of every verb's `--help` (taken from the binary at
   run time: the lines after "Example:"/"Examples:"), each with a fresh
   set of ports (the previous example's processes all stopped). A device
   example must print "ready", then stop with exit status 0 on SIGTERM. A
   client example runs with the device of its family started from that
   device's own help example (pub/sub: forwarder, req/rep/dealer: queue,
   push/pull: streamer; ctl: a forwarder whose --control is the
   example's endpoint), and must exit 0, or 3 (its --timeout: nothing
   answered), or still be running after CLIENT_S seconds (it waits for
   peers: stopped then). Exit 1 or 2 (a usage error, a port in use)
   fails. An example line containing "# not run" is skipped.
3. check: `zrelay check` warns about a control endpoint that binds a
   non-loopback address, as `zrelay run` does (issue 12, item 8).
4. ctl: `zrelay ctl -c CONFIG reload` that gets no reply names the likely
   cause: the daemon still on the old control endpoint, and SIGHUP
   (issue 12, item 9).
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BLOCK_S = 60      # one README block, at most
READY_S = 30      # a device's "ready"
CLIENT_S = 3      # a help example that waits for peers: seen running
STOP_S = 15       # a device's clean stop
PORTS = range(5558, 5572)
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
FAMILY = {"pub": "forwarder", "sub": "forwarder", "req": "queue",
          "rep": "queue", "dealer": "queue", "push": "streamer",
          "pull": "streamer"}
DEVICES = ("forwarder", "queue", "streamer")


class Failure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def indent(text):
    return "\n".join("    " + l for l in text.rstrip("\n").splitlines())


def private_network():
    """This process, and what it starts from now on, into a new network
    namespace with loopback up (see run_seed.py). (True, how) or (False,
    why not)."""
    ip = shutil.which("ip") or ("/usr/sbin/ip" if os.path.exists(
        "/usr/sbin/ip") else None)
    if not ip:
        return False, "no 'ip' command (iproute2) to bring up loopback"
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNET if uid == 0 else CLONE_NEWUSER | CLONE_NEWNET
    how = "unshare(CLONE_NEWNET)" if uid == 0 else \
        "unshare(CLONE_NEWUSER|CLONE_NEWNET), uid %d as root" % uid
    if libc.unshare(flags) != 0:
        return False, "%s: %s" % (how, os.strerror(ctypes.get_errno()))
    if flags & CLONE_NEWUSER:
        for name, text in (("setgroups", "deny"), ("uid_map", "0 %d 1" % uid),
                           ("gid_map", "0 %d 1" % gid)):
            with open("/proc/self/" + name, "w") as f:
                f.write(text)
    subprocess.run([ip, "link", "set", "lo", "up"], check=True)
    return True, how


def ports_free():
    for port in PORTS:
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as e:
            raise Failure("port %d on 127.0.0.1 is taken (%s), and no "
                          "network namespace of its own is possible here"
                          % (port, e))
        finally:
            probe.close()


class Proc:
    """A command in a session of its own, stdout and stderr to files."""

    def __init__(self, args, cwd, env, shell=False, tag="cmd"):
        self.out = tempfile.NamedTemporaryFile(
            mode="w+", dir=cwd, prefix=".%s-out." % tag, delete=False)
        self.err = tempfile.NamedTemporaryFile(
            mode="w+", dir=cwd, prefix=".%s-err." % tag, delete=False)
        self.args = args
        self.proc = subprocess.Popen(
            ["bash", "-e", "-o", "pipefail", "-c", args] if shell else args,
            cwd=cwd, env=env, stdout=self.out, stderr=self.err,
            stdin=subprocess.DEVNULL, start_new_session=True)

    def text(self):
        with open(self.out.name) as f:
            out = f.read()
        with open(self.err.name) as f:
            err = f.read()
        return out, err

    def wait_ready(self, timeout=READY_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out, err = self.text()
            if "\nready\n" in "\n" + out:
                return out
            if self.proc.poll() is not None:
                raise Failure("%s exited (%d) before 'ready':\n%s"
                              % (self.args, self.proc.returncode,
                                 indent(out + err)))
            time.sleep(0.02)  # polling a file for an event, with a deadline
        raise Failure("%s: no 'ready' within %d s" % (self.args, timeout))

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop_group(self, sig=signal.SIGTERM):
        """SIGTERM to its whole session (background jobs included), then
        SIGKILL to what is left after STOP_S."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        rc = self.wait(STOP_S)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if rc is None:
            rc = self.proc.wait()
        return rc


def scratch(zrelay):
    """A directory where `zrelay` and `build/zrelay` run ZRELAY, and the
    environment that finds them."""
    work = tempfile.mkdtemp(prefix="zrelay-readme.")
    bindir = os.path.join(work, ".bin")
    os.makedirs(bindir)
    os.makedirs(os.path.join(work, "build"))
    for path in (os.path.join(bindir, "zrelay"),
                 os.path.join(work, "build", "zrelay")):
        with open(path, "w") as f:
            f.write('#!/bin/sh\nexec "%s" "$@"\n' % zrelay)
        os.chmod(path, 0o755)
    env = dict(os.environ)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    return work, env


# ---------------------------------------------------------------- README

def readme_blocks(text):
    """[(line, lang, directive, body)] for every fenced block."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, lang = i + 1, m.group(1)
        directive, j = None, i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0:
            d = re.match(r"^<!--\s*readme-test:\s*(.*?)\s*-->\s*$", lines[j])
            if d:
                directive = d.group(1)
        body = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise Failure("README.md:%d: a fence that never closes" % start)
        blocks.append((start, lang, directive, "\n".join(body) + "\n"))
        i += 1
    return blocks


DEVICE_BG = re.compile(
    r"^\s*((?:build/)?zrelay\s+(?:forwarder|queue|streamer|run)\b.*?)"
    r"\s*&\s*(#.*)?$")


def prepare(body, n):
    """The block as the walk runs it: a device started in the background
    gets its stdout in a file and is awaited until it printed 'ready'."""
    logical, cur = [], ""
    for line in body.splitlines():
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        logical.append(cur + line)
        cur = ""
    if cur:
        logical.append(cur)
    out = ["_ready() {  # FILE PID: wait for 'ready' in FILE",
           "  local t=$((SECONDS + %d))" % READY_S,
           "  until grep -qx ready \"$1\" 2>/dev/null; do",
           "    kill -0 \"$2\" 2>/dev/null || { echo \"exited before ready:"
           " $(cat $1)\" >&2; return 1; }",
           "    [ $SECONDS -lt $t ] || { echo 'no ready' >&2; return 1; }",
           "    sleep 0.02",
           "  done",
           "}"]
    for k, line in enumerate(logical):
        m = DEVICE_BG.match(line)
        if m:
            f = ".device-%d-%d.out" % (n, k)
            out.append("%s > %s &" % (m.group(1), f))
            out.append("_ready %s $!" % f)
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def part_readme(zrelay, readme):
    with open(readme) as f:
        text = f.read()
    blocks = readme_blocks(text)
    work, env = scratch(zrelay)
    running = []
    log("readme: %s, %d fenced blocks, in %s" % (readme, len(blocks), work))
    daemon = Proc([zrelay, "run"], work, env, tag="daemon")
    running.append(daemon)
    try:
        table = daemon.wait_ready()
        log("zrelay run printed:\n" + indent(table))
        samples = [b for b in blocks if b[2] == "ready-table"]
        if len(samples) != 1:
            raise Failure("README.md needs one block marked <!-- "
                          "readme-test: ready-table --> (found %d)"
                          % len(samples))
        sample = samples[0][3].splitlines()
        at = 0
        for line in table.splitlines():
            while at < len(sample) and sample[at].rstrip() != line.rstrip():
                at += 1
            if at == len(sample):
                raise Failure("README.md:%d: the sample of what `zrelay "
                              "run` prints lacks, or has out of order:\n%s"
                              % (samples[0][0], indent(line)))
            at += 1
        ran = 0
        for n, (line, lang, directive, body) in enumerate(blocks):
            if not lang:
                raise Failure("README.md:%d: a fence without a language: "
                              "```sh runs, ```text does not (see %s)"
                              % (line, os.path.basename(__file__)))
            if lang != "sh":
                continue
            if directive is not None:
                m = re.match(r"^skip\s+\S", directive)
                if not m:
                    raise Failure("README.md:%d: unknown directive '%s' "
                                  "(want: skip REASON)" % (line, directive))
                log("README.md:%d: skipped (%s)" % (line, directive))
                continue
            script = prepare(body, n)
            log("README.md:%d: running\n%s" % (line, indent(body)))
            block = Proc(script, work, env, shell=True, tag="block%d" % n)
            running.append(block)
            rc = block.wait(BLOCK_S)
            out, err = block.text()
            if out or err:
                log(indent(out + err))
            if rc is None:
                raise Failure("README.md:%d: the block did not end within "
                              "%d s: a command runs until stopped (end it "
                              "with & or give it --count/--timeout)"
                              % (line, BLOCK_S))
            if rc != 0:
                raise Failure("README.md:%d: the block failed, exit status "
                              "%d:\n%s" % (line, rc, indent(body)))
            ran += 1
        rc = daemon.wait(STOP_S)
        if rc is None:
            log("readme: the default still runs; stopping it (SIGTERM)")
            rc = daemon.stop_group()
        if rc != 0:
            out, err = daemon.text()
            raise Failure("zrelay run ended with exit status %d:\n%s"
                          % (rc, indent(err)))
        log("readme: ok, %d blocks ran, the default ended with 0" % ran)
    finally:
        for p in reversed(running):
            p.stop_group()
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- --help

def help_examples(zrelay):
    """{verb: [example command]} from every verb's --help."""
    top = subprocess.run([zrelay, "--help"], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    verbs = []
    for line in top.splitlines():
        m = re.match(r"^  ([a-z]+(?:\|[a-z]+)*) ", line)
        if m:
            verbs += [v for v in m.group(1).split("|") if v not in verbs]
    examples = {}
    for verb in verbs:
        text = subprocess.run([zrelay, verb, "--help"],
                              stdout=subprocess.PIPE, text=True).stdout
        lines, found, cur = text.splitlines(), [], None
        for i, line in enumerate(lines):
            m = re.match(r"^Examples?:\s*(.*)$", line)
            if not m:
                continue
            cmds = [m.group(1)] if m.group(1) else []
            for more in lines[i + 1:]:
                if not more.startswith("  "):
                    break
                cmds.append(more.strip())
            for c in cmds:
                if cur is not None:
                    cur += " " + c
                else:
                    cur = c
                if cur.endswith("\\"):
                    cur = cur[:-1]
                    continue
                found.append(cur)
                cur = None
        examples[verb] = found
    return verbs, examples


def example_verb(cmd):
    m = re.search(r"(?:^|\|\s*)zrelay\s+([a-z]+)", cmd)
    return m.group(1) if m else None


def part_help(zrelay):
    verbs, examples = help_examples(zrelay)
    log("help: %d verbs, %d examples" % (len(verbs), sum(
        len(v) for v in examples.values())))
    work, env = scratch(zrelay)
    try:
        for verb in verbs:
            for cmd in examples[verb]:
                if "# not run" in cmd:
                    log("help %s: skipped (# not run): %s" % (verb, cmd))
                    continue
                s_help_example(zrelay, work, env, examples, verb, cmd)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def s_help_example(zrelay, work, env, examples, verb, cmd):
    what = "zrelay %s --help: %s" % (verb, cmd)
    if example_verb(cmd) != verb:
        raise Failure("%s: the example does not run 'zrelay %s'"
                      % (what, verb))
    running = []
    try:
        if verb in DEVICES:
            dev = Proc(cmd, work, env, shell=True, tag="help")
            running.append(dev)
            dev.wait_ready()
            rc = dev.stop_group()
            if rc != 0:
                raise Failure("%s: exit status %d after SIGTERM:\n%s"
                              % (what, rc, indent("".join(dev.text()))))
            log("help %s: ok (ready, clean stop): %s" % (verb, cmd))
            return
        peer = None
        if verb in FAMILY:
            family = [c for c in examples.get(FAMILY[verb], [])
                      if "# not run" not in c]
            if family:
                peer = family[0]
        elif verb in ("ctl", "top"):
            ep = [a for a in cmd.split() if "://" in a]
            if ep:
                peer = ("zrelay forwarder @tcp://127.0.0.1:* "
                        "@tcp://127.0.0.1:* --control @%s" % ep[0])
        if peer:
            dev = Proc(peer, work, env, shell=True, tag="peer")
            running.append(dev)
            dev.wait_ready()
        client = Proc(cmd, work, env, shell=True, tag="help")
        running.append(client)
        rc = client.wait(CLIENT_S)
        out, err = client.text()
        if rc is not None and rc not in (0, 3):
            raise Failure("%s: exit status %d%s:\n%s"
                          % (what, rc, " (against: %s)" % peer if peer
                             else "", indent(out + err)))
        log("help %s: ok (%s%s): %s" % (
            verb, "exit %d" % rc if rc is not None else "still waiting "
            "for peers after %d s" % CLIENT_S,
            ", against: " + peer if peer else "", cmd))
        if peer:
            client.stop_group()
            rc = running[0].stop_group()
            if rc != 0:
                raise Failure("%s: its peer '%s' ended with %d"
                              % (what, peer, rc))
    finally:
        for p in reversed(running):
            p.stop_group()


# ---------------------------------------------------------- regressions

def part_check(zrelay):
    work, env = scratch(zrelay)
    try:
        for control, warn in (("tcp://*:5998", True),
                              ("tcp://0.0.0.0:5998", True),
                              ("tcp://127.0.0.1:5998", False),
                              ("ipc:///tmp/zrelay-readme.ctl", False)):
            conf = os.path.join(work, "c.conf")
            # issue 14: beyond loopback only when said (control_insecure)
            with open(conf, "w") as f:
                f.write("[zrelay]\ncontrol = %s\n%s\n[queue q]\n"
                        "frontend = @tcp://127.0.0.1:*\n"
                        "backend = @tcp://127.0.0.1:*\n" % (
                            control,
                            "control_insecure = yes\n" if warn else ""))
            res = subprocess.run([zrelay, "check", conf], env=env,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            warned = "reachable from the network" in res.stderr
            if res.returncode != 0 or warned != warn:
                raise Failure("zrelay check with control = %s: exit %d, "
                              "%s, want %s:\n%s" % (
                                  control, res.returncode,
                                  "a warning" if warned else "no warning",
                                  "a warning as zrelay run prints"
                                  if warn else "none",
                                  indent(res.stdout + res.stderr)))
            log("check: control = %s: %s" % (
                control, "warned" if warned else "no warning"))
        # Without control_insecure, what zrelay run refuses is an error.
        with open(conf, "w") as f:
            f.write("[zrelay]\ncontrol = tcp://*:5998\n\n[queue q]\n"
                    "frontend = @tcp://127.0.0.1:*\n"
                    "backend = @tcp://127.0.0.1:*\n")
        res = subprocess.run([zrelay, "check", conf], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        if res.returncode != 2 or "control_insecure" not in res.stderr:
            raise Failure("zrelay check with an open control endpoint: "
                          "exit %d, want 2 naming control_insecure:\n%s" % (
                              res.returncode,
                              indent(res.stdout + res.stderr)))
        log("check: control = tcp://*:5998 alone: refused")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def part_ctl(zrelay):
    work, env = scratch(zrelay)
    try:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()  # nobody listens there: the daemon "moved" away
        conf = os.path.join(work, "new.conf")
        with open(conf, "w") as f:
            f.write("[zrelay]\ncontrol = tcp://127.0.0.1:%d\n\n[queue q]\n"
                    "frontend = @tcp://127.0.0.1:*\n"
                    "backend = @tcp://127.0.0.1:*\n" % port)
        res = subprocess.run([zrelay, "ctl", "-c", conf, "reload",
                              "--timeout", "300ms"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        for want in ("old endpoint", "SIGHUP"):
            if res.returncode != 1 or want not in res.stderr:
                raise Failure("zrelay ctl -c NEW.conf reload, nobody "
                              "there: exit %d, want 1 and '%s' in:\n%s"
                              % (res.returncode, want, indent(res.stderr)))
        log("ctl: -c NEW.conf reload without a reply says:\n"
            + indent(res.stderr))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    zrelay = os.path.abspath(sys.argv[1])
    readme = sys.argv[3] if len(sys.argv) == 4 else \
        os.path.join(sys.argv[2], "README.md")
    if not shutil.which("bash"):
        print("SKIP: no bash")
        return 77
    private, how = private_network()
    log("network: %s (%s)" % ("a namespace of its own" if private
                              else "the host's", how))
    failed = 0
    for name, part in (("readme", lambda: part_readme(zrelay, readme)),
                       ("help", lambda: part_help(zrelay)),
                       ("check", lambda: part_check(zrelay)),
                       ("ctl", lambda: part_ctl(zrelay))):
        try:
            if not private and name in ("readme", "help"):
                ports_free()
            part()
            log("ok %s" % name)
        except Failure as e:
            log("FAIL %s: %s" % (name, e))
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
