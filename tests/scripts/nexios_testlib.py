"""Shared helpers for the black-box tests of the nexios echo example.

Only the Python standard library is used here (the tests may add Debian's python3-websockets).

* ``find_binary()`` / ``main()``: the echo binary comes from ``--binary PATH`` on the command line,
  else from ``$NEXIOS_ECHO_BIN``, else from ``build-it/bin/echo`` / ``build/bin/echo``.
* ``EchoServer``: starts ``echo --host 127.0.0.1 --port 0``, waits (with a timeout) for the
  "listening on" line to learn the port, and stops it with SIGINT, checking it exits with 0.
* ``RawWebSocket``: a client over a plain socket that can send any frame, valid or not, masked or
  not, fragmented, chopped into arbitrary TCP writes, and read frames, close codes and TCP close.
* ``HttpConnection``: raw HTTP/1.1 requests and response parsing over one socket.

Every blocking operation has a timeout, so a server that hangs makes a test fail instead of
blocking the suite.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from dataclasses import dataclass, field
from typing import Iterable, Optional

HOST = "127.0.0.1"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

START_TIMEOUT = 15.0  # seconds to wait for the "listening" line
STOP_TIMEOUT = 15.0  # seconds to wait for the process to exit after SIGINT
IO_TIMEOUT = 10.0  # default timeout of one read / write

# Opcodes (RFC 6455 §5.2)
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

_LISTEN_RE = re.compile(rb"listening on http://([0-9.]+):(\d+)")

_binary: Optional[str] = None


# ------------------------------------------------------------------------------------------------
# The binary under test
# ------------------------------------------------------------------------------------------------


def find_binary() -> str:
    """The echo binary: --binary, then $NEXIOS_ECHO_BIN, then the usual build directories."""
    if _binary:
        return _binary
    env = os.environ.get("NEXIOS_ECHO_BIN")
    if env:
        return env
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    for build in ("build-it", "build"):
        candidate = os.path.join(root, build, "bin", "echo")
        if os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("echo binary not found: pass --binary PATH or set NEXIOS_ECHO_BIN")


def main() -> None:
    """unittest.main() that first takes ``--binary PATH`` out of argv."""
    global _binary
    argv = list(sys.argv)
    if "--binary" in argv:
        i = argv.index("--binary")
        if i + 1 >= len(argv):
            sys.exit("--binary needs a path")
        _binary = os.path.abspath(argv[i + 1])
        del argv[i : i + 2]
    unittest.main(argv=argv, verbosity=2)


# ------------------------------------------------------------------------------------------------
# The server process
# ------------------------------------------------------------------------------------------------


class EchoServer:
    """One echo server process on 127.0.0.1 with an ephemeral port."""

    def __init__(self, binary: Optional[str] = None, threads: int = 2, extra_args: Iterable[str] = (),
                 env: Optional[dict] = None):
        self.binary = binary or find_binary()
        self.threads = threads
        self.extra_args = list(extra_args)
        self.env = None if env is None else {**os.environ, **env}  # variables added to ours
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.listening_line = b""
        self._stderr = tempfile.TemporaryFile()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> "EchoServer":
        cmd = [self.binary, "--host", HOST, "--port", "0", "--threads", str(self.threads), *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=self.env)
        line = self._read_stdout_line(timeout)
        m = _LISTEN_RE.search(line)
        if not m:
            self.kill()
            raise AssertionError(f"unexpected first line from {cmd}: {line!r}; stderr: {self.stderr()!r}")
        self.listening_line = line
        self.port = int(m.group(2))
        if m.group(1).decode() != HOST or not 0 < self.port < 65536:
            self.kill()
            raise AssertionError(f"bad listening line: {line!r}")
        return self

    def _read_stdout_line(self, timeout: float) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.kill()
                    raise AssertionError(
                        f"server printed no listening line within {timeout}s (got {buf!r}); "
                        f"stderr: {self.stderr()!r}"
                    )
                if not sel.select(remaining):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self.proc.wait(timeout=STOP_TIMEOUT)
                    raise AssertionError(
                        f"server exited with {code} before listening (got {buf!r}); stderr: {self.stderr()!r}"
                    )
                buf += chunk
        return buf.split(b"\n", 1)[0]

    def send_signal(self, sig: int = signal.SIGINT) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """Waits for the process to exit; on timeout kills it and raises AssertionError."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"server did not exit within {timeout}s; stderr: {self.stderr()!r}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGINT, then waits for the exit status (which it returns)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.send_signal(signal.SIGINT)
        code = self.wait_exit(timeout)
        self._close_pipes()
        return code

    def stop_and_check(self, testcase: Optional[unittest.TestCase] = None, timeout: float = STOP_TIMEOUT) -> None:
        """SIGINT and assert a clean exit (status 0) within `timeout`."""
        code = self.stop(timeout)
        msg = f"echo exited with status {code}; stderr: {self.stderr()!r}"
        if testcase is not None:
            testcase.assertEqual(code, 0, msg)
        elif code != 0:
            raise AssertionError(msg)

    def kill(self) -> None:
        """Final cleanup: kills the process if it still runs and releases its pipes."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self._close_pipes()
        if self.proc is not None and self.proc.poll() is not None:
            self._stderr.close()

    def _close_pipes(self) -> None:
        if self.proc is not None and self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()

    def stderr(self) -> bytes:
        try:
            self._stderr.seek(0)
            data = self._stderr.read()
            self._stderr.seek(0, os.SEEK_END)
            return data[-4000:]
        except (OSError, ValueError):
            return b""

    def full_stderr(self) -> bytes:
        """Everything the process wrote to stderr so far."""
        self._stderr.seek(0)
        data = self._stderr.read()
        self._stderr.seek(0, os.SEEK_END)
        return data

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- conveniences ---------------------------------------------------------------------------

    def ws_url(self, path: str = "/ws") -> str:
        return f"ws://{HOST}:{self.port}{path}"

    def __enter__(self) -> "EchoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.alive():
            self.stop()
        self.kill()



def poll_until(predicate, timeout: float) -> bool:
    """Waits until `predicate()` holds, for at most `timeout` seconds; returns whether it did.

    Only for state that offers nothing to block on: a descriptor in /proc, a count behind an HTTP
    endpoint. It returns as soon as the condition holds; the pause between looks starts at 1 ms
    and doubles up to 20 ms, so it neither spins nor waits longer than needed. Anything a socket
    can signal (data, EOF, a close frame) is waited for on the socket instead."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while not predicate():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))  # the poll interval between two looks at the state, not a wait for it
        pause = min(pause * 2, 0.02)
    return True

