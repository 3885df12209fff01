#include <nexios/consumer.hpp>

#include "app/channels_internal.hpp"

#include <nexios/detail/json.hpp>
#include <nexios/detail/utf8.hpp>
#include <nexios/log.hpp>
#include <nexios/ws/rfc6455.hpp>

#include <boost/json/parse.hpp>

#include <stdexcept>
#include <variant>

namespace nexios {

Encoding::Encoding(std::string_view name) {
  if (name == "json") {
    value_ = json;
  } else if (name == "text") {
    value_ = text;
  } else if (name == "bytes") {
    value_ = bytes;
  } else if (name.empty() || name == "none") {
    value_ = none;
  } else {
    throw std::invalid_argument("consumer encoding must be \"json\", \"text\", \"bytes\" or \"none\", not \"" +
                                std::string(name) + "\"");
  }
}

Task<> WebSocketConsumerBase::on_connect(WebSocket& ws) { co_await ws.accept(); }

Task<> WebSocketConsumerBase::on_receive(WebSocket&, Payload) { co_return; }

Task<> WebSocketConsumerBase::on_disconnect(WebSocket&, std::uint16_t) { co_return; }

ChannelAddStatusEnum WebSocketConsumerBase::join_group(std::string_view group) {
  return registry_->add_channel_to_group(channel(), group);
}

ChannelRemoveStatusEnum WebSocketConsumerBase::leave_group(std::string_view group) {
  return registry_->remove_channel_from_group(channel(), group);
}

Task<GroupSendResult> WebSocketConsumerBase::broadcast(Payload payload, std::string_view group, bool save_history) {
  return registry_->group_send(group, std::move(payload), save_history);
}

std::vector<Channel> WebSocketConsumerBase::group(std::string_view group) const { return registry_->group(group); }

Task<bool> WebSocketConsumerBase::send_to(std::string_view channel_id, Payload payload) {
  return registry_->send_to(channel_id, std::move(payload));
}

Channel& WebSocketConsumerBase::channel() {
  if (!channel_) {
    throw std::logic_error("WebSocketConsumer: no channel before the connection runs");
  }
  return *channel_;
}

WebSocket& WebSocketConsumerBase::websocket() {
  if (!ws_) {
    throw std::logic_error("WebSocketConsumer: no WebSocket before the connection runs");
  }
  return *ws_;
}

namespace {

// Why a message could not be decoded: the close code and reason to answer with.
struct DecodeError {
  std::uint16_t code;
  std::string reason;
};

std::variant<Payload, DecodeError> decode(Encoding encoding, const Message& m) {
  switch (encoding.value()) {
    case Encoding::none:
      return m.binary ? Payload::bytes(std::string(m.data)) : Payload(std::string(m.data));
    case Encoding::text:
      if (m.binary) {
        return DecodeError{ws::close_code::unsupported_data, "expected text messages, received binary"};
      }
      return Payload(std::string(m.data));
    case Encoding::bytes:
      if (!m.binary) {
        return DecodeError{ws::close_code::unsupported_data, "expected binary messages, received text"};
      }
      return Payload::bytes(std::string(m.data));
    case Encoding::json: {
      if (m.binary && !detail::is_valid_utf8(m.data)) {
        return DecodeError{ws::close_code::invalid_payload, "JSON in a binary message is not valid UTF-8"};
      }
      boost::system::error_code ec;
      boost::json::value v = detail::parse_json(m.data, ec);
      if (ec == boost::json::error::exponent_overflow) {
        return DecodeError{ws::close_code::invalid_payload, "JSON number out of range"};
      }
      if (ec) {
        return DecodeError{ws::close_code::unsupported_data, "malformed JSON data received"};
      }
      return Payload(std::move(v));
    }
  }
  return DecodeError{ws::close_code::internal_error, "unknown encoding"};
}

}  // namespace

namespace {
// Detaches the consumer's channel from every group when the consumer's run ends, however it ends
// (returning, throwing, or its coroutine being destroyed at shutdown).
struct LeaveGroupsGuard {
  explicit LeaveGroupsGuard(const std::optional<Channel>& c) : channel(c) {}
  const std::optional<Channel>& channel;
  LeaveGroupsGuard(const LeaveGroupsGuard&) = delete;
  LeaveGroupsGuard& operator=(const LeaveGroupsGuard&) = delete;
  ~LeaveGroupsGuard() {
    if (channel) {
      detail::detach_channel(*channel);
    }
  }
};
}  // namespace

Task<> WebSocketConsumerBase::run(WebSocket ws) {
  ws_.emplace(ws);
  const PayloadType type = encoding == Encoding::json    ? PayloadType(PayloadTypeEnum::JSON)
                           : encoding == Encoding::bytes ? PayloadType(PayloadTypeEnum::BYTES)
                                                         : PayloadType(PayloadTypeEnum::TEXT);
  channel_.emplace(detail::make_consumer_channel(ws, type, channel_expires));
  const LeaveGroupsGuard leave_groups(channel_);

  co_await on_connect(ws);  // an exception here ends the connection without on_disconnect
  if (ws.application_state() != WebSocketState::CONNECTED) {
    co_return;  // on_connect rejected (or closed) the connection
  }

  std::uint16_t close_code = ws::close_code::normal;
  std::exception_ptr error;
  try {
    for (;;) {
      Message m = co_await ws.receive();
      if (m.type == Message::Type::disconnect) {
        close_code = m.code;
        break;
      }
      if (m.type != Message::Type::receive) {
        continue;
      }
      auto decoded = decode(encoding, m);
      if (auto* bad = std::get_if<DecodeError>(&decoded)) {
        close_code = bad->code;
        co_await ws.close(bad->code, bad->reason);
        break;
      }
      co_await on_receive(ws, std::move(std::get<Payload>(decoded)));
      if (ws.application_state() != WebSocketState::CONNECTED) {
        close_code = ws::close_code::normal;
        break;  // the handler closed the connection
      }
    }
  } catch (const WebSocketDisconnect& e) {
    close_code = e.code;
  } catch (const WebSocketException& e) {
    close_code = e.code;
    error = std::current_exception();
  } catch (...) {
    close_code = ws::close_code::internal_error;
    error = std::current_exception();
  }

  std::exception_ptr disconnect_error;
  try {
    co_await on_disconnect(ws, close_code);
  } catch (...) {
    disconnect_error = std::current_exception();
  }
  // However it ended, this connection's channel leaves every group now.
  detail::detach_channel(*channel_);
  if (error) {
    std::rethrow_exception(error);  // the dispatcher closes with 1011 (or the exception's code)
  }
  if (disconnect_error) {
    std::rethrow_exception(disconnect_error);
  }
}

}  // namespace nexios
