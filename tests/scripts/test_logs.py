#!/usr/bin/python3
"""Black-box tests of the log on the echo example's stderr.

    /usr/bin/python3 tests/scripts/test_logs.py --binary build/bin/echo

* NEXIOS_LOG_FORMAT=json: after hostile requests (invalid UTF-8 percent-escapes, quotes, control
  characters in the path and in headers) and a WebSocket session, every stderr line is a JSON
  object, and the access lines carry the request's fields.
* The human format: a UTC timestamp with milliseconds and a level on every line.
* NEXIOS_LOG_LEVEL / NEXIOS_ACCESS_LOG filter lines; an invalid value stops the example at start
  with a message naming the variable.

The server is stopped (SIGINT, exit 0) before its stderr is read: the log is flushed at shutdown.
"""

import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nexios_testlib import (  # noqa: E402
    BINARY, TEXT, EchoServer, HttpConnection, RawWebSocket, find_binary, main,
)

TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
HUMAN_LINE = re.compile(TIMESTAMP + r" (DEBUG|INFO|WARNING|ERROR) +[a-z]+ ")
REPLACEMENT = "\ufffd"


def raw_request(port: int, request: bytes) -> int:
    with HttpConnection(port) as c:
        c.send(request)
        return c.read_response().status


def run_and_stop(env: dict, exercise) -> bytes:
    """Starts echo with `env`, runs `exercise(port)`, stops it (exit 0) and returns its stderr."""
    server = EchoServer(env=env).start()
    try:
        exercise(server.port)
        server.stop_and_check()
        return server.full_stderr()
    finally:
        server.kill()


def json_lines(stderr: bytes) -> list:
    records = []
    for raw in stderr.split(b"\n"):
        if not raw:
            continue
        # Strict: the bytes must be valid UTF-8 and the line one JSON object.
        records.append(json.loads(raw.decode("utf-8", errors="strict")))
    return records


