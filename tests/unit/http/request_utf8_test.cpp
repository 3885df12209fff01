// The parser refuses a request whose text, as the application would get it (the decoded path and
// so every path parameter, decoded query names and values, header values, cookies), is not valid
// UTF-8; the raw target stays readable on requests it accepts.

#include <nexios/http/parser.hpp>
#include <nexios/http/url.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace nexios::http {
namespace {

// Parses `head` fed in pieces of `step` bytes; returns the error (empty if the request is done).
std::error_code parse(std::string_view head, std::size_t step = 0) {
  RequestParser p;
  std::error_code ec;
  if (step == 0) {
    step = head.size();
  }
  for (std::size_t pos = 0; pos < head.size() && !ec && !p.done(); pos += step) {
    p.feed(head.substr(pos, step), ec);
  }
  if (!ec && !p.done()) {
    ADD_FAILURE() << "request not complete: " << head;
  }
  return ec;
}

std::string get(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n" + std::string(extra) + "\r\n";
}

TEST(RequestUtf8, InvalidDecodedQueryIsRefusedWith400) {
  for (const char* target : {"/ws/chat/r?username=bad%FF",      // a byte that is never UTF-8
                             "/ws/chat/r?username=%C0%AF",       // overlong '/'
                             "/ws/chat/r?username=%ED%A0%80",    // a surrogate (U+D800)
                             "/ws/chat/r?username=%F4%90%80%80", // above U+10FFFF
                             "/ws/chat/r?username=%E2%82",       // truncated
                             "/ws/chat/r?%FF=name",              // in a name
                             "/ws/chat/r?a=%E2%82&b=%AC",        // a sequence split by '&'
                             "/x?a=%C3"}) {
    for (std::size_t step : {0, 1, 7}) {
      const auto ec = parse(get(target), step);
      EXPECT_EQ(ec, errc::query_not_utf8) << target << " step " << step;
      EXPECT_EQ(status_for(ec), 400);
    }
  }
  EXPECT_NE(make_error_code(errc::query_not_utf8).message().find("UTF-8"), std::string::npos);
}

TEST(RequestUtf8, InvalidDecodedPathIsRefused) {
  for (const char* target : {"/ws/chat/bad%FF", "/ws/chat/%C0%AF", "/ws/chat/%ED%A0%80?username=ok", "/%80"}) {
    EXPECT_EQ(parse(get(target)), errc::path_not_utf8) << target;
  }
  // Raw bytes above 0x7F in the target itself (not escaped) are checked too.
  EXPECT_EQ(parse(get("/ws/chat/\xFF")), errc::path_not_utf8);
}

TEST(RequestUtf8, InvalidHeaderValueOrCookieIsRefused) {
  EXPECT_EQ(parse(get("/", "X-Name: caf\xE9\r\n")), errc::header_not_utf8);  // Latin-1
  EXPECT_EQ(parse(get("/", "User-Agent: \xED\xA0\x80\r\n")), errc::header_not_utf8);
  EXPECT_EQ(parse(get("/", "Cookie: a=\xFF\r\n")), errc::cookie_not_utf8);
  // A quoted cookie value's octal escape makes a byte: \377 is 0xFF once unquoted.
  EXPECT_EQ(parse(get("/", "Cookie: a=1; b=\"\\377\"\r\n")), errc::cookie_not_utf8);
  const auto cookies = Cookies::parse({"a=1; b=\"\\303\\251\""});  // é, escaped
  EXPECT_EQ(cookies.get_or("b", ""), "\xC3\xA9");
  EXPECT_FALSE(parse(get("/", "Cookie: a=1; b=\"\\303\\251\"\r\n")));
}

TEST(RequestUtf8, ValidUtf8AndAsciiEscapesAreAccepted) {
  RequestParser p;
  std::error_code ec;
  const std::string req = get("/ws/chat/caf%C3%A9?username=%F0%9F%98%80&q=a+b%26c&e=%&f=%zz",
                              "X-Name: caf\xC3\xA9\r\nCookie: n=\"\\\"quoted\\\"\"\r\n");
  p.feed(req, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.done());
  EXPECT_EQ(p.request().path(), "/ws/chat/caf\xC3\xA9");
  // The raw bytes stay available.
  EXPECT_EQ(p.request().raw_path(), "/ws/chat/caf%C3%A9");
  EXPECT_EQ(p.request().query_string(), "username=%F0%9F%98%80&q=a+b%26c&e=%&f=%zz");
  EXPECT_EQ(p.request().target(), "/ws/chat/caf%C3%A9?username=%F0%9F%98%80&q=a+b%26c&e=%&f=%zz");
  const auto q = QueryParams::parse(p.request().query_string());
  EXPECT_EQ(q.get_or("username", ""), "\xF0\x9F\x98\x80");
  EXPECT_EQ(q.get_or("q", ""), "a b&c");
}

TEST(RequestUtf8, LongQueriesAreDecodedAcrossPieces) {
  // Escapes straddling the checker's 256-byte pieces: valid, then one bad byte at the end.
  std::string query = "v=";
  for (int i = 0; i < 300; ++i) {
    query += "%C3%A9";
  }
  EXPECT_FALSE(parse(get("/?" + query)));
  EXPECT_FALSE(parse(get("/?x" + query)));
  EXPECT_FALSE(parse(get("/?xy" + query)));
  EXPECT_EQ(parse(get("/?" + query + "%C3")), errc::query_not_utf8);
  EXPECT_EQ(parse(get("/?x" + query + "%FF")), errc::query_not_utf8);
}

}  // namespace
}  // namespace nexios::http
