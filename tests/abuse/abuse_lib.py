"""Shared helpers of the bad-input / abuse tests (tests/abuse/test_*.py).

Built on tests/scripts/nexios_testlib.py. Every test of an ``AbuseCase``:

* runs against one echo server per test class, started with small limits (SERVER_ARGS);
* opens a WebSocket echo connection (the "bystander") before the abuse and checks, after it, that
  the bystander still echoes, that a fresh connection is served and that the server is alive;
* has a deadline on every blocking step, and stops by itself.

``MemoryWatch`` reads the server's VmRSS / VmHWM from /proc/<pid>/status around a worst case
(resetting the peak first through /proc/<pid>/clear_refs, or sampling VmRSS in a thread where
that is not allowed) and prints the peak.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
import time
import unittest
from typing import Iterable, Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "scripts"))

from nexios_testlib import (  # noqa: E402,F401  (re-exported)
    BINARY, CLOSE, CONT, HOST, IO_TIMEOUT, PING, PONG, TEXT, ConnectionClosedError, EchoServer,
    HttpConnection, HttpResponse, RawWebSocket, build_frame, close_payload, connect, fragments,
    ONE_BUSY_CLIENT_ARGS, ServerTestCase, http_exchange, main, make_key, poll_until, upgrade_request)

KiB = 1024
MiB = 1024 * 1024


# ------------------------------------------------------------------------------------------------
# Memory of the server process
# ------------------------------------------------------------------------------------------------


def proc_status(pid: int) -> dict:
    """VmRSS and VmHWM of `pid`, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0]) * 1024
    return out


def fmt_mib(n: float) -> str:
    return f"{n / MiB:.1f} MiB"


class MemoryWatch:
    """Peak RSS of the server during a block::

        with MemoryWatch(server, "100000-fragment message") as mem:
            ...
        mem.peak, mem.baseline, mem.growth  # bytes

    The peak comes from VmHWM after resetting it (``echo 5 > /proc/PID/clear_refs``); if the reset
    is refused, from VmRSS sampled every 5 ms by a thread (and VmHWM is then only an upper bound).
    """

    def __init__(self, server: EchoServer, label: str):
        assert server.proc is not None
        self.pid = server.proc.pid
        self.label = label
        self.baseline = 0
        self.peak = 0
        self.after = 0
        self.hwm_reset = False
        self._sampled_peak = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            try:
                self._sampled_peak = max(self._sampled_peak, proc_status(self.pid)["VmRSS"])
            except OSError:
                return

    def current(self) -> int:
        return proc_status(self.pid)["VmRSS"]

    def __enter__(self) -> "MemoryWatch":
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.baseline = self.current()
        self._sampled_peak = self.baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        status = proc_status(self.pid)
        self.after = status["VmRSS"]
        self.peak = max(status["VmHWM"] if self.hwm_reset else 0, self._sampled_peak, self.after)
        how = "VmHWM" if self.hwm_reset else "sampled VmRSS"
        print(f"\n  peak RSS during {self.label}: {fmt_mib(self.peak)} ({how}; before {fmt_mib(self.baseline)}, "
              f"growth {fmt_mib(self.growth)}, after {fmt_mib(self.after)})", file=sys.stderr, flush=True)

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.baseline)


# ------------------------------------------------------------------------------------------------
# The server's side of a connection, seen through /proc
# ------------------------------------------------------------------------------------------------


def server_socket_inode(server_port: int, client_port: int) -> Optional[str]:
    """Inode of the server-side socket of 127.0.0.1:client_port → 127.0.0.1:server_port."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == server_port and \
                    int(fields[2].rsplit(":", 1)[1], 16) == client_port and fields[9] != "0":
                return fields[9]
    return None


def server_socket_queues(server_port: int, client_port: int) -> Optional[tuple]:
    """(tx_queue, rx_queue) of the server-side socket of 127.0.0.1:client_port → server_port: bytes
    the server wrote that the client has not acknowledged, and bytes received that the server
    process has not read yet."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == server_port and \
                    int(fields[2].rsplit(":", 1)[1], 16) == client_port and fields[9] != "0":
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


