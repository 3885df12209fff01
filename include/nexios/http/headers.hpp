#pragma once
/// @file
/// `nexios::http::Headers`: an ordered, case-insensitive list of header fields.

#include <nexios/detail/ascii.hpp>

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios::http {

/// One header field: a name and a value (whitespace already trimmed).
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

/// An ordered list of header fields whose names and values are views into storage owned
/// elsewhere (for a request: the connection's request buffer). Lookups are case-insensitive.
///
/// @code
/// if (auto ua = req.headers().get("user-agent")) { ... }
/// bool upgrade = req.headers().has_token("connection", "upgrade");
/// @endcode
class Headers {
 public:
  using const_iterator = std::vector<HeaderField>::const_iterator;

  /// Appends a field. The views must outlive this object.
  void add(std::string_view name, std::string_view value) { fields_.push_back({name, value}); }
  /// Removes every field, keeping the capacity.
  void clear() noexcept { fields_.clear(); }
  void reserve(std::size_t n) { fields_.reserve(n); }

  /// The value of the first field called `name`, if any.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept {
    for (const auto& f : fields_) {
      if (detail::iequals(f.name, name)) {
        return f.value;
      }
    }
    return std::nullopt;
  }

  /// The value of the first field called `name`, or `fallback`.
  [[nodiscard]] std::string_view get_or(std::string_view name, std::string_view fallback) const noexcept {
    auto v = get(name);
    return v ? *v : fallback;
  }

  /// The values of every field called `name`, in order.
  [[nodiscard]] std::vector<std::string_view> get_all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& f : fields_) {
      if (detail::iequals(f.name, name)) {
        out.push_back(f.value);
      }
    }
    return out;
  }

  /// How many fields are called `name`.
  [[nodiscard]] std::size_t count(std::string_view name) const noexcept {
    std::size_t n = 0;
    for (const auto& f : fields_) {
      n += detail::iequals(f.name, name) ? 1 : 0;
    }
    return n;
  }

  [[nodiscard]] bool contains(std::string_view name) const noexcept { return get(name).has_value(); }

  /// True if any field called `name` holds `token` in its comma-separated list (case-insensitive),
  /// e.g. `has_token("connection", "upgrade")` for `Connection: keep-alive, Upgrade`.
  [[nodiscard]] bool has_token(std::string_view name, std::string_view token) const noexcept {
    for (const auto& f : fields_) {
      if (detail::iequals(f.name, name) &&
          detail::for_each_list_element(f.value, [&](std::string_view e) { return detail::iequals(e, token); })) {
        return true;
      }
    }
    return false;
  }

  [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }
  [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }
  [[nodiscard]] const_iterator begin() const noexcept { return fields_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept { return fields_.end(); }
  [[nodiscard]] const HeaderField& operator[](std::size_t i) const noexcept { return fields_[i]; }

 private:
  std::vector<HeaderField> fields_;
};

}  // namespace nexios::http
