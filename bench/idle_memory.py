#!/usr/bin/env python3
"""Memory of idle WebSocket connections: opens N WebSockets to a server and reports its RSS growth
per connection. Loopback only; bounded by N; stops by itself.

    /usr/bin/python3 bench/idle_memory.py --binary build/bin/echo [--connections 5000]
    /usr/bin/python3 bench/idle_memory.py --binary build/bin/chat \
        --path '/ws/chat/bench?username=u' --url-bytes 8000

The server is started with --port 0 --threads 1 (examples' command line); its RSS is read from
/proc after a warm-up of 100 connections, then after N more. `--path` is the request target of
the handshake (`{i}` in it becomes the connection's number, e.g. one chat room per connection);
`--url-bytes N` pads it (with an extra query parameter the application ignores) to
N bytes, to show whether a connection's memory grows with its URL.
"""
import argparse
import os
import re
import resource
import socket
import subprocess
import sys
import time

def handshake(target: str) -> bytes:
    return (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def padded_target(path: str, url_bytes: int) -> str:
    """`path`, with a `pad=xxx...` query parameter added so that the whole target is `url_bytes` long."""
    if url_bytes <= len(path):
        return path
    sep = "&" if "?" in path else "?"
    fill = url_bytes - len(path) - len(sep) - len("pad=")
    return path + sep + "pad=" + "x" * max(fill, 0)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_ws(port: int, request: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(request)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed during the handshake")
        buf += chunk
    if b" 101 " not in buf.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"handshake refused: {buf[:80]!r}")
    return s


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--connections", type=int, default=5000)
    ap.add_argument("--path", default="/ws", help="request target of the handshake (default /ws)")
    ap.add_argument("--url-bytes", type=int, default=0,
                    help="pad the request target to this many bytes (an ignored query parameter)")
    args = ap.parse_args()
    target = padded_target(args.path, args.url_bytes)

    def request(i: int) -> bytes:
        return handshake(target.replace("{i}", str(i)))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 200
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    # One client opening thousands of connections: the per-address limits would refuse it (429).
    proc = subprocess.Popen([args.binary, "--port", "0", "--threads", "1",
                             "--limit", "max_connections_per_address=10000000",
                             "--limit", "max_connection_rate_per_address=0",
                             "--limit", "max_header_bytes=64KiB"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # no access log
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"http://[^:]+:(\d+)", line).group(1))
        socks = [open_ws(port, request(i)) for i in range(100)]
        time.sleep(0.2)  # let the server settle before the first reading
        before = rss_kib(proc.pid)
        socks += [open_ws(port, request(100 + i)) for i in range(args.connections)]
        time.sleep(0.2)
        after = rss_kib(proc.pid)
        per = (after - before) * 1024 / args.connections
        print(f"{args.connections} idle WebSocket connections (target of {len(target)} bytes): "
              f"+{after - before} KiB RSS, {per:.0f} bytes per connection")
        for s in socks:
            s.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
