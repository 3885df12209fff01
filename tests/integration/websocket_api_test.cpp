// The WebSocket API (accept / receive* / send* / close / state / request data), driven through a
// real server on 127.0.0.1 by a real client.

#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace nx = nexios;
using nx::test::Mailbox;
using nx::test::Served;
using nx::test::TestClient;
using nx::ws::Opcode;

namespace {


// Runs `body`, reporting the type of exception it throws ("" if none) to the mailbox.
template <class F>
nx::Task<> report(Mailbox<std::string>& box, F body) {
  std::string what;
  try {
    co_await body();
  } catch (const nx::WebSocketDisconnect& e) {
    what = "WebSocketDisconnect:" + std::to_string(e.code) + ":" + e.reason;
  } catch (const std::invalid_argument& e) {
    what = std::string("invalid_argument:") + e.what();
  } catch (const std::logic_error& e) {
    what = std::string("logic_error:") + e.what();
  } catch (const std::exception& e) {
    what = std::string("exception:") + e.what();
  }
  box.put(what);
}

}  // namespace

TEST(WebSocketApi, EchoesTextAndBinaryOfManySizes) {
  nx::App app;
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  for (std::size_t size : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 1u << 20}) {
    std::string text(size, 'a');
    c.send_text(text);
    auto f = c.read_message();
    EXPECT_EQ(f.opcode, Opcode::text);
    EXPECT_EQ(f.payload, text) << size;
    std::string bin(size, '\xff');
    c.send_binary(bin);
    f = c.read_message();
    EXPECT_EQ(f.opcode, Opcode::binary);
    EXPECT_EQ(f.payload, bin) << size;
  }
  auto close = c.close_handshake(4000);
  EXPECT_EQ(close.code, 4000);
}

TEST(WebSocketApi, AcceptKeyAndResponseHeaders) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
    // (GCC 12 rejects a braced initializer list inside a co_await expression: build it first.)
    std::vector<std::pair<std::string, std::string>> headers{{"X-Extra", "yes"}};
    co_await ws.accept("chat.v2", std::move(headers));
    co_await ws.send_text(std::string(ws.subprotocol()));
  });
  Served s(app);
  TestClient c(s.port());
  auto r = c.handshake("/ws", "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n");
  ASSERT_EQ(r.status, 101);
  EXPECT_EQ(r.header("sec-websocket-accept").value_or(""), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(r.header("sec-websocket-protocol").value_or(""), "chat.v2");
  EXPECT_EQ(r.header("x-extra").value_or(""), "yes");
  EXPECT_EQ(c.read_text(), "chat.v2");
  // The handler returned: the server closes normally.
  EXPECT_EQ(c.read_close().code, 1000);
}

TEST(WebSocketApi, SubprotocolNotOfferedIsAnError) {
  nx::App app;
  Mailbox<std::string> box;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    try {
      co_await ws.accept("nope");
    } catch (const std::invalid_argument&) {
      box.put("invalid_argument");
      throw;
    }
  });
  Served s(app);
  TestClient c(s.port());
  auto r = c.handshake("/ws", "Sec-WebSocket-Protocol: chat\r\n");
  EXPECT_EQ(r.status, 500);  // a handler error before accept
  EXPECT_EQ(box.take(), "invalid_argument");
}

TEST(WebSocketApi, CloseBeforeAcceptRejectsWith403) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> { co_await ws.close(4003, "not you"); });
  Served s(app);
  TestClient c(s.port());
  auto r = c.handshake("/ws");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "not you");
  EXPECT_TRUE(c.wait_closed());
}

TEST(WebSocketApi, HandlerReturningWithoutAcceptRejectsWith403) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket) -> nx::Task<> { co_return; });
  Served s(app);
  TestClient c(s.port());
  EXPECT_EQ(c.handshake("/ws").status, 403);
}

TEST(WebSocketApi, WebSocketExceptionBeforeAcceptRejectsWith403) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket) -> nx::Task<> {
    throw nx::WebSocketException(4001, "unauthorized");
    co_return;
  });
  Served s(app);
  TestClient c(s.port());
  auto r = c.handshake("/ws");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "unauthorized");
}

TEST(WebSocketApi, ExceptionBeforeAcceptAnswers500) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket) -> nx::Task<> {
    throw std::runtime_error("boom");
    co_return;
  });
  Served s(app);
  TestClient c(s.port());
  EXPECT_EQ(c.handshake("/ws").status, 500);
}

