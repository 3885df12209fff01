#!/usr/bin/python3
"""Several chat servers, one Redis: the Redis channel layer end to end (issue 9).

    /usr/bin/python3 tests/scripts/test_chat_cluster.py --binary build/bin/chat

Each test starts its own redis-server (tests/scripts/redis_testlib.py: a free loopback port, a
temporary directory, stopped by its PID) and two or three examples/chat processes on ephemeral
ports with NEXIOS_CHANNEL_LAYER pointing at it, and talks to them with the `websockets` client.
Membership expires after 1.5 s here (membership_ttl in the URL) so a killed server drops out
fast. Nothing sleeps for a fixed time: every wait is for a message or a state, with a deadline.
"""

import asyncio
import json
import os
import signal
import socket
import sys
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402  (Debian's python3-websockets)

from nexios_testlib import EchoServer, HttpConnection, find_binary, main, poll_until  # noqa: E402
from redis_testlib import RedisServer  # noqa: E402

OP_TIMEOUT = 10.0
MEMBERSHIP_TTL = 1.5  # seconds (the layer refreshes every third of it)
SENTINEL = "sentinel-"


def unique_room(tag: str = "room") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


def http_get(port: int, path: str):
    with HttpConnection(port) as c:
        c.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        return c.read_response()


def rooms(port: int) -> dict:
    res = http_get(port, "/api/chat/rooms")
    assert res.status == 200, (res.status, res.body)
    return {r["room_id"]: r for r in json.loads(res.body)}


def metric(port: int, name: str) -> float:
    res = http_get(port, "/metrics")
    assert res.status == 200
    for line in res.body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{}"):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def layer_url(redis: RedisServer, **options) -> str:
    opts = {"membership_ttl": f"{int(MEMBERSHIP_TTL * 1000)}ms", "reconnect_max": "500ms", **options}
    return redis.url + "?" + "&".join(f"{k}={v}" for k, v in opts.items())


class ChatServer(EchoServer):
    """examples/chat on the Redis layer."""

    def __init__(self, url: str, threads: int = 2):
        super().__init__(threads=threads, env={"NEXIOS_CHANNEL_LAYER": url})


class Member:
    """One chat connection that reads past other clients' sentinels."""

    def __init__(self, ws):
        self.ws = ws
        self.join = None
        self.history = []

    @classmethod
    async def join_room(cls, port: int, room: str, username: str) -> "Member":
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/chat/{room}?username={urllib.parse.quote(username)}",
                                      ping_interval=None, open_timeout=OP_TIMEOUT, close_timeout=OP_TIMEOUT,
                                      compression=None)
        m = cls(ws)
        raw = await m.recv_raw()
        m.join = json.loads(raw)
        assert m.join["type"] == "system" and m.join["action"] == "join" and m.join["username"] == username, m.join
        # The replay of the room's history ends with the copy of this join message.
        while True:
            r = await m.recv_raw()
            m.history.append(json.loads(r))
            if r == raw:
                break
        return m

    @property
    def user_id(self) -> str:
        return self.join["user_id"]

    async def recv_raw(self, timeout: float = OP_TIMEOUT) -> str:
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
            msg = json.loads(raw)
            if not (msg.get("type") == "typing" and str(msg.get("is_typing")).startswith(SENTINEL)):
                return raw

    async def recv(self, timeout: float = OP_TIMEOUT) -> dict:
        return json.loads(await self.recv_raw(timeout))

    async def send(self, obj) -> None:
        await asyncio.wait_for(self.ws.send(json.dumps(obj)), OP_TIMEOUT)

    async def quiet(self) -> None:
        """Nothing else is on its way: its own sentinel (sent through the room, so through Redis
        for the members elsewhere) is the next message it gets."""
        marker = SENTINEL + uuid.uuid4().hex
        await self.send({"type": "typing", "is_typing": marker})
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), OP_TIMEOUT)
            msg = json.loads(raw)
            if msg.get("type") == "typing" and msg.get("is_typing") == marker:
                return
            if msg.get("type") == "typing" and str(msg.get("is_typing")).startswith(SENTINEL):
                continue
            raise AssertionError(f"unexpected message before the sentinel: {msg}")

    async def messages(self, n: int) -> list:
        """The next `n` chat messages (joins and leaves of others are skipped)."""
        out = []
        while len(out) < n:
            m = await self.recv()
            if m["type"] == "message":
                out.append(m)
        return out

    async def close(self) -> None:
        await self.ws.close()


class ClusterTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.redis = RedisServer()
        self.redis.start()
        self.servers = []

    def tearDown(self) -> None:
        for s in self.servers:
            s.kill()  # (releases its pipes; stopped ones were checked by their test)
        self.redis.stop()

    def start_server(self, url=None, threads: int = 2) -> ChatServer:
        s = ChatServer(url or layer_url(self.redis), threads=threads)
        s.start()
        self.servers.append(s)
        return s

    def run_async(self, coro):
        try:
            return asyncio.run(asyncio.wait_for(coro, 60))
        except BaseException:
            for i, s in enumerate(self.servers):  # what the servers said, for the failure report
                sys.stderr.write(f"--- chat server {i} (port {s.port}) stderr ---\n")
                sys.stderr.write(s.full_stderr().decode(errors="replace")[-6000:])
            sys.stderr.write("--- redis log ---\n" + self.redis.log()[-3000:])
            raise


class CrossServerChat(ClusterTestCase):
    def test_one_room_on_three_servers_every_message_once_in_order(self):
        servers = [self.start_server() for _ in range(3)]
        room = unique_room()

        async def scenario():
            members = []
            for i, s in enumerate(servers):
                members.append(await Member.join_room(s.port, room, f"user{i}"))
                for earlier in members[:-1]:  # everyone hears each join, wherever it happened
                    j = await earlier.recv()
                    self.assertEqual((j["action"], j["username"]), ("join", f"user{i}"))
            per_sender = 20
            for k in range(per_sender):
                for i, m in enumerate(members):
                    await m.send({"type": "message", "content": f"{i}:{k}"})
            for m in members:
                got = await m.messages(per_sender * len(members))
                contents = [g["content"] for g in got]
                self.assertEqual(len(set(contents)), len(contents), "a message arrived twice")
                for i in range(len(members)):
                    mine = [c for c in contents if c.startswith(f"{i}:")]
                    self.assertEqual(mine, [f"{i}:{k}" for k in range(per_sender)], "out of order or missing")
            for m in members:
                await m.quiet()
            # The room is one room: /api/chat/rooms on any server lists every member.
            for s in servers:
                r = rooms(s.port)[room]
                self.assertEqual(r["user_count"], 3)
                self.assertEqual(sorted(r["users"]), ["user0", "user1", "user2"])
            for m in members:
                await m.close()

        self.run_async(scenario())

    def test_history_is_the_same_on_every_server_and_after_a_restart(self):
        a, b = self.start_server(), self.start_server()
        room = unique_room()

        async def scenario():
            m = await Member.join_room(a.port, room, "writer")
            for k in range(5):
                await m.send({"content": f"saved {k}"})
            await m.messages(5)
            # A newcomer on the other server gets the same history (its own join last).
            n = await Member.join_room(b.port, room, "reader")
            self.assertEqual([h.get("content") for h in n.history if h["type"] == "message"],
                             [f"saved {k}" for k in range(5)])
            self.assertEqual(n.history[0], m.join)  # the writer's join, then its messages
            await n.close()
            await m.close()
            return n.history[:-1]

        before = self.run_async(scenario())
        # Every server restarted: the history lives in Redis.
        for s in (a, b):
            s.stop_and_check(self)
        c = self.start_server()

        async def after():
            m = await Member.join_room(c.port, room, "late")
            saved = [h for h in m.history if h["type"] == "message"]
            self.assertEqual([h["content"] for h in saved], [f"saved {k}" for k in range(5)])
            self.assertEqual(m.history[:len(before)], before)
            await m.close()

        self.run_async(after())

    def test_a_killed_server_drops_out_of_member_lists(self):
        a, b = self.start_server(), self.start_server()
        room = unique_room()

        async def scenario():
            ma = await Member.join_room(a.port, room, "stays")
            mb = await Member.join_room(b.port, room, "killed")
            await ma.recv()  # the join of "killed"
            self.assertEqual(rooms(a.port)[room]["user_count"], 2)
            os.kill(b.proc.pid, signal.SIGKILL)
            b.proc.wait(10)
            started = time.monotonic()
            self.assertTrue(poll_until(lambda: rooms(a.port).get(room, {}).get("user_count") == 1,
                                       MEMBERSHIP_TTL * 4 + 5), rooms(a.port))
            self.assertLess(time.monotonic() - started, MEMBERSHIP_TTL * 4 + 5)
            self.assertEqual(rooms(a.port)[room]["users"], ["stays"])
            await ma.close()
            del mb

        self.run_async(scenario())


