#pragma once
// Saved group messages: per-group deques of shared, immutable entries under the byte, count,
// group and time caps, with an LRU of groups by last write and a queue of groups without members
// (oldest empty first). A HistoryStore has no lock of its own: its owner (a registry) calls it
// with the registry's mutex held.
//
// What is counted (SavedMessage::footprint, group_overhead): see docs/channels.md.

#include <nexios/channels.hpp>

#include "transport/connection.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios::detail {

/// The object behind a HistoryEntry: the public fields, and the wire frame that holds the
/// serialized payload (data() views into it). One make_shared allocation for the object and its
/// control block, one for the frame's bytes.
struct SavedEntry : SavedMessage {
  explicit SavedEntry(transport::SharedFrame f) noexcept : frame(std::move(f)) {}

  transport::SharedFrame frame;  // the primary form: text (JSON, text) or binary (bytes, or not UTF-8)

  /// Builds an entry (outside any lock): id, timestamp, the frame. Its offset and footprint are
  /// set by HistoryStore::save.
  static std::shared_ptr<SavedEntry> make(Payload::Kind kind, std::string_view serialized);
  /// The same with the id (36 characters; another is made when it has not that size) and
  /// timestamp it was given elsewhere (a message from another server).
  static std::shared_ptr<SavedEntry> make(Payload::Kind kind, std::string_view serialized, std::string_view id,
                                          std::chrono::system_clock::time_point timestamp);

 private:
  static std::shared_ptr<SavedEntry> make_unnamed(Payload::Kind kind, std::string_view serialized);

 public:
  /// The frame to send to a channel of payload type `type`: the saved one itself when it fits
  /// (shared: `self` is the handle that keeps it alive), a new one for the other forms, or null
  /// when the entry cannot go to such a channel (a text frame that would not be valid UTF-8).
  static std::shared_ptr<const transport::SharedFrame> frame_for(const std::shared_ptr<const SavedEntry>& self,
                                                                 PayloadTypeEnum type);

  /// Whether the primary frame is what a channel of `type` gets for this entry.
  [[nodiscard]] bool primary_fits(PayloadTypeEnum type) const noexcept;

  void set_offset(std::uint64_t o) noexcept { offset_ = o; }
  void set_footprint(std::size_t f) noexcept { footprint_ = f; }
};

inline const SavedEntry& saved_entry(const SavedMessage& m) noexcept { return static_cast<const SavedEntry&>(m); }

/// Heap bytes glibc's malloc uses for a request of `n` bytes (its chunk header and rounding).
constexpr std::size_t heap_bytes(std::size_t n) noexcept {
  if (n == 0) {
    return 0;
  }
  const std::size_t chunk = (n + sizeof(std::size_t) + 15) & ~std::size_t{15};
  return chunk < 32 ? 32 : chunk;
}

/// Bytes one saved message counts against the caps (see SavedMessage::footprint).
std::size_t entry_footprint(const SavedEntry& e) noexcept;
/// The same for the entry SavedEntry::make would build for a payload of `serialized_size` bytes.
std::size_t entry_footprint_for(std::size_t serialized_size) noexcept;

class HistoryStore {
 public:
  using steady = std::chrono::steady_clock;

  /// Bytes a group's history counts on its own, whatever it holds: its map node and name, its
  /// deque's first block and map, its places in the LRU and the empty-group queue.
  static std::size_t group_overhead(std::string_view group) noexcept;

  /// Saves `entry` to `group`'s history (created with members: a group_send found the group);
  /// sets its offset and footprint and returns the offset, or nothing when it is too large to
  /// be saved at all. Evicts what the caps require. With `at` (a channel layer's copy of a
  /// shared history), the entry gets that offset instead of the next one; an offset at or below
  /// the last one saved is a repeat and is not saved (offsets may jump: what this server missed).
  std::optional<std::uint64_t> save(std::string_view group, const std::shared_ptr<SavedEntry>& entry,
                                    const ChannelLimits& limits, std::uint64_t at = 0);
  /// Puts `older` (ascending offsets, each with its offset set) in front of what `group` holds:
  /// a channel layer's shared history, loaded when this server's first member joins while newer
  /// messages may have arrived already. Entries at or above the oldest one held are skipped; it
  /// stops at the first that the caps would not take. Returns how many were added.
  std::size_t prepend(std::string_view group, const std::vector<std::shared_ptr<SavedEntry>>& older,
                      const ChannelLimits& limits);
  /// Brings every history within `limits` (after the limits changed).
  void apply_limits(const ChannelLimits& limits);

  /// The group got its first member (`true`) or lost its last (`false`, at `now`): an empty
  /// group's history expires history_ttl later unless someone joins again.
  void set_occupied(std::string_view group, bool occupied, steady::time_point now);
  /// Every group lost its members (close_all_connections).
  void set_all_empty(steady::time_point now);
  /// Forgets at most `max_work` histories that have been empty for `ttl` or longer at `now`
  /// (ttl 0: none). Returns how many went.
  std::size_t expire(steady::time_point now, std::chrono::milliseconds ttl, std::size_t max_work);
  /// When the next empty history runs out (none: nothing to expire).
  [[nodiscard]] std::optional<steady::time_point> next_expiry(std::chrono::milliseconds ttl) const;

  /// Shared handles to one group's entries (see HistoryQuery).
  [[nodiscard]] std::vector<HistoryEntry> query(std::string_view group, const HistoryQuery& q) const;
  /// Shared handles to every group's entries.
  [[nodiscard]] std::map<std::string, std::vector<HistoryEntry>> query_all() const;

  void clear();
  void clear(std::string_view group);

  [[nodiscard]] std::size_t entries() const noexcept;
  [[nodiscard]] std::size_t bytes() const noexcept { return total_; }
  [[nodiscard]] std::size_t payload_bytes() const noexcept { return payload_; }
  [[nodiscard]] std::size_t groups() const noexcept { return history_.size(); }
  [[nodiscard]] std::size_t empty_groups() const noexcept { return empties_.size(); }
  /// Counted bytes forgotten since the last take_freed().
  std::size_t take_freed() noexcept { return std::exchange(freed_, 0); }
  [[nodiscard]] std::size_t freed() const noexcept { return freed_; }

 private:
  struct History;
  using Map = std::map<std::string, History, std::less<>>;
  struct History {
    std::deque<std::shared_ptr<const SavedEntry>> entries;
    std::size_t bytes = 0;  // group overhead + entries' footprints
    std::uint64_t next_offset = 1;
    std::list<Map::iterator>::iterator lru;
    bool occupied = true;
    steady::time_point empty_since{};
    std::list<Map::iterator>::iterator empty_pos;  // valid when !occupied
  };

  void erase(Map::iterator it);
  void pop_oldest(History& h);
  void mark_empty(Map::iterator it, steady::time_point now);
  Map::iterator create(std::string_view group, const ChannelLimits& limits);

  Map history_;
  std::list<Map::iterator> lru_;      // most recently written first
  std::list<Map::iterator> empties_;  // groups without members, longest empty first
  std::size_t total_ = 0;
  std::size_t payload_ = 0;
  std::size_t freed_ = 0;  // counted bytes forgotten (evicted, expired, flushed) since take_freed()
};

}  // namespace nexios::detail
