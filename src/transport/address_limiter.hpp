#pragma once
// transport::AddressLimiter: per client address, open connections (Limits::max_connections_per_address)
// and new connections per second (max_connection_rate_per_address, a token bucket of one second's
// worth). An address is an IPv4 address, or an IPv6 /64 (IPv4-mapped IPv6 counts as IPv4). Shared
// by every acceptor of a server; consulted once per accepted connection, never per message.
//
// Memory: one entry per address with open connections (so at most max_connections entries) plus
// the addresses seen in about the last second; idle entries are swept at most once per second.

#include <boost/asio/ip/address.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace nexios::transport {

class AddressLimiter {
 public:
  enum class Verdict : std::uint8_t { admitted, too_many_open, too_fast };
  using clock = std::chrono::steady_clock;

  AddressLimiter(std::size_t max_open, std::uint64_t rate_per_second) noexcept
      : max_open_(max_open), rate_(static_cast<double>(rate_per_second)) {}

  /// One new connection from `address`: admitted (counted as open until `release`) or refused.
  Verdict admit(const boost::asio::ip::address& address, clock::time_point now) {
    const Key key = key_of(address);
    std::lock_guard lock(mutex_);
    sweep(now);
    Entry& e = entries_[key];
    if (e.seen == clock::time_point{}) {
      e.tokens = rate_;
    } else if (rate_ > 0) {
      const double seconds = std::chrono::duration<double>(now - e.seen).count();
      e.tokens = std::min(rate_, e.tokens + rate_ * seconds);
    }
    e.seen = now;
    if (e.open >= max_open_) {
      return Verdict::too_many_open;
    }
    if (rate_ > 0) {
      if (e.tokens < 1) {
        return Verdict::too_fast;
      }
      e.tokens -= 1;
    }
    ++e.open;
    ++open_;
    return Verdict::admitted;
  }

  /// A connection admitted from `address` has closed.
  void release(const boost::asio::ip::address& address) noexcept {
    const Key key = key_of(address);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.open == 0) {
      return;
    }
    --it->second.open;
    --open_;
    if (it->second.open == 0 && rate_ <= 0) {
      entries_.erase(it);
    }
  }

  /// Addresses tracked now (for tests and metrics).
  [[nodiscard]] std::size_t tracked() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }

 private:
  struct Key {
    std::array<std::uint8_t, 9> bytes{};  // [0]: 4 or 6; then the IPv4 address or the /64 prefix
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
      for (auto b : k.bytes) {
        h = (h ^ b) * 1099511628211ULL;
      }
      return static_cast<std::size_t>(h);
    }
  };
  struct Entry {
    std::size_t open = 0;
    double tokens = 0;
    clock::time_point seen{};
  };

  static Key key_of(const boost::asio::ip::address& a) noexcept {
    Key k;
    if (a.is_v6() && !a.to_v6().is_v4_mapped()) {
      const auto b = a.to_v6().to_bytes();
      k.bytes[0] = 6;
      std::memcpy(k.bytes.data() + 1, b.data(), 8);
    } else {
      const auto v4 = a.is_v4() ? a.to_v4() : boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
      const auto b = v4.to_bytes();
      k.bytes[0] = 4;
      std::memcpy(k.bytes.data() + 1, b.data(), 4);
    }
    return k;
  }

  // Forgets addresses with nothing open whose bucket has refilled (mutex held).
  void sweep(clock::time_point now) {
    if (now - last_sweep_ < std::chrono::seconds(1) || entries_.size() <= open_ + 64) {
      return;
    }
    last_sweep_ = now;
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.open == 0 && now - it->second.seen >= std::chrono::seconds(1)) {
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }

  const std::size_t max_open_;
  const double rate_;
  mutable std::mutex mutex_;
  std::unordered_map<Key, Entry, KeyHash> entries_;
  std::size_t open_ = 0;  // connections admitted and not released
  clock::time_point last_sweep_{};
};

}  // namespace nexios::transport
