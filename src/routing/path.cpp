#include "nexios/routing/path.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Matching algorithm
// ------------------
// A pattern is a list of pieces (literal text or a typed parameter). The reference semantics are
// those of Python's `re` on `^lit(?P<a>conv)lit(?P<b>conv)...$` with greedy quantifiers: every
// converter's regex yields its candidate matches longest-first (for str/int/path/slug/float this
// is the backtracking order of the regex; a uuid has at most one candidate), so the result is
// "each parameter, left to right, takes the longest candidate after which the rest still matches".
//
// Instead of backtracking, the matcher runs a dynamic programme from right to left over
// (piece, position): ok(i, p) = "pieces i.. match path[p..]". For a parameter piece it stores
// best_i[x] = the largest end e <= x such that ok(i + 1, e) (and, for slug, path[e-1] may end a
// slug). Every converter's candidate ends from a start p form at most two contiguous ranges
// [lo, hi], so "the longest acceptable candidate" is one lookup: best_i[hi] >= lo. Matching is
// therefore O(pieces * path length) time and memory whatever the input, with no recursion.
// A forward pass then reads the greedy split off the same tables.

namespace nexios::routing {

namespace {

constexpr std::size_t npos = static_cast<std::size_t>(-1);

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_slug_char(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'z'); }
constexpr bool is_name_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
constexpr bool is_name_char(char c) noexcept { return is_name_start(c) || is_digit(c); }

bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || !is_name_start(name.front())) {
    return false;
  }
  return std::all_of(name.begin() + 1, name.end(), is_name_char);
}

[[noreturn]] void invalid_pattern(std::string_view pattern, const std::string& what) {
  throw std::invalid_argument("Invalid path pattern '" + std::string(pattern) + "': " + what);
}

constexpr std::array<std::size_t, 5> kUuidGroups{8, 4, 4, 4, 12};
constexpr std::size_t kUuidHexDigits = 32;

/// End of the uuid starting at `p` (`[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?...{12}`), or npos. The
/// match is unique: at an optional dash, skipping a '-' that is there can never succeed.
std::size_t uuid_end(std::string_view s, std::size_t p) noexcept {
  std::size_t q = p;
  for (std::size_t g = 0; g < kUuidGroups.size(); ++g) {
    if (g > 0 && q < s.size() && s[q] == '-') {
      ++q;
    }
    for (std::size_t k = 0; k < kUuidGroups[g]; ++k, ++q) {
      if (q >= s.size() || !is_hex(s[q])) {
        return npos;
      }
    }
  }
  return q;
}

/// `text` (a matched uuid) as lower-case 8-4-4-4-12 with dashes.
std::string normalize_uuid(std::string_view text) {
  std::string out;
  out.reserve(kUuidHexDigits + kUuidGroups.size() - 1);
  std::size_t group = 0;
  std::size_t in_group = 0;
  for (const char c : text) {
    if (c == '-') {
      continue;
    }
    if (in_group == kUuidGroups[group]) {
      out.push_back('-');
      ++group;
      in_group = 0;
    }
    out.push_back((c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c);
    ++in_group;
  }
  return out;
}

/// The minimum number of characters a converter consumes.
constexpr std::size_t min_length(Converter c) noexcept {
  switch (c) {
    case Converter::path:
      return 0;
    case Converter::uuid:
      return kUuidHexDigits;
    case Converter::str:
    case Converter::int_:
    case Converter::float_:
    case Converter::slug:
      return 1;
  }
  return 0;
}

/// For the digit run path[p, run_end) whose leading zeros end at `zeros_end`: the largest end
/// e <= run_end such that path[p, e) still fits in an int64 (int64 max has 19 digits).
std::size_t int64_fit_end(std::string_view s, std::size_t zeros_end, std::size_t run_end) noexcept {
  constexpr std::string_view kMax = "9223372036854775807";
  if (run_end - zeros_end < kMax.size()) {
    return run_end;
  }
  return s.substr(zeros_end, kMax.size()) <= kMax ? zeros_end + kMax.size()
                                                  : zeros_end + kMax.size() - 1;
}

}  // namespace

std::optional<Converter> converter_from_name(std::string_view name) noexcept {
  if (name == "str") {
    return Converter::str;
  }
  if (name == "int") {
    return Converter::int_;
  }
  if (name == "float") {
    return Converter::float_;
  }
  if (name == "uuid") {
    return Converter::uuid;
  }
  if (name == "path") {
    return Converter::path;
  }
  if (name == "slug") {
    return Converter::slug;
  }
  return std::nullopt;
}

