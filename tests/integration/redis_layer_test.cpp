// The Redis channel layer through the public API: two registries, each with its own RedisLayer
// (two "servers" in one process, each with its own Redis connections and server id), against a
// redis-server the test starts, with real WebSocket clients joining either registry's groups.

#include "support/poll.hpp"
#include "support/redis_server.hpp"
#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>
#include <nexios/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace nx = nexios;
using nx::test::eventually;
using nx::test::Mailbox;
using nx::test::RedisServer;
using nx::test::run;
using nx::test::Served;
using nx::test::TestClient;
using namespace std::chrono_literals;

namespace {

std::string unique_prefix() {
  static std::atomic<int> n{0};
  return "t" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ":";
}

nx::RedisLayerOptions options_for(const RedisServer& redis, const std::string& prefix) {
  nx::RedisLayerOptions o;
  o.url = redis.url();
  o.key_prefix = prefix;
  o.membership_ttl = 1500ms;
  o.reconnect_min = 20ms;
  o.reconnect_max = 200ms;
  o.reply_timeout = 2s;
  o.send_to_timeout = 2s;
  return o;
}

// Two servers of one cluster in one process: registries A and B, each with its RedisLayer; a
// WebSocket at /join/{a|b}/{group}?name=N joins that registry's group with metadata {"name": N}.
struct Cluster {
  explicit Cluster(const RedisServer& redis, nx::RedisLayerOptions base = {}) {
    const std::string prefix = unique_prefix();
    for (auto* side : {&a, &b}) {
      nx::RedisLayerOptions o = options_for(redis, prefix);
      o.max_pending_publishes = base.max_pending_publishes;
      o.max_message_bytes = base.max_message_bytes;
      o.on_state = [side](nx::ChannelLayerState s) { side->states.put(s); };
      side->layer = std::make_shared<nx::RedisLayer>(o);
      side->registry.start_layer(side->layer);
    }
    app.ws_route("/join/{side}/{group}", [this](nx::WebSocket ws) -> nx::Task<> {
      co_await ws.accept();
      boost::json::object meta;
      meta["name"] = std::string(ws.query_params().get_or("name", ""));
      nx::Channel channel(ws, nx::PayloadTypeEnum::JSON, 0, std::move(meta));
      Side& side = ws.path_params().at("side") == "a" ? a : b;
      const std::string group(ws.path_params().at("group"));
      const auto status = side.registry.add_channel_to_group(channel, group);
      joined.put(channel);
      EXPECT_TRUE(nx::is_member(status));
      try {
        for (;;) {
          // "replay:N": the last N saved messages, replayed on the channel's own thread.
          const std::string text = co_await ws.receive_text();
          if (text.starts_with("replay:")) {
            const auto r = co_await side.registry.replay_history(channel, group, {.limit = std::stoul(text.substr(7))});
            replays.put(r);
          }
        }
      } catch (const nx::WebSocketDisconnect&) {
      }
    });
    served.emplace(app, 2);
  }
  ~Cluster() {
    served.reset();
    a.registry.stop_layer();
    b.registry.stop_layer();
  }

  struct Side {
    nx::ChannelRegistry registry;
    std::shared_ptr<nx::RedisLayer> layer;
    Mailbox<nx::ChannelLayerState> states;
  };

  std::pair<std::unique_ptr<TestClient>, nx::Channel> join(const std::string& side, const std::string& group,
                                                           const std::string& name = "x") {
    auto c = std::make_unique<TestClient>(served->port());
    const auto r = c->handshake("/join/" + side + "/" + group + "?name=" + name);
    if (r.status != 101) {
      throw std::runtime_error("join failed: " + std::to_string(r.status));
    }
    auto ch = joined.take();
    // Its server subscribes to the group when its first member joins: wait until Redis knows.
    Side& s = side == "a" ? a : b;
    EXPECT_TRUE(eventually([&] { return run(s.registry.cluster_group_size(group)) >= 1; }));
    return {std::move(c), ch};
  }

