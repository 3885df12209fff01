"""Test Redis servers for the Python tests (standard library only).

``RedisServer(password=None, tls=False, extra_args=())`` is a context manager that starts
``redis-server`` (from PATH, else /usr/bin) on a free loopback port in its own temp dir, waits
(bounded, polling PING over a socket) until it answers, and stops it on exit. It offers
``start/stop/kill/restart/pause (SIGSTOP)/resume``, ``.port``, ``.url``, ``.pid``, ``.dir``,
``command(*args)`` (raw RESP over a new socket, returns the parsed reply: str for simple strings,
bytes for bulk strings, int, None, list, or a ``RedisError`` instance for error replies) and
``publish(channel, payload)``. With ``tls=True`` a CA and a server certificate for
localhost/127.0.0.1 are made with the openssl CLI (``.ca_file``, ``.cert_file``, ``.key_file``)
and the server listens on TLS only (``rediss://`` URL).

The server process is stopped when the context exits, when ``stop()`` is called, and at
interpreter exit (atexit), so a failing test leaves no process behind.

Run this file to check it against the installed redis-server: ``python3 redis_testlib.py``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
from typing import Iterable, Optional, Union

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nexios_testlib import poll_until  # noqa: E402  (the shared bounded poll)

HOST = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds for redis-server to answer PING
STOP_TIMEOUT = 5.0  # seconds after SIGTERM before SIGKILL
COMMAND_TIMEOUT = 5.0  # seconds for a reply to command()

_live: "set[RedisServer]" = set()


class RedisError(Exception):
    """An error reply ("-ERR ..."); command() returns it (it does not raise it)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RedisError) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


Reply = Union[str, bytes, int, None, list, RedisError]


def find_program(name: str) -> str:
    return shutil.which(name) or f"/usr/bin/{name}"


def free_port() -> int:
    """A loopback port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def encode_command(args: Iterable[Union[str, bytes, int]]) -> bytes:
    """A RESP array of bulk strings (binary safe)."""
    parts = []
    items = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    parts.append(b"*%d\r\n" % len(items))
    for a in items:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class RespReader:
    """Parses RESP2 replies from a socket (blocking, with the socket's timeout)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the Redis server closed the connection")
        self.buf += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self) -> Reply:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError(f"malformed RESP line {line!r}")


def generate_certificates(directory: str, name: str = "localhost") -> dict:
    """A CA and a server certificate for `name`, localhost and 127.0.0.1 (openssl CLI)."""
    openssl = find_program("openssl")
    files = {k: os.path.join(directory, k.replace("_", ".")) for k in ("ca_crt", "ca_key", "server_crt", "server_key")}
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{name},DNS:localhost,IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run([openssl, *a], check=True, capture_output=True, timeout=60)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", files["ca_key"], "-out", files["ca_crt"], "-days", "1",
        "-subj", "/CN=nexios test CA")
    csr = os.path.join(directory, "server.csr")
    run("req", *ec, "-keyout", files["server_key"], "-out", csr, "-subj", f"/CN={name}")
    run("x509", "-req", "-in", csr, "-CA", files["ca_crt"], "-CAkey", files["ca_key"], "-CAcreateserial",
        "-out", files["server_crt"], "-days", "1", "-extfile", ext)
    return files


