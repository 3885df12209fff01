#include "transport/connection.hpp"

#include "transport/connection_internal.hpp"
#include "transport/log_fields.hpp"
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
using namespace internal;

namespace {

// Every accepted TCP connection of the process gets the next id.
std::atomic<std::uint64_t> next_connection_id{1};

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
    note_reader_paused();
    return;  // the handler has not taken the message yet
  }
  // Back-pressure: do not read (and so do not queue pongs) while the peer is not reading.
  if (!close_sent_ && queued_bytes_ > limits().send_buffer_high_water) {
    note_reader_paused();
    return;
  }
  // Over its rate with the throttle policy: read again when the budget has refilled.
  if (throttled_ && !close_sent_) {
    note_reader_paused();
    return;
  }
  note_partial_input();
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
    // The end of input with no close frame from the peer: it has left (1006). Finish now: frames
    // still queued for it, or a close handshake it will never answer, would only hold the
    // connection (and its place in groups) until close_timeout.
    const bool abandoned = phase_ == Phase::websocket && !peer_closed_;
    on_peer_gone(ws::close_code::abnormal, {}, rec != asio::error::eof);
    if (abandoned) {
      reader_running_ = false;
      finish();
      return;
    }
    end_reader();
    return;
  }
  if (!rec && !discarding_ && limits().max_bytes_per_second != 0) {
    charge_bytes(n, steady::now());
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
      case ws::FrameEvent::Type::message_end: {
        if (discarding_) {
          msg_active_ = false;
          break;
        }
        const auto now = steady::now();
        note_activity(now);
        if (!msg_active_) {
          msg_begin_ = rb_begin_;
          msg_end_ = rb_begin_;
        }
        msg_active_ = false;
        if ((limits().max_messages_per_second != 0 || over_rate()) && !admit_message(now)) {
          continue;  // over the rate: dropped (drop policy, counted) or the connection is failing (close)
        }
        slot_full_ = true;
        slot_binary_ = ev.opcode == ws::Opcode::binary;
        ++msgs_in_;
        bytes_in_ += msg_end_ - msg_begin_;
        worker_.stats.ws_messages_in.add();
        worker_.stats.ws_bytes_in.add(msg_end_ - msg_begin_);
        last_in_ns_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
        delivered_ = false;
        msg_ready_.notify_all();
        return;
      }
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

void Connection::note_activity(steady::time_point now) noexcept {
  last_activity_ = now;
  if (!frames_.in_message()) {
    partial_ = false;  // the next unfinished message starts its own clock
  }
}

// The reader stops without waiting for input (the handler holds the last message, back-pressure,
// the throttle): the message clock stops too, the time is not the peer's.
void Connection::note_reader_paused() {
  if (partial_ && !reader_paused_) {
    reader_paused_ = true;
    paused_at_ = steady::now();
  }
}

void Connection::note_partial_input() {
  if (discarding_ || limits().message_timeout.count() == 0) {
    return;
  }
  const bool partial = msg_active_ || frames_.in_message() || frames_.in_frame();
  if (reader_paused_) {
    reader_paused_ = false;
    if (partial_ && partial) {
      partial_since_ += steady::now() - paused_at_;
      arm_ws_watchdog();
    }
  }
  if (partial == partial_) {
    return;
  }
  partial_ = partial;
  if (partial) {
    partial_since_ = steady::now();
    arm_ws_watchdog();
  }
}

void Connection::on_control(ws::Opcode opcode, std::string_view payload) {
  if (opcode == ws::Opcode::ping || opcode == ws::Opcode::pong) {
    note_activity(steady::now());
  }
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
    if (l.message_timeout.count() > 0 && partial_ && !reader_paused_ && partial_since_ + l.message_timeout < at) {
      at = partial_since_ + l.message_timeout;
      kind = Deadline::message;
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

// Closes a WebSocket whose peer ran out of time (idle_timeout, message_timeout); receive() then
// reports `code` and `reason`.
void Connection::timed_out_ws(std::uint16_t code, std::string_view reason) {
  ws_close(code, reason);
  if (!ended_) {
    ended_ = true;
    end_code_ = code;
    end_reason_ = reason;
  }
  msg_ready_.notify_all();
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
    timed_out_ws(ws::close_code::going_away, "idle timeout");
  } else if (l.message_timeout.count() > 0 && partial_ && !reader_paused_ && now - partial_since_ >= l.message_timeout) {
    timed_out_ws(ws::close_code::policy_violation, "message timeout");
  } else if (l.ping_interval.count() > 0 && now >= next_ping_) {
    append_frame(ws::Opcode::ping, {});
    schedule_flush();
    next_ping_ = now + l.ping_interval;
  }
  arm_ws_watchdog();
}

}  // namespace nexios::transport