# A suite that is one client on 127.0.0.1 opening thousands of connections a second (the
# conformance and abuse suites) lifts the per-address limits, which would refuse it with 429;
# those limits have tests of their own (tests/integration/limits_test.cpp).
ONE_BUSY_CLIENT_ARGS = ("--limit", "max_connection_rate_per_address=0",
                        "--limit", "max_connections_per_address=1000000")


class ServerTestCase(unittest.TestCase):
    """Starts one echo server for the class (with BASE_ARGS then SERVER_ARGS, e.g.
    ("--limit", "max_connections=50")) and checks it stops cleanly (SIGINT → exit 0)."""

    BASE_ARGS: tuple = ()
    SERVER_ARGS: tuple = ()
    server: EchoServer
    port: int

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.server = EchoServer(extra_args=[*cls.BASE_ARGS, *cls.SERVER_ARGS]).start()
        cls.port = cls.server.port  # type: ignore[assignment]

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            cls.server.stop_and_check()
        finally:
            cls.server.kill()
            super().tearDownClass()

    def setUp(self) -> None:
        self.assertTrue(self.server.alive(), "the echo server died during an earlier test")

    def tearDown(self) -> None:
        # A crash caused by this test must be blamed on this test.
        self.assertTrue(self.server.alive(), f"the echo server died; stderr: {self.server.stderr()!r}")


