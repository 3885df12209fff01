// PathPattern: compilation, registration errors, matching rules and converters.

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "nexios/routing/path.hpp"
#include "path_test_util.hpp"

namespace nexios::routing {
namespace {

using test::extract;
using test::one;
using test::Pairs;

// ---------------------------------------------------------------------------------------------
// converter_from_name
// ---------------------------------------------------------------------------------------------

TEST(ConverterFromName, KnownNames) {
  EXPECT_EQ(converter_from_name("str"), Converter::str);
  EXPECT_EQ(converter_from_name("int"), Converter::int_);
  EXPECT_EQ(converter_from_name("float"), Converter::float_);
  EXPECT_EQ(converter_from_name("uuid"), Converter::uuid);
  EXPECT_EQ(converter_from_name("path"), Converter::path);
  EXPECT_EQ(converter_from_name("slug"), Converter::slug);
}

TEST(ConverterFromName, UnknownNames) {
  EXPECT_FALSE(converter_from_name(""));
  EXPECT_FALSE(converter_from_name("x"));
  EXPECT_FALSE(converter_from_name("Int"));
  EXPECT_FALSE(converter_from_name("int_"));
  EXPECT_FALSE(converter_from_name("float_"));
  EXPECT_FALSE(converter_from_name(" str"));
  EXPECT_FALSE(converter_from_name("string"));
}

// ---------------------------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------------------------

TEST(PathPatternCompile, KeepsPatternAndNamesInOrder) {
  const PathPattern p("/rooms/{room_id}/items/{item:int}/{rest:path}");
  EXPECT_EQ(p.pattern(), "/rooms/{room_id}/items/{item:int}/{rest:path}");
  ASSERT_EQ(p.param_names().size(), 3U);
  EXPECT_EQ(p.param_names()[0], "room_id");
  EXPECT_EQ(p.param_names()[1], "item");
  EXPECT_EQ(p.param_names()[2], "rest");
}

TEST(PathPatternCompile, LiteralOnlyHasNoNames) {
  EXPECT_TRUE(PathPattern("/").param_names().empty());
  EXPECT_TRUE(PathPattern("/ws/chat").param_names().empty());
}

TEST(PathPatternCompile, AcceptsValidNames) {
  EXPECT_NO_THROW(PathPattern("/{a}"));
  EXPECT_NO_THROW(PathPattern("/{_}"));
  EXPECT_NO_THROW(PathPattern("/{_a1}"));
  EXPECT_NO_THROW(PathPattern("/{Room_ID_2}"));
  EXPECT_NO_THROW(PathPattern("/{a:str}/{b:int}/{c:float}/{d:uuid}/{e:path}/{f:slug}"));
}

TEST(PathPatternCompile, AdjacentParametersAreAllowed) {
  EXPECT_NO_THROW(PathPattern("/{a}{b}"));
  EXPECT_NO_THROW(PathPattern("/{a:int}{b:int}{c:path}"));
}

TEST(PathPatternCompile, OtherPunctuationIsLiteral) {
  EXPECT_NO_THROW(PathPattern("/a:b/c*d/(e)/[f]/$^.+?|\\"));
  EXPECT_TRUE(PathPattern("/a.b").matches("/a.b"));
  EXPECT_FALSE(PathPattern("/a.b").matches("/axb"));  // '.' is not a wildcard
  EXPECT_TRUE(PathPattern("/a+").matches("/a+"));
  EXPECT_FALSE(PathPattern("/a+").matches("/aa"));
  EXPECT_TRUE(PathPattern("/(x)|y").matches("/(x)|y"));
}

// Expects `pattern` to be rejected with a message that names the pattern and contains `needle`.
void expect_rejected(const std::string& pattern, const std::string& needle) {
  try {
    const PathPattern p(pattern);
    ADD_FAILURE() << "pattern '" << pattern << "' was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'" + pattern + "'"), std::string::npos) << "message does not name the pattern: " << what;
    EXPECT_NE(what.find(needle), std::string::npos) << "message lacks '" << needle << "': " << what;
  }
}

TEST(PathPatternCompile, MustStartWithSlash) {
  expect_rejected("", "must start with '/'");
  expect_rejected("ws", "must start with '/'");
  expect_rejected("{id}", "must start with '/'");
  expect_rejected(" /ws", "must start with '/'");
}