  Side a, b;
  nx::App app;
  Mailbox<nx::Channel> joined;
  Mailbox<nx::ReplayResult> replays;
  std::optional<Served> served;
};

boost::json::object msg(std::string_view text) {
  boost::json::object o;
  o["text"] = text;
  return o;
}

class RedisLayerTest : public ::testing::Test {
 protected:
  void SetUp() override { redis.start(); }
  void TearDown() override { redis.stop(); }
  RedisServer redis;
};

TEST_F(RedisLayerTest, GroupSendReachesTheMembersOfBothServersOnceEach) {
  Cluster c(redis);
  auto [ca, cha] = c.join("a", "room", "alice");
  auto [cb, chb] = c.join("b", "room", "bob");
  // Both subscriptions are in place once each side sees the other's member.
  ASSERT_TRUE(eventually([&] { return run(c.a.registry.cluster_group_size("room")) == 2; }));

  const nx::GroupSendResult r = run(c.a.registry.group_send("room", msg("hello"), false));
  EXPECT_EQ(r.status, nx::GroupSendStatusEnum::GROUP_SEND);
  EXPECT_EQ(r.delivered, 1u);  // alice, here
  EXPECT_TRUE(r.published);
  EXPECT_EQ(r.servers, 1u);  // B
  EXPECT_EQ(ca->read_text(), R"({"text":"hello"})");
  EXPECT_EQ(cb->read_text(), R"({"text":"hello"})");

  // In order, each once: 200 messages from each side.
  for (int i = 0; i < 200; ++i) {
    run(c.a.registry.group_send("room", msg("a" + std::to_string(i)), false));
    run(c.b.registry.group_send("room", msg("b" + std::to_string(i)), false));
  }
  for (auto* client : {ca.get(), cb.get()}) {
    int next_a = 0;
    int next_b = 0;
    while (next_a < 200 || next_b < 200) {
      const auto v = boost::json::parse(client->read_text());
      const std::string t(v.at("text").as_string());
      if (t[0] == 'a') {
        EXPECT_EQ(t, "a" + std::to_string(next_a++));
      } else {
        EXPECT_EQ(t, "b" + std::to_string(next_b++));
      }
    }
  }
  // A group with members nowhere: NO_SUCH_GROUP, nothing published to anyone.
  const auto none = run(c.a.registry.group_send("nobody-here", msg("x"), true));
  EXPECT_EQ(none.status, nx::GroupSendStatusEnum::NO_SUCH_GROUP);
  EXPECT_FALSE(none.history_offset);
  EXPECT_TRUE(run(c.b.registry.fetch_history("nobody-here")).empty());
}

TEST_F(RedisLayerTest, HistoryIsSharedWithTheSameOffsetsAndIds) {
  Cluster c(redis);
  auto [ca, cha] = c.join("a", "hist");
  auto [cb, chb] = c.join("b", "hist");
  ASSERT_TRUE(eventually([&] { return run(c.b.registry.cluster_group_size("hist")) == 2; }));
  std::vector<std::uint64_t> offsets;
  for (int i = 0; i < 5; ++i) {
    auto& from = i % 2 == 0 ? c.a.registry : c.b.registry;
    const auto r = run(from.group_send("hist", msg("m" + std::to_string(i)), true));
    ASSERT_TRUE(r.history_offset);
    offsets.push_back(*r.history_offset);
  }
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  const auto ha = run(c.a.registry.fetch_history("hist"));
  const auto hb = run(c.b.registry.fetch_history("hist"));
  ASSERT_EQ(ha.size(), 5u);
  ASSERT_EQ(hb.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(ha[i]->offset(), i + 1);
    EXPECT_EQ(ha[i]->id(), hb[i]->id());
    EXPECT_EQ(ha[i]->timestamp(), hb[i]->timestamp());
    EXPECT_EQ(ha[i]->data(), "{\"text\":\"m" + std::to_string(i) + "\"}");
  }
  // Queries: the last 2, and what came after offset 3.
  EXPECT_EQ(run(c.b.registry.fetch_history("hist", {.limit = 2})).front()->offset(), 4u);
  EXPECT_EQ(run(c.b.registry.fetch_history("hist", {.after_offset = 3})).size(), 2u);
  // Each server's own copy (history(), show_history()) fills from the subscription.
  for (auto* r : {&c.a.registry, &c.b.registry}) {
    ASSERT_TRUE(eventually([&] { return r->history("hist").size() == 5; }));
    EXPECT_EQ(r->history("hist").back()->id(), ha.back()->id());
    EXPECT_EQ(r->history("hist").back()->offset(), 5u);
  }
  // Replay reads the shared history: a client gets the frames as saved (after the live ones,
  // which reach B from A asynchronously).
  for (int i = 0; i < 5; ++i) {
    cb->read_text();
  }
  cb->send_text("replay:3");
  EXPECT_EQ(c.replays.take().sent, 3u);
  EXPECT_EQ(cb->read_text(), R"({"text":"m2"})");
  EXPECT_EQ(cb->read_text(), R"({"text":"m3"})");
  // The count cap, as in memory: 3 kept, oldest dropped first.
  nx::ChannelLimits limits = c.a.registry.limits();
  limits.history_max_count = 3;
  c.a.registry.set_limits(limits);
  run(c.a.registry.group_send("hist", msg("m5"), true));
  const auto capped = run(c.b.registry.fetch_history("hist"));
  ASSERT_EQ(capped.size(), 3u);
  EXPECT_EQ(capped.front()->offset(), 4u);
  EXPECT_EQ(capped.back()->offset(), 6u);
}

TEST_F(RedisLayerTest, AServersFirstMemberBringsTheSharedHistoryIntoItsCopy) {
  Cluster c(redis);
  auto [ca, cha] = c.join("a", "late");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(run(c.a.registry.group_send("late", msg("old" + std::to_string(i)), true)).history_offset);
  }
  EXPECT_TRUE(c.b.registry.history("late").empty());  // B has no member: no copy
  auto [cb, chb] = c.join("b", "late");
  ASSERT_TRUE(eventually([&] { return c.b.registry.history("late").size() == 3; }));
  run(c.a.registry.group_send("late", msg("new"), true));
  ASSERT_TRUE(eventually([&] { return c.b.registry.history("late").size() == 4; }));
  const auto copy = c.b.registry.history("late");
  const auto shared = run(c.b.registry.fetch_history("late"));
  ASSERT_EQ(copy.size(), shared.size());
  for (std::size_t i = 0; i < copy.size(); ++i) {
    EXPECT_EQ(copy[i]->offset(), shared[i]->offset());
    EXPECT_EQ(copy[i]->id(), shared[i]->id());
    EXPECT_EQ(copy[i]->data(), shared[i]->data());
  }
  // show_history, the seeds' call, answers the same on both servers.
  EXPECT_EQ(c.a.registry.show_history("late").size(), 4u);
  EXPECT_EQ(c.b.registry.show_history("late").back().id, c.a.registry.show_history("late").back().id);
}

