// Channel ids (src/app/ids.cpp): version-4 UUIDs from the kernel's CSPRNG, all different, every
// random bit random, none shared with a forked child.

#include "app/ids.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

int hex_value(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

/// The 128 bits of a UUID's text form, most significant first.
std::array<int, 128> bits_of(const std::string& id) {
  std::array<int, 128> bits{};
  std::size_t k = 0;
  for (const char c : id) {
    if (c == '-') {
      continue;
    }
    const int v = hex_value(c);
    for (int b = 3; b >= 0; --b) {
      bits[k++] = (v >> b) & 1;
    }
  }
  return bits;
}

}  // namespace

TEST(Ids, AreVersion4UuidsInTheirTextForm) {
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 1000; ++i) {
    const std::string id = nexios::detail::uuid4();
    ASSERT_EQ(id.size(), 36u);
    ASSERT_TRUE(std::regex_match(id, uuid)) << id;
  }
}

TEST(Ids, AreAllDifferentAcrossThreadsAndRefills) {
  // 8 threads × 5000 ids: many refills of every thread's buffer.
  std::mutex mutex;
  std::unordered_set<std::string> seen;
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      mine.reserve(5000);
      for (int i = 0; i < 5000; ++i) {
        mine.push_back(nexios::detail::uuid4());
      }
      std::lock_guard lock(mutex);
      seen.insert(mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(seen.size(), 40000u);
  std::printf("40000 ids on 8 threads in %.1f ms\n", std::chrono::duration<double, std::milli>(elapsed).count());
}

// Each of the 122 random bits is set in about half of the ids (a stuck or biased bit would show:
// with 20000 ids the share of ones stays within 0.5 ± 0.03 with overwhelming probability).
TEST(Ids, EveryRandomBitIsRandom) {
  constexpr int n = 20000;
  std::array<int, 128> ones{};
  for (int i = 0; i < n; ++i) {
    const auto bits = bits_of(nexios::detail::uuid4());
    for (std::size_t b = 0; b < 128; ++b) {
      ones[b] += bits[b];
    }
  }
  for (std::size_t b = 0; b < 128; ++b) {
    const bool fixed = (b >= 48 && b < 52) || b == 64 || b == 65;  // version 0100, variant 10
    if (fixed) {
      continue;
    }
    const double share = static_cast<double>(ones[b]) / n;
    EXPECT_GT(share, 0.47) << "bit " << b;
    EXPECT_LT(share, 0.53) << "bit " << b;
  }
}

// A forked child starts from the parent's memory, buffer included: it must not hand out the ids
// the parent is about to.
TEST(Ids, AForkedChildDoesNotRepeatItsParent) {
  (void)nexios::detail::uuid4();  // the buffer is full of not yet used bytes
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string id = nexios::detail::uuid4();
    const auto written = ::write(fds[1], id.data(), id.size());
    ::_exit(written == static_cast<ssize_t>(id.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  const std::string mine = nexios::detail::uuid4();
  char buf[64];
  std::string child;
  for (ssize_t r; (r = ::read(fds[0], buf, sizeof buf)) > 0;) {
    child.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(child.size(), 36u);
  EXPECT_NE(child, mine);
}
