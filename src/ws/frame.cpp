/// @file
/// RFC 6455 frame header encoding (§5.2), masking (§5.3) and close payloads (§5.5.1).

#include <nexios/ws/frame.hpp>

#include <cstring>

namespace nexios::ws {

std::size_t encode_frame_header(std::uint8_t* out, Opcode opcode, std::uint64_t payload_size, bool fin,
                                const std::optional<std::array<std::uint8_t, 4>>& mask) noexcept {
  out[0] = static_cast<std::uint8_t>((fin ? 0x80u : 0x00u) | static_cast<std::uint8_t>(opcode));
  const std::uint8_t mask_bit = mask ? 0x80 : 0x00;
  std::size_t n = 2;
  if (payload_size <= 125) {
    out[1] = static_cast<std::uint8_t>(mask_bit | payload_size);
  } else if (payload_size <= 0xFFFF) {
    out[1] = static_cast<std::uint8_t>(mask_bit | 126u);
    out[2] = static_cast<std::uint8_t>(payload_size >> 8);
    out[3] = static_cast<std::uint8_t>(payload_size);
    n = 4;
  } else {
    out[1] = static_cast<std::uint8_t>(mask_bit | 127u);
    for (std::size_t i = 0; i < 8; ++i) {
      out[2 + i] = static_cast<std::uint8_t>(payload_size >> (56 - 8 * i));
    }
    n = 10;
  }
  if (mask) {
    std::memcpy(out + n, mask->data(), 4);
    n += 4;
  }
  return n;
}

void apply_mask(std::uint8_t* data, std::size_t size, const std::array<std::uint8_t, 4>& key,
                std::size_t offset) noexcept {
  std::size_t phase = offset & 3u;
  std::size_t i = 0;
  // Byte by byte up to an 8-byte aligned address, so the word loop below uses aligned accesses.
  while (i < size && (reinterpret_cast<std::uintptr_t>(data + i) & 7u) != 0) {
    data[i] ^= key[phase];
    phase = (phase + 1) & 3u;
    ++i;
  }
  if (size - i >= 8) {
    // Eight bytes of key starting at the current phase; 8 is a multiple of 4, so the same word
    // applies to every following 8-byte block.
    std::array<std::uint8_t, 8> pattern{};
    for (std::size_t j = 0; j < 8; ++j) {
      pattern[j] = key[(phase + j) & 3u];
    }
    std::uint64_t key_word = 0;
    std::memcpy(&key_word, pattern.data(), sizeof key_word);
    for (; size - i >= 8; i += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, data + i, sizeof word);
      word ^= key_word;
      std::memcpy(data + i, &word, sizeof word);
    }
  }
  for (; i < size; ++i) {
    data[i] ^= key[phase];
    phase = (phase + 1) & 3u;
  }
}

std::size_t encode_close_payload(std::uint8_t* out, std::uint16_t code, std::string_view reason) noexcept {
  out[0] = static_cast<std::uint8_t>(code >> 8);
  out[1] = static_cast<std::uint8_t>(code);
  if (!reason.empty()) {
    std::memcpy(out + 2, reason.data(), reason.size());
  }
  return 2 + reason.size();
}

}  // namespace nexios::ws
