#pragma once
/// @file
/// Incremental UTF-8 validation (RFC 3629): rejects overlong forms, surrogates (U+D800..U+DFFF),
/// code points above U+10FFFF, 0xC0/0xC1/0xF5..0xFF, lone continuation bytes and truncated sequences.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nexios::detail {

/// Validates UTF-8 fed in arbitrary pieces; fails as soon as a byte makes the input invalid,
/// even in the middle of a code point split across pieces.
///
/// @code
/// Utf8Validator v;
/// bool ok = v.feed(part1) && v.feed(part2) && v.complete();
/// @endcode
class Utf8Validator {
 public:
  /// Feeds the next bytes. Returns false (and stays failed) once the bytes seen so far cannot be
  /// the prefix of valid UTF-8.
  bool feed(const std::uint8_t* data, std::size_t size) noexcept;
  bool feed(std::string_view data) noexcept {
    return feed(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  }
  /// True if no error was seen and the input ends on a code point boundary.
  [[nodiscard]] bool complete() const noexcept { return state_ == 0; }
  /// True if an invalid byte was seen.
  [[nodiscard]] bool failed() const noexcept { return state_ == failed_state; }
  /// Starts over.
  void reset() noexcept { state_ = 0; }

 private:
  static constexpr std::uint32_t failed_state = 0xFFFFFFFFu;
  std::uint32_t state_ = 0;  // 0 = at a boundary; otherwise implementation-defined mid-sequence state
};

/// True if `data` is complete, valid UTF-8.
bool is_valid_utf8(std::string_view data) noexcept;

}  // namespace nexios::detail
