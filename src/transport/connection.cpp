#include "transport/connection.hpp"

#include "transport/server.hpp"

#include <nexios/log.hpp>
#include <nexios/ws/error.hpp>
#include <nexios/ws/frame.hpp>
#include <nexios/ws/handshake.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <exception>

namespace nexios::transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);
// Keep at least this much free space for one read.
constexpr std::size_t min_read_space = 4096;
// Shrink write buffers that grew beyond this once they drain.
constexpr std::size_t max_retained_write_buffer = 256 * 1024;

http::HttpLimits http_limits(const Limits& l) {
  http::HttpLimits h;
  h.max_header_bytes = l.max_header_bytes;
  h.max_headers = l.max_headers;
  h.max_body_size = l.max_body_size;
  return h;
}

ws::FrameParserOptions frame_options(const Limits& l) {
  ws::FrameParserOptions o;
  o.role = ws::Role::server;
  o.max_message_size = l.max_message_size;
  return o;
}

void log_exception(std::exception_ptr e, std::string_view where) noexcept {
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

// Every accepted TCP connection of the process gets the next id.
std::atomic<std::uint64_t> next_connection_id{1};

// "1.2.3.4:5678" or "[::1]:5678" into `buf`, without allocating.
std::string_view format_endpoint(const tcp::endpoint& ep, std::span<char, 64> buf) noexcept {
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

double ms_since(steady::time_point t) noexcept {
  return std::chrono::duration<double, std::milli>(steady::now() - t).count();
}

// The payload size of a server frame (unmasked): its bytes less the header.
std::size_t payload_size(const SharedFrame& f) noexcept {
  if (f.bytes.size() < 2) {
    return 0;
  }
  const std::uint8_t len7 = f.bytes[1] & 0x7F;
  const std::size_t header = len7 < 126 ? 2 : (len7 == 126 ? 4 : 10);
  return f.bytes.size() >= header ? f.bytes.size() - header : 0;
}

// Appends the request headers an access record names, when the request has them.
template <std::size_t N>
std::size_t add_header_fields(std::array<LogField, N>& f, std::size_t n, const http::Request& req) noexcept {
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

std::string_view closer_name(std::uint8_t closer) noexcept {
  switch (closer) {
    case 1:
      return "client";
    case 2:
      return "server";
    default:
      return "none";
  }
}

}  // namespace

Connection::Connection(Worker& worker, tcp::socket socket, tcp::endpoint remote)
    : worker_(worker),
      socket_(std::move(socket)),
      executor_(socket_.get_executor()),
      remote_(std::move(remote)),
      timer_(executor_),
      parser_(http_limits(worker.server.limits())),
      frames_(frame_options(worker.server.limits())),
      msg_ready_(executor_),
      closed_(executor_),
      writable_(executor_) {
  boost::system::error_code ec;
  local_ = socket_.local_endpoint(ec);
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  worker_.add(this);
  id_ = next_connection_id.fetch_add(1, std::memory_order_relaxed);
  opened_at_ = steady::now();
  worker_.stats.connections_accepted.add();
  worker_.stats.http_open.add(1);
  log_event(LogLevel::debug, "server", "connection opened",
            {{"local_port", static_cast<unsigned>(local_.port())}, {"thread", worker_.index}});
}

Connection::~Connection() {
  finish();
  // A message still held in the slot when the last handle goes (possibly on another thread): its
  // block goes back to the heap rather than to this thread's pool.
  delete[] rb_;
}

const Limits& Connection::limits() const noexcept { return worker_.server.limits(); }

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

// Answers a request the server refuses (its reason phrase as the body) and asks for the close.
Task<bool> Connection::write_error(int status) {
  http::Response res;
  res.status(status);
  res.text(std::string(http::reason_phrase(status)));
  out_.clear();
  res.serialize(out_, false, false, worker_.date.now());
  const bool ok = co_await write_all(out_);
  end_request(status, out_.size());
  co_return ok;
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
      co_await write_error(http::status_for(ec));
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
      co_await write_error(http::status_for(ec));
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

// ================================================================================================
// WebSocket phase: reading
// ================================================================================================

// The reader is driven by callbacks rather than a coroutine, so an idle WebSocket costs one
// pending readiness wait and no coroutine frame. pump_reader() parses what is buffered and then
// either waits for readability or stops until what it waits for happens: ws_receive() freeing the
// slot, on_written() draining the send queue, or ws_close() switching to discarding input.
void Connection::pump_reader() {
  if (!reader_running_ || read_pending_ || pumping_) {
    return;
  }
  pumping_ = true;
  process_input();
  pumping_ = false;
  if (finished_) {
    end_reader();
    return;
  }
  if (slot_full_ && !close_sent_) {
    return;  // the handler has not taken the message yet
  }
  // Back-pressure: do not read (and so do not queue pongs) while the peer is not reading.
  if (!close_sent_ && queued_bytes_ > limits().send_buffer_high_water) {
    return;
  }
  // Over its rate with the throttle policy: read again when the budget has refilled.
  if (throttled_ && !close_sent_) {
    return;
  }
  read_pending_ = true;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
    self->read_pending_ = false;
    self->on_readable(ec);
  });
}

void Connection::on_readable(const boost::system::error_code& ec) {
  if (finished_) {
    end_reader();
    return;
  }
  if (ec) {
    on_peer_gone(ws::close_code::abnormal, {}, true);
    end_reader();
    return;
  }
  boost::system::error_code rec;
  std::size_t n = 0;
  if (discarding_) {
    // After our close frame (or a protocol failure) input only matters for the peer's close
    // frame; it is parsed from the thread's scratch buffer so a message view the handler may
    // still hold stays intact.
    auto& buf = worker_.read_buffer;
    n = socket_.read_some(asio::buffer(buf), rec);
    if (!rec && !parser_failed_ && !frames_.closed()) {
      std::size_t pos = 0;
      for (;;) {
        std::size_t used = 0;
        std::error_code pec;
        auto ev = frames_.next(buf.data() + pos, n - pos, used, pec);
        pos += used;
        if (pec) {
          parser_failed_ = true;
          break;
        }
        if (ev.type == ws::FrameEvent::Type::need_more) {
          break;
        }
        if (ev.type == ws::FrameEvent::Type::control) {
          on_control(ev.opcode, ev.view());
        }
      }
    }
  } else {
    ensure_read_space();
    n = socket_.read_some(asio::buffer(rb_ + rb_end_, rb_cap_ - rb_end_), rec);
    if (!rec) {
      rb_end_ += n;
    }
  }
  if (rec && rec != asio::error::would_block && rec != asio::error::try_again) {
    on_peer_gone(ws::close_code::abnormal, {}, rec != asio::error::eof);
    end_reader();
    return;
  }
  if (!rec) {
    const auto now = steady::now();
    last_activity_ = now;
    if (!discarding_ && limits().max_bytes_per_second != 0) {
      charge_bytes(n, now);
    }
  }
  pump_reader();
}

// The peer's side is over (end of stream, an error, or the connection finished).
void Connection::end_reader() {
  reader_running_ = false;
  if (!writing_ && pending_.empty()) {
    finish();
  }
}

// Parses buffered input until it is used up or a complete message waits in the slot. The
// parser is called until it asks for more input: it may report the end of a message (or a
// control frame) after the bytes that completed it were already consumed.
void Connection::process_input() {
  for (;;) {
    if (finished_ || (slot_full_ && !discarding_)) {
      return;
    }
    if (parser_failed_ || frames_.closed()) {
      rb_begin_ = rb_end_;
      break;
    }
    std::size_t used = 0;
    std::error_code ec;
    auto ev = frames_.next(rb_ + rb_begin_, rb_end_ - rb_begin_, used, ec);
    rb_begin_ += used;
    if (ec) {
      parser_failed_ = true;
      fail(ws::close_code_for(ec), ec.message());
      rb_begin_ = rb_end_;
      break;
    }
    if (ev.type == ws::FrameEvent::Type::need_more) {
      break;
    }
    switch (ev.type) {
      case ws::FrameEvent::Type::need_more:
        break;
      case ws::FrameEvent::Type::data: {
        if (discarding_) {
          break;
        }
        const auto offset = static_cast<std::size_t>(ev.data - rb_);
        if (!msg_active_) {
          msg_active_ = true;
          msg_begin_ = offset;
          msg_end_ = offset;
        }
        if (offset != msg_end_) {
          std::memmove(rb_ + msg_end_, ev.data, ev.size);
        }
        msg_end_ += ev.size;
        break;
      }
      case ws::FrameEvent::Type::message_end:
        if (discarding_) {
          msg_active_ = false;
          break;
        }
        if (!msg_active_) {
          msg_begin_ = rb_begin_;
          msg_end_ = rb_begin_;
        }
        msg_active_ = false;
        if ((limits().max_messages_per_second != 0 || over_rate()) && !admit_message(steady::now())) {
          continue;  // over the rate: dropped (drop policy, counted) or the connection is failing (close)
        }
        slot_full_ = true;
        slot_binary_ = ev.opcode == ws::Opcode::binary;
        ++msgs_in_;
        bytes_in_ += msg_end_ - msg_begin_;
        worker_.stats.ws_messages_in.add();
        worker_.stats.ws_bytes_in.add(msg_end_ - msg_begin_);
        last_in_ns_.store(steady::now().time_since_epoch().count(), std::memory_order_relaxed);
        delivered_ = false;
        msg_ready_.notify_all();
        return;
      case ws::FrameEvent::Type::control:
        on_control(ev.opcode, ev.view());
        break;
    }
  }
  // Everything is parsed: keep only an unfinished message; an idle connection holds no buffer.
  if (!slot_full_ && !msg_active_ && rb_ != nullptr) {
    rb_begin_ = rb_end_ = 0;
    release_read_buffer();
  }
}

bool Connection::ensure_read_space(std::size_t want) {
  want = std::max(want, min_read_space);
  if (rb_ == nullptr) {
    rb_ = worker_.pool.acquire();
    rb_cap_ = BufferPool::block_size;
    rb_begin_ = rb_end_ = msg_begin_ = msg_end_ = 0;
  }
  if (rb_cap_ - rb_end_ >= want) {
    return true;
  }
  // Move the live bytes (the unfinished message, then unparsed input) to the front.
  const std::size_t live = msg_active_ ? msg_begin_ : rb_begin_;
  if (live > 0) {
    std::memmove(rb_, rb_ + live, rb_end_ - live);
    rb_end_ -= live;
    rb_begin_ -= live;
    if (msg_active_) {
      msg_end_ -= live;
      msg_begin_ = 0;
    }
  }
  if (rb_cap_ - rb_end_ >= want) {
    return true;
  }
  // Grow. The frame parser bounds a message by max_message_size, so this is bounded too.
  const std::size_t new_cap = BufferPool::capacity_for(std::max(rb_cap_ * 2, rb_end_ + want));
  auto* bigger = worker_.pool.acquire(new_cap);
  std::memcpy(bigger, rb_, rb_end_);
  worker_.pool.release(rb_, rb_cap_);
  rb_ = bigger;
  rb_cap_ = new_cap;
  return true;
}

void Connection::release_read_buffer() noexcept {
  if (rb_ != nullptr) {
    worker_.pool.release(rb_, rb_cap_);
    rb_ = nullptr;
    rb_cap_ = 0;
  }
}

void Connection::on_control(ws::Opcode opcode, std::string_view payload) {
  switch (opcode) {
    case ws::Opcode::ping:
      if (!close_sent_) {
        append_frame(ws::Opcode::pong, payload);
        schedule_flush();
      }
      break;
    case ws::Opcode::close: {
      std::uint16_t code = ws::close_code::no_status;
      std::string_view reason;
      if (payload.size() >= 2) {
        code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                          static_cast<std::uint8_t>(payload[1]));
        reason = payload.substr(2);
      }
      if (!close_sent_) {
        // Echo the peer's code (RFC 6455 §5.5.1); no code → an empty close frame.
        note_close(code, reason, true);
        close_sent_ = true;
        discarding_ = true;
        sent_code_ = code;
        close_deadline_ = steady::now() + limits().close_timeout;
        if (code == ws::close_code::no_status) {
          append_frame(ws::Opcode::close, {});
        } else {
          std::uint8_t body[ws::max_control_payload];
          const std::size_t len = ws::encode_close_payload(body, code, {});
          append_frame(ws::Opcode::close, {reinterpret_cast<const char*>(body), len});
        }
        schedule_flush();
        arm_ws_watchdog();
      }
      on_peer_gone(code, reason, false);
      mark_ended();
      break;
    }
    default:
      break;  // pong: activity only
  }
}

