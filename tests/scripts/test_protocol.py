#!/usr/bin/python3
"""RFC 6455 framing against the echo server with a raw-socket client: fragmentation, TCP chops,
ping/pong, the closing handshake, protocol errors (1002), invalid UTF-8 (1007) and the message
size limit (1009)."""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nexios_testlib import (  # noqa: E402
    BINARY, CLOSE, CONT, PING, PONG, TEXT, RawWebSocket, ServerTestCase, build_frame, close_payload,
    fragments, main)

MiB = 1024 * 1024
MAX_MESSAGE = 16 * MiB

# Text with 1-, 2-, 3- and 4-byte characters, so fragment and chop boundaries fall inside characters.
UNICODE_TEXT = ("nexios ✓ héllo wörld € 😀 𝄞 ünïcödé " * 2500).encode()


def text_prefix(n: int) -> bytes:
    """The longest prefix of UNICODE_TEXT of at most n bytes that ends on a character boundary."""
    return UNICODE_TEXT[:n].decode("utf-8", errors="ignore").encode()


class RawTestCase(ServerTestCase):
    def ws(self, path: str = "/ws", timeout: float = 10.0) -> RawWebSocket:
        ws = RawWebSocket(self.port, path, timeout=timeout)
        self.addCleanup(ws.close)
        return ws

    def assert_failed_with(self, ws: RawWebSocket, code: int, timeout: float = 10.0) -> bytes:
        """The next frame is a close frame with `code`, then the server closes TCP.
        Returns the close reason."""
        frame = ws.recv_close(timeout)
        self.assertEqual(frame.close_code, code, f"close frame {frame!r}, reason {frame.close_reason!r}")
        ws.wait_eof(timeout)
        return frame.close_reason

    def assert_echo(self, ws: RawWebSocket, opcode: int, payload: bytes) -> None:
        op, data = ws.recv_message()
        self.assertEqual(op, opcode)
        self.assertEqual(len(data), len(payload))
        self.assertTrue(data == payload, "echoed payload differs")

    def close_cleanly(self, ws: RawWebSocket) -> None:
        ws.send_close(1000)
        self.assertEqual(ws.recv_close().close_code, 1000)
        ws.wait_eof()


# ------------------------------------------------------------------------------------------------
# Fragmentation and TCP chops
# ------------------------------------------------------------------------------------------------


