#include <nexios/http/url.hpp>

#include <nexios/detail/ascii.hpp>
#include <nexios/detail/utf8.hpp>

#include <algorithm>
#include <cstring>
#include <array>

namespace nexios::http {

namespace internal {

using nexios::detail::hex_digit_value;

/// Decodes `text` into `out`, which must have room for `text.size()` bytes (decoding never
/// grows the text). Returns the decoded size. Shared with the request parser, which decodes into
/// storage it reuses from request to request.
std::size_t percent_decode_into(std::string_view text, char* out, bool plus_as_space) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int hi = hex_digit_value(text[i + 1]);
      const int lo = hex_digit_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out[n++] = static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out[n++] = (plus_as_space && c == '+') ? ' ' : c;
  }
  return n;
}

/// True if `text`, percent-decoded, is valid UTF-8: what the application would get from a
/// decoded path, query name or query value. Decodes through a small stack buffer: no allocation.
bool percent_decoded_is_utf8(std::string_view text) noexcept {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return c != '%' && static_cast<unsigned char>(c) < 0x80;
  });
  if (plain) {
    return true;
  }
  nexios::detail::Utf8Validator v;
  std::array<char, 256> buf{};
  while (!text.empty()) {
    // Never split an escape between two pieces.
    std::size_t take = std::min(text.size(), buf.size());
    if (take < text.size()) {
      const std::size_t pct = text.substr(take - 2, 2).find('%');
      if (pct != std::string_view::npos) {
        take = take - 2 + pct;
      }
    }
    const std::size_t n = percent_decode_into(text.substr(0, take), buf.data(), false);
    if (!v.feed(std::string_view(buf.data(), n))) {
      return false;
    }
    text.remove_prefix(take);
  }
  return v.complete();
}

}  // namespace internal

namespace {

/// RFC 3986 `unreserved`.
constexpr bool is_unreserved(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/// Python's str.strip() for ASCII whitespace.
std::string_view strip_space(std::string_view s) noexcept {
  constexpr std::string_view space = " \t\n\r\f\v";
  const std::size_t first = s.find_first_not_of(space);
  if (first == std::string_view::npos) {
    return {};
  }
  const std::size_t last = s.find_last_not_of(space);
  return s.substr(first, last - first + 1);
}

constexpr bool is_octal(char c) noexcept {
  return c >= '0' && c <= '7';
}

/// Python's http.cookies._unquote: a value in double quotes loses them, and inside, "\ooo"
/// (octal, first digit 0-3) becomes that byte and "\c" becomes c. Anything else is unchanged.
std::string unquote_cookie_value(std::string_view value) {
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') {
    return std::string(value);
  }
  const std::string_view inner = value.substr(1, value.size() - 2);
  std::string out;
  out.reserve(inner.size());
  for (std::size_t i = 0; i < inner.size(); ++i) {
    const char c = inner[i];
    if (c != '\\' || i + 1 >= inner.size()) {
      out.push_back(c);
      continue;
    }
    if (i + 3 < inner.size() && inner[i + 1] >= '0' && inner[i + 1] <= '3' && is_octal(inner[i + 2]) &&
        is_octal(inner[i + 3])) {
      out.push_back(static_cast<char>((inner[i + 1] - '0') * 64 + (inner[i + 2] - '0') * 8 + (inner[i + 3] - '0')));
      i += 3;
      continue;
    }
    if (inner[i + 1] == '\n') {
      // Python's '.' does not match a newline: the backslash stays.
      out.push_back(c);
      continue;
    }
    out.push_back(inner[i + 1]);
    ++i;
  }
  return out;
}

}  // namespace

namespace internal {

/// True if every cookie of one Cookie header is valid UTF-8 as `Cookies::parse` gives it. The raw
/// header is checked as a header value; only a quoted value with a backslash can make other bytes
/// (an octal escape), so only those are unquoted here.
bool cookie_header_is_utf8(std::string_view header) {
  if (!nexios::detail::is_valid_utf8(header)) {
    return false;
  }
  if (header.find('\\') == std::string_view::npos) {
    return true;
  }
  while (true) {
    const std::size_t semi = header.find(';');
    const std::string_view chunk = header.substr(0, semi);
    const std::size_t eq = chunk.find('=');
    const std::string_view value = strip_space(eq == std::string_view::npos ? chunk : chunk.substr(eq + 1));
    if (value.find('\\') != std::string_view::npos && !nexios::detail::is_valid_utf8(unquote_cookie_value(value))) {
      return false;
    }
    if (semi == std::string_view::npos) {
      return true;
    }
    header.remove_prefix(semi + 1);
  }
}

}  // namespace internal

