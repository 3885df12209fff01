#include <nexios/app.hpp>

#include <nexios/channels.hpp>
#include <nexios/command_line.hpp>

#include "app/channels_internal.hpp"
#include "app/cors_policy.hpp"
#include "app/exception_info.hpp"
#include "app/gate.hpp"
#include "app/metrics.hpp"
#include "app/websocket_impl.hpp"
#include "transport/server.hpp"
#include "transport/stats.hpp"

#include <nexios/detail/ascii.hpp>
#include <nexios/http/origin.hpp>
#include <nexios/log.hpp>
#include <nexios/ws/handshake.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace nexios {

namespace {

using detail::describe;
using detail::exception_type;

struct WsRoute {
  std::string path;  // the pattern as registered (full path), for guards and logs
  routing::PathPattern pattern;
  WebSocketHandler handler;
  Guards guards;  // the app's, the routers', the route's
};

struct HttpRoute {
  std::string method;
  std::string path;
  routing::PathPattern pattern;
  HttpHandler handler;
  Guards guards;  // the route's own (the app's run first)
};

}  // namespace

struct App::Impl final : transport::Dispatcher {
  explicit Impl(App& a) : app(a) {}

  App& app;
  WSRouter root;                        // app-level WebSocket routes and mounts, in order
  std::vector<HttpRoute> http_routes;
  std::vector<LifecycleHook> startup;
  std::vector<LifecycleHook> shutdown;
  Guards app_guards;
  std::optional<http::OriginAllowList> origins;  // none: same origin only
  std::optional<detail::CorsPolicy> cors;

  // --limit NAME=VALUE from the command line, applied at start over the environment.
  std::vector<std::pair<std::string, std::string>> cli_limits;

  // Frozen at start.
  std::vector<WsRoute> ws_routes;
  std::unique_ptr<transport::Server> server;
  std::atomic<bool> started{false};
  // use_channel_layer: started with the app on ChannelBox, stopped once after the drain.
  std::shared_ptr<ChannelLayer> layer;
  std::atomic<bool> layer_running{false};

  void stop_layer() noexcept {
    if (layer_running.exchange(false)) {
      ChannelRegistry::global().stop_layer();
    }
  }

  void require_not_started(const char* what) const {
    if (started) {
      throw std::logic_error(std::string("nexios: ") + what + " after the app has started");
    }
  }

