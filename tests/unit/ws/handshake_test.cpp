#include <nexios/ws/handshake.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace nexios::ws {
namespace {

/// A valid upgrade request's headers, with fields replaced or removed as a test needs.
struct Request {
  std::vector<std::pair<std::string, std::string>> fields{
      {"Host", "example.com"},         {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Version", "13"},
  };

  Request& remove(std::string_view name) {
    std::erase_if(fields, [&](const auto& f) { return detail::iequals(f.first, name); });
    return *this;
  }
  Request& set(std::string_view name, std::string value) {
    remove(name);
    fields.emplace_back(std::string(name), std::move(value));
    return *this;
  }
  Request& add(std::string_view name, std::string value) {
    fields.emplace_back(std::string(name), std::move(value));
    return *this;
  }
  [[nodiscard]] http::Headers headers() const {
    http::Headers h;
    for (const auto& [n, v] : fields) {
      h.add(n, v);
    }
    return h;
  }
  [[nodiscard]] std::error_code validate(std::string_view method = "GET", int minor = 1, bool body = false) const {
    const http::Headers h = headers();
    return validate_upgrade(method, minor, h, body);
  }
};

TEST(Handshake, AcceptKeyRfcVector) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // RFC 6455 §4.1 / Autobahn sample.
  EXPECT_EQ(accept_key("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(Handshake, ValidRequest) {
  EXPECT_FALSE(Request{}.validate());
  // Case-insensitive tokens in lists, HTTP/1.2+ is fine.
  Request r;
  r.set("upgrade", "h2c, WebSocket").set("connection", "keep-alive, UPGRADE");
  EXPECT_FALSE(r.validate("GET", 2));
  // Token in a second Connection field.
  Request r2;
  r2.set("Connection", "keep-alive").add("Connection", "upgrade");
  EXPECT_FALSE(r2.validate());
}

TEST(Handshake, EachCheck) {
  EXPECT_EQ(Request{}.validate("POST"), handshake_errc::not_get);
  EXPECT_EQ(Request{}.validate("get"), handshake_errc::not_get);  // methods are case-sensitive
  EXPECT_EQ(Request{}.validate("HEAD"), handshake_errc::not_get);
  EXPECT_EQ(Request{}.validate("GET", 0), handshake_errc::bad_http_version);
  EXPECT_EQ(Request{}.remove("upgrade").validate(), handshake_errc::missing_upgrade);
  EXPECT_EQ(Request{}.set("upgrade", "h2c").validate(), handshake_errc::missing_upgrade);
  EXPECT_EQ(Request{}.set("upgrade", "websocket2").validate(), handshake_errc::missing_upgrade);
  EXPECT_EQ(Request{}.remove("connection").validate(), handshake_errc::missing_connection);
  EXPECT_EQ(Request{}.set("connection", "keep-alive").validate(), handshake_errc::missing_connection);
  EXPECT_EQ(Request{}.remove("host").validate(), handshake_errc::missing_host);
  EXPECT_EQ(Request{}.remove("sec-websocket-version").validate(), handshake_errc::bad_version);
  EXPECT_EQ(Request{}.set("sec-websocket-version", "8").validate(), handshake_errc::bad_version);
  EXPECT_EQ(Request{}.set("sec-websocket-version", "13, 8").validate(), handshake_errc::bad_version);
  EXPECT_EQ(Request{}.set("sec-websocket-version", "013").validate(), handshake_errc::bad_version);
  EXPECT_EQ(Request{}.set("sec-websocket-version", "").validate(), handshake_errc::bad_version);
  EXPECT_EQ(Request{}.add("sec-websocket-version", "8").validate(), handshake_errc::bad_version);
  EXPECT_EQ(Request{}.remove("sec-websocket-key").validate(), handshake_errc::missing_key);
  EXPECT_EQ(Request{}.validate("GET", 1, true), handshake_errc::has_body);
}

TEST(Handshake, BadKeys) {
  const std::string bad[] = {
      "",
      "dGhlIHNhbXBsZSBub25jZQ",        // no padding
      "dGhlIHNhbXBsZSBub25jZQ=",       // bad length
      "dGhlIHNhbXBsZSBub25jZR==",      // non-canonical bits
      "dGhlIHNhbXBsZSBub25j",          // 15 bytes... (20 chars = 15 bytes)
      "dGhlIHNhbXBsZSBub25jZWE=",      // 17 bytes
      "dGhlIHNhbXBsZSBub25jZQ==AAAA",  // 19 bytes, padding mid-string
      "dGhlIHNhbXBsZSBub25jZQ-=",      // outside the alphabet
      "dGhlIHNhbXBs ZSBub25jZQ==",     // whitespace inside
      "not base64 at all!!!!!!!",
  };
  for (const auto& key : bad) {
    EXPECT_EQ(Request{}.set("sec-websocket-key", key).validate(), handshake_errc::bad_key) << key;
  }
  // Two keys, even two valid ones.
  EXPECT_EQ(Request{}.add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==").validate(), handshake_errc::bad_key);
  EXPECT_EQ(Request{}.add("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==").validate(), handshake_errc::bad_key);
  // Any 16 bytes are fine.
  EXPECT_FALSE(Request{}.set("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA==").validate());
  EXPECT_FALSE(Request{}.set("sec-websocket-key", "/////////////////////w==").validate());
}

TEST(Handshake, CheckOrder) {
  // Everything wrong: the first check in order wins, then the next once it is fixed.
  Request r;
  r.remove("upgrade").remove("connection").remove("host").remove("sec-websocket-version").remove("sec-websocket-key");
  EXPECT_EQ(r.validate("POST", 0, true), handshake_errc::not_get);
  EXPECT_EQ(r.validate("GET", 0, true), handshake_errc::bad_http_version);
  EXPECT_EQ(r.validate("GET", 1, true), handshake_errc::missing_upgrade);
  r.add("Upgrade", "websocket");
  EXPECT_EQ(r.validate("GET", 1, true), handshake_errc::missing_connection);
  r.add("Connection", "upgrade");
  EXPECT_EQ(r.validate("GET", 1, true), handshake_errc::missing_host);
  r.add("Host", "h");
  EXPECT_EQ(r.validate("GET", 1, true), handshake_errc::bad_version);
  r.add("Sec-WebSocket-Version", "13");
  EXPECT_EQ(r.validate("GET", 1, true), handshake_errc::missing_key);
  r.add("Sec-WebSocket-Key", "short");
  EXPECT_EQ(r.validate("GET", 1, true), handshake_errc::bad_key);
  r.set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(r.validate("GET", 1, true), handshake_errc::has_body);
  EXPECT_FALSE(r.validate("GET", 1, false));
}

TEST(Handshake, IsWebSocketUpgrade) {
  EXPECT_TRUE(is_websocket_upgrade(Request{}.headers()));
  EXPECT_TRUE(is_websocket_upgrade(Request{}.set("upgrade", "WebSocket").headers()));
  EXPECT_TRUE(is_websocket_upgrade(Request{}.set("UPGRADE", " foo , websocket ").headers()));
  EXPECT_FALSE(is_websocket_upgrade(Request{}.remove("upgrade").headers()));
  EXPECT_FALSE(is_websocket_upgrade(Request{}.set("upgrade", "h2c").headers()));
  EXPECT_FALSE(is_websocket_upgrade(http::Headers{}));
}

TEST(Handshake, RequestedSubprotocols) {
  EXPECT_TRUE(requested_subprotocols(Request{}.headers()).empty());
  Request r;
  r.add("Sec-WebSocket-Protocol", "chat, superchat")
      .add("X-Other", "a")
      .add("sec-websocket-protocol", " v2.json ,, mqtt ");
  const http::Headers h = r.headers();
  const auto protocols = requested_subprotocols(h);
  EXPECT_EQ(protocols, (std::vector<std::string_view>{"chat", "superchat", "v2.json", "mqtt"}));
  // Views point into the header values.
  const std::string_view first_value = h.get("sec-websocket-protocol").value();
  EXPECT_EQ(protocols[0].data(), first_value.data());
}

TEST(Handshake, AcceptResponse) {
  std::string out = "prefix|";
  write_accept_response(out, "dGhlIHNhbXBsZSBub25jZQ==", "");
  EXPECT_EQ(out,
            "prefix|HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n");

  out.clear();
  const std::vector<std::pair<std::string, std::string>> extra{{"Set-Cookie", "a=b"}, {"X-Server", "nexios"}};
  write_accept_response(out, "dGhlIHNhbXBsZSBub25jZQ==", "chat", extra);
  EXPECT_EQ(out,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "Set-Cookie: a=b\r\n"
            "X-Server: nexios\r\n"
            "\r\n");
}

}  // namespace
}  // namespace nexios::ws
