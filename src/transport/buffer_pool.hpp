#pragma once
// A per-thread pool of byte blocks in power-of-two size classes (16 KiB .. 1 MiB). Connections
// borrow a block only while they hold bytes (an unfinished frame or a message not yet consumed)
// and give it back when idle, so an idle connection holds no read buffer and a warm connection
// allocates nothing, also for messages larger than one block. Larger blocks go to the heap.

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nexios::transport {

class BufferPool {
 public:
  static constexpr std::size_t block_size = 16 * 1024;  ///< the smallest class
  static constexpr std::size_t classes = 7;             ///< 16 KiB, 32 KiB, ..., 1 MiB
  static constexpr std::size_t max_cached_bytes = 32 * 1024 * 1024;  ///< per thread

  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool() {
    for (auto& list : free_) {
      for (auto* b : list) {
        delete[] b;
      }
    }
  }

  /// The capacity a request for `size` bytes gets: the smallest class that fits, or `size`
  /// itself beyond the largest class.
  static std::size_t capacity_for(std::size_t size) noexcept {
    std::size_t cap = block_size;
    for (std::size_t c = 0; c < classes; ++c, cap *= 2) {
      if (size <= cap) {
        return cap;
      }
    }
    return size;
  }

  /// A block of `capacity_for(size)` bytes.
  std::uint8_t* acquire(std::size_t size = block_size) {
    const std::size_t cap = capacity_for(size);
    const int c = class_of(cap);
    if (c >= 0 && !free_[static_cast<std::size_t>(c)].empty()) {
      auto& list = free_[static_cast<std::size_t>(c)];
      auto* b = list.back();
      list.pop_back();
      cached_bytes_ -= cap;
      return b;
    }
    return new std::uint8_t[cap];
  }

  /// Returns a block obtained from `acquire` with its capacity.
  void release(std::uint8_t* p, std::size_t capacity) noexcept {
    if (p == nullptr) {
      return;
    }
    const int c = class_of(capacity);
    if (c >= 0 && cached_bytes_ + capacity <= max_cached_bytes) {
      try {
        free_[static_cast<std::size_t>(c)].push_back(p);
        cached_bytes_ += capacity;
        return;
      } catch (...) {
      }
    }
    delete[] p;
  }

  [[nodiscard]] std::size_t cached_bytes() const noexcept { return cached_bytes_; }

 private:
  static int class_of(std::size_t capacity) noexcept {
    std::size_t cap = block_size;
    for (std::size_t c = 0; c < classes; ++c, cap *= 2) {
      if (capacity == cap) {
        return static_cast<int>(c);
      }
    }
    return -1;
  }

  std::array<std::vector<std::uint8_t*>, classes> free_;
  std::size_t cached_bytes_ = 0;
};

}  // namespace nexios::transport