  /// The settings in force: code, then the environment, then the command line; each checked.
  /// Throws std::invalid_argument naming what is wrong. Nothing is changed unless all are valid.
  void apply_settings() {
    Limits effective = app.limits;
    effective.apply_environment();
    ChannelRegistry& box = ChannelRegistry::global();
    ChannelLimits channels = box.limits();
    channels.apply_environment();
    for (const auto& [name, value] : cli_limits) {
      if (Limits::has(name)) {
        effective.set(name, value);
      } else {
        channels.set(name, value);
      }
    }
    effective.validate();
    channels.validate();
    std::optional<http::OriginAllowList> allowed = origins;
    if (auto v = std::getenv("NEXIOS_ALLOWED_ORIGINS"); v != nullptr) {
      try {
        allowed = http::OriginAllowList(detail::split_list(v));
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("environment variable NEXIOS_ALLOWED_ORIGINS: ") + e.what());
      }
    }
    app.limits = effective;
    box.set_limits(channels);
    origins = std::move(allowed);
  }

  void freeze() {
    std::vector<WebsocketRoutes> flat;
    root.collect({}, flat, 0, app_guards);
    ws_routes.clear();
    for (auto& r : flat) {
      ws_routes.push_back(WsRoute{r.path(), routing::PathPattern(r.path()), r.handler(), r.guards()});
    }
  }

  const WsRoute* match_ws(std::string_view path, routing::PathParams& params) const {
    for (const auto& r : ws_routes) {
      if (r.pattern.match(path, params)) {
        return &r;
      }
    }
    return nullptr;
  }

  // ---- transport::Dispatcher ------------------------------------------------------------------

  Task<bool> handle(transport::Connection& conn, http::Response& res) override {
    const http::Request& req = conn.request();
    if (req.method() == "GET" && ws::is_websocket_upgrade(req.headers())) {
      routing::PathParams params;
      if (const WsRoute* route = match_ws(req.path(), params)) {
        co_return co_await handle_upgrade(conn, *route, std::move(params), res);
      }
      // Not a WebSocket route: an HTTP route may still answer (the Upgrade header is ignored).
    }
    co_return co_await handle_http(conn, res);
  }

  /// A WebSocket handshake to `route`: validated, the origin checked, the guards run; then the
  /// session is spawned (true) or the handshake refused with `res` (false).
  Task<bool> handle_upgrade(transport::Connection& conn, const WsRoute& route, routing::PathParams params,
                            http::Response& res) {
    const http::Request& req = conn.request();
    conn.set_route(route.path);
    if (auto ec = ws::validate_upgrade(req.method(), req.version_minor(), req.headers(), req.has_body())) {
      conn.note_handshake_rejected(transport::stats::Reject::bad_request);
      handshake_error(static_cast<ws::handshake_errc>(ec.value()), res);
      conn.close_after_response();
      co_return false;
    }
    if (!detail::origin_allowed(req, origins)) {
      // The access record of the refusal names the reason and the Origin; no log line of its own.
      conn.note_handshake_rejected(transport::stats::Reject::origin);
      res.status(403).text("Forbidden: this origin may not open WebSockets here");
      conn.close_after_response();
      co_return false;
    }
    const auto& ep = conn.remote_endpoint();
    const Address client{ep.address().to_string(), ep.port()};
    Attachments attachments;
    GuardContext ctx(req, params, client, route.path, true, app.state, attachments);
    GuardResult verdict = co_await detail::run_guards(route.guards, ctx);
    if (!verdict.allowed()) {
      conn.note_handshake_rejected(transport::stats::Reject::guard);
      detail::apply_rejection(std::move(verdict), res);
      conn.close_after_response();
      co_return false;
    }
    // The session runs as its own task: the HTTP session's frames are not kept for the
    // WebSocket's lifetime.
    boost::asio::co_spawn(conn.executor(),
                          run_websocket(conn.shared_from_this(), &route, std::move(params), std::move(attachments)),
                          [](std::exception_ptr e) {
                            if (e) {
                              log(LogLevel::error, "websocket", "websocket session failed",
                                  {{"exception_type", exception_type(e)}, {"exception", describe(e)}});
                            }
                          });
    co_return true;
  }

  /// An HTTP request: the route, its guards, its handler; CORS headers on the answer.
  Task<bool> handle_http(transport::Connection& conn, http::Response& res) {
    const http::Request& req = conn.request();
    const auto& ep = conn.remote_endpoint();
    const Address client{ep.address().to_string(), ep.port()};
    routing::PathParams params;
    const bool head = req.method() == "HEAD";
    const HttpRoute* found = nullptr;
    std::string allow;
    for (const auto& r : http_routes) {
      routing::PathParams p;
      if (!r.pattern.match(req.path(), p)) {
        continue;
      }
      if (r.method == req.method() || (head && r.method == "GET")) {
        found = &r;
        params = std::move(p);
        break;
      }
      add_allowed(allow, r.method);
      if (r.method == "GET") {
        add_allowed(allow, "HEAD");
      }
    }
    if (found == nullptr) {
      unmatched(conn, req, allow, res);
      co_return false;
    }
    conn.set_route(found->path);

    Attachments attachments;
    {
      GuardContext ctx(req, params, client, found->path, false, app.state, attachments);
      GuardResult verdict = co_await detail::run_guards(app_guards, ctx);
      if (verdict.allowed()) {
        verdict = co_await detail::run_guards(found->guards, ctx);
      }
      if (!verdict.allowed()) {
        detail::apply_rejection(std::move(verdict), res);
        decorate_cors(req, res);
        co_return false;
      }
    }

    Request request(req, std::move(params), client, app.state, std::move(attachments));
    std::exception_ptr error;
    try {
      co_await found->handler(request, res);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      res = http::Response();
      try {
        std::rethrow_exception(error);
      } catch (const BadRequest& e) {
        res.status(400).text(e.what());
      } catch (...) {
        conn.log_event(LogLevel::error, "http", "unhandled exception in HTTP handler",
                       {{"exception_type", exception_type(error)},
                        {"exception", describe(error)},
                        {"method", req.method()},
                        {"path", req.path()},
                        {"route", found->pattern.pattern()},
                        {"status", 500}});
        res.status(500).text("Internal Server Error");
      }
    }
    decorate_cors(req, res);
    co_return false;
  }

  /// A request no HTTP route takes: OPTIONS (CORS preflight, or the methods of the path), a plain
  /// GET to a WebSocket endpoint (426), a wrong method (405), nothing (404).
  void unmatched(transport::Connection& conn, const http::Request& req, std::string allow, http::Response& res) {
    if (req.method() == "GET" && ws::is_websocket_upgrade(req.headers())) {
      conn.note_handshake_rejected(transport::stats::Reject::not_found);
    }
    routing::PathParams p;
    const bool ws_path = match_ws(req.path(), p) != nullptr;
    if (ws_path) {
      add_allowed(allow, "GET");
    }
    if (req.method() == "OPTIONS" && !allow.empty()) {
      if (cors && detail::CorsPolicy::is_preflight(req)) {
        cors->preflight(req, allow, res);
        return;
      }
      add_allowed(allow, "OPTIONS");
      res.status(204).header("Allow", allow);
      decorate_cors(req, res);
      return;
    }
    if (ws_path && req.method() == "GET" && allow == "GET") {
      // A plain GET to a WebSocket endpoint.
      res.status(426).text("This endpoint speaks WebSocket: send an Upgrade: websocket request.");
      res.header("Upgrade", "websocket").header("Connection", "Upgrade").header("Sec-WebSocket-Version", "13");
      return;
    }
    if (allow.empty()) {
      res.status(404).text("Not Found");
    } else {
      res.status(405).text("Method Not Allowed");
      res.header("Allow", allow);
    }
    decorate_cors(req, res);
  }

  void decorate_cors(const http::Request& req, http::Response& res) const {
    if (cors) {
      cors->decorate(req, res);
    }
  }

  static void add_allowed(std::string& allow, std::string_view method) {
    const bool present = detail::for_each_list_element(allow, [&](std::string_view m) { return m == method; });
    if (!present) {
      if (!allow.empty()) {
        allow += ", ";
      }
      allow += method;
    }
  }

  static void handshake_error(ws::handshake_errc e, http::Response& res) {
    const int status = ws::http_status_for(e);
    res.status(status).text(ws::make_error_code(e).message());
    if (e == ws::handshake_errc::bad_version) {
      res.header("Sec-WebSocket-Version", "13");
    } else if (e == ws::handshake_errc::not_get) {
      res.header("Allow", "GET");
    } else if (e == ws::handshake_errc::missing_upgrade) {
      res.header("Upgrade", "websocket").header("Connection", "Upgrade");
    }
  }

  Task<> run_websocket(std::shared_ptr<transport::Connection> conn_ptr, const WsRoute* route_ptr,
                       routing::PathParams params, Attachments attachments) {
    transport::Connection& conn = *conn_ptr;
    const WsRoute& route = *route_ptr;
    auto impl = std::make_shared<detail::WebSocketImpl>(conn_ptr, std::move(params), app.state, std::move(attachments));
    std::exception_ptr error;
    try {
      co_await route.handler(WebSocket(impl));
    } catch (...) {
      error = std::current_exception();
    }
    auto& s = *impl;
    if (error) {
      // Classify first: co_await is not allowed inside a catch block.
      enum class Kind { close_with, disconnect, internal } kind = Kind::internal;
      std::uint16_t code = ws::close_code::internal_error;
      std::string reason;
      try {
        std::rethrow_exception(error);
      } catch (const WebSocketException& e) {
        kind = Kind::close_with;
        code = e.code;
        reason = e.reason;
      } catch (const WebSocketDisconnect& e) {
        kind = Kind::disconnect;
        code = e.code;
      } catch (...) {
        kind = Kind::internal;
      }
      switch (kind) {
        case Kind::close_with:
          // The handler asked for exactly this close (or, before accept, a rejection).
          if (s.app_state == WebSocketState::CONNECTING) {
            http::Response res;
            res.status(403).text(reason.empty() ? std::string("Forbidden") : reason);
            s.app_state = WebSocketState::DISCONNECTED;
            co_await conn.ws_reject(std::move(res));
          } else if (s.app_state == WebSocketState::CONNECTED) {
            s.app_state = WebSocketState::DISCONNECTED;
            conn.ws_close(code, reason);
          }
          error = nullptr;
          break;
        case Kind::disconnect:
          // The peer is gone; nothing more to send.
          conn.log_event(LogLevel::debug, "websocket", "handler ended by a disconnect", {{"close_code", code}});
          if (s.app_state == WebSocketState::CONNECTED) {
            s.app_state = WebSocketState::DISCONNECTED;
          }
          error = nullptr;
          break;
        case Kind::internal: {
          // Closed with 1011 when accepted, answered 500 before accept (below), nothing after a close.
          const std::string type = exception_type(error);
          const std::string what = describe(error);
          const std::string_view path = conn.request().path();
          if (s.app_state == WebSocketState::CONNECTED) {
            conn.log_event(LogLevel::error, "websocket", "unhandled exception in WebSocket handler: closing with 1011",
                           {{"exception_type", type}, {"exception", what}, {"route", route.pattern.pattern()},
                            {"path", path}, {"close_code", ws::close_code::internal_error}});
          } else if (s.app_state == WebSocketState::CONNECTING) {
            conn.log_event(LogLevel::error, "websocket", "unhandled exception in WebSocket handler: answering 500",
                           {{"exception_type", type}, {"exception", what}, {"route", route.pattern.pattern()},
                            {"path", path}, {"status", 500}});
          } else {
            conn.log_event(LogLevel::error, "websocket", "unhandled exception in WebSocket handler after its close",
                           {{"exception_type", type}, {"exception", what}, {"route", route.pattern.pattern()},
                            {"path", path}});
          }
          if (s.app_state == WebSocketState::CONNECTED) {
            s.app_state = WebSocketState::DISCONNECTED;
            conn.ws_close(ws::close_code::internal_error, "Internal Server Error");
          }
          break;
        }
      }
    }
    if (s.app_state == WebSocketState::CONNECTING) {
      // The handler returned (or failed) without accepting: refuse the handshake.
      s.app_state = WebSocketState::DISCONNECTED;
      http::Response res;
      if (error) {
        res.status(500).text("Internal Server Error");
      } else {
        res.status(403).text("Forbidden");
      }
      co_await conn.ws_reject(std::move(res));
    } else if (s.app_state == WebSocketState::CONNECTED) {
      s.app_state = WebSocketState::DISCONNECTED;
      conn.ws_close(ws::close_code::normal, {});
    }
    co_await conn.ws_wait_closed();
  }

  Task<> run_hooks(const std::vector<LifecycleHook>& hooks, const char* what) {
    for (const auto& hook : hooks) {
      std::exception_ptr error;
      try {
        co_await hook();
      } catch (...) {
        error = std::current_exception();
      }
      if (error) {
        throw std::runtime_error(std::string("nexios: ") + what + " hook failed: " + describe(error));
      }
    }
  }
};

