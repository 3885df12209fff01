// Structured logging: level/format/access switches, the sink in use, and the default sink.
//
// The default sink formats a record (human or JSON line) on the calling thread, into a stack
// buffer, and hands the line to an asynchronous spdlog logger: a bounded queue of
// `log_queue_capacity` lines and one background thread writing them to stderr. When stderr
// cannot keep up (a full pipe, a stalled journald) the oldest queued lines are dropped and
// counted (`log_lines_dropped`, nexios_log_dropped_total) instead of blocking the event loops.
// At exit the queue is drained and later lines are written synchronously.
//
// Nothing here holds a lock while a sink runs: the current sink is copied out under a mutex and
// called after it is released.

#include <nexios/log.hpp>

#include "app/log_format.hpp"

#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/sinks/base_sink.h>

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace nexios {

namespace {

// ---- environment ---------------------------------------------------------------------------

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != b[i]) {
      return false;
    }
  }
  return true;
}

// The value of an environment variable, or nullopt when unset or empty.
std::optional<std::string_view> env(const char* name) noexcept {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    return std::nullopt;
  }
  return std::string_view(v);
}

std::optional<LogLevel> parse_level(std::string_view v) noexcept {
  if (iequals(v, "debug")) {
    return LogLevel::debug;
  }
  if (iequals(v, "info")) {
    return LogLevel::info;
  }
  if (iequals(v, "warning") || iequals(v, "warn")) {
    return LogLevel::warning;
  }
  if (iequals(v, "error")) {
    return LogLevel::error;
  }
  if (iequals(v, "off")) {
    return LogLevel::off;
  }
  return std::nullopt;
}

std::optional<LogFormat> parse_format(std::string_view v) noexcept {
  if (iequals(v, "human")) {
    return LogFormat::human;
  }
  if (iequals(v, "json")) {
    return LogFormat::json;
  }
  return std::nullopt;
}

std::optional<bool> parse_switch(std::string_view v) noexcept {
  if (iequals(v, "on")) {
    return true;
  }
  if (iequals(v, "off")) {
    return false;
  }
  return std::nullopt;
}

// ---- the default sink ----------------------------------------------------------------------

// The spdlog sink at the end of the queue: writes each (already formatted) line to stderr with
// one fwrite, and tells flush_log() when a flush went through the queue.
class StderrLineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::uint64_t flushes() {
    std::lock_guard lock(flush_mutex_);
    return flushes_;
  }
  bool wait_flush_after(std::uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(flush_mutex_);
    return flushed_.wait_for(lock, timeout, [&] { return flushes_ > seen; });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::fwrite(msg.payload.data(), 1, msg.payload.size(), stderr);
  }
  void flush_() override {
    std::fflush(stderr);
    {
      std::lock_guard lock(flush_mutex_);
      ++flushes_;
    }
    flushed_.notify_all();
  }

 private:
  std::mutex flush_mutex_;
  std::condition_variable flushed_;
  std::uint64_t flushes_ = 0;
};

class DefaultSink final : public LogSink {
 public:
  DefaultSink() noexcept {
    try {
      out_ = std::make_shared<StderrLineSink>();
      pool_ = std::make_shared<spdlog::details::thread_pool>(log_queue_capacity, 1);
      logger_ =
          std::make_shared<spdlog::async_logger>("nexios", out_, pool_, spdlog::async_overflow_policy::overrun_oldest);
      logger_->set_level(spdlog::level::trace);
      logger_->flush_on(spdlog::level::off);
    } catch (...) {
      logger_.reset();  // no thread: every line is written synchronously
    }
  }

  void write(const LogRecord& record) noexcept override {
    try {
      fmt::memory_buffer line;
      if (format_.load(std::memory_order_relaxed) == LogFormat::json) {
        detail::format_json_line(line, record);
      } else {
        detail::format_human_line(line, record);
      }
      const spdlog::string_view_t text(line.data(), line.size());
      if (logger_ && !synchronous_.load(std::memory_order_acquire)) {
        logger_->log(spdlog::level::info, text);
      } else if (out_) {
        out_->log(spdlog::details::log_msg(spdlog::string_view_t{}, spdlog::level::info, text));
      } else {
        std::fwrite(line.data(), 1, line.size(), stderr);
      }
    } catch (...) {
      // A line that cannot be formatted (out of memory) is lost.
    }
  }

  // Waits until the lines queued so far are written.
  void flush() noexcept override { flush_for(std::chrono::milliseconds(2000)); }

  void flush_for(std::chrono::milliseconds timeout) noexcept {
    try {
      if (logger_ && !synchronous_.load(std::memory_order_acquire)) {
        const std::uint64_t seen = out_->flushes();
        logger_->flush();
        out_->wait_flush_after(seen, timeout);
      } else if (out_) {
        out_->flush();
      }
    } catch (...) {
    }
  }

  // At exit: drain the queue, then write synchronously (the background thread may be gone).
  void go_synchronous() noexcept {
    flush_for(std::chrono::milliseconds(2000));
    synchronous_.store(true, std::memory_order_release);
  }

  [[nodiscard]] std::uint64_t dropped() const noexcept {
    try {
      return pool_ ? static_cast<std::uint64_t>(pool_->overrun_counter()) : 0;
    } catch (...) {
      return 0;
    }
  }

