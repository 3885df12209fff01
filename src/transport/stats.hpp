#pragma once
// transport::stats: the counters behind /metrics (private to the library).
//
// Every event-loop thread (Worker) owns one `WorkerStats` block and is its only writer: counters
// are relaxed atomics written with load + store (no read-modify-write, no lock, no allocation),
// and a scrape on any thread sums the blocks with relaxed loads. Code that runs on a thread that
// is not an event loop (a test's own io_context, a thread of the application) counts into one
// process-wide block with fetch_add instead; `local()` picks the right one.
//
// The other layers count through the free functions at the end of this file, e.g.
//   stats::count_handshake_rejected(stats::Reject::origin);
//   stats::count_rate_limited(stats::RateKind::messages, stats::RateAction::drop);
// Both may be called from any thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace nexios::transport::stats {

/// Why a WebSocket handshake (or a connection, before its request was read) was refused. The one
/// list of reasons: /metrics has a series for each (label `reason`), the access log names it.
enum class Reject : std::uint8_t {
  not_found,            ///< no WebSocket route for the path (404)
  bad_request,          ///< the upgrade request fails RFC 6455 validation (400/426/405)
  rejected_by_handler,  ///< the handler closed or returned before accept (403 or its own status)
  handler_error,        ///< the handler threw before accept (500)
  origin,               ///< the Origin header is not allowed
  guard,                ///< a guard refused the request
  rate_limit,           ///< over a handshake rate limit
  address_limit,        ///< over the connections allowed per client address
  max_connections,      ///< over Limits::max_connections (answered 503 before the request is read)
};
inline constexpr std::size_t reject_count = 9;

/// The label value of a reason ("not_found", ...).
constexpr std::string_view name(Reject r) noexcept {
  constexpr std::array<std::string_view, reject_count> names{"not_found",     "bad_request",   "rejected_by_handler",
                                                             "handler_error", "origin",        "guard",
                                                             "rate_limit",    "address_limit", "max_connections"};
  return names[static_cast<std::size_t>(r)];
}

/// What a rate limit counted and what it did (label `kind` and `action`).
enum class RateKind : std::uint8_t { messages, bytes, connections };
enum class RateAction : std::uint8_t { throttle, drop, close };
inline constexpr std::size_t rate_kind_count = 3;
inline constexpr std::size_t rate_action_count = 3;

constexpr std::string_view name(RateKind k) noexcept {
  constexpr std::array<std::string_view, rate_kind_count> names{"messages", "bytes", "connections"};
  return names[static_cast<std::size_t>(k)];
}
constexpr std::string_view name(RateAction a) noexcept {
  constexpr std::array<std::string_view, rate_action_count> names{"throttle", "drop", "close"};
  return names[static_cast<std::size_t>(a)];
}

/// A monotonic counter. `add` is for the block's owner thread only; `add_shared` for the
/// process-wide block, which any thread may write.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void add_shared(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

/// A value that goes up and down, written by its owner thread only; summed over threads.
class Gauge {
 public:
  void add(std::int64_t n) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(std::int64_t n) noexcept { add(-n); }
  void set(std::int64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

/// A histogram of durations with fixed upper bounds (in ns). Buckets hold plain (not cumulative)
/// counts; the renderer accumulates them, so `_count` always equals the `+Inf` bucket.
template <std::size_t N>
class Histogram {
 public:
  explicit constexpr Histogram(const std::array<std::int64_t, N>& bounds_ns) noexcept : bounds_(bounds_ns) {}

  void observe(std::int64_t ns, bool shared = false) noexcept {
    std::size_t i = 0;
    while (i < N && ns > bounds_[i]) {
      ++i;
    }
    const auto v = static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
    if (shared) {
      buckets_[i].add_shared();
      sum_ns_.add_shared(v);
    } else {
      buckets_[i].add();
      sum_ns_.add(v);
    }
  }

  [[nodiscard]] const std::array<std::int64_t, N>& bounds_ns() const noexcept { return bounds_; }
  /// Bucket i < N: observations in (bounds[i-1], bounds[i]]; bucket N: above the last bound.
  [[nodiscard]] std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].get(); }
  [[nodiscard]] std::uint64_t sum_ns() const noexcept { return sum_ns_.get(); }

