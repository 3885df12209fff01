#!/usr/bin/python3
"""Graceful shutdown: on SIGINT/SIGTERM open WebSockets get close 1001 "server shutting down",
idle HTTP connections are closed, and the process exits with status 0. Each test runs its own
server."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402

from nexios_testlib import (  # noqa: E402
    HOST, TEXT, EchoServer, HttpConnection, RawWebSocket, find_binary, main)

TIMEOUT = 10.0
# close_timeout (5 s) bounds how long the server waits for a peer that never answers its close.
UNRESPONSIVE_PEER_EXIT = 15.0


class Shutdown(unittest.TestCase):
    def setUp(self):
        self.server = EchoServer().start()
        self.addCleanup(self.server.kill)

    def assert_going_away(self, ws: RawWebSocket):
        frame = ws.recv_close(TIMEOUT)
        self.assertEqual(frame.close_code, 1001)
        self.assertEqual(frame.close_reason, b"server shutting down")
        return frame

    def test_sigint_closes_websocket_with_1001(self):
        ws = RawWebSocket(self.server.port)
        self.addCleanup(ws.close)
        ws.send_text("before shutdown")
        self.assertEqual(ws.recv_message(), (TEXT, b"before shutdown"))
        self.server.send_signal(signal.SIGINT)
        self.assert_going_away(ws)
        ws.send_close(1001)
        ws.wait_eof(TIMEOUT)
        ws.close()
        self.assertEqual(self.server.wait_exit(TIMEOUT), 0, self.server.stderr())

    def test_sigterm_closes_websocket_with_1001(self):
        ws = RawWebSocket(self.server.port)
        self.addCleanup(ws.close)
        self.server.send_signal(signal.SIGTERM)
        self.assert_going_away(ws)
        ws.send_close(1001)
        ws.wait_eof(TIMEOUT)
        ws.close()
        self.assertEqual(self.server.wait_exit(TIMEOUT), 0, self.server.stderr())

    def test_websockets_client_sees_1001(self):
        """Several `websockets` clients and a raw client on different routes, all closed with 1001."""
        port = self.server.port
        connected = threading.Event()
        results = {}

        async def clients():
            paths = ["/ws", "/ws", "/demo/text", "/demo/json", "/demo/bytes", "/demo/rooms/r/1"]
            conns = [await websockets.connect(f"ws://{HOST}:{port}{p}", ping_interval=None, open_timeout=TIMEOUT,
                                              close_timeout=TIMEOUT) for p in paths]
            await conns[0].send("ping")
            results["echo"] = await asyncio.wait_for(conns[0].recv(), TIMEOUT)
            connected.set()
            await asyncio.wait_for(asyncio.gather(*(c.wait_closed() for c in conns)), 30)
            results["codes"] = [(c.close_code, c.close_reason) for c in conns]

        def run():
            try:
                asyncio.run(clients())
            except BaseException as e:  # reported by the main thread
                results["error"] = e
            connected.set()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.assertTrue(connected.wait(TIMEOUT), "clients did not connect")
        self.assertNotIn("error", results)
        raw = RawWebSocket(self.server.port)
        self.addCleanup(raw.close)
        self.server.send_signal(signal.SIGINT)
        self.assert_going_away(raw)
        raw.send_close(1001)
        raw.wait_eof(TIMEOUT)
        raw.close()
        t.join(40)
        self.assertFalse(t.is_alive(), "the websockets clients were not closed")
        self.assertNotIn("error", results, results.get("error"))
        self.assertEqual(results["echo"], "ping")
        self.assertEqual(results["codes"], [(1001, "server shutting down")] * 6)
        self.assertEqual(self.server.wait_exit(TIMEOUT), 0, self.server.stderr())

    def test_idle_http_connection_closed(self):
        c = HttpConnection(self.server.port, TIMEOUT)
        self.addCleanup(c.close)
        c.send(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        res = c.read_response()
        self.assertEqual((res.status, res.body), (200, b"ok"))
        self.server.send_signal(signal.SIGINT)
        self.assertEqual(c.wait_eof(TIMEOUT), b"")
        c.close()
        self.assertEqual(self.server.wait_exit(TIMEOUT), 0, self.server.stderr())

    def test_peer_that_never_answers_close(self):
        """A client that reads the 1001 but never answers still lets the server exit with 0."""
        ws = RawWebSocket(self.server.port)
        self.addCleanup(ws.close)
        self.server.send_signal(signal.SIGINT)
        self.assert_going_away(ws)
        self.assertEqual(self.server.wait_exit(UNRESPONSIVE_PEER_EXIT), 0, self.server.stderr())
        ws.wait_eof(TIMEOUT)

    def test_no_clients(self):
        self.assertEqual(self.server.stop(TIMEOUT), 0, self.server.stderr())


class SettingsFromTheEnvironment(unittest.TestCase):
    """Settings read from the environment are checked when the server starts: a bad one stops it
    at once with a message naming the variable and the accepted values (exit status 2), and a good
    one never troubles the shutdown."""

    def run_with_env(self, **env):
        return subprocess.run([find_binary(), "--host", HOST, "--port", "0"], env={**os.environ, **env},
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)

    def test_invalid_history_size_is_refused_at_start(self):
        for bad in ["5XB", "0", "-1", "", "lots"]:
            with self.subTest(value=bad):
                r = self.run_with_env(CHANNEL_BOX_HISTORY_SIZE=bad)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(b"CHANNEL_BOX_HISTORY_SIZE", r.stderr)
                self.assertIn(b"accepted: 1B to 4GiB", r.stderr)
                self.assertNotIn(b"listening", r.stdout)

    def test_invalid_limit_variable_is_refused_at_start(self):
        r = self.run_with_env(NEXIOS_IDLE_TIMEOUT="60")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"NEXIOS_IDLE_TIMEOUT", r.stderr)
        self.assertIn(b"needs a unit", r.stderr)

    def test_valid_history_size_and_sigterm_exit_cleanly(self):
        for value in ["5MB", "2048", "64KiB"]:
            with self.subTest(value=value):
                server = EchoServer(env={"CHANNEL_BOX_HISTORY_SIZE": value}).start()
                self.addCleanup(server.kill)
                server.send_signal(signal.SIGTERM)
                self.assertEqual(server.wait_exit(TIMEOUT), 0, server.stderr())


if __name__ == "__main__":
    main()
