#!/usr/bin/python3
"""RFC 6455 §5.5.1 (close frames), §7.1.x (closing the connection), §7.4 (status codes).

* An empty close is answered with an empty close; a close with a valid code (1000-1003,
  1007-1014, 3000-4999; every one of them is tried) and a reason of up to 123 bytes of UTF-8 is
  answered with the same code. Then the server half-closes (the client reads EOF) and releases the
  connection as soon as the client closes its side.
* A 1-byte close body, a reason longer than 123 bytes, a reason that is not UTF-8, and every
  invalid code (0-999, 1004-1006, 1015-2999 exhaustively; 5000-65535 sampled) → 1002.
* Data and control frames after the client's close are ignored (no echo, no pong).
"""

from conformance_lib import (
    BINARY, CLOSE, CONT, PING, TEXT, ConformanceCase, RawWebSocket, build_frame, close_payload, main)

VALID_CODES = list(range(1000, 1004)) + list(range(1007, 1015)) + list(range(3000, 5000))
INVALID_CODES = (list(range(0, 1000)) + [1004, 1005, 1006] + list(range(1015, 3000)) +
                 sorted(set([5000, 5001, 6000, 9999, 10000, 32767, 32768, 40000, 65534, 65535] +
                            list(range(5000, 65536, 257)))))

INVALID_REASONS = {
    "byte_FF": b"bad \xff reason",
    "lone_continuation": b"\x80",
    "overlong": b"\xc0\xaf",
    "surrogate": b"\xed\xa0\x80",
    "above_U+10FFFF": b"\xf4\x90\x80\x80",
    "truncated_at_end": "ok €".encode()[:-1],
    "truncated_4byte_at_end": b"x\xf0\x9f\x98",
}


