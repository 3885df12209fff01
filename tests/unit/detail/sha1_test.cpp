#include <nexios/detail/sha1.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace nexios::detail {
namespace {

std::string hex(const std::array<std::uint8_t, 20>& digest) {
  std::string out;
  for (std::uint8_t b : digest) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

// FIPS 180-2 Appendix A / NIST CAVP examples.
TEST(Sha1, Abc) {
  EXPECT_EQ(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Sha1, Empty) {
  EXPECT_EQ(hex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(Sha1, FourHundredFortyEightBitMessage) {
  EXPECT_EQ(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

TEST(Sha1, EightHundredNinetySixBitMessage) {
  EXPECT_EQ(
      hex(sha1("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopq"
               "rstnopqrstu")),
      "a49b2446a02c645bf419f995b67091253a04a259");
}

TEST(Sha1, OneMillionA) {
  const std::string input(1000000, 'a');
  EXPECT_EQ(hex(sha1(input)), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1, QuickBrownFox) {
  EXPECT_EQ(hex(sha1("The quick brown fox jumps over the lazy dog")), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
}

// Lengths around the padding boundaries (one block vs. two blocks of padding).
TEST(Sha1, PaddingBoundaries) {
  const std::pair<std::size_t, const char*> cases[] = {
      {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},  {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
      {57, "f08f24908d682555111be7ff6f004e78283d989a"},  {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
      {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},  {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
      {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"}, {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
      {127, "89d95fa32ed44a7c610b7ee38517ddf57e0bb975"}, {128, "ad5b3fdbcb526778c2839d2f151ea753995e26a0"},
      {129, "d96debf1bdcbc896e6c134ea76e8141f40d78536"},
  };
  for (const auto& [n, expected] : cases) {
    EXPECT_EQ(hex(sha1(std::string(n, 'a'))), expected) << "length " << n;
  }
}

TEST(Sha1, AllByteValues) {
  std::string input;
  for (int rep = 0; rep < 5; ++rep) {
    for (int b = 0; b < 256; ++b) {
      input += static_cast<char>(b);
    }
  }
  EXPECT_EQ(hex(sha1(input)), "e37a04cb2353309f5cff4ee036cfb91a5e31cefd");
}

}  // namespace
}  // namespace nexios::detail
