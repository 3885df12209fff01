/// @file
/// parse_url and describe of the Redis connection configuration.

#include "redis/connection.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using nexios::redis::detail::describe;
using nexios::redis::detail::parse_url;

TEST(RedisUrl, Defaults) {
  const auto cfg = parse_url("redis://localhost");
  EXPECT_EQ(cfg.host, "localhost");
  EXPECT_EQ(cfg.port, 6379);
  EXPECT_EQ(cfg.db, 0);
  EXPECT_FALSE(cfg.tls);
  EXPECT_TRUE(cfg.username.empty());
  EXPECT_TRUE(cfg.password.empty());
  EXPECT_EQ(describe(cfg), "redis://localhost:6379/0");
}

TEST(RedisUrl, Everything) {
  const auto cfg = parse_url("rediss://us%40er:p%3Aa%2Fss@redis.example.com:6380/2");
  EXPECT_TRUE(cfg.tls);
  EXPECT_EQ(cfg.username, "us@er");
  EXPECT_EQ(cfg.password, "p:a/ss");
  EXPECT_EQ(cfg.host, "redis.example.com");
  EXPECT_EQ(cfg.port, 6380);
  EXPECT_EQ(cfg.db, 2);
  EXPECT_EQ(describe(cfg), "rediss://us@er:***@redis.example.com:6380/2");
}

TEST(RedisUrl, PasswordOnly) {
  auto cfg = parse_url("redis://:secret@127.0.0.1:7000/0");
  EXPECT_TRUE(cfg.username.empty());
  EXPECT_EQ(cfg.password, "secret");
  EXPECT_EQ(describe(cfg), "redis://:***@127.0.0.1:7000/0");
  cfg = parse_url("redis://secret@127.0.0.1");  // as redis-cli: no ':' means a password
  EXPECT_EQ(cfg.password, "secret");
  cfg = parse_url("redis://a:b@c@host");  // the last '@' ends the user info
  EXPECT_EQ(cfg.password, "b@c");
  EXPECT_EQ(cfg.host, "host");
}

TEST(RedisUrl, Ipv6) {
  auto cfg = parse_url("redis://[::1]:6390/3");
  EXPECT_EQ(cfg.host, "::1");
  EXPECT_EQ(cfg.port, 6390);
  EXPECT_EQ(cfg.db, 3);
  EXPECT_EQ(describe(cfg), "redis://[::1]:6390/3");
  cfg = parse_url("REDIS://[fe80::1]/");
  EXPECT_EQ(cfg.host, "fe80::1");
  EXPECT_EQ(cfg.port, 6379);
}

TEST(RedisUrl, BadUrlsSayWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"localhost:6379", "redis://"},
      {"http://localhost", "scheme"},
      {"redis://", "no host"},
      {"redis://:pw@/0", "no host"},
      {"redis://host:0", "port"},
      {"redis://host:65536", "port"},
      {"redis://host:12x", "port"},
      {"redis://host:", "empty port"},
      {"redis://host/x", "database"},
      {"redis://host/-1", "database"},
      {"redis://host/99999999999", "database"},
      {"redis://[::1", "']'"},
      {"redis://[nothost]:1", "IPv6"},
      {"redis://[::1]x", "after the IPv6"},
      {"redis://us%zzer:pw@host", "percent"},
      {"redis://user:pw%4@host", "percent"},
      {"redis://host?db=1", "query"},
  };
  for (const auto& [url, why] : cases) {
    try {
      (void)parse_url(url);
      ADD_FAILURE() << url << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << url << ": " << e.what();
    }
  }
}

}  // namespace
