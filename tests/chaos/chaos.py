#!/usr/bin/python3
"""The chaos test: examples/chat under churn, with healthy and hostile clients.

    /usr/bin/python3 tests/chaos/chaos.py --binary build/bin/chat [--seconds 60] [--only NAME]

One chat server (127.0.0.1, a free port, --threads 2, JSON logs captured) and, for --seconds of
churn:

* a few *healthy* clients (the `websockets` library, in this process) in room "healthy", each
  sending numbered messages;
* several *worker processes* (this script with --worker), each running many raw clients that join
  the healthy room, shared churn rooms and rooms of their own, read the history, send messages,
  typing notices and non-JSON text, and leave: a clean closing handshake, a TCP FIN without a close
  frame, a TCP reset (SO_LINGER 0), in the middle of a frame, or in the middle of the handshake;
  every few seconds a whole worker process is killed with SIGKILL and replaced;
* the *hostile* clients of issue 13's findings (each also alone with --only NAME): invalid UTF-8
  in names (utf8-name, utf8-room), long names (long-name), 1e999999 and a 60,000-digit integer
  (huge-number), a frame dribbled a byte at a time (dribble), an 8,000-byte URL (big-url).

Then it checks, and prints a summary table:

* every healthy client got every healthy client's numbered messages once and in order;
* no ghosts: /api/chat/rooms shows only the healthy room with the healthy clients, and the
  /metrics gauges (groups, members, open WebSockets) agree;
* no frame that left the server was invalid (not UTF-8, not JSON, malformed), as seen by every
  client, healthy, churning or hostile;
* no server warning or error other than the expected ones (EXPECTED_WARNINGS, below);
* live heap (nexios_process_heap_bytes) and RSS back within a stated margin of their baseline;
* SIGTERM: exit status 0 within --stop-bound seconds, every healthy client closed with 1001;
* each hostile scenario's own check (see the scenario functions).

The run is bounded: every wait has a timeout, the whole run has a hard deadline (SIGALRM), every
child process dies with this one (PR_SET_PDEATHSIG) and is killed on any failure. Exit status:
0 when every check passed, 1 when one failed, 2 for a usage error, 3 when the hard deadline hit.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import random
import re
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chaosws import ChaosWS, Closed, HandshakeRefused, RawNumber, build_frame, strict_json, TEXT  # noqa: E402

HOST = "127.0.0.1"
HEALTHY_ROOM = "healthy"
OP_TIMEOUT = 15.0

# Server log records at level warning or above that are expected in this run: (component,
# regular expression on the message, why). Anything else at warning or error is a failure.
# Today the list is empty: nothing the churn or the hostile clients do should make the server
# warn (refused handshakes, disconnects and closes are info/debug records).
EXPECTED_WARNINGS: list = []

SCENARIOS = ("utf8-name", "utf8-room", "long-name", "huge-number", "dribble", "big-url")
ONLY_CHOICES = SCENARIOS + ("churn", "healthy")
FAULTS = ("skip", "dup", "reorder", "ghost", "badframe")

MiB = 1 << 20


# ------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the process that started it dies (no orphans)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def find_chat_binary(given: Optional[str]) -> str:
    if given:
        return os.path.abspath(given)
    env = os.environ.get("NEXIOS_CHAT_BIN")
    if env:
        return env
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    for build in ("build", "build-it"):
        candidate = os.path.join(root, build, "bin", "chat")
        if os.access(candidate, os.X_OK):
            return candidate
    sys.exit("chat binary not found: pass --binary PATH or set NEXIOS_CHAT_BIN")


def read_statm_rss(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class Server:
    """The chat example on 127.0.0.1 with --port 0; its JSON log goes to a file."""

    def __init__(self, binary: str, extra_args: list, log_path: str):
        self.binary = binary
        self.extra_args = extra_args
        self.log_path = log_path
        self.proc: Optional[asyncio.subprocess.Process] = None
        self.port = 0
        self._log = None

    async def start(self) -> None:
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "NEXIOS_LOG_FORMAT": "json", "NEXIOS_LOG_LEVEL": "info", "NEXIOS_ACCESS_LOG": "on"}
        cmd = [self.binary, "--host", HOST, "--port", "0", "--threads", "2", *self.extra_args]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=self._log, env=env,
            preexec_fn=_die_with_parent)
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), OP_TIMEOUT)
        except asyncio.TimeoutError:
            raise RuntimeError(f"{cmd} printed no listening line within {OP_TIMEOUT}s")
        m = re.search(rb"listening on http://([0-9.]+):(\d+)", line)
        if not m:
            raise RuntimeError(f"unexpected first line from {cmd}: {line!r}; log: {self.log_tail()}")
        self.port = int(m.group(2))
        asyncio.ensure_future(self._drain_stdout())

    async def _drain_stdout(self) -> None:
        while self.proc and await self.proc.stdout.read(65536):
            pass

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def log_tail(self, n: int = 2000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass


_TCP_STATES = {"01": "established", "06": "time-wait", "07": "close", "08": "close-wait", "09": "last-ack",
               "04": "fin-wait-1", "05": "fin-wait-2", "0B": "closing"}


def server_tcp_states(port: int) -> dict:
    """{state: count} of the TCP sockets whose local port is the server's (/proc/net/tcp)."""
    out = Counter()
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                local, state = fields[1], fields[3]
                if int(local.split(":")[1], 16) == port and state != "0A":  # 0A: listening
                    out[_TCP_STATES.get(state, state)] += 1
    except OSError:
        pass
    return dict(out)


async def http_get(port: int, path: str, timeout: float = OP_TIMEOUT) -> tuple:
    """(status, body bytes) of one GET over a fresh connection."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.transport.abort()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    return status, body


def parse_metrics(text: str) -> dict:
    """{name or name{labels}: value} of the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