TEST(WebSocketApi, WebSocketExceptionClosesWithExactlyThatCodeAndReasonOnce) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await ws.receive_text();
    throw nx::WebSocketException(4001, "nope");
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.send_text("go");
  auto close = c.read_close();
  EXPECT_EQ(close.code, 4001);
  EXPECT_EQ(close.reason, "nope");
  c.send_close(4001);
  // Exactly one close frame: the next thing is the end of the TCP connection.
  EXPECT_TRUE(c.wait_closed());
}

TEST(WebSocketApi, UncaughtExceptionClosesWith1011) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await ws.receive_text();
    throw std::runtime_error("bug");
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.send_text("go");
  auto close = c.read_close();
  EXPECT_EQ(close.code, 1011);
  EXPECT_EQ(close.reason, "Internal Server Error");
}

TEST(WebSocketApi, CloseAfterCloseSendsOneFrame) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await ws.close(4000, "bye");
    co_await ws.close(4002, "again");  // no-op
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  auto close = c.read_close();
  EXPECT_EQ(close.code, 4000);
  EXPECT_EQ(close.reason, "bye");
  c.send_close(4000);
  EXPECT_TRUE(c.wait_closed());
}

TEST(WebSocketApi, WrongStateCallsThrowLogicError) {
  nx::App app;
  Mailbox<std::string> box;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await report(box, [&]() -> nx::Task<> { co_await ws.send_text("early"); });
    co_await report(box, [&]() -> nx::Task<> { co_await ws.receive_text(); });
    co_await ws.accept();
    co_await report(box, [&]() -> nx::Task<> { co_await ws.accept(); });
    co_await ws.close();
    co_await report(box, [&]() -> nx::Task<> { co_await ws.send_text("late"); });
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  EXPECT_EQ(box.take(), "logic_error:WebSocket is not connected. Need to call \"accept\" first.");
  EXPECT_EQ(box.take(), "logic_error:WebSocket is not connected. Need to call \"accept\" first.");
  EXPECT_EQ(box.take().rfind("logic_error:WebSocket.accept", 0), 0u);
  EXPECT_EQ(box.take(), "logic_error:Cannot call \"send\" once a close message has been sent.");
  EXPECT_EQ(c.read_close().code, 1000);
}

TEST(WebSocketApi, ReceiveBeforeAcceptGivesConnectEvent) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
    auto m = co_await ws.receive();
    if (m.type != nx::Message::Type::connect) {
      throw std::runtime_error("expected connect");
    }
    if (ws.client_state() != nx::WebSocketState::CONNECTED ||
        ws.application_state() != nx::WebSocketState::CONNECTING || ws.is_connected()) {
      throw std::runtime_error("bad state before accept");
    }
    co_await ws.accept();
    co_await ws.send_text(ws.is_connected() ? "connected" : "not connected");
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  EXPECT_EQ(c.read_text(), "connected");
}

TEST(WebSocketApi, PeerCloseSurfacesAsDisconnectWithCodeAndReason) {
  nx::App app;
  Mailbox<std::string> box;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await report(box, [&]() -> nx::Task<> {
      for (;;) {
        co_await ws.receive_text();
      }
    });
    // After the disconnect the state says so, and receive() is a logic error.
    box.put(ws.client_state() == nx::WebSocketState::DISCONNECTED ? "client disconnected" : "still connected");
    co_await report(box, [&]() -> nx::Task<> { co_await ws.receive(); });
    // Sending now reports the disconnect, not a logic error.
    co_await report(box, [&]() -> nx::Task<> { co_await ws.send_text("gone?"); });
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.send_close(4000, "bye");
  EXPECT_EQ(c.read_close().code, 4000);
  EXPECT_EQ(box.take(), "WebSocketDisconnect:4000:bye");
  EXPECT_EQ(box.take(), "client disconnected");
  EXPECT_EQ(box.take(), "logic_error:Cannot call \"receive\" once a disconnect message has been received.");
  EXPECT_EQ(box.take(), "WebSocketDisconnect:4000:bye");
  EXPECT_TRUE(c.wait_closed());
}

