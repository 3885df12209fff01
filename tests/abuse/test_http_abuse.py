#!/usr/bin/python3
"""Bad HTTP input: every malformed request gets its status (400, 413, 431, 501, 505, 408), is
answered once with Connection: close and the connection is closed, so nothing sent after it on the
same connection is processed (no request smuggling). Slowloris clients get 408 after
header_timeout; idle keep-alive connections are closed after keep_alive_timeout. A bystander
WebSocket keeps echoing throughout, and a fresh connection is served after each test.
"""

import select
import sys
import ssl
import time

from abuse_lib import HOST, AbuseCase, HttpConnection, connect, main, read_until_eof

HEADER_TIMEOUT = 1.0
KEEP_ALIVE_TIMEOUT = 0.5
MAX_HEADER_BYTES = 8192
MAX_HEADERS = 50
MAX_BODY = 1000
BODY_TIMEOUT = 1.0

SERVER_ARGS = [
    "--limit", f"header_timeout={int(HEADER_TIMEOUT * 1000)}ms",
    "--limit", f"keep_alive_timeout={int(KEEP_ALIVE_TIMEOUT * 1000)}ms",
    "--limit", "close_timeout=500ms",
    "--limit", "max_connections=50",
    "--limit", "max_message_size=1048576",
    "--limit", f"max_header_bytes={MAX_HEADER_BYTES}",
    "--limit", f"max_headers={MAX_HEADERS}",
    "--limit", f"max_body_size={MAX_BODY}",
    "--limit", f"body_timeout={int(BODY_TIMEOUT * 1000)}ms",
]

H = f"Host: {HOST}\r\n"
GET_HEALTH = f"GET /health HTTP/1.1\r\n{H}\r\n".encode()


def post(headers: str, body: bytes = b"", version: str = "HTTP/1.1", host: bool = True) -> bytes:
    return f"POST /health {version}\r\n{H if host else ''}{headers}\r\n".encode() + body