// Fails the connection (RFC 6455 §7.1.7): a close frame with `code`, then the closing handshake.
void Connection::fail(std::uint16_t code, std::string_view reason) {
  if (!ended_) {
    ended_ = true;
    end_code_ = code;
    end_reason_.assign(reason.substr(0, ws::max_close_reason));
  }
  if (!close_sent_) {
    note_close(code, end_reason_, false);
    close_sent_ = true;
    discarding_ = true;
    sent_code_ = code;
    close_deadline_ = steady::now() + limits().close_timeout;
    std::uint8_t body[ws::max_control_payload];
    const std::size_t len = ws::encode_close_payload(body, code, end_reason_);
    append_frame(ws::Opcode::close, {reinterpret_cast<const char*>(body), len});
    schedule_flush();
    arm_ws_watchdog();
  }
  msg_ready_.notify_all();
  writable_.notify_all();
  mark_ended();
}

void Connection::on_peer_gone(std::uint16_t code, std::string_view reason, bool transport_error) {
  if (transport_error) {
    transport_failed_ = true;
  } else {
    peer_closed_ = true;
  }
  if (!ended_) {
    ended_ = true;
    end_code_ = code;
    end_reason_.assign(reason);
  }
  msg_ready_.notify_all();
  writable_.notify_all();
  if (transport_error) {
    mark_ended();
  }
}

