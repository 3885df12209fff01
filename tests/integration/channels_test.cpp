// Channel and ChannelBox (ChannelRegistry), driven through real WebSocket connections.

#include "support/poll.hpp"
#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace nx = nexios;
using nx::test::Mailbox;
using nx::test::run;
using nx::test::Served;
using nx::test::TestClient;
using nx::ws::Opcode;
using namespace std::chrono_literals;

namespace {


// A server whose /join/{group} handler makes a channel of the requested type, joins `group` in
// `registry`, reports the channel to the test, then waits for the peer to leave.
struct GroupServer {
  explicit GroupServer(nx::ChannelRegistry& r, std::size_t threads = 1) : registry(r) {
    app.ws_route("/join/{group}", [this](nx::WebSocket ws) -> nx::Task<> {
      co_await ws.accept();
      const std::string type(ws.query_params().get_or("type", "json"));
      const auto ttl = std::chrono::milliseconds(std::stoll(std::string(ws.query_params().get_or("ttl_ms", "0"))));
      nx::Channel channel(ws, nx::PayloadType(type), ttl);
      const auto status = registry.add_channel_to_group(channel, ws.path_params().at("group"));
      joined.put({channel, status});
      try {
        for (;;) {
          co_await ws.receive_text();
        }
      } catch (const nx::WebSocketDisconnect&) {
      }
    });
    app.ws_route("/plain", [this](nx::WebSocket ws) -> nx::Task<> {
      co_await ws.accept();
      nx::Channel channel(ws, nx::PayloadTypeEnum::TEXT);
      joined.put({channel, nx::ChannelAddStatusEnum::CHANNEL_EXIST});
      try {
        for (;;) {
          co_await ws.receive_text();
        }
      } catch (const nx::WebSocketDisconnect&) {
      }
    });
    served.emplace(app, threads);
  }

  struct Joined {
    nx::Channel channel;
    nx::ChannelAddStatusEnum status;
  };

  /// Connects a client to group `g`; returns it with the server-side channel.
  std::pair<std::unique_ptr<TestClient>, Joined> join(const std::string& g, const std::string& query = "") {
    auto c = std::make_unique<TestClient>(served->port());
    const auto r = c->handshake("/join/" + g + (query.empty() ? "" : "?" + query));
    if (r.status != 101) {
      throw std::runtime_error("join failed: " + std::to_string(r.status));
    }
    return {std::move(c), joined.take()};
  }

  nx::ChannelRegistry& registry;
  nx::App app;
  Mailbox<Joined> joined;
  std::optional<Served> served;
};

boost::json::object msg(std::string text) {
  boost::json::object o;
  o["m"] = std::move(text);
  return o;
}

}  // namespace

TEST(Channel, PropertiesAndPayloadTypes) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [client, j] = server.join("props", "ttl_ms=60000");
  const nx::Channel& ch = j.channel;
  EXPECT_EQ(ch.id().size(), 36u);
  EXPECT_EQ(ch.id()[14], '4');  // UUID version 4
  EXPECT_EQ(ch.uuid(), ch.id());
  EXPECT_TRUE(ch.is_active());
  EXPECT_EQ(ch.payload_type(), nx::PayloadTypeEnum::JSON);
  EXPECT_EQ(ch.ttl(), 60000ms);
  ASSERT_TRUE(ch.expires().has_value());
  EXPECT_GT(*ch.expires(), std::chrono::system_clock::now() + 59s);
  EXPECT_LE(ch.created(), std::chrono::system_clock::now());
  EXPECT_FALSE(ch.is_expired());
  // A controllable clock: the channel expires when it has been idle for its TTL.
  EXPECT_FALSE(ch.is_expired(std::chrono::steady_clock::now() + 59s));
  EXPECT_TRUE(ch.is_expired(std::chrono::steady_clock::now() + 61s));
  EXPECT_EQ(nx::PayloadType("text"), nx::PayloadTypeEnum::TEXT);
  EXPECT_EQ(nx::PayloadType("bytes").name(), "bytes");
  EXPECT_THROW(nx::PayloadType("binary"), std::invalid_argument);
  client->close_handshake();
}

TEST(ChannelBox, AddAndRemoveStatuses) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [a, ja] = server.join("g");
  auto [b, jb] = server.join("g");
  EXPECT_EQ(ja.status, nx::ChannelAddStatusEnum::CHANNEL_ADDED);
  EXPECT_EQ(jb.status, nx::ChannelAddStatusEnum::CHANNEL_EXIST);
  // No duplicates.
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, "g"), nx::ChannelAddStatusEnum::CHANNEL_EXIST);
  EXPECT_EQ(registry.group("g").size(), 2u);
  EXPECT_EQ(registry.group("g")[0], ja.channel);  // joining order
  EXPECT_EQ(registry.remove_channel_from_group(ja.channel, "nope"), nx::ChannelRemoveStatusEnum::GROUP_DOES_NOT_EXIST);
  EXPECT_EQ(registry.remove_channel_from_group(ja.channel, "g"), nx::ChannelRemoveStatusEnum::CHANNEL_REMOVED);
  EXPECT_EQ(registry.remove_channel_from_group(ja.channel, "g"), nx::ChannelRemoveStatusEnum::CHANNEL_DOES_NOT_EXIST);
  EXPECT_EQ(registry.remove_channel_from_group(jb.channel, "g"), nx::ChannelRemoveStatusEnum::GROUP_REMOVED);
  EXPECT_TRUE(registry.group("g").empty());
  EXPECT_EQ(registry.show_groups().count("g"), 0u);
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, ""), nx::ChannelAddStatusEnum::INVALID_GROUP_NAME);
  a->close_handshake();
  b->close_handshake();
}