def tls_client_hello() -> bytes:
    """A real TLS ClientHello, as a client speaking TLS to the plain-HTTP port would send."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


class MalformedRequests(AbuseCase):
    SERVER_ARGS = SERVER_ARGS

    def test_malformed_request_lines_400(self):
        cases = {
            "no version": b"GET /health\r\n" + H.encode() + b"\r\n",
            "method only": b"GET\r\n\r\n",
            "two spaces": b"GET  /health HTTP/1.1\r\n" + H.encode() + b"\r\n",
            "trailing space": b"GET /health HTTP/1.1 \r\n" + H.encode() + b"\r\n",
            "lower-case version": b"GET /health http/1.1\r\n" + H.encode() + b"\r\n",
            "bad version syntax": b"GET /health HTTP/1.x\r\n" + H.encode() + b"\r\n",
            "not HTTP": b"GET /health FTP/1.1\r\n" + H.encode() + b"\r\n",
            "bare LF line end": b"GET /health HTTP/1.1\n" + H.encode() + b"\r\n",
            "bare CR line end": b"GET /health HTTP/1.1\r" + H.encode() + b"\r\n",
            "bad method char": b"G(T /health HTTP/1.1\r\n" + H.encode() + b"\r\n",
            "empty method": b" /health HTTP/1.1\r\n" + H.encode() + b"\r\n",
            "target without slash": b"GET health HTTP/1.1\r\n" + H.encode() + b"\r\n",
            "control char in target": b"GET /a\x01b HTTP/1.1\r\n" + H.encode() + b"\r\n",
            "NUL in target": b"GET /a\x00b HTTP/1.1\r\n" + H.encode() + b"\r\n",
            "space in target": b"GET /a b HTTP/1.1\r\n" + H.encode() + b"\r\n",
            "bare LF": b"\n",
            "binary garbage line": b"\x00\x01\x02\x03\r\n\r\n",
            "TLS ClientHello": tls_client_hello(),
            "CONNECT authority-form": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        }
        for name, request in cases.items():
            with self.subTest(name):
                self.http_error(request, 400)

    def test_missing_host_400(self):
        self.http_error(b"GET /health HTTP/1.1\r\n\r\n", 400)
        self.http_error(b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)

    def test_bad_header_syntax_400(self):
        cases = {
            "space before colon": "Host : h\r\n",
            "tab before colon": "X-A\t: v\r\n",
            "no colon": "NoColonHere\r\n",
            "empty name": ": value\r\n",
            "non-token name": "X(y): 1\r\n",
            "control char in value": "X-A: a\x01b\r\n",
            "DEL in value": "X-A: a\x7fb\r\n",
            "NUL in value": "X-A: a\x00b\r\n",
            "bare CR in value": "X-A: a\rb\r\n",
            "bare LF ending a field": "X-A: a\n",
            "obs-fold (space)": "X-A: a\r\n b\r\n",
            "obs-fold (tab)": "X-A: a\r\n\tb\r\n",
            "whitespace before the first field": " X-A: a\r\n",
        }
        for name, field in cases.items():
            with self.subTest(name):
                self.http_error(f"GET /health HTTP/1.1\r\n{H}{field}\r\n".encode("latin-1"), 400)

    def test_oversized_headers_431(self):
        base = f"GET /health HTTP/1.1\r\n{H}X-Pad: \r\n\r\n"
        at_limit = f"GET /health HTTP/1.1\r\n{H}X-Pad: {'p' * (MAX_HEADER_BYTES - len(base))}\r\n\r\n".encode()
        self.assertEqual(len(at_limit), MAX_HEADER_BYTES)
        with HttpConnection(self.port) as c:
            c.send(at_limit)
            self.assertEqual(c.read_response().status, 200)
        over = at_limit.replace(b"X-Pad: ", b"X-Pad: p", 1)
        self.http_error(over, 431)
        # A head that never ends: 431 once the limit is passed, without waiting for the end.
        self.http_error(f"GET /health HTTP/1.1\r\n{H}X-Pad: ".encode() + b"p" * (4 * MAX_HEADER_BYTES), 431)
        # A request line alone longer than the limit.
        self.http_error(b"GET /" + b"a" * (2 * MAX_HEADER_BYTES) + b" HTTP/1.1\r\n" + H.encode() + b"\r\n", 431)

    def test_too_many_headers_431(self):
        def request(n_fields: int) -> bytes:
            return (f"GET /health HTTP/1.1\r\n{H}" + "".join(f"X-H{i}: v\r\n" for i in range(n_fields - 1)) +
                    "\r\n").encode()

        with HttpConnection(self.port) as c:
            c.send(request(MAX_HEADERS))
            self.assertEqual(c.read_response().status, 200)
        self.http_error(request(MAX_HEADERS + 1), 431)
        self.http_error(request(10 * MAX_HEADERS), 431)

    def test_conflicting_content_length_400(self):
        for headers in ("Content-Length: 5\r\nContent-Length: 6\r\n", "Content-Length: 5, 6\r\n",
                        "Content-Length: 0\r\nContent-Length: 44\r\n", "Content-Length: -1\r\n",
                        "Content-Length: +5\r\n", "Content-Length: 0x10\r\n", "Content-Length: abc\r\n",
                        "Content-Length: 18446744073709551616\r\n"):
            with self.subTest(headers):
                self.http_error(post(headers, b"hello!"), 400)

    def test_bad_chunked_encoding_400(self):
        te = "Transfer-Encoding: chunked\r\n"
        cases = {
            "size not hex": b"zz\r\nhello\r\n0\r\n\r\n",
            "empty size": b"\r\n",
            "negative size": b"-5\r\nhello\r\n0\r\n\r\n",
            "missing CRLF after data": b"5\r\nhelloX0\r\n\r\n",
            "bare LF after size": b"5\nhello\r\n0\r\n\r\n",
            "data shorter than size": b"5\r\nhell\r\n0\r\n\r\n",
            "size overflows 64 bits": b"10000000000000000\r\nx\r\n0\r\n\r\n",
            "17 hex digits": b"00000000000000005\r\nhello\r\n0\r\n\r\n",
            "bad trailer": b"0\r\nbad trailer\r\n\r\n",
            "size line without end": b"1;a=" + b"x" * 10000,
        }
        for name, body in cases.items():
            with self.subTest(name):
                self.http_error(post(te, body), 400)

    def test_huge_chunk_size_413(self):
        """A chunk size that fits in 64 bits but passes max_body_size is 413, before any data."""
        self.http_error(post("Transfer-Encoding: chunked\r\n", b"FFFFFFFFFFFFFFFF\r\n"), 413)

    def test_body_over_max_body_size_413(self):
        """Refused as soon as the declared size passes max_body_size, before any body byte."""
        self.http_error(post(f"Content-Length: {MAX_BODY + 1}\r\n"), 413)
        self.http_error(post("Transfer-Encoding: chunked\r\n", f"{MAX_BODY + 1:x}\r\n".encode()), 413)
        # Chunks that add up to more than the limit.
        self.http_error(post("Transfer-Encoding: chunked\r\n", (b"1f4\r\n" + b"b" * 500 + b"\r\n") * 3), 413)

    def test_upgrade_request_with_body_400(self):
        self.http_error(b"GET /ws HTTP/1.1\r\n" + H.encode() + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                        b"Content-Length: 5\r\n\r\nhello", 400)

    def test_unsupported_version_505(self):
        for version in ("HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"):
            with self.subTest(version):
                self.http_error(f"GET /health {version}\r\n{H}\r\n".encode(), 505)
        self.http_error(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505)

    def test_error_after_valid_pipelined_request(self):
        """A valid request is answered, the malformed one after it gets 400, and the third is never
        processed."""
        with HttpConnection(self.port) as c:
            c.send(GET_HEALTH + b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n" + GET_HEALTH)
            first = c.read_response()
            self.assertEqual((first.status, first.body), (200, b"ok"))
            self.assertEqual(c.read_response().status, 400)
            self.assertEqual(c.wait_eof(), b"")


class Smuggling(AbuseCase):
    """Framing ambiguities are refused (400 or 501) and the connection closed: the request hidden
    in the body is never processed."""

    SERVER_ARGS = SERVER_ARGS

    SMUGGLED = b"GET /smuggled HTTP/1.1\r\n" + H.encode() + b"\r\n"

    def test_content_length_and_chunked_cl_te(self):
        body = b"0\r\n\r\n" + self.SMUGGLED
        self.http_error(post(f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n", body) + GET_HEALTH, 400)

    def test_content_length_and_chunked_te_cl(self):
        chunk = self.SMUGGLED
        body = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
        self.http_error(post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", body) + GET_HEALTH, 400)

    def test_content_length_zero_and_chunked(self):
        self.http_error(post("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n") + GET_HEALTH, 400)

    def test_chunked_then_identity_501(self):
        self.http_error(post("Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n" + self.SMUGGLED), 501)

    def test_other_transfer_codings_501(self):
        for te in ("identity", "gzip", "gzip, chunked", "chunked;q=1", "xchunked"):
            with self.subTest(te):
                self.http_error(post(f"Transfer-Encoding: {te}\r\n", b"0\r\n\r\n" + self.SMUGGLED), 501)

    def test_duplicate_transfer_encoding_501(self):
        self.http_error(post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                             b"0\r\n\r\n" + self.SMUGGLED), 501)

    def test_transfer_encoding_in_http10(self):
        """HTTP/1.0 has no chunked coding: refused (400 or 501), the body never taken as a request."""
        with HttpConnection(self.port) as c:
            c.send(post("Transfer-Encoding: chunked\r\n", b"0\r\n\r\n" + self.SMUGGLED, version="HTTP/1.0",
                        host=False))
            res = c.read_response()
            self.assertIn(res.status, (400, 501), res.raw_head)
            self.assertEqual(c.wait_eof(), b"")

    def test_transfer_encoding_hidden_by_bad_syntax(self):
        for headers in ("Transfer-Encoding : chunked\r\nContent-Length: 3\r\n",
                        "X-Foo: bar\r\n Transfer-Encoding: chunked\r\n",
                        "Transfer-Encoding: \x0bchunked\r\n",
                        "Transfer-Encoding: chunked\nContent-Length: 3\r\n"):
            with self.subTest(repr(headers)):
                self.http_error(post(headers, b"0\r\n\r\n" + self.SMUGGLED), 400)


class Timeouts(AbuseCase):
    SERVER_ARGS = SERVER_ARGS

    SLOW_REQUEST = (f"GET /health HTTP/1.1\r\n{H}X-Slow: " + "s" * 40 + "\r\n\r\n").encode()

    def slowloris(self, socks, pace: float = 0.1, limit: float = HEADER_TIMEOUT + 4.0) -> dict:
        """Writes SLOW_REQUEST one byte per `pace` seconds on every socket (round robin), pacing
        with select() on the sockets so that a response ends the wait at once. Returns
        {sock: seconds from its first byte to the server's answer}."""
        pos = {s: 0 for s in socks}
        started = {}
        answered = {}
        deadline = time.monotonic() + limit
        while len(answered) < len(socks):
            self.assertLess(time.monotonic(), deadline, "slowloris clients not answered in time")
            for s in socks:
                if s in answered or pos[s] >= len(self.SLOW_REQUEST):
                    continue
                try:
                    s.send(self.SLOW_REQUEST[pos[s]:pos[s] + 1])
                except (BrokenPipeError, ConnectionResetError):
                    answered.setdefault(s, time.monotonic() - started.get(s, time.monotonic()))
                    continue
                started.setdefault(s, time.monotonic())
                pos[s] += 1
            # Pacing: wait up to `pace` for any answer (not a sleep: returns as soon as one arrives).
            waiting = [s for s in socks if s not in answered]
            readable, _, _ = select.select(waiting, [], [], pace)
            for s in readable:
                answered[s] = time.monotonic() - started[s]
            self.assertFalse(all(pos[s] >= len(self.SLOW_REQUEST) for s in waiting),
                             "the whole slow request was sent without a 408")
        return answered

    def test_slowloris_408(self):
        sock = connect(self.port)
        self.addCleanup(sock.close)
        elapsed = self.slowloris([sock])[sock]
        data = read_until_eof(sock, 5.0)
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:100])
        self.assertIn(b"connection: close", data.lower())
        print(f"\n  slowloris: 408 {elapsed:.2f}s after the first byte (header_timeout {HEADER_TIMEOUT}s)",
              file=sys.stderr)
        self.assertGreaterEqual(elapsed, HEADER_TIMEOUT * 0.9)
        self.assertLess(elapsed, HEADER_TIMEOUT + 2.5)

    def test_twenty_slowloris_clients_at_once(self):
        socks = [connect(self.port) for _ in range(20)]
        for s in socks:
            self.addCleanup(s.close)
        times = self.slowloris(socks)
        for s in socks:
            data = read_until_eof(s, 5.0)
            self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:100])
        self.assertLess(max(times.values()), HEADER_TIMEOUT + 3.0)

    def test_partial_request_line_never_ended_408(self):
        """Bytes that cannot start a request but contain no space or line end are only refused when
        header_timeout expires (408), like any incomplete head."""
        for data in (b"\x16\x03\x01", b"G(T /health", b"\x00"):
            with self.subTest(data=data):
                with HttpConnection(self.port, timeout=HEADER_TIMEOUT + 5) as c:
                    c.send(data)
                    res = c.read_response()
                    self.assertEqual(res.status, 408)
                    self.assertEqual(c.wait_eof(), b"")

    def test_slow_body_408(self):
        """Headers complete, the body never: 408 body_timeout after the headers."""
        with HttpConnection(self.port, timeout=BODY_TIMEOUT + 5) as c:
            start = time.monotonic()
            c.send(post("Content-Length: 100\r\n", b"only ten b"))
            res = c.read_response()
            elapsed = time.monotonic() - start
            self.assertEqual(res.status, 408)
            self.assertEqual(c.wait_eof(), b"")
            self.assertGreaterEqual(elapsed, BODY_TIMEOUT * 0.9)
            self.assertLess(elapsed, BODY_TIMEOUT + 2.5)

    def test_idle_keep_alive_connection_closed(self):
        with HttpConnection(self.port, timeout=KEEP_ALIVE_TIMEOUT + 5) as c:
            c.send(GET_HEALTH)
            self.assertEqual(c.read_response().status, 200)
            start = time.monotonic()
            rest = c.wait_eof()
            elapsed = time.monotonic() - start
            self.assertEqual(rest, b"", "an idle keep-alive connection is closed without a response")
            self.assertGreaterEqual(elapsed, KEEP_ALIVE_TIMEOUT * 0.8)
            self.assertLess(elapsed, KEEP_ALIVE_TIMEOUT + 2.5)

    def test_keep_alive_timer_restarts_with_each_request(self):
        """Requests sent before the timeout keep the connection open."""
        with HttpConnection(self.port, timeout=5) as c:
            for _ in range(4):
                c.send(GET_HEALTH)
                self.assertEqual(c.read_response().status, 200)
                # Pace the next request at half the keep-alive timeout (the client's own pacing).
                self.assertFalse(select.select([c.sock], [], [], KEEP_ALIVE_TIMEOUT / 2)[0],
                                 "the server closed a connection before its keep-alive timeout")
            c.send(GET_HEALTH)
            self.assertEqual(c.read_response().status, 200)

    def test_connection_that_sends_nothing_is_closed(self):
        """A connection opened and never used does not stay open forever."""
        sock = connect(self.port)
        self.addCleanup(sock.close)
        start = time.monotonic()
        data = read_until_eof(sock, HEADER_TIMEOUT + KEEP_ALIVE_TIMEOUT + 5)
        elapsed = time.monotonic() - start
        print(f"\n  unused connection closed after {elapsed:.2f}s, sent {data[:40]!r}", file=sys.stderr)
        self.assertLess(elapsed, max(HEADER_TIMEOUT, KEEP_ALIVE_TIMEOUT) + 2.5)


if __name__ == "__main__":
    main()
