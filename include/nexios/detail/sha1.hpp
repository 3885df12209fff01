#pragma once
/// @file
/// SHA-1 (FIPS 180-4), used only for the RFC 6455 handshake accept key.

#include <array>
#include <cstdint>
#include <string_view>

namespace nexios::detail {

/// The 20-byte SHA-1 digest of `data`.
std::array<std::uint8_t, 20> sha1(std::string_view data) noexcept;

}  // namespace nexios::detail
