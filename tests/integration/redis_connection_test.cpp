/// @file
/// The Redis connection against real redis-server processes (tests/support/redis_server.hpp):
/// replies of every type, pipelining, binary safety, pub/sub, AUTH and ACL users, SELECT,
/// refused and timed-out connects, reply timeouts, a server killed mid-pipeline, max_pending,
/// a malformed reply stream, and TLS (verified, wrong CA, wrong name).

#include "redis/connection.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using nexios::redis::detail::Connection;
using nexios::redis::detail::ConnectionConfig;
using nexios::redis::detail::parse_url;
using nexios::resp::Value;
using nexios::test::RedisServer;
using nexios::test::RedisServerOptions;
using namespace std::chrono_literals;

using Reply = std::pair<std::error_code, Value>;

// Runs the loop until `done` holds or the deadline passes (waiting for events, no sleeps).
bool run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds limit = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    if (io.stopped()) {
      io.restart();
    }
    io.run_one_until(deadline);
  }
  return true;
}

std::string connect(asio::io_context& io, const std::shared_ptr<Connection>& c) {
  std::optional<std::string> result;
  asio::co_spawn(io, c->connect(), [&](std::exception_ptr e, std::string why) {
    result = e ? std::string("connect() threw") : std::move(why);
  });
  EXPECT_TRUE(run_until(io, [&] { return result.has_value(); }, 20s)) << "connect() did not finish";
  return result.value_or("connect() did not finish");
}

Reply command(asio::io_context& io, const std::shared_ptr<Connection>& c, std::vector<std::string> args) {
  std::optional<Reply> result;
  asio::co_spawn(io, c->command(std::move(args)), [&](std::exception_ptr e, Reply r) {
    result = e ? Reply{std::make_error_code(std::errc::io_error), Value{}} : std::move(r);
  });
  EXPECT_TRUE(run_until(io, [&] { return result.has_value(); })) << "command() did not finish";
  return result.value_or(Reply{std::make_error_code(std::errc::timed_out), Value{}});
}

ConnectionConfig config_for(const RedisServer& server) {
  return parse_url(server.url());
}

class RedisConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }
  void TearDown() override {
    for (auto& c : connections_) {
      c->close();
    }
    io_.poll();
  }

  std::shared_ptr<Connection> open(ConnectionConfig cfg) {
    auto c = Connection::create(io_.get_executor(), std::move(cfg));
    connections_.push_back(c);
    const std::string why = connect(io_, c);
    EXPECT_EQ(why, "");
    EXPECT_TRUE(c->is_open());
    return c;
  }
  std::shared_ptr<Connection> open() { return open(config_for(server_)); }

  asio::io_context io_;
  RedisServer server_;
  std::vector<std::shared_ptr<Connection>> connections_;
};

TEST_F(RedisConnectionTest, RepliesOfEveryType) {
  auto c = open();
  EXPECT_EQ(command(io_, c, {"PING"}).second, Value::simple_string("PONG"));
  EXPECT_EQ(command(io_, c, {"SET", "k", "v"}).second, Value::simple_string("OK"));
  EXPECT_EQ(command(io_, c, {"GET", "k"}).second, Value::bulk("v"));
  EXPECT_TRUE(command(io_, c, {"GET", "missing"}).second.is_null());
  EXPECT_EQ(command(io_, c, {"INCRBY", "n", "-5"}).second, Value::number(-5));
  EXPECT_EQ(command(io_, c, {"RPUSH", "l", "a", "b"}).second, Value::number(2));
  EXPECT_EQ(command(io_, c, {"LRANGE", "l", "0", "-1"}).second, Value::array({Value::bulk("a"), Value::bulk("b")}));
  EXPECT_EQ(command(io_, c, {"EVAL", "return {1, {2, 'x'}, {}}", "0"}).second,
            Value::array({Value::number(1), Value::array({Value::number(2), Value::bulk("x")}), Value::array({})}));
  const Reply err = command(io_, c, {"NOSUCHCOMMAND"});
  EXPECT_FALSE(err.first);  // a Redis error is a reply, not a failure
  EXPECT_TRUE(err.second.is_error());
  EXPECT_NE(err.second.str.find("unknown command"), std::string::npos) << err.second.str;
  EXPECT_TRUE(c->is_open());
  EXPECT_EQ(c->pending(), 0u);
}

