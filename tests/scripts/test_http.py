#!/usr/bin/python3
"""The opening handshake (accepted and refused, with raw HTTP), the demo routes and routers, and
plain HTTP: /health, keep-alive, pipelining, 404 and the header limits (431)."""

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402
from websockets.exceptions import InvalidStatusCode  # noqa: E402

from nexios_testlib import (  # noqa: E402
    BINARY, HOST, TEXT, HttpConnection, RawWebSocket, ServerTestCase, accept_for, build_frame,
    http_exchange, main, make_key, upgrade_request)

TIMEOUT = 10.0
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 100


def ws_connect(port: int, path: str, **kw):
    return websockets.connect(f"ws://{HOST}:{port}{path}", ping_interval=None, open_timeout=TIMEOUT,
                              close_timeout=TIMEOUT, compression=None, **kw)


async def with_timeout(coro):
    return await asyncio.wait_for(coro, TIMEOUT)


# ------------------------------------------------------------------------------------------------
# Opening handshake
# ------------------------------------------------------------------------------------------------


class Handshake(ServerTestCase):
    def request(self, path="/ws", **kw):
        return http_exchange(self.port, upgrade_request(path, port=self.port, **kw))

    def assert_refused(self, res, status, connection_closed=True):
        self.assertEqual(res.version, "HTTP/1.1")
        self.assertEqual(res.status, status, f"{res.raw_head!r} {res.body!r}")
        self.assertIsNone(res.header("Sec-WebSocket-Accept"))

    def test_accepted(self):
        key = make_key()
        with HttpConnection(self.port) as c:
            c.send(upgrade_request("/ws", key=key, port=self.port))
            res = c.read_response()
            self.assertEqual(res.status, 101)
            self.assertEqual(res.header("Sec-WebSocket-Accept"), accept_for(key))
            self.assertEqual(res.header("Upgrade").lower(), "websocket")
            self.assertIn("upgrade", res.header("Connection").lower())
            self.assertIsNone(res.header("Sec-WebSocket-Protocol"))
            self.assertIsNone(res.header("Sec-WebSocket-Extensions"))

    def test_rfc_sample_key(self):
        with HttpConnection(self.port) as c:
            c.send(upgrade_request("/ws", key="dGhlIHNhbXBsZSBub25jZQ==", port=self.port))
            res = c.read_response()
            self.assertEqual(res.status, 101)
            self.assertEqual(res.header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_header_names_and_tokens_case_insensitive(self):
        key = make_key()
        raw = (f"GET /ws HTTP/1.1\r\nhost: {HOST}\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
               f"sec-websocket-key: {key}\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n").encode()
        res = http_exchange(self.port, raw)
        self.assertEqual(res.status, 101, res.raw_head)
        self.assertEqual(res.header("Sec-WebSocket-Accept"), accept_for(key))

    def test_subprotocol_not_offered_back(self):
        with HttpConnection(self.port) as c:
            c.send(upgrade_request("/ws", port=self.port, extra=[("Sec-WebSocket-Protocol", "chat, superchat")]))
            res = c.read_response()
            self.assertEqual(res.status, 101)
            self.assertIsNone(res.header("Sec-WebSocket-Protocol"))

    def test_extension_not_negotiated(self):
        with HttpConnection(self.port) as c:
            c.send(upgrade_request("/ws", port=self.port,
                                   extra=[("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]))
            res = c.read_response()
            self.assertEqual(res.status, 101)
            self.assertIsNone(res.header("Sec-WebSocket-Extensions"))

    def test_subprotocol_with_websockets_client(self):
        async def run():
            async with ws_connect(self.port, "/ws", subprotocols=["chat"]) as ws:
                self.assertIsNone(ws.subprotocol)
                await ws.send("sub")
                self.assertEqual(await with_timeout(ws.recv()), "sub")

        asyncio.run(run())

    def test_unknown_ws_path_404(self):
        for path in ("/nope", "/ws/extra", "/wss", "/demo", "/demo/", "/demo/unknown", "/demo/rooms/abc"):
            with self.subTest(path):
                self.assert_refused(self.request(path), 404)

    def test_missing_key_400(self):
        self.assert_refused(self.request(key=None), 400)

    def test_bad_keys_400(self):
        for key in ("abc", "not base64 at all!!!!!!!", "AAAAAAAAAAAAAAAAAAAAAA==AA", make_key()[:-4],
                    "AAAAAAAAAAAAAAAAAAAAAAA=", ""):
            with self.subTest(key=key):
                self.assert_refused(self.request(key=key), 400)

    def test_two_keys_400(self):
        self.assert_refused(self.request(extra=[("Sec-WebSocket-Key", make_key())]), 400)

    def test_bad_version_426(self):
        for version in ("8", "12", "14", "13, 8", None):
            with self.subTest(version=version):
                res = self.request(ws_version=version)
                self.assert_refused(res, 426)
                self.assertEqual(res.header("Sec-WebSocket-Version"), "13")

    def test_plain_get_to_ws_path_426(self):
        for path in ("/ws", "/demo/text", "/demo/rooms/r/1"):
            with self.subTest(path):
                res = http_exchange(self.port, f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                self.assert_refused(res, 426)
                self.assertEqual((res.header("Upgrade") or "").lower(), "websocket")

    def test_post_upgrade_405(self):
        res = self.request(method="POST")
        self.assert_refused(res, 405)
        self.assertEqual(res.header("Allow"), "GET")

    def test_post_without_upgrade_405(self):
        res = http_exchange(self.port, f"POST /ws HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 0\r\n\r\n".encode())
        self.assert_refused(res, 405)
        self.assertEqual(res.header("Allow"), "GET")

    def test_connection_without_upgrade_400(self):
        for connection in ("keep-alive", "close", None):
            with self.subTest(connection=connection):
                self.assert_refused(self.request(connection=connection), 400)

    def test_http10_upgrade_400(self):
        self.assert_refused(self.request(version="HTTP/1.0"), 400)

    def test_missing_host_400(self):
        self.assert_refused(self.request(host=None), 400)

    def test_refusal_closes_connection(self):
        with HttpConnection(self.port) as c:
            c.send(upgrade_request("/ws", key="abc", port=self.port))
            res = c.read_response()
            self.assertEqual(res.status, 400)
            self.assertEqual(c.wait_eof(), b"")

    def test_websockets_client_gets_404(self):
        async def run():
            with self.assertRaises(InvalidStatusCode) as cm:
                async with ws_connect(self.port, "/does/not/exist"):
                    pass
            self.assertEqual(cm.exception.status_code, 404)

        asyncio.run(run())


# ------------------------------------------------------------------------------------------------
# Routes: path parameters, routers, the demo handlers
# ------------------------------------------------------------------------------------------------


class Routes(ServerTestCase):
    def test_room_params_and_query(self):
        async def run():
            async with ws_connect(self.port, "/demo/rooms/abc/42?x=1") as ws:
                first = await with_timeout(ws.recv())
                self.assertIsInstance(first, str)
                info = json.loads(first)
                self.assertEqual(info, {"path": "/demo/rooms/abc/42", "room": "abc", "n": 42,
                                        "params": {"room": "abc", "n": "42"}, "query": {"x": "1"}})
                self.assertIsInstance(info["n"], int)
                # Then it echoes.
                await ws.send("after the info")
                self.assertEqual(await with_timeout(ws.recv()), "after the info")
                await ws.send(b"\x00\x01")
                self.assertEqual(await with_timeout(ws.recv()), b"\x00\x01")

        asyncio.run(run())

    def test_room_large_int_and_several_query_params(self):
        async def run():
            async with ws_connect(self.port, "/demo/rooms/lobby/9223372036854775807?a=1&b=two") as ws:
                info = json.loads(await with_timeout(ws.recv()))
                self.assertEqual(info["room"], "lobby")
                self.assertEqual(info["n"], 9223372036854775807)
                self.assertEqual(info["query"], {"a": "1", "b": "two"})

        asyncio.run(run())

    def test_room_without_query(self):
        with RawWebSocket(self.port, "/demo/rooms/r1/0") as ws:
            op, data = ws.recv_message()
            self.assertEqual(op, TEXT)
            info = json.loads(data)
            self.assertEqual(info["query"], {})
            self.assertEqual(info["n"], 0)

    def test_room_not_int_404(self):
        for path in ("/demo/rooms/abc/notint", "/demo/rooms/abc/4x2", "/demo/rooms/abc/",
                     "/demo/rooms/abc/-7", "/demo/rooms/abc/99999999999999999999", "/demo/rooms/abc/1.5", "/demo/rooms/abc/1/2"):
            with self.subTest(path):
                res = http_exchange(self.port, upgrade_request(path, port=self.port))
                self.assertEqual(res.status, 404, res.raw_head)

    def test_bare_prefix_404(self):
        for path in ("/demo", "/demo/"):
            with self.subTest(path):
                res = http_exchange(self.port, upgrade_request(path, port=self.port))
                self.assertEqual(res.status, 404, res.raw_head)

    def test_demo_text(self):
        async def run():
            async with ws_connect(self.port, "/demo/text") as ws:
                for msg in ("hi", "", "ünï ✓ 😀"):
                    await ws.send(msg)
                    self.assertEqual(await with_timeout(ws.recv()), "You said: " + msg)

        asyncio.run(run())

    def test_demo_json(self):
        with RawWebSocket(self.port, "/demo/json") as ws:
            for sent, expected in (
                (b'{"a": 1, "b": [true, null, -25, "x"]}', b'{"status":"success","data":{"a":1,"b":[true,null,-25,"x"]}}'),
                (b'"just a string"', b'{"status":"success","data":"just a string"}'),
                (b"[]", b'{"status":"success","data":[]}'),
                ('{"name": "héllo ✓ 😀 日本"}'.encode(), '{"status":"success","data":{"name":"héllo ✓ 😀 日本"}}'.encode()),
            ):
                ws.send_text(sent)
                op, data = ws.recv_message()
                self.assertEqual(op, TEXT)
                self.assertEqual(data, expected)

    def test_demo_json_with_websockets(self):
        async def run():
            async with ws_connect(self.port, "/demo/json") as ws:
                payload = {"user": "zoë", "emoji": "😀", "n": [1, 2.5, -3], "nested": {"k": "v"}}
                await ws.send(json.dumps(payload))
                reply = await with_timeout(ws.recv())
                self.assertEqual(json.loads(reply), {"status": "success", "data": payload})
                self.assertIn("zoë", reply, "non-ASCII must stay unescaped")
                self.assertIn("😀", reply)
                self.assertNotIn("\\u", reply)
                self.assertNotIn(": ", reply, "the JSON must be compact")

        asyncio.run(run())

    def test_demo_bytes(self):
        async def run():
            async with ws_connect(self.port, "/demo/bytes", max_size=None) as ws:
                for msg in (b"", b"\x00", os.urandom(70000)):
                    await ws.send(msg)
                    reply = await with_timeout(ws.recv())
                    self.assertIsInstance(reply, bytes)
                    self.assertEqual(reply, msg)

        asyncio.run(run())

    def test_demo_bytes_raw(self):
        with RawWebSocket(self.port, "/demo/bytes") as ws:
            ws.send_raw(build_frame(BINARY, b"\xff\x00\xfe"))
            self.assertEqual(ws.recv_message(), (BINARY, b"\xff\x00\xfe"))


# ------------------------------------------------------------------------------------------------
# Plain HTTP
# ------------------------------------------------------------------------------------------------


def get(path: str, extra: str = "", close: bool = False) -> bytes:
    conn = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{conn}{extra}\r\n".encode()


class Http(ServerTestCase):
    def test_health(self):
        res = http_exchange(self.port, get("/health"))
        self.assertEqual(res.status, 200)
        self.assertEqual(res.body, b"ok")

    def test_health_with_urllib(self):
        import urllib.request
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=TIMEOUT) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), b"ok")

    def test_head_health(self):
        with HttpConnection(self.port) as c:
            c.send(f"HEAD /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            res = c.read_response(head_request=True)
            self.assertEqual(res.status, 200)
            # No body follows: the next response on the connection starts right away.
            c.send(get("/health", close=True))
            res = c.read_response()
            self.assertEqual((res.status, res.body), (200, b"ok"))

    def test_keep_alive(self):
        with HttpConnection(self.port) as c:
            for _ in range(2):
                c.send(get("/health"))
                res = c.read_response()
                self.assertEqual((res.status, res.body), (200, b"ok"))
                self.assertNotEqual((res.header("Connection") or "").lower(), "close")
            c.send(get("/health", close=True))
            res = c.read_response()
            self.assertEqual((res.status, res.body), (200, b"ok"))
            self.assertEqual(c.wait_eof(), b"")

    def test_pipelined(self):
        with HttpConnection(self.port) as c:
            c.send(get("/health") + get("/missing") + get("/health") + get("/health", close=True))
            results = [c.read_response() for _ in range(4)]
            self.assertEqual([(r.status, r.body) for r in results],
                             [(200, b"ok"), (404, results[1].body), (200, b"ok"), (200, b"ok")])
            self.assertEqual(c.wait_eof(), b"")

    def test_unknown_path_404(self):
        for path in ("/missing", "/health/x", "/healthz", "/ws/"):
            with self.subTest(path):
                res = http_exchange(self.port, get(path))
                self.assertEqual(res.status, 404)

    def test_index_page(self):
        res = http_exchange(self.port, get("/"))
        self.assertEqual(res.status, 200)
        self.assertTrue((res.header("Content-Type") or "").startswith("text/html"))
        self.assertIn(b'<script src="/page.js">', res.body)  # no inline script (examples/common/page.hpp)
        script = http_exchange(self.port, get("/page.js"))
        self.assertEqual(script.status, 200)
        self.assertIn(b"new WebSocket", script.body)

    def test_method_not_allowed_on_health(self):
        res = http_exchange(self.port, f"POST /health HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 0\r\n\r\n".encode())
        self.assertEqual(res.status, 405)
        self.assertIn("GET", res.header("Allow") or "")

    def _padded_request(self, total: int) -> bytes:
        """GET /health whose head (request line, headers, final CRLF) is exactly `total` bytes."""
        base = f"GET /health HTTP/1.1\r\nHost: {HOST}\r\nX-Pad: \r\n\r\n"
        pad = total - len(base)
        self.assertGreater(pad, 0)
        req = f"GET /health HTTP/1.1\r\nHost: {HOST}\r\nX-Pad: {'p' * pad}\r\n\r\n".encode()
        self.assertEqual(len(req), total)
        return req

    def test_header_bytes_at_limit_ok(self):
        res = http_exchange(self.port, self._padded_request(MAX_HEADER_BYTES))
        self.assertEqual((res.status, res.body), (200, b"ok"))

    def test_header_bytes_over_limit_431(self):
        res = http_exchange(self.port, self._padded_request(MAX_HEADER_BYTES + 1))
        self.assertEqual(res.status, 431)

    def test_header_bytes_over_limit_on_upgrade_431(self):
        pad = [("X-Pad", "p" * MAX_HEADER_BYTES)]
        res = http_exchange(self.port, upgrade_request("/ws", port=self.port, extra=pad))
        self.assertEqual(res.status, 431)

    def test_header_count(self):
        def request(n_fields: int) -> bytes:
            fields = "".join(f"X-H{i}: v\r\n" for i in range(n_fields - 1))
            return f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n{fields}\r\n".encode()

        res = http_exchange(self.port, request(MAX_HEADERS))
        self.assertEqual(res.status, 200)
        res = http_exchange(self.port, request(MAX_HEADERS + 1))
        self.assertEqual(res.status, 431)

    def test_http_then_upgrade_on_same_connection(self):
        """A keep-alive connection may upgrade after a plain request."""
        key = make_key()
        with HttpConnection(self.port) as c:
            c.send(get("/health"))
            self.assertEqual(c.read_response().body, b"ok")
            c.send(upgrade_request("/ws", key=key, port=self.port) + build_frame(TEXT, b"upgraded"))
            res = c.read_response()
            self.assertEqual(res.status, 101)
            self.assertEqual(res.header("Sec-WebSocket-Accept"), accept_for(key))
            ws = RawWebSocket.adopt(c.sock, c.reader, TIMEOUT)
            self.assertEqual(ws.recv_message(), (TEXT, b"upgraded"))


if __name__ == "__main__":
    main()
