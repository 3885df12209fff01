#include <nexios/app.hpp>

#include <nexios/channels.hpp>

#include "app/channels_internal.hpp"
#include "app/metrics.hpp"
#include "app/websocket_impl.hpp"
#include "transport/server.hpp"
#include "transport/stats.hpp"

#include <nexios/detail/ascii.hpp>
#include <nexios/log.hpp>
#include <nexios/ws/handshake.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/core/demangle.hpp>

#include <cxxabi.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace nexios {

namespace {

struct WsRoute {
  routing::PathPattern pattern;
  WebSocketHandler handler;
};

struct HttpRoute {
  std::string method;
  routing::PathPattern pattern;
  HttpHandler handler;
};

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

// The exception's dynamic type, demangled ("std::runtime_error", "my::DbError").
std::string exception_type(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return boost::core::demangle(typeid(ex).name());
  } catch (...) {
    if (const std::type_info* t = abi::__cxa_current_exception_type()) {
      return boost::core::demangle(t->name());
    }
    return "unknown";
  }
}

}  // namespace

struct App::Impl final : transport::Dispatcher {
  explicit Impl(App& a) : app(a) {}

  App& app;
  WSRouter root;                        // app-level WebSocket routes and mounts, in order
  std::vector<HttpRoute> http_routes;
  std::vector<LifecycleHook> startup;
  std::vector<LifecycleHook> shutdown;

  // Frozen at start.
  std::vector<WsRoute> ws_routes;
  std::unique_ptr<transport::Server> server;
  std::atomic<bool> started{false};

  void require_not_started(const char* what) const {
    if (started) {
      throw std::logic_error(std::string("nexios: ") + what + " after the app has started");
    }
  }

  void freeze() {
    std::vector<WebsocketRoutes> flat;
    root.collect({}, flat);
    ws_routes.clear();
    for (auto& r : flat) {
      ws_routes.push_back(WsRoute{routing::PathPattern(r.path()), r.handler()});
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
    routing::PathParams params;

    const bool upgrade = req.method() == "GET" && ws::is_websocket_upgrade(req.headers());
    if (upgrade) {
      if (const WsRoute* route = match_ws(req.path(), params)) {
        conn.set_route(route->pattern.pattern());
        if (auto ec = ws::validate_upgrade(req.method(), req.version_minor(), req.headers(), req.has_body())) {
          conn.note_handshake_rejected(transport::stats::Reject::bad_request);
          handshake_error(static_cast<ws::handshake_errc>(ec.value()), res);
          conn.close_after_response();
          co_return false;
        }
        // The session runs as its own task: the HTTP session's frames are not kept for the
        // WebSocket's lifetime.
        boost::asio::co_spawn(conn.executor(),
                              run_websocket(conn.shared_from_this(), route, std::move(params)),
                              [](std::exception_ptr e) {
                                if (e) {
                                  log(LogLevel::error, "websocket", "websocket session failed",
                                      {{"exception_type", exception_type(e)}, {"exception", describe(e)}});
                                }
                              });
        co_return true;
      }
      // Not a WebSocket route: an HTTP route may still answer (the Upgrade header is ignored).
    }

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
      if (upgrade) {
        conn.note_handshake_rejected(transport::stats::Reject::not_found);
      }
      routing::PathParams p;
      const bool ws_path = match_ws(req.path(), p) != nullptr;
      if (ws_path && req.method() == "GET" && allow.empty()) {
        // A plain GET to a WebSocket endpoint.
        res.status(426).text("This endpoint speaks WebSocket: send an Upgrade: websocket request.");
        res.header("Upgrade", "websocket").header("Connection", "Upgrade").header("Sec-WebSocket-Version", "13");
        co_return false;
      }
      if (ws_path) {
        add_allowed(allow, "GET");
      }
      if (allow.empty()) {
        res.status(404).text("Not Found");
      } else {
        res.status(405).text("Method Not Allowed");
        res.header("Allow", allow);
      }
      co_return false;
    }

    conn.set_route(found->pattern.pattern());
    const auto& ep = conn.remote_endpoint();
    Request request(req, std::move(params), Address{ep.address().to_string(), ep.port()}, app.state);
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
    co_return false;
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
                       routing::PathParams params) {
    transport::Connection& conn = *conn_ptr;
    const WsRoute& route = *route_ptr;
    auto impl = std::make_shared<detail::WebSocketImpl>(conn_ptr, std::move(params), app.state);
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
}

App& App::ws_route(std::string path, WebSocketHandler handler) {
  return add_ws_route(WebsocketRoutes(std::move(path), std::move(handler)));
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

App& App::route(std::string method, std::string path, HttpHandler handler) {
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
  impl_->http_routes.push_back(HttpRoute{std::move(method), routing::PathPattern(path), std::move(handler)});
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
    if (auto error = detail::check_log_environment()) {
      throw std::invalid_argument("nexios: " + *error);
    }
    impl_->freeze();
    impl_->server = std::make_unique<transport::Server>(*impl_, limits);
    transport::ServerOptions so;
    so.host = options.host;
    so.port = options.port;
    so.threads = options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    Impl* impl = impl_.get();
    return impl_->server->start(so, [impl]() -> Task<> { co_await impl->run_hooks(impl->startup, "startup"); });
  } catch (...) {
    impl_->server.reset();
    impl_->started = false;
    throw;
  }
}

void App::stop() {
  if (!impl_->server) {
    return;
  }
  // ChannelBox's close_all_connections for this app's channels (the transport then closes every
  // other WebSocket the same way).
  detail::close_channels_of(impl_->server.get(), ws::close_code::going_away, "server shutting down");
  Impl* impl = impl_.get();
  impl_->server->stop([impl]() -> Task<> { co_await impl->run_hooks(impl->shutdown, "shutdown"); });
}

void App::wait() {
  if (impl_->server) {
    impl_->server->wait();
    flush_log();
  }
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
