#include <nexios/http/parser.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios::http {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// ---------------------------------------------------------------------------------------------
// Test harness: feeds a request in pieces, the way a transport does, and records the outcome as
// owned strings so outcomes from different splits can be compared.
// ---------------------------------------------------------------------------------------------

struct Outcome {
  std::error_code ec;
  bool done = false;
  std::size_t consumed = 0;  // input bytes used by the request (0 when failed)
  std::string method;
  std::string target;
  std::string path;
  std::string raw_path;
  std::string query;
  int version_minor = -1;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool has_body = false;
  bool keep_alive = false;
  bool expects_continue = false;

  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& o, std::ostream* os) {
  *os << "{ec=" << o.ec.message() << " done=" << o.done << " consumed=" << o.consumed << " method=" << o.method
      << " target=" << o.target << " path=" << o.path << " raw_path=" << o.raw_path << " query=" << o.query
      << " minor=" << o.version_minor << " headers=[";
  for (const auto& [n, v] : o.headers) {
    *os << n << ": " << v << "; ";
  }
  *os << "] body=" << testing::PrintToString(o.body) << " has_body=" << o.has_body << " keep_alive=" << o.keep_alive
      << " continue=" << o.expects_continue << "}";
}

Outcome capture(const RequestParser& p, std::size_t consumed) {
  Outcome o;
  o.done = p.done();
  o.consumed = consumed;
  const Request& r = p.request();
  o.method = r.method();
  o.target = r.target();
  o.path = r.path();
  o.raw_path = r.raw_path();
  o.query = r.query_string();
  o.version_minor = r.version_minor();
  for (const auto& f : r.headers()) {
    o.headers.emplace_back(f.name, f.value);
  }
  o.body = r.body();
  o.has_body = r.has_body();
  o.keep_alive = r.keep_alive();
  o.expects_continue = r.expects_continue();
  return o;
}

Outcome failure(std::error_code ec) {
  Outcome o;
  o.ec = ec;
  return o;
}

/// Feeds `input` to a fresh parser cut at the offsets in `cuts` (increasing). Every piece is fed
/// from a temporary copy that is scribbled over afterwards, so a parser keeping pointers into the
/// caller's bytes is caught.
Outcome run(std::string_view input, const std::vector<std::size_t>& cuts, HttpLimits limits = {}) {
  RequestParser p(limits);
  std::size_t pos = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t end : ends) {
    std::string piece(input.substr(pos, end - pos));
    std::error_code ec;
    const std::size_t used = p.feed(piece, ec);
    piece.assign(piece.size(), '#');
    if (ec) {
      EXPECT_FALSE(p.done());
      EXPECT_FALSE(p.header_done());
      return failure(ec);
    }
    if (p.done()) {
      return capture(p, pos + used);
    }
    // Before the end of a request every byte is used: the caller never has to keep any.
    EXPECT_EQ(used, piece.size());
    pos = end;
  }
  return capture(p, pos);
}

Outcome run_whole(std::string_view input, HttpLimits limits = {}) {
  return run(input, {}, limits);
}

/// Checks that every single split point, and one byte at a time, give `expected`.
void expect_every_split(std::string_view input, const Outcome& expected, HttpLimits limits = {}) {
  for (std::size_t k = 1; k < input.size(); ++k) {
    ASSERT_EQ(run(input, {k}, limits), expected) << "split at " << k << " of " << testing::PrintToString(input);
  }
  std::vector<std::size_t> bytes;
  for (std::size_t k = 1; k < input.size(); ++k) {
    bytes.push_back(k);
  }
  ASSERT_EQ(run(input, bytes, limits), expected) << "byte by byte: " << testing::PrintToString(input);
  // Every pair of split points, for short inputs.
  if (input.size() <= 160) {
    for (std::size_t a = 1; a < input.size(); ++a) {
      for (std::size_t b = a + 1; b < input.size(); ++b) {
        ASSERT_EQ(run(input, {a, b}, limits), expected) << "split at " << a << "," << b;
      }
    }
  }
}

/// Parses `input` whole, checks every split gives the same, and returns the outcome.
Outcome parse(std::string_view input, HttpLimits limits = {}) {
  Outcome whole = run_whole(input, limits);
  expect_every_split(input, whole, limits);
  return whole;
}

/// The error `input` gives, checked to be the same in every split.
std::error_code parse_error(std::string_view input, HttpLimits limits = {}) {
  Outcome whole = run_whole(input, limits);
  EXPECT_TRUE(whole.ec) << "no error for " << testing::PrintToString(input);
  expect_every_split(input, whole, limits);
  return whole.ec;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------------------------
// Valid requests
// ---------------------------------------------------------------------------------------------

TEST(RequestParser, SimpleGet) {
  const auto input = "GET /chat/a%20b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\n\r\n"sv;
  const Outcome o = parse(input);
  EXPECT_FALSE(o.ec);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.consumed, input.size());
  EXPECT_EQ(o.method, "GET");
  EXPECT_EQ(o.target, "/chat/a%20b?x=1&y=2");
  EXPECT_EQ(o.raw_path, "/chat/a%20b");
  EXPECT_EQ(o.path, "/chat/a b");
  EXPECT_EQ(o.query, "x=1&y=2");
  EXPECT_EQ(o.version_minor, 1);
  EXPECT_EQ(o.headers, (Fields{{"Host", "example.com"}, {"User-Agent", "test/1.0"}}));
  EXPECT_EQ(o.body, "");
  EXPECT_FALSE(o.has_body);
  EXPECT_TRUE(o.keep_alive);
  EXPECT_FALSE(o.expects_continue);
}