TEST_F(RedisConnectionTest, TenThousandPipelinedCommandsLeaveInOneWrite) {
  auto c = open();
  const std::size_t writes_before = c->writes_started();
  constexpr int n = 10'000;
  std::vector<std::int64_t> got;
  got.reserve(n);
  int errors = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(c->send({"INCR", "counter"}, [&](std::error_code ec, Value v) {
      errors += ec ? 1 : 0;
      got.push_back(v.integer);
    }));
  }
  EXPECT_EQ(c->pending(), static_cast<std::size_t>(n));
  ASSERT_TRUE(run_until(io_, [&] { return got.size() == n; }));
  EXPECT_EQ(errors, 0);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(got[static_cast<std::size_t>(i)], i + 1) << "replies out of order";
  }
  EXPECT_EQ(c->writes_started() - writes_before, 1u) << "everything queued in one turn leaves in one write";
}

TEST_F(RedisConnectionTest, BinarySafeBulk) {
  auto c = open();
  std::string value("\r\n\0\r\n$3\r\n*1\r\n", 14);
  value += std::string(1 << 20, '\0');
  value += "end\r\n";
  const std::string key("key\0with\r\nnul", 13);
  EXPECT_EQ(command(io_, c, {"SET", key, value}).second, Value::simple_string("OK"));
  const Reply r = command(io_, c, {"GET", key});
  EXPECT_FALSE(r.first);
  EXPECT_EQ(r.second.str.size(), value.size());
  EXPECT_TRUE(r.second.str == value);
}

TEST_F(RedisConnectionTest, PubSub) {
  auto c = open();
  std::vector<std::pair<std::string, std::string>> messages;
  c->set_message_handler([&](std::string_view ch, std::string_view payload) {
    messages.emplace_back(std::string(ch), std::string(payload));
  });
  bool confirmed = false;
  ASSERT_TRUE(c->subscribe("news", [&] { confirmed = true; }));
  EXPECT_FALSE(c->send({"SUBSCRIBE", "other"}, {})) << "subscribe() is the way to subscribe";
  ASSERT_TRUE(run_until(io_, [&] { return confirmed; }));
  EXPECT_EQ(c->subscriptions(), 1u);

  const std::string payload("hello\r\n\0world", 13);
  EXPECT_EQ(server_.command("PUBLISH", "news", payload), Value::number(1));
  EXPECT_EQ(server_.command("PUBLISH", "news", "second"), Value::number(1));
  ASSERT_TRUE(run_until(io_, [&] { return messages.size() == 2; }));
  EXPECT_EQ(messages[0], (std::pair<std::string, std::string>{"news", payload}));
  EXPECT_EQ(messages[1].second, "second");

  // PING in subscriber mode answers ["pong", ""], routed to the PING's handler.
  const Reply pong = command(io_, c, {"PING"});
  EXPECT_FALSE(pong.first);
  EXPECT_EQ(pong.second, Value::array({Value::bulk("pong"), Value::bulk("")}));

  ASSERT_TRUE(c->unsubscribe("news"));
  ASSERT_TRUE(run_until(io_, [&] { return c->pending() == 0; }));
  EXPECT_EQ(c->subscriptions(), 0u);
  EXPECT_EQ(server_.command("PUBLISH", "news", "after"), Value::number(0));
  // Out of subscriber mode, ordinary commands work again.
  EXPECT_EQ(command(io_, c, {"PING"}).second, Value::simple_string("PONG"));
  EXPECT_EQ(messages.size(), 2u);
}

TEST_F(RedisConnectionTest, SelectDb) {
  auto cfg = config_for(server_);
  cfg.db = 3;
  auto c = open(cfg);
  const Reply info = command(io_, c, {"CLIENT", "INFO"});
  EXPECT_NE(info.second.str.find(" db=3 "), std::string::npos) << info.second.str;

  cfg.db = 99;
  auto bad = Connection::create(io_.get_executor(), cfg);
  EXPECT_EQ(connect(io_, bad), "SELECT 99 failed: ERR DB index is out of range");
  EXPECT_FALSE(bad->is_open());
}