Task<Received> Connection::ws_receive() {
  auto self = shared_from_this();
  if (delivered_) {
    delivered_ = false;
    slot_full_ = false;
    if (finished_) {
      release_read_buffer();
    } else {
      pump_reader();  // may put the next message in the slot right away
    }
  }
  for (;;) {
    if (slot_full_ && !delivered_ && !close_sent_) {
      delivered_ = true;
      Received r;
      r.kind = Received::Kind::message;
      r.binary = slot_binary_;
      r.data = {reinterpret_cast<const char*>(rb_ + msg_begin_), msg_end_ - msg_begin_};
      co_return r;
    }
    if (ended_ || finished_) {
      Received r;
      r.kind = Received::Kind::closed;
      r.code = ended_ ? end_code_ : ws::close_code::abnormal;
      r.reason = end_reason_;
      co_return r;
    }
    co_await msg_ready_.wait();
  }
}

// ================================================================================================
// WebSocket phase: writing
// ================================================================================================

void Connection::append_frame(ws::Opcode opcode, std::string_view payload) {
  std::uint8_t header[ws::max_frame_header_size];
  const std::size_t hlen = ws::encode_frame_header(header, opcode, payload.size());
  auto& b = pending_;
  const std::size_t offset = b.bytes.size();
  b.bytes.insert(b.bytes.end(), header, header + hlen);
  b.bytes.insert(b.bytes.end(), payload.begin(), payload.end());
  const std::size_t size = hlen + payload.size();
  if (!b.segments.empty() && !b.segments.back().frame &&
      b.segments.back().offset + b.segments.back().size == offset) {
    b.segments.back().size += size;
  } else {
    b.segments.push_back(Segment{offset, size, nullptr});
  }
  b.total += size;
  queued_bytes_ += size;
  worker_.stats.ws_send_queue_bytes.add(static_cast<std::int64_t>(size));
}

