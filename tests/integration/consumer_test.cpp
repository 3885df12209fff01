// Class-based consumers (WebSocketConsumer / WebSocketEndpoint) over real connections.

#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>

namespace nx = nexios;
using nx::test::Mailbox;
using nx::test::Served;
using nx::test::TestClient;
using nx::ws::Opcode;

namespace {

// Everything a consumer reports to the test.
Mailbox<std::string>& events() {
  static Mailbox<std::string> box;
  return box;
}

nx::ChannelRegistry& test_registry() {
  static nx::ChannelRegistry registry;
  return registry;
}

// Echoes what it decodes, tagged with the payload kind; reports its lifecycle.
template <const char* Encoding>
class Echo : public nx::WebSocketConsumer<Echo<Encoding>> {
 public:
  Echo() {
    this->encoding = Encoding;
    this->registry_ = &test_registry();
  }
  nx::Task<> on_connect(nx::WebSocket& ws) override {
    co_await ws.accept();
    events().put("connect");
  }
  nx::Task<> on_receive(nx::WebSocket& ws, nx::Payload data) override {
    std::string tag;
    std::string body;
    if (data.is_json()) {
      tag = "json";
      body = boost::json::serialize(data.json());
    } else {
      tag = data.is_text() ? "text" : "bytes";
      body = data.text();
    }
    co_await ws.send_text(tag + ":" + body);
  }
  nx::Task<> on_disconnect(nx::WebSocket&, std::uint16_t close_code) override {
    events().put("disconnect " + std::to_string(close_code));
    co_return;
  }
};

constexpr char json_enc[] = "json";
constexpr char text_enc[] = "text";
constexpr char bytes_enc[] = "bytes";
constexpr char none_enc[] = "none";

// The seeds' ChatRoom, using every helper.
class ChatRoom : public nx::WebSocketEndpoint<ChatRoom> {
 public:
  ChatRoom() {
    encoding = "json";
    registry_ = &test_registry();
  }
  nx::Task<> on_connect(nx::WebSocket& ws) override {
    co_await ws.accept();
    room_ = std::string(ws.path_params().at("room_id"));
    user_ = std::string(ws.query_params().get_or("username", "anonymous"));
    join_group(room_);
    boost::json::object o;
    o["type"] = "system";
    o["message"] = user_ + " joined the chat";
    o["users"] = group(room_).size();
    o["id"] = channel().id();
    co_await broadcast(o, room_, true);
  }
  nx::Task<> on_receive(nx::WebSocket&, nx::Payload data) override {
    const auto& o = data.json().as_object();
    if (o.at("type").as_string() == "message") {
      boost::json::object out;
      out["type"] = "chat";
      out["user"] = user_;
      out["message"] = o.at("content");
      co_await broadcast(out, room_, true);
    } else if (o.at("type").as_string() == "private") {
      boost::json::object out;
      out["type"] = "private";
      out["from"] = user_;
      co_await send_to(std::string(o.at("to").as_string()), out);
    } else if (o.at("type").as_string() == "fail") {
      throw std::runtime_error("asked to fail");
    }
  }
  nx::Task<> on_disconnect(nx::WebSocket&, std::uint16_t code) override {
    boost::json::object o;
    o["type"] = "system";
    o["message"] = user_ + " left the chat";
    o["users"] = group(room_).size() - 1;
    co_await broadcast(o, room_, true);
    leave_group(room_);
    events().put(user_ + " left " + std::to_string(code));
  }

 private:
  std::string room_;
  std::string user_;
};

class Rejecter : public nx::WebSocketConsumer<Rejecter> {
 public:
  nx::Task<> on_connect(nx::WebSocket& ws) override { co_await ws.close(4003, "go away"); }
  nx::Task<> on_disconnect(nx::WebSocket&, std::uint16_t) override {
    events().put("rejecter on_disconnect");  // must not happen
    co_return;
  }
};

}  // namespace