async def scrape(port: int) -> dict:
    status, body = await http_get(port, "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    return parse_metrics(body.decode())


# ------------------------------------------------------------------------------------------------
# The report: failures, counters, notes
# ------------------------------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.failures: list = []  # (check, message)
        self.notes: list = []
        self.bad_frames: list = []  # (who, kind, detail)
        self.counts: Counter = Counter()
        self.memory: dict = {}
        self.rows: dict = {}

    def fail(self, check: str, message: str) -> None:
        self.failures.append((check, message))
        print(f"chaos: FAIL [{check}] {message}", flush=True)

    def note(self, message: str) -> None:
        self.notes.append(message)
        print(f"chaos: {message}", flush=True)

    def bad_frame(self, who: str, kind: str, detail: str) -> None:
        self.bad_frames.append((who, kind, detail))
        if len(self.bad_frames) <= 20:
            print(f"chaos: bad frame seen by {who}: {kind}: {detail}", flush=True)


# ------------------------------------------------------------------------------------------------
# Healthy clients: numbered messages, checked for holes, reorders, duplicates
# ------------------------------------------------------------------------------------------------


class Healthy:
    def __init__(self, index: int, port: int, report: Report, fault: Optional[str]):
        self.name = f"healthy{index}"
        self.index = index
        self.port = port
        self.report = report
        self.fault = fault if index == 0 else None  # faults act on healthy0's receiving only
        self.ws = None
        self.sent = 0
        self.seen: dict = defaultdict(set)  # sender → seqs received
        self.max_seen: dict = defaultdict(lambda: -1)
        self.duplicates = 0
        self.reorders = 0
        self.lost = None  # why the connection ended early, if it did
        self.close_code = None
        self.changed = asyncio.Condition()
        self._held = None  # for the reorder fault
        self._faulted = False
        self._task = None

    async def join(self) -> None:
        import websockets  # Debian's python3-websockets

        url = f"ws://{HOST}:{self.port}/ws/chat/{HEALTHY_ROOM}?username={self.name}"
        self.ws = await websockets.connect(url, ping_interval=None, open_timeout=OP_TIMEOUT,
                                           close_timeout=OP_TIMEOUT, compression=None, max_size=None,
                                           max_queue=None)
        first_raw = await asyncio.wait_for(self.ws.recv(), OP_TIMEOUT)
        first = self._parse(first_raw)
        if not (first and first.get("type") == "system" and first.get("action") == "join"
                and first.get("username") == self.name):
            raise RuntimeError(f"{self.name}: first message is not its own join: {first_raw!r}")
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), OP_TIMEOUT)
            self._parse(raw)
            if raw == first_raw:
                break
        self._task = asyncio.ensure_future(self._receive())

    def _parse(self, raw):
        if not isinstance(raw, str):
            self.report.bad_frame(self.name, "binary", f"a binary message: {raw[:80]!r}")
            return None
        try:
            obj = strict_json(raw)
        except ValueError as e:
            self.report.bad_frame(self.name, "json", f"text frame is not JSON ({e}): {raw[:120]!r}")
            return None
        if not isinstance(obj, dict):
            self.report.bad_frame(self.name, "json", f"text frame is not a JSON object: {raw[:120]!r}")
            return None
        return obj

    async def _receive(self) -> None:
        import websockets

        n = 0
        try:
            async for raw in self.ws:
                obj = self._parse(raw)
                if obj is None or obj.get("type") != "message":
                    continue
                content = obj.get("content")
                if not (isinstance(content, str) and content.startswith("chaos:")):
                    continue
                _, sender, seq = content.split(":", 3)[:3]
                n += 1
                seq = int(seq)
                # The deliberate faults (--fault), to show the checks can fail.
                if self.fault and not self._faulted and sender == "healthy1" and seq == 5:
                    self._faulted = True
                    if self.fault == "skip":
                        continue
                    if self.fault == "dup":
                        await self._record(sender, seq)
                    if self.fault == "reorder":
                        self._held = (sender, seq)
                        continue
                await self._record(sender, seq)
                if self._held is not None and self._held[0] == sender:
                    held, self._held = self._held, None
                    await self._record(*held)
        except websockets.ConnectionClosed as e:
            sent = getattr(e, "sent", None)
            if sent is not None and sent.code == 1007:
                self.report.bad_frame(self.name, "utf8",
                                      f"websockets failed the connection with 1007: {sent.reason}")
            self.lost = f"connection closed: {e}"
        finally:
            # The code of the server's close frame (1006 when TCP ended without one).
            self.close_code = self.ws.close_code
            if self.lost is None:
                self.lost = f"connection closed by the server: {self.close_code} {self.ws.close_reason!r}"
            async with self.changed:
                self.changed.notify_all()

    async def _record(self, sender: str, seq: int) -> None:
        if seq in self.seen[sender]:
            self.duplicates += 1
        elif seq < self.max_seen[sender]:
            self.reorders += 1
        self.seen[sender].add(seq)
        self.max_seen[sender] = max(self.max_seen[sender], seq)
        async with self.changed:
            self.changed.notify_all()

    async def send_loop(self, stop: asyncio.Event, rate: float) -> None:
        interval = 1.0 / rate
        next_at = time.monotonic()
        while not stop.is_set() and self.lost is None:
            try:
                await asyncio.wait_for(self.ws.send(json.dumps(
                    {"type": "message", "content": f"chaos:{self.name}:{self.sent}:caf\u00e9 \u2713"})), OP_TIMEOUT)
            except Exception as e:  # noqa: BLE001 — the connection's end is recorded by _receive
                self.lost = self.lost or f"send failed: {e!r}"
                break
            self.sent += 1
            next_at += interval
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
            except asyncio.TimeoutError:
                pass

    def has_all(self, sent: dict) -> bool:
        return self.lost is not None or all(
            len(self.seen[s]) >= n and (n == 0 or self.max_seen[s] == n - 1) for s, n in sent.items())

    async def wait_all(self, sent: dict, timeout: float) -> bool:
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: self.has_all(sent)), timeout)
                return True
            except asyncio.TimeoutError:
                return False

    def holes(self, sent: dict) -> int:
        return sum(len(set(range(n)) - self.seen[s]) for s, n in sent.items())


# ------------------------------------------------------------------------------------------------
# Raw helpers for the hostile scenarios
# ------------------------------------------------------------------------------------------------


class Joined:
    """A raw client that has joined a room: its join message and the history it was replayed."""

    def __init__(self, ws: ChaosWS, join: dict, history: list):
        self.ws, self.join, self.history = ws, join, history


async def join_raw(port: int, path: str, report: Report, who: str, **kw) -> Joined:
    """Connects to `path`, reads its own join message, then the history up to the copy of it.
    Raises HandshakeRefused, Closed (the server ended it before the replay was done) or a timeout."""
    ws = await ChaosWS.connect(HOST, port, path, lambda k, d: report.bad_frame(who, k, d), **kw)
    try:
        join = await ws.recv()
        history = []
        while True:
            m = await ws.recv()
            history.append(m)
            if m == join:
                return Joined(ws, join, history)
    except BaseException:
        ws.abort()
        raise


def is_marker(m: dict, marker: str) -> bool:
    """Whether `m` is the chat message carrying `marker` (a unique sentinel some client sent)."""
    return m.get("type") == "message" and m.get("content") == marker


async def still_alive(ws: ChaosWS, timeout: float = OP_TIMEOUT) -> Optional[str]:
    """None if a message sent now comes back (the connection works); else why not."""
    marker = "sentinel-" + uuid.uuid4().hex
    try:
        ws.send_json({"type": "message", "content": marker})
        deadline = time.monotonic() + timeout
        while True:
            m = await ws.recv(max(0.1, deadline - time.monotonic()))
            if is_marker(m, marker):
                return None
    except Closed as e:
        return closed_desc(e)
    except asyncio.TimeoutError:
        return f"its message did not come back within {timeout}s"


async def probe_room(port: int, path: str, report: Report, who: str) -> Optional[str]:
    """A later joiner: it must get its join message and the whole replay, and stay usable."""
    try:
        j = await join_raw(port, path, report, who)
    except HandshakeRefused as e:
        return f"a later joiner was refused with {e.status}"
    except Closed as e:
        return f"a later joiner's connection was {closed_desc(e)} before its history replay ended"
    except asyncio.TimeoutError:
        return "a later joiner's join or history did not arrive"
    try:
        why = await still_alive(j.ws)
        if why:
            return f"a later joiner, after its {len(j.history) + 1} messages of join and history: {why}"
        return None
    finally:
        await j.ws.close()


def closed_desc(e: Closed) -> str:
    """Who ended a connection, and how."""
    if e.how.startswith("failed"):
        return "failed by the client itself on an invalid frame from the server"
    if e.code is None:
        return "dropped by the server without a close frame"
    return f"closed by the server with {e.code} {e.reason!r}"


# ------------------------------------------------------------------------------------------------
# The hostile scenarios. Each returns nothing; it reports failures and notes. Every frame its
# clients receive is validated (bad frames are failures of the "frames" check).
# ------------------------------------------------------------------------------------------------

BAD_UTF8 = (("%FF", "a lone 0xFF"), ("%C0%AF", "an overlong '/'"), ("%ED%A0%80", "a UTF-16 surrogate"))


