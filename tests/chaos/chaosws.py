"""A small asyncio WebSocket client for the chaos test, over plain asyncio streams.

It does what the chaos test needs and a client library hides: it ends a connection in any way
(a clean close, a TCP FIN without a close frame, a TCP reset with SO_LINGER 0, in the middle of a
frame), sends any bytes at any pace, and it validates every frame the server sends:

* the frame is well formed for a server (unmasked, RSV bits clear, a known opcode, control frames
  final and at most 125 bytes, continuation frames only inside a fragmented message);
* a text message is valid UTF-8 (Python's strict codec: no overlong forms, no surrogates);
* a text message is JSON as RFC 8259 defines it (no `NaN`, `Infinity`, `-Infinity` tokens, which
  Python's json module would otherwise accept) and, for the chat protocol, a JSON object;
* no binary message (the chat protocol has none);
* a close frame has no 1-byte payload, a code a peer may send, and a UTF-8 reason.

Every violation is reported to `on_bad(kind, detail)`; the connection is then dropped, as a
browser would fail it. Numbers in parsed JSON are kept as their exact text (`RawNumber`), so a
60,000-digit integer neither trips Python's int-size limit nor loses digits.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
from typing import Callable, Optional

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# Close codes a peer may put on the wire (RFC 6455 §7.4).
_VALID_CLOSE = set(range(1000, 1004)) | set(range(1007, 1015)) | set(range(3000, 5000))


class RawNumber(str):
    """A JSON number, as the exact text it had on the wire."""


def _no_constants(name: str):
    raise ValueError(f"not JSON (RFC 8259): bare token {name}")


def strict_json(text: str):
    """json.loads that accepts only RFC 8259 JSON and keeps numbers as their text."""
    return json.loads(text, parse_constant=_no_constants, parse_int=RawNumber, parse_float=RawNumber)


def mask_bytes(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    n = len(data)
    repeated = key * (n // 4) + key[: n % 4]
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")


def build_frame(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    """One masked client frame."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n <= 125:
        header = bytes([b0, 0x80 | n])
    elif n <= 0xFFFF:
        header = bytes([b0, 0x80 | 126]) + struct.pack("!H", n)
    else:
        header = bytes([b0, 0x80 | 127]) + struct.pack("!Q", n)
    key = os.urandom(4)
    return header + key + mask_bytes(payload, key)


class HandshakeRefused(Exception):
    def __init__(self, status: int, body: bytes):
        super().__init__(f"handshake refused with {status}: {body[:200]!r}")
        self.status = status
        self.body = body


class Closed(Exception):
    """The connection ended: `code` is the server's close code, None if TCP ended without one."""

    def __init__(self, code: Optional[int], reason: str = "", how: str = "close"):
        super().__init__(f"closed ({how}) code={code} reason={reason!r}")
        self.code = code
        self.reason = reason
        self.how = how


