#include <nexios/detail/base64.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace nexios::detail {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// RFC 4648 §10.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    const auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64, BinaryAndFullAlphabet) {
  EXPECT_EQ(base64_encode(std::string_view("\x00\x00\x00", 3)), "AAAA");
  EXPECT_EQ(base64_encode("\xFF\xFF\xFF"), "////");
  EXPECT_EQ(base64_encode("\xFB\xEF\xBE"), "++++");
  EXPECT_EQ(base64_encode(std::string_view("\x00", 1)), "AA==");
  std::string all;
  for (int i = 0; i < 64; ++i) {
    // Three bytes per four sextets: encode sextets i, i, i, i.
    const auto v = static_cast<std::uint32_t>((i << 18) | (i << 12) | (i << 6) | i);
    all += static_cast<char>(v >> 16);
    all += static_cast<char>(v >> 8);
    all += static_cast<char>(v);
  }
  const std::string encoded = base64_encode(all);
  for (std::size_t i = 0; i < 64; ++i) {
    EXPECT_EQ(encoded.substr(4 * i, 4), std::string(4, alphabet[i]));
  }
  EXPECT_EQ(base64_decode(encoded), all);
}

TEST(Base64, RejectsMalformed) {
  const std::string_view bad[] = {
      "Z",        "Zg",    "Zg=",      "Zm9vY",    "Zm9vYg=",                             // length not a multiple of 4
      "Zh==",     "Zm9=",  "Zm9vYh==", "Zm9vYmF=",                                        // non-canonical trailing bits
      "Zg==Zg==", "Z===",  "====",     "=Zg=",     "Zg=a",    "Z=g=",    "Zm=v", "AA=A",  // misplaced '='
      "Zm 9",     " Zm9v", "Zm9v\n",   "Zm9v\r\n", "Zm\t9",                               // whitespace
      "Zm-v",     "Zm_v",  "Zm.v",     "Zm9v!",    "Zm9\x80", "Zm9\xFF",                  // outside the alphabet
  };
  for (std::string_view s : bad) {
    EXPECT_FALSE(base64_decode(s).has_value()) << '"' << s << '"';
  }
  EXPECT_FALSE(base64_decode(std::string_view("Zm9\0", 4)).has_value());
}

TEST(Base64, EmptyDecodesToEmpty) {
  const auto decoded = base64_decode("");
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(decoded->empty());
}

// Every possible final quantum: valid exactly when it is the canonical encoding of its bytes.
TEST(Base64, ExhaustiveFinalQuantum) {
  const std::string symbols = std::string(alphabet) + "=";
  std::size_t accepted = 0;
  for (char a : symbols) {
    for (char b : symbols) {
      for (char c : symbols) {
        for (char d : {'A', 'Q', 'g', 'w', 'B', '/', '='}) {
          const std::string quad{a, b, c, d};
          const auto decoded = base64_decode(quad);
          if (decoded) {
            ++accepted;
            EXPECT_EQ(base64_encode(*decoded), quad);
          }
        }
      }
    }
  }
  EXPECT_GT(accepted, 0u);
  // Canonical two-byte quanta "XYZ=" need Z's low 2 bits clear; one-byte "XY==" need Y's low 4 bits clear.
  std::size_t padded = 0;
  for (char a : alphabet) {
    for (char b : alphabet) {
      for (char c : alphabet) {
        const std::string q{a, b, c, '='};
        const bool canonical = (alphabet.find(c) & 0x3) == 0;
        EXPECT_EQ(base64_decode(q).has_value(), canonical) << q;
        padded += canonical ? 1 : 0;
      }
      const std::string q2{a, b, '=', '='};
      EXPECT_EQ(base64_decode(q2).has_value(), (alphabet.find(b) & 0xF) == 0) << q2;
    }
  }
  EXPECT_EQ(padded, 64u * 64u * 16u);
}

TEST(Base64, RandomRoundTrip) {
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string data(rng() % 100, '\0');
    for (char& ch : data) {
      ch = static_cast<char>(rng());
    }
    const std::string encoded = base64_encode(data);
    EXPECT_EQ(encoded.size() % 4, 0u);
    EXPECT_EQ(encoded.size(), (data.size() + 2) / 3 * 4);
    const auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, data);
  }
}

TEST(Base64, WebSocketKeySizes) {
  const auto key = base64_decode("dGhlIHNhbXBsZSBub25jZQ==");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(*key, "the sample nonce");
}

}  // namespace
}  // namespace nexios::detail