class RedisServer:
    """A redis-server process for one test (see the module docstring)."""

    def __init__(self, password: Optional[str] = None, tls: bool = False, extra_args: Iterable[str] = ()) -> None:
        self.password = password
        self.tls = tls
        self.extra_args = list(extra_args)
        self.dir = tempfile.mkdtemp(prefix="nexios-redis-")
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self.ca_file = self.cert_file = self.key_file = None
        if tls:
            files = generate_certificates(self.dir)
            self.ca_file, self.cert_file, self.key_file = files["ca_crt"], files["server_crt"], files["server_key"]

    # ---- context manager -------------------------------------------------------------------
    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stops the server and removes its temp dir."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- properties ------------------------------------------------------------------------
    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        auth = f":{self.password}@" if self.password else ""
        return f"{scheme}://{auth}{HOST}:{self.port}/0"

    def log(self) -> str:
        out = ""
        for name in ("redis.log", "stderr.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    # ---- process control -------------------------------------------------------------------
    def start(self) -> None:
        """Starts on a free port (another one when the port was taken) and waits for PING."""
        if self.pid is not None:
            raise RuntimeError("already running")
        for _ in range(10):
            self.port = free_port()
            if self._launch():
                return
        raise RuntimeError("redis-server found no free port: " + self.log())

    def restart(self) -> None:
        """Stops and starts again on the same port with the same options."""
        self.stop()
        # The port may still be held for a moment by the old process: launch again until it is free.
        if not poll_until(self._launch, START_TIMEOUT):
            raise RuntimeError(f"redis-server did not restart on port {self.port}: " + self.log())

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        _live.discard(self)

    def kill(self) -> None:
        """SIGKILL now."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None
        _live.discard(self)

    def pause(self) -> None:
        """SIGSTOP: the server stops answering, its connections stay open."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after pause()."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGCONT)

    def _argv(self) -> list:
        argv = [find_program("redis-server"), "--bind", HOST]
        if self.tls:
            argv += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.cert_file,
                     "--tls-key-file", self.key_file, "--tls-ca-cert-file", self.ca_file, "--tls-auth-clients", "no"]
        else:
            argv += ["--port", str(self.port)]
        argv += ["--dir", self.dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
                 "--logfile", os.path.join(self.dir, "redis.log")]
        if self.password:
            argv += ["--requirepass", self.password]
        return argv + self.extra_args

    def _launch(self) -> bool:
        """Starts on self.port; False when the port was taken. Raises on other failures."""
        for name in ("redis.log", "stderr.log"):
            try:
                os.unlink(os.path.join(self.dir, name))
            except FileNotFoundError:
                pass
        with open(os.path.join(self.dir, "stderr.log"), "wb") as err:
            self.proc = subprocess.Popen(self._argv(), stdout=err, stderr=err, stdin=subprocess.DEVNULL)
        _live.add(self)
        exited = []

        def settled() -> bool:  # it answers PING (any reply means it is up), or it has exited
            if self.proc.poll() is not None:
                exited.append(True)
                return True
            try:
                self._roundtrip([["PING"]], timeout=0.5, auth=False)
                return True
            except (OSError, ConnectionError, ssl.SSLError):
                return False

        if not poll_until(settled, START_TIMEOUT):
            self.kill()
            raise RuntimeError("redis-server did not answer PING in time: " + self.log())
        if exited:
            self.proc = None
            _live.discard(self)
            if "Address already in use" in self.log():
                return False
            raise RuntimeError("redis-server exited at start: " + self.log())
        return True

    # ---- commands --------------------------------------------------------------------------
    def _connect(self, timeout: float) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=timeout)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        return sock

    def _roundtrip(self, commands: list, timeout: float = COMMAND_TIMEOUT, auth: bool = True) -> list:
        if auth and self.password:
            commands = [["AUTH", self.password], *commands]
        with self._connect(timeout) as sock:
            sock.sendall(b"".join(encode_command(c) for c in commands))
            reader = RespReader(sock)
            replies = [reader.read() for _ in commands]
        return replies[1:] if auth and self.password else replies

    def command(self, *args: Union[str, bytes, int]) -> Reply:
        """One command over a new connection (AUTH first with a password); the parsed reply."""
        return self._roundtrip([list(args)])[0]

    def publish(self, channel: Union[str, bytes], payload: Union[str, bytes]) -> int:
        """PUBLISH; returns how many subscribers received it."""
        reply = self.command("PUBLISH", channel, payload)
        if isinstance(reply, RedisError):
            raise reply
        return reply


@atexit.register
def _stop_all() -> None:
    for server in list(_live):
        server.kill()


def _self_test() -> None:
    with RedisServer(password="pw") as r:
        assert r.command("PING") == "PONG"
        assert r.command("SET", "k", b"a\r\n\0b") == "OK"
        assert r.command("GET", "k") == b"a\r\n\0b"
        assert r.command("GET", "missing") is None
        assert r.command("RPUSH", "l", "x", "y") == 2
        assert r.command("LRANGE", "l", 0, -1) == [b"x", b"y"]
        assert isinstance(r.command("NOPE"), RedisError)
        assert r.publish("ch", b"x") == 0
        port, pid = r.port, r.pid
        r.pause()
        r.resume()
        r.restart()
        assert r.port == port and r.pid != pid and r.command("PING") == "PONG"
        r.kill()
        assert r.pid is None
    with RedisServer(tls=True) as t:
        assert t.url.startswith("rediss://")
        assert t.command("PING") == "PONG"
    print("redis_testlib: OK")


if __name__ == "__main__":
    _self_test()
