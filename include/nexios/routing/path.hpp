#pragma once
/// @file
/// Path patterns with typed parameters: "/rooms/{room_id}", "/items/{id:int}", "/files/{rest:path}".
/// Patterns are compiled once, at registration; matching never uses std::regex.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace nexios::routing {

/// Parameter converters (Nexios/Starlette names).
enum class Converter : std::uint8_t {
  str,    ///< `[^/]+` (the default)
  int_,   ///< `[0-9]+`, no sign; must fit in int64
  float_, ///< `[0-9]+(\.[0-9]+)?`, no sign or exponent
  uuid,   ///< 8-4-4-4-12 hex digits, dashes optional, any case; stored lower-case with dashes
  path,   ///< `.*`: any text including '/', possibly empty
  slug,   ///< `[a-z0-9]+(-[a-z0-9]+)*`
};

/// The converter called `name` ("str", "int", "float", "uuid", "path", "slug").
std::optional<Converter> converter_from_name(std::string_view name) noexcept;

/// Matched path parameters, in pattern order. Values are the matched text (a uuid normalized).
///
/// @code
/// auto room = ws.path_params().at("room_id");        // std::string_view
/// auto id   = ws.path_params().as<std::int64_t>("id"); // converted
/// @endcode
class PathParams {
 public:
  struct Param {
    std::string name;
    std::string value;
    Converter converter = Converter::str;
  };
  using const_iterator = std::vector<Param>::const_iterator;

  /// The value of `name`, if matched.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept {
    for (const auto& p : params_) {
      if (p.name == name) {
        return std::string_view{p.value};
      }
    }
    return std::nullopt;
  }
  /// The value of `name`; throws std::out_of_range if there is no such parameter.
  [[nodiscard]] std::string_view at(std::string_view name) const {
    auto v = get(name);
    if (!v) {
      throw std::out_of_range("no path parameter named '" + std::string(name) + "'");
    }
    return *v;
  }
  [[nodiscard]] std::string_view operator[](std::string_view name) const { return at(name); }

  /// The value of `name` converted to T (an integer, floating-point or string type).
  /// Throws std::out_of_range if absent, std::invalid_argument if it does not convert.
  template <class T>
  [[nodiscard]] T as(std::string_view name) const {
    const std::string_view v = at(name);
    if constexpr (std::is_same_v<T, std::string>) {
      return std::string(v);
    } else if constexpr (std::is_same_v<T, std::string_view>) {
      return v;
    } else if constexpr (std::is_integral_v<T> || std::is_floating_point_v<T>) {
      T out{};
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
      if (ec != std::errc{} || ptr != v.data() + v.size()) {
        throw std::invalid_argument("path parameter '" + std::string(name) + "' is not a number: " + std::string(v));
      }
      return out;
    } else {
      static_assert(std::is_integral_v<T>, "PathParams::as<T>: T must be a number or a string type");
    }
  }

  [[nodiscard]] bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  [[nodiscard]] std::size_t size() const noexcept { return params_.size(); }
  [[nodiscard]] bool empty() const noexcept { return params_.empty(); }
  [[nodiscard]] const_iterator begin() const noexcept { return params_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept { return params_.end(); }
  void clear() noexcept { params_.clear(); }
  void add(std::string name, std::string value, Converter c) {
    params_.push_back({std::move(name), std::move(value), c});
  }

 private:
  std::vector<Param> params_;
};

/// A compiled path pattern.
///
/// Syntax: literal text plus parameters `{name}` or `{name:converter}` (name
/// `[A-Za-z_][A-Za-z0-9_]*`); parameters may sit anywhere, also inside a segment
/// ("/files/{name}.{ext}"). Matching is exact, anchored at both ends and case-sensitive; a
/// trailing slash is significant. When several splits match, parameters take the longest text
/// they can from left to right (like a greedy regex).
class PathPattern {
 public:
  /// Compiles `pattern`. Throws std::invalid_argument when it does not start with '/', has an
  /// unknown converter, a duplicated or malformed parameter name, or unbalanced braces.
  explicit PathPattern(std::string_view pattern);

  /// Matches a (percent-decoded) path. On success fills `params` (cleared first) and returns true.
  bool match(std::string_view path, PathParams& params) const;
  /// Matches without collecting parameters.
  [[nodiscard]] bool matches(std::string_view path) const;

  [[nodiscard]] const std::string& pattern() const noexcept { return pattern_; }
  [[nodiscard]] const std::vector<std::string>& param_names() const noexcept { return names_; }

 private:
  struct Piece {
    bool is_param = false;
    std::string literal;                  // for literal pieces
    Converter converter = Converter::str; // for parameters
    std::size_t name_index = 0;           // index into names_
  };
  bool match_impl(std::string_view path, PathParams* params) const;

  std::string pattern_;
  std::vector<std::string> names_;
  std::vector<Piece> pieces_;
};

}  // namespace nexios::routing