TEST(RequestParser, PostWithContentLength) {
  const auto input = "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"sv;
  const Outcome o = parse(input);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.method, "POST");
  EXPECT_EQ(o.body, "hello world");
  EXPECT_TRUE(o.has_body);
  EXPECT_EQ(o.consumed, input.size());
}

TEST(RequestParser, BinaryBodyWithCrLfAndNul) {
  const std::string body = "a\r\n\r\nb\0c\n"s;
  const std::string input =
      "PUT /bin HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const Outcome o = parse(input);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.body, body);
}

TEST(RequestParser, ContentLengthZeroHasNoBody) {
  const Outcome o = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_FALSE(o.has_body);
  EXPECT_EQ(o.body, "");
}

TEST(RequestParser, ContentLengthRepeatsThatAgree) {
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc").body, "abc");
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc").body, "abc");
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 003\r\n\r\nabc").body, "abc");
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\ncontent-length:3\r\n\r\nabc").body, "abc");
}

TEST(RequestParser, ChunkedWithExtensionsAndTrailers) {
  const auto input =
      "POST /upload HTTP/1.1\r\n"
      "Host: h\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "5;name=value\r\n"
      "hello\r\n"
      "6 ; a ; b = \"q\\\"x;\"\r\n"
      " world\r\n"
      "000A;ext\r\n"
      "0123456789\r\n"
      "0;last=1\r\n"
      "X-Checksum: abc\r\n"
      "X-Other:  x \r\n"
      "\r\n"sv;
  const Outcome o = parse(input);
  EXPECT_FALSE(o.ec);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.body, "hello world0123456789");
  EXPECT_TRUE(o.has_body);
  EXPECT_EQ(o.consumed, input.size());
  // Trailers are checked and dropped.
  EXPECT_EQ(o.headers, (Fields{{"Host", "h"}, {"Transfer-Encoding", "chunked"}}));
}

TEST(RequestParser, ChunkedHexDigitsAndEmptyBody) {
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n"
                  "B\r\n0123456789A\r\n0\r\n\r\n")
                .body,
            "01234567890123456789A");
  const Outcome empty = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n");
  EXPECT_TRUE(empty.done);
  EXPECT_TRUE(empty.has_body);
  EXPECT_EQ(empty.body, "");
  // 16 hex digits are allowed.
  EXPECT_EQ(
      parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000002\r\nok\r\n0\r\n\r\n").body,
      "ok");
  // Empty list elements around "chunked" are ignored (RFC 9110 §5.6.1).
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n").body, "x");
}

