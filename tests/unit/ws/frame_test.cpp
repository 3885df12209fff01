#include <nexios/ws/frame.hpp>

#include "frame_test_support.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace nexios::ws {
namespace {

std::string header(Opcode op, std::uint64_t size, bool fin = true,
                   const std::optional<std::array<std::uint8_t, 4>>& mask = std::nullopt) {
  std::uint8_t buf[max_frame_header_size + 2];
  std::memset(buf, 0xEE, sizeof buf);
  const std::size_t n = encode_frame_header(buf, op, size, fin, mask);
  EXPECT_LE(n, max_frame_header_size);
  EXPECT_EQ(buf[n], 0xEE) << "wrote past the header";
  return {reinterpret_cast<const char*>(buf), n};
}

TEST(EncodeFrameHeader, LengthForms) {
  EXPECT_EQ(header(Opcode::text, 0), std::string("\x81\x00", 2));
  EXPECT_EQ(header(Opcode::binary, 1), std::string("\x82\x01", 2));
  EXPECT_EQ(header(Opcode::text, 125), std::string("\x81\x7D", 2));
  EXPECT_EQ(header(Opcode::text, 126), std::string("\x81\x7E\x00\x7E", 4));
  EXPECT_EQ(header(Opcode::text, 127), std::string("\x81\x7E\x00\x7F", 4));
  EXPECT_EQ(header(Opcode::text, 65535), std::string("\x81\x7E\xFF\xFF", 4));
  EXPECT_EQ(header(Opcode::text, 65536), std::string("\x81\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  EXPECT_EQ(header(Opcode::binary, 0x0102030405060708ull), std::string("\x82\x7F\x01\x02\x03\x04\x05\x06\x07\x08", 10));
}

TEST(EncodeFrameHeader, OpcodesAndFin) {
  EXPECT_EQ(header(Opcode::continuation, 3, false), std::string("\x00\x03", 2));
  EXPECT_EQ(header(Opcode::continuation, 3, true), std::string("\x80\x03", 2));
  EXPECT_EQ(header(Opcode::text, 3, false), std::string("\x01\x03", 2));
  EXPECT_EQ(header(Opcode::close, 2), std::string("\x88\x02", 2));
  EXPECT_EQ(header(Opcode::ping, 0), std::string("\x89\x00", 2));
  EXPECT_EQ(header(Opcode::pong, 0), std::string("\x8A\x00", 2));
}

TEST(EncodeFrameHeader, Mask) {
  const std::array<std::uint8_t, 4> key{0x37, 0xFA, 0x21, 0x3D};
  EXPECT_EQ(header(Opcode::text, 5, true, key), std::string("\x81\x85\x37\xFA\x21\x3D", 6));
  EXPECT_EQ(header(Opcode::binary, 256, true, key), std::string("\x82\xFE\x01\x00\x37\xFA\x21\x3D", 8));
  EXPECT_EQ(header(Opcode::binary, 65536, true, key),
            std::string("\x82\xFF\x00\x00\x00\x00\x00\x01\x00\x00\x37\xFA\x21\x3D", 14));
}

// RFC 6455 §5.7 examples.
TEST(EncodeFrameHeader, Rfc6455Examples) {
  std::string unmasked = header(Opcode::text, 5) + "Hello";
  EXPECT_EQ(unmasked, std::string("\x81\x05\x48\x65\x6c\x6c\x6f", 7));

  const std::array<std::uint8_t, 4> key{0x37, 0xfa, 0x21, 0x3d};
  std::string masked = header(Opcode::text, 5, true, key);
  std::string payload = "Hello";
  apply_mask(reinterpret_cast<std::uint8_t*>(payload.data()), payload.size(), key);
  masked += payload;
  EXPECT_EQ(masked, std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));

  EXPECT_EQ(header(Opcode::text, 3, false) + "Hel", std::string("\x01\x03\x48\x65\x6c", 5));
  EXPECT_EQ(header(Opcode::continuation, 2) + "lo", std::string("\x80\x02\x6c\x6f", 4));
  EXPECT_EQ(header(Opcode::binary, 256).substr(0, 4), std::string("\x82\x7E\x01\x00", 4));
  EXPECT_EQ(header(Opcode::binary, 65536), std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10));
}

TEST(EncodeFrameHeader, MatchesTestBuilder) {
  for (std::uint64_t size : {0ull, 1ull, 100ull, 125ull, 126ull, 1000ull, 65535ull, 65536ull, 100000ull}) {
    const std::string payload(size, 'z');
    const auto key = testing::random_key();
    std::string frame = header(Opcode::binary, size, true, key) + payload;
    apply_mask(reinterpret_cast<std::uint8_t*>(frame.data()) + frame.size() - size, size, key);
    EXPECT_EQ(frame, testing::build(testing::RawFrame(2, payload).key(key))) << size;
    EXPECT_EQ(header(Opcode::text, size, false) + payload,
              testing::build(testing::RawFrame(1, payload).fin(false).masked(false)));
  }
}

void reference_mask(std::uint8_t* data, std::size_t size, const std::array<std::uint8_t, 4>& key, std::size_t offset) {
  for (std::size_t i = 0; i < size; ++i) {
    data[i] ^= key[(offset + i) % 4];
  }
}

TEST(ApplyMask, EveryOffsetAlignmentAndLength) {
  const std::array<std::uint8_t, 4> key{0x01, 0x80, 0xFE, 0x5A};
  std::vector<std::uint8_t> original(128 + 16);
  for (std::size_t i = 0; i < original.size(); ++i) {
    original[i] = static_cast<std::uint8_t>(i * 7 + 3);
  }
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t offset = 0; offset < 9; ++offset) {
      for (std::size_t len = 0; len <= 128; ++len) {
        std::vector<std::uint8_t> a = original;
        std::vector<std::uint8_t> b = original;
        apply_mask(a.data() + align, len, key, offset);
        reference_mask(b.data() + align, len, key, offset);
        ASSERT_EQ(a, b) << "align " << align << " offset " << offset << " len " << len;
      }
    }
  }
}

