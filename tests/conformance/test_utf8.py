#!/usr/bin/python3
"""RFC 6455 §5.6 and §8.1: text messages must be valid UTF-8; otherwise the connection fails with
1007 (§7.4.1).

Valid text, including code points split inside their byte sequence across fragments and across
TCP writes, is echoed intact. Each class of invalid UTF-8 fails with 1007 *as soon as the byte
that makes it invalid arrives*, which the tests prove by never sending the rest:

* ``test_<class>_fails_fast_in_large_frame``: a single text frame declaring 1 MiB; only its header
  and the payload up to and including the bad byte are sent;
* ``test_<class>_fails_fast_in_first_fragment``: a FIN=0 first fragment ending with the bad byte;
  no further fragment is sent;
* ``test_<class>_in_continuation``: the bad byte in a later fragment, the final one never sent;
* ``test_<class>_single_frame`` / ``..._one_byte_at_a_time``: the whole invalid message.

A sequence truncated at the end of the message is only invalid once the message ends: a first
fragment ending in the middle of a code point is accepted (a ping sent after it is still
answered), and the final fragment then fails with 1007.
"""

from conformance_lib import (
    BINARY, CONT, MiB, PING, TEXT, ConformanceCase, build_frame, fragments, main, text_payload)

# name → (bytes up to and including the first byte that makes the text invalid, the rest of the
# sequence). The prefix is what a fail-fast test sends; prefix + rest is the full invalid sequence.
INVALID = {
    "overlong_2byte_C0_80": (b"\xc0", b"\x80"),
    "overlong_2byte_C1_BF": (b"\xc1", b"\xbf"),
    "overlong_3byte_E0_80_80": (b"\xe0\x80", b"\x80"),
    "overlong_3byte_E0_9F_BF": (b"\xe0\x9f", b"\xbf"),
    "overlong_4byte_F0_80_80_80": (b"\xf0\x80", b"\x80\x80"),
    "overlong_4byte_F0_8F_BF_BF": (b"\xf0\x8f", b"\xbf\xbf"),
    "surrogate_ED_A0_80": (b"\xed\xa0", b"\x80"),
    "surrogate_ED_BF_BF": (b"\xed\xbf", b"\xbf"),
    "surrogate_pair_ED_A0_BD_ED_B2_A9": (b"\xed\xa0", b"\xbd\xed\xb2\xa9"),
    "above_max_F4_90_80_80": (b"\xf4\x90", b"\x80\x80"),
    "above_max_F4_BF_BF_BF": (b"\xf4\xbf", b"\xbf\xbf"),
    "lead_F5": (b"\xf5", b"\x80\x80\x80"),
    "lead_F7": (b"\xf7", b"\xbf\xbf\xbf"),
    "lead_F8_5byte": (b"\xf8", b"\x88\x80\x80\x80"),
    "lead_FC_6byte": (b"\xfc", b"\x84\x80\x80\x80\x80"),
    "byte_FE": (b"\xfe", b""),
    "byte_FF": (b"\xff", b""),
    "lone_continuation_80": (b"\x80", b""),
    "lone_continuation_BF": (b"\xbf", b""),
    "extra_continuation_after_complete_char": (b"\xc3\xa9\xa9", b""),
    "ascii_where_continuation_expected": (b"\xe2\x28", b"\xa1"),
    "lead_where_continuation_expected": (b"\xf0\x9f\xc3", b"\xa9"),
}

# Valid text before the bad bytes, so the failure is not at the first payload byte.
PREFIX = "valid ✓ é 😀 ".encode()

TRUNCATED = {
    "2byte": b"\xc3",
    "3byte_1_of_3": b"\xe2",
    "3byte_2_of_3": b"\xe2\x82",
    "4byte_1_of_4": b"\xf0",
    "4byte_3_of_4": b"\xf0\x9f\x98",
}

VALID_EDGES = ["\u0000", "\u007f", "\u0080", "\u07ff", "\u0800", "\u0fff", "\u1000", "\ud7ff", "\ue000",
               "\ufeff", "\ufffd", "\ufffe", "\uffff", "\U00010000", "\U0003ffff", "\U00040000", "\U000fffff",
               "\U00100000", "\U0010ffff"]


class ValidText(ConformanceCase):
    def echo(self, data: bytes, chop=None) -> None:
        ws = self.ws()
        ws.send_raw(data, chop=chop)
        return ws

    def test_code_point_boundaries(self):
        """The first and last code point of every sequence length, and the ones around the
        surrogate range, each echoed intact."""
        ws = self.ws()
        for s in VALID_EDGES:
            payload = ("<" + s + ">").encode()
            ws.send_frame(TEXT, payload)
            self.assert_echo(ws, TEXT, payload)
        self.close_cleanly(ws)

    def test_split_at_every_byte_of_multibyte_code_points(self):
        """Two fragments, split after every byte of 2-, 3- and 4-byte code points."""
        ws = self.ws()
        for ch in ("é", "€", "✓", "\ud7ff", "\ue000", "😀", "\U0010ffff"):
            payload = ("a" + ch + "b").encode()
            for cut in range(1, len(payload)):
                ws.send_raw(build_frame(TEXT, payload[:cut], fin=False) + build_frame(CONT, payload[cut:]))
                self.assert_echo(ws, TEXT, payload)
        self.close_cleanly(ws)

    def test_one_byte_fragments(self):
        """Every fragment holds one byte, so every multi-byte code point is split inside."""
        ws = self.ws()
        payload = text_payload(2000)
        ws.send_raw(fragments(TEXT, payload, 1))
        self.assert_echo(ws, TEXT, payload)
        self.close_cleanly(ws)

    def test_one_byte_tcp_writes(self):
        ws = self.echo(build_frame(TEXT, text_payload(3000)), chop=1)
        self.assert_echo(ws, TEXT, text_payload(3000))
        self.close_cleanly(ws)

    def test_fragments_and_tcp_writes_split_code_points_differently(self):
        for frag, chop in ((3, 2), (5, 7), (7, 3), (64, 5), (1000, 7)):
            with self.subTest(fragment=frag, chop=chop):
                payload = text_payload(5000)
                ws = self.echo(fragments(TEXT, payload, frag), chop=chop)
                self.assert_echo(ws, TEXT, payload)
                self.close_cleanly(ws)

    def test_large_text_with_split_code_points(self):
        payload = text_payload(4 * MiB)
        ws = self.ws(timeout=60.0)
        ws.send_raw(fragments(TEXT, payload, 65537), chop=4093)
        self.assert_echo(ws, TEXT, payload)
        self.close_cleanly(ws)

    def test_binary_is_not_validated(self):
        ws = self.ws()
        data = b"".join(prefix + rest for prefix, rest in INVALID.values())
        ws.send_raw(build_frame(BINARY, data) + fragments(BINARY, b"\xe2\x82" + b"\xac\xff", 1))
        self.assert_echo(ws, BINARY, data)
        self.assert_echo(ws, BINARY, b"\xe2\x82\xac\xff")
        self.close_cleanly(ws)