TEST(RequestParser, Http10) {
  const Outcome o = parse("GET /old HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.version_minor, 0);
  EXPECT_FALSE(o.keep_alive);
  EXPECT_TRUE(o.headers.empty());

  const Outcome ka = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(ka.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
  EXPECT_EQ(parse("POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi").body, "hi");
}

TEST(RequestParser, KeepAliveRules) {
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n").keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nConnection: Close\r\n\r\n").keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n").keep_alive);
}

TEST(RequestParser, ExpectContinue) {
  EXPECT_TRUE(
      parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx").expects_continue);
  EXPECT_TRUE(parse("PUT / HTTP/1.1\r\nHost: h\r\nexpect: 100-Continue\r\n\r\n").expects_continue);
  EXPECT_FALSE(parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n").expects_continue);
  // RFC 9110 §10.1.1: ignored in HTTP/1.0.
  EXPECT_FALSE(parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expects_continue);
}

TEST(RequestParser, ExpectContinueIsKnownAtHeaderDone) {
  RequestParser p;
  std::error_code ec;
  const auto head = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"sv;
  EXPECT_EQ(p.feed(head, ec), head.size());
  EXPECT_FALSE(ec);
  EXPECT_TRUE(p.header_done());
  EXPECT_FALSE(p.done());
  EXPECT_TRUE(p.in_progress());
  EXPECT_TRUE(p.request().expects_continue());
  EXPECT_EQ(p.feed("body", ec), 4U);
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.request().body(), "body");
}

TEST(RequestParser, AsteriskFormForOptions) {
  const Outcome o = parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.target, "*");
  EXPECT_EQ(o.raw_path, "*");
  EXPECT_EQ(o.path, "*");
  EXPECT_EQ(o.query, "");
}

TEST(RequestParser, AbsoluteForm) {
  const Outcome o = parse("GET http://example.com:8080/p/a%2Fb?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.target, "http://example.com:8080/p/a%2Fb?q=1");
  EXPECT_EQ(o.raw_path, "/p/a%2Fb");
  EXPECT_EQ(o.path, "/p/a/b");
  EXPECT_EQ(o.query, "q=1");

  const Outcome bare = parse("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(bare.raw_path, "/");
  EXPECT_EQ(bare.path, "/");
  EXPECT_EQ(bare.query, "");

  const Outcome query_only = parse("GET HTTP://Example.com?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(query_only.raw_path, "/");
  EXPECT_EQ(query_only.query, "x=1");

  EXPECT_EQ(parse("GET https://h/s HTTP/1.1\r\nHost: h\r\n\r\n").path, "/s");
}

TEST(RequestParser, PathAndQueryEdgeCases) {
  const Outcome no_query = parse("GET /a/b HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(no_query.path, "/a/b");
  EXPECT_EQ(no_query.query, "");
  const Outcome q = parse("GET /? HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(q.raw_path, "/");
  EXPECT_EQ(q.query, "");
  const Outcome two = parse("GET /p?a=1?b=2 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(two.raw_path, "/p");
  EXPECT_EQ(two.query, "a=1?b=2");
  // Invalid escapes are kept as they are; '+' is not a space in a path.
  const Outcome bad_escapes = parse("GET /a%zz%4+%41%c3%A9 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(bad_escapes.raw_path, "/a%zz%4+%41%c3%A9");
  EXPECT_EQ(bad_escapes.path, "/a%zz%4+A\xC3\xA9");
  // The query is not decoded.
  EXPECT_EQ(parse("GET /?a=%20 HTTP/1.1\r\nHost: h\r\n\r\n").query, "a=%20");
  // Bytes above 0x7F are not CTLs.
  EXPECT_EQ(parse("GET /caf\xC3\xA9 HTTP/1.1\r\nHost: h\r\n\r\n").path, "/caf\xC3\xA9");
}

TEST(RequestParser, MethodsAreTokens) {
  EXPECT_EQ(parse("M-SEARCH /x HTTP/1.1\r\nHost: h\r\n\r\n").method, "M-SEARCH");
  EXPECT_EQ(parse("PATCH /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx").method, "PATCH");
  EXPECT_EQ(parse("get /x HTTP/1.1\r\nHost: h\r\n\r\n").method, "get");
}

TEST(RequestParser, LeadingEmptyLinesAreSkipped) {
  const Outcome o = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.method, "GET");
  EXPECT_EQ(o.consumed, 31U);
}

TEST(RequestParser, HeaderValuesAreTrimmed) {
  const Outcome o = parse(
      "GET / HTTP/1.1\r\n"
      "Host:h\r\n"
      "X-Spaced: \t spaced  value \t \r\n"
      "X-Empty:\r\n"
      "X-Blank:   \r\n"
      "X-Tab: a\tb\r\n"
      "X-Utf8: caf\xC3\xA9\r\n"
      "X-Colon: a:b: c\r\n"
      "x-lower: v\r\n"
      "\r\n");
  EXPECT_EQ(o.headers, (Fields{{"Host", "h"},
                               {"X-Spaced", "spaced  value"},
                               {"X-Empty", ""},
                               {"X-Blank", ""},
                               {"X-Tab", "a\tb"},
                               {"X-Utf8", "caf\xC3\xA9"},
                               {"X-Colon", "a:b: c"},
                               {"x-lower", "v"}}));
}

TEST(RequestParser, HeaderLookupIsCaseInsensitive) {
  RequestParser p;
  std::error_code ec;
  p.feed("GET / HTTP/1.1\r\nHOST: h\r\nX-Multi: 1\r\nx-multi: 2\r\nConnection: keep-alive, Upgrade\r\n\r\n", ec);
  ASSERT_TRUE(p.done());
  const Headers& h = p.request().headers();
  EXPECT_EQ(h.get("host"), "h");
  EXPECT_EQ(h.count("X-MULTI"), 2U);
  EXPECT_EQ(h.get_all("x-multi"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_TRUE(h.has_token("connection", "upgrade"));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

TEST(RequestParserErrors, BadRequestLine) {
  for (const auto input : {
           "GET /\r\nHost: h\r\n\r\n"sv,                 // no version
           "GET\r\nHost: h\r\n\r\n"sv,                   // nothing but a method
           "GET / HTTP/1.1\nHost: h\r\n\r\n"sv,          // bare LF
           "GET / HTTP/1.1\rHost: h\r\n\r\n"sv,          // bare CR
           "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"sv,      // bare LF before the request line
           "\r\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"sv,  // bare CR before the request line
           "GET / http/1.1\r\nHost: h\r\n\r\n"sv,        // the version is case-sensitive
           "GET / HTTP/1.1x\r\nHost: h\r\n\r\n"sv,
           "GET / HTTP/11\r\nHost: h\r\n\r\n"sv,
           "GET / HTTP/1.1 \r\nHost: h\r\n\r\n"sv,  // trailing space
           "GET / HTTP/1\r\nHost: h\r\n\r\n"sv,
           "GET / HTTP/a.b\r\nHost: h\r\n\r\n"sv,
           "GET / FTP/1.1\r\nHost: h\r\n\r\n"sv,
       }) {
    EXPECT_EQ(parse_error(input), errc::bad_request_line) << testing::PrintToString(input);
  }
}

TEST(RequestParserErrors, BadRequestLineIsReportedBeforeTheHeadEnds) {
  RequestParser p;
  std::error_code ec;
  p.feed("GET /\r\n", ec);
  EXPECT_EQ(ec, errc::bad_request_line);
}

TEST(RequestParserErrors, BadMethod) {
  for (const auto input : {
           "G(T / HTTP/1.1\r\nHost: h\r\n\r\n"sv,
           " / HTTP/1.1\r\nHost: h\r\n\r\n"sv,  // empty method
           "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"sv, "G\xC3\x89T / HTTP/1.1\r\nHost: h\r\n\r\n"sv,
           "\x16\x03\x01\x02 \x01 HTTP/1.1\r\n\r\n"sv,  // e.g. a TLS hello
       }) {
    EXPECT_EQ(parse_error(input), errc::bad_method) << testing::PrintToString(input);
  }
}

TEST(RequestParserErrors, BadTarget) {
  for (const auto input : {
           "GET  / HTTP/1.1\r\nHost: h\r\n\r\n"sv,  // two spaces
           "GET /  HTTP/1.1\r\nHost: h\r\n\r\n"sv,
           "GET  HTTP/1.1\r\nHost: h\r\n\r\n"sv,     // empty target
           "GET / / HTTP/1.1\r\nHost: h\r\n\r\n"sv,  // space in the target
           "GET * HTTP/1.1\r\nHost: h\r\n\r\n"sv,    // asterisk-form only for OPTIONS
           "OPTIONS ** HTTP/1.1\r\nHost: h\r\n\r\n"sv, "GET foo HTTP/1.1\r\nHost: h\r\n\r\n"sv,
           "GET /a\x01z HTTP/1.1\r\nHost: h\r\n\r\n"sv, "GET /a\x7fz HTTP/1.1\r\nHost: h\r\n\r\n"sv,
           "GET /a\tz HTTP/1.1\r\nHost: h\r\n\r\n"sv,
           "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"sv,  // empty authority
           "GET http:// HTTP/1.1\r\nHost: h\r\n\r\n"sv, "GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n"sv,
           "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"sv,  // authority-form
       }) {
    EXPECT_EQ(parse_error(input), errc::bad_target) << testing::PrintToString(input);
  }
  EXPECT_EQ(parse_error("GET /a\0z HTTP/1.1\r\nHost: h\r\n\r\n"sv), errc::bad_target);
}

TEST(RequestParserErrors, UnsupportedVersion) {
  for (const auto input : {
           "GET / HTTP/2.0\r\nHost: h\r\n\r\n"sv, "GET / HTTP/1.2\r\nHost: h\r\n\r\n"sv,
           "GET / HTTP/0.9\r\nHost: h\r\n\r\n"sv,
           "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"sv,  // the HTTP/2 connection preface
       }) {
    EXPECT_EQ(parse_error(input), errc::unsupported_version) << testing::PrintToString(input);
  }
  EXPECT_EQ(status_for(make_error_code(errc::unsupported_version)), 505);
}

TEST(RequestParserErrors, BadHeader) {
  for (const auto input : {
           "GET / HTTP/1.1\r\nHost h\r\n\r\n"sv,              // no colon
           "GET / HTTP/1.1\r\nHost : h\r\n\r\n"sv,            // space before the colon
           "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"sv,           // tab before the colon
           "GET / HTTP/1.1\r\nHost: h\r\n: value\r\n\r\n"sv,  // empty name
           "GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n"sv,  // not a token
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01z\r\n\r\n"sv,
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7fz\r\n\r\n"sv,
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rz\r\n\r\n"sv,  // bare CR in a value
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\nz\r\n\r\n"sv,  // bare LF in a value
           "GET / HTTP/1.1\r\nHost: h\n\r\n"sv,                 // bare LF ending a field
           "GET / HTTP/1.1\r\nHost: h\r\n\n"sv,                 // bare LF ending the head
           "GET / HTTP/1.1\r\nHost: h\r\n\r\r\n"sv,
       }) {
    EXPECT_EQ(parse_error(input), errc::bad_header) << testing::PrintToString(input);
  }
  EXPECT_EQ(parse_error("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0z\r\n\r\n"sv), errc::bad_header);
  EXPECT_EQ(parse_error("GET / HTTP/1.1\r\nHost: h\r\nX\0A: az\r\n\r\n"sv), errc::bad_header);
}

TEST(RequestParserErrors, ObsoleteLineFolding) {
  for (const auto input : {
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"sv,
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n"sv,
           "GET / HTTP/1.1\r\n Host: h\r\n\r\n"sv,  // whitespace between request line and first field
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"sv,
       }) {
    EXPECT_EQ(parse_error(input), errc::obsolete_line_folding) << testing::PrintToString(input);
  }
}

TEST(RequestParserErrors, MissingHost) {
  for (const auto input : {
           "GET / HTTP/1.1\r\n\r\n"sv,
           "GET / HTTP/1.1\r\nX-Host: h\r\n\r\n"sv,
           "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"sv,
           "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"sv,
           "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"sv,
       }) {
    EXPECT_EQ(parse_error(input), errc::missing_host) << testing::PrintToString(input);
  }
}

TEST(RequestParserErrors, BadContentLength) {
  for (const auto input : {
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\nhello"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1.0\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\nhello"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5, 50\r\n\r\nhello"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n"sv,  // 2^64
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n"sv,
       }) {
    EXPECT_EQ(parse_error(input), errc::bad_content_length) << testing::PrintToString(input);
  }
}

TEST(RequestParserErrors, UnsupportedTransferCoding) {
  for (const auto input : {
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n"sv,
           "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"sv,  // not in HTTP/1.0
       }) {
    EXPECT_EQ(parse_error(input), errc::unsupported_transfer_coding) << testing::PrintToString(input);
  }
  EXPECT_EQ(status_for(make_error_code(errc::unsupported_transfer_coding)), 501);
}

TEST(RequestParserErrors, Smuggling) {
  // CL.TE and TE.CL: both framings present.
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "0\r\n\r\nX"),
            errc::content_length_with_chunked);
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                        "8\r\nSMUGGLED\r\n0\r\n\r\n"),
            errc::content_length_with_chunked);
  EXPECT_EQ(
      parse_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nTransfer-Encoding: chunked, identity\r\n\r\n"),
      errc::content_length_with_chunked);
  EXPECT_EQ(status_for(make_error_code(errc::content_length_with_chunked)), 400);
  // Duplicate, differing Content-Length.
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n"),
            errc::bad_content_length);
  // A coding after chunked.
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
            errc::unsupported_transfer_coding);
  // Obs-fold hiding a Transfer-Encoding.
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nX-Foo: bar\r\n Transfer-Encoding: chunked\r\n\r\n"),
            errc::obsolete_line_folding);
  // Space before the colon ("Transfer-Encoding : chunked").
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n"),
            errc::bad_header);
  // Bare LF line endings.
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\nContent-Length: 3\r\n\r\n"),
            errc::bad_header);
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"),
            errc::bad_chunk);
  // Vertical tab / form feed tricks in the TE value.
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0b"
                        "chunked\r\n\r\n"),
            errc::bad_header);
}

