#include "app/history.hpp"

#include "app/ids.hpp"

#include <nexios/detail/utf8.hpp>
#include <nexios/ws/frame.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cstring>

namespace nexios {

// ---- SavedMessage ---------------------------------------------------------------------------------

Payload SavedMessage::payload() const {
  switch (kind_) {
    case Payload::Kind::bytes:
      return Payload::bytes(std::string(data_));
    case Payload::Kind::text:
      return Payload(std::string(data_));
    case Payload::Kind::json: {
      boost::json::parse_options options;
      options.allow_invalid_utf8 = true;  // what was saved, as it was saved
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(data_, ec, {}, options);
      if (ec) {
        return Payload::bytes(std::string(data_));  // cannot happen: data_ is serialized JSON
      }
      return Payload(std::move(v));
    }
  }
  return Payload();
}

ChannelMessage SavedMessage::message() const {
  ChannelMessage m;
  m.payload = payload();
  m.id = std::string(id());
  m.timestamp = timestamp_;
  m.offset = offset_;
  m.size = data_.size();
  return m;
}

namespace detail {

// ---- SavedEntry -----------------------------------------------------------------------------------

std::shared_ptr<SavedEntry> SavedEntry::make(Payload::Kind kind, std::string_view serialized, std::string_view id,
                                             std::chrono::system_clock::time_point timestamp) {
  auto e = make_unnamed(kind, serialized);
  if (id.size() == e->id_.size()) {
    std::memcpy(e->id_.data(), id.data(), id.size());
  } else {
    uuid4_into(e->id_);
  }
  e->timestamp_ = timestamp;
  return e;
}

std::shared_ptr<SavedEntry> SavedEntry::make(Payload::Kind kind, std::string_view serialized) {
  auto e = make_unnamed(kind, serialized);
  e->timestamp_ = std::chrono::system_clock::now();
  uuid4_into(e->id_);
  return e;
}

// The entry without its id and time.
std::shared_ptr<SavedEntry> SavedEntry::make_unnamed(Payload::Kind kind, std::string_view serialized) {
  const bool valid_utf8 = kind != Payload::Kind::bytes && detail::is_valid_utf8(serialized);
  // A text frame only for valid UTF-8 (so encode never refuses it), binary otherwise.
  auto frame = transport::SharedFrame::encode(valid_utf8 ? ws::Opcode::text : ws::Opcode::binary, serialized);
  auto e = std::make_shared<SavedEntry>(std::move(*frame));
  e->kind_ = kind;
  e->valid_utf8_ = valid_utf8;
  e->data_ = e->frame.payload();
  return e;
}

bool SavedEntry::primary_fits(PayloadTypeEnum type) const noexcept {
  switch (kind_) {
    case Payload::Kind::bytes:
      return true;  // binary for every channel
    case Payload::Kind::json:
      // Compact JSON in a text frame for JSON and TEXT channels, in a binary one for BYTES.
      return valid_utf8_ ? type != PayloadTypeEnum::BYTES : type == PayloadTypeEnum::BYTES;
    case Payload::Kind::text:
      // JSON channels get the text as a JSON string, BYTES channels in a binary frame.
      return valid_utf8_ ? type == PayloadTypeEnum::TEXT : type == PayloadTypeEnum::BYTES;
  }
  return false;
}

std::shared_ptr<const transport::SharedFrame> SavedEntry::frame_for(const std::shared_ptr<const SavedEntry>& self,
                                                                     PayloadTypeEnum type) {
  const SavedEntry& e = *self;
  if (e.primary_fits(type)) {
    return {self, &e.frame};  // shares the entry's control block: no copy, no allocation
  }
  auto make = [](ws::Opcode opcode, std::string_view payload) { return transport::SharedFrame::make(opcode, payload); };
  if (type == PayloadTypeEnum::BYTES) {
    return make(ws::Opcode::binary, e.data_);
  }
  if (!e.valid_utf8_) {
    return nullptr;  // would be a text frame that is not valid UTF-8
  }
  if (e.kind_ == Payload::Kind::text && type == PayloadTypeEnum::JSON) {
    return make(ws::Opcode::text, boost::json::serialize(boost::json::value(boost::json::string(e.data_))));
  }
  return make(ws::Opcode::text, e.data_);
}

namespace {
// The make_shared block (the object and its control block: a vtable pointer and two counts),
// the frame's buffer (header + payload), and the entry's slot in its group's deque.
constexpr std::size_t footprint_of_frame(std::size_t frame_bytes) noexcept {
  return heap_bytes(sizeof(SavedEntry) + 2 * sizeof(void*)) + heap_bytes(frame_bytes) +
         sizeof(std::shared_ptr<const SavedEntry>);
}
}  // namespace

std::size_t entry_footprint(const SavedEntry& e) noexcept { return footprint_of_frame(e.frame.bytes().capacity()); }

std::size_t entry_footprint_for(std::size_t serialized_size) noexcept {
  std::uint8_t header[ws::max_frame_header_size];
  // SavedEntry::make reserves exactly the header and the payload; the opcode does not change the size.
  return footprint_of_frame(ws::encode_frame_header(header, ws::Opcode::binary, serialized_size) + serialized_size);
}

// ---- HistoryStore ---------------------------------------------------------------------------------

namespace {
// An std::map node: its red-black header (colour, parent, left, right) and the value.
template <class Value>
constexpr std::size_t map_node_bytes = 4 * sizeof(void*) + sizeof(Value);
// An std::list node holding one pointer-sized value.
constexpr std::size_t list_node_bytes = 3 * sizeof(void*);
// libstdc++'s deque: a map of 8 block pointers and one 512-byte block, allocated at the first entry.
constexpr std::size_t deque_base_bytes = 8 * sizeof(void*);
constexpr std::size_t deque_block_bytes = 512;
}  // namespace

std::size_t HistoryStore::group_overhead(std::string_view group) noexcept {
  const std::size_t key_heap = group.size() > 15 ? heap_bytes(group.size() + 1) : 0;  // beyond the SSO buffer
  return heap_bytes(map_node_bytes<Map::value_type>) + key_heap + heap_bytes(deque_base_bytes) +
         heap_bytes(deque_block_bytes) + 2 * heap_bytes(list_node_bytes);
}

void HistoryStore::erase(Map::iterator it) {
  History& h = it->second;
  total_ -= h.bytes;
  freed_ += h.bytes;
  for (const auto& e : h.entries) {
    payload_ -= e->size();
  }
  lru_.erase(h.lru);
  if (!h.occupied) {
    empties_.erase(h.empty_pos);
  }
  history_.erase(it);
}

void HistoryStore::pop_oldest(History& h) {
  const auto& e = h.entries.front();
  h.bytes -= e->footprint();
  total_ -= e->footprint();
  freed_ += e->footprint();
  payload_ -= e->size();
  h.entries.pop_front();
}

void HistoryStore::mark_empty(Map::iterator it, steady::time_point now) {
  History& h = it->second;
  if (!h.occupied) {
    return;
  }
  h.occupied = false;
  h.empty_since = now;
  h.empty_pos = empties_.insert(empties_.end(), it);
}

HistoryStore::Map::iterator HistoryStore::create(std::string_view group, const ChannelLimits& limits) {
  // Past history_max_groups histories: the longest empty one goes, or the least recently written.
  while (history_.size() >= limits.history_max_groups && !lru_.empty()) {
    erase(empties_.empty() ? lru_.back() : empties_.front());
  }
  auto it = history_.emplace(std::string(group), History{}).first;
  History& h = it->second;
  h.lru = lru_.insert(lru_.begin(), it);
  h.bytes = group_overhead(group);
  total_ += h.bytes;
  return it;
}

std::optional<std::uint64_t> HistoryStore::save(std::string_view group, const std::shared_ptr<SavedEntry>& entry,
                                                const ChannelLimits& limits, std::uint64_t at) {
  entry->set_footprint(entry_footprint(*entry));
  const std::size_t need = entry->footprint() + group_overhead(group);
  if (need > limits.history_max_bytes || need > limits.history_max_total_bytes) {
    return std::nullopt;
  }
  auto it = history_.find(group);
  if (it == history_.end()) {
    it = create(group, limits);
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    if (!it->second.occupied) {  // a group_send found members: the group has some again
      empties_.erase(it->second.empty_pos);
      it->second.occupied = true;
    }
  }
  History& h = it->second;
  if (at != 0) {
    if (at < h.next_offset) {
      return std::nullopt;  // a repeat (or older than what is kept)
    }
    h.next_offset = at;
  }
  entry->set_offset(h.next_offset++);
  h.entries.push_back(entry);
  h.bytes += entry->footprint();
  total_ += entry->footprint();
  payload_ += entry->size();
  // Per-group caps: the oldest go first (the new entry fits on its own, checked above).
  while (h.entries.size() > 1 && (h.bytes > limits.history_max_bytes ||
                                  (limits.history_max_count != 0 && h.entries.size() > limits.history_max_count))) {
    pop_oldest(h);
  }
  // The total cap: the least recently written groups lose their oldest messages first, and go
  // when they hold none. `h` is the most recently written, hence the last to lose anything.
  while (total_ > limits.history_max_total_bytes && !lru_.empty()) {
    auto victim = lru_.back();
    History& v = victim->second;
    if (&v == &h) {
      if (h.entries.size() <= 1) {
        break;  // cannot happen: the new entry and its group fit the cap on their own
      }
      pop_oldest(h);
      continue;
    }
    if (!v.entries.empty()) {
      pop_oldest(v);
    }
    if (v.entries.empty()) {
      erase(victim);
    }
  }
  return entry->offset();
}

std::size_t HistoryStore::prepend(std::string_view group, const std::vector<std::shared_ptr<SavedEntry>>& older,
                                 const ChannelLimits& limits) {
  std::size_t added = 0;
  auto it = history_.find(group);
  if (it == history_.end()) {
    for (const auto& e : older) {  // nothing here yet: saved in order, under the caps
      if (save(group, e, limits, e->offset())) {
        ++added;
      }
    }
    return added;
  }
  History& h = it->second;
  std::uint64_t front = h.entries.empty() ? h.next_offset : h.entries.front()->offset();
  for (auto e = older.rbegin(); e != older.rend(); ++e) {
    SavedEntry& entry = **e;
    if (entry.offset() >= front) {
      continue;
    }
    entry.set_footprint(entry_footprint(entry));
    const std::size_t fp = entry.footprint();
    if (h.bytes + fp > limits.history_max_bytes || total_ + fp > limits.history_max_total_bytes ||
        (limits.history_max_count != 0 && h.entries.size() >= limits.history_max_count)) {
      break;
    }
    h.entries.push_front(*e);
    h.bytes += fp;
    total_ += fp;
    payload_ += entry.size();
    front = entry.offset();
    ++added;
  }
  return added;
}

void HistoryStore::apply_limits(const ChannelLimits& limits) {
  for (auto& [name, h] : history_) {
    while (!h.entries.empty() && (h.bytes > limits.history_max_bytes ||
                                  (limits.history_max_count != 0 && h.entries.size() > limits.history_max_count))) {
      pop_oldest(h);
    }
  }
  while (history_.size() > limits.history_max_groups && !lru_.empty()) {
    erase(empties_.empty() ? lru_.back() : empties_.front());
  }
  while (total_ > limits.history_max_total_bytes && !lru_.empty()) {
    auto victim = lru_.back();
    History& v = victim->second;
    if (!v.entries.empty()) {
      pop_oldest(v);
    }
    if (v.entries.empty()) {
      erase(victim);
    }
  }
}

void HistoryStore::set_occupied(std::string_view group, bool occupied, steady::time_point now) {
  auto it = history_.find(group);
  if (it == history_.end()) {
    return;
  }
  History& h = it->second;
  if (occupied) {
    if (!h.occupied) {
      empties_.erase(h.empty_pos);
      h.occupied = true;
    }
  } else {
    mark_empty(it, now);
  }
}

void HistoryStore::set_all_empty(steady::time_point now) {
  for (auto it = history_.begin(); it != history_.end(); ++it) {
    mark_empty(it, now);
  }
}

std::size_t HistoryStore::expire(steady::time_point now, std::chrono::milliseconds ttl, std::size_t max_work) {
  std::size_t n = 0;
  if (ttl.count() <= 0) {
    return n;
  }
  while (n < max_work && !empties_.empty() && now - empties_.front()->second.empty_since >= ttl) {
    erase(empties_.front());
    ++n;
  }
  return n;
}

std::optional<HistoryStore::steady::time_point> HistoryStore::next_expiry(std::chrono::milliseconds ttl) const {
  if (ttl.count() <= 0 || empties_.empty()) {
    return std::nullopt;
  }
  return empties_.front()->second.empty_since + ttl;
}

std::vector<HistoryEntry> HistoryStore::query(std::string_view group, const HistoryQuery& q) const {
  std::vector<HistoryEntry> out;
  auto it = history_.find(group);
  if (it == history_.end()) {
    return out;
  }
  const auto& entries = it->second.entries;
  // Offsets increase along the deque (by one, or with jumps in a channel layer's copy).
  auto first = std::partition_point(entries.begin(), entries.end(),
                                    [&](const auto& e) { return e->offset() <= q.after_offset; });
  auto n = static_cast<std::size_t>(entries.end() - first);
  if (q.limit != 0 && n > q.limit) {
    first += static_cast<std::ptrdiff_t>(n - q.limit);
    n = q.limit;
  }
  out.reserve(n);
  for (auto e = first; e != entries.end(); ++e) {
    out.emplace_back(*e);
  }
  return out;
}

std::map<std::string, std::vector<HistoryEntry>> HistoryStore::query_all() const {
  std::map<std::string, std::vector<HistoryEntry>> out;
  for (const auto& [name, h] : history_) {
    auto& v = out[name];
    v.assign(h.entries.begin(), h.entries.end());
  }
  return out;
}

void HistoryStore::clear() {
  freed_ += total_;
  history_.clear();
  lru_.clear();
  empties_.clear();
  total_ = 0;
  payload_ = 0;
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

}  // namespace detail
}  // namespace nexios
