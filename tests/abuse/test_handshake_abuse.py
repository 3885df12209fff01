#!/usr/bin/python3
"""Bad WebSocket opening handshakes (RFC 6455 §4.2.1/§4.2.2): each is refused with its status and
never upgraded (no 101, no Sec-WebSocket-Accept). A refusal with Connection: close is followed by
the server closing the connection (a frame sent after it is never echoed); one without (405, and
426 to a plain GET) is an ordinary HTTP answer after which the connection still speaks HTTP. The
bystander keeps echoing throughout.

  missing or malformed Sec-WebSocket-Key          → 400
  wrong Sec-WebSocket-Version                     → 426 with Sec-WebSocket-Version: 13
  missing Upgrade (plain GET to /ws)              → 426
  missing "upgrade" in Connection                 → 400
  POST / PUT / DELETE / ... to /ws                → 405 with Allow: GET
"""

from abuse_lib import HOST, TEXT, AbuseCase, HttpConnection, build_frame, main, make_key, upgrade_request

SERVER_ARGS = ["--limit", "header_timeout=1000ms", "--limit", "keep_alive_timeout=500ms",
               "--limit", "close_timeout=500ms", "--limit", "max_connections=50",
               "--limit", "max_message_size=1048576"]


class BadHandshakes(AbuseCase):
    SERVER_ARGS = SERVER_ARGS

    def refused(self, request: bytes, status: int):
        """One refusal with `status`, never an upgrade. If the response announces Connection:
        close, the server closes the connection and a WebSocket frame sent after the request is
        never answered; otherwise (an ordinary HTTP answer such as 405, or 426 to a plain GET) the
        connection goes on speaking HTTP: the next request on it gets /health's 200."""
        with HttpConnection(self.port) as c:
            c.send(request)
            res = c.read_response(head_request=request.startswith(b"HEAD "))
            self.assertEqual(res.status, status, f"{request[:200]!r} → {res.raw_head!r}")
            self.assertIsNone(res.header("Sec-WebSocket-Accept"))
            if (res.header("Connection") or "").lower() == "close":
                try:
                    c.send(build_frame(TEXT, b"must not be echoed"))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                rest = c.wait_eof()
                self.assertEqual(rest, b"", f"bytes after the {status} response: {rest[:100]!r}")
            else:
                c.send(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
                follow = c.read_response()
                self.assertEqual((follow.status, follow.body), (200, b"ok"), "the connection must still speak HTTP")
                self.assertEqual(c.wait_eof(), b"")
            return res

    def req(self, **kw) -> bytes:
        return upgrade_request("/ws", port=self.port, **kw)

    def test_missing_key_400(self):
        self.refused(self.req(key=None), 400)

    def test_malformed_keys_400(self):
        for key in ("", "abc", "not base64 at all!!!!!!!", "AAAAAAAAAAAAAAAAAAAAAA==AA", make_key()[:-4],
                    "AAAAAAAAAAAAAAAAAAAAAAA=",  # 17 bytes decoded
                    "AAAAAAAAAAAAAAAAAAAAAA",  # no padding
                    "AAAAAAAAAAAAAAAAAAAA====", "A" * 1000, "????????????????????????",
                    make_key() + "," + make_key()):
            with self.subTest(key=key[:40]):
                self.refused(self.req(key=key), 400)

    def test_two_keys_400(self):
        self.refused(self.req(extra=[("Sec-WebSocket-Key", make_key())]), 400)

    def test_wrong_version_426(self):
        for version in ("8", "12", "14", "0", "13, 8", "1.3", "", "thirteen", None):
            with self.subTest(version=version):
                res = self.refused(self.req(ws_version=version), 426)
                self.assertEqual(res.header("Sec-WebSocket-Version"), "13")

    def test_missing_upgrade_426(self):
        """A plain GET to the WebSocket route."""
        res = self.refused(f"GET /ws HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(), 426)
        self.assertEqual((res.header("Upgrade") or "").lower(), "websocket")

    def test_missing_upgrade_header_with_ws_headers_426(self):
        res = self.refused(self.req(upgrade=None), 426)
        self.assertEqual((res.header("Upgrade") or "").lower(), "websocket")

    def test_missing_connection_upgrade_400(self):
        for connection in (None, "keep-alive", "close", "upgrades", "keep-alive, close"):
            with self.subTest(connection=connection):
                self.refused(self.req(connection=connection), 400)

    def test_other_methods_405(self):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            with self.subTest(method=method):
                res = self.refused(self.req(method=method, extra=[("Content-Length", "0")]), 405)
                self.assertEqual(res.header("Allow"), "GET")

    def test_options_upgrade_is_answered_with_the_allowed_methods(self):
        # OPTIONS is never an upgrade: it asks which methods the path takes (RFC 9110 §9.3.7).
        res = self.refused(self.req(method="OPTIONS", extra=[("Content-Length", "0")]), 204)
        self.assertEqual(res.header("Allow"), "GET, OPTIONS")

    def test_head_405(self):
        res = self.refused(f"HEAD /ws HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(), 405)
        self.assertEqual(res.header("Allow"), "GET")

    def test_http10_upgrade_400(self):
        self.refused(self.req(version="HTTP/1.0"), 400)

    def test_oversized_upgrade_431(self):
        self.refused(self.req(extra=[("X-Pad", "p" * 20000)]), 431)

    def test_many_refusals_then_upgrade(self):
        """A hundred refused handshakes in a row do not disturb the next valid one."""
        for i in range(100):
            self.refused(self.req(key="bad" if i % 2 else None), 400)
        ws = self.ws()
        ws.send_text("after refusals")
        self.assertEqual(ws.recv_message(), (TEXT, b"after refusals"))


if __name__ == "__main__":
    main()
