#!/usr/bin/python3
"""RFC 6455 §5.5, §5.5.2, §5.5.3: ping and pong.

A ping (empty, text, binary, 125 bytes) is answered with a pong carrying the identical payload;
several pings in one write are answered in the same order, also when written one byte at a time;
a ping or pong longer than 125 bytes fails the connection with 1002 (a 7-bit length of 126 or 127
is rejected from the header alone); unsolicited pongs are ignored (nothing is sent back).
"""

from conformance_lib import (
    BINARY, CONT, PING, PONG, TEXT, ConformanceCase, binary_payload, build_frame, fragments, main)

PAYLOADS = {
    "empty": b"",
    "text": "ping ✓ ünïcode 😀".encode(),
    "binary": bytes([0x00, 0xFF, 0x80, 0xC0, 0xFE, 0x01, 0x7F]),
    "125_bytes": binary_payload(125, seed=125),
}


class PingPong(ConformanceCase):
    def ping_pong(self, payload: bytes, chop=None) -> None:
        ws = self.ws()
        ws.send_raw(build_frame(PING, payload), chop=chop)
        self.assert_pong(ws, payload)
        self.close_cleanly(ws)

    # -- identical pongs -------------------------------------------------------------------------

    def test_ping_empty(self):
        self.ping_pong(PAYLOADS["empty"])

    def test_ping_text(self):
        self.ping_pong(PAYLOADS["text"])

    def test_ping_binary(self):
        self.ping_pong(PAYLOADS["binary"])

    def test_ping_125_bytes(self):
        self.ping_pong(PAYLOADS["125_bytes"])

    def test_ping_invalid_utf8_payload_is_not_validated(self):
        """Ping payloads are application data, not text: any bytes come back unchanged."""
        self.ping_pong(b"\xff\xfe\xc0\xaf\xed\xa0\x80")

    def test_each_ping_one_byte_at_a_time(self):
        for name, payload in PAYLOADS.items():
            with self.subTest(name):
                self.ping_pong(payload, chop=1)

    def test_several_pings_in_one_write_answered_in_order(self):
        ws = self.ws()
        payloads = list(PAYLOADS.values()) + [str(i).encode() for i in range(20)]
        ws.send_raw(b"".join(build_frame(PING, p) for p in payloads))
        for i, p in enumerate(payloads):
            self.assert_frame(ws, PONG, p, what=f"pong #{i}")
        self.close_cleanly(ws)

    def test_several_pings_one_byte_at_a_time_answered_in_order(self):
        ws = self.ws()
        payloads = list(PAYLOADS.values()) + [b"a", b"bb", b"ccc"]
        ws.send_raw(b"".join(build_frame(PING, p) for p in payloads), chop=1)
        for i, p in enumerate(payloads):
            self.assert_frame(ws, PONG, p, what=f"pong #{i}")
        self.close_cleanly(ws)

    def test_pings_in_chops_of_7_bytes(self):
        ws = self.ws()
        payloads = [binary_payload(n, seed=n) for n in (0, 1, 5, 60, 124, 125)]
        ws.send_raw(b"".join(build_frame(PING, p) for p in payloads), chop=7)
        for i, p in enumerate(payloads):
            self.assert_frame(ws, PONG, p, what=f"pong #{i}")
        self.close_cleanly(ws)

    def test_100_pings_on_one_connection(self):
        ws = self.ws()
        for i in range(100):
            p = binary_payload(i % 126, seed=i)
            ws.send_frame(PING, p)
            self.assert_pong(ws, p)
        self.close_cleanly(ws)

    def test_pings_between_messages(self):
        """Pongs keep the pings' order and echoes keep the messages' order; a pong may overtake an
        echo (pings are answered as they are read)."""
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"one") + build_frame(PING, b"1") + build_frame(BINARY, b"two") +
                    build_frame(PING, b"2") + build_frame(TEXT, b"three"))
        got = []
        for _ in range(5):
            f = ws.recv_frame()
            self.assertTrue(f.fin)
            got.append((f.opcode, f.payload))
        self.assertEqual([g for g in got if g[0] == PONG], [(PONG, b"1"), (PONG, b"2")])
        self.assertEqual([g for g in got if g[0] != PONG], [(TEXT, b"one"), (BINARY, b"two"), (TEXT, b"three")])
        self.close_cleanly(ws)

    # -- too long --------------------------------------------------------------------------------

    def test_ping_126_bytes_fails_1002(self):
        ws = self.ws()
        ws.send_raw(build_frame(PING, b"p" * 126))
        self.assert_fails_with(ws, 1002)

    def test_ping_length_field_126_rejected_from_the_header(self):
        """Only the two header bytes are sent (7-bit length 126, extended length never sent)."""
        ws = self.ws()
        ws.send_raw(bytes([0x80 | PING, 0x80 | 126]))
        self.assert_fails_with(ws, 1002)

    def test_ping_length_field_127_rejected_from_the_header(self):
        ws = self.ws()
        ws.send_raw(bytes([0x80 | PING, 0x80 | 127]))
        self.assert_fails_with(ws, 1002)

    def test_ping_short_payload_in_16_bit_length_form_fails_1002(self):
        """Control frames must use the 7-bit length (§5.5): 10 bytes declared in the 16-bit form."""
        ws = self.ws()
        ws.send_raw(build_frame(PING, b"p" * 10, length_form=126))
        self.assert_fails_with(ws, 1002)

    def test_pong_126_bytes_fails_1002(self):
        ws = self.ws()
        ws.send_raw(build_frame(PONG, b"p" * 126))
        self.assert_fails_with(ws, 1002)

    def test_oversized_ping_after_valid_one(self):
        """The pong of the valid ping, then 1002 for the 126-byte one sent in the same write."""
        ws = self.ws()
        ws.send_raw(build_frame(PING, b"ok") + build_frame(PING, b"x" * 126))
        self.assert_pong(ws, b"ok")
        self.assert_fails_with(ws, 1002)

    # -- unsolicited pongs -------------------------------------------------------------------------

    def test_unsolicited_pongs_ignored(self):
        """Pongs nobody asked for get no answer: the next frame from the server is the echo."""
        ws = self.ws()
        ws.send_raw(build_frame(PONG, b"") + build_frame(PONG, b"unsolicited") + build_frame(PONG, b"z" * 125) +
                    build_frame(TEXT, b"after the pongs"))
        self.assert_echo(ws, TEXT, b"after the pongs")
        self.close_cleanly(ws)

    def test_unsolicited_pong_inside_fragmented_message_ignored(self):
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"frag", fin=False) + build_frame(PONG, b"ignored") +
                    build_frame(CONT, b"mented"))
        self.assert_echo(ws, TEXT, b"fragmented")
        self.close_cleanly(ws)

    def test_unsolicited_pongs_one_byte_at_a_time(self):
        ws = self.ws()
        ws.send_raw(build_frame(PONG, b"a") + build_frame(PONG, b"") + fragments(BINARY, b"payload", 3), chop=1)
        self.assert_echo(ws, BINARY, b"payload")
        self.close_cleanly(ws)


if __name__ == "__main__":
    main()