TEST_F(RedisLayerTest, SendToFindsAChannelOnTheOtherServer) {
  Cluster c(redis);
  auto [ca, cha] = c.join("a", "g1");
  auto [cb, chb] = c.join("b", "g2");
  EXPECT_TRUE(run(c.a.registry.send_to(chb.id(), msg("direct"))));
  EXPECT_EQ(cb->read_text(), R"({"text":"direct"})");
  EXPECT_TRUE(run(c.b.registry.send_to(cha.id(), nx::Payload("plain text"))));
  EXPECT_EQ(ca->read_text(), R"("plain text")");
  // No server has it: every one says so, false without waiting for the timeout.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(run(c.a.registry.send_to("00000000-0000-4000-8000-000000000000", msg("x"))));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST_F(RedisLayerTest, ClusterGroupsListEveryServersMembersWithMetadata) {
  Cluster c(redis);
  auto [c1, ch1] = c.join("a", "lobby", "ann");
  auto [c2, ch2] = c.join("b", "lobby", "ben");
  auto [c3, ch3] = c.join("b", "other", "cat");
  ASSERT_TRUE(eventually([&] { return run(c.a.registry.cluster_group_size("lobby")) == 2; }));
  const auto groups = run(c.a.registry.cluster_groups());
  ASSERT_EQ(groups.size(), 2u);
  std::set<std::string> names;
  std::set<std::string> servers;
  for (const auto& m : groups.at("lobby")) {
    names.insert(std::string(m.metadata.at("name").as_string()));
    servers.insert(m.server_id);
  }
  EXPECT_EQ(names, (std::set<std::string>{"ann", "ben"}));
  EXPECT_EQ(servers, (std::set<std::string>{c.a.layer->server_id(), c.b.layer->server_id()}));
  EXPECT_EQ(groups.at("other").at(0).channel_id, ch3.id());
  // Leaving is seen everywhere.
  c2->close_handshake();
  EXPECT_TRUE(eventually([&] { return run(c.a.registry.cluster_group_size("lobby")) == 1; }));
}

