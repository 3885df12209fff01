#!/usr/bin/python3
"""Black-box tests of examples/notifications: WebSocket subscribers at /ws/notifications and
POST /api/notify broadcasting {"type":"alert","message":...} to all of them.

    /usr/bin/python3 tests/scripts/test_notifications.py --binary build-ex/bin/notifications

Subscribers share one group, so each test class has a server of its own and every test closes its
subscribers and waits (with a timeout) until the server counts none before the next one starts.
"""

import asyncio
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402  (Debian's python3-websockets)

from nexios_testlib import HttpConnection, RawWebSocket, ServerTestCase, TEXT, main, poll_until  # noqa: E402
from page_checks import check_page  # noqa: E402

OP_TIMEOUT = 10.0


def http(port: int, method: str, path: str, body: bytes = b"", content_type: str = "application/json"):
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if method == "POST":
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    with HttpConnection(port) as c:
        c.send(head.encode() + b"\r\n" + body)
        return c.read_response()


def notify(port: int, payload) -> tuple:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    res = http(port, "POST", "/api/notify", body)
    data = json.loads(res.body) if res.body else None
    return res.status, data


def subscribers(port: int) -> int:
    res = http(port, "GET", "/api/notify/subscribers")
    assert res.status == 200, res
    return json.loads(res.body)["subscribers"]


class Subscriber:
    def __init__(self, ws, hello):
        self.ws = ws
        self.hello = hello

    @classmethod
    async def open(cls, port: int) -> "Subscriber":
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/notifications", ping_interval=None,
                                      open_timeout=OP_TIMEOUT, close_timeout=OP_TIMEOUT, compression=None)
        # The first message says the subscriber is in the group: alerts from now on reach it.
        hello = json.loads(await asyncio.wait_for(ws.recv(), OP_TIMEOUT))
        return cls(ws, hello)

    async def recv(self) -> dict:
        raw = await asyncio.wait_for(self.ws.recv(), OP_TIMEOUT)
        assert isinstance(raw, str), raw
        return json.loads(raw)

    async def close(self) -> None:
        await asyncio.wait_for(self.ws.close(), OP_TIMEOUT)


class NotificationsTestCase(ServerTestCase):
    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 120))

    def setUp(self):
        super().setUp()
        self.wait_subscribers(0)

    def wait_subscribers(self, n: int, timeout: float = OP_TIMEOUT) -> None:
        """Waits until the server counts `n` subscribers (a connection's end is noticed by the
        server a moment after the client sees it)."""
        if not poll_until(lambda: subscribers(self.port) == n, timeout):
            self.fail(f"{subscribers(self.port)} subscribers after {timeout}s, expected {n}")

    def post_alert(self, message, delivered: int):
        status, data = notify(self.port, {"message": message})
        self.assertEqual(status, 200, data)
        self.assertEqual(data, {"status": "GROUP_SEND", "delivered": delivered, "dropped": 0, "published": False,
                                "servers": 0})


