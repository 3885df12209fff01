#pragma once
// What the examples share: the command line (nexios::parse_command_line: --host, --port,
// --threads, --limit NAME=VALUE, --log-level, --help), the channel layer named by
// NEXIOS_CHANNEL_LAYER (memory, the default, or redis://...: several servers, one ChannelBox),
// the "listening" line the tests wait for, the guard on names (names.hpp) and the pages with
// their security headers (page.hpp).

#include "common/names.hpp"
#include "common/page.hpp"

#include <nexios/command_line.hpp>
#include <nexios/nexios.hpp>
#include <nexios/redis.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace examples {

/// Parses the command line into `app` (limits, log level), takes the channel layer
/// NEXIOS_CHANNEL_LAYER names, and returns where to serve. Exits with 0 on --help and with 2 on a
/// bad option or layer, printing why.
inline nexios::RunOptions configure(nexios::App& app, int argc, char** argv) {
  const nexios::CommandLine cli = nexios::parse_command_line(argc, argv);
  app.configure(cli);
  try {
    if (auto layer = nexios::RedisLayer::from_environment()) {
      app.use_channel_layer(std::move(layer));
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << e.what() << "\n";
    std::exit(2);
  }
  return cli.run;
}

/// A guard refusing (400, before the handshake is accepted) a request whose named path or query
/// parameters are names (usernames, room ids) that are longer than their limit in bytes, not valid
/// UTF-8, or hold characters a name may not (see names.hpp): what a client puts in them ends up in
/// rooms, histories and other clients' screens, so every example bounds it. The body says why.
inline nexios::Guard valid_names(std::vector<std::pair<std::string, std::size_t>> limits) {
  return [limits = std::move(limits)](nexios::GuardContext& ctx) -> nexios::Task<nexios::GuardResult> {
    for (const auto& [name, max] : limits) {
      std::optional<std::string_view> value = ctx.path_params().get(name);
      if (!value) {
        value = ctx.query_params().get(name);
      }
      if (!value) {
        continue;
      }
      if (value->size() > max) {
        co_return nexios::reject(400, name + " is longer than " + std::to_string(max) + " bytes");
      }
      if (std::optional<std::string> why = name_problem(name, *value)) {
        co_return nexios::reject(400, std::move(*why));
      }
    }
    co_return nexios::allow();
  };
}

/// Prints the line tests wait for: "nexios <name> listening on http://HOST:PORT <extra>".
inline void announce(std::string_view name, const nexios::App& app, const nexios::RunOptions& o,
                     std::string_view extra = {}) {
  std::printf("nexios %.*s listening on http://%s:%u%s%.*s\n", static_cast<int>(name.size()), name.data(),
              o.host.c_str(), static_cast<unsigned>(app.port()), extra.empty() ? "" : " ",
              static_cast<int>(extra.size()), extra.data());
  std::fflush(stdout);
}

/// Serves `app` until SIGINT/SIGTERM, announcing the port once it listens (`path` names the
/// WebSocket endpoint to show). Returns the process exit status: 0, 2 for an invalid setting
/// (e.g. in the environment), 1 for any other failure to start.
inline int serve(nexios::App& app, const nexios::RunOptions& o, std::string_view name, std::string_view path = {}) {
  try {
    app.on_startup([&app, &o, name, path]() -> nexios::Task<> {
      // Tests read this line to learn the port when started with --port 0.
      std::string extra;
      if (!path.empty()) {
        extra = "(WebSocket: ws://" + o.host + ":" + std::to_string(app.port()) + std::string(path) + ")";
      }
      announce(name, app, o, extra);
      co_return;
    });
    app.run(o);
  } catch (const std::invalid_argument& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace examples
