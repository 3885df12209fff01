#include <nexios/http/url.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nexios::http {
namespace {

using namespace std::string_literals;
using Items = std::vector<std::pair<std::string, std::string>>;

template <class T>
Items items_of(const T& container) {
  return Items(container.begin(), container.end());
}

TEST(PercentDecode, Escapes) {
  EXPECT_EQ(percent_decode(""), "");
  EXPECT_EQ(percent_decode("plain"), "plain");
  EXPECT_EQ(percent_decode("a%20b"), "a b");
  EXPECT_EQ(percent_decode("%41%62%2f%2F"), "Ab//");
  EXPECT_EQ(percent_decode("caf%C3%A9"), "caf\xC3\xA9");
  EXPECT_EQ(percent_decode("%00"), "\0"s);
  EXPECT_EQ(percent_decode("%ff"), "\xFF");
}

TEST(PercentDecode, InvalidEscapesAreKept) {
  EXPECT_EQ(percent_decode("%"), "%");
  EXPECT_EQ(percent_decode("%4"), "%4");
  EXPECT_EQ(percent_decode("a%"), "a%");
  EXPECT_EQ(percent_decode("%zz"), "%zz");
  EXPECT_EQ(percent_decode("%4g%41"), "%4gA");
  EXPECT_EQ(percent_decode("%%41"), "%A");
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%2"), "%2");
}

TEST(PercentDecode, PlusAsSpace) {
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%2B+", true), "+ ");
}

TEST(PercentEncode, UnreservedAreKept) {
  EXPECT_EQ(percent_encode(""), "");
  EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percent_encode("a b/c?d=e&f+g%"), "a%20b%2Fc%3Fd%3De%26f%2Bg%25");
  EXPECT_EQ(percent_encode("caf\xC3\xA9"), "caf%C3%A9");
  EXPECT_EQ(percent_encode("\0\x7f"s), "%00%7F");
  const std::string all = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) {
      s.push_back(static_cast<char>(i));
    }
    return s;
  }();
  EXPECT_EQ(percent_decode(percent_encode(all)), all);
}