TEST(ChannelBox, GroupSendReachesEveryMemberInTheirPayloadType) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [cj, jj] = server.join("mix", "type=json");
  auto [ct, jt] = server.join("mix", "type=text");
  auto [cb, jb] = server.join("mix", "type=bytes");

  auto r = run(registry.group_send("mix", msg("é")));
  EXPECT_EQ(r, nx::GroupSendStatusEnum::GROUP_SEND);
  EXPECT_EQ(r.delivered, 3u);
  EXPECT_EQ(r.dropped, 0u);
  EXPECT_EQ(cj->read_text(), R"({"m":"é"})");
  EXPECT_EQ(ct->read_text(), R"({"m":"é"})");
  auto f = cb->read_message();
  EXPECT_EQ(f.opcode, Opcode::binary);
  EXPECT_EQ(f.payload, R"({"m":"é"})");

  // Text: a JSON string for JSON channels, the text itself for the others.
  r = run(registry.group_send("mix", nx::Payload("hi")));
  EXPECT_EQ(cj->read_text(), R"("hi")");
  EXPECT_EQ(ct->read_text(), "hi");
  EXPECT_EQ(cb->read_message().payload, "hi");
  // Bytes: binary for everyone.
  r = run(registry.group_send("mix", nx::Payload::bytes(std::string("\x00\xff", 2))));
  for (auto* c : {cj.get(), ct.get(), cb.get()}) {
    auto m = c->read_message();
    EXPECT_EQ(m.opcode, Opcode::binary);
    EXPECT_EQ(m.payload, std::string("\x00\xff", 2));
  }
  EXPECT_THROW(run(registry.group_send("mix", nx::Payload("\xff"))), std::invalid_argument);

  auto none = run(registry.group_send("nobody-here", msg("x"), true));
  EXPECT_EQ(none, nx::GroupSendStatusEnum::NO_SUCH_GROUP);
  EXPECT_TRUE(registry.show_history("nobody-here").empty());
  for (auto* c : {cj.get(), ct.get(), cb.get()}) {
    c->close_handshake();
  }
}

TEST(ChannelBox, HistoryOrderOffsetsAndCaps) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [c, j] = server.join("h");
  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = run(registry.group_send("h", nx::Payload(std::string(10, static_cast<char>('a' + i))), true));
    ASSERT_TRUE(r.history_offset.has_value());
    EXPECT_EQ(*r.history_offset, static_cast<std::uint64_t>(i + 1));
  }
  auto h = registry.show_history("h");
  ASSERT_EQ(h.size(), 5u);
  for (std::size_t i = 0; i < h.size(); ++i) {
    EXPECT_EQ(h[i].offset, i + 1);
    EXPECT_EQ(h[i].payload.text(), std::string(10, static_cast<char>('a' + i)));
    EXPECT_EQ(h[i].size, 10u);
    ids.insert(h[i].id);
    if (i > 0) {
      EXPECT_GE(h[i].timestamp, h[i - 1].timestamp);
    }
  }
  EXPECT_EQ(ids.size(), 5u);  // every entry has its own id
  // What the caps count: each entry's footprint (same-size entries cost the same), plus the
  // group's own overhead.
  const auto entries = registry.history("h");
  const std::size_t fp = entries.front()->footprint();
  EXPECT_GT(fp, 10u + 36u + 16u);  // more than the payload, its id and its slot
  for (const auto& e : entries) {
    EXPECT_EQ(e->footprint(), fp);
  }
  auto st = registry.stats();
  EXPECT_EQ(st.history_payload_bytes, 50u);
  ASSERT_GT(st.history_bytes, 5 * fp);
  const std::size_t overhead = st.history_bytes - 5 * fp;
  // A per-group cap of exactly ten entries: ten fit, one more drops the oldest.
  const std::size_t cap = overhead + 10 * fp;
  registry.set_limits({.history_max_bytes = cap, .history_max_count = 0, .history_max_total_bytes = 1 << 20});
  for (int i = 0; i < 5; ++i) {
    run(registry.group_send("h", nx::Payload(std::string(10, 'z')), true));
  }
  EXPECT_EQ(registry.show_history("h").size(), 10u);
  EXPECT_EQ(registry.stats().history_bytes, cap);
  run(registry.group_send("h", nx::Payload(std::string(10, 'y')), true));
  h = registry.show_history("h");
  EXPECT_EQ(h.size(), 10u);
  EXPECT_EQ(h.front().offset, 2u);  // offset 1 went
  EXPECT_EQ(h.back().payload.text(), std::string(10, 'y'));
  EXPECT_LE(registry.stats().history_bytes, cap);
  // The same cap one byte smaller holds one entry less.
  registry.set_limits({.history_max_bytes = cap - 1, .history_max_count = 0, .history_max_total_bytes = 1 << 20});
  EXPECT_EQ(registry.show_history("h").size(), 9u);
  // A single message whose footprint is over the cap is not saved.
  auto big = run(registry.group_send("h", nx::Payload(std::string(cap, 'b')), true));
  EXPECT_FALSE(big.history_offset.has_value());
  // The count cap.
  registry.set_limits({.history_max_bytes = cap, .history_max_count = 3, .history_max_total_bytes = 1 << 20});
  EXPECT_EQ(registry.show_history("h").size(), 3u);
  // Unknown group: empty. All groups: a map.
  EXPECT_TRUE(registry.show_history("unknown").empty());
  EXPECT_TRUE(registry.history("unknown").empty());
  EXPECT_EQ(registry.show_history().size(), 1u);
  registry.flush_history();
  EXPECT_TRUE(registry.show_history("h").empty());
  EXPECT_EQ(registry.stats().history_bytes, 0u);
  c->close_handshake();
}

