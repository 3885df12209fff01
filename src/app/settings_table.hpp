#pragma once
// The machinery behind Limits::set/get/apply_environment and ChannelLimits' equivalents: a table
// of named fields per settings struct, each with a kind (size, duration, count, choice), a range
// and accessors, and the text parsers with their error messages.

#include <nexios/settings.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace nexios::detail {

/// Units for the ranges of the tables (sizes in bytes, durations in milliseconds).
namespace setting_units {
inline constexpr std::uint64_t KiB = 1024;
inline constexpr std::uint64_t MiB = 1024 * KiB;
inline constexpr std::uint64_t GiB = 1024 * MiB;
inline constexpr std::uint64_t second = 1000;
inline constexpr std::uint64_t minute = 60 * second;
inline constexpr std::uint64_t hour = 60 * minute;
}  // namespace setting_units

/// One named field of the settings struct S. Numbers are carried as uint64 (durations in ms,
/// choices as the index into `choices`).
template <class S>
struct Setting {
  std::string_view name;
  SettingKind kind;
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  std::string_view description;
  std::uint64_t (*get)(const S&) = nullptr;
  void (*set)(S&, std::uint64_t) = nullptr;
  std::span<const std::string_view> choices = {};
  /// For sizes/durations/counts where 0 means "off": shown as such in help texts.
  bool zero_disables = false;
  /// For settings where 0 means "derived when the server starts" (max_connections): accepted as
  /// `0` or `auto`, shown as "0 (auto)".
  bool zero_is_auto = false;
};

/// What a 0 means for a setting, in help texts and as a word it accepts: "off", "auto" or "".
template <class S>
std::string_view zero_word(const Setting<S>& s) noexcept {
  return s.zero_is_auto ? std::string_view("auto") : s.zero_disables ? std::string_view("off") : std::string_view();
}

// Conversions between a field and the uint64 the table carries.
template <class T>
std::uint64_t to_setting(const T& v) {
  if constexpr (std::is_enum_v<T>) {
    return static_cast<std::uint64_t>(v);
  } else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
    return static_cast<std::uint64_t>(v.count());
  } else {
    return static_cast<std::uint64_t>(v);
  }
}
template <class T>
void from_setting(T& field, std::uint64_t v) {
  if constexpr (std::is_enum_v<T>) {
    field = static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
    field = std::chrono::milliseconds(static_cast<std::int64_t>(v));
  } else {
    field = static_cast<T>(v);
  }
}

// Accessors for a member `f` of `S`, as plain function pointers.
#define NEXIOS_SETTING_ACCESSORS(S, f)                                                     \
  [](const S& s) -> std::uint64_t { return ::nexios::detail::to_setting(s.f); },           \
      [](S& s, std::uint64_t v) { ::nexios::detail::from_setting(s.f, v); }

/// Parses `text` for `setting`; throws std::invalid_argument naming it and what is accepted.
/// `zero_word` is what 0 means ("off", "auto"; empty: 0 is an ordinary value), see zero_word().
std::uint64_t parse_setting(std::string_view name, SettingKind kind, std::uint64_t min, std::uint64_t max,
                            std::span<const std::string_view> choices, std::string_view zero_word,
                            std::string_view text);
/// The value as text, in the unit that shows it exactly ("16MiB", "20s").
std::string format_setting(SettingKind kind, std::span<const std::string_view> choices, std::uint64_t value);
/// "1B to 1GiB", "0 (off) or 1ms to 1h", "close | drop_newest".
std::string describe_range(SettingKind kind, std::uint64_t min, std::uint64_t max,
                           std::span<const std::string_view> choices, std::string_view zero_word);

template <class S>
const Setting<S>* find_setting(std::span<const Setting<S>> table, std::string_view name) {
  for (const auto& s : table) {
    if (s.name == name) {
      return &s;
    }
  }
  return nullptr;
}

template <class S>
std::string known_names(std::span<const Setting<S>> table) {
  std::string out;
  for (const auto& s : table) {
    if (!out.empty()) {
      out += ", ";
    }
    out += s.name;
  }
  return out;
}

template <class S>
void set_setting(std::span<const Setting<S>> table, S& target, std::string_view name, std::string_view text,
                 std::string_view what) {
  const Setting<S>* s = find_setting(table, name);
  if (s == nullptr) {
    throw std::invalid_argument("unknown " + std::string(what) + " '" + std::string(name) +
                                "'; the known ones are: " + known_names(table));
  }
  s->set(target, parse_setting(s->name, s->kind, s->min, s->max, s->choices, zero_word(*s), text));
}

template <class S>
std::string get_setting(std::span<const Setting<S>> table, const S& source, std::string_view name,
                        std::string_view what) {
  const Setting<S>* s = find_setting(table, name);
  if (s == nullptr) {
    throw std::invalid_argument("unknown " + std::string(what) + " '" + std::string(name) + "'");
  }
  return format_setting(s->kind, s->choices, s->get(source));
}

template <class S>
std::vector<SettingInfo> describe_settings(std::span<const Setting<S>> table) {
  const S defaults{};
  std::vector<SettingInfo> out;
  out.reserve(table.size());
  for (const auto& s : table) {
    out.push_back(SettingInfo{s.name, s.kind, format_setting(s.kind, s.choices, s.get(defaults)),
                              describe_range(s.kind, s.min, s.max, s.choices, zero_word(s)), s.description});
  }
  return out;
}

/// Checks that every field of `source` is within its range (fields set directly in code bypass
/// the parser); throws std::invalid_argument naming the first that is not.
template <class S>
void validate_settings(std::span<const Setting<S>> table, const S& source, std::string_view what) {
  for (const auto& s : table) {
    const std::uint64_t v = s.get(source);
    const bool ok = s.kind == SettingKind::choice ? v < s.choices.size()
                                                  : ((!zero_word(s).empty() && v == 0) || (v >= s.min && v <= s.max));
    if (!ok) {
      throw std::invalid_argument(std::string(what) + " " + std::string(s.name) + " = " +
                                  format_setting(s.kind, s.choices, v) + " is out of range; accepted: " +
                                  describe_range(s.kind, s.min, s.max, s.choices, zero_word(s)));
    }
  }
}

/// Reads an environment variable (nullopt when unset).
std::optional<std::string> environment(const std::string& variable);

/// Applies NEXIOS_<NAME> for every field of the table that has one set. Throws
/// std::invalid_argument naming the variable.
template <class S>
void apply_environment_settings(std::span<const Setting<S>> table, S& target) {
  for (const auto& s : table) {
    const std::string var = environment_variable_for(s.name);
    if (auto v = environment(var)) {
      try {
        s.set(target, parse_setting(s.name, s.kind, s.min, s.max, s.choices, zero_word(s), *v));
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("environment variable " + var + ": " + e.what());
      }
    }
  }
}

}  // namespace nexios::detail
