#include <nexios/detail/utf8.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace nexios::detail {
namespace {

using Bytes = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------------------------
// Reference: the set of valid encodings built from the code point definition (RFC 3629 §3), so it
// shares no logic with the validator's byte-range state machine.
// ---------------------------------------------------------------------------------------------
class Reference {
 public:
  Reference()
      : complete_{std::vector<bool>(1u << 8), std::vector<bool>(1u << 16), std::vector<bool>(1u << 24)},
        prefix_{std::vector<bool>(1u << 8), std::vector<bool>(1u << 16), std::vector<bool>(1u << 24)} {
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) {
        continue;
      }
      const Bytes enc = encode(cp);
      if (enc.size() <= 3) {
        complete_[enc.size() - 1][pack(enc.data(), enc.size())] = true;
      } else {
        complete4_.push_back(pack(enc.data(), 4));
      }
      for (std::size_t k = 1; k < enc.size(); ++k) {
        prefix_[k - 1][pack(enc.data(), k)] = true;
      }
    }
    std::sort(complete4_.begin(), complete4_.end());
  }

  /// The shortest encoding of a scalar value.
  static Bytes encode(std::uint32_t cp) {
    if (cp < 0x80) {
      return {static_cast<std::uint8_t>(cp)};
    }
    if (cp < 0x800) {
      return {static_cast<std::uint8_t>(0xC0 | (cp >> 6)), static_cast<std::uint8_t>(0x80 | (cp & 0x3F))};
    }
    if (cp < 0x10000) {
      return {static_cast<std::uint8_t>(0xE0 | (cp >> 12)), static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F)),
              static_cast<std::uint8_t>(0x80 | (cp & 0x3F))};
    }
    return {static_cast<std::uint8_t>(0xF0 | (cp >> 18)), static_cast<std::uint8_t>(0x80 | ((cp >> 12) & 0x3F)),
            static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F)), static_cast<std::uint8_t>(0x80 | (cp & 0x3F))};
  }

  bool is_complete_encoding(const std::uint8_t* p, std::size_t n) const {
    if (n <= 3) {
      return complete_[n - 1][pack(p, n)];
    }
    return std::binary_search(complete4_.begin(), complete4_.end(), pack(p, 4));
  }

  bool is_proper_prefix(const std::uint8_t* p, std::size_t n) const { return n <= 3 && prefix_[n - 1][pack(p, n)]; }

  /// True if `p[0, n)` can be continued into valid UTF-8.
  bool valid_prefix(const std::uint8_t* p, std::size_t n) const {
    std::size_t i = 0;
    while (i < n) {
      bool matched = false;
      for (std::size_t len = 1; len <= 4 && i + len <= n; ++len) {
        if (is_complete_encoding(p + i, len)) {
          i += len;
          matched = true;
          break;
        }
      }
      if (!matched) {
        return is_proper_prefix(p + i, n - i);
      }
    }
    return true;
  }

  /// True if `p[0, n)` is complete, valid UTF-8.
  bool valid(const std::uint8_t* p, std::size_t n) const {
    std::size_t i = 0;
    while (i < n) {
      bool matched = false;
      for (std::size_t len = 1; len <= 4 && i + len <= n; ++len) {
        if (is_complete_encoding(p + i, len)) {
          i += len;
          matched = true;
          break;
        }
      }
      if (!matched) {
        return false;
      }
    }
    return true;
  }

  /// The number of bytes after which the input first stops being a valid prefix, or n + 1.
  std::size_t first_failure(const std::uint8_t* p, std::size_t n) const {
    if (n <= 8) {
      for (std::size_t k = 1; k <= n; ++k) {
        if (!valid_prefix(p, k)) {
          return k;
        }
      }
      return n + 1;
    }
    // Prefix validity is monotone (an invalid prefix stays invalid), so binary search.
    if (valid_prefix(p, n)) {
      return n + 1;
    }
    std::size_t good = 0;  // valid_prefix(p, good) holds
    std::size_t bad = n;   // valid_prefix(p, bad) fails
    while (bad - good > 1) {
      const std::size_t mid = good + (bad - good) / 2;
      if (valid_prefix(p, mid)) {
        good = mid;
      } else {
        bad = mid;
      }
    }
    return bad;
  }

 private:
  static std::uint32_t pack(const std::uint8_t* p, std::size_t n) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      v = (v << 8) | p[i];
    }
    return v;
  }

  std::vector<bool> complete_[3];
  std::vector<std::uint32_t> complete4_;
  std::vector<bool> prefix_[3];
};

