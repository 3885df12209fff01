// App-layer pieces that need no socket: State, errors, router flattening and prefixes.

#include <nexios/nexios.hpp>

#include <gtest/gtest.h>

#include <any>
#include <atomic>
#include <string>
#include <vector>

namespace nx = nexios;

namespace {
nx::Task<> noop(nx::WebSocket) { co_return; }

std::vector<std::string> paths(const nx::WSRouter& r) {
  std::vector<nx::WebsocketRoutes> flat;
  r.collect({}, flat);
  std::vector<std::string> out;
  for (const auto& route : flat) {
    out.push_back(route.path());
  }
  return out;
}
}  // namespace

TEST(State, SetGetEmplaceErase) {
  nx::State s;
  s.set("name", std::string("x"));
  EXPECT_EQ(s.get<std::string>("name"), "x");
  auto& counter = s.emplace<std::atomic<int>>("n", 3);
  ++counter;
  EXPECT_EQ(s.get<std::atomic<int>>("n").load(), 4);
  EXPECT_TRUE(s.contains("n"));
  EXPECT_EQ(s.try_get<int>("name"), nullptr);
  EXPECT_THROW(s.get<int>("name"), std::bad_any_cast);
  EXPECT_THROW(s.get<int>("missing"), std::out_of_range);
  EXPECT_TRUE(s.erase("n"));
  EXPECT_FALSE(s.erase("n"));
  EXPECT_FALSE(s.contains("n"));
}

TEST(Errors, WebSocketExceptionValidatesItsArguments) {
  nx::WebSocketException e(4001, "nope");
  EXPECT_EQ(e.code, 4001);
  EXPECT_EQ(e.reason, "nope");
  EXPECT_THROW(nx::WebSocketException(1005), std::invalid_argument);
  EXPECT_THROW(nx::WebSocketException(999), std::invalid_argument);
  EXPECT_THROW(nx::WebSocketException(5000), std::invalid_argument);
  EXPECT_THROW(nx::WebSocketException(1000, std::string(124, 'r')), std::invalid_argument);
  EXPECT_NO_THROW(nx::WebSocketException(1000, std::string(123, 'r')));
  EXPECT_THROW(nx::WebSocketException(1000, "\xff"), std::invalid_argument);
  nx::WebSocketDisconnect d;
  EXPECT_EQ(d.code, 1000);
  EXPECT_EQ(d.reason, "");
  nx::JsonDecodeError j("invalid JSON: x");
  EXPECT_EQ(j.code, 1003);
}

TEST(Routers, PrefixNormalization) {
  EXPECT_EQ(nx::normalize_prefix(""), "");
  EXPECT_EQ(nx::normalize_prefix("/"), "");
  EXPECT_EQ(nx::normalize_prefix("/api/"), "/api");
  EXPECT_EQ(nx::normalize_prefix("/api"), "/api");
  EXPECT_THROW(nx::normalize_prefix("api"), std::invalid_argument);
  EXPECT_EQ(nx::WSRouter("/ws/").prefix(), "/ws");
}

TEST(Routers, FlatteningKeepsRegistrationOrderAndNests) {
  nx::WSRouter root;
  root.add_ws_route("/a", noop);
  nx::WSRouter api{"/api"};
  nx::WSRouter v1{"/v1"};
  v1.add_ws_route("/x", noop);
  api.mount_router(v1);
  api.add_ws_route("/y", noop);
  root.mount_router(api);
  root.mount_router(api, "/other");
  root.add_ws_route("/z", noop);
  v1.add_ws_route("/late", noop);  // shared handle: visible through every mount
  EXPECT_EQ(paths(root), (std::vector<std::string>{"/a", "/api/v1/x", "/api/v1/late", "/api/y", "/other/v1/x",
                                                   "/other/v1/late", "/other/y", "/z"}));
}

TEST(Routers, MountingARouterInsideItselfIsRejected) {
  nx::WSRouter a{"/a"};
  EXPECT_THROW(a.mount_router(a), std::invalid_argument);
  nx::WSRouter b{"/b"};
  a.mount_router(b);
  EXPECT_THROW(b.mount_router(a), std::invalid_argument);  // a cycle a → b → a
}

TEST(Limits, DefaultsAreTheDocumentedOnes) {
  nx::Limits l;
  EXPECT_EQ(l.max_header_bytes, 16u * 1024);
  EXPECT_EQ(l.max_headers, 100u);
  EXPECT_EQ(l.max_body_size, 1024u * 1024);
  EXPECT_EQ(l.max_message_size, 16u * 1024 * 1024);
  EXPECT_EQ(l.close_timeout.count(), 5000);
  EXPECT_EQ(l.ping_interval.count(), 20'000);
  EXPECT_EQ(l.idle_timeout.count(), 60'000);
  EXPECT_EQ(l.max_connections, 0u);  // derived from RLIMIT_NOFILE at start
  EXPECT_EQ(l.fd_reserve, 64u);
  EXPECT_EQ(l.message_timeout.count(), 30'000);
  EXPECT_EQ(l.max_connections_per_address, 1024u);
  EXPECT_EQ(l.max_connection_rate_per_address, 1000u);
  EXPECT_EQ(l.max_messages_per_second, 10'000u);
  EXPECT_EQ(l.max_bytes_per_second, 64u * 1024 * 1024);
  EXPECT_EQ(l.rate_limit_policy, nx::Limits::RateLimitPolicy::throttle);
  EXPECT_NO_THROW(l.validate());
}
