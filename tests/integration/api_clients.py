#!/usr/bin/env python3
"""Clients that misbehave against wisp's API socket.

usage: api_clients.py SOCKET PID

Each check prints "ok ..." or "FAIL ..."; the exit status is 0 when all
passed. Afterwards the wisp process must hold no more file descriptors
than before and its resident memory must not have grown by more than the
allocator's slack (1 MiB): nothing a client does may leak.
"""
import os
import socket
import sys
import threading
import time

SOCK, PID = sys.argv[1], int(sys.argv[2])
failed = False


def check(name, cond, detail=""):
    global failed
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + detail))
    failed |= not cond


def connect(timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(SOCK)
    return s


def read_response(f):
    """One response from a buffered reader: (status, body bytes)."""
    line = f.readline()
    if not line:
        return None, b""
    status = int(line.split()[1])
    length = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, _, v = h.decode().partition(":")
        if k.lower() == "content-length":
            length = int(v)
    return status, f.read(length) if length else b""


def get(path="/"):
    s = connect()
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    r = read_response(s.makefile("rb"))
    s.close()
    return r


def fds():
    return len(os.listdir("/proc/%d/fd" % PID))


def rss_kib():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


get()  # warm up: first allocations of the server
time.sleep(0.5)  # and let it see that connection close
fds0, rss0 = fds(), rss_kib()

# 1 MiB body: 413 as soon as the head is read, then the server closes.
s = connect()
body = b"{" + b" " * (1 << 20) + b"}"
s.sendall(b"PUT /machine-config HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body))
try:
    s.sendall(body)
except OSError:
    pass  # the server may close before taking it all
status, resp = read_response(s.makefile("rb"))
check("1 MiB body gets 413", status == 413, "status %s %r" % (status, resp[:100]))
s.close()

# 10 000 requests on one connection, pipelined 100 at a time.
s = connect(30)
f = s.makefile("rb")
n_ok = 0
for _ in range(100):
    s.sendall(b"GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n" * 100)
    for _ in range(100):
        status, body = read_response(f)
        n_ok += status == 200 and b'"vcpu_count"' in body
f.close()  # the socket only closes once its file object is gone too
s.close()
check("10000 requests on one connection", n_ok == 10000, "%d answered 200" % n_ok)

# 200 connections at once, some idle, some mid-head, some mid-body, then
# all dropped without a word.
conns = []
for i in range(200):
    c = connect()
    if i % 3 == 1:
        c.sendall(b"GET / HTT")
    elif i % 3 == 2:
        c.sendall(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"vcp")
    conns.append(c)
status, _ = get()
check("served with 200 other connections open", status == 200, "status %s" % status)
for c in conns:
    c.close()

# A slow client, one byte a second, while another client is served.
slow_done = []


def slow_client():
    c = connect(30)
    req = b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
    for b in req[:4]:
        c.sendall(bytes([b]))
        time.sleep(1)
    c.sendall(req[4:])
    slow_done.append(read_response(c.makefile("rb"))[0])
    c.close()


t = threading.Thread(target=slow_client)
t.start()
time.sleep(0.5)
served = [get()[0] for _ in range(20)]
check("second client served while a slow one dribbles",
      served == [200] * 20 and t.is_alive(), "statuses %s" % served)
t.join()
check("slow client answered in the end", slow_done == [200], str(slow_done))

# A client that sends a request and vanishes before the answer.
for _ in range(50):
    c = connect()
    c.sendall(b"GET /vm/config HTTP/1.1\r\nHost: x\r\n\r\n")
    c.close()

# Garbage of every kind: each gets a 4xx/505 and a closed connection.
for raw, want in [(b"FOO / HTTP/1.1\r\n\r\n", 400),
                  (b"GET / HTTP/2.0\r\n\r\n", 505),
                  (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
                  (b"PUT /vm HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
                  (b"GET / HTTP/1.1\r\nX: " + b"a" * 10000 + b"\r\n\r\n", 400),
                  (b"\x00\x01\x02\r\n\r\n", 400)]:
    c = connect()
    c.sendall(raw)
    status, _ = read_response(c.makefile("rb"))
    check("garbage %r... gets %d" % (raw[:20], want), status == want, "got %s" % status)
    c.close()

time.sleep(0.5)  # let the server notice the closed connections
status, _ = get()
check("still serving", status == 200, "status %s" % status)
# The server closes its side when it sees the client's close: give it a
# moment, then every connection must be gone.
for _ in range(60):
    fds1 = fds()
    if fds1 <= fds0:
        break
    time.sleep(0.05)
rss1 = rss_kib()
check("no fd leaked", fds1 <= fds0, "fds %d -> %d" % (fds0, fds1))
check("memory did not grow", rss1 - rss0 < 1024, "VmRSS %d -> %d KiB" % (rss0, rss1))
sys.exit(1 if failed else 0)
