// The LogSink interface over real sockets: a sink of the application's own receives the access
// records (HTTP and WebSocket) with their fields and the connection's id, and the error records
// of failing handlers with the exception's type.

#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <variant>

namespace nx = nexios;
using nx::test::Mailbox;
using nx::test::Served;
using nx::test::TestClient;

namespace {

using Value = std::variant<bool, std::int64_t, std::uint64_t, double, std::string>;

// A record copied out of the sink's call (its views die with the call).
struct Captured {
  nx::LogLevel level = nx::LogLevel::info;
  std::string component;
  std::uint64_t connection_id = 0;
  std::string client;
  std::string message;
  std::map<std::string, Value> fields;

  [[nodiscard]] std::string str(const std::string& key) const {
    auto it = fields.find(key);
    if (it == fields.end() || !std::holds_alternative<std::string>(it->second)) {
      return "<missing " + key + ">";
    }
    return std::get<std::string>(it->second);
  }
  [[nodiscard]] std::int64_t num(const std::string& key) const {
    auto it = fields.find(key);
    if (it == fields.end()) {
      return -1;
    }
    if (const auto* i = std::get_if<std::int64_t>(&it->second)) {
      return *i;
    }
    if (const auto* u = std::get_if<std::uint64_t>(&it->second)) {
      return static_cast<std::int64_t>(*u);
    }
    return -2;
  }
  [[nodiscard]] bool has(const std::string& key) const { return fields.contains(key); }
};

// Forwards the records of the components it watches to a mailbox.
class CaptureSink final : public nx::LogSink {
 public:
  explicit CaptureSink(std::vector<std::string> components) : components_(std::move(components)) {}

  void write(const nx::LogRecord& r) noexcept override {
    if (std::find(components_.begin(), components_.end(), r.component) == components_.end()) {
      return;
    }
    Captured c;
    c.level = r.level;
    c.component = r.component;
    c.connection_id = r.connection_id;
    c.client = r.client;
    c.message = r.message;
    for (const auto& f : r.fields) {
      c.fields[std::string(f.key)] = std::visit(
          [](const auto& v) -> Value {
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string_view>) {
              return std::string(v);
            } else {
              return v;
            }
          },
          f.value);
    }
    records.put(std::move(c));
  }

  Mailbox<Captured> records;

 private:
  std::vector<std::string> components_;
};

// Installs a sink at debug level for the test's lifetime, then restores the defaults.
class LogSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_level_ = nx::log_level();
    nx::set_log_level(nx::LogLevel::debug);
    nx::set_access_log(true);
    nx::set_log_sink(sink_);
  }
  void TearDown() override {
    nx::set_log_sink(nullptr);
    nx::set_log_level(previous_level_);
  }

  // The next record of `component` (others are skipped).
  Captured next(const std::string& component) {
    for (;;) {
      Captured c = sink_->records.take();
      if (c.component == component) {
        return c;
      }
    }
  }

  std::shared_ptr<CaptureSink> sink_ =
      std::make_shared<CaptureSink>(std::vector<std::string>{"access", "server", "websocket", "http"});
  nx::LogLevel previous_level_ = nx::LogLevel::info;
};

}  // namespace

TEST_F(LogSinkTest, HttpAccessRecordsCarryTheirFieldsAndTheConnectionId) {
  nx::App app;
  app.get("/items/{id:int}", [](nx::Request& req, nx::Response& res) -> nx::Task<> {
    res.text("item " + std::string(req.path_params().at("id")));
    co_return;
  });
  Served s(app);
  TestClient c(s.port());

  Captured open = next("server");  // "listening" first
  while (open.message != "connection opened") {
    open = next("server");
  }
  EXPECT_EQ(open.level, nx::LogLevel::debug);
  EXPECT_NE(open.connection_id, 0u);
  EXPECT_EQ(open.client.rfind("127.0.0.1:", 0), 0u) << open.client;

  ASSERT_EQ(c.request("GET", "/items/7").status, 200);
  Captured a = next("access");
  EXPECT_EQ(a.level, nx::LogLevel::info);
  EXPECT_EQ(a.connection_id, open.connection_id);
  EXPECT_EQ(a.client, open.client);
  EXPECT_EQ(a.str("kind"), "http");
  EXPECT_EQ(a.str("method"), "GET");
  EXPECT_EQ(a.str("path"), "/items/7");
  EXPECT_EQ(a.str("route"), "/items/{id:int}");
  EXPECT_EQ(a.num("status"), 200);
  EXPECT_GT(a.num("bytes"), static_cast<std::int64_t>(std::string("item 7").size()));
  ASSERT_TRUE(a.has("duration_ms"));
  EXPECT_GE(std::get<double>(a.fields["duration_ms"]), 0.0);

  // The same connection (keep-alive): the same id; a 404 has no route.
  ASSERT_EQ(c.request("GET", "/nothing").status, 404);
  Captured b = next("access");
  EXPECT_EQ(b.connection_id, open.connection_id);
  EXPECT_EQ(b.num("status"), 404);
  EXPECT_EQ(b.str("route"), "");

  // Another connection: the next id.
  TestClient c2(s.port());
  ASSERT_EQ(c2.request("GET", "/items/8").status, 200);
  Captured d = next("access");
  EXPECT_GT(d.connection_id, open.connection_id);
  EXPECT_EQ(d.str("path"), "/items/8");
}