TEST(QueryParams, DocumentedExample) {
  const auto qp = QueryParams::parse("a=1&a=2&b=&c");
  EXPECT_EQ(qp.get("a"), "2");
  EXPECT_EQ(qp.get("b"), "");
  EXPECT_EQ(qp.get("c"), "");
  EXPECT_EQ(qp.get_all("a"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_EQ(qp.get_or("x", "d"), "d");
  EXPECT_EQ(qp.get_or("a", "d"), "2");
  EXPECT_FALSE(qp.get("x").has_value());
  EXPECT_TRUE(qp.contains("c"));
  EXPECT_FALSE(qp.contains("x"));
  EXPECT_EQ(qp.size(), 4U);
  EXPECT_EQ(items_of(qp), (Items{{"a", "1"}, {"a", "2"}, {"b", ""}, {"c", ""}}));
}

TEST(QueryParams, Decoding) {
  const auto qp = QueryParams::parse("name=John+Smith&q=a%26b%3Dc&%C3%A9=caf%C3%A9&sp%20ace=x+y%2By&pct=100%");
  EXPECT_EQ(qp.get("name"), "John Smith");
  EXPECT_EQ(qp.get("q"), "a&b=c");
  EXPECT_EQ(qp.get("\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(qp.get("sp ace"), "x y+y");
  EXPECT_EQ(qp.get("pct"), "100%");
}

TEST(QueryParams, EmptyPiecesAndEdgeCases) {
  EXPECT_TRUE(QueryParams::parse("").empty());
  EXPECT_TRUE(QueryParams::parse("&&&").empty());
  EXPECT_EQ(items_of(QueryParams::parse("a=1&&b=2&")), (Items{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(items_of(QueryParams::parse("=x")), (Items{{"", "x"}}));
  EXPECT_EQ(items_of(QueryParams::parse("=")), (Items{{"", ""}}));
  EXPECT_EQ(items_of(QueryParams::parse("a==b")), (Items{{"a", "=b"}}));
  EXPECT_EQ(items_of(QueryParams::parse("a=1;b=2")), (Items{{"a", "1;b=2"}}));
  EXPECT_TRUE(QueryParams::parse("a").get_all("b").empty());
}

TEST(QueryParams, Add) {
  QueryParams qp;
  EXPECT_TRUE(qp.empty());
  qp.add("k", "v1");
  qp.add("k", "v2");
  EXPECT_EQ(qp.get("k"), "v2");
  EXPECT_EQ(qp.size(), 2U);
}

TEST(Cookies, Basic) {
  const auto c = Cookies::parse({"sessionid=abc123; theme=dark;lang=en"});
  EXPECT_EQ(c.get("sessionid"), "abc123");
  EXPECT_EQ(c.get("theme"), "dark");
  EXPECT_EQ(c.get("lang"), "en");
  EXPECT_EQ(c.get_or("missing", "fallback"), "fallback");
  EXPECT_FALSE(c.contains("missing"));
  EXPECT_EQ(c.size(), 3U);
}

TEST(Cookies, DjangoRules) {
  // Trimmed names and values; '=' inside values kept; a chunk without '=' has the name "".
  EXPECT_EQ(items_of(Cookies::parse({"  a = 1 ; b=x=y;  flag ;c="})),
            (Items{{"a", "1"}, {"b", "x=y"}, {"", "flag"}, {"c", ""}}));
  // Empty chunks and chunks that are only whitespace or "=" are skipped.
  EXPECT_EQ(items_of(Cookies::parse({";; ;a=1;=; \t"})), (Items{{"a", "1"}}));
  // A repeated name keeps the last value (in the first position, like a dict).
  EXPECT_EQ(items_of(Cookies::parse({"a=1; b=2; a=3"})), (Items{{"a", "3"}, {"b", "2"}}));
  // Values are not percent-decoded.
  EXPECT_EQ(Cookies::parse({"a=x%20y"}).get("a"), "x%20y");
  EXPECT_TRUE(Cookies::parse({}).empty());
  EXPECT_TRUE(Cookies::parse({""}).empty());
}

TEST(Cookies, QuotedValues) {
  const auto c = Cookies::parse({R"(a="hello world"; b="x\"y"; c="\101\102"; d="no-end; e=""; f="; g="a\\b"; h="\4")"});
  EXPECT_EQ(c.get("a"), "hello world");
  EXPECT_EQ(c.get("b"), "x\"y");
  EXPECT_EQ(c.get("c"), "AB");  // octal escapes
  EXPECT_EQ(c.get("d"), "\"no-end");
  EXPECT_EQ(c.get("e"), "");
  EXPECT_EQ(c.get("f"), "\"");
  EXPECT_EQ(c.get("g"), "a\\b");
  EXPECT_EQ(c.get("h"), "4");
}

TEST(Cookies, SeveralHeaders) {
  const std::vector<std::string_view> headers = {"a=1; b=2", "c=3", "a=4"};
  const auto c = Cookies::parse(headers);
  EXPECT_EQ(items_of(c), (Items{{"a", "4"}, {"b", "2"}, {"c", "3"}}));
}

TEST(QueryParams, BorrowedViewsPointIntoTheTextAndOnlyDecodedPiecesAreOwned) {
  const std::string text = "user=alice&pad=" + std::string(4000, 'p') + "&q=a%20b&plus=x+y";
  const auto qp = QueryParams::parse_borrowed(text);
  const auto inside = [&](std::string_view v) { return v.data() >= text.data() && v.data() + v.size() <= text.data() + text.size(); };
  EXPECT_TRUE(inside(*qp.get("user")));
  EXPECT_TRUE(inside(*qp.get("pad")));
  EXPECT_EQ(qp.get("pad")->size(), 4000u);
  EXPECT_EQ(qp.get("q"), "a b");
  EXPECT_FALSE(inside(*qp.get("q")));
  EXPECT_EQ(qp.get("plus"), "x y");
  EXPECT_EQ(items_of(qp), (Items{{"user", "alice"}, {"pad", std::string(4000, 'p')}, {"q", "a b"}, {"plus", "x y"}}));
}

TEST(QueryParams, ParsedAndCopiedParamsOwnTheirText) {
  std::string text = "a=1&b=two&c=%41";
  const auto owned = QueryParams::parse(text);
  std::optional<QueryParams> copy;
  {
    std::string scratch = text;
    const auto borrowed = QueryParams::parse_borrowed(scratch);
    copy = borrowed;  // a copy owns everything
    scratch.assign(scratch.size(), '#');
  }
  text.assign(text.size(), '#');
  for (const QueryParams* qp : std::vector<const QueryParams*>{&owned, &copy.value()}) {
    EXPECT_EQ(items_of(*qp), (Items{{"a", "1"}, {"b", "two"}, {"c", "A"}}));
  }
  QueryParams moved = std::move(*copy);  // moving keeps the views valid (SSO strings included)
  EXPECT_EQ(items_of(moved), (Items{{"a", "1"}, {"b", "two"}, {"c", "A"}}));
  QueryParams assigned;
  assigned = owned;
  assigned.add("d", "4");
  EXPECT_EQ(assigned.get("d"), "4");
  EXPECT_EQ(assigned.get("b"), "two");
}

}  // namespace
}  // namespace nexios::http