class JsonFormat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = None

        def exercise(port):
            cls.port = port
            # A path with invalid UTF-8 escapes, an encoded quote, backslash and control characters.
            cls.hostile_status = raw_request(
                port, b"GET /x%ff%fe%c0%af%22%5c%0a%0d%01%7f%e2%82/end?q=%00 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"User-Agent: \xff\xfe\"evil\"\r\nX-Evil: \"}{\\\r\n\r\n")
            # A raw quote and a raw non-UTF-8 byte in the request-target.
            cls.raw_status = raw_request(port, b'GET /q"uote\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
            # A request the parser refuses: a control character in the request line.
            cls.bad_status = raw_request(port, b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n")
            cls.health_status = raw_request(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            with RawWebSocket(port, "/ws") as ws:
                cls.ws_client_port = ws.sock.getsockname()[1]
                ws.send_text("héllo")
                assert ws.recv_message() == (TEXT, "héllo".encode())
                ws.send_binary(b"\x00\xff" * 50)
                assert ws.recv_message() == (BINARY, b"\x00\xff" * 50)
                ws.send_close(1000, b"done")
                assert ws.recv_close().close_code == 1000
                ws.wait_eof()
            with HttpConnection(port) as c:
                c.send(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                cls.rejected_status = c.read_response().status

        cls.stderr = run_and_stop({"NEXIOS_LOG_FORMAT": "json", "NEXIOS_LOG_LEVEL": "debug"}, exercise)
        cls.records = json_lines(cls.stderr)
        cls.access = [r for r in cls.records if r["component"] == "access"]

    def test_every_line_is_a_json_object_with_the_fixed_keys(self):
        self.assertGreater(len(self.records), 5)
        for r in self.records:
            self.assertIsInstance(r, dict)
            self.assertRegex(r["ts"], "^" + TIMESTAMP + "$")
            self.assertIn(r["level"], ("debug", "info", "warning", "error"))
            self.assertIsInstance(r["component"], str)
            self.assertIsInstance(r["msg"], str)
            if "conn" in r:
                self.assertIsInstance(r["conn"], int)
                self.assertGreater(r["conn"], 0)
                self.assertRegex(r["client"], r"^127\.0\.0\.1:\d+$")

    def http_access(self, path_prefix: str) -> dict:
        found = [r for r in self.access if r["kind"] == "http" and r["path"].startswith(path_prefix)]
        self.assertEqual(len(found), 1, [r["path"] for r in self.access])
        return found[0]

    def test_the_hostile_path_is_logged_escaped_and_valid(self):
        # Refused (400: the decoded path is not UTF-8), and logged with the path escaped.
        self.assertEqual(self.hostile_status, 400)
        r = self.http_access("/x")
        want = "/x" + REPLACEMENT * 4 + '"\\\n\r\x01\x7f' + REPLACEMENT * 2 + "/end"
        self.assertEqual(r["path"], want)
        self.assertEqual(r["method"], "GET")
        self.assertEqual(r["status"], 400)
        self.assertIsInstance(r["bytes"], int)
        self.assertGreater(r["bytes"], 0)
        self.assertIsInstance(r["duration_ms"], (int, float))
        self.assertGreaterEqual(r["duration_ms"], 0)
        self.assertEqual(r["route"], "")
        # Header bytes that are not UTF-8 (obs-text) are replaced too.
        self.assertEqual(r["user_agent"], REPLACEMENT * 2 + '"evil"')

    def test_raw_quotes_and_bytes_in_the_target(self):
        if self.raw_status == 400:  # the parser may refuse such a target; then it is logged as a 400
            self.assertTrue(any(r["status"] == 400 for r in self.access))
            return
        r = self.http_access("/q")
        self.assertEqual(r["path"], '/q"uote' + REPLACEMENT)

    def test_a_refused_request_has_an_access_line(self):
        self.assertEqual(self.bad_status, 400)
        self.assertTrue(any(r["kind"] == "http" and r["status"] == 400 for r in self.access))

    def test_http_access_fields(self):
        r = self.http_access("/health")
        self.assertEqual((r["method"], r["status"], r["route"]), ("GET", 200, "/health"))
        self.assertEqual(r["level"], "info")
        self.assertGreater(r["bytes"], len("ok"))

    def test_websocket_access_line(self):
        ws = [r for r in self.access if r["kind"] == "websocket" and r["outcome"] == "accepted"]
        self.assertEqual(len(ws), 1, ws)
        r = ws[0]
        self.assertEqual(r["path"], "/ws")
        self.assertEqual(r["route"], "/ws")
        self.assertEqual(r["status"], 101)
        self.assertEqual(r["close_code"], 1000)
        self.assertEqual(r["close_reason"], "done")
        self.assertEqual(r["closed_by"], "client")
        self.assertEqual((r["messages_in"], r["messages_out"]), (2, 2))
        self.assertEqual((r["bytes_in"], r["bytes_out"]), (len("héllo".encode()) + 100,) * 2)
        self.assertGreaterEqual(r["duration_ms"], 0)
        self.assertEqual(r["client"], f"127.0.0.1:{self.ws_client_port}")
        # The same connection id on its debug open/close lines.
        mine = [x for x in self.records if x.get("conn") == r["conn"] and x["component"] == "server"]
        self.assertEqual([x["msg"] for x in mine], ["connection opened", "connection closed"])
        self.assertEqual(mine[1]["kind"], "websocket")

    def test_refused_handshake_access_line(self):
        self.assertEqual(self.rejected_status, 404)
        ws = [r for r in self.access if r["kind"] == "websocket" and r["outcome"] == "rejected"]
        self.assertEqual(len(ws), 1, ws)
        self.assertEqual((ws[0]["path"], ws[0]["status"], ws[0]["reason"]), ("/nowhere", 404, "not_found"))

    def test_server_lines(self):
        server = [r for r in self.records if r["component"] == "server" and "conn" not in r]
        self.assertEqual(server[0]["msg"], "listening")
        self.assertEqual(server[0]["port"], self.port)
        self.assertEqual(server[-1]["msg"], "stopped")


class HumanFormat(unittest.TestCase):
    def test_lines_have_a_timestamp_and_a_level(self):
        stderr = run_and_stop({"NEXIOS_LOG_FORMAT": "human", "NEXIOS_LOG_LEVEL": "info"},
                              lambda port: raw_request(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
        lines = stderr.decode("utf-8").splitlines()
        self.assertGreaterEqual(len(lines), 3, lines)
        for line in lines:
            self.assertRegex(line, HUMAN_LINE)
        access = [l for l in lines if " access " in l]
        self.assertEqual(len(access), 1, lines)
        self.assertIn(" GET /health 200 ", access[0])
        self.assertRegex(access[0], r"INFO +access \[c\d+ 127\.0\.0\.1:\d+\] ")
        for field in ("method=GET", "path=/health", "status=200", "bytes=", "duration_ms="):
            self.assertIn(field, access[0])
        self.assertFalse(any("DEBUG" in l for l in lines))


class Switches(unittest.TestCase):
    def test_access_log_off(self):
        stderr = run_and_stop({"NEXIOS_ACCESS_LOG": "off", "NEXIOS_LOG_FORMAT": "json"},
                              lambda port: raw_request(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
        records = json_lines(stderr)
        self.assertTrue(records)
        self.assertFalse([r for r in records if r["component"] == "access"])

    def test_level_warning_hides_info(self):
        stderr = run_and_stop({"NEXIOS_LOG_LEVEL": "warning"},
                              lambda port: raw_request(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
        self.assertEqual(stderr, b"")

    def test_invalid_values_stop_the_example_at_start(self):
        for var, value in (("NEXIOS_LOG_LEVEL", "verbose"), ("NEXIOS_LOG_FORMAT", "xml"),
                           ("NEXIOS_ACCESS_LOG", "sometimes")):
            with self.subTest(var=var):
                env = {**os.environ, var: value}
                proc = subprocess.run([find_binary(), "--host", "127.0.0.1", "--port", "0"], env=env,
                                      stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
                self.assertNotEqual(proc.returncode, 0)
                self.assertNotIn(b"listening", proc.stdout)
                self.assertIn(var.encode(), proc.stderr)
                self.assertIn(value.encode(), proc.stderr)


if __name__ == "__main__":
    main()
