/// @file
/// Replays every file of fuzz/corpus/<target>/ and fuzz/regressions/<target>/ through the fuzz
/// targets' entry functions, so the seed corpus and every crash found by fuzzing stay regression
/// tests of the normal test run (any compiler, no libFuzzer). Also feeds every 0- and 1-byte input
/// and a fixed set of pseudo-random inputs.

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#ifndef NEXIOS_FUZZ_DIR
#error "NEXIOS_FUZZ_DIR must name the fuzz/ directory"
#endif

namespace nexios::fuzz {
// Test parameters print as the target name (also in the ctest test names).
inline void PrintTo(const Target& target, std::ostream* os) {
  *os << target.name;
}
}  // namespace nexios::fuzz

namespace {

namespace fs = std::filesystem;
using nexios::fuzz::Target;

[[noreturn]] void throw_failure(const std::string& message) {
  throw nexios::fuzz::CheckFailure(message);
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  if (fs::is_directory(dir)) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file() && entry.path().filename().string().front() != '.') {
        files.push_back(entry.path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Runs one input; a failed check or an escaped exception becomes a test failure naming `what`.
void replay(const Target& target, const std::vector<std::uint8_t>& bytes, const std::string& what) {
  try {
    target.run(bytes.data(), bytes.size());
  } catch (const nexios::fuzz::CheckFailure& e) {
    ADD_FAILURE() << target.name << ": " << what << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << target.name << ": " << what << ": uncaught exception: " << e.what();
  }
}

class FuzzReplay : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override { nexios::fuzz::failure_handler = &throw_failure; }
  void TearDown() override { nexios::fuzz::failure_handler = &nexios::fuzz::abort_on_failure; }
};

TEST_P(FuzzReplay, SeedCorpus) {
  const Target& target = GetParam();
  const auto files = files_in(fs::path(NEXIOS_FUZZ_DIR) / "corpus" / std::string(target.name));
  EXPECT_FALSE(files.empty()) << "no seed corpus for " << target.name;
  for (const auto& file : files) {
    replay(target, read_file(file), file.string());
  }
}

TEST_P(FuzzReplay, Regressions) {
  const Target& target = GetParam();
  for (const auto& file : files_in(fs::path(NEXIOS_FUZZ_DIR) / "regressions" / std::string(target.name))) {
    replay(target, read_file(file), file.string());
  }
}

TEST_P(FuzzReplay, TinyAndRandomInputs) {
  const Target& target = GetParam();
  replay(target, {}, "empty input");
  for (int b = 0; b < 256; ++b) {
    replay(target, {static_cast<std::uint8_t>(b)}, "byte " + std::to_string(b));
  }
  std::mt19937 rng(20240601);  // fixed: deterministic
  for (int i = 0; i < 300; ++i) {
    std::vector<std::uint8_t> bytes(rng() % 96);
    for (auto& b : bytes) {
      b = static_cast<std::uint8_t>(rng());
    }
    replay(target, bytes, "random input #" + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(nexios::fuzz::targets),
                         [](const ::testing::TestParamInfo<Target>& param_info) { return std::string(param_info.param.name); });

}  // namespace