SendStatus Connection::ws_send(ws::Opcode opcode, std::string_view payload) {
  if (close_sent_) {
    return SendStatus::closed_by_us;
  }
  if (peer_closed_ || transport_failed_ || finished_) {
    return SendStatus::peer_gone;
  }
  append_frame(opcode, payload);
  ++msgs_out_;
  bytes_out_ += payload.size();
  worker_.stats.ws_messages_out.add();
  worker_.stats.ws_bytes_out.add(payload.size());
  note_out();
  schedule_flush();
  return SendStatus::queued;
}

void Connection::note_out() noexcept {
  last_out_ns_.store(steady::now().time_since_epoch().count(), std::memory_order_relaxed);
}

// Discards data queued but not yet being written (the connection is about to be closed).
void Connection::drop_pending() noexcept {
  worker_.stats.ws_send_queue_bytes.sub(static_cast<std::int64_t>(pending_.total));
  queued_bytes_ -= pending_.total;
  pending_.clear();
}

SendStatus Connection::ws_send_shared(std::shared_ptr<const SharedFrame> frame) {
  if (phase_ != Phase::websocket) {
    return SendStatus::dropped;
  }
  if (close_sent_) {
    return SendStatus::closed_by_us;
  }
  if (peer_closed_ || transport_failed_ || finished_) {
    return SendStatus::peer_gone;
  }
  const std::size_t size = frame->bytes.size();
  if (queued_bytes_ + size > limits().max_send_queue) {
    if (limits().slow_consumer_policy == Limits::SlowConsumerPolicy::close) {
      // The client is being dropped: what it has not started to receive is not sent.
      worker_.stats.slow_consumer_closes.add();
      log_event(LogLevel::info, "websocket", "slow consumer: closing with 1008",
                {{"queued_bytes", queued_bytes_}, {"max_send_queue", limits().max_send_queue}});
      drop_pending();
      fail(ws::close_code::policy_violation, "slow consumer");
    } else {
      worker_.stats.slow_consumer_drops.add();
      log_event(LogLevel::debug, "websocket", "slow consumer: group message dropped",
                {{"queued_bytes", queued_bytes_}, {"frame_bytes", size}});
    }
    return SendStatus::dropped;
  }
  note_out();
  const std::size_t payload = payload_size(*frame);
  ++msgs_out_;
  bytes_out_ += payload;
  worker_.stats.ws_messages_out.add();
  worker_.stats.ws_bytes_out.add(payload);
  worker_.stats.ws_send_queue_bytes.add(static_cast<std::int64_t>(size));
  pending_.segments.push_back(Segment{0, size, std::move(frame)});
  pending_.total += size;
  queued_bytes_ += size;
  schedule_flush();
  return SendStatus::queued;
}

