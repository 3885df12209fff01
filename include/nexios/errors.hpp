#pragma once
/// @file
/// The exceptions of the user-facing API. Errors a peer causes travel as error codes inside the
/// library; they become these exceptions only where user code is called.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace nexios {

/// Thrown by `receive*` (and sends) when the peer has gone: it sent a close frame, or the TCP
/// connection ended (code 1006). Mirrors Nexios' `WebSocketDisconnect(code=1000, reason="")`.
class WebSocketDisconnect : public std::runtime_error {
 public:
  explicit WebSocketDisconnect(std::uint16_t code = 1000, std::string reason = {});
  /// The close code the peer sent (1005 if its close frame had none, 1006 if there was no close frame).
  std::uint16_t code;
  /// The close reason the peer sent (may be empty).
  std::string reason;
};

/// Throw from a handler to close the connection with exactly this code and reason. Before the
/// handshake is accepted it rejects the handshake with HTTP 403 instead.
///
/// @code
/// if (!authorized) throw nx::WebSocketException(4001, "unauthorized");
/// @endcode
class WebSocketException : public std::runtime_error {
 public:
  /// `code` must be a close code an endpoint may send (1000–1003, 1007–1014, 3000–4999) and
  /// `reason` at most 123 bytes of UTF-8; otherwise std::invalid_argument is thrown.
  explicit WebSocketException(std::uint16_t code, std::string reason = {});
  std::uint16_t code;
  std::string reason;
};

/// A received message that is not valid JSON (from `receive_json` and JSON consumers). Uncaught, it
/// closes the connection with 1003 (unsupported data), or with 1007 (invalid payload data) for a
/// number that does not fit a double (`1e999999`), which is refused rather than read as infinity.
class JsonDecodeError : public WebSocketException {
 public:
  explicit JsonDecodeError(std::string what);
  JsonDecodeError(std::uint16_t close_code, std::string what);
};

/// A received JSON message without a key the handler asked for (`Payload::at`), or not an object.
/// Uncaught, it closes the connection with 1003 and a reason naming the key ("JSON key 'text' is
/// missing"), so the client learns what it got wrong.
class JsonKeyError : public JsonDecodeError {
 public:
  JsonKeyError(std::string key, std::string what);
  /// The key that was asked for.
  std::string key;
};

}  // namespace nexios
