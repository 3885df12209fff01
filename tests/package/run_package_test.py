#!/usr/bin/python3
"""Builds tests/package/consumer/main.cpp against nexios the way a user's project would, runs it and
checks that it answers a WebSocket message.

  run_package_test.py MODE --source-dir SRC --build-dir BUILD --work-dir DIR --version V [--config C]
                      [--cxx CXX] [--cxx-flags FLAGS] [--generator G] [--make-program P]

MODE is one of
  find_package      `cmake --install BUILD --prefix DIR/prefix`, then tests/package/find_package
                    (find_package(nexios 0.2 CONFIG REQUIRED), CMAKE_PREFIX_PATH=DIR/prefix);
  add_subdirectory  tests/package/add_subdirectory: add_subdirectory(SRC) beside its own targets
                    `chat` and `echo`; nexios' tests and examples must not be there;
  pkg_config        the same install, then plain CXX with `pkg-config --cflags --libs nexios`
                    (PKG_CONFIG_PATH=DIR/prefix/...); without the flags a nexios header must stop
                    the compile with an #error that says what to do.

DIR is removed at the end (set NEXIOS_PACKAGE_TEST_KEEP=1 to keep it). Every step has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import websockets

HERE = Path(__file__).resolve().parent
BUILD_TIMEOUT = 1200.0  # seconds for one configure/build/install step (add_subdirectory compiles nexios)
START_TIMEOUT = 30.0  # seconds for the "listening" line
IO_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0
LISTEN_RE = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")


def log(msg: str) -> None:
    print(f"[package] {msg}", flush=True)


def run(cmd: list[str], *, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Runs cmd, printing it and (on failure, or always when short) its output."""
    log("$ " + shlex.join(cmd))
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=BUILD_TIMEOUT)
    log(f"  exit {proc.returncode} after {time.monotonic() - started:.1f}s")
    if check and proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        raise SystemExit(f"FAILED: {shlex.join(cmd)}")
    return proc


class Args(argparse.Namespace):
    mode: str
    version: str
    source_dir: Path
    build_dir: Path
    work_dir: Path
    config: str
    cxx: str
    cxx_flags: str
    generator: str
    make_program: str


def cmake_configure(args: Args, source: Path, binary: Path, *extra: str) -> None:
    cmd = ["cmake", "-S", str(source), "-B", str(binary), "-G", args.generator]
    if args.make_program:
        cmd.append(f"-DCMAKE_MAKE_PROGRAM={args.make_program}")
    if args.cxx:
        cmd.append(f"-DCMAKE_CXX_COMPILER={args.cxx}")
    if args.config:
        cmd.append(f"-DCMAKE_BUILD_TYPE={args.config}")
    run(cmd + list(extra))


def cmake_build(binary: Path, target: str) -> None:
    run(["cmake", "--build", str(binary), "--target", target, "-j", "2"])


def install(args: Args) -> Path:
    prefix = args.work_dir / "prefix"
    cmd = ["cmake", "--install", str(args.build_dir), "--prefix", str(prefix)]
    if args.config:
        cmd += ["--config", args.config]
    run(cmd)
    for f in ("include/nexios/nexios.hpp", "include/nexios/version.hpp", "include/nexios/config.hpp"):
        if not (prefix / f).is_file():
            raise SystemExit(f"FAILED: {f} not installed")
    return prefix


def find_installed(prefix: Path, name: str) -> Path:
    found = sorted(prefix.rglob(name))
    if not found:
        raise SystemExit(f"FAILED: no {name} under {prefix}")
    return found[0]


def installed_nothing_but_the_library(prefix: Path) -> None:
    """An install holds the headers, the libraries and the package files: no programs, no tests."""
    allowed = re.compile(r"include/nexios/.*\.hpp|lib[^/]*/(libnexios\w*\.(a|so[.0-9]*)|cmake/nexios/nexios[-\w]*\.cmake"
                         r"|pkgconfig/nexios\.pc)|share/doc/nexios/LICENSE")
    unexpected = [str(p.relative_to(prefix)) for p in prefix.rglob("*")
                  if not p.is_dir() and not allowed.fullmatch(str(p.relative_to(prefix)))]
    if unexpected:
        raise SystemExit(f"FAILED: the install holds more than the library: {unexpected}")