TEST(RequestParserErrors, BadChunk) {
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& body : {
           "zz\r\n"s,  // not hex
           "\r\n"s,    // empty size
           "-5\r\n"s,  // sign
           "+5\r\n"s,
           "5 \r\nhello\r\n0\r\n\r\n"s,  // whitespace without an extension
           " 5\r\nhello\r\n0\r\n\r\n"s,
           ";ext\r\n"s,                  // extension without a size
           "5;\r\nhello\r\n0\r\n\r\n"s,  // extension without a name
           "5;=x\r\nhello\r\n0\r\n\r\n"s,
           "5;a=\r\nhello\r\n0\r\n\r\n"s,     // '=' without a value
           "5;a=\"x\r\nhello\r\n0\r\n\r\n"s,  // unterminated quoted string
           "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n"s,
           "5;a\x01\r\nhello\r\n0\r\n\r\n"s,
           "00000000000000005\r\nhello\r\n0\r\n\r\n"s,  // 17 hex digits
           "5\nhello\r\n0\r\n\r\n"s,                    // bare LF after the size
           "5\rhello\r\n0\r\n\r\n"s,                    // bare CR after the size
           "5\r\nhelloX\r\n0\r\n\r\n"s,                 // data longer than the size
           "5\r\nhello\n0\r\n\r\n"s,                    // bare LF after the data
           "5\r\nhello\rX0\r\n\r\n"s,
           "5\r\nhell\r\n0\r\n\r\n"s,    // data shorter than the size ("\r" taken as data)
           "0\r\nbad trailer\r\n\r\n"s,  // trailer without a colon
           "0\r\nX-T : v\r\n\r\n"s,
           "0\r\nX-T: v\r\n folded\r\n\r\n"s,
           "0\r\nX-T: a\x01z\r\n\r\n"s,
           "0\r\n\n"s,  // bare LF ending the trailers
           "0\r\nX-T: v\n\r\n"s,
           "0\r\n\rX"s,
       }) {
    EXPECT_EQ(parse_error(head + body), errc::bad_chunk) << testing::PrintToString(body);
  }
}

