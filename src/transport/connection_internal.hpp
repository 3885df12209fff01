#pragma once
// What the parts of transport::Connection (connection.cpp, connection_http.cpp,
// connection_write.cpp, connection_rate.cpp, connection_log.cpp) share, and log_exception, which
// the server's loops use too.

#include "transport/connection.hpp"

#include <nexios/log.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

namespace nexios::transport::internal {

using steady = std::chrono::steady_clock;

inline constexpr auto as_tuple_awaitable = boost::asio::as_tuple(boost::asio::use_awaitable);
// Keep at least this much free space for one read.
inline constexpr std::size_t min_read_space = 4096;
// Shrink write buffers that grew beyond this once they drain.
inline constexpr std::size_t max_retained_write_buffer = 256 * 1024;

inline http::HttpLimits http_limits(const Limits& l) {
  http::HttpLimits h;
  h.max_header_bytes = l.max_header_bytes;
  h.max_headers = l.max_headers;
  h.max_body_size = l.max_body_size;
  return h;
}

inline ws::FrameParserOptions frame_options(const Limits& l) {
  ws::FrameParserOptions o;
  o.role = ws::Role::server;
  o.max_message_size = l.max_message_size;
  return o;
}

inline void log_exception(std::exception_ptr e, std::string_view where) noexcept {
  if (!e) {
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log(LogLevel::error, "server", where, {{"error", ex.what()}});
  } catch (...) {
    log(LogLevel::error, "server", where, {{"error", "unknown exception"}});
  }
}

// The payload size of a server frame (unmasked): its bytes less the header.
inline std::size_t payload_size(const SharedFrame& f) noexcept { return f.payload().size(); }

}  // namespace nexios::transport::internal
