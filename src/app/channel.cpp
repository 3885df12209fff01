// A channel: its state behind the Channel handle (joining the process-wide directory, leaving
// every group when its connection ends, the expiry timer) and the Channel class itself.

#include <nexios/channels.hpp>

#include "app/channels_internal.hpp"
#include "app/history.hpp"
#include "app/ids.hpp"
#include "transport/server.hpp"

#include <nexios/detail/utf8.hpp>
#include <nexios/log.hpp>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <stdexcept>

namespace nexios {

namespace asio = boost::asio;
using detail::steady;
using detail::steady_ns;
using detail::ChannelImpl;

// =================================================================================================
// ChannelImpl behaviour
// =================================================================================================

namespace detail {

ChannelImpl::ChannelImpl(WebSocket w, PayloadType t, std::chrono::milliseconds expires, boost::json::object meta)
    : ws(std::move(w)),
      conn(ws.impl()->conn),
      executor(conn->executor()),
      loop_key(&conn->worker()),
      id(uuid4()),
      created(std::chrono::system_clock::now()),
      created_steady(steady::now()),
      ttl(expires),
      type(t),
      metadata(std::move(meta)),
      touched_ns(steady_ns(created_steady)) {
  if (ttl.count() < 0) {
    throw std::invalid_argument("Channel: expires must not be negative");
  }
}

void ChannelImpl::start(ChannelRegistry::Impl& global) {
  global.register_channel(shared_from_this());
  // However the WebSocket ends, the channel leaves every group at once (on its own thread).
  std::weak_ptr<ChannelImpl> weak = weak_from_this();
  auto on_end = [weak] {
    if (auto self = weak.lock()) {
      self->detach_all();
      if (self->expiry_timer) {
        self->expiry_timer->cancel();
      }
    }
  };
  if (detached_by_owner) {
    // The consumer keeps its channel in its groups while on_disconnect runs and detaches it right
    // after (a guard in its frame guarantees it); only the expiry timer stops here.
    conn->on_end([weak] {
      if (auto self = weak.lock(); self && self->expiry_timer) {
        self->expiry_timer->cancel();
      }
    });
  } else {
    conn->on_end(on_end);
  }
  if (ttl.count() > 0) {
    expiry_timer.emplace(executor);
    arm_expiry();
  }
}

void ChannelImpl::arm_expiry() {
  expiry_timer->expires_at(last_activity() + ttl);
  expiry_timer->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) {
      return;
    }
    if (self->is_expired(steady::now())) {
      self->expire();
    } else {
      self->arm_expiry();  // there was activity: wait for the new deadline
    }
  });
}

void ChannelImpl::expire() {
  conn->log_event(LogLevel::debug, "channels", "channel expired: closing with 1001",
                  {{"channel", std::string_view(id)}, {"ttl_ms", ttl.count()}});
  detach_all();
  asio::post(executor, [self = shared_from_this()] {
    if (self->conn->is_websocket()) {
      self->conn->ws_close(ws::close_code::going_away, "channel expired");
    }
  });
}

void ChannelImpl::detach_all() {
  std::vector<Link> links_copy;
  {
    std::lock_guard lock(mutex);
    ended = true;
    links_copy.swap(links);
  }
  for (const auto& l : links_copy) {
    l.registry->detach(this, l.groups);
  }
}

void detach_channel(const Channel& channel) { channel.impl()->detach_all(); }

Channel make_consumer_channel(WebSocket ws, PayloadType type, std::chrono::milliseconds expires) {
  auto impl = std::make_shared<ChannelImpl>(std::move(ws), type, expires, boost::json::object{});
  impl->detached_by_owner = true;
  impl->start(*ChannelRegistry::global().impl_);
  return Channel(std::move(impl));
}

std::size_t close_channels_of(const void* server, std::uint16_t code, std::string_view reason) {
  std::size_t n = 0;
  const std::string why(reason);
  for (const auto& ch : ChannelRegistry::global().impl_->live_channels()) {
    if (&ch->conn->worker().server != server) {
      continue;
    }
    ++n;
    asio::post(ch->executor, [ch, code, why] {
      if (ch->conn->is_websocket()) {
        ch->conn->ws_close(code, why);
      }
    });
  }
  return n;
}

}  // namespace detail

// =================================================================================================
// Channel
// =================================================================================================

namespace {
// Channel metadata is bounded by ChannelLimits::max_metadata_bytes (as compact JSON) when the
// channel is created.
boost::json::object checked_metadata(boost::json::object metadata) {
  if (metadata.empty()) {
    return metadata;
  }
  const std::size_t limit = ChannelRegistry::global().limits().max_metadata_bytes;
  const std::size_t size = boost::json::serialize(metadata).size();
  if (size > limit) {
    throw std::invalid_argument("Channel: metadata is " + std::to_string(size) +
                                " bytes of JSON, over ChannelLimits::max_metadata_bytes (" + std::to_string(limit) + ")");
  }
  return metadata;
}
}  // namespace

Channel::Channel(WebSocket websocket, PayloadType payload_type, std::int64_t expires, boost::json::object metadata)
    : Channel(std::move(websocket), payload_type,
              std::chrono::milliseconds(expires < 0 ? -1 : expires * 1000), std::move(metadata)) {}