class Fragmentation(RawTestCase):
    def test_fragment_sizes(self):
        binary = os.urandom(12 * 1024 + 17)
        for opcode, payload in ((TEXT, UNICODE_TEXT), (BINARY, binary)):
            for size in (1, 64, 4096):
                with self.subTest(opcode=opcode, fragment=size):
                    data = payload if size > 1 else text_prefix(700) if opcode == TEXT else payload[:700]
                    ws = self.ws()
                    ws.send_raw(fragments(opcode, data, size))
                    self.assert_echo(ws, opcode, data)
                    self.close_cleanly(ws)

    def test_fragment_sizes_chopped(self):
        """The same fragmented messages written 1 byte at a time and in random chop sizes."""
        rng = random.Random(4096)
        text = text_prefix(5000)
        binary = rng.randbytes(5000)
        for opcode, payload in ((TEXT, text), (BINARY, binary)):
            for size in (1, 64, 4096):
                for chop in (1, (1, 700)):
                    with self.subTest(opcode=opcode, fragment=size, chop=chop):
                        ws = self.ws()
                        ws.send_raw(fragments(opcode, payload, size), chop=chop, rng=rng)
                        self.assert_echo(ws, opcode, payload)
                        self.close_cleanly(ws)

    def test_message_delivered_without_further_input(self):
        """A message whose last byte ends a TCP write is echoed without waiting for more bytes."""
        ws = self.ws()
        for data in (build_frame(TEXT, b"a"), build_frame(BINARY, b"b" * 200), build_frame(BINARY, b"c" * 70000),
                     fragments(TEXT, b"fragmented", 3), build_frame(TEXT, b"")):
            ws.send_raw(data)
            op, payload = ws.recv_message(timeout=5.0)
            self.assertEqual(op, data[0] & 0x0F)
        self.close_cleanly(ws)

    def test_empty_fragments(self):
        ws = self.ws()
        frames = (build_frame(TEXT, b"", fin=False) + build_frame(CONT, b"ab", fin=False) +
                  build_frame(CONT, b"", fin=False) + build_frame(CONT, b"c", fin=False) + build_frame(CONT, b""))
        ws.send_raw(frames)
        self.assert_echo(ws, TEXT, b"abc")
        ws.send_raw(build_frame(BINARY, b"", fin=False) + build_frame(CONT, b""))
        self.assert_echo(ws, BINARY, b"")
        self.close_cleanly(ws)

    def test_fragments_sent_one_by_one(self):
        """Each fragment in its own write, waiting for nothing in between, then the echo."""
        ws = self.ws()
        data = text_prefix(5000)
        for i in range(0, len(data), 1000):
            part = data[i : i + 1000]
            ws.send_frame(TEXT if i == 0 else CONT, part, fin=i + 1000 >= len(data))
        self.assert_echo(ws, TEXT, data)
        self.close_cleanly(ws)

    def test_ping_between_fragments_answered_first(self):
        for opcode, payload in ((TEXT, text_prefix(3000)), (BINARY, os.urandom(3000))):
            with self.subTest(opcode=opcode):
                ws = self.ws()
                first, rest = payload[:1000], payload[1000:]
                data = (build_frame(opcode, first, fin=False) + build_frame(PING, b"in between") +
                        build_frame(CONT, rest[:1000], fin=False) + build_frame(PING, b"") +
                        build_frame(CONT, rest[1000:]))
                ws.send_raw(data)
                pong = ws.recv_frame()
                self.assertEqual((pong.opcode, pong.payload), (PONG, b"in between"), "pong must precede the echo")
                pong = ws.recv_frame()
                self.assertEqual((pong.opcode, pong.payload), (PONG, b""), "pong must precede the echo")
                self.assert_echo(ws, opcode, payload)
                self.close_cleanly(ws)

    def test_ping_between_fragments_answered_before_message_ends(self):
        """The pong comes back while the message is still incomplete."""
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"part one ", fin=False) + build_frame(PING, b"now"))
        pong = ws.recv_frame()
        self.assertEqual((pong.opcode, pong.payload), (PONG, b"now"))
        ws.send_raw(build_frame(CONT, b"part two"))
        self.assert_echo(ws, TEXT, b"part one part two")
        self.close_cleanly(ws)

    def test_one_byte_tcp_writes(self):
        """Several frames (a ping, a fragmented text message, a 126-length binary, a 64-bit-length
        binary) written one byte at a time."""
        ws = self.ws()
        big = os.urandom(70000)
        mid = os.urandom(300)
        text = text_prefix(200)
        data = (build_frame(PING, b"chop") + fragments(TEXT, text, 37) + build_frame(BINARY, mid) +
                build_frame(BINARY, big[:2000], length_form=127))
        ws.send_raw(data, chop=1)
        pong = ws.recv_frame()
        self.assertEqual((pong.opcode, pong.payload), (PONG, b"chop"))
        self.assert_echo(ws, TEXT, text)
        self.assert_echo(ws, BINARY, mid)
        self.assert_echo(ws, BINARY, big[:2000])
        # A long frame, chopped in bytes only across its header and the first payload bytes.
        frame = build_frame(BINARY, big)
        ws.send_raw(frame[:40], chop=1)
        ws.send_raw(frame[40:])
        self.assert_echo(ws, BINARY, big)
        self.close_cleanly(ws)

    def test_random_tcp_chops(self):
        rng = random.Random(6455)
        for round_ in range(8):
            with self.subTest(round=round_):
                ws = self.ws()
                messages = []
                data = b""
                for _ in range(rng.randint(1, 6)):
                    kind = rng.choice(["text", "binary", "fragmented", "ping"])
                    if kind == "ping":
                        payload = rng.randbytes(rng.randint(0, 125))
                        data += build_frame(PING, payload)
                        messages.append((PONG, payload))
                    elif kind == "fragmented":
                        payload = text_prefix(rng.randint(0, 4000))
                        data += fragments(TEXT, payload, rng.randint(1, 900))
                        messages.append((TEXT, payload))
                    else:
                        opcode = TEXT if kind == "text" else BINARY
                        payload = text_prefix(rng.randint(0, 70000)) if kind == "text" else \
                            rng.randbytes(rng.choice([0, 1, 125, 126, 127, 65535, 65536, 70000]))
                        data += build_frame(opcode, payload)
                        messages.append((opcode, payload))
                ws.send_raw(data, chop=(1, 3000), rng=rng)
                got = []
                for _ in messages:
                    frame = ws.recv_frame()
                    if frame.opcode == PONG:
                        got.append((PONG, frame.payload))
                    else:
                        self.assertTrue(frame.fin, "the echo server sends each message as one frame")
                        got.append((frame.opcode, frame.payload))
                # Pongs and echoes each keep their order (a pong may overtake an earlier echo).
                self.assertEqual([g for g in got if g[0] == PONG], [m for m in messages if m[0] == PONG])
                self.assertTrue([g for g in got if g[0] != PONG] == [m for m in messages if m[0] != PONG],
                                "echoed messages differ")
                ws.send_raw(build_frame(CLOSE, close_payload(1000)), chop=(1, 2), rng=rng)
                self.assertEqual(ws.recv_close().close_code, 1000)
                ws.wait_eof()

    def test_frames_in_the_handshake_write(self):
        """Frames sent in the same write as the upgrade request are processed after it."""
        from nexios_testlib import _BufferedSocket, accept_for, connect, make_key, upgrade_request
        import time
        key = make_key()
        sock = connect(self.port)
        self.addCleanup(sock.close)
        sock.sendall(upgrade_request("/ws", key=key, port=self.port) + build_frame(TEXT, b"early") +
                     build_frame(PING, b"p"))
        reader = _BufferedSocket(sock)
        head = reader.read_until(b"\r\n\r\n", time.monotonic() + 10)
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        self.assertIn(accept_for(key).encode(), head)
        raw = RawWebSocket.adopt(sock, reader, 10.0)
        self.assertEqual(raw.recv_message(), (TEXT, b"early"))
        frame = raw.recv_frame()
        self.assertEqual((frame.opcode, frame.payload), (PONG, b"p"))
        self.close_cleanly(raw)


