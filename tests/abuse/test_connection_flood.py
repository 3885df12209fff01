#!/usr/bin/python3
"""A flood of connections beyond max_connections (50 here).

With the bystander and 49 more WebSocket connections open (50 = the limit), every further
connection, whatever it sends (an upgrade request, a plain GET, nothing at all), is answered
`503 Service Unavailable` and closed; the 50 keep echoing. When some close, new connections are
accepted again, and a burst of 300 rapid connections beyond the limit leaves the server healthy
with its memory bounded.
"""

import sys
import time

from abuse_lib import (
    HOST, TEXT, AbuseCase, HttpConnection, MemoryWatch, RawWebSocket, connect, main, read_until_eof,
    upgrade_request, wait_until)

MAX_CONNECTIONS = 50
RSS_GROWTH_BOUND = 64 * 1024 * 1024

SERVER_ARGS = ["--limit", f"max_connections={MAX_CONNECTIONS}", "--limit", "header_timeout=1000ms",
               "--limit", "keep_alive_timeout=500ms", "--limit", "close_timeout=500ms",
               "--limit", "max_message_size=1048576"]


class ConnectionFlood(AbuseCase):
    SERVER_ARGS = SERVER_ARGS

    def open_up_to_the_limit(self) -> list:
        """49 WebSockets besides the bystander: the server is at max_connections. Waits (bounded)
        for connections of earlier tests to be released first."""
        clients = []
        deadline = time.monotonic() + 10.0
        while len(clients) < MAX_CONNECTIONS - 1:
            self.assertLess(time.monotonic(), deadline, f"only {len(clients)} + 1 connections accepted")
            try:
                ws = RawWebSocket(self.port, timeout=5.0)
            except (AssertionError, ConnectionError):
                # Still counted: a connection of the previous test not yet released. The attempt
                # itself waited for the server's answer (503 and close), so retry right away.
                continue
            self.addCleanup(ws.close)
            clients.append(ws)
        return clients

    def assert_503(self, request: bytes) -> None:
        with HttpConnection(self.port, timeout=5.0) as c:
            if request:
                try:
                    c.send(request)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            data = read_until_eof(c.sock, 5.0)
        self.assertTrue(data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), data[:120])
        self.assertIn(b"connection: close", data.lower())

    def echo_all(self, clients, tag: str) -> None:
        for i, ws in enumerate(clients):
            ws.send_text(f"{tag} {i}")
        for i, ws in enumerate(clients):
            self.assertEqual(ws.recv_message(), (TEXT, f"{tag} {i}".encode()))

    def test_extra_connections_get_503_and_others_keep_working(self):
        clients = self.open_up_to_the_limit()
        self.echo_all(clients, "at the limit")
        for i in range(20):
            with self.subTest(extra=i):
                kind = i % 3
                if kind == 0:
                    self.assert_503(upgrade_request("/ws", port=self.port))
                elif kind == 1:
                    self.assert_503(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                else:
                    self.assert_503(b"")
        self.echo_all(clients, "still working")
        self.bystander.send_text("bystander at the limit")
        self.assertEqual(self.bystander.recv_message(), (TEXT, b"bystander at the limit"))

        # Ten leave; ten new connections are accepted again (once the server has released them).
        for ws in clients[:10]:
            ws.send_close(1000)
            self.assertEqual(ws.recv_close().close_code, 1000)
            ws.wait_eof()
            ws.close()
        newcomers = []
        deadline = time.monotonic() + 5.0
        while len(newcomers) < 10:
            self.assertLess(time.monotonic(), deadline, "connections not accepted again after others closed")
            try:
                ws = RawWebSocket(self.port, timeout=5.0)
            except (AssertionError, ConnectionError):
                # A release in progress: the refusal was the server's answer; retry right away.
                continue
            self.addCleanup(ws.close)
            newcomers.append(ws)
        self.echo_all(newcomers, "newcomer")
        # At the limit again.
        self.assert_503(upgrade_request("/ws", port=self.port))
        self.echo_all(clients[10:] + newcomers, "all")
        for ws in clients[10:] + newcomers:
            ws.close()
        # Everything released: the tearDown's fresh connections must get in.
        self.assertTrue(wait_until(lambda: self._can_connect(), 5.0))

    def test_burst_of_connections_beyond_the_limit(self):
        clients = self.open_up_to_the_limit()
        refused = 0
        with MemoryWatch(self.server, "a burst of 300 connections beyond max_connections") as mem:
            socks = []
            for _ in range(300):
                s = connect(self.port)
                socks.append(s)
            for s in socks:
                try:
                    data = read_until_eof(s, 5.0)
                finally:
                    s.close()
                self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data[:80])
                refused += 1
        print(f"  {refused} connections refused with 503", file=sys.stderr)
        self.assertLess(mem.growth, RSS_GROWTH_BOUND)
        self.echo_all(clients, "after the burst")
        for ws in clients:
            ws.close()
        # Everything released: the tearDown's fresh connections must get in.
        self.assertTrue(wait_until(lambda: self._can_connect(), 5.0))

    def _can_connect(self) -> bool:
        try:
            with RawWebSocket(self.port, timeout=5.0):
                return True
        except (AssertionError, ConnectionError):
            return False


if __name__ == "__main__":
    main()