# ---- the three ways ----------------------------------------------------------------------------


def build_find_package(args: Args) -> Path:
    prefix = install(args)
    installed_nothing_but_the_library(prefix)
    binary = args.work_dir / "consumer-build"
    cmake_configure(args, HERE / "find_package", binary, f"-DCMAKE_PREFIX_PATH={prefix}")
    cache = (binary / "CMakeCache.txt").read_text()
    m = re.search(r"^nexios_DIR:PATH=(.*)$", cache, re.M)
    if not m or not Path(m.group(1)).resolve().is_relative_to(prefix.resolve()):
        raise SystemExit(f"FAILED: nexios was not found in {prefix} (nexios_DIR={m and m.group(1)})")
    cmake_build(binary, "consumer")
    return binary / "consumer"


def build_add_subdirectory(args: Args) -> Path:
    binary = args.work_dir / "consumer-build"
    # GTest made unfindable: a subproject must not look for it (nor for node).
    cmake_configure(args, HERE / "add_subdirectory", binary, f"-DNEXIOS_SOURCE_DIR={args.source_dir}",
                    "-DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON")
    cache = (binary / "CMakeCache.txt").read_text()
    for var in ("NEXIOS_NODE", "GTest_DIR", "NEXIOS_TEST_PYTHON"):
        if re.search(rf"^{var}:", cache, re.M):
            raise SystemExit(f"FAILED: nexios as a subproject looked for a test tool ({var} is in the cache)")
    helps = run(["cmake", "--build", str(binary), "--target", "help"]).stdout
    leaked = [t for t in re.findall(r"^(\S+): ", helps, re.M)
              if any(marker in t for marker in ("nexios_example_", "_tests", "fuzz_"))]
    if leaked:
        raise SystemExit(f"FAILED: nexios' test/example targets in the parent: {leaked}")
    cmake_build(binary, "chat")
    if (binary / "nexios" / "bin").exists():
        raise SystemExit("FAILED: nexios built programs into the parent's build tree")
    return binary / "chat"


def build_pkg_config(args: Args) -> Path:
    prefix = install(args)
    pc = find_installed(prefix, "nexios.pc")
    env = dict(os.environ, PKG_CONFIG_PATH=str(pc.parent))
    flags = run(["pkg-config", "--cflags", "--libs", "nexios"], env=env).stdout.split()
    log("pkg-config: " + " ".join(flags))
    for want in ("-DBOOST_ASIO_NO_DEPRECATED", "-DBOOST_ASIO_DISABLE_BOOST_COROUTINE", f"-I{prefix}/include",
                 "-lnexios", "-lnexios_redis", "-lnexios_resp", "-lboost_json", "-pthread"):
        if want not in flags:
            raise SystemExit(f"FAILED: {want} missing from pkg-config --cflags --libs nexios")
    version = run(["pkg-config", "--modversion", "nexios"], env=env).stdout.strip()
    if version != args.version:
        raise SystemExit(f"FAILED: pkg-config --modversion nexios says {version}, expected {args.version}")

    cxx = args.cxx or "c++"
    user_flags = ["-std=c++20", *shlex.split(args.cxx_flags)]
    # Forgetting the Asio definitions is a compile error that says what to do.
    probe = args.work_dir / "probe.cpp"
    probe.write_text("#include <nexios/task.hpp>\nint main() {}\n")
    bad = run([cxx, *user_flags, f"-I{prefix}/include", "-fsyntax-only", str(probe)], check=False)
    if bad.returncode == 0 or "BOOST_ASIO_NO_DEPRECATED is not defined" not in bad.stdout \
            or "pkg-config --cflags nexios" not in bad.stdout:
        sys.stdout.write(bad.stdout)
        raise SystemExit("FAILED: a nexios header compiled without the Asio definitions, or said nothing useful")

    out = args.work_dir / "consumer"
    run([cxx, *user_flags, str(HERE / "consumer" / "main.cpp"), "-o", str(out), *flags], env=env)
    return out