TEST(ChannelBox, TotalHistoryCapEvictsLeastRecentlyWrittenGroupsFirst) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [a, ja] = server.join("old");
  auto [b, jb] = server.join("new");
  run(registry.group_send("old", nx::Payload(std::string(10, 'o')), true));
  const std::size_t fp = registry.history("old").front()->footprint();
  const std::size_t overhead = registry.stats().history_bytes - fp;  // "old" and "new" cost the same
  registry.flush_history();
  // Room for both groups and five entries: the sixth takes the oldest of the least recently written.
  const std::size_t total = 2 * overhead + 5 * fp;
  registry.set_limits({.history_max_bytes = 1 << 20, .history_max_count = 0, .history_max_total_bytes = total});
  for (int i = 0; i < 3; ++i) {
    run(registry.group_send("old", nx::Payload(std::string(10, 'o')), true));
  }
  for (int i = 0; i < 3; ++i) {
    run(registry.group_send("new", nx::Payload(std::string(10, 'n')), true));
    EXPECT_LE(registry.stats().history_bytes, total);
  }
  EXPECT_EQ(registry.show_history("old").size(), 2u);
  EXPECT_EQ(registry.show_history("new").size(), 3u);
  EXPECT_EQ(registry.stats().history_bytes, total);
  a->close_handshake();
  b->close_handshake();
}

// The issue's footprint figures: a group name and everything kept per entry count, and a total cap
// of X bytes never holds more than X counted bytes.
TEST(ChannelBox, HistoryCapsCountTheWholeFootprintNamesIncluded) {
  nx::ChannelLimits l;
  l.max_group_name_bytes = 8000;
  nx::ChannelRegistry registry(l);
  GroupServer server(registry);
  const std::string long_name(8000, 'r');
  auto [c, j] = server.join("short");
  EXPECT_EQ(registry.add_channel_to_group(j.channel, long_name), nx::ChannelAddStatusEnum::CHANNEL_ADDED);
  run(registry.group_send("short", nx::Payload("x"), true));
  const std::size_t short_bytes = registry.stats().history_bytes;
  run(registry.group_send(long_name, nx::Payload("x"), true));
  const auto st = registry.stats();
  EXPECT_EQ(st.history_payload_bytes, 2u);
  EXPECT_GE(st.history_bytes - short_bytes, short_bytes + 8000);  // the name counts
  // A total cap of X: writes to many groups never make the counted bytes exceed it.
  const std::size_t cap = 3 * short_bytes + 100;
  l.history_max_total_bytes = cap;
  registry.set_limits(l);
  EXPECT_LE(registry.stats().history_bytes, cap);
  EXPECT_EQ(registry.history(long_name).size(), 0u);  // 8 kB of name do not fit in the cap
  for (int g = 0; g < 6; ++g) {
    const std::string name = "g" + std::to_string(g);
    ASSERT_TRUE(nx::is_member(registry.add_channel_to_group(j.channel, name)));
    for (int i = 0; i < 4; ++i) {
      run(registry.group_send(name, nx::Payload(std::string(20, 'p')), true));
      EXPECT_LE(registry.stats().history_bytes, cap);
    }
  }
  EXPECT_GT(registry.stats().history_entries, 0u);
  c->close_handshake();
}

TEST(ChannelBox, HistoryLimitFromTheEnvironment) {
  nx::ChannelLimits l;
  ::setenv("CHANNEL_BOX_HISTORY_SIZE", "2048", 1);
  l.apply_environment();
  EXPECT_EQ(l.history_max_bytes, 2048u);
  ::setenv("CHANNEL_BOX_HISTORY_SIZE", "64KiB", 1);
  l.apply_environment();
  EXPECT_EQ(l.history_max_bytes, 64u * 1024);
  for (const char* bad : {"12abc", "0", "-1", "", "5MB5", "5XB"}) {
    ::setenv("CHANNEL_BOX_HISTORY_SIZE", bad, 1);
    try {
      l.apply_environment();
      ADD_FAILURE() << "accepted CHANNEL_BOX_HISTORY_SIZE=" << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("CHANNEL_BOX_HISTORY_SIZE"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("accepted"), std::string::npos) << e.what();
    }
  }
  // The seeds' name and ours must agree when both are set.
  ::setenv("CHANNEL_BOX_HISTORY_SIZE", "1MiB", 1);
  ::setenv("NEXIOS_HISTORY_MAX_BYTES", "2MiB", 1);
  EXPECT_THROW(l.apply_environment(), std::invalid_argument);
  ::setenv("NEXIOS_HISTORY_MAX_BYTES", "1048576", 1);
  EXPECT_NO_THROW(l.apply_environment());
  ::unsetenv("NEXIOS_HISTORY_MAX_BYTES");
  ::unsetenv("CHANNEL_BOX_HISTORY_SIZE");
  nx::ChannelLimits fresh;
  fresh.apply_environment();
  EXPECT_EQ(fresh.history_max_bytes, 1024u * 1024);
}

