#!/usr/bin/python3
"""File descriptors (issue 13, item 8): a server with a low RLIMIT_NOFILE answers the clients past
its limit with 503 and closes them instead of leaving them in the backlog, logs a bounded number
of lines about it, and serves again once descriptors are free.

    /usr/bin/python3 tests/scripts/test_fd_limit.py --binary build/bin/echo

The server runs under `prlimit --nofile=N:N`, with one thread and the JSON log format.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nexios_testlib import (_LISTEN_RE, EchoServer, HttpConnection, RawWebSocket, HOST, TEXT,  # noqa: E402
                            main, poll_until, upgrade_request)

NOFILE = 64
PRLIMIT = shutil.which("prlimit") or "/usr/bin/prlimit"


class LimitedServer(EchoServer):
    """The echo server started under prlimit --nofile=NOFILE:NOFILE."""

    def start(self, timeout: float = 15.0) -> "LimitedServer":
        cmd = [PRLIMIT, f"--nofile={NOFILE}:{NOFILE}", "--", self.binary, "--host", HOST, "--port", "0",
               "--threads", "1", *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env={**os.environ, "NEXIOS_LOG_FORMAT": "json"})
        line = self._read_stdout_line(timeout)
        m = _LISTEN_RE.search(line)
        if not m:
            self.kill()
            raise AssertionError(f"no listening line: {line!r}; stderr: {self.stderr()!r}")
        self.port = int(m.group(2))
        return self


def records(server: EchoServer) -> list:
    out = []
    for line in server.full_stderr().splitlines():
        if line.startswith(b"{"):
            out.append(json.loads(line))
    return out


def try_websocket(port: int):
    """(status, body, socket or None): a 101 keeps its socket open."""
    c = HttpConnection(port)
    c.send(upgrade_request("/ws", port=port))
    res = c.read_response()
    if res.status == 101:
        return res.status, b"", c
    c.wait_eof()
    c.close()
    return res.status, res.body, None


class FdLimit(unittest.TestCase):
    def run_until_refused(self, server: EchoServer, most: int):
        """Opens WebSockets until one is refused; returns (open connections, the refusal)."""
        held = []
        for _ in range(most):
            status, body, conn = try_websocket(server.port)
            if conn is None:
                return held, (status, body)
            held.append(conn)
        self.fail(f"{most} connections and none refused")

    def test_derived_max_connections_answers_503_and_recovers(self):
        # max_connections = NOFILE - fd_reserve - 4 (one thread) = 44.
        server = LimitedServer(extra_args=["--limit", "fd_reserve=16", *ONE_CLIENT]).start()
        try:
            held, (status, body) = self.run_until_refused(server, NOFILE)
            self.assertEqual(len(held), NOFILE - 16 - 4)
            self.assertEqual(status, 503)
            self.assertIn(b"connection limit", body)
            # Still refused while full, every time (no client left waiting).
            for _ in range(5):
                self.assertEqual(try_websocket(server.port)[0], 503)
            # A descriptor freed: served again.
            held.pop().close()
            got = []

            def served():
                status, _, conn = try_websocket(server.port)
                if conn is not None:
                    got.append(conn)
                return conn is not None

            self.assertTrue(poll_until(served, 10))
            held += got
            for c in held:
                c.close()
            server.stop_and_check(self)
            recs = records(server)
            refusals = [r for r in recs if r.get("component") == "access" and r.get("kind") == "connection"]
            self.assertGreaterEqual(len(refusals), 6, refusals)
            for r in refusals:
                self.assertEqual((r["status"], r["outcome"], r["reason"]), (503, "refused", "max_connections"))
                self.assertGreater(r["bytes"], 0)
            warnings = [r for r in recs if "max_connections reached" in r.get("msg", "")]
            self.assertEqual(len(warnings), 1, warnings)  # the other refusals are counted, not logged
        finally:
            server.kill()

    def test_out_of_descriptors_answers_503_with_bounded_logging(self):
        # max_connections set above what the descriptors allow: accept() itself fails (EMFILE).
        server = LimitedServer(extra_args=["--limit", "max_connections=1000", *ONE_CLIENT]).start()
        try:
            held, (status, body) = self.run_until_refused(server, NOFILE)
            self.assertGreater(len(held), NOFILE // 2)
            self.assertEqual(status, 503)
            self.assertIn(b"out of file descriptors", body)
            extra = 20
            for _ in range(extra):
                self.assertEqual(try_websocket(server.port)[0], 503)
            # Descriptors freed: served again, and the echo works.
            for c in held[:5]:
                c.close()
            held = held[5:]
            with_ws = []

            def served():
                try:
                    ws = RawWebSocket(server.port, "/ws")
                except AssertionError:
                    return False
                with_ws.append(ws)
                return True

            self.assertTrue(poll_until(served, 10))
            with_ws[0].send_text("back")
            self.assertEqual(with_ws[0].recv_message(), (TEXT, b"back"))
            for c in held + with_ws:
                c.close()
            server.stop_and_check(self)
            recs = records(server)
            failed = [r for r in recs if r.get("msg", "").startswith("accept failed")]
            # 21 or more failures, one line (the next would come 10 s later).
            self.assertEqual(len(failed), 1, failed)
            self.assertIn("Too many open files", failed[0]["error"])
            again = [r for r in recs if r.get("msg", "").startswith("accepting connections again")]
            self.assertEqual(len(again), 1, [r.get("msg") for r in recs])
            self.assertGreaterEqual(again[0]["suppressed"], extra)
            self.assertIn(f"({again[0]['suppressed']} similar suppressed)", again[0]["msg"])
            refusals = [r for r in recs if r.get("component") == "access" and r.get("kind") == "connection"]
            self.assertGreaterEqual(len(refusals), extra + 1)
            self.assertTrue(all(r["reason"] == "file_descriptors" and r["status"] == 503 for r in refusals))
        finally:
            server.kill()


# One client on 127.0.0.1 opens every connection: lift the per-address limits.
ONE_CLIENT = ["--limit", "max_connection_rate_per_address=0", "--limit", "max_connections_per_address=100000"]


if __name__ == "__main__":
    main()