const Reference& reference() {
  static const Reference ref;
  return ref;
}

/// Feeds one byte at a time; returns the number of bytes fed when feed() first returned false, or n + 1.
std::size_t validator_first_failure(const std::uint8_t* p, std::size_t n, bool* complete = nullptr) {
  Utf8Validator v;
  for (std::size_t i = 0; i < n; ++i) {
    if (!v.feed(p + i, 1)) {
      EXPECT_TRUE(v.failed());
      EXPECT_FALSE(v.complete());
      return i + 1;
    }
  }
  if (complete != nullptr) {
    *complete = v.complete();
  }
  return n + 1;
}

std::string show(const std::uint8_t* p, std::size_t n) {
  std::string out;
  char buf[8];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "\\x%02X", p[i]);
    out += buf;
  }
  return out;
}

std::string_view sv(const Bytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// ---------------------------------------------------------------------------------------------

TEST(Utf8, ReferenceSanity) {
  const Reference& ref = reference();
  const std::string euro = "\xE2\x82\xAC";
  const auto* p = reinterpret_cast<const std::uint8_t*>(euro.data());
  EXPECT_TRUE(ref.valid(p, 3));
  EXPECT_TRUE(ref.valid_prefix(p, 2));
  EXPECT_FALSE(ref.valid(p, 2));
  const std::uint8_t surrogate[] = {0xED, 0xA0, 0x80};
  EXPECT_FALSE(ref.valid_prefix(surrogate, 2));
  EXPECT_TRUE(ref.valid_prefix(surrogate, 1));
}

TEST(Utf8, ValidStrings) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("hello, world"));
  EXPECT_TRUE(is_valid_utf8(std::string_view("\0", 1)));
  EXPECT_TRUE(is_valid_utf8("\x7F"));
  EXPECT_TRUE(is_valid_utf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(is_valid_utf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(is_valid_utf8("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));      // U+D7FF
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));      // U+E000
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(is_valid_utf8("κόσμε"));
  EXPECT_TRUE(is_valid_utf8("Hello-µ@ßöäüàá-UTF-8!! \xF0\x9F\x98\x80 €"));
}

struct InvalidCase {
  const char* name;
  std::string bytes;
  std::size_t fails_after;  // bytes fed (one at a time) when feed() first returns false
};

TEST(Utf8, InvalidClassesFailAtFirstBadByte) {
  const InvalidCase cases[] = {
      {"lone continuation 80", "\x80", 1},
      {"lone continuation BF", "a\xBF", 2},
      {"overlong C0", "\xC0\x80", 1},
      {"overlong C1", "\xC1\xBF", 1},
      {"overlong 3-byte", "\xE0\x80\x80", 2},
      {"overlong 3-byte 9F", "\xE0\x9F\xBF", 2},
      {"overlong 4-byte", "\xF0\x80\x80\x80", 2},
      {"overlong 4-byte 8F", "\xF0\x8F\xBF\xBF", 2},
      {"surrogate D800", "\xED\xA0\x80", 2},
      {"surrogate DFFF", "\xED\xBF\xBF", 2},
      {"above 10FFFF", "\xF4\x90\x80\x80", 2},
      {"F5", "\xF5\x80\x80\x80", 1},
      {"F8", "\xF8", 1},
      {"FE", "\xFE", 1},
      {"FF", "ab\xFF", 3},
      {"missing continuation 2-byte", "\xC2\x41", 2},
      {"missing continuation 3-byte", "\xE2\x82\x41", 3},
      {"missing continuation 4-byte", "\xF0\x9F\x98\x41", 4},
      {"lead after lead", "\xE2\xE2", 2},
      {"extra continuation", "\xC2\x80\x80", 3},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto* p = reinterpret_cast<const std::uint8_t*>(c.bytes.data());
    EXPECT_EQ(validator_first_failure(p, c.bytes.size()), c.fails_after);
    EXPECT_EQ(reference().first_failure(p, c.bytes.size()), c.fails_after);
    EXPECT_FALSE(is_valid_utf8(c.bytes));
    Utf8Validator whole;
    EXPECT_FALSE(whole.feed(c.bytes));
    EXPECT_TRUE(whole.failed());
    EXPECT_FALSE(whole.feed("abc")) << "stays failed";
    EXPECT_FALSE(whole.complete());
  }
}

TEST(Utf8, ImmediateFailureExamples) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("\xED"));
  EXPECT_FALSE(v.complete());
  EXPECT_FALSE(v.failed());
  EXPECT_FALSE(v.feed("\xA0"));
  EXPECT_TRUE(v.failed());

  v.reset();
  EXPECT_FALSE(v.feed("\xF4\x90"));
  v.reset();
  EXPECT_FALSE(v.feed("\xE0\x80"));
  v.reset();
  EXPECT_TRUE(v.feed("\xF4\x8F"));
  EXPECT_FALSE(v.complete());
  v.reset();
  EXPECT_TRUE(v.complete());
  EXPECT_FALSE(v.failed());
}

