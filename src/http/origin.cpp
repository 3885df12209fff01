#include <nexios/http/origin.hpp>

#include <nexios/detail/ascii.hpp>

#include <charconv>
#include <stdexcept>

namespace nexios::http {

namespace {

using detail::ascii_lower;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = ascii_lower(c);
  }
  return out;
}

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

bool valid_scheme(std::string_view s) noexcept {
  if (s.empty() || !is_alpha(s.front())) {
    return false;
  }
  for (char c : s) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// A host name (letters, digits, '-', '.', '_'), an IPv4 address, or a bracketed IPv6 address.
bool valid_host(std::string_view h) noexcept {
  if (h.empty()) {
    return false;
  }
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') {
      return false;
    }
    for (char c : h.substr(1, h.size() - 2)) {
      if (!is_digit(c) && !(ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f') && c != ':' && c != '.') {
        return false;
      }
    }
    return true;
  }
  for (char c : h) {
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return h.front() != '.' && h.back() != '.';
}

std::optional<std::uint16_t> default_port(std::string_view scheme) noexcept {
  if (scheme == "http" || scheme == "ws") {
    return 80;
  }
  if (scheme == "https" || scheme == "wss") {
    return 443;
  }
  return std::nullopt;
}

std::optional<std::uint16_t> parse_port(std::string_view s) noexcept {
  if (s.empty() || s.size() > 5) {
    return std::nullopt;
  }
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(v);
}

// Splits "host[:port]" (IPv6 in brackets). Returns false when malformed.
bool split_host_port(std::string_view hp, std::string_view& host, std::optional<std::uint16_t>& port) {
  port.reset();
  std::size_t colon = std::string_view::npos;
  if (!hp.empty() && hp.front() == '[') {
    const auto close = hp.find(']');
    if (close == std::string_view::npos) {
      return false;
    }
    if (close + 1 < hp.size()) {
      if (hp[close + 1] != ':') {
        return false;
      }
      colon = close + 1;
    }
  } else {
    colon = hp.rfind(':');
  }
  host = colon == std::string_view::npos ? hp : hp.substr(0, colon);
  if (colon != std::string_view::npos) {
    port = parse_port(hp.substr(colon + 1));
    if (!port) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<Origin> parse_origin(std::string_view value) {
  value = detail::trim_ows(value);
  const auto sep = value.find("://");
  if (sep == std::string_view::npos || !valid_scheme(value.substr(0, sep))) {
    return std::nullopt;
  }
  Origin o;
  o.scheme = lower(value.substr(0, sep));
  std::string_view host;
  std::optional<std::uint16_t> port;
  if (!split_host_port(value.substr(sep + 3), host, port) || !valid_host(host)) {
    return std::nullopt;
  }
  o.host = lower(host);
  if (port) {
    o.port = *port;
  } else if (auto d = default_port(o.scheme)) {
    o.port = *d;
  }
  return o;
}

bool is_same_origin(const Origin& origin, std::string_view host_header) {
  std::string_view host;
  std::optional<std::uint16_t> port;
  if (!split_host_port(detail::trim_ows(host_header), host, port) || !valid_host(host)) {
    return false;
  }
  if (!detail::iequals(host, origin.host)) {
    return false;
  }
  const auto effective = port ? port : default_port(origin.scheme);
  return effective && *effective == origin.port;
}

OriginPattern::OriginPattern(std::string_view pattern) : text_(pattern) {
  const auto bad = [&](std::string_view why) {
    return std::invalid_argument("origin pattern \"" + std::string(pattern) + "\": " + std::string(why) +
                                 " (expected https://app.example.com, https://*.example.com, *.example.com, "
                                 "null or *)");
  };
  std::string_view p = detail::trim_ows(pattern);
  if (p == "*") {
    any_ = true;
    return;
  }
  if (p == "null") {
    null_ = true;
    return;
  }
  if (const auto sep = p.find("://"); sep != std::string_view::npos) {
    if (!valid_scheme(p.substr(0, sep))) {
      throw bad("bad scheme");
    }
    scheme_ = lower(p.substr(0, sep));
    p.remove_prefix(sep + 3);
  }
  if (p.starts_with("*.")) {
    wildcard_ = true;
    p.remove_prefix(2);
  }
  std::string_view host;
  if (!split_host_port(p, host, port_)) {
    throw bad("bad port");
  }
  if (!valid_host(host) || host.find('*') != std::string_view::npos) {
    throw bad("bad host");
  }
  if (wildcard_ && host.find('.') == std::string_view::npos) {
    throw bad("a wildcard needs a domain with a dot after it");
  }
  host_ = lower(host);
  if (!port_ && !scheme_.empty()) {
    port_ = default_port(scheme_);
  }
}

bool OriginPattern::matches(const std::optional<Origin>& origin) const {
  if (any_) {
    return true;
  }
  if (!origin) {
    return null_;
  }
  if (null_) {
    return false;
  }
  if (scheme_.empty() ? (origin->scheme != "http" && origin->scheme != "https") : origin->scheme != scheme_) {
    return false;
  }
  const auto want_port = port_ ? port_ : default_port(origin->scheme);
  if (!want_port || *want_port != origin->port) {
    return false;
  }
  if (!wildcard_) {
    return origin->host == host_;
  }
  return origin->host.size() > host_.size() + 1 && origin->host.ends_with(host_) &&
         origin->host[origin->host.size() - host_.size() - 1] == '.';
}

OriginAllowList::OriginAllowList(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    patterns_.emplace_back(p);
    any_ = any_ || patterns_.back().is_any();
  }
}

bool OriginAllowList::allows(std::string_view value) const {
  if (any_) {
    return true;
  }
  const auto trimmed = detail::trim_ows(value);
  const std::optional<Origin> origin = trimmed == "null" ? std::nullopt : parse_origin(trimmed);
  if (!origin && trimmed != "null") {
    return false;  // malformed: never allowed (except by "*")
  }
  for (const auto& p : patterns_) {
    if (p.matches(origin)) {
      return true;
    }
  }
  return false;
}

}  // namespace nexios::http
