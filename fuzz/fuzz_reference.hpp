#pragma once
/// @file
/// Reference implementations the fuzz targets compare the library against.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nexios::fuzz {

inline constexpr std::size_t npos = static_cast<std::size_t>(-1);

/// What the reference decoder found.
struct Utf8Reference {
  std::size_t first_bad = npos;   // index of the first byte no valid UTF-8 can continue with
  std::vector<bool> boundary;     // boundary[i]: bytes [0, i) are complete, valid UTF-8
};

/// Strict RFC 3629 decoder: decodes each sequence to a code point and rejects overlong forms,
/// surrogates and values above U+10FFFF. A byte is "bad" as soon as no continuation could make the
/// prefix valid, which for the second byte of a sequence means checking the partial code point.
inline Utf8Reference reference_utf8(const std::uint8_t* s, std::size_t n) {
  Utf8Reference ref;
  ref.boundary.assign(n + 1, false);
  ref.boundary[0] = true;
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t b = s[i];
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (b < 0x80) {
      ref.boundary[i + 1] = true;
      ++i;
      continue;
    }
    if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1Fu;
      min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0Fu;
      min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07u;
      min = 0x10000;
    } else {
      ref.first_bad = i;  // continuation byte or F8..FF
      return ref;
    }
    // With k continuation bytes known, the code point lies in [cp << 6(len-1-k) ... all ones].
    for (std::size_t k = 1; k <= len; ++k) {
      const std::size_t rest_bits = 6 * (len - k);
      const std::uint32_t lo = cp << rest_bits;
      const std::uint32_t hi = lo | ((1u << rest_bits) - 1);
      // Can any completion be valid? Overlong: hi < min. Too large: lo > 0x10FFFF. Surrogate:
      // the whole range lies in D800..DFFF.
      const bool possible = hi >= min && lo <= 0x10FFFF && !(lo >= 0xD800 && hi <= 0xDFFF);
      if (!possible) {
        ref.first_bad = i + k - 1;  // the byte that made the range empty
        return ref;
      }
      if (k == len) {
        break;
      }
      if (i + k >= n) {
        return ref;  // truncated: not bad, just incomplete
      }
      const std::uint8_t c = s[i + k];
      if ((c & 0xC0) != 0x80) {
        ref.first_bad = i + k;
        return ref;
      }
      cp = (cp << 6) | (c & 0x3Fu);
    }
    i += len;
    ref.boundary[i] = true;
  }
  return ref;
}

}  // namespace nexios::fuzz
