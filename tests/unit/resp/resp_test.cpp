/// @file
/// The sans-I/O RESP2 parser and encoder: every type, nesting, nulls, every split point of a
/// pipelined stream, each limit passed by exactly one, each malformed case.

#include "resp/resp.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using nexios::resp::append_command;
using nexios::resp::append_value;
using nexios::resp::errc;
using nexios::resp::Parser;
using nexios::resp::ParserLimits;
using nexios::resp::Value;

struct Outcome {
  std::vector<Value> values;
  std::error_code ec;
};

// Feeds `data` in chunks of `chunk` bytes (0: all at once), collecting values until an error.
Outcome feed(std::string_view data, std::size_t chunk = 0, ParserLimits limits = {}) {
  Parser p(limits);
  Outcome out;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t n = chunk == 0 ? data.size() - pos : std::min(chunk, data.size() - pos);
    std::string_view piece = data.substr(pos, n);
    pos += n;
    while (!piece.empty()) {
      const auto r = p.parse(piece);
      piece.remove_prefix(r.consumed);
      if (r.ec) {
        out.ec = r.ec;
        return out;
      }
      if (r.complete) {
        out.values.push_back(p.take());
      } else {
        EXPECT_TRUE(piece.empty()) << "an incomplete parse must consume everything";
      }
    }
  }
  EXPECT_TRUE(p.idle() || !out.ec);
  return out;
}

Value one(std::string_view data) {
  const Outcome o = feed(data);
  EXPECT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.values.size(), 1u);
  return o.values.empty() ? Value{} : o.values.front();
}

std::error_code error_of(std::string_view data, ParserLimits limits = {}) {
  const Outcome whole = feed(data, 0, limits);
  const Outcome bytes = feed(data, 1, limits);
  EXPECT_EQ(whole.ec, bytes.ec) << "the same error whatever the split";
  return whole.ec;
}

TEST(RespParser, EveryType) {
  EXPECT_EQ(one("+OK\r\n"), Value::simple_string("OK"));
  EXPECT_EQ(one("-ERR wrong\r\n"), Value::error("ERR wrong"));
  EXPECT_TRUE(one("-ERR wrong\r\n").is_error());
  EXPECT_EQ(one(":42\r\n"), Value::number(42));
  EXPECT_EQ(one(":-9223372036854775808\r\n"), Value::number(INT64_MIN));
  EXPECT_EQ(one(":9223372036854775807\r\n"), Value::number(INT64_MAX));
  EXPECT_EQ(one("$5\r\nhello\r\n"), Value::bulk("hello"));
  EXPECT_EQ(one("$0\r\n\r\n"), Value::bulk(""));
  EXPECT_EQ(one("+\r\n"), Value::simple_string(""));
  EXPECT_EQ(one("$5\r\nhello\r\n").as_string_view(), "hello");
}

TEST(RespParser, NullBulkAndNullArray) {
  EXPECT_TRUE(one("$-1\r\n").is_null());
  EXPECT_TRUE(one("*-1\r\n").is_null());
  EXPECT_EQ(one("*0\r\n"), Value::array({}));
}

TEST(RespParser, BinarySafeBulk) {
  const std::string payload("a\r\nb\0c\r\n", 8);
  std::string wire;
  append_value(wire, Value::bulk(payload));
  EXPECT_EQ(one(wire).str, payload);
}

TEST(RespParser, NestedArrays) {
  const Value v = one("*3\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n$-1\r\n");
  ASSERT_TRUE(v.is_array());
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[0], Value::number(1));
  EXPECT_EQ(v.elements[1], Value::array({Value::bulk("a"), Value::array({})}));
  EXPECT_TRUE(v.elements[2].is_null());
}

TEST(RespParser, EverySplitPointOfAPipelinedStream) {
  const std::string stream =
      "+OK\r\n-ERR x\r\n:7\r\n$3\r\nfoo\r\n$-1\r\n*-1\r\n*2\r\n*1\r\n+in\r\n$2\r\n\r\n\r\n:-1\r\n";
  const Outcome expected = feed(stream);
  ASSERT_FALSE(expected.ec);
  ASSERT_EQ(expected.values.size(), 8u);
  for (std::size_t a = 0; a <= stream.size(); ++a) {
    for (std::size_t b = a; b <= stream.size(); ++b) {
      Parser p;
      std::vector<Value> got;
      for (std::string_view piece : {std::string_view(stream).substr(0, a), std::string_view(stream).substr(a, b - a),
                                     std::string_view(stream).substr(b)}) {
        while (!piece.empty()) {
          const auto r = p.parse(piece);
          ASSERT_FALSE(r.ec) << a << "," << b;
          piece.remove_prefix(r.consumed);
          if (r.complete) {
            got.push_back(p.take());
          }
        }
      }
      ASSERT_EQ(got, expected.values) << "split at " << a << " and " << b;
    }
  }
  EXPECT_EQ(feed(stream, 1).values, expected.values);
}

