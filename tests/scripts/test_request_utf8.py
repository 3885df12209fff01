#!/usr/bin/python3
"""A request whose text is not valid UTF-8 once decoded (path and path parameters, query names and
values, header values, cookies) is refused with 400 and a reason, before any handler runs
(issue 13, item 1: one handshake used to poison a chat room).

    /usr/bin/python3 tests/scripts/test_request_utf8.py --binary build/bin/echo
    (NEXIOS_CHAT_BIN=build/bin/chat adds the chat room test)

The echo example's /demo/rooms/{room}/{n:int} handler sends back its path and query parameters, so
an accepted request is visible; the access log (JSON on stderr) shows no WebSocket was accepted
for a refused one. In the chat example, a member of the room checks that nobody joined.
"""

import json
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nexios_testlib import (EchoServer, HttpConnection, RawWebSocket, TEXT, main,  # noqa: E402
                            poll_until, upgrade_request)

BAD_QUERIES = [
    "username=bad%FF",        # never UTF-8
    "username=%C0%AF",        # overlong '/'
    "username=%ED%A0%80",     # a surrogate
    "username=%E2%82",        # truncated
    "%FF=x",                  # in a name
]
BAD_ROOMS = ["bad%FF", "%C0%AF", "%ED%A0%80", "caf%E9"]


def handshake_response(port: int, target: str, extra=()):
    with HttpConnection(port) as c:
        c.send(upgrade_request(target, port=port, extra=extra))
        res = c.read_response()
        c.wait_eof()
        return res


class EchoRefusesInvalidText(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = EchoServer(env={"NEXIOS_LOG_FORMAT": "json"}).start()
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop_and_check()
        finally:
            cls.server.kill()

    def assert_refused(self, res, what: str):
        self.assertEqual(res.status, 400, (what, res.status, res.body))
        self.assertIn(b"not valid UTF-8", res.body, what)

    def test_invalid_query_values_are_refused(self):
        for q in BAD_QUERIES:
            self.assert_refused(handshake_response(self.port, f"/demo/rooms/r/1?{q}"), q)

    def test_invalid_path_parameters_are_refused(self):
        for room in BAD_ROOMS:
            res = handshake_response(self.port, f"/demo/rooms/{room}/1?username=ok")
            self.assert_refused(res, room)
            self.assertIn(b"path", res.body)

    def test_invalid_header_and_cookie_values_are_refused(self):
        res = handshake_response(self.port, "/demo/rooms/r/1", extra=[("X-Name", "caf\xe9")])  # Latin-1
        self.assert_refused(res, "header")
        res = handshake_response(self.port, "/demo/rooms/r/1", extra=[("Cookie", 'a=1; b="\\377"')])
        self.assert_refused(res, "cookie")
        self.assertIn(b"cookie", res.body)

    def test_plain_http_requests_are_refused_too(self):
        with HttpConnection(self.port) as c:
            c.send(b"GET /health?x=%C0%AF HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            self.assert_refused(c.read_response(), "/health")

    def test_valid_utf8_reaches_the_handler_decoded(self):
        room, name = "caf\u00e9", "\U0001F600 ok"
        target = "/demo/rooms/caf%C3%A9/7?username=%F0%9F%98%80+ok"
        with RawWebSocket(self.port, target) as ws:
            opcode, data = ws.recv_message()
            self.assertEqual(opcode, TEXT)
            info = json.loads(data.decode("utf-8"))
            self.assertEqual(info["room"], room)
            self.assertEqual(info["query"], {"username": name})
            self.assertEqual(info["n"], 7)

    def test_no_refused_handshake_reached_a_handler(self):
        marker = uuid.uuid4().hex
        for q in BAD_QUERIES:
            self.assertEqual(handshake_response(self.port, f"/demo/rooms/{marker}/1?{q}").status, 400)
        # A valid one afterwards, to know the log has caught up with the refused ones.
        with RawWebSocket(self.port, f"/demo/rooms/{marker}/2") as ws:
            ws.recv_message()
            ws.send_close(1000)
            ws.recv_close()
            ws.wait_eof()
        def records():
            return [json.loads(line) for line in self.server.full_stderr().splitlines() if line.startswith(b"{")]

        def logged_valid_one():
            return any(r.get("component") == "access" and r.get("kind") == "websocket"
                       and r.get("path") == f"/demo/rooms/{marker}/2" for r in records())

        self.assertTrue(poll_until(logged_valid_one, 10), self.server.stderr())
        mine = [r for r in records() if r.get("component") == "access" and marker in r.get("path", "")]
        accepted = [r for r in mine if r.get("kind") == "websocket"]
        self.assertEqual([r["path"] for r in accepted], [f"/demo/rooms/{marker}/2"], mine)
        refused = [r for r in mine if r.get("kind") == "http" and r.get("status") == 400]
        self.assertEqual(len(refused), len(BAD_QUERIES), mine)


@unittest.skipUnless(os.environ.get("NEXIOS_CHAT_BIN"), "NEXIOS_CHAT_BIN not set")
class ChatRoomIsNotPoisoned(unittest.TestCase):
    def test_bad_handshakes_never_join_the_room(self):
        with EchoServer(binary=os.environ["NEXIOS_CHAT_BIN"]) as server:
            room = "r" + uuid.uuid4().hex[:8]
            with RawWebSocket(server.port, f"/ws/chat/{room}?username=alice") as alice:
                for q in BAD_QUERIES:
                    res = handshake_response(server.port, f"/ws/chat/{room}?{q}")
                    self.assertEqual(res.status, 400, q)
                    # The server's own check (a guard of the example would word it otherwise).
                    self.assertIn(b"once percent-decoded", res.body, q)
                for bad_room in BAD_ROOMS:
                    self.assertEqual(handshake_response(server.port, f"/ws/chat/{bad_room}?username=x").status, 400)
                # Nobody else joined: up to alice's own message, everything she gets is about her.
                alice.send_text(json.dumps({"type": "message", "content": "after"}))
                while True:
                    msg = json.loads(alice.recv_message()[1].decode("utf-8"))
                    self.assertEqual(msg.get("username"), "alice", msg)
                    if msg.get("type") == "message" and msg.get("content") == "after":
                        break

if __name__ == "__main__":
    main()
