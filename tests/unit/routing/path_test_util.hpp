#pragma once
// Shared helpers for the routing path tests.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nexios/routing/path.hpp"

namespace nexios::routing::test {

using Pairs = std::vector<std::pair<std::string, std::string>>;

/// The (name, value) pairs `pattern` extracts from `path`, or nullopt when it does not match.
/// Also checks that match() and matches() agree.
inline std::optional<Pairs> extract(const PathPattern& pattern, std::string_view path) {
  PathParams params;
  const bool matched = pattern.match(path, params);
  if (matched != pattern.matches(path)) {
    return Pairs{{"<match/matches disagree>", std::string(path)}};
  }
  if (!matched) {
    return std::nullopt;
  }
  Pairs out;
  for (const auto& p : params) {
    out.emplace_back(p.name, p.value);
  }
  return out;
}

inline std::optional<Pairs> extract(std::string_view pattern, std::string_view path) {
  return extract(PathPattern(pattern), path);
}

/// The single parameter value `pattern` extracts from `path`, or nullopt.
inline std::optional<std::string> one(std::string_view pattern, std::string_view path) {
  auto r = extract(pattern, path);
  if (!r || r->size() != 1) {
    return std::nullopt;
  }
  return r->front().second;
}

}  // namespace nexios::routing::test
