// The handshake as a gate: guards (app, router, route; WebSocket and HTTP; order, attachments,
// rejections, exceptions), the origin check against cross-site WebSocket hijacking, CORS, OPTIONS
// and the Date header — over real sockets.

#include "support/scoped_env.hpp"
#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace nx = nexios;
using nx::test::HttpReply;
using nx::test::Served;
using nx::test::TestClient;

namespace {

struct User {
  std::string name;
};
struct Role {
  std::string role;
};

// Records the order guards run in.
struct Trail {
  std::mutex m;
  std::vector<std::string> steps;
  void add(std::string s) {
    std::lock_guard lock(m);
    steps.push_back(std::move(s));
  }
  std::vector<std::string> take() {
    std::lock_guard lock(m);
    return std::exchange(steps, {});
  }
};

nx::Guard note(Trail& t, std::string name) {
  return [&t, name](nx::GuardContext&) -> nx::Task<nx::GuardResult> {
    t.add(name);
    co_return nx::allow();
  };
}

// A token guard: ?token=alice lets alice in and attaches User{"alice"}; no token → 401.
nx::Task<nx::GuardResult> require_token(nx::GuardContext& ctx) {
  auto token = ctx.query_params().get("token");
  if (!token) {
    co_return nx::reject(401, "a token is required", {{"WWW-Authenticate", "Bearer"}});
  }
  if (*token == "mallory") {
    co_return nx::reject(403);
  }
  ctx.attach(User{std::string(*token)});
  co_return nx::allow();
}

nx::Task<> whoami(nx::WebSocket ws) {
  co_await ws.accept();
  const User* u = ws.find_attached<User>();
  const Role* r = ws.find_attached<Role>();
  // Built before the co_await: GCC 12 mishandles temporaries of a conditional inside co_await.
  std::string reply = u != nullptr ? u->name : "nobody";
  reply += "/";
  reply += r != nullptr ? r->role : "-";
  co_await ws.send_text(reply);
}

// An upgrade with a Host and extra header lines of our choosing.
HttpReply upgrade(TestClient& c, std::string_view path, std::string_view host, std::string_view extra = {}) {
  std::string req = "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + std::string(host) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  req += extra;
  req += "\r\n";
  c.send_raw(req);
  return c.read_http();
}

int upgrade_status(std::uint16_t port, std::string_view path, std::string_view host, std::string_view extra = {}) {
  TestClient c(port);
  return upgrade(c, path, host, extra).status;
}

}  // namespace

TEST(Guards, WebSocketGuardsRejectWithAnyStatusAndAttachState) {
  nx::App app;
  app.ws_route("/ws", whoami, {require_token});
  Served s(app);
  {
    TestClient c(s.port());
    auto r = c.handshake("/ws");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, "a token is required");
    EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_FALSE(r.header("Sec-WebSocket-Accept"));
  }
  {
    TestClient c(s.port());
    auto r = c.handshake("/ws?token=mallory");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.body, "Forbidden");
  }
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws?token=alice").status, 101);
  EXPECT_EQ(c.read_text(), "alice/-");
}

TEST(Guards, RunAppThenRoutersOutermostFirstThenRouteInRegistrationOrder) {
  Trail t;
  nx::App app;
  app.guard(note(t, "app1"));
  nx::WSRouter outer{"/outer"};
  outer.guard(note(t, "outer"));
  nx::WSRouter inner{"/inner"};
  inner.guard(note(t, "inner1"));
  inner.guard(note(t, "inner2"));
  inner.add_ws_route("/x", whoami, {note(t, "route1"), note(t, "route2")});
  outer.mount_router(inner);
  app.mount_ws_router(outer);
  app.guard(note(t, "app2"));  // registered after the mount: still runs with the app's, first
  app.get("/h", [](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.text("ok");
    co_return;
  }, {note(t, "http-route")});
  Served s(app);
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/outer/inner/x").status, 101);
    EXPECT_EQ(c.read_text(), "nobody/-");
  }
  EXPECT_EQ(t.take(), (std::vector<std::string>{"app1", "app2", "outer", "inner1", "inner2", "route1", "route2"}));
  TestClient h(s.port());
  EXPECT_EQ(h.request("GET", "/h").status, 200);
  EXPECT_EQ(t.take(), (std::vector<std::string>{"app1", "app2", "http-route"}));
}

