// transport::Connection, part 3: observability — the connection's log context, its access
// records (one per HTTP request, one per WebSocket) and its counters.

#include "transport/connection.hpp"

#include "transport/log_fields.hpp"
#include "transport/server.hpp"

namespace nexios::transport {

using namespace log_fields;

// ================================================================================================
// Observability: the access records and the connection's log context
// ================================================================================================

void Connection::log_event(LogLevel level, std::string_view component, std::string_view message,
                           std::initializer_list<LogField> fields) const noexcept {
  log_event(level, component, message, std::span<const LogField>(fields.begin(), fields.size()));
}

void Connection::log_event(LogLevel level, std::string_view component, std::string_view message,
                           std::span<const LogField> fields) const noexcept {
  if (!log_enabled(level)) {
    return;
  }
  std::array<char, 64> buf{};
  log(level, component, message, fields, LogContext{id_, format_endpoint(remote_, buf)});
}

void Connection::note_handshake_rejected(stats::Reject reason) noexcept {
  if (reject_) {
    return;
  }
  reject_ = reason;
  worker_.stats.handshakes_rejected[static_cast<std::size_t>(reason)].add();
}

// The first close frame of the closing handshake: who sent it, its code and reason.
void Connection::note_close(std::uint16_t code, std::string_view reason, bool by_peer) {
  if (closer_ != Closer::none) {
    return;
  }
  closer_ = by_peer ? Closer::client : Closer::server;
  close_code_ = code;
  close_reason_.assign(reason.substr(0, ws::max_close_reason));
}

// A response was written: count it and write its access record.
void Connection::end_request(int status, std::size_t bytes) noexcept {
  ++requests_;
  if (reject_) {
    // The response refused a WebSocket handshake: a WebSocket access record, not an HTTP one.
    reject_status_ = status;
    log_ws_access(false);
  } else {
    if (status >= 100 && status < 600) {
      worker_.stats.http_requests[static_cast<std::size_t>(status / 100 - 1)].add();
    }
    if (access_log_enabled()) {
      const http::Request& req = request();
      fmt::memory_buffer msg;
      try {
        fmt::format_to(fmt::appender(msg), "{} {} {}", req.method(), req.path(), status);
      } catch (...) {
      }
      std::array<LogField, 10> f{LogField("kind", "http"),
                                LogField("method", req.method()),
                                LogField("path", req.path()),
                                LogField("route", route_),
                                LogField("status", status),
                                LogField("bytes", bytes),
                                LogField("duration_ms", ms_since(request_started_ ? request_start_ : steady::now())),
                                LogField("", false),
                                LogField("", false),
                                LogField("", false)};
      log_event(LogLevel::info, "access", {msg.data(), msg.size()}, std::span<const LogField>(f.data(), add_header_fields(f, 7, req)));
    }
  }
  request_started_ = false;
  route_ = {};
  reject_.reset();
  reject_status_ = 0;
}

// The WebSocket's access record: accepted (at the end of the connection) or refused.
void Connection::log_ws_access(bool accepted) const noexcept {
  if (!access_log_enabled()) {
    return;
  }
  const http::Request& req = request();
  const double duration = ms_since(request_started_ ? request_start_ : opened_at_);
  fmt::memory_buffer msg;
  if (accepted) {
    const std::uint16_t code = closer_ == Closer::none ? ws::close_code::abnormal : close_code_;
    const std::string_view by = closer_name(static_cast<std::uint8_t>(closer_));
    try {
      fmt::format_to(fmt::appender(msg), "WS {} 101 closed {} by {}", req.path(), code, by);
    } catch (...) {
    }
    std::array<LogField, 16> f{LogField("kind", "websocket"),
                               LogField("path", req.path()),
                               LogField("route", route_),
                               LogField("status", 101),
                               LogField("outcome", "accepted"),
                               LogField("close_code", code),
                               LogField("close_reason", std::string_view(close_reason_)),
                               LogField("closed_by", by),
                               LogField("messages_in", msgs_in_),
                               LogField("messages_out", msgs_out_),
                               LogField("bytes_in", bytes_in_),
                               LogField("bytes_out", bytes_out_),
                               LogField("duration_ms", duration),
                               LogField("", false),
                               LogField("", false),
                               LogField("", false)};
    log_event(LogLevel::info, "access", {msg.data(), msg.size()}, std::span<const LogField>(f.data(), add_header_fields(f, 13, req)));
  } else {
    const std::string_view reason = reject_ ? stats::name(*reject_) : std::string_view("rejected_by_handler");
    try {
      fmt::format_to(fmt::appender(msg), "WS {} {} rejected: {}", req.path(), reject_status_, reason);
    } catch (...) {
    }
    std::array<LogField, 10> f{LogField("kind", "websocket"),
                              LogField("path", req.path()),
                              LogField("route", route_),
                              LogField("status", reject_status_),
                              LogField("outcome", "rejected"),
                              LogField("reason", reason),
                              LogField("duration_ms", duration),
                              LogField("", false),
                              LogField("", false),
                              LogField("", false)};
    log_event(LogLevel::info, "access", {msg.data(), msg.size()}, std::span<const LogField>(f.data(), add_header_fields(f, 7, req)));
  }
}

}  // namespace nexios::transport
