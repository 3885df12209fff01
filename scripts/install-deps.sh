#!/usr/bin/env bash
# Installs what nexios-cpp needs on Debian 12, from Debian's packages (and, for the tests, the npm
# registry). Safe to run again: it only installs what is missing.
#
#   scripts/install-deps.sh demo   build the library and the examples, run `make demo`
#   scripts/install-deps.sh test   everything: the demo's packages plus what the tests, the
#                                  browser tests and the fuzzers need (`make test`; the default)
#
# Add a package to the first profile that needs it, with a comment saying why.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-test}"
case "$profile" in
  demo | test) ;;
  *)
    echo "usage: $0 [demo|test]" >&2
    exit 2
    ;;
esac

# demo: building the library and the examples.
DEMO_PACKAGES=(
  # toolchain and build
  g++ cmake ninja-build make
  # the library's dependencies: Boost 1.81 for Asio C++20 coroutines and Boost.JSON
  libboost1.81-dev libboost-json1.81-dev
  # logging: spdlog (the default log sink) and fmt (line formatting)
  libspdlog-dev libfmt-dev
  # the Redis channel layer's TLS (nexios::redis; every example links it): OpenSSL 3
  libssl-dev
)

# test: on top of the demo's.
TEST_PACKAGES=(
  # unit and integration tests
  libgtest-dev googletest
  # Python tests (tests/scripts, conformance, abuse, package): Debian's python3 with websockets
  python3 python3-websockets
  # tests of /metrics: a real Prometheus text-format parser
  python3-prometheus-client
  # tests/package: the pkg-config consumer
  pkg-config
  # browser tests of the chat example (tests/js/browser): Debian's chromium, /usr/bin/chromium
  chromium
  # the Redis channel layer's tests start their own redis-server (Debian's, built with TLS);
  # redis-tools gives redis-cli and redis-benchmark (bench/redis_layer.py)
  redis-server redis-tools
  # fuzzing (fuzz/run.sh): clang with the libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
)

APT_PACKAGES=("${DEMO_PACKAGES[@]}")
if [ "$profile" = test ]; then
  APT_PACKAGES+=("${TEST_PACKAGES[@]}")
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "$profile" = test ]; then
  # Node.js and npm for the Node and browser tests: any installed Node >= 18 will do (the machine
  # may have NodeSource's build).
  if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
  if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps ($profile): installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node packages for the tests (the `ws` client, playwright-core), pinned by tests/js/package-lock.json.
if [ "$profile" = test ] && [ -f tests/js/package.json ]; then
  if [ ! -d tests/js/node_modules ] || [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; then
    echo "install-deps: npm ci in tests/js"
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
