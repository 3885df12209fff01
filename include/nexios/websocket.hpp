#pragma once
/// @file
/// `nexios::WebSocket`: the connection object a WebSocket handler receives (Nexios/Starlette API).

#include <nexios/errors.hpp>
#include <nexios/guard.hpp>
#include <nexios/http/headers.hpp>
#include <nexios/http/url.hpp>
#include <nexios/routing/path.hpp>
#include <nexios/state.hpp>
#include <nexios/task.hpp>

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios {

namespace detail {
struct WebSocketImpl;
}

using http::Cookies;
using http::Headers;
using http::QueryParams;
using routing::PathParams;

/// Connection states, as in Nexios/Starlette. A WebSocket keeps one for each side:
/// `client_state()` (what the peer did) and `application_state()` (what the handler did).
enum class WebSocketState {
  CONNECTING = 0,    ///< handshake not finished
  CONNECTED = 1,     ///< open
  DISCONNECTED = 2,  ///< closed (peer: a close frame or the TCP connection ended; app: close())
  RESPONSE = 3,      ///< the handshake was answered with an HTTP response instead
};

/// How `send_json` / `receive_json` carry JSON: in text frames or in binary frames (UTF-8).
enum class JsonMode { text, binary };

/// One event from `receive()`, the C++ form of Nexios' ASGI messages.
///
/// @code
/// auto m = co_await ws.receive();
/// if (m.type == nx::Message::Type::receive && m.is_text()) use(m.text());
/// if (m.type == nx::Message::Type::disconnect) log(m.code);
/// @endcode
struct Message {
  enum class Type {
    connect,     ///< "websocket.connect": the client asked to connect (only before accept)
    receive,     ///< "websocket.receive": a text or binary message
    disconnect,  ///< "websocket.disconnect": the peer closed (`code`, `reason`)
  };
  Type type = Type::receive;
  bool binary = false;
  /// The payload of a `receive` event: a view into the connection's buffer, valid until the
  /// next `receive*` call on this WebSocket. Copy it (`std::string(m.data)`) to keep it.
  std::string_view data;
  /// `disconnect`: the peer's close code (1005 if its close frame had none, 1006 if the TCP
  /// connection ended without one) or the code the server failed the connection with.
  std::uint16_t code = 1000;
  std::string reason;

  [[nodiscard]] bool is_text() const noexcept { return type == Type::receive && !binary; }
  [[nodiscard]] bool is_bytes() const noexcept { return type == Type::receive && binary; }
  [[nodiscard]] std::string_view text() const noexcept { return data; }
  [[nodiscard]] std::string_view bytes() const noexcept { return data; }
};

/// The peer's address.
struct Address {
  std::string host;
  std::uint16_t port = 0;
};

/// The request URL as the client asked for it: `ws://host/full/path?query`.
struct URL {
  std::string scheme;  ///< "ws" (or "http" for HTTP requests)
  std::string host;    ///< the Host header (or the server address)
  std::string path;    ///< the full, percent-decoded path, before any mount stripping
  std::string query;   ///< the raw query string, without '?'
  /// "scheme://host/path?query"
  [[nodiscard]] std::string str() const;
};

/// Iterates over the messages of a WebSocket until the peer disconnects (then `next()` gives
/// std::nullopt, without throwing), like Nexios' `async for msg in ws.iter_text()`.
///
/// @code
/// auto messages = ws.iter_text();
/// while (auto text = co_await messages.next()) {
///   co_await ws.send_text(*text);
/// }
/// @endcode
template <class T>
class MessageIterator;

/// A WebSocket connection, handed to a WebSocket route handler. It is a cheap handle: copies
/// refer to the same connection. All calls must be made from the connection's own thread (the
/// thread the handler runs on).
///
/// Errors:
/// - the peer went away: `WebSocketDisconnect{code, reason}` from `receive_*` (and from sends);
/// - a call in the wrong state (send before accept, second accept, send after close, receive after
///   a disconnect, two receives at once): `std::logic_error`;
/// - an invalid argument (bad close code, reason over 123 bytes, a subprotocol the client did not
///   offer, text that is not UTF-8): `std::invalid_argument`.
class WebSocket {
 public:
  explicit WebSocket(std::shared_ptr<detail::WebSocketImpl> impl) noexcept;

  // ---- handshake ------------------------------------------------------------------------------

  /// Accepts the handshake (HTTP 101), optionally selecting one of the subprotocols the client
  /// offered and adding response headers. Throws WebSocketDisconnect(1006) if the peer is gone.
  Task<> accept(std::string_view subprotocol = {}, std::vector<std::pair<std::string, std::string>> headers = {});

  // ---- receiving ------------------------------------------------------------------------------

  /// The next event. Before `accept()`, the first call returns a `connect` event. After accept it
  /// returns `receive` events and finally one `disconnect` event (it does not throw for it).
  Task<Message> receive();
  /// The next text message (an owned copy). Throws WebSocketDisconnect when the peer is gone and
  /// WebSocketException(1003) if a binary message arrives.
  Task<std::string> receive_text();
  /// The next binary message (an owned copy). Throws WebSocketDisconnect when the peer is gone and
  /// WebSocketException(1003) if a text message arrives.
  Task<std::string> receive_bytes();
  /// The next message parsed as JSON (a text frame in JsonMode::text, a binary UTF-8 frame in
  /// JsonMode::binary). Throws JsonDecodeError (closes with 1003 if uncaught) for invalid JSON.
  Task<boost::json::value> receive_json(JsonMode mode = JsonMode::text);

  MessageIterator<std::string> iter_text();
  MessageIterator<std::string> iter_bytes();
  MessageIterator<boost::json::value> iter_json(JsonMode mode = JsonMode::text);

  // ---- sending --------------------------------------------------------------------------------

  /// Sends a text message (must be valid UTF-8). Waits only when more than
  /// `Limits::send_buffer_high_water` bytes are already queued for this peer.
  Task<> send_text(std::string_view text);
  /// Sends a binary message.
  Task<> send_bytes(std::string_view data);
  Task<> send_bytes(std::span<const std::byte> data);
  /// Sends compact JSON (no spaces, non-ASCII not escaped), in a text frame or, with
  /// JsonMode::binary, a binary frame.
  Task<> send_json(const boost::json::value& value, JsonMode mode = JsonMode::text);

  /// Closes the connection with `code` and `reason` (≤123 bytes). Before `accept()` it rejects
  /// the handshake with HTTP 403. Closing again, or after the peer left, does nothing: there is
  /// never more than one close frame.
  Task<> close(std::uint16_t code = 1000, std::string_view reason = {});

  // ---- state ----------------------------------------------------------------------------------

  /// True when both sides are connected (accepted, and neither side closed).
  [[nodiscard]] bool is_connected() const noexcept;
  [[nodiscard]] WebSocketState client_state() const noexcept;
  [[nodiscard]] WebSocketState application_state() const noexcept;

  // ---- the request ----------------------------------------------------------------------------

  [[nodiscard]] Address client() const;
  [[nodiscard]] const Headers& headers() const noexcept;
  [[nodiscard]] const QueryParams& query_params() const;
  [[nodiscard]] const PathParams& path_params() const noexcept;
  [[nodiscard]] const Cookies& cookies() const;
  [[nodiscard]] URL url() const;
  /// The full, percent-decoded request path.
  [[nodiscard]] std::string_view path() const noexcept;
  /// The subprotocols the client offered (Sec-WebSocket-Protocol), in order.
  [[nodiscard]] const std::vector<std::string>& subprotocols() const noexcept;
  /// The subprotocol chosen by `accept()` (empty if none).
  [[nodiscard]] std::string_view subprotocol() const noexcept;
  /// The application's shared state (`app.state`).
  [[nodiscard]] State& state() const noexcept;
  /// What the guards attached to this connection (see guard.hpp).
  [[nodiscard]] Attachments& attachments() const noexcept;
  /// The value of type T a guard attached (e.g. the authenticated user); throws std::logic_error
  /// if none was.
  template <class T>
  [[nodiscard]] T& attached() const {
    return attachments().get<T>();
  }
  /// The value of type T a guard attached, or nullptr.
  template <class T>
  [[nodiscard]] T* find_attached() const noexcept {
    return attachments().find<T>();
  }

  /// Two handles are equal when they refer to the same connection.
  friend bool operator==(const WebSocket& a, const WebSocket& b) noexcept { return a.impl_ == b.impl_; }

  /// The implementation (for the library's own components such as Channel).
  [[nodiscard]] const std::shared_ptr<detail::WebSocketImpl>& impl() const noexcept { return impl_; }

 private:
  std::shared_ptr<detail::WebSocketImpl> impl_;
};

template <class T>
class MessageIterator {
 public:
  /// The next message, or std::nullopt once the peer has disconnected.
  Task<std::optional<T>> next() {
    try {
      if constexpr (std::is_same_v<T, boost::json::value>) {
        co_return co_await ws_.receive_json(mode_);
      } else if (binary_) {
        co_return co_await ws_.receive_bytes();
      } else {
        co_return co_await ws_.receive_text();
      }
    } catch (const WebSocketDisconnect&) {
      co_return std::nullopt;
    }
  }

 private:
  friend class WebSocket;
  MessageIterator(WebSocket ws, bool binary, JsonMode mode) : ws_(std::move(ws)), binary_(binary), mode_(mode) {}
  WebSocket ws_;
  bool binary_ = false;
  JsonMode mode_ = JsonMode::text;
};

inline MessageIterator<std::string> WebSocket::iter_text() { return {*this, false, JsonMode::text}; }
inline MessageIterator<std::string> WebSocket::iter_bytes() { return {*this, true, JsonMode::text}; }
inline MessageIterator<boost::json::value> WebSocket::iter_json(JsonMode mode) { return {*this, false, mode}; }

}  // namespace nexios
