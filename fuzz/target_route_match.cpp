/// @file
/// Fuzz target route_match: the payload up to the first '\n' is a path pattern, the rest a path
/// (without a '\n' the pattern text is matched against itself). Compiles the pattern (errors are
/// std::invalid_argument), matches, and checks match() against matches() and against a
/// reference: a pattern parser and a memoized backtracking matcher written here from the
/// documented semantics (each parameter, left to right, takes the longest text after which the
/// rest still matches). Also runs percent_decode / percent_encode, QueryParams::parse and
/// Cookies::parse on the path.
///
/// Options byte: unused.

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include <nexios/http/url.hpp>
#include <nexios/routing/path.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using nexios::routing::Converter;
using nexios::routing::PathParams;
using nexios::routing::PathPattern;

/// Above these sizes the (slower) reference matcher is skipped.
constexpr std::size_t reference_max_path = 512;
constexpr std::size_t reference_max_pieces = 32;

struct RefPiece {
  bool is_param = false;
  std::string literal;
  Converter converter = Converter::str;
  std::string name;
};

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_slug_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z');
}

/// The documented pattern syntax; nullopt where PathPattern must throw.
std::optional<std::vector<RefPiece>> reference_compile(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    return std::nullopt;
  }
  std::vector<RefPiece> pieces;
  std::vector<std::string> names;
  std::string literal;
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '}') {
      return std::nullopt;
    }
    if (pattern[i] != '{') {
      literal.push_back(pattern[i++]);
      continue;
    }
    const std::size_t close = pattern.find_first_of("{}", i + 1);
    if (close == std::string_view::npos || pattern[close] == '{') {
      return std::nullopt;
    }
    const std::string_view body = pattern.substr(i + 1, close - i - 1);
    const std::size_t colon = body.find(':');
    const std::string name(body.substr(0, colon));
    if (name.empty() || !is_name_start(name.front())) {
      return std::nullopt;
    }
    for (const char c : name) {
      if (!is_name_start(c) && !is_digit(c)) {
        return std::nullopt;
      }
    }
    Converter conv = Converter::str;
    if (colon != std::string_view::npos) {
      const std::string_view cn = body.substr(colon + 1);
      if (cn == "str") {
        conv = Converter::str;
      } else if (cn == "int") {
        conv = Converter::int_;
      } else if (cn == "float") {
        conv = Converter::float_;
      } else if (cn == "uuid") {
        conv = Converter::uuid;
      } else if (cn == "path") {
        conv = Converter::path;
      } else if (cn == "slug") {
        conv = Converter::slug;
      } else {
        return std::nullopt;
      }
    }
    for (const auto& n : names) {
      if (n == name) {
        return std::nullopt;
      }
    }
    names.push_back(name);
    if (!literal.empty()) {
      pieces.push_back({false, literal, Converter::str, {}});
      literal.clear();
    }
    pieces.push_back({true, {}, conv, name});
    i = close + 1;
  }
  if (!literal.empty()) {
    pieces.push_back({false, literal, Converter::str, {}});
  }
  return pieces;
}

/// True if `digits` (all '0'-'9', non-empty) fits in an int64.
bool fits_int64(std::string_view digits) {
  while (digits.size() > 1 && digits.front() == '0') {
    digits.remove_prefix(1);
  }
  constexpr std::string_view max = "9223372036854775807";
  return digits.size() < max.size() || (digits.size() == max.size() && digits <= max);
}

/// Every end e such that path[p, e) is accepted by the converter, longest first.
std::vector<std::size_t> candidate_ends(Converter conv, std::string_view path, std::size_t p) {
  std::vector<std::size_t> ends;
  const std::size_t n = path.size();
  switch (conv) {
    case Converter::str:
      for (std::size_t e = p; e < n && path[e] != '/'; ++e) {
        ends.push_back(e + 1);
      }
      break;
    case Converter::path:
      for (std::size_t e = p; e <= n; ++e) {
        ends.push_back(e);
      }
      break;
    case Converter::int_:
      for (std::size_t e = p; e < n && is_digit(path[e]); ++e) {
        if (fits_int64(path.substr(p, e + 1 - p))) {
          ends.push_back(e + 1);
        }
      }
      break;
    case Converter::float_: {
      std::size_t e = p;
      while (e < n && is_digit(path[e])) {
        ends.push_back(++e);
      }
      if (e > p && e + 1 < n && path[e] == '.' && is_digit(path[e + 1])) {
        for (std::size_t f = e + 1; f < n && is_digit(path[f]); ++f) {
          ends.push_back(f + 1);
        }
      }
      break;
    }
    case Converter::slug:
      // [a-z0-9]+(-[a-z0-9]+)*: an end after any slug char, a '-' only between two of them.
      for (std::size_t e = p; e < n; ++e) {
        if (is_slug_char(path[e])) {
          ends.push_back(e + 1);
        } else if (!(path[e] == '-' && e > p && e + 1 < n && is_slug_char(path[e + 1]))) {
          break;
        }
      }
      break;
    case Converter::uuid: {
      // 8-4-4-4-12 hex digits with optional dashes between the groups.
      static constexpr std::size_t groups[] = {8, 4, 4, 4, 12};
      std::size_t q = p;
      bool ok = true;
      for (std::size_t g = 0; g < 5 && ok; ++g) {
        if (g > 0 && q < n && path[q] == '-') {
          ++q;
        }
        for (std::size_t k = 0; k < groups[g]; ++k, ++q) {
          if (q >= n || !is_hex(path[q])) {
            ok = false;
            break;
          }
        }
      }
      if (ok) {
        ends.push_back(q);
      }
      break;
    }
  }
  std::reverse(ends.begin(), ends.end());
  return ends;
}

