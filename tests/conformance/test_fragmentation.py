#!/usr/bin/python3
"""RFC 6455 §5.4 (fragmentation) and §5.5 (control frames inside fragmented messages).

* Control frames may be interleaved with the fragments of a message: pings are answered (pong
  first, while the message is incomplete), pongs ignored, and the message is then echoed whole.
* Control frames must not be fragmented: a ping, pong or close with FIN=0 → 1002.
* A continuation frame without a message in progress → 1002.
* A new text or binary frame while a fragmented message is in progress → 1002.
Every failure is checked after a complete message in the same write was echoed, with the TCP
connection closed afterwards and a fresh connection served.
"""

from conformance_lib import (
    BINARY, CLOSE, CONT, PING, PONG, TEXT, ConformanceCase, binary_payload, build_frame, close_payload, main,
    text_payload)

PRELUDE_MESSAGE = "complete ✓".encode()
PRELUDE = build_frame(TEXT, PRELUDE_MESSAGE[:4], fin=False) + build_frame(CONT, PRELUDE_MESSAGE[4:])


class Interleaved(ConformanceCase):
    def test_ping_between_fragments_answered_before_echo(self):
        for opcode, payload in ((TEXT, text_payload(3000)), (BINARY, binary_payload(3000))):
            for chop in (None, 1, 7):
                with self.subTest(opcode=opcode, chop=chop):
                    ws = self.ws()
                    data = (build_frame(opcode, payload[:1000], fin=False) + build_frame(PING, b"first") +
                            build_frame(CONT, payload[1000:2000], fin=False) + build_frame(PING, b"") +
                            build_frame(PING, b"x" * 125) + build_frame(CONT, payload[2000:]))
                    ws.send_raw(data, chop=chop)
                    self.assert_pong(ws, b"first")
                    self.assert_pong(ws, b"")
                    self.assert_pong(ws, b"x" * 125)
                    self.assert_echo(ws, opcode, payload)
                    self.close_cleanly(ws)

    def test_pong_comes_while_message_incomplete(self):
        """The pong does not wait for the rest of the message."""
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"part one, ", fin=False) + build_frame(PING, b"now"))
        self.assert_pong(ws, b"now")
        ws.send_raw(build_frame(CONT, b"part two, ", fin=False))
        ws.send_raw(build_frame(PING, b"again"))
        self.assert_pong(ws, b"again")
        ws.send_raw(build_frame(CONT, b"done"))
        self.assert_echo(ws, TEXT, b"part one, part two, done")
        self.close_cleanly(ws)

    def test_ping_between_1MiB_fragments(self):
        payload = binary_payload(4 * 1024 * 1024, seed=3)
        ws = self.ws(timeout=60.0)
        q = len(payload) // 4
        data = b""
        for i in range(4):
            data += build_frame(BINARY if i == 0 else CONT, payload[i * q:(i + 1) * q], fin=i == 3)
            if i < 3:
                data += build_frame(PING, str(i).encode())
        ws.send_raw(data)
        for i in range(3):
            self.assert_pong(ws, str(i).encode())
        self.assert_echo(ws, BINARY, payload)
        self.close_cleanly(ws)

    def test_pong_between_fragments_ignored(self):
        ws = self.ws()
        ws.send_raw(build_frame(BINARY, b"ab", fin=False) + build_frame(PONG, b"x") + build_frame(CONT, b"cd"))
        self.assert_echo(ws, BINARY, b"abcd")
        self.close_cleanly(ws)

    def test_empty_fragments(self):
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"", fin=False) + build_frame(CONT, b"ab", fin=False) +
                    build_frame(CONT, b"", fin=False) + build_frame(CONT, b"c", fin=False) + build_frame(CONT, b""))
        self.assert_echo(ws, TEXT, b"abc")
        ws.send_raw(build_frame(BINARY, b"", fin=False) + build_frame(CONT, b""))
        self.assert_echo(ws, BINARY, b"")
        self.close_cleanly(ws)

    def test_close_between_fragments_is_a_clean_close(self):
        """A close frame may come between fragments (§5.4): the close is answered, the incomplete
        message is not echoed."""
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"half", fin=False) + build_frame(CLOSE, close_payload(1000)))
        self.assert_closed_with(ws, 1000)

    def test_messages_after_fragmented_message(self):
        """After a fragmented message ends, a new one may start with any opcode."""
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"a", fin=False) + build_frame(CONT, b"b") +
                    build_frame(BINARY, b"c", fin=False) + build_frame(CONT, b"d") + build_frame(TEXT, b"e"))
        self.assert_echo(ws, TEXT, b"ab")
        self.assert_echo(ws, BINARY, b"cd")
        self.assert_echo(ws, TEXT, b"e")
        self.close_cleanly(ws)


