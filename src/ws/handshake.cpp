/// @file
/// The server side of the RFC 6455 opening handshake (§4.2).

#include <nexios/ws/handshake.hpp>

#include <nexios/detail/ascii.hpp>
#include <nexios/detail/base64.hpp>
#include <nexios/detail/sha1.hpp>
#include <nexios/ws/rfc6455.hpp>

#include <optional>

namespace nexios::ws {

namespace {

/// Length of a Sec-WebSocket-Key once base64-decoded (§4.1).
constexpr std::size_t key_bytes = 16;

/// True if `key` is the base64 encoding of exactly 16 bytes.
bool is_valid_key(std::string_view key) noexcept {
  // Base64 of 16 bytes is always 24 characters; checking first avoids allocating for junk.
  if (key.size() != 24) {
    return false;
  }
  try {
    const std::optional<std::string> decoded = detail::base64_decode(key);
    return decoded && decoded->size() == key_bytes;
  } catch (...) {
    return false;  // allocation failure: cannot validate, refuse
  }
}

}  // namespace

bool is_websocket_upgrade(const http::Headers& headers) noexcept {
  return headers.has_token("upgrade", "websocket");
}

std::error_code validate_upgrade(std::string_view method, int version_minor, const http::Headers& headers,
                                 bool has_body) noexcept {
  if (method != "GET") {
    return handshake_errc::not_get;
  }
  if (version_minor < 1) {
    return handshake_errc::bad_http_version;
  }
  if (!headers.has_token("upgrade", "websocket")) {
    return handshake_errc::missing_upgrade;
  }
  if (!headers.has_token("connection", "upgrade")) {
    return handshake_errc::missing_connection;
  }
  if (!headers.contains("host")) {
    return handshake_errc::missing_host;
  }
  const auto version = headers.get("sec-websocket-version");
  if (!version || *version != "13" || headers.count("sec-websocket-version") != 1) {
    return handshake_errc::bad_version;
  }
  const auto key = headers.get("sec-websocket-key");
  if (!key) {
    return handshake_errc::missing_key;
  }
  if (headers.count("sec-websocket-key") != 1 || !is_valid_key(*key)) {
    return handshake_errc::bad_key;
  }
  if (has_body) {
    return handshake_errc::has_body;
  }
  return {};
}

std::string accept_key(std::string_view client_key) {
  std::string input;
  input.reserve(client_key.size() + accept_guid.size());
  input.append(client_key);
  input.append(accept_guid);
  const auto digest = detail::sha1(input);
  return detail::base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::vector<std::string_view> requested_subprotocols(const http::Headers& headers) {
  std::vector<std::string_view> out;
  for (const auto& field : headers) {
    if (detail::iequals(field.name, "sec-websocket-protocol")) {
      detail::for_each_list_element(field.value, [&](std::string_view element) {
        out.push_back(element);
        return false;
      });
    }
  }
  return out;
}

void write_accept_response(std::string& out, std::string_view client_key, std::string_view subprotocol,
                           std::span<const std::pair<std::string, std::string>> extra) {
  out.append(
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ");
  out.append(accept_key(client_key));
  out.append("\r\n");
  if (!subprotocol.empty()) {
    out.append("Sec-WebSocket-Protocol: ");
    out.append(subprotocol);
    out.append("\r\n");
  }
  for (const auto& [name, value] : extra) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace nexios::ws
