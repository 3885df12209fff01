// /metrics over real sockets: the counters other layers bump through transport::stats, the
// slow-consumer policy's counts, group_send's fan-out histogram and the channel gauges of the
// process-wide registry, counted on event-loop threads and on other threads.

#include "support/poll.hpp"
#include "support/test_client.hpp"
#include "support/test_server.hpp"
#include "transport/stats.hpp"

#include <nexios/nexios.hpp>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <thread>

namespace nx = nexios;
namespace stats = nexios::transport::stats;
using nx::test::Mailbox;
using nx::test::run;
using nx::test::Served;
using nx::test::TestClient;
using namespace std::chrono_literals;

namespace {


// The value of one series ("name" or "name{labels}") in a scrape, or -1 if it is not there.
double value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

std::string scrape(std::uint16_t port) {
  TestClient c(port);
  auto r = c.request("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
  return r.body;
}

}  // namespace

TEST(Metrics, OtherLayersCountThroughTheStatsApiFromAnyThread) {
  nx::App app;
  app.enable_metrics("/metrics");
  app.get("/limited", [](nx::Request&, nx::Response& res) -> nx::Task<> {
    // On an event-loop thread: that loop's block.
    stats::count_rate_limited(stats::RateKind::messages, stats::RateAction::drop);
    stats::count_handshake_rejected(stats::Reject::guard);
    res.status(429).text("slow down");
    co_return;
  });
  Served s(app, 2);
  const std::string before = scrape(s.port());
  // On a thread that is no event loop: the process-wide block.
  stats::count_handshake_rejected(stats::Reject::origin);
  stats::count_rate_limited(stats::RateKind::connections, stats::RateAction::close);
  {
    TestClient c(s.port());
    EXPECT_EQ(c.request("GET", "/limited").status, 429);
    EXPECT_EQ(c.request("GET", "/limited").status, 429);
  }
  // A request is counted when its response has been written, which may be just after the client
  // read it: scrape until both are counted.
  std::string after;
  auto delta = [&](const std::string& series) { return value_of(after, series) - value_of(before, series); };
  EXPECT_TRUE(nexios::test::eventually(
      [&] {
        after = scrape(s.port());
        return delta("nexios_http_requests_total{status_class=\"4xx\"}") >= 2;
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(delta("nexios_websocket_handshakes_rejected_total{reason=\"origin\"}"), 1);
  EXPECT_EQ(delta("nexios_websocket_handshakes_rejected_total{reason=\"guard\"}"), 2);
  EXPECT_EQ(delta("nexios_rate_limited_total{kind=\"messages\",action=\"drop\"}"), 2);
  EXPECT_EQ(delta("nexios_rate_limited_total{kind=\"connections\",action=\"close\"}"), 1);
  EXPECT_EQ(delta("nexios_rate_limited_total{kind=\"bytes\",action=\"throttle\"}"), 0);
  EXPECT_GE(delta("nexios_http_requests_total{status_class=\"4xx\"}"), 2);
}

TEST(Metrics, SlowConsumersFanOutAndChannelGauges) {
  auto& registry = nx::ChannelRegistry::global();
  nx::App app;
  app.enable_metrics();
  app.limits.max_send_queue = 256 * 1024;
  Mailbox<std::string> joined;
  Mailbox<int> left;
  app.ws_route("/join/{group}", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    nx::Channel ch(ws, nx::PayloadTypeEnum::TEXT);
    EXPECT_TRUE(nx::is_member(nx::ChannelBox::add_channel_to_group(ch, ws.path_params().at("group"))));
    joined.put(ch.id());
    try {
      for (;;) {
        co_await ws.receive_text();
      }
    } catch (const nx::WebSocketDisconnect& e) {
      left.put(e.code);
    }
  });
  Served s(app, 2);
  const std::string before = scrape(s.port());
  const std::string group = "metrics-slow-" + std::to_string(::getpid());

  TestClient slow(s.port());
  ASSERT_EQ(slow.handshake("/join/" + group).status, 101);
  joined.take();
  TestClient other(s.port());
  ASSERT_EQ(other.handshake("/join/" + group + "-b").status, 101);
  joined.take();
  const std::string with_members = scrape(s.port());
  EXPECT_EQ(value_of(with_members, "nexios_channel_groups") - value_of(before, "nexios_channel_groups"), 2);
  EXPECT_EQ(value_of(with_members, "nexios_channel_group_members") - value_of(before, "nexios_channel_group_members"),
            2);

  // `slow` never reads: kernel buffers fill, then 256 KiB of queue, then the policy closes it.
  const std::string chunk(64 * 1024, 'x');
  std::size_t dropped = 0;
  std::size_t sends = 0;
  for (; sends < 400 && dropped == 0; ++sends) {
    dropped += run(registry.group_send(group, nx::Payload(chunk), true)).dropped;
  }
  ASSERT_EQ(dropped, 1u);
  EXPECT_EQ(left.take(), 1008);

  const std::string after = scrape(s.port());
  auto delta = [&](const std::string& series) { return value_of(after, series) - value_of(before, series); };
  EXPECT_EQ(delta("nexios_websocket_slow_consumer_total{action=\"close\"}"), 1);
  EXPECT_EQ(delta("nexios_websocket_slow_consumer_total{action=\"drop\"}"), 0);
  EXPECT_EQ(delta("nexios_group_send_duration_seconds_count"), static_cast<double>(sends));
  EXPECT_GT(delta("nexios_group_send_duration_seconds_sum"), 0);
  EXPECT_EQ(delta("nexios_websocket_messages_total{direction=\"out\"}"), static_cast<double>(sends - 1));
  // The slow member left its group (which is gone); history stays, bounded per group (1 MiB).
  EXPECT_EQ(delta("nexios_channel_groups"), 1);
  EXPECT_EQ(delta("nexios_channel_group_members"), 1);
  EXPECT_GT(delta("nexios_channel_history_entries"), 0);
  EXPECT_GT(delta("nexios_channel_history_bytes"), 0);
  EXPECT_LE(delta("nexios_channel_history_bytes"), 1024 * 1024);

  // The slow client reads what was on its way, then the 1008. The server counts the code when
  // it closes the TCP connection, after the client's own close: state behind HTTP, polled.
  for (;;) {
    if (slow.read_frame().opcode == nx::ws::Opcode::close) {
      break;
    }
  }
  slow.send_close(1000);
  EXPECT_TRUE(slow.wait_closed());
  slow.socket().close();
  other.close_handshake();
  other.socket().close();
  std::string last;
  const double closes_before = std::max(0.0, value_of(before, "nexios_websocket_closes_total{code=\"1008\"}"));
  EXPECT_TRUE(nexios::test::eventually(
      [&] {
        last = scrape(s.port());
        return value_of(last, "nexios_connections_open_by_kind{kind=\"websocket\"}") == 0;
      },
      10s));
  EXPECT_EQ(value_of(last, "nexios_websocket_closes_total{code=\"1008\"}") - closes_before, 1);
  EXPECT_EQ(value_of(last, "nexios_websocket_send_queue_bytes"), 0);
  registry.flush_history(group);
}
