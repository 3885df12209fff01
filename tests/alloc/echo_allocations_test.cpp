// Counts heap allocations made while a warm connection echoes messages. The whole process is
// counted (operator new is replaced), so the client side is written not to allocate: frames are
// encoded once up front and replies are read into a fixed buffer.

#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> g_allocations{0};
}

// The replacements below pair malloc with free; GCC cannot see that and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace nx = nexios;

namespace {


// Sends `frame` and reads exactly `reply_size` bytes, without allocating.
void round_trip(nx::test::TestClient& c, const std::string& frame, std::size_t reply_size) {
  boost::asio::write(c.socket(), boost::asio::buffer(frame));
  static char buf[1 << 16];
  boost::asio::read(c.socket(), boost::asio::buffer(buf, reply_size));
}

}  // namespace

TEST(Allocations, WarmEchoDoesNotAllocate) {
  nx::App app;
  app.ws_route("/ws", nx::test::echo);
  nx::test::Served s(app);
  nx::test::TestClient c(s.port());
  ASSERT_EQ(c.handshake("/ws").status, 101);
  for (std::size_t size : {16u, 1000u, 20000u}) {
    const std::string frame = nx::test::TestClient::encode(nx::ws::Opcode::text, std::string(size, 'x'));
    const std::size_t reply = size + (size < 126 ? 2 : 4);
    for (int i = 0; i < 200; ++i) {  // warm up
      round_trip(c, frame, reply);
    }
    const std::size_t before = g_allocations.load();
    constexpr int n = 2000;
    for (int i = 0; i < n; ++i) {
      round_trip(c, frame, reply);
    }
    const std::size_t allocations = g_allocations.load() - before;
    std::printf("echo of %zu-byte messages: %zu allocations in %d round trips\n", size, allocations, n);
    EXPECT_EQ(allocations, 0u) << size;
  }
}