TEST(ChannelBox, MembersLeaveEveryGroupWhenTheirConnectionEnds) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [a, ja] = server.join("x");
  auto [b, jb] = server.join("x");
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, "y"), nx::ChannelAddStatusEnum::CHANNEL_ADDED);
  EXPECT_EQ(registry.group_size("x"), 2u);
  // A clean close.
  a->close_handshake();
  // An abrupt TCP drop.
  b.reset();
  // Wait for the server to notice (an event: the group empties), bounded.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((registry.group_size("x") != 0 || registry.group_size("y") != 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(registry.group_size("x"), 0u);
  EXPECT_EQ(registry.group_size("y"), 0u);
  EXPECT_FALSE(ja.channel.is_active());
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, "x"), nx::ChannelAddStatusEnum::CHANNEL_CLOSED);
  auto r = run(registry.group_send("x", msg("anyone?")));
  EXPECT_EQ(r, nx::GroupSendStatusEnum::NO_SUCH_GROUP);
}

TEST(ChannelBox, ExpiredChannelsAreClosedBy1001AndLeaveTheirGroups) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [c, j] = server.join("ttl", "ttl_ms=200");
  EXPECT_EQ(registry.group_size("ttl"), 1u);
  // No activity: the channel's timer closes it.
  auto close = c->read_close();
  EXPECT_EQ(close.code, 1001);
  EXPECT_EQ(close.reason, "channel expired");
  EXPECT_EQ(registry.group_size("ttl"), 0u);
  c->send_close(1001);
  EXPECT_TRUE(c->wait_closed());
}

TEST(ChannelBox, ActivityKeepsAChannelAlive) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [c, j] = server.join("alive", "ttl_ms=300");
  // Messages keep flowing for three times the TTL: the channel stays.
  const auto until = std::chrono::steady_clock::now() + 900ms;
  int i = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto r = run(registry.group_send("alive", msg(std::to_string(i))));
    ASSERT_EQ(r.delivered, 1u);
    ASSERT_EQ(c->read_text(), boost::json::serialize(boost::json::value(msg(std::to_string(i)))));
    c->send_text("ping");  // a message in counts too
    ++i;
  }
  EXPECT_TRUE(j.channel.is_active());
  EXPECT_EQ(registry.group_size("alive"), 1u);
  EXPECT_EQ(registry.clean_expired(), 0u);
  // With a clock 1 s ahead it counts as expired, and clean_expired closes it.
  EXPECT_EQ(registry.clean_expired(std::chrono::steady_clock::now() + 1s), 1u);
  EXPECT_EQ(c->read_close().code, 1001);
}

TEST(ChannelBox, SendToReachesAnyLiveChannelGroupedOrNot) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  TestClient plain(server.served->port());
  ASSERT_EQ(plain.handshake("/plain").status, 101);
  auto j = server.joined.take();
  // The process-wide ChannelBox knows every channel.
  EXPECT_TRUE(run(nx::ChannelBox::send_to(j.channel.id(), nx::Payload("direct"))));
  EXPECT_EQ(plain.read_text(), "direct");
  EXPECT_FALSE(run(nx::ChannelBox::send_to("no-such-id", nx::Payload("x"))));
  plain.close_handshake();
}

TEST(ChannelBox, CloseAllConnections) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [a, ja] = server.join("c1");
  auto [b, jb] = server.join("c2");
  EXPECT_EQ(registry.close_all_connections(4000, "maintenance"), 2u);
  for (auto* c : {a.get(), b.get()}) {
    auto close = c->read_close();
    EXPECT_EQ(close.code, 4000);
    EXPECT_EQ(close.reason, "maintenance");
  }
  EXPECT_TRUE(registry.show_groups().empty());
}

TEST(ChannelBox, ShowGroupsIsASnapshot) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [a, ja] = server.join("s1");
  auto [b, jb] = server.join("s2");
  auto groups = registry.show_groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups["s1"].front(), ja.channel);
  EXPECT_EQ(groups["s2"].front(), jb.channel);
  registry.remove_channel_from_group(ja.channel, "s1");
  EXPECT_EQ(groups["s1"].size(), 1u);  // the snapshot did not change
  a->close_handshake();
  b->close_handshake();
}

namespace {
// A server with a small max_send_queue for the slow-consumer tests.
struct SlowServer {
  SlowServer(nx::ChannelRegistry& registry, nx::Limits::SlowConsumerPolicy policy) {
    app.limits.max_send_queue = 256 * 1024;
    app.limits.slow_consumer_policy = policy;
    app.ws_route("/join", [&registry, this](nx::WebSocket ws) -> nx::Task<> {
      co_await ws.accept();
      nx::Channel ch(ws, nx::PayloadTypeEnum::TEXT);
      EXPECT_TRUE(nx::is_member(registry.add_channel_to_group(ch, "slow")));
      joined.put(ch.id());
      try {
        for (;;) {
          co_await ws.receive_text();
        }
      } catch (const nx::WebSocketDisconnect& e) {
        left.put(e.code);
      }
    });
    served.emplace(app);
  }
  nx::App app;
  Mailbox<std::string> joined;
  Mailbox<int> left;
  std::optional<Served> served;
};
}  // namespace

