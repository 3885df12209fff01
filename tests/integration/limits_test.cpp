// Every limit of nexios::Limits, exceeded by one (and met exactly where that makes sense).

#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nx = nexios;
using nx::test::Mailbox;
using nx::test::Served;
using nx::test::TestClient;
using nx::ws::Opcode;
using namespace std::chrono_literals;

namespace {


nx::HttpHandler ok() {
  return [](nx::Request& req, nx::Response& res) -> nx::Task<> {
    res.text(std::to_string(req.body().size()));
    co_return;
  };
}

}  // namespace

TEST(Limits, MaxMessageSizeExactlyAndPlusOne) {
  nx::App app;
  app.limits.max_message_size = 1000;
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.send_text(std::string(1000, 'a'));
  EXPECT_EQ(c.read_text().size(), 1000u);
  // Fragmented: 600 + 401 = 1001 bytes. The 1009 comes at the second header, before its payload.
  c.send_frame(Opcode::text, std::string(600, 'a'), false);
  std::string second = TestClient::encode(Opcode::continuation, std::string(401, 'a'));
  c.send_raw(second.substr(0, 8));  // header (2 + 2 + 4 mask) only
  auto close = c.read_close();
  EXPECT_EQ(close.code, 1009);
  EXPECT_TRUE(c.wait_closed());
}

