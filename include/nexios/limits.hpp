#pragma once
/// @file
/// `nexios::Limits`: every limit and timeout of the server, with its default. Each one is checked,
/// answered with a precise status or close code, and tested by exceeding it by one.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace nexios {

/// Server limits and timeouts. Set them on `App::limits` before `run()`/`start()`.
///
/// @code
/// nx::App app;
/// app.limits.max_message_size = 1 << 20;            // 1 MiB messages
/// app.limits.ping_interval = std::chrono::seconds(20);
/// @endcode
struct Limits {
  // ---- HTTP/1.1 -------------------------------------------------------------------------------
  /// Request line plus headers, in bytes. Exceeding it answers 431.
  std::size_t max_header_bytes = 16 * 1024;
  /// Number of header fields. Exceeding it answers 431.
  std::size_t max_headers = 100;
  /// Request body, in bytes (after de-chunking). Exceeding it answers 413.
  std::size_t max_body_size = 1024 * 1024;
  /// Time allowed to receive a request's line and headers once its first byte arrived. Exceeding it
  /// answers 408 and closes (slowloris protection).
  std::chrono::milliseconds header_timeout{10'000};
  /// Time allowed to receive a request body once the headers are complete. Exceeding it answers 408.
  std::chrono::milliseconds body_timeout{30'000};
  /// How long an idle keep-alive connection waits for its next request before it is closed.
  std::chrono::milliseconds keep_alive_timeout{5'000};

  // ---- WebSocket ------------------------------------------------------------------------------
  /// Largest message (all fragments together), in bytes. A frame that would exceed it closes the
  /// connection with 1009 before its payload is buffered.
  std::uint64_t max_message_size = 16 * 1024 * 1024;
  /// After a close frame is sent, how long to wait for the peer's close frame and TCP close
  /// before the connection is dropped.
  std::chrono::milliseconds close_timeout{5'000};
  /// Interval of server pings; zero disables them. Pongs (and any other frame) count as activity
  /// for `idle_timeout`.
  std::chrono::milliseconds ping_interval{0};
  /// Close the connection with 1001 "idle timeout" when nothing was received for this long;
  /// zero disables it. With `ping_interval` set, a live peer's pongs keep it open.
  std::chrono::milliseconds idle_timeout{0};
  /// Bytes queued for sending on one connection above which `send_*` waits until the peer has
  /// read enough (back-pressure). Sends never drop data.
  std::size_t send_buffer_high_water = 1024 * 1024;

  /// Bytes queued for one connection above which a group message (group_send, send_to) is not
  /// queued for it: the connection is a slow consumer and `slow_consumer_policy` applies. Its own
  /// handler's sends wait at `send_buffer_high_water` instead. Ping, pong and close frames are never
  /// dropped.
  std::size_t max_send_queue = 4 * 1024 * 1024;
  /// What happens to a slow consumer.
  enum class SlowConsumerPolicy {
    close,        ///< close it with 1008 "slow consumer" (queued data that was not sent yet is dropped)
    drop_newest,  ///< keep it open, drop the message that does not fit (counted as dropped)
  };
  SlowConsumerPolicy slow_consumer_policy = SlowConsumerPolicy::close;

  // ---- Server ---------------------------------------------------------------------------------
  /// Open connections (HTTP and WebSocket) across all threads. A connection beyond it is answered
  /// 503 and closed at once.
  std::size_t max_connections = 100'000;
  /// On shutdown, how long in-flight HTTP requests and WebSocket close handshakes may take before
  /// the remaining connections are dropped.
  std::chrono::milliseconds drain_timeout{10'000};
};

}  // namespace nexios