TEST(WebSocketApi, TcpDropSurfacesAs1006) {
  nx::App app;
  Mailbox<std::string> box;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await report(box, [&]() -> nx::Task<> { co_await ws.receive_text(); });
  });
  Served s(app);
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/ws").status, 101);
  }  // the client socket closes without a close frame
  EXPECT_EQ(box.take(), "WebSocketDisconnect:1006:");
}

TEST(WebSocketApi, TypedReceiveOfTheWrongKindClosesWith1003) {
  nx::App app;
  app.ws_route("/text", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await ws.receive_text();
  });
  app.ws_route("/bytes", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await ws.receive_bytes();
  });
  Served s(app);
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/text").status, 101);
    c.send_binary("x");
    EXPECT_EQ(c.read_close().code, 1003);
  }
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/bytes").status, 101);
    c.send_text("x");
    EXPECT_EQ(c.read_close().code, 1003);
  }
}

TEST(WebSocketApi, JsonRoundTripIsCompactAndUtf8Unescaped) {
  nx::App app;
  app.ws_route("/json", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    auto v = co_await ws.receive_json();
    co_await ws.send_json(v);
    auto b = co_await ws.receive_json(nx::JsonMode::binary);
    co_await ws.send_json(b, nx::JsonMode::binary);
    co_await ws.receive_json();  // invalid JSON → JsonDecodeError → 1003
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/json").status, 101);
  c.send_text(R"({ "a" : "é", "b" : [1, 2] })");
  EXPECT_EQ(c.read_text(), R"({"a":"é","b":[1,2]})");
  c.send_binary(R"({"x": null})");
  auto f = c.read_message();
  EXPECT_EQ(f.opcode, Opcode::binary);
  EXPECT_EQ(f.payload, R"({"x":null})");
  c.send_text("{not json");
  auto close = c.read_close();
  EXPECT_EQ(close.code, 1003);
  EXPECT_NE(close.reason.find("invalid JSON"), std::string::npos);
}

TEST(WebSocketApi, IterTextEndsQuietlyOnDisconnect) {
  nx::App app;
  Mailbox<std::string> box;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    std::string all;
    auto it = ws.iter_text();
    while (auto t = co_await it.next()) {
      all += *t;
    }
    box.put(all);
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.send_text("a");
  c.send_text("b");
  c.send_close(1000);
  EXPECT_EQ(box.take(), "ab");
}

TEST(WebSocketApi, InvalidArgumentsAreRejected) {
  nx::App app;
  Mailbox<std::string> box;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await report(box, [&]() -> nx::Task<> { co_await ws.send_text("\xc3\x28"); });
    co_await report(box, [&]() -> nx::Task<> { co_await ws.close(1005); });
    co_await report(box, [&]() -> nx::Task<> { co_await ws.close(1000, std::string(124, 'r')); });
    co_await ws.send_text("still open");
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  EXPECT_EQ(box.take().rfind("invalid_argument:WebSocket: text is not valid UTF-8", 0), 0u);
  EXPECT_EQ(box.take().rfind("invalid_argument:WebSocket.close: close code 1005", 0), 0u);
  EXPECT_EQ(box.take(), "invalid_argument:WebSocket.close: reason longer than 123 bytes");
  EXPECT_EQ(c.read_text(), "still open");
}

TEST(WebSocketApi, RequestDataIsExposed) {
  nx::App app;
  app.state.set("greeting", std::string("hello"));
  app.ws_route("/rooms/{room}/{n:int}", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    boost::json::object o;
    o["room"] = ws.path_params().at("room");
    o["n"] = ws.path_params().as<int>("n");
    o["q"] = ws.query_params().get_or("q", "");
    o["qs"] = static_cast<std::int64_t>(ws.query_params().get_all("q").size());
    o["agent"] = ws.headers().get_or("user-agent", "");
    o["cookie"] = ws.cookies().get_or("session", "");
    o["url"] = ws.url().str();
    o["path"] = ws.path();
    o["client"] = ws.client().host;
    o["port_ok"] = ws.client().port != 0;
    o["greeting"] = ws.state().get<std::string>("greeting");
    co_await ws.send_json(o);
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/rooms/a%20b/42?q=1&q=two+words", "User-Agent: tester\r\nCookie: a=1; session=xyz\r\n").status,
            101);
  auto v = boost::json::parse(c.read_text()).as_object();
  EXPECT_EQ(v["room"].as_string(), "a b");
  EXPECT_EQ(v["n"].as_int64(), 42);
  EXPECT_EQ(v["q"].as_string(), "two words");
  EXPECT_EQ(v["qs"].as_int64(), 2);
  EXPECT_EQ(v["agent"].as_string(), "tester");
  EXPECT_EQ(v["cookie"].as_string(), "xyz");
  EXPECT_EQ(v["url"].as_string(), "ws://127.0.0.1/rooms/a b/42?q=1&q=two+words");
  EXPECT_EQ(v["path"].as_string(), "/rooms/a b/42");
  EXPECT_EQ(v["client"].as_string(), "127.0.0.1");
  EXPECT_TRUE(v["port_ok"].as_bool());
  EXPECT_EQ(v["greeting"].as_string(), "hello");
}

TEST(WebSocketApi, MessageViewStaysValidUntilNextReceive) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    auto first = co_await ws.receive();
    // Sending (and the reader parsing more input meanwhile) must not disturb the view.
    co_await ws.send_text("ack");
    co_await ws.send_text(first.text());
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  // Two messages in one TCP write: the second is parsed while the first is still held.
  c.send_raw(TestClient::encode(Opcode::text, std::string(5000, 'x')) + TestClient::encode(Opcode::text, "second"));
  EXPECT_EQ(c.read_text(), "ack");
  EXPECT_EQ(c.read_text(), std::string(5000, 'x'));
}

