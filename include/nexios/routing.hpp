#pragma once
/// @file
/// WebSocket routes and routers (Nexios' `WebsocketRoutes` and `WSRouter`).

#include <nexios/guard.hpp>
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
WebsocketRoutes make_consumer_route(std::string path, Guards guards = {});

/// One WebSocket route: a path pattern, its handler and its own guards (see guard.hpp). The
/// pattern is compiled here, so an unknown converter or a duplicated parameter name throws
/// std::invalid_argument at once.
///
/// @code
/// app.add_ws_route(nx::WebsocketRoutes("/notify", notify));
/// app.add_ws_route(nx::WebsocketRoutes("/admin", admin, {require_admin}));
/// @endcode
class WebsocketRoutes {
 public:
  WebsocketRoutes(std::string path, WebSocketHandler handler, Guards guards = {});

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] const WebSocketHandler& handler() const noexcept { return handler_; }
  /// The guards that run before this route accepts, in order (after flattening by
  /// WSRouter::collect: the enclosing routers' guards first).
  [[nodiscard]] const Guards& guards() const noexcept { return guards_; }

 private:
  std::string path_;
  WebSocketHandler handler_;
  Guards guards_;
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

  /// Adds a route (`path` relative to the prefix, starting with '/'), with guards of its own.
  WSRouter& add_ws_route(std::string path, WebSocketHandler handler, Guards guards = {});
  WSRouter& add_ws_route(WebsocketRoutes route);
  /// Same as add_ws_route(path, handler, guards).
  WSRouter& ws_route(std::string path, WebSocketHandler handler, Guards guards = {}) {
    return add_ws_route(std::move(path), std::move(handler), std::move(guards));
  }
  /// A class-based consumer route: a new Consumer per connection (see consumer.hpp).
  template <class Consumer>
  WSRouter& ws_route(std::string path, Guards guards = {}) {
    return add_ws_route(make_consumer_route<Consumer>(std::move(path), std::move(guards)));
  }
  /// Adds a guard that runs before every route of this router (mounted routers included), after
  /// the guards of the routers and app it is mounted in, before the routes' own.
  WSRouter& guard(Guard g);
  /// Mounts `router` under `path` (default: its own prefix). Prefixes nest: each level's prefix is
  /// matched on whole path segments and stripped once.
  WSRouter& mount_router(const WSRouter& router, std::optional<std::string> path = std::nullopt);

  [[nodiscard]] const std::string& prefix() const noexcept;

  /// Flattens the routes: each (full path, handler, guards) in registration order, mounts
  /// included; the guards of each route are `outer_guards`, then each router's from the outermost
  /// in, then the route's own.
  void collect(const std::string& base, std::vector<WebsocketRoutes>& out, int depth = 0,
               const Guards& outer_guards = {}) const;

 private:
  struct Data;
  std::shared_ptr<Data> data_;
};

/// Normalizes a mount prefix: must be empty or start with '/'; a trailing '/' is removed; "/"
/// becomes "". Throws std::invalid_argument otherwise.
std::string normalize_prefix(std::string_view prefix);

}  // namespace nexios