class RedisFailures(ClusterTestCase):
    def test_redis_restart_mid_conversation(self):
        a, b = self.start_server(), self.start_server()
        room = unique_room()

        async def scenario():
            ma = await Member.join_room(a.port, room, "alice")
            mb = await Member.join_room(b.port, room, "bob")
            await ma.recv()  # bob's join
            await ma.send({"content": "before"})
            self.assertEqual((await mb.messages(1))[0]["content"], "before")
            await ma.messages(1)

            self.redis.kill()
            self.assertTrue(poll_until(lambda: metric(a.port, "nexios_channel_layer_up") == 0, 10))
            # Local delivery keeps working; the message is counted as not reaching bob's server.
            lost_before = metric(a.port, "nexios_channel_layer_not_published_total")
            await ma.send({"content": "during"})
            self.assertEqual((await ma.messages(1))[0]["content"], "during")
            self.assertTrue(poll_until(
                lambda: metric(a.port, "nexios_channel_layer_not_published_total") > lost_before, 10))

            self.redis.restart()
            for s in (a, b):
                self.assertTrue(poll_until(lambda s=s: metric(s.port, "nexios_channel_layer_up") == 1, 15))
                self.assertGreaterEqual(metric(s.port, "nexios_channel_layer_reconnects_total"), 1)
            # Delivery across servers resumes, and the membership was written again.
            await ma.send({"content": "after"})
            got = await mb.messages(1)
            self.assertEqual(got[0]["content"], "after", "bob must not get 'during' (it never left alice's server)")
            await ma.messages(1)
            self.assertTrue(poll_until(lambda: rooms(b.port).get(room, {}).get("user_count") == 2, 10))
            await ma.close()
            await mb.close()

        self.run_async(scenario())

    def test_a_foreign_publisher_writing_garbage_is_counted_and_ignored(self):
        a, b = self.start_server(), self.start_server()
        room = unique_room()

        async def scenario():
            ma = await Member.join_room(a.port, room, "alice")
            mb = await Member.join_room(b.port, room, "bob")
            await ma.recv()
            garbage = [b"", b"hello", b"nx1|m|", b"nx1|m|x|j|0|" + b"a" * 36 + b"|1|1|{not json",
                       b"nx1|m|x|t|0||1|1|\xff\xfe", b"nx1|q|x|y", b"\x00" * 100, os.urandom(300),
                       b"nx1|s|x|1|j|nochannel|{}", b"nx1|a|x|notanumber|1"]
            for g in garbage:
                self.redis.publish(f"nexios:g:chat_room_{room}", g)
                self.redis.publish("nexios:all", g)
            self.assertTrue(poll_until(lambda: metric(b.port, "nexios_channel_layer_malformed_total") >= 8, 10))
            await ma.send({"content": "still fine"})
            self.assertEqual((await mb.messages(1))[0]["content"], "still fine")
            await mb.quiet()  # none of the garbage reached a client
            self.assertTrue(a.alive() and b.alive())
            await ma.close()
            await mb.close()

        self.run_async(scenario())


