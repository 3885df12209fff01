#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for a while.
#
#   fuzz/run.sh [seconds-per-target] [target...]     (default: 30 s, every target)
#
# Each target starts from a temporary copy of fuzz/corpus/<target>/ (the committed corpus is never
# grown). A crash, leak, timeout or OOM is copied to fuzz/regressions/<target>/ and the script
# exits non-zero; tests/fuzz_regression then replays it in the normal test run.
# Environment: NEXIOS_FUZZ_BUILD_DIR (default <repo>/build-fuzz), CXX_CLANG (default clang++),
# NEXIOS_FUZZ_JOBS (ninja -j), NEXIOS_FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-30}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -lt 1 ]]; then
  echo "usage: $0 [seconds-per-target] [target...]" >&2
  exit 2
fi
all_targets=(http_parser frame_parser utf8 handshake route_match origin json resp redis_wire)
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=("${all_targets[@]}")
fi
build="${NEXIOS_FUZZ_BUILD_DIR:-$root/build-fuzz}"

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER="${CXX_CLANG:-clang++}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNEXIOS_BUILD_FUZZ=ON -DNEXIOS_BUILD_TESTS=OFF -DNEXIOS_BUILD_EXAMPLES=OFF >/dev/null
ninja -C "$build" ${NEXIOS_FUZZ_JOBS:+-j "$NEXIOS_FUZZ_JOBS"} \
  $(printf 'fuzz_%s ' "${targets[@]}")

work="$(mktemp -d "${TMPDIR:-/tmp}/nexios-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Dictionaries help libFuzzer build protocol tokens.
cat >"$work/http_parser.dict" <<'EOF'
"GET"
"POST"
"OPTIONS"
" HTTP/1.1\x0d\x0a"
" HTTP/1.0\x0d\x0a"
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
"Host: "
"Content-Length: "
"Transfer-Encoding: chunked"
"Connection: close"
"Connection: keep-alive"
"Expect: 100-continue"
"0\x0d\x0a\x0d\x0a"
";ext="
"http://"
"%2F"
"*"
EOF
cat >"$work/handshake.dict" <<'EOF'
"Host: h\x0a"
"Upgrade: websocket\x0a"
"Connection: Upgrade\x0a"
"Sec-WebSocket-Version: 13\x0a"
"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\x0a"
"Sec-WebSocket-Protocol: "
"=="
EOF
cat >"$work/route_match.dict" <<'EOF'
"{id}"
"{id:int}"
"{x:float}"
"{u:uuid}"
"{p:path}"
"{s:slug}"
"{n:str}"
"123e4567-e89b-12d3-a456-426614174000"
"9223372036854775807"
"%20"
"\x0a/"
EOF

status=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$t"
  corpus="$work/$t/corpus"
  artifacts="$work/$t/artifacts/"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "$root/fuzz/corpus/$t" ]]; then
    cp -r "$root/fuzz/corpus/$t/." "$corpus/"
  fi
  dict=()
  if [[ -f "$work/$t.dict" ]]; then
    dict=(-dict="$work/$t.dict")
  fi
  echo "=== fuzz_$t for ${seconds}s"
  log="$work/$t/log"
  rc=0
  # timeout(1) is a backstop in case libFuzzer itself hangs.
  timeout --signal=INT --kill-after=30 "$((seconds + 120))" \
    "$bin" "$corpus" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -artifact_prefix="$artifacts" \
    ${NEXIOS_FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::)' "$log" || true

  found=("$artifacts"*)
  if [[ $rc -ne 0 || -e "${found[0]}" ]]; then
    status=1
    mkdir -p "$root/fuzz/regressions/$t"
    for f in "${found[@]}"; do
      [[ -e "$f" ]] && cp "$f" "$root/fuzz/regressions/$t/"
    done
    echo "!!! fuzz_$t failed (exit $rc); input(s) copied to fuzz/regressions/$t/:" >&2
    ls "$root/fuzz/regressions/$t" >&2 || true
    grep -E 'FUZZ_CHECK|ERROR: |SUMMARY: |runtime error' "$log" | head -20 >&2 || true
    summary+=("$t: FAILED (exit $rc)")
  else
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
    cov="$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$done_line")"
    ft="$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$done_line")"
    execs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")"
    rate="$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")"
    summary+=("$t: ok  execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?}")
  fi
done

echo "=== summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
exit "$status"
