#pragma once
/// @file
/// RFC 6455 constants: opcodes, close codes and their validity rules.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nexios::ws {

/// Frame opcodes (RFC 6455 §5.2). 3–7 and 11–15 are reserved and rejected with 1002.
enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// True for close, ping and pong.
constexpr bool is_control(Opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

/// The GUID appended to the client key to compute Sec-WebSocket-Accept (§1.3).
inline constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Largest payload of a control frame (§5.5).
inline constexpr std::size_t max_control_payload = 125;
/// Largest close reason: 125 bytes minus the 2-byte code (§5.5.1).
inline constexpr std::size_t max_close_reason = 123;

/// Close status codes (§7.4.1 and the IANA registry).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;        ///< never sent on the wire
inline constexpr std::uint16_t abnormal = 1006;         ///< never sent on the wire
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t mandatory_extension = 1010;
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t service_restart = 1012;
inline constexpr std::uint16_t try_again_later = 1013;
inline constexpr std::uint16_t bad_gateway = 1014;
inline constexpr std::uint16_t tls_handshake = 1015;    ///< never sent on the wire
}  // namespace close_code

/// True if `code` may appear in a close frame: 1000–1003, 1007–1014 (registered) and 3000–4999
/// (libraries and applications). 0–999, 1004–1006, 1015, 1016–2999 and 5000+ are invalid and a
/// close frame carrying one is a protocol error (1002).
constexpr bool is_valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

}  // namespace nexios::ws
