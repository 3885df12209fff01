#pragma once
/// @file
/// Settings by name: how `Limits` and `ChannelLimits` fields are set from text (the command line,
/// the environment, a configuration file of the application's own), with units and ranges.
///
/// @code
/// app.limits.set("max_message_size", "1MiB");   // sizes: 65536, 64KiB, 16MiB, 1GB, ...
/// app.limits.set("ping_interval", "20s");       // durations: 500ms, 20s, 2min, 1h; 0 or off
/// app.limits.set("slow_consumer_policy", "drop_newest");
/// for (const auto& s : nx::Limits::settings()) std::cout << s.name << " = " << s.default_value << "\n";
/// @endcode
///
/// Every error is a std::invalid_argument whose message names the setting, repeats the value and
/// says what is accepted, e.g. `max_message_size: "5XB" is not a size: give bytes (65536) or a
/// number with a unit (64KiB, 16MiB, 1GB); accepted: 1B to 1GiB`.

#include <cstdint>
#include <string>
#include <string_view>

namespace nexios {

/// What a setting's value is, which decides how its text is read.
enum class SettingKind {
  size,      ///< bytes: `65536`, or with a unit: B, KB, MB, GB (×1000) or KiB, MiB, GiB (×1024)
  duration,  ///< a duration with a unit: ms, s, min, h (`500ms`, `20s`); `0` (or `off`) for zero
  count,     ///< a whole number, e.g. a count or a rate per second
  choice,    ///< one of a few names, e.g. `close` or `drop_newest`
};

/// A description of one setting, for help texts and documentation.
struct SettingInfo {
  std::string_view name;         ///< e.g. "max_message_size"
  SettingKind kind;
  std::string default_value;     ///< the built-in default, as text ("16MiB")
  std::string accepted;          ///< the accepted values ("1B to 1GiB", "close | drop_newest")
  std::string_view description;  ///< one line
};

/// The name of the environment variable that sets `setting`: NEXIOS_ followed by its name in
/// upper case (`max_message_size` → `NEXIOS_MAX_MESSAGE_SIZE`).
std::string environment_variable_for(std::string_view setting);

}  // namespace nexios
