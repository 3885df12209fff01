#!/usr/bin/python3
"""How one big room's fan-out delays an unrelated client (issue 13, item 9).

    /usr/bin/python3 bench/broadcast_latency.py --binary build/bin/chat [--members 2000]
        [--procs 4] [--threads 2] [--duration 10] [--limit NAME=VALUE]...

Starts the chat example, fills one room with --members members (spread over --procs client
processes that read and discard everything; ping_interval and idle_timeout are off so they never
need to answer), then measures, from a separate probe process, three things an unrelated client
does — a WebSocket handshake (connect to 101), an echo round trip (a typing notice in a room of
its own, which the server broadcasts back to it) and GET /health on a keep-alive connection —
first while the big room is quiet, then while one sender loops sending a message to the big room
and waiting for its own copy (so one fan-out to every member is always in progress). Prints p50,
p99 and max of each, and the fan-out rate. The per-address limits are lifted for the run (every
client is 127.0.0.1) and the per-connection message rate too (the chat throttles at 20/s).

Stays well under the 20,000-descriptor limit: 2 × (members + a few) descriptors.
"""

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

HOST = "127.0.0.1"
BIG_ROOM = "big"


def upgrade(path: str, port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def text_frame(payload: bytes) -> bytes:
    n = len(payload)
    head = bytes([0x81])
    if n <= 125:
        head += bytes([0x80 | n])
    elif n <= 0xFFFF:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


class FrameReader:
    """Reads the server's (unmasked) frames from a blocking socket."""

    def __init__(self, sock: socket.socket, initial: bytes = b""):
        self.sock = sock
        self.buf = bytearray(initial)

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def frame(self):
        self._need(2)
        op, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        at = 2
        if n == 126:
            self._need(4)
            n, at = struct.unpack_from("!H", self.buf, 2)[0], 4
        elif n == 127:
            self._need(10)
            n, at = struct.unpack_from("!Q", self.buf, 2)[0], 10
        self._need(at + n)
        payload = bytes(self.buf[at:at + n])
        del self.buf[:at + n]
        return op, payload


def ws_connect(port: int, path: str, timeout: float = 30.0):
    """A blocking WebSocket client: (socket, FrameReader, seconds the handshake took)."""
    start = time.perf_counter()
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(upgrade(path, port))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed during the handshake to {path}")
        buf += chunk
    elapsed = time.perf_counter() - start
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"handshake to {path}: {head[:80]!r}")
    return sock, FrameReader(sock, rest), elapsed


# ---- the members: many connections that read and discard --------------------------------------

class Sink(asyncio.Protocol):
    def __init__(self, counter, ready):
        self.counter = counter
        self.ready = ready
        self.head = b""
        self.upgraded = False

    def data_received(self, data):
        if not self.upgraded:
            self.head += data
            if b"\r\n\r\n" in self.head:
                if not self.head.startswith(b"HTTP/1.1 101"):
                    self.ready.set_exception(ConnectionError(self.head[:80].decode("latin-1")))
                    return
                self.upgraded = True
                self.counter[0] += len(self.head.split(b"\r\n\r\n", 1)[1])
                self.ready.set_result(True)
            return
        self.counter[0] += len(data)

    def connection_lost(self, exc):
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the upgrade"))


def members_process(port: int, count: int, index: int, conn) -> None:
    async def run():
        loop = asyncio.get_running_loop()
        counter = [0]
        transports = []
        sem = asyncio.Semaphore(64)

        async def one(i):
            async with sem:
                ready = loop.create_future()
                t, _ = await loop.create_connection(lambda: Sink(counter, ready), HOST, port)
                t.write(upgrade(f"/ws/chat/{BIG_ROOM}?username=m{index}-{i}", port))
                await ready
                transports.append(t)

        await asyncio.gather(*(one(i) for i in range(count)))
        conn.send(("ready", count))
        # Until told to stop (a byte on the pipe), keep reading; then report what was received.
        stop = asyncio.Event()
        loop.add_reader(conn.fileno(), stop.set)
        await stop.wait()
        conn.send(("bytes", counter[0]))
        for t in transports:
            t.close()

    asyncio.run(run())


# ---- the sender: one fan-out to the big room always in progress --------------------------------

def sender_process(port: int, content_bytes: int, conn) -> None:
    sock, reader, _ = ws_connect(port, f"/ws/chat/{BIG_ROOM}?username=sender", timeout=600)
    pad = "x" * content_bytes

    def round_trip(marker):
        sock.sendall(text_frame(json.dumps({"type": "message", "content": marker + pad}).encode()))
        # Wait for its own copy: the fan-out reached (at least) this member.
        while True:
            op, payload = reader.frame()
            if op == 0x1 and marker.encode() in payload:
                return

    # One message first: once it is back, the room's earlier fan-outs (the joins) are done too.
    warm = time.perf_counter()
    round_trip("warm-up-")
    conn.send(("ready", time.perf_counter() - warm))
    conn.recv()  # go
    sent = 0
    start = time.perf_counter()
    while not conn.poll():
        round_trip(f"seq-{sent}-")
        sent += 1
    conn.recv()
    conn.send(("sent", sent, time.perf_counter() - start))
    sock.close()


# ---- the probe: an unrelated client -------------------------------------------------------------