TEST(SlowConsumer, DefaultPolicyClosesWith1008AndOthersGetEverything) {
  nx::ChannelRegistry registry;
  SlowServer server(registry, nx::Limits::SlowConsumerPolicy::close);
  TestClient fast(server.served->port());
  ASSERT_EQ(fast.handshake("/join").status, 101);
  server.joined.take();
  TestClient slow(server.served->port());
  slow.set_timeout(10s);
  ASSERT_EQ(slow.handshake("/join").status, 101);
  server.joined.take();
  // `slow` never reads. 64 KiB messages: kernel buffers fill, then 256 KiB of queue, then 1008.
  const std::string chunk(64 * 1024, 'x');
  std::size_t dropped = 0;
  std::size_t sent = 0;
  for (; sent < 400 && dropped == 0; ++sent) {
    auto r = run(registry.group_send("slow", nx::Payload(chunk)));
    dropped += r.dropped;
    EXPECT_EQ(fast.read_text().size(), chunk.size());  // the fast member is never held back
  }
  EXPECT_EQ(dropped, 1u);
  EXPECT_EQ(server.left.take(), 1008);
  EXPECT_EQ(registry.group_size("slow"), 1u);  // the slow member left the group
  // Later messages reach the fast member only.
  auto r = run(registry.group_send("slow", nx::Payload("after")));
  EXPECT_EQ(r.delivered, 1u);
  EXPECT_EQ(fast.read_text(), "after");
  // The slow client finds the 1008 close after the data it had not read (what was not yet being
  // written was dropped).
  std::uint16_t code = 0;
  for (;;) {
    auto f = slow.read_frame();
    if (f.opcode == Opcode::close) {
      code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(f.payload[0]) << 8) |
                                        static_cast<std::uint8_t>(f.payload[1]));
      break;
    }
  }
  EXPECT_EQ(code, 1008);
}

TEST(SlowConsumer, DropNewestKeepsTheConnectionAndStillAnswersPings) {
  nx::ChannelRegistry registry;
  SlowServer server(registry, nx::Limits::SlowConsumerPolicy::drop_newest);
  TestClient slow(server.served->port());
  ASSERT_EQ(slow.handshake("/join").status, 101);
  server.joined.take();
  const std::string chunk(64 * 1024, 'x');
  std::size_t dropped = 0;
  for (int i = 0; i < 400 && dropped < 5; ++i) {
    dropped += run(registry.group_send("slow", nx::Payload(chunk))).dropped;
  }
  EXPECT_EQ(dropped, 5u);
  EXPECT_EQ(registry.group_size("slow"), 1u);  // still a member
  // Control frames are never dropped: a ping still gets its pong (after the queued data).
  slow.send_frame(Opcode::ping, "still there?");
  std::size_t data_bytes = 0;
  for (;;) {
    auto f = slow.read_frame();
    if (f.opcode == Opcode::pong) {
      EXPECT_EQ(f.payload, "still there?");
      break;
    }
    data_bytes += f.payload.size();
  }
  EXPECT_GT(data_bytes, 0u);
  slow.close_handshake();
}

TEST(ChannelBox, JoinAndLeaveDuringFanOutAcrossThreads) {
  nx::ChannelRegistry registry;
  GroupServer server(registry, 2);
  // 12 members on 2 event loops, each reading everything it gets.
  std::vector<std::unique_ptr<TestClient>> clients;
  std::vector<nx::Channel> channels;
  for (int i = 0; i < 12; ++i) {
    auto [c, j] = server.join("fan");
    clients.push_back(std::move(c));
    channels.push_back(j.channel);
  }
  std::atomic<bool> stop{false};
  // One thread keeps removing and re-adding half of the members while others send.
  std::thread churn([&] {
    while (!stop) {
      for (std::size_t i = 0; i < channels.size(); i += 2) {
        registry.remove_channel_from_group(channels[i], "fan");
        (void)registry.add_channel_to_group(channels[i], "fan");  // the status does not matter here
      }
    }
  });
  std::atomic<std::size_t> total_delivered{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 3; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        auto r = run(registry.group_send("fan", msg(std::to_string(t) + ":" + std::to_string(i))));
        EXPECT_EQ(r, nx::GroupSendStatusEnum::GROUP_SEND);
        EXPECT_EQ(r.dropped, 0u);
        EXPECT_GE(r.delivered, 6u);  // the members that never leave
        total_delivered += r.delivered;
      }
    });
  }
  for (auto& s : senders) {
    s.join();
  }
  stop = true;
  churn.join();
  // Every delivery arrives: count the messages each client receives.
  std::size_t received = 0;
  for (auto& c : clients) {
    c->set_timeout(2s);
  }
  const std::string marker = "end";
  EXPECT_EQ(run(registry.group_send("fan", nx::Payload(marker))).delivered, 12u);
  for (auto& c : clients) {
    for (;;) {
      auto text = c->read_text();
      if (text == "\"end\"") {
        break;
      }
      ++received;
    }
  }
  EXPECT_EQ(received, total_delivered.load());
  for (auto& c : clients) {
    c->close_handshake();
  }
}

