#!/usr/bin/python3
"""Every HTTP response of the framework carries `X-Content-Type-Options: nosniff` (issue 13,
item 10): handler responses, error responses of the router and of the parser, the 503 written
before a request is read; the 101 of a WebSocket handshake does not (it has no content).

    /usr/bin/python3 tests/scripts/test_nosniff.py --binary build/bin/echo
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nexios_testlib import (EchoServer, HttpConnection, RawWebSocket, main, upgrade_request)  # noqa: E402


def response(port: int, request: bytes):
    with HttpConnection(port) as c:
        c.send(request)
        return c.read_response()


class Nosniff(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = EchoServer(threads=1).start()
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop_and_check()
        finally:
            cls.server.kill()

    def assert_nosniff(self, res, what):
        self.assertEqual(res.header_all("X-Content-Type-Options"), ["nosniff"], (what, res.headers))

    def test_handler_router_and_parser_responses(self):
        cases = {
            "200": b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "404": b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "400 (parser)": b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: z\r\n\r\n",
            "400 (UTF-8)": b"GET /a?x=%FF HTTP/1.1\r\nHost: x\r\n\r\n",
            "431": b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
            "426": b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        }
        for what, request in cases.items():
            res = response(self.port, request)
            self.assertEqual(str(res.status), what.split()[0], what)
            self.assert_nosniff(res, what)

    def test_not_on_101_but_on_the_503_before_a_request(self):
        with EchoServer(threads=1, extra_args=["--limit", "max_connections=1"]) as server:
            with RawWebSocket(server.port, "/ws") as ws:
                self.assertIsNone(ws.handshake.header("X-Content-Type-Options"), ws.handshake.headers)
                # max_connections=1: the next connection is refused before its request is read.
                res = response(server.port, upgrade_request("/ws", port=server.port))
                self.assertEqual(res.status, 503)
                self.assert_nosniff(res, "503")


if __name__ == "__main__":
    main()