Channel::Channel(WebSocket websocket, PayloadType payload_type, std::chrono::milliseconds expires,
                 boost::json::object metadata)
    : impl_(std::make_shared<ChannelImpl>(std::move(websocket), payload_type, expires,
                                          checked_metadata(std::move(metadata)))) {
  impl_->start(*ChannelRegistry::global().impl_);
}

const std::string& Channel::id() const noexcept { return impl_->id; }
std::chrono::system_clock::time_point Channel::created() const noexcept { return impl_->created; }
std::chrono::milliseconds Channel::ttl() const noexcept { return impl_->ttl; }
PayloadType Channel::payload_type() const noexcept { return impl_->type; }
boost::json::object& Channel::metadata() const noexcept { return impl_->metadata; }
WebSocket& Channel::websocket() const noexcept { return impl_->ws; }
bool Channel::is_active() const noexcept { return impl_->conn->ws_is_open(); }
bool Channel::is_expired() const noexcept { return impl_->is_expired(steady::now()); }
bool Channel::is_expired(steady::time_point now) const noexcept { return impl_->is_expired(now); }
void Channel::touch() noexcept { impl_->touched_ns.store(steady_ns(steady::now()), std::memory_order_relaxed); }

std::optional<std::chrono::system_clock::time_point> Channel::expires() const noexcept {
  if (impl_->ttl.count() <= 0) {
    return std::nullopt;
  }
  const auto remaining = impl_->last_activity() + impl_->ttl - steady::now();
  return std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(remaining);
}

Task<> Channel::send(Payload payload) const {
  auto self = impl_;
  WebSocket& ws = self->ws;
  switch (payload.kind()) {
    case Payload::Kind::bytes:
      co_await ws.send_bytes(payload.text());
      co_return;
    case Payload::Kind::json: {
      const std::string text = boost::json::serialize(payload.json());
      if (self->type == PayloadTypeEnum::BYTES) {
        co_await ws.send_bytes(text);
      } else {
        co_await ws.send_text(text);
      }
      co_return;
    }
    case Payload::Kind::text:
      if (self->type == PayloadTypeEnum::JSON) {
        const std::string text = boost::json::serialize(boost::json::value(boost::json::string(payload.text())));
        co_await ws.send_text(text);
      } else if (self->type == PayloadTypeEnum::BYTES) {
        co_await ws.send_bytes(payload.text());
      } else {
        co_await ws.send_text(payload.text());
      }
      co_return;
  }
}

Task<bool> Channel::send(const HistoryEntry& entry) const {
  if (!entry) {
    throw std::invalid_argument("Channel.send: the history entry is empty");
  }
  auto self = impl_;
  auto saved = std::static_pointer_cast<const detail::SavedEntry>(entry);
  const auto& wsi = *self->ws.impl();
  if (wsi.app_state == WebSocketState::CONNECTING) {
    throw std::logic_error("WebSocket is not connected. Need to call \"accept\" first.");
  }
  if (wsi.app_state != WebSocketState::CONNECTED) {
    throw std::logic_error("Cannot call \"send\" once a close message has been sent.");
  }
  auto frame = detail::SavedEntry::frame_for(saved, self->type.value());
  if (!frame) {
    co_return false;  // it cannot go to this channel: the caller skips it
  }
  auto& conn = *self->conn;
  const auto status = conn.ws_send_shared(std::move(frame));
  if (status == transport::SendStatus::queued) {
    if (conn.ws_queued_bytes() > conn.limits().send_buffer_high_water) {
      co_await conn.ws_wait_writable();
    }
    co_return true;
  }
  if (status == transport::SendStatus::dropped && conn.ws_is_open()) {
    co_return false;  // a full queue under the drop-newest policy: the connection stays
  }
  throw wsi.disconnect_error();
}

Task<> Channel::send_text(std::string_view text) const { return impl_->ws.send_text(text); }
Task<> Channel::send_bytes(std::string_view data) const { return impl_->ws.send_bytes(data); }
Task<std::string> Channel::receive_text() const { return impl_->ws.receive_text(); }
Task<std::string> Channel::receive_bytes() const { return impl_->ws.receive_bytes(); }
Task<> Channel::close(std::uint16_t code, std::string_view reason) const { return impl_->ws.close(code, reason); }

Task<Payload> Channel::receive() const {
  auto self = impl_;
  WebSocket& ws = self->ws;
  switch (self->type.value()) {
    case PayloadTypeEnum::JSON: {
      Message m = co_await ws.receive();
      if (m.type == Message::Type::disconnect) {
        throw WebSocketDisconnect(m.code, std::move(m.reason));
      }
      if (m.type != Message::Type::receive) {
        throw std::logic_error("Channel.receive: the WebSocket is not accepted yet");
      }
      if (m.binary && !detail::is_valid_utf8(m.data)) {
        throw WebSocketException(ws::close_code::invalid_payload, "JSON in a binary message is not valid UTF-8");
      }
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(m.data, ec);
      if (ec) {
        throw JsonDecodeError("invalid JSON: " + ec.message());
      }
      co_return Payload(std::move(v));
    }
    case PayloadTypeEnum::TEXT:
      co_return Payload(co_await ws.receive_text());
    case PayloadTypeEnum::BYTES:
      co_return Payload::bytes(co_await ws.receive_bytes());
  }
  co_return Payload();
}

}  // namespace nexios
