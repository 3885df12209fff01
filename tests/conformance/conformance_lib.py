"""Shared helpers of the RFC 6455 conformance suite (tests/conformance/test_*.py).

It reuses tests/scripts/nexios_testlib.py (server process, raw-socket WebSocket client, frame
builder) and adds what the conformance tests assert after every exchange:

* the exact frames that come back (FIN set, RSV bits clear, opcode, payload byte for byte);
* the close code, then that the server ends the TCP connection: it half-closes after its close
  frame (the client reads EOF) and releases the socket as soon as the client closes its side
  (checked in /proc: the server's file descriptor for this connection goes away well before
  close_timeout would have dropped it);
* after every failure case, that the server still echoes on a fresh connection.

Every blocking step has a deadline; nothing sleeps for a fixed time (the /proc checks poll with a
deadline). Run a file with ``/usr/bin/python3 test_x.py --binary build-conf/bin/echo``.
"""

from __future__ import annotations

import os
import random
import struct
import sys
import time
import unittest
from typing import Iterable, Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "scripts"))

from nexios_testlib import (  # noqa: E402,F401  (re-exported for the test files)
    BINARY, CLOSE, CONT, HOST, IO_TIMEOUT, PING, PONG, TEXT, ConnectionClosedError, EchoServer, Frame,
    HttpConnection, RawWebSocket, ServerTestCase, build_frame, close_payload, connect, fragments, main,
    ONE_BUSY_CLIENT_ARGS, mask_bytes, poll_until, send_chopped)

KiB = 1024
MiB = 1024 * 1024

#: The server's default max_message_size (docs/limits.md).
DEFAULT_MAX_MESSAGE = 16 * MiB
#: Long enough for a 16 MiB exchange on a loaded 2-core machine, short enough to fail fast.
BIG_TIMEOUT = 60.0
#: How long the server may take to release a connection after the client closed its side. The
#: default close_timeout is 5 s, so a server that ignored the client's FIN would miss this.
RELEASE_TIMEOUT = 3.0

# A mix of 1-, 2-, 3- and 4-byte characters, so that fragment and chop boundaries fall inside
# code points.
_UNICODE_UNIT = "nexios ✓ héllo wörld € 😀 𝄞 ünïcödé ßø ".encode()
_text_cache: dict = {}


def text_payload(n: int) -> bytes:
    """Valid UTF-8 of exactly n bytes, mostly multi-byte characters (padded with ASCII)."""
    if n not in _text_cache:
        reps = n // len(_UNICODE_UNIT) + 1
        data = (_UNICODE_UNIT * reps)[:n]
        data = data.decode("utf-8", errors="ignore").encode()
        data += b"x" * (n - len(data))
        assert len(data) == n
        _text_cache[n] = data
    return _text_cache[n]


def binary_payload(n: int, seed: int = 0) -> bytes:
    """n pseudo-random bytes (deterministic per seed); not valid UTF-8 in general."""
    return random.Random(seed * 1_000_003 + n).randbytes(n)


def fast_fragments(opcode: int, payload: bytes, size: int) -> bytes:
    """Like nexios_testlib.fragments() but fast for hundreds of thousands of fragments: every frame
    uses the same masking key, so when `size` is a multiple of 4 the masked payload of the whole
    message is the concatenation of the masked fragments and is computed in one XOR."""
    if size % 4 or not payload:
        return fragments(opcode, payload, size)
    key = os.urandom(4)
    masked = mask_bytes(payload, key)
    out = []
    n = len(payload)
    for pos in range(0, n, size):
        part = masked[pos : pos + size]
        fin = pos + size >= n
        b0 = (0x80 if fin else 0) | (opcode if pos == 0 else CONT)
        ln = len(part)
        if ln <= 125:
            header = bytes((b0, 0x80 | ln))
        elif ln <= 0xFFFF:
            header = bytes((b0, 0x80 | 126)) + struct.pack("!H", ln)
        else:
            header = bytes((b0, 0x80 | 127)) + struct.pack("!Q", ln)
        out.append(header)
        out.append(key)
        out.append(part)
    return b"".join(out)


