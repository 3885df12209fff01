#pragma once
/// @file
/// Errors a WebSocket peer can cause, as `std::error_code`s, and the close code each one maps to.

#include <cstdint>
#include <system_error>

namespace nexios::ws {

/// Protocol violations detected while parsing frames (RFC 6455 §5, §7.4.1).
enum class errc {
  reserved_bits = 1,        ///< RSV1/2/3 set without a negotiated extension → 1002
  reserved_opcode,          ///< opcode 3–7 or 11–15 → 1002
  unmasked_frame,           ///< a client frame without a mask (server role) → 1002
  masked_frame,             ///< a server frame with a mask (client role) → 1002
  control_too_long,         ///< control frame payload > 125 bytes → 1002
  fragmented_control,       ///< control frame with FIN = 0 → 1002
  unexpected_continuation,  ///< continuation frame with no message in progress → 1002
  expected_continuation,    ///< new text/binary frame while a fragmented message is in progress → 1002
  bad_length,               ///< 64-bit payload length with the most significant bit set → 1002
  bad_close_payload,        ///< close frame with a 1-byte payload → 1002
  invalid_close_code,       ///< close code not allowed on the wire → 1002
  invalid_close_reason,     ///< close reason that is not valid UTF-8 → 1002
  invalid_utf8,             ///< text message that is not valid UTF-8 → 1007
  message_too_big,          ///< message larger than the configured maximum → 1009
};

/// The error category of `nexios::ws::errc` (name "nexios.ws").
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// The close code to fail the connection with for a parser error (1002, 1007 or 1009).
std::uint16_t close_code_for(errc e) noexcept;

/// The close code for an error reported by `FrameParser::next` (as in its usage example):
/// `close_code_for(errc)` for errors of `error_category()`, 1011 (internal error) for any other.
std::uint16_t close_code_for(const std::error_code& ec) noexcept;

}  // namespace nexios::ws

template <>
struct std::is_error_code_enum<nexios::ws::errc> : std::true_type {};