TEST(RequestParserErrors, ChunkSizeLineIsBounded) {
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  // The whole size line, CRLF included, may be 4096 bytes.
  const std::string ext_ok = "1;a=" + std::string(4096 - 6, 'x') + "\r\n";
  ASSERT_EQ(ext_ok.size(), 4096U);
  const Outcome ok = run_whole(head + ext_ok + "z\r\n0\r\n\r\n");
  EXPECT_TRUE(ok.done);
  EXPECT_EQ(ok.body, "z");
  const std::string ext_long = "1;a=" + std::string(4096 - 5, 'x') + "\r\n";
  EXPECT_EQ(run_whole(head + ext_long + "z\r\n0\r\n\r\n").ec, errc::bad_chunk);
  // Detected without waiting for the end of the line.
  RequestParser p;
  std::error_code ec;
  p.feed(head + "1;a=" + std::string(10000, 'x'), ec);
  EXPECT_EQ(ec, errc::bad_chunk);
}

// ---------------------------------------------------------------------------------------------
// Limits: exactly at the limit succeeds, one byte / field over fails.
// ---------------------------------------------------------------------------------------------

TEST(RequestParserLimits, MaxHeaderBytes) {
  const std::string request = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(100, 'p') + "\r\n\r\n";
  HttpLimits at;
  at.max_header_bytes = request.size();
  EXPECT_TRUE(parse(request, at).done);
  HttpLimits under = at;
  under.max_header_bytes = request.size() - 1;
  EXPECT_EQ(parse_error(request, under), errc::headers_too_large);
  EXPECT_EQ(status_for(make_error_code(errc::headers_too_large)), 431);

  // Leading empty lines count too.
  EXPECT_EQ(parse_error("\r\n" + request, at), errc::headers_too_large);
  HttpLimits with_crlf = at;
  with_crlf.max_header_bytes = request.size() + 2;
  EXPECT_TRUE(parse("\r\n" + request, with_crlf).done);

  // The body does not count.
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'),
                  HttpLimits{.max_header_bytes = 49, .max_headers = 100, .max_body_size = 1000})
                .body.size(),
            100U);
}