TEST(Limits, MaxHeaderBytesAndCount) {
  nx::App app;
  app.limits.max_header_bytes = 200;
  app.limits.max_headers = 3;
  app.get("/", ok());
  Served s(app);
  {
    // Exactly 200 bytes of request line and headers, final CRLF included.
    std::string req = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    req += std::string(200 - req.size() - 4, 'p') + "\r\n\r\n";
    ASSERT_EQ(req.size(), 200u);
    TestClient c(s.port());
    c.send_raw(req);
    EXPECT_EQ(c.read_http().status, 200);
    std::string over = req;
    over.insert(over.find("X-Pad: ") + 7, "p");
    TestClient c2(s.port());
    c2.send_raw(over);
    EXPECT_EQ(c2.read_http().status, 431);
    EXPECT_TRUE(c2.wait_closed());
  }
  {
    TestClient c(s.port());
    c.send_raw("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n");
    EXPECT_EQ(c.read_http().status, 200);
    TestClient c2(s.port());
    c2.send_raw("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    EXPECT_EQ(c2.read_http().status, 431);
  }
}

TEST(Limits, MaxBodySize) {
  nx::App app;
  app.limits.max_body_size = 10;
  app.post("/", ok());
  Served s(app);
  TestClient c(s.port());
  EXPECT_EQ(c.request("POST", "/", {}, std::string(10, 'b')).body, "10");
  TestClient c2(s.port());
  EXPECT_EQ(c2.request("POST", "/", {}, std::string(11, 'b')).status, 413);
  TestClient c3(s.port());
  c3.send_raw("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nabcde\r\n0\r\n\r\n");
  EXPECT_EQ(c3.read_http().status, 413);
}

TEST(Limits, HeaderTimeoutAnswers408) {
  nx::App app;
  app.limits.header_timeout = 200ms;
  app.get("/", ok());
  Served s(app);
  TestClient c(s.port());
  c.send_raw("GET / HTTP/1.1\r\nHost: x\r\n");  // never finished
  EXPECT_EQ(c.read_http().status, 408);
  EXPECT_TRUE(c.wait_closed());
}

TEST(Limits, BodyTimeoutAnswers408) {
  nx::App app;
  app.limits.body_timeout = 200ms;
  app.post("/", ok());
  Served s(app);
  TestClient c(s.port());
  c.send_raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(c.read_http().status, 408);
}

TEST(Limits, KeepAliveTimeoutClosesIdleConnections) {
  nx::App app;
  app.limits.keep_alive_timeout = 200ms;
  app.get("/", ok());
  Served s(app);
  TestClient c(s.port());
  EXPECT_EQ(c.request("GET", "/").status, 200);
  EXPECT_TRUE(c.wait_closed());
}

TEST(Limits, CloseTimeoutDropsAPeerThatNeverAnswersTheClose) {
  nx::App app;
  app.limits.close_timeout = 200ms;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await ws.close(1000, "done");
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  EXPECT_EQ(c.read_close().code, 1000);
  // We never answer: the server drops the connection after close_timeout.
  EXPECT_TRUE(c.wait_closed());
}

TEST(Limits, IdleTimeoutClosesWith1001) {
  nx::App app;
  app.limits.idle_timeout = 200ms;
  app.limits.ping_interval = 0ms;  // no pings: nothing keeps the peer "active"
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  auto close = c.read_close();
  EXPECT_EQ(close.code, 1001);
  EXPECT_EQ(close.reason, "idle timeout");
}

TEST(Limits, PingIntervalSendsPingsAndPongsKeepTheConnectionAlive) {
  nx::App app;
  app.limits.ping_interval = 50ms;
  app.limits.idle_timeout = 400ms;
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  // Answer 12 pings (about 600 ms, longer than the idle timeout): the connection stays open.
  for (int i = 0; i < 12; ++i) {
    auto f = c.read_frame();
    ASSERT_EQ(f.opcode, Opcode::ping);
    c.send_frame(Opcode::pong, f.payload);
  }
  c.send_text("still here");
  EXPECT_EQ(c.read_message().payload, "still here");
}

TEST(Limits, SendBufferHighWaterMakesSendWaitForTheReader) {
  nx::App app;
  app.limits.send_buffer_high_water = 64 * 1024;
  Mailbox<int> progress;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    const std::string chunk(16 * 1024, 'x');
    for (int i = 0; i < 2000; ++i) {  // 32 MiB: far beyond socket buffers
      co_await ws.send_bytes(chunk);
    }
    progress.put(2000);
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  // Not reading: the handler cannot have finished (its sends wait). Then read everything.
  EXPECT_THROW(progress.take(300ms), std::runtime_error);
  std::size_t got = 0;
  while (got < 2000u * 16 * 1024) {
    got += c.read_message().payload.size();
  }
  EXPECT_EQ(progress.take(), 2000);
}

TEST(Limits, MaxConnectionsRefusesTheNextOneWith503) {
  nx::App app;
  app.limits.max_connections = 2;
  app.get("/", ok());
  Served s(app);
  TestClient a(s.port());
  TestClient b(s.port());
  EXPECT_EQ(a.request("GET", "/").status, 200);
  EXPECT_EQ(b.request("GET", "/").status, 200);
  TestClient c(s.port());
  EXPECT_EQ(c.read_http().status, 503);
  EXPECT_TRUE(c.wait_closed());
  // The others still work.
  EXPECT_EQ(a.request("GET", "/").status, 200);
}

// ---- per-connection rates ------------------------------------------------------------------------

namespace {
// `n` text frames "m1".."mn" as one write, so the server parses them from one read (no refill of
// the budget between them).
std::string burst(TestClient& c, int n) {
  std::string out;
  for (int i = 1; i <= n; ++i) {
    out += c.encode(Opcode::text, "m" + std::to_string(i));
  }
  return out;
}
}  // namespace

TEST(Limits, MessagesPerSecondClosePolicyClosesOnTheFirstMessageOverTheBudget) {
  nx::App app;
  app.limits.max_messages_per_second = 10;
  app.limits.rate_limit_policy = nx::Limits::RateLimitPolicy::close;
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.send_raw(burst(c, 11));
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(c.read_text(), "m" + std::to_string(i));  // a second's budget: all 10 served
  }
  const auto close = c.read_close();
  EXPECT_EQ(close.code, 1008);
  EXPECT_EQ(close.reason, "rate limit exceeded");
}