# ------------------------------------------------------------------------------------------------
# The server's side of a connection, seen through /proc
# ------------------------------------------------------------------------------------------------


def _tcp_socket_inode(server_port: int, client_port: int) -> Optional[str]:
    """The inode of the server-side socket of the connection 127.0.0.1:client_port →
    127.0.0.1:server_port, from /proc/net/tcp (None if there is none with an inode)."""
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if int(local.rsplit(":", 1)[1], 16) == server_port and \
                        int(remote.rsplit(":", 1)[1], 16) == client_port and inode != "0":
                    return inode
    except OSError:
        return None
    return None


def _process_holds_socket(pid: int, inode: str) -> bool:
    target = f"socket:[{inode}]"
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(os.path.join(fd_dir, name)) == target:
                return True
        except OSError:
            continue
    return False


class ServerSocket:
    """The server process's socket for one client connection (found while it is open)."""

    def __init__(self, server: EchoServer, client_sock):
        assert server.proc is not None
        self.pid = server.proc.pid
        self.client_port = client_sock.getsockname()[1]
        self.inode = _tcp_socket_inode(server.port, self.client_port)

    def held(self) -> bool:
        return self.inode is not None and _process_holds_socket(self.pid, self.inode)

    def wait_released(self, timeout: float) -> float:
        """Waits until the server no longer holds the socket; returns the time it took. Raises
        AssertionError past `timeout`."""
        start = time.monotonic()
        if not poll_until(lambda: not self.held(), timeout):
            raise AssertionError(f"the server still holds the connection from port {self.client_port} "
                                 f"{timeout}s later")
        return time.monotonic() - start


# ------------------------------------------------------------------------------------------------
# Test case base
# ------------------------------------------------------------------------------------------------


