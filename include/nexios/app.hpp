#pragma once
/// @file
/// `nexios::App`: routes, lifecycle hooks, shared state, limits, and the server that runs them.

#include <nexios/channel_layer.hpp>
#include <nexios/cors.hpp>
#include <nexios/guard.hpp>
#include <nexios/limits.hpp>
#include <nexios/request.hpp>
#include <nexios/routing.hpp>
#include <nexios/state.hpp>
#include <nexios/task.hpp>
#include <nexios/websocket.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace nexios {

/// Where and how to serve.
struct RunOptions {
  std::string host = "127.0.0.1";
  /// 0 picks a free port; `App::port()` (and the return value of `start`) tells which.
  std::uint16_t port = 8000;
  /// Event loop threads; 0 means one per core.
  std::size_t threads = 0;
};

struct CommandLine;

/// A lifecycle hook: `[]() -> nx::Task<> { ... co_return; }`.
using LifecycleHook = std::function<Task<>()>;

/// The application: Nexios' `NexiosApp`.
///
/// @code
/// nx::App app;
/// app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
///   co_await ws.accept();
///   for (;;) co_await ws.send_text(co_await ws.receive_text());
/// });
/// app.get("/health", [](nx::Request&, nx::Response& res) -> nx::Task<> { res.text("ok"); co_return; });
/// app.run({.host = "127.0.0.1", .port = 8000});   // until SIGINT/SIGTERM
/// @endcode
///
/// Routes, hooks and limits are set up before `run()`/`start()`; registering afterwards throws
/// std::logic_error. The first registered route that matches wins.
class App {
 public:
  App();
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  /// Server limits and timeouts (see limits.hpp). When the app starts, the environment
  /// (`NEXIOS_<NAME>`) and then the command line (`configure`) are applied over them, and the result
  /// is checked; afterwards this holds the values in force.
  Limits limits;
  /// Shared application state, also reachable as `ws.state()` / `req.state()`.
  State state;

  // ---- WebSocket routes -----------------------------------------------------------------------
  /// A WebSocket route, with guards of its own that run before it accepts (after the app's).
  App& ws_route(std::string path, WebSocketHandler handler, Guards guards = {});
  /// A class-based consumer route: a new Consumer per connection (see consumer.hpp).
  template <class Consumer>
  App& ws_route(std::string path, Guards guards = {}) {
    return add_ws_route(make_consumer_route<Consumer>(std::move(path), std::move(guards)));
  }
  /// Same as ws_route (the seeds' `@app.websocket`).
  App& websocket(std::string path, WebSocketHandler handler, Guards guards = {}) {
    return ws_route(std::move(path), std::move(handler), std::move(guards));
  }
  App& add_ws_route(WebsocketRoutes route);
  /// Mounts a router under its prefix, or under `path` when given (which overrides the prefix).
  App& mount_ws_router(const WSRouter& router, std::optional<std::string> path = std::nullopt);

  // ---- HTTP routes ----------------------------------------------------------------------------
  /// An HTTP route for one method ("GET", "POST", ...), with guards of its own that run before
  /// the handler (after the app's). GET routes also answer HEAD.
  App& route(std::string method, std::string path, HttpHandler handler, Guards guards = {});
  App& get(std::string path, HttpHandler h, Guards g = {}) { return route("GET", std::move(path), std::move(h), std::move(g)); }
  App& post(std::string path, HttpHandler h, Guards g = {}) { return route("POST", std::move(path), std::move(h), std::move(g)); }
  App& put(std::string path, HttpHandler h, Guards g = {}) { return route("PUT", std::move(path), std::move(h), std::move(g)); }
  App& patch(std::string path, HttpHandler h, Guards g = {}) { return route("PATCH", std::move(path), std::move(h), std::move(g)); }
  /// `delete` is a C++ keyword, hence the underscore.
  App& delete_(std::string path, HttpHandler h, Guards g = {}) { return route("DELETE", std::move(path), std::move(h), std::move(g)); }