TEST(PathPatternCompile, UnknownConverter) {
  try {
    const PathPattern p("/a/{id:x}");
    ADD_FAILURE() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "Unknown path converter 'x' in '/a/{id:x}'");
  }
  expect_rejected("/a/{id:Int}", "Unknown path converter 'Int'");
  expect_rejected("/a/{id:}", "Unknown path converter ''");
  expect_rejected("/a/{id:int:x}", "Unknown path converter 'int:x'");
  expect_rejected("/a/{id: int}", "Unknown path converter ' int'");
  expect_rejected("/a/{id:string}", "Unknown path converter 'string'");
}

TEST(PathPatternCompile, DuplicatedName) {
  expect_rejected("/{id}/{id}", "duplicated parameter name 'id'");
  expect_rejected("/{id:int}/x/{id:str}", "duplicated parameter name 'id'");
  expect_rejected("/{a}{b}{a}", "duplicated parameter name 'a'");
  EXPECT_NO_THROW(PathPattern("/{id}/{Id}"));  // names are case-sensitive
}

TEST(PathPatternCompile, MalformedName) {
  expect_rejected("/{1a}", "malformed parameter name '1a'");
  expect_rejected("/{}", "malformed parameter name ''");
  expect_rejected("/{a-b}", "malformed parameter name 'a-b'");
  expect_rejected("/{:int}", "malformed parameter name ''");
  expect_rejected("/{ a}", "malformed parameter name ' a'");
  expect_rejected("/{a }", "malformed parameter name 'a '");
  expect_rejected("/{a.b}", "malformed parameter name 'a.b'");
  expect_rejected("/{a/b}", "malformed parameter name 'a/b'");
  expect_rejected("/{\xc3\xa9}", "malformed parameter name");
}

TEST(PathPatternCompile, UnbalancedOrNestedBraces) {
  expect_rejected("/{a", "unbalanced '{'");
  expect_rejected("/x/{a:int", "unbalanced '{'");
  expect_rejected("/{", "unbalanced '{'");
  expect_rejected("/a}", "unbalanced '}'");
  expect_rejected("/}", "unbalanced '}'");
  expect_rejected("/{a}}", "unbalanced '}'");
  expect_rejected("/{{a}}", "nested '{'");
  expect_rejected("/{a{b}}", "nested '{'");
  expect_rejected("/{a}/{b", "unbalanced '{'");
  // "a}" fails first on the missing leading slash.
  expect_rejected("a}", "must start with '/'");
}

// ---------------------------------------------------------------------------------------------
// Matching: literals, anchoring, trailing slash, case
// ---------------------------------------------------------------------------------------------

TEST(PathPatternMatch, LiteralOnly) {
  const PathPattern root("/");
  EXPECT_TRUE(root.matches("/"));
  EXPECT_FALSE(root.matches(""));
  EXPECT_FALSE(root.matches("//"));
  EXPECT_FALSE(root.matches("/a"));

  const PathPattern ws("/ws/chat");
  EXPECT_TRUE(ws.matches("/ws/chat"));
  EXPECT_FALSE(ws.matches("/ws/chat2"));
  EXPECT_FALSE(ws.matches("/ws/cha"));
  EXPECT_FALSE(ws.matches("/ws"));
  EXPECT_FALSE(ws.matches("x/ws/chat"));
  EXPECT_FALSE(ws.matches("/ws/chat\n"));
  EXPECT_FALSE(ws.matches(""));

  PathParams params;
  params.add("stale", "value", Converter::str);
  EXPECT_TRUE(ws.match("/ws/chat", params));
  EXPECT_TRUE(params.empty());  // cleared on success
}

TEST(PathPatternMatch, TrailingSlashIsSignificant) {
  EXPECT_FALSE(PathPattern("/ws").matches("/ws/"));
  EXPECT_FALSE(PathPattern("/ws/").matches("/ws"));
  EXPECT_TRUE(PathPattern("/ws/").matches("/ws/"));
  EXPECT_FALSE(PathPattern("/ws/item/{id:int}").matches("/ws/item/42/"));
  EXPECT_TRUE(PathPattern("/ws/item/{id:int}").matches("/ws/item/42"));
  EXPECT_FALSE(PathPattern("/ws/item/{id}").matches("/ws/item/42/"));
  EXPECT_TRUE(PathPattern("/ws/item/{id}/").matches("/ws/item/42/"));
  EXPECT_FALSE(PathPattern("/ws/item/{id}/").matches("/ws/item/42"));
}

