/// @file
/// The "nexios.ws" and "nexios.ws.handshake" error categories.

#include <nexios/ws/error.hpp>
#include <nexios/ws/handshake.hpp>
#include <nexios/ws/rfc6455.hpp>

#include <string>

namespace nexios::ws {

namespace {

class WsCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "nexios.ws"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::reserved_bits:
        return "reserved bits set in frame header";
      case errc::reserved_opcode:
        return "reserved opcode";
      case errc::unmasked_frame:
        return "client frame is not masked";
      case errc::masked_frame:
        return "server frame is masked";
      case errc::control_too_long:
        return "control frame payload longer than 125 bytes";
      case errc::fragmented_control:
        return "fragmented control frame";
      case errc::unexpected_continuation:
        return "continuation frame without a message in progress";
      case errc::expected_continuation:
        return "new data frame while a fragmented message is in progress";
      case errc::bad_length:
        return "payload length with the most significant bit set";
      case errc::bad_close_payload:
        return "close frame with a 1-byte payload";
      case errc::invalid_close_code:
        return "invalid close code";
      case errc::invalid_close_reason:
        return "close reason is not valid UTF-8";
      case errc::invalid_utf8:
        return "text message is not valid UTF-8";
      case errc::message_too_big:
        return "message too big";
    }
    return "unknown websocket error";
  }
};

class HandshakeCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "nexios.ws.handshake"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<handshake_errc>(value)) {
      case handshake_errc::not_get:
        return "websocket upgrade request method is not GET";
      case handshake_errc::bad_http_version:
        return "websocket upgrade requires HTTP/1.1 or later";
      case handshake_errc::missing_upgrade:
        return "missing 'Upgrade: websocket' header";
      case handshake_errc::missing_connection:
        return "missing 'Connection: upgrade' header";
      case handshake_errc::missing_host:
        return "missing Host header";
      case handshake_errc::bad_version:
        return "Sec-WebSocket-Version missing or not 13";
      case handshake_errc::missing_key:
        return "missing Sec-WebSocket-Key header";
      case handshake_errc::bad_key:
        return "Sec-WebSocket-Key is not the base64 encoding of 16 bytes";
      case handshake_errc::has_body:
        return "websocket upgrade request has a body";
    }
    return "unknown websocket handshake error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const WsCategory category;
  return category;
}

std::uint16_t close_code_for(errc e) noexcept {
  switch (e) {
    case errc::invalid_utf8:
      return close_code::invalid_payload;
    case errc::message_too_big:
      return close_code::message_too_big;
    default:
      return close_code::protocol_error;
  }
}

std::uint16_t close_code_for(const std::error_code& ec) noexcept {
  if (ec.category() == error_category()) {
    return close_code_for(static_cast<errc>(ec.value()));
  }
  return close_code::internal_error;
}

const std::error_category& handshake_category() noexcept {
  static const HandshakeCategory category;
  return category;
}

int http_status_for(handshake_errc e) noexcept {
  switch (e) {
    case handshake_errc::not_get:
      return 405;
    case handshake_errc::missing_upgrade:
    case handshake_errc::bad_version:
      return 426;
    default:
      return 400;
  }
}

}  // namespace nexios::ws
