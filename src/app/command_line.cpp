#include <nexios/command_line.hpp>

#include <nexios/channels.hpp>
#include <nexios/limits.hpp>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>

namespace nexios {

namespace {

template <class T>
T parse_number(std::string_view option, std::string_view text, T max, std::string_view what) {
  T n{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n > max) {
    throw std::invalid_argument(std::string(option) + ": \"" + std::string(text) + "\" is not " + std::string(what));
  }
  return n;
}

std::optional<LogLevel> parse_level(std::string_view s) {
  if (s == "debug") {
    return LogLevel::debug;
  }
  if (s == "info") {
    return LogLevel::info;
  }
  if (s == "warning") {
    return LogLevel::warning;
  }
  if (s == "error") {
    return LogLevel::error;
  }
  if (s == "off") {
    return LogLevel::off;
  }
  return std::nullopt;
}

// Checks NAME=VALUE against the setting it names (Limits or ChannelLimits).
std::pair<std::string, std::string> parse_limit(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw std::invalid_argument("--limit: expected NAME=VALUE, got \"" + std::string(text) + "\"");
  }
  std::string name(text.substr(0, eq));
  std::string value(text.substr(eq + 1));
  try {
    if (Limits::has(name)) {
      Limits probe;
      probe.set(name, value);
    } else if (ChannelLimits::has(name)) {
      ChannelLimits probe;
      probe.set(name, value);
    } else {
      throw std::invalid_argument("unknown limit '" + name + "' (--help lists them)");
    }
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("--limit ") + e.what());
  }
  return {std::move(name), std::move(value)};
}

void append_settings(std::string& out, const std::vector<SettingInfo>& settings) {
  for (const auto& s : settings) {
    std::string line = "  " + std::string(s.name);
    line.resize(std::max<std::size_t>(line.size() + 1, 34), ' ');
    line += s.default_value;
    line.resize(std::max<std::size_t>(line.size() + 1, 44), ' ');
    out += line + std::string(s.description) + " (" + s.accepted + ")\n";
  }
}

}  // namespace

CommandLine CommandLine::parse(int argc, const char* const* argv, RunOptions defaults) {
  CommandLine cli;
  cli.run = std::move(defaults);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      cli.help = true;
      continue;
    }
    // --name VALUE or --name=VALUE
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const bool known = name == "--host" || name == "--port" || name == "--threads" || name == "--limit" ||
                       name == "--log-level";
    if (!known) {
      throw std::invalid_argument("unknown option " + std::string(arg) + " (--help lists them)");
    }
    if (!value) {
      if (i + 1 >= argc) {
        throw std::invalid_argument(std::string(name) + " needs a value");
      }
      value = argv[++i];
    }
    if (name == "--host") {
      if (value->empty()) {
        throw std::invalid_argument("--host needs an address");
      }
      cli.run.host = std::string(*value);
    } else if (name == "--port") {
      cli.run.port = parse_number<std::uint16_t>(name, *value, 65535, "a port number (0 to 65535)");
    } else if (name == "--threads") {
      cli.run.threads = parse_number<std::size_t>(name, *value, 1024, "a number of threads (0 to 1024)");
    } else if (name == "--limit") {
      cli.limits.push_back(parse_limit(*value));
    } else {
      cli.log_level = parse_level(*value);
      if (!cli.log_level) {
        throw std::invalid_argument("--log-level: \"" + std::string(*value) +
                                    "\" is not a level; accepted: debug, info, warning, error, off");
      }
    }
  }
  return cli;
}

std::string CommandLine::usage(std::string_view program) {
  std::string out = "usage: " + std::string(program) +
                    " [--host ADDRESS] [--port PORT] [--threads N] [--limit NAME=VALUE]... [--log-level LEVEL]\n"
                    "\n"
                    "  --host ADDRESS        address to listen on\n"
                    "  --port PORT           port to listen on; 0 picks a free one\n"
                    "  --threads N           event loop threads; 0 = one per core\n"
                    "  --limit NAME=VALUE    set a limit (below), e.g. --limit max_message_size=1MiB\n"
                    "  --log-level LEVEL     debug, info, warning, error or off\n"
                    "\n"
                    "Limits (NAME, default, meaning; each can also be set as NEXIOS_<NAME> in the environment):\n";
  append_settings(out, Limits::settings());
  append_settings(out, ChannelLimits::settings());
  out += "\nSizes take B, KB, MB, GB (x1000) or KiB, MiB, GiB (x1024); durations take ms, s, min or h.\n";
  return out;
}

CommandLine parse_command_line(int argc, const char* const* argv, RunOptions defaults) {
  const std::string_view program = argc > 0 && argv[0] != nullptr ? argv[0] : "nexios";
  try {
    CommandLine cli = CommandLine::parse(argc, argv, std::move(defaults));
    if (cli.help) {
      std::cout << CommandLine::usage(program);
      std::cout.flush();
      std::exit(0);
    }
    return cli;
  } catch (const std::invalid_argument& e) {
    std::cerr << program << ": " << e.what() << "\n\n" << CommandLine::usage(program);
    std::cerr.flush();
    std::exit(2);
  }
}

}  // namespace nexios
