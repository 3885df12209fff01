// What leaves the server is valid: every text frame is UTF-8 and every JSON message is JSON
// (RFC 8259), whatever the app or a client put in; numbers JSON cannot carry are refused when
// received (close 1007) and when sent. Driven through real connections.
#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>

namespace nx = nexios;
using nx::test::Mailbox;
using nx::test::Served;
using nx::test::TestClient;
using nx::ws::Opcode;

namespace {

template <class F>
nx::Task<> report(Mailbox<std::string>& box, F body) {
  std::string what = "ok";
  try {
    co_await body();
  } catch (const std::invalid_argument& e) {
    what = std::string("invalid_argument:") + e.what();
  } catch (const std::exception& e) {
    what = std::string("exception:") + e.what();
  }
  box.put(what);
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// An app whose /json route echoes each JSON message with send_json until the peer leaves.
struct JsonEcho {
  JsonEcho() {
    app.ws_route("/json", [](nx::WebSocket ws) -> nx::Task<> {
      co_await ws.accept();
      for (;;) {
        auto v = co_await ws.receive_json();
        co_await ws.send_json(v);
      }
    });
    app.ws_route("/channel", [](nx::WebSocket ws) -> nx::Task<> {
      co_await ws.accept();
      nx::Channel ch(ws, nx::PayloadTypeEnum::JSON);
      for (;;) {
        auto p = co_await ch.receive();
        co_await ch.send(std::move(p));
      }
    });
    served.emplace(app);
  }
  nx::App app;
  std::optional<Served> served;
};

}  // namespace

TEST(WireValidity, NumbersOutOfRangeAreRefusedWith1007) {
  JsonEcho s;
  const std::string huge_integer = "{\"content\":" + std::string(60'000, '7') + "}";
  for (const std::string route : {"/json", "/channel"}) {
    for (const std::string& bad : {std::string("{\"content\":1e999999}"), std::string("[-1E400]"), huge_integer}) {
      TestClient c(s.served->port());
      ASSERT_EQ(c.handshake(route).status, 101);
      c.send_text("{\"content\":1e308,\"n\":12345678901234567890}");  // large but finite: fine
      const std::string back = c.read_text();
      EXPECT_EQ(boost::json::parse(back), boost::json::parse("{\"content\":1e308,\"n\":12345678901234567890}"));
      c.send_text(bad);
      const auto close = c.read_close();
      EXPECT_EQ(close.code, 1007) << route << " " << bad.substr(0, 40);
      EXPECT_EQ(close.reason, "JSON number out of range");
    }
  }
}

TEST(WireValidity, SendJsonRefusesWhatIsNotJson) {
  nx::App app;
  Mailbox<std::string> box;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    boost::json::object inf;
    inf["x"] = std::numeric_limits<double>::infinity();
    boost::json::object nan;
    nan["x"] = boost::json::array{1, std::numeric_limits<double>::quiet_NaN()};
    boost::json::object bad_text;
    bad_text["name"] = "bad\xff";
    co_await report(box, [&]() -> nx::Task<> { co_await ws.send_json(inf); });
    co_await report(box, [&]() -> nx::Task<> { co_await ws.send_json(nan); });
    co_await report(box, [&]() -> nx::Task<> { co_await ws.send_json(bad_text); });
    co_await report(box, [&]() -> nx::Task<> { co_await ws.send_json(bad_text, nx::JsonMode::binary); });
    co_await report(box, [&]() -> nx::Task<> { co_await ws.send_text("\xed\xa0\x80"); });  // a surrogate
    co_await ws.send_text("still open");
    co_await ws.receive();
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  EXPECT_TRUE(starts_with(box.take(), "invalid_argument:WebSocket.send_json: a number is not finite"));
  EXPECT_TRUE(starts_with(box.take(), "invalid_argument:WebSocket.send_json: a number is not finite"));
  EXPECT_TRUE(starts_with(box.take(), "invalid_argument:WebSocket: text is not valid UTF-8"));
  EXPECT_TRUE(starts_with(box.take(), "invalid_argument:WebSocket.send_json: a string is not valid UTF-8"));
  EXPECT_TRUE(starts_with(box.take(), "invalid_argument:WebSocket: text is not valid UTF-8"));
  // Nothing of the refused messages reached the client: the next frame is the good one.
  const auto f = c.read_frame();
  EXPECT_EQ(f.opcode, Opcode::text);
  EXPECT_EQ(f.payload, "still open");
}

TEST(WireValidity, GroupSendAndSendToRefuseInvalidTextAndNumbers) {
  nx::ChannelRegistry registry;
  nx::App app;
  Mailbox<nx::Channel> joined;
  app.ws_route("/join/{type}", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    nx::Channel ch(ws, nx::PayloadType(ws.path_params().at("type")));
    (void)registry.add_channel_to_group(ch, "room");
    joined.put(ch);
    co_await ws.receive();
  });
  Served s(app);
  TestClient json_member(s.port());
  ASSERT_EQ(json_member.handshake("/join/json").status, 101);
  const nx::Channel json_channel = joined.take();
  TestClient bytes_member(s.port());
  ASSERT_EQ(bytes_member.handshake("/join/bytes").status, 101);
  (void)joined.take();

  boost::json::object bad_name;
  bad_name["type"] = "join";
  bad_name["username"] = "bad\xff";  // as a handler would build it from raw request bytes
  boost::json::object overflow;
  overflow["content"] = std::numeric_limits<double>::infinity();
  for (const nx::Payload& bad : {nx::Payload(bad_name), nx::Payload(overflow), nx::Payload("over\xc0\xaflong")}) {
    EXPECT_THROW(nx::test::run(registry.group_send("room", bad, true)), std::invalid_argument);
    EXPECT_THROW(nx::test::run(registry.send_to(json_channel.id(), bad)), std::invalid_argument);
  }
  // Nothing was sent or saved: the members' next message is the good one, and the history is empty.
  EXPECT_TRUE(registry.show_history("room").empty());
  boost::json::object good;
  good["content"] = "hi";
  const auto r = nx::test::run(registry.group_send("room", good));
  EXPECT_EQ(r.delivered, 2u);
  EXPECT_EQ(json_member.read_text(), "{\"content\":\"hi\"}");
  const auto f = bytes_member.read_frame();
  EXPECT_EQ(f.opcode, Opcode::binary);
  EXPECT_EQ(f.payload, "{\"content\":\"hi\"}");
}