TEST(ApplyMask, InPiecesEqualsWhole) {
  const auto key = testing::random_key();
  const std::string data = testing::random_bytes(1000);
  std::string whole = data;
  apply_mask(reinterpret_cast<std::uint8_t*>(whole.data()), whole.size(), key);
  for (std::size_t cut = 0; cut <= 64; ++cut) {
    std::string pieces = data;
    auto* p = reinterpret_cast<std::uint8_t*>(pieces.data());
    apply_mask(p, cut, key, 0);
    apply_mask(p + cut, 300, key, cut);
    apply_mask(p + cut + 300, pieces.size() - cut - 300, key, cut + 300);
    EXPECT_EQ(pieces, whole) << cut;
  }
  // Masking twice restores the data; a zero key is the identity.
  apply_mask(reinterpret_cast<std::uint8_t*>(whole.data()), whole.size(), key);
  EXPECT_EQ(whole, data);
  apply_mask(reinterpret_cast<std::uint8_t*>(whole.data()), whole.size(), {0, 0, 0, 0}, 3);
  EXPECT_EQ(whole, data);
  apply_mask(nullptr, 0, key, 0);
}

TEST(EncodeClosePayload, CodeAndReason) {
  std::uint8_t buf[max_control_payload];
  std::size_t n = encode_close_payload(buf, 1000, "");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf), n), std::string("\x03\xE8", 2));
  n = encode_close_payload(buf, 4001, "unauthorized");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf), n), std::string("\x0F\xA1", 2) + "unauthorized");
  const std::string reason(max_close_reason, 'r');
  n = encode_close_payload(buf, 1011, reason);
  EXPECT_EQ(n, max_control_payload);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf), n), testing::close_payload(1011, reason));
}

TEST(Rfc6455, CloseCodeValidity) {
  for (std::uint32_t code = 0; code <= 0xFFFF; ++code) {
    const bool expected =
        (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
    ASSERT_EQ(is_valid_close_code(static_cast<std::uint16_t>(code)), expected) << code;
  }
  EXPECT_TRUE(is_control(Opcode::close));
  EXPECT_TRUE(is_control(Opcode::ping));
  EXPECT_TRUE(is_control(Opcode::pong));
  EXPECT_FALSE(is_control(Opcode::text));
  EXPECT_FALSE(is_control(Opcode::binary));
  EXPECT_FALSE(is_control(Opcode::continuation));
}

}  // namespace
}  // namespace nexios::ws