TEST(ChannelBox, ProcessWideBoxThroughStaticCalls) {
  nx::App app;
  Mailbox<std::string> ids;
  app.ws_route("/room", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    nx::Channel ch(ws, "json", 0, boost::json::object{{"username", "anonymous"}});
    ch.metadata()["username"] = "alice";
    EXPECT_TRUE(nx::is_member(nx::ChannelBox::add_channel_to_group(ch, "static-room")));
    boost::json::object o;
    o["user"] = ch.metadata()["username"];
    co_await nx::ChannelBox::group_send("static-room", o, true);
    ids.put(ch.id());
    try {
      for (;;) {
        co_await ws.receive_text();
      }
    } catch (const nx::WebSocketDisconnect&) {
    }
  });
  Served s(app);
  TestClient c(s.port());
  ASSERT_EQ(c.handshake("/room").status, 101);
  EXPECT_EQ(c.read_text(), R"({"user":"alice"})");
  const auto id = ids.take();
  auto groups = nx::ChannelBox::show_groups();
  ASSERT_EQ(groups.count("static-room"), 1u);
  EXPECT_EQ(groups["static-room"].front().id(), id);
  EXPECT_EQ(nx::ChannelBox::show_history("static-room").size(), 1u);
  nx::ChannelBox::flush_history();
  EXPECT_TRUE(nx::ChannelBox::show_history("static-room").empty());
  c.close_handshake();
}

// Every ChannelLimits cap, met exactly and exceeded by one.
TEST(ChannelBox, LimitsOnGroupsMembersNamesAndHistories) {
  using S = nx::ChannelAddStatusEnum;
  nx::ChannelRegistry registry({.history_max_bytes = 1024,
                                .history_max_count = 0,
                                .history_max_total_bytes = 1 << 20,
                                .max_groups = 3,
                                .max_members_per_group = 2,
                                .max_groups_per_channel = 2,
                                .max_group_name_bytes = 8,
                                .max_metadata_bytes = 64});
  GroupServer server(registry);
  auto [a, ja] = server.join("g1");
  auto [b, jb] = server.join("g1");
  EXPECT_EQ(jb.status, S::CHANNEL_EXIST);
  auto [c, jc] = server.join("g1");  // a third member of a group of at most 2
  EXPECT_EQ(jc.status, S::GROUP_FULL);
  EXPECT_FALSE(nx::is_member(jc.status));
  EXPECT_EQ(registry.group_size("g1"), 2u);
  // Groups: g1, g2, g3 exist; a fourth is refused.
  EXPECT_EQ(registry.add_channel_to_group(jc.channel, "g2"), S::CHANNEL_ADDED);
  EXPECT_EQ(registry.add_channel_to_group(jc.channel, "g3"), S::CHANNEL_ADDED);
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, "g4"), S::GROUP_LIMIT_REACHED);
  EXPECT_FALSE(registry.show_groups().contains("g4"));
  EXPECT_EQ(registry.add_channel_to_group(jc.channel, "g1"), S::GROUP_FULL);
  // Groups per channel: a in g1 and g2 is in two; a third is refused.
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, "g2"), S::CHANNEL_EXIST);
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, "g3"), S::CHANNEL_GROUP_LIMIT_REACHED);
  EXPECT_EQ(registry.group_size("g3"), 1u);
  EXPECT_EQ(registry.add_channel_to_group(jb.channel, "g3"), S::CHANNEL_EXIST);
  // Names: 8 bytes fit, 9 do not; empty and invalid UTF-8 never.
  EXPECT_EQ(registry.remove_channel_from_group(jc.channel, "g3"), nx::ChannelRemoveStatusEnum::CHANNEL_REMOVED);
  EXPECT_EQ(registry.remove_channel_from_group(jc.channel, "g2"), nx::ChannelRemoveStatusEnum::CHANNEL_REMOVED);
  EXPECT_EQ(registry.remove_channel_from_group(jb.channel, "g3"), nx::ChannelRemoveStatusEnum::GROUP_REMOVED);
  EXPECT_EQ(registry.add_channel_to_group(jc.channel, "12345678"), S::CHANNEL_ADDED);
  EXPECT_EQ(registry.add_channel_to_group(jc.channel, "123456789"), S::INVALID_GROUP_NAME);
  EXPECT_EQ(registry.add_channel_to_group(jc.channel, ""), S::INVALID_GROUP_NAME);
  EXPECT_EQ(registry.add_channel_to_group(jc.channel, "bad\xff"), S::INVALID_GROUP_NAME);
  EXPECT_EQ(nx::to_string(S::GROUP_FULL), "GROUP_FULL");
  EXPECT_THROW(registry.set_limits({.history_max_bytes = 1024,
                                    .history_max_count = 0,
                                    .history_max_total_bytes = 1 << 20,
                                    .max_groups = 0,
                                    .max_members_per_group = 2,
                                    .max_groups_per_channel = 2,
                                    .max_group_name_bytes = 8,
                                    .max_metadata_bytes = 64}),
               std::invalid_argument);
  for (auto* cl : {a.get(), b.get(), c.get()}) {
    cl->close_handshake();
  }
}

TEST(ChannelBox, HistoriesOfAtMostHistoryMaxGroupsGroupsTheLongestEmptyFirst) {
  nx::ChannelLimits l;
  l.history_max_groups = 2;
  nx::ChannelRegistry registry(l);
  GroupServer server(registry);
  auto [a, ja] = server.join("busy");  // stays a member: written first, yet kept
  run(registry.group_send("busy", nx::Payload("zero"), true));
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, "h1"), nx::ChannelAddStatusEnum::CHANNEL_ADDED);
  run(registry.group_send("h1", nx::Payload("one"), true));
  EXPECT_EQ(registry.remove_channel_from_group(ja.channel, "h1"), nx::ChannelRemoveStatusEnum::GROUP_REMOVED);
  EXPECT_EQ(registry.show_history().size(), 2u);  // an empty room keeps its history ...
  EXPECT_EQ(registry.stats().history_groups_empty, 1u);
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, "h2"), nx::ChannelAddStatusEnum::CHANNEL_ADDED);
  run(registry.group_send("h2", nx::Payload("two"), true));  // ... but one more than 2 makes one go:
  auto all = registry.show_history();
  EXPECT_EQ(all.size(), 2u);
  EXPECT_FALSE(all.contains("h1"));  // the empty one, though "busy" was written less recently
  EXPECT_TRUE(all.contains("busy") && all.contains("h2"));
  // With no empty group, the least recently written goes.
  EXPECT_EQ(registry.add_channel_to_group(ja.channel, "h3"), nx::ChannelAddStatusEnum::CHANNEL_ADDED);
  run(registry.group_send("h3", nx::Payload("three"), true));
  all = registry.show_history();
  EXPECT_EQ(all.size(), 2u);
  EXPECT_TRUE(all.contains("h2") && all.contains("h3"));
  EXPECT_EQ(registry.stats().history_groups, 2u);
  a->close_handshake();
}