TEST_F(RedisConnectionTest, AclUser) {
  EXPECT_EQ(server_.command("ACL", "SETUSER", "alice", "on", ">wonderland", "~*", "&*", "+@all"),
            Value::simple_string("OK"));
  auto cfg = config_for(server_);
  cfg.username = "alice";
  cfg.password = "wonderland";
  auto c = open(cfg);
  EXPECT_EQ(command(io_, c, {"ACL", "WHOAMI"}).second, Value::bulk("alice"));

  cfg.password = "wrong";
  auto bad = Connection::create(io_.get_executor(), cfg);
  EXPECT_EQ(connect(io_, bad), "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.");
}

TEST_F(RedisConnectionTest, MaxPendingExceededByOne) {
  auto cfg = config_for(server_);
  cfg.max_pending = 10;
  auto c = open(cfg);
  int replies = 0;
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(c->send({"PING"}, [&](std::error_code, Value) { ++replies; }));
  }
  bool called = false;
  EXPECT_FALSE(c->send({"PING"}, [&](std::error_code, Value) { called = true; }));
  EXPECT_EQ(c->pending(), 10u);
  ASSERT_TRUE(run_until(io_, [&] { return replies == 10; }));
  EXPECT_FALSE(called);
  EXPECT_TRUE(c->send({"PING"}, [&](std::error_code, Value) { ++replies; }));
  ASSERT_TRUE(run_until(io_, [&] { return replies == 11; }));
}

TEST_F(RedisConnectionTest, ReplyTimeout) {
  auto cfg = config_for(server_);
  cfg.reply_timeout = 300ms;
  auto c = open(cfg);
  std::vector<std::string> closes;
  c->set_close_handler([&](const std::string& why) { closes.push_back(why); });
  server_.pause();
  std::optional<std::error_code> ec;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->send({"PING"}, [&](std::error_code e, Value) { ec = e; }));
  ASSERT_TRUE(run_until(io_, [&] { return ec.has_value(); }));
  const auto waited = std::chrono::steady_clock::now() - start;
  server_.resume();
  EXPECT_EQ(*ec, std::errc::timed_out);
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 3s);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0], "no reply from the server within 300 ms");
  EXPECT_FALSE(c->is_open());
  EXPECT_FALSE(c->send({"PING"}, {}));
}

TEST_F(RedisConnectionTest, ServerKilledMidPipeline) {
  auto c = open();
  int closes = 0;
  std::string why;
  c->set_close_handler([&](const std::string& w) {
    ++closes;
    why = w;
  });
  int replies = 0;
  int errors = 0;
  for (int i = 0; i < 100; ++i) {
    c->send({"INCR", "x"}, [&](std::error_code ec, Value) { ++(ec ? errors : replies); });
  }
  ASSERT_TRUE(run_until(io_, [&] { return replies == 100; }));
  server_.pause();  // the next batch is written but never answered
  for (int i = 0; i < 1000; ++i) {
    c->send({"INCR", "x"}, [&](std::error_code ec, Value) { ++(ec ? errors : replies); });
  }
  io_.poll();
  server_.kill();
  ASSERT_TRUE(run_until(io_, [&] { return errors + replies == 1100; }));
  EXPECT_EQ(replies, 100);
  EXPECT_EQ(errors, 1000);
  EXPECT_EQ(closes, 1);
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(c->is_open());
  EXPECT_EQ(c->pending(), 0u);
  io_.poll();
  EXPECT_EQ(closes, 1);
}

TEST_F(RedisConnectionTest, CloseAbortsOutstandingHandlers) {
  auto c = open();
  bool close_handler = false;
  c->set_close_handler([&](const std::string&) { close_handler = true; });
  std::vector<std::error_code> ecs;
  for (int i = 0; i < 3; ++i) {
    c->send({"PING"}, [&](std::error_code ec, Value) { ecs.push_back(ec); });
  }
  c->close();
  c->close();  // idempotent
  ASSERT_EQ(ecs.size(), 3u);
  for (const auto& ec : ecs) {
    EXPECT_EQ(ec, std::errc::operation_canceled);
  }
  io_.poll();
  EXPECT_FALSE(close_handler);
  EXPECT_FALSE(c->is_open());
  EXPECT_FALSE(c->send({"PING"}, {}));
}

