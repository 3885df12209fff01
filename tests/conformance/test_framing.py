#!/usr/bin/python3
"""RFC 6455 §5.1/§5.2/§5.4/§5.6: data framing through the /ws echo.

Text and binary messages of every length-encoding boundary and of 1, 4, 8 and 16 MiB (the default
max_message_size), each sent
  * as a single frame,
  * in fragments of 64 B, 1 KiB, 64 KiB and 1 MiB (those smaller than the message),
  * as a single frame cut into TCP writes of 1 byte (messages up to 64 KiB), 7 and 64 bytes
    (up to 1 MiB) and 1 KiB and 4 KiB (every size),
must come back byte for byte with the same opcode, after which a client close 1000 is answered with
1000 and the TCP connection ends. Plus fragmented-and-chopped combinations and 1000 sequential
round trips on one connection.

The test methods are generated: test_<text|binary>_<size>_<single|frag…|chop…>.
"""

from conformance_lib import (
    BIG_TIMEOUT, BINARY, IO_TIMEOUT, PING, TEXT, KiB, MiB, ConformanceCase, binary_payload, build_frame,
    fast_fragments, fragments, main, text_payload)

SIZES = [0, 125, 126, 127, 128, 65535, 65536, 1 * MiB, 4 * MiB, 8 * MiB, 16 * MiB]
FRAGMENT_SIZES = [64, 1 * KiB, 64 * KiB, 1 * MiB]
# TCP write size → largest message size chopped that way (1-byte writes: small messages only; the
# 7- and 64-byte writes stop at 1 MiB to keep the suite's runtime bounded).
CHOPS = {1: 64 * KiB, 7: 1 * MiB, 64: 1 * MiB, 1 * KiB: 16 * MiB, 4 * KiB: 16 * MiB}


def size_label(n: int) -> str:
    """Message sizes: bytes below 1 MiB (so the 16-bit boundaries stay visible), MiB above."""
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB}MiB"
    return f"{n}B"


def unit_label(n: int) -> str:
    """Fragment and write sizes: 64B, 1KiB, 64KiB, 1MiB."""
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB}MiB"
    if n >= KiB and n % KiB == 0:
        return f"{n // KiB}KiB"
    return f"{n}B"


def payload_for(opcode: int, n: int) -> bytes:
    return text_payload(n) if opcode == TEXT else binary_payload(n)


