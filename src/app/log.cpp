#include <nexios/log.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace nexios {

namespace {
LogLevel level_from_env() noexcept {
  const char* v = std::getenv("NEXIOS_LOG_LEVEL");
  if (v == nullptr) {
    return LogLevel::info;
  }
  if (std::strcmp(v, "debug") == 0) {
    return LogLevel::debug;
  }
  if (std::strcmp(v, "warning") == 0) {
    return LogLevel::warning;
  }
  if (std::strcmp(v, "error") == 0) {
    return LogLevel::error;
  }
  if (std::strcmp(v, "off") == 0) {
    return LogLevel::off;
  }
  return LogLevel::info;
}

std::atomic<LogLevel>& level_ref() noexcept {
  static std::atomic<LogLevel> level{level_from_env()};
  return level;
}

const char* level_name(LogLevel l) noexcept {
  switch (l) {
    case LogLevel::debug:
      return "DEBUG";
    case LogLevel::info:
      return "INFO";
    case LogLevel::warning:
      return "WARNING";
    case LogLevel::error:
      return "ERROR";
    case LogLevel::off:
      break;
  }
  return "";
}
}  // namespace

void set_log_level(LogLevel level) noexcept { level_ref().store(level); }

LogLevel log_level() noexcept { return level_ref().load(std::memory_order_relaxed); }

void log(LogLevel level, std::string_view message) noexcept {
  if (level < log_level() || level == LogLevel::off) {
    return;
  }
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::fprintf(stderr, "nexios %s %.*s\n", level_name(level), static_cast<int>(message.size()), message.data());
}

}  // namespace nexios
