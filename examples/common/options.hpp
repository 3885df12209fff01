#pragma once
// What the examples share: the command line (nexios::parse_command_line: --host, --port,
// --threads, --limit NAME=VALUE, --log-level, --help), the "listening" line the tests wait for,
// and a handler for a fixed page.

#include <nexios/command_line.hpp>
#include <nexios/detail/utf8.hpp>
#include <nexios/nexios.hpp>

#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace examples {

/// Parses the command line into `app` (limits, log level) and returns where to serve. Exits with
/// 0 on --help and with 2 on a bad option, printing why.
inline nexios::RunOptions configure(nexios::App& app, int argc, char** argv) {
  const nexios::CommandLine cli = nexios::parse_command_line(argc, argv);
  app.configure(cli);
  return cli.run;
}

/// A guard refusing (400, before the handshake is accepted) a request whose named path or query
/// parameters are longer than their limit in bytes, or not valid UTF-8: what a client puts in
/// them ends up in rooms, histories and other clients' screens, so every example bounds it.
inline nexios::Guard bounded_params(std::vector<std::pair<std::string, std::size_t>> limits) {
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
      if (!nexios::detail::is_valid_utf8(*value)) {
        co_return nexios::reject(400, name + " is not valid UTF-8");
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

/// An HTTP handler answering with a fixed HTML page (`html` must outlive the app: a literal).
inline nexios::HttpHandler page(std::string_view html) {
  return [html](nexios::Request&, nexios::Response& res) -> nexios::Task<> {
    res.html(std::string(html));
    co_return;
  };
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
