#include "app/history.hpp"

#include "app/ids.hpp"

namespace nexios::detail {

void HistoryStore::erase(Map::iterator it) {
  total_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  history_.erase(it);
}

std::optional<std::uint64_t> HistoryStore::save(std::string_view group, const Payload& payload, std::size_t size,
                                                const ChannelLimits& limits) {
  if (size > limits.history_max_bytes || size > limits.history_max_total_bytes) {
    return std::nullopt;
  }
  auto it = history_.find(group);
  if (it == history_.end()) {
    // A new group's history: past max_groups histories, the least recently written one goes.
    while (history_.size() >= limits.max_groups && !lru_.empty()) {
      erase(history_.find(lru_.back()));
    }
    it = history_.emplace(std::string(group), History{}).first;
    lru_.push_front(it->first);
    it->second.lru = lru_.begin();
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  History& h = it->second;
  ChannelMessage m;
  m.payload = payload;
  m.id = uuid4();
  m.timestamp = std::chrono::system_clock::now();
  m.offset = h.next_offset++;
  m.size = size;
  h.entries.push_back(std::move(m));
  h.bytes += size;
  total_ += size;
  const std::uint64_t offset = h.entries.back().offset;
  // Per-group caps: the oldest go first.
  while (h.bytes > limits.history_max_bytes || (limits.history_max_count != 0 && h.entries.size() > limits.history_max_count)) {
    h.bytes -= h.entries.front().size;
    total_ -= h.entries.front().size;
    h.entries.pop_front();
  }
  // The total cap: the least recently written groups lose their oldest messages first.
  while (total_ > limits.history_max_total_bytes && !lru_.empty()) {
    auto victim = history_.find(lru_.back());
    History& v = victim->second;
    if (v.entries.empty()) {
      erase(victim);
      continue;
    }
    v.bytes -= v.entries.front().size;
    total_ -= v.entries.front().size;
    v.entries.pop_front();
    if (v.entries.empty() && &v != &h) {
      erase(victim);
    }
  }
  return offset;
}

void HistoryStore::apply_limits(const ChannelLimits& limits) {
  while (!history_.empty()) {
    bool changed = false;
    for (auto it = history_.begin(); it != history_.end(); ++it) {
      History& h = it->second;
      while (!h.entries.empty() &&
             (h.bytes > limits.history_max_bytes || (limits.history_max_count != 0 && h.entries.size() > limits.history_max_count))) {
        h.bytes -= h.entries.front().size;
        total_ -= h.entries.front().size;
        h.entries.pop_front();
        changed = true;
      }
    }
    while ((total_ > limits.history_max_total_bytes || history_.size() > limits.max_groups) && !lru_.empty()) {
      auto victim = history_.find(lru_.back());
      if (victim->second.entries.empty() || history_.size() > limits.max_groups) {
        erase(victim);
        changed = true;
        continue;
      }
      History& v = victim->second;
      v.bytes -= v.entries.front().size;
      total_ -= v.entries.front().size;
      v.entries.pop_front();
      changed = true;
    }
    if (!changed) {
      break;
    }
  }
}

std::vector<ChannelMessage> HistoryStore::copy(std::string_view group) const {
  auto it = history_.find(group);
  if (it == history_.end()) {
    return {};
  }
  return {it->second.entries.begin(), it->second.entries.end()};
}

std::map<std::string, std::vector<ChannelMessage>> HistoryStore::copy_all() const {
  std::map<std::string, std::vector<ChannelMessage>> out;
  for (const auto& [name, h] : history_) {
    out.emplace(name, std::vector<ChannelMessage>(h.entries.begin(), h.entries.end()));
  }
  return out;
}

void HistoryStore::clear() {
  history_.clear();
  lru_.clear();
  total_ = 0;
}

void HistoryStore::clear(std::string_view group) {
  auto it = history_.find(group);
  if (it != history_.end()) {
    erase(it);
  }
}

std::size_t HistoryStore::entries() const noexcept {
  std::size_t n = 0;
  for (const auto& [name, h] : history_) {
    n += h.entries.size();
  }
  return n;
}

}  // namespace nexios::detail
