// transport::Connection, part 1: the HTTP phase (requests, responses, keep-alive, the lingering
// close) and the WebSocket handshake.

#include "transport/connection_internal.hpp"
#include "transport/server.hpp"

#include <nexios/ws/error.hpp>
#include <nexios/ws/frame.hpp>
#include <nexios/ws/handshake.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>

namespace nexios::transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace internal;

// ================================================================================================
// HTTP phase
// ================================================================================================

Task<> Connection::run(Dispatcher& dispatcher) {
  auto self = shared_from_this();
  bool linger = true;
  try {
    for (;;) {
      if (!co_await read_request()) {
        break;
      }
      in_request_ = true;
      http::Response res;
      const bool taken = co_await dispatcher.handle(*this, res);
      if (taken) {
        // The dispatcher owns the connection now (a WebSocket session running on its own): this
        // coroutine, and the memory of its frame, are done.
        co_return;
      }
      if (finished_) {
        linger = false;
        break;
      }
      const http::Request& req = request();
      const bool keep = keep_alive_ && req.keep_alive() && !shutting_down_ && !worker_.draining;
      out_.clear();
      res.serialize(out_, keep, req.method() == "HEAD", worker_.date.now());
      co_await write_all(out_);
      end_request(res.status(), out_.size());
      in_request_ = false;
      if (!keep || transport_failed_) {
        break;
      }
      parser_.reset();
    }
  } catch (...) {
    log_exception(std::current_exception(), "connection");
  }
  if (linger && !transport_failed_) {
    co_await linger_close();
  }
  finish();
}

// Answers a request the server refuses (its reason phrase, and why when known, as the body) and
// asks for the close.
Task<bool> Connection::write_error(int status, std::string_view why) {
  http::Response res;
  res.status(status);
  std::string body(http::reason_phrase(status));
  if (!why.empty()) {
    body.append(": ").append(why);
  }
  res.text(std::move(body));
  out_.clear();
  res.serialize(out_, false, false, worker_.date.now());
  const bool ok = co_await write_all(out_);
  end_request(status, out_.size());
  co_return ok;
}

// The body of a 400 names the check that failed (a client can act on "query parameter is not valid
// UTF-8"); other statuses (413, 431, 505, ...) already say it all.
std::string Connection::parse_error_reason(const std::error_code& ec) {
  if (http::status_for(ec) != 400) {
    return {};
  }
  return ec.message();
}

void Connection::feed_parser(const std::uint8_t* data, std::size_t size, std::error_code& ec) {
  const std::size_t used = parser_.feed({reinterpret_cast<const char*>(data), size}, ec);
  if (!ec && used < size) {
    leftover_.insert(leftover_.end(), data + used, data + size);
  }
}

// Reads until a complete request is parsed (true), or the connection must close (false), in
// which case any error response has been written.
Task<bool> Connection::read_request() {
  bool continue_sent = false;
  // The access record's duration starts with the first byte of the request.
  auto note_start = [this] {
    if (!request_started_ && (parser_.in_progress() || parser_.done())) {
      request_started_ = true;
      request_start_ = steady::now();
    }
  };
  for (;;) {
    std::error_code ec;
    if (!leftover_.empty()) {
      const std::size_t used = parser_.feed({reinterpret_cast<const char*>(leftover_.data()), leftover_.size()}, ec);
      if (!ec) {
        leftover_.erase(leftover_.begin(), leftover_.begin() + static_cast<std::ptrdiff_t>(used));
      }
      note_start();
    }
    if (ec) {
      if (log_enabled(LogLevel::debug)) {
        log_event(LogLevel::debug, "http", "rejecting request", {{"error", ec.message()}});
      }
      const std::string why = parse_error_reason(ec);
      co_await write_error(http::status_for(ec), why);
      co_return false;
    }
    if (parser_.done()) {
      deadline_ = Deadline::none;
      timer_.cancel();
      co_return true;
    }
    const auto now = steady::now();
    if (!parser_.in_progress()) {
      if (shutting_down_ || worker_.draining) {
        co_return false;
      }
      if (deadline_ != Deadline::keep_alive) {
        arm(Deadline::keep_alive, now + limits().keep_alive_timeout);
      }
    } else if (!parser_.header_done()) {
      if (deadline_ != Deadline::header) {
        arm(Deadline::header, now + limits().header_timeout);
      }
    } else {
      if (deadline_ != Deadline::body) {
        arm(Deadline::body, now + limits().body_timeout);
      }
      if (request().expects_continue() && !continue_sent) {
        continue_sent = true;
        co_await write_all("HTTP/1.1 100 Continue\r\n\r\n");
      }
    }

    auto [wait_ec] = co_await socket_.async_wait(tcp::socket::wait_read, as_tuple_awaitable);
    if (timed_out_) {
      timed_out_ = false;
      if (parser_.in_progress()) {
        co_await write_error(408);
      }
      co_return false;
    }
    if (wait_ec) {
      co_return false;
    }
    boost::system::error_code rec;
    auto& buf = worker_.read_buffer;
    const std::size_t n = socket_.read_some(asio::buffer(buf), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) {
      continue;
    }
    if (rec) {
      transport_failed_ = (rec != asio::error::eof);
      peer_eof_ = true;
      co_return false;
    }
    feed_parser(buf.data(), n, ec);
    note_start();
    if (ec) {
      if (log_enabled(LogLevel::debug)) {
        log_event(LogLevel::debug, "http", "rejecting request", {{"error", ec.message()}});
      }
      const std::string why = parse_error_reason(ec);
      co_await write_error(http::status_for(ec), why);
      co_return false;
    }
  }
}

