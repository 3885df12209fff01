// /metrics: the Prometheus text format 0.0.4, rendered at scrape time.
//
// The counters are per event loop (transport/stats.hpp: one writer each, relaxed atomics) and are
// summed here, on whatever thread serves the scrape, together with the process-wide block that
// other threads count into. The channel registry is read under its lock into four numbers; the
// text is formatted after the lock is released. The process's memory (the allocator's statistics
// from glibc's mallinfo2() and the resident set from /proc/self/statm) is read first, so the
// scrape's own buffers are not counted in it.

#include "app/metrics.hpp"

#include <nexios/channel_layer.hpp>

#include "transport/server.hpp"
#include "transport/stats.hpp"

#include <nexios/channels.hpp>
#include <nexios/log.hpp>

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <vector>

#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define NEXIOS_HAVE_MALLINFO2 1
#endif

namespace nexios::detail {

namespace stats = transport::stats;

namespace {

// When the process started (the library's static initialization, before main).
const double process_start_seconds =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(out(), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  // `labels` is the inside of the braces, already escaped (our label values are fixed words and
  // numbers), or empty.
  void sample(std::string_view name, std::string_view labels, std::uint64_t v) {
    labels.empty() ? fmt::format_to(out(), "{} {}\n", name, v)
                   : fmt::format_to(out(), "{}{{{}}} {}\n", name, labels, v);
  }
  void sample(std::string_view name, std::string_view labels, std::int64_t v) {
    labels.empty() ? fmt::format_to(out(), "{} {}\n", name, v)
                   : fmt::format_to(out(), "{}{{{}}} {}\n", name, labels, v);
  }
  void sample(std::string_view name, std::string_view labels, double v) {
    labels.empty() ? fmt::format_to(out(), "{} {}\n", name, v)
                   : fmt::format_to(out(), "{}{{{}}} {}\n", name, labels, v);
  }

  template <std::size_t N>
  void histogram(std::string_view name, std::string_view labels, const std::array<std::int64_t, N>& bounds_ns,
                 const std::array<std::uint64_t, N + 1>& buckets, std::uint64_t sum_ns) {
    const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= N; ++i) {
      cumulative += buckets[i];
      if (i < N) {
        fmt::format_to(out(), "{}_bucket{{{}le=\"{}\"}} {}\n", name, prefix, static_cast<double>(bounds_ns[i]) / 1e9,
                       cumulative);
      } else {
        fmt::format_to(out(), "{}_bucket{{{}le=\"+Inf\"}} {}\n", name, prefix, cumulative);
      }
    }
    const double sum = static_cast<double>(sum_ns) / 1e9;
    labels.empty()
        ? fmt::format_to(out(), "{}_sum {}\n{}_count {}\n", name, sum, name, cumulative)
        : fmt::format_to(out(), "{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, sum, name, labels, cumulative);
  }

  std::string take() { return fmt::to_string(buf_); }

 private:
  fmt::appender out() { return fmt::appender(buf_); }
  fmt::memory_buffer buf_;
};

// Totals over every block.
struct Totals {
  std::uint64_t connections_accepted = 0;
  std::int64_t http_open = 0;
  std::int64_t ws_open = 0;
  std::uint64_t handshakes_accepted = 0;
  std::array<std::uint64_t, stats::reject_count> rejected{};
  std::array<std::uint64_t, 5> http_requests{};
  std::uint64_t msgs_in = 0, msgs_out = 0, bytes_in = 0, bytes_out = 0, writes = 0;
  std::int64_t send_queue = 0;
  std::uint64_t slow_closes = 0, slow_drops = 0;
  std::array<std::array<std::uint64_t, stats::rate_action_count>, stats::rate_kind_count> rate{};
  std::array<std::uint64_t, stats::fanout_bounds_ns.size() + 1> fanout{};
  std::uint64_t fanout_sum_ns = 0;
  std::vector<std::uint64_t> closes = std::vector<std::uint64_t>(stats::close_code_slots);