TEST(Guards, TheFirstRejectionWinsAndLaterGuardsDoNotRun) {
  Trail t;
  nx::App app;
  app.guard([&t](nx::GuardContext& ctx) -> nx::Task<nx::GuardResult> {
    t.add("rate");
    if (ctx.query_params().get("slow")) {
      co_return nx::reject(429, "slow down", {{"Retry-After", "3"}});
    }
    co_return nx::allow();
  });
  app.ws_route("/ws", whoami, {note(t, "never")});
  Served s(app);
  TestClient c(s.port());
  auto r = c.handshake("/ws?slow=1");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("Retry-After"), "3");
  EXPECT_EQ(r.body, "slow down");
  EXPECT_EQ(t.take(), (std::vector<std::string>{"rate"}));
}

TEST(Guards, SeeThePathParamsQueryHeadersCookiesClientAndRoute) {
  std::string seen;
  nx::App app;
  app.ws_route("/rooms/{id:int}", whoami, {[&seen](nx::GuardContext& ctx) -> nx::Task<nx::GuardResult> {
    seen = std::string(ctx.method()) + " " + std::string(ctx.path()) + " " + std::string(ctx.route()) + " id=" +
           std::string(ctx.path_params().at("id")) + " q=" + std::string(ctx.query_params().get_or("q", "")) +
           " ua=" + std::string(ctx.headers().get_or("user-agent", "")) + " sid=" +
           std::string(ctx.cookies().get_or("sid", "")) + " ws=" + (ctx.is_websocket() ? "yes" : "no") +
           " client=" + ctx.client().host;
    // Guards may await.
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(1));
    co_await timer.async_wait(boost::asio::use_awaitable);
    ctx.attach(Role{"reader"});
    co_return nx::allow();
  }});
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/rooms/42?q=hi", "User-Agent: t\r\nCookie: sid=abc; x=1\r\n").status, 101);
  EXPECT_EQ(c.read_text(), "nobody/reader");
  EXPECT_EQ(seen, "GET /rooms/42 /rooms/{id:int} id=42 q=hi ua=t sid=abc ws=yes client=127.0.0.1");
}

TEST(Guards, AGuardThatThrowsRejectsWith500OrBadRequestWith400) {
  nx::App app;
  app.ws_route("/boom", whoami, {[](nx::GuardContext&) -> nx::Task<nx::GuardResult> {
    throw std::runtime_error("database down");
    co_return nx::allow();
  }});
  app.ws_route("/bad", whoami, {[](nx::GuardContext&) -> nx::Task<nx::GuardResult> {
    throw nx::BadRequest("token is not base64");
    co_return nx::allow();
  }});
  Served s(app);
  {
    TestClient c(s.port());
    auto r = c.handshake("/boom");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body.find("database"), std::string::npos);  // internals are not shown to the client
  }
  TestClient c(s.port());
  auto r = c.handshake("/bad");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "token is not base64");
  EXPECT_THROW(nx::reject(200), std::invalid_argument);
  EXPECT_THROW(nx::reject(600), std::invalid_argument);
}

TEST(Guards, HttpRoutesGetThemToo) {
  nx::App app;
  app.get("/me", [](nx::Request& req, nx::Response& res) -> nx::Task<> {
    res.text(req.attached<User>().name);
    co_return;
  }, {require_token});
  app.get("/open", [](nx::Request& req, nx::Response& res) -> nx::Task<> {
    res.text(req.find_attached<User>() ? "user" : "anonymous");
    co_return;
  });
  Served s(app);
  TestClient c(s.port());
  auto r = c.request("GET", "/me");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(c.request("GET", "/me?token=bob").body, "bob");
  EXPECT_EQ(c.request("GET", "/open").body, "anonymous");
}

namespace {
class GuardedRoom : public nx::WebSocketConsumer<GuardedRoom> {
 public:
  GuardedRoom() { encoding = "text"; }
  nx::Task<> on_connect(nx::WebSocket& ws) override {
    co_await ws.accept();
    co_await ws.send_text("hello " + ws.attached<User>().name);
  }
};
}  // namespace

TEST(Guards, ConsumersReadWhatTheGuardsAttached) {
  nx::App app;
  app.ws_route<GuardedRoom>("/room", {require_token});
  Served s(app);
  EXPECT_EQ(upgrade_status(s.port(), "/room", "127.0.0.1"), 401);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/room?token=carol").status, 101);
  EXPECT_EQ(c.read_text(), "hello carol");
}