TEST(RequestParserLimits, MaxHeaderBytesIsEnforcedWithoutATerminator) {
  HttpLimits limits;
  limits.max_header_bytes = 64;
  RequestParser p(limits);
  std::error_code ec;
  const std::string endless = "GET / HTTP/1.1\r\nX: " + std::string(1000, 'a');
  EXPECT_EQ(p.feed(endless.substr(0, 64), ec), 64U);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(p.in_progress());
  p.feed(endless.substr(64), ec);
  EXPECT_EQ(ec, errc::headers_too_large);
  EXPECT_EQ(parse_error(endless, limits), errc::headers_too_large);
  // Also when the excess arrives in the same feed as the rest.
  RequestParser q(limits);
  q.feed(std::string(10000, '\r'), ec);
  EXPECT_EQ(ec, errc::bad_request_line);
  RequestParser r(limits);
  std::string empty_lines;
  for (int i = 0; i < 40; ++i) {
    empty_lines += "\r\n";
  }
  r.feed(empty_lines, ec);
  EXPECT_EQ(ec, errc::headers_too_large);
}

TEST(RequestParserLimits, MaxHeaders) {
  const auto request = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"sv;
  HttpLimits at;
  at.max_headers = 3;
  const Outcome ok = parse(request, at);
  EXPECT_TRUE(ok.done);
  EXPECT_EQ(ok.headers.size(), 3U);
  HttpLimits under;
  under.max_headers = 2;
  EXPECT_EQ(parse_error(request, under), errc::too_many_headers);
  EXPECT_EQ(status_for(make_error_code(errc::too_many_headers)), 431);

  // The default is 100.
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 1; i < 100; ++i) {
    many += "X-" + std::to_string(i) + ": v\r\n";
  }
  EXPECT_TRUE(run_whole(many + "\r\n").done);
  EXPECT_EQ(run_whole(many + "X-100: v\r\n\r\n").ec, errc::too_many_headers);
}

TEST(RequestParserLimits, MaxBodySizeWithContentLength) {
  HttpLimits limits;
  limits.max_body_size = 5;
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", limits).body, "hello");
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nhello!", limits), errc::body_too_large);
  EXPECT_EQ(status_for(make_error_code(errc::body_too_large)), 413);
  // Detected from the declared length, before any body byte arrives.
  RequestParser p(limits);
  std::error_code ec;
  p.feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\n", ec);
  EXPECT_EQ(ec, errc::body_too_large);
  // The largest value that fits in 64 bits is too large, not malformed.
  EXPECT_EQ(parse_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n"),
            errc::body_too_large);
}

TEST(RequestParserLimits, MaxBodySizeWithChunked) {
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
  HttpLimits at;
  at.max_body_size = 10;
  EXPECT_EQ(parse(head + body, at).body, "helloworld");
  HttpLimits under;
  under.max_body_size = 9;
  EXPECT_EQ(parse_error(head + body, under), errc::body_too_large);
  // Detected at the size line, before the chunk's data arrives.
  RequestParser p(under);
  std::error_code ec;
  p.feed(head + "5\r\nhello\r\n5\r\n", ec);
  EXPECT_EQ(ec, errc::body_too_large);
  EXPECT_EQ(parse_error(head + "ffffffffffffffff\r\n"), errc::body_too_large);
  EXPECT_EQ(parse_error(head + "a\r\n0123456789\r\n", under), errc::body_too_large);
}

TEST(RequestParserLimits, TrailersAreBoundedByMaxHeaderBytes) {
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  HttpLimits at;
  at.max_header_bytes = head.size();
  // Trailers (everything after the last-chunk line) exactly as long as the limit, then one byte more.
  const std::string padded = "X-T: " + std::string(head.size() - 9, 't') + "\r\n\r\n";
  ASSERT_EQ(padded.size(), head.size());
  EXPECT_TRUE(parse(head + "0\r\n" + padded, at).done);
  const std::string over = "X-T: " + std::string(head.size() - 8, 't') + "\r\n\r\n";
  EXPECT_EQ(parse_error(head + "0\r\n" + over, at), errc::headers_too_large);
  // Endless trailers are cut off.
  RequestParser p;
  std::error_code ec;
  p.feed(head + "0\r\n", ec);
  for (int i = 0; i < 2000 && !ec; ++i) {
    p.feed("X-Trailer: vvvvvvvvvv\r\n", ec);
  }
  EXPECT_EQ(ec, errc::headers_too_large);
}

// ---------------------------------------------------------------------------------------------
// Pipelining, state and storage
// ---------------------------------------------------------------------------------------------

/// Feeds `input` cut at `cuts` like a transport with a pending buffer: after each request it
/// resets the parser and feeds what is left.
std::vector<Outcome> run_pipeline(std::string_view input, const std::vector<std::size_t>& cuts) {
  RequestParser p;
  std::vector<Outcome> out;
  std::string pending;
  std::size_t pos = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t end : ends) {
    pending.append(input.substr(pos, end - pos));
    pos = end;
    while (!pending.empty()) {
      std::error_code ec;
      const std::size_t used = p.feed(pending, ec);
      if (ec) {
        out.push_back(failure(ec));
        return out;
      }
      const bool done = p.done();
      if (done) {
        out.push_back(capture(p, used));
        out.back().consumed = 0;  // depends on the split
      }
      pending.erase(0, used);
      if (!done) {
        EXPECT_TRUE(pending.empty());
        break;
      }
      p.reset();
    }
  }
  return out;
}

