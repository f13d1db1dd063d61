#!/usr/bin/python3
"""http_flood.py - does a flood of HTTP clients slow the relay?

    /usr/bin/python3 bench/http_flood.py [ZRELAY] [--messages N] [--runs R]
                                         [--clients C] [--slow S]

A `zrelay streamer --http 127.0.0.1:0` process; a PUSH producer and a
PULL consumer (pyzmq, processes of their own) move N messages of 16
bytes through it, timed at the consumer. Each run is done three times, in
alternation: alone; while C HTTP clients (threads of one process) fetch
/metrics from this relay in a loop and S slowloris connections trickle a
header byte every 5 s; and with the same flood against another zrelay
process, which loads the machine alike without touching this relay: the
difference between the last two is what serving HTTP costs the relay,
the rest is the machine's CPU shared with the clients. Prints the median messages/s of each phase, the scrapes
done during the flood, and the relay's CPU time. A benchmark, not a
test: the numbers depend on the machine (2 shared cores here: the
clients compete with the relay for them).
"""
import argparse
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import threading
import time

import zmq


def start_relay(zrelay):
    proc = subprocess.Popen([zrelay, "streamer", "--http", "127.0.0.1:0",
                             "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*"],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    ends = {}
    for line in proc.stdout:
        if line.strip() == "ready":
            break
        f = line.split()
        ends[f[0]] = f[2]
    return proc, ends


def producer(front, n, go):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, 100000)
    s.connect(front)
    go.wait()
    msg = b"x" * 16
    for _ in range(n):
        s.send(msg)
    s.close(linger=-1)
    ctx.term()


def consumer(back, n, out):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.setsockopt(zmq.RCVHWM, 100000)
    s.connect(back)
    s.recv()
    t0 = time.perf_counter()
    for _ in range(n - 1):
        s.recv()
    out.put((n - 1) / (time.perf_counter() - t0))
    s.close(0)
    ctx.term()


def one_run(ends, n):
    q = multiprocessing.Queue()
    go = multiprocessing.Event()
    c = multiprocessing.Process(target=consumer, args=(ends["backend"], n, q))
    p = multiprocessing.Process(target=producer,
                                args=(ends["frontend"], n, go))
    c.start()
    p.start()
    time.sleep(0.3)  # both connected (a benchmark, not a test)
    go.set()
    rate = q.get()
    p.join()
    c.join()
    return rate


class Flood:
    def __init__(self, addr, clients, slow):
        self.addr, self.stop, self.scrapes = addr, threading.Event(), 0
        self.errors = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client)
                        for _ in range(clients)]
        self.threads += [threading.Thread(target=self.slowloris)
                         for _ in range(slow)]

    def client(self):
        while not self.stop.is_set():
            try:
                s = socket.create_connection(self.addr, timeout=10)
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: b\r\n"
                          b"Connection: close\r\n\r\n")
                while s.recv(65536):
                    pass
                s.close()
                with self.lock:
                    self.scrapes += 1
            except OSError:
                with self.lock:
                    self.errors += 1

    def slowloris(self):
        while not self.stop.is_set():
            try:
                s = socket.create_connection(self.addr, timeout=10)
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: b\r\n")
                while not self.stop.wait(5):
                    s.sendall(b"X")
                s.close()
            except OSError:
                pass

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        for t in self.threads:
            t.join()


def cpu_seconds(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("zrelay", nargs="?", default="build/zrelay")
    ap.add_argument("--messages", type=int, default=300000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--slow", type=int, default=5)
    a = ap.parse_args()
    relay, ends = start_relay(a.zrelay)
    other, other_ends = start_relay(a.zrelay)  # the control: flooded instead

    def address(e):
        host, port = re.match(r"http://([^:]+):(\d+)/", e["http"]).groups()
        return (host, int(port))
    alone, flooded, elsewhere, scrapes = [], [], [], 0
    cpu = [0.0, 0.0, 0.0]
    try:
        for _ in range(a.runs):
            c0 = cpu_seconds(relay.pid)
            alone.append(one_run(ends, a.messages))
            c1 = cpu_seconds(relay.pid)
            with Flood(address(ends), a.clients, a.slow) as f:
                flooded.append(one_run(ends, a.messages))
            c2 = cpu_seconds(relay.pid)
            with Flood(address(other_ends), a.clients, a.slow):
                elsewhere.append(one_run(ends, a.messages))
            c3 = cpu_seconds(relay.pid)
            scrapes += f.scrapes
            cpu[0] += c1 - c0
            cpu[1] += c2 - c1
            cpu[2] += c3 - c2
    finally:
        for p in (relay, other):
            p.terminate()
            p.wait()
    print("zrelay streamer, tcp, %d messages of 16 B per run, %d runs" %
          (a.messages, a.runs))
    print("| phase | msgs/s (median) | min | max | relay CPU s |")
    print("|---|---|---|---|---|")
    flood = "%d HTTP clients + %d slowloris" % (a.clients, a.slow)
    for name, r, c in (("alone", alone, cpu[0]),
                       (flood + " on this relay", flooded, cpu[1]),
                       (flood + " on another zrelay (the same CPU load, "
                        "not this relay's HTTP)", elsewhere, cpu[2])):
        print("| %s | %.0f | %.0f | %.0f | %.2f |" % (
            name, statistics.median(r), min(r), max(r), c))
    print("scrapes of /metrics served during the floods: %d" % scrapes)


if __name__ == "__main__":
    main()