async def scenario_utf8_name(port: int, report: Report, tag: str) -> None:
    """Finding 1: a username that is not UTF-8 must not reach the room (refused with 400, or never
    on the wire as invalid text); the room's members and later joiners keep working."""
    for k, (bad, what) in enumerate(BAD_UTF8):
        room = f"hostile-utf8-name-{k}-{tag}"
        obs = await join_raw(port, f"/ws/chat/{room}?username=observer", report, f"utf8-name observer ({bad})")
        try:
            try:
                h = await join_raw(port, f"/ws/chat/{room}?username=bad{bad}", report, f"utf8-name hostile ({bad})")
            except HandshakeRefused as e:
                if e.status == 400:
                    report.note(f"utf8-name {bad} ({what}): refused with 400")
                else:
                    report.fail("utf8-name", f"username with {what} ({bad}): refused with {e.status}, expected 400")
                h = None
            except Closed as e:
                report.fail("utf8-name", f"username with {what} ({bad}): accepted, then its connection was "
                                         f"{closed_desc(e)} during its own join/history")
                h = None
            if h is not None:
                report.note(f"utf8-name {bad}: accepted (username={h.join.get('username')!r})")
                h.ws.send_json({"type": "message", "content": "hello"})
                h.ws.send_json({"type": "typing"})
                await still_alive(h.ws)
                await h.ws.close()
            why = await still_alive(obs.ws)
            if why:
                report.fail("utf8-name", f"username with {what} ({bad}): the room's member {why}")
            why = await probe_room(port, f"/ws/chat/{room}?username=later", report, f"utf8-name later ({bad})")
            if why:
                report.fail("utf8-name", f"username with {what} ({bad}): {why}")
        finally:
            await obs.ws.close()


async def check_rooms_listing(port: int, report: Report, check: str) -> None:
    status, body = await http_get(port, "/api/chat/rooms")
    try:
        text = body.decode("utf-8")
        strict_json(text)
    except UnicodeDecodeError as e:
        report.fail(check, f"GET /api/chat/rooms is not valid UTF-8 ({e.reason}): {body[:200]!r}")
    except ValueError as e:
        report.fail(check, f"GET /api/chat/rooms is not JSON ({e}): {body[:200]!r}")
    if status != 200:
        report.fail(check, f"GET /api/chat/rooms answered {status}")


async def scenario_utf8_room(port: int, report: Report, tag: str) -> None:
    """Finding 1: a room id that is not UTF-8 (refused with 400, or never on the wire as invalid
    text: in the messages, the history, the rooms listing)."""
    for k, (bad, what) in enumerate(BAD_UTF8):
        path = f"/ws/chat/hostile-utf8-room-{k}-{tag}-bad{bad}"
        try:
            h = await join_raw(port, path + "?username=hostile", report, f"utf8-room hostile ({bad})")
        except HandshakeRefused as e:
            if e.status == 400:
                report.note(f"utf8-room {bad} ({what}): refused with 400")
            else:
                report.fail("utf8-room", f"room id with {what} ({bad}): refused with {e.status}, expected 400")
            continue
        except Closed as e:
            report.fail("utf8-room", f"room id with {what} ({bad}): accepted, then its connection was "
                                     f"{closed_desc(e)} during its own join/history")
            continue
        report.note(f"utf8-room {bad}: accepted (room_id in messages is {h.join.get('room_id')!r})")
        try:
            h.ws.send_json({"type": "message", "content": "hello"})
            why = await still_alive(h.ws)
            if why:
                report.fail("utf8-room", f"room id with {what} ({bad}): its own member {why}")
            await check_rooms_listing(port, report, "utf8-room")
            why = await probe_room(port, path + "?username=later", report, f"utf8-room later ({bad})")
            if why:
                report.fail("utf8-room", f"room id with {what} ({bad}): {why}")
        finally:
            await h.ws.close()


LONG_NAME_CASES = (("username of 15,000 bytes", "hostile-long-name-{tag}", "L" * 15000),
                   ("room id of 8,000 bytes", "hostile-long-room-{tag}-" + "R" * 8000, "longroom"))
AMPLIFICATION_LIMIT = 32  # bytes one member receives per byte the sender sent (see scenario_long_name)


async def scenario_long_name(port: int, report: Report, tag: str) -> None:
    """Findings 4 and 6: a 15,000-byte username and an 8,000-byte room id. Refused (400, 414 or
    431) passes. Accepted, what one member receives per byte the hostile client sends (typing
    notices and short messages) must stay under AMPLIFICATION_LIMIT: with a 32-byte name a typing
    notice of 23 wire bytes becomes about 110 bytes to each member (about 5 per byte) and a short
    message about 4; a 15,000-byte name repeated in each makes it about 600."""
    for what, room, name in LONG_NAME_CASES:
        room = room.format(tag=tag)
        path = f"/ws/chat/{room}?username={name}"
        try:
            h = await join_raw(port, path, report, f"long-name hostile ({what})")
        except HandshakeRefused as e:
            if e.status in (400, 414, 431):
                report.note(f"long-name {what}: refused with {e.status}")
            else:
                report.fail("long-name", f"{what}: refused with {e.status}, expected 400, 414 or 431")
            continue
        except Closed as e:
            report.fail("long-name", f"{what}: accepted, then its connection was {closed_desc(e)} during its join")
            continue
        try:
            obs = await join_raw(port, f"/ws/chat/{room}?username=observer", report, f"long-name observer ({what})")
        except (HandshakeRefused, Closed, asyncio.TimeoutError) as e:
            report.fail("long-name", f"{what}: accepted for the hostile client, but an observer could not join: {e!r}")
            await h.ws.close()
            continue
        try:
            # Let the observer's own join reach the hostile client before measuring.
            await still_alive(h.ws)
            before_in, before_out = obs.ws.received_bytes, h.ws.sent_bytes
            marker = "sentinel-" + uuid.uuid4().hex
            for i in range(20):
                h.ws.send_json({"type": "typing", "is_typing": True})
                if i % 2 == 0:
                    h.ws.send_json({"type": "message", "content": "x"})
            h.ws.send_json({"type": "message", "content": marker})
            sent = h.ws.sent_bytes - before_out
            while True:
                m = await obs.ws.recv(30)
                if is_marker(m, marker):
                    break
            got = obs.ws.received_bytes - before_in
            ratio = got / sent
            report.note(f"long-name {what}: accepted; {sent} bytes sent gave {got} bytes to one member "
                        f"({ratio:.1f} per byte)")
            if ratio > AMPLIFICATION_LIMIT:
                report.fail("long-name", f"{what}: amplification {ratio:.0f} bytes to each member per byte sent "
                                         f"(limit {AMPLIFICATION_LIMIT})")
        except (Closed, asyncio.TimeoutError) as e:
            report.fail("long-name", f"{what}: the observer lost the hostile client's messages: {e!r}")
        finally:
            await obs.ws.close()
            await h.ws.close()


HUGE_NUMBER_CASES = (("1e999999", "1e999999"), ("a 60,000-digit integer", "6" * 60000))