// history_ttl: an empty group's history goes that long after its last member left (on a timer,
// not on the next call); a member who joins again keeps it.
TEST(ChannelBox, HistoryOfAnEmptyGroupExpiresAfterHistoryTtl) {
  nx::ChannelLimits l;
  l.history_ttl = 300ms;
  nx::ChannelRegistry registry(l);
  GroupServer server(registry);
  auto [k, jk] = server.join("keep");
  run(registry.group_send("keep", nx::Payload("kept"), true));
  // "keep" empties first, then gets a member again at once.
  EXPECT_EQ(registry.remove_channel_from_group(jk.channel, "keep"), nx::ChannelRemoveStatusEnum::GROUP_REMOVED);
  EXPECT_EQ(registry.add_channel_to_group(jk.channel, "keep"), nx::ChannelAddStatusEnum::CHANNEL_ADDED);
  auto [g, jg] = server.join("gone");
  run(registry.group_send("gone", nx::Payload("forgotten"), true));
  g->close_handshake();  // its last member leaves by closing the connection
  EXPECT_TRUE(nx::test::eventually([&] { return registry.history("gone").empty(); }));  // the timer's event
  // "keep" emptied before "gone": had rejoining not refreshed it, it would have gone first.
  ASSERT_EQ(registry.history("keep").size(), 1u);
  EXPECT_EQ(registry.stats().history_groups, 1u);
  EXPECT_EQ(registry.stats().history_groups_empty, 0u);
  EXPECT_EQ(nx::ChannelLimits{}.history_ttl, std::chrono::minutes(5));
  k->close_handshake();
}

// history_trim_bytes: the TTL timer returns freed memory to the system once it has forgotten at
// least that many counted bytes since the last time (one byte short: not yet).
TEST(ChannelBox, HistoryTimerTrimsOnceHistoryTrimBytesAreForgotten) {
  nx::ChannelLimits l;
  l.history_ttl = 50ms;
  nx::ChannelRegistry registry(l);
  GroupServer server(registry);
  auto wait_forgotten = [&] {
    ASSERT_TRUE(nx::test::eventually([&] { return registry.stats().history_groups == 0; }));
  };
  auto [a, ja] = server.join("t1");
  run(registry.group_send("t1", nx::Payload("same size"), true));
  const std::size_t one = registry.stats().history_bytes;  // what forgetting "t1" frees
  l.history_trim_bytes = one + 1;
  registry.set_limits(l);
  a->close_handshake();
  wait_forgotten();
  EXPECT_EQ(registry.stats().history_trims, 0u);  // `one` forgotten: one byte short
  auto [b, jb] = server.join("t2");
  run(registry.group_send("t2", nx::Payload("same size"), true));
  EXPECT_EQ(registry.stats().history_bytes, one);
  b->close_handshake();
  wait_forgotten();
  EXPECT_EQ(registry.stats().history_trims, 1u);  // 2 * one forgotten: over it
  EXPECT_EQ(nx::ChannelLimits{}.history_trim_bytes, 8u << 20);
}

// Saved messages are one immutable object shared by the history and every reader.
TEST(ChannelBox, HistoryEntriesAreSharedNotCopied) {
  nx::ChannelRegistry registry;
  GroupServer server(registry);
  auto [c, j] = server.join("shared");
  for (int i = 1; i <= 5; ++i) {
    run(registry.group_send("shared", boost::json::object{{"n", i}}, true));
    EXPECT_EQ(c->read_text(), "{\"n\":" + std::to_string(i) + "}");
  }
  const auto first = registry.history("shared");
  const auto second = registry.history("shared");
  ASSERT_EQ(first.size(), 5u);
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].get(), second[i].get());                // the same object ...
    EXPECT_EQ(first[i]->data().data(), second[i]->data().data());  // ... and the same bytes
    if (i < 3) {  // (the connection's write queue may still hold the newest frames)
      EXPECT_EQ(first[i].use_count(), 3);  // the history and two readers
    }
    EXPECT_EQ(first[i]->offset(), i + 1);
    EXPECT_EQ(first[i]->kind(), nx::Payload::Kind::json);
    EXPECT_EQ(first[i]->id().size(), 36u);
  }
  EXPECT_EQ(first[2]->data(), "{\"n\":3}");
  EXPECT_EQ(first[2]->payload(), nx::Payload(boost::json::object{{"n", 3}}));
  // Queries: the last n, what came after an offset, both.
  auto q = registry.history("shared", nx::HistoryQuery{.after_offset = 0, .limit = 2});
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0]->offset(), 4u);
  EXPECT_EQ(q[1].get(), first[4].get());
  q = registry.history("shared", nx::HistoryQuery{.after_offset = 3, .limit = 0});
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0]->offset(), 4u);
  q = registry.history("shared", nx::HistoryQuery{.after_offset = 1, .limit = 2});
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0]->offset(), 4u);  // the newest two after offset 1
  EXPECT_TRUE(registry.history("shared", nx::HistoryQuery{.after_offset = 5, .limit = 0}).empty());
  EXPECT_TRUE(registry.history("shared", nx::HistoryQuery{.after_offset = 99, .limit = 0}).empty());
  // A handle outlives its eviction from the history.
  registry.flush_history("shared");
  EXPECT_EQ(first[0].use_count(), 2);
  EXPECT_EQ(first[0]->data(), "{\"n\":1}");
  c->close_handshake();
}