TEST(WebSocketApi, PingIsAnsweredWhileTheHandlerIsBusyElsewhere) {
  nx::App app;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    // Never receives: pings and the close handshake are still handled.
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::hours(1));
    boost::system::error_code ec;
    co_await t.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.send_frame(Opcode::ping, "are you there");
  auto f = c.read_frame();
  EXPECT_EQ(f.opcode, Opcode::pong);
  EXPECT_EQ(f.payload, "are you there");
  c.send_close(1000);
  EXPECT_EQ(c.read_close().code, 1000);
  EXPECT_TRUE(c.wait_closed());
}

TEST(WebSocketApi, ResetWithMessagesQueuedLeavesTheServerServing) {
  // A client floods messages without reading, then resets the connection: the messages already
  // parsed stay readable (the handler holds views into them) and nothing touches freed memory.
  nx::App app;
  app.ws_route("/ws", nx::test::echo);
  Served s(app);
  for (int round = 0; round < 3; ++round) {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/ws").status, 101);
    std::string burst;
    for (int i = 0; i < 20000; ++i) {
      burst += TestClient::encode(Opcode::text, "message " + std::to_string(i));
    }
    c.send_raw(burst);
    ::linger lg{1, 0};  // close with RST
    ::setsockopt(c.socket().native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  TestClient fresh(s.port());
  ASSERT_EQ(fresh.handshake("/ws").status, 101);
  fresh.send_text("still serving");
  EXPECT_EQ(fresh.read_text(), "still serving");
}

// A peer that ends its side of TCP without a close frame has left: the server finishes the
// connection at once, even with frames queued for it, instead of holding it (and its groups)
// until close_timeout. (The handler here lingers after the disconnect, as a handler that cleans up
// does: by then the queued frames have been written, and nothing else would end the connection.)
TEST(WebSocketApi, PeerLeavingWithoutACloseFrameIsFinishedAtOnce) {
  nx::App app;
  app.limits.close_timeout = std::chrono::seconds(60);
  Mailbox<std::string> box;
  app.ws_route("/ws", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    co_await ws.send_text(std::string(3 * 1024 * 1024, 'x'));  // queued: more than the socket takes at once
    co_await report(box, [&]() -> nx::Task<> { (void)co_await ws.receive_text(); });
    boost::asio::steady_timer linger(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(300));
    co_await linger.async_wait(boost::asio::use_awaitable);
  });
  Served s(app);
  TestClient c(s.port(), std::chrono::seconds(20));
  ASSERT_EQ(c.handshake("/ws").status, 101);
  c.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send);  // FIN, no close frame
  // The server closes the socket: reading ends (at EOF) long before close_timeout (60 s); a
  // server that held the connection would make fill() throw when its 20-s read timeout expires.
  while (c.fill()) {
  }
  EXPECT_EQ(box.take(), "WebSocketDisconnect:1006:");
}
