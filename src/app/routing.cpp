#include <nexios/routing.hpp>

#include <stdexcept>
#include <variant>

namespace nexios {

namespace {
constexpr int max_mount_depth = 32;

void require_route_path(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    throw std::invalid_argument("WebSocket route path must start with '/': '" + path + "'");
  }
}
}  // namespace

std::string normalize_prefix(std::string_view prefix) {
  if (prefix.empty()) {
    return {};
  }
  if (prefix.front() != '/') {
    throw std::invalid_argument("router prefix must start with '/': '" + std::string(prefix) + "'");
  }
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.remove_suffix(1);
  }
  return std::string(prefix);
}

WebsocketRoutes::WebsocketRoutes(std::string path, WebSocketHandler handler, Guards guards)
    : path_(std::move(path)), handler_(std::move(handler)), guards_(std::move(guards)) {
  for (const auto& g : guards_) {
    if (!g) {
      throw std::invalid_argument("WebSocket route '" + path_ + "' has an empty guard");
    }
  }
  require_route_path(path_);
  if (!handler_) {
    throw std::invalid_argument("WebSocket route '" + path_ + "' has no handler");
  }
  routing::PathPattern check(path_);  // unknown converters, duplicated names: fail now
  (void)check;
}

struct WSRouter::Data {
  struct Mount {
    std::shared_ptr<Data> router;
    std::optional<std::string> path;
  };
  std::string prefix;
  Guards guards;
  std::vector<std::variant<WebsocketRoutes, Mount>> entries;
};

WSRouter::WSRouter(std::string prefix) : data_(std::make_shared<Data>()) { data_->prefix = normalize_prefix(prefix); }

WSRouter::WSRouter(std::initializer_list<WebsocketRoutes> routes) : WSRouter(std::vector<WebsocketRoutes>(routes)) {}

WSRouter::WSRouter(std::vector<WebsocketRoutes> routes) : WSRouter(std::string{}, std::move(routes)) {}

WSRouter::WSRouter(std::string prefix, std::vector<WebsocketRoutes> routes) : WSRouter(std::move(prefix)) {
  for (auto& r : routes) {
    data_->entries.emplace_back(std::move(r));
  }
}

WSRouter& WSRouter::add_ws_route(std::string path, WebSocketHandler handler, Guards guards) {
  return add_ws_route(WebsocketRoutes(std::move(path), std::move(handler), std::move(guards)));
}

WSRouter& WSRouter::guard(Guard g) {
  if (!g) {
    throw std::invalid_argument("WSRouter::guard: empty guard");
  }
  data_->guards.push_back(std::move(g));
  return *this;
}

WSRouter& WSRouter::add_ws_route(WebsocketRoutes route) {
  data_->entries.emplace_back(std::move(route));
  return *this;
}

WSRouter& WSRouter::mount_router(const WSRouter& router, std::optional<std::string> path) {
  if (path) {
    path = normalize_prefix(*path);
  }
  if (router.data_ == data_) {
    throw std::invalid_argument("a WSRouter cannot be mounted on itself");
  }
  data_->entries.emplace_back(Data::Mount{router.data_, std::move(path)});
  // Validate the full paths now, so a bad combination (or a cycle) fails where it is written,
  // and leaves this router as it was.
  try {
    std::vector<WebsocketRoutes> flat;
    collect({}, flat);
    for (const auto& r : flat) {
      routing::PathPattern check(r.path());
      (void)check;
    }
  } catch (...) {
    data_->entries.pop_back();
    throw;
  }
  return *this;
}

const std::string& WSRouter::prefix() const noexcept { return data_->prefix; }

void WSRouter::collect(const std::string& base, std::vector<WebsocketRoutes>& out, int depth,
                       const Guards& outer_guards) const {
  if (depth > max_mount_depth) {
    throw std::invalid_argument("WSRouter mounts nest more than 32 levels deep (is a router mounted inside itself?)");
  }
  Guards guards = outer_guards;
  guards.insert(guards.end(), data_->guards.begin(), data_->guards.end());
  for (const auto& entry : data_->entries) {
    if (const auto* route = std::get_if<WebsocketRoutes>(&entry)) {
      Guards all = guards;
      all.insert(all.end(), route->guards().begin(), route->guards().end());
      if (route->path() == "/" && !base.empty()) {
        // "/" under a prefix serves the bare prefix, with or without the trailing slash.
        out.emplace_back(base, route->handler(), all);
      }
      out.emplace_back(base + route->path(), route->handler(), std::move(all));
    } else {
      const auto& mount = std::get<Data::Mount>(entry);
      WSRouter child;
      child.data_ = mount.router;
      child.collect(base + (mount.path ? *mount.path : mount.router->prefix), out, depth + 1, guards);
    }
  }
}

}  // namespace nexios