Task<bool> Connection::write_all(std::string_view data) {
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()), as_tuple_awaitable);
  if (ec) {
    transport_failed_ = true;
    co_return false;
  }
  co_return true;
}

// Half-closes and discards input until the peer closes too (or close_timeout), so a response we
// just wrote is not destroyed by a TCP reset caused by unread input.
Task<> Connection::linger_close() {
  if (finished_) {
    co_return;
  }
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (peer_eof_ || ec) {
    co_return;
  }
  arm(Deadline::close, steady::now() + limits().close_timeout);
  for (;;) {
    auto [wait_ec] = co_await socket_.async_wait(tcp::socket::wait_read, as_tuple_awaitable);
    if (wait_ec || timed_out_ || finished_) {
      break;
    }
    const std::size_t n = socket_.read_some(asio::buffer(worker_.read_buffer), ec);
    (void)n;
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      break;
    }
  }
}

// ================================================================================================
// WebSocket phase: handshake
// ================================================================================================

Task<bool> Connection::ws_accept(std::string_view subprotocol,
                                 std::span<const std::pair<std::string, std::string>> headers) {
  auto self = shared_from_this();
  out_.clear();
  ws::write_accept_response(out_, request().headers().get_or("sec-websocket-key", ""), subprotocol, headers);
  deadline_ = Deadline::none;
  timer_.cancel();
  if (!co_await write_all(out_)) {
    finish();
    co_return false;
  }
  phase_ = Phase::websocket;
  open_.store(true, std::memory_order_release);
  worker_.stats.handshakes_accepted.add();
  worker_.stats.http_open.sub(1);
  worker_.stats.ws_open.add(1);
  ++requests_;
  out_ = std::string();
  parser_.compact();  // the handshake request stays for the WebSocket's life: keep only its bytes
  const auto now = steady::now();
  last_activity_ = now;
  next_ping_ = now + limits().ping_interval;
  message_tokens_ = static_cast<double>(limits().max_messages_per_second);
  byte_tokens_ = static_cast<double>(limits().max_bytes_per_second);
  refilled_at_ = now;
  // Bytes the client sent right after its handshake are already WebSocket frames.
  if (!leftover_.empty()) {
    ensure_read_space(leftover_.size());
    std::memcpy(rb_ + rb_end_, leftover_.data(), leftover_.size());
    rb_end_ += leftover_.size();
    leftover_ = std::vector<std::uint8_t>();
  }
  reader_running_ = true;
  pump_reader();
  arm_ws_watchdog();
  if (shutting_down_) {
    ws_close(ws::close_code::going_away, "server shutting down");
  }
  co_return true;
}

Task<> Connection::ws_reject(http::Response response) {
  auto self = shared_from_this();
  reject_status_ = response.status();
  ++requests_;
  note_handshake_rejected(reject_status_ >= 500 ? stats::Reject::handler_error : stats::Reject::rejected_by_handler);
  out_.clear();
  response.serialize(out_, false, false, worker_.date.now());
  if (co_await write_all(out_)) {
    co_await linger_close();
  }
  finish();
}

}  // namespace nexios::transport
