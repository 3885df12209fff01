#pragma once
/// @file
/// Locale-independent ASCII helpers shared by the protocol layers (header-only, no dependencies).

#include <cstddef>
#include <string_view>

namespace nexios::detail {

/// Lower-cases one ASCII letter; other bytes are returned unchanged.
constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Case-insensitive ASCII comparison (RFC 9110 field names and tokens).
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) {
      return false;
    }
  }
  return true;
}

/// Optional whitespace (SP / HTAB) as defined by RFC 9110 §5.6.3.
constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

/// Strips leading and trailing optional whitespace.
constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_ows(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

/// RFC 9110 `tchar`: the characters allowed in a token (method names, header names, ...).
constexpr bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

/// True if every character of `s` is a tchar and `s` is not empty.
constexpr bool is_token(std::string_view s) noexcept {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!is_tchar(c)) {
      return false;
    }
  }
  return true;
}

/// Calls `f(token)` for each element of a comma-separated list (RFC 9110 §5.6.1), skipping empty
/// elements and trimming whitespace. Stops early and returns true when `f` returns true.
template <class F>
constexpr bool for_each_list_element(std::string_view list, F&& f) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty() && f(element)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
  }
  return false;
}

/// The value of a hexadecimal digit (either case), or -1.
constexpr int hex_digit_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace nexios::detail
