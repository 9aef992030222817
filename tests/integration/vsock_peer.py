#!/usr/bin/env python3
"""The host end of the Linux tier's vsock tests, as Firecracker's host
side is used: Unix sockets.

  vsock_peer.py connect UDS PORT BYTES [TIMEOUT]
      connect to the VM's uds_path, "CONNECT PORT", then send BYTES of the
      pattern, shut the write side and compare the guest's answer
      ("<bytes> <crc32>") with ours; retried until the guest listens
  vsock_peer.py listen PATH [TIMEOUT]
      listen on PATH (the VM's uds_path + "_" + port), take one
      connection, read to EOF and answer "<bytes> <crc32>"
  vsock_peer.py ping UDS PORT [TIMEOUT [WORD]]
      "ping WORD" (WORD 1 by default) to the guest's echo server, expect
      "pong WORD", or "pong WORD TAG" from an echo server given a TAG

The pattern and checksum are rootfs-tools/rootfs/wisp-vsock.c's: byte i =
base[i % 65536] ^ (i / 65536), base[j] = ((j * 2654435761) >> 24) & 0xff.
"""
import os
import socket
import sys
import time
import zlib

BASE = bytes(((j * 2654435761) >> 24) & 0xFF for j in range(65536))
XOR = [bytes(b ^ x for b in range(256)) for x in range(256)]


def blocks(total):
    k = 0
    while total > 0:
        b = BASE.translate(XOR[k & 0xFF])[: min(total, 65536)]
        yield b
        total -= len(b)
        k += 1


def host_connect(uds, port, deadline):
    """A stream to the guest's PORT, once something listens there."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            s.connect(uds)
            s.sendall(f"CONNECT {port}\n".encode())
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                if not c:
                    break
                line += c
            if line.startswith(b"OK "):
                return s
        except OSError:
            pass
        s.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on vsock port {port}")
        time.sleep(0.5)


def read_line(s):
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(64)
        if not c:
            break
        line += c
    return line.decode().strip()


def connect(uds, port, total, timeout):
    s = host_connect(uds, port, time.monotonic() + timeout)
    s.settimeout(timeout)
    crc, t = 0, time.monotonic()
    for b in blocks(total):
        crc = zlib.crc32(b, crc)
        s.sendall(b)
    s.shutdown(socket.SHUT_WR)
    got, want = read_line(s), f"{total} {crc:08x}"
    dt = time.monotonic() - t
    print(f"host sent {want}, guest got {got or 'nothing'} "
          f"({total / dt / 1e6:.3f} MB/s)", flush=True)
    return 0 if got == want else 1


def listen(path, timeout):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(1)
    ls.settimeout(timeout)
    print("listening", flush=True)
    c, _ = ls.accept()
    c.settimeout(timeout)
    crc, total, t = 0, 0, time.monotonic()
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        crc = zlib.crc32(b, crc)
        total += len(b)
    dt = time.monotonic() - t
    c.sendall(f"{total} {crc:08x}\n".encode())
    c.close()
    print(f"host got {total} {crc:08x} ({total / dt / 1e6:.3f} MB/s)", flush=True)
    return 0


def ping(uds, port, timeout, word="1"):
    s = host_connect(uds, port, time.monotonic() + timeout)
    s.settimeout(timeout)
    s.sendall(f"ping {word}\n".encode())
    got = read_line(s)
    print(f"sent ping {word}, got {got}", flush=True)
    return 0 if got == f"pong {word}" or got.startswith(f"pong {word} ") else 1


def main(a):
    try:
        if len(a) >= 5 and a[1] == "connect":
            return connect(a[2], int(a[3]), int(a[4]), float(a[5]) if len(a) > 5 else 60)
        if len(a) >= 3 and a[1] == "listen":
            return listen(a[2], float(a[3]) if len(a) > 3 else 60)
        if len(a) >= 4 and a[1] == "ping":
            return ping(a[2], int(a[3]), float(a[4]) if len(a) > 4 else 60,
                        a[5] if len(a) > 5 else "1")
    except (OSError, TimeoutError) as e:
        print(f"vsock_peer: {e}", flush=True)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