  void set_format(LogFormat f) noexcept { format_.store(f, std::memory_order_relaxed); }
  [[nodiscard]] LogFormat format() const noexcept { return format_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<StderrLineSink> out_;
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::async_logger> logger_;
  std::atomic<bool> synchronous_{false};
  std::atomic<LogFormat> format_{LogFormat::human};
};

// ---- process-wide state (never destroyed: logging works until the process ends) -------------

struct State {
  State() noexcept {
    if (auto v = env("NEXIOS_LOG_LEVEL")) {
      level.store(parse_level(*v).value_or(LogLevel::info));
    }
    if (auto v = env("NEXIOS_ACCESS_LOG")) {
      access.store(parse_switch(*v).value_or(true));
    }
    if (auto v = env("NEXIOS_LOG_FORMAT")) {
      default_sink.set_format(parse_format(*v).value_or(LogFormat::human));
    }
  }

  std::atomic<LogLevel> level{LogLevel::info};
  std::atomic<bool> access{true};
  DefaultSink default_sink;
  std::mutex mutex;                 // guards `custom`; never held while a sink runs
  std::shared_ptr<LogSink> custom;  // the application's sink, or null for the default one
  std::atomic<bool> has_custom{false};
};

void at_exit() noexcept;

State& state() noexcept {
  static State* s = [] {
    auto* st = new State();
    std::atexit(at_exit);
    return st;
  }();
  return *s;
}

void at_exit() noexcept {
  State& s = state();
  std::shared_ptr<LogSink> custom;
  {
    std::lock_guard lock(s.mutex);
    custom = s.custom;
  }
  if (custom) {
    custom->flush();
  }
  s.default_sink.go_synchronous();
}

// The sink in use: the application's (a strong reference, so a concurrent set_log_sink cannot
// destroy it while it writes) or the default one.
template <class F>
void with_sink(F&& f) noexcept {
  State& s = state();
  if (s.has_custom.load(std::memory_order_acquire)) {
    std::shared_ptr<LogSink> custom;
    {
      std::lock_guard lock(s.mutex);
      custom = s.custom;
    }
    if (custom) {
      f(*custom);
      return;
    }
  }
  f(static_cast<LogSink&>(s.default_sink));
}

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
    case LogLevel::off:
      break;
  }
  return "off";
}

void set_log_sink(std::shared_ptr<LogSink> sink) noexcept {
  State& s = state();
  std::shared_ptr<LogSink> old;
  {
    std::lock_guard lock(s.mutex);
    old = std::exchange(s.custom, std::move(sink));
    s.has_custom.store(s.custom != nullptr, std::memory_order_release);
  }
  // `old` is released here, outside the lock (its destructor is the application's code).
}

void set_log_level(LogLevel level) noexcept {
  state().level.store(level, std::memory_order_relaxed);
}

LogLevel log_level() noexcept {
  return state().level.load(std::memory_order_relaxed);
}

bool log_enabled(LogLevel level) noexcept {
  return level != LogLevel::off && level >= log_level();
}

void set_log_format(LogFormat format) noexcept {
  state().default_sink.set_format(format);
}

LogFormat log_format() noexcept {
  return state().default_sink.format();
}

void set_access_log(bool on) noexcept {
  state().access.store(on, std::memory_order_relaxed);
}

bool access_log_enabled() noexcept {
  return state().access.load(std::memory_order_relaxed) && log_enabled(LogLevel::info);
}

void log(LogLevel level, std::string_view message) noexcept {
  log(level, "app", message, {}, LogContext{});
}

void log(LogLevel level, std::string_view component, std::string_view message, std::initializer_list<LogField> fields,
         const LogContext& context) noexcept {
  log(level, component, message, std::span<const LogField>(fields.begin(), fields.size()), context);
}

void log(LogLevel level, std::string_view component, std::string_view message, std::span<const LogField> fields,
         const LogContext& context) noexcept {
  if (!log_enabled(level)) {
    return;
  }
  LogRecord r;
  r.time = std::chrono::system_clock::now();
  r.level = level;
  r.component = component;
  r.connection_id = context.connection_id;
  r.client = context.client;
  r.message = message;
  r.fields = fields;
  with_sink([&](LogSink& sink) { sink.write(r); });
}

void flush_log(std::chrono::milliseconds timeout) noexcept {
  State& s = state();
  if (s.has_custom.load(std::memory_order_acquire)) {
    with_sink([](LogSink& sink) { sink.flush(); });
  }
  s.default_sink.flush_for(timeout);
}

std::uint64_t log_lines_dropped() noexcept {
  return state().default_sink.dropped();
}

namespace detail {

std::optional<std::string> check_log_environment() {
  if (auto v = env("NEXIOS_LOG_LEVEL"); v && !parse_level(*v)) {
    return "invalid NEXIOS_LOG_LEVEL \"" + std::string(*v) + "\": expected debug, info, warning, error or off";
  }
  if (auto v = env("NEXIOS_LOG_FORMAT"); v && !parse_format(*v)) {
    return "invalid NEXIOS_LOG_FORMAT \"" + std::string(*v) + "\": expected human or json";
  }
  if (auto v = env("NEXIOS_ACCESS_LOG"); v && !parse_switch(*v)) {
    return "invalid NEXIOS_ACCESS_LOG \"" + std::string(*v) + "\": expected on or off";
  }
  return std::nullopt;
}

}  // namespace detail

}  // namespace nexios