TEST(RespParser, ParseStopsAfterEachValue) {
  Parser p;
  const std::string_view two = "+a\r\n+b\r\n";
  auto r = p.parse(two);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.consumed, 4u);
  EXPECT_EQ(p.take(), Value::simple_string("a"));
  r = p.parse(two.substr(4));
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(p.take(), Value::simple_string("b"));
  EXPECT_TRUE(p.idle());
}

TEST(RespParser, BulkLimitPassedByOne) {
  ParserLimits limits;
  limits.max_bulk_bytes = 4;
  EXPECT_FALSE(error_of("$4\r\nabcd\r\n", limits));
  EXPECT_EQ(error_of("$5\r\nabcde\r\n", limits), errc::bulk_too_big);
  EXPECT_EQ(error_of("$99999999999999999999999\r\n"), errc::bulk_too_big);
}

TEST(RespParser, ArrayLimitPassedByOne) {
  ParserLimits limits;
  limits.max_array_elements = 2;
  EXPECT_FALSE(error_of("*2\r\n:1\r\n:2\r\n", limits));
  EXPECT_EQ(error_of("*3\r\n:1\r\n:2\r\n:3\r\n", limits), errc::array_too_big);
}

TEST(RespParser, DepthLimitPassedByOne) {
  ParserLimits limits;
  limits.max_depth = 3;
  EXPECT_FALSE(error_of("*1\r\n*1\r\n*1\r\n:1\r\n", limits));
  EXPECT_FALSE(error_of("*1\r\n*1\r\n*0\r\n", limits));
  EXPECT_EQ(error_of("*1\r\n*1\r\n*1\r\n*0\r\n", limits), errc::too_deep);
  EXPECT_EQ(error_of("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"),
            errc::too_deep);  // the default: 8
}

TEST(RespParser, LineLimitPassedByOne) {
  ParserLimits limits;
  limits.max_line_bytes = 5;
  EXPECT_FALSE(error_of("+abcde\r\n", limits));
  EXPECT_EQ(error_of("+abcdef\r\n", limits), errc::line_too_long);
  EXPECT_EQ(error_of("+abcdef", limits), errc::line_too_long);  // known before the CRLF comes
  EXPECT_FALSE(error_of("+abcde\r", limits));                    // still incomplete
  EXPECT_EQ(error_of(":1234567\r\n", limits), errc::line_too_long);
}

TEST(RespParser, MalformedCases) {
  EXPECT_EQ(error_of("?\r\n"), errc::bad_type);
  EXPECT_EQ(error_of("%1\r\n"), errc::bad_type);  // RESP3 map: not RESP2
  EXPECT_EQ(error_of("\r\n"), errc::bad_type);
  EXPECT_EQ(error_of("$x\r\n"), errc::bad_length);
  EXPECT_EQ(error_of("$\r\n"), errc::bad_length);
  EXPECT_EQ(error_of("$-2\r\n"), errc::bad_length);
  EXPECT_EQ(error_of("$+1\r\nx\r\n"), errc::bad_length);
  EXPECT_EQ(error_of("*1x\r\n"), errc::bad_length);
  EXPECT_EQ(error_of("*-5\r\n"), errc::bad_length);
  EXPECT_EQ(error_of(":\r\n"), errc::bad_integer);
  EXPECT_EQ(error_of(":-\r\n"), errc::bad_integer);
  EXPECT_EQ(error_of(":12a\r\n"), errc::bad_integer);
  EXPECT_EQ(error_of(":+1\r\n"), errc::bad_integer);
  EXPECT_EQ(error_of(":9223372036854775808\r\n"), errc::integer_overflow);
  EXPECT_EQ(error_of(":-9223372036854775809\r\n"), errc::integer_overflow);
  EXPECT_EQ(error_of("+OK\n"), errc::missing_crlf);
  EXPECT_EQ(error_of("+O\rK\r\n"), errc::missing_crlf);
  EXPECT_EQ(error_of("$3\r\nabcd\r\n"), errc::missing_crlf);
  EXPECT_EQ(error_of("$3\r\nabc\n\n"), errc::missing_crlf);
  EXPECT_EQ(error_of("$3\r\nabc\rX"), errc::missing_crlf);
}

TEST(RespParser, StaysFailed) {
  Parser p;
  const auto r = p.parse("!x");
  EXPECT_EQ(r.ec, errc::bad_type);
  EXPECT_TRUE(p.failed());
  const auto again = p.parse("+OK\r\n");
  EXPECT_EQ(again.ec, errc::bad_type);
  EXPECT_EQ(again.consumed, 0u);
  p.reset();
  EXPECT_TRUE(p.parse("+OK\r\n").complete);
}

TEST(RespParser, ErrorCategoryHasMessages) {
  const std::error_code ec = errc::too_deep;
  EXPECT_STREQ(ec.category().name(), "nexios.resp");
  EXPECT_NE(ec.message().find("nested"), std::string::npos);
  for (int e = static_cast<int>(errc::bad_type); e <= static_cast<int>(errc::too_deep); ++e) {
    EXPECT_NE(make_error_code(static_cast<errc>(e)).message(), "unknown RESP error");
  }
}