TEST_F(LogSinkTest, WebSocketAccessRecordIsWrittenWhenTheConnectionEnds) {
  nx::App app;
  app.ws_route("/echo/{room}", nx::test::echo);
  Served s(app);
  std::uint64_t id = 0;
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/echo/lobby?x=1").status, 101);
    c.send_frame(nx::ws::Opcode::text, "hello");
    EXPECT_EQ(c.read_frame().payload, "hello");
    c.send_frame(nx::ws::Opcode::binary, std::string(300, 'b'));
    EXPECT_EQ(c.read_frame().payload.size(), 300u);
    const auto close = c.close_handshake(4001);
    EXPECT_EQ(close.code, 4001);
  }
  Captured a = next("access");
  id = a.connection_id;
  EXPECT_NE(id, 0u);
  EXPECT_EQ(a.client.rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(a.str("kind"), "websocket");
  EXPECT_EQ(a.str("outcome"), "accepted");
  EXPECT_EQ(a.str("path"), "/echo/lobby");
  EXPECT_EQ(a.str("route"), "/echo/{room}");
  EXPECT_EQ(a.num("status"), 101);
  EXPECT_EQ(a.num("close_code"), 4001);
  EXPECT_EQ(a.str("closed_by"), "client");
  EXPECT_EQ(a.num("messages_in"), 2);
  EXPECT_EQ(a.num("messages_out"), 2);
  EXPECT_EQ(a.num("bytes_in"), 305);
  EXPECT_EQ(a.num("bytes_out"), 305);
  ASSERT_TRUE(a.has("duration_ms"));

  // A server-side close: closed_by server, with the handler's code and reason.
  nx::App app2;
  app2.ws_route("/bye", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await ws.close(4002, "done here");
  });
  Served s2(app2);
  {
    TestClient c(s2.port());
    ASSERT_EQ(c.handshake("/bye").status, 101);
    const auto close = c.read_close();
    EXPECT_EQ(close.code, 4002);
    c.send_close(4002);
    EXPECT_TRUE(c.wait_closed());
  }
  Captured b = next("access");
  EXPECT_NE(b.connection_id, id);
  EXPECT_EQ(b.num("close_code"), 4002);
  EXPECT_EQ(b.str("close_reason"), "done here");
  EXPECT_EQ(b.str("closed_by"), "server");
  EXPECT_EQ(b.num("messages_in"), 0);
}

TEST_F(LogSinkTest, RefusedHandshakesAreWebSocketRecordsWithTheirReason) {
  nx::App app;
  app.ws_route("/ws", nx::test::echo);
  app.ws_route("/private", [](nx::WebSocket ws) -> nx::Task<> { co_await ws.close(); });
  Served s(app);
  {
    TestClient c(s.port());
    EXPECT_EQ(c.handshake("/missing").status, 404);
  }
  Captured a = next("access");
  EXPECT_EQ(a.str("kind"), "websocket");
  EXPECT_EQ(a.str("outcome"), "rejected");
  EXPECT_EQ(a.str("reason"), "not_found");
  EXPECT_EQ(a.num("status"), 404);
  {
    TestClient c(s.port());
    EXPECT_EQ(c.handshake("/private").status, 403);
  }
  Captured b = next("access");
  EXPECT_EQ(b.str("outcome"), "rejected");
  EXPECT_EQ(b.str("reason"), "rejected_by_handler");
  EXPECT_EQ(b.str("route"), "/private");
  EXPECT_EQ(b.num("status"), 403);
  {
    TestClient c(s.port());
    // No Sec-WebSocket-Key.
    c.send_raw(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n");
    EXPECT_EQ(c.read_http().status, 400);
  }
  Captured d = next("access");
  EXPECT_EQ(d.str("reason"), "bad_request");
  EXPECT_EQ(d.str("route"), "/ws");
}

namespace app_errors {
struct InventoryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace app_errors

TEST_F(LogSinkTest, HandlerErrorsNameTheExceptionTypeAndTheRoute) {
  nx::App app;
  app.ws_route("/ws/{id}", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    (void)co_await ws.receive_text();
    throw app_errors::InventoryError("out of widgets");
  });
  app.get("/boom", [](nx::Request&, nx::Response&) -> nx::Task<> {
    throw std::out_of_range("index 9");
    co_return;
  });
  Served s(app);
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/ws/3").status, 101);
    c.send_frame(nx::ws::Opcode::text, "go");
    EXPECT_EQ(c.read_close().code, 1011);
  }
  Captured e = next("websocket");
  EXPECT_EQ(e.level, nx::LogLevel::error);
  EXPECT_EQ(e.str("exception_type"), "app_errors::InventoryError");
  EXPECT_EQ(e.str("exception"), "out of widgets");
  EXPECT_EQ(e.str("route"), "/ws/{id}");
  EXPECT_EQ(e.str("path"), "/ws/3");
  EXPECT_EQ(e.num("close_code"), 1011);
  EXPECT_NE(e.connection_id, 0u);

  TestClient c(s.port());
  EXPECT_EQ(c.request("GET", "/boom").status, 500);
  Captured h = next("http");
  EXPECT_EQ(h.level, nx::LogLevel::error);
  EXPECT_EQ(h.str("exception_type"), "std::out_of_range");
  EXPECT_EQ(h.str("exception"), "index 9");
  EXPECT_EQ(h.str("route"), "/boom");
  EXPECT_EQ(h.num("status"), 500);
}

TEST_F(LogSinkTest, TheLevelFiltersBeforeTheSink) {
  nx::set_log_level(nx::LogLevel::warning);
  nx::log(nx::LogLevel::info, "server", "not written");
  nx::log(nx::LogLevel::warning, "server", "written", {{"n", 1}});
  Captured c = next("server");
  EXPECT_EQ(c.message, "written");
  EXPECT_EQ(c.num("n"), 1);
  EXPECT_FALSE(nx::access_log_enabled());
  nx::set_log_level(nx::LogLevel::info);
  nx::set_access_log(false);
  EXPECT_FALSE(nx::access_log_enabled());
  nx::set_access_log(true);
  EXPECT_TRUE(nx::access_log_enabled());
}
