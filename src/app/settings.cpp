#include "app/settings_table.hpp"

#include <nexios/detail/ascii.hpp>

#include <array>
#include <charconv>
#include <cstdlib>
#include <limits>

namespace nexios {

std::string environment_variable_for(std::string_view setting) {
  std::string out = "NEXIOS_";
  for (char c : setting) {
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

namespace detail {

namespace {

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

// Longest names first where one is a suffix of another ("ms" before "s").
constexpr std::array<Unit, 7> size_units{{
    {"KiB", 1024ULL},
    {"MiB", 1024ULL * 1024},
    {"GiB", 1024ULL * 1024 * 1024},
    {"KB", 1000ULL},
    {"MB", 1000ULL * 1000},
    {"GB", 1000ULL * 1000 * 1000},
    {"B", 1},
}};
constexpr std::array<Unit, 4> duration_units{{
    {"ms", 1},
    {"min", 60'000},
    {"s", 1'000},
    {"h", 3'600'000},
}};

// Splits "64KiB" into 64 and "KiB". Returns nullopt when the text does not start with digits or
// the number does not fit.
std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view s) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end == s.data()) {
    return std::nullopt;
  }
  return std::pair{n, trim_ows(std::string_view(end, static_cast<std::size_t>(s.data() + s.size() - end)))};
}

template <std::size_t N>
std::string format_with_units(std::uint64_t v, const std::array<Unit, N>& units, std::string_view base) {
  if (v == 0) {
    return "0";
  }
  // The largest unit that divides the value exactly.
  const Unit* best = nullptr;
  for (const auto& u : units) {
    if (u.factor > 1 && v % u.factor == 0 && (best == nullptr || u.factor > best->factor)) {
      best = &u;
    }
  }
  if (best == nullptr) {
    return std::to_string(v) + std::string(base);
  }
  return std::to_string(v / best->factor) + std::string(best->name);
}

std::string format_size(std::uint64_t v) {
  if (v == 0) {
    return "0";
  }
  for (const std::uint64_t f : {1024ULL * 1024 * 1024, 1024ULL * 1024, 1024ULL}) {
    if (v % f == 0) {
      return std::to_string(v / f) + (f == 1024 ? "KiB" : f == 1024 * 1024 ? "MiB" : "GiB");
    }
  }
  return std::to_string(v) + "B";
}

[[noreturn]] void fail(std::string_view name, std::string_view text, std::string_view why, const std::string& range) {
  throw std::invalid_argument(std::string(name) + ": \"" + std::string(text) + "\" " + std::string(why) +
                              "; accepted: " + range);
}

}  // namespace

std::string format_setting(SettingKind kind, std::span<const std::string_view> choices, std::uint64_t value) {
  switch (kind) {
    case SettingKind::size:
      return format_size(value);
    case SettingKind::duration:
      return format_with_units(value, duration_units, "ms");
    case SettingKind::count:
      return std::to_string(value);
    case SettingKind::choice:
      return value < choices.size() ? std::string(choices[value]) : std::to_string(value);
  }
  return std::to_string(value);
}

std::string describe_range(SettingKind kind, std::uint64_t min, std::uint64_t max,
                           std::span<const std::string_view> choices, std::string_view zero_word) {
  const bool zero_special = !zero_word.empty();
  if (kind == SettingKind::choice) {
    std::string out;
    for (auto c : choices) {
      if (!out.empty()) {
        out += " | ";
      }
      out += c;
    }
    return out;
  }
  const std::uint64_t low = zero_special && min == 0 ? 1 : min;
  std::string out;
  if (zero_special) {
    out = "0 (" + std::string(zero_word) + ") or ";
  }
  std::string lo = format_setting(kind, choices, low);
  if (kind == SettingKind::size && low == 1) {
    lo = "1B";
  }
  if (kind == SettingKind::duration && low == 1) {
    lo = "1ms";
  }
  out += lo + " to " + format_setting(kind, choices, max);
  return out;
}

std::uint64_t parse_setting(std::string_view name, SettingKind kind, std::uint64_t min, std::uint64_t max,
                            std::span<const std::string_view> choices, std::string_view zero_word,
                            std::string_view text) {
  const std::string range = describe_range(kind, min, max, choices, zero_word);
  const bool zero_special = !zero_word.empty();
  const std::string_view t = trim_ows(text);
  if (kind == SettingKind::choice) {
    for (std::size_t i = 0; i < choices.size(); ++i) {
      if (iequals(t, choices[i])) {
        return i;
      }
    }
    fail(name, text, "is not one of the choices", range);
  }
  if (t.empty()) {
    fail(name, text, "is empty", range);
  }
  std::uint64_t value = 0;
  if (zero_special && (iequals(t, zero_word) || (zero_word == "off" && iequals(t, "none")))) {
    value = 0;
  } else {
    const auto split = split_number(t);
    if (!split) {
      if (!t.empty() && t.front() == '-') {
        fail(name, text, "is negative", range);
      }
      fail(name, text,
           kind == SettingKind::size       ? "is not a size: give bytes (65536) or a number with a unit (64KiB, 16MiB, 1GB)"
           : kind == SettingKind::duration ? "is not a duration: give a number with a unit (500ms, 20s, 2min, 1h)"
                                           : "is not a whole number",
           range);
    }
    const auto [number, unit] = *split;
    std::uint64_t factor = 1;
    if (kind == SettingKind::size) {
      if (!unit.empty()) {
        factor = 0;
        for (const auto& u : size_units) {
          if (iequals(unit, u.name)) {
            factor = u.factor;
          }
        }
        if (factor == 0) {
          fail(name, text, "has an unknown unit: use B, KB, MB, GB (×1000) or KiB, MiB, GiB (×1024)", range);
        }
      }
    } else if (kind == SettingKind::duration) {
      if (unit.empty()) {
        if (number != 0) {
          fail(name, text, "needs a unit: ms, s, min or h (for example " + std::to_string(number) + "s)", range);
        }
      } else {
        factor = 0;
        for (const auto& u : duration_units) {
          if (unit == u.name) {
            factor = u.factor;
          }
        }
        if (factor == 0) {
          fail(name, text, "has an unknown unit: use ms, s, min or h", range);
        }
      }
    } else if (!unit.empty()) {
      fail(name, text, "is not a whole number", range);
    }
    if (number > std::numeric_limits<std::uint64_t>::max() / factor) {
      fail(name, text, "is too large", range);
    }
    value = number * factor;
  }
  if (value == 0 && zero_special) {
    return 0;
  }
  if (value < min || value > max) {
    fail(name, text, "is out of range", range);
  }
  return value;
}

std::optional<std::string> environment(const std::string& variable) {
  const char* v = std::getenv(variable.c_str());
  if (v == nullptr) {
    return std::nullopt;
  }
  return std::string(v);
}

}  // namespace detail
}  // namespace nexios