async def scenario_huge_number(port: int, report: Report, tag: str) -> None:
    """Finding 7: {"content": 1e999999} and a 60,000-digit integer. Passes if the sender is closed
    with 1007 or told the message is refused ({"type":"error"}), or if every member gets the number
    exactly as sent. Every frame being JSON (no bare Infinity) is the frames check."""
    for k, (what, token) in enumerate(HUGE_NUMBER_CASES):
        room = f"hostile-huge-number-{k}-{tag}"
        obs = await join_raw(port, f"/ws/chat/{room}?username=observer", report, f"huge-number observer ({what})")
        h = await join_raw(port, f"/ws/chat/{room}?username=numbers", report, f"huge-number hostile ({what})")
        try:
            await still_alive(obs.ws)  # the hostile client's join has reached the observer
            h.ws.send_text('{"type":"message","content":' + token + "}")
            marker = "sentinel-" + uuid.uuid4().hex
            h.ws.send_json({"type": "message", "content": marker})
            outcome = None
            try:
                while True:
                    m = await h.ws.recv()
                    if m.get("type") == "error":
                        outcome = f"refused to the sender: {m}"
                    if is_marker(m, marker):
                        break
            except Closed as e:
                if e.code == 1007:
                    outcome = f"sender closed with 1007 {e.reason!r}"
                else:
                    report.fail("huge-number", f"{what}: the sender's connection was {closed_desc(e)} "
                                               f"(expected 1007, an error message, or the number delivered exactly)")
                    outcome = "closed"
            except asyncio.TimeoutError:
                report.fail("huge-number", f"{what}: no answer to the sender")
                outcome = "timeout"
            # What the observer got from the hostile client before its sentinel (or its leave).
            delivered = []
            try:
                while True:
                    m = await obs.ws.recv()
                    if is_marker(m, marker):
                        break
                    if m.get("type") == "message" and m.get("username") == "numbers":
                        delivered.append(m.get("content"))
                    if m.get("type") == "system" and m.get("action") == "leave" and m.get("username") == "numbers":
                        break
            except Closed as e:
                report.fail("huge-number", f"{what}: a member's connection was {closed_desc(e)}")
            except asyncio.TimeoutError:
                report.fail("huge-number", f"{what}: a member got neither the message nor the sentinel")
            for c in delivered:
                if not (isinstance(c, RawNumber) and c == token):
                    shown = c if not isinstance(c, str) or len(c) < 60 else c[:30] + f"...({len(c)} chars)"
                    report.fail("huge-number", f"{what}: delivered to the members as {shown!r}, not as sent")
            if delivered and all(isinstance(c, RawNumber) and c == token for c in delivered):
                outcome = "delivered exactly"
            elif delivered and outcome is None:
                outcome = "delivered, but not as sent"
            report.note(f"huge-number {what}: {outcome or 'no error, nothing delivered'}")
            if outcome is None and not delivered:
                report.fail("huge-number", f"{what}: neither refused nor delivered")
            why = await probe_room(port, f"/ws/chat/{room}?username=later", report, f"huge-number later ({what})")
            if why:
                report.fail("huge-number", f"{what}: {why}")
        finally:
            await obs.ws.close()
            await h.ws.close()


async def scenario_dribble(port: int, report: Report, tag: str, bound: float, interval: float) -> None:
    """Finding 5: after the upgrade, one byte of a frame every `interval` seconds. The server must
    close the connection within `bound` seconds of the first byte."""
    h = await join_raw(port, f"/ws/chat/hostile-dribble-{tag}?username=dribbler", report, "dribble hostile",
                       auto_pong=False)
    frame = build_frame(TEXT, json.dumps({"type": "message", "content": "d" * 180}).encode())
    start = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - start < bound and sent < len(frame):
            try:
                h.ws.send_raw(frame[sent:sent + 1])
            except (Closed, ConnectionError, OSError):
                break
            sent += 1
            try:
                await asyncio.wait_for(h.ws.closed.wait(), interval)
                break
            except asyncio.TimeoutError:
                pass
        took = time.monotonic() - start
        if h.ws.closed.is_set():
            how = f"close code {h.ws.close_code} {h.ws.close_reason!r}" if h.ws.close_code else "TCP closed"
            report.note(f"dribble: closed by the server after {took:.1f}s and {sent} bytes ({how})")
        else:
            report.fail("dribble", f"still open {took:.0f}s after the first byte ({sent} of {len(frame)} bytes of one "
                                   f"frame sent, one every {interval:g}s): no timeout for finishing a started "
                                   f"message (bound {bound:g}s)")
    finally:
        h.ws.abort()


BIG_URL_BYTES = 8000


async def scenario_big_url(port: int, report: Report, tag: str, n: int) -> None:
    """Finding 4: per-connection memory with an 8,000-byte URL. n connections with a short URL,
    then n with an 8,000-byte one (each in a room of its own, so the history replays are equal);
    the live heap each long-URL connection holds beyond a short-URL one must stay under 1.5 times
    the URL: one copy of what the app can still read, and allocator rounding."""
    async def open_group(kind: str, pad: str) -> tuple:
        before = (await scrape(port)).get("nexios_process_heap_bytes")
        conns = []
        for i in range(n):
            path = f"/ws/chat/big-url-{tag}-{kind}{i:04d}?username={kind}{i:04d}{pad}"
            conns.append(await join_raw(port, path, report, f"big-url {kind}"))
        after = (await scrape(port)).get("nexios_process_heap_bytes")
        return conns, before, after, len(path)

    short, s0, s1, short_len = await open_group("s", "")
    pad_len = BIG_URL_BYTES - short_len - len("&pad=")
    long, l0, l1, long_len = await open_group("l", "&pad=" + "p" * pad_len)
    for c in short + long:
        await c.ws.close()
    if s0 is None:
        report.fail("big-url", "/metrics has no nexios_process_heap_bytes")
        return
    per_short = (s1 - s0) / n
    per_long = (l1 - l0) / n
    extra = per_long - per_short
    report.note(f"big-url: live heap per connection {per_short:.0f} B with a {short_len}-byte URL, {per_long:.0f} B "
                f"with a {long_len}-byte URL: {extra:.0f} B more, {extra / long_len:.1f} times the URL")
    report.rows["big-url extra bytes per connection"] = f"{extra:.0f} ({extra / long_len:.1f}x URL)"
    if extra > 1.5 * long_len:
        report.fail("big-url", f"a connection with a {long_len}-byte URL holds {extra:.0f} bytes more than one with "
                               f"a {short_len}-byte URL ({extra / long_len:.1f} times the URL; limit 1.5)")


# ------------------------------------------------------------------------------------------------
# Churn workers (this script with --worker): many raw clients in one process
# ------------------------------------------------------------------------------------------------

TEXTS = ("hello", "caf\u00e9 \u2713 \U0001F389 \u65e5\u672c\u8a9e", "x" * 1500, "\u00fc" * 300,
         "line one\nline two\t\"quoted\" \\ back", "\U0001F600" * 50)
ENDINGS = (("clean", 35), ("drop", 25), ("reset", 25), ("midframe", 8), ("midhandshake", 7))


