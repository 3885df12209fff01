#include <nexios/errors.hpp>

#include <nexios/detail/utf8.hpp>
#include <nexios/ws/rfc6455.hpp>

namespace nexios {

namespace {
std::string describe_close(std::uint16_t code, const std::string& reason) {
  std::string out = "websocket closed (" + std::to_string(code);
  if (!reason.empty()) {
    out += ": " + reason;
  }
  out += ')';
  return out;
}

std::uint16_t checked_code(std::uint16_t code, const std::string& reason) {
  if (!ws::is_valid_close_code(code)) {
    throw std::invalid_argument("WebSocketException: close code " + std::to_string(code) +
                                " may not be sent (use 1000-1003, 1007-1014 or 3000-4999)");
  }
  if (reason.size() > ws::max_close_reason) {
    throw std::invalid_argument("WebSocketException: close reason longer than 123 bytes");
  }
  if (!detail::is_valid_utf8(reason)) {
    throw std::invalid_argument("WebSocketException: close reason is not valid UTF-8");
  }
  return code;
}
}  // namespace

WebSocketDisconnect::WebSocketDisconnect(std::uint16_t code_, std::string reason_)
    : std::runtime_error(describe_close(code_, reason_)), code(code_), reason(std::move(reason_)) {}

WebSocketException::WebSocketException(std::uint16_t code_, std::string reason_)
    : std::runtime_error(describe_close(code_, reason_)), code(checked_code(code_, reason_)), reason(std::move(reason_)) {}

JsonDecodeError::JsonDecodeError(std::string what) : JsonDecodeError(ws::close_code::unsupported_data, std::move(what)) {}

JsonDecodeError::JsonDecodeError(std::uint16_t close_code, std::string what)
    : WebSocketException(close_code, what.size() > ws::max_close_reason ? std::string("invalid JSON") : what) {}

JsonKeyError::JsonKeyError(std::string key_, std::string what) : JsonDecodeError(std::move(what)), key(std::move(key_)) {}

}  // namespace nexios
