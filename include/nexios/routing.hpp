#pragma once
/// @file
/// WebSocket routes and routers (Nexios' `WebsocketRoutes` and `WSRouter`).

#include <nexios/request.hpp>
#include <nexios/routing/path.hpp>
#include <nexios/task.hpp>
#include <nexios/websocket.hpp>

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nexios {

/// A WebSocket handler: `[](nx::WebSocket ws) -> nx::Task<> { ... }`.
using WebSocketHandler = std::function<Task<>(WebSocket)>;
/// An HTTP handler: `[](nx::Request& req, nx::Response& res) -> nx::Task<> { ... }`.
using HttpHandler = std::function<Task<>(Request&, Response&)>;

class WebsocketRoutes;
/// A route serving the class-based consumer C (see consumer.hpp).
template <class C>
WebsocketRoutes make_consumer_route(std::string path);

/// One WebSocket route: a path pattern and its handler. The pattern is compiled here, so an
/// unknown converter or a duplicated parameter name throws std::invalid_argument at once.
///
/// @code
/// app.add_ws_route(nx::WebsocketRoutes("/notify", notify));
/// @endcode
class WebsocketRoutes {
 public:
  WebsocketRoutes(std::string path, WebSocketHandler handler);

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] const WebSocketHandler& handler() const noexcept { return handler_; }

 private:
  std::string path_;
  WebSocketHandler handler_;
};

/// A group of WebSocket routes under a prefix, mountable on the app or on another router.
///
/// Copies share the same routes (like the Python object), so routes added after mounting are
/// served too — until the app starts, when the route table is frozen.
///
/// @code
/// nx::WSRouter router{"/ws"};
/// router.add_ws_route("/chat/{room_id}", chat);          // serves /ws/chat/{room_id}
/// app.mount_ws_router(router);
/// app.mount_ws_router(router, "/v2");                    // the same routes under /v2
/// nx::WSRouter list({nx::WebsocketRoutes("/a", a), nx::WebsocketRoutes("/b", b)});
/// @endcode
class WSRouter {
 public:
  /// A router whose routes live under `prefix` ("" or "/" for none). The prefix must start with
  /// '/'; a trailing '/' is dropped. Throws std::invalid_argument otherwise.
  explicit WSRouter(std::string prefix = {});
  /// A router without prefix holding `routes`.
  WSRouter(std::initializer_list<WebsocketRoutes> routes);
  explicit WSRouter(std::vector<WebsocketRoutes> routes);
  WSRouter(std::string prefix, std::vector<WebsocketRoutes> routes);

  /// Adds a route (`path` relative to the prefix, starting with '/').
  WSRouter& add_ws_route(std::string path, WebSocketHandler handler);
  WSRouter& add_ws_route(WebsocketRoutes route);
  /// Same as add_ws_route(path, handler).
  WSRouter& ws_route(std::string path, WebSocketHandler handler) { return add_ws_route(std::move(path), std::move(handler)); }
  /// A class-based consumer route: a new Consumer per connection (see consumer.hpp).
  template <class Consumer>
  WSRouter& ws_route(std::string path) {
    return add_ws_route(make_consumer_route<Consumer>(std::move(path)));
  }
  /// Mounts `router` under `path` (default: its own prefix). Prefixes nest: each level's prefix is
  /// matched on whole path segments and stripped once.
  WSRouter& mount_router(const WSRouter& router, std::optional<std::string> path = std::nullopt);

  [[nodiscard]] const std::string& prefix() const noexcept;

  /// Flattens the routes: each (full path, handler) in registration order, mounts included.
  void collect(const std::string& base, std::vector<WebsocketRoutes>& out, int depth = 0) const;

 private:
  struct Data;
  std::shared_ptr<Data> data_;
};

/// Normalizes a mount prefix: must be empty or start with '/'; a trailing '/' is removed; "/"
/// becomes "". Throws std::invalid_argument otherwise.
std::string normalize_prefix(std::string_view prefix);

}  // namespace nexios