def probe_process(port: int, duration: float, conn) -> None:
    ws, reader, _ = ws_connect(port, "/ws/chat/probe-echo?username=probe")
    # Its join and the replay of the room's history (which ends with that join again).
    join = reader.frame()[1]
    while reader.frame()[1] != join:
        pass
    http = socket.create_connection((HOST, port))
    http.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    hbuf = b""
    results = {"handshake": [], "echo": [], "health": []}
    deadline = time.perf_counter() + duration
    n = 0
    while time.perf_counter() < deadline:
        # GET /health on a keep-alive connection.
        t0 = time.perf_counter()
        http.sendall(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        while True:
            m = re.search(rb"\r\n\r\n", hbuf)
            if m:
                length = int(re.search(rb"(?i)content-length: *(\d+)", hbuf[:m.end()]).group(1))
                if len(hbuf) >= m.end() + length:
                    hbuf = hbuf[m.end() + length:]
                    break
            hbuf += http.recv(4096)
        results["health"].append(time.perf_counter() - t0)
        # An echo round trip: a typing notice in its own room comes back to it.
        marker = f"probe-{n}"
        t0 = time.perf_counter()
        ws.sendall(text_frame(json.dumps({"type": "typing", "is_typing": marker}).encode()))
        while marker.encode() not in reader.frame()[1]:
            pass
        results["echo"].append(time.perf_counter() - t0)
        # A new WebSocket: TCP connect to the 101 response.
        s, _, elapsed = ws_connect(port, "/ws/chat/probe-handshake?username=probe")
        results["handshake"].append(elapsed)
        s.close()
        n += 1
        time.sleep(0.005)
    conn.send(results)
    ws.close()
    http.close()


def summary(samples):
    ms = sorted(x * 1000 for x in samples)
    if not ms:
        return {"n": 0}
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
    return {"n": len(ms), "p50": statistics.median(ms), "p99": p99, "max": ms[-1]}


def run_probe(port: int, duration: float):
    parent, child = mp.Pipe()
    p = mp.Process(target=probe_process, args=(port, duration, child))
    p.start()
    results = parent.recv()
    p.join()
    return {k: summary(v) for k, v in results.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="the chat example (build/bin/chat)")
    ap.add_argument("--members", type=int, default=2000)
    ap.add_argument("--procs", type=int, default=4, help="client processes holding the members")
    ap.add_argument("--threads", type=int, default=2, help="the server's event loops")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of each measurement")
    ap.add_argument("--content", type=int, default=100, help="bytes of each sent message's content")
    ap.add_argument("--limit", action="append", default=[], help="more --limit NAME=VALUE for the server")
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = ap.parse_args()

    limits = ["max_connections_per_address=100000", "max_connection_rate_per_address=0",
              "max_messages_per_second=0", "ping_interval=0", "idle_timeout=0"] + args.limit
    cmd = [args.binary, "--port", "0", "--threads", str(args.threads), "--log-level", "warning"]
    for lim in limits:
        cmd += ["--limit", lim]
    env = dict(os.environ, NEXIOS_ACCESS_LOG="off")
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        line = server.stdout.readline().decode()
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if not m:
            print(f"the server did not start: {line!r}", file=sys.stderr)
            return 1
        port = int(m.group(1))

        started = time.perf_counter()
        pipes, procs = [], []
        share = [args.members // args.procs + (1 if i < args.members % args.procs else 0) for i in range(args.procs)]
        for i, count in enumerate(share):
            parent, child = mp.Pipe()
            p = mp.Process(target=members_process, args=(port, count, i, child))
            p.start()
            pipes.append(parent)
            procs.append(p)
        for parent in pipes:
            assert parent.recv()[0] == "ready"
        print(f"{args.members} members in room '{BIG_ROOM}' ({args.procs} processes, "
              f"{time.perf_counter() - started:.1f} s to join); server threads: {args.threads}", file=sys.stderr)

        parent, child = mp.Pipe()
        sender = mp.Process(target=sender_process, args=(port, args.content, child))
        sender.start()
        kind, settle = parent.recv()
        assert kind == "ready"
        print(f"the room settled {settle:.1f} s after the last join (the sender's first message back)", file=sys.stderr)

        idle = run_probe(port, args.duration)
        parent.send("go")
        busy = run_probe(port, args.duration)
        parent.send("stop")
        _, sent, seconds = parent.recv()
        sender.join()

        received = 0
        for pipe in pipes:
            pipe.send(b"x")
            kind, n = pipe.recv()
            received += n
        for p in procs:
            p.join()

        rate = sent / seconds if seconds else 0.0
        print(f"\nsender: {sent} messages to {args.members + 1} members in {seconds:.1f} s = {rate:.1f} fan-outs/s "
              f"({rate * (args.members + 1):,.0f} frames/s); members received {received / 1e6:.1f} MB in all")
        print(f"{'':12} {'quiet p50':>10} {'p99':>8} {'max':>8}   {'busy p50':>10} {'p99':>8} {'max':>8}   (ms)")
        for k in ("handshake", "echo", "health"):
            a, b = idle[k], busy[k]
            print(f"{k:12} {a['p50']:10.2f} {a['p99']:8.2f} {a['max']:8.2f}   {b['p50']:10.2f} {b['p99']:8.2f} "
                  f"{b['max']:8.2f}   (n={a['n']}/{b['n']})")
        if args.json:
            print(json.dumps({"members": args.members, "threads": args.threads, "fanouts_per_s": rate,
                              "quiet": idle, "busy": busy, "limits": limits}))
        return 0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