Task<> Connection::ws_wait_writable() {
  auto self = shared_from_this();
  while (queued_bytes_ > limits().send_buffer_high_water && !finished_ && !transport_failed_ && !peer_closed_) {
    co_await writable_.wait();
  }
}

void Connection::schedule_flush() {
  if (flush_scheduled_ || writing_ || finished_) {
    return;
  }
  flush_scheduled_ = true;
  asio::post(executor_, [self = shared_from_this()] {
    self->flush_scheduled_ = false;
    self->start_write();
  });
}

void Connection::start_write() {
  if (writing_ || pending_.empty() || finished_ || transport_failed_) {
    return;
  }
  std::swap(pending_, inflight_);
  gather_.clear();
  for (const auto& s : inflight_.segments) {
    if (s.frame) {
      gather_.emplace_back(s.frame->bytes.data(), s.frame->bytes.size());
    } else {
      gather_.emplace_back(inflight_.bytes.data() + s.offset, s.size);
    }
  }
  writing_ = true;
  asio::async_write(socket_, std::span<const asio::const_buffer>(gather_),
                    [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                      self->on_written(ec);
                    });
}

void Connection::on_written(const boost::system::error_code& ec) {
  writing_ = false;
  worker_.stats.ws_send_queue_bytes.sub(static_cast<std::int64_t>(inflight_.total));
  queued_bytes_ -= inflight_.total;
  inflight_.clear();
  // A buffer that grew during a burst is given back once the burst is over (nothing more
  // queued); while data keeps coming it is reused, so a sustained stream does not reallocate.
  if (inflight_.bytes.capacity() > max_retained_write_buffer && pending_.empty()) {
    inflight_.bytes = std::vector<std::uint8_t>();
  }
  if (finished_) {
    return;
  }
  if (ec) {
    on_peer_gone(ws::close_code::abnormal, {}, true);
    finish();
    return;
  }
  if (queued_bytes_ <= limits().send_buffer_high_water) {
    writable_.notify_all();
    pump_reader();  // a reader paused by back-pressure goes on
    if (finished_) {
      return;
    }
  }
  if (!pending_.empty()) {
    start_write();
    return;
  }
  if (close_sent_) {
    after_close_flushed();
  }
}