  // ---- the handshake as a gate (see guard.hpp, cors.hpp, docs/security.md) ----------------------
  /// A guard that runs before every route, WebSocket and HTTP, in registration order, before the
  /// guards of routers and routes.
  App& guard(Guard g);
  /// The origins whose pages may open WebSockets to this app (patterns as in cors.hpp:
  /// "https://app.example.com", "https://*.example.com", "*.example.com", "null"; "*" for any).
  /// By default a handshake that carries an `Origin` must come from the app's own host (the
  /// request's Host); one from another origin is refused with 403 before any guard runs —
  /// the defence against cross-site WebSocket hijacking. Clients that send no `Origin` (not
  /// browsers) are not affected. Also set by NEXIOS_ALLOWED_ORIGINS (comma-separated) when the app
  /// starts. Throws std::invalid_argument for a bad pattern.
  App& allow_origins(std::vector<std::string> patterns);
  /// Lets pages from any origin open WebSockets (only for endpoints that authenticate otherwise
  /// than by cookies).
  App& allow_any_origin() { return allow_origins({"*"}); }
  /// Enables CORS for the HTTP routes (see cors.hpp). Throws std::invalid_argument for a bad
  /// origin pattern, or credentials allowed together with any origin or any header.
  App& cors(CorsOptions options);

  // ---- observability --------------------------------------------------------------------------
  /// Serves the server's metrics at `path` (an HTTP GET route) in the Prometheus text format
  /// 0.0.4: connections, handshakes, HTTP requests, WebSocket messages and bytes, close codes,
  /// groups, fan-out latency, event-loop lag, ... (the list: docs/operations.md).
  App& enable_metrics(std::string path = "/metrics");

  // ---- lifecycle ------------------------------------------------------------------------------
  /// Runs before the first connection is accepted, in registration order, on the first event loop
  /// (so a hook may spawn background tasks there). If one throws, `run`/`start` throws
  /// std::runtime_error and the server does not start.
  App& on_startup(LifecycleHook hook);
  /// Runs after the connections have drained at shutdown, in registration order.
  App& on_shutdown(LifecycleHook hook);

  // ---- configuration --------------------------------------------------------------------------
  /// Takes the command line's settings (see command_line.hpp): its `--limit`s are applied when the
  /// app starts, over the environment, to `limits` and to ChannelBox's `ChannelLimits`; its
  /// `--log-level` at once. Pass `cli.run` to `run`/`start`.
  App& configure(const CommandLine& cli);

  // ---- several servers ------------------------------------------------------------------------
  /// Carries ChannelBox beyond this process: groups, history and send_to shared by every server
  /// that uses the same layer (see nexios/channel_layer.hpp and docs/scaling.md). Without one,
  /// ChannelBox lives in this process (the embedded default). The layer starts with the app (a
  /// layer that cannot start, e.g. a wrong Redis password, makes `start`/`run` throw
  /// std::runtime_error saying why) and stops after the connections have drained.
  ///
  /// @code
  /// app.use_channel_layer(nx::RedisLayer({.url = "redis://127.0.0.1:6379/0"}));
  /// @endcode
  App& use_channel_layer(std::shared_ptr<ChannelLayer> layer);
  template <class Layer>
    requires std::derived_from<Layer, ChannelLayer>
  App& use_channel_layer(Layer layer) {
    return use_channel_layer(std::make_shared<Layer>(std::move(layer)));
  }

  // ---- serving --------------------------------------------------------------------------------
  /// Serves until SIGINT or SIGTERM (or `stop()`), then shuts down gracefully: stops accepting,
  /// closes WebSockets with 1001, lets in-flight HTTP requests finish (up to
  /// `limits.drain_timeout`), runs the shutdown hooks. A second signal exits at once.
  void run(RunOptions options = {});
  /// Starts serving in background threads and returns the bound port. Throws
  /// std::invalid_argument when a setting is invalid (a field out of range, an environment
  /// variable such as NEXIOS_MAX_MESSAGE_SIZE or CHANNEL_BOX_HISTORY_SIZE that does not parse: the
  /// message names it and the accepted values), std::system_error when it cannot listen.
  std::uint16_t start(RunOptions options = {});
  /// Begins a graceful shutdown (thread-safe; returns at once; never throws).
  void stop() noexcept;
  /// Blocks until the server has stopped.
  void wait();
  /// The bound port (after start).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// Open connections across all threads.
  [[nodiscard]] std::size_t connection_count() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The process-wide application (the seeds' `get_application()`).
App& get_application();

}  // namespace nexios
