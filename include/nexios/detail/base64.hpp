#pragma once
/// @file
/// Base64 (RFC 4648 §4, standard alphabet, with padding).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nexios::detail {

/// Encodes `data` with padding.
std::string base64_encode(std::string_view data);

/// Decodes strict, padded base64 (length a multiple of 4, canonical padding bits, no whitespace).
/// Returns std::nullopt for any malformed input.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace nexios::detail