std::string normalize_uuid(std::string_view text) {
  std::string hex;
  for (const char c : text) {
    if (c != '-') {
      hex.push_back((c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c);
    }
  }
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

/// Memoized greedy backtracking matcher.
class ReferenceMatcher {
 public:
  ReferenceMatcher(const std::vector<RefPiece>& pieces, std::string_view path)
      : pieces_(pieces), path_(path), failed_((pieces.size() + 1) * (path.size() + 1), 0) {}

  /// The parameter values (uuid normalized), or nullopt.
  std::optional<std::vector<std::string>> run() {
    std::vector<std::string> values;
    if (!match(0, 0, values)) {
      return std::nullopt;
    }
    return values;
  }

 private:
  bool match(std::size_t i, std::size_t p, std::vector<std::string>& values) {
    if (i == pieces_.size()) {
      return p == path_.size();
    }
    char& failed = failed_[i * (path_.size() + 1) + p];
    if (failed != 0) {
      return false;
    }
    const RefPiece& pc = pieces_[i];
    if (!pc.is_param) {
      if (path_.substr(p).starts_with(pc.literal) && match(i + 1, p + pc.literal.size(), values)) {
        return true;
      }
    } else {
      for (const std::size_t e : candidate_ends(pc.converter, path_, p)) {
        const std::string_view text = path_.substr(p, e - p);
        values.push_back(pc.converter == Converter::uuid ? normalize_uuid(text) : std::string(text));
        if (match(i + 1, e, values)) {
          return true;
        }
        values.pop_back();
      }
    }
    failed = 1;
    return false;
  }

  const std::vector<RefPiece>& pieces_;
  std::string_view path_;
  std::vector<char> failed_;  // (i, p) known not to match
};

void check_url_helpers(std::string_view path) {
  const std::string decoded = nexios::http::percent_decode(path);
  FUZZ_CHECK(decoded.size() <= path.size());
  FUZZ_CHECK(nexios::http::percent_decode(path, true).size() == decoded.size());
  const std::string encoded = nexios::http::percent_encode(path);
  FUZZ_CHECK(nexios::http::percent_decode(encoded) == path);
  if (path.find('%') == std::string_view::npos) {
    FUZZ_CHECK(decoded == path);
  }

  const std::size_t q = path.find('?');
  const auto params =
      nexios::http::QueryParams::parse(q == std::string_view::npos ? path : path.substr(q + 1));
  for (const auto& [name, value] : params) {
    FUZZ_CHECK(params.contains(name));
    const auto all = params.get_all(name);
    FUZZ_CHECK(!all.empty() && params.get(name) == all.back());
  }

  const auto cookies = nexios::http::Cookies::parse({path, path});
  for (const auto& [name, value] : cookies) {
    FUZZ_CHECK(cookies.contains(name));
  }
}

}  // namespace

int fuzz_route_match(const std::uint8_t* data, std::size_t size) {
  const auto in = nexios::fuzz::decode_input(data, size);
  const std::string_view payload = in.payload_view();
  const std::size_t nl = payload.find('\n');
  const std::string_view pattern_text = payload.substr(0, nl);
  const std::string_view path = nl == std::string_view::npos ? pattern_text : payload.substr(nl + 1);

  check_url_helpers(path);

  const auto ref_pieces = reference_compile(pattern_text);
  std::optional<PathPattern> pattern;
  try {
    pattern.emplace(pattern_text);
  } catch (const std::invalid_argument&) {
    FUZZ_CHECK_MSG(!ref_pieces, "rejected: " + nexios::fuzz::printable(pattern_text));
    return 0;
  }
  FUZZ_CHECK_MSG(ref_pieces.has_value(), "accepted: " + nexios::fuzz::printable(pattern_text));
  FUZZ_CHECK(pattern->pattern() == pattern_text);
  std::vector<std::string> ref_names;
  for (const auto& pc : *ref_pieces) {
    if (pc.is_param) {
      ref_names.push_back(pc.name);
    }
  }
  FUZZ_CHECK(pattern->param_names() == ref_names);

  PathParams params;
  params.add("stale", "x", Converter::str);  // match() must clear it
  const bool matched = pattern->match(path, params);
  FUZZ_CHECK(matched == pattern->matches(path));
  if (matched) {
    FUZZ_CHECK(params.size() == pattern->param_names().size());
    std::size_t i = 0;
    for (const auto& p : params) {
      FUZZ_CHECK(p.name == pattern->param_names()[i]);
      ++i;
    }
  }

  if (path.size() <= reference_max_path && ref_pieces->size() <= reference_max_pieces) {
    ReferenceMatcher ref(*ref_pieces, path);
    const auto expected = ref.run();
    FUZZ_CHECK_MSG(matched == expected.has_value(),
                   nexios::fuzz::printable(pattern_text) + " on " + nexios::fuzz::printable(path));
    if (matched) {
      std::size_t i = 0;
      for (const auto& p : params) {
        FUZZ_CHECK_MSG(p.value == (*expected)[i], p.name + "=" + nexios::fuzz::printable(p.value) + " expected " +
                                                      nexios::fuzz::printable((*expected)[i]));
        ++i;
      }
    }
  }
  return 0;
}
