#!/usr/bin/python3
"""Abusive WebSocket clients against the echo server (max_message_size=1 MiB, close_timeout=500 ms,
send_buffer_high_water at its 1 MiB default). For each: the expected outcome, the server's memory
(peak RSS printed for the worst cases), and a bystander connection that keeps echoing.

* unmasked client frames → 1002; a 64-bit length with the top bit set → 1002; a declared length
  beyond max_message_size → 1009 before any payload is sent;
* random garbage after the handshake → a close frame (1002/1007/1009) and the connection closed;
* a 100 000-byte message in 100 000 one-byte fragments → echoed intact, memory bounded;
* a client that floods messages (or pings) and never reads → the server stops reading from it
  (send_buffer_high_water back-pressure): bounded bytes accepted, bounded RSS, the connection stays
  open without growing; once the client reads again every message comes back, in order;
* a client that sends a burst of messages and resets the connection → the server survives
  (expected failure: it currently crashes, see AbruptDisconnect);
* clients that never complete the closing handshake → dropped by the server after close_timeout;
* clients that vanish mid-frame (FIN or RST) → their connection is released.
"""

import random
import select
import socket
import struct
import subprocess
import os
import sys
import time
import unittest

from abuse_lib import (
    BINARY, CLOSE, CONT, IO_TIMEOUT, PING, PONG, TEXT, AbuseCase, MemoryWatch, RawWebSocket, build_frame,
    close_payload, fmt_mib, main, process_holds, server_socket_inode, server_socket_queues, wait_until,
    writable_within)

KiB = 1024
MiB = 1024 * 1024
MAX_MESSAGE = 1 * MiB
CLOSE_TIMEOUT = 0.5
#: Server memory growth allowed during one worst case.
RSS_GROWTH_BOUND = 64 * MiB

SERVER_ARGS = [
    "--limit", "header_timeout=1000ms",
    "--limit", "keep_alive_timeout=500ms",
    "--limit", f"close_timeout={int(CLOSE_TIMEOUT * 1000)}ms",
    "--limit", "max_connections=50",
    "--limit", f"max_message_size={MAX_MESSAGE}",
    # The floods here test back-pressure and memory, not the message rate (tested in
    # tests/integration/limits_test.cpp): a throttled reader would hide what they measure.
    "--limit", "max_messages_per_second=0",
    "--limit", "max_bytes_per_second=0",
    # The floods compare the echo stream byte for byte: a server ping (sent when a stalled flood
    # outlasts ping_interval, as under the sanitizers) would be two bytes more in it.
    "--limit", "ping_interval=0",
]

UNICODE = "abc é € 😀 ✓ ".encode()


