#!/usr/bin/python3
"""RFC 6455 §5.2 (RSV1-3, reserved opcodes) and §7.1.7 (fail the connection).

No extension is negotiated, so a frame with RSV1, RSV2 or RSV3 set (on a text, binary,
continuation, ping, pong or close frame) and a frame with a reserved opcode (3-7 non-control,
11-15 control) fail the connection with 1002 at once:

* "at once": only the frame header and masking key of the offending frame are sent, never its
  payload, and the 1002 still arrives;
* every message completed earlier in the same TCP write is echoed first;
* then the TCP connection ends, and a fresh connection is served.

Test methods are generated: test_rsv<1|2|3>_on_<frame kind>, test_opcode_<n>.
"""

from conformance_lib import BINARY, CLOSE, CONT, PING, PONG, TEXT, ConformanceCase, build_frame, fragments, main

RSV_BITS = {1: 4, 2: 2, 3: 1}  # RSVn → value of the 3-bit field (RSV1 is the most significant)
RESERVED_OPCODES = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]

# A complete text message and a complete fragmented binary message that precede the bad frame.
PRELUDE = build_frame(TEXT, "before ✓".encode()) + fragments(BINARY, b"\x00\x01 second message", 5)


def header_only(opcode: int, declared: int, *, fin: bool = True, rsv: int = 0) -> bytes:
    """Header and masking key of a frame declaring `declared` payload bytes, without the payload."""
    return build_frame(opcode, b"", fin=fin, rsv=rsv, length=declared)


class Reserved(ConformanceCase):
    def fail_after_prelude(self, bad: bytes, prefix: bytes = b"", chop=None) -> None:
        ws = self.ws()
        ws.send_raw(PRELUDE + prefix + bad, chop=chop)
        self.assert_echo(ws, TEXT, "before ✓".encode())
        self.assert_echo(ws, BINARY, b"\x00\x01 second message")
        self.assert_fails_with(ws, 1002)

    def test_all_rsv_combinations_on_text(self):
        """Every non-zero combination of the three bits, with a payload this time."""
        for rsv in range(1, 8):
            with self.subTest(rsv=rsv):
                self.fail_after_prelude(build_frame(TEXT, b"payload", rsv=rsv))

    def test_rsv_on_ping_one_byte_at_a_time(self):
        for n, bits in RSV_BITS.items():
            with self.subTest(rsv=n):
                self.fail_after_prelude(build_frame(PING, b"p", rsv=bits), chop=1)

    def test_reserved_opcode_one_byte_at_a_time(self):
        for opcode in (3, 11):
            with self.subTest(opcode=opcode):
                self.fail_after_prelude(build_frame(opcode, b"xyz"), chop=1)

    def test_reserved_opcode_without_fin(self):
        for opcode in (3, 7, 11, 15):
            with self.subTest(opcode=opcode):
                self.fail_after_prelude(header_only(opcode, 10, fin=False))

    def test_reserved_opcode_inside_fragmented_message(self):
        """A reserved opcode between the fragments of a message: 1002, the partial message is not
        echoed."""
        for opcode in (4, 12):
            with self.subTest(opcode=opcode):
                self.fail_after_prelude(header_only(opcode, 1), prefix=build_frame(TEXT, b"unfinished", fin=False))

    def test_rsv_frame_with_large_declared_length(self):
        """A 64-bit declared length is never waited for."""
        self.fail_after_prelude(build_frame(BINARY, b"", rsv=4, length=10 * 1024 * 1024, length_form=127))


def _add(name: str, doc: str, bad: bytes, prefix: bytes = b"") -> None:
    def test(self):
        self.fail_after_prelude(bad, prefix)

    test.__name__, test.__doc__ = name, doc
    assert not hasattr(Reserved, name), name
    setattr(Reserved, name, test)


# Frame kinds that can carry RSV bits: (name, bytes before the bad frame, opcode, fin, declared).
_KINDS = [
    ("text", b"", TEXT, True, 20),
    ("binary", b"", BINARY, True, 20),
    ("first_fragment", b"", TEXT, False, 20),
    ("continuation", build_frame(BINARY, b"start", fin=False), CONT, True, 20),
    ("ping", b"", PING, True, 4),
    ("pong", b"", PONG, True, 4),
    ("close", b"", CLOSE, True, 2),
]

for _n, _bits in RSV_BITS.items():
    for _kind, _prefix, _op, _fin, _declared in _KINDS:
        _add(f"test_rsv{_n}_on_{_kind}", f"RSV{_n} on a {_kind} frame (header only) → 1002",
             header_only(_op, _declared, fin=_fin, rsv=_bits), _prefix)

for _op in RESERVED_OPCODES:
    _kind = "control" if _op >= 8 else "non-control"
    _add(f"test_opcode_{_op}", f"reserved {_kind} opcode {_op} (header only, 5 bytes declared) → 1002",
         header_only(_op, 5))


if __name__ == "__main__":
    main()