TEST(PathPatternMatch, CaseSensitive) {
  EXPECT_FALSE(PathPattern("/ws").matches("/WS"));
  EXPECT_FALSE(PathPattern("/Ws").matches("/ws"));
  EXPECT_FALSE(PathPattern("/rooms/{id}").matches("/Rooms/1"));
  EXPECT_EQ(one("/rooms/{id}", "/rooms/ABC"), "ABC");
}

TEST(PathPatternMatch, AnchoredAtBothEnds) {
  const PathPattern p("/items/{id:int}");
  EXPECT_FALSE(p.matches("/api/items/1"));
  EXPECT_FALSE(p.matches("/items/1x"));
  EXPECT_FALSE(p.matches("/items/1/2"));
  EXPECT_FALSE(p.matches("items/1"));
}

TEST(PathPatternMatch, MultipleParametersInPatternOrder) {
  EXPECT_EQ(extract("/rooms/{room}/users/{user:int}", "/rooms/lobby/users/7"),
            (Pairs{{"room", "lobby"}, {"user", "7"}}));
  EXPECT_EQ(extract("/{z}/{a}/{m}", "/1/2/3"), (Pairs{{"z", "1"}, {"a", "2"}, {"m", "3"}}));
}

TEST(PathPatternMatch, ParametersInsideASegment) {
  EXPECT_EQ(extract("/files/{name}.{ext}", "/files/report.pdf"), (Pairs{{"name", "report"}, {"ext", "pdf"}}));
  // Greedy: the name takes the longest text that still leaves ".ext".
  EXPECT_EQ(extract("/files/{name}.{ext}", "/files/archive.tar.gz"), (Pairs{{"name", "archive.tar"}, {"ext", "gz"}}));
  EXPECT_FALSE(PathPattern("/files/{name}.{ext}").matches("/files/report"));
  EXPECT_FALSE(PathPattern("/files/{name}.{ext}").matches("/files/.pdf"));
  EXPECT_FALSE(PathPattern("/files/{name}.{ext}").matches("/files/report."));
  EXPECT_EQ(extract("/v{major:int}.{minor:int}/x", "/v1.20/x"), (Pairs{{"major", "1"}, {"minor", "20"}}));
  EXPECT_EQ(extract("/user-{id:int}-profile", "/user-42-profile"), (Pairs{{"id", "42"}}));
  EXPECT_EQ(extract("/{a}x", "/x"), std::nullopt);
  EXPECT_EQ(extract("/{a}x", "/xx"), (Pairs{{"a", "x"}}));
  EXPECT_EQ(extract("/{a}x", "/xxx"), (Pairs{{"a", "xx"}}));
}

