// <nexios/version.hpp> (generated from the project version) agrees with itself and with CMake's
// project(VERSION), which tests/CMakeLists.txt passes in as NEXIOS_TEST_PROJECT_VERSION.

#include <nexios/nexios.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>

static_assert(NEXIOS_VERSION == NEXIOS_VERSION_MAJOR * 10000 + NEXIOS_VERSION_MINOR * 100 + NEXIOS_VERSION_PATCH);
static_assert(nexios::version() == NEXIOS_VERSION_STRING);

TEST(Version, MatchesTheProjectVersion) {
  EXPECT_EQ(std::string_view(NEXIOS_VERSION_STRING), NEXIOS_TEST_PROJECT_VERSION);
  EXPECT_EQ(nexios::version(), NEXIOS_TEST_PROJECT_VERSION);
}

TEST(Version, StringIsMajorMinorPatch) {
  const std::string expected = std::to_string(NEXIOS_VERSION_MAJOR) + "." + std::to_string(NEXIOS_VERSION_MINOR) +
                               "." + std::to_string(NEXIOS_VERSION_PATCH);
  EXPECT_EQ(NEXIOS_VERSION_STRING, expected);
}

TEST(Version, MacrosWorkInPreprocessorConditions) {
#if defined(NEXIOS_VERSION) && NEXIOS_VERSION >= 200  // version.hpp arrived in 0.2.0
  SUCCEED();
#else
  FAIL() << "NEXIOS_VERSION " << NEXIOS_VERSION;
#endif
}
