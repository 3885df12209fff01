// PathParams: lookup, conversion and iteration.

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "nexios/routing/path.hpp"

namespace nexios::routing {
namespace {

PathParams sample() {
  PathParams params;
  EXPECT_TRUE(PathPattern("/rooms/{room_id}/items/{id:int}/{ratio:float}/{rest:path}")
                  .match("/rooms/lobby/items/42/2.5/a/b", params));
  return params;
}

TEST(PathParams, EmptyByDefault) {
  const PathParams params;
  EXPECT_TRUE(params.empty());
  EXPECT_EQ(params.size(), 0U);
  EXPECT_EQ(params.begin(), params.end());
  EXPECT_FALSE(params.get("x"));
  EXPECT_FALSE(params.contains("x"));
  EXPECT_THROW((void)params.at("x"), std::out_of_range);
}

TEST(PathParams, Get) {
  const PathParams params = sample();
  EXPECT_EQ(params.get("room_id"), "lobby");
  EXPECT_EQ(params.get("id"), "42");
  EXPECT_EQ(params.get("ratio"), "2.5");
  EXPECT_EQ(params.get("rest"), "a/b");
  EXPECT_EQ(params.get("missing"), std::nullopt);
  EXPECT_EQ(params.get("ROOM_ID"), std::nullopt);  // case-sensitive
  EXPECT_EQ(params.get(""), std::nullopt);
}

TEST(PathParams, AtAndSubscript) {
  const PathParams params = sample();
  EXPECT_EQ(params.at("room_id"), "lobby");
  EXPECT_EQ(params["id"], "42");
  EXPECT_THROW((void)params.at("missing"), std::out_of_range);
  EXPECT_THROW((void)params["missing"], std::out_of_range);
  try {
    (void)params.at("nope");
    ADD_FAILURE();
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos) << e.what();
  }
}

TEST(PathParams, Contains) {
  const PathParams params = sample();
  EXPECT_TRUE(params.contains("room_id"));
  EXPECT_TRUE(params.contains("rest"));
  EXPECT_FALSE(params.contains("room"));
}

TEST(PathParams, EmptyPathValueIsPresent) {
  PathParams params;
  ASSERT_TRUE(PathPattern("/static/{p:path}").match("/static/", params));
  EXPECT_TRUE(params.contains("p"));
  EXPECT_EQ(params.get("p"), "");
  EXPECT_EQ(params.at("p"), "");
}

TEST(PathParams, AsNumbers) {
  const PathParams params = sample();
  EXPECT_EQ(params.as<std::int64_t>("id"), 42);
  EXPECT_EQ(params.as<int>("id"), 42);
  EXPECT_EQ(params.as<std::uint16_t>("id"), 42U);
  EXPECT_DOUBLE_EQ(params.as<double>("ratio"), 2.5);
  EXPECT_FLOAT_EQ(params.as<float>("ratio"), 2.5F);
  EXPECT_DOUBLE_EQ(params.as<double>("id"), 42.0);
}

TEST(PathParams, AsStrings) {
  const PathParams params = sample();
  EXPECT_EQ(params.as<std::string>("room_id"), "lobby");
  EXPECT_EQ(params.as<std::string_view>("rest"), "a/b");
}

TEST(PathParams, AsErrors) {
  const PathParams params = sample();
  EXPECT_THROW((void)params.as<int>("missing"), std::out_of_range);
  EXPECT_THROW((void)params.as<int>("room_id"), std::invalid_argument);  // "lobby"
  EXPECT_THROW((void)params.as<int>("ratio"), std::invalid_argument);    // "2.5": trailing text
  EXPECT_THROW((void)params.as<int>("rest"), std::invalid_argument);

  PathParams big;
  ASSERT_TRUE(PathPattern("/{n:int}").match("/9223372036854775807", big));
  EXPECT_THROW((void)big.as<std::int32_t>("n"), std::invalid_argument);  // out of range for int32
  EXPECT_EQ(big.as<std::int64_t>("n"), INT64_MAX);
}

TEST(PathParams, IterationInPatternOrder) {
  const PathParams params = sample();
  ASSERT_EQ(params.size(), 4U);
  std::vector<std::string> names;
  std::vector<std::string> values;
  std::vector<Converter> converters;
  for (const auto& p : params) {
    names.push_back(p.name);
    values.push_back(p.value);
    converters.push_back(p.converter);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"room_id", "id", "ratio", "rest"}));
  EXPECT_EQ(values, (std::vector<std::string>{"lobby", "42", "2.5", "a/b"}));
  EXPECT_EQ(converters, (std::vector<Converter>{Converter::str, Converter::int_, Converter::float_, Converter::path}));
}

TEST(PathParams, AddAndClear) {
  PathParams params;
  params.add("a", "1", Converter::int_);
  params.add("b", "x", Converter::str);
  EXPECT_EQ(params.size(), 2U);
  EXPECT_FALSE(params.empty());
  EXPECT_EQ(params.as<int>("a"), 1);
  EXPECT_EQ(params.at("b"), "x");
  params.clear();
  EXPECT_TRUE(params.empty());
  EXPECT_FALSE(params.contains("a"));
}

}  // namespace
}  // namespace nexios::routing
