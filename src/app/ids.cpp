// Channel and message ids: random version-4 UUIDs that nobody can predict.
//
// Ids reach clients (the chat example's user_id) and address send_to, so seeing some ids must not
// tell anything about the others. They are the kernel's random bytes (getrandom(2): the kernel's
// ChaCha20 CSPRNG, seeded and reseeded from its entropy pool), fetched in bulk into a per-thread
// buffer: one system call per 256 ids, none in the common case of a join. Each id's bytes are
// wiped from the buffer once taken, and a forked child never reuses its parent's buffered bytes.

#include "app/ids.hpp"

#include <sys/random.h>

#include <pthread.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace nexios::detail {

namespace {

// Bumped in a forked child, so that every buffer filled before the fork is discarded.
std::atomic<std::uint64_t> fork_generation{0};

void fill_random(std::uint8_t* out, std::size_t n) {
  while (n > 0) {
    const ssize_t got = ::getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    out += got;
    n -= static_cast<std::size_t>(got);
  }
}

class RandomBuffer {
 public:
  static constexpr std::size_t size = 4096;  // 256 ids per refill

  RandomBuffer() {
    static const int registered = ::pthread_atfork(nullptr, nullptr, [] {
      fork_generation.fetch_add(1, std::memory_order_relaxed);
    });
    (void)registered;
  }
  RandomBuffer(const RandomBuffer&) = delete;
  RandomBuffer& operator=(const RandomBuffer&) = delete;
  ~RandomBuffer() { std::memset(bytes_.data(), 0, bytes_.size()); }

  /// Copies the next 16 random bytes to `out` and wipes them from the buffer.
  void take16(std::uint8_t* out) {
    const std::uint64_t generation = fork_generation.load(std::memory_order_relaxed);
    if (next_ + 16 > size || generation != generation_) {
      fill_random(bytes_.data(), size);
      next_ = 0;
      generation_ = generation;
    }
    std::memcpy(out, bytes_.data() + next_, 16);
    std::memset(bytes_.data() + next_, 0, 16);
    next_ += 16;
  }

 private:
  std::array<std::uint8_t, size> bytes_{};
  std::size_t next_ = size;
  std::uint64_t generation_ = 0;
};

}  // namespace

void uuid4_into(std::array<char, 36>& out) {
  thread_local RandomBuffer random;
  std::uint8_t b[16];
  random.take16(b);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t o = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out[o++] = '-';
    }
    out[o++] = hex[b[i] >> 4];
    out[o++] = hex[b[i] & 0xF];
  }
  std::memset(b, 0, sizeof b);
}

std::string uuid4() {
  std::array<char, 36> id;
  uuid4_into(id);
  return std::string(id.data(), id.size());
}

}  // namespace nexios::detail
