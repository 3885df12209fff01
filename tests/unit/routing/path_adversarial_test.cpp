// PathPattern against hostile inputs, and a randomized comparison with a naive reference matcher
// that implements the greedy-regex semantics by plain (exponential) backtracking.

#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "nexios/routing/path.hpp"
#include "path_test_util.hpp"

namespace nexios::routing {
namespace {

using test::extract;
using test::Pairs;

constexpr std::size_t k8KiB = 8 * 1024;

std::string repeat(std::string_view unit, std::size_t total_len) {
  std::string out;
  while (out.size() < total_len) {
    out.append(unit);
  }
  out.resize(total_len);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Adversarial inputs: each would take exponential (or large polynomial) time with a naive
// backtracking matcher. Results are asserted; time is bounded by the whole test's timeout.
// ---------------------------------------------------------------------------------------------

TEST(PathAdversarial, ManyStrParamsSeparatedByDashesFail) {
  // Every '-' is a candidate split point, but the final literal never occurs.
  const PathPattern p("/{a}-{b}-{c}-{d}-{e}-{f}x");
  const std::string path = "/" + repeat("-", k8KiB);
  EXPECT_FALSE(p.matches(path));
  const std::string path2 = "/" + repeat("a-", k8KiB) + "y";
  EXPECT_FALSE(p.matches(path2));
}

TEST(PathAdversarial, ManyStrParamsSeparatedByDashesMatch) {
  const PathPattern p("/{a}-{b}-{c}-{d}-{e}-{f}x");
  const std::string body = repeat("a-", k8KiB);  // "a-a-...a-"
  const std::string path = "/" + body + "ax";
  const auto r = extract(p, path);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 6U);
  // a takes everything but the last five "a-" units; b..f get one "a" each.
  EXPECT_EQ((*r)[0].second, body.substr(0, body.size() - 9));
  for (std::size_t i = 1; i < 6; ++i) {
    EXPECT_EQ((*r)[i].second, "a");
  }
}

TEST(PathAdversarial, AdjacentStrParamsNoSolution) {
  const PathPattern p("/{a}{b}{c}{d}{e}{f}{g}{h}/x");
  EXPECT_FALSE(p.matches("/" + repeat("a", k8KiB) + "/y"));
  EXPECT_FALSE(p.matches("/" + repeat("a", k8KiB) + "/x/"));
  EXPECT_FALSE(p.matches("/aaaaaaa/x"));  // seven characters for eight parameters
  const auto r = extract(p, "/" + repeat("a", k8KiB) + "/x");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].second.size(), k8KiB - 7);
  EXPECT_EQ((*r)[7].second, "a");
}

TEST(PathAdversarial, ManyPathParams) {
  const PathPattern p("/{a:path}/{b:path}/{c:path}/{d:path}/{e:path}/z");
  const std::string slashes = repeat("/", k8KiB);
  EXPECT_FALSE(p.matches("/" + slashes + "y"));
  EXPECT_FALSE(p.matches("/" + slashes));
  const auto r = extract(p, "/" + slashes + "z");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].second, repeat("/", k8KiB - 5));
  for (std::size_t i = 1; i < 5; ++i) {
    EXPECT_EQ((*r)[i].second, "");
  }
  EXPECT_FALSE(p.matches("/" + repeat("a/", k8KiB) + "y"));
  EXPECT_TRUE(p.matches("/" + repeat("a/", k8KiB) + "z"));
}

TEST(PathAdversarial, PathParamsWithRepeatedLiteral) {
  const PathPattern p("/{a:path}ab{b:path}ab{c:path}ab{d:path}abc");
  EXPECT_FALSE(p.matches("/" + repeat("ab", k8KiB)));
  EXPECT_FALSE(p.matches("/" + repeat("ab", k8KiB) + "ab"));
  EXPECT_TRUE(p.matches("/" + repeat("ab", k8KiB) + "c"));
}