TEST_F(RedisLayerTest, PendingPublishesOverTheLimitAreReportedNotPublished) {
  nx::RedisLayerOptions o;
  o.max_pending_publishes = 1;
  Cluster c(redis, o);
  auto [ca, cha] = c.join("a", "slow");
  // Redis stops answering: the first publish waits for it, the second is over the limit.
  redis.pause();
  boost::asio::io_context io(1);
  auto first = boost::asio::co_spawn(io, c.a.registry.group_send("slow", msg("1"), false), boost::asio::use_future);
  std::thread t([&] { io.run(); });
  ASSERT_TRUE(eventually([&] { return c.a.layer->stats().pending == 1; }));
  const auto second = run(c.a.registry.group_send("slow", msg("2"), false));
  EXPECT_FALSE(second.published);
  EXPECT_EQ(second.delivered, 1u);  // this server's member got it all the same
  EXPECT_EQ(c.a.layer->stats().pending_full, 1u);
  redis.resume();
  t.join();
  EXPECT_TRUE(first.get().published);
  EXPECT_EQ(ca->read_text(), R"({"text":"1"})");
  EXPECT_EQ(ca->read_text(), R"({"text":"2"})");
}

// A server without members of the group publishes what the other server's members get; when the
// layer stops while Redis holds the replies back, every publish still waiting is answered (not
// published), none is left hanging.
TEST_F(RedisLayerTest, PublishesInFlightAtStopAreAnsweredNotPublished) {
  Cluster c(redis, {});
  auto [cb, chb] = c.join("b", "far");
  const auto sent = run(c.a.registry.group_send("far", msg("0"), false));
  EXPECT_TRUE(sent.published);
  EXPECT_EQ(sent.delivered, 0u);
  EXPECT_EQ(sent.servers, 1u);
  EXPECT_EQ(sent, nx::GroupSendStatusEnum::GROUP_SEND);  // members elsewhere
  EXPECT_EQ(cb->read_text(), R"({"text":"0"})");

  redis.pause();
  constexpr int n = 20;
  boost::asio::io_context io(1);
  std::vector<std::future<nx::GroupSendResult>> results;
  for (int i = 1; i <= n; ++i) {
    results.push_back(boost::asio::co_spawn(io, c.a.registry.group_send("far", msg(std::to_string(i)), false),
                                            boost::asio::use_future));
  }
  std::thread t([&] { io.run(); });
  ASSERT_TRUE(eventually([&] { return c.a.layer->stats().pending == static_cast<std::uint64_t>(n); }));
  c.a.registry.stop_layer();
  t.join();  // the loop ran out of work: every group_send returned
  for (auto& f : results) {
    EXPECT_FALSE(f.get().published);
  }
  EXPECT_EQ(c.a.layer->stats().pending, 0u);
  EXPECT_EQ(c.a.layer->stats().not_published, static_cast<std::uint64_t>(n));
  redis.resume();
}

