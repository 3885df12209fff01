#pragma once
// Command-line options shared by the examples:
//   --host ADDRESS   --port PORT (0 picks a free port)   --threads N (0: one per core)
//   --limit NAME=VALUE   any field of nexios::Limits, e.g. --limit max_message_size=1048576,
//                        --limit header_timeout_ms=500, --limit slow_consumer_policy=drop_newest

#include <nexios/nexios.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace examples {

struct Options {
  nexios::RunOptions run;
  nexios::Limits limits;
};

inline void usage(const char* argv0) {
  std::cerr << "usage: " << argv0
            << " [--host ADDRESS] [--port PORT] [--threads N] [--limit NAME=VALUE]...\n"
               "limits: max_header_bytes max_headers max_body_size header_timeout_ms body_timeout_ms\n"
               "        keep_alive_timeout_ms max_message_size close_timeout_ms ping_interval_ms\n"
               "        idle_timeout_ms send_buffer_high_water max_send_queue\n"
               "        slow_consumer_policy=close|drop_newest max_connections drain_timeout_ms\n";
}

inline void set_limit(nexios::Limits& l, std::string_view name, const std::string& value) {
  auto number = [&] {
    std::size_t pos = 0;
    const unsigned long long n = std::stoull(value, &pos);
    if (pos != value.size() || value.front() == '-') {
      throw std::invalid_argument(value);
    }
    return n;
  };
  auto ms = [&] { return std::chrono::milliseconds(number()); };
  if (name == "max_header_bytes") {
    l.max_header_bytes = number();
  } else if (name == "max_headers") {
    l.max_headers = number();
  } else if (name == "max_body_size") {
    l.max_body_size = number();
  } else if (name == "header_timeout_ms") {
    l.header_timeout = ms();
  } else if (name == "body_timeout_ms") {
    l.body_timeout = ms();
  } else if (name == "keep_alive_timeout_ms") {
    l.keep_alive_timeout = ms();
  } else if (name == "max_message_size") {
    l.max_message_size = number();
  } else if (name == "close_timeout_ms") {
    l.close_timeout = ms();
  } else if (name == "ping_interval_ms") {
    l.ping_interval = ms();
  } else if (name == "idle_timeout_ms") {
    l.idle_timeout = ms();
  } else if (name == "send_buffer_high_water") {
    l.send_buffer_high_water = number();
  } else if (name == "max_send_queue") {
    l.max_send_queue = number();
  } else if (name == "slow_consumer_policy") {
    if (value == "close") {
      l.slow_consumer_policy = nexios::Limits::SlowConsumerPolicy::close;
    } else if (value == "drop_newest") {
      l.slow_consumer_policy = nexios::Limits::SlowConsumerPolicy::drop_newest;
    } else {
      throw std::invalid_argument(value);
    }
  } else if (name == "max_connections") {
    l.max_connections = number();
  } else if (name == "drain_timeout_ms") {
    l.drain_timeout = ms();
  } else {
    throw std::invalid_argument("unknown limit '" + std::string(name) + "'");
  }
}

/// Parses the command line; on a bad argument prints usage and exits with status 2.
inline Options parse_options(int argc, char** argv, nexios::Limits defaults = {}, std::uint16_t default_port = 8000) {
  Options o;
  o.limits = defaults;
  o.run.host = "127.0.0.1";
  o.run.port = default_port;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(argv[0]);
      std::exit(0);
    }
    if ((arg == "--host" || arg == "--port" || arg == "--threads" || arg == "--limit") && i + 1 < argc) {
      const std::string value = argv[++i];
      try {
        if (arg == "--host") {
          o.run.host = value;
        } else if (arg == "--port") {
          const unsigned long port = std::stoul(value);
          if (port > 65535) {
            throw std::out_of_range("port");
          }
          o.run.port = static_cast<std::uint16_t>(port);
        } else if (arg == "--threads") {
          o.run.threads = std::stoul(value);
        } else {
          const auto eq = value.find('=');
          if (eq == std::string::npos) {
            throw std::invalid_argument("expected NAME=VALUE");
          }
          set_limit(o.limits, std::string_view(value).substr(0, eq), value.substr(eq + 1));
        }
      } catch (const std::exception& e) {
        std::cerr << "invalid value for " << arg << ": " << value << " (" << e.what() << ")\n";
        usage(argv[0]);
        std::exit(2);
      }
      continue;
    }
    std::cerr << "unknown argument: " << arg << "\n";
    usage(argv[0]);
    std::exit(2);
  }
  return o;
}

/// Prints the line tests wait for: "nexios <name> listening on http://HOST:PORT <extra>".
inline void announce(std::string_view name, const nexios::App& app, const Options& o, std::string_view extra = {}) {
  std::printf("nexios %.*s listening on http://%s:%u%s%.*s\n", static_cast<int>(name.size()), name.data(),
              o.run.host.c_str(), static_cast<unsigned>(app.port()), extra.empty() ? "" : " ",
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
/// WebSocket endpoint to show). Returns the process exit status.
inline int serve(nexios::App& app, const Options& o, std::string_view name, std::string_view path = {}) {
  try {
    app.on_startup([&app, &o, name, path]() -> nexios::Task<> {
      // Tests read this line to learn the port when started with --port 0.
      std::string extra;
      if (!path.empty()) {
        extra = "(WebSocket: ws://" + o.run.host + ":" + std::to_string(app.port()) + std::string(path) + ")";
      }
      announce(name, app, o, extra);
      co_return;
    });
    app.run(o.run);
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace examples