TEST(PathPatternMatch, GreedyTieBreaking) {
  EXPECT_EQ(extract("/{a}-{b}", "/x-y-z"), (Pairs{{"a", "x-y"}, {"b", "z"}}));
  EXPECT_EQ(extract("/{p:path}/end", "/a/b/end"), (Pairs{{"p", "a/b"}}));
  EXPECT_EQ(extract("/{p:path}", "/"), (Pairs{{"p", ""}}));
  EXPECT_EQ(extract("/{a}{b}", "/xyz"), (Pairs{{"a", "xy"}, {"b", "z"}}));
  EXPECT_EQ(extract("/{a}{b}{c}", "/xyz"), (Pairs{{"a", "x"}, {"b", "y"}, {"c", "z"}}));
  EXPECT_EQ(extract("/{a}{b}{c}", "/xy"), std::nullopt);
  EXPECT_EQ(extract("/{a:int}{b:int}", "/12345"), (Pairs{{"a", "1234"}, {"b", "5"}}));
  EXPECT_EQ(extract("/{a:path}{b:path}", "/x/y"), (Pairs{{"a", "x/y"}, {"b", ""}}));
  EXPECT_EQ(extract("/{a:path}/{b:path}", "/x/y/z"), (Pairs{{"a", "x/y"}, {"b", "z"}}));
  EXPECT_EQ(extract("/{a:path}/{b}", "/x/y/z"), (Pairs{{"a", "x/y"}, {"b", "z"}}));
  EXPECT_EQ(extract("/{a}/{b:path}", "/x/y/z"), (Pairs{{"a", "x"}, {"b", "y/z"}}));
  EXPECT_EQ(extract("/{a:path}/{b:int}/{c:path}", "/1/2/3/x/4/y"),
            (Pairs{{"a", "1/2/3/x"}, {"b", "4"}, {"c", "y"}}));
  EXPECT_EQ(extract("/{a}{b:int}", "/abc123"), (Pairs{{"a", "abc12"}, {"b", "3"}}));
  EXPECT_EQ(extract("/{a:int}{b}", "/123abc"), (Pairs{{"a", "123"}, {"b", "abc"}}));
  EXPECT_EQ(extract("/{a:float}{b:int}", "/1.25"), (Pairs{{"a", "1.2"}, {"b", "5"}}));
  EXPECT_EQ(extract("/{a:float}{b}", "/1.25x"), (Pairs{{"a", "1.25"}, {"b", "x"}}));
  EXPECT_EQ(extract("/{a:float}.{b:int}", "/1.2.3"), (Pairs{{"a", "1.2"}, {"b", "3"}}));
  EXPECT_EQ(extract("/{a:float}{b}", "/1.x"), (Pairs{{"a", "1"}, {"b", ".x"}}));
  EXPECT_EQ(extract("/{a:slug}-{b:slug}", "/ab-cd-ef"), (Pairs{{"a", "ab-cd"}, {"b", "ef"}}));
  EXPECT_EQ(extract("/{a:slug}{b}", "/ab-cd-"), (Pairs{{"a", "ab-cd"}, {"b", "-"}}));
  EXPECT_EQ(extract("/{a:slug}{b:int}", "/ab-12"), (Pairs{{"a", "ab-1"}, {"b", "2"}}));
  EXPECT_EQ(extract("/{a:slug}{b:str}", "/ab-cd"), (Pairs{{"a", "ab-c"}, {"b", "d"}}));
  // The leftmost parameter backs off only as far as needed.
  EXPECT_EQ(extract("/{a}.{b}.{c}", "/a.b.c.d.e"), (Pairs{{"a", "a.b.c"}, {"b", "d"}, {"c", "e"}}));
  EXPECT_EQ(extract("/{a:path}x{b:path}x{c:path}", "/xxxx"), (Pairs{{"a", "xx"}, {"b", ""}, {"c", ""}}));
}

// ---------------------------------------------------------------------------------------------
// Converters
// ---------------------------------------------------------------------------------------------

