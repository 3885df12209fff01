#pragma once
// Saved group messages: per-group deques under the byte, count and group caps, with an LRU of
// groups by last write. A HistoryStore has no lock of its own: its owner (a registry) calls it
// with the registry's mutex held.

#include <nexios/channels.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nexios::detail {

class HistoryStore {
 public:
  /// Saves `payload` (whose serialized size is `size`) to `group`'s history; returns its offset,
  /// or nothing when it is too large to be saved at all. Evicts what the caps require.
  std::optional<std::uint64_t> save(std::string_view group, const Payload& payload, std::size_t size,
                                    const ChannelLimits& limits);
  /// Brings every history within `limits` (after the limits changed).
  void apply_limits(const ChannelLimits& limits);

  /// Copies of one group's entries, oldest first (empty for an unknown group).
  [[nodiscard]] std::vector<ChannelMessage> copy(std::string_view group) const;
  /// Copies of every group's entries.
  [[nodiscard]] std::map<std::string, std::vector<ChannelMessage>> copy_all() const;

  void clear();
  void clear(std::string_view group);

  [[nodiscard]] std::size_t entries() const noexcept;
  [[nodiscard]] std::size_t bytes() const noexcept { return total_; }

 private:
  struct History {
    std::deque<ChannelMessage> entries;
    std::size_t bytes = 0;
    std::uint64_t next_offset = 1;
    std::list<std::string>::iterator lru;
  };
  using Map = std::map<std::string, History, std::less<>>;

  void erase(Map::iterator it);

  Map history_;
  std::list<std::string> lru_;  // most recently written first
  std::size_t total_ = 0;
};

}  // namespace nexios::detail
