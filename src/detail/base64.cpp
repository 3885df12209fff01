/// @file
/// Base64 (RFC 4648 §4): padded encoding and strict decoding.

#include <nexios/detail/base64.hpp>

#include <array>

namespace nexios::detail {

namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks a byte that is not in the alphabet.
constexpr std::uint8_t invalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_decode_table() noexcept {
  std::array<std::uint8_t, 256> table{};
  for (auto& v : table) {
    v = invalid;
  }
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<std::uint8_t>(alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}

constexpr std::array<std::uint8_t, 256> decode_table = make_decode_table();

std::uint8_t sextet(char c) noexcept {
  return decode_table[static_cast<std::uint8_t>(c)];
}

}  // namespace

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint32_t>(p[i]) << 16) | (static_cast<std::uint32_t>(p[i + 1]) << 8) |
                            static_cast<std::uint32_t>(p[i + 2]);
    out += alphabet[(v >> 18) & 0x3F];
    out += alphabet[(v >> 12) & 0x3F];
    out += alphabet[(v >> 6) & 0x3F];
    out += alphabet[v & 0x3F];
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const std::uint32_t v = static_cast<std::uint32_t>(p[i]) << 16;
    out += alphabet[(v >> 18) & 0x3F];
    out += alphabet[(v >> 12) & 0x3F];
    out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = (static_cast<std::uint32_t>(p[i]) << 16) | (static_cast<std::uint32_t>(p[i + 1]) << 8);
    out += alphabet[(v >> 18) & 0x3F];
    out += alphabet[(v >> 12) & 0x3F];
    out += alphabet[(v >> 6) & 0x3F];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::size_t padding = 0;
    if (last) {
      if (text[i + 3] == '=') {
        padding = text[i + 2] == '=' ? 2 : 1;
      }
    }
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4 - padding; ++j) {
      const std::uint8_t s = sextet(text[i + j]);
      if (s == invalid) {
        return std::nullopt;  // not in the alphabet, or '=' in a non-final position
      }
      v = (v << 6) | s;
    }
    if (padding == 0) {
      out += static_cast<char>((v >> 16) & 0xFF);
      out += static_cast<char>((v >> 8) & 0xFF);
      out += static_cast<char>(v & 0xFF);
    } else if (padding == 1) {
      // 18 bits: 16 data bits + 2 bits that must be zero.
      if ((v & 0x3) != 0) {
        return std::nullopt;
      }
      out += static_cast<char>((v >> 10) & 0xFF);
      out += static_cast<char>((v >> 2) & 0xFF);
    } else {
      // 12 bits: 8 data bits + 4 bits that must be zero.
      if ((v & 0xF) != 0) {
        return std::nullopt;
      }
      out += static_cast<char>((v >> 4) & 0xFF);
    }
  }
  return out;
}

}  // namespace nexios::detail
