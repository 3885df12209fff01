#!/usr/bin/python3
"""Black-box tests of examples/rooms, the seeds' class-based ChatRoom consumer
(`WebSocketEndpoint`, encoding "json") at /room/{room_id}?username=NAME.

    /usr/bin/python3 tests/scripts/test_rooms.py --binary build-ex/bin/rooms

Each test uses rooms of its own. "Nothing else arrived" is checked with a sentinel: a chat message
with a unique content, which must be the next message the client receives.
"""

import asyncio
import json
import os
import socket
import struct
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402  (Debian's python3-websockets)

from nexios_testlib import HttpConnection, RawWebSocket, ServerTestCase, TEXT, main  # noqa: E402
from page_checks import check_page  # noqa: E402

OP_TIMEOUT = 10.0
SYSTEM_KEYS = {"type", "message", "timestamp", "users"}
CHAT_KEYS = {"type", "user", "message", "timestamp"}


def unique_room(tag: str = "room") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


def history(port: int, room: str) -> list:
    with HttpConnection(port) as c:
        c.send(f"GET /api/rooms/{room}/history HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        res = c.read_response()
    assert res.status == 200, (res.status, res.body)
    return json.loads(res.body)


class Client:
    def __init__(self, ws, user):
        self.ws = ws
        self.user = user

    @classmethod
    async def open(cls, port: int, room: str, username=None) -> "Client":
        query = "" if username is None else "?username=" + urllib.parse.quote(username)
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/room/{room}{query}", ping_interval=None,
                                      open_timeout=OP_TIMEOUT, close_timeout=OP_TIMEOUT, compression=None)
        return cls(ws, username or "anonymous")

    async def recv(self, timeout: float = OP_TIMEOUT) -> dict:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(raw, str), f"expected text, got {raw!r}"
        return json.loads(raw)

    async def send(self, obj) -> None:
        await asyncio.wait_for(self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj)), OP_TIMEOUT)

    async def say(self, content) -> None:
        await self.send({"type": "message", "content": content})

    async def close(self) -> None:
        await asyncio.wait_for(self.ws.close(), OP_TIMEOUT)


class RoomsTestCase(ServerTestCase):
    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 120))

    def assert_timestamp(self, ts):
        self.assertIsInstance(ts, float)
        self.assertLess(abs(ts - time.time()), 60.0)

    def assert_system(self, msg, text, users):
        self.assertEqual(set(msg), SYSTEM_KEYS, msg)
        self.assertEqual(msg["type"], "system")
        self.assertEqual(msg["message"], text)
        self.assertEqual(msg["users"], users)
        self.assertIsInstance(msg["users"], int)
        self.assert_timestamp(msg["timestamp"])

    def assert_chat(self, msg, user, content):
        self.assertEqual(set(msg), CHAT_KEYS, msg)
        self.assertEqual(msg["type"], "chat")
        self.assertEqual(msg["user"], user)
        self.assertEqual(msg["message"], content)
        self.assert_timestamp(msg["timestamp"])

    async def join(self, room, username, others=()):
        """Opens a client and checks the join announcement reaches it and every one of `others`."""
        c = await Client.open(self.port, room, username)
        name = username or "anonymous"
        expected_users = len(others) + 1
        self.assert_system(await c.recv(), f"{name} joined the chat", expected_users)
        for o in others:
            self.assert_system(await o.recv(), f"{name} joined the chat", expected_users)
        return c

    async def assert_quiet(self, sender: Client, *clients: Client):
        """A unique chat message from `sender` is the next message of every client."""
        marker = "sentinel-" + uuid.uuid4().hex
        await sender.say(marker)
        for c in clients:
            msg = await c.recv()
            self.assertEqual(msg.get("message"), marker, f"unexpected message {msg}")


class Joining(RoomsTestCase):
    def test_join_announced_with_user_counts(self):
        async def run():
            room = unique_room()
            alice = await self.join(room, "alice")
            bob = await self.join(room, "bob", [alice])
            carol = await self.join(room, "carol", [alice, bob])
            await self.assert_quiet(alice, alice, bob, carol)
            for c in (alice, bob, carol):
                await c.close()

        self.run_async(run())

    def test_default_username_is_anonymous(self):
        async def run():
            room = unique_room()
            a = await Client.open(self.port, room)
            self.assert_system(await a.recv(), "anonymous joined the chat", 1)
            b = await Client.open(self.port, room, "")
            self.assert_system(await b.recv(), "anonymous joined the chat", 2)
            await a.recv()
            await a.close()
            await b.close()

        self.run_async(run())