  void add(const stats::WorkerStats& w) {
    connections_accepted += w.connections_accepted.get();
    http_open += w.http_open.get();
    ws_open += w.ws_open.get();
    handshakes_accepted += w.handshakes_accepted.get();
    for (std::size_t i = 0; i < rejected.size(); ++i) {
      rejected[i] += w.handshakes_rejected[i].get();
    }
    for (std::size_t i = 0; i < http_requests.size(); ++i) {
      http_requests[i] += w.http_requests[i].get();
    }
    msgs_in += w.ws_messages_in.get();
    msgs_out += w.ws_messages_out.get();
    bytes_in += w.ws_bytes_in.get();
    bytes_out += w.ws_bytes_out.get();
    writes += w.ws_writes.get();
    send_queue += w.ws_send_queue_bytes.get();
    slow_closes += w.slow_consumer_closes.get();
    slow_drops += w.slow_consumer_drops.get();
    for (std::size_t k = 0; k < stats::rate_kind_count; ++k) {
      for (std::size_t a = 0; a < stats::rate_action_count; ++a) {
        rate[k][a] += w.rate_limited[k][a].get();
      }
    }
    for (std::size_t i = 0; i < fanout.size(); ++i) {
      fanout[i] += w.group_send.bucket(i);
    }
    fanout_sum_ns += w.group_send.sum_ns();
    for (std::size_t i = 0; i < stats::close_code_slots; ++i) {
      closes[i] += w.close_codes[i].get();
    }
  }
};

// What the process holds, read at scrape time.
struct ProcessMemory {
  // glibc's allocator (mallinfo2(), summed over every arena): bytes handed out to the program
  // (uordblks + hblkhd), bytes kept free inside the arenas (fordblks: what malloc_trim could
  // give back), bytes obtained from the system (arena + hblkhd).
  bool have_heap = false;
  std::uint64_t heap_in_use = 0;
  std::uint64_t heap_free = 0;
  std::uint64_t heap_system = 0;
  // /proc/self/statm: resident and virtual size, in bytes.
  std::optional<std::uint64_t> resident;
  std::optional<std::uint64_t> virtual_size;
};

ProcessMemory read_process_memory() {
  ProcessMemory m;
#ifdef NEXIOS_HAVE_MALLINFO2
  const struct mallinfo2 mi = ::mallinfo2();
  m.have_heap = true;
  m.heap_in_use = mi.uordblks + mi.hblkhd;
  m.heap_free = mi.fordblks;
  m.heap_system = mi.arena + mi.hblkhd;
#endif
  if (std::FILE* f = std::fopen("/proc/self/statm", "re")) {
    unsigned long long size_pages = 0;
    unsigned long long resident_pages = 0;
    if (std::fscanf(f, "%llu %llu", &size_pages, &resident_pages) == 2) {
      const long page = ::sysconf(_SC_PAGESIZE);
      const auto page_bytes = static_cast<std::uint64_t>(page > 0 ? page : 4096);
      m.resident = resident_pages * page_bytes;
      m.virtual_size = size_pages * page_bytes;
    }
    std::fclose(f);
  }
  return m;
}

template <std::size_t N>
std::array<std::uint64_t, N + 1> buckets_of(const stats::Histogram<N>& h) {
  std::array<std::uint64_t, N + 1> b{};
  for (std::size_t i = 0; i <= N; ++i) {
    b[i] = h.bucket(i);
  }
  return b;
}

}  // namespace

std::string render_prometheus(transport::Server* server) {
  const ProcessMemory memory = read_process_memory();
  const bool running = server != nullptr && server->running();
  Totals t;
  t.add(stats::shared_block());
  if (running) {
    for (std::size_t i = 0; i < server->worker_count(); ++i) {
      t.add(server->worker(i).stats);
    }
  }
  // Under the registry's lock: four numbers; formatted after it is released.
  const ChannelRegistryStats channels = ChannelRegistry::global().stats();
  std::optional<ChannelLayerStats> layer;
  if (auto l = ChannelRegistry::global().layer()) {
    layer = l->stats();
  }

  Writer w;
  w.family("nexios_connections_open", "gauge",
           "Open TCP connections (HTTP and WebSocket), as counted against max_connections.");
  w.sample("nexios_connections_open", "", static_cast<std::uint64_t>(running ? server->connection_count() : 0));
  w.family("nexios_connections_open_by_kind", "gauge",
           "Open TCP connections by phase: HTTP (before or without an upgrade) or an accepted WebSocket.");
  w.sample("nexios_connections_open_by_kind", "kind=\"http\"", t.http_open);
  w.sample("nexios_connections_open_by_kind", "kind=\"websocket\"", t.ws_open);
  w.family("nexios_connections_accepted_total", "counter", "TCP connections accepted.");
  w.sample("nexios_connections_accepted_total", "", t.connections_accepted);

  w.family("nexios_websocket_handshakes_accepted_total", "counter", "WebSocket handshakes accepted (101).");
  w.sample("nexios_websocket_handshakes_accepted_total", "", t.handshakes_accepted);
  w.family("nexios_websocket_handshakes_rejected_total", "counter",
           "WebSocket handshakes refused, by reason (max_connections and address_limit count connections refused "
           "before their request was read).");
  for (std::size_t i = 0; i < stats::reject_count; ++i) {
    w.sample("nexios_websocket_handshakes_rejected_total",
             fmt::format("reason=\"{}\"", stats::name(static_cast<stats::Reject>(i))), t.rejected[i]);
  }

  w.family("nexios_http_requests_total", "counter",
           "HTTP responses written, by status class (WebSocket handshakes are counted apart).");
  for (std::size_t i = 0; i < t.http_requests.size(); ++i) {
    w.sample("nexios_http_requests_total", fmt::format("status_class=\"{}xx\"", i + 1), t.http_requests[i]);
  }

  w.family("nexios_websocket_messages_total", "counter",
           "WebSocket data messages received (in) and queued for sending (out).");
  w.sample("nexios_websocket_messages_total", "direction=\"in\"", t.msgs_in);
  w.sample("nexios_websocket_messages_total", "direction=\"out\"", t.msgs_out);
  w.family("nexios_websocket_bytes_total", "counter", "Payload bytes of WebSocket data messages, in and out.");
  w.sample("nexios_websocket_bytes_total", "direction=\"in\"", t.bytes_in);
  w.sample("nexios_websocket_bytes_total", "direction=\"out\"", t.bytes_out);
  w.family("nexios_websocket_writes_total", "counter",
           "Socket writes of WebSocket frames; each carries every frame queued for its connection since the "
           "last one (frames out per write: how well writes are batched).");
  w.sample("nexios_websocket_writes_total", "", t.writes);
  w.family("nexios_websocket_closes_total", "counter",
           "WebSockets ended, by close code (the first close frame of the closing handshake; 1006: none).");
  for (std::size_t i = 0; i < stats::close_code_slots; ++i) {
    if (t.closes[i] != 0) {
      w.sample("nexios_websocket_closes_total", fmt::format("code=\"{}\"", i + stats::first_close_code), t.closes[i]);
    }
  }
  w.family("nexios_websocket_send_queue_bytes", "gauge", "Bytes queued for sending, over every WebSocket.");
  w.sample("nexios_websocket_send_queue_bytes", "", t.send_queue);
  w.family("nexios_websocket_slow_consumer_total", "counter",
           "Group messages refused to a slow consumer (over max_send_queue), by the policy's action.");
  w.sample("nexios_websocket_slow_consumer_total", "action=\"close\"", t.slow_closes);
  w.sample("nexios_websocket_slow_consumer_total", "action=\"drop\"", t.slow_drops);

  w.family("nexios_rate_limited_total", "counter", "Rate-limit hits, by what was counted and what was done.");
  for (std::size_t k = 0; k < stats::rate_kind_count; ++k) {
    for (std::size_t a = 0; a < stats::rate_action_count; ++a) {
      w.sample("nexios_rate_limited_total",
               fmt::format("kind=\"{}\",action=\"{}\"", stats::name(static_cast<stats::RateKind>(k)),
                           stats::name(static_cast<stats::RateAction>(a))),
               t.rate[k][a]);
    }
  }

  w.family("nexios_channel_groups", "gauge", "Groups in the process-wide channel registry.");
  w.sample("nexios_channel_groups", "", static_cast<std::uint64_t>(channels.groups));
  w.family("nexios_channel_group_members", "gauge", "Members summed over groups.");
  w.sample("nexios_channel_group_members", "", static_cast<std::uint64_t>(channels.members));
  w.family("nexios_channel_history_entries", "gauge", "Saved group messages.");
  w.sample("nexios_channel_history_entries", "", static_cast<std::uint64_t>(channels.history_entries));
  w.family("nexios_channel_history_bytes", "gauge", "Payload bytes of saved group messages.");
  w.sample("nexios_channel_history_bytes", "", static_cast<std::uint64_t>(channels.history_bytes));
  w.family("nexios_group_send_duration_seconds", "histogram",
           "group_send fan-out: from the call until the last event loop has queued the frame for its members.");
  w.histogram("nexios_group_send_duration_seconds", "", stats::fanout_bounds_ns, t.fanout, t.fanout_sum_ns);

  if (layer) {
    w.family("nexios_channel_layer_up", "gauge",
             "1 while the channel layer reaches the other servers (connected to Redis), else 0.");
    w.sample("nexios_channel_layer_up", "", static_cast<std::uint64_t>(layer->state == ChannelLayerState::up ? 1 : 0));
    w.family("nexios_channel_layer_state", "gauge", "The channel layer's state: 1 for the current one.");
    for (auto st : {ChannelLayerState::up, ChannelLayerState::connecting, ChannelLayerState::down}) {
      w.sample("nexios_channel_layer_state", fmt::format("state=\"{}\"", to_string(st)),
               static_cast<std::uint64_t>(layer->state == st ? 1 : 0));
    }
    w.family("nexios_channel_layer_published_total", "counter", "Group messages and send_to requests handed to the other servers.");
    w.sample("nexios_channel_layer_published_total", "", layer->published);
    w.family("nexios_channel_layer_not_published_total", "counter",
             "Group messages that reached only this server's members (the layer was not up, its pending buffer was "
             "full, or the publish failed).");
    w.sample("nexios_channel_layer_not_published_total", "", layer->not_published);
    w.family("nexios_channel_layer_pending_full_total", "counter",
             "Of those, refused because max_pending_publishes were waiting for Redis.");
    w.sample("nexios_channel_layer_pending_full_total", "", layer->pending_full);
    w.family("nexios_channel_layer_received_total", "counter", "Group messages and requests received from other servers.");
    w.sample("nexios_channel_layer_received_total", "", layer->received);
    w.family("nexios_channel_layer_malformed_total", "counter",
             "Malformed or foreign messages on the layer's channels, dropped.");
    w.sample("nexios_channel_layer_malformed_total", "", layer->malformed);
    w.family("nexios_channel_layer_reconnects_total", "counter", "Times the layer lost Redis and connected again.");
    w.sample("nexios_channel_layer_reconnects_total", "", layer->reconnects);
    w.family("nexios_channel_layer_pending", "gauge", "Publishes sent to Redis and waiting for their reply.");
    w.sample("nexios_channel_layer_pending", "", layer->pending);
  }

  if (running) {
    w.family("nexios_event_loop_last_lag_seconds", "gauge",
             "How late the last periodic timer fired on each event loop (checked every 250 ms).");
    for (std::size_t i = 0; i < server->worker_count(); ++i) {
      w.sample("nexios_event_loop_last_lag_seconds", fmt::format("thread=\"{}\"", i),
               static_cast<double>(server->worker(i).stats.lag_last_ns.get()) / 1e9);
    }
    w.family("nexios_event_loop_lag_seconds", "histogram", "Event-loop lag of each loop's periodic check.");
    for (std::size_t i = 0; i < server->worker_count(); ++i) {
      const auto& lag = server->worker(i).stats.lag;
      w.histogram("nexios_event_loop_lag_seconds", fmt::format("thread=\"{}\"", i), lag.bounds_ns(), buckets_of(lag),
                  lag.sum_ns());
    }
  }

  w.family("nexios_log_dropped_total", "counter", "Log lines dropped because the log queue was full.");
  w.sample("nexios_log_dropped_total", "", log_lines_dropped());
  w.family("nexios_process_start_time_seconds", "gauge", "Start time of the process, in seconds since the Unix epoch.");
  w.sample("nexios_process_start_time_seconds", "", process_start_seconds);
  if (memory.resident) {
    w.family("nexios_process_resident_memory_bytes", "gauge", "Resident set size of the process (/proc/self/statm).");
    w.sample("nexios_process_resident_memory_bytes", "", *memory.resident);
    w.family("nexios_process_virtual_memory_bytes", "gauge", "Virtual memory size of the process (/proc/self/statm).");
    w.sample("nexios_process_virtual_memory_bytes", "", *memory.virtual_size);
  }
  if (memory.have_heap) {
    w.family("nexios_process_heap_bytes", "gauge",
             "Live heap: bytes the allocator has handed out and not yet been given back (glibc mallinfo2: "
             "uordblks + hblkhd, over every arena).");
    w.sample("nexios_process_heap_bytes", "", memory.heap_in_use);
    w.family("nexios_process_heap_free_bytes", "gauge",
             "Bytes free inside the allocator's arenas, kept by the process (glibc mallinfo2: fordblks).");
    w.sample("nexios_process_heap_free_bytes", "", memory.heap_free);
    w.family("nexios_process_heap_system_bytes", "gauge",
             "Bytes the allocator has obtained from the system (glibc mallinfo2: arena + hblkhd).");
    w.sample("nexios_process_heap_system_bytes", "", memory.heap_system);
  }
  return w.take();
}

}  // namespace nexios::detail