TEST(Consumer, JsonEncoding) {
  nx::App app;
  app.ws_route<Echo<json_enc>>("/json");
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/json").status, 101);
  EXPECT_EQ(events().take(), "connect");
  c.send_text(R"({"a": [1, 2]})");
  EXPECT_EQ(c.read_text(), R"(json:{"a":[1,2]})");
  c.send_binary(R"({"b":true})");  // UTF-8 JSON in a binary frame is accepted
  EXPECT_EQ(c.read_text(), R"(json:{"b":true})");
  c.send_text("{broken");
  auto close = c.read_close();
  EXPECT_EQ(close.code, 1003);
  EXPECT_EQ(events().take(), "disconnect 1003");
}

TEST(Consumer, JsonEncodingRejectsInvalidUtf8InBinaryWith1007) {
  nx::App app;
  app.ws_route<Echo<json_enc>>("/json");
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/json").status, 101);
  EXPECT_EQ(events().take(), "connect");
  c.send_binary("\"\xff\"");
  EXPECT_EQ(c.read_close().code, 1007);
  EXPECT_EQ(events().take(), "disconnect 1007");
}

TEST(Consumer, TextBytesAndNoneEncodings) {
  nx::App app;
  app.ws_route<Echo<text_enc>>("/text");
  app.add_ws_route(Echo<bytes_enc>::as_route("/bytes"));
  nx::WSRouter router{"/r"};
  router.ws_route<Echo<none_enc>>("/none");
  app.mount_ws_router(router);
  Served s(app);
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/text").status, 101);
    EXPECT_EQ(events().take(), "connect");
    c.send_text("hello");
    EXPECT_EQ(c.read_text(), "text:hello");
    c.send_binary("x");
    EXPECT_EQ(c.read_close().code, 1003);
    EXPECT_EQ(events().take(), "disconnect 1003");
  }
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/bytes").status, 101);
    EXPECT_EQ(events().take(), "connect");
    c.send_binary("raw");
    EXPECT_EQ(c.read_text(), "bytes:raw");
    c.send_text("x");
    EXPECT_EQ(c.read_close().code, 1003);
    EXPECT_EQ(events().take(), "disconnect 1003");
  }
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/r/none").status, 101);
    EXPECT_EQ(events().take(), "connect");
    c.send_text("");  // an empty text frame is text (Nexios crashed here)
    EXPECT_EQ(c.read_text(), "text:");
    c.send_binary("b");
    EXPECT_EQ(c.read_text(), "bytes:b");
    c.send_close(4000, "bye");
    EXPECT_EQ(c.read_close().code, 4000);
    EXPECT_EQ(events().take(), "disconnect 4000");
  }
}

