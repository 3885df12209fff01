#!/usr/bin/python3
"""Echo of text and binary messages through the `websockets` client (and the raw client for the
largest sizes): sizes around every length encoding boundary, 1/4/16 MiB, many round trips and
many concurrent clients."""

import asyncio
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402  (Debian's python3-websockets)

from nexios_testlib import (  # noqa: E402
    BINARY, CLOSE, TEXT, RawWebSocket, ServerTestCase, main)
from page_checks import check_page  # noqa: E402

MiB = 1024 * 1024
SIZES = [0, 1, 125, 126, 127, 128, 65535, 65536, 1 * MiB, 4 * MiB, 16 * MiB]
OP_TIMEOUT = 20.0


def text_of(n: int, seed: int = 0) -> str:
    """A str whose UTF-8 encoding is exactly n bytes, mixing 1-, 2-, 3- and 4-byte characters."""
    rng = random.Random(seed)
    alphabet = ["a", "Z", "0", " ", "é", "ß", "€", "✓", "😀", "𝄞"]
    chunk = []
    size = 0
    # A fixed 64 KiB pattern repeated keeps building 16 MiB strings fast.
    while size < min(n, 65536):
        c = rng.choice(alphabet)
        chunk.append(c)
        size += len(c.encode())
    pattern = "".join(chunk)
    out = pattern * (n // max(1, len(pattern.encode())) + 1) if n else ""
    data = out.encode()[:n]
    # Cut at a character boundary, then pad with ASCII to exactly n bytes.
    text = data.decode("utf-8", errors="ignore")
    text += "x" * (n - len(text.encode()))
    assert len(text.encode()) == n
    return text


def connect(port: int, path: str = "/ws"):
    return websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None, ping_interval=None,
                              open_timeout=OP_TIMEOUT, close_timeout=OP_TIMEOUT, compression=None)


async def with_timeout(coro, timeout: float = OP_TIMEOUT):
    return await asyncio.wait_for(coro, timeout)


class EchoSizes(ServerTestCase):
    def _roundtrip(self, message, path="/ws"):
        async def run():
            async with connect(self.port, path) as ws:
                await with_timeout(ws.send(message))
                reply = await with_timeout(ws.recv())
                await with_timeout(ws.close())
                return reply, ws.close_code

        return asyncio.run(run())

    def test_text_sizes(self):
        for n in SIZES:
            with self.subTest(bytes=n):
                msg = text_of(n, seed=n)
                reply, code = self._roundtrip(msg)
                self.assertIsInstance(reply, str, "a text message must come back as text")
                self.assertEqual(len(reply.encode()), n)
                self.assertTrue(reply == msg, f"text echo of {n} bytes differs")
                self.assertEqual(code, 1000)

    def test_binary_sizes(self):
        for n in SIZES:
            with self.subTest(bytes=n):
                msg = os.urandom(n)
                reply, code = self._roundtrip(msg)
                self.assertIsInstance(reply, bytes, "a binary message must come back as binary")
                self.assertEqual(len(reply), n)
                self.assertTrue(reply == msg, f"binary echo of {n} bytes differs")
                self.assertEqual(code, 1000)

    def test_exact_limit_raw(self):
        """16 MiB (exactly max_message_size) through the raw client, text and binary, one write."""
        payload = b"A" * (16 * MiB)
        with RawWebSocket(self.port, timeout=OP_TIMEOUT) as ws:
            ws.send_frame(BINARY, payload)
            op, data = ws.recv_message()
            self.assertEqual(op, BINARY)
            self.assertTrue(data == payload)
            ws.send_frame(TEXT, payload)
            op, data = ws.recv_message()
            self.assertEqual(op, TEXT)
            self.assertTrue(data == payload)
            ws.send_close(1000)
            self.assertEqual(ws.recv_close().close_code, 1000)
            ws.wait_eof()

    def test_many_messages_one_connection(self):
        """Messages of every size, alternating text and binary, on one connection."""
        async def run():
            async with connect(self.port) as ws:
                for i, n in enumerate(SIZES[:8] * 3):
                    msg = text_of(n, seed=i) if i % 2 else os.urandom(n)
                    await with_timeout(ws.send(msg))
                    self.assertEqual(await with_timeout(ws.recv()), msg)

        asyncio.run(run())


class EchoLoad(ServerTestCase):
    def test_1000_sequential_round_trips(self):
        async def run():
            async with connect(self.port) as ws:
                for i in range(1000):
                    msg = f"message {i}" if i % 2 == 0 else i.to_bytes(4, "big") * (i % 7)
                    await ws.send(msg)
                    reply = await with_timeout(ws.recv())
                    self.assertEqual(reply, msg, f"round trip {i}")
                await ws.close()
                self.assertEqual(ws.close_code, 1000)

        asyncio.run(with_timeout(run(), 60))

    def test_pipelined_messages_keep_order(self):
        """500 messages sent without waiting come back complete and in order."""
        async def run():
            async with connect(self.port) as ws:
                msgs = [f"{i}:" + "x" * (i % 300) for i in range(500)]
                for m in msgs:
                    await ws.send(m)
                for i, m in enumerate(msgs):
                    self.assertEqual(await with_timeout(ws.recv()), m, f"message {i}")

        asyncio.run(with_timeout(run(), 60))

    def test_20_concurrent_clients_interleaved(self):
        clients, rounds = 20, 50

        async def client(k: int, start: asyncio.Event):
            async with connect(self.port) as ws:
                await start.wait()
                for i in range(rounds):
                    msg = f"client {k} round {i}" if (i + k) % 2 else bytes([k, i]) * (1 + i * k % 200)
                    await ws.send(msg)
                    reply = await with_timeout(ws.recv())
                    self.assertEqual(reply, msg, f"client {k} round {i}")
                    # Let the other clients run between the round trips (interleaving).
                    await asyncio.sleep(0)
                await ws.close()
                return ws.close_code

        async def run():
            start = asyncio.Event()
            tasks = [asyncio.create_task(client(k, start)) for k in range(clients)]
            await asyncio.sleep(0)
            start.set()
            codes = await with_timeout(asyncio.gather(*tasks), 60)
            self.assertEqual(codes, [1000] * clients)

        asyncio.run(run())

    def test_concurrent_clients_with_pipelining(self):
        """20 clients each send 30 messages without waiting, then read them all back."""
        async def client(k: int):
            async with connect(self.port) as ws:
                msgs = [bytes([k]) * (k * 37 + i) for i in range(30)]
                for m in msgs:
                    await ws.send(m)
                for i, m in enumerate(msgs):
                    reply = await with_timeout(ws.recv())
                    self.assertEqual(reply, m, f"client {k} message {i}")

        async def run():
            await with_timeout(asyncio.gather(*(client(k) for k in range(20))), 60)

        asyncio.run(run())


class EchoClose(ServerTestCase):
    def test_close_after_echo_with_websockets_client(self):
        async def run():
            async with connect(self.port) as ws:
                await ws.send("bye soon")
                self.assertEqual(await with_timeout(ws.recv()), "bye soon")
                await with_timeout(ws.close(code=4000, reason="done"))
                self.assertEqual(ws.close_code, 4000)

        asyncio.run(run())

    def test_raw_close_frame_is_last(self):
        with RawWebSocket(self.port) as ws:
            ws.send_text("x")
            self.assertEqual(ws.recv_message(), (TEXT, b"x"))
            ws.send_close(1000)
            frame = ws.recv_frame()
            self.assertEqual(frame.opcode, CLOSE)
            ws.wait_eof()



class EchoPage(ServerTestCase):
    def test_page_is_served_with_a_strict_content_security_policy(self):
        check_page(self, self.port, html_contains=('id="log"',), js_contains=("/ws",))


if __name__ == "__main__":
    main()
