/// @file
/// Incremental UTF-8 validation (RFC 3629 §4).
///
/// While inside a multi-byte sequence the state packs the number of continuation bytes still
/// expected and the inclusive range the next byte must fall in: `(needed << 16) | (lo << 8) | hi`.
/// The ranges of the first continuation byte after E0, ED, F0 and F4 exclude overlong forms,
/// surrogates and code points above U+10FFFF, so every invalid prefix fails at its first bad byte.

#include <nexios/detail/utf8.hpp>

#include <cstring>

namespace nexios::detail {

namespace {

constexpr std::uint32_t make_state(std::uint32_t needed, std::uint32_t lo, std::uint32_t hi) noexcept {
  return (needed << 16) | (lo << 8) | hi;
}

constexpr std::uint64_t ascii_mask = 0x8080808080808080ull;

/// The state after lead byte `b` (>= 0x80), or 0 if `b` cannot start a sequence.
constexpr std::uint32_t state_after_lead(std::uint8_t b) noexcept {
  if (b < 0xC2) {
    return 0;  // continuation byte, or C0/C1 (always overlong)
  }
  if (b <= 0xDF) {
    return make_state(1, 0x80, 0xBF);
  }
  if (b == 0xE0) {
    return make_state(2, 0xA0, 0xBF);  // no overlong 3-byte forms
  }
  if (b == 0xED) {
    return make_state(2, 0x80, 0x9F);  // no surrogates
  }
  if (b <= 0xEF) {
    return make_state(2, 0x80, 0xBF);
  }
  if (b == 0xF0) {
    return make_state(3, 0x90, 0xBF);  // no overlong 4-byte forms
  }
  if (b <= 0xF3) {
    return make_state(3, 0x80, 0xBF);
  }
  if (b == 0xF4) {
    return make_state(3, 0x80, 0x8F);  // nothing above U+10FFFF
  }
  return 0;  // F5..FF
}

}  // namespace

bool Utf8Validator::feed(const std::uint8_t* data, std::size_t size) noexcept {
  if (state_ == failed_state) {
    return false;
  }
  std::uint32_t state = state_;
  std::size_t i = 0;
  while (i < size) {
    if (state == 0) {
      // At a code point boundary: skip ASCII eight bytes at a time.
      while (i + 8 <= size) {
        std::uint64_t word = 0;
        std::memcpy(&word, data + i, sizeof word);
        if ((word & ascii_mask) != 0) {
          break;
        }
        i += 8;
      }
      if (i == size) {
        break;
      }
      const std::uint8_t b = data[i++];
      if (b < 0x80) {
        continue;
      }
      state = state_after_lead(b);
      if (state == 0) {
        state_ = failed_state;
        return false;
      }
    } else {
      const std::uint8_t b = data[i++];
      const std::uint32_t lo = (state >> 8) & 0xFF;
      const std::uint32_t hi = state & 0xFF;
      if (b < lo || b > hi) {
        state_ = failed_state;
        return false;
      }
      const std::uint32_t needed = (state >> 16) - 1;
      state = needed == 0 ? 0 : make_state(needed, 0x80, 0xBF);
    }
  }
  state_ = state;
  return true;
}

bool is_valid_utf8(std::string_view data) noexcept {
  Utf8Validator v;
  return v.feed(data) && v.complete();
}

}  // namespace nexios::detail