# ------------------------------------------------------------------------------------------------
# Ping / pong
# ------------------------------------------------------------------------------------------------


class PingPong(RawTestCase):
    def test_pings_get_identical_pongs_in_order(self):
        ws = self.ws()
        payloads = [b"", b"hello", bytes(range(256))[:100], os.urandom(125), "ünï✓😀".encode(), b"\x00\xff"]
        ws.send_raw(b"".join(build_frame(PING, p) for p in payloads))
        for p in payloads:
            frame = ws.recv_frame()
            self.assertEqual(frame.opcode, PONG)
            self.assertTrue(frame.fin)
            self.assertEqual(frame.payload, p)
        self.close_cleanly(ws)

    def test_ping_one_at_a_time(self):
        ws = self.ws()
        for p in (b"", b"text ping", os.urandom(16), b"x" * 125):
            ws.send_frame(PING, p)
            frame = ws.recv_frame()
            self.assertEqual((frame.opcode, frame.payload), (PONG, p))
        self.close_cleanly(ws)

    def test_ping_125_ok_126_fails(self):
        """A 125-byte ping is fine even as the last allowed size; 126 is a protocol error."""
        ws = self.ws()
        ws.send_frame(PING, b"y" * 125)
        self.assertEqual(ws.recv_frame().payload, b"y" * 125)
        ws.send_frame(PING, b"z" * 126)
        self.assert_failed_with(ws, 1002)

    def test_unsolicited_pong_ignored(self):
        ws = self.ws()
        ws.send_frame(PONG, b"unsolicited")
        ws.send_frame(PONG, b"")
        ws.send_text("still here")
        self.assert_echo(ws, TEXT, b"still here")
        self.close_cleanly(ws)

    def test_ping_and_messages_keep_order(self):
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"one") + build_frame(PING, b"1") + build_frame(BINARY, b"two") +
                    build_frame(PING, b"2"))
        got = []
        for _ in range(4):
            f = ws.recv_frame()
            got.append((f.opcode, f.payload))
        # A pong may overtake an echo (it is answered while reading), but each kind stays in order.
        self.assertEqual([g for g in got if g[0] == PONG], [(PONG, b"1"), (PONG, b"2")])
        self.assertEqual([g for g in got if g[0] != PONG], [(TEXT, b"one"), (BINARY, b"two")])
        self.close_cleanly(ws)


