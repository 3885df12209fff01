// transport::Connection, part 2: the inbound rate limits (Limits::max_messages_per_second,
// max_bytes_per_second, rate_limit_policy) — token buckets charged by the reader.

#include "transport/connection_internal.hpp"
#include "transport/server.hpp"

namespace nexios::transport {

using namespace internal;

// ================================================================================================
// Inbound rate limits
// ================================================================================================

void Connection::refill_buckets(steady::time_point now) noexcept {
  const auto& l = limits();
  const double seconds = std::chrono::duration<double>(now - refilled_at_).count();
  refilled_at_ = now;
  if (seconds <= 0) {
    return;
  }
  const auto rate_m = static_cast<double>(l.max_messages_per_second);
  const auto rate_b = static_cast<double>(l.max_bytes_per_second);
  message_tokens_ = std::min(rate_m, message_tokens_ + rate_m * seconds);
  byte_tokens_ = std::min(rate_b, byte_tokens_ + rate_b * seconds);
}

void Connection::count_rate_limited(stats::RateKind kind, stats::RateAction action) noexcept {
  worker_.stats.rate_limited[static_cast<std::size_t>(kind)][static_cast<std::size_t>(action)].add();
}

void Connection::throttle(steady::time_point now) {
  const auto& l = limits();
  double wait = 0;
  if (message_tokens_ < 0) {
    wait = std::max(wait, -message_tokens_ / static_cast<double>(l.max_messages_per_second));
  }
  if (byte_tokens_ < 0) {
    wait = std::max(wait, -byte_tokens_ / static_cast<double>(l.max_bytes_per_second));
  }
  throttled_ = true;
  throttle_until_ = now + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(wait));
  arm_ws_watchdog();
}

void Connection::charge_bytes(std::size_t n, steady::time_point now) {
  refill_buckets(now);
  byte_tokens_ -= static_cast<double>(n);
  if (byte_tokens_ >= 0) {
    return;
  }
  switch (limits().rate_limit_policy) {
    case Limits::RateLimitPolicy::throttle:
      count_rate_limited(stats::RateKind::bytes, stats::RateAction::throttle);
      throttle(now);
      break;
    case Limits::RateLimitPolicy::drop:
      break;  // the messages that complete while the byte budget is overdrawn are dropped (counted there)
    case Limits::RateLimitPolicy::close:
      count_rate_limited(stats::RateKind::bytes, stats::RateAction::close);
      fail(ws::close_code::policy_violation, "rate limit exceeded");
      break;
  }
}

bool Connection::admit_message(steady::time_point now) {
  const auto& l = limits();
  if (l.max_messages_per_second != 0) {
    refill_buckets(now);
    message_tokens_ -= 1;
  }
  if (!over_rate()) {
    return true;
  }
  const auto kind = message_tokens_ < 0 ? stats::RateKind::messages : stats::RateKind::bytes;
  switch (l.rate_limit_policy) {
    case Limits::RateLimitPolicy::throttle:
      if (kind == stats::RateKind::messages) {  // an overdrawn byte budget was counted by charge_bytes
        count_rate_limited(kind, stats::RateAction::throttle);
      }
      throttle(now);
      return true;  // already read: delivered; reading pauses
    case Limits::RateLimitPolicy::drop:
      if (message_tokens_ < 0) {
        message_tokens_ += 1;  // a dropped message is not charged
      }
      ++rate_limited_messages_;
      count_rate_limited(kind, stats::RateAction::drop);
      return false;
    case Limits::RateLimitPolicy::close:
      count_rate_limited(kind, stats::RateAction::close);
      fail(ws::close_code::policy_violation, "rate limit exceeded");
      return false;
  }
  return true;
}

}  // namespace nexios::transport