class ChaosWS:
    """One WebSocket connection. `messages` receives every parsed text message (dict), unless
    `keep=False`, in which case they are only counted (`received`, `received_bytes`)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 on_bad: Callable[[str, str], None], keep: bool = True, auto_pong: bool = True,
                 corrupt_one: bool = False):
        self.reader = reader
        self.writer = writer
        self.on_bad = on_bad
        self.keep = keep
        self.auto_pong = auto_pong
        self.corrupt_one = corrupt_one  # the deliberate fault: validate one corrupted frame
        self.messages: asyncio.Queue = asyncio.Queue()
        self.received = 0
        self.received_bytes = 0  # wire bytes of data frames (headers included)
        self.sent_bytes = 0
        self.close_code: Optional[int] = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self.closed_by_server = False  # a close frame came first from the server
        self.eof_without_close = False
        self.we_sent_close = False
        self.bad = False
        self._task: Optional[asyncio.Task] = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    async def connect(cls, host: str, port: int, path: str, on_bad, timeout: float = 15.0, **kw) -> "ChaosWS":
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=1 << 22), timeout)
        try:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            key = base64.b64encode(os.urandom(16)).decode()
            request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
            writer.write(request.encode("latin-1"))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
            if status != 101:
                body = b""
                n = int(headers.get("content-length", "0") or 0)
                if n:
                    try:
                        body = await asyncio.wait_for(reader.readexactly(n), timeout)
                    except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                        pass
                raise HandshakeRefused(status, body)
            want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            if headers.get("sec-websocket-accept") != want:
                on_bad("handshake", f"wrong Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}")
                raise HandshakeRefused(status, b"bad accept")
        except BaseException:
            writer.transport.abort()
            raise
        ws = cls(reader, writer, on_bad, **kw)
        ws._task = asyncio.ensure_future(ws._read_loop())
        return ws

    # -- sending -----------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        if self.writer.transport.is_closing():
            raise Closed(self.close_code, self.close_reason, "closing")
        self.sent_bytes += len(data)
        self.writer.write(data)

    def send_text(self, text) -> None:
        self.send_raw(build_frame(TEXT, text.encode() if isinstance(text, str) else text))

    def send_json(self, obj) -> None:
        self.send_text(json.dumps(obj))

    async def drain(self, timeout: float = 15.0) -> None:
        await asyncio.wait_for(self.writer.drain(), timeout)

    # -- receiving ---------------------------------------------------------------------------

    async def recv(self, timeout: float = 15.0) -> dict:
        """The next text message (parsed); raises Closed when the connection ends first."""
        get = asyncio.ensure_future(self.messages.get())
        done_wait = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({get, done_wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                return get.result()
            if done_wait in done:
                # Messages that arrived before the close are still delivered first.
                if not self.messages.empty():
                    return self.messages.get_nowait()
                if self.bad:
                    raise Closed(None, "", "failed by this client on an invalid frame")
                raise Closed(self.close_code, self.close_reason,
                             "eof" if self.eof_without_close else "close")
            raise asyncio.TimeoutError(f"no message within {timeout}s")
        finally:
            for t in (get, done_wait):
                if not t.done():
                    t.cancel()

    def _bad(self, kind: str, detail: str) -> None:
        if not self.bad:
            self.bad = True
            self.on_bad(kind, detail)

    async def _read_loop(self) -> None:
        fragments: Optional[bytearray] = None
        frag_opcode = 0
        try:
            while True:
                b0, b1 = await self.reader.readexactly(2)
                fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F
                masked, n = bool(b1 & 0x80), b1 & 0x7F
                header = 2
                if n == 126:
                    n = struct.unpack("!H", await self.reader.readexactly(2))[0]
                    header += 2
                elif n == 127:
                    n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
                    header += 8
                if masked:
                    self._bad("frame", "the server sent a masked frame")
                    break
                if rsv:
                    self._bad("frame", f"RSV bits {rsv} set without an extension")
                    break
                if opcode not in (CONT, TEXT, BINARY, CLOSE, PING, PONG):
                    self._bad("frame", f"unknown opcode {opcode:#x}")
                    break
                if opcode >= 8 and (not fin or n > 125):
                    self._bad("frame", f"control frame opcode {opcode:#x} fin={fin} length {n}")
                    break
                payload = await self.reader.readexactly(n) if n else b""
                if opcode == PING:
                    if self.auto_pong and not self.writer.transport.is_closing():
                        self.writer.write(build_frame(PONG, payload))
                    continue
                if opcode == PONG:
                    continue
                if opcode == CLOSE:
                    self._on_close(payload)
                    break
                self.received_bytes += header + n
                if opcode == CONT:
                    if fragments is None:
                        self._bad("frame", "continuation frame outside a fragmented message")
                        break
                    fragments += payload
                    if not fin:
                        continue
                    opcode, data, fragments = frag_opcode, bytes(fragments), None
                else:
                    if fragments is not None:
                        self._bad("frame", "new data frame inside a fragmented message")
                        break
                    if not fin:
                        fragments, frag_opcode = bytearray(payload), opcode
                        continue
                    data = payload
                if not self._on_message(opcode, data):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self.eof_without_close = self.close_code is None
        except asyncio.CancelledError:
            pass
        finally:
            self.closed.set()
            if self.bad:
                self.writer.transport.abort()

    def _on_message(self, opcode: int, data: bytes) -> bool:
        self.received += 1
        if self.corrupt_one:
            self.corrupt_one = False
            data = data[:1] + b"\xff" + data[2:]
        if opcode == BINARY:
            self._bad("binary", f"a binary message of {len(data)} bytes: {data[:80]!r}")
            return False
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            self._bad("utf8", f"text frame is not valid UTF-8 ({e.reason} at byte {e.start}): {data[:120]!r}")
            return False
        try:
            obj = strict_json(text)
        except ValueError as e:
            self._bad("json", f"text frame is not JSON ({e}): {text[:120]!r}")
            return False
        if not isinstance(obj, dict):
            self._bad("json", f"text frame is JSON but not an object: {text[:120]!r}")
            return False
        if self.keep:
            self.messages.put_nowait(obj)
        return True

    def _on_close(self, payload: bytes) -> None:
        code, reason = 1005, ""
        if len(payload) == 1:
            self._bad("close", "close frame with a 1-byte payload")
        elif len(payload) >= 2:
            code = struct.unpack("!H", payload[:2])[0]
            if code not in _VALID_CLOSE:
                self._bad("close", f"close code {code} may not be sent")
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                self._bad("close", f"close reason is not valid UTF-8: {payload[2:]!r}")
        self.close_code, self.close_reason = code, reason
        if not self.we_sent_close:
            self.closed_by_server = True
            # Answer it, as RFC 6455 asks; the server then closes TCP.
            if not self.writer.transport.is_closing():
                self.writer.write(build_frame(CLOSE, payload[:2]))
                self.we_sent_close = True

    # -- ending ------------------------------------------------------------------------------

    async def close(self, code: int = 1000, timeout: float = 15.0) -> bool:
        """The closing handshake; True if the server answered it and closed TCP in time."""
        if not self.we_sent_close and not self.writer.transport.is_closing():
            self.we_sent_close = True
            self.writer.write(build_frame(CLOSE, struct.pack("!H", code)))
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
            # After the server's close frame, wait for its TCP close too.
            await asyncio.wait_for(self.reader.read(), timeout)
            ok = True
        except (asyncio.TimeoutError, ConnectionError, OSError):
            ok = False
        self.abort()
        return ok

    def drop(self) -> None:
        """TCP FIN without a close frame."""
        self._stop_reader()
        try:
            self.writer.close()
        except (ConnectionError, OSError):
            pass

    def reset(self) -> None:
        """TCP RST: SO_LINGER with a zero timeout, then close."""
        self._stop_reader()
        sock = self.writer.get_extra_info("socket")
        try:
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.writer.transport.abort()

    def abort(self) -> None:
        self._stop_reader()
        self.writer.transport.abort()

    def _stop_reader(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