App::App() : impl_(std::make_unique<Impl>(*this)) {}

App::~App() {
  if (impl_->server) {
    impl_->server->stop(nullptr);
    impl_->server->wait();
  }
  impl_->stop_layer();
}

App& App::ws_route(std::string path, WebSocketHandler handler, Guards guards) {
  return add_ws_route(WebsocketRoutes(std::move(path), std::move(handler), std::move(guards)));
}

App& App::add_ws_route(WebsocketRoutes route) {
  impl_->require_not_started("add_ws_route");
  impl_->root.add_ws_route(std::move(route));
  return *this;
}

App& App::mount_ws_router(const WSRouter& router, std::optional<std::string> path) {
  impl_->require_not_started("mount_ws_router");
  impl_->root.mount_router(router, std::move(path));
  return *this;
}

App& App::route(std::string method, std::string path, HttpHandler handler, Guards guards) {
  impl_->require_not_started("route");
  if (!detail::is_token(method)) {
    throw std::invalid_argument("HTTP method must be a token: '" + method + "'");
  }
  if (path.empty() || path.front() != '/') {
    throw std::invalid_argument("HTTP route path must start with '/': '" + path + "'");
  }
  if (!handler) {
    throw std::invalid_argument("HTTP route '" + path + "' has no handler");
  }
  for (const auto& g : guards) {
    if (!g) {
      throw std::invalid_argument("HTTP route '" + path + "' has an empty guard");
    }
  }
  routing::PathPattern pattern(path);
  impl_->http_routes.push_back(
      HttpRoute{std::move(method), std::move(path), std::move(pattern), std::move(handler), std::move(guards)});
  return *this;
}

