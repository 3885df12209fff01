#!/usr/bin/python3
"""Black-box tests of /metrics (app.enable_metrics) on the echo and chat examples.

    /usr/bin/python3 tests/scripts/test_metrics.py --binary build/bin/echo
    (the chat binary: $NEXIOS_CHAT_BIN, else next to the echo binary)

Every scrape is parsed by Prometheus' own parser (Debian's python3-prometheus-client), and the
tests check that values move as they should: messages and bytes, connections opened and closed,
refused handshakes by reason, close codes, HTTP status classes, event-loop lag per thread, and
the channel gauges. Counts the server updates after the client has seen the effect (a close, a
response) are waited for with poll_until, never with a fixed sleep.
"""

import asyncio
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402  (Debian's python3-websockets)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402  (python3-prometheus-client)

from nexios_testlib import (  # noqa: E402
    BINARY, TEXT, EchoServer, HttpConnection, RawWebSocket, ServerTestCase, build_frame, find_binary, main,
    poll_until, upgrade_request,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WAIT = 10.0


class Scrape:
    """One parsed scrape: the families by name and every sample by (name, labels)."""

    def __init__(self, text: str):
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {}
        for fam in self.families.values():
            for s in fam.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def value(self, name: str, **labels) -> float:
        """A sample's value; a labelled series not exposed yet (e.g. a close code never seen) is 0."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def series(self, name: str) -> dict:
        """{frozenset(labels): value} of every sample called `name`."""
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


def scrape(port: int) -> Scrape:
    with HttpConnection(port) as c:
        c.send(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        res = c.read_response()
    assert res.status == 200, res
    assert res.header("Content-Type") == CONTENT_TYPE, res.headers
    return Scrape(res.body.decode("utf-8"))


def http_get(port: int, path: str) -> int:
    with HttpConnection(port) as c:
        c.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        return c.read_response().status


class MetricsTestCase(ServerTestCase):
    def scrape(self) -> Scrape:
        return scrape(self.port)

    def wait_value(self, name: str, want: float, **labels) -> Scrape:
        """Scrapes until `name{labels}` equals `want`; returns that scrape."""
        last = {}

        def check():
            last["s"] = self.scrape()
            return last["s"].value(name, **labels) == want

        if not poll_until(check, WAIT):
            self.fail(f"{name}{labels} stayed {last['s'].value(name, **labels)}, expected {want}")
        return last["s"]

    def wait_for(self, predicate, what: str) -> Scrape:
        """Scrapes until `predicate(scrape)` holds; returns that scrape."""
        last = {}

        def check():
            last["s"] = self.scrape()
            return predicate(last["s"])

        if not poll_until(check, WAIT):
            self.fail(f"never: {what}")
        return last["s"]


class Format(MetricsTestCase):
    REQUIRED = {
        # name → type (counters without their _total, as the parser names the family)
        "nexios_connections_open": "gauge",
        "nexios_connections_open_by_kind": "gauge",
        "nexios_connections_accepted": "counter",
        "nexios_websocket_handshakes_accepted": "counter",
        "nexios_websocket_handshakes_rejected": "counter",
        "nexios_http_requests": "counter",
        "nexios_websocket_messages": "counter",
        "nexios_websocket_bytes": "counter",
        "nexios_websocket_closes": "counter",
        "nexios_websocket_send_queue_bytes": "gauge",
        "nexios_websocket_slow_consumer": "counter",
        "nexios_rate_limited": "counter",
        "nexios_channel_groups": "gauge",
        "nexios_channel_group_members": "gauge",
        "nexios_channel_history_entries": "gauge",
        "nexios_channel_history_bytes": "gauge",
        "nexios_group_send_duration_seconds": "histogram",
        "nexios_event_loop_last_lag_seconds": "gauge",
        "nexios_event_loop_lag_seconds": "histogram",
        "nexios_log_dropped": "counter",
        "nexios_process_start_time_seconds": "gauge",
    }

    def test_every_family_is_named_typed_and_documented(self):
        s = self.scrape()
        for name, typ in self.REQUIRED.items():
            with self.subTest(name=name):
                self.assertIn(name, s.families)
                self.assertEqual(s.families[name].type, typ)
                self.assertTrue(s.families[name].documentation)
        for fam in s.families.values():
            self.assertTrue(fam.name.startswith("nexios_"), fam.name)
            if fam.type == "counter":
                for sample in fam.samples:
                    self.assertTrue(sample.name.endswith("_total"), sample.name)
        for line in s.text.splitlines():
            if line.startswith("# TYPE "):
                self.assertIn(f"# HELP {line.split()[2]} ", s.text)

    def test_reasons_kinds_and_actions_are_all_exposed(self):
        s = self.scrape()
        reasons = {dict(l)["reason"] for l in s.series("nexios_websocket_handshakes_rejected_total")}
        self.assertEqual(reasons, {"not_found", "bad_request", "rejected_by_handler", "handler_error", "origin",
                                   "guard", "rate_limit", "address_limit", "max_connections"})
        rate = {(dict(l)["kind"], dict(l)["action"]) for l in s.series("nexios_rate_limited_total")}
        self.assertEqual(rate, {(k, a) for k in ("messages", "bytes", "connections")
                                for a in ("throttle", "drop", "close")})
        classes = {dict(l)["status_class"] for l in s.series("nexios_http_requests_total")}
        self.assertEqual(classes, {"1xx", "2xx", "3xx", "4xx", "5xx"})

    def test_process_start_time_and_log_drops(self):
        s = self.scrape()
        start = s.value("nexios_process_start_time_seconds")
        self.assertLessEqual(start, time.time())
        self.assertGreater(start, time.time() - 3600)
        self.assertEqual(s.value("nexios_log_dropped_total"), 0)

    def test_histograms_are_consistent(self):
        s = self.scrape()
        for fam in ("nexios_group_send_duration_seconds", "nexios_event_loop_lag_seconds"):
            buckets = {}
            for labels, v in s.series(fam + "_bucket").items():
                d = dict(labels)
                key = d.pop("thread", "")
                buckets.setdefault(key, []).append((float(d["le"]), v))
            self.assertTrue(buckets, fam)
            for key, bs in buckets.items():
                bs.sort()
                values = [v for _, v in bs]
                self.assertEqual(values, sorted(values), f"{fam} buckets are not cumulative")
                self.assertEqual(bs[-1][0], float("inf"))
                count_labels = {"thread": key} if key else {}
                self.assertEqual(s.value(fam + "_count", **count_labels), bs[-1][1])
        low = min(float(dict(l)["le"]) for l in s.series("nexios_group_send_duration_seconds_bucket"))
        high = max(float(dict(l)["le"]) for l in s.series("nexios_group_send_duration_seconds_bucket")
                   if dict(l)["le"] != "+Inf")
        self.assertEqual((low, high), (1e-05, 1.0))


class EchoCounts(MetricsTestCase):
    def test_messages_and_bytes_rise_by_what_was_echoed(self):
        before = self.scrape()
        payloads = [b"x" * n for n in (0, 1, 125, 126, 1000, 70000)] + ["héllo 😀".encode()]
        with RawWebSocket(self.port, "/ws") as ws:
            for i, p in enumerate(payloads):
                if i % 2:
                    ws.send_binary(p)
                else:
                    ws.send_text(p)
                op, echoed = ws.recv_message()
                self.assertEqual(echoed, p)
            after = self.scrape()
            ws.send_close(1000)
            ws.recv_close()
            ws.wait_eof()
        n, size = len(payloads), sum(len(p) for p in payloads)
        for direction in ("in", "out"):
            self.assertEqual(after.value("nexios_websocket_messages_total", direction=direction)
                             - before.value("nexios_websocket_messages_total", direction=direction), n)
            self.assertEqual(after.value("nexios_websocket_bytes_total", direction=direction)
                             - before.value("nexios_websocket_bytes_total", direction=direction), size)

    def test_open_raises_the_gauges_and_close_lowers_them(self):
        base = self.wait_value("nexios_connections_open_by_kind", 0, kind="websocket")
        accepted = base.value("nexios_websocket_handshakes_accepted_total")
        ws = RawWebSocket(self.port, "/ws")
        try:
            s = self.wait_value("nexios_connections_open_by_kind", 1, kind="websocket")
            self.assertEqual(s.value("nexios_websocket_handshakes_accepted_total"), accepted + 1)
            # The scrape's own connection is open too, as HTTP.
            self.assertGreaterEqual(s.value("nexios_connections_open"), 2)
            self.assertGreater(s.value("nexios_connections_accepted_total"),
                               base.value("nexios_connections_accepted_total"))
            ws.send_close(4321, b"bye")
            self.assertEqual(ws.recv_close().close_code, 4321)
            ws.wait_eof()
        finally:
            ws.close()
        self.wait_value("nexios_connections_open_by_kind", 0, kind="websocket")
        closes = base.value("nexios_websocket_closes_total", code="4321")
        self.wait_value("nexios_websocket_closes_total", closes + 1, code="4321")

    def test_a_dropped_connection_counts_as_1006(self):
        before = self.scrape().value("nexios_websocket_closes_total", code="1006")
        ws = RawWebSocket(self.port, "/ws")
        ws.send_text(b"ping")
        ws.recv_message()
        ws.close()  # no close frame: the TCP connection just ends
        self.wait_value("nexios_websocket_closes_total", before + 1, code="1006")

    def test_refused_handshakes_count_by_reason(self):
        before = self.scrape()
        with HttpConnection(self.port) as c:
            c.send(upgrade_request("/no/such/endpoint", port=self.port))
            self.assertEqual(c.read_response().status, 404)
        with HttpConnection(self.port) as c:
            c.send(upgrade_request("/ws", key=None, port=self.port))  # no Sec-WebSocket-Key
            self.assertEqual(c.read_response().status, 400)
        # Counted once the response is written: wait for it.
        def rejected(s, reason):
            return s.value("nexios_websocket_handshakes_rejected_total", reason=reason) - \
                before.value("nexios_websocket_handshakes_rejected_total", reason=reason)

        after = self.wait_for(lambda s: rejected(s, "not_found") >= 1 and rejected(s, "bad_request") >= 1,
                              "the refused handshakes are counted")
        self.assertEqual(rejected(after, "not_found"), 1)
        self.assertEqual(rejected(after, "bad_request"), 1)
        # A refused handshake is not an HTTP request.
        self.assertEqual(after.value("nexios_http_requests_total", status_class="4xx"),
                         before.value("nexios_http_requests_total", status_class="4xx"))
        self.assertEqual(after.value("nexios_websocket_handshakes_accepted_total"),
                         before.value("nexios_websocket_handshakes_accepted_total"))

    def test_http_requests_by_status_class(self):
        before = self.scrape()
        self.assertEqual(http_get(self.port, "/health"), 200)
        self.assertEqual(http_get(self.port, "/health"), 200)
        self.assertEqual(http_get(self.port, "/missing"), 404)
        with HttpConnection(self.port) as c:
            c.send(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            self.assertEqual(c.read_response().status, 405)
        with HttpConnection(self.port) as c:
            c.send(b"GET / HTTP/1.1\r\n\r\n")  # no Host: 400
            self.assertEqual(c.read_response().status, 400)
        # Each response is counted once it is written; the first scrape was a 2xx too (and so is
        # every scrape made while waiting).
        def delta(s, cls):
            return s.value("nexios_http_requests_total", status_class=cls) - \
                before.value("nexios_http_requests_total", status_class=cls)

        after = self.wait_for(lambda s: delta(s, "2xx") >= 3 and delta(s, "4xx") >= 3, "the responses are counted")
        self.assertEqual(after.value("nexios_http_requests_total", status_class="4xx")
                         - before.value("nexios_http_requests_total", status_class="4xx"), 3)
        self.assertEqual(after.value("nexios_http_requests_total", status_class="5xx"),
                         before.value("nexios_http_requests_total", status_class="5xx"))

    def test_event_loop_lag_per_thread(self):
        # Each loop checks its lag every 250 ms: wait until both have reported at least once.
        def both_reported():
            s = self.scrape()
            return all(s.value("nexios_event_loop_lag_seconds_count", thread=t) >= 1 for t in ("0", "1"))

        self.assertTrue(poll_until(both_reported, WAIT))
        s = self.scrape()
        threads = {dict(l)["thread"] for l in s.series("nexios_event_loop_last_lag_seconds")}
        self.assertEqual(threads, {"0", "1"})  # the server runs with --threads 2
        for t in threads:
            lag = s.value("nexios_event_loop_last_lag_seconds", thread=t)
            self.assertGreaterEqual(lag, 0)
            self.assertLess(lag, 5)

    def test_send_queue_is_empty_when_idle(self):
        self.wait_value("nexios_websocket_send_queue_bytes", 0)


class GateAndLimits(MetricsTestCase):
    """Refusals by the origin check and the per-address limit, and rate-limit hits, are counted."""
    SERVER_ARGS = ("--limit", "max_messages_per_second=3", "--limit", "rate_limit_policy=close",
                   "--limit", "max_connections_per_address=4")

    refused_scrapes = 0  # scrapes answered 429 (and retried)

    def rejected(self, s, before, reason):
        return s.value("nexios_websocket_handshakes_rejected_total", reason=reason) - \
            before.value("nexios_websocket_handshakes_rejected_total", reason=reason)

    def test_a_foreign_origin_counts_as_origin(self):
        before = self.scrape()
        with HttpConnection(self.port) as c:
            c.send(upgrade_request("/ws", port=self.port, extra=[("Origin", "http://evil.example")]))
            self.assertEqual(c.read_response().status, 403)
        after = self.wait_for(lambda s: self.rejected(s, before, "origin") >= 1, "the origin refusal is counted")
        self.assertEqual(self.rejected(after, before, "origin"), 1)

    def test_a_connection_over_the_per_address_limit_counts_as_address_limit(self):
        before = self.scrape()
        held = [RawWebSocket(self.port) for _ in range(4)]
        try:
            with HttpConnection(self.port) as c:  # the fifth from 127.0.0.1
                self.assertEqual(c.read_response().status, 429)
        finally:
            for ws in held:
                ws.close()
        # The scrape itself needs a free slot: it is retried until the four have been released,
        # and each scrape refused meanwhile is a per-address refusal too.
        refused_before = self.refused_scrapes
        after = self.wait_for(lambda s: self.rejected(s, before, "address_limit") >= 1,
                              "the per-address refusal is counted")
        self.assertEqual(self.rejected(after, before, "address_limit"), 1 + self.refused_scrapes - refused_before)

    def scrape(self) -> Scrape:
        # A scrape refused with 429 (while the per-address test's connections are being released)
        # is tried again.
        got = []

        def attempt() -> bool:
            try:
                got.append(scrape(self.port))
                return True
            except AssertionError:
                self.refused_scrapes += 1
                return False

        if not poll_until(attempt, WAIT):
            self.fail("no scrape succeeded")
        return got[-1]

    def test_a_message_over_the_rate_closes_1008_and_counts(self):
        before = self.scrape()
        ws = RawWebSocket(self.port)
        self.addCleanup(ws.close)
        ws.send_raw(b"".join(build_frame(TEXT, b"m") for _ in range(4)))  # one more than the budget
        for _ in range(3):
            self.assertEqual(ws.recv_message(), (TEXT, b"m"))
        self.assertEqual(ws.recv_close().close_code, 1008)
        after = self.wait_for(
            lambda s: s.value("nexios_rate_limited_total", kind="messages", action="close") >
            before.value("nexios_rate_limited_total", kind="messages", action="close"),
            "the rate-limit hit is counted")
        self.assertEqual(after.value("nexios_rate_limited_total", kind="messages", action="close") -
                         before.value("nexios_rate_limited_total", kind="messages", action="close"), 1)


def chat_binary() -> str:
    env = os.environ.get("NEXIOS_CHAT_BIN")
    if env:
        return env
    return os.path.join(os.path.dirname(find_binary()), "chat")


class ChannelGauges(unittest.TestCase):
    """The chat example: a group per room, a join message saved in its history."""

    @classmethod
    def setUpClass(cls):
        cls.server = EchoServer(binary=chat_binary()).start()
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop_and_check()
        finally:
            cls.server.kill()

    def wait_for(self, predicate, what: str) -> Scrape:
        last = {}

        def check():
            last["s"] = scrape(self.port)
            return predicate(last["s"])

        if not poll_until(check, WAIT):
            self.fail(f"{what}; last scrape:\n" + "\n".join(
                l for l in last["s"].text.splitlines() if l.startswith("nexios_channel")))
        return last["s"]

    def test_groups_members_and_history_follow_the_rooms(self):
        async def run():
            base = scrape(self.port)
            groups = base.value("nexios_channel_groups")
            members = base.value("nexios_channel_group_members")
            history = base.value("nexios_channel_history_entries")
            sends = base.value("nexios_group_send_duration_seconds_count")
            room_a, room_b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
            clients = []
            for room, name in ((room_a, "ann"), (room_a, "bob"), (room_b, "cy")):
                ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/ws/chat/{room}?username={name}",
                                              ping_interval=None, open_timeout=WAIT, close_timeout=WAIT,
                                              compression=None)
                await asyncio.wait_for(ws.recv(), WAIT)  # its own join message: it is in the group
                clients.append(ws)
            s = await asyncio.to_thread(
                self.wait_for,
                lambda s: s.value("nexios_channel_groups") == groups + 2
                and s.value("nexios_channel_group_members") == members + 3
                and s.value("nexios_group_send_duration_seconds_count") >= sends + 3,  # the joins
                "two rooms with three members, three joins sent")
            self.assertGreaterEqual(s.value("nexios_channel_history_entries"), history + 3)  # the joins
            self.assertGreater(s.value("nexios_channel_history_bytes"), 0)
            self.assertGreater(s.value("nexios_group_send_duration_seconds_sum"), 0)
            for ws in clients:
                await asyncio.wait_for(ws.close(), WAIT)
            s = await asyncio.to_thread(
                self.wait_for,
                lambda s: s.value("nexios_channel_groups") == groups
                and s.value("nexios_channel_group_members") == members,
                "the rooms emptied")
            # History outlives the group (a room that empties keeps its messages).
            self.assertGreaterEqual(s.value("nexios_channel_history_entries"), history + 3)

        asyncio.run(asyncio.wait_for(run(), 60))

    def test_a_guard_refusal_counts_as_guard(self):
        before = scrape(self.port)
        with HttpConnection(self.port) as c:  # a username over the chat's 32 bytes: its guard says 400
            c.send(upgrade_request("/ws/chat/lobby?username=" + "u" * 33, port=self.port))
            self.assertEqual(c.read_response().status, 400)
        key = "nexios_websocket_handshakes_rejected_total"
        after = self.wait_for(lambda s: s.value(key, reason="guard") > before.value(key, reason="guard"),
                              "the guard's refusal is counted")
        self.assertEqual(after.value(key, reason="guard") - before.value(key, reason="guard"), 1)


if __name__ == "__main__":
    main()
