#pragma once
/// @file
/// RFC 6455 frame encoding (§5.2) and masking (§5.3).

#include <nexios/ws/rfc6455.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace nexios::ws {

/// The largest possible frame header: 2 + 8 (length) + 4 (mask) bytes.
inline constexpr std::size_t max_frame_header_size = 14;

/// Writes a frame header into `out` (at least `max_frame_header_size` bytes) and returns its size.
/// The length is encoded in the minimal form (7, 16 or 64 bits). With a `mask` the MASK bit is set
/// and the key follows the length (a client frame); the payload must then be masked separately.
std::size_t encode_frame_header(std::uint8_t* out, Opcode opcode, std::uint64_t payload_size, bool fin = true,
                                const std::optional<std::array<std::uint8_t, 4>>& mask = std::nullopt) noexcept;

/// XORs `data` with the masking key in place. `offset` is the position of data[0] within the
/// frame payload, so a payload can be unmasked in pieces.
void apply_mask(std::uint8_t* data, std::size_t size, const std::array<std::uint8_t, 4>& key,
                std::size_t offset = 0) noexcept;

/// Writes a close frame payload (2-byte big-endian code followed by the reason) into `out`
/// (at least 125 bytes) and returns its size. The caller guarantees a valid code and a UTF-8
/// reason of at most 123 bytes.
std::size_t encode_close_payload(std::uint8_t* out, std::uint16_t code, std::string_view reason) noexcept;

}  // namespace nexios::ws