// Our close frame is on the wire: half-close, then wait for the peer to close its side.
void Connection::after_close_flushed() {
  if (!send_shutdown_) {
    send_shutdown_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
  }
  if (!reader_running_) {
    finish();
  }
}

bool Connection::ws_close(std::uint16_t code, std::string_view reason) {
  if (close_sent_ || finished_ || phase_ != Phase::websocket) {
    return false;
  }
  close_sent_ = true;
  discarding_ = true;
  sent_code_ = code;
  close_deadline_ = steady::now() + limits().close_timeout;
  // A message that arrived but was never handed out is dropped: the application chose to close.
  if (slot_full_ && !delivered_) {
    slot_full_ = false;
  }
  if (!peer_closed_ && !transport_failed_) {
    note_close(code, reason, false);
    std::uint8_t body[ws::max_control_payload];
    const std::size_t len = ws::encode_close_payload(body, code, reason);
    append_frame(ws::Opcode::close, {reinterpret_cast<const char*>(body), len});
    schedule_flush();
  }
  arm_ws_watchdog();
  mark_ended();
  pump_reader();  // from now on input only matters for the peer's close frame
  return true;
}

Task<> Connection::ws_wait_closed() {
  auto self = shared_from_this();
  while (!finished_) {
    co_await closed_.wait();
  }
}

void Connection::abort() noexcept {
  if (!ended_) {
    ended_ = true;
    end_code_ = ws::close_code::abnormal;
  }
  finish();
}

void Connection::begin_shutdown() {
  shutting_down_ = true;
  if (phase_ == Phase::websocket) {
    ws_close(ws::close_code::going_away, "server shutting down");
  } else if (phase_ == Phase::http && !in_request_ && !parser_.in_progress()) {
    boost::system::error_code ec;
    socket_.cancel(ec);
  }
}

void Connection::finish() noexcept {
  if (finished_) {
    return;
  }
  finished_ = true;
  const bool was_websocket = phase_ == Phase::websocket;
  phase_ = Phase::closed;
  boost::system::error_code ec;
  timer_.cancel();
  socket_.close(ec);
  drop_pending();  // never written now
  if (was_websocket) {
    worker_.stats.ws_open.sub(1);
    worker_.stats.count_close(closer_ == Closer::none ? ws::close_code::abnormal : close_code_);
    log_ws_access(true);
  } else {
    worker_.stats.http_open.sub(1);
    if (reject_status_ != 0) {
      log_ws_access(false);  // refused by ws_reject
    }
  }
  log_event(LogLevel::debug, "server", "connection closed",
            {{"kind", was_websocket ? "websocket" : "http"},
             {"requests", requests_},
             {"duration_ms", ms_since(opened_at_)}});
  // A message in the slot stays readable: the handler may still hold its view, or not have
  // received it yet (it was sent before the connection ended).
  if (!slot_full_) {
    release_read_buffer();
  }
  worker_.remove(this);
  msg_ready_.notify_all();
  writable_.notify_all();
  closed_.notify_all();
  mark_ended();
  auto callbacks = std::move(finish_callbacks_);
  finish_callbacks_.clear();
  for (auto& cb : callbacks) {
    try {
      cb();
    } catch (...) {
      log_exception(std::current_exception(), "connection finish callback");
    }
  }
}