App& App::guard(Guard g) {
  impl_->require_not_started("guard");
  if (!g) {
    throw std::invalid_argument("App::guard: empty guard");
  }
  impl_->app_guards.push_back(std::move(g));
  return *this;
}

App& App::allow_origins(std::vector<std::string> patterns) {
  impl_->require_not_started("allow_origins");
  impl_->origins = http::OriginAllowList(patterns);
  return *this;
}

App& App::cors(CorsOptions options) {
  impl_->require_not_started("cors");
  impl_->cors.emplace(std::move(options));
  return *this;
}

App& App::configure(const CommandLine& cli) {
  impl_->require_not_started("configure");
  for (const auto& [name, value] : cli.limits) {
    if (!Limits::has(name) && !ChannelLimits::has(name)) {
      throw std::invalid_argument("configure: unknown limit '" + name + "'");
    }
    impl_->cli_limits.emplace_back(name, value);
  }
  if (cli.log_level) {
    set_log_level(*cli.log_level);
  }
  return *this;
}

App& App::on_startup(LifecycleHook hook) {
  impl_->require_not_started("on_startup");
  impl_->startup.push_back(std::move(hook));
  return *this;
}

App& App::on_shutdown(LifecycleHook hook) {
  impl_->require_not_started("on_shutdown");
  impl_->shutdown.push_back(std::move(hook));
  return *this;
}