def text_of(n: int) -> bytes:
    data = (UNICODE * (n // len(UNICODE) + 1))[:n].decode("utf-8", errors="ignore").encode()
    return data + b"x" * (n - len(data))


class WsCase(AbuseCase):
    SERVER_ARGS = SERVER_ARGS

    def expect_close(self, ws: RawWebSocket, codes, timeout: float = IO_TIMEOUT) -> int:
        frame = ws.recv_close(timeout)
        self.assertIn(frame.close_code, codes if isinstance(codes, tuple) else (codes,), frame)
        ws.wait_eof(timeout)
        return frame.close_code

    def server_inode(self, ws: RawWebSocket):
        inode = server_socket_inode(self.port, ws.sock.getsockname()[1])
        self.assertIsNotNone(inode, "the server's socket for this connection was not found")
        return inode

    def assert_released(self, inode, timeout: float, what: str) -> float:
        start = time.monotonic()
        self.assertTrue(wait_until(lambda: not process_holds(self.pid, inode), timeout),
                        f"{what}: the server still holds the connection {timeout}s later")
        return time.monotonic() - start


class BadFrames(WsCase):
    def test_unmasked_frames_1002(self):
        for name, frame in {
            "text": build_frame(TEXT, b"hello", mask=False),
            "binary": build_frame(BINARY, b"\x00\x01", mask=False),
            "empty text": build_frame(TEXT, b"", mask=False),
            "ping": build_frame(PING, b"p", mask=False),
            "pong": build_frame(PONG, b"p", mask=False),
            "close": build_frame(CLOSE, close_payload(1000), mask=False),
            "continuation": build_frame(TEXT, b"a", fin=False) + build_frame(CONT, b"b", mask=False),
            "large header only": build_frame(BINARY, b"", mask=False, length=500000),
        }.items():
            with self.subTest(name):
                ws = self.ws()
                ws.send_raw(build_frame(TEXT, b"masked first") + frame)
                self.assertEqual(ws.recv_message(), (TEXT, b"masked first"))
                self.expect_close(ws, 1002)

    def test_64_bit_length_with_top_bit_1002(self):
        for length in (1 << 63, (1 << 63) + 5, (1 << 64) - 1):
            with self.subTest(length=hex(length)):
                ws = self.ws()
                ws.send_raw(build_frame(BINARY, b"", length=length, length_form=127))
                self.expect_close(ws, 1002)

    def test_declared_length_beyond_max_message_size_1009(self):
        """Only the frame header is sent: the 1009 must not wait for any payload."""
        for opcode, length, form in ((BINARY, MAX_MESSAGE + 1, None), (TEXT, MAX_MESSAGE + 1, None),
                                     (BINARY, 64 * MiB, None), (BINARY, (1 << 63) - 1, 127),
                                     (TEXT, 0x10000, 127)):
            if length <= MAX_MESSAGE:
                continue
            with self.subTest(opcode=opcode, length=length):
                ws = self.ws()
                ws.send_raw(build_frame(opcode, b"", length=length, length_form=form))
                self.expect_close(ws, 1009)

    def test_fragments_beyond_max_message_size_1009(self):
        ws = self.ws()
        ws.send_raw(build_frame(BINARY, b"a" * (MAX_MESSAGE // 2), fin=False) +
                    build_frame(CONT, b"b" * (MAX_MESSAGE // 2), fin=False))
        ws.send_raw(build_frame(CONT, b"", length=1, fin=False))
        self.expect_close(ws, 1009)

    def test_random_garbage_after_handshake(self):
        """Seeded random bytes as frames: always a close frame with 1002, 1007 or 1009 (or, if the
        garbage happens to declare a long frame that never completes, still no crash), then the
        connection ends when the client goes."""
        rng = random.Random(6455)
        codes = {}
        for seed in range(40):
            with self.subTest(seed=seed):
                garbage = rng.randbytes(rng.randint(2, 4096))
                ws = self.ws(timeout=2.0)
                inode = self.server_inode(ws)
                ws.send_raw(garbage)
                try:
                    frame = ws.recv_frame(2.0)
                    while frame.opcode != CLOSE:  # garbage can contain valid frames by chance
                        frame = ws.recv_frame(2.0)
                    codes[frame.close_code] = codes.get(frame.close_code, 0) + 1
                    self.assertIn(frame.close_code, (1002, 1007, 1009), frame)
                except TimeoutError:
                    codes["waiting for more bytes"] = codes.get("waiting for more bytes", 0) + 1
                ws.close()
                self.assert_released(inode, 5.0, "after the client closed")
        print(f"\n  random garbage outcomes: {codes}", file=sys.stderr)


class BigAndTiny(WsCase):
    def test_100000_one_byte_fragments(self):
        for opcode, payload in ((TEXT, text_of(100000)), (BINARY, random.Random(1).randbytes(100000))):
            with self.subTest(opcode=opcode):
                key = b"\x11\x22\x33\x44"
                frames = b"".join(
                    build_frame(opcode if i == 0 else CONT, payload[i:i + 1], fin=i == len(payload) - 1, mask_key=key)
                    for i in range(len(payload)))
                ws = self.ws(timeout=30.0)
                label = f"100000-fragment {'text' if opcode == TEXT else 'binary'} message"
                with MemoryWatch(self.server, label) as mem:
                    ws.send_raw(frames)
                    self.assertEqual(ws.recv_message(30.0), (opcode, payload))
                self.assertLess(mem.growth, RSS_GROWTH_BOUND)
                ws.send_close(1000)
                self.expect_close(ws, 1000)

    def test_many_max_size_messages_on_concurrent_connections(self):
        """16 clients each send a 1 MiB message (the limit) at once, then read the echoes."""
        payload = random.Random(2).randbytes(MAX_MESSAGE)
        frame = build_frame(BINARY, payload)
        clients = [self.ws(timeout=30.0) for _ in range(16)]
        # Each connection may hold its message (in a read buffer rounded up to 2 MiB) and its echo
        # queued for sending (1 MiB): 16 × 3 MiB + 16 MiB = 64 MiB.
        bound = len(clients) * 3 * MAX_MESSAGE + 16 * MiB
        with MemoryWatch(self.server, f"{len(clients)} concurrent 1 MiB messages") as mem:
            for ws in clients:
                ws.send_raw(frame)
            for ws in clients:
                self.assertEqual(ws.recv_message(30.0), (BINARY, payload))
        self.assertLess(mem.growth, bound)
        for ws in clients:
            ws.send_close(1000)
            self.expect_close(ws, 1000)


class NonReadingClients(WsCase):
    """Clients that write as fast as they can and never read. Once the server has stopped reading
    from one, the client drains its echoes: every message comes back exactly once and in order
    (sends never drop data), and the connection ends with a clean close."""

    STALL = 1.0  # no progress for this long = the server stopped reading
    CAP = 512 * MiB  # a server that kept reading would reach this: the test fails then
    ACCEPTED_BOUND = 64 * MiB  # kernel buffers on both sides + the server's queue stay far below

    def flood(self, frames: list, echoes: list, label: str) -> None:
        """`frames`: client frames of equal length, sent round robin; `echoes`: what the server
        answers to each."""
        frame_len = len(frames[0])
        self.assertTrue(all(len(f) == frame_len for f in frames))
        unit = b"".join(frames)
        ws = self.ws()
        inode = self.server_inode(ws)
        sock = ws.sock
        sock.setblocking(False)
        sent = 0
        closed_by_server = False
        # Sanitized builds run several times slower (scripts/test-sanitizers.sh sets the scale).
        deadline = time.monotonic() + 30.0 * float(os.environ.get("NEXIOS_TEST_TIME_SCALE", "1"))

        def push() -> int:
            """Sends while the socket takes bytes; returns how many it took."""
            nonlocal sent, closed_by_server
            took = 0
            while not closed_by_server:
                try:
                    n = sock.send(unit[sent % len(unit):])
                except BlockingIOError:
                    return took
                except (BrokenPipeError, ConnectionResetError):
                    closed_by_server = True
                    return took
                sent += n
                took += n
                self.assertLess(sent, self.CAP, "the server kept reading from a client that never reads")
            return took

        client_port = sock.getsockname()[1]

        def unread_by_server() -> int:
            queues = server_socket_queues(self.port, client_port)
            self.assertIsNotNone(queues, "the server's socket for the flooding client is gone")
            return queues[1]

        with MemoryWatch(self.server, label) as mem:
            # Stalled = the client cannot write and the bytes waiting in the server's receive buffer
            # have not been read by the server for STALL seconds.
            last_unread, last_change = -1, time.monotonic()
            while not closed_by_server:
                self.assertLess(time.monotonic(), deadline, "the server did not stop reading in time")
                progressed = push() > 0
                if closed_by_server:
                    break
                progressed |= writable_within(sock, 0.1)
                unread = unread_by_server()
                now = time.monotonic()
                if progressed or unread != last_unread:
                    last_unread, last_change = unread, now
                elif now - last_change >= self.STALL:
                    break
            # select() reports writable only above a free-space threshold: top the buffer up.
            push()
            stalled_at = sent
            rss_stalled = mem.current()
            # Keep pushing for one more stall period: nothing more may be accepted, nothing grows.
            pushing_until = time.monotonic() + self.STALL
            while not closed_by_server and time.monotonic() < pushing_until:
                if writable_within(sock, max(0.0, pushing_until - time.monotonic())):
                    push()
            more = sent - stalled_at
            rss_later = mem.current()
        print(f"\n  {label}: the server stopped reading after {fmt_mib(stalled_at)} accepted "
              f"({fmt_mib(last_unread)} of it unread in its socket buffer); {more} bytes more "
              f"in the next {self.STALL:.0f}s; RSS {fmt_mib(rss_stalled)} → {fmt_mib(rss_later)}; "
              f"{'closed by the server' if closed_by_server else 'still open'}", file=sys.stderr)
        self.assertLess(stalled_at, self.ACCEPTED_BOUND)
        self.assertLess(mem.growth, RSS_GROWTH_BOUND)
        if closed_by_server:
            ws.close()
            self.assert_released(inode, 5.0, "after the server closed the flooding client")
            return
        self.assertLess(more, 1 * MiB, "the stalled connection kept accepting data")
        self.assertLess(rss_later - rss_stalled, 4 * MiB, "the stalled connection kept growing")
        # Everyone else is still served while the flooder sits there.
        self.assert_still_serving()

        # The flooder starts reading: it completes its last frame, closes, and drains everything.
        n_frames = -(-sent // frame_len)
        out = bytearray(unit[sent % len(unit):][: n_frames * frame_len - sent])
        out += build_frame(CLOSE, close_payload(1000))
        full_units, rest = divmod(n_frames, len(frames))
        expected = b"".join(echoes) * full_units + b"".join(echoes[:rest]) + b"\x88\x02\x03\xe8"
        received = bytearray()
        drain_deadline = time.monotonic() + 60.0 * float(os.environ.get("NEXIOS_TEST_TIME_SCALE", "1"))
        eof = False
        while not eof:
            self.assertLess(time.monotonic(), drain_deadline, f"drained {len(received)} of {len(expected)} bytes")
            readable, writable, _ = select.select([sock], [sock] if out else [], [], 5.0)
            if writable:
                n = sock.send(out)
                del out[:n]
            if readable:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    eof = True
                received += chunk
        self.assertEqual(len(received), len(expected), "echo stream length after the stall")
        self.assertTrue(received == expected, "echoes lost, duplicated or reordered after the stall")
        print(f"  {label}: after draining, all {n_frames} messages echoed in order, then close 1000",
              file=sys.stderr)
        ws.close()
        self.assert_released(inode, 5.0, "after the flooding client closed")

    def test_message_flood_without_reading(self):
        payload = random.Random(3).randbytes(64 * KiB)
        echo = b"\x82\x7f" + struct.pack("!Q", len(payload)) + payload
        self.flood([build_frame(BINARY, payload) for _ in range(16)], [echo] * 16,
                   "64 KiB-message flood from a client that never reads")

    def test_ping_flood_without_reading(self):
        payloads = [bytes([i % 256]) * 125 for i in range(2000)]
        self.flood([build_frame(PING, p) for p in payloads], [b"\x8a\x7d" + p for p in payloads],
                   "125-byte ping flood from a client that never reads")

    def test_small_text_flood_without_reading(self):
        self.flood([build_frame(TEXT, b"tiny")] * 20000, [b"\x81\x04tiny"] * 20000,
                   "4-byte text message flood from a client that never reads")


class AbruptDisconnect(WsCase):
    """A client that sends a burst of small messages and resets the connection (RST) while the
    server is still working through them. The class has its own server, so that a crash does not
    take the other classes' tests down with it."""

    crashed = False

    def tearDown(self) -> None:
        pass  # the test checks the bystander, a fresh connection and the server itself

    @classmethod
    def tearDownClass(cls) -> None:
        code = cls.server.stop()
        cls.server.kill()
        if code != 0 and not cls.crashed:
            raise AssertionError(f"echo exited with status {code}; stderr: {cls.server.stderr()!r}")

    # A regression test: the server used to die with SIGSEGV here (Connection::finish() released
    # the read buffer while a complete message still waited in the slot, and ws_receive() then
    # handed it out as a view into the released buffer).
    def test_reset_with_messages_queued_does_not_crash_the_server(self):
        burst = b"".join(build_frame(TEXT, b"tiny") for _ in range(20000))
        try:
            for round_ in range(30):
                ws = RawWebSocket(self.port, timeout=IO_TIMEOUT)
                ws.send_raw(burst)
                ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                ws.close()  # RST while the server is echoing the burst
                self.bystander.send_text(f"round {round_}")
                self.assertEqual(self.bystander.recv_message(5.0), (TEXT, f"round {round_}".encode()),
                                 f"round {round_}: the bystander lost its echo")
                self.assertTrue(self.server.alive(), f"round {round_}: the server died")
            self.assert_still_serving()
        except BaseException:
            type(self).crashed = True
            try:
                self.server.proc.wait(timeout=5.0)  # a crashing process may take a moment to exit
            except subprocess.TimeoutExpired:
                pass
            print(f"\n  server exit status: {self.server.proc.poll()}", file=sys.stderr)
            raise


class ClosingHandshakeNeverCompleted(WsCase):
    """close_timeout is 500 ms: the server drops a peer that does not finish the close."""

    def assert_dropped_after_close_timeout(self, inode, since: float, what: str) -> None:
        self.assertTrue(wait_until(lambda: not process_holds(self.pid, inode), CLOSE_TIMEOUT + 3.0),
                        f"{what}: not dropped within close_timeout + 3 s")
        elapsed = time.monotonic() - since
        print(f"\n  {what}: dropped {elapsed:.2f}s after the close frame (close_timeout {CLOSE_TIMEOUT}s)",
              file=sys.stderr)
        self.assertGreaterEqual(elapsed, CLOSE_TIMEOUT * 0.5, "dropped before close_timeout")

    def test_server_close_never_answered(self):
        """The server fails the connection (1002); the client reads it but never answers nor closes."""
        ws = self.ws()
        inode = self.server_inode(ws)
        ws.send_raw(build_frame(3, b"reserved opcode"))
        frame = ws.recv_close()
        since = time.monotonic()
        self.assertEqual(frame.close_code, 1002)
        ws.wait_eof()  # the server half-closed; the client keeps its side open
        self.assert_dropped_after_close_timeout(inode, since, "client that never answers the server's close")

    def test_client_close_then_never_closes_tcp(self):
        ws = self.ws()
        inode = self.server_inode(ws)
        ws.send_close(1000)
        self.assertEqual(ws.recv_close().close_code, 1000)
        since = time.monotonic()
        ws.wait_eof()
        self.assert_dropped_after_close_timeout(inode, since, "client that sent close but keeps TCP open")

    def test_client_that_never_reads_the_close(self):
        ws = self.ws()
        inode = self.server_inode(ws)
        since = time.monotonic()
        ws.send_raw(build_frame(TEXT, b"\xff invalid utf-8"))
        self.assert_dropped_after_close_timeout(inode, since, "client that never reads the server's close")

    def test_client_keeps_sending_after_close(self):
        """A client that answers the close with more and more data frames, never a close."""
        ws = self.ws()
        inode = self.server_inode(ws)
        ws.send_close(1000)
        self.assertEqual(ws.recv_close().close_code, 1000)
        since = time.monotonic()
        frame = build_frame(TEXT, b"still talking")
        while process_holds(self.pid, inode):
            self.assertLess(time.monotonic() - since, CLOSE_TIMEOUT + 3.0, "not dropped")
            try:
                ws.sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            # Client pacing: one frame per 20 ms, woken early if the server resets the connection.
            ws.sock.settimeout(0.02)
            try:
                if ws.sock.recv(4096) == b"" and not process_holds(self.pid, inode):
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                break
        elapsed = time.monotonic() - since
        print(f"\n  client talking after close: dropped after {elapsed:.2f}s", file=sys.stderr)
        self.assertTrue(wait_until(lambda: not process_holds(self.pid, inode), 3.0))
        self.assertGreaterEqual(elapsed, CLOSE_TIMEOUT * 0.5)


class VanishingClients(WsCase):
    def test_fin_in_the_middle_of_a_frame(self):
        ws = self.ws()
        inode = self.server_inode(ws)
        ws.send_raw(build_frame(BINARY, b"x" * 100000)[:5000])
        ws.sock.shutdown(socket.SHUT_WR)
        ws.close()
        self.assert_released(inode, 5.0, "client gone mid-frame (FIN)")

    def test_reset_in_the_middle_of_a_fragmented_message(self):
        ws = self.ws()
        inode = self.server_inode(ws)
        ws.send_raw(build_frame(TEXT, b"first part ", fin=False) + build_frame(CONT, b"second")[:4])
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.close()  # RST
        self.assert_released(inode, 5.0, "client reset mid-message")

    def test_reset_while_the_server_is_sending(self):
        """The client resets while a 1 MiB echo is on its way back."""
        ws = self.ws()
        inode = self.server_inode(ws)
        ws.send_raw(build_frame(BINARY, b"z" * MAX_MESSAGE))
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.close()
        self.assert_released(inode, 5.0, "client reset during the echo")

    def test_hundred_connections_dropped_mid_handshake(self):
        from abuse_lib import connect, upgrade_request
        for i in range(100):
            sock = connect(self.port)
            request = upgrade_request("/ws", port=self.port)
            sock.sendall(request[: (i * 7) % len(request)])
            if i % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()


if __name__ == "__main__":
    main()