TEST(Limits, MessagesPerSecondDropPolicyDropsWhatIsOverTheBudgetAndKeepsTheConnection) {
  nx::App app;
  app.limits.max_messages_per_second = 10;
  app.limits.rate_limit_policy = nx::Limits::RateLimitPolicy::drop;
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.send_raw(burst(c, 15));
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(c.read_text(), "m" + std::to_string(i));
  }
  // m11..m15 were dropped: the next message to come back is a probe, once the budget refills
  // (one message per 100 ms at this rate). Each probe is followed by a ping, whose pong paces the
  // loop: a round trip per probe, never a fixed sleep.
  std::string next;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (next.empty() && std::chrono::steady_clock::now() < deadline) {
    c.send_text("probe");
    c.send_frame(Opcode::ping, "p");
    for (;;) {
      auto f = c.read_frame();
      if (f.opcode == Opcode::text) {
        next = f.payload;
      }
      if (f.opcode == Opcode::pong) {
        break;
      }
    }
  }
  EXPECT_EQ(next, "probe");
}

TEST(Limits, MessagesPerSecondThrottlePolicyDeliversEverythingAtTheRate) {
  nx::App app;
  app.limits.max_messages_per_second = 10;  // the default policy: throttle
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  const auto start = std::chrono::steady_clock::now();
  // Two bursts: the second arrives while the server has stopped reading.
  c.send_raw(burst(c, 15));
  c.send_raw(c.encode(Opcode::text, "after"));
  for (int i = 1; i <= 15; ++i) {
    EXPECT_EQ(c.read_text(), "m" + std::to_string(i));  // nothing lost, in order
  }
  EXPECT_EQ(c.read_text(), "after");
  // 16 messages at 10 per second with 10 in the bucket: the last 6 waited for 0.6 s of refill.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 500ms);
}

TEST(Limits, BytesPerSecondCountsWhatIsReadFromTheSocket) {
  nx::App app;
  app.limits.max_bytes_per_second = 1024;
  app.limits.rate_limit_policy = nx::Limits::RateLimitPolicy::close;
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/ws").status, 101);
    // 1016 bytes of payload + 8 of header (2, a 16-bit length, the mask) = 1024: the budget.
    c.send_text(std::string(1016, 'x'));
    EXPECT_EQ(c.read_text().size(), 1016u);
  }
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.send_text(std::string(1017, 'x'));  // one byte over
  EXPECT_EQ(c.read_close().code, 1008);
}

// ---- per-address limits ---------------------------------------------------------------------------

TEST(Limits, ConnectionsPerAddressBeyondTheLimitGet429) {
  nx::App app;
  app.limits.max_connections_per_address = 3;
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  std::vector<std::unique_ptr<TestClient>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<TestClient>(s.port()));
    ASSERT_EQ(open.back()->handshake("/ws").status, 101);
  }
  {
    TestClient fourth(s.port());
    auto r = fourth.read_http();  // answered at once, before any request
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.header("Retry-After"), "1");
    EXPECT_TRUE(r.header("Date"));
    EXPECT_TRUE(fourth.wait_closed());
  }
  // One leaves: a newcomer gets in once the server has noticed.
  open.front()->close_handshake();
  open.erase(open.begin());
  bool admitted = false;
  for (int attempt = 0; attempt < 200 && !admitted; ++attempt) {
    TestClient c(s.port());
    admitted = c.handshake("/ws").status == 101;  // a refusal is answered at once: no busy wait
  }
  EXPECT_TRUE(admitted);
}

TEST(Limits, NewConnectionsPerSecondPerAddressBeyondTheRateGet429) {
  nx::App app;
  app.limits.max_connection_rate_per_address = 5;
  app.get("/", ok());
  Served s(app);
  for (int i = 0; i < 5; ++i) {
    TestClient c(s.port());
    EXPECT_EQ(c.request("GET", "/").status, 200) << i;
  }
  TestClient sixth(s.port());
  auto r = sixth.read_http();
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("retry in a second"), std::string::npos);
}
