#!/usr/bin/python3
"""WebSocket slowloris (issue 13, item 5): a client that dribbles a message byte by byte is closed
once `message_timeout` has passed since the message began (1008 "message timeout"), and
`idle_timeout` counts complete messages, pings and pongs, not bytes.

    /usr/bin/python3 tests/scripts/test_ws_slowloris.py --binary build/bin/echo

The client paces its own bytes (that is the behaviour under test); between two bytes it waits on
the socket, so a close from the server is seen the moment it arrives.
"""

import os
import select
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nexios_testlib import (CLOSE, PING, PONG, TEXT, EchoServer, RawWebSocket, build_frame,  # noqa: E402
                            main)

MESSAGE_TIMEOUT = 1.5  # seconds, the server's message_timeout in the first suite
IDLE_TIMEOUT = 1.5     # seconds, the server's idle_timeout in the second suite


def dribble(ws: RawWebSocket, data: bytes, pause: float) -> bool:
    """Sends `data` one byte at a time, `pause` seconds apart. Returns False as soon as the server
    has sent something (its close frame) or closed, True if every byte went out first."""
    for i, b in enumerate(data):
        try:
            ws.sock.sendall(bytes([b]))
        except OSError:
            return False
        if i + 1 < len(data):
            readable, _, _ = select.select([ws.sock], [], [], pause)
            if readable:
                return False
    return True


def expect_close(test: unittest.TestCase, ws: RawWebSocket, code: int, reason: bytes, timeout: float = 10.0):
    frame = ws.recv_frame(timeout)
    while frame.opcode == PING:
        frame = ws.recv_frame(timeout)
    test.assertEqual(frame.opcode, CLOSE, frame)
    test.assertEqual((frame.close_code, frame.close_reason), (code, reason))
    ws.send_close(code)
    ws.wait_eof(timeout)


class MessageTimeout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = EchoServer(extra_args=["--limit", f"message_timeout={int(MESSAGE_TIMEOUT * 1000)}ms",
                                            "--limit", "ping_interval=0", "--limit", "idle_timeout=60s"]).start()
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop_and_check()
        finally:
            cls.server.kill()

    def test_a_frame_dribbled_slower_than_the_timeout_is_closed_1008(self):
        frame = build_frame(TEXT, b"slow loris")  # 16 bytes: 0.4 s apart would take 6 s
        with RawWebSocket(self.port, "/ws") as ws:
            started = time.monotonic()
            self.assertFalse(dribble(ws, frame, 0.4), "the server let the whole frame dribble in")
            expect_close(self, ws, 1008, b"message timeout")
            elapsed = time.monotonic() - started
            self.assertGreaterEqual(elapsed, MESSAGE_TIMEOUT * 0.9)
            self.assertLess(elapsed, MESSAGE_TIMEOUT + 3.0)

    def test_a_frame_that_finishes_in_time_is_echoed(self):
        frame = build_frame(TEXT, b"quick")  # 11 bytes, 50 ms apart: 0.5 s
        with RawWebSocket(self.port, "/ws") as ws:
            self.assertTrue(dribble(ws, frame, 0.05))
            self.assertEqual(ws.recv_message(), (TEXT, b"quick"))

    def test_a_fragmented_message_counts_from_its_first_fragment(self):
        # Every fragment is a complete frame, sent well within the timeout, but the message never
        # ends: the clock started with the first fragment.
        with RawWebSocket(self.port, "/ws") as ws:
            ws.send_frame(TEXT, b"part", fin=False)
            started = time.monotonic()
            while True:
                readable, _, _ = select.select([ws.sock], [], [], 0.3)
                if readable:
                    break
                self.assertLess(time.monotonic() - started, MESSAGE_TIMEOUT + 3.0, "never closed")
                ws.send_frame(0x0, b"more", fin=False)
            expect_close(self, ws, 1008, b"message timeout")
            self.assertGreaterEqual(time.monotonic() - started, MESSAGE_TIMEOUT * 0.9)

    def test_each_message_has_its_own_clock(self):
        # Each write completes the previous message and begins the next one: the connection always
        # has a message in progress, for longer in all than the timeout, yet each message takes
        # only 0.4 s.
        payloads = [f"m{i}".encode() for i in range(8)]
        frames = [build_frame(TEXT, p) for p in payloads]
        with RawWebSocket(self.port, "/ws") as ws:
            ws.send_raw(frames[0][:3])
            for i in range(len(frames)):
                rest = frames[i][3:] + (frames[i + 1][:3] if i + 1 < len(frames) else b"")
                readable, _, _ = select.select([ws.sock], [], [], 0.4)
                self.assertFalse(readable, "the server sent something unasked (a close?)")
                ws.send_raw(rest)
                self.assertEqual(ws.recv_message(), (TEXT, payloads[i]))
            ws.send_close(1000)
            self.assertEqual(ws.recv_close().close_code, 1000)


class IdleMeansNoCompleteMessage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = EchoServer(extra_args=["--limit", "message_timeout=0", "--limit", "ping_interval=0",
                                            "--limit", f"idle_timeout={int(IDLE_TIMEOUT * 1000)}ms"]).start()
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop_and_check()
        finally:
            cls.server.kill()

    def test_bytes_of_a_message_that_never_ends_are_not_activity(self):
        # A frame declaring 1000 bytes, its payload sent a byte every 0.1 s: bytes keep arriving,
        # no message completes, so the connection is idle.
        frame = build_frame(TEXT, b"x" * 1000)
        with RawWebSocket(self.port, "/ws") as ws:
            started = time.monotonic()
            self.assertFalse(dribble(ws, frame, 0.1), "the server let 100 s of dribbling in")
            expect_close(self, ws, 1001, b"idle timeout")
            elapsed = time.monotonic() - started
            self.assertGreaterEqual(elapsed, IDLE_TIMEOUT * 0.9)
            self.assertLess(elapsed, IDLE_TIMEOUT + 3.0)

    def test_pings_and_complete_messages_keep_a_connection_open(self):
        with RawWebSocket(self.port, "/ws") as ws:
            ws.auto_pong = False
            started = time.monotonic()
            i = 0
            # Three idle timeouts' worth of activity, one complete frame every 0.5 s.
            while time.monotonic() - started < 3 * IDLE_TIMEOUT:
                readable, _, _ = select.select([ws.sock], [], [], 0.5)
                self.assertFalse(readable, "the server sent something unasked (a close?)")
                if i % 2:
                    ws.send_frame(PING, b"p")
                    frame = ws.recv_frame()
                    self.assertEqual((frame.opcode, frame.payload), (PONG, b"p"))
                else:
                    ws.send_text(f"t{i}")
                    self.assertEqual(ws.recv_message(), (TEXT, f"t{i}".encode()))
                i += 1
            ws.send_close(1000)
            self.assertEqual(ws.recv_close().close_code, 1000)


if __name__ == "__main__":
    main()
