#!/usr/bin/python3
"""RFC 6455 §10.4 (implementation-specific limits) and §7.4.1 (1009 "message too big").

The server runs with max_message_size=1 MiB. A message of exactly the limit is echoed, in one
frame or in fragments; a frame that would make a message exceed it fails the connection with 1009
from the frame header alone (its payload is never sent), whether it is a single frame, a later
fragment, or a 64-bit length beyond any limit.
"""

from conformance_lib import (
    BINARY, CONT, MiB, PING, TEXT, ConformanceCase, binary_payload, build_frame, fast_fragments, main,
    text_payload)

LIMIT = 1 * MiB


class MessageSize(ConformanceCase):
    SERVER_ARGS = ["--limit", f"max_message_size={LIMIT}"]

    def test_exactly_the_limit_in_one_frame(self):
        for opcode, payload in ((TEXT, text_payload(LIMIT)), (BINARY, binary_payload(LIMIT))):
            with self.subTest(opcode=opcode):
                ws = self.ws(timeout=30.0)
                ws.send_raw(build_frame(opcode, payload))
                self.assert_echo(ws, opcode, payload)
                self.close_cleanly(ws)

    def test_exactly_the_limit_in_fragments(self):
        for opcode, payload in ((TEXT, text_payload(LIMIT)), (BINARY, binary_payload(LIMIT))):
            with self.subTest(opcode=opcode):
                ws = self.ws(timeout=30.0)
                ws.send_raw(fast_fragments(opcode, payload, 64 * 1024))
                self.assert_echo(ws, opcode, payload)
                self.close_cleanly(ws)

    def test_limit_plus_one_single_frame_header_only(self):
        for opcode in (TEXT, BINARY):
            with self.subTest(opcode=opcode):
                ws = self.ws()
                ws.send_raw(build_frame(opcode, b"", length=LIMIT + 1))
                self.assert_fails_with(ws, 1009)

    def test_limit_plus_one_in_last_fragment_header_only(self):
        """Fragments bring the message to the limit; a final one declaring one more byte fails
        before its payload is sent."""
        ws = self.ws(timeout=30.0)
        half = LIMIT // 2
        ws.send_raw(build_frame(BINARY, binary_payload(half), fin=False) +
                    build_frame(CONT, binary_payload(half, seed=2), fin=False))
        # The connection is still fine at exactly the limit.
        ws.send_frame(PING, b"at the limit")
        self.assert_pong(ws, b"at the limit")
        ws.send_raw(build_frame(CONT, b"", length=1))
        self.assert_fails_with(ws, 1009)

    def test_huge_64_bit_length(self):
        ws = self.ws()
        ws.send_raw(build_frame(BINARY, b"", length=(1 << 63) - 1, length_form=127))
        self.assert_fails_with(ws, 1009)

    def test_message_after_oversized_rejection_on_new_connection(self):
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"small") + build_frame(TEXT, b"", length=2 * LIMIT))
        self.assert_echo(ws, TEXT, b"small")
        self.assert_fails_with(ws, 1009)


if __name__ == "__main__":
    main()