PathPattern::PathPattern(std::string_view pattern) : pattern_(pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    invalid_pattern(pattern, "a path pattern must start with '/'");
  }
  std::string literal;
  std::size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '}') {
      invalid_pattern(pattern, "unbalanced '}' at offset " + std::to_string(i));
    }
    if (c != '{') {
      literal.push_back(c);
      ++i;
      continue;
    }
    std::size_t close = i + 1;
    for (; close < pattern.size() && pattern[close] != '}'; ++close) {
      if (pattern[close] == '{') {
        invalid_pattern(pattern, "nested '{' at offset " + std::to_string(close));
      }
    }
    if (close == pattern.size()) {
      invalid_pattern(pattern, "unbalanced '{' at offset " + std::to_string(i) + " (no closing '}')");
    }
    const std::string_view body = pattern.substr(i + 1, close - i - 1);
    const std::size_t colon = body.find(':');
    const std::string_view name = body.substr(0, colon);
    if (!is_valid_name(name)) {
      invalid_pattern(pattern, "malformed parameter name '" + std::string(name) + "' in '{" + std::string(body) +
                                   "}' (expected [A-Za-z_][A-Za-z0-9_]*)");
    }
    Converter converter = Converter::str;
    if (colon != std::string_view::npos) {
      const std::string_view conv_name = body.substr(colon + 1);
      const auto conv = converter_from_name(conv_name);
      if (!conv) {
        throw std::invalid_argument("Unknown path converter '" + std::string(conv_name) + "' in '" +
                                    std::string(pattern) + "'");
      }
      converter = *conv;
    }
    if (std::find(names_.begin(), names_.end(), name) != names_.end()) {
      invalid_pattern(pattern, "duplicated parameter name '" + std::string(name) + "'");
    }
    if (!literal.empty()) {
      pieces_.push_back(Piece{false, std::move(literal), Converter::str, 0});
      literal.clear();
    }
    pieces_.push_back(Piece{true, {}, converter, names_.size()});
    names_.emplace_back(name);
    i = close + 1;
  }
  if (!literal.empty()) {
    pieces_.push_back(Piece{false, std::move(literal), Converter::str, 0});
  }
}

bool PathPattern::match(std::string_view path, PathParams& params) const { return match_impl(path, &params); }

bool PathPattern::matches(std::string_view path) const { return match_impl(path, nullptr); }

