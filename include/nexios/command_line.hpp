#pragma once
/// @file
/// `nexios::CommandLine`: the options every nexios program understands, parsed in one place.
///
/// @code
/// int main(int argc, char** argv) {
///   nx::App app;
///   app.limits.max_message_size = 64 * 1024;          // this program's own default
///   const nx::CommandLine cli = nx::parse_command_line(argc, argv);   // exits on --help or a bad option
///   app.configure(cli);
///   app.ws_route("/ws", handler);
///   app.run(cli.run);
/// }
/// @endcode
///
///     --host ADDRESS        address to listen on (default 127.0.0.1)
///     --port PORT           0 picks a free port (default 8000)
///     --threads N           event loop threads, 0 = one per core (default 0)
///     --limit NAME=VALUE    any setting of nx::Limits or nx::ChannelLimits, with units:
///                           --limit max_message_size=1MiB --limit ping_interval=20s
///     --log-level LEVEL     debug, info, warning, error or off
///     --help                the options and every limit with its default
///
/// Precedence, lowest first: the library's defaults, what the program sets in code, the
/// environment (`NEXIOS_<NAME>`), the command line. The environment and the command line are
/// applied when the app starts (`App::start`/`App::run`).

#include <nexios/app.hpp>
#include <nexios/log.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios {

/// A parsed command line.
struct CommandLine {
  /// --host, --port, --threads (on top of the defaults given to parse).
  RunOptions run;
  /// Every --limit NAME=VALUE, in the order given (each already checked against its setting).
  std::vector<std::pair<std::string, std::string>> limits;
  /// --log-level, when given.
  std::optional<LogLevel> log_level;
  /// --help was given.
  bool help = false;

  /// Parses `argv[1..argc)`. Throws std::invalid_argument with a message naming the option and
  /// what it accepts (an unknown option, a missing or bad value, an unknown or invalid limit).
  static CommandLine parse(int argc, const char* const* argv, RunOptions defaults = {});
  /// The help text: the options, then every limit with its default and accepted values.
  static std::string usage(std::string_view program);
};

/// Parses the command line like `CommandLine::parse`; on --help prints the usage to stdout and
/// exits with 0, on an error prints it and the usage to stderr and exits with 2.
CommandLine parse_command_line(int argc, const char* const* argv, RunOptions defaults = {});
inline CommandLine parse_command_line(int argc, char** argv, RunOptions defaults = {}) {
  return parse_command_line(argc, const_cast<const char* const*>(argv), std::move(defaults));
}

}  // namespace nexios