class Worker:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.stats = Counter()
        self.stop = asyncio.Event()
        self.bad_reports = 0
        self.corrupt_pending = args.fault == "badframe"

    def emit(self, obj) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def on_bad(self, who: str):
        def report(kind, detail):
            self.stats["bad_frames"] += 1
            self.stats[f"bad_frames_{kind}"] += 1
            if self.bad_reports < 10:
                self.bad_reports += 1
                self.emit({"ev": "bad", "who": who, "kind": kind, "detail": detail[:300]})
        return report

    def unexpected(self, what: str, detail: str) -> None:
        self.stats[what] += 1
        if self.stats[what] <= 5:
            self.emit({"ev": "unexpected", "what": what, "detail": detail[:300]})

    def pick_room(self, i: int, n: int) -> str:
        r = self.rng.random()
        if r < self.args.healthy_share:
            return HEALTHY_ROOM
        if r < self.args.healthy_share + self.args.unique_share:
            return f"u-{os.getpid()}-{i}-{n}"  # a room of its own, empty again when it leaves
        return f"churn-{self.rng.randrange(self.args.rooms)}"

    async def life(self, i: int, n: int) -> None:
        rng = self.rng
        room = self.pick_room(i, n)
        name = f"c{os.getpid()}x{i}x{n}"
        path = f"/ws/chat/{room}?username={name}"
        ending = rng.choices([e for e, _ in ENDINGS], [w for _, w in ENDINGS])[0]
        self.stats["clients"] += 1
        if ending == "midhandshake":
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.args.port), OP_TIMEOUT)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nUpgr".encode())
            await writer.drain()
            writer.transport.abort()
            self.stats["end_midhandshake"] += 1
            return
        corrupt = False
        if self.corrupt_pending:
            corrupt, self.corrupt_pending = True, False
        try:
            ws = await ChaosWS.connect(HOST, self.args.port, path, self.on_bad(f"churn {name} in {room}"),
                                       corrupt_one=corrupt)
        except HandshakeRefused as e:
            self.unexpected(f"refused_{e.status}", f"{path[:80]}: {e}")
            await asyncio.sleep(0.2)  # not a wait for the server: a pause before trying again
            return
        except asyncio.TimeoutError:
            self.unexpected("timeouts", f"handshake of {path[:80]} got no answer within {OP_TIMEOUT}s")
            return
        except (ConnectionError, OSError) as e:
            self.unexpected("connect_errors", f"{path[:80]}: {e!r}")
            return
        self.stats["joined"] += 1
        try:
            join = await ws.recv()
            while True:
                m = await ws.recv()
                if m == join:
                    break
            ws.keep = False
            while not ws.messages.empty():
                ws.messages.get_nowait()
            self.stats["replayed"] += 1
            lifetime = rng.uniform(0.3, self.args.max_life)
            end = time.monotonic() + lifetime
            while time.monotonic() < end and not self.stop.is_set():
                try:
                    await asyncio.wait_for(ws.closed.wait(), min(end - time.monotonic(), rng.uniform(0.3, 1.5)))
                    break
                except asyncio.TimeoutError:
                    pass
                kind = rng.random()
                if kind < 0.6:
                    ws.send_json({"type": "message", "content": rng.choice(TEXTS)})
                elif kind < 0.8:
                    ws.send_json({"type": "typing", "is_typing": rng.random() < 0.5})
                elif kind < 0.9:
                    ws.send_text(rng.choice(TEXTS))  # not JSON: sent as the content
                else:
                    ws.send_json({"type": "message", "content": {"nested": [1, 2.5, True, None, rng.choice(TEXTS)]}})
                self.stats["sent"] += 1
                await ws.drain()
            if ws.closed.is_set():
                if ws.bad:
                    return
                code = ws.close_code
                self.unexpected(f"server_closed_{code if code is not None else 'eof'}",
                                f"{name} in {room}: closed by the server ({code} {ws.close_reason!r})")
                return
        except Closed as e:
            if not ws.bad:
                self.unexpected(f"server_closed_{e.code if e.code is not None else 'eof'}",
                                f"{name} in {room} during join/history: closed by the server ({e.code} {e.reason!r})")
            return
        except asyncio.TimeoutError:
            self.unexpected("timeouts", f"{name} in {room}: join or history did not arrive within {OP_TIMEOUT}s")
            ws.abort()
            return
        finally:
            self.stats["frames_in"] += ws.received
            self.stats["bytes_in"] += ws.received_bytes
        # The ending.
        self.stats[f"end_{ending}"] += 1
        if ending == "clean":
            if not await ws.close(1000):
                self.unexpected("close_timeouts", f"{name} in {room}: the closing handshake did not finish")
        elif ending == "drop":
            ws.drop()
        elif ending == "reset":
            ws.reset()
        else:  # midframe: half a frame, then FIN or RST
            frame = build_frame(TEXT, json.dumps({"content": "never finished"}).encode())
            ws.send_raw(frame[: len(frame) // 2])
            await ws.drain()
            ws.reset() if rng.random() < 0.5 else ws.drop()

    async def client_loop(self, i: int) -> None:
        await asyncio.sleep(self.rng.uniform(0, 1.0))  # spread the first connections over a second
        n = 0
        while not self.stop.is_set():
            try:
                await self.life(i, n)
            except (ConnectionError, OSError, asyncio.TimeoutError, Closed) as e:
                self.unexpected("client_errors", repr(e))
            n += 1

    async def report_loop(self) -> None:
        while not self.stop.is_set():
            self.emit({"ev": "stats", "stats": self.stats})
            try:
                await asyncio.wait_for(self.stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop.set)
        loop.add_reader(sys.stdin.fileno(), lambda: (sys.stdin.read(), self.stop.set()))
        tasks = [asyncio.ensure_future(self.client_loop(i)) for i in range(self.args.clients)]
        reporter = asyncio.ensure_future(self.report_loop())
        try:
            await asyncio.wait_for(self.stop.wait(), self.args.seconds + 60)
        except asyncio.TimeoutError:
            pass  # safety: a worker never outlives its run
        self.stop.set()
        try:
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        except asyncio.TimeoutError:
            pass
        await reporter
        self.emit({"ev": "stats", "stats": self.stats, "final": True})


# ------------------------------------------------------------------------------------------------
# The driver
# ------------------------------------------------------------------------------------------------


class WorkerProcess:
    def __init__(self, proc, report: Report):
        self.proc = proc
        self.report = report
        self.stats: Counter = Counter()
        self.final = False
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev["ev"] == "stats":
                self.stats = Counter(ev["stats"])
                self.final = self.final or bool(ev.get("final"))
            elif ev["ev"] == "bad":
                self.report.bad_frame(ev["who"], ev["kind"], ev["detail"])
            elif ev["ev"] == "unexpected":
                print(f"chaos: churn: {ev['what']}: {ev['detail']}", flush=True)


class Driver:
    def __init__(self, args):
        self.args = args
        self.report = Report()
        self.server: Optional[Server] = None
        self.workers: list = []
        self.dead_workers: list = []
        self.healthy: list = []
        self.kills = 0
        self.samples: list = []  # (t, heap, rss)
        self.peak_lag = 0.0
        self.hostile_rounds = 0  # the largest event-loop lag /metrics showed during the churn
        self.tag = uuid.uuid4().hex[:6]

    # -- processes -----------------------------------------------------------------------------

    async def spawn_worker(self, seed: int) -> WorkerProcess:
        a = self.args
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--port", str(self.server.port),
               "--seed", str(seed), "--clients", str(a.clients), "--rooms", str(a.rooms),
               "--seconds", str(a.seconds), "--max-life", str(a.max_life), "--healthy-share", str(a.healthy_share),
               "--unique-share", str(a.unique_share)]
        if a.fault == "badframe" and seed == a.seed:
            cmd += ["--fault", "badframe"]
        proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent)
        return WorkerProcess(proc, self.report)

    def kill_everything(self) -> None:
        for w in self.workers + self.dead_workers:
            if w.proc.returncode is None:
                try:
                    w.proc.kill()
                except ProcessLookupError:
                    pass
        if self.server is not None:
            self.server.kill()

    # -- memory --------------------------------------------------------------------------------

    async def memory(self) -> tuple:
        m = await scrape(self.server.port)
        return m.get("nexios_process_heap_bytes"), read_statm_rss(self.server.pid), m

    async def sample_loop(self, stop: asyncio.Event) -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            try:
                heap, rss, m = await self.memory()
                self.samples.append((time.monotonic() - t0, heap, rss))
                lag = max([v for k, v in m.items() if k.startswith("nexios_event_loop_last_lag_seconds")] + [0.0])
                self.peak_lag = max(self.peak_lag, lag)
            except (OSError, RuntimeError, asyncio.TimeoutError) as e:
                self.report.note(f"memory sample failed: {e!r}")
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass

    # -- the run -------------------------------------------------------------------------------

    async def run(self) -> int:
        a = self.args
        self.server = Server(a.binary, a.server_args, a.log)
        await self.server.start()
        print(f"chaos: server pid {self.server.pid} on port {self.server.port}; log {a.log}", flush=True)
        churn = a.only in (None, "churn")
        healthy = a.only in (None, "churn", "healthy")
        scenarios = SCENARIOS if a.only is None else ((a.only,) if a.only in SCENARIOS else ())
        r = self.report

        if healthy:
            for i in range(a.healthy):
                h = Healthy(i, self.server.port, r, a.fault)
                await h.join()
                self.healthy.append(h)
            # Each healthy client has seen every other's join once the last one's sentinel returns.
        heap0, rss0, m0 = await self.memory()
        r.memory["baseline"] = (heap0, rss0)
        r.note(f"baseline: heap {fmt_bytes(heap0)}, RSS {fmt_bytes(rss0)}")

        if "big-url" in scenarios:
            await scenario_big_url(self.server.port, r, self.tag, a.big_url_connections)

        stop = asyncio.Event()
        sampler = asyncio.ensure_future(self.sample_loop(stop)) if churn else None
        senders = [asyncio.ensure_future(h.send_loop(stop, a.rate)) for h in self.healthy]
        if churn:
            for k in range(a.workers):
                self.workers.append(await self.spawn_worker(a.seed + k))
        port = self.server.port
        duration = a.seconds if (churn or a.only == "healthy") else 0
        end = time.monotonic() + duration

        def one_round(tag: str) -> list:
            coros = []
            for name in scenarios:
                if name == "utf8-name":
                    coros.append(scenario_utf8_name(port, r, tag))
                elif name == "utf8-room":
                    coros.append(scenario_utf8_room(port, r, tag))
                elif name == "long-name":
                    coros.append(scenario_long_name(port, r, tag))
                elif name == "huge-number":
                    coros.append(scenario_huge_number(port, r, tag))
                elif name == "dribble":
                    coros.append(scenario_dribble(port, r, tag, a.dribble_bound, a.dribble_interval))
            return coros

        async def hostile_rounds() -> None:
            # Once, or (--hostile-every) again every so many seconds while the churn lasts.
            n = 0
            while True:
                await asyncio.gather(*(self.guarded(c) for c in one_round(f"{self.tag}r{n}")))
                n += 1
                self.hostile_rounds = n
                if a.hostile_every <= 0 or time.monotonic() + a.hostile_every > end:
                    return
                try:
                    await asyncio.wait_for(stop.wait(), a.hostile_every)
                    return
                except asyncio.TimeoutError:
                    pass

        hostile_tasks = [asyncio.ensure_future(hostile_rounds())] if scenarios else []

        # The churn: kill a whole worker process every --kill-every seconds, replace it.
        next_seed = a.seed + a.workers
        while time.monotonic() < end:
            try:
                await asyncio.wait_for(stop.wait(), min(a.kill_every, max(0.0, end - time.monotonic())))
            except asyncio.TimeoutError:
                pass
            if churn and time.monotonic() < end - 1 and self.workers:
                victim = self.workers.pop(random.Random(next_seed).randrange(len(self.workers)))
                victim.proc.kill()
                self.kills += 1
                self.dead_workers.append(victim)
                self.workers.append(await self.spawn_worker(next_seed))
                next_seed += 1
            for h in self.healthy:
                if h.lost:
                    break
        stop.set()
        await asyncio.gather(*senders)
        # Stop the workers: their clients end as they chose; then whatever is left is killed.
        for w in self.workers:
            try:
                w.proc.stdin.close()
            except (ConnectionError, OSError):
                pass
        for w in self.workers:
            try:
                await asyncio.wait_for(w.proc.wait(), 20)
            except asyncio.TimeoutError:
                w.proc.kill()
                r.note("a churn worker did not stop within 20 s and was killed")
            await w.reader
        for w in self.dead_workers:
            await w.proc.wait()
            await w.reader
        await asyncio.gather(*hostile_tasks)
        if sampler:
            await sampler

        await self.check_healthy()
        await self.check_ghosts()
        if churn:
            await self.check_memory()
        await self.check_stop()
        self.check_warnings()
        self.check_frames()
        self.summary()
        return 1 if r.failures else 0

    async def guarded(self, coro) -> None:
        try:
            await coro
        except Exception as e:  # noqa: BLE001 — a scenario that breaks is a failure, not a crash
            self.report.fail("scenario", f"a hostile scenario raised {e!r}")

    # -- checks --------------------------------------------------------------------------------

    async def check_healthy(self) -> None:
        r = self.report
        if not self.healthy:
            return
        sent = {h.name: h.sent for h in self.healthy}
        r.counts["healthy_sent"] = sum(sent.values())
        # Wait (bounded) until every healthy client has what every healthy client sent.
        await asyncio.gather(*(h.wait_all(sent, self.args.settle) for h in self.healthy))
        holes = dups = reorders = 0
        for h in self.healthy:
            hh, d, o = h.holes(sent), h.duplicates, h.reorders
            holes, dups, reorders = holes + hh, dups + d, reorders + o
            if h.lost:
                r.fail("healthy", f"{h.name} lost its connection during the run: {h.lost}")
            if hh or d or o:
                missing = {s: sorted(set(range(n)) - h.seen[s])[:5] for s, n in sent.items()
                           if set(range(n)) - h.seen[s]}
                r.fail("healthy", f"{h.name}: {hh} holes, {o} reorders, {d} duplicates "
                                  f"(first missing: {missing})")
        r.counts.update(holes=holes, duplicates=dups, reorders=reorders)
        r.note(f"healthy: {len(self.healthy)} clients sent {sum(sent.values())} numbered messages; "
               f"{holes} holes, {reorders} reorders, {dups} duplicates")

    async def check_ghosts(self) -> None:
        r = self.report
        # The rooms: only the healthy room with the healthy clients (after the churn everything
        # else has left; a dropped or reset connection is noticed at once on loopback).
        port = self.server.port
        want_users = sorted(h.name for h in self.healthy if h.lost is None)
        ghost_ws = None
        if self.args.fault == "ghost":
            ghost_ws = await join_raw(port, "/ws/chat/churn-ghost?username=ghost", r, "ghost (fault)")

        def expected(rooms) -> bool:
            if not want_users:
                return rooms == []
            return (len(rooms) == 1 and rooms[0].get("room_id") == HEALTHY_ROOM
                    and sorted(rooms[0].get("users", [])) == want_users
                    and int(rooms[0].get("user_count", -1)) == len(want_users))

        gauges = {"nexios_channel_group_members": len(want_users),
                  "nexios_channel_groups": 1 if want_users else 0,
                  'nexios_connections_open_by_kind{kind="websocket"}': len(want_users)}

        async def look() -> tuple:
            status, body = await http_get(port, "/api/chat/rooms")
            try:
                rooms = strict_json(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                r.fail("ghosts", f"/api/chat/rooms is not UTF-8 JSON ({e}): {body[:200]!r}")
                rooms = None
            m = await scrape(port)
            return rooms, {name: m.get(name) for name in gauges}

        # Poll (bounded by --settle): the listing and the gauges must end right.
        deadline = time.monotonic() + self.args.settle
        pause = 0.01
        t0 = time.monotonic()
        first = None
        while True:
            rooms, got = await look()
            ok = rooms is not None and expected(rooms) and got == gauges
            if first is None:
                first = (json.dumps(rooms)[:300], got)
                first_tcp = server_tcp_states(port)
            if ok or rooms is None or time.monotonic() > deadline:
                break
            await asyncio.sleep(pause)  # the poll interval between two looks at the listing
            pause = min(pause * 2, 0.2)
        if ok and time.monotonic() - t0 > 1:
            r.note(f"ghosts: members and counts were right only {time.monotonic() - t0:.1f}s after the churn "
                   f"(right after it: rooms {first[0]}, gauges {first[1]}, the server's TCP connections on "
                   f"its port by state {first_tcp})")
        ghosts = 0
        if rooms is not None and not expected(rooms):
            for room in rooms:
                users = room.get("users", [])
                if room.get("room_id") == HEALTHY_ROOM:
                    ghosts += len([u for u in users if u not in want_users])
                else:
                    ghosts += max(len(users), int(room.get("user_count", 0)))
            shown = json.dumps(rooms)[:400]
            r.fail("ghosts", f"/api/chat/rooms {self.args.settle:g}s after the churn: {shown} "
                             f"(expected only {HEALTHY_ROOM!r} with {want_users})")
            ghosts = max(ghosts, 1)
        for name, want in gauges.items():
            if got.get(name) != want:
                r.fail("ghosts", f"{name} is {got.get(name)} {self.args.settle:g}s after the churn, expected {want}")
                ghosts = max(ghosts, 1)
        r.counts["ghosts"] = ghosts
        if ghost_ws is not None:
            await ghost_ws.ws.close()

    async def check_memory(self) -> None:
        r = self.report
        heap0, rss0 = r.memory["baseline"]
        peak_heap = max([s[1] for s in self.samples if s[1] is not None] + [heap0 or 0])
        peak_rss = max([s[2] for s in self.samples if s[2] is not None] + [rss0 or 0])
        r.memory["peak"] = (peak_heap, peak_rss)
        heap_margin, rss_margin = self.args.heap_margin * MiB, self.args.rss_margin * MiB
        # Wait (bounded by --settle) for memory to come back: histories may expire, caches trim.
        deadline = time.monotonic() + self.args.settle
        pause = 0.05
        while True:
            heap, rss, m = await self.memory()
            ok = (heap is not None and heap <= heap0 + heap_margin) and (rss is not None and rss <= rss0 + rss_margin)
            if ok or time.monotonic() > deadline:
                break
            await asyncio.sleep(pause)  # the poll interval between two looks at /metrics
            pause = min(pause * 2, 1.0)
        r.memory["after"] = (heap, rss)
        r.memory["history"] = (m.get("nexios_channel_history_entries"), m.get("nexios_channel_history_bytes"))
        r.note(f"memory: heap {fmt_bytes(heap0)} → peak {fmt_bytes(peak_heap)} → after {fmt_bytes(heap)} "
               f"(margin {self.args.heap_margin:g} MiB); RSS {fmt_bytes(rss0)} → peak {fmt_bytes(peak_rss)} → "
               f"after {fmt_bytes(rss)} (margin {self.args.rss_margin:g} MiB); history after: "
               f"{m.get('nexios_channel_history_entries'):.0f} entries, "
               f"{fmt_bytes(m.get('nexios_channel_history_bytes'))} of payload")
        if self.args.measure_trim:
            # A measurement aid (not a check): what RSS would be if glibc gave its free memory back.
            proc = await asyncio.create_subprocess_exec(
                "gdb", "-p", str(self.server.pid), "-batch", "-ex", "call (int)malloc_trim(0)",
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await asyncio.wait_for(proc.wait(), 60)
            trimmed_heap, trimmed_rss, _ = await self.memory()
            r.rows["RSS after malloc_trim (gdb)"] = f"{fmt_bytes(trimmed_rss)} (heap {fmt_bytes(trimmed_heap)})"
            r.note(f"memory: after malloc_trim(0) RSS {fmt_bytes(trimmed_rss)}, heap {fmt_bytes(trimmed_heap)}")
        if heap is None:
            r.fail("memory", "/metrics has no nexios_process_heap_bytes")
        elif heap > heap0 + heap_margin:
            r.fail("memory", f"live heap {fmt_bytes(heap)} after the load, {fmt_bytes(heap - heap0)} above its "
                             f"baseline {fmt_bytes(heap0)} (margin {self.args.heap_margin:g} MiB)")
        if rss is None:
            r.fail("memory", "no RSS for the server")
        elif rss > rss0 + rss_margin:
            r.fail("memory", f"RSS {fmt_bytes(rss)} after the load, {fmt_bytes(rss - rss0)} above its baseline "
                             f"{fmt_bytes(rss0)} (margin {self.args.rss_margin:g} MiB)")

    async def check_stop(self) -> None:
        r = self.report
        t0 = time.monotonic()
        self.server.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.server.proc.wait(), self.args.stop_bound)
        except asyncio.TimeoutError:
            code = None
        took = time.monotonic() - t0
        r.counts["exit_code"] = code if code is not None else "timeout"
        r.memory["stop_seconds"] = took
        if code is None:
            r.fail("stop", f"the server did not exit within {self.args.stop_bound:g}s of SIGTERM")
            self.server.kill()
        elif code != 0:
            r.fail("stop", f"the server exited with {code} after SIGTERM")
        for h in self.healthy:
            try:
                await asyncio.wait_for(asyncio.shield(h._task), OP_TIMEOUT)
            except asyncio.TimeoutError:
                pass
            if h.close_code != 1001:
                r.fail("stop", f"{h.name} was closed with {h.close_code} at shutdown, expected 1001")
        r.note(f"SIGTERM: exit status {code} after {took:.2f}s")

    def check_warnings(self) -> None:
        r = self.report
        seen = Counter()
        samples = {}
        lines = 0
        with open(self.args.log, "rb") as f:
            for raw in f:
                lines += 1
                try:
                    rec = json.loads(raw)
                except ValueError:
                    r.fail("warnings", f"a server log line is not JSON: {raw[:200]!r}")
                    continue
                if rec.get("level") not in ("warning", "error"):
                    continue
                comp, msg = rec.get("component", ""), rec.get("msg", "")
                if any(c == comp and re.search(p, msg) for c, p, _ in EXPECTED_WARNINGS):
                    r.counts["expected_warnings"] += 1
                    continue
                key = (rec.get("level"), comp, re.sub(r"\d+", "N", msg)[:100])
                seen[key] += 1
                samples.setdefault(key, raw.decode("utf-8", "replace").strip()[:400])
        r.counts["warnings"] = sum(seen.values())
        r.counts["log_lines"] = lines
        for key, n in seen.most_common():
            r.fail("warnings", f"{n} × {key[0]} [{key[1]}] {key[2]!r}; e.g. {samples[key]}")

    def check_frames(self) -> None:
        r = self.report
        total = Counter()
        for w in self.workers + self.dead_workers:
            total.update(w.stats)
        r.counts.update({k: v for k, v in total.items()})
        kinds = Counter(kind for _, kind, _ in r.bad_frames)
        # Workers count every bad frame (they report only the first ten each).
        worker_bad = total.get("bad_frames", 0)
        in_driver = len([b for b in r.bad_frames if not b[0].startswith("churn ")])
        r.counts["bad_frames_total"] = worker_bad + in_driver
        if r.counts["bad_frames_total"]:
            r.fail("frames", f"{r.counts['bad_frames_total']} invalid frames left the server "
                             f"({dict(kinds)}); first: {r.bad_frames[0] if r.bad_frames else '?'}")
        unexpected = {k: v for k, v in total.items()
                      if k.startswith(("refused_", "server_closed_", "timeouts", "connect_errors", "client_errors",
                                       "close_timeouts"))}
        if unexpected:
            r.fail("churn", f"churn clients saw what should not happen: {unexpected}")

    def summary(self) -> None:
        r, c = self.report, self.report.counts
        base = r.memory.get("baseline", (None, None))
        peak = r.memory.get("peak", (None, None))
        after = r.memory.get("after", (None, None))
        rows = [
            ("churn seconds", self.args.seconds if self.args.only in (None, "churn", "healthy") else 0),
            ("churn clients (connections)", c.get("clients", 0)),
            ("  joined / history replayed", f"{c.get('joined', 0)} / {c.get('replayed', 0)}"),
            ("  ended clean / FIN / RST / mid-frame / mid-handshake",
             f"{c.get('end_clean', 0)} / {c.get('end_drop', 0)} / {c.get('end_reset', 0)} / "
             f"{c.get('end_midframe', 0)} / {c.get('end_midhandshake', 0)}"),
            ("  worker processes killed (SIGKILL)", self.kills),
            ("  messages sent / frames received", f"{c.get('sent', 0)} / {c.get('frames_in', 0)}"),
            ("hostile rounds", self.hostile_rounds),
            ("healthy clients / numbered messages", f"{len(self.healthy)} / {c.get('healthy_sent', 0)}"),
            ("holes", c.get("holes", 0)),
            ("reorders", c.get("reorders", 0)),
            ("duplicates", c.get("duplicates", 0)),
            ("ghosts", c.get("ghosts", 0)),
            ("bad frames", c.get("bad_frames_total", 0)),
            ("warnings (unexpected / expected)", f"{c.get('warnings', 0)} / {c.get('expected_warnings', 0)}"),
            ("heap baseline / peak / after", " / ".join(fmt_bytes(x) for x in (base[0], peak[0], after[0]))),
            ("RSS baseline / peak / after", " / ".join(fmt_bytes(x) for x in (base[1], peak[1], after[1]))),
            ("event-loop lag, largest sampled", f"{self.peak_lag * 1000:.0f} ms"),
            ("exit code at SIGTERM (seconds)", f"{c.get('exit_code', '?')} ({r.memory.get('stop_seconds', 0):.2f}s)"),
        ]
        rows += list(r.rows.items())
        rows.append(("failed checks", ", ".join(sorted({f[0] for f in r.failures})) or "none"))
        width = max(len(k) for k, _ in rows)
        print("\nchaos summary", flush=True)
        print("-" * (width + 40))
        for k, v in rows:
            print(f"{k:<{width}}  {v}")
        print("-" * (width + 40))
        print(f"chaos: {'FAILED' if r.failures else 'PASSED'} ({len(r.failures)} failures); server log: {self.args.log}",
              flush=True)


def fmt_bytes(n) -> str:
    if n is None:
        return "?"
    return f"{n / MiB:.1f} MiB"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", help="the chat example (default: $NEXIOS_CHAT_BIN, build/bin/chat)")
    p.add_argument("--seconds", type=float, default=60, help="seconds of churn (default 60)")
    p.add_argument("--only", choices=ONLY_CHOICES,
                   help="one hostile scenario alone, or 'churn' (no hostile clients), or 'healthy' (no churn)")
    p.add_argument("--fault", choices=FAULTS,
                   help="a deliberate fault that must make the run fail: skip/dup/reorder (healthy0 drops, repeats "
                        "or delays one of healthy1's messages), ghost (a client left in a room), badframe (one frame "
                        "a churn client receives is corrupted before it is validated)")
    p.add_argument("--workers", type=int, default=3, help="churn worker processes (default 3)")
    p.add_argument("--clients", type=int, default=70, help="concurrent clients per worker (default 70)")
    p.add_argument("--rooms", type=int, default=12, help="shared churn rooms (default 12)")
    p.add_argument("--healthy", type=int, default=4, help="healthy clients (default 4)")
    p.add_argument("--rate", type=float, default=4, help="numbered messages per second per healthy client")
    p.add_argument("--healthy-share", type=float, default=0.2, help="share of churn clients joining the healthy room")
    p.add_argument("--unique-share", type=float, default=0.15,
                   help="share of churn clients joining a room of their own (default 0.15)")
    p.add_argument("--max-life", type=float, default=4.0, help="longest life of a churn client, seconds")
    p.add_argument("--kill-every", type=float, default=6.0, help="seconds between two worker kills (SIGKILL)")
    p.add_argument("--dribble-bound", type=float, default=45.0,
                   help="seconds within which the server must close a connection dribbling one frame (default 45)")
    p.add_argument("--dribble-interval", type=float, default=2.0, help="seconds between two dribbled bytes")
    p.add_argument("--hostile-every", type=float, default=0,
                   help="run the hostile scenarios again every so many seconds of churn (default 0: once; "
                        "make soak uses 120)")
    p.add_argument("--big-url-connections", type=int, default=60, help="connections per URL size in big-url")
    p.add_argument("--heap-margin", type=float, default=None, help="MiB the live heap may stay above baseline")
    p.add_argument("--rss-margin", type=float, default=None, help="MiB the RSS may stay above baseline")
    p.add_argument("--settle", type=float, default=20.0,
                   help="seconds to wait after the churn for members and memory to come back (default 20)")
    p.add_argument("--stop-bound", type=float, default=15.0,
                   help="seconds within which SIGTERM must end the server with 0 (default 15)")
    p.add_argument("--server-arg", dest="server_args", action="append", default=None,
                   help="an argument for the server (repeat it); also $NEXIOS_CHAOS_SERVER_ARGS (shell words)")
    p.add_argument("--measure-trim", action="store_true",
                   help="after the memory check, call malloc_trim(0) in the server with gdb and report RSS then "
                        "(how the RSS margin was measured; needs gdb and ptrace rights)")
    p.add_argument("--log", help="where the server's log goes (default: a temporary file, kept if a check failed)")
    p.add_argument("--seed", type=int, default=None)
    # Internal: a churn worker process.
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    if args.server_args is None:
        args.server_args = shlex.split(os.environ.get("NEXIOS_CHAOS_SERVER_ARGS", ""))
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        asyncio.run(Worker(args).run())
        return 0
    args.binary = find_chat_binary(args.binary)
    if args.heap_margin is None:
        args.heap_margin = DEFAULT_HEAP_MARGIN_MIB
    if args.rss_margin is None:
        args.rss_margin = DEFAULT_RSS_MARGIN_MIB
    temporary_log = args.log is None
    if temporary_log:
        fd, args.log = tempfile.mkstemp(prefix="nexios-chaos-", suffix=".log")
        os.close(fd)
    print(f"chaos: seed {args.seed}, {args.seconds:g}s, only={args.only}, fault={args.fault}", flush=True)
    driver = Driver(args)
    hard = int(args.seconds + args.settle + args.dribble_bound + 150)

    def on_alarm(*_):
        print(f"chaos: FAIL [deadline] the run did not finish within {hard}s; killing everything", flush=True)
        driver.kill_everything()
        os._exit(3)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(hard)
    try:
        code = asyncio.run(driver.run())
        if code == 0 and temporary_log:
            os.unlink(args.log)  # kept only when something failed
        return code
    except Exception as e:  # noqa: BLE001
        print(f"chaos: FAIL [driver] {e!r}", flush=True)
        if driver.server is not None:
            print(f"chaos: server log tail:\n{driver.server.log_tail()}", flush=True)
        return 1
    finally:
        driver.kill_everything()
        signal.alarm(0)


# The memory margins (MiB above the baseline after the load; see docs/security.md "The chaos test"
# for the measurements behind them).
DEFAULT_HEAP_MARGIN_MIB = 4.0
DEFAULT_RSS_MARGIN_MIB = 16.0

if __name__ == "__main__":
    sys.exit(main())