std::string percent_decode(std::string_view text, bool plus_as_space) {
  std::string out(text.size(), '\0');
  out.resize(internal::percent_decode_into(text, out.data(), plus_as_space));
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (is_unreserved(c)) {
      out.push_back(c);
    } else {
      const auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(hex[u >> 4U]);
      out.push_back(hex[u & 0x0FU]);
    }
  }
  return out;
}

QueryParams::QueryParams(const QueryParams& other) {
  // Everything is owned by the copy: it may outlive the text a borrowing original parsed.
  items_.reserve(other.items_.size());
  for (const auto& [name, value] : other.items_) {
    const std::string_view n = own(std::string(name));
    items_.emplace_back(n, own(std::string(value)));
  }
}

QueryParams& QueryParams::operator=(const QueryParams& other) {
  if (this != &other) {
    QueryParams copy(other);
    *this = std::move(copy);
  }
  return *this;
}

std::string_view QueryParams::own(std::string text) {
  owned_.push_back(std::move(text));
  return owned_.back();
}

void QueryParams::add(std::string name, std::string value) {
  const std::string_view n = own(std::move(name));
  items_.emplace_back(n, own(std::move(value)));
}

void QueryParams::parse_into(std::string_view query) {
  // A piece without '%' or '+' decodes to itself: a view, no allocation.
  const auto decoded = [this](std::string_view raw) {
    return raw.find_first_of("%+") == std::string_view::npos ? raw : own(percent_decode(raw, true));
  };
  while (true) {
    const std::size_t amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    if (!piece.empty()) {
      const std::size_t eq = piece.find('=');
      const std::string_view name = piece.substr(0, eq);
      const std::string_view value = eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
      const std::string_view n = decoded(name);
      items_.emplace_back(n, decoded(value));
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
}

QueryParams QueryParams::parse(std::string_view query) {
  QueryParams params;
  if (!query.empty()) {
    params.copy_ = std::make_unique<char[]>(query.size());
    std::memcpy(params.copy_.get(), query.data(), query.size());
    params.copy_size_ = query.size();
    params.parse_into(std::string_view(params.copy_.get(), query.size()));
  }
  return params;
}

QueryParams QueryParams::parse_borrowed(std::string_view query) {
  QueryParams params;
  params.parse_into(query);
  return params;
}

std::optional<std::string_view> QueryParams::get(std::string_view name) const noexcept {
  for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
    if (it->first == name) {
      return std::string_view(it->second);
    }
  }
  return std::nullopt;
}

std::string_view QueryParams::get_or(std::string_view name, std::string_view fallback) const noexcept {
  const auto value = get(name);
  return value ? *value : fallback;
}

std::vector<std::string_view> QueryParams::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& item : items_) {
    if (item.first == name) {
      out.emplace_back(item.second);
    }
  }
  return out;
}

Cookies Cookies::parse(const std::vector<std::string_view>& header_values) {
  Cookies cookies;
  for (std::string_view header : header_values) {
    while (true) {
      const std::size_t semi = header.find(';');
      const std::string_view chunk = header.substr(0, semi);
      const std::size_t eq = chunk.find('=');
      const std::string_view name =
          strip_space(eq == std::string_view::npos ? std::string_view{} : chunk.substr(0, eq));
      const std::string_view value = strip_space(eq == std::string_view::npos ? chunk : chunk.substr(eq + 1));
      if (!name.empty() || !value.empty()) {
        std::string decoded = unquote_cookie_value(value);
        // Like a Python dict: a repeated name keeps its first position and takes the last value.
        const auto it = std::find_if(cookies.items_.begin(), cookies.items_.end(),
                                     [&](const value_type& item) { return item.first == name; });
        if (it != cookies.items_.end()) {
          it->second = std::move(decoded);
        } else {
          cookies.items_.emplace_back(std::string(name), std::move(decoded));
        }
      }
      if (semi == std::string_view::npos) {
        break;
      }
      header.remove_prefix(semi + 1);
    }
  }
  return cookies;
}

std::optional<std::string_view> Cookies::get(std::string_view name) const noexcept {
  for (const auto& item : items_) {
    if (item.first == name) {
      return std::string_view(item.second);
    }
  }
  return std::nullopt;
}

std::string_view Cookies::get_or(std::string_view name, std::string_view fallback) const noexcept {
  const auto value = get(name);
  return value ? *value : fallback;
}

}  // namespace nexios::http
