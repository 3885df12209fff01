// transport::LogLimiter: one line per interval, counting the ones left out.

#include "transport/log_limiter.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>

namespace {

using nexios::transport::LogLimiter;
using namespace std::chrono_literals;

TEST(LogLimiter, OneLinePerIntervalWithTheCountOfTheOthers) {
  LogLimiter limiter(10s);
  const auto t0 = LogLimiter::clock::time_point{} + 1h;
  std::uint64_t suppressed = 99;
  ASSERT_TRUE(limiter.admit(t0, suppressed));  // the first one is logged at once
  EXPECT_EQ(suppressed, 0u);
  // 40 a second for 10 s, less one tick: all left out.
  int logged = 0;
  for (int i = 1; i < 400; ++i) {
    logged += limiter.admit(t0 + i * 25ms, suppressed) ? 1 : 0;
  }
  EXPECT_EQ(logged, 0);
  ASSERT_TRUE(limiter.admit(t0 + 10s, suppressed));
  EXPECT_EQ(suppressed, 399u);
  EXPECT_FALSE(limiter.admit(t0 + 10s + 1ms, suppressed));
  EXPECT_EQ(limiter.take_suppressed(), 1u);
  EXPECT_EQ(limiter.take_suppressed(), 0u);
  ASSERT_TRUE(limiter.admit(t0 + 20s, suppressed));
  EXPECT_EQ(suppressed, 0u);  // taken already
}

TEST(LogLimiter, MessageWithTheCount) {
  std::array<char, 160> buf{};
  EXPECT_EQ(nexios::transport::with_suppressed("accept failed", 0, buf), "accept failed");
  EXPECT_EQ(nexios::transport::with_suppressed("accept failed", 41, buf), "accept failed (41 similar suppressed)");
}

}  // namespace