# ------------------------------------------------------------------------------------------------
# Closing handshake
# ------------------------------------------------------------------------------------------------


class Closing(RawTestCase):
    def test_close_codes_echoed(self):
        for code, reason in ((1000, b""), (1001, b"going away"), (3000, b"app code"), (4999, "bye ✓".encode()),
                             (1003, b""), (1007, b""), (1011, b"x"), (4000, b"y" * 123)):
            with self.subTest(code=code):
                ws = self.ws()
                ws.send_text("before close")
                self.assert_echo(ws, TEXT, b"before close")
                ws.send_close(code, reason)
                frame = ws.recv_close()
                self.assertEqual(frame.close_code, code)
                ws.wait_eof()

    def test_empty_close(self):
        ws = self.ws()
        ws.send_close()
        frame = ws.recv_close()
        # Either an empty close frame or 1000 is acceptable. This server answers with an empty one.
        self.assertIn(frame.close_code, (None, 1000), frame)
        print(f"\n  [empty close] server replied with {'an empty close frame' if frame.close_code is None else 'code %d' % frame.close_code}",
              file=sys.stderr)
        ws.wait_eof()

    def test_nothing_echoed_after_close(self):
        """Data after the client's close frame is ignored; the close reply is the last frame."""
        ws = self.ws()
        ws.send_raw(build_frame(CLOSE, close_payload(1000)) + build_frame(TEXT, b"ignored") + build_frame(PING, b"no"))
        self.assertEqual(ws.recv_close().close_code, 1000)
        ws.wait_eof()

    def test_close_chopped(self):
        ws = self.ws()
        ws.send_raw(build_frame(CLOSE, close_payload(3333, b"chopped reason")), chop=1)
        self.assertEqual(ws.recv_close().close_code, 3333)
        ws.wait_eof()

    def test_close_during_fragmented_message(self):
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"half", fin=False) + build_frame(CLOSE, close_payload(1000)))
        self.assertEqual(ws.recv_close().close_code, 1000)
        ws.wait_eof()

    def test_invalid_close_payloads(self):
        cases = {
            "1 byte": b"\x03",
            "code 0": close_payload(0),
            "code 999": close_payload(999),
            "code 1004": close_payload(1004),
            "code 1005": close_payload(1005),
            "code 1006": close_payload(1006),
            "code 1015": close_payload(1015),
            "code 1016": close_payload(1016),
            "code 1100": close_payload(1100),
            "code 2000": close_payload(2000),
            "code 2999": close_payload(2999),
            "code 5000": close_payload(5000),
            "code 65535": close_payload(65535),
            "reason not UTF-8": close_payload(1000, b"bad \xff reason"),
            "reason truncated UTF-8": close_payload(1000, b"\xe2\x82"),
            "reason surrogate": close_payload(1000, b"\xed\xa0\x80"),
        }
        for name, payload in cases.items():
            with self.subTest(name):
                ws = self.ws()
                ws.send_frame(CLOSE, payload)
                self.assert_failed_with(ws, 1002)


# ------------------------------------------------------------------------------------------------
# Protocol errors → 1002
# ------------------------------------------------------------------------------------------------


