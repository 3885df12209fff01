#pragma once
/// @file
/// The server side of the RFC 6455 opening handshake (§4.2): request validation, the accept key,
/// subprotocol parsing and the 101 response.

#include <nexios/http/headers.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace nexios::ws {

/// Why an upgrade request was refused, with the HTTP status to answer with.
enum class handshake_errc {
  not_get = 1,          ///< method is not GET → 405 (Allow: GET)
  bad_http_version,     ///< HTTP/1.0 → 400
  missing_upgrade,      ///< no `Upgrade: websocket` token → 426 (Upgrade: websocket)
  missing_connection,   ///< no `Connection: upgrade` token → 400
  missing_host,         ///< no Host header → 400
  bad_version,          ///< Sec-WebSocket-Version missing or not 13 → 426 (Sec-WebSocket-Version: 13)
  missing_key,          ///< no Sec-WebSocket-Key → 400
  bad_key,              ///< key is not base64 of exactly 16 bytes, or repeated → 400
  has_body,             ///< the upgrade request carries a body → 400
};

const std::error_category& handshake_category() noexcept;
inline std::error_code make_error_code(handshake_errc e) noexcept {
  return {static_cast<int>(e), handshake_category()};
}
/// The HTTP status code for a refused handshake (400, 405 or 426).
int http_status_for(handshake_errc e) noexcept;

/// True if the request asks for a WebSocket: an `Upgrade` header holding the token `websocket`
/// (case-insensitive).
bool is_websocket_upgrade(const http::Headers& headers) noexcept;

/// Checks an upgrade request against RFC 6455 §4.2.1. `version_minor` is the x of HTTP/1.x;
/// `has_body` is true when the request declared a body (Content-Length > 0 or chunked).
/// Returns an empty error_code when the handshake may proceed.
std::error_code validate_upgrade(std::string_view method, int version_minor, const http::Headers& headers,
                                 bool has_body) noexcept;

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
/// For the RFC's sample key "dGhlIHNhbXBsZSBub25jZQ==" it is "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
std::string accept_key(std::string_view client_key);

/// The subprotocols the client offered (all Sec-WebSocket-Protocol fields, comma lists split,
/// in order). The views point into the header values.
std::vector<std::string_view> requested_subprotocols(const http::Headers& headers);

/// Appends the complete `101 Switching Protocols` response to `out`: Upgrade, Connection,
/// Sec-WebSocket-Accept, Sec-WebSocket-Protocol when `subprotocol` is not empty, then `extra`
/// header fields, then the empty line.
void write_accept_response(std::string& out, std::string_view client_key, std::string_view subprotocol,
                           std::span<const std::pair<std::string, std::string>> extra = {});

}  // namespace nexios::ws

template <>
struct std::is_error_code_enum<nexios::ws::handshake_errc> : std::true_type {};