TEST_F(RedisLayerTest, MessagesOverMaxMessageBytesStayOnThisServer) {
  nx::RedisLayerOptions o;
  o.max_message_bytes = 1024;
  Cluster c(redis, o);
  auto [ca, cha] = c.join("a", "big");
  auto [cb, chb] = c.join("b", "big");
  const std::string fits(1024, 'x');  // max_message_bytes bounds the payload
  const std::string over(1025, 'x');
  const auto ok = run(c.a.registry.group_send("big", nx::Payload(fits), false));
  EXPECT_TRUE(ok.published);
  const auto big = run(c.a.registry.group_send("big", nx::Payload(over), false));
  EXPECT_FALSE(big.published);
  EXPECT_EQ(big.delivered, 1u);
  EXPECT_EQ(c.a.layer->stats().not_published, 1u);
  EXPECT_EQ(ca->read_text().size(), fits.size() + 2);
  EXPECT_EQ(ca->read_text().size(), over.size() + 2);
  EXPECT_EQ(cb->read_text().size(), fits.size() + 2);
  // And a foreign line over the limit is dropped and counted by its receiver.
  redis.command("PUBLISH", c.b.layer->options().key_prefix + "g:big", std::string(1024 + 513, 'y'));
  EXPECT_TRUE(eventually([&] { return c.b.layer->stats().malformed >= 1; }));
}

TEST_F(RedisLayerTest, RedisRestartIsSurvivedAndTheStateIsReported) {
  Cluster c(redis);
  EXPECT_EQ(c.a.states.take(), nx::ChannelLayerState::connecting);
  EXPECT_EQ(c.a.states.take(), nx::ChannelLayerState::up);
  auto [ca, cha] = c.join("a", "r");
  auto [cb, chb] = c.join("b", "r");
  redis.kill();
  EXPECT_EQ(c.a.states.take(), nx::ChannelLayerState::connecting);
  const auto during = run(c.a.registry.group_send("r", msg("during"), false));
  EXPECT_FALSE(during.published);
  EXPECT_EQ(during.delivered, 1u);
  EXPECT_EQ(ca->read_text(), R"({"text":"during"})");
  redis.restart();
  EXPECT_EQ(c.a.states.take(), nx::ChannelLayerState::up);
  EXPECT_TRUE(eventually([&] { return c.b.layer->state() == nx::ChannelLayerState::up; }));
  // The membership is written again and the subscriptions made again.
  ASSERT_TRUE(eventually([&] { return run(c.a.registry.cluster_group_size("r")) == 2; }));
  const auto after = run(c.a.registry.group_send("r", msg("after"), false));
  EXPECT_TRUE(after.published);
  EXPECT_EQ(cb->read_text(), R"({"text":"after"})");
  EXPECT_GE(c.a.layer->stats().reconnects, 1u);
  ca.reset();
  EXPECT_TRUE(eventually([&] { return c.app.connection_count() == 1; }, 3s));
  cb.reset();
  EXPECT_TRUE(eventually([&] { return c.app.connection_count() == 0; }, 3s));
}

