#pragma once
/// @file
/// Structured logging: leveled records with a component, the connection they concern and
/// key/value fields, written as human-readable lines or JSON lines to stderr (through an
/// asynchronous spdlog logger with a bounded queue), or handed to a sink of your own.
///
/// @code
/// nx::log(nx::LogLevel::info, "ready");                                  // component "app"
/// nx::log(nx::LogLevel::warning, "billing", "payment declined", {{"user", id}, {"cents", 1299}});
/// nx::set_log_format(nx::LogFormat::json);
/// nx::set_log_sink(std::make_shared<MySink>());                          // see LogSink
/// @endcode
///
/// Environment (read once, when the first line is logged or `App::start` runs; the code's own
/// `set_*` calls override it):
/// - `NEXIOS_LOG_LEVEL`  = debug | info | warning | error | off   (default info)
/// - `NEXIOS_LOG_FORMAT` = human | json                           (default human)
/// - `NEXIOS_ACCESS_LOG` = on | off                               (default on)
///
/// An invalid value makes `App::start` throw std::invalid_argument naming the variable; until
/// then it is ignored (reading the environment never throws).
///
/// Every function here is thread-safe, and none throws. A line whose level is filtered out costs
/// one relaxed atomic load and allocates nothing.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace nexios {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3, off = 4 };
/// How the default sink writes a record.
enum class LogFormat {
  human,  ///< `2024-05-01T12:00:00.123Z INFO  access [c7 127.0.0.1:50312] GET /health 200 status=200 ...`
  json,   ///< one JSON object per line: {"ts":"…","level":"info","component":"access","conn":7,…}
};

/// "debug", "info", "warning", "error" or "off".
std::string_view to_string(LogLevel level) noexcept;

/// A field value: a small variant (strings are views, valid during the `write` call only).
using LogValue = std::variant<bool, std::int64_t, std::uint64_t, double, std::string_view>;

/// One key/value field of a record. Integers keep their signedness, any string-like value is
/// viewed (not copied):  `{"status", 200}`, `{"bytes", n}`, `{"path", req.path()}`.
struct LogField {
  std::string_view key;
  LogValue value;

  LogField(std::string_view k, bool v) noexcept : key(k), value(v) {}
  template <std::signed_integral T>
  LogField(std::string_view k, T v) noexcept : key(k), value(static_cast<std::int64_t>(v)) {}
  template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>) LogField(std::string_view k, T v)
  noexcept : key(k), value(static_cast<std::uint64_t>(v)) {}
  template <std::floating_point T>
  LogField(std::string_view k, T v) noexcept : key(k), value(static_cast<double>(v)) {}
  template <class T>
  requires(std::is_convertible_v<const T&, std::string_view> && !std::is_arithmetic_v<T>)
      LogField(std::string_view k, const T& v)
  noexcept : key(k), value(std::string_view(v)) {}
};

/// The connection a record concerns (the transport gives every accepted TCP connection an id,
/// increasing from 1 in each process; 0 means none).
struct LogContext {
  std::uint64_t connection_id = 0;
  /// The client's "address:port", or empty.
  std::string_view client;
};

/// One log record, as a sink receives it. Views are valid during the `write` call only.
struct LogRecord {
  std::chrono::system_clock::time_point time;
  LogLevel level = LogLevel::info;
  /// "server", "http", "websocket", "access", "channels", "app", or your own.
  std::string_view component;
  std::uint64_t connection_id = 0;
  std::string_view client;
  std::string_view message;
  std::span<const LogField> fields;
};

/// Where records go. Implement it to route the log into your application's logger.
///
/// `write` may be called from any thread, concurrently, and must not throw; it is never called
/// with a lock of nexios held. It should not block for long: it runs on the event loop.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(const LogRecord& record) noexcept = 0;
  /// Called when nexios flushes its log (at shutdown, at exit); the default does nothing.
  virtual void flush() noexcept {}
};

/// Records go to `sink` from now on; nullptr restores the default sink (stderr, in the format of
/// `set_log_format`).
void set_log_sink(std::shared_ptr<LogSink> sink) noexcept;

/// Sets the process-wide level: records below it are dropped before anything is formatted.
void set_log_level(LogLevel level) noexcept;
/// The current level.
LogLevel log_level() noexcept;
/// True if a record of `level` would be written.
bool log_enabled(LogLevel level) noexcept;
/// Sets the default sink's format.
void set_log_format(LogFormat format) noexcept;
LogFormat log_format() noexcept;
/// Turns the access log (one info record per HTTP request and per WebSocket) on or off.
void set_access_log(bool on) noexcept;
/// True if access records are written (the access log is on and the level is info or lower).
bool access_log_enabled() noexcept;

/// Writes `message` at `level` with component "app".
void log(LogLevel level, std::string_view message) noexcept;
/// Writes a record with a component, fields and optionally the connection it concerns.
void log(LogLevel level, std::string_view component, std::string_view message,
         std::initializer_list<LogField> fields = {}, const LogContext& context = {}) noexcept;
void log(LogLevel level, std::string_view component, std::string_view message, std::span<const LogField> fields,
         const LogContext& context = {}) noexcept;

/// Waits (up to `timeout`) until the records logged so far are written, then flushes the sink.
/// `App::wait`/`App::run` call it when the server has stopped, and it runs at exit.
void flush_log(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) noexcept;

/// Lines the default sink dropped because its queue was full (the queue holds
/// `log_queue_capacity` lines; when stderr cannot keep up the oldest are dropped rather than
/// blocking the event loops).
std::uint64_t log_lines_dropped() noexcept;
inline constexpr std::size_t log_queue_capacity = 8192;

namespace detail {
/// The error of an invalid NEXIOS_LOG_LEVEL / NEXIOS_LOG_FORMAT / NEXIOS_ACCESS_LOG (naming the
/// variable and the accepted values), or nullopt when they are unset or valid. Never throws
/// std::exception other than std::bad_alloc.
std::optional<std::string> check_log_environment();
}  // namespace detail

}  // namespace nexios