# ---- run it ------------------------------------------------------------------------------------


def read_listening_line(proc: subprocess.Popen, timeout: float) -> tuple[bytes, int]:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SystemExit(f"FAILED: no listening line within {timeout}s (got {buf!r})")
            if not sel.select(remaining):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise SystemExit(f"FAILED: exited with {proc.wait(STOP_TIMEOUT)} before listening (got {buf!r})")
            buf += chunk
    line = buf.split(b"\n", 1)[0]
    m = LISTEN_RE.search(line)
    if not m:
        raise SystemExit(f"FAILED: unexpected first line {line!r}")
    return line, int(m.group(1))


async def echo_roundtrip(port: int) -> None:
    url = f"ws://127.0.0.1:{port}/ws"
    async with websockets.connect(url, open_timeout=IO_TIMEOUT, close_timeout=IO_TIMEOUT) as ws:
        for message in ("hello from a nexios user", "ünïcødé ✓"):
            await asyncio.wait_for(ws.send(message), IO_TIMEOUT)
            reply = await asyncio.wait_for(ws.recv(), IO_TIMEOUT)
            if reply != message:
                raise SystemExit(f"FAILED: sent {message!r}, got {reply!r}")
    log(f"{url} echoed both messages")


def run_consumer(binary: Path, stop_signal: int, expected_version: str) -> None:
    log(f"running {binary}")
    proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        line, port = read_listening_line(proc, START_TIMEOUT)
        log(line.decode(errors="replace"))
        if f"(nexios {expected_version})".encode() not in line:
            raise SystemExit(f"FAILED: the consumer reports another nexios version than {expected_version}")
        asyncio.run(echo_roundtrip(port))
        log(f"stopping pid {proc.pid} with {signal.Signals(stop_signal).name}")
        os.kill(proc.pid, stop_signal)
        code = proc.wait(STOP_TIMEOUT)
        if code != 0:
            raise SystemExit(f"FAILED: the consumer exited with {code}")
        log("exited with 0")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


MODES = {
    "find_package": (build_find_package, signal.SIGINT),
    "add_subdirectory": (build_add_subdirectory, signal.SIGTERM),
    "pkg_config": (build_pkg_config, signal.SIGINT),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=sorted(MODES))
    ap.add_argument("--source-dir", type=Path, required=True)
    ap.add_argument("--build-dir", type=Path, required=True)
    ap.add_argument("--work-dir", type=Path, required=True)
    ap.add_argument("--version", required=True, help="the project version the consumer must report")
    ap.add_argument("--config", default="")
    ap.add_argument("--cxx", default="")
    ap.add_argument("--cxx-flags", default="")
    ap.add_argument("--generator", default="Ninja")
    ap.add_argument("--make-program", default="")
    args = ap.parse_args(namespace=Args())
    args.source_dir = args.source_dir.resolve()
    args.build_dir = args.build_dir.resolve()
    args.work_dir = args.work_dir.resolve()

    started = time.monotonic()
    shutil.rmtree(args.work_dir, ignore_errors=True)
    args.work_dir.mkdir(parents=True)
    try:
        build, stop_signal = MODES[args.mode]
        binary = build(args)
        run_consumer(binary, stop_signal, args.version)
    finally:
        if os.environ.get("NEXIOS_PACKAGE_TEST_KEEP") == "1":
            log(f"kept {args.work_dir}")
        else:
            shutil.rmtree(args.work_dir, ignore_errors=True)
            try:
                args.work_dir.parent.rmdir()  # the shared package-tests/, once the last one is done
            except OSError:
                pass
    log(f"{args.mode}: ok in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