TEST(Utf8, TruncatedSequencesAreIncomplete) {
  const std::string_view truncated[] = {"\xC2",         "\xE2",        "\xE2\x82", "\xF0",        "\xF0\x9F",
                                        "\xF0\x9F\x98", "abc\xE2\x82", "\xED\x9F", "\xF4\x8F\xBF"};
  for (std::string_view t : truncated) {
    Utf8Validator v;
    EXPECT_TRUE(v.feed(t)) << show(reinterpret_cast<const std::uint8_t*>(t.data()), t.size());
    EXPECT_FALSE(v.complete());
    EXPECT_FALSE(v.failed());
    EXPECT_FALSE(is_valid_utf8(t));
  }
}

TEST(Utf8, EverySplitPointOfMultiByteSequences) {
  const std::string_view samples[] = {"\xC2\x80",         "\xDF\xBF",
                                      "\xE0\xA0\x80",     "\xE2\x82\xAC",
                                      "\xED\x9F\xBF",     "\xEF\xBF\xBF",
                                      "\xF0\x90\x80\x80", "\xF0\x9F\x98\x80",
                                      "\xF4\x8F\xBF\xBF", "a\xC3\xA9z\xE2\x82\xAC\xF0\x9F\x98\x80!"};
  for (std::string_view s : samples) {
    for (std::size_t i = 0; i <= s.size(); ++i) {
      for (std::size_t j = i; j <= s.size(); ++j) {
        Utf8Validator v;
        EXPECT_TRUE(v.feed(s.substr(0, i)));
        EXPECT_EQ(v.complete(), reference().valid(reinterpret_cast<const std::uint8_t*>(s.data()), i));
        EXPECT_TRUE(v.feed(s.substr(i, j - i)));
        EXPECT_TRUE(v.feed(s.substr(j)));
        EXPECT_TRUE(v.complete()) << "split at " << i << ", " << j;
      }
    }
  }
  // And every split of invalid sequences fails at the same byte.
  const std::string_view invalid[] = {"\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF0\x8F\xBF\xBF",
                                      "\xC2\x41",     "\xE2\x82\x41", "\xF0\x9F\x98\x41"};
  for (std::string_view s : invalid) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    const std::size_t expected = reference().first_failure(p, s.size());
    for (std::size_t i = 0; i <= s.size(); ++i) {
      Utf8Validator v;
      const bool first = v.feed(s.substr(0, i));
      EXPECT_EQ(first, i < expected) << show(p, s.size()) << " split " << i;
      EXPECT_FALSE(first && v.feed(s.substr(i)));
      EXPECT_TRUE(v.failed());
    }
  }
}

TEST(Utf8, ExhaustiveOneAndTwoBytes) {
  const Reference& ref = reference();
  for (unsigned a = 0; a < 256; ++a) {
    const std::uint8_t one[] = {static_cast<std::uint8_t>(a)};
    bool complete = false;
    const std::size_t got = validator_first_failure(one, 1, &complete);
    ASSERT_EQ(got, ref.first_failure(one, 1)) << show(one, 1);
    if (got == 2) {
      ASSERT_EQ(complete, ref.valid(one, 1)) << show(one, 1);
    }
    ASSERT_EQ(is_valid_utf8(sv(Bytes(one, one + 1))), ref.valid(one, 1));
    for (unsigned b = 0; b < 256; ++b) {
      const std::uint8_t two[] = {static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b)};
      const std::size_t got2 = validator_first_failure(two, 2, &complete);
      ASSERT_EQ(got2, ref.first_failure(two, 2)) << show(two, 2);
      if (got2 == 3) {
        ASSERT_EQ(complete, ref.valid(two, 2)) << show(two, 2);
      }
      Utf8Validator whole;
      ASSERT_EQ(whole.feed(two, 2) && whole.complete(), ref.valid(two, 2)) << show(two, 2);
    }
  }
}