TEST(Consumer, ChatRoomHelpersAndExactlyOneDisconnect) {
  nx::App app;
  app.ws_route<ChatRoom>("/room/{room_id}");
  Served s(app, 2);
  TestClient alice(s.port());
  ASSERT_EQ(alice.handshake("/room/lobby?username=alice").status, 101);
  auto joined = boost::json::parse(alice.read_text()).as_object();
  EXPECT_EQ(joined["message"].as_string(), "alice joined the chat");
  EXPECT_EQ(joined["users"].as_int64(), 1);
  const std::string alice_id(joined["id"].as_string());

  TestClient bob(s.port());
  ASSERT_EQ(bob.handshake("/room/lobby?username=bob").status, 101);
  auto bob_joined = alice.read_text();  // both see bob's join
  EXPECT_EQ(bob.read_text(), bob_joined);
  EXPECT_EQ(boost::json::parse(bob_joined).at("users").as_int64(), 2);

  bob.send_text(R"({"type":"message","content":"hi all"})");
  const std::string chat = R"({"type":"chat","user":"bob","message":"hi all"})";
  EXPECT_EQ(alice.read_text(), chat);
  EXPECT_EQ(bob.read_text(), chat);

  // send_to reaches alice only.
  bob.send_text(R"({"type":"private","to":")" + alice_id + R"("})");
  EXPECT_EQ(alice.read_text(), R"({"type":"private","from":"bob"})");

  // History was saved through broadcast(..., save_history=true).
  EXPECT_EQ(test_registry().show_history("lobby").size(), 3u);
  EXPECT_EQ(test_registry().group_size("lobby"), 2u);

  // bob drops: alice hears it, with the member count after bob left.
  bob.close_handshake(1001);
  auto left = boost::json::parse(alice.read_text()).as_object();
  EXPECT_EQ(left["message"].as_string(), "bob left the chat");
  EXPECT_EQ(left["users"].as_int64(), 1);
  EXPECT_EQ(events().take(), "bob left 1001");

  // carol's TCP connection just drops: on_disconnect still sees her in the group (code 1006).
  {
    TestClient carol(s.port());
    ASSERT_EQ(carol.handshake("/room/lobby?username=carol").status, 101);
    EXPECT_EQ(boost::json::parse(alice.read_text()).at("users").as_int64(), 2);
  }
  auto carol_left = boost::json::parse(alice.read_text()).as_object();
  EXPECT_EQ(carol_left["message"].as_string(), "carol left the chat");
  EXPECT_EQ(carol_left["users"].as_int64(), 1);
  EXPECT_EQ(events().take(), "carol left 1006");
  EXPECT_EQ(test_registry().group_size("lobby"), 1u);

  // An exception in on_receive: 1011, and on_disconnect still runs once.
  alice.send_text(R"({"type":"fail"})");
  EXPECT_EQ(alice.read_close().code, 1011);
  EXPECT_EQ(events().take(), "alice left 1011");
  EXPECT_EQ(test_registry().group_size("lobby"), 0u);
  EXPECT_TRUE(events().empty());
  test_registry().flush_history();
}

TEST(Consumer, RejectionInOnConnectSkipsOnDisconnect) {
  nx::App app;
  app.ws_route<Rejecter>("/no");
  Served s(app);
  TestClient c(s.port());
  auto r = c.handshake("/no");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "go away");
  EXPECT_THROW(events().take(std::chrono::milliseconds(200)), std::runtime_error);
}

TEST(Consumer, EncodingNames) {
  EXPECT_EQ(nx::Encoding("json"), nx::Encoding::json);
  EXPECT_EQ(nx::Encoding(""), nx::Encoding::none);
  EXPECT_THROW(nx::Encoding("xml"), std::invalid_argument);
}

namespace {
// The seeds' chat consumer reads `data.at("text")`.
class Reader : public nx::WebSocketConsumer<Reader> {
 public:
  Reader() {
    encoding = "json";
    registry_ = &test_registry();
  }
  nx::Task<> on_receive(nx::WebSocket& ws, nx::Payload data) override {
    const std::string text(data.at("text").as_string());
    co_await ws.send_text("got " + text);
  }
};
}  // namespace

// A message without the key the consumer asks for closes with 1003 and a reason naming the key —
// the client's mistake, not an internal error (1011).
TEST(Consumers, AMissingJsonKeyClosesWith1003NamingTheKey) {
  nx::App app;
  app.ws_route<Reader>("/read");
  Served s(app);
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/read").status, 101);
    c.send_text(R"({"text":"hello"})");
    EXPECT_EQ(c.read_text(), "got hello");
    c.send_text(R"({"txt":"typo"})");
    const auto close = c.read_close();
    EXPECT_EQ(close.code, 1003);
    EXPECT_EQ(close.reason, "JSON key 'text' is missing");
  }
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/read").status, 101);
  c.send_text("[1,2]");
  const auto close = c.read_close();
  EXPECT_EQ(close.code, 1003);
  EXPECT_EQ(close.reason, "expected a JSON object with the key 'text'");
}
