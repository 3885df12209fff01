// HTTP routes beside WebSocket routes: methods, 404/405, HEAD, request data, bodies, errors,
// keep-alive and pipelining.

#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace nx = nexios;
using nx::test::Served;
using nx::test::TestClient;

namespace {

nx::HttpHandler says(std::string what) {
  return [what](nx::Request& req, nx::Response& res) -> nx::Task<> {
    res.text(what + " " + std::string(req.method()));
    co_return;
  };
}

}  // namespace

TEST(Http, MethodsAnd404And405) {
  nx::App app;
  app.get("/r", says("get"));
  app.post("/r", says("post"));
  app.put("/r", says("put"));
  app.patch("/r", says("patch"));
  app.delete_("/r", says("delete"));
  app.route("OPTIONS", "/o", says("options"));
  app.get("/only-get", says("g"));
  Served s(app);
  TestClient c(s.port());
  for (std::string m : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    auto r = c.request(m, "/r");
    EXPECT_EQ(r.status, 200);
    std::string lower = m;
    for (auto& ch : lower) {
      ch = static_cast<char>(std::tolower(ch));
    }
    EXPECT_EQ(r.body, lower + " " + m);
  }
  EXPECT_EQ(c.request("OPTIONS", "/o").status, 200);
  auto r = c.request("POST", "/only-get");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow").value_or(""), "GET, HEAD");
  EXPECT_EQ(c.request("GET", "/missing").status, 404);
  // HEAD: the GET route, headers only.
  c.send_raw("HEAD /only-get HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    char b[512];
    auto n = c.socket().read_some(boost::asio::buffer(b));
    head.append(b, n);
  }
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(head.find("Content-Length: 6\r\n"), std::string::npos);  // the length of "g HEAD"
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "");
}

TEST(Http, WebSocketPathsAnswerPlainHttpSensibly) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> { co_await ws.accept(); });
  app.post("/both", says("post"));
  app.ws_route("/both", [](nx::WebSocket ws) -> nx::Task<> { co_await ws.accept(); });
  Served s(app);
  TestClient c(s.port());
  auto r = c.request("GET", "/ws");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(r.header("upgrade").value_or(""), "websocket");
  EXPECT_EQ(r.header("sec-websocket-version").value_or(""), "13");
  r = c.request("POST", "/ws");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow").value_or(""), "GET");
  r = c.request("POST", "/both");
  EXPECT_EQ(r.status, 200);
  r = c.request("PUT", "/both");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow").value_or(""), "POST, GET");
}

TEST(Http, RequestDataAndJsonBodies) {
  nx::App app;
  app.state.set("n", 7);
  app.post("/items/{id:int}", [](nx::Request& req, nx::Response& res) -> nx::Task<> {
    auto body = req.json();
    boost::json::object o;
    o["id"] = req.path_params().as<int>("id");
    o["name"] = body.at("name");
    o["q"] = req.query_params().get_or("q", "");
    o["cookie"] = req.cookies().get_or("c", "");
    o["ct"] = req.headers().get_or("content-type", "");
    o["n"] = req.state().get<int>("n");
    o["client"] = req.client().host;
    o["url"] = req.url().str();
    res.status(201).header("X-Test", "1").json(o);
    co_return;
  });
  Served s(app);
  TestClient c(s.port());
  auto r = c.request("POST", "/items/5?q=%C3%A9", "Content-Type: application/json\r\nCookie: c=v\r\n",
                     R"({"name":"widget"})");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.header("x-test").value_or(""), "1");
  EXPECT_EQ(r.header("content-type").value_or(""), "application/json");
  auto v = boost::json::parse(r.body).as_object();
  EXPECT_EQ(v["id"].as_int64(), 5);
  EXPECT_EQ(v["name"].as_string(), "widget");
  EXPECT_EQ(v["q"].as_string(), "é");
  EXPECT_EQ(v["cookie"].as_string(), "v");
  EXPECT_EQ(v["ct"].as_string(), "application/json");
  EXPECT_EQ(v["n"].as_int64(), 7);
  EXPECT_EQ(v["client"].as_string(), "127.0.0.1");
  EXPECT_EQ(v["url"].as_string(), "http://127.0.0.1/items/5?q=%C3%A9");
  // Invalid JSON escaping the handler is a 400; other exceptions a 500.
  r = c.request("POST", "/items/5", {}, "{bad");
  EXPECT_EQ(r.status, 400);
}

TEST(Http, HandlerExceptionIs500AndConnectionSurvives) {
  nx::App app;
  app.get("/boom", [](nx::Request&, nx::Response&) -> nx::Task<> {
    throw std::runtime_error("boom");
    co_return;
  });
  app.get("/ok", says("ok"));
  Served s(app);
  TestClient c(s.port());
  EXPECT_EQ(c.request("GET", "/boom").status, 500);
  EXPECT_EQ(c.request("GET", "/ok").status, 200);
}

TEST(Http, KeepAlivePipeliningAndConnectionClose) {
  nx::App app;
  app.get("/a", says("a"));
  app.post("/b", [](nx::Request& req, nx::Response& res) -> nx::Task<> {
    res.text(std::string(req.body()));
    co_return;
  });
  Served s(app);
  TestClient c(s.port());
  c.send_raw(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
      "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto r1 = c.read_http();
  auto r2 = c.read_http();
  auto r3 = c.read_http();
  EXPECT_EQ(r1.body, "a GET");
  EXPECT_EQ(r2.body, "hello world");
  EXPECT_EQ(r3.body, "a GET");
  EXPECT_EQ(r3.header("connection").value_or(""), "close");
  EXPECT_TRUE(c.wait_closed());
}

TEST(Http, Http10ClosesUnlessKeepAlive) {
  nx::App app;
  app.get("/a", says("a"));
  Served s(app);
  TestClient c(s.port());
  c.send_raw("GET /a HTTP/1.0\r\n\r\n");
  EXPECT_EQ(c.read_http().status, 200);
  EXPECT_TRUE(c.wait_closed());
}

TEST(Http, ExpectContinue) {
  nx::App app;
  app.post("/up", [](nx::Request& req, nx::Response& res) -> nx::Task<> {
    res.text(std::to_string(req.body().size()));
    co_return;
  });
  Served s(app);
  TestClient c(s.port());
  c.send_raw("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  auto cont = c.read_http();
  EXPECT_EQ(cont.status, 100);
  c.send_raw("abcd");
  EXPECT_EQ(c.read_http().body, "4");
}

TEST(Http, Files) {
  nx::App app;
  const auto dir = std::filesystem::temp_directory_path() / ("nexios-http-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "index.html") << "<h1>hi</h1>";
  }
  app.get("/", [dir](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.file(dir / "index.html");
    co_return;
  });
  app.get("/missing", [dir](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.file(dir / "nope.html");
    co_return;
  });
  Served s(app);
  TestClient c(s.port());
  auto r = c.request("GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<h1>hi</h1>");
  EXPECT_EQ(r.header("content-type").value_or(""), "text/html; charset=utf-8");
  EXPECT_EQ(c.request("GET", "/missing").status, 404);
  std::filesystem::remove_all(dir);
}
