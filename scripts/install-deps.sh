#!/usr/bin/env bash
# Installs what nexios-cpp needs to build and test, on Debian 12, from Debian's packages and the
# npm registry. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # toolchain and build
  g++ cmake ninja-build make pkg-config
  # libraries (Boost 1.81 for Asio C++20 coroutines and Boost.JSON)
  libboost1.81-dev libboost-json1.81-dev libssl-dev zlib1g-dev libhiredis-dev
  # logging: spdlog (the default log sink) and fmt (line formatting)
  libspdlog-dev libfmt-dev
  # tests
  libgtest-dev googletest python3 python3-websockets
  # tests of /metrics: a real Prometheus text-format parser
  python3-prometheus-client
  # browser tests of the chat example (tests/js/browser): Debian's chromium, /usr/bin/chromium
  chromium
  # fuzzing (fuzz/run.sh): clang with the libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm: any installed Node >= 18 will do (the machine may have NodeSource's build).
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node packages for the tests (the `ws` client), pinned by tests/js/package-lock.json.
if [ -f tests/js/package.json ]; then
  if [ ! -d tests/js/node_modules ] || [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; then
    echo "install-deps: npm ci in tests/js"
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
