#!/usr/bin/env python3
"""Memory after history churn: many rooms are joined, written to and left, then the load is gone.
Reports the chat server's RSS and glibc's live bytes (mallinfo2, through bench/malloc_probe.c
preloaded) at the baseline, right after the load, once the empty rooms' histories expired
(history_ttl), and after malloc_trim(0). Loopback only; bounded; stops by itself.

    cc -O2 -shared -fPIC -o /tmp/malloc_probe.so bench/malloc_probe.c -lpthread
    /usr/bin/python3 bench/history_churn.py --binary build/bin/chat --probe /tmp/malloc_probe.so \\
        [--rounds 3] [--rooms 300] [--messages 20] [--arena-max 2] [--threads 2]
"""
import argparse
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from history_memory import handshake, rss_kib, text_frame  # noqa: E402


def metric(port: int, name: str) -> int:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    m = re.search(rb"^" + name.encode() + rb" (\d+)", data, re.M)
    return int(m.group(1)) if m else -1


class Probe:
    def __init__(self, directory: str) -> None:
        self.fifo = os.path.join(directory, "probe.fifo")
        self.out = os.path.join(directory, "probe.out")
        os.mkfifo(self.fifo)
        open(self.out, "w").close()

    def ask(self, command: str) -> str:
        before = len(open(self.out).read().splitlines())
        with open(self.fifo, "w") as f:
            f.write(command + "\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = open(self.out).read().splitlines()
            if len(lines) > before:
                return lines[-1]
            time.sleep(0.02)
        raise RuntimeError("the malloc probe did not answer")


def churn_round(port: int, r: int, rooms: int, messages: int, size: int) -> None:
    content = "c" * size
    payload = ('{"type":"message","content":"' + content + '"}').encode()
    for i in range(rooms):
        name = f"room-{r}-{i}-" + "n" * 40  # 50-ish-byte room ids, under the example's 64
        s = handshake(port, f"/ws/chat/{name}?username=u{i}")
        s.setblocking(True)
        s.settimeout(0.0)
        for _ in range(messages):
            s.sendall(text_frame(payload))
            try:
                while s.recv(1 << 16):
                    pass
            except (BlockingIOError, socket.timeout):
                pass
        s.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--probe", required=True, help="malloc_probe.so built from bench/malloc_probe.c")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rooms", type=int, default=300)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--message-bytes", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--arena-max", type=int, default=0, help="MALLOC_ARENA_MAX for the server (0: glibc's default)")
    ap.add_argument("--ttl", default="2s", help="history_ttl for the server")
    ap.add_argument("--settle", type=float, default=6.0,
                    help="seconds to wait after the histories expired (lingering closes end)")
    args = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    tmp = tempfile.mkdtemp(prefix="history_churn_")
    probe = Probe(tmp)
    env = dict(os.environ, LD_PRELOAD=args.probe, MALLOC_PROBE_FIFO=probe.fifo, MALLOC_PROBE_OUT=probe.out)
    if args.arena_max:
        env["MALLOC_ARENA_MAX"] = str(args.arena_max)
    proc = subprocess.Popen([args.binary, "--port", "0", "--threads", str(args.threads),
                             "--limit", "max_connections_per_address=10000000",
                             "--limit", "max_connection_rate_per_address=0",
                             "--limit", f"history_ttl={args.ttl}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"http://[^:]+:(\d+)", line).group(1))
        time.sleep(0.3)

        def show(label: str, command: str = "info") -> None:
            info = probe.ask(command)
            live = int(re.search(r"live=(\d+)", info).group(1))
            heap = int(re.search(r"heap=(\d+)", info).group(1))
            took = re.search(r"trim_us=(\d+)", info)
            entries = metric(port, "nexios_channel_history_entries")
            counted = metric(port, "nexios_channel_history_bytes")
            print(f"{label:<34} RSS {rss_kib(proc.pid):>7} KiB  live {live // 1024:>7} KiB  "
                  f"arenas {heap // 1024:>7} KiB  history {entries:>6} entries, {counted // 1024:>6} KiB counted"
                  + (f"  (trim took {took.group(1)} us)" if took else ""))

        print(f"threads={args.threads} MALLOC_ARENA_MAX={args.arena_max or 'default'} history_ttl={args.ttl}: "
              f"{args.rounds} rounds x {args.rooms} rooms x {args.messages} messages of {args.message_bytes} bytes")
        show("baseline")
        for r in range(args.rounds):
            churn_round(port, r, args.rooms, args.messages, args.message_bytes)
            show(f"after round {r + 1} (rooms empty)")
        deadline = time.monotonic() + 120
        while metric(port, "nexios_channel_history_entries") > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        show("histories expired")
        time.sleep(args.settle)
        show(f"{args.settle:g} s later")
        show("after malloc_trim(0)", "trim")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
