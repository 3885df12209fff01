// Routing: ws_route, WebsocketRoutes, WSRouter prefixes, mounts (override, nesting, segment
// boundaries), path converters, precedence, and HTTP 404 before any upgrade.

#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace nx = nexios;
using nx::test::Served;
using nx::test::TestClient;

namespace {

// A handler that accepts and sends `name` followed by its path parameters.
nx::WebSocketHandler tell(std::string name) {
  return [name](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    std::string out = name;
    for (const auto& p : ws.path_params()) {
      out += " " + p.name + "=" + p.value;
    }
    co_await ws.send_text(out);
  };
}

// Connects to `path`: the handler's reply, or "HTTP <status>" if the upgrade was refused.
std::string probe(std::uint16_t port, const std::string& path) {
  TestClient c(port);
  auto r = c.handshake(path);
  if (r.status != 101) {
    return "HTTP " + std::to_string(r.status);
  }
  return c.read_text();
}

}  // namespace

TEST(Routing, AllRegistrationStyles) {
  nx::App app;
  app.ws_route("/direct", tell("direct"));
  app.websocket("/alias", tell("alias"));
  app.add_ws_route(nx::WebsocketRoutes("/prebuilt", tell("prebuilt")));
  nx::WSRouter router{"/ws"};
  router.add_ws_route("/chat", tell("chat"));
  router.add_ws_route(nx::WebsocketRoutes("/notifications", tell("notifications")));
  router.ws_route("/other", tell("other"));
  app.mount_ws_router(router);
  nx::WSRouter list({nx::WebsocketRoutes("/ws1", tell("ws1")), nx::WebsocketRoutes("/ws2", tell("ws2"))});
  app.mount_ws_router(list);
  Served s(app);
  EXPECT_EQ(probe(s.port(), "/direct"), "direct");
  EXPECT_EQ(probe(s.port(), "/alias"), "alias");
  EXPECT_EQ(probe(s.port(), "/prebuilt"), "prebuilt");
  EXPECT_EQ(probe(s.port(), "/ws/chat"), "chat");
  EXPECT_EQ(probe(s.port(), "/ws/notifications"), "notifications");
  EXPECT_EQ(probe(s.port(), "/ws/other"), "other");
  EXPECT_EQ(probe(s.port(), "/ws1"), "ws1");
  EXPECT_EQ(probe(s.port(), "/ws2"), "ws2");
  EXPECT_EQ(probe(s.port(), "/chat"), "HTTP 404");
}

TEST(Routing, MountOverrideNestingAndSegmentBoundaries) {
  nx::App app;
  nx::WSRouter router{"/ws"};
  router.add_ws_route("/ws", tell("inner"));
  app.mount_ws_router(router, "/ws-override");  // overrides "/ws"

  nx::WSRouter outer{"/api"};
  nx::WSRouter inner{"/v1"};
  inner.add_ws_route("/endpoint", tell("nested"));
  inner.add_ws_route("/api/x", tell("api-x"));
  outer.mount_router(inner);
  outer.add_ws_route("/x", tell("outer-x"));
  app.mount_ws_router(outer);
  app.ws_route("/api2/x", tell("top-api2"));

  Served s(app);
  EXPECT_EQ(probe(s.port(), "/ws-override/ws"), "inner");
  EXPECT_EQ(probe(s.port(), "/ws/ws"), "HTTP 404");
  EXPECT_EQ(probe(s.port(), "/api/v1/endpoint"), "nested");
  EXPECT_EQ(probe(s.port(), "/api/x"), "outer-x");
  // The prefix is stripped once: /api/v1/api/x reaches the inner route "/api/x".
  EXPECT_EQ(probe(s.port(), "/api/v1/api/x"), "api-x");
  EXPECT_EQ(probe(s.port(), "/api/api/x"), "HTTP 404");
  // Mounts match whole segments: "/api" does not capture "/api2/x".
  EXPECT_EQ(probe(s.port(), "/api2/x"), "top-api2");
  // The bare prefix is not a route.
  EXPECT_EQ(probe(s.port(), "/api"), "HTTP 404");
  EXPECT_EQ(probe(s.port(), "/api/"), "HTTP 404");
}