bool PathPattern::match_impl(std::string_view path, PathParams* params) const {
  const std::size_t m = pieces_.size();
  const std::size_t n = path.size();

  // Cheap rejections before any table is built: length, leading and trailing literal.
  std::size_t min_len = 0;
  bool need_slash = false;
  bool need_digits = false;
  bool need_zeros = false;
  bool need_slug = false;
  for (const Piece& pc : pieces_) {
    if (!pc.is_param) {
      min_len += pc.literal.size();
      continue;
    }
    min_len += min_length(pc.converter);
    need_slash = need_slash || pc.converter == Converter::str;
    need_digits = need_digits || pc.converter == Converter::int_ || pc.converter == Converter::float_;
    need_zeros = need_zeros || pc.converter == Converter::int_;
    need_slug = need_slug || pc.converter == Converter::slug;
  }
  if (n < min_len) {
    return false;
  }
  if (!pieces_.front().is_param && !path.starts_with(pieces_.front().literal)) {
    return false;
  }
  if (!pieces_.back().is_param && !path.ends_with(pieces_.back().literal)) {
    return false;
  }
  if (m == 1 && !pieces_.front().is_param) {  // literal-only pattern
    if (n != pieces_.front().literal.size()) {
      return false;
    }
    if (params != nullptr) {
      params->clear();
    }
    return true;
  }

  // Tables: one row of n + 1 entries per piece, plus per-position helper rows.
  const std::size_t width = n + 1;
  const std::size_t rows = m + (need_slash ? 1 : 0) + (need_digits ? 1 : 0) + (need_zeros ? 1 : 0) +
                           (need_slug ? 1 : 0);
  constexpr std::size_t kInline = 512;
  std::array<std::size_t, kInline> inline_buf;  // NOLINT: deliberately uninitialized
  std::unique_ptr<std::size_t[]> heap_buf;  // every entry is written before it is read
  std::size_t* buf = inline_buf.data();
  if (rows * width > kInline) {
    heap_buf = std::make_unique_for_overwrite<std::size_t[]>(rows * width);
    buf = heap_buf.get();
  }
  const auto row = [&](std::size_t r) { return std::span<std::size_t>(buf + r * width, width); };
  std::size_t next_row = m;

  // slash[p]: first '/' at or after p (or n).
  std::span<std::size_t> slash;
  if (need_slash) {
    slash = row(next_row++);
    slash[n] = n;
    for (std::size_t p = n; p-- > 0;) {
      slash[p] = path[p] == '/' ? p : slash[p + 1];
    }
  }
  // digits[p]: end of the run of digits starting at p.
  std::span<std::size_t> digits;
  if (need_digits) {
    digits = row(next_row++);
    digits[n] = n;
    for (std::size_t p = n; p-- > 0;) {
      digits[p] = is_digit(path[p]) ? digits[p + 1] : p;
    }
  }
  // zeros[p]: end of the run of '0' starting at p.
  std::span<std::size_t> zeros;
  if (need_zeros) {
    zeros = row(next_row++);
    zeros[n] = n;
    for (std::size_t p = n; p-- > 0;) {
      zeros[p] = path[p] == '0' ? zeros[p + 1] : p;
    }
  }
  // slug_end[p]: end of the longest slug (`[a-z0-9]+(-[a-z0-9]+)*`) starting at p, or p if none.
  std::span<std::size_t> slug_end;
  if (need_slug) {
    slug_end = row(next_row++);
    slug_end[n] = n;
    for (std::size_t p = n; p-- > 0;) {
      if (!is_slug_char(path[p])) {
        slug_end[p] = p;
      } else if (p + 1 < n && is_slug_char(path[p + 1])) {
        slug_end[p] = slug_end[p + 1];
      } else if (p + 2 < n && path[p + 1] == '-' && is_slug_char(path[p + 2])) {
        slug_end[p] = slug_end[p + 2];
      } else {
        slug_end[p] = p + 1;
      }
    }
  }

  // The longest candidate end for parameter piece i starting at p after which pieces i+1..
  // match, or npos. Requires row(i) (best ends) to be filled.
  const auto accept = [&](std::size_t i, std::size_t p) -> std::size_t {
    const std::span<std::size_t> best = row(i);
    const auto longest_in = [&](std::size_t lo, std::size_t hi) -> std::size_t {
      if (lo > hi) {
        return npos;
      }
      const std::size_t e = best[hi];
      return (e != npos && e >= lo) ? e : npos;
    };
    switch (pieces_[i].converter) {
      case Converter::str:
        return longest_in(p + 1, slash[p]);
      case Converter::path:
        return longest_in(p, n);
      case Converter::int_:
        return longest_in(p + 1, int64_fit_end(path, zeros[p], digits[p]));
      case Converter::float_: {
        const std::size_t int_end = digits[p];
        if (int_end == p) {
          return npos;
        }
        if (int_end + 1 < n && path[int_end] == '.' && is_digit(path[int_end + 1])) {
          const std::size_t e = longest_in(int_end + 2, digits[int_end + 1]);
          if (e != npos) {
            return e;
          }
        }
        return longest_in(p + 1, int_end);
      }
      case Converter::slug:
        return longest_in(p + 1, slug_end[p]);
      case Converter::uuid: {
        const std::size_t e = uuid_end(path, p);
        return (e != npos && best[e] == e) ? e : npos;
      }
    }
    return npos;
  };
  // Whether pieces i.. match path[p..]. Requires rows i.. to be filled.
  const auto ok = [&](std::size_t i, std::size_t p) -> bool {
    if (i == m) {
      return p == n;
    }
    if (!pieces_[i].is_param) {
      return row(i)[p] != 0;
    }
    return accept(i, p) != npos;
  };

  for (std::size_t i = m; i-- > 0;) {
    const Piece& pc = pieces_[i];
    const std::span<std::size_t> r = row(i);
    if (!pc.is_param) {
      const std::size_t len = pc.literal.size();
      for (std::size_t p = 0; p <= n; ++p) {
        r[p] = (len <= n - p && path.compare(p, len, pc.literal) == 0 && ok(i + 1, p + len)) ? 1 : 0;
      }
    } else {
      const bool slug = pc.converter == Converter::slug;
      for (std::size_t x = 0; x <= n; ++x) {
        const bool good = (!slug || (x > 0 && is_slug_char(path[x - 1]))) && ok(i + 1, x);
        r[x] = good ? x : (x > 0 ? r[x - 1] : npos);
      }
    }
  }
  if (!ok(0, 0)) {
    return false;
  }
  if (params == nullptr) {
    return true;
  }

  params->clear();
  std::size_t p = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const Piece& pc = pieces_[i];
    if (!pc.is_param) {
      p += pc.literal.size();
      continue;
    }
    const std::size_t e = accept(i, p);  // != npos: ok(i, p) holds along the greedy split
    const std::string_view text = path.substr(p, e - p);
    params->add(names_[pc.name_index], pc.converter == Converter::uuid ? normalize_uuid(text) : std::string(text),
                pc.converter);
    p = e;
  }
  return true;
}

}  // namespace nexios::routing
