#include "app/websocket_impl.hpp"

#include <nexios/detail/json.hpp>
#include <nexios/detail/utf8.hpp>
#include <nexios/ws/handshake.hpp>
#include <nexios/ws/rfc6455.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <stdexcept>

namespace nexios {

namespace detail {

WebSocketImpl::WebSocketImpl(std::shared_ptr<transport::Connection> c, routing::PathParams p, State& s,
                             Attachments a)
    : conn(std::move(c)), params(std::move(p)), state(s), attachments(std::move(a)) {
  for (auto proto : ws::requested_subprotocols(conn->request().headers())) {
    offered.emplace_back(proto);
  }
}

WebSocketDisconnect WebSocketImpl::disconnect_error() const {
  return WebSocketDisconnect(conn->ws_disconnect_code(), std::string(conn->ws_disconnect_reason()));
}

URL make_url(const http::Request& req, std::string_view scheme, const boost::asio::ip::tcp::endpoint& local) {
  URL u;
  u.scheme = scheme;
  if (auto host = req.headers().get("host")) {
    u.host = *host;
  } else {
    u.host = local.address().to_string() + ":" + std::to_string(local.port());
  }
  u.path = req.path();
  u.query = req.query_string();
  return u;
}

}  // namespace detail

std::string URL::str() const {
  std::string out = scheme + "://" + host + path;
  if (!query.empty()) {
    out += '?';
    out += query;
  }
  return out;
}

namespace {

// Clears the "a receive is in progress" flag however the receive ends.
struct ReceiveGuard {
  explicit ReceiveGuard(bool& f) : flag(f) { flag = true; }
  ReceiveGuard(const ReceiveGuard&) = delete;
  ReceiveGuard& operator=(const ReceiveGuard&) = delete;
  ~ReceiveGuard() { flag = false; }
  bool& flag;
};

void require_accepted(const detail::WebSocketImpl& s) {
  if (s.app_state == WebSocketState::CONNECTING) {
    throw std::logic_error("WebSocket is not connected. Need to call \"accept\" first.");
  }
  if (s.app_state != WebSocketState::CONNECTED) {
    throw std::logic_error("WebSocket is not connected: it was closed by the application.");
  }
}

void require_can_send(const detail::WebSocketImpl& s) {
  if (s.app_state == WebSocketState::CONNECTING) {
    throw std::logic_error("WebSocket is not connected. Need to call \"accept\" first.");
  }
  if (s.app_state != WebSocketState::CONNECTED) {
    throw std::logic_error("Cannot call \"send\" once a close message has been sent.");
  }
}

void check_close_args(std::uint16_t code, std::string_view reason) {
  if (!ws::is_valid_close_code(code)) {
    throw std::invalid_argument("WebSocket.close: close code " + std::to_string(code) +
                                " may not be sent (use 1000-1003, 1007-1014 or 3000-4999)");
  }
  if (reason.size() > ws::max_close_reason) {
    throw std::invalid_argument("WebSocket.close: reason longer than 123 bytes");
  }
  if (!detail::is_valid_utf8(reason)) {
    throw std::invalid_argument("WebSocket.close: reason is not valid UTF-8");
  }
}

bool is_header_value(std::string_view v) {
  return std::none_of(v.begin(), v.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

}  // namespace

WebSocket::WebSocket(std::shared_ptr<detail::WebSocketImpl> impl) noexcept : impl_(std::move(impl)) {}

Task<> WebSocket::accept(std::string_view subprotocol, std::vector<std::pair<std::string, std::string>> headers) {
  auto self = impl_;
  auto& s = *self;
  if (s.app_state != WebSocketState::CONNECTING) {
    throw std::logic_error("WebSocket.accept: the handshake was already accepted or answered.");
  }
  if (!subprotocol.empty() &&
      std::find(s.offered.begin(), s.offered.end(), subprotocol) == s.offered.end()) {
    throw std::invalid_argument("WebSocket.accept: the client did not offer subprotocol '" +
                                std::string(subprotocol) + "'");
  }
  for (const auto& [name, value] : headers) {
    if (!detail::is_token(name) || !is_header_value(value)) {
      throw std::invalid_argument("WebSocket.accept: invalid header '" + name + "'");
    }
  }
  s.client_state = WebSocketState::CONNECTED;
  const bool ok = co_await s.conn->ws_accept(subprotocol, headers);
  if (!ok) {
    s.app_state = WebSocketState::DISCONNECTED;
    s.client_state = WebSocketState::DISCONNECTED;
    throw WebSocketDisconnect(ws::close_code::abnormal);
  }
  s.subprotocol = subprotocol;
  s.app_state = WebSocketState::CONNECTED;
}

Task<Message> WebSocket::receive() {
  auto self = impl_;
  auto& s = *self;
  if (s.client_state == WebSocketState::CONNECTING) {
    s.client_state = WebSocketState::CONNECTED;
    Message m;
    m.type = Message::Type::connect;
    co_return m;
  }
  if (s.client_state == WebSocketState::DISCONNECTED) {
    throw std::logic_error("Cannot call \"receive\" once a disconnect message has been received.");
  }
  if (s.app_state == WebSocketState::CONNECTING) {
    throw std::logic_error("WebSocket is not connected. Need to call \"accept\" first.");
  }
  if (s.app_state == WebSocketState::RESPONSE) {
    throw std::logic_error("WebSocket handshake was answered with an HTTP response; nothing to receive.");
  }
  if (s.receiving) {
    throw std::logic_error("WebSocket.receive: another receive is already waiting on this connection.");
  }
  transport::Received r;
  {
    ReceiveGuard guard(s.receiving);
    r = co_await s.conn->ws_receive();
  }
  Message m;
  if (r.kind == transport::Received::Kind::message) {
    m.type = Message::Type::receive;
    m.binary = r.binary;
    m.data = r.data;
  } else {
    s.client_state = WebSocketState::DISCONNECTED;
    m.type = Message::Type::disconnect;
    m.code = r.code;
    m.reason = std::string(r.reason);
  }
  co_return m;
}

Task<std::string> WebSocket::receive_text() {
  require_accepted(*impl_);
  Message m = co_await receive();
  if (m.type == Message::Type::disconnect) {
    throw WebSocketDisconnect(m.code, std::move(m.reason));
  }
  if (m.binary) {
    throw WebSocketException(ws::close_code::unsupported_data, "expected a text message, received binary");
  }
  co_return std::string(m.data);
}

Task<std::string> WebSocket::receive_bytes() {
  require_accepted(*impl_);
  Message m = co_await receive();
  if (m.type == Message::Type::disconnect) {
    throw WebSocketDisconnect(m.code, std::move(m.reason));
  }
  if (!m.binary) {
    throw WebSocketException(ws::close_code::unsupported_data, "expected a binary message, received text");
  }
  co_return std::string(m.data);
}

Task<boost::json::value> WebSocket::receive_json(JsonMode mode) {
  require_accepted(*impl_);
  Message m = co_await receive();
  if (m.type == Message::Type::disconnect) {
    throw WebSocketDisconnect(m.code, std::move(m.reason));
  }
  if (mode == JsonMode::text && m.binary) {
    throw WebSocketException(ws::close_code::unsupported_data, "expected JSON in a text message, received binary");
  }
  if (mode == JsonMode::binary && !m.binary) {
    throw WebSocketException(ws::close_code::unsupported_data, "expected JSON in a binary message, received text");
  }
  boost::system::error_code ec;
  boost::json::value v = detail::parse_json(m.data, ec);
  if (ec == boost::json::error::exponent_overflow) {
    throw JsonDecodeError(ws::close_code::invalid_payload, "JSON number out of range");
  }
  if (ec) {
    throw JsonDecodeError("invalid JSON: " + ec.message());
  }
  co_return v;
}

namespace {
Task<> send_frame(std::shared_ptr<detail::WebSocketImpl> self, ws::Opcode opcode, std::string_view payload) {
  auto& s = *self;
  require_can_send(s);
  const auto status = s.conn->ws_send(opcode, payload);
  if (status == transport::SendStatus::invalid_utf8) {
    throw std::invalid_argument("WebSocket: text is not valid UTF-8 (use send_bytes for binary data)");
  }
  if (status != transport::SendStatus::queued) {
    throw s.disconnect_error();
  }
  if (s.conn->ws_queued_bytes() > s.conn->limits().send_buffer_high_water) {
    co_await s.conn->ws_wait_writable();
  }
}
}  // namespace

Task<> WebSocket::send_text(std::string_view text) {
  // The UTF-8 check is the transport's: every text frame passes it (Connection::ws_send).
  return send_frame(impl_, ws::Opcode::text, text);
}

Task<> WebSocket::send_bytes(std::string_view data) { return send_frame(impl_, ws::Opcode::binary, data); }

Task<> WebSocket::send_bytes(std::span<const std::byte> data) {
  return send_frame(impl_, ws::Opcode::binary, {reinterpret_cast<const char*>(data.data()), data.size()});
}

Task<> WebSocket::send_json(const boost::json::value& value, JsonMode mode) {
  auto self = impl_;
  require_can_send(*self);
  std::string text;
  if (!detail::serialize_json(value, text)) {
    throw std::invalid_argument("WebSocket.send_json: a number is not finite (JSON has no Infinity or NaN)");
  }
  if (mode == JsonMode::binary && !detail::is_valid_utf8(text)) {
    throw std::invalid_argument("WebSocket.send_json: a string is not valid UTF-8");
  }
  co_await send_frame(self, mode == JsonMode::text ? ws::Opcode::text : ws::Opcode::binary, text);
}

Task<> WebSocket::close(std::uint16_t code, std::string_view reason) {
  auto self = impl_;
  auto& s = *self;
  check_close_args(code, reason);
  if (s.app_state == WebSocketState::CONNECTING) {
    s.app_state = WebSocketState::DISCONNECTED;
    s.client_state = WebSocketState::DISCONNECTED;
    http::Response res;
    res.status(403).text(reason.empty() ? std::string("Forbidden") : std::string(reason));
    co_await s.conn->ws_reject(std::move(res));
    co_return;
  }
  if (s.app_state != WebSocketState::CONNECTED) {
    co_return;  // already closed: never a second close frame
  }
  s.app_state = WebSocketState::DISCONNECTED;
  s.conn->ws_close(code, reason);
}

bool WebSocket::is_connected() const noexcept {
  return impl_->client_state == WebSocketState::CONNECTED && impl_->app_state == WebSocketState::CONNECTED &&
         !impl_->conn->ws_peer_gone() && !impl_->conn->ws_close_sent();
}

WebSocketState WebSocket::client_state() const noexcept { return impl_->client_state; }
WebSocketState WebSocket::application_state() const noexcept { return impl_->app_state; }

Address WebSocket::client() const {
  const auto& ep = impl_->conn->remote_endpoint();
  return Address{ep.address().to_string(), ep.port()};
}

const Headers& WebSocket::headers() const noexcept { return impl_->conn->request().headers(); }

const QueryParams& WebSocket::query_params() const {
  if (!impl_->query) {
    impl_->query = QueryParams::parse_borrowed(impl_->conn->request().query_string());
  }
  return *impl_->query;
}

const PathParams& WebSocket::path_params() const noexcept { return impl_->params; }

const Cookies& WebSocket::cookies() const {
  if (!impl_->cookies) {
    impl_->cookies = Cookies::parse(headers().get_all("cookie"));
  }
  return *impl_->cookies;
}

URL WebSocket::url() const { return detail::make_url(impl_->conn->request(), "ws", impl_->conn->local_endpoint()); }

std::string_view WebSocket::path() const noexcept { return impl_->conn->request().path(); }

const std::vector<std::string>& WebSocket::subprotocols() const noexcept { return impl_->offered; }

std::string_view WebSocket::subprotocol() const noexcept { return impl_->subprotocol; }

State& WebSocket::state() const noexcept { return impl_->state; }

Attachments& WebSocket::attachments() const noexcept { return impl_->attachments; }

}  // namespace nexios