class FragmentationErrors(ConformanceCase):
    def fail(self, bad: bytes, chop=None) -> None:
        ws = self.ws()
        ws.send_raw(PRELUDE + bad, chop=chop)
        self.assert_echo(ws, TEXT, PRELUDE_MESSAGE)
        self.assert_fails_with(ws, 1002)

    # -- fragmented control frames ----------------------------------------------------------------

    def test_fragmented_ping(self):
        self.fail(build_frame(PING, b"a", fin=False) + build_frame(CONT, b"b"))

    def test_fragmented_ping_header_only(self):
        """Rejected from the header alone: the payload of the FIN=0 ping is never sent."""
        self.fail(build_frame(PING, b"", fin=False, length=5))

    def test_fragmented_pong(self):
        self.fail(build_frame(PONG, b"a", fin=False))

    def test_fragmented_close(self):
        self.fail(build_frame(CLOSE, close_payload(1000), fin=False))

    def test_fragmented_close_header_only(self):
        self.fail(build_frame(CLOSE, b"", fin=False, length=2))

    def test_fragmented_ping_inside_fragmented_message(self):
        self.fail(build_frame(TEXT, b"abc", fin=False) + build_frame(PING, b"p", fin=False))

    def test_fragmented_close_inside_fragmented_message(self):
        self.fail(build_frame(BINARY, b"abc", fin=False) + build_frame(CLOSE, close_payload(1000), fin=False))

    def test_fragmented_ping_one_byte_at_a_time(self):
        self.fail(build_frame(PING, b"a", fin=False) + build_frame(CONT, b"b"), chop=1)

    # -- continuation without a start -------------------------------------------------------------

    def test_continuation_without_start(self):
        self.fail(build_frame(CONT, b"orphan", fin=False))

    def test_final_continuation_without_start(self):
        self.fail(build_frame(CONT, b"orphan", fin=True))

    def test_empty_continuation_without_start(self):
        self.fail(build_frame(CONT, b""))

    def test_continuation_without_start_header_only(self):
        self.fail(build_frame(CONT, b"", length=1000))

    def test_continuation_after_final_fragment(self):
        """The message ended with FIN=1; one more continuation has nothing to continue."""
        ws = self.ws()
        ws.send_raw(build_frame(TEXT, b"ab", fin=False) + build_frame(CONT, b"cd") + build_frame(CONT, b"ef"))
        self.assert_echo(ws, TEXT, b"abcd")
        self.assert_fails_with(ws, 1002)

    def test_continuation_after_single_frame_message(self):
        ws = self.ws()
        ws.send_raw(build_frame(BINARY, b"whole") + build_frame(CONT, b"more"))
        self.assert_echo(ws, BINARY, b"whole")
        self.assert_fails_with(ws, 1002)

    def test_continuation_without_start_one_byte_at_a_time(self):
        self.fail(build_frame(CONT, b"orphan"), chop=1)

    # -- new data frame inside a fragmented message --------------------------------------------------

    def test_text_inside_fragmented_text(self):
        self.fail(build_frame(TEXT, b"a", fin=False) + build_frame(TEXT, b"b"))

    def test_binary_inside_fragmented_text(self):
        self.fail(build_frame(TEXT, b"a", fin=False) + build_frame(BINARY, b"b"))

    def test_text_inside_fragmented_binary(self):
        self.fail(build_frame(BINARY, b"a", fin=False) + build_frame(TEXT, b"b", fin=False))

    def test_binary_inside_fragmented_binary(self):
        self.fail(build_frame(BINARY, b"a", fin=False) + build_frame(BINARY, b"b", fin=False))

    def test_new_frame_after_several_fragments(self):
        self.fail(build_frame(TEXT, b"a", fin=False) + build_frame(CONT, b"b", fin=False) +
                  build_frame(CONT, b"c", fin=False) + build_frame(TEXT, b"d"))

    def test_new_frame_inside_fragmented_message_header_only(self):
        self.fail(build_frame(TEXT, b"a", fin=False) + build_frame(BINARY, b"", length=100000))

    def test_new_frame_inside_fragmented_message_one_byte_at_a_time(self):
        self.fail(build_frame(BINARY, b"a", fin=False) + build_frame(TEXT, b"b"), chop=1)

    def test_new_frame_after_ping_inside_fragmented_message(self):
        """The interleaved ping is answered, then the protocol error is reported."""
        ws = self.ws()
        ws.send_raw(PRELUDE + build_frame(TEXT, b"a", fin=False) + build_frame(PING, b"p") + build_frame(TEXT, b"b"))
        self.assert_echo(ws, TEXT, PRELUDE_MESSAGE)
        self.assert_pong(ws, b"p")
        self.assert_fails_with(ws, 1002)


if __name__ == "__main__":
    main()