TEST(Utf8, ExhaustiveThreeBytes) {
  const Reference& ref = reference();
  std::size_t valid_count = 0;
  for (unsigned a = 0; a < 256; ++a) {
    const std::uint8_t pa = static_cast<std::uint8_t>(a);
    Utf8Validator va;
    const bool ok_a = va.feed(&pa, 1);
    for (unsigned b = 0; b < 256; ++b) {
      const std::uint8_t ab[] = {pa, static_cast<std::uint8_t>(b)};
      Utf8Validator vb = va;
      const bool ok_b = ok_a && vb.feed(ab + 1, 1);
      const bool ref_ab = ref.valid_prefix(ab, 2);
      ASSERT_EQ(ok_b, ref_ab) << show(ab, 2);
      for (unsigned c = 0; c < 256; ++c) {
        const std::uint8_t abc[] = {pa, ab[1], static_cast<std::uint8_t>(c)};
        Utf8Validator vc = vb;
        const bool ok_c = ok_b && vc.feed(abc + 2, 1);
        const bool ref_abc = ref_ab && ref.valid_prefix(abc, 3);
        if (ok_c != ref_abc) {
          FAIL() << "prefix verdict differs for " << show(abc, 3);
        }
        const bool ref_valid = ref_abc && ref.valid(abc, 3);
        if ((ok_c && vc.complete()) != ref_valid) {
          FAIL() << "complete verdict differs for " << show(abc, 3);
        }
        valid_count += ref_valid ? 1 : 0;
      }
    }
  }
  // Sanity: the number of valid 3-byte strings, counted by composition:
  // 1+1+1: 128^3, 1+2 and 2+1: 2 * 128 * 1920, 3: 61440 (U+0800..U+FFFF minus 2048 surrogates).
  EXPECT_EQ(valid_count, 128u * 128u * 128u + 2u * 128u * 1920u + 61440u);
}

TEST(Utf8, FourByteSequences) {
  const Reference& ref = reference();
  // Every lead F0..F7 with all second and third bytes and a spread of fourth bytes.
  const std::uint8_t fourth[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0xA5, 0xBF, 0xC0, 0xC2, 0xF0, 0xFF};
  for (unsigned a = 0xEF; a <= 0xF8; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      for (unsigned c = 0; c < 256; ++c) {
        for (std::uint8_t d : fourth) {
          const std::uint8_t s[] = {static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b),
                                    static_cast<std::uint8_t>(c), d};
          bool complete = false;
          const std::size_t got = validator_first_failure(s, 4, &complete);
          const std::size_t want = ref.first_failure(s, 4);
          if (got != want || (got == 5 && complete != ref.valid(s, 4))) {
            FAIL() << show(s, 4) << " got " << got << " want " << want;
          }
        }
      }
    }
  }
  // A large random sample, biased towards bytes that matter.
  std::mt19937 rng(42);
  const auto pick = [&]() -> std::uint8_t {
    switch (rng() % 4) {
      case 0:
        return static_cast<std::uint8_t>(rng());
      case 1:
        return static_cast<std::uint8_t>(0x80 + rng() % 0x40);
      case 2:
        return static_cast<std::uint8_t>(0xC0 + rng() % 0x40);
      default:
        return static_cast<std::uint8_t>(rng() % 0x80);
    }
  };
  for (int i = 0; i < 1'000'000; ++i) {
    const std::uint8_t s[] = {pick(), pick(), pick(), pick()};
    bool complete = false;
    const std::size_t got = validator_first_failure(s, 4, &complete);
    const std::size_t want = ref.first_failure(s, 4);
    if (got != want || (got == 5 && complete != ref.valid(s, 4))) {
      FAIL() << show(s, 4) << " got " << got << " want " << want;
    }
  }
  // Every valid 4-byte code point is accepted in one piece.
  for (std::uint32_t cp = 0x10000; cp <= 0x10FFFF; ++cp) {
    const Bytes enc = Reference::encode(cp);
    if (!is_valid_utf8(sv(enc))) {
      FAIL() << "rejected U+" << std::hex << cp;
    }
  }
}

