#!/usr/bin/python3
"""The chaos test's checks can fail: each deliberate fault of chaos.py --fault must make a short
run fail with the check it targets, and the same run without a fault must pass. And the driver
leaves no orphans: killed with SIGKILL, its server and worker processes die with it.

    /usr/bin/python3 tests/chaos/test_faults.py --binary build/bin/chat
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = None


def run_chaos(*args, timeout=180):
    with tempfile.TemporaryDirectory(prefix="nexios-chaos-faults-") as tmp:
        cmd = [sys.executable, os.path.join(HERE, "chaos.py"), "--binary", BINARY, "--settle", "3",
               "--log", os.path.join(tmp, "server.log"), *args]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


class Faults(unittest.TestCase):
    HEALTHY = ("--only", "healthy", "--seconds", "3")

    def assert_fails_with(self, out_code, *needles):
        code, out = out_code
        self.assertEqual(code, 1, out)
        for needle in needles:
            self.assertIn(needle, out, out)

    def test_without_a_fault_the_healthy_run_passes(self):
        code, out = run_chaos(*self.HEALTHY)
        self.assertEqual(code, 0, out)
        self.assertIn("0 holes, 0 reorders, 0 duplicates", out)
        self.assertIn("chaos: PASSED", out)

    def test_a_skipped_message_is_a_hole(self):
        self.assert_fails_with(run_chaos(*self.HEALTHY, "--fault", "skip"),
                               "FAIL [healthy] healthy0: 1 holes, 0 reorders, 0 duplicates", "'healthy1': [5]")

    def test_a_repeated_message_is_a_duplicate(self):
        self.assert_fails_with(run_chaos(*self.HEALTHY, "--fault", "dup"),
                               "FAIL [healthy] healthy0: 0 holes, 0 reorders, 1 duplicates")

    def test_a_delayed_message_is_a_reorder(self):
        self.assert_fails_with(run_chaos(*self.HEALTHY, "--fault", "reorder"),
                               "FAIL [healthy] healthy0: 0 holes, 1 reorders, 0 duplicates")

    def test_a_client_left_in_a_room_is_a_ghost(self):
        self.assert_fails_with(run_chaos(*self.HEALTHY, "--fault", "ghost"), "FAIL [ghosts]", "churn-ghost")

    def test_a_corrupted_frame_is_a_bad_frame(self):
        # One churn client validates a copy of one frame with its second byte set to 0xFF.
        code, out = run_chaos("--only", "churn", "--seconds", "3", "--workers", "1", "--clients", "5",
                              "--fault", "badframe")
        self.assert_fails_with((code, out), "FAIL [frames]", "'utf8'")


def children(pid: int) -> set:
    out = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.update(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class NoOrphans(unittest.TestCase):
    def test_killing_the_driver_kills_the_server_and_the_workers(self):
        tmp = tempfile.TemporaryDirectory(prefix="nexios-chaos-orphans-")
        self.addCleanup(tmp.cleanup)
        cmd = [sys.executable, os.path.join(HERE, "chaos.py"), "--binary", BINARY, "--only", "churn",
               "--seconds", "60", "--workers", "2", "--clients", "5", "--log", os.path.join(tmp.name, "server.log")]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            line = b""
            deadline = time.monotonic() + 30
            while b"server pid" not in line and time.monotonic() < deadline:
                line = p.stdout.readline()
            m = re.search(rb"server pid (\d+)", line)
            self.assertIsNotNone(m, line)
            server = int(m.group(1))
            # The workers start after the healthy clients have joined: wait for both of them.
            deadline = time.monotonic() + 30
            while len(children(p.pid) - {server}) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)  # the poll interval between two looks at /proc
            kids = children(p.pid)
            self.assertIn(server, kids)
            self.assertGreaterEqual(len(kids), 3, kids)
            p.send_signal(signal.SIGKILL)
            p.wait(10)
            deadline = time.monotonic() + 10
            while any(alive(k) for k in kids) and time.monotonic() < deadline:
                time.sleep(0.05)  # the poll interval between two looks at /proc
            self.assertEqual([k for k in kids if alive(k)], [], "children outlived the driver")
        finally:
            if p.poll() is None:
                p.kill()
            p.stdout.close()


if __name__ == "__main__":
    argv = list(sys.argv)
    if "--binary" in argv:
        i = argv.index("--binary")
        BINARY = os.path.abspath(argv[i + 1])
        del argv[i:i + 2]
    else:
        BINARY = os.environ.get("NEXIOS_CHAT_BIN") or os.path.join(HERE, "..", "..", "build", "bin", "chat")
    unittest.main(argv=argv, verbosity=2)