class Broadcast(NotificationsTestCase):
    def test_nobody_connected_is_no_such_group(self):
        status, data = notify(self.port, {"message": "hello?"})
        self.assertEqual(status, 200)
        self.assertEqual(data, {"status": "NO_SUCH_GROUP", "delivered": 0, "dropped": 0, "published": False,
                                "servers": 0})

    def test_subscribed_message(self):
        async def run():
            a = await Subscriber.open(self.port)
            self.assertEqual(a.hello, {"type": "subscribed", "group": "notifications", "subscribers": 1,
                                       "channel_id": a.hello["channel_id"]})
            self.assertRegex(a.hello["channel_id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            b = await Subscriber.open(self.port)
            self.assertEqual(b.hello["subscribers"], 2)
            await a.close()
            await b.close()

        self.run_async(run())

    def test_alert_reaches_every_subscriber(self):
        async def run():
            subs = [await Subscriber.open(self.port) for _ in range(5)]
            await asyncio.to_thread(self.post_alert, "System maintenance in 5 minutes", 5)
            for s in subs:
                self.assertEqual(await s.recv(), {"type": "alert", "message": "System maintenance in 5 minutes"})
            await asyncio.to_thread(self.post_alert, "héllo 😀 \"quoted\"\n", 5)
            for s in subs:
                self.assertEqual(await s.recv(), {"type": "alert", "message": "héllo 😀 \"quoted\"\n"})
            await asyncio.to_thread(self.post_alert, "", 5)
            for s in subs:
                self.assertEqual(await s.recv(), {"type": "alert", "message": ""})
            for s in subs:
                await s.close()

        self.run_async(run())

    def test_alerts_arrive_in_order(self):
        async def run():
            subs = [await Subscriber.open(self.port) for _ in range(20)]
            for i in range(10):
                await asyncio.to_thread(self.post_alert, f"alert {i}", 20)

            async def collect(s):
                return [(await s.recv())["message"] for _ in range(10)]

            results = await asyncio.gather(*(collect(s) for s in subs))
            for got in results:
                self.assertEqual(got, [f"alert {i}" for i in range(10)])
            for s in subs:
                await s.close()

        self.run_async(run())

    def test_what_subscribers_send_is_ignored(self):
        async def run():
            a = await Subscriber.open(self.port)
            await asyncio.wait_for(a.ws.send("hello server"), OP_TIMEOUT)
            await asyncio.wait_for(a.ws.send(b"\x00\x01"), OP_TIMEOUT)
            await asyncio.to_thread(self.post_alert, "still here", 1)
            self.assertEqual(await a.recv(), {"type": "alert", "message": "still here"})
            await a.close()

        self.run_async(run())


class Disconnects(NotificationsTestCase):
    def test_disconnected_subscribers_stop_receiving(self):
        async def run():
            keep = await Subscriber.open(self.port)
            closing = await Subscriber.open(self.port)
            dropped = await asyncio.to_thread(RawWebSocket, self.port, "/ws/notifications", OP_TIMEOUT)
            reset = await asyncio.to_thread(RawWebSocket, self.port, "/ws/notifications", OP_TIMEOUT)
            for raw in (dropped, reset):
                op, payload = await asyncio.to_thread(raw.recv_message)
                self.assertEqual(op, TEXT)
                self.assertEqual(json.loads(payload)["type"], "subscribed")
            await asyncio.to_thread(self.wait_subscribers, 4)
            await asyncio.to_thread(self.post_alert, "to all four", 4)
            self.assertEqual((await keep.recv())["message"], "to all four")
            self.assertEqual((await closing.recv())["message"], "to all four")

            await closing.close()                 # a clean close
            dropped.sock.close()                  # the TCP connection ends without a close frame
            reset.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            reset.sock.close()                    # the TCP connection is reset
            await asyncio.to_thread(self.wait_subscribers, 1)
            await asyncio.to_thread(self.post_alert, "to the last one", 1)
            self.assertEqual(await keep.recv(), {"type": "alert", "message": "to the last one"})

            await keep.close()
            await asyncio.to_thread(self.wait_subscribers, 0)
            status, data = notify(self.port, {"message": "nobody left"})
            self.assertEqual((status, data), (200, {"status": "NO_SUCH_GROUP", "delivered": 0, "dropped": 0,
                                                    "published": False, "servers": 0}))

        self.run_async(run())


class SendTo(NotificationsTestCase):
    def test_an_alert_to_one_subscriber_by_its_channel_id(self):
        async def run():
            a = await Subscriber.open(self.port)
            b = await Subscriber.open(self.port)
            status, data = await asyncio.to_thread(notify, self.port, {"message": "just you", "to": b.hello["channel_id"]})
            self.assertEqual((status, data), (200, {"status": "SENT"}))
            self.assertEqual(json.loads(await asyncio.wait_for(b.ws.recv(), OP_TIMEOUT)),
                             {"type": "alert", "message": "just you"})
            status, data = await asyncio.to_thread(notify, self.port,
                                                   {"message": "x", "to": "00000000-0000-4000-8000-000000000000"})
            self.assertEqual((status, data), (200, {"status": "NO_SUCH_CHANNEL"}))
            status, _ = await asyncio.to_thread(notify, self.port, {"message": "x", "to": 7})
            self.assertEqual(status, 400)
            # a got nothing of it: the next alert to everyone is the first thing it reads.
            await asyncio.to_thread(self.post_alert, "all", 2)
            self.assertEqual(json.loads(await asyncio.wait_for(a.ws.recv(), OP_TIMEOUT))["message"], "all")
            await a.ws.close()
            await b.ws.close()

        self.run_async(run())


class BadRequests(NotificationsTestCase):
    def test_bodies_without_a_string_message_are_400(self):
        for body in (b"", b"not json", b"{", b"[]", b"42", b'"message"', b"{}", b'{"msg": "x"}',
                     b'{"message": 42}', b'{"message": null}', b'{"message": ["a"]}', b'{"message": {"a": 1}}'):
            with self.subTest(body=body):
                status, data = notify(self.port, body)
                self.assertEqual(status, 400)
                self.assertIsInstance(data.get("error"), str)

    def test_a_bad_request_sends_nothing(self):
        async def run():
            a = await Subscriber.open(self.port)
            status, _ = await asyncio.to_thread(notify, self.port, {"message": 1})
            self.assertEqual(status, 400)
            await asyncio.to_thread(self.post_alert, "the good one", 1)
            self.assertEqual(await a.recv(), {"type": "alert", "message": "the good one"})
            await a.close()

        self.run_async(run())

    def test_extra_fields_are_fine(self):
        status, data = notify(self.port, {"message": "x", "level": "high"})
        self.assertEqual(status, 200)
        self.assertEqual(data["status"], "NO_SUCH_GROUP")

    def test_page_is_served_with_a_strict_content_security_policy(self):
        check_page(self, self.port, html_contains=('id="alerts"',), js_contains=("/ws/notifications", "/api/notify"))


if __name__ == "__main__":
    main()
