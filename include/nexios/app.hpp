#pragma once
/// @file
/// `nexios::App`: routes, lifecycle hooks, shared state, limits, and the server that runs them.

#include <nexios/limits.hpp>
#include <nexios/request.hpp>
#include <nexios/routing.hpp>
#include <nexios/state.hpp>
#include <nexios/task.hpp>
#include <nexios/websocket.hpp>

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

  /// Server limits and timeouts (see limits.hpp).
  Limits limits;
  /// Shared application state, also reachable as `ws.state()` / `req.state()`.
  State state;

  // ---- WebSocket routes -----------------------------------------------------------------------
  App& ws_route(std::string path, WebSocketHandler handler);
  /// A class-based consumer route: a new Consumer per connection (see consumer.hpp).
  template <class Consumer>
  App& ws_route(std::string path) {
    return add_ws_route(make_consumer_route<Consumer>(std::move(path)));
  }
  /// Same as ws_route (the seeds' `@app.websocket`).
  App& websocket(std::string path, WebSocketHandler handler) { return ws_route(std::move(path), std::move(handler)); }
  App& add_ws_route(WebsocketRoutes route);
  /// Mounts a router under its prefix, or under `path` when given (which overrides the prefix).
  App& mount_ws_router(const WSRouter& router, std::optional<std::string> path = std::nullopt);

  // ---- HTTP routes ----------------------------------------------------------------------------
  /// An HTTP route for one method ("GET", "POST", ...). GET routes also answer HEAD.
  App& route(std::string method, std::string path, HttpHandler handler);
  App& get(std::string path, HttpHandler h) { return route("GET", std::move(path), std::move(h)); }
  App& post(std::string path, HttpHandler h) { return route("POST", std::move(path), std::move(h)); }
  App& put(std::string path, HttpHandler h) { return route("PUT", std::move(path), std::move(h)); }
  App& patch(std::string path, HttpHandler h) { return route("PATCH", std::move(path), std::move(h)); }
  /// `delete` is a C++ keyword, hence the underscore.
  App& delete_(std::string path, HttpHandler h) { return route("DELETE", std::move(path), std::move(h)); }

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

  // ---- serving --------------------------------------------------------------------------------
  /// Serves until SIGINT or SIGTERM (or `stop()`), then shuts down gracefully: stops accepting,
  /// closes WebSockets with 1001, lets in-flight HTTP requests finish (up to
  /// `limits.drain_timeout`), runs the shutdown hooks. A second signal exits at once.
  void run(RunOptions options = {});
  /// Starts serving in background threads and returns the bound port.
  std::uint16_t start(RunOptions options = {});
  /// Begins a graceful shutdown (thread-safe; returns at once).
  void stop();
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