class NotificationsAcrossServers(ClusterTestCase):
    """examples/notifications on two servers: send_to reaches a subscriber on the other one."""

    def start_notifications(self) -> EchoServer:
        # Next to the chat binary unless told otherwise.
        binary = os.environ.get("NEXIOS_NOTIFICATIONS_BIN") or os.path.join(os.path.dirname(find_binary()),
                                                                            "notifications")
        s = EchoServer(binary=binary, env={"NEXIOS_CHANNEL_LAYER": layer_url(self.redis)})
        s.start()
        self.servers.append(s)
        return s

    def test_send_to_and_group_send_across_servers(self):
        a, b = self.start_notifications(), self.start_notifications()

        async def scenario():
            ws = await websockets.connect(f"ws://127.0.0.1:{a.port}/ws/notifications", ping_interval=None,
                                          open_timeout=OP_TIMEOUT, compression=None)
            hello = json.loads(await asyncio.wait_for(ws.recv(), OP_TIMEOUT))
            self.assertEqual(hello["type"], "subscribed")

            def post(body):
                with HttpConnection(b.port) as c:
                    raw = json.dumps(body).encode()
                    c.send(b"POST /api/notify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           b"Connection: close\r\nContent-Length: " + str(len(raw)).encode() + b"\r\n\r\n" + raw)
                    res = c.read_response()
                    return res.status, json.loads(res.body)

            self.assertTrue(poll_until(lambda: json.loads(http_get(b.port, "/api/notify/subscribers").body)
                                       ["subscribers"] == 1, 10))
            status, data = await asyncio.to_thread(post, {"message": "to you", "to": hello["channel_id"]})
            self.assertEqual((status, data), (200, {"status": "SENT"}))
            self.assertEqual(json.loads(await asyncio.wait_for(ws.recv(), OP_TIMEOUT)),
                             {"type": "alert", "message": "to you"})
            status, data = await asyncio.to_thread(post, {"message": "x", "to": "00000000-0000-4000-8000-000000000000"})
            self.assertEqual((status, data), (200, {"status": "NO_SUCH_CHANNEL"}))
            # A broadcast from b, which has no subscriber of its own, reaches a's.
            status, data = await asyncio.to_thread(post, {"message": "everyone"})
            self.assertEqual(status, 200)
            self.assertEqual(data, {"status": "GROUP_SEND", "delivered": 0, "dropped": 0, "published": True,
                                    "servers": 1})
            self.assertEqual(json.loads(await asyncio.wait_for(ws.recv(), OP_TIMEOUT))["message"], "everyone")
            await ws.close()

        self.run_async(scenario())


class RedisWithPassword(unittest.TestCase):
    def test_right_password_works_and_a_wrong_one_is_a_clear_error_at_startup(self):
        with RedisServer(password="s3cret-pass") as redis:
            wrong = redis.url.replace("s3cret-pass", "nope")
            self.assertNotEqual(wrong, redis.url)
            bad = ChatServer(wrong)
            with self.assertRaises(AssertionError):
                bad.start()
            self.assertNotEqual(bad.proc.wait(10), 0)
            self.assertIn(b"WRONGPASS", bad.full_stderr())
            self.assertNotIn(b"nope", bad.full_stderr(), "the password must not be logged")
            bad.kill()

            good = ChatServer(layer_url(redis)).start()
            try:
                room = unique_room()

                async def scenario():
                    m = await Member.join_room(good.port, room, "pw")
                    await m.send({"content": "x"})
                    await m.messages(1)
                    await m.close()

                try:
                    asyncio.run(scenario())
                except BaseException:
                    sys.stderr.write(good.full_stderr().decode(errors="replace"))
                    raise
            finally:
                good.stop_and_check(self)

    def test_unreachable_redis_at_startup(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        bad = ChatServer(f"redis://127.0.0.1:{port}/0?connect_timeout=2s")
        with self.assertRaises(AssertionError):
            bad.start()
        self.assertNotEqual(bad.proc.wait(10), 0)
        self.assertIn(f"127.0.0.1:{port}".encode(), bad.full_stderr())
        bad.kill()


if __name__ == "__main__":
    main()