TEST(RedisLayerTls, TwoServersOverTlsWithAnAclUser) {
  RedisServer redis;
  redis.start({.password = "", .tls = true, .extra_args = {}});
  ASSERT_EQ(redis.command("ACL", "SETUSER", "chat", "on", ">pw", "~*", "&*", "+@all"), nx::resp::Value::simple_string("OK"));
  const std::string prefix = unique_prefix();
  std::shared_ptr<nx::RedisLayer> layers[2];
  nx::ChannelRegistry registries[2];
  for (int i = 0; i < 2; ++i) {
    nx::RedisLayerOptions o;
    o.url = "rediss://chat:pw@127.0.0.1:" + std::to_string(redis.port()) + "/0";
    o.tls_ca_file = redis.tls_files().ca_cert;
    o.key_prefix = prefix;
    layers[i] = std::make_shared<nx::RedisLayer>(o);
    registries[i].start_layer(layers[i]);
  }
  nx::App app;
  Mailbox<nx::Channel> joined;
  app.ws_route("/join/{i}", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    nx::Channel channel(ws, nx::PayloadTypeEnum::TEXT);
    (void)registries[ws.path_params().at("i") == "0" ? 0 : 1].add_channel_to_group(channel, "tls");
    joined.put(channel);
    try {
      for (;;) {
        co_await ws.receive_text();
      }
    } catch (const nx::WebSocketDisconnect&) {
    }
  });
  {
    Served served(app);
    TestClient c1(served.port());
    ASSERT_EQ(c1.handshake("/join/1").status, 101);
    joined.take();
    ASSERT_TRUE(eventually([&] { return run(registries[0].cluster_group_size("tls")) == 1; }));
    const auto r = run(registries[0].group_send("tls", nx::Payload("over tls"), true));
    EXPECT_TRUE(r.published);
    EXPECT_EQ(r.servers, 1u);
    EXPECT_EQ(c1.read_text(), "over tls");
    // The keys are the prefix's and the ACL user's.
    EXPECT_EQ(redis.command("EXISTS", prefix + "h:tls"), nx::resp::Value::number(1));
  }
  // Without the CA, verification fails with a clear error at start.
  nx::ChannelRegistry other;
  try {
    other.start_layer(std::make_shared<nx::RedisLayer>(
        nx::RedisLayerOptions{.url = "rediss://chat:pw@127.0.0.1:" + std::to_string(redis.port()) + "/0"}));
    ADD_FAILURE() << "started without the CA";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("certificate verify failed"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("pw@"), std::string::npos) << "the password must not be shown";
  }
  for (auto& r : registries) {
    r.stop_layer();
  }
}

TEST(RedisLayerOptions, EveryBadOptionIsRefusedWithItsName) {
  auto refused = [](nx::RedisLayerOptions o, const std::string& word) {
    try {
      nx::RedisLayer layer(std::move(o));
      ADD_FAILURE() << "accepted; expected an error about " << word;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  refused({.url = "http://127.0.0.1"}, "redis");
  refused({.key_prefix = std::string(65, 'p')}, "key_prefix");
  EXPECT_NO_THROW(nx::RedisLayer({.key_prefix = std::string(64, 'p')}));
  refused({.key_prefix = "a b"}, "key_prefix");
  refused({.membership_ttl = 0ms}, "membership_ttl");
  refused({.reconnect_min = 10ms, .reconnect_max = 5ms}, "reconnect_max");
  refused({.db = -1}, "db");
  refused({.tls_ca_file = "/x"}, "rediss");
  EXPECT_EQ(nx::RedisLayer::from_url("memory"), nullptr);
  EXPECT_EQ(nx::RedisLayer::from_url(""), nullptr);
  EXPECT_THROW(nx::RedisLayer::from_url("postgres://x"), std::invalid_argument);
  auto l = nx::RedisLayer::from_url("redis://127.0.0.1:6390/3?membership_ttl=2s&key_prefix=app1:");
  ASSERT_NE(l, nullptr);
  const auto& o = dynamic_cast<nx::RedisLayer&>(*l).options();
  EXPECT_EQ(o.membership_ttl, 2s);
  EXPECT_EQ(o.key_prefix, "app1:");
  try {
    nx::RedisLayer::from_url("redis://127.0.0.1/0?membership_tll=2s");
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("membership_tll"), std::string::npos);
  }
}

TEST(RedisLayerStart, AnUnreachableRedisIsAClearErrorAtStart) {
  nx::ChannelRegistry registry;
  // A port nothing listens on (bound, then closed).
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acc(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acc.local_endpoint().port();
  acc.close();
  auto layer = std::make_shared<nx::RedisLayer>(nx::RedisLayerOptions{.url = "redis://127.0.0.1:" + std::to_string(port) + "/0"});
  try {
    registry.start_layer(layer);
    ADD_FAILURE() << "started";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos) << e.what();
  }
  EXPECT_EQ(registry.layer(), nullptr);
}

}  // namespace
