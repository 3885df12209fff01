// Startup and shutdown hooks, shared state, graceful shutdown, several threads.

#include "support/scoped_env.hpp"
#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace nx = nexios;
using nx::test::Mailbox;
using nx::test::Served;
using nx::test::TestClient;
using namespace std::chrono_literals;

TEST(Lifecycle, StartupHooksRunInOrderBeforeConnectionsAndShutdownHooksAfter) {
  std::vector<std::string> events;
  std::mutex m;
  auto note = [&](std::string e) {
    std::lock_guard lock(m);
    events.push_back(std::move(e));
  };
  {
    nx::App app;
    app.on_startup([&]() -> nx::Task<> {
      note("startup 1");
      co_return;
    });
    app.on_startup([&]() -> nx::Task<> {
      note("startup 2");
      co_return;
    });
    app.on_shutdown([&]() -> nx::Task<> {
      note("shutdown 1");
      co_return;
    });
    app.on_shutdown([&]() -> nx::Task<> {
      note("shutdown 2");
      co_return;
    });
    app.get("/", [&](nx::Request&, nx::Response& res) -> nx::Task<> {
      note("request");
      res.text("ok");
      co_return;
    });
    Served s(app);
    TestClient c(s.port());
    EXPECT_EQ(c.request("GET", "/").status, 200);
  }
  EXPECT_EQ(events, (std::vector<std::string>{"startup 1", "startup 2", "request", "shutdown 1", "shutdown 2"}));
}

TEST(Lifecycle, FailingStartupHookStopsStartWithAClearError) {
  nx::App app;
  bool second_ran = false;
  app.on_startup([]() -> nx::Task<> {
    throw std::runtime_error("database unreachable");
    co_return;
  });
  app.on_startup([&]() -> nx::Task<> {
    second_ran = true;
    co_return;
  });
  nx::RunOptions o;
  o.port = 0;
  try {
    app.start(o);
    FAIL() << "start() should have thrown";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "nexios: startup hook failed: database unreachable");
  }
  EXPECT_FALSE(second_ran);
}

TEST(Lifecycle, GracefulShutdownClosesWebSocketsWith1001AndFinishesInFlightHttp) {
  nx::App app;
  Mailbox<std::string> box;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    try {
      for (;;) {
        co_await ws.receive_text();
      }
    } catch (const nx::WebSocketDisconnect&) {
    }
  });
  app.get("/slow", [&](nx::Request&, nx::Response& res) -> nx::Task<> {
    box.put("in handler");
    // Still working when the shutdown starts.
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 300ms);
    co_await t.async_wait(boost::asio::use_awaitable);
    res.text("finished");
  });
  nx::RunOptions o;
  o.port = 0;
  o.threads = 2;
  const auto port = app.start(o);
  TestClient ws(port);
  ASSERT_EQ(ws.handshake("/ws").status, 101);
  {
    TestClient http(port);
    http.send_raw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(box.take(), "in handler");
    app.stop();
    auto close = ws.read_close();
    EXPECT_EQ(close.code, 1001);
    EXPECT_EQ(close.reason, "server shutting down");
    ws.send_close(1001);
    EXPECT_TRUE(ws.wait_closed());
    auto r = http.read_http();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "finished");
    EXPECT_EQ(r.header("connection").value_or(""), "close");
  }  // the client closes its side, ending the server's lingering close
  app.wait();
  // Nothing listens any more.
  EXPECT_THROW(TestClient late(port), std::exception);
}

TEST(Lifecycle, ManyClientsOnSeveralThreads) {
  nx::App app;
  app.ws_route("/ws", [](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    for (;;) {
      auto m = co_await ws.receive();
      if (m.type == nx::Message::Type::disconnect) {
        co_return;
      }
      co_await ws.send_text(m.text());
    }
  });
  Served s(app, 2);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      TestClient c(s.port());
      if (c.handshake("/ws").status != 101) {
        return;
      }
      for (int j = 0; j < 200; ++j) {
        const std::string msg = std::to_string(i) + ":" + std::to_string(j);
        c.send_text(msg);
        if (c.read_text() != msg) {
          return;
        }
      }
      if (c.close_handshake().code == 1000) {
        ++ok;
      }
    });
  }
  for (auto& t : clients) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 16);
}

TEST(Lifecycle, GetApplicationIsProcessWide) {
  EXPECT_EQ(&nx::get_application(), &nx::get_application());
}