TEST(RequestParserPipelining, ThreeRequestsInOneBuffer) {
  const std::string r1 = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string r2 = "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  const std::string r3 = "PUT /three HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n";
  const std::string all = r1 + r2 + r3;

  RequestParser p;
  std::error_code ec;
  std::string_view rest = all;
  std::size_t used = p.feed(rest, ec);
  ASSERT_TRUE(p.done());
  EXPECT_EQ(used, r1.size());
  EXPECT_EQ(p.request().path(), "/one");
  EXPECT_EQ(p.feed(rest.substr(used), ec), 0U);  // nothing more until reset()
  rest.remove_prefix(used);
  p.reset();
  used = p.feed(rest, ec);
  ASSERT_TRUE(p.done());
  EXPECT_EQ(used, r2.size());
  EXPECT_EQ(p.request().body(), "abc");
  rest.remove_prefix(used);
  p.reset();
  used = p.feed(rest, ec);
  ASSERT_TRUE(p.done());
  EXPECT_EQ(used, r3.size());
  EXPECT_EQ(p.request().body(), "xy");
  EXPECT_FALSE(ec);

  // The same in every split, every pair of splits for the first part, and byte by byte.
  const std::vector<Outcome> expected = run_pipeline(all, {});
  ASSERT_EQ(expected.size(), 3U);
  EXPECT_EQ(expected[0].path, "/one");
  EXPECT_EQ(expected[1].body, "abc");
  EXPECT_EQ(expected[2].body, "xy");
  for (std::size_t k = 1; k < all.size(); ++k) {
    ASSERT_EQ(run_pipeline(all, {k}), expected) << "split at " << k;
  }
  std::vector<std::size_t> bytes;
  for (std::size_t k = 1; k < all.size(); ++k) {
    bytes.push_back(k);
  }
  EXPECT_EQ(run_pipeline(all, bytes), expected);
}

TEST(RequestParserPipelining, TwoGetsAndAnErrorAfterThem) {
  const std::string all = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nBAD\r\n\r\n";
  for (std::size_t k = 1; k < all.size(); ++k) {
    const auto out = run_pipeline(all, {k});
    ASSERT_EQ(out.size(), 3U);
    EXPECT_EQ(out[0].path, "/a");
    EXPECT_EQ(out[1].path, "/b");
    EXPECT_EQ(out[2].ec, errc::bad_request_line);
  }
}

TEST(RequestParserState, Flags) {
  RequestParser p;
  EXPECT_FALSE(p.in_progress());
  EXPECT_FALSE(p.header_done());
  EXPECT_FALSE(p.done());
  std::error_code ec;
  EXPECT_EQ(p.feed("", ec), 0U);
  EXPECT_FALSE(p.in_progress());
  EXPECT_EQ(p.feed("\r\n", ec), 2U);
  EXPECT_TRUE(p.in_progress());  // even an ignored empty line is part of the request
  p.feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r", ec);
  EXPECT_TRUE(p.in_progress());
  EXPECT_FALSE(p.header_done());
  p.feed("\n", ec);
  EXPECT_TRUE(p.header_done());
  EXPECT_FALSE(p.done());
  EXPECT_TRUE(p.in_progress());
  EXPECT_TRUE(p.request().has_body());
  EXPECT_EQ(p.request().body(), "");
  p.feed("a", ec);
  EXPECT_TRUE(p.in_progress());
  EXPECT_EQ(p.feed("bc", ec), 1U);
  EXPECT_TRUE(p.done());
  EXPECT_TRUE(p.header_done());
  EXPECT_FALSE(p.in_progress());
  EXPECT_EQ(p.request().body(), "ab");
  EXPECT_FALSE(ec);
  p.reset();
  EXPECT_FALSE(p.in_progress());
  EXPECT_FALSE(p.header_done());
  EXPECT_FALSE(p.done());
  EXPECT_EQ(p.request().method(), "");
  EXPECT_TRUE(p.request().headers().empty());
  EXPECT_EQ(p.request().body(), "");
}

