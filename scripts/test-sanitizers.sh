#!/usr/bin/env bash
# Runs the test suite under the sanitizers:
#   asan  every test (unit, integration, Python and Node clients against the instrumented
#         examples) with AddressSanitizer + UndefinedBehaviorSanitizer, except the "package"
#         tests, which build their own uninstrumented consumer trees (make test runs them);
#   tsan  the multi-threaded tests (the integration tests: several event loops, cross-thread
#         fan-out, shutdown while busy) with ThreadSanitizer.
# Any sanitizer report fails the run. Usage: scripts/test-sanitizers.sh [asan|tsan|all]
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
jobs="$(nproc)"

# A small quarantine keeps the memory figures of the abuse tests meaningful under ASan.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0:quarantine_size_mb=16"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
# Tests that bound how long the server may take stretch their deadlines by this factor.
export NEXIOS_TEST_TIME_SCALE=4

if [ "$which" = asan ] || [ "$which" = all ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: every test"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNEXIOS_SANITIZE=address,undefined >/dev/null
  cmake --build build-asan -j "$jobs"
  # Not the packaging tests (they build out-of-tree consumers), the chaos tests (their memory
  # checks read glibc's allocator, which ASan replaces, and their load is timed for a normal build)
  # nor the descriptor-limit test (at EMFILE the sanitizer runtime itself has no descriptor left).
  (cd build-asan && ctest --output-on-failure -j "$jobs" --timeout 900 -LE "package|chaos|descriptors")
fi

if [ "$which" = tsan ] || [ "$which" = all ]; then
  echo "== ThreadSanitizer: the multi-threaded tests"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNEXIOS_SANITIZE=thread -DNEXIOS_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build build-tsan -j "$jobs" --target integration_tests redis_layer_tests
  ./build-tsan/tests/integration_tests
  # The Redis channel layer: its own thread, the registry's, and the server's loops.
  ./build-tsan/tests/redis_layer_tests
fi
