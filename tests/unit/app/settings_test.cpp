// Settings by name (Limits, ChannelLimits): units, ranges, error messages, the environment, the
// command line, and that docs/limits.md documents every setting.

#include "support/scoped_env.hpp"

#include <nexios/command_line.hpp>
#include <nexios/nexios.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nx = nexios;
using nx::test::ScopedEnv;
using namespace std::chrono_literals;

namespace {

// The message of the std::invalid_argument `f` throws ("" if it does not throw).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

nx::CommandLine parse(std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return nx::CommandLine::parse(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST(Settings, SizesTakeDecimalAndBinaryUnits) {
  nx::Limits l;
  l.set("max_message_size", "65536");
  EXPECT_EQ(l.max_message_size, 65536u);
  l.set("max_message_size", "64KiB");
  EXPECT_EQ(l.max_message_size, 64u * 1024);
  l.set("max_message_size", "1MiB");
  EXPECT_EQ(l.max_message_size, 1024u * 1024);
  l.set("max_message_size", "5MB");
  EXPECT_EQ(l.max_message_size, 5'000'000u);
  l.set("max_message_size", " 2 GiB ");
  EXPECT_EQ(l.max_message_size, 2ULL * 1024 * 1024 * 1024);
  l.set("max_message_size", "1kib");  // units are not case-sensitive
  EXPECT_EQ(l.max_message_size, 1024u);
  l.set("max_message_size", "100B");
  EXPECT_EQ(l.max_message_size, 100u);
  EXPECT_EQ(l.get("max_message_size"), "100B");
  l.set("max_message_size", "16MiB");
  EXPECT_EQ(l.get("max_message_size"), "16MiB");
}

TEST(Settings, DurationsNeedAUnit) {
  nx::Limits l;
  l.set("ping_interval", "20s");
  EXPECT_EQ(l.ping_interval, 20s);
  l.set("ping_interval", "500ms");
  EXPECT_EQ(l.ping_interval, 500ms);
  l.set("idle_timeout", "2min");
  EXPECT_EQ(l.idle_timeout, 2min);
  l.set("drain_timeout", "1h");
  EXPECT_EQ(l.drain_timeout, 1h);
  EXPECT_EQ(l.get("idle_timeout"), "2min");
  EXPECT_EQ(l.get("ping_interval"), "500ms");
  // Zero needs no unit; "off" too where zero disables.
  l.set("ping_interval", "0");
  EXPECT_EQ(l.ping_interval, 0ms);
  l.set("idle_timeout", "off");
  EXPECT_EQ(l.idle_timeout, 0ms);
  EXPECT_EQ(l.get("idle_timeout"), "0");
  const std::string e = error_of([&] { l.set("ping_interval", "20"); });
  EXPECT_TRUE(contains(e, "ping_interval")) << e;
  EXPECT_TRUE(contains(e, "needs a unit")) << e;
  EXPECT_TRUE(contains(e, "20s")) << e;  // the suggestion
}

TEST(Settings, ChoicesByName) {
  nx::Limits l;
  l.set("slow_consumer_policy", "drop_newest");
  EXPECT_EQ(l.slow_consumer_policy, nx::Limits::SlowConsumerPolicy::drop_newest);
  l.set("rate_limit_policy", "close");
  EXPECT_EQ(l.rate_limit_policy, nx::Limits::RateLimitPolicy::close);
  EXPECT_EQ(l.get("rate_limit_policy"), "close");
  const std::string e = error_of([&] { l.set("rate_limit_policy", "explode"); });
  EXPECT_TRUE(contains(e, "throttle | drop | close")) << e;
}

TEST(Settings, EveryBadValueIsRefusedWithTheFieldAndTheAcceptedRange) {
  nx::Limits l;
  const nx::Limits before = l;
  for (const char* bad : {"", "abc", "-1", "5XB", "1.5MiB", "99999999999999999999", "12 34", "5GiB"}) {
    const std::string e = error_of([&] { l.set("max_message_size", bad); });
    EXPECT_TRUE(contains(e, "max_message_size")) << bad << ": " << e;
    EXPECT_TRUE(contains(e, "accepted: 1B to 4GiB")) << bad << ": " << e;
  }
  EXPECT_EQ(l.max_message_size, before.max_message_size);  // unchanged by a refused value
  // One past each end of a range.
  EXPECT_FALSE(error_of([&] { l.set("max_header_bytes", "63"); }).empty());
  EXPECT_TRUE(error_of([&] { l.set("max_header_bytes", "64"); }).empty());
  EXPECT_TRUE(error_of([&] { l.set("max_header_bytes", "16MiB"); }).empty());
  EXPECT_FALSE(error_of([&] { l.set("max_header_bytes", "16777217"); }).empty());
  // max_connections: 0 (or "auto") derives it from RLIMIT_NOFILE when the server starts.
  EXPECT_TRUE(error_of([&] { l.set("max_connections", "auto"); }).empty());
  EXPECT_EQ(l.max_connections, 0u);
  EXPECT_TRUE(error_of([&] { l.set("max_connections", "0"); }).empty());
  EXPECT_TRUE(error_of([&] { l.set("max_connections", "10000000"); }).empty());
  const std::string over = error_of([&] { l.set("max_connections", "10000001"); });
  EXPECT_TRUE(contains(over, "0 (auto) or 1 to 10000000")) << over;
  EXPECT_FALSE(error_of([&] { l.set("max_connections", "off"); }).empty());  // not a word it takes
  const std::string unknown = error_of([&] { l.set("max_mesage_size", "1"); });
  EXPECT_TRUE(contains(unknown, "unknown limit 'max_mesage_size'")) << unknown;
  EXPECT_TRUE(contains(unknown, "max_message_size")) << unknown;  // lists the known ones
  EXPECT_FALSE(error_of([&] { (void)l.get("nope"); }).empty());
}

TEST(Settings, ValidateChecksFieldsSetInCode) {
  nx::Limits l;
  l.max_connections = 10'000'001;
  EXPECT_TRUE(contains(error_of([&] { l.validate(); }), "max_connections"));
  l = {};
  l.ping_interval = 30s;
  l.idle_timeout = 30s;
  EXPECT_TRUE(contains(error_of([&] { l.validate(); }), "idle_timeout"));
  l.idle_timeout = 31s;
  EXPECT_NO_THROW(l.validate());
  nx::ChannelLimits c;
  c.max_groups = 0;
  EXPECT_TRUE(contains(error_of([&] { c.validate(); }), "max_groups"));
}

TEST(Settings, EnvironmentVariablesAreNamedAfterTheSetting) {
  EXPECT_EQ(nx::environment_variable_for("max_message_size"), "NEXIOS_MAX_MESSAGE_SIZE");
  {
    ScopedEnv a("NEXIOS_MAX_MESSAGE_SIZE", "1MiB");
    ScopedEnv b("NEXIOS_PING_INTERVAL", "5s");
    nx::Limits l;
    l.apply_environment();
    EXPECT_EQ(l.max_message_size, 1024u * 1024);
    EXPECT_EQ(l.ping_interval, 5s);
  }
  ScopedEnv bad("NEXIOS_IDLE_TIMEOUT", "soon");
  nx::Limits l;
  const std::string e = error_of([&] { l.apply_environment(); });
  EXPECT_TRUE(contains(e, "environment variable NEXIOS_IDLE_TIMEOUT")) << e;
  EXPECT_TRUE(contains(e, "accepted")) << e;
  ScopedEnv groups("NEXIOS_MAX_GROUPS", "7");
  nx::ChannelLimits c;
  c.apply_environment();
  EXPECT_EQ(c.max_groups, 7u);
}

TEST(CommandLine, ParsesTheCommonOptions) {
  const auto cli = parse({"--host", "0.0.0.0", "--port", "0", "--threads", "2", "--limit", "max_message_size=1MiB",
                          "--limit=max_groups=10", "--log-level", "warning"});
  EXPECT_EQ(cli.run.host, "0.0.0.0");
  EXPECT_EQ(cli.run.port, 0);
  EXPECT_EQ(cli.run.threads, 2u);
  ASSERT_EQ(cli.limits.size(), 2u);
  EXPECT_EQ(cli.limits[0].first, "max_message_size");
  EXPECT_EQ(cli.limits[1].second, "10");
  EXPECT_EQ(cli.log_level, nx::LogLevel::warning);
  EXPECT_FALSE(cli.help);
  EXPECT_TRUE(parse({"--help"}).help);
}

TEST(CommandLine, BadOptionsSayWhatIsWrong) {
  const auto err = [](std::vector<const char*> args) { return error_of([&] { (void)parse(args); }); };
  EXPECT_TRUE(contains(err({"--port", "abc"}), "--port: \"abc\" is not a port number")) << err({"--port", "abc"});
  EXPECT_TRUE(contains(err({"--port", "65536"}), "--port")) << err({"--port", "65536"});
  EXPECT_TRUE(contains(err({"--port"}), "--port needs a value"));
  EXPECT_TRUE(contains(err({"--threads", "-1"}), "--threads"));
  EXPECT_TRUE(contains(err({"--frobnicate"}), "unknown option --frobnicate"));
  EXPECT_TRUE(contains(err({"--limit", "max_message_size"}), "expected NAME=VALUE"));
  EXPECT_TRUE(contains(err({"--limit", "nope=1"}), "unknown limit 'nope'"));
  const std::string e = err({"--limit", "ping_interval=20"});
  EXPECT_TRUE(contains(e, "--limit ping_interval")) << e;
  EXPECT_TRUE(contains(e, "needs a unit")) << e;
  EXPECT_TRUE(contains(err({"--log-level", "loud"}), "debug, info, warning, error, off"));
}

TEST(CommandLine, UsageListsEveryLimitWithItsDefault) {
  const std::string usage = nx::CommandLine::usage("prog");
  for (const auto& s : nx::Limits::settings()) {
    EXPECT_TRUE(contains(usage, s.name)) << s.name;
  }
  for (const auto& s : nx::ChannelLimits::settings()) {
    EXPECT_TRUE(contains(usage, s.name)) << s.name;
  }
  EXPECT_TRUE(contains(usage, "16MiB"));  // max_message_size's default
}

TEST(Settings, DocsLimitsDocumentsEverySetting) {
  std::ifstream in(std::string(NEXIOS_SOURCE_DIR) + "/docs/limits.md");
  ASSERT_TRUE(in) << "docs/limits.md";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  for (const auto& s : nx::Limits::settings()) {
    EXPECT_TRUE(contains(doc, "`" + std::string(s.name) + "`")) << s.name << " is not in docs/limits.md";
  }
  for (const auto& s : nx::ChannelLimits::settings()) {
    EXPECT_TRUE(contains(doc, "`" + std::string(s.name) + "`")) << s.name << " is not in docs/limits.md";
  }
}