TEST(ConverterStr, AcceptsAnythingButSlash) {
  EXPECT_EQ(one("/r/{id}", "/r/lobby"), "lobby");
  EXPECT_EQ(one("/r/{id:str}", "/r/lobby"), "lobby");
  EXPECT_EQ(one("/r/{id}", "/r/a b%20c!@$&*()-_=+;:,.<>?~"), "a b%20c!@$&*()-_=+;:,.<>?~");
  EXPECT_EQ(one("/r/{id}", "/r/\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(one("/r/{id}", std::string_view("/r/a\0b", 6)), std::string("a\0b", 3));
  EXPECT_EQ(one("/r/{id}", "/r/{x}"), "{x}");
  EXPECT_EQ(one("/r/{id}", "/r/a\nb"), "a\nb");
}

TEST(ConverterStr, RejectsEmptyAndSlash) {
  const PathPattern p("/r/{id}");
  EXPECT_FALSE(p.matches("/r/"));
  EXPECT_FALSE(p.matches("/r"));
  EXPECT_FALSE(p.matches("/r/a/b"));
  EXPECT_FALSE(p.matches("/r//"));
  EXPECT_FALSE(PathPattern("/r/{id}/x").matches("/r//x"));
}

TEST(ConverterInt, Accepts) {
  EXPECT_EQ(one("/i/{id:int}", "/i/42"), "42");
  EXPECT_EQ(one("/i/{id:int}", "/i/0"), "0");
  EXPECT_EQ(one("/i/{id:int}", "/i/007"), "007");
  EXPECT_EQ(one("/i/{id:int}", "/i/9223372036854775807"), "9223372036854775807");  // int64 max
  EXPECT_EQ(one("/i/{id:int}", "/i/00000000000000000000000009223372036854775807"),
            "00000000000000000000000009223372036854775807");
  EXPECT_EQ(one("/i/{id:int}", "/i/0000000000000000000000000000"), "0000000000000000000000000000");
}

TEST(ConverterInt, Rejects) {
  const PathPattern p("/i/{id:int}");
  EXPECT_FALSE(p.matches("/i/-1"));
  EXPECT_FALSE(p.matches("/i/+1"));
  EXPECT_FALSE(p.matches("/i/abc"));
  EXPECT_FALSE(p.matches("/i/4a"));
  EXPECT_FALSE(p.matches("/i/1.0"));
  EXPECT_FALSE(p.matches("/i/"));
  EXPECT_FALSE(p.matches("/i/ 1"));
  EXPECT_FALSE(p.matches("/i/0x10"));
  EXPECT_FALSE(p.matches("/i/\xd9\xa3"));             // ARABIC-INDIC DIGIT THREE
  EXPECT_FALSE(p.matches("/i/9223372036854775808"));  // int64 max + 1
  EXPECT_FALSE(p.matches("/i/10000000000000000000"));
  EXPECT_FALSE(p.matches("/i/99999999999999999999"));
  EXPECT_FALSE(p.matches("/i/0009223372036854775808"));
  EXPECT_FALSE(p.matches("/i/" + std::string(5000, '9')));
}

TEST(ConverterInt, OverflowLimitsCandidatesNotJustTheGreedyOne) {
  // A candidate that does not fit in int64 is not an int: the parameter backs off to one that does.
  EXPECT_EQ(extract("/{a:int}{b}", "/99999999999999999999x"), (Pairs{{"a", "999999999999999999"}, {"b", "99x"}}));
  EXPECT_EQ(extract("/{a:int}{b:int}", "/92233720368547758079"),
            (Pairs{{"a", "9223372036854775807"}, {"b", "9"}}));
  EXPECT_EQ(extract("/{a:int}{b:int}", "/92233720368547758089"),
            (Pairs{{"a", "922337203685477580"}, {"b", "89"}}));
  EXPECT_EQ(extract("/{a:int}{b:int}", "/999999999999999999999999999999999999999"), std::nullopt);
}

TEST(ConverterInt, ValueConverts) {
  PathParams params;
  ASSERT_TRUE(PathPattern("/i/{id:int}").match("/i/9223372036854775807", params));
  EXPECT_EQ(params.as<std::int64_t>("id"), INT64_MAX);
  ASSERT_TRUE(PathPattern("/i/{id:int}").match("/i/007", params));
  EXPECT_EQ(params.as<std::int64_t>("id"), 7);
  EXPECT_EQ(params.begin()->converter, Converter::int_);
}

TEST(ConverterFloat, Accepts) {
  EXPECT_EQ(one("/f/{x:float}", "/f/2"), "2");
  EXPECT_EQ(one("/f/{x:float}", "/f/2.5"), "2.5");
  EXPECT_EQ(one("/f/{x:float}", "/f/0.0"), "0.0");
  EXPECT_EQ(one("/f/{x:float}", "/f/003.1400"), "003.1400");
  EXPECT_EQ(one("/f/{x:float}", "/f/99999999999999999999999.5"), "99999999999999999999999.5");

  PathParams params;
  ASSERT_TRUE(PathPattern("/f/{x:float}").match("/f/2", params));
  EXPECT_DOUBLE_EQ(params.as<double>("x"), 2.0);
  ASSERT_TRUE(PathPattern("/f/{x:float}").match("/f/2.5", params));
  EXPECT_DOUBLE_EQ(params.as<double>("x"), 2.5);
  EXPECT_EQ(params.begin()->converter, Converter::float_);
}

TEST(ConverterFloat, Rejects) {
  const PathPattern p("/f/{x:float}");
  EXPECT_FALSE(p.matches("/f/2."));
  EXPECT_FALSE(p.matches("/f/.5"));
  EXPECT_FALSE(p.matches("/f/1e3"));
  EXPECT_FALSE(p.matches("/f/1E3"));
  EXPECT_FALSE(p.matches("/f/-1.5"));
  EXPECT_FALSE(p.matches("/f/+1.5"));
  EXPECT_FALSE(p.matches("/f/1.2.3"));
  EXPECT_FALSE(p.matches("/f/inf"));
  EXPECT_FALSE(p.matches("/f/nan"));
  EXPECT_FALSE(p.matches("/f/1,5"));
  EXPECT_FALSE(p.matches("/f/."));
  EXPECT_FALSE(p.matches("/f/"));
}

TEST(ConverterUuid, AcceptsAndNormalizes) {
  const std::string canonical = "123e4567-e89b-12d3-a456-426614174000";
  EXPECT_EQ(one("/u/{id:uuid}", "/u/123e4567-e89b-12d3-a456-426614174000"), canonical);
  EXPECT_EQ(one("/u/{id:uuid}", "/u/123e4567e89b12d3a456426614174000"), canonical);
  EXPECT_EQ(one("/u/{id:uuid}", "/u/123E4567-E89B-12D3-A456-426614174000"), canonical);
  EXPECT_EQ(one("/u/{id:uuid}", "/u/123E4567E89B12D3A456426614174000"), canonical);
  EXPECT_EQ(one("/u/{id:uuid}", "/u/123e4567-e89b12d3-A456426614174000"), canonical);  // each dash optional
  EXPECT_EQ(one("/u/{id:uuid}", "/u/ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB"), "abcdefab-cdef-abcd-efab-cdefabcdefab");
  EXPECT_EQ(one("/u/{id:uuid}", "/u/00000000-0000-0000-0000-000000000000"), "00000000-0000-0000-0000-000000000000");

  PathParams params;
  ASSERT_TRUE(PathPattern("/u/{id:uuid}/x").match("/u/123E4567E89B12D3A456426614174000/x", params));
  EXPECT_EQ(params.at("id"), canonical);
  EXPECT_EQ(params.begin()->converter, Converter::uuid);
}

TEST(ConverterUuid, Rejects) {
  const PathPattern p("/u/{id:uuid}");
  EXPECT_FALSE(p.matches("/u/123e4567-e89b-12d3-a456-42661417400"));    // one digit short
  EXPECT_FALSE(p.matches("/u/123e4567-e89b-12d3-a456-4266141740000"));  // one digit long
  EXPECT_FALSE(p.matches("/u/123e4567-e89b-12d3-a456-42661417400g"));   // not hex
  EXPECT_FALSE(p.matches("/u/123e456-7e89b-12d3-a456-426614174000"));   // dash misplaced
  EXPECT_FALSE(p.matches("/u/123e4567--e89b-12d3-a456-426614174000"));  // double dash
  EXPECT_FALSE(p.matches("/u/-123e4567-e89b-12d3-a456-426614174000"));  // leading dash
  EXPECT_FALSE(p.matches("/u/123e4567-e89b-12d3-a456-426614174000-"));  // trailing dash
  EXPECT_FALSE(p.matches("/u/{123e4567-e89b-12d3-a456-426614174000}"));
  EXPECT_FALSE(p.matches("/u/"));
  EXPECT_FALSE(p.matches("/u/lobby"));
}

TEST(ConverterUuid, TrailingDashBelongsToTheNextPiece) {
  EXPECT_EQ(extract("/{id:uuid}-{rest}", "/123e4567e89b12d3a456426614174000-x"),
            (Pairs{{"id", "123e4567-e89b-12d3-a456-426614174000"}, {"rest", "x"}}));
  EXPECT_EQ(extract("/{id:uuid}{rest}", "/123e4567e89b12d3a4564266141740001"),
            (Pairs{{"id", "123e4567-e89b-12d3-a456-426614174000"}, {"rest", "1"}}));
}

TEST(ConverterPath, AcceptsAnything) {
  EXPECT_EQ(one("/static/{p:path}", "/static/a/b/c"), "a/b/c");
  EXPECT_EQ(one("/static/{p:path}", "/static/"), "");
  EXPECT_EQ(one("/static/{p:path}", "/static//"), "/");
  EXPECT_EQ(one("/static/{p:path}", "/static/a/b/"), "a/b/");
  EXPECT_EQ(one("/static/{p:path}", "/static/a\nb"), "a\nb");
  EXPECT_EQ(one("/{p:path}", "/"), "");
  EXPECT_EQ(one("/{p:path}x", "/x"), "");
  EXPECT_FALSE(PathPattern("/static/{p:path}").matches("/static"));
  EXPECT_FALSE(PathPattern("/static/{p:path}").matches("/stat"));
  EXPECT_EQ(PathPattern("/static/{p:path}").param_names().front(), "p");
}

TEST(ConverterSlug, AcceptsAndRejects) {
  const PathPattern p("/s/{s:slug}");
  EXPECT_EQ(one("/s/{s:slug}", "/s/ab-cd"), "ab-cd");
  EXPECT_EQ(one("/s/{s:slug}", "/s/a"), "a");
  EXPECT_EQ(one("/s/{s:slug}", "/s/0"), "0");
  EXPECT_EQ(one("/s/{s:slug}", "/s/hello-world-2024"), "hello-world-2024");
  EXPECT_FALSE(p.matches("/s/Ab"));
  EXPECT_FALSE(p.matches("/s/a--b"));
  EXPECT_FALSE(p.matches("/s/-a"));
  EXPECT_FALSE(p.matches("/s/a-"));
  EXPECT_FALSE(p.matches("/s/-"));
  EXPECT_FALSE(p.matches("/s/a_b"));
  EXPECT_FALSE(p.matches("/s/a.b"));
  EXPECT_FALSE(p.matches("/s/a b"));
  EXPECT_FALSE(p.matches("/s/\xc3\xa9"));
  EXPECT_FALSE(p.matches("/s/"));
}

TEST(Converters, AreRecordedPerParameter) {
  PathParams params;
  ASSERT_TRUE(PathPattern("/{a}/{b:int}/{c:float}/{d:uuid}/{e:path}/{f:slug}")
                  .match("/x/1/2.5/123e4567e89b12d3a456426614174000/p/q/s-t", params));
  ASSERT_EQ(params.size(), 6U);
  const Converter expected[] = {Converter::str,  Converter::int_, Converter::float_,
                                Converter::uuid, Converter::path, Converter::slug};
  const char* values[] = {"x", "1", "2.5", "123e4567-e89b-12d3-a456-426614174000", "p/q", "s-t"};
  std::size_t i = 0;
  for (const auto& param : params) {
    EXPECT_EQ(param.converter, expected[i]) << i;
    EXPECT_EQ(param.value, values[i]) << i;
    ++i;
  }
}

// ---------------------------------------------------------------------------------------------
// match() output handling
// ---------------------------------------------------------------------------------------------

TEST(PathPatternMatch, ClearsParamsOnSuccess) {
  PathParams params;
  params.add("old", "1", Converter::int_);
  ASSERT_TRUE(PathPattern("/r/{id}").match("/r/x", params));
  EXPECT_EQ(params.size(), 1U);
  EXPECT_FALSE(params.contains("old"));
  EXPECT_EQ(params.at("id"), "x");
}

TEST(PathPatternMatch, LeavesParamsAloneOnFailure) {
  PathParams params;
  params.add("old", "1", Converter::int_);
  EXPECT_FALSE(PathPattern("/r/{id:int}").match("/r/x", params));
  EXPECT_FALSE(PathPattern("/q/{id:int}").match("/r/1", params));
  EXPECT_FALSE(PathPattern("/r").match("/q", params));
  ASSERT_EQ(params.size(), 1U);
  EXPECT_EQ(params.at("old"), "1");
}

TEST(PathPatternMatch, ReusableAcrossMatches) {
  const PathPattern p("/r/{id:int}/{name}");
  PathParams params;
  ASSERT_TRUE(p.match("/r/1/a", params));
  EXPECT_EQ(params.at("name"), "a");
  ASSERT_TRUE(p.match("/r/22/bb", params));
  EXPECT_EQ(params.at("id"), "22");
  EXPECT_EQ(params.at("name"), "bb");
  EXPECT_EQ(params.size(), 2U);
}

TEST(PathPatternMatch, CopiedPatternMatchesTheSame) {
  const PathPattern original("/r/{id:int}");
  const PathPattern copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  PathPattern moved = PathPattern("/r/{id:int}");
  EXPECT_TRUE(copy.matches("/r/1"));
  EXPECT_TRUE(moved.matches("/r/1"));
  EXPECT_EQ(copy.pattern(), original.pattern());
  EXPECT_EQ(copy.param_names(), original.param_names());
}

}  // namespace
}  // namespace nexios::routing