class Close(ConformanceCase):
    def close_exchange(self, payload: bytes, expected_code, chop=None, check_release: bool = True):
        ws = self.ws()
        ws.send_raw(build_frame(CLOSE, payload), chop=chop)
        if expected_code == 1002:
            return self.assert_fails_with(ws, 1002, check_release=check_release)
        return self.assert_closed_with(ws, expected_code, check_release=check_release)

    # -- valid closes ---------------------------------------------------------------------------

    def test_empty_close_gets_empty_close(self):
        self.close_exchange(b"", None)

    def test_close_1000_without_reason(self):
        self.close_exchange(close_payload(1000), 1000)

    def test_close_reason_lengths(self):
        for reason in (b"r", b"normal closure", b"x" * 122, b"y" * 123, "é".encode() * 61 + b"z",
                       "€".encode() * 41, "😀".encode() * 30 + b"abc", "ünï ✓".encode()):
            with self.subTest(length=len(reason)):
                self.assertLessEqual(len(reason), 123)
                self.close_exchange(close_payload(1000, reason), 1000)

    def test_reason_of_123_bytes_with_each_valid_code_kind(self):
        for code in (1000, 1001, 1003, 1011, 3000, 4999):
            with self.subTest(code=code):
                self.close_exchange(close_payload(code, b"r" * 123), code)

    def test_every_valid_code_echoed(self):
        """All 2012 valid codes; the socket release is checked on a sample to bound the runtime."""
        for i, code in enumerate(VALID_CODES):
            with self.subTest(code=code):
                self.close_exchange(close_payload(code, b"bye"), code, check_release=i % 97 == 0)

    def test_close_one_byte_at_a_time(self):
        self.close_exchange(close_payload(4321, "chopped ✓".encode()), 4321, chop=1)

    def test_close_after_messages(self):
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"one") + build_frame(BINARY, b"two") + build_frame(CLOSE, close_payload(1001)))
        self.assert_echo(ws, TEXT, b"one")
        self.assert_echo(ws, BINARY, b"two")
        self.assert_closed_with(ws, 1001)

    def test_close_with_reason_while_fragmented_message_pending(self):
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"never finished", fin=False) + build_frame(CLOSE, close_payload(3001, b"r")))
        self.assert_closed_with(ws, 3001)

    # -- ignored after close ------------------------------------------------------------------------

    def test_frames_after_close_in_same_write_ignored(self):
        ws = self.ws()
        ws.send_raw(build_frame(CLOSE, close_payload(1000)) + build_frame(TEXT, b"ignored") +
                    build_frame(BINARY, b"ignored too") + build_frame(PING, b"no pong"))
        self.assert_closed_with(ws, 1000)

    def test_frames_after_close_reply_ignored(self):
        """Data sent after the server's close reply gets no answer; the server only ends TCP."""
        ws = self.ws()
        ws.send_close(1000)
        frame = ws.recv_close()
        self.assertEqual(frame.close_code, 1000)
        try:
            ws.send_raw(build_frame(TEXT, b"late") + build_frame(PING, b"late") + build_frame(CLOSE, close_payload(1000)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may already have finished with the connection
        ws.wait_eof()

    def test_invalid_frame_after_close_ignored(self):
        """Even a protocol error after the close is not answered (no second close frame)."""
        ws = self.ws()
        ws.send_raw(build_frame(CLOSE, close_payload(1000)) + build_frame(3, b"reserved") +
                    build_frame(TEXT, b"\xff") + build_frame(CONT, b"orphan"))
        self.assert_closed_with(ws, 1000)

    # -- invalid closes → 1002 ------------------------------------------------------------------------

    def test_one_byte_body(self):
        for body in (b"\x03", b"\x00", b"\xff"):
            with self.subTest(body=body):
                self.close_exchange(body, 1002)

    def test_reason_of_124_bytes(self):
        """2 + 124 = 126 payload bytes: longer than a control frame may be (§5.5)."""
        self.close_exchange(close_payload(1000, b"r" * 124), 1002)

    def test_reason_of_124_bytes_header_only(self):
        """The 7-bit length 126 is rejected from the header: the payload is never sent."""
        ws = self.ws()
        ws.send_raw(bytes([0x80 | CLOSE, 0x80 | 126]))
        self.assert_fails_with(ws, 1002)

    def test_invalid_utf8_reasons(self):
        for name, reason in INVALID_REASONS.items():
            with self.subTest(name):
                self.close_exchange(close_payload(1000, reason), 1002)

    def test_invalid_utf8_reason_with_application_code(self):
        self.close_exchange(close_payload(4000, b"\xfe"), 1002)

    def test_listed_invalid_codes(self):
        for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
            with self.subTest(code=code):
                self.close_exchange(close_payload(code), 1002)

    def test_every_invalid_code(self):
        """0-999, 1004-1006 and 1015-2999 exhaustively and 5000-65535 sampled, each followed by a
        fresh connection; the socket release is checked on a sample to bound the runtime."""
        for i, code in enumerate(INVALID_CODES):
            with self.subTest(code=code):
                self.close_exchange(close_payload(code, b"r"), 1002, check_release=i % 97 == 0)

    def test_invalid_code_chopped(self):
        self.close_exchange(close_payload(1005), 1002, chop=1)

    def test_invalid_close_after_message(self):
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"echoed first") + build_frame(CLOSE, close_payload(1006)))
        self.assert_echo(ws, TEXT, b"echoed first")
        self.assert_fails_with(ws, 1002)


class CloseThenServe(ConformanceCase):
    def test_server_serves_many_connections_after_closes(self):
        """Twenty clients open at once, all closed by valid and invalid close frames, then a fresh
        connection is served."""
        clients = [RawWebSocket(self.port) for _ in range(20)]
        for ws in clients:
            self.addCleanup(ws.close)
        for i, ws in enumerate(clients):
            ws.send_raw(build_frame(CLOSE, close_payload(1000 if i % 2 else 1005)))
        for i, ws in enumerate(clients):
            self.assertEqual(ws.recv_close().close_code, 1000 if i % 2 else 1002)
            ws.wait_eof()
        self.assert_server_serves()


if __name__ == "__main__":
    main()