# ------------------------------------------------------------------------------------------------
# Frames
# ------------------------------------------------------------------------------------------------


def mask_bytes(data: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte masking key (fast for large payloads: one big-integer XOR)."""
    if not data:
        return b""
    n = len(data)
    repeated = key * (n // 4) + key[: n % 4]
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    mask_key: Optional[bytes] = None,
    length: Optional[int] = None,
    length_form: Optional[int] = None,
) -> bytes:
    """One frame as bytes. `rsv` is the 3 RSV bits (0..7, RSV1 = 4). `length` overrides the declared
    payload length (the payload actually appended is still `payload`); `length_form` forces the
    7-bit (0), 16-bit (126) or 64-bit (127) length encoding."""
    if isinstance(payload, str):
        payload = payload.encode()
    declared = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    m = 0x80 if mask else 0
    form = length_form
    if form is None:
        form = 0 if declared <= 125 else (126 if declared <= 0xFFFF else 127)
    if form == 0:
        header = bytes([b0, m | declared])
    elif form == 126:
        header = bytes([b0, m | 126]) + struct.pack("!H", declared)
    else:
        header = bytes([b0, m | 127]) + struct.pack("!Q", declared)
    if mask:
        key = mask_key if mask_key is not None else os.urandom(4)
        return header + key + mask_bytes(payload, key)
    return header + payload


def close_payload(code: Optional[int] = None, reason: bytes = b"") -> bytes:
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def fragments(opcode: int, payload: bytes, size: int, **kw) -> bytes:
    """A message split into data frames of at most `size` payload bytes (at least one frame)."""
    parts = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
    out = []
    for i, part in enumerate(parts):
        out.append(build_frame(opcode if i == 0 else CONT, part, fin=i == len(parts) - 1, **kw))
    return b"".join(out)


@dataclass
class Frame:
    fin: bool
    opcode: int
    payload: bytes
    rsv: int = 0

    @property
    def close_code(self) -> Optional[int]:
        assert self.opcode == CLOSE
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> bytes:
        assert self.opcode == CLOSE
        return self.payload[2:]

    def __repr__(self) -> str:
        p = self.payload if len(self.payload) <= 40 else self.payload[:40] + b"..."
        return f"Frame(fin={self.fin}, opcode={self.opcode:#x}, rsv={self.rsv}, len={len(self.payload)}, {p!r})"


class ConnectionClosedError(AssertionError):
    """The server closed TCP while a frame was expected."""


# ------------------------------------------------------------------------------------------------
# Raw sockets
# ------------------------------------------------------------------------------------------------


class _BufferedSocket:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def _fill(self, deadline: float) -> bool:
        """Reads more bytes; False on EOF. Raises TimeoutError past the deadline."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for data from the server")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("timed out waiting for data from the server") from None
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_exact(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionClosedError(f"connection closed with {len(self.buf)} of {n} bytes read")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, marker: bytes, deadline: float, limit: int = 1 << 20) -> bytes:
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[: i + len(marker)])
                del self.buf[: i + len(marker)]
                return out
            if len(self.buf) > limit:
                raise AssertionError("no end marker within the limit")
            if not self._fill(deadline):
                raise ConnectionClosedError(f"connection closed before {marker!r}; got {bytes(self.buf)!r}")

    def read_to_eof(self, deadline: float) -> bytes:
        while self._fill(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


def connect(port: int, timeout: float = IO_TIMEOUT) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send_chopped(sock: socket.socket, data: bytes, chop=None, rng: Optional[random.Random] = None,
                 timeout: float = IO_TIMEOUT) -> None:
    """Writes `data` as one write (chop=None), in writes of `chop` bytes (int), or in writes of
    random sizes (chop=(lo, hi), with `rng`)."""
    sock.settimeout(timeout)
    if chop is None:
        sock.sendall(data)
        return
    view = memoryview(data)
    pos = 0
    while pos < len(data):
        if isinstance(chop, tuple):
            n = (rng or random).randint(chop[0], chop[1])
        else:
            n = chop
        sock.sendall(view[pos : pos + n])
        pos += n


@dataclass
class HttpResponse:
    version: str
    status: int
    reason: str
    headers: list = field(default_factory=list)  # [(name, value)] in order
    body: bytes = b""
    raw_head: bytes = b""

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name: str) -> list:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def _parse_head(head: bytes) -> HttpResponse:
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0]
    m = re.match(r"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", status_line)
    if not m:
        raise AssertionError(f"bad status line: {status_line!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return HttpResponse(m.group(1), int(m.group(2)), m.group(3), headers, b"", head)


class HttpConnection:
    """Raw HTTP/1.x over one socket: send arbitrary bytes, read responses one at a time."""

    def __init__(self, port: int, timeout: float = IO_TIMEOUT):
        self.sock = connect(port, timeout)
        self.reader = _BufferedSocket(self.sock)
        self.timeout = timeout

    def send(self, data: bytes) -> None:
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def read_response(self, head_request: bool = False) -> HttpResponse:
        deadline = time.monotonic() + self.timeout
        head = self.reader.read_until(b"\r\n\r\n", deadline)
        res = _parse_head(head)
        if head_request or res.status in (101, 204, 304) or 100 <= res.status < 200:
            return res
        te = res.header("Transfer-Encoding")
        cl = res.header("Content-Length")
        if te and "chunked" in te.lower():
            body = b""
            while True:
                size_line = self.reader.read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    self.reader.read_until(b"\r\n", deadline)
                    break
                body += self.reader.read_exact(size, deadline)
                self.reader.read_exact(2, deadline)
            res.body = body
        elif cl is not None:
            res.body = self.reader.read_exact(int(cl), deadline)
        else:
            res.body = self.reader.read_to_eof(deadline)
        return res

    def wait_eof(self, timeout: Optional[float] = None) -> bytes:
        """Reads until the server closes; returns whatever arrived meanwhile."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            return self.reader.read_to_eof(deadline)
        except ConnectionResetError:
            return b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "HttpConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def http_exchange(port: int, request: bytes, timeout: float = IO_TIMEOUT) -> HttpResponse:
    """Sends one raw request on a new connection and reads one response."""
    with HttpConnection(port, timeout) as c:
        c.send(request)
        return c.read_response()


def make_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def upgrade_request(path: str = "/ws", *, method: str = "GET", version: str = "HTTP/1.1", key: Optional[str] = "auto",
                    ws_version: Optional[str] = "13", connection: Optional[str] = "Upgrade",
                    upgrade: Optional[str] = "websocket", host: Optional[str] = "auto",
                    extra: Iterable[tuple] = (), port: int = 0) -> bytes:
    """A WebSocket upgrade request; any header can be omitted (None) or replaced."""
    if key == "auto":
        key = make_key()
    if host == "auto":
        host = f"{HOST}:{port}"
    lines = [f"{method} {path} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    if upgrade is not None:
        lines.append(f"Upgrade: {upgrade}")
    if connection is not None:
        lines.append(f"Connection: {connection}")
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if ws_version is not None:
        lines.append(f"Sec-WebSocket-Version: {ws_version}")
    for name, value in extra:
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class RawWebSocket:
    """A WebSocket client over a plain socket: it sends whatever bytes the test builds."""

    def __init__(self, port: int, path: str = "/ws", timeout: float = IO_TIMEOUT,
                 extra_headers: Iterable[tuple] = ()):
        self.timeout = timeout
        self.sock = connect(port, timeout)
        self.reader = _BufferedSocket(self.sock)
        key = make_key()
        self.sock.sendall(upgrade_request(path, key=key, port=port, extra=extra_headers))
        head = self.reader.read_until(b"\r\n\r\n", time.monotonic() + timeout)
        self.handshake = _parse_head(head)
        if self.handshake.status != 101:
            body = bytes(self.reader.buf)
            self.sock.close()
            raise AssertionError(f"handshake to {path} failed: {head!r} {body!r}")
        accept = self.handshake.header("Sec-WebSocket-Accept")
        if accept != accept_for(key):
            self.sock.close()
            raise AssertionError(f"wrong Sec-WebSocket-Accept {accept!r} for key {key!r}")

    @classmethod
    def adopt(cls, sock: socket.socket, reader: "_BufferedSocket", timeout: float = IO_TIMEOUT) -> "RawWebSocket":
        """A client over a socket whose handshake the caller already did (bytes read past the 101
        response stay in `reader`)."""
        ws = cls.__new__(cls)
        ws.sock, ws.reader, ws.timeout, ws.handshake = sock, reader, timeout, None
        return ws

    # -- sending --------------------------------------------------------------------------------

    def send_raw(self, data: bytes, chop=None, rng: Optional[random.Random] = None) -> None:
        send_chopped(self.sock, data, chop, rng, self.timeout)

    def send_frame(self, opcode: int, payload: bytes = b"", chop=None, **kw) -> None:
        self.send_raw(build_frame(opcode, payload, **kw), chop)

    def send_text(self, text, **kw) -> None:
        self.send_frame(TEXT, text.encode() if isinstance(text, str) else text, **kw)

    def send_binary(self, data: bytes, **kw) -> None:
        self.send_frame(BINARY, data, **kw)

    def send_close(self, code: Optional[int] = None, reason: bytes = b"") -> None:
        self.send_frame(CLOSE, close_payload(code, reason))

    # -- receiving ------------------------------------------------------------------------------

    # Server pings (Limits::ping_interval, 20 s by default) are answered and skipped, as every
    # client library does; set to False to see them.
    auto_pong = True

    def recv_frame(self, timeout: Optional[float] = None) -> Frame:
        while True:
            frame = self._recv_one_frame(timeout)
            if frame.opcode == PING and self.auto_pong:
                self.send_frame(PONG, frame.payload)
                continue
            return frame

    def _recv_one_frame(self, timeout: Optional[float] = None) -> Frame:
        deadline = time.monotonic() + (timeout or self.timeout)
        b0, b1 = self.reader.read_exact(2, deadline)
        if b1 & 0x80:
            raise AssertionError("the server sent a masked frame")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.reader.read_exact(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.reader.read_exact(8, deadline))[0]
        payload = self.reader.read_exact(n, deadline) if n else b""
        return Frame(bool(b0 & 0x80), b0 & 0x0F, payload, (b0 >> 4) & 7)

    def recv_message(self, timeout: Optional[float] = None) -> tuple:
        """The next data message as (opcode, payload); control frames in between are not allowed."""
        first = self.recv_frame(timeout)
        if first.opcode not in (TEXT, BINARY):
            raise AssertionError(f"expected a data frame, got {first!r}")
        opcode, data, frame = first.opcode, bytearray(first.payload), first
        while not frame.fin:
            frame = self.recv_frame(timeout)
            if frame.opcode != CONT:
                raise AssertionError(f"expected a continuation frame, got {frame!r}")
            data += frame.payload
        return opcode, bytes(data)

    def recv_close(self, timeout: Optional[float] = None) -> Frame:
        """The next frame, which must be a close frame."""
        frame = self.recv_frame(timeout)
        if frame.opcode != CLOSE:
            raise AssertionError(f"expected a close frame, got {frame!r}")
        return frame

    def wait_eof(self, timeout: Optional[float] = None) -> None:
        """Asserts the server closes TCP (recv returns b'') without sending anything more."""
        deadline = time.monotonic() + (timeout or self.timeout)
        extra = self.reader.read_to_eof(deadline)
        if extra:
            raise AssertionError(f"bytes after the close frame: {extra[:60]!r}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawWebSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