 private:
  std::array<std::int64_t, N> bounds_;
  std::array<Counter, N + 1> buckets_{};
  Counter sum_ns_;
};

// group_send fan-out latency: 10 µs … 1 s.
inline constexpr std::array<std::int64_t, 16> fanout_bounds_ns{
    10'000,    25'000,     50'000,     100'000,    250'000,     500'000,     1'000'000,   2'500'000,
    5'000'000, 10'000'000, 25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000};
// Event-loop lag: 100 µs … 5 s.
inline constexpr std::array<std::int64_t, 12> lag_bounds_ns{100'000,     500'000,     1'000'000,     5'000'000,
                                                            10'000'000,  25'000'000,  50'000'000,    100'000'000,
                                                            250'000'000, 500'000'000, 1'000'000'000, 5'000'000'000};

/// Close codes counted individually: every code a WebSocket can end with (1000–4999).
inline constexpr std::uint16_t first_close_code = 1000;
inline constexpr std::size_t close_code_slots = 4000;

/// Everything one event loop counts. Aligned so two threads' blocks never share a cache line.
struct alignas(64) WorkerStats {
  WorkerStats() : close_codes(std::make_unique<Counter[]>(close_code_slots)) {}

  // connections
  Counter connections_accepted;
  Gauge http_open;  // TCP connections in the HTTP phase
  Gauge ws_open;    // accepted WebSockets until their TCP connection closes
  // handshakes
  Counter handshakes_accepted;
  std::array<Counter, reject_count> handshakes_rejected{};
  // HTTP responses by status class (index 0: 1xx … 4: 5xx)
  std::array<Counter, 5> http_requests{};
  // WebSocket data messages (payload bytes)
  Counter ws_messages_in;
  Counter ws_messages_out;
  Counter ws_bytes_in;
  Counter ws_bytes_out;
  Counter ws_writes;  // socket writes of WebSocket frames (each carries every frame queued since the last)
  Gauge ws_send_queue_bytes;
  // slow consumers
  Counter slow_consumer_closes;
  Counter slow_consumer_drops;
  // rate limits [kind][action]
  std::array<std::array<Counter, rate_action_count>, rate_kind_count> rate_limited{};
  // group_send fan-out
  Histogram<fanout_bounds_ns.size()> group_send{fanout_bounds_ns};
  // event-loop lag (this thread's loop)
  Gauge lag_last_ns;
  Histogram<lag_bounds_ns.size()> lag{lag_bounds_ns};
  // close codes, index code - first_close_code (allocated once, with the block)
  std::unique_ptr<Counter[]> close_codes;

  void count_close(std::uint16_t code, bool shared = false) noexcept {
    const std::size_t i = static_cast<std::size_t>(code) - first_close_code;
    if (code >= first_close_code && i < close_code_slots) {
      Counter& c = close_codes[i];
      shared ? c.add_shared() : c.add();
    }
  }
};

/// The process-wide block for threads that are not event loops (written with fetch_add).
WorkerStats& shared_block() noexcept;

/// The calling thread's block: its event loop's, or nullptr on any other thread.
WorkerStats* thread_block() noexcept;
/// Makes `block` the calling thread's (the worker thread does this when it starts).
void set_thread_block(WorkerStats* block) noexcept;

/// Counts a refused handshake (thread-safe, lock-free, allocation-free).
inline void count_handshake_rejected(Reject r) noexcept {
  const auto i = static_cast<std::size_t>(r);
  if (WorkerStats* w = thread_block()) {
    w->handshakes_rejected[i].add();
  } else {
    shared_block().handshakes_rejected[i].add_shared();
  }
}

/// Counts a rate-limit hit (thread-safe, lock-free, allocation-free).
inline void count_rate_limited(RateKind kind, RateAction action) noexcept {
  const auto k = static_cast<std::size_t>(kind);
  const auto a = static_cast<std::size_t>(action);
  if (WorkerStats* w = thread_block()) {
    w->rate_limited[k][a].add();
  } else {
    shared_block().rate_limited[k][a].add_shared();
  }
}

/// Records one group_send fan-out duration (thread-safe).
inline void observe_group_send(std::chrono::nanoseconds d) noexcept {
  if (WorkerStats* w = thread_block()) {
    w->group_send.observe(d.count());
  } else {
    shared_block().group_send.observe(d.count(), true);
  }
}

}  // namespace nexios::transport::stats