TEST(RespEncoder, AppendCommandIsBinarySafe) {
  std::string out;
  append_command(out, {"SET", "k", std::string_view("a\r\n\0b", 5)});
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\n\0b\r\n", 31));
  const std::vector<std::string_view> args{"PING"};
  out.clear();
  append_command(out, args);
  EXPECT_EQ(out, "*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(one(out), Value::array({Value::bulk("PING")}));
}

// A command written argument by argument (an argument in pieces too) is the same bytes as
// append_command's.
TEST(RespEncoder, CommandWrittenInPlaceEqualsAppendCommand) {
  std::string expected;
  append_command(expected, {"PUBLISH", "app:g:room", std::string_view("head|0|tail\r\n\0x", 16), ""});
  std::string out;
  nexios::resp::begin_command(out, 4);
  nexios::resp::append_arg(out, "PUBLISH");
  nexios::resp::begin_arg(out, 10);
  out.append("app:").append("g:").append("room");
  nexios::resp::end_arg(out);
  nexios::resp::begin_arg(out, 16);
  out.append("head|0|tail").append(std::string_view("\r\n\0x", 5));
  nexios::resp::end_arg(out);
  nexios::resp::append_arg(out, "");
  EXPECT_EQ(out, expected);
  EXPECT_EQ(one(out), Value::array({Value::bulk("PUBLISH"), Value::bulk("app:g:room"),
                                    Value::bulk(std::string("head|0|tail\r\n\0x", 16)), Value::bulk("")}));
}

TEST(RespEncoder, AppendValueRoundTrips) {
  const Value v = Value::array({Value::simple_string("OK"), Value::error("ERR e"), Value::number(-3),
                                Value::bulk(std::string("\0\r\n", 3)), Value::null(),
                                Value::array({Value::array({})})});
  std::string wire;
  append_value(wire, v);
  EXPECT_EQ(one(wire), v);
  EXPECT_EQ(nexios::resp::to_debug_string(Value::array({Value::bulk("a"), Value::number(1), Value::null()})),
            "[\"a\", (integer) 1, (nil)]");
}

}  // namespace

TEST(RespPush, MatchPushReadsMessagesInPlace) {
  using nexios::resp::match_push;
  using nexios::resp::PushView;
  const std::string message = "*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$5\r\nhe\r\no\r\n";
  const std::string pmessage = "*4\r\n$8\r\npmessage\r\n$2\r\nr*\r\n$4\r\nroom\r\n$0\r\n\r\n";
  const std::string stream = message + pmessage + ":1\r\n";
  PushView v;
  ASSERT_EQ(match_push(stream, {}, v), message.size());
  EXPECT_EQ(v.kind, "message");
  EXPECT_EQ(v.channel, "room");
  EXPECT_EQ(v.payload, "he\r\no");  // binary safe
  EXPECT_EQ(one(message), Value::array({Value::bulk("message"), Value::bulk("room"), Value::bulk("he\r\no")}));
  ASSERT_EQ(match_push(std::string_view(stream).substr(message.size()), {}, v), pmessage.size());
  EXPECT_EQ(v.kind, "pmessage");
  EXPECT_EQ(v.pattern, "r*");
  EXPECT_EQ(v.channel, "room");
  EXPECT_EQ(v.payload, "");
  ASSERT_EQ(match_push("*3\r\n$8\r\nsmessage\r\n$1\r\na\r\n$1\r\nb\r\n", {}, v), 32u);
  EXPECT_EQ(v.kind, "smessage");
}

TEST(RespPush, AnythingElseIsLeftToTheParser) {
  using nexios::resp::match_push;
  nexios::resp::PushView v;
  const std::string message = "*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$2\r\nhi\r\n";
  for (std::size_t cut = 0; cut < message.size(); ++cut) {
    EXPECT_EQ(match_push(std::string_view(message).substr(0, cut), {}, v), 0u) << "incomplete at " << cut;
  }
  for (const std::string& other : std::vector<std::string>{
           ":1\r\n", "+OK\r\n", "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",      // a confirmation
           "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n+b\r\n",                              // a simple string
           "*3\r\n$07\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n",                        // a leading zero
           "*03\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n",                        //
           "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nbX\r\n",                        // a wrong length
           "*3\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n",                           // no CR
           "*4\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",              // four parts
           "*3\r\n$8\r\npmessage\r\n$1\r\na\r\n$1\r\nb\r\n",                        // three parts
           "*2\r\n$7\r\nmessage\r\n$1\r\na\r\n", "*-1\r\n",
           "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$99999999999\r\n"}) {
    EXPECT_EQ(match_push(other, {}, v), 0u) << other;
  }
  // Past a limit: the parser's error decides, not the fast path.
  ParserLimits small;
  small.max_bulk_bytes = 1;
  EXPECT_EQ(match_push(message, small, v), 0u);
  EXPECT_EQ(error_of(message, small), errc::bulk_too_big);
  small = {};
  small.max_array_elements = 2;
  EXPECT_EQ(match_push(message, small, v), 0u);
}