// A route registered as "/" on a prefixed router serves the bare prefix, spelled with or without
// the trailing slash (docs/routing.md), also when the router is mounted under an override or
// nested; other paths under the prefix are unaffected.
TEST(Routing, SlashRouteServesTheBarePrefixBothSpellings) {
  nx::App app;
  nx::WSRouter own{"/own"};
  own.add_ws_route("/", tell("own-root"));
  own.add_ws_route("/x", tell("own-x"));
  app.mount_ws_router(own);
  nx::WSRouter outer{"/outer"};
  nx::WSRouter inner{"/inner"};
  inner.add_ws_route("/", tell("inner-root"));
  outer.mount_router(inner);
  app.mount_ws_router(outer);
  app.mount_ws_router(own, "/again");
  Served s(app);
  EXPECT_EQ(probe(s.port(), "/own"), "own-root");
  EXPECT_EQ(probe(s.port(), "/own/"), "own-root");
  EXPECT_EQ(probe(s.port(), "/own/x"), "own-x");
  EXPECT_EQ(probe(s.port(), "/own/x/"), "HTTP 404");
  EXPECT_EQ(probe(s.port(), "/own//"), "HTTP 404");
  EXPECT_EQ(probe(s.port(), "/outer/inner"), "inner-root");
  EXPECT_EQ(probe(s.port(), "/outer/inner/"), "inner-root");
  EXPECT_EQ(probe(s.port(), "/outer"), "HTTP 404");
  EXPECT_EQ(probe(s.port(), "/again"), "own-root");
  EXPECT_EQ(probe(s.port(), "/again/"), "own-root");
  // Without a prefix, "/" is just "/".
  nx::App plain;
  plain.ws_route("/", tell("root"));
  Served p(plain);
  EXPECT_EQ(probe(p.port(), "/"), "root");
}

TEST(Routing, RoutesAddedToAMountedRouterAreServed) {
  nx::App app;
  nx::WSRouter router{"/late"};
  app.mount_ws_router(router);
  router.add_ws_route("/added", tell("added-after-mount"));
  Served s(app);
  EXPECT_EQ(probe(s.port(), "/late/added"), "added-after-mount");
}

TEST(Routing, PathConverters) {
  nx::App app;
  app.ws_route("/item/{id:int}", tell("int"));
  app.ws_route("/price/{x:float}", tell("float"));
  app.ws_route("/obj/{u:uuid}", tell("uuid"));
  app.ws_route("/files/{p:path}", tell("path"));
  app.ws_route("/post/{s:slug}", tell("slug"));
  app.ws_route("/user/{name}", tell("str"));
  Served s(app);
  EXPECT_EQ(probe(s.port(), "/item/42"), "int id=42");
  EXPECT_EQ(probe(s.port(), "/item/abc"), "HTTP 404");
  EXPECT_EQ(probe(s.port(), "/item/-1"), "HTTP 404");
  EXPECT_EQ(probe(s.port(), "/price/2.5"), "float x=2.5");
  EXPECT_EQ(probe(s.port(), "/obj/0123456789ABCDEF0123456789abcdef"), "uuid u=01234567-89ab-cdef-0123-456789abcdef");
  EXPECT_EQ(probe(s.port(), "/files/a/b/c"), "path p=a/b/c");
  EXPECT_EQ(probe(s.port(), "/post/ab-cd"), "slug s=ab-cd");
  EXPECT_EQ(probe(s.port(), "/post/Ab"), "HTTP 404");
  EXPECT_EQ(probe(s.port(), "/user/alice"), "str name=alice");
  EXPECT_EQ(probe(s.port(), "/user/a/b"), "HTTP 404");
}

TEST(Routing, TrailingSlashCaseAndFirstRegisteredWins) {
  nx::App app;
  app.ws_route("/ws", tell("first"));
  app.ws_route("/ws", tell("second"));
  app.ws_route("/{any}", tell("catch"));
  Served s(app);
  EXPECT_EQ(probe(s.port(), "/ws"), "first");
  EXPECT_EQ(probe(s.port(), "/ws/"), "HTTP 404");
  EXPECT_EQ(probe(s.port(), "/WS"), "catch any=WS");
}

TEST(Routing, RegistrationErrorsAreReportedAtOnce) {
  nx::App app;
  EXPECT_THROW(app.ws_route("/a/{id:nope}", tell("x")), std::invalid_argument);
  EXPECT_THROW(app.ws_route("/a/{id}/{id}", tell("x")), std::invalid_argument);
  EXPECT_THROW(app.ws_route("no-slash", tell("x")), std::invalid_argument);
  EXPECT_THROW(nx::WSRouter("chat"), std::invalid_argument);
  EXPECT_THROW(app.ws_route("/x", nx::WebSocketHandler{}), std::invalid_argument);
  nx::WSRouter clash{"/{id}"};
  clash.add_ws_route("/{id}", tell("x"));
  EXPECT_THROW(app.mount_ws_router(clash), std::invalid_argument);
  EXPECT_THROW(app.get("/h/{x:bad}", [](nx::Request&, nx::Response&) -> nx::Task<> { co_return; }),
               std::invalid_argument);
}

TEST(Routing, RegistrationAfterStartIsALogicError) {
  nx::App app;
  app.ws_route("/ws", tell("x"));
  Served s(app);
  EXPECT_THROW(app.ws_route("/later", tell("x")), std::logic_error);
  EXPECT_THROW(app.on_startup([]() -> nx::Task<> { co_return; }), std::logic_error);
}
