/// @file
/// Fuzz target origin: the payload up to the first '\n' is an allow-list pattern (several,
/// separated by ','), the rest an Origin header value and a Host value (split at the next '\n').
/// Checks that parsing never crashes, that a parsed origin is normalized (lower case, a port for
/// http/https/ws/wss) and round-trips through its serialization, that a pattern made from an
/// origin's serialization matches it, that an origin is the same origin as its own host and
/// port, and that building patterns either succeeds or throws std::invalid_argument.
///
/// Options byte: unused.

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include <nexios/detail/ascii.hpp>
#include <nexios/http/origin.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace {

using nexios::http::Origin;
using nexios::http::OriginAllowList;
using nexios::http::OriginPattern;

std::string serialize(const Origin& o) { return o.scheme + "://" + o.host + ":" + std::to_string(o.port); }

bool is_lower(const std::string& s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') {
      return false;
    }
  }
  return true;
}

}  // namespace

int fuzz_origin(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto nl = all.find('\n');
  const std::string_view patterns = nl == std::string_view::npos ? all : all.substr(0, nl);
  std::string_view rest = nl == std::string_view::npos ? all : all.substr(nl + 1);
  const auto nl2 = rest.find('\n');
  const std::string_view value = nl2 == std::string_view::npos ? rest : rest.substr(0, nl2);
  const std::string_view host = nl2 == std::string_view::npos ? std::string_view() : rest.substr(nl2 + 1);

  const auto origin = nexios::http::parse_origin(value);
  if (origin) {
    FUZZ_CHECK(!origin->scheme.empty() && !origin->host.empty());
    FUZZ_CHECK(is_lower(origin->scheme) && is_lower(origin->host));
    if (origin->scheme == "http" || origin->scheme == "https" || origin->scheme == "ws" || origin->scheme == "wss") {
      FUZZ_CHECK(origin->port != 0);
    }
    if (origin->port != 0) {
      const auto again = nexios::http::parse_origin(serialize(*origin));
      FUZZ_CHECK_MSG(again && *again == *origin, serialize(*origin));
      FUZZ_CHECK(nexios::http::is_same_origin(*origin, origin->host + ":" + std::to_string(origin->port)));
      if (origin->scheme == "http" || origin->scheme == "https") {
        // The exact pattern of an http(s) origin builds (one host grammar) and matches it.
        const OriginPattern exact(serialize(*origin));
        FUZZ_CHECK_MSG(exact.matches(origin), serialize(*origin));
      }
    }
    (void)nexios::http::is_same_origin(*origin, host);
  }
  // Patterns: each either builds or throws std::invalid_argument.
  std::vector<std::string> list;
  std::size_t start = 0;
  while (start <= patterns.size()) {
    const auto comma = patterns.find(',', start);
    list.emplace_back(patterns.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  try {
    const OriginAllowList allow(list);
    const bool allowed = allow.allows(value);
    if (allow.allows_any()) {
      FUZZ_CHECK(allowed);
    }
    if (!origin && nexios::detail::trim_ows(value) != "null" && !allow.allows_any()) {
      FUZZ_CHECK_MSG(!allowed, "a malformed origin was allowed");
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