class InvalidText(ConformanceCase):
    def expect_1007(self, data: bytes, chop=None) -> None:
        ws = self.ws()
        ws.send_raw(data, chop=chop)
        self.assert_fails_with(ws, 1007)

    # -- truncated at the end of the message ---------------------------------------------------------

    def test_truncated_sequence_fails_at_message_end(self):
        for name, tail in TRUNCATED.items():
            with self.subTest(name):
                ws = self.ws()
                # Not an error yet: the message may continue the code point.
                ws.send_raw(build_frame(TEXT, PREFIX + tail, fin=False) + build_frame(PING, b"alive"))
                self.assert_pong(ws, b"alive")
                # The message ends without completing it.
                ws.send_raw(build_frame(CONT, b""))
                self.assert_fails_with(ws, 1007)

    def test_truncated_sequence_in_single_frame(self):
        for name, tail in TRUNCATED.items():
            with self.subTest(name):
                self.expect_1007(build_frame(TEXT, PREFIX + tail))

    def test_truncated_sequence_followed_by_ascii_in_next_fragment(self):
        for name, tail in TRUNCATED.items():
            with self.subTest(name):
                self.expect_1007(build_frame(TEXT, PREFIX + tail, fin=False) + build_frame(CONT, b"A", fin=False))

    def test_every_byte_F5_to_FF_fails_fast(self):
        """Each of the bytes that never occur in UTF-8 (F5-FF), alone after valid text, in a frame
        declaring 1 MiB of which only the payload up to that byte is sent → 1007."""
        for byte in range(0xF5, 0x100):
            with self.subTest(byte=hex(byte)):
                self.expect_1007(build_frame(TEXT, PREFIX + bytes([byte]), length=MiB))

    def test_every_lone_continuation_byte_fails_fast(self):
        """80-BF right after an ASCII character, with the rest of the declared frame never sent."""
        for byte in range(0x80, 0xC0, 7):
            with self.subTest(byte=hex(byte)):
                self.expect_1007(build_frame(TEXT, b"a" + bytes([byte]), length=MiB))

    def test_valid_message_then_invalid_one(self):
        """A valid text message is echoed; the invalid one after it in the same write fails."""
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, PREFIX) + build_frame(TEXT, b"\xff"))
        self.assert_echo(ws, TEXT, PREFIX)
        self.assert_fails_with(ws, 1007)


def _add(name: str, doc: str, build, chop=None) -> None:
    def test(self):
        self.expect_1007(build(), chop=chop)

    test.__name__, test.__doc__ = name, doc
    assert not hasattr(InvalidText, name), name
    setattr(InvalidText, name, test)


for _name, (_bad, _rest) in INVALID.items():
    _seq = _bad + _rest
    _add(f"test_{_name}_single_frame", f"{_seq.hex(' ')} in a complete text frame → 1007",
         lambda s=_seq: build_frame(TEXT, PREFIX + s + b" tail"))
    _add(f"test_{_name}_one_byte_at_a_time", f"{_seq.hex(' ')} in a text frame written 1 byte at a time → 1007",
         lambda s=_seq: build_frame(TEXT, PREFIX + s + b" tail"), chop=1)
    # Fail fast: everything up to the bad byte, never the rest.
    _add(f"test_{_name}_fails_fast_in_large_frame",
         f"text frame declaring 1 MiB; only the payload up to {_bad.hex(' ')} is sent → 1007",
         lambda b=_bad: build_frame(TEXT, PREFIX + b, length=MiB))
    _add(f"test_{_name}_fails_fast_in_first_fragment",
         f"first fragment (FIN=0) ending with {_bad.hex(' ')}; no further fragment → 1007",
         lambda b=_bad: build_frame(TEXT, PREFIX + b, fin=False))
    _add(f"test_{_name}_in_continuation",
         f"{_bad.hex(' ')} in the second fragment, the final fragment never sent → 1007",
         lambda b=_bad: build_frame(TEXT, PREFIX, fin=False) + build_frame(CONT, b"ok " + b, fin=False))
    if len(_bad) > 1:
        # The invalid sequence starts in one fragment and the bad byte arrives in the next.
        _add(f"test_{_name}_split_across_fragments",
             f"{_bad[:-1].hex(' ')} | {_bad[-1:].hex(' ')} across two fragments → 1007",
             lambda b=_bad: build_frame(TEXT, PREFIX + b[:-1], fin=False) + build_frame(CONT, b[-1:], fin=False))


if __name__ == "__main__":
    main()
