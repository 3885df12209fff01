#!/usr/bin/python3
"""The chaos test's checks can fail: each deliberate fault of chaos.py --fault must make a short
run fail with the check it targets, and the same run without a fault must pass.

    /usr/bin/python3 tests/chaos/test_faults.py --binary build/bin/chat
"""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = None


def run_chaos(*args, timeout=180):
    cmd = [sys.executable, os.path.join(HERE, "chaos.py"), "--binary", BINARY, "--settle", "3", *args]
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


if __name__ == "__main__":
    argv = list(sys.argv)
    if "--binary" in argv:
        i = argv.index("--binary")
        BINARY = os.path.abspath(argv[i + 1])
        del argv[i:i + 2]
    else:
        BINARY = os.environ.get("NEXIOS_CHAT_BIN") or os.path.join(HERE, "..", "..", "build", "bin", "chat")
    unittest.main(argv=argv, verbosity=2)
