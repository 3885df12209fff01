// Origin parsing and matching (RFC 6454 serialized origins), and the IMF-fixdate of Date headers.

#include <nexios/http/origin.hpp>
#include <nexios/http/response.hpp>

#include <gtest/gtest.h>

#include <string>

using namespace nexios::http;

TEST(Origin, ParsesAndNormalizes) {
  auto o = parse_origin("HTTPS://App.Example.COM");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->scheme, "https");
  EXPECT_EQ(o->host, "app.example.com");
  EXPECT_EQ(o->port, 443);
  EXPECT_EQ(parse_origin("http://localhost:3000")->port, 3000);
  EXPECT_EQ(parse_origin("http://[::1]:8000")->host, "[::1]");
  EXPECT_EQ(parse_origin("http://[::1]")->port, 80);
  EXPECT_EQ(parse_origin("ws://a.b")->port, 80);
  for (const char* bad : {"null", "", "example.com", "http://", "http://a/", "http://a/path", "http://u@a",
                          "http://a:0", "http://a:65536", "http://a:x", "http://a b", "1http://a", "http://[::1",
                          "http://.a", "http://a:80:80", "http://a?q"}) {
    EXPECT_FALSE(parse_origin(bad)) << bad;
  }
}

TEST(Origin, SameOriginComparesHostAndEffectivePort) {
  const auto o = *parse_origin("http://example.com");
  EXPECT_TRUE(is_same_origin(o, "example.com"));
  EXPECT_TRUE(is_same_origin(o, "EXAMPLE.com:80"));
  EXPECT_FALSE(is_same_origin(o, "example.com:8080"));
  EXPECT_FALSE(is_same_origin(o, "example.org"));
  EXPECT_FALSE(is_same_origin(o, ""));
  EXPECT_FALSE(is_same_origin(o, "example.com:"));
  const auto s = *parse_origin("https://example.com:8443");
  EXPECT_TRUE(is_same_origin(s, "example.com:8443"));
  EXPECT_FALSE(is_same_origin(s, "example.com"));
  EXPECT_TRUE(is_same_origin(*parse_origin("http://[::1]:9000"), "[::1]:9000"));
}

TEST(Origin, Patterns) {
  const OriginAllowList list({"https://app.example.com", "https://*.example.org", "localhost:3000", "null"});
  EXPECT_TRUE(list.allows("https://app.example.com"));
  EXPECT_TRUE(list.allows("https://app.example.com:443"));
  EXPECT_FALSE(list.allows("https://app.example.com:444"));
  EXPECT_FALSE(list.allows("http://app.example.com"));
  EXPECT_TRUE(list.allows("https://x.example.org"));
  EXPECT_TRUE(list.allows("https://x.y.example.org"));
  EXPECT_FALSE(list.allows("https://example.org"));
  EXPECT_FALSE(list.allows("https://xexample.org"));
  EXPECT_FALSE(list.allows("https://example.org.evil.io"));
  EXPECT_TRUE(list.allows("http://localhost:3000"));
  EXPECT_TRUE(list.allows("https://localhost:3000"));
  EXPECT_FALSE(list.allows("ftp://localhost:3000"));
  EXPECT_TRUE(list.allows("null"));
  EXPECT_FALSE(list.allows("garbage"));
  EXPECT_FALSE(OriginAllowList({"https://a.example"}).allows("null"));
  EXPECT_TRUE(OriginAllowList({"*"}).allows("anything at all"));
  EXPECT_FALSE(OriginAllowList().allows("https://a.example"));
  for (const char* bad : {"https://*", "*.com", "https://a.*.com", "https://a:99999", "ht tp://a", "", "https://a/b"}) {
    EXPECT_THROW(OriginPattern{bad}, std::invalid_argument) << bad;
  }
}

TEST(HttpDate, ImfFixdate) {
  EXPECT_EQ(std::string(format_http_date(784111777).data(), 29), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(std::string(format_http_date(0).data(), 29), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(std::string(format_http_date(951782400).data(), 29), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(std::string(format_http_date(4102444799).data(), 29), "Thu, 31 Dec 2099 23:59:59 GMT");
}