TEST(RequestParserState, StaysFailedUntilReset) {
  RequestParser p;
  std::error_code ec;
  p.feed("GET / HTTP/9.9\r\n", ec);
  EXPECT_EQ(ec, errc::unsupported_version);
  EXPECT_FALSE(p.in_progress());
  EXPECT_FALSE(p.done());
  EXPECT_EQ(p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", ec), 0U);
  EXPECT_EQ(ec, errc::unsupported_version);
  p.reset();
  EXPECT_EQ(p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", ec), 27U);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(p.done());
}

TEST(RequestParserState, FeedClearsAStaleErrorCode) {
  RequestParser p;
  std::error_code ec = make_error_code(std::errc::io_error);
  p.feed("GET", ec);
  EXPECT_FALSE(ec);
}

TEST(RequestParserStorage, ViewsSurviveMovingTheParser) {
  const std::string input =
      "POST /a%20b?q HTTP/1.1\r\nHost: h\r\nX: y\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  auto first = std::make_unique<RequestParser>();
  std::error_code ec;
  first->feed(input, ec);
  ASSERT_TRUE(first->done());
  const Outcome before = capture(*first, 0);
  const auto method_data = first->request().method().data();
  RequestParser moved(std::move(*first));
  first.reset();  // the moved-from parser is gone: ASan would catch views into it
  EXPECT_EQ(capture(moved, 0), before);
  EXPECT_EQ(moved.request().method().data(), method_data);
  EXPECT_EQ(moved.request().path(), "/a b");
  EXPECT_EQ(moved.request().body(), "abc");

  // Move-assignment too, with a short Content-Length body.
  RequestParser a;
  a.feed("PUT /%41 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", ec);
  ASSERT_TRUE(a.done());
  RequestParser b;
  b = std::move(a);
  a.reset();
  a.feed("GET /other HTTP/1.1\r\nHost: other\r\n\r\n", ec);
  EXPECT_EQ(b.request().path(), "/A");
  EXPECT_EQ(b.request().body(), "hi");
  EXPECT_EQ(b.request().headers().get("host"), "h");
}

TEST(RequestParserStorage, ViewsSurviveFeedingTheBody) {
  RequestParser p;
  std::error_code ec;
  p.feed("POST /x%2Fy HTTP/1.1\r\nHost: example\r\nContent-Length: 100000\r\n\r\n", ec);
  ASSERT_TRUE(p.header_done());
  const auto host = *p.request().headers().get("host");
  const auto path = p.request().path();
  const std::string chunk(1000, 'z');
  for (int i = 0; i < 100; ++i) {
    p.feed(chunk, ec);
  }
  ASSERT_TRUE(p.done());
  EXPECT_EQ(host, "example");
  EXPECT_EQ(host.data(), p.request().headers().get("host")->data());
  EXPECT_EQ(path, "/x/y");
  EXPECT_EQ(p.request().body().size(), 100000U);
}

TEST(RequestParserStorage, CapacityIsReused) {
  const std::string input =
      "POST /p%41th HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  RequestParser p;
  std::error_code ec;
  p.feed(input, ec);
  ASSERT_TRUE(p.done());
  const char* method = p.request().method().data();
  const char* path = p.request().path().data();
  const char* body = p.request().body().data();
  p.reset();
  p.feed(input, ec);
  ASSERT_TRUE(p.done());
  EXPECT_EQ(p.request().method().data(), method);
  EXPECT_EQ(p.request().path().data(), path);
  EXPECT_EQ(p.request().body().data(), body);
  EXPECT_EQ(p.request().path(), "/pAth");
}

TEST(RequestParserStorage, ByteByByteIsLinear) {
  // A quadratic scan for CRLFCRLF would take minutes here.
  HttpLimits limits;
  limits.max_header_bytes = 1 << 20;
  limits.max_headers = 10000;
  std::string input = "GET / HTTP/1.1\r\nHost: h\r\n";
  while (input.size() < 512 * 1024) {
    input += "X-Filler: " + std::string(90, 'f') + "\r\n";
  }
  input += "\r\n";
  RequestParser p(limits);
  std::error_code ec;
  for (const char c : input) {
    ASSERT_EQ(p.feed(std::string_view(&c, 1), ec), 1U);
    ASSERT_FALSE(ec);
  }
  EXPECT_TRUE(p.done());
  EXPECT_GT(p.request().headers().size(), 5000U);
}

TEST(RequestParserErrorCategory, NamesAndStatuses) {
  EXPECT_STREQ(error_category().name(), "nexios.http");
  const std::error_code ec = errc::bad_chunk;
  EXPECT_EQ(ec.category(), error_category());
  EXPECT_EQ(ec.value(), static_cast<int>(errc::bad_chunk));
  const std::vector<std::pair<errc, int>> statuses = {
      {errc::bad_request_line, 400},
      {errc::bad_method, 400},
      {errc::bad_target, 400},
      {errc::unsupported_version, 505},
      {errc::bad_header, 400},
      {errc::obsolete_line_folding, 400},
      {errc::headers_too_large, 431},
      {errc::too_many_headers, 431},
      {errc::missing_host, 400},
      {errc::bad_content_length, 400},
      {errc::content_length_with_chunked, 400},
      {errc::unsupported_transfer_coding, 501},
      {errc::bad_chunk, 400},
      {errc::body_too_large, 413},
  };
  for (const auto& [e, status] : statuses) {
    EXPECT_EQ(status_for(e), status);
    EXPECT_EQ(status_for(make_error_code(e)), status);
    EXPECT_FALSE(make_error_code(e).message().empty());
    EXPECT_NE(make_error_code(e).message(), "unknown nexios.http error");
  }
  EXPECT_EQ(status_for(make_error_code(std::errc::io_error)), 400);
  EXPECT_EQ(std::error_code(99, error_category()).message(), "unknown nexios.http error");
}

}  // namespace
}  // namespace nexios::http

TEST(RequestParserCompact, ShrinksStorageAndKeepsEveryView) {
  nexios::http::RequestParser p;
  const std::string raw =
      "POST /a%20b/c?x=1&y=%C3%A9 HTTP/1.1\r\nHost: example.test\r\nX-One: 1\r\nCookie: s=abc\r\n"
      "Content-Length: 5\r\n\r\nhello";
  std::error_code ec;
  ASSERT_EQ(p.feed(raw, ec), raw.size());
  ASSERT_FALSE(ec);
  ASSERT_TRUE(p.done());
  p.compact();
  // Scribble over the input: the views must point into the parser's own, compacted storage.
  std::string copy = raw;
  std::fill(copy.begin(), copy.end(), 'Z');
  const auto& r = p.request();
  EXPECT_EQ(r.method(), "POST");
  EXPECT_EQ(r.target(), "/a%20b/c?x=1&y=%C3%A9");
  EXPECT_EQ(r.path(), "/a b/c");
  EXPECT_EQ(r.raw_path(), "/a%20b/c");
  EXPECT_EQ(r.query_string(), "x=1&y=%C3%A9");
  EXPECT_EQ(r.body(), "hello");
  ASSERT_EQ(r.headers().size(), 4u);
  EXPECT_EQ(r.headers().get("host").value_or(""), "example.test");
  EXPECT_EQ(r.headers().get("cookie").value_or(""), "s=abc");
  // The parser keeps working after a compaction.
  p.reset();
  const std::string next = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(p.feed(next, ec), next.size());
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.request().path(), "/");
}
