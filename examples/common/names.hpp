#pragma once
// Which characters the examples accept in a name (a username, a room id). A name is shown to
// everyone in a room and repeated in what they receive, so it must read as what it is: letters and
// digits of any script, a few punctuation marks, single spaces inside. Refused: control characters
// (C0, DEL, C1), invisible and format characters (zero-width spaces and joiners, bidirectional
// overrides and isolates, the BOM, variation selectors, tags, fillers), other space characters,
// private-use code points and noncharacters, ASCII punctuation outside the few below, a space at
// either end or two in a row, and a combining mark with nothing to combine with. The bytes must be
// valid UTF-8 (checked first).

#include <nexios/detail/utf8.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace examples {

/// The ASCII punctuation a name may hold, besides letters, digits and inner spaces.
inline constexpr std::string_view name_punctuation = "-_.,'&@()!?+#";

namespace names_detail {

/// Decodes the code point at `s[i]` (valid UTF-8 assumed) and advances `i` past it.
inline char32_t next_code_point(std::string_view s, std::size_t& i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(s[i + k]); };
  const std::uint8_t lead = b(0);
  char32_t cp = 0;
  std::size_t n = 1;
  if (lead < 0x80) {
    cp = lead;
  } else if (lead < 0xE0) {
    cp = lead & 0x1Fu;
    n = 2;
  } else if (lead < 0xF0) {
    cp = lead & 0x0Fu;
    n = 3;
  } else {
    cp = lead & 0x07u;
    n = 4;
  }
  for (std::size_t k = 1; k < n; ++k) {
    cp = (cp << 6) | (b(k) & 0x3Fu);
  }
  i += n;
  return cp;
}

inline bool in(char32_t cp, char32_t lo, char32_t hi) noexcept { return cp >= lo && cp <= hi; }

/// Combining marks of the common blocks: fine after a base character, not as the first one.
inline bool is_combining(char32_t cp) noexcept {
  return in(cp, 0x0300, 0x036F) || in(cp, 0x1AB0, 0x1AFF) || in(cp, 0x1DC0, 0x1DFF) || in(cp, 0x20D0, 0x20FF) ||
         in(cp, 0xFE20, 0xFE2F);
}

/// Code points above ASCII that a name may not hold: invisible, format, space-like, private-use
/// or noncharacters.
inline bool is_refused_non_ascii(char32_t cp) noexcept {
  return in(cp, 0x80, 0xA0)                                     // C1 controls, no-break space
         || cp == 0xAD || cp == 0x34F || cp == 0x61C            // soft hyphen, CGJ, Arabic letter mark
         || in(cp, 0x115F, 0x1160) || cp == 0x1680 || cp == 0x180E || cp == 0x3164 || cp == 0xFFA0  // fillers, spaces
         || in(cp, 0x17B4, 0x17B5) || in(cp, 0x180B, 0x180F)    // Khmer invisible vowels, Mongolian selectors
         || in(cp, 0x2000, 0x200F)                              // spaces, zero-width, LRM/RLM
         || in(cp, 0x2028, 0x202F)                              // line/paragraph separators, bidi embeddings
         || in(cp, 0x205F, 0x206F)                              // math space, invisible operators, isolates
         || cp == 0x3000                                        // ideographic space
         || in(cp, 0xD800, 0xDFFF)                              // surrogates (not valid UTF-8 anyway)
         || in(cp, 0xE000, 0xF8FF)                              // private use
         || in(cp, 0xFDD0, 0xFDEF)                              // noncharacters
         || in(cp, 0xFE00, 0xFE0F)                              // variation selectors
         || cp == 0xFEFF                                        // BOM / zero-width no-break space
         || in(cp, 0xFFF0, 0xFFFC)                              // specials (object replacement, ...)
         || (cp & 0xFFFE) == 0xFFFE                             // U+xxFFFE, U+xxFFFF in every plane
         || in(cp, 0x1BCA0, 0x1BCA3) || in(cp, 0x1D173, 0x1D17A)  // shorthand and musical format
         || in(cp, 0xE0000, 0xE0FFF)                            // tags, variation selectors supplement
         || cp >= 0xF0000;                                      // private use planes
}

inline std::string code_point_name(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

}  // namespace names_detail

/// Why `value` may not be the name `what` ("username", "room_id"), or nothing when it may. The
/// caller bounds the length; an empty name is left to the caller (a default, or no route).
inline std::optional<std::string> name_problem(std::string_view what, std::string_view value) {
  using namespace names_detail;
  if (!nexios::detail::is_valid_utf8(value)) {
    return std::string(what) + " is not valid UTF-8";
  }
  if (value.empty()) {
    return std::nullopt;
  }
  if (value.front() == ' ' || value.back() == ' ') {
    return std::string(what) + " begins or ends with a space";
  }
  bool first = true;
  char32_t previous = 0;
  for (std::size_t i = 0; i < value.size();) {
    const char32_t cp = next_code_point(value, i);
    bool ok = false;
    if (cp < 0x80) {
      const char c = static_cast<char>(cp);
      ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c == ' ' && previous != ' ') || (c != ' ' && name_punctuation.find(c) != std::string_view::npos);
      if (!ok && (cp < 0x20 || cp == 0x7F)) {
        return std::string(what) + " contains a control character (" + code_point_name(cp) + ")";
      }
      if (!ok && c == ' ') {
        return std::string(what) + " contains two spaces in a row";
      }
    } else {
      ok = !is_refused_non_ascii(cp) && !(first && is_combining(cp));
      if (!ok && in(cp, 0x80, 0x9F)) {
        return std::string(what) + " contains a control character (" + code_point_name(cp) + ")";
      }
    }
    if (!ok) {
      return std::string(what) + " contains a character that is not allowed (" + code_point_name(cp) +
             "): letters, digits, spaces inside and " + std::string(name_punctuation) + " are";
    }
    first = false;
    previous = cp;
  }
  return std::nullopt;
}

}  // namespace examples
