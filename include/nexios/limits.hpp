#pragma once
/// @file
/// `nexios::Limits`: every limit and timeout of the server, with its default. Each one is checked,
/// answered with a precise status or close code, and tested by exceeding it by one.

#include <nexios/settings.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nexios {

/// Server limits and timeouts. Set them on `App::limits` before `run()`/`start()`, as fields or by
/// name; the environment (`NEXIOS_<NAME>`) and the command line (`nx::CommandLine`) override them
/// when the app starts (see docs/limits.md).
///
/// @code
/// nx::App app;
/// app.limits.max_message_size = 1 << 20;            // 1 MiB messages
/// app.limits.ping_interval = std::chrono::seconds(20);
/// app.limits.set("idle_timeout", "2min");           // by name, with units
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
  /// Interval of server pings; zero disables them. Pongs count as activity for `idle_timeout`.
  /// On by default, so that dead peers are found without the application doing anything
  /// (uvicorn also pings every 20 s).
  std::chrono::milliseconds ping_interval{20'000};
  /// Close the connection with 1001 "idle timeout" when no complete message, ping or pong was
  /// received for this long (bytes of a message that never ends do not count); zero disables it.
  /// With `ping_interval` set, a live peer's pongs keep it open: the default gives a peer three
  /// pings to answer, so a dead one leaves its groups within a minute.
  std::chrono::milliseconds idle_timeout{60'000};
  /// Time allowed to finish a message (or a frame) once its first byte arrived; beyond it the
  /// connection is closed with 1008 "message timeout" (WebSocket slowloris). Time the server
  /// itself spends not reading (throttled, back-pressure, the handler holding the last message)
  /// does not count. Zero disables it. The default, like `body_timeout`, lets a 16 MiB message
  /// arrive at 4.5 Mbit/s.
  std::chrono::milliseconds message_timeout{30'000};
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

  /// Data messages one connection may send per second (a token bucket holding one second's
  /// worth); zero disables the limit. What happens past it is `rate_limit_policy`.
  std::uint64_t max_messages_per_second = 10'000;
  /// Bytes (as read from the socket, frame headers included) one connection may send per second
  /// (a token bucket holding one second's worth); zero disables the limit.
  std::uint64_t max_bytes_per_second = 64ULL * 1024 * 1024;
  /// What happens to a connection sending faster than `max_messages_per_second` or
  /// `max_bytes_per_second`.
  enum class RateLimitPolicy {
    throttle,  ///< stop reading from it until its budget refills (nothing is lost; TCP pushes back)
    drop,      ///< discard the messages over the budget (counted), keep the connection
    close,     ///< close it with 1008 "rate limit exceeded"
  };
  RateLimitPolicy rate_limit_policy = RateLimitPolicy::throttle;

  // ---- Server ---------------------------------------------------------------------------------
  /// Open connections (HTTP and WebSocket) across all threads. A connection beyond it is answered
  /// 503 and closed at once. 0 (the default) derives it when the server starts from the process's
  /// descriptor limit: the soft RLIMIT_NOFILE less `fd_reserve` less 4 per thread (each event loop's
  /// own descriptors), so that the server answers 503 before accept() runs out of descriptors.
  std::size_t max_connections = 0;
  /// Descriptors kept for everything but connections when `max_connections` is derived: the
  /// standard streams, log files, files being served, outgoing connections (a database, Redis).
  std::size_t fd_reserve = 64;
  /// Open connections from one client address (an IPv4 address, or an IPv6 /64 network). A
  /// connection beyond it is answered `429 Too Many Requests` and closed at once.
  std::size_t max_connections_per_address = 1'024;
  /// New connections per second from one client address (a token bucket holding one second's
  /// worth); zero disables the limit. A connection beyond it is answered 429 and closed at once.
  std::uint64_t max_connection_rate_per_address = 1'000;
  /// On shutdown, how long in-flight HTTP requests and WebSocket close handshakes may take before
  /// the remaining connections are dropped.
  std::chrono::milliseconds drain_timeout{10'000};

  // ---- by name --------------------------------------------------------------------------------
  /// Sets the field `name` from text with units: `set("max_message_size", "1MiB")`,
  /// `set("ping_interval", "20s")`, `set("slow_consumer_policy", "drop_newest")`. Throws
  /// std::invalid_argument naming the field, the value and the accepted range.
  void set(std::string_view name, std::string_view value);
  /// The field `name` as text ("16MiB", "20s"). Throws std::invalid_argument for an unknown name.
  [[nodiscard]] std::string get(std::string_view name) const;
  /// Whether `name` is one of the settings below.
  [[nodiscard]] static bool has(std::string_view name) noexcept;
  /// Applies every NEXIOS_<NAME> environment variable that is set (`NEXIOS_MAX_MESSAGE_SIZE=1MiB`).
  /// Throws std::invalid_argument naming the variable when one is invalid. `App::start` does this.
  void apply_environment();
  /// Checks that the fields fit together (e.g. `idle_timeout` longer than `ping_interval`); throws
  /// std::invalid_argument saying which. `App::start` does this.
  void validate() const;
  /// Every setting: name, kind, default, accepted values, description.
  [[nodiscard]] static std::vector<SettingInfo> settings();
};

}  // namespace nexios