TEST(Lifecycle, DrainTimeoutDropsConnectionsThatDoNotFinish) {
  nx::App app;
  app.limits.drain_timeout = std::chrono::milliseconds(200);
  app.limits.close_timeout = std::chrono::seconds(30);  // longer than the drain: the drain decides
  app.ws_route("/ws", nx::test::echo);
  nx::RunOptions o;
  o.port = 0;
  const auto port = app.start(o);
  TestClient ws(port);
  ASSERT_EQ(ws.handshake("/ws").status, 101);
  app.stop();
  EXPECT_EQ(ws.read_close().code, 1001);
  // The client never answers the close: after drain_timeout the server drops the connection and
  // finishes stopping (the client's read timeout, 10 s, is far below the 30 s close timeout).
  EXPECT_TRUE(ws.wait_closed());
  app.wait();
}

namespace {
using nx::test::ScopedEnv;

std::string start_error(nx::App& app) {
  try {
    app.start({.host = "127.0.0.1", .port = 0, .threads = 1});
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  app.stop();
  app.wait();
  return "";
}
}  // namespace

// An invalid setting in the environment is reported when the app starts, naming the variable and
// the accepted values — never later (an app that never uses a channel used to abort at shutdown).
TEST(Lifecycle, AnInvalidEnvironmentSettingFailsTheStartNamingTheVariable) {
  for (const char* bad : {"5XB", "0", "-1", ""}) {
    ScopedEnv env("CHANNEL_BOX_HISTORY_SIZE", bad);
    nx::App app;
    bool hook_ran = false;
    app.on_startup([&]() -> nx::Task<> {
      hook_ran = true;
      co_return;
    });
    const std::string e = start_error(app);
    EXPECT_NE(e.find("CHANNEL_BOX_HISTORY_SIZE"), std::string::npos) << bad << ": " << e;
    EXPECT_NE(e.find("accepted: 1B to 4GiB"), std::string::npos) << bad << ": " << e;
    EXPECT_FALSE(hook_ran);
    EXPECT_EQ(app.port(), 0);
    app.stop();  // nothing to stop, and it must not throw
  }
  {
    ScopedEnv env("NEXIOS_PING_INTERVAL", "20");
    nx::App app;
    const std::string e = start_error(app);
    EXPECT_NE(e.find("NEXIOS_PING_INTERVAL"), std::string::npos) << e;
    EXPECT_NE(e.find("needs a unit"), std::string::npos) << e;
  }
  {
    nx::App app;
    app.limits.max_connections = 10'000'001;  // set in code, out of range
    EXPECT_NE(start_error(app).find("max_connections"), std::string::npos);
  }
}

// Precedence: code < environment < command line; app.limits shows what is in force.
TEST(Lifecycle, EnvironmentOverridesCodeAndTheCommandLineOverridesBoth) {
  ScopedEnv env1("NEXIOS_MAX_MESSAGE_SIZE", "2KiB");
  ScopedEnv env2("NEXIOS_MAX_HEADERS", "50");
  ScopedEnv env3("NEXIOS_MAX_GROUPS", "9");
  nx::App app;
  app.limits.max_message_size = 1024;
  app.limits.max_headers = 10;
  app.limits.max_body_size = 77;
  const char* argv[] = {"prog", "--limit", "max_headers=60", "--limit", "max_members_per_group=5"};
  app.configure(nx::CommandLine::parse(5, argv));
  app.ws_route("/ws", nx::test::echo);
  const nx::ChannelLimits before = nx::ChannelBox::registry().limits();
  {
    Served s(app);
    EXPECT_EQ(app.limits.max_message_size, 2048u);  // environment over code
    EXPECT_EQ(app.limits.max_headers, 60u);         // command line over environment
    EXPECT_EQ(app.limits.max_body_size, 77u);       // code over the default
    EXPECT_EQ(nx::ChannelBox::registry().limits().max_groups, 9u);
    EXPECT_EQ(nx::ChannelBox::registry().limits().max_members_per_group, 5u);
    // In force on the wire: a 2049-byte message closes with 1009.
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/ws").status, 101);
    c.send_text(std::string(2048, 'a'));
    EXPECT_EQ(c.read_message().payload.size(), 2048u);
    c.send_text(std::string(2049, 'a'));
    EXPECT_EQ(c.read_close().code, 1009);
  }
  nx::ChannelBox::registry().set_limits(before);
}