std::uint16_t App::start(RunOptions options) {
  if (impl_->started.exchange(true)) {
    throw std::logic_error("nexios: the app was already started");
  }
  try {
    impl_->apply_settings();
    if (auto error = detail::check_log_environment()) {
      throw std::invalid_argument("nexios: " + *error);
    }
    impl_->freeze();
    impl_->server = std::make_unique<transport::Server>(*impl_, limits);
    transport::ServerOptions so;
    so.host = options.host;
    so.port = options.port;
    so.threads = options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    if (impl_->layer) {
      // Before the first connection: ChannelBox is the cluster's from the start.
      ChannelRegistry::global().start_layer(impl_->layer);
      impl_->layer_running = true;
    }
    Impl* impl = impl_.get();
    return impl_->server->start(so, [impl]() -> Task<> { co_await impl->run_hooks(impl->startup, "startup"); });
  } catch (...) {
    impl_->stop_layer();
    impl_->server.reset();
    impl_->started = false;
    throw;
  }
}

void App::stop() noexcept {
  if (!impl_->server) {
    return;
  }
  // ChannelBox's close_all_connections for this app's channels (the transport then closes every
  // other WebSocket the same way). Nothing here may stop the shutdown: a failure is logged.
  try {
    detail::close_channels_of(impl_->server.get(), ws::close_code::going_away, "server shutting down");
  } catch (const std::exception& e) {
    log(LogLevel::error, std::string("shutdown: closing the channels failed: ") + e.what());
  }
  Impl* impl = impl_.get();
  try {
    impl_->server->stop([impl]() -> Task<> { co_await impl->run_hooks(impl->shutdown, "shutdown"); });
  } catch (const std::exception& e) {
    log(LogLevel::error, std::string("shutdown: ") + e.what());
  }
}

void App::wait() {
  if (impl_->server) {
    impl_->server->wait();
    impl_->stop_layer();
    flush_log();
  }
}

App& App::use_channel_layer(std::shared_ptr<ChannelLayer> layer) {
  impl_->require_not_started("use_channel_layer");
  if (!layer) {
    throw std::invalid_argument("use_channel_layer: no layer");
  }
  impl_->layer = std::move(layer);
  return *this;
}

void App::run(RunOptions options) {
  boost::asio::io_context signal_io(1);
  boost::asio::signal_set signals(signal_io, SIGINT, SIGTERM);
  start(options);
  // Ends the signal loop once the server has stopped, however it was stopped.
  std::thread waiter([this, &signal_io] {
    impl_->server->wait();
    boost::asio::post(signal_io, [&signal_io] { signal_io.stop(); });
  });
  signals.async_wait([this, &signals](const boost::system::error_code& ec, int sig) {
    if (ec) {
      return;
    }
    log(LogLevel::info, std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");
    signals.async_wait([](const boost::system::error_code& ec2, int) {
      if (!ec2) {
        log(LogLevel::warning, "second signal: exiting now");
        std::_Exit(1);
      }
    });
    stop();
  });
  signal_io.run();
  waiter.join();
  impl_->stop_layer();
  flush_log();
}

App& App::enable_metrics(std::string path) {
  Impl* impl = impl_.get();
  return get(std::move(path), [impl](Request&, Response& res) -> Task<> {
    res.bytes(detail::render_prometheus(impl->server.get()), detail::prometheus_content_type);
    co_return;
  });
}

std::uint16_t App::port() const noexcept { return impl_->server ? impl_->server->port() : 0; }

std::size_t App::connection_count() const noexcept {
  return impl_->server ? impl_->server->connection_count() : 0;
}

App& get_application() {
  static App app;
  return app;
}

}  // namespace nexios
