#pragma once
/// @file
/// Shared helpers of the fuzz targets: the input layout (options byte + split schedule + payload),
/// chunked feeding, and FUZZ_CHECK, whose failure aborts under libFuzzer and throws in the
/// GoogleTest replay.
///
/// Input layout of every target:
///   byte 0        options (target-specific bits)
///   byte 1        low 4 bits: L, the number of schedule bytes that follow
///   bytes 2..2+L  chunk sizes, used cyclically (0 = an empty feed); L == 0 means one byte at a time
///   the rest      the payload
/// Inputs shorter than 2 bytes have options 0, byte-at-a-time schedule, and are all payload.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nexios::fuzz {

/// Thrown by the replay test's failure handler.
class CheckFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using FailureHandler = void (*)(const std::string& message);

/// Default handler: print and abort, so libFuzzer saves the input as a crash.
[[noreturn]] inline void abort_on_failure(const std::string& message) {
  std::fprintf(stderr, "FUZZ_CHECK failed: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

/// The replay test installs a handler that throws CheckFailure instead.
inline FailureHandler failure_handler = &abort_on_failure;

[[noreturn]] inline void check_failed(const char* file, int line, const char* expr, const std::string& detail) {
  std::string message = std::string(file) + ":" + std::to_string(line) + ": " + expr;
  if (!detail.empty()) {
    message += " (" + detail + ")";
  }
  failure_handler(message);
  std::abort();  // a handler must not return
}

}  // namespace nexios::fuzz

/// Checks an invariant; `detail` is a std::string-convertible explanation (may be "").
#define FUZZ_CHECK_MSG(cond, detail)                                               \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      ::nexios::fuzz::check_failed(__FILE__, __LINE__, #cond, std::string(detail)); \
    }                                                                              \
  } while (false)
#define FUZZ_CHECK(cond) FUZZ_CHECK_MSG(cond, "")

namespace nexios::fuzz {

/// A fuzz input decoded into options, split schedule and payload.
struct FuzzInput {
  std::uint8_t options = 0;
  std::vector<std::size_t> schedule;  // chunk sizes, cyclic; never all zero
  std::span<const std::uint8_t> payload;

  [[nodiscard]] std::string_view payload_view() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
};

inline FuzzInput decode_input(const std::uint8_t* data, std::size_t size) {
  FuzzInput in;
  if (size < 2) {
    in.schedule = {1};
    in.payload = {data, size};
    return in;
  }
  in.options = data[0];
  std::size_t count = data[1] & 0x0Fu;
  count = count > size - 2 ? size - 2 : count;
  std::size_t total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    in.schedule.push_back(data[2 + i]);
    total += data[2 + i];
  }
  if (total == 0) {
    in.schedule = {1};  // byte at a time (also when every entry is an empty feed)
  }
  in.payload = {data + 2 + count, size - 2 - count};
  return in;
}

/// A half-open range [begin, end) of payload offsets.
struct Chunk {
  std::size_t begin = 0;
  std::size_t end = 0;
};

/// Splits `size` bytes by `schedule` (cyclic). Empty chunks are kept, but never two cycles of
/// them in a row, and the result always covers [0, size).
inline std::vector<Chunk> make_chunks(std::size_t size, const std::vector<std::size_t>& schedule) {
  std::vector<Chunk> chunks;
  std::size_t pos = 0;
  std::size_t i = 0;
  while (pos < size) {
    const std::size_t n = schedule[i % schedule.size()];
    ++i;
    const std::size_t end = pos + n < size ? pos + n : size;
    chunks.push_back({pos, end});
    pos = end;
  }
  if (chunks.empty()) {
    chunks.push_back({0, 0});
  }
  return chunks;
}

/// One chunk covering everything.
inline std::vector<Chunk> whole(std::size_t size) {
  return {{0, size}};
}

/// One chunk per byte.
inline std::vector<Chunk> bytewise(std::size_t size) {
  return make_chunks(size, {1});
}

/// Printable form of bytes for failure messages (truncated).
inline std::string printable(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    }
  }
  if (s.size() > max) {
    out += "...";
  }
  return out;
}

/// True if [p, p + n) lies inside [base, base + size).
inline bool points_into(const void* p, std::size_t n, const void* base, std::size_t size) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const auto b = reinterpret_cast<std::uintptr_t>(base);
  return a >= b && a + n <= b + size && a + n >= a;
}

/// True if [p, p + n) and [base, base + size) share a byte.
inline bool overlaps(const void* p, std::size_t n, const void* base, std::size_t size) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const auto b = reinterpret_cast<std::uintptr_t>(base);
  return n != 0 && size != 0 && a < b + size && b < a + n;
}

}  // namespace nexios::fuzz
