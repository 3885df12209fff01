/// @file
/// Fuzz target handshake: header fields built from the payload (one "name:value" per line) go
/// through validate_upgrade, requested_subprotocols and, when the handshake is accepted,
/// accept_key + write_accept_response. Every header value and the payload also go through a
/// base64 round trip (decode(encode(x)) == x, and a successful strict decode re-encodes to the
/// same text).
///
/// Options byte: bit 0 HTTP/1.0 instead of 1.1; bit 1 has_body; bits 2-3 the method
/// (GET, POST, "get", or the first line of the payload).

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include <nexios/detail/ascii.hpp>
#include <nexios/detail/base64.hpp>
#include <nexios/http/headers.hpp>
#include <nexios/ws/handshake.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using nexios::detail::base64_decode;
using nexios::detail::base64_encode;
using nexios::ws::handshake_errc;

void check_base64(std::string_view text) {
  const std::string encoded = base64_encode(text);
  FUZZ_CHECK(encoded.size() == (text.size() + 2) / 3 * 4);
  const std::optional<std::string> decoded = base64_decode(encoded);
  FUZZ_CHECK_MSG(decoded && *decoded == text, nexios::fuzz::printable(text));
  // Strict decoding accepts only canonical text: what it accepts re-encodes to itself.
  if (const auto raw = base64_decode(text)) {
    FUZZ_CHECK_MSG(base64_encode(*raw) == text, nexios::fuzz::printable(text));
    FUZZ_CHECK(text.size() % 4 == 0 && raw->size() <= text.size() / 4 * 3);
  }
}

bool is_base64_of_16_bytes(std::string_view key) {
  const auto raw = base64_decode(key);
  return raw && raw->size() == 16;
}

}  // namespace

int fuzz_handshake(const std::uint8_t* data, std::size_t size) {
  const auto in = nexios::fuzz::decode_input(data, size);
  std::string_view payload = in.payload_view();

  // Lines: '\n'-separated, an optional '\r' before it dropped. The split schedule is unused here.
  std::vector<std::string_view> lines;
  while (!payload.empty()) {
    const std::size_t nl = payload.find('\n');
    std::string_view line = payload.substr(0, nl);
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    lines.push_back(line);
    payload = nl == std::string_view::npos ? std::string_view{} : payload.substr(nl + 1);
  }

  std::string_view method = "GET";
  std::size_t first_field = 0;
  switch ((in.options >> 2) & 3u) {
    case 1:
      method = "POST";
      break;
    case 2:
      method = "get";
      break;
    case 3:
      if (!lines.empty()) {
        method = lines.front();
        first_field = 1;
      }
      break;
    default:
      break;
  }
  const int version_minor = (in.options & 1u) != 0 ? 0 : 1;
  const bool has_body = (in.options & 2u) != 0;

  nexios::http::Headers headers;
  for (std::size_t i = first_field; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const std::size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    const std::string_view value =
        colon == std::string_view::npos ? std::string_view{} : nexios::detail::trim_ows(line.substr(colon + 1));
    headers.add(name, value);
  }

  const std::error_code ec = nexios::ws::validate_upgrade(method, version_minor, headers, has_body);
  const bool upgrade = nexios::ws::is_websocket_upgrade(headers);
  if (ec) {
    FUZZ_CHECK(ec.category() == nexios::ws::handshake_category());
    const int status = nexios::ws::http_status_for(static_cast<handshake_errc>(ec.value()));
    FUZZ_CHECK(status == 400 || status == 405 || status == 426);
    if (ec == handshake_errc::missing_upgrade) {
      FUZZ_CHECK(!upgrade);
    }
  } else {
    // Accepted: every requirement of RFC 6455 §4.2.1 holds.
    FUZZ_CHECK(method == "GET" && version_minor == 1 && !has_body && upgrade);
    FUZZ_CHECK(headers.has_token("connection", "upgrade") && headers.contains("host"));
    FUZZ_CHECK(headers.count("sec-websocket-version") == 1 && headers.get("sec-websocket-version") == "13");
    FUZZ_CHECK(headers.count("sec-websocket-key") == 1);
  }

  const std::vector<std::string_view> protocols = nexios::ws::requested_subprotocols(headers);
  std::size_t expected = 0;
  for (const auto& f : headers) {
    if (!nexios::detail::iequals(f.name, "sec-websocket-protocol")) {
      continue;
    }
    for (const auto p : protocols) {
      expected += nexios::fuzz::points_into(p.data(), p.size(), f.value.data(), f.value.size()) ? 1 : 0;
    }
  }
  FUZZ_CHECK(expected == protocols.size());  // every element points into one of the fields
  for (const auto p : protocols) {
    FUZZ_CHECK(!p.empty() && p.find(',') == std::string_view::npos && nexios::detail::trim_ows(p) == p);
  }

  const auto key = headers.get("sec-websocket-key");
  if (!ec) {
    FUZZ_CHECK(key && is_base64_of_16_bytes(*key));
    const std::string accept = nexios::ws::accept_key(*key);
    FUZZ_CHECK(accept.size() == 28);
    const auto digest = base64_decode(accept);
    FUZZ_CHECK(digest && digest->size() == 20);

    const std::string_view subprotocol = protocols.empty() ? std::string_view{} : protocols.front();
    std::vector<std::pair<std::string, std::string>> extra;
    for (std::size_t i = 0; i < headers.size() && i < 3; ++i) {
      extra.emplace_back(std::string(headers[i].name), std::string(headers[i].value));
    }
    std::string response = "prefix";
    nexios::ws::write_accept_response(response, *key, subprotocol, extra);
    FUZZ_CHECK(response.starts_with("prefixHTTP/1.1 101 Switching Protocols\r\n"));
    FUZZ_CHECK(response.ends_with("\r\n\r\n"));
    FUZZ_CHECK(response.find("\r\nSec-WebSocket-Accept: " + accept + "\r\n") != std::string::npos);
    FUZZ_CHECK(subprotocol.empty() ||
               response.find("\r\nSec-WebSocket-Protocol: " + std::string(subprotocol) + "\r\n") != std::string::npos);
  } else if (key) {
    // accept_key takes any text.
    FUZZ_CHECK(nexios::ws::accept_key(*key).size() == 28);
  }

  for (const auto& f : headers) {
    check_base64(f.value);
  }
  check_base64(in.payload_view());
  return 0;
}
