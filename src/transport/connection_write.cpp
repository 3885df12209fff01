// transport::Connection, part 4: the WebSocket writer — corked, double-buffered gather writes,
// shared frames, back-pressure and the close handshake.

#include "transport/connection_internal.hpp"
#include "transport/log_fields.hpp"
#include "transport/server.hpp"

#include <nexios/detail/utf8.hpp>
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

std::optional<SharedFrame> SharedFrame::encode(ws::Opcode opcode, std::string_view payload) {
  if (opcode == ws::Opcode::text && !detail::is_valid_utf8(payload)) {
    return std::nullopt;
  }
  std::uint8_t header[ws::max_frame_header_size];
  const std::size_t hlen = ws::encode_frame_header(header, opcode, payload.size());
  std::vector<std::uint8_t> bytes;
  bytes.reserve(hlen + payload.size());
  bytes.insert(bytes.end(), header, header + hlen);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return SharedFrame(std::move(bytes), hlen);
}

std::shared_ptr<const SharedFrame> SharedFrame::make(ws::Opcode opcode, std::string_view payload) {
  auto frame = encode(opcode, payload);
  if (!frame) {
    return nullptr;
  }
  return std::make_shared<const SharedFrame>(std::move(*frame));
}

SendStatus Connection::ws_send(ws::Opcode opcode, std::string_view payload) {
  // The one UTF-8 check of every text message the server sends itself (shared frames are checked
  // once, when SharedFrame::make encodes them): no API puts invalid UTF-8 in a text frame.
  if (opcode == ws::Opcode::text && !detail::is_valid_utf8(payload)) {
    return SendStatus::invalid_utf8;
  }
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
  const std::size_t size = frame->bytes().size();
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
      gather_.emplace_back(s.frame->bytes().data(), s.frame->bytes().size());
    } else {
      gather_.emplace_back(inflight_.bytes.data() + s.offset, s.size);
    }
  }
  writing_ = true;
  worker_.stats.ws_writes.add();
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
             {"duration_ms", log_fields::ms_since(opened_at_)}});
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

}  // namespace nexios::transport
