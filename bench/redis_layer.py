#!/usr/bin/python3
"""The Redis channel layer benchmark driver (issue 9, "Proof: a benchmark scenario").

    /usr/bin/python3 bench/redis_layer.py --bench build/bin/redis_layer_bench \
        [--members 100] [--seconds 5] [--runs 3] [--publishers 64] [--payload 64] [--smoke]

Starts its own redis-server on a free loopback port with a temp dir (tests/scripts/redis_testlib.py),
measures Redis's own PUBLISH rate with redis-benchmark (unpipelined and -P 64, 50 clients), then runs the bench
in modes memory, redis1, redis2 and publish, each --runs times, and prints a Markdown table of the
medians with the issue's two goals:

- one server publishes at >= 25% of Redis's pipelined PUBLISH rate
  (publish-only group_sends/s / redis-benchmark -P 64 requests/s: both to a channel without
  subscribers);
- cross-server deliveries per second >= 50% of the in-memory figure for the same group size
  (redis1 deliveries/s / memory deliveries/s).

With taskset available, the bench (server and clients) runs on one core and Redis on another
(redis-benchmark on the bench's core). --smoke (the ctest bench_redis_layer_smoke) only checks that
every mode runs and reports sane non-zero counts: it never asserts a time or a ratio.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from typing import Dict, List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "scripts"))
import redis_testlib  # noqa: E402

# The table's rows: (name, --mode, --max-lag or None for the bench's default). The open-loop row
# (no flow control: group_send as fast as it completes, i.e. as fast as Redis answers PUBLISH) shows
# the publishing side alone; it is not run by --smoke.
OPEN_LOOP = "redis1, open loop"
# Publishing alone: a group without members anywhere, as redis-benchmark PUBLISHes to a channel
# without subscribers (the publish goal's figure).
PUBLISH = "publish only"
ROWS = (("memory", "memory", None), ("redis1", "redis1", None), ("redis2", "redis2", None),
        (OPEN_LOOP, "redis1", 0), (PUBLISH, "publish", None))
BENCH_TIMEOUT_EXTRA = 120.0  # seconds a bench run may take beyond its --seconds (joins, drain)


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}, Linux {platform.release()}"


def cores() -> Optional[tuple]:
    """(bench core, Redis core) when taskset exists and at least two cores are ours."""
    if not shutil.which("taskset"):
        return None
    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        return None
    return (mine[0], mine[1])


def pinned(cmd: List[str], core: Optional[int]) -> List[str]:
    return (["taskset", "-c", str(core)] + cmd) if core is not None else cmd


def redis_benchmark(port: int, pipeline: int, payload: int, core: Optional[int]) -> float:
    # redis-benchmark 7.0 has no "-t publish" test (it prints nothing for it): the PUBLISH command is
    # given as an arbitrary command, with a payload of the bench's size, to a channel nobody reads.
    cmd = [redis_testlib.find_program("redis-benchmark"), "-h", redis_testlib.HOST, "-p", str(port),
           "-n", "200000", "-q"]
    if pipeline > 1:
        cmd += ["-P", str(pipeline)]
    cmd += ["PUBLISH", "bench-redis-benchmark", "x" * max(payload, 1)]
    out = subprocess.run(pinned(cmd, core), capture_output=True, text=True, timeout=300, check=True).stdout
    # "PUBLISH bench-redis-benchmark xxx: 123456.79 requests per second, p50=0.199 msec" (the last
    # of \r-separated progress lines)
    m = re.findall(r"PUBLISH .*?:\s*([0-9.]+)\s+requests per second", out)
    if not m:
        raise RuntimeError("cannot parse redis-benchmark output: " + out[-500:])
    return float(m[-1])


def run_bench(args: argparse.Namespace, mode: str, max_lag: Optional[int], url: str, core: Optional[int]) -> Dict:
    members = 0 if mode == "publish" else args.members
    cmd = [args.bench, "--mode", mode, "--members", str(members), "--publishers", str(args.publishers),
           "--seconds", str(args.seconds), "--payload", str(args.payload)]
    if max_lag is not None:
        cmd += ["--max-lag", str(max_lag)]
    elif args.max_lag is not None:
        cmd += ["--max-lag", str(args.max_lag)]
    if mode != "memory":
        cmd += ["--redis", url]
    p = subprocess.run(pinned(cmd, core), capture_output=True, text=True,
                       timeout=args.seconds + BENCH_TIMEOUT_EXTRA)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr[-2000:]}")
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{' '.join(cmd)} printed no JSON: {p.stdout[-500:]} {p.stderr[-500:]}")
    return json.loads(lines[-1])


def check_sane(r: Dict) -> List[str]:
    """The smoke checks: counts, never times or ratios."""
    bad = []
    mode = r["mode"]
    for key in ("group_sends",) if mode == "publish" else ("group_sends", "deliveries", "delivered_after_drain",
                                                             "latency_samples"):
        if not r.get(key, 0) > 0:
            bad.append(f"{mode}: {key} is {r.get(key)}")
    if r["delivered_after_drain"] > r["expected_deliveries"]:
        bad.append(f"{mode}: {r['delivered_after_drain']} deliveries, more than the {r['expected_deliveries']} sent")
    if r["lost"] != 0:
        bad.append(f"{mode}: {r['lost']} of {r['expected_deliveries']} deliveries lost")
    if r["client_connections_closed"] != 0:
        bad.append(f"{mode}: the server closed {r['client_connections_closed']} member connections")
    if mode == "memory":
        if r["published"] != 0 or r["not_published"] != 0:
            bad.append(f"memory: layer counts {r['published']}/{r['not_published']} without a layer")
    else:
        if not r["published"] > 0:
            bad.append(f"{mode}: published is {r['published']}")
        if r["not_published"] != 0 or r["unpublished_results"] != 0:
            bad.append(f"{mode}: {r['not_published']} not published ({r['unpublished_results']} results)")
        if mode != "publish" and not r["received"] > 0:
            bad.append(f"{mode}: received is {r['received']}")
        for key in ("malformed", "reconnects", "pending_full"):
            if r.get(key, 0) != 0:
                bad.append(f"{mode}: {key} is {r[key]}")
    if not r["server_cpu_us_per_group_send"] > 0:
        bad.append(f"{mode}: server CPU per group_send is {r['server_cpu_us_per_group_send']}")
    return bad


def fmt(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="build/bin/redis_layer_bench")
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--publishers", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--payload", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-lag", type=int, help="the bench's flow control (messages per member; its default)")
    ap.add_argument("--smoke", action="store_true", help="check counts only (ctest bench_redis_layer_smoke)")
    ap.add_argument("--json", help="also write every run's result to this file")
    args = ap.parse_args()

    pin = cores()
    bench_core, redis_core = pin if pin else (None, None)
    # redis2 puts half the members on each server: it needs two.
    rows = [r for r in ROWS if not (args.smoke and r[0] == OPEN_LOOP) and not (args.members < 2 and r[1] == "redis2")]
    results: Dict[str, List[Dict]] = {r[0]: [] for r in rows}
    bench_rates: Dict[int, float] = {}
    with redis_testlib.RedisServer() as redis:
        if redis_core is not None:
            subprocess.run(["taskset", "-p", "-c", str(redis_core), str(redis.pid)], check=True,
                           capture_output=True)
        if not args.smoke:
            for pipeline in (1, 64):
                bench_rates[pipeline] = redis_benchmark(redis.port, pipeline, args.payload, bench_core)
        for _ in range(args.runs):
            for name, mode, max_lag in rows:
                r = run_bench(args, mode, max_lag, redis.url, bench_core)
                results[name].append(r)
                print(f"# {name}: {json.dumps(r)}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"redis_benchmark": bench_rates, "runs": results}, f, indent=1)

    if args.smoke:
        bad = [b for m in results for r in results[m] for b in check_sane(r)]
        for b in bad:
            print("FAIL", b)
        if bad:
            return 1
        print("ok: every mode ran and reported sane counts:",
              ", ".join(f"{m} {results[m][0]['group_sends']} sends/{results[m][0]['deliveries']} deliveries"
                        for m in results))
        return 0

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    print(f"Machine: {machine()}; "
          + (f"bench pinned to core {bench_core}, redis-server to core {redis_core}" if pin else "not pinned")
          + f"; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
          + f"redis-server {redis_version()}.")
    print(f"Group of {args.members} members, {args.publishers} publishers, {args.payload}-byte payload, "
          f"{args.seconds:g} s per run, median of {args.runs} runs; flow control: at most "
          f"{results['memory'][0]['max_lag']} messages per member in flight (the open-loop row: none).\n")
    print(f"redis-benchmark PUBLISH: {fmt(bench_rates[1])} requests/s unpipelined, "
          f"{fmt(bench_rates[64])} requests/s with -P 64.\n")
    cols = [("group_sends/s", "group_sends_per_s"), ("deliveries/s", "deliveries_per_s"),
            ("p50 µs", "latency_p50_us"), ("p99 µs", "latency_p99_us"),
            ("server CPU µs/group_send", "server_cpu_us_per_group_send"), ("client CPU share", "client_cpu_share"),
            ("published", "published"), ("not_published", "not_published"), ("lost", "lost")]
    print("| mode | " + " | ".join(c[0] for c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for mode in results:
        cells = []
        for _, key in cols:
            v = med(mode, key)
            cells.append(f"{v:.0%}" if key == "client_cpu_share" else fmt(v) if isinstance(v, float) else str(v))
        print(f"| {mode} | " + " | ".join(cells) + " |")
    publish_ratio = med(PUBLISH, "group_sends_per_s") / bench_rates[64]
    member_ratio = med("redis1", "group_sends_per_s") / bench_rates[64]
    delivery_ratio = med("redis1", "deliveries_per_s") / med("memory", "deliveries_per_s")
    print()
    print("| goal | measured | result |")
    print("|---|---:|---|")
    print(f"| one server publishes at ≥ 25% of Redis's pipelined PUBLISH rate (publish only group_sends/s ÷ "
          f"redis-benchmark -P 64, both without subscribers) | {publish_ratio:.1%} | "
          f"{'pass' if publish_ratio >= 0.25 else 'FAIL'} |")
    print(f"| (for reference: with the members on another server, redis1 group_sends/s ÷ redis-benchmark -P 64) "
          f"| {member_ratio:.1%} | |")
    if OPEN_LOOP in results:
        open_ratio = med(OPEN_LOOP, "group_sends_per_s") / bench_rates[64]
        print(f"| (for reference: the same open loop) | {open_ratio:.1%} | |")
    print(f"| cross-server deliveries/s ≥ 50% of in-memory for the same group size (redis1 ÷ memory "
          f"deliveries/s) | {delivery_ratio:.1%} | {'pass' if delivery_ratio >= 0.50 else 'FAIL'} |")
    return 0


def redis_version() -> str:
    try:
        out = subprocess.run([redis_testlib.find_program("redis-server"), "--version"], capture_output=True,
                             text=True, timeout=10).stdout
        m = re.search(r"v=([0-9.]+)", out)
        return m.group(1) if m else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
