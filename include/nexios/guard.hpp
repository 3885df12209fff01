#pragma once
/// @file
/// Guards: coroutines that run before a WebSocket handshake is accepted (or an HTTP handler runs)
/// and either let the request through — attaching typed state to the connection, such as the
/// authenticated user — or reject it with any HTTP status, headers and body.
///
/// @code
/// struct User { std::string name; };
///
/// nx::Task<nx::GuardResult> require_token(nx::GuardContext& ctx) {
///   auto token = ctx.query_params().get("token");
///   if (!token) co_return nx::reject(401, "a token is required", {{"WWW-Authenticate", "Bearer"}});
///   auto user = co_await check_token(*token);          // may await I/O
///   if (!user) co_return nx::reject(403, "invalid token");
///   ctx.attach(User{*user});
///   co_return nx::allow();
/// }
///
/// app.guard(require_token);                              // every route of the app
/// router.guard(require_token);                           // every route of a WSRouter
/// app.ws_route("/ws/admin", admin, {require_admin});     // one route
/// ... in the handler: const User& u = ws.attached<User>();
/// @endcode
///
/// Order: the origin check (WebSocket only, see App::allow_origins), then the app's guards, then
/// each enclosing router's from the outermost in, then the route's own, each list in registration
/// order. The first rejection answers the request and no later guard runs. A guard that throws
/// rejects with 500 (logged); `nx::BadRequest` gives 400.

#include <nexios/http/headers.hpp>
#include <nexios/http/request.hpp>
#include <nexios/http/url.hpp>
#include <nexios/routing/path.hpp>
#include <nexios/state.hpp>
#include <nexios/task.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

namespace nexios {

struct Address;

/// Typed values attached to one connection or request, at most one per type.
class Attachments {
 public:
  /// Stores `value` (replacing a previous value of the same type); returns the stored value.
  template <class T>
  std::decay_t<T>& attach(T&& value) {
    using V = std::decay_t<T>;
    auto p = std::make_shared<V>(std::forward<T>(value));
    V& ref = *p;
    for (auto& [type, item] : items_) {
      if (type == std::type_index(typeid(V))) {
        item = std::move(p);
        return ref;
      }
    }
    items_.emplace_back(std::type_index(typeid(V)), std::move(p));
    return ref;
  }
  /// The value of type T, or nullptr.
  template <class T>
  [[nodiscard]] T* find() const noexcept {
    for (const auto& [type, item] : items_) {
      if (type == std::type_index(typeid(T))) {
        return static_cast<T*>(item.get());
      }
    }
    return nullptr;
  }
  /// The value of type T; throws std::logic_error if nothing of that type was attached.
  template <class T>
  [[nodiscard]] T& get() const {
    if (T* p = find<T>()) {
      return *p;
    }
    throw std::logic_error(std::string("nexios: nothing of type ") + typeid(T).name() +
                           " is attached to this connection (did a guard attach it?)");
  }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }

 private:
  std::vector<std::pair<std::type_index, std::shared_ptr<void>>> items_;
};

/// A guard's verdict: `nx::allow()` or `nx::reject(status, body, headers)`.
struct GuardResult {
  /// The rejection's status; 0 lets the request through.
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  [[nodiscard]] bool allowed() const noexcept { return status == 0; }
};

/// Lets the request through.
inline GuardResult allow() { return {}; }
/// Rejects the request with `status` (400–599), a plain-text `body` (default: the reason phrase)
/// and extra headers. Throws std::invalid_argument for a status outside 400–599.
GuardResult reject(int status, std::string body = {}, std::vector<std::pair<std::string, std::string>> headers = {});

/// What a guard sees of the request: a WebSocket handshake or an HTTP request, before it is
/// served. Valid while the guard runs.
class GuardContext {
 public:
  GuardContext(const http::Request& request, const routing::PathParams& params, const Address& client,
               std::string_view route, bool websocket, State& state, Attachments& attachments) noexcept
      : req_(request),
        params_(params),
        client_(client),
        route_(route),
        websocket_(websocket),
        state_(state),
        attachments_(attachments) {}

  [[nodiscard]] bool is_websocket() const noexcept { return websocket_; }
  [[nodiscard]] std::string_view method() const noexcept;
  /// The full, percent-decoded path.
  [[nodiscard]] std::string_view path() const noexcept;
  /// The pattern of the route that matched, e.g. "/ws/chat/{room_id}".
  [[nodiscard]] std::string_view route() const noexcept { return route_; }
  [[nodiscard]] const routing::PathParams& path_params() const noexcept { return params_; }
  [[nodiscard]] const http::QueryParams& query_params() const;
  [[nodiscard]] const http::Headers& headers() const noexcept;
  [[nodiscard]] const http::Cookies& cookies() const;
  [[nodiscard]] const Address& client() const noexcept { return client_; }
  /// The application's shared state.
  [[nodiscard]] State& state() const noexcept { return state_; }

  /// Attaches `value` to the connection (one per type); the handler reads it back with
  /// `ws.attached<T>()` (or `req.attached<T>()` for HTTP), as do later guards.
  template <class T>
  std::decay_t<T>& attach(T&& value) {
    return attachments_.attach(std::forward<T>(value));
  }
  /// What an earlier guard attached, or nullptr.
  template <class T>
  [[nodiscard]] T* find_attached() const noexcept {
    return attachments_.find<T>();
  }

 private:
  const http::Request& req_;
  const routing::PathParams& params_;
  const Address& client_;
  std::string_view route_;
  bool websocket_;
  State& state_;
  Attachments& attachments_;
  mutable std::optional<http::QueryParams> query_;
  mutable std::optional<http::Cookies> cookies_;
};

/// A guard: `[](nx::GuardContext& ctx) -> nx::Task<nx::GuardResult> { ...; co_return nx::allow(); }`.
using Guard = std::function<Task<GuardResult>(GuardContext&)>;
/// Guards of one route or router, in the order they run.
using Guards = std::vector<Guard>;

}  // namespace nexios
