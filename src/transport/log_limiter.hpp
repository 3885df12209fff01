#pragma once
// transport::LogLimiter: at most one log line per interval for a condition that repeats (accept
// failing at the descriptor limit, connections refused at max_connections), counting the lines it
// left out, so that the next line written says "... (N similar suppressed)". Thread-safe; the lock
// is only held to decide, never while logging (a user's LogSink may run in log()).

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

namespace nexios::transport {

class LogLimiter {
 public:
  using clock = std::chrono::steady_clock;

  explicit LogLimiter(clock::duration interval) noexcept : interval_(interval) {}

  /// Whether this occurrence is to be logged. When it is, `suppressed` is the number of
  /// occurrences left out since the last one logged; when it is not, it is counted.
  bool admit(clock::time_point now, std::uint64_t& suppressed) noexcept {
    std::lock_guard lock(mutex_);
    if (logged_once_ && now - last_ < interval_) {
      ++suppressed_;
      return false;
    }
    logged_once_ = true;
    last_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

  /// The occurrences left out since the last one logged, forgotten from now on (for a closing
  /// line once the condition is over: "accepting connections again (N similar suppressed)").
  std::uint64_t take_suppressed() noexcept {
    std::lock_guard lock(mutex_);
    const std::uint64_t n = suppressed_;
    suppressed_ = 0;
    return n;
  }

 private:
  std::mutex mutex_;
  clock::duration interval_;
  clock::time_point last_{};
  std::uint64_t suppressed_ = 0;
  bool logged_once_ = false;
};

/// "message (N similar suppressed)" into `buf`, or `message` itself when N is 0. No allocation.
inline std::string_view with_suppressed(std::string_view message, std::uint64_t suppressed,
                                        std::array<char, 160>& buf) noexcept {
  if (suppressed == 0) {
    return message;
  }
  const auto r = fmt::format_to_n(buf.data(), buf.size(), "{} ({} similar suppressed)", message, suppressed);
  return {buf.data(), std::min<std::size_t>(r.size, buf.size())};
}

}  // namespace nexios::transport