TEST(Origin, ByDefaultOnlyTheAppsOwnHostOrNoOriginMayOpenAWebSocket) {
  nx::App app;
  app.ws_route("/ws", whoami);
  Served s(app);
  const std::uint16_t p = s.port();
  const std::string host = "127.0.0.1:" + std::to_string(p);
  // Non-browser clients send no Origin: they pass.
  EXPECT_EQ(upgrade_status(p, "/ws", host), 101);
  // The page the app served itself.
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: http://127.0.0.1:" + std::to_string(p) + "\r\n"), 101);
  EXPECT_EQ(upgrade_status(p, "/ws", "chat.example.com", "Origin: https://chat.example.com\r\n"), 101);
  EXPECT_EQ(upgrade_status(p, "/ws", "Chat.Example.com:443", "Origin: https://chat.example.COM\r\n"), 101);
  // Cross-site WebSocket hijacking: a page elsewhere.
  TestClient c(p);
  auto r = upgrade(c, "/ws", host, "Origin: http://evil.example\r\n");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: http://127.0.0.1:1\r\n"), 403);          // another port
  EXPECT_EQ(upgrade_status(p, "/ws", "chat.example.com", "Origin: http://chat.example.com.evil.io\r\n"), 403);
  EXPECT_EQ(upgrade_status(p, "/ws", "chat.example.com", "Origin: https://chat.example.com:8443\r\n"), 403);
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: null\r\n"), 403);
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: garbage\r\n"), 403);
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: http://127.0.0.1:" + std::to_string(p) +
                                               "\r\nOrigin: http://evil.example\r\n"),
            403);  // two Origin headers
}

TEST(Origin, AnAllowListReplacesTheSameOriginRule) {
  nx::App app;
  app.allow_origins({"https://app.example.com", "https://*.example.org", "localhost:3000"});
  app.ws_route("/ws", whoami);
  Served s(app);
  const std::uint16_t p = s.port();
  const std::string host = "127.0.0.1:" + std::to_string(p);
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: https://app.example.com\r\n"), 101);
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: https://a.b.example.org\r\n"), 101);
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: http://localhost:3000\r\n"), 101);
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: https://localhost:3000\r\n"), 101);
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: http://app.example.com\r\n"), 403);   // scheme
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: https://example.org\r\n"), 403);      // apex
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: https://evilexample.org\r\n"), 403);
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: http://localhost:3001\r\n"), 403);
  // The app's own host is no longer implied.
  EXPECT_EQ(upgrade_status(p, "/ws", host, "Origin: http://" + host + "\r\n"), 403);
  EXPECT_EQ(upgrade_status(p, "/ws", host), 101);
  EXPECT_THROW(app.allow_origins({"https://*"}), std::logic_error);  // after start: a logic error
  nx::App other;
  EXPECT_THROW(other.allow_origins({"https://*"}), std::invalid_argument);
  EXPECT_THROW(other.allow_origins({"ftp//x"}), std::invalid_argument);
}

TEST(Origin, AnyOriginAndTheEnvironment) {
  {
    nx::App app;
    app.allow_any_origin();
    app.ws_route("/ws", whoami);
    Served s(app);
    EXPECT_EQ(upgrade_status(s.port(), "/ws", "x", "Origin: http://evil.example\r\n"), 101);
  }
  {
    nx::test::ScopedEnv env("NEXIOS_ALLOWED_ORIGINS", "https://one.example, https://two.example");
    nx::App app;
    app.ws_route("/ws", whoami);
    Served s(app);
    EXPECT_EQ(upgrade_status(s.port(), "/ws", "x", "Origin: https://two.example\r\n"), 101);
    EXPECT_EQ(upgrade_status(s.port(), "/ws", "x", "Origin: https://three.example\r\n"), 403);
  }
  {
    nx::test::ScopedEnv env("NEXIOS_ALLOWED_ORIGINS", "https://*");
    nx::App app;
    try {
      app.start({.host = "127.0.0.1", .port = 0, .threads = 1});
      ADD_FAILURE() << "a bad NEXIOS_ALLOWED_ORIGINS was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("NEXIOS_ALLOWED_ORIGINS"), std::string::npos) << e.what();
    }
  }
}

TEST(Http, OptionsListsTheMethodsAndEveryResponseHasADate) {
  nx::App app;
  auto ok = [](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.text("ok");
    co_return;
  };
  app.get("/items", ok);
  app.post("/items", ok);
  app.ws_route("/ws", whoami);
  Served s(app);
  TestClient c(s.port());
  auto r = c.request("OPTIONS", "/items");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD, POST, OPTIONS");
  EXPECT_TRUE(r.header("Date"));
  EXPECT_EQ(c.request("OPTIONS", "/ws").header("Allow"), "GET, OPTIONS");
  EXPECT_EQ(c.request("OPTIONS", "/nowhere").status, 404);
  for (const auto& reply : {c.request("GET", "/items"), c.request("GET", "/nowhere"), c.request("DELETE", "/items")}) {
    const auto date = reply.header("Date");
    ASSERT_TRUE(date) << reply.head;
    // An IMF-fixdate: "Thu, 03 Dec 2026 14:18:05 GMT".
    EXPECT_EQ(date->size(), 29u);
    EXPECT_EQ(date->substr(25), " GMT");
  }
}