TEST_F(RedisConnectionTest, CommandsQueuedDuringAWriteLeaveInTheNextOne) {
  auto c = open();
  const std::size_t before = c->writes_started();
  int replies = 0;
  ASSERT_TRUE(c->send({"SET", "big", std::string(8 << 20, 'x')}, [&](std::error_code, Value) { ++replies; }));
  io_.poll();  // the first write starts
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(c->send({"PING"}, [&](std::error_code ec, Value v) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(v, Value::simple_string("PONG"));
      ++replies;
    }));
  }
  ASSERT_TRUE(run_until(io_, [&] { return replies == 101; }));
  EXPECT_EQ(c->writes_started() - before, 2u);
}

TEST_F(RedisConnectionTest, WriteBufferIsBounded) {
  auto cfg = config_for(server_);
  cfg.max_write_buffer_bytes = 1000;
  auto c = open(cfg);
  int replies = 0;
  const std::string value(600, 'v');
  EXPECT_TRUE(c->send({"SET", "a", value}, [&](std::error_code, Value) { ++replies; }));
  EXPECT_FALSE(c->send({"SET", "b", value}, [&](std::error_code, Value) { ++replies; }));
  EXPECT_EQ(c->pending(), 1u);
  ASSERT_TRUE(run_until(io_, [&] { return replies == 1; }));
  // One command larger than the bound still goes when nothing else is queued.
  EXPECT_TRUE(c->send({"SET", "c", std::string(5000, 'v')}, [&](std::error_code, Value) { ++replies; }));
  ASSERT_TRUE(run_until(io_, [&] { return replies == 2; }));
}

TEST_F(RedisConnectionTest, PeerCloseRunsTheCloseHandlerOnce) {
  auto c = open();
  std::vector<std::string> closes;
  c->set_close_handler([&](const std::string& why) { closes.push_back(why); });
  EXPECT_EQ(command(io_, c, {"CLIENT", "SETNAME", "victim"}).second, Value::simple_string("OK"));
  EXPECT_EQ(server_.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").type, Value::Type::integer);
  ASSERT_TRUE(run_until(io_, [&] { return !closes.empty(); }));
  EXPECT_EQ(closes, std::vector<std::string>{"connection closed by the server"});
  EXPECT_FALSE(c->is_open());
  io_.poll();
  EXPECT_EQ(closes.size(), 1u);
}

TEST(RedisServerSupport, RestartKeepsThePortAndOptions) {
  RedisServer server(RedisServerOptions{"pw", false, {"--databases", "4"}});
  const auto port = server.port();
  const auto pid = server.pid();
  EXPECT_EQ(server.command("SET", "k", "v"), Value::simple_string("OK"));
  server.restart();
  EXPECT_EQ(server.port(), port);
  EXPECT_NE(server.pid(), pid);
  EXPECT_EQ(server.command("PING"), Value::simple_string("PONG"));
  EXPECT_TRUE(server.command("GET", "k").is_null());  // --save "": nothing survives
  EXPECT_EQ(server.command("CONFIG", "GET", "databases"), Value::array({Value::bulk("databases"), Value::bulk("4")}));
  EXPECT_EQ(server.url(), "redis://:pw@127.0.0.1:" + std::to_string(port) + "/0");
  server.kill();
  EXPECT_FALSE(server.running());
  EXPECT_THROW((void)server.command("PING"), std::runtime_error);
}

TEST(RedisConnect, PasswordRightWrongAndMissing) {
  RedisServer server(RedisServerOptions{"s3cret", false, {}});
  asio::io_context io;
  auto right = Connection::create(io.get_executor(), parse_url(server.url()));
  EXPECT_EQ(connect(io, right), "");
  EXPECT_EQ(command(io, right, {"PING"}).second, Value::simple_string("PONG"));
  right->close();

  auto cfg = parse_url(server.url());
  cfg.password = "wrong";
  auto wrong = Connection::create(io.get_executor(), cfg);
  EXPECT_EQ(connect(io, wrong), "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.");

  cfg.password.clear();
  auto none = Connection::create(io.get_executor(), cfg);
  EXPECT_EQ(connect(io, none), "PING failed: NOAUTH Authentication required.");
}

TEST(RedisConnect, Refused) {
  asio::io_context io;
  ConnectionConfig cfg;
  cfg.port = nexios::test::redis_test_detail::free_port();
  auto c = Connection::create(io.get_executor(), cfg);
  EXPECT_EQ(connect(io, c), "connection refused: 127.0.0.1:" + std::to_string(cfg.port));
  EXPECT_FALSE(c->is_open());
}

TEST(RedisConnect, TimesOutOnASilentListener) {
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});  // never accepts
  ConnectionConfig cfg;
  cfg.port = silent.local_endpoint().port();
  cfg.connect_timeout = 300ms;
  auto c = Connection::create(io.get_executor(), cfg);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(connect(io, c), "timed out after 300 ms connecting to 127.0.0.1:" + std::to_string(cfg.port));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 3s);
}