class ConformanceCase(ServerTestCase):
    """One echo server per test class (started with SERVER_ARGS), and the assertions of the suite."""

    BASE_ARGS = ONE_BUSY_CLIENT_ARGS
    SERVER_ARGS: Iterable[str] = ()

    @classmethod
    def setUpClass(cls) -> None:
        unittest.TestCase.setUpClass()
        cls.server = EchoServer(extra_args=[*cls.BASE_ARGS, *cls.SERVER_ARGS]).start()
        cls.port = cls.server.port  # type: ignore[assignment]

    # -- connections ----------------------------------------------------------------------------

    def ws(self, timeout: float = IO_TIMEOUT) -> RawWebSocket:
        ws = RawWebSocket(self.port, "/ws", timeout=timeout)
        self.addCleanup(ws.close)
        return ws

    # -- receiving ------------------------------------------------------------------------------

    def assert_frame(self, ws: RawWebSocket, opcode: int, payload: bytes, timeout: Optional[float] = None,
                     what: str = "") -> Frame:
        """The next frame is exactly one final frame with `opcode` and `payload`, RSV bits clear."""
        frame = ws.recv_frame(timeout)
        label = f" ({what})" if what else ""
        self.assertEqual(frame.opcode, opcode, f"expected opcode {opcode:#x}{label}, got {frame!r}")
        self.assertTrue(frame.fin, f"expected a final frame{label}, got {frame!r}")
        self.assertEqual(frame.rsv, 0, f"RSV bits set by the server{label}: {frame!r}")
        self.assertEqual(len(frame.payload), len(payload), f"payload length{label}")
        if frame.payload != payload:
            first = next(i for i, (a, b) in enumerate(zip(frame.payload, payload)) if a != b)
            self.fail(f"payload differs at byte {first} of {len(payload)}{label}")
        return frame

    def assert_echo(self, ws: RawWebSocket, opcode: int, payload: bytes, timeout: Optional[float] = None) -> None:
        """The next data message is `payload` with `opcode`; the server may fragment it, but every
        frame must have clear RSV bits and the right continuation opcodes."""
        first = ws.recv_frame(timeout)
        self.assertEqual(first.opcode, opcode, f"expected the echo (opcode {opcode:#x}), got {first!r}")
        self.assertEqual(first.rsv, 0, first)
        data = bytearray(first.payload)
        frame = first
        while not frame.fin:
            frame = ws.recv_frame(timeout)
            self.assertEqual(frame.opcode, CONT, f"expected a continuation of the echo, got {frame!r}")
            self.assertEqual(frame.rsv, 0, frame)
            data += frame.payload
        self.assertEqual(len(data), len(payload), "echoed length")
        if data != payload:
            first_diff = next(i for i, (a, b) in enumerate(zip(data, payload)) if a != b)
            self.fail(f"echo differs at byte {first_diff} of {len(payload)}")

    def assert_pong(self, ws: RawWebSocket, payload: bytes, timeout: Optional[float] = None) -> None:
        self.assert_frame(ws, PONG, payload, timeout, what="pong")

    # -- endings --------------------------------------------------------------------------------

    def assert_tcp_closed(self, ws: RawWebSocket, sock_info: Optional[ServerSocket],
                          timeout: Optional[float] = None) -> None:
        """After the server's close frame: nothing more arrives and the server half-closes (EOF);
        once the client closes too, the server releases the socket promptly."""
        ws.wait_eof(timeout)
        ws.close()
        if sock_info is not None:
            sock_info.wait_released(RELEASE_TIMEOUT)

    def assert_closed_with(self, ws: RawWebSocket, code: Optional[int], timeout: Optional[float] = None,
                           check_release: bool = True) -> Frame:
        """The next frame is a close frame with `code` (None: an empty close body), then the TCP
        connection ends. Returns the close frame."""
        sock_info = ServerSocket(self.server, ws.sock) if check_release else None
        if sock_info is not None:
            self.assertIsNotNone(sock_info.inode, "no server socket found for this connection in /proc/net/tcp")
        frame = ws.recv_frame(timeout)
        self.assertEqual(frame.opcode, CLOSE, f"expected a close frame with {code}, got {frame!r}")
        self.assertTrue(frame.fin, frame)
        self.assertEqual(frame.rsv, 0, frame)
        if code is None:
            self.assertEqual(frame.payload, b"", "an empty close must be answered with an empty close")
        else:
            self.assertEqual(frame.close_code, code, f"close frame {frame!r}, reason {frame.close_reason!r}")
            self.assertIsNotNone(_decode_utf8(frame.close_reason), "the close reason must be UTF-8")
        self.assert_tcp_closed(ws, sock_info, timeout)
        return frame

    def assert_fails_with(self, ws: RawWebSocket, code: int, timeout: Optional[float] = None,
                          check_release: bool = True) -> Frame:
        """A failed connection (RFC 6455 §7.1.7): close frame with `code`, TCP closed, and the
        server still serves a fresh connection."""
        frame = self.assert_closed_with(ws, code, timeout, check_release)
        self.assert_server_serves()
        return frame

    def close_cleanly(self, ws: RawWebSocket, code: int = 1000, check_release: bool = True) -> None:
        ws.send_close(code)
        self.assert_closed_with(ws, code, check_release=check_release)

    def assert_server_serves(self) -> None:
        """A fresh connection still echoes (and closes cleanly)."""
        self.assertTrue(self.server.alive(), f"the echo server died; stderr: {self.server.stderr()!r}")
        with RawWebSocket(self.port, "/ws", timeout=IO_TIMEOUT) as fresh:
            fresh.send_raw(build_frame(TEXT, b"still serving") + build_frame(PING, b"p"))
            self.assert_echo(fresh, TEXT, b"still serving")
            self.assert_pong(fresh, b"p")
            fresh.send_close(1000)
            frame = fresh.recv_close()
            self.assertEqual(frame.close_code, 1000)
            fresh.wait_eof()


def _decode_utf8(data: bytes) -> Optional[str]:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