class Chatting(RoomsTestCase):
    def test_message_broadcast_as_chat(self):
        async def run():
            room = unique_room()
            alice = await self.join(room, "alice")
            bob = await self.join(room, "bob", [alice])
            await alice.say("hi bob")
            for c in (alice, bob):
                self.assert_chat(await c.recv(), "alice", "hi bob")
            await bob.say("héllo 😀")
            for c in (alice, bob):
                self.assert_chat(await c.recv(), "bob", "héllo 😀")
            # Any JSON content is passed through.
            await alice.say({"rich": [1, 2]})
            for c in (alice, bob):
                self.assert_chat(await c.recv(), "alice", {"rich": [1, 2]})
            await self.assert_quiet(alice, alice, bob)
            for c in (alice, bob):
                await c.close()

        self.run_async(run())

    def test_other_messages_are_ignored(self):
        async def run():
            room = unique_room()
            alice = await self.join(room, "alice")
            for ignored in ({"type": "typing"}, {"content": "no type"}, {"type": "message"}, [1, 2], 42, "text",
                            None):
                await alice.send(json.dumps(ignored))
            await self.assert_quiet(alice, alice)
            await alice.close()

        self.run_async(run())

    def test_json_in_a_binary_frame_is_accepted(self):
        async def run():
            room = unique_room()
            alice = await self.join(room, "alice")
            await alice.send(json.dumps({"type": "message", "content": "binary"}).encode())
            self.assert_chat(await alice.recv(), "alice", "binary")
            await alice.close()

        self.run_async(run())

    def test_rooms_are_isolated(self):
        async def run():
            alice = await self.join(unique_room("x"), "alice")
            bob = await self.join(unique_room("y"), "bob")
            await alice.say("only x")
            self.assert_chat(await alice.recv(), "alice", "only x")
            await self.assert_quiet(bob, bob)
            await alice.close()
            await bob.close()

        self.run_async(run())

    def test_everything_is_saved_in_history(self):
        async def run():
            room = unique_room()
            alice = await self.join(room, "alice")
            bob = await self.join(room, "bob", [alice])
            await alice.say("one")
            for c in (alice, bob):
                await c.recv()
            await bob.close()
            self.assert_system(await alice.recv(), "bob left the chat", 1)
            saved = history(self.port, room)
            self.assertEqual([m["message"] for m in saved],
                             ["alice joined the chat", "bob joined the chat", "one", "bob left the chat"])
            self.assertEqual([m.get("users") for m in saved], [1, 2, None, 1])
            await alice.close()

        self.run_async(run())


class Leaving(RoomsTestCase):
    def test_leave_on_close_counts_the_others(self):
        async def run():
            room = unique_room()
            alice = await self.join(room, "alice")
            bob = await self.join(room, "bob", [alice])
            carol = await self.join(room, "carol", [alice, bob])
            await carol.close()
            for c in (alice, bob):
                self.assert_system(await c.recv(), "carol left the chat", 2)
            await bob.close()
            self.assert_system(await alice.recv(), "bob left the chat", 1)
            # The count is right for the next one to join: the leavers left the group.
            dave = await self.join(room, "dave", [alice])
            await self.assert_quiet(alice, alice, dave)
            await dave.close()
            self.assert_system(await alice.recv(), "dave left the chat", 1)
            await alice.close()

        self.run_async(run())

    def test_leave_on_abrupt_tcp_drop(self):
        for how in ("fin", "reset"):
            with self.subTest(how=how):
                async def run():
                    room = unique_room()
                    alice = await self.join(room, "alice")
                    raw = await asyncio.to_thread(RawWebSocket, self.port, f"/room/{room}?username=bob", OP_TIMEOUT)
                    op, payload = await asyncio.to_thread(raw.recv_message)
                    self.assertEqual(op, TEXT)
                    self.assert_system(json.loads(payload), "bob joined the chat", 2)
                    self.assert_system(await alice.recv(), "bob joined the chat", 2)
                    if how == "reset":
                        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    raw.sock.close()
                    self.assert_system(await alice.recv(), "bob left the chat", 1)
                    await self.assert_quiet(alice, alice)
                    await alice.close()

                self.run_async(run())

    def test_invalid_json_closes_with_1003(self):
        async def run():
            room = unique_room()
            alice = await self.join(room, "alice")
            bob = await self.join(room, "bob", [alice])
            await bob.send("this is not JSON")
            with self.assertRaises(websockets.ConnectionClosed):
                while True:
                    await bob.recv()
            self.assertEqual(bob.ws.close_code, 1003)
            self.assert_system(await alice.recv(), "bob left the chat", 1)
            await self.assert_quiet(alice, alice)
            await alice.close()

        self.run_async(run())

    def test_invalid_json_raw_close_frame(self):
        """The same through a raw client: the server's close frame carries 1003."""
        room = unique_room()
        with RawWebSocket(self.port, f"/room/{room}?username=raw", OP_TIMEOUT) as ws:
            ws.recv_message()  # the join announcement
            ws.send_text("{broken")
            frame = ws.recv_close()
            self.assertEqual(frame.close_code, 1003)


class Page(RoomsTestCase):
    def test_page_is_served_with_a_strict_content_security_policy(self):
        check_page(self, self.port, html_contains=('id="log"',), js_contains=("/room/",))


if __name__ == "__main__":
    main()