// A fake server: answers the connect's PING, then sends a malformed reply.
TEST(RedisConnect, MalformedReplyStreamFailsTheConnection) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket peer(io);
  std::array<char, 256> buf{};
  int reads = 0;
  std::function<void()> serve = [&] {
    peer.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t) {
      if (ec) {
        return;
      }
      static const std::string pong = "+PONG\r\n";
      static const std::string bad = "$3\r\nabcdef\r\n";
      asio::async_write(peer, asio::buffer(++reads == 1 ? pong : bad), [](boost::system::error_code, std::size_t) {});
      serve();
    });
  };
  acceptor.async_accept(peer, [&](boost::system::error_code ec) {
    if (!ec) {
      serve();
    }
  });
  ConnectionConfig cfg;
  cfg.port = acceptor.local_endpoint().port();
  auto c = Connection::create(io.get_executor(), cfg);
  ASSERT_EQ(connect(io, c), "");
  std::string why;
  c->set_close_handler([&](const std::string& w) { why = w; });
  std::optional<std::error_code> ec;
  c->send({"GET", "x"}, [&](std::error_code e, Value) { ec = e; });
  ASSERT_TRUE(run_until(io, [&] { return ec.has_value(); }));
  EXPECT_EQ(*ec, nexios::resp::errc::missing_crlf);
  EXPECT_EQ(why, "malformed reply from the server: RESP line or bulk string not terminated by CRLF");
  EXPECT_FALSE(c->is_open());
}

class RedisTlsTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(RedisServerOptions{"", true, {}}); }

  ConnectionConfig tls_config() const {
    auto cfg = parse_url(server_.url());
    EXPECT_TRUE(cfg.tls);
    cfg.tls_ca_file = server_.tls_files().ca_cert;
    return cfg;
  }

  asio::io_context io_;
  RedisServer server_;
};

TEST_F(RedisTlsTest, VerifiedConnect) {
  auto c = Connection::create(io_.get_executor(), tls_config());
  ASSERT_EQ(connect(io_, c), "");
  EXPECT_EQ(command(io_, c, {"SET", "k", std::string(100000, 'x')}).second, Value::simple_string("OK"));
  EXPECT_EQ(command(io_, c, {"STRLEN", "k"}).second, Value::number(100000));
  auto by_name = tls_config();
  by_name.tls_server_name = "localhost";
  auto named = Connection::create(io_.get_executor(), by_name);
  EXPECT_EQ(connect(io_, named), "");
  c->close();
  named->close();
}

TEST_F(RedisTlsTest, WrongCaFails) {
  const std::string other = server_.dir() + "/other-ca";
  std::filesystem::create_directory(other);
  auto cfg = tls_config();
  cfg.tls_ca_file = nexios::test::generate_test_certificates(other).ca_cert;
  auto c = Connection::create(io_.get_executor(), cfg);
  const std::string why = connect(io_, c);
  EXPECT_EQ(why.rfind("TLS handshake failed: certificate verify failed", 0), 0u) << why;
}

TEST_F(RedisTlsTest, WrongNameFailsWhenVerifying) {
  auto cfg = tls_config();
  cfg.tls_server_name = "wrong.example";
  auto c = Connection::create(io_.get_executor(), cfg);
  const std::string why = connect(io_, c);
  EXPECT_EQ(why.rfind("TLS handshake failed: certificate verify failed", 0), 0u) << why;

  cfg.tls_verify = false;
  auto unchecked = Connection::create(io_.get_executor(), cfg);
  EXPECT_EQ(connect(io_, unchecked), "");
  unchecked->close();
}

}  // namespace