class Framing(ConformanceCase):
    def roundtrip(self, opcode: int, payload: bytes, data: bytes, chop=None) -> None:
        """Sends `data` (the encoded message), expects `payload` back, then closes cleanly."""
        big = len(payload) > 64 * KiB
        ws = self.ws(timeout=BIG_TIMEOUT if big else IO_TIMEOUT)
        ws.send_raw(data, chop=chop)
        self.assert_echo(ws, opcode, payload)
        self.close_cleanly(ws)

    # -- combinations beyond the generated matrix -----------------------------------------------

    def test_fragmented_and_chopped(self):
        """Fragments whose boundaries do not line up with the TCP writes."""
        cases = [
            (TEXT, 65536, 64, 7),
            (BINARY, 65536, 1 * KiB, 7),
            (TEXT, 1000, 64, 1),
            (BINARY, 1000, 7, 1),
            (TEXT, 1 * MiB, 64 * KiB, 4 * KiB),
            (BINARY, 1 * MiB, 1 * KiB, 1 * KiB + 3),
        ]
        for opcode, n, frag, chop in cases:
            with self.subTest(opcode=opcode, size=n, fragment=frag, chop=chop):
                payload = payload_for(opcode, n)
                self.roundtrip(opcode, payload, fragments(opcode, payload, frag), chop=chop)

    def test_length_forms_at_every_boundary_on_one_connection(self):
        """Several messages of boundary lengths in one TCP write, echoed in order."""
        ws = self.ws()
        sizes = [0, 1, 124, 125, 126, 127, 128, 129, 65534, 65535, 65536, 65537]
        messages = [(TEXT if i % 2 else BINARY, payload_for(TEXT if i % 2 else BINARY, n))
                    for i, n in enumerate(sizes)]
        ws.send_raw(b"".join(build_frame(op, p) for op, p in messages))
        for op, p in messages:
            self.assert_echo(ws, op, p)
        self.close_cleanly(ws)

    def test_non_minimal_length_encodings(self):
        """RFC 6455 §5.2 says the minimal number of bytes MUST be used for the length, but the
        server is lenient here (tests/unit/ws FrameParser.NonMinimalLengthsAreAccepted): a 5-byte
        payload with a 16-bit or 64-bit length is echoed."""
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"short", length_form=126) + build_frame(BINARY, b"short", length_form=127))
        self.assert_echo(ws, TEXT, b"short")
        self.assert_echo(ws, BINARY, b"short")
        self.close_cleanly(ws)

    def test_mask_keys(self):
        """§5.3: any masking key, including all-zero and all-ones keys, unmasks correctly."""
        ws = self.ws()
        payload = binary_payload(1001, seed=7)
        for key in (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x01\x02\x03\x04", b"\x80\x00\x00\x01"):
            ws.send_raw(build_frame(BINARY, payload, mask_key=key))
            self.assert_echo(ws, BINARY, payload)
        self.close_cleanly(ws)

    def test_1000_sequential_round_trips(self):
        ws = self.ws()
        for i in range(1000):
            opcode = TEXT if i % 2 == 0 else BINARY
            payload = text_payload(i % 300) if opcode == TEXT else binary_payload(i % 300, seed=i)
            ws.send_raw(build_frame(opcode, payload))
            self.assert_echo(ws, opcode, payload)
        self.close_cleanly(ws)

    def test_pipelined_messages_and_ping(self):
        """100 messages and a ping in one write: all echoed in order, the pong among them."""
        ws = self.ws()
        messages = [(TEXT, text_payload(i * 7)) for i in range(100)]
        data = b"".join(build_frame(op, p) for op, p in messages[:50]) + build_frame(PING, b"mid") + \
            b"".join(build_frame(op, p) for op, p in messages[50:])
        ws.send_raw(data)
        got = []
        while len(got) < 101:
            frame = ws.recv_frame()
            self.assertTrue(frame.fin)
            got.append((frame.opcode, frame.payload))
        self.assertIn((0xA, b"mid"), got)
        self.assertEqual([g for g in got if g[0] != 0xA], messages)
        self.close_cleanly(ws)


def _add(name: str, opcode: int, n: int, mode: str, arg) -> None:
    def test(self):
        payload = payload_for(opcode, n)
        if mode == "single":
            self.roundtrip(opcode, payload, build_frame(opcode, payload))
        elif mode == "frag":
            self.roundtrip(opcode, payload, fast_fragments(opcode, payload, arg))
        else:
            self.roundtrip(opcode, payload, build_frame(opcode, payload), chop=arg)

    test.__name__ = name
    how = {"single": "as one frame", "frag": f"in fragments of {arg} bytes", "chop": f"in TCP writes of {arg} bytes"}
    test.__doc__ = f"{'text' if opcode == TEXT else 'binary'} message of {n} bytes {how[mode]}"
    assert not hasattr(Framing, name), name
    setattr(Framing, name, test)


for _opcode, _kind in ((TEXT, "text"), (BINARY, "binary")):
    for _n in SIZES:
        _base = f"test_{_kind}_{size_label(_n)}"
        _add(f"{_base}_single", _opcode, _n, "single", None)
        for _frag in FRAGMENT_SIZES:
            if _frag < _n:
                _add(f"{_base}_frag{unit_label(_frag)}", _opcode, _n, "frag", _frag)
        for _chop, _max in CHOPS.items():
            if _n <= _max:
                _add(f"{_base}_chop{unit_label(_chop)}", _opcode, _n, "chop", _chop)


if __name__ == "__main__":
    main()
