#!/usr/bin/python3
"""The process-memory gauges of /metrics (src/app/metrics.cpp), which the chaos test reads: they
exist, agree with /proc and with each other, and follow what the server holds.

    /usr/bin/python3 tests/chaos/test_memory_metrics.py --binary build/bin/echo
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))

from nexios_testlib import (ONE_BUSY_CLIENT_ARGS, HttpConnection, RawWebSocket, ServerTestCase, main,  # noqa: E402
                            poll_until)

GAUGES = ("nexios_process_resident_memory_bytes", "nexios_process_virtual_memory_bytes", "nexios_process_heap_bytes",
          "nexios_process_heap_free_bytes", "nexios_process_heap_system_bytes")


def scrape_text(port: int) -> str:
    with HttpConnection(port) as c:
        c.send(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        res = c.read_response()
    assert res.status == 200, res.status
    return res.body.decode()


def values(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def statm_rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class ProcessMemory(ServerTestCase):
    SERVER_ARGS = ONE_BUSY_CLIENT_ARGS

    def test_every_gauge_is_named_typed_and_documented(self):
        text = scrape_text(self.port)
        for name in GAUGES:
            with self.subTest(name=name):
                self.assertIn(f"# TYPE {name} gauge\n", text)
                self.assertIn(f"# HELP {name} ", text)
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "operations.md")) as f:
            docs = f.read()
        for name in GAUGES:
            self.assertIn(f"`{name}`", docs)

    def test_rss_agrees_with_proc(self):
        pid = self.server.proc.pid
        before = statm_rss(pid)
        v = values(scrape_text(self.port))
        after = statm_rss(pid)
        rss = v["nexios_process_resident_memory_bytes"]
        self.assertGreaterEqual(rss, min(before, after) - (1 << 20))
        self.assertLessEqual(rss, max(before, after) + (1 << 20))
        self.assertGreater(v["nexios_process_virtual_memory_bytes"], rss)

    def test_heap_in_use_and_free_add_up_to_what_was_obtained(self):
        v = values(scrape_text(self.port))
        heap, free, system = (v["nexios_process_heap_bytes"], v["nexios_process_heap_free_bytes"],
                              v["nexios_process_heap_system_bytes"])
        self.assertGreater(heap, 0)
        self.assertEqual(heap + free, system)

    def test_heap_follows_open_connections(self):
        n = 300
        heap0 = values(scrape_text(self.port))["nexios_process_heap_bytes"]
        clients = [RawWebSocket(self.port, "/ws?pad=" + "p" * 2000) for _ in range(n)]
        try:
            heap1 = values(scrape_text(self.port))["nexios_process_heap_bytes"]
            # Each open WebSocket holds at least its connection object and its kept request.
            self.assertGreater(heap1 - heap0, n * 1000, (heap0, heap1))
        finally:
            for c in clients:
                c.close()
        # Once they are gone (the server notices each FIN), most of it is given back.
        rise = heap1 - heap0
        self.assertTrue(poll_until(
            lambda: values(scrape_text(self.port))["nexios_process_heap_bytes"] < heap0 + rise / 4, 10.0),
            (heap0, heap1, values(scrape_text(self.port))["nexios_process_heap_bytes"]))


if __name__ == "__main__":
    main()