// Replay to a joiner over a real socket: the saved frames arrive in order, in the joiner's payload
// type, and an entry that cannot go to it is skipped without ending its connection.
TEST(ChannelBox, ReplayHistoryToAJoinerNeverHoldsWhatItCannotTake) {
  nx::ChannelRegistry registry;
  Mailbox<nx::ReplayResult> replayed;
  nx::App app;
  app.ws_route("/replay/{group}", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    const std::string type(ws.query_params().get_or("type", "json"));
    nx::Channel channel(ws, nx::PayloadType(type));
    const std::string group(ws.path_params().at("group"));
    const auto limit = static_cast<std::size_t>(std::stoul(std::string(ws.query_params().get_or("limit", "0"))));
    const nx::ReplayResult r = co_await registry.replay_history(channel, group, nx::HistoryQuery{.after_offset = 0, .limit = limit});
    (void)registry.add_channel_to_group(channel, group);
    replayed.put(r);
    try {
      for (;;) {
        co_await ws.receive_text();
      }
    } catch (const nx::WebSocketDisconnect&) {
    }
  });
  Served served(app, 1);
  // The first member takes bytes, so the bad entry below reaches it as a binary frame.
  TestClient first(served.port());
  ASSERT_EQ(first.handshake("/replay/room?type=bytes").status, 101);
  EXPECT_EQ(replayed.take().sent, 0u);
  run(registry.group_send("room", boost::json::object{{"n", 1}}, true));
  boost::json::object bad;
  bad["name"] = boost::json::string(std::string_view("bad\xff", 4));  // not UTF-8: no text frame may carry it
  // Refused before anything is sent or saved, so no joiner can ever be handed it.
  EXPECT_THROW(run(registry.group_send("room", bad, true)), std::invalid_argument);
  run(registry.group_send("room", nx::Payload("plain text"), true));
  run(registry.group_send("room", boost::json::object{{"n", 4}}, true));
  EXPECT_EQ(registry.history("room").size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(first.read_message().opcode, Opcode::binary);
  }
  // A JSON joiner: all three go (the text as a JSON string).
  TestClient joiner(served.port());
  ASSERT_EQ(joiner.handshake("/replay/room?type=json").status, 101);
  EXPECT_EQ(joiner.read_text(), "{\"n\":1}");
  EXPECT_EQ(joiner.read_text(), "\"plain text\"");
  EXPECT_EQ(joiner.read_text(), "{\"n\":4}");
  const nx::ReplayResult r = replayed.take();
  EXPECT_EQ(r.sent, 3u);
  EXPECT_EQ(r.skipped, 0u);
  EXPECT_EQ(registry.stats().history_replay_skipped, 0u);
  // Its connection is still there: it gets the next group message.
  run(registry.group_send("room", boost::json::object{{"n", 5}}, false));
  EXPECT_EQ(joiner.read_text(), "{\"n\":5}");
  EXPECT_EQ(first.read_message().payload, "{\"n\":5}");
  // A limited replay: the last two only.
  TestClient late(served.port());
  ASSERT_EQ(late.handshake("/replay/room?type=text&limit=2").status, 101);
  EXPECT_EQ(late.read_text(), "plain text");
  EXPECT_EQ(late.read_text(), "{\"n\":4}");
  EXPECT_EQ(replayed.take().sent, 2u);
  for (auto* cl : {&first, &joiner, &late}) {
    cl->close_handshake();
  }
}

TEST(Channel, MetadataOverTheLimitIsRefused) {
  nx::ChannelLimits limits = nx::ChannelBox::registry().limits();
  const nx::ChannelLimits before = limits;
  limits.max_metadata_bytes = 20;
  nx::ChannelBox::registry().set_limits(limits);
  nx::App app;
  Mailbox<std::string> outcome;
  app.ws_route("/m/{n:int}", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    const auto n = ws.path_params().as<std::int64_t>("n");
    try {
      // {"k":"xxx"} is 8 bytes plus the value.
      nx::Channel ch(ws, nx::PayloadTypeEnum::JSON, 0, boost::json::object{{"k", std::string(static_cast<std::size_t>(n), 'x')}});
      outcome.put("ok");
    } catch (const std::invalid_argument& e) {
      outcome.put(e.what());
    }
  });
  Served s(app);
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/m/12").status, 101);  // 20 bytes
    EXPECT_EQ(outcome.take(), "ok");
  }
  {
    TestClient c(s.port());
    ASSERT_EQ(c.handshake("/m/13").status, 101);  // 21 bytes
    EXPECT_NE(outcome.take().find("max_metadata_bytes"), std::string::npos);
  }
  nx::ChannelBox::registry().set_limits(before);
}