void Connection::on_finish(std::function<void()> callback) {
  if (finished_) {
    callback();
    return;
  }
  finish_callbacks_.push_back(std::move(callback));
}

void Connection::mark_ended() noexcept {
  open_.store(false, std::memory_order_release);
  if (end_notified_) {
    return;
  }
  end_notified_ = true;
  auto callbacks = std::move(end_callbacks_);
  end_callbacks_.clear();
  for (auto& cb : callbacks) {
    try {
      cb();
    } catch (...) {
      log_exception(std::current_exception(), "connection end callback");
    }
  }
}

void Connection::on_end(std::function<void()> callback) {
  if (end_notified_) {
    callback();
    return;
  }
  end_callbacks_.push_back(std::move(callback));
}

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

// ================================================================================================
// Watchdog: one timer per connection for every deadline
// ================================================================================================

void Connection::arm(Deadline kind, steady::time_point at) {
  if (finished_) {
    return;
  }
  deadline_ = kind;
  deadline_at_ = at;
  timed_out_ = false;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) { self->on_timer(ec); });
}

void Connection::arm_ws_watchdog() {
  if (finished_) {
    return;
  }
  const auto& l = limits();
  auto at = steady::time_point::max();
  Deadline kind = Deadline::none;
  if (close_sent_) {
    at = close_deadline_;
    kind = Deadline::close;
  } else {
    if (l.idle_timeout.count() > 0 && last_activity_ + l.idle_timeout < at) {
      at = last_activity_ + l.idle_timeout;
      kind = Deadline::idle;
    }
    if (l.ping_interval.count() > 0 && next_ping_ < at) {
      at = next_ping_;
      kind = Deadline::ping;
    }
    if (throttled_ && throttle_until_ < at) {
      at = throttle_until_;
      kind = Deadline::throttle;
    }
  }
  if (kind == Deadline::none) {
    if (deadline_ != Deadline::none) {
      deadline_ = Deadline::none;
      timer_.cancel();
    }
    return;
  }
  if (kind == deadline_ && at == deadline_at_) {
    return;
  }
  arm(kind, at);
}

void Connection::on_timer(const boost::system::error_code& ec) {
  if (ec || finished_ || deadline_ == Deadline::none) {
    return;
  }
  const auto now = steady::now();
  if (now < deadline_at_) {
    arm(deadline_, deadline_at_);
    return;
  }
  if (phase_ != Phase::websocket) {
    deadline_ = Deadline::none;
    timed_out_ = true;
    boost::system::error_code cec;
    socket_.cancel(cec);
    return;
  }
  deadline_ = Deadline::none;
  const auto& l = limits();
  if (throttled_ && now >= throttle_until_) {
    throttled_ = false;
    refill_buckets(now);
    pump_reader();
  }
  if (close_sent_) {
    if (now >= close_deadline_) {
      abort();
      return;
    }
  } else if (l.idle_timeout.count() > 0 && now - last_activity_ >= l.idle_timeout) {
    ws_close(ws::close_code::going_away, "idle timeout");
    if (!ended_) {
      ended_ = true;
      end_code_ = ws::close_code::going_away;
      end_reason_ = "idle timeout";
    }
    msg_ready_.notify_all();
  } else if (l.ping_interval.count() > 0 && now >= next_ping_) {
    append_frame(ws::Opcode::ping, {});
    schedule_flush();
    next_ping_ = now + l.ping_interval;
  }
  arm_ws_watchdog();
}

}  // namespace nexios::transport