class ProtocolErrors(RawTestCase):
    CASES = {
        "unmasked text": build_frame(TEXT, b"hello", mask=False),
        "unmasked ping": build_frame(PING, b"p", mask=False),
        "unmasked close": build_frame(CLOSE, close_payload(1000), mask=False),
        "RSV1": build_frame(TEXT, b"hello", rsv=4),
        "RSV2": build_frame(BINARY, b"hello", rsv=2),
        "RSV3": build_frame(TEXT, b"hello", rsv=1),
        "RSV1 on ping": build_frame(PING, b"", rsv=4),
        **{f"opcode {op}": build_frame(op, b"x") for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)},
        "ping 126 bytes": build_frame(PING, b"p" * 126),
        "pong 126 bytes": build_frame(PONG, b"p" * 126),
        "close 126 bytes": build_frame(CLOSE, close_payload(1000, b"r" * 124)),
        "ping 16-bit length form": build_frame(PING, b"p" * 10, length_form=126),
        "fragmented ping": build_frame(PING, b"a", fin=False) + build_frame(CONT, b"b"),
        "fragmented close": build_frame(CLOSE, close_payload(1000), fin=False),
        "continuation without start": build_frame(CONT, b"orphan"),
        "final continuation without start": build_frame(CONT, b"orphan", fin=True),
        "text inside fragmented text": build_frame(TEXT, b"a", fin=False) + build_frame(TEXT, b"b"),
        "binary inside fragmented text": build_frame(TEXT, b"a", fin=False) + build_frame(BINARY, b"b"),
        "text inside fragmented binary": build_frame(BINARY, b"a", fin=False) + build_frame(TEXT, b"b", fin=False),
        "64-bit length with MSB set": build_frame(BINARY, b"", length=1 << 63, length_form=127),
    }

    def test_protocol_errors(self):
        for name, data in self.CASES.items():
            with self.subTest(name):
                ws = self.ws()
                ws.send_raw(data)
                self.assert_failed_with(ws, 1002)

    def test_protocol_errors_chopped(self):
        """The same errors, written one byte at a time."""
        for name, data in self.CASES.items():
            with self.subTest(name):
                ws = self.ws()
                ws.send_raw(data[:64], chop=1)
                ws.send_raw(data[64:])
                self.assert_failed_with(ws, 1002)

    def test_complete_message_echoed_before_error(self):
        for name, bad in (("RSV1", build_frame(TEXT, b"x", rsv=4)), ("opcode 3", build_frame(3, b"")),
                          ("unmasked", build_frame(BINARY, b"x", mask=False)),
                          ("orphan continuation", build_frame(CONT, b"x"))):
            with self.subTest(name):
                ws = self.ws()
                ws.send_raw(build_frame(TEXT, b"first") + fragments(BINARY, b"second message", 3) + bad)
                self.assert_echo(ws, TEXT, b"first")
                self.assert_echo(ws, BINARY, b"second message")
                self.assert_failed_with(ws, 1002)

    def test_no_echo_of_incomplete_message_on_error(self):
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"never ", fin=False) + build_frame(CONT, b"finished", fin=False) +
                    build_frame(9, b"x", fin=False))
        self.assert_failed_with(ws, 1002)

    def test_server_survives_protocol_errors(self):
        """After all that, a new connection still echoes."""
        for data in list(self.CASES.values())[:5]:
            ws = self.ws()
            ws.send_raw(data)
            self.assert_failed_with(ws, 1002)
        ws = self.ws()
        ws.send_text("alive")
        self.assert_echo(ws, TEXT, b"alive")
        self.close_cleanly(ws)


# ------------------------------------------------------------------------------------------------
# UTF-8 → 1007
# ------------------------------------------------------------------------------------------------


INVALID_UTF8 = {
    "overlong 2-byte slash": b"ab\xc0\xaf",
    "overlong C1": b"\xc1\xbf",
    "overlong 3-byte": b"\xe0\x80\xaf",
    "overlong 4-byte": b"\xf0\x80\x80\xaf",
    "surrogate D800": b"x\xed\xa0\x80y",
    "surrogate DFFF": b"\xed\xbf\xbf",
    "above U+10FFFF (F4 90)": b"\xf4\x90\x80\x80",
    "F5 lead byte": b"\xf5\x80\x80\x80",
    "0xFE": b"abc\xfe",
    "0xFF": b"\xff",
    "lone continuation": b"a\x80b",
    "continuation after complete char": b"\xc3\xa9\xa9",
    "truncated 2-byte at end": b"hello \xc3",
    "truncated 3-byte at end": b"hello \xe2\x82",
    "truncated 4-byte at end": b"hello \xf0\x9f\x98",
    "bad continuation": b"\xe2\x28\xa1",
}


