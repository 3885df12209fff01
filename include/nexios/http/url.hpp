#pragma once
/// @file
/// Percent-decoding, query strings and cookies.

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios::http {

/// Decodes %XX escapes (and '+' as a space when `plus_as_space`). Invalid escapes are kept as
/// they are, like Python's `urllib.parse.unquote`.
std::string percent_decode(std::string_view text, bool plus_as_space = false);

/// Percent-encodes everything except RFC 3986 unreserved characters.
std::string percent_encode(std::string_view text);

/// An ordered multi-map of decoded query parameters. Blank values are kept (`?a=&b` gives
/// a="" and b=""); `get` returns the last value of a repeated name, as in Nexios.
///
/// @code
/// auto qp = QueryParams::parse("a=1&a=2&b=&c");
/// qp.get("a");        // "2"
/// qp.get_all("a");    // {"1", "2"}
/// qp.get_or("x", "d") // "d"
/// @endcode
class QueryParams {
 public:
  /// A name and its value, decoded. The views stay valid while the QueryParams lives (and, for
  /// parse_borrowed, while the text it parsed does).
  using value_type = std::pair<std::string_view, std::string_view>;
  using const_iterator = std::vector<value_type>::const_iterator;

  QueryParams() = default;
  /// A copy owns everything it refers to (also a copy of a borrowing QueryParams).
  QueryParams(const QueryParams& other);
  QueryParams& operator=(const QueryParams& other);
  QueryParams(QueryParams&&) noexcept = default;
  QueryParams& operator=(QueryParams&&) noexcept = default;
  ~QueryParams() = default;

  /// Parses a raw query string (without '?'): '&'-separated, '+' is a space, names and values
  /// percent-decoded. Empty pieces ("a=1&&b=2") are skipped. The result keeps a copy of `query`.
  static QueryParams parse(std::string_view query);
  /// The same without the copy: names and values that need no decoding are views into `query`,
  /// which must outlive the result; only decoded pieces are owned. The server's request caches
  /// use it, so a parameter is not held twice (the request head is kept anyway).
  static QueryParams parse_borrowed(std::string_view query);

  /// The last value of `name`.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
  [[nodiscard]] std::string_view get_or(std::string_view name, std::string_view fallback) const noexcept;
  /// Every value of `name`, in order.
  [[nodiscard]] std::vector<std::string_view> get_all(std::string_view name) const;
  [[nodiscard]] bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  [[nodiscard]] const_iterator begin() const noexcept { return items_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept { return items_.end(); }
  void add(std::string name, std::string value);

 private:
  void parse_into(std::string_view query);
  std::string_view own(std::string text);

  std::unique_ptr<char[]> copy_;   // parse(): the query's bytes, which views point into
  std::size_t copy_size_ = 0;
  std::deque<std::string> owned_;  // decoded and added pieces (a deque: its elements never move)
  std::vector<value_type> items_;
};

/// Cookies from `Cookie` request headers, parsed like Nexios (Django-style): split on ';', names
/// and values trimmed, a chunk without '=' has the name "", double-quoted values are unquoted.
/// A repeated name keeps the last value.
class Cookies {
 public:
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;

  /// Parses one or more Cookie header values (several headers are joined with "; ").
  static Cookies parse(const std::vector<std::string_view>& header_values);

  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
  [[nodiscard]] std::string_view get_or(std::string_view name, std::string_view fallback) const noexcept;
  [[nodiscard]] bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  [[nodiscard]] const_iterator begin() const noexcept { return items_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept { return items_.end(); }

 private:
  std::vector<value_type> items_;
};

}  // namespace nexios::http
