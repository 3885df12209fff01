#pragma once
// A blocking test client that speaks HTTP/1.1 and RFC 6455 over a real TCP socket, and can also
// send anything a hostile client could: unmasked frames, bad opcodes, raw bytes in any chops.
// Every read has a timeout, so a test that waits for an event fails instead of hanging.

#include <nexios/detail/ascii.hpp>
#include <nexios/ws/frame.hpp>
#include <nexios/ws/frame_parser.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios::test {

struct HttpReply {
  int status = 0;
  std::string head;  // status line + headers
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  [[nodiscard]] std::optional<std::string> header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (detail::iequals(k, name)) {
        return v;
      }
    }
    return std::nullopt;
  }
};

struct Frame {
  ws::Opcode opcode = ws::Opcode::continuation;
  std::string payload;
};

/// The close a server sent: code (1005 if its close frame was empty) and reason.
struct CloseInfo {
  std::uint16_t code = 0;
  std::string reason;
};

class TestClient {
 public:
  explicit TestClient(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : socket_(io_), parser_(ws::FrameParserOptions{ws::Role::client, std::uint64_t{1} << 40}) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    socket_.connect(ep);
    set_timeout(timeout);
  }

  void set_timeout(std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  boost::asio::ip::tcp::socket& socket() { return socket_; }

  // ---- raw bytes ------------------------------------------------------------------------------

  void send_raw(std::string_view bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size())); }

  /// Sends `bytes` in pieces of `chop` bytes (separate writes).
  void send_chopped(std::string_view bytes, std::size_t chop) {
    for (std::size_t i = 0; i < bytes.size(); i += chop) {
      send_raw(bytes.substr(i, chop));
    }
  }

  /// Reads at least one byte into the internal buffer; false on EOF. Throws on timeout/error.
  bool fill() {
    char tmp[65536];
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(boost::asio::buffer(tmp), ec);
    if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) {
      return false;
    }
    if (ec) {
      throw std::runtime_error("TestClient read failed: " + ec.message());
    }
    buf_.append(tmp, n);
    return true;
  }

  /// True if the server closed the TCP connection (EOF or reset) before the timeout, with no
  /// further bytes pending.
  bool wait_closed() {
    while (buf_.empty()) {
      if (!fill()) {
        return true;
      }
    }
    return false;
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  /// Reads one HTTP response (status line, headers, Content-Length body).
  HttpReply read_http() {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        throw std::runtime_error("connection closed before an HTTP response: '" + buf_ + "'");
      }
    }
    HttpReply r;
    r.head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    std::size_t line_end = r.head.find("\r\n");
    const std::string status_line = r.head.substr(0, line_end);
    r.status = std::stoi(status_line.substr(9, 3));
    std::size_t pos = line_end + 2;
    while (pos < r.head.size()) {
      const std::size_t e = r.head.find("\r\n", pos);
      const std::string line = r.head.substr(pos, e - pos);
      const std::size_t colon = line.find(':');
      r.headers.emplace_back(line.substr(0, colon), std::string(detail::trim_ows(std::string_view(line).substr(colon + 1))));
      pos = e + 2;
    }
    std::size_t length = 0;
    if (auto cl = r.header("content-length")) {
      length = std::stoul(*cl);
    }
    while (buf_.size() < length) {
      if (!fill()) {
        throw std::runtime_error("connection closed inside an HTTP body");
      }
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  HttpReply request(std::string_view method, std::string_view target, std::string_view extra_headers = {},
                    std::string_view body = {}) {
    std::string req = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    req += extra_headers;
    if (!body.empty()) {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n";
    req += body;
    send_raw(req);
    return read_http();
  }

  // ---- WebSocket ------------------------------------------------------------------------------

  /// Sends an upgrade request and reads the response (101 on success).
  HttpReply handshake(std::string_view target, std::string_view extra_headers = {}) {
    std::string req = "GET " + std::string(target) +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    req += extra_headers;
    req += "\r\n";
    send_raw(req);
    return read_http();
  }

  /// Encodes a frame as a client would (masked unless told otherwise).
  static std::string encode(ws::Opcode opcode, std::string_view payload, bool fin = true, bool mask = true,
                            std::uint8_t rsv = 0) {
    static thread_local std::mt19937 rng{12345};
    std::uint8_t header[ws::max_frame_header_size];
    std::array<std::uint8_t, 4> key{};
    for (auto& b : key) {
      b = static_cast<std::uint8_t>(rng());
    }
    const std::size_t hlen = ws::encode_frame_header(header, opcode, payload.size(), fin,
                                                     mask ? std::optional(key) : std::nullopt);
    header[0] = static_cast<std::uint8_t>(header[0] | (rsv << 4));
    std::string out(reinterpret_cast<const char*>(header), hlen);
    std::string body(payload);
    if (mask) {
      ws::apply_mask(reinterpret_cast<std::uint8_t*>(body.data()), body.size(), key);
    }
    return out + body;
  }

  void send_frame(ws::Opcode opcode, std::string_view payload, bool fin = true, bool mask = true, std::uint8_t rsv = 0) {
    send_raw(encode(opcode, payload, fin, mask, rsv));
  }
  void send_text(std::string_view text) { send_frame(ws::Opcode::text, text); }
  void send_binary(std::string_view data) { send_frame(ws::Opcode::binary, data); }
  void send_close(std::uint16_t code, std::string_view reason = {}) {
    std::uint8_t body[125];
    const std::size_t n = ws::encode_close_payload(body, code, reason);
    send_frame(ws::Opcode::close, {reinterpret_cast<const char*>(body), n});
  }

  /// The next frame from the server (the client-role parser validates it). Data frames are
  /// returned reassembled as one message (opcode text/binary).
  Frame read_frame() {
    std::string message;
    for (;;) {
      // The parser may report a message end after its bytes were consumed: call it until it
      // asks for more input.
      for (;;) {
        std::size_t used = 0;
        std::error_code ec;
        auto ev = parser_.next(reinterpret_cast<std::uint8_t*>(buf_.data()), buf_.size(), used, ec);
        std::string_view data = ev.view();
        std::string copy(data);
        buf_.erase(0, used);
        if (ec) {
          throw std::runtime_error("server sent an invalid frame: " + ec.message());
        }
        switch (ev.type) {
          case ws::FrameEvent::Type::need_more:
            break;
          case ws::FrameEvent::Type::data:
            message += copy;
            continue;
          case ws::FrameEvent::Type::message_end:
            return Frame{ev.opcode, std::move(message)};
          case ws::FrameEvent::Type::control:
            return Frame{ev.opcode, std::move(copy)};
        }
        break;
      }
      if (!fill()) {
        throw std::runtime_error("connection closed while waiting for a frame");
      }
    }
  }

  /// Reads frames until a data message arrives (pongs are skipped); returns it.
  Frame read_message() {
    for (;;) {
      Frame f = read_frame();
      if (f.opcode == ws::Opcode::pong || f.opcode == ws::Opcode::ping) {
        continue;
      }
      return f;
    }
  }

  std::string read_text() {
    Frame f = read_message();
    if (f.opcode != ws::Opcode::text) {
      throw std::runtime_error("expected a text message, got opcode " + std::to_string(static_cast<int>(f.opcode)));
    }
    return f.payload;
  }

  /// Reads frames until the server's close frame; returns its code and reason.
  CloseInfo read_close() {
    for (;;) {
      Frame f = read_frame();
      if (f.opcode == ws::Opcode::close) {
        CloseInfo c;
        c.code = ws::close_code::no_status;
        if (f.payload.size() >= 2) {
          c.code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(f.payload[0]) << 8) |
                                              static_cast<std::uint8_t>(f.payload[1]));
          c.reason = f.payload.substr(2);
        }
        return c;
      }
    }
  }

  /// Closes with `code`, expects the server's close and then the TCP close.
  CloseInfo close_handshake(std::uint16_t code = 1000) {
    send_close(code);
    CloseInfo c = read_close();
    if (!wait_closed()) {
      throw std::runtime_error("server did not close the TCP connection after the close handshake");
    }
    return c;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  ws::FrameParser parser_;
  std::string buf_;
};

}  // namespace nexios::test
