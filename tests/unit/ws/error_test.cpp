#include <nexios/ws/error.hpp>
#include <nexios/ws/handshake.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace nexios::ws {
namespace {

TEST(WsError, Category) {
  EXPECT_STREQ(error_category().name(), "nexios.ws");
  EXPECT_EQ(&error_category(), &make_error_code(errc::invalid_utf8).category());
  std::set<std::string> messages;
  for (int e = static_cast<int>(errc::reserved_bits); e <= static_cast<int>(errc::message_too_big); ++e) {
    const std::error_code ec = static_cast<errc>(e);  // implicit: is_error_code_enum
    EXPECT_TRUE(ec);
    EXPECT_EQ(ec.value(), e);
    EXPECT_FALSE(ec.message().empty());
    messages.insert(ec.message());
  }
  EXPECT_EQ(messages.size(), 14u) << "every error has its own message";
  EXPECT_FALSE(error_category().message(999).empty());
  EXPECT_EQ(std::error_code(errc::bad_length), errc::bad_length);
  EXPECT_NE(std::error_code(errc::bad_length), errc::reserved_bits);
}

TEST(WsError, CloseCodes) {
  for (int e = static_cast<int>(errc::reserved_bits); e <= static_cast<int>(errc::message_too_big); ++e) {
    const auto code = static_cast<errc>(e);
    std::uint16_t expected = 1002;
    if (code == errc::invalid_utf8) {
      expected = 1007;
    } else if (code == errc::message_too_big) {
      expected = 1009;
    }
    EXPECT_EQ(close_code_for(code), expected) << e;
    EXPECT_EQ(close_code_for(make_error_code(code)), expected) << e;
  }
  EXPECT_EQ(close_code_for(std::make_error_code(std::errc::io_error)), 1011);
  EXPECT_EQ(close_code_for(make_error_code(handshake_errc::bad_key)), 1011);
}

TEST(HandshakeError, CategoryAndStatus) {
  EXPECT_STREQ(handshake_category().name(), "nexios.ws.handshake");
  std::set<std::string> messages;
  for (int e = static_cast<int>(handshake_errc::not_get); e <= static_cast<int>(handshake_errc::has_body); ++e) {
    const std::error_code ec = static_cast<handshake_errc>(e);
    EXPECT_EQ(&ec.category(), &handshake_category());
    EXPECT_FALSE(ec.message().empty());
    messages.insert(ec.message());
  }
  EXPECT_EQ(messages.size(), 9u);
  EXPECT_EQ(http_status_for(handshake_errc::not_get), 405);
  EXPECT_EQ(http_status_for(handshake_errc::bad_http_version), 400);
  EXPECT_EQ(http_status_for(handshake_errc::missing_upgrade), 426);
  EXPECT_EQ(http_status_for(handshake_errc::missing_connection), 400);
  EXPECT_EQ(http_status_for(handshake_errc::missing_host), 400);
  EXPECT_EQ(http_status_for(handshake_errc::bad_version), 426);
  EXPECT_EQ(http_status_for(handshake_errc::missing_key), 400);
  EXPECT_EQ(http_status_for(handshake_errc::bad_key), 400);
  EXPECT_EQ(http_status_for(handshake_errc::has_body), 400);
  EXPECT_NE(std::error_code(handshake_errc::not_get), std::error_code(errc::reserved_bits));
}

}  // namespace
}  // namespace nexios::ws