TEST(Utf8, AllScalarValuesAcceptedAndSurrogatesRejected) {
  std::string all;
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const Bytes enc = Reference::encode(cp);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (surrogate) {
      EXPECT_FALSE(is_valid_utf8(sv(enc))) << std::hex << cp;
    } else {
      all.append(sv(enc));
    }
  }
  EXPECT_TRUE(is_valid_utf8(all));
}

// The 8-byte ASCII fast path: a bad byte at every position and alignment is still caught, and
// long valid ASCII around multi-byte characters passes.
TEST(Utf8, FastPathCatchesBadByteAnywhere) {
  std::vector<char> storage(200 + 16);
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t len = 0; len <= 64; ++len) {
      char* base = storage.data() + align;
      std::fill(base, base + len, 'x');
      EXPECT_TRUE(is_valid_utf8(std::string_view(base, len)));
      for (std::size_t bad = 0; bad < len; ++bad) {
        for (unsigned char b : {0x80u, 0xC0u, 0xFFu}) {
          base[bad] = static_cast<char>(b);
          const std::string_view s(base, len);
          EXPECT_FALSE(is_valid_utf8(s)) << align << ' ' << len << ' ' << bad;
          // Split right before and right after the bad byte.
          Utf8Validator v;
          EXPECT_TRUE(v.feed(s.substr(0, bad)));
          EXPECT_FALSE(v.feed(s.substr(bad)));
          base[bad] = 'x';
        }
        // A valid 2-byte character at this position keeps the string valid.
        if (bad + 1 < len) {
          base[bad] = '\xC3';
          base[bad + 1] = '\xA9';
          EXPECT_TRUE(is_valid_utf8(std::string_view(base, len)));
          base[bad] = 'x';
          base[bad + 1] = 'x';
        }
      }
    }
  }
}

TEST(Utf8, RandomChunksMatchReference) {
  const Reference& ref = reference();
  std::mt19937 rng(7);
  for (int iter = 0; iter < 3000; ++iter) {
    // Mostly valid text with long ASCII runs, sometimes a corrupted byte.
    Bytes text;
    const int pieces = static_cast<int>(rng() % 40);
    for (int k = 0; k < pieces; ++k) {
      if (rng() % 3 == 0) {
        std::uint32_t cp = rng() % 0x110000;
        if (cp >= 0xD800 && cp <= 0xDFFF) {
          cp = 0x41;
        }
        const Bytes enc = Reference::encode(cp);
        text.insert(text.end(), enc.begin(), enc.end());
      } else {
        const std::size_t run = rng() % 20;
        for (std::size_t r = 0; r < run; ++r) {
          text.push_back(static_cast<std::uint8_t>(0x20 + rng() % 0x5F));
        }
      }
    }
    if (!text.empty() && rng() % 2 == 0) {
      text[rng() % text.size()] = static_cast<std::uint8_t>(rng());
    }
    if (!text.empty() && rng() % 4 == 0) {
      text.pop_back();
    }
    const std::size_t want_fail = ref.first_failure(text.data(), text.size());
    const bool want_valid = ref.valid(text.data(), text.size());
    // Random chunking.
    Utf8Validator v;
    std::size_t pos = 0;
    bool failed = false;
    while (pos < text.size()) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % 24, text.size() - pos);
      const bool ok = v.feed(text.data() + pos, n);
      if (!ok) {
        // The chunk that failed must contain the first bad byte.
        EXPECT_GT(want_fail, pos);
        EXPECT_LE(want_fail, pos + n);
        failed = true;
        break;
      }
      EXPECT_LT(pos + n, want_fail);
      pos += n;
    }
    EXPECT_EQ(failed, want_fail <= text.size());
    EXPECT_EQ(!failed && v.complete(), want_valid);
    EXPECT_EQ(is_valid_utf8(sv(text)), want_valid);
  }
}

TEST(Utf8, EmptyFeedKeepsState) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed(nullptr, 0));
  EXPECT_TRUE(v.complete());
  EXPECT_TRUE(v.feed("\xE2"));
  EXPECT_TRUE(v.feed(nullptr, 0));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed("\x82\xAC"));
  EXPECT_TRUE(v.complete());
}

}  // namespace
}  // namespace nexios::detail