def process_holds(pid: int, inode: Optional[str]) -> bool:
    if inode is None:
        return False
    target = f"socket:[{inode}]"
    fd_dir = f"/proc/{pid}/fd"
    for name in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, name)) == target:
                return True
        except OSError:
            continue
    return False


def wait_until(predicate, timeout: float) -> bool:
    """Waits (bounded) until `predicate()` holds: see nexios_testlib.poll_until."""
    return poll_until(predicate, timeout)


def read_until_eof(sock: socket.socket, timeout: float) -> bytes:
    """Reads until the peer closes (EOF or reset); raises TimeoutError past `timeout`."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"the server did not close the connection within {timeout}s (got {data[:80]!r})")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


# ------------------------------------------------------------------------------------------------
# Test case base
# ------------------------------------------------------------------------------------------------


class AbuseCase(ServerTestCase):
    """One echo server for the class; every test also checks, afterwards, that a bystander
    connection opened before it still echoes and that the server still serves."""

    BASE_ARGS = ONE_BUSY_CLIENT_ARGS

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid

    def setUp(self) -> None:
        self.assertTrue(self.server.alive(), "the echo server died during an earlier test")
        self.bystander = RawWebSocket(self.port, "/ws", timeout=IO_TIMEOUT)
        self.addCleanup(self.bystander.close)
        self.bystander.send_text("bystander before")
        self.assertEqual(self.bystander.recv_message(), (TEXT, b"bystander before"))

    def tearDown(self) -> None:
        # Only when the test itself passed: a failure must not be hidden by a second one here.
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True):
            return
        self.assert_still_serving()

    def assert_still_serving(self) -> None:
        """The bystander still echoes, a fresh connection is served, the server is alive."""
        self.assertTrue(self.server.alive(), f"the echo server died; stderr: {self.server.stderr()!r}")
        self.bystander.send_binary(b"bystander after \x00\xff")
        self.assertEqual(self.bystander.recv_message(), (BINARY, b"bystander after \x00\xff"),
                         "the bystander connection stopped echoing")
        with RawWebSocket(self.port, "/ws", timeout=IO_TIMEOUT) as fresh:
            fresh.send_text("fresh connection")
            self.assertEqual(fresh.recv_message(), (TEXT, b"fresh connection"))
            fresh.send_close(1000)
            self.assertEqual(fresh.recv_close().close_code, 1000)
            fresh.wait_eof()
        res = http_exchange(self.port, f"GET /health HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        self.assertEqual((res.status, res.body), (200, b"ok"))

    # -- HTTP -------------------------------------------------------------------------------------

    def http_error(self, request: bytes, status: int, timeout: float = IO_TIMEOUT) -> HttpResponse:
        """Sends `request` on a new connection: exactly one response with `status` (and Connection:
        close), then the server closes the connection (nothing more is answered)."""
        with HttpConnection(self.port, timeout) as c:
            c.send(request)
            res = c.read_response(head_request=request.startswith(b"HEAD "))
            self.assertEqual(res.status, status, f"{request[:120]!r} → {res.raw_head!r} {res.body[:100]!r}")
            if status >= 400:
                self.assertEqual((res.header("Connection") or "").lower(), "close", res.raw_head)
            rest = c.wait_eof(timeout)
            self.assertEqual(rest, b"", f"more bytes after the {status} response: {rest[:120]!r}")
            return res

    def ws(self, timeout: float = IO_TIMEOUT) -> RawWebSocket:
        ws = RawWebSocket(self.port, "/ws", timeout=timeout)
        self.addCleanup(ws.close)
        return ws


def writable_within(sock: socket.socket, timeout: float) -> bool:
    _, w, _ = select.select([], [sock], [], timeout)
    return bool(w)


def readable_within(sock: socket.socket, timeout: float) -> bool:
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)
