#pragma once
// A per-thread pool of fixed-size byte blocks. Connections borrow a block only while they have
// bytes to hold (an unfinished frame or a message not yet consumed) and give it back when idle,
// so an idle connection holds no read buffer and a warm connection allocates nothing.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nexios::transport {

class BufferPool {
 public:
  static constexpr std::size_t block_size = 16 * 1024;
  static constexpr std::size_t max_cached_blocks = 1024;

  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool() {
    for (auto* b : free_) {
      delete[] b;
    }
  }

  /// A block of `block_size` bytes.
  std::uint8_t* acquire() {
    if (free_.empty()) {
      return new std::uint8_t[block_size];
    }
    auto* b = free_.back();
    free_.pop_back();
    return b;
  }

  /// Returns memory obtained from `acquire()` (capacity == block_size) or a larger heap block
  /// (which is freed).
  void release(std::uint8_t* p, std::size_t capacity) noexcept {
    if (p == nullptr) {
      return;
    }
    if (capacity == block_size && free_.size() < max_cached_blocks) {
      try {
        free_.push_back(p);
        return;
      } catch (...) {
      }
    }
    delete[] p;
  }

  [[nodiscard]] std::size_t cached() const noexcept { return free_.size(); }

 private:
  std::vector<std::uint8_t*> free_;
};

}  // namespace nexios::transport