class InvalidUtf8(RawTestCase):
    def test_single_frame(self):
        for name, payload in INVALID_UTF8.items():
            with self.subTest(name):
                ws = self.ws()
                ws.send_frame(TEXT, payload)
                self.assert_failed_with(ws, 1007)

    def test_valid_edge_cases_accepted(self):
        valid = ["\u0000", "\u007f", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\ufffd", "\uffff",
                 "\U00010000", "\U0010ffff"]
        ws = self.ws()
        for s in valid:
            data = ("<" + s + ">").encode("utf-8")
            ws.send_frame(TEXT, data)
            self.assert_echo(ws, TEXT, data)
        self.close_cleanly(ws)

    def test_invalid_across_fragments(self):
        cases = {
            "E2 | 28": [b"ok \xe2", b"\x28\xa1"],
            "F0 9F | 98 | 41": [b"\xf0\x9f", b"\x98", b"\x41"],
            "ED | A0 80 (surrogate)": [b"\xed", b"\xa0\x80"],
            "truncated at the end of the last fragment": [b"abc", b"def", b"\xe2\x82"],
            "invalid in the middle fragment": [b"abc", b"\xff", b"def"],
        }
        for name, parts in cases.items():
            with self.subTest(name):
                ws = self.ws()
                data = b"".join(build_frame(TEXT if i == 0 else CONT, p, fin=i == len(parts) - 1)
                                for i, p in enumerate(parts))
                ws.send_raw(data)
                self.assert_failed_with(ws, 1007)

    def test_valid_split_across_fragments_and_chops(self):
        text = "€😀é".encode() * 50
        ws = self.ws()
        ws.send_raw(fragments(TEXT, text, 1), chop=(1, 7), rng=random.Random(1))
        self.assert_echo(ws, TEXT, text)
        self.close_cleanly(ws)

    def test_binary_is_not_validated(self):
        ws = self.ws()
        ws.send_frame(BINARY, b"\xff\xfe\xc0\xaf")
        self.assert_echo(ws, BINARY, b"\xff\xfe\xc0\xaf")
        self.close_cleanly(ws)

    def test_invalid_first_fragment_fails_fast(self):
        """1007 arrives without the remaining fragments being sent."""
        ws = self.ws()
        ws.send_frame(TEXT, b"abc\xff", fin=False)
        self.assert_failed_with(ws, 1007, timeout=2.0)

    def test_invalid_prefix_of_a_large_frame_fails_fast(self):
        """A single text frame whose first bytes are invalid: 1007 before the rest of its payload."""
        ws = self.ws()
        frame = build_frame(TEXT, b"\xc0\xaf" + b"a" * 100000)
        ws.send_raw(frame[:1000])
        self.assert_failed_with(ws, 1007, timeout=2.0)


# ------------------------------------------------------------------------------------------------
# Message size → 1009
# ------------------------------------------------------------------------------------------------


class MessageTooBig(RawTestCase):
    def test_frame_header_declaring_limit_plus_one(self):
        for opcode in (TEXT, BINARY):
            with self.subTest(opcode=opcode):
                ws = self.ws()
                # Only the header and a little payload: the 1009 must not wait for the rest.
                ws.send_raw(build_frame(opcode, b"a" * 1000, length=MAX_MESSAGE + 1))
                self.assert_failed_with(ws, 1009)

    def test_huge_declared_length(self):
        ws = self.ws()
        ws.send_raw(build_frame(BINARY, b"", length=(1 << 63) - 1, length_form=127))
        self.assert_failed_with(ws, 1009)

    def test_fragments_exceeding_limit(self):
        ws = self.ws(timeout=20.0)
        half = MAX_MESSAGE // 2
        ws.send_raw(build_frame(BINARY, b"b" * half, fin=False))
        # The second fragment would bring the message to limit + 1: only its header is sent.
        ws.send_raw(build_frame(CONT, b"", length=half + 1))
        self.assert_failed_with(ws, 1009, timeout=20.0)

    def test_fragments_exactly_at_limit(self):
        ws = self.ws(timeout=20.0)
        payload = os.urandom(MAX_MESSAGE)
        ws.send_raw(fragments(BINARY, payload, MAX_MESSAGE // 4))
        self.assert_echo(ws, BINARY, payload)
        self.close_cleanly(ws)

    def test_limit_plus_one_with_16_bit_header_chain(self):
        """A message made of many small fragments crossing the limit by one byte."""
        ws = self.ws(timeout=20.0)
        chunk = b"c" * (1 * MiB)
        data = b"".join(build_frame(BINARY if i == 0 else CONT, chunk, fin=False) for i in range(16))
        ws.send_raw(data)
        ws.send_raw(build_frame(CONT, b"!", fin=True))
        self.assert_failed_with(ws, 1009, timeout=20.0)


if __name__ == "__main__":
    main()
