#pragma once
/// @file
/// Minimal leveled logging to stderr. The level comes from the environment variable
/// NEXIOS_LOG_LEVEL (debug, info, warning, error, off; default info) or `set_log_level`.

#include <string_view>

namespace nexios {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3, off = 4 };

/// Sets the process-wide log level (thread-safe).
void set_log_level(LogLevel level) noexcept;
/// The current log level.
LogLevel log_level() noexcept;
/// Writes one line "nexios <LEVEL> <message>" to stderr if `level` is enabled (thread-safe).
void log(LogLevel level, std::string_view message) noexcept;

}  // namespace nexios
