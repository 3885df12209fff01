#!/usr/bin/env python3
"""Memory of idle members in a room with a full history: fills one chat room's history (1 MiB by
default), then opens N idle members in that room and reports the server's RSS growth per member,
next to the same number of members in a room without history. Loopback only; bounded by N; stops
by itself.

    /usr/bin/python3 bench/history_memory.py --binary build/bin/chat [--members 500]

The server is started with --port 0 --threads 1 (examples' command line). Each member joins
/ws/chat/{room}, gets the room's replay (the chat example replays the last 50 saved messages) and
then stays idle; a drain thread reads everything the server sends, so the figures measure what the
server keeps per member, not unsent bytes. The issue's figure before saved messages were shared:
about 750 kB per member (every member held its own copy of the history).
"""
import argparse
import base64
import os
import re
import resource
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def handshake(port: int, path: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed during the handshake")
        buf += chunk
    if b" 101 " not in buf.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"handshake refused: {buf[:80]!r}")
    s.setblocking(False)
    return s


def text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Drain:
    """Reads and discards everything the server sends to the registered sockets."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.received = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def add(self, s: socket.socket) -> None:
        with self.lock:
            self.sel.register(s, selectors.EVENT_READ)

    def run(self) -> None:
        while not self.stop:
            with self.lock:
                if not self.sel.get_map():
                    events = []
                else:
                    events = self.sel.select(timeout=0.05)
            if not events:
                time.sleep(0.01)
                continue
            for key, _ in events:
                try:
                    data = key.fileobj.recv(1 << 16)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    with self.lock:
                        self.sel.unregister(key.fileobj)
                    continue
                self.received += len(data)

    def quiet(self, seconds: float = 0.5, limit: float = 120) -> None:
        """Waits until nothing has arrived for `seconds` (the server has sent everything)."""
        deadline = time.monotonic() + limit
        last = -1
        while time.monotonic() < deadline:
            if self.received == last:
                return
            last = self.received
            time.sleep(seconds)


def fill_history(port: int, room: str, messages: int, size: int) -> None:
    s = handshake(port, f"/ws/chat/{room}?username=writer")
    s.setblocking(True)
    content = "x" * size
    payload = ('{"type":"message","content":"' + content + '"}').encode()
    sink = bytearray()
    for _ in range(messages):
        s.sendall(text_frame(payload))
        # Read what the server sent back (the broadcast reaches the writer too) so it never
        # becomes a slow consumer.
        s.settimeout(0.0)
        try:
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                sink += chunk
        except (BlockingIOError, socket.timeout):
            pass
        s.settimeout(30)
        sink.clear()
    s.close()


def group_members(port: int) -> int:
    """Members of the server's groups, from /metrics (checks no member was dropped)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    m = re.search(rb"^nexios_channel_group_members (\d+)", data, re.M)
    return int(m.group(1)) if m else -1


def members(port: int, room: str, n: int, drain: Drain) -> list:
    out = []
    for i in range(n):
        s = handshake(port, f"/ws/chat/{room}?username=m{i}")
        drain.add(s)
        out.append(s)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--members", type=int, default=500)
    ap.add_argument("--message-bytes", type=int, default=1500, help="content of each saved message")
    ap.add_argument("--messages", type=int, default=1000, help="messages written (enough to fill 1 MiB)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * args.members + 200
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    proc = subprocess.Popen([args.binary, "--port", "0", "--threads", "1",
                             "--limit", "max_connections_per_address=10000000",
                             "--limit", "max_connection_rate_per_address=0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # no access log
    drain = Drain()
    socks = []
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"http://[^:]+:(\d+)", line).group(1))
        fill_history(port, "full", args.messages, args.message_bytes)
        # Warm-up: a few members in each room, so one-time allocations are out of the figures.
        socks += members(port, "empty", 20, drain)
        socks += members(port, "full", 20, drain)
        drain.quiet()
        base = rss_kib(proc.pid)
        socks += members(port, "empty", args.members, drain)
        drain.quiet()
        after_empty = rss_kib(proc.pid)
        socks += members(port, "full", args.members, drain)
        drain.quiet()
        after_full = rss_kib(proc.pid)
        connected = group_members(port)
        if connected != 2 * args.members + 40:
            print(f"warning: {connected} members in the groups, expected {2 * args.members + 40}")
        per_empty = (after_empty - base) * 1024 / args.members
        per_full = (after_full - after_empty) * 1024 / args.members
        print(f"history: {args.messages} messages of {args.message_bytes} bytes written to room 'full' "
              f"(1 MiB cap), RSS {base} KiB before the members")
        print(f"{args.members} idle members, room without history: +{after_empty - base} KiB RSS, "
              f"{per_empty:.0f} bytes per member")
        print(f"{args.members} idle members, room with a full history: +{after_full - after_empty} KiB RSS, "
              f"{per_full:.0f} bytes per member ({per_full - per_empty:+.0f} bytes for the history)")
    finally:
        drain.stop = True
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
