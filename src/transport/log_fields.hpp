#pragma once
// Helpers of the connection's log records (src/transport/connection*.cpp): endpoints formatted
// without allocating, durations, and the request headers an access record names.

#include <nexios/http/request.hpp>
#include <nexios/log.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace nexios::transport::log_fields {

using steady = std::chrono::steady_clock;

// "1.2.3.4:5678" or "[::1]:5678" into `buf`, without allocating.
inline std::string_view format_endpoint(const boost::asio::ip::tcp::endpoint& ep, std::span<char, 64> buf) noexcept {
  char host[INET6_ADDRSTRLEN] = {};
  const auto addr = ep.address();
  bool ok = false;
  if (addr.is_v4()) {
    const auto bytes = addr.to_v4().to_bytes();
    ok = ::inet_ntop(AF_INET, bytes.data(), host, sizeof(host)) != nullptr;
  } else {
    const auto bytes = addr.to_v6().to_bytes();
    ok = ::inet_ntop(AF_INET6, bytes.data(), host, sizeof(host)) != nullptr;
  }
  if (!ok) {
    return {};
  }
  const std::string_view h(host);
  const auto r = addr.is_v4() ? fmt::format_to_n(buf.data(), buf.size(), "{}:{}", h, ep.port())
                              : fmt::format_to_n(buf.data(), buf.size(), "[{}]:{}", h, ep.port());
  return {buf.data(), std::min<std::size_t>(r.size, buf.size())};
}

inline double ms_since(steady::time_point t) noexcept {
  return std::chrono::duration<double, std::milli>(steady::now() - t).count();
}

// Appends the request headers an access record names, when the request has them.
template <std::size_t N>
inline std::size_t add_header_fields(std::array<LogField, N>& f, std::size_t n, const http::Request& req) noexcept {
  if (auto origin = req.headers().get("origin"); origin && n < N) {
    f[n++] = LogField("origin", *origin);
  }
  if (auto ua = req.headers().get("user-agent"); ua && n < N) {
    f[n++] = LogField("user_agent", *ua);
  }
  if (auto xff = req.headers().get("x-forwarded-for"); xff && n < N) {
    f[n++] = LogField("forwarded_for", *xff);
  }
  return n;
}

inline std::string_view closer_name(std::uint8_t closer) noexcept {
  switch (closer) {
    case 1:
      return "client";
    case 2:
      return "server";
    default:
      return "none";
  }
}

}  // namespace nexios::transport::log_fields
