// The default sink's line formats: one line per record and valid JSON whatever bytes a client
// put in a path or a header.

#include "app/log_format.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <string>

namespace nx = nexios;

namespace {

std::string json_line(std::string_view message, std::initializer_list<nx::LogField> fields = {}, std::uint64_t conn = 0,
                      std::string_view client = {}) {
  nx::LogRecord r;
  r.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1714567890123));
  r.level = nx::LogLevel::warning;
  r.component = "access";
  r.connection_id = conn;
  r.client = client;
  r.message = message;
  r.fields = {fields.begin(), fields.size()};
  fmt::memory_buffer out;
  nx::detail::format_json_line(out, r);
  return fmt::to_string(out);
}

std::string human_line(std::string_view message, std::initializer_list<nx::LogField> fields = {}) {
  nx::LogRecord r;
  r.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1714567890123));
  r.level = nx::LogLevel::info;
  r.component = "http";
  r.connection_id = 42;
  r.client = "127.0.0.1:5000";
  r.message = message;
  r.fields = {fields.begin(), fields.size()};
  fmt::memory_buffer out;
  nx::detail::format_human_line(out, r);
  return fmt::to_string(out);
}

boost::json::object parse_line(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << line;
  return ec ? boost::json::object{} : v.as_object();
}

}  // namespace

TEST(LogFormat, JsonLineHasTheFixedKeysAndTypedFields) {
  const auto o = parse_line(
      json_line("GET / 200",
                {{"status", 200}, {"bytes", std::size_t{12}}, {"ok", true}, {"ms", 0.25}, {"neg", -3}, {"path", "/"}},
                7, "127.0.0.1:5000"));
  EXPECT_EQ(o.at("ts").as_string(), "2024-05-01T12:51:30.123Z");
  EXPECT_EQ(o.at("level").as_string(), "warning");
  EXPECT_EQ(o.at("component").as_string(), "access");
  EXPECT_EQ(o.at("conn").to_number<std::int64_t>(), 7);
  EXPECT_EQ(o.at("client").as_string(), "127.0.0.1:5000");
  EXPECT_EQ(o.at("msg").as_string(), "GET / 200");
  EXPECT_EQ(o.at("status").to_number<std::int64_t>(), 200);
  EXPECT_EQ(o.at("bytes").to_number<std::int64_t>(), 12);
  EXPECT_EQ(o.at("ok").as_bool(), true);
  EXPECT_DOUBLE_EQ(o.at("ms").to_number<double>(), 0.25);
  EXPECT_EQ(o.at("neg").to_number<std::int64_t>(), -3);
  EXPECT_EQ(o.at("path").as_string(), "/");
}

TEST(LogFormat, JsonLineWithoutConnectionOmitsConnAndClient) {
  const auto o = parse_line(json_line("started"));
  EXPECT_FALSE(o.contains("conn"));
  EXPECT_FALSE(o.contains("client"));
}

TEST(LogFormat, HostileBytesStayValidJson) {
  const std::string hostile = std::string("/a\"b\\c\n\r\t\x01\x1f\x7f") + "\xff\xfe" + "\xc0\xaf" /* overlong '/' */ +
                              "\xed\xa0\x80" /* surrogate */ + "\xf4\x90\x80\x80" /* > U+10FFFF */ +
                              "\xe2\x82" /* truncated */ + "é😀" + std::string(1, '\0') + "end";
  const auto o = parse_line(json_line(hostile, {{"path", hostile}, {hostile, 1}}));
  const std::string want = std::string("/a\"b\\c\n\r\t\x01\x1f\x7f") + "\xEF\xBF\xBD\xEF\xBF\xBD" +
                           "\xEF\xBF\xBD\xEF\xBF\xBD" + "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" +
                           "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" + "\xEF\xBF\xBD\xEF\xBF\xBD" + "é😀" +
                           std::string(1, '\0') + "end";
  EXPECT_EQ(std::string(o.at("msg").as_string()), want);
  EXPECT_EQ(std::string(o.at("path").as_string()), want);
  EXPECT_TRUE(o.contains(want));
}

TEST(LogFormat, NonFiniteNumbersAreNull) {
  const auto o = parse_line(json_line("x", {{"inf", 1e308 * 10}, {"nan", std::nan("")}}));
  EXPECT_TRUE(o.at("inf").is_null());
  EXPECT_TRUE(o.at("nan").is_null());
}

TEST(LogFormat, HumanLineIsOneLineWithTimeLevelAndContext) {
  const std::string line =
      human_line("GET /x\n200", {{"path", "/a b\"c"}, {"status", 200}, {"empty", ""}, {"bad", "\xff"}});
  EXPECT_EQ(line,
            "2024-05-01T12:51:30.123Z INFO    http [c42 127.0.0.1:5000] GET /x\\n200 path=\"/a b\\\"c\" status=200 "
            "empty=\"\" bad=\xEF\xBF\xBD\n");
}