TEST(Cors, PreflightsAndResponsesForAllowedOriginsOnly) {
  nx::App app;
  app.cors({.allow_origins = {"https://app.example.com"},
            .allow_methods = {},
            .allow_headers = {"Authorization", "X-Token"},
            .expose_headers = {"X-Request-Id"},
            .allow_credentials = true,
            .max_age = std::chrono::seconds(120)});
  app.get("/api", [](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.header("X-Request-Id", "7").text("data");
    co_return;
  });
  app.post("/api", [](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.text("posted");
    co_return;
  });
  app.get("/private", [](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.text("secret");
    co_return;
  }, {require_token});
  Served s(app);
  TestClient c(s.port());
  // A preflight from the allowed origin.
  auto pre = c.request("OPTIONS", "/api",
                       "Origin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n"
                       "Access-Control-Request-Headers: authorization, x-token\r\n");
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(pre.header("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(pre.header("Access-Control-Allow-Methods"), "GET, HEAD, POST");
  EXPECT_EQ(pre.header("Access-Control-Allow-Headers"), "authorization, x-token");
  EXPECT_EQ(pre.header("Access-Control-Max-Age"), "120");
  EXPECT_NE(pre.header("Vary").value_or("").find("Origin"), std::string::npos);
  // Refused preflights: another origin, a method the path does not take, a header not allowed.
  for (const std::string& bad : {std::string("Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n"),
                                 std::string("Origin: https://app.example.com\r\nAccess-Control-Request-Method: PUT\r\n"),
                                 std::string("Origin: https://app.example.com\r\nAccess-Control-Request-Method: GET\r\n"
                                             "Access-Control-Request-Headers: X-Other\r\n")}) {
    auto r = c.request("OPTIONS", "/api", bad);
    EXPECT_EQ(r.status, 403) << bad;
    EXPECT_FALSE(r.header("Access-Control-Allow-Origin")) << bad;
  }
  EXPECT_EQ(c.request("OPTIONS", "/none", "Origin: https://app.example.com\r\nAccess-Control-Request-Method: GET\r\n").status,
            404);
  // Actual responses.
  auto get = c.request("GET", "/api", "Origin: https://app.example.com\r\n");
  EXPECT_EQ(get.body, "data");
  EXPECT_EQ(get.header("Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(get.header("Access-Control-Expose-Headers"), "X-Request-Id");
  EXPECT_EQ(get.header("Vary"), "Origin");
  auto foreign = c.request("GET", "/api", "Origin: https://evil.example\r\n");
  EXPECT_EQ(foreign.body, "data");  // served (CORS is not access control) ...
  EXPECT_FALSE(foreign.header("Access-Control-Allow-Origin"));  // ... but not readable by that page
  // A guard's rejection is readable by the allowed page too (so it can show "log in").
  auto denied = c.request("GET", "/private", "Origin: https://app.example.com\r\n");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.header("Access-Control-Allow-Origin"), "https://app.example.com");
}

TEST(Cors, UnsafeOrInvalidOptionsAreRefusedWhenConfigured) {
  nx::App app;
  nx::CorsOptions any_with_credentials;
  any_with_credentials.allow_origins = {"*"};
  any_with_credentials.allow_credentials = true;
  EXPECT_THROW(app.cors(any_with_credentials), std::invalid_argument);
  nx::CorsOptions any_header_with_credentials;
  any_header_with_credentials.allow_origins = {"https://a.example"};
  any_header_with_credentials.allow_headers = {"*"};
  any_header_with_credentials.allow_credentials = true;
  EXPECT_THROW(app.cors(any_header_with_credentials), std::invalid_argument);
  nx::CorsOptions bad_pattern;
  bad_pattern.allow_origins = {"https://*"};
  EXPECT_THROW(app.cors(bad_pattern), std::invalid_argument);
  nx::CorsOptions bad_method;
  bad_method.allow_origins = {"https://a.example"};
  bad_method.allow_methods = {"GET POST"};
  EXPECT_THROW(app.cors(bad_method), std::invalid_argument);
  // Any origin without credentials: "*".
  nx::CorsOptions any;
  any.allow_origins = {"*"};
  app.cors(any);
  app.get("/pub", [](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.text("pub");
    co_return;
  });
  Served s(app);
  TestClient c(s.port());
  auto r = c.request("GET", "/pub", "Origin: https://anyone.example\r\n");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(r.header("Vary"));
}