TEST(PathAdversarial, IntParamsOnLongDigitRuns) {
  const PathPattern p("/{a:int}{b:int}{c:int}{d:int}.");
  EXPECT_FALSE(p.matches("/" + repeat("9", k8KiB) + "."));  // each int is at most 18 nines
  EXPECT_FALSE(p.matches("/" + repeat("0", k8KiB) + "x"));
  const auto zeros = extract(p, "/" + repeat("0", k8KiB) + ".");  // leading zeros never overflow
  ASSERT_TRUE(zeros);
  EXPECT_EQ((*zeros)[0].second.size(), k8KiB - 3);
  const auto r = extract(p, "/" + repeat("9", 4 * 18) + ".");
  ASSERT_TRUE(r);
  for (const auto& [name, value] : *r) {
    EXPECT_EQ(value, repeat("9", 18)) << name;
  }
}

TEST(PathAdversarial, FloatParamsOnDotsAndDigits) {
  const PathPattern p("/{a:float}.{b:float}.{c:float}.{d:float}x");
  EXPECT_FALSE(p.matches("/" + repeat("1.", k8KiB)));
  EXPECT_FALSE(p.matches("/" + repeat("1.", k8KiB) + "1"));
  EXPECT_FALSE(p.matches("/" + repeat("1.", k8KiB) + "1x"));  // a float holds at most one '.'
  const auto r = extract(p, "/" + repeat("1", k8KiB) + ".1.1.1.1x");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].second, repeat("1", k8KiB) + ".1");
  EXPECT_EQ((*r)[3].second, "1");
  EXPECT_FALSE(PathPattern("/{a:float}{b:float}{c:float}/").matches("/" + repeat("1", k8KiB)));
}

TEST(PathAdversarial, SlugParamsOnDashes) {
  const PathPattern p("/{a:slug}-{b:slug}-{c:slug}-{d:slug}/");
  EXPECT_FALSE(p.matches("/" + repeat("a-", k8KiB)));
  EXPECT_FALSE(p.matches("/" + repeat("a-", k8KiB) + "/"));
  EXPECT_TRUE(p.matches("/" + repeat("a-", k8KiB) + "a/"));
  EXPECT_FALSE(p.matches("/" + repeat("a-", k8KiB / 2) + "-" + repeat("a-", k8KiB / 2) + "a/"));
}

TEST(PathAdversarial, UuidParamsOnHex) {
  const PathPattern p("/{a:uuid}{b:uuid}{c:uuid}/");
  EXPECT_FALSE(p.matches("/" + repeat("a", k8KiB) + "/"));
  EXPECT_FALSE(p.matches("/" + repeat("a-", k8KiB) + "/"));
  EXPECT_TRUE(p.matches("/" + repeat("a", 96) + "/"));
}

TEST(PathAdversarial, MixedConverters) {
  const PathPattern p("/{a}{b:int}{c:path}{d:slug}{e:float}{f}-{g:path}z");
  std::string path = "/";
  for (std::size_t i = 0; path.size() < k8KiB; ++i) {
    path += (i % 3 == 0) ? "1-" : (i % 3 == 1 ? "a." : "9");
  }
  EXPECT_FALSE(p.matches(path));
  EXPECT_TRUE(p.matches(path + "a1b-cz"));
}

TEST(PathAdversarial, LongPathsOnSimplePatterns) {
  const std::string long_segment = repeat("x", 64 * 1024);
  EXPECT_EQ(test::one("/r/{id}", "/r/" + long_segment), long_segment);
  EXPECT_FALSE(PathPattern("/r/{id:int}").matches("/r/" + long_segment));
  EXPECT_FALSE(PathPattern("/r").matches("/r" + long_segment));
  EXPECT_EQ(test::one("/static/{p:path}", "/static/" + long_segment), long_segment);
}

// ---------------------------------------------------------------------------------------------
// Randomized comparison with a reference implementation.
// ---------------------------------------------------------------------------------------------

struct RefPiece {
  bool is_param = false;
  std::string text;  // literal text, or parameter name
  Converter converter = Converter::str;
};

