#include <nexios/detail/json.hpp>

#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace nd = nexios::detail;

TEST(StrictJson, ParsesOrdinaryJsonAsBoostDoes) {
  for (const std::string& text : std::vector<std::string>{"{}", "[1,2.5,-3e10,\"x\",null,true]", "{\"a\":{\"b\":[1e308,-1e-400]}}",
                                 "12345678901234567890", std::string(308, '9')}) {
    boost::system::error_code ec;
    const auto v = nd::parse_json(text, ec);
    ASSERT_FALSE(ec) << text;
    EXPECT_EQ(v, boost::json::parse(text));
  }
}

TEST(StrictJson, RefusesNumbersThatDoNotFitADouble) {
  for (const std::string& text : std::vector<std::string>{"1e999999", "-1E400", "{\"a\":[0,{\"b\":1e309}]}", std::string(309, '9'),
                                 "[" + std::string(60'000, '7') + "]"}) {
    boost::system::error_code ec;
    (void)nd::parse_json(text, ec);
    EXPECT_EQ(ec, boost::json::error::exponent_overflow) << text.substr(0, 40);
  }
}

TEST(StrictJson, InvalidJsonKeepsBoostsError) {
  boost::system::error_code ec;
  (void)nd::parse_json("{\"a\":", ec);
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, boost::json::error::exponent_overflow);
}

TEST(StrictJson, SerializeRefusesNonFiniteNumbersAtAnyDepth) {
  std::string out = "untouched";
  boost::json::value ok = boost::json::parse("{\"a\":[1,2.5,{\"b\":\"c\"}]}");
  ASSERT_TRUE(nd::serialize_json(ok, out));
  EXPECT_EQ(out, "{\"a\":[1,2.5E0,{\"b\":\"c\"}]}");
  for (double bad : {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    boost::json::value v = boost::json::parse("{\"a\":[1,{\"b\":null}]}");
    v.as_object()["a"].as_array()[1].as_object()["b"] = bad;
    EXPECT_FALSE(nd::is_finite_json(v));
    EXPECT_FALSE(nd::serialize_json(v, out));
    EXPECT_TRUE(out.empty());
  }
}

TEST(StrictJson, ValidateAnswersAsParseDoes) {
  const std::vector<std::string> texts{"{}", " [1, 2.5, \"x\", null, true, {\"a\": {}}] ", "1e999999", "[0,{\"b\":-1E400}]", "{\"a\":1e9999999",
                                       std::string(309, '9'), "{\"a\":", "[1,]", "{} x", "1 2", "", "  ", "\"\\ud800\"",
                                       "\"\xff\"", std::string(33, '[') + std::string(33, ']'),
                                       std::string(32, '[') + std::string(32, ']'), "/* c */ 1", "nul", "-", "01"};
  for (const std::string& text : texts) {
    boost::system::error_code parsed;
    (void)nd::parse_json(text, parsed);
    boost::system::error_code checked;
    EXPECT_EQ(nd::validate_json(text, checked), !parsed) << text;
    EXPECT_EQ(checked, parsed) << text;
  }
}