bool all_of(std::string_view s, bool (*pred)(char)) {
  for (const char c : s) {
    if (!pred(c)) {
      return false;
    }
  }
  return true;
}
bool digit(char c) { return c >= '0' && c <= '9'; }
bool hex(char c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool slug_char(char c) { return digit(c) || (c >= 'a' && c <= 'z'); }

// Whether `s` is exactly a value of converter `c` (written independently of the implementation).
bool ref_accepts(Converter c, std::string_view s) {
  switch (c) {
    case Converter::str:
      return !s.empty() && s.find('/') == std::string_view::npos;
    case Converter::path:
      return true;
    case Converter::int_: {
      if (s.empty() || !all_of(s, digit)) {
        return false;
      }
      std::int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      return ec == std::errc{} && ptr == s.data() + s.size();
    }
    case Converter::float_: {
      const auto dot = s.find('.');
      if (dot == std::string_view::npos) {
        return !s.empty() && all_of(s, digit);
      }
      const auto ip = s.substr(0, dot);
      const auto fp = s.substr(dot + 1);
      return !ip.empty() && !fp.empty() && all_of(ip, digit) && all_of(fp, digit);
    }
    case Converter::slug: {
      if (s.empty() || s.front() == '-' || s.back() == '-' || s.find("--") != std::string_view::npos) {
        return false;
      }
      return all_of(s, [](char ch) { return slug_char(ch) || ch == '-'; });
    }
    case Converter::uuid: {
      std::size_t q = 0;
      const std::size_t groups[] = {8, 4, 4, 4, 12};
      for (std::size_t g = 0; g < 5; ++g) {
        if (g > 0 && q < s.size() && s[q] == '-') {
          ++q;
        }
        for (std::size_t k = 0; k < groups[g]; ++k, ++q) {
          if (q >= s.size() || !hex(s[q])) {
            return false;
          }
        }
      }
      return q == s.size();
    }
  }
  return false;
}

std::string ref_normalize_uuid(std::string_view s) {
  std::string hexes;
  for (const char c : s) {
    if (c != '-') {
      hexes.push_back((c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c);
    }
  }
  return hexes.substr(0, 8) + "-" + hexes.substr(8, 4) + "-" + hexes.substr(12, 4) + "-" + hexes.substr(16, 4) + "-" +
         hexes.substr(20);
}

// Greedy backtracking: each parameter tries its candidates longest first.
bool ref_match(const std::vector<RefPiece>& pieces, std::size_t i, std::string_view path, std::size_t p, Pairs& out) {
  if (i == pieces.size()) {
    return p == path.size();
  }
  const RefPiece& pc = pieces[i];
  if (!pc.is_param) {
    return path.substr(p).starts_with(pc.text) && ref_match(pieces, i + 1, path, p + pc.text.size(), out);
  }
  for (std::size_t len = path.size() - p + 1; len-- > 0;) {
    const std::string_view value = path.substr(p, len);
    if (!ref_accepts(pc.converter, value)) {
      continue;
    }
    out.emplace_back(pc.text, pc.converter == Converter::uuid ? ref_normalize_uuid(value) : std::string(value));
    if (ref_match(pieces, i + 1, path, p + len, out)) {
      return true;
    }
    out.pop_back();
  }
  return false;
}

std::optional<Pairs> ref_extract(const std::vector<RefPiece>& pieces, std::string_view path) {
  Pairs out;
  if (!ref_match(pieces, 0, path, 0, out)) {
    return std::nullopt;
  }
  return out;
}

const char* converter_name(Converter c) {
  switch (c) {
    case Converter::str:
      return "str";
    case Converter::int_:
      return "int";
    case Converter::float_:
      return "float";
    case Converter::uuid:
      return "uuid";
    case Converter::path:
      return "path";
    case Converter::slug:
      return "slug";
  }
  return "?";
}

TEST(PathRandomized, AgreesWithReferenceMatcher) {
  std::mt19937 rng(20240601U);  // fixed seed: reproducible
  const auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  const std::string alphabet = "/a-.1A";  // characters that matter to the converters
  const std::string literal_alphabet = "/a-.1";
  const Converter converters[] = {Converter::str,  Converter::int_, Converter::float_,
                                  Converter::path, Converter::slug, Converter::str};
  std::size_t matched = 0;
  std::size_t total = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<RefPiece> pieces;
    std::string pattern = "/";
    pieces.push_back({false, "/", Converter::str});
    const std::size_t count = 1 + pick(4);
    for (std::size_t k = 0; k < count; ++k) {
      if (pick(3) != 0) {  // parameter
        const std::string name = "p" + std::to_string(k);
        const Converter c = converters[pick(std::size(converters))];
        pieces.push_back({true, name, c});
        pattern += "{" + name + (pick(2) == 0 && c == Converter::str ? "" : std::string(":") + converter_name(c)) + "}";
      } else {  // literal (merged with a preceding literal, as the pattern does)
        std::string lit;
        for (std::size_t len = 1 + pick(2); len > 0; --len) {
          lit.push_back(literal_alphabet[pick(literal_alphabet.size())]);
        }
        pattern += lit;
        if (!pieces.back().is_param) {
          pieces.back().text += lit;
        } else {
          pieces.push_back({false, lit, Converter::str});
        }
      }
    }
    const PathPattern compiled(pattern);
    for (int j = 0; j < 20; ++j) {
      std::string path = "/";
      for (std::size_t len = pick(11); len > 0; --len) {
        path.push_back(alphabet[pick(alphabet.size())]);
      }
      const auto expected = ref_extract(pieces, path);
      const auto actual = extract(compiled, path);
      ++total;
      matched += expected ? 1 : 0;
      ASSERT_EQ(actual, expected) << "pattern " << pattern << " path " << path;
    }
  }
  // The generator must exercise both outcomes substantially.
  EXPECT_GT(matched, total / 20);
  EXPECT_LT(matched, total - total / 20);
}

TEST(PathRandomized, UuidAgreesWithReferenceMatcher) {
  std::mt19937 rng(7U);
  const auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  const std::vector<std::vector<RefPiece>> patterns = {
      {{false, "/", Converter::str}, {true, "u", Converter::uuid}},
      {{false, "/", Converter::str}, {true, "u", Converter::uuid}, {true, "s", Converter::str}},
      {{false, "/", Converter::str}, {true, "s", Converter::path}, {true, "u", Converter::uuid}},
      {{false, "/", Converter::str}, {true, "u", Converter::uuid}, {false, "-", Converter::str},
       {true, "s", Converter::slug}},
  };
  const std::vector<std::string> sources = {"/{u:uuid}", "/{u:uuid}{s}", "/{s:path}{u:uuid}", "/{u:uuid}-{s:slug}"};
  const std::string alphabet = "aF0-";
  const std::size_t groups[] = {8, 4, 4, 4, 12};
  std::size_t matched = 0;
  std::size_t total = 0;
  for (std::size_t k = 0; k < patterns.size(); ++k) {
    const PathPattern compiled(sources[k]);
    for (int j = 0; j < 1500; ++j) {
      // A random uuid (each dash present or not), random affixes, then maybe a few mutations.
      std::string path = "/";
      for (std::size_t len = pick(3); len > 0; --len) {
        path.push_back(alphabet[pick(alphabet.size())]);
      }
      for (std::size_t g = 0; g < 5; ++g) {
        if (g > 0 && pick(2) == 0) {
          path.push_back('-');
        }
        for (std::size_t d = 0; d < groups[g]; ++d) {
          path.push_back(alphabet[pick(alphabet.size() - 1)]);
        }
      }
      for (std::size_t len = pick(4); len > 0; --len) {
        path.push_back(alphabet[pick(alphabet.size())]);
      }
      for (std::size_t mutations = pick(4) == 0 ? 1 + pick(2) : 0; mutations > 0; --mutations) {
        path[1 + pick(path.size() - 1)] = alphabet[pick(alphabet.size())];
      }
      const auto expected = ref_extract(patterns[k], path);
      ++total;
      matched += expected ? 1 : 0;
      ASSERT_EQ(extract(compiled, path), expected) << sources[k] << " " << path;
    }
  }
  EXPECT_GT(matched, total / 20);
  EXPECT_LT(matched, total - total / 20);
}

}  // namespace
}  // namespace nexios::routing
