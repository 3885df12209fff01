// Channels and group registries.
//
// Concurrency model:
// - A channel belongs to one connection, hence to one event-loop thread. Everything that touches
//   its connection (sending, closing, timers) runs on that thread; other threads post there.
// - A registry has one mutex guarding its groups, histories and directory. It is never held while
//   user code runs or while anything is sent. Lock order: registry mutex, then channel mutex.
// - A group keeps an immutable snapshot of its members, bucketed by event loop. group_send takes
//   the snapshot under the lock (one reference count), then delivers without it: members joining
//   or leaving meanwhile do not disturb a fan-out in progress. One task is posted per other
//   event loop, never one per member.

#include <nexios/channels.hpp>

#include "app/channels_internal.hpp"
#include "app/websocket_impl.hpp"
#include "transport/connection.hpp"
#include "transport/server.hpp"
#include "transport/stats.hpp"

#include <nexios/detail/json.hpp>
#include <nexios/detail/utf8.hpp>
#include <nexios/log.hpp>
#include <nexios/ws/frame.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <list>
#include <mutex>
#include <random>
#include <stdexcept>
#include <unordered_map>

namespace nexios {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

// =================================================================================================
// Small helpers
// =================================================================================================

namespace {

std::string uuid4() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < 16; i += 8) {
    const std::uint64_t r = rng();
    for (std::size_t j = 0; j < 8; ++j) {
      b[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
    }
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0xF];
  }
  return out;
}

std::int64_t steady_ns(steady::time_point t) noexcept { return t.time_since_epoch().count(); }

// The frame, or std::invalid_argument for text that is not valid UTF-8 (the JSON of a payload
// whose strings were built from raw bytes, say): nothing is sent to anyone.
std::shared_ptr<const transport::SharedFrame> make_frame(ws::Opcode opcode, std::string_view payload) {
  auto f = transport::SharedFrame::make(opcode, payload);
  if (!f) {
    throw std::invalid_argument("group_send/send_to: the text of the message is not valid UTF-8");
  }
  return f;
}

// The (at most three) wire forms of one payload, encoded once and shared by every member.
class Frames {
 public:
  explicit Frames(const Payload& p) : payload_(p) {}

  /// Encodes what members of the given payload types need (call before sharing across threads).
  void prepare(unsigned type_mask) {
    for (unsigned t = 0; t < 3; ++t) {
      if ((type_mask & (1u << t)) != 0) {
        (void)get(static_cast<PayloadTypeEnum>(t));
      }
    }
  }

  const std::shared_ptr<const transport::SharedFrame>& get(PayloadTypeEnum type) {
    const Slot s = slot_for(type);
    auto& f = frames_[static_cast<std::size_t>(s)];
    if (!f) {
      switch (s) {
        case Slot::text:
          f = make_frame(ws::Opcode::text, serialized());
          break;
        case Slot::binary:
          f = make_frame(ws::Opcode::binary, serialized());
          break;
        case Slot::json_string:
          f = make_frame(ws::Opcode::text, boost::json::serialize(boost::json::value(boost::json::string(payload_.text()))));
          break;
      }
    }
    return f;
  }

  [[nodiscard]] const std::shared_ptr<const transport::SharedFrame>& get(PayloadTypeEnum type) const {
    return frames_[static_cast<std::size_t>(slot_for(type))];
  }

 private:
  enum class Slot : std::uint8_t { text = 0, binary = 1, json_string = 2 };

  Slot slot_for(PayloadTypeEnum type) const noexcept {
    switch (payload_.kind()) {
      case Payload::Kind::bytes:
        return Slot::binary;
      case Payload::Kind::json:
        return type == PayloadTypeEnum::BYTES ? Slot::binary : Slot::text;
      case Payload::Kind::text:
        if (type == PayloadTypeEnum::JSON) {
          return Slot::json_string;
        }
        return type == PayloadTypeEnum::BYTES ? Slot::binary : Slot::text;
    }
    return Slot::binary;
  }

  const std::string& serialized() {
    if (!serialized_) {
      serialized_ = payload_.serialize();
    }
    return *serialized_;
  }

  const Payload& payload_;
  std::optional<std::string> serialized_;
  std::array<std::shared_ptr<const transport::SharedFrame>, 3> frames_;
};

}  // namespace

// =================================================================================================
// PayloadType, Payload
// =================================================================================================

PayloadType::PayloadType(std::string_view name) {
  if (name == "json") {
    value_ = PayloadTypeEnum::JSON;
  } else if (name == "text") {
    value_ = PayloadTypeEnum::TEXT;
  } else if (name == "bytes") {
    value_ = PayloadTypeEnum::BYTES;
  } else {
    throw std::invalid_argument("payload type must be \"json\", \"text\" or \"bytes\", not \"" + std::string(name) +
                                "\"");
  }
}

std::string_view PayloadType::name() const noexcept {
  switch (value_) {
    case PayloadTypeEnum::JSON:
      return "json";
    case PayloadTypeEnum::TEXT:
      return "text";
    case PayloadTypeEnum::BYTES:
      return "bytes";
  }
  return "json";
}

const boost::json::value& Payload::json() const {
  if (kind_ != Kind::json) {
    throw std::logic_error("Payload::json(): this payload is not JSON");
  }
  return json_;
}

boost::json::value& Payload::json() {
  if (kind_ != Kind::json) {
    throw std::logic_error("Payload::json(): this payload is not JSON");
  }
  return json_;
}

const std::string& Payload::text() const {
  if (kind_ == Kind::json) {
    throw std::logic_error("Payload::text(): this payload is JSON (use json())");
  }
  return data_;
}

const boost::json::value& Payload::at(std::string_view key) const {
  // The key goes into a close reason (at most 123 bytes of UTF-8): keep a short, valid prefix.
  std::string shown(key.substr(0, 64));
  while (!shown.empty() && !detail::is_valid_utf8(shown)) {
    shown.pop_back();
  }
  if (kind_ != Kind::json || !json_.is_object()) {
    throw JsonKeyError(std::string(key), "expected a JSON object with the key '" + shown + "'");
  }
  if (const auto* v = json_.as_object().if_contains(key)) {
    return *v;
  }
  throw JsonKeyError(std::string(key), "JSON key '" + shown + "' is missing");
}

std::string Payload::serialize() const {
  if (kind_ != Kind::json) {
    return data_;
  }
  std::string out;
  if (!detail::serialize_json(json_, out)) {
    throw std::invalid_argument("Payload: a number is not finite (JSON has no Infinity or NaN)");
  }
  // JSON text is UTF-8 (RFC 8259 §8.1), in a binary frame too.
  if (!detail::is_valid_utf8(out)) {
    throw std::invalid_argument("Payload: a JSON string is not valid UTF-8");
  }
  return out;
}

std::size_t Payload::size() const { return kind_ == Kind::json ? serialize().size() : data_.size(); }

bool operator==(const Payload& a, const Payload& b) noexcept {
  if (a.kind_ != b.kind_) {
    return false;
  }
  return a.kind_ == Payload::Kind::json ? a.json_ == b.json_ : a.data_ == b.data_;
}

std::string_view to_string(ChannelAddStatusEnum s) noexcept {
  switch (s) {
    case ChannelAddStatusEnum::CHANNEL_ADDED:
      return "CHANNEL_ADDED";
    case ChannelAddStatusEnum::CHANNEL_EXIST:
      return "CHANNEL_EXIST";
    case ChannelAddStatusEnum::CHANNEL_CLOSED:
      return "CHANNEL_CLOSED";
    case ChannelAddStatusEnum::INVALID_GROUP_NAME:
      return "INVALID_GROUP_NAME";
    case ChannelAddStatusEnum::GROUP_LIMIT_REACHED:
      return "GROUP_LIMIT_REACHED";
    case ChannelAddStatusEnum::GROUP_FULL:
      return "GROUP_FULL";
    case ChannelAddStatusEnum::CHANNEL_GROUP_LIMIT_REACHED:
      return "CHANNEL_GROUP_LIMIT_REACHED";
  }
  return "";
}

std::string_view to_string(ChannelRemoveStatusEnum s) noexcept {
  switch (s) {
    case ChannelRemoveStatusEnum::CHANNEL_REMOVED:
      return "CHANNEL_REMOVED";
    case ChannelRemoveStatusEnum::CHANNEL_DOES_NOT_EXIST:
      return "CHANNEL_DOES_NOT_EXIST";
    case ChannelRemoveStatusEnum::GROUP_REMOVED:
      return "GROUP_REMOVED";
    case ChannelRemoveStatusEnum::GROUP_DOES_NOT_EXIST:
      return "GROUP_DOES_NOT_EXIST";
  }
  return "";
}

std::string_view to_string(GroupSendStatusEnum s) noexcept {
  return s == GroupSendStatusEnum::GROUP_SEND ? "GROUP_SEND" : "NO_SUCH_GROUP";
}

// =================================================================================================
// ChannelImpl
// =================================================================================================

namespace detail {

struct ChannelImpl : std::enable_shared_from_this<ChannelImpl> {
  ChannelImpl(WebSocket w, PayloadType t, std::chrono::milliseconds expires, boost::json::object meta)
      : ws(std::move(w)),
        conn(ws.impl()->conn),
        executor(conn->executor()),
        loop_key(&conn->worker()),
        id(uuid4()),
        created(std::chrono::system_clock::now()),
        created_steady(steady::now()),
        ttl(expires),
        type(t),
        metadata(std::move(meta)),
        touched_ns(steady_ns(created_steady)) {
    if (ttl.count() < 0) {
      throw std::invalid_argument("Channel: expires must not be negative");
    }
  }

  WebSocket ws;
  std::shared_ptr<transport::Connection> conn;
  asio::any_io_executor executor;
  const void* loop_key;
  const std::string id;
  const std::chrono::system_clock::time_point created;
  const steady::time_point created_steady;
  const std::chrono::milliseconds ttl;
  const PayloadType type;
  boost::json::object metadata;
  std::atomic<std::int64_t> touched_ns;
  bool detached_by_owner = false;  // consumers: left after on_disconnect, by the consumer itself
  std::optional<asio::steady_timer> expiry_timer;

  // Guarded by `mutex` (lock order: a registry's mutex first).
  std::mutex mutex;
  bool ended = false;
  struct Link {
    ChannelRegistry::Impl* registry;
    std::vector<std::string> groups;
  };
  std::vector<Link> links;

  [[nodiscard]] steady::time_point last_activity() const noexcept {
    const std::int64_t t = std::max({touched_ns.load(std::memory_order_relaxed), conn->last_message_in_ns(),
                                     conn->last_message_out_ns()});
    return steady::time_point(steady::duration(t));
  }

  [[nodiscard]] bool is_expired(steady::time_point now) const noexcept {
    return ttl.count() > 0 && now - last_activity() >= ttl;
  }

  /// Queues a frame on the connection; must run on the channel's thread.
  bool deliver(const std::shared_ptr<const transport::SharedFrame>& f) {
    return conn->ws_send_shared(f) == transport::SendStatus::queued;
  }

  void start(ChannelRegistry::Impl& global);
  void arm_expiry();
  void expire();
  void detach_all();
};

}  // namespace detail

using detail::ChannelImpl;

// =================================================================================================
// ChannelRegistry::Impl
// =================================================================================================

struct ChannelRegistry::Impl {
  struct Bucket {
    asio::any_io_executor executor;
    const void* key = nullptr;
    unsigned type_mask = 0;
    std::vector<std::shared_ptr<ChannelImpl>> members;
  };
  struct Snapshot {
    std::vector<Bucket> buckets;
    unsigned type_mask = 0;
    std::size_t size = 0;
  };
  struct Group {
    std::vector<std::shared_ptr<ChannelImpl>> members;  // joining order
    std::shared_ptr<const Snapshot> snapshot;
  };
  struct History {
    std::deque<ChannelMessage> entries;
    std::size_t bytes = 0;
    std::uint64_t next_offset = 1;
    std::list<std::string>::iterator lru;
  };

  mutable std::mutex mutex;
  std::map<std::string, Group, std::less<>> groups;
  std::map<std::string, History, std::less<>> history;
  std::list<std::string> history_lru;  // most recently written first
  std::size_t history_total = 0;
  ChannelLimits limits;
  std::map<std::string, std::weak_ptr<ChannelImpl>, std::less<>> directory;

  // ---- membership (called with `mutex` held) ---------------------------------------------------

  static void rebuild(Group& g) {
    auto snap = std::make_shared<Snapshot>();
    for (const auto& m : g.members) {
      auto it = std::find_if(snap->buckets.begin(), snap->buckets.end(),
                             [&](const Bucket& b) { return b.key == m->loop_key; });
      if (it == snap->buckets.end()) {
        snap->buckets.push_back(Bucket{m->executor, m->loop_key, 0, {}});
        it = snap->buckets.end() - 1;
      }
      it->members.push_back(m);
      const unsigned bit = 1u << static_cast<unsigned>(m->type.value());
      it->type_mask |= bit;
      snap->type_mask |= bit;
    }
    snap->size = g.members.size();
    g.snapshot = std::move(snap);
  }

  /// Removes `ch` from `group` (mutex held). Returns the status; the channel's link is the
  /// caller's business.
  ChannelRemoveStatusEnum remove_member(std::string_view group, const ChannelImpl* ch) {
    auto git = groups.find(group);
    if (git == groups.end()) {
      return ChannelRemoveStatusEnum::GROUP_DOES_NOT_EXIST;
    }
    auto& members = git->second.members;
    auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.get() == ch; });
    if (it == members.end()) {
      return ChannelRemoveStatusEnum::CHANNEL_DOES_NOT_EXIST;
    }
    members.erase(it);
    if (members.empty()) {
      // The group goes; its history stays (a room that empties keeps its messages) until
      // flush_history or the total cap evicts it.
      groups.erase(git);
      return ChannelRemoveStatusEnum::GROUP_REMOVED;
    }
    rebuild(git->second);
    return ChannelRemoveStatusEnum::CHANNEL_REMOVED;
  }

  /// Called by a channel whose connection ended: leave every group, leave the directory.
  void detach(const ChannelImpl* ch, const std::vector<std::string>& member_of) {
    std::lock_guard lock(mutex);
    for (const auto& g : member_of) {
      remove_member(g, ch);
    }
    auto it = directory.find(ch->id);
    if (it != directory.end()) {
      directory.erase(it);
    }
  }

  // ---- history (mutex held) --------------------------------------------------------------------

  void erase_history(std::map<std::string, History, std::less<>>::iterator it) {
    history_total -= it->second.bytes;
    history_lru.erase(it->second.lru);
    history.erase(it);
  }

  std::optional<std::uint64_t> save(std::string_view group, const Payload& payload, std::size_t size) {
    if (size > limits.history_max_bytes || size > limits.history_max_total_bytes) {
      return std::nullopt;
    }
    auto it = history.find(group);
    if (it == history.end()) {
      // A new group's history: past max_groups histories, the least recently written one goes.
      while (history.size() >= limits.max_groups && !history_lru.empty()) {
        erase_history(history.find(history_lru.back()));
      }
      it = history.emplace(std::string(group), History{}).first;
      history_lru.push_front(it->first);
      it->second.lru = history_lru.begin();
    } else {
      history_lru.splice(history_lru.begin(), history_lru, it->second.lru);
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
    history_total += size;
    const std::uint64_t offset = h.entries.back().offset;
    // Per-group caps: the oldest go first.
    while (h.bytes > limits.history_max_bytes || (limits.history_max_count != 0 && h.entries.size() > limits.history_max_count)) {
      h.bytes -= h.entries.front().size;
      history_total -= h.entries.front().size;
      h.entries.pop_front();
    }
    // The total cap: the least recently written groups lose their oldest messages first.
    while (history_total > limits.history_max_total_bytes && !history_lru.empty()) {
      auto victim = history.find(history_lru.back());
      History& v = victim->second;
      if (v.entries.empty()) {
        erase_history(victim);
        continue;
      }
      v.bytes -= v.entries.front().size;
      history_total -= v.entries.front().size;
      v.entries.pop_front();
      if (v.entries.empty() && &v != &h) {
        erase_history(victim);
      }
    }
    return offset;
  }

  void apply_limits() {
    while (!history.empty()) {
      bool changed = false;
      for (auto it = history.begin(); it != history.end(); ++it) {
        History& h = it->second;
        while (!h.entries.empty() &&
               (h.bytes > limits.history_max_bytes || (limits.history_max_count != 0 && h.entries.size() > limits.history_max_count))) {
          h.bytes -= h.entries.front().size;
          history_total -= h.entries.front().size;
          h.entries.pop_front();
          changed = true;
        }
      }
      while ((history_total > limits.history_max_total_bytes || history.size() > limits.max_groups) &&
             !history_lru.empty()) {
        auto victim = history.find(history_lru.back());
        if (victim->second.entries.empty() || history.size() > limits.max_groups) {
          erase_history(victim);
          changed = true;
          continue;
        }
        History& v = victim->second;
        v.bytes -= v.entries.front().size;
        history_total -= v.entries.front().size;
        v.entries.pop_front();
        changed = true;
      }
      if (!changed) {
        break;
      }
    }
  }

  std::vector<std::shared_ptr<ChannelImpl>> live_channels() const {
    std::vector<std::shared_ptr<ChannelImpl>> out;
    std::lock_guard lock(mutex);
    out.reserve(directory.size());
    for (const auto& [id, weak] : directory) {
      if (auto ch = weak.lock()) {
        out.push_back(std::move(ch));
      }
    }
    return out;
  }

  void register_channel(const std::shared_ptr<ChannelImpl>& ch) {
    std::lock_guard lock(mutex);
    std::lock_guard clock(ch->mutex);
    if (ch->ended) {
      return;
    }
    directory.insert_or_assign(ch->id, ch);
    link(*ch, nullptr);
  }

  /// Records (channel mutex held) that `ch` is known to this registry, and member of `group`.
  void link(ChannelImpl& ch, const std::string* group) {
    auto it = std::find_if(ch.links.begin(), ch.links.end(), [&](const auto& l) { return l.registry == this; });
    if (it == ch.links.end()) {
      ch.links.push_back(ChannelImpl::Link{this, {}});
      it = ch.links.end() - 1;
    }
    if (group != nullptr && std::find(it->groups.begin(), it->groups.end(), *group) == it->groups.end()) {
      it->groups.push_back(*group);
    }
  }

  /// Groups of this registry `ch` is a member of (channel mutex held).
  std::size_t group_count(const ChannelImpl& ch) const {
    for (const auto& l : ch.links) {
      if (l.registry == this) {
        return l.groups.size();
      }
    }
    return 0;
  }

  void unlink_group(ChannelImpl& ch, std::string_view group) {
    for (auto& l : ch.links) {
      if (l.registry == this) {
        auto it = std::find(l.groups.begin(), l.groups.end(), group);
        if (it != l.groups.end()) {
          l.groups.erase(it);
        }
      }
    }
  }
};

// =================================================================================================
// ChannelImpl behaviour
// =================================================================================================

namespace detail {

void ChannelImpl::start(ChannelRegistry::Impl& global) {
  global.register_channel(shared_from_this());
  // However the WebSocket ends, the channel leaves every group at once (on its own thread).
  std::weak_ptr<ChannelImpl> weak = weak_from_this();
  auto on_end = [weak] {
    if (auto self = weak.lock()) {
      self->detach_all();
      if (self->expiry_timer) {
        self->expiry_timer->cancel();
      }
    }
  };
  if (detached_by_owner) {
    // The consumer keeps its channel in its groups while on_disconnect runs and detaches it right
    // after (a guard in its frame guarantees it); only the expiry timer stops here.
    conn->on_end([weak] {
      if (auto self = weak.lock(); self && self->expiry_timer) {
        self->expiry_timer->cancel();
      }
    });
  } else {
    conn->on_end(on_end);
  }
  if (ttl.count() > 0) {
    expiry_timer.emplace(executor);
    arm_expiry();
  }
}

void ChannelImpl::arm_expiry() {
  expiry_timer->expires_at(last_activity() + ttl);
  expiry_timer->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) {
      return;
    }
    if (self->is_expired(steady::now())) {
      self->expire();
    } else {
      self->arm_expiry();  // there was activity: wait for the new deadline
    }
  });
}

void ChannelImpl::expire() {
  conn->log_event(LogLevel::debug, "channels", "channel expired: closing with 1001",
                  {{"channel", std::string_view(id)}, {"ttl_ms", ttl.count()}});
  detach_all();
  asio::post(executor, [self = shared_from_this()] {
    if (self->conn->is_websocket()) {
      self->conn->ws_close(ws::close_code::going_away, "channel expired");
    }
  });
}

void ChannelImpl::detach_all() {
  std::vector<Link> links_copy;
  {
    std::lock_guard lock(mutex);
    ended = true;
    links_copy.swap(links);
  }
  for (const auto& l : links_copy) {
    l.registry->detach(this, l.groups);
  }
}

void detach_channel(const Channel& channel) { channel.impl()->detach_all(); }

Channel make_consumer_channel(WebSocket ws, PayloadType type, std::chrono::milliseconds expires) {
  auto impl = std::make_shared<ChannelImpl>(std::move(ws), type, expires, boost::json::object{});
  impl->detached_by_owner = true;
  impl->start(*ChannelRegistry::global().impl_);
  return Channel(std::move(impl));
}

std::size_t close_channels_of(const void* server, std::uint16_t code, std::string_view reason) {
  std::size_t n = 0;
  const std::string why(reason);
  for (const auto& ch : ChannelRegistry::global().impl_->live_channels()) {
    if (&ch->conn->worker().server != server) {
      continue;
    }
    ++n;
    asio::post(ch->executor, [ch, code, why] {
      if (ch->conn->is_websocket()) {
        ch->conn->ws_close(code, why);
      }
    });
  }
  return n;
}

}  // namespace detail

// =================================================================================================
// Channel
// =================================================================================================

namespace {
// Channel metadata is bounded by ChannelLimits::max_metadata_bytes (as compact JSON) when the
// channel is created.
boost::json::object checked_metadata(boost::json::object metadata) {
  if (metadata.empty()) {
    return metadata;
  }
  const std::size_t limit = ChannelRegistry::global().limits().max_metadata_bytes;
  const std::size_t size = boost::json::serialize(metadata).size();
  if (size > limit) {
    throw std::invalid_argument("Channel: metadata is " + std::to_string(size) +
                                " bytes of JSON, over ChannelLimits::max_metadata_bytes (" + std::to_string(limit) + ")");
  }
  return metadata;
}
}  // namespace

Channel::Channel(WebSocket websocket, PayloadType payload_type, std::int64_t expires, boost::json::object metadata)
    : Channel(std::move(websocket), payload_type,
              std::chrono::milliseconds(expires < 0 ? -1 : expires * 1000), std::move(metadata)) {}

Channel::Channel(WebSocket websocket, PayloadType payload_type, std::chrono::milliseconds expires,
                 boost::json::object metadata)
    : impl_(std::make_shared<ChannelImpl>(std::move(websocket), payload_type, expires,
                                          checked_metadata(std::move(metadata)))) {
  impl_->start(*ChannelRegistry::global().impl_);
}

const std::string& Channel::id() const noexcept { return impl_->id; }
std::chrono::system_clock::time_point Channel::created() const noexcept { return impl_->created; }
std::chrono::milliseconds Channel::ttl() const noexcept { return impl_->ttl; }
PayloadType Channel::payload_type() const noexcept { return impl_->type; }
boost::json::object& Channel::metadata() const noexcept { return impl_->metadata; }
WebSocket& Channel::websocket() const noexcept { return impl_->ws; }
bool Channel::is_active() const noexcept { return impl_->conn->ws_is_open(); }
bool Channel::is_expired() const noexcept { return impl_->is_expired(steady::now()); }
bool Channel::is_expired(steady::time_point now) const noexcept { return impl_->is_expired(now); }
void Channel::touch() noexcept { impl_->touched_ns.store(steady_ns(steady::now()), std::memory_order_relaxed); }

std::optional<std::chrono::system_clock::time_point> Channel::expires() const noexcept {
  if (impl_->ttl.count() <= 0) {
    return std::nullopt;
  }
  const auto remaining = impl_->last_activity() + impl_->ttl - steady::now();
  return std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(remaining);
}

Task<> Channel::send(Payload payload) const {
  auto self = impl_;
  WebSocket& ws = self->ws;
  switch (payload.kind()) {
    case Payload::Kind::bytes:
      co_await ws.send_bytes(payload.text());
      co_return;
    case Payload::Kind::json: {
      const std::string text = payload.serialize();
      if (self->type == PayloadTypeEnum::BYTES) {
        co_await ws.send_bytes(text);
      } else {
        co_await ws.send_text(text);
      }
      co_return;
    }
    case Payload::Kind::text:
      if (self->type == PayloadTypeEnum::JSON) {
        const std::string text = boost::json::serialize(boost::json::value(boost::json::string(payload.text())));
        co_await ws.send_text(text);
      } else if (self->type == PayloadTypeEnum::BYTES) {
        co_await ws.send_bytes(payload.text());
      } else {
        co_await ws.send_text(payload.text());
      }
      co_return;
  }
}

Task<> Channel::send_text(std::string_view text) const { return impl_->ws.send_text(text); }
Task<> Channel::send_bytes(std::string_view data) const { return impl_->ws.send_bytes(data); }
Task<std::string> Channel::receive_text() const { return impl_->ws.receive_text(); }
Task<std::string> Channel::receive_bytes() const { return impl_->ws.receive_bytes(); }
Task<> Channel::close(std::uint16_t code, std::string_view reason) const { return impl_->ws.close(code, reason); }

Task<Payload> Channel::receive() const {
  auto self = impl_;
  WebSocket& ws = self->ws;
  switch (self->type.value()) {
    case PayloadTypeEnum::JSON: {
      Message m = co_await ws.receive();
      if (m.type == Message::Type::disconnect) {
        throw WebSocketDisconnect(m.code, std::move(m.reason));
      }
      if (m.type != Message::Type::receive) {
        throw std::logic_error("Channel.receive: the WebSocket is not accepted yet");
      }
      if (m.binary && !detail::is_valid_utf8(m.data)) {
        throw WebSocketException(ws::close_code::invalid_payload, "JSON in a binary message is not valid UTF-8");
      }
      boost::system::error_code ec;
      boost::json::value v = detail::parse_json(m.data, ec);
      if (ec == boost::json::error::exponent_overflow) {
        throw JsonDecodeError(ws::close_code::invalid_payload, "JSON number out of range");
      }
      if (ec) {
        throw JsonDecodeError("invalid JSON: " + ec.message());
      }
      co_return Payload(std::move(v));
    }
    case PayloadTypeEnum::TEXT:
      co_return Payload(co_await ws.receive_text());
    case PayloadTypeEnum::BYTES:
      co_return Payload::bytes(co_await ws.receive_bytes());
  }
  co_return Payload();
}

// =================================================================================================
// ChannelRegistry
// =================================================================================================

namespace {

// Completion of a fan-out that spans several event loops: the last loop to finish resumes the
// caller (on the caller's own executor). Like any asynchronous operation it keeps the caller's
// executor busy ("outstanding work") until then, so the caller's event loop cannot run out of work
// and be destroyed while another thread is still handing the result over.
struct FanoutState {
  using Handler = asio::detail::awaitable_handler<asio::any_io_executor>;
  std::atomic<std::size_t> remaining{0};
  std::atomic<std::size_t> delivered{0};
  std::atomic<std::size_t> dropped{0};
  std::optional<Handler> handler;
  std::optional<asio::any_io_executor> work;
  std::atomic<std::int64_t> done_ns{0};  // steady clock, when the last loop had queued its frames

  void wait_with(Handler h) {
    work.emplace(asio::prefer(asio::get_associated_executor(h), asio::execution::outstanding_work.tracked));
    handler.emplace(std::move(h));
  }

  void finish_one() {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      done_ns.store(steady_ns(steady::now()), std::memory_order_relaxed);
      Handler h = std::move(*handler);
      handler.reset();
      auto ex = asio::get_associated_executor(h);
      asio::post(ex, std::move(h));
      work.reset();  // after the post: the caller's loop now has the handler to run
    }
  }
};

void deliver_bucket(const ChannelRegistry::Impl::Bucket& bucket, const Frames& frames, std::size_t& delivered,
                    std::size_t& dropped) {
  for (const auto& m : bucket.members) {
    if (m->deliver(frames.get(m->type.value()))) {
      ++delivered;
    } else {
      ++dropped;
    }
  }
}

}  // namespace

ChannelRegistry::ChannelRegistry(ChannelLimits limits) : impl_(std::make_unique<Impl>()) {
  limits.validate();
  impl_->limits = limits;
}

ChannelRegistry::~ChannelRegistry() {
  // Channels that outlive this registry must forget it.
  std::lock_guard lock(impl_->mutex);
  std::vector<std::shared_ptr<ChannelImpl>> known;
  for (const auto& [id, weak] : impl_->directory) {
    if (auto ch = weak.lock()) {
      known.push_back(std::move(ch));
    }
  }
  for (const auto& [name, g] : impl_->groups) {
    known.insert(known.end(), g.members.begin(), g.members.end());
  }
  for (const auto& ch : known) {
    std::lock_guard clock(ch->mutex);
    auto& links = ch->links;
    links.erase(std::remove_if(links.begin(), links.end(), [&](const auto& l) { return l.registry == impl_.get(); }),
                links.end());
  }
}

ChannelRegistry& ChannelRegistry::global() {
  static ChannelRegistry registry;
  return registry;
}

ChannelAddStatusEnum ChannelRegistry::add_channel_to_group(const Channel& channel, std::string_view group) {
  auto& ch = channel.impl();
  std::lock_guard lock(impl_->mutex);
  const ChannelLimits& limits = impl_->limits;
  if (group.empty() || group.size() > limits.max_group_name_bytes || !detail::is_valid_utf8(group)) {
    return ChannelAddStatusEnum::INVALID_GROUP_NAME;
  }
  std::lock_guard clock(ch->mutex);
  if (ch->ended) {
    return ChannelAddStatusEnum::CHANNEL_CLOSED;
  }
  auto it = impl_->groups.find(group);
  const bool created = it == impl_->groups.end();
  if (created && impl_->groups.size() >= limits.max_groups) {
    return ChannelAddStatusEnum::GROUP_LIMIT_REACHED;
  }
  const bool member = !created && std::find(it->second.members.begin(), it->second.members.end(), ch) !=
                                      it->second.members.end();
  if (!member) {
    if (!created && it->second.members.size() >= limits.max_members_per_group) {
      return ChannelAddStatusEnum::GROUP_FULL;
    }
    if (impl_->group_count(*ch) >= limits.max_groups_per_channel) {
      return ChannelAddStatusEnum::CHANNEL_GROUP_LIMIT_REACHED;
    }
    if (created) {
      it = impl_->groups.try_emplace(std::string(group)).first;
    }
    it->second.members.push_back(ch);
    Impl::rebuild(it->second);
  }
  impl_->directory.insert_or_assign(ch->id, ch);
  impl_->link(*ch, &it->first);
  return created ? ChannelAddStatusEnum::CHANNEL_ADDED : ChannelAddStatusEnum::CHANNEL_EXIST;
}

ChannelRemoveStatusEnum ChannelRegistry::remove_channel_from_group(const Channel& channel, std::string_view group) {
  auto& ch = channel.impl();
  std::lock_guard lock(impl_->mutex);
  const auto status = impl_->remove_member(group, ch.get());
  if (status == ChannelRemoveStatusEnum::CHANNEL_REMOVED || status == ChannelRemoveStatusEnum::GROUP_REMOVED) {
    std::lock_guard clock(ch->mutex);
    impl_->unlink_group(*ch, group);
  }
  return status;
}

Task<GroupSendResult> ChannelRegistry::group_send(std::string_view group_view, Payload payload, bool save_history) {
  const auto started = steady::now();
  const std::string group(group_view);
  GroupSendResult result;
  if (payload.is_text() && !detail::is_valid_utf8(payload.text())) {
    throw std::invalid_argument("group_send: a text payload must be valid UTF-8 (use Payload::bytes for binary data)");
  }
  std::shared_ptr<const Impl::Snapshot> snap;
  const std::size_t size = save_history ? payload.size() : 0;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->groups.find(group);
    if (it == impl_->groups.end()) {
      co_return result;  // NO_SUCH_GROUP: nothing sent, nothing saved
    }
    snap = it->second.snapshot;
    if (save_history) {
      result.history_offset = impl_->save(group, payload, size);
    }
  }
  result.status = GroupSendStatusEnum::GROUP_SEND;

  auto frames = std::make_shared<Frames>(payload);
  frames->prepare(snap->type_mask);
  const auto here = co_await asio::this_coro::executor;
  auto state = std::make_shared<FanoutState>();
  std::vector<const Impl::Bucket*> remote;
  for (const auto& b : snap->buckets) {
    if (b.executor == here) {
      deliver_bucket(b, *frames, result.delivered, result.dropped);
    } else {
      remote.push_back(&b);
    }
  }
  if (!remote.empty()) {
    state->remaining = remote.size();
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [&](auto handler) {
          state->wait_with(std::move(handler));
          for (const Impl::Bucket* b : remote) {
            // The task holds the snapshot (members alive) and the frames (bytes alive).
            asio::post(b->executor, [state, snap, frames, b] {
              std::size_t d = 0;
              std::size_t x = 0;
              deliver_bucket(*b, *frames, d, x);
              state->delivered += d;
              state->dropped += x;
              state->finish_one();
            });
          }
        },
        asio::use_awaitable);
    result.delivered += state->delivered.load();
    result.dropped += state->dropped.load();
    transport::stats::observe_group_send(std::chrono::nanoseconds(state->done_ns.load() - steady_ns(started)));
  } else {
    transport::stats::observe_group_send(steady::now() - started);
  }
  co_return result;
}

std::vector<ChannelMessage> ChannelRegistry::show_history(std::string_view group) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->history.find(group);
  if (it == impl_->history.end()) {
    return {};
  }
  return {it->second.entries.begin(), it->second.entries.end()};
}

std::map<std::string, std::vector<ChannelMessage>> ChannelRegistry::show_history() const {
  std::lock_guard lock(impl_->mutex);
  std::map<std::string, std::vector<ChannelMessage>> out;
  for (const auto& [name, h] : impl_->history) {
    out.emplace(name, std::vector<ChannelMessage>(h.entries.begin(), h.entries.end()));
  }
  return out;
}

void ChannelRegistry::flush_history() {
  std::lock_guard lock(impl_->mutex);
  impl_->history.clear();
  impl_->history_lru.clear();
  impl_->history_total = 0;
}

void ChannelRegistry::flush_history(std::string_view group) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->history.find(group);
  if (it != impl_->history.end()) {
    impl_->erase_history(it);
  }
}

std::map<std::string, std::vector<Channel>> ChannelRegistry::show_groups() const {
  std::lock_guard lock(impl_->mutex);
  std::map<std::string, std::vector<Channel>> out;
  for (const auto& [name, g] : impl_->groups) {
    auto& v = out[name];
    v.reserve(g.members.size());
    for (const auto& m : g.members) {
      v.emplace_back(m);
    }
  }
  return out;
}

std::vector<Channel> ChannelRegistry::group(std::string_view group) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<Channel> out;
  auto it = impl_->groups.find(group);
  if (it != impl_->groups.end()) {
    out.reserve(it->second.members.size());
    for (const auto& m : it->second.members) {
      out.emplace_back(m);
    }
  }
  return out;
}

std::size_t ChannelRegistry::group_size(std::string_view group) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->groups.find(group);
  return it == impl_->groups.end() ? 0 : it->second.members.size();
}

Task<bool> ChannelRegistry::send_to(std::string_view channel_id, Payload payload) {
  if (payload.is_text() && !detail::is_valid_utf8(payload.text())) {
    throw std::invalid_argument("send_to: a text payload must be valid UTF-8 (use Payload::bytes for binary data)");
  }
  std::shared_ptr<ChannelImpl> ch;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->directory.find(channel_id);
    if (it != impl_->directory.end()) {
      ch = it->second.lock();
    }
  }
  if (!ch) {
    co_return false;
  }
  auto frames = std::make_shared<Frames>(payload);
  frames->prepare(1u << static_cast<unsigned>(ch->type.value()));
  const auto here = co_await asio::this_coro::executor;
  if (ch->executor == here) {
    co_return ch->deliver(frames->get(ch->type.value()));
  }
  auto state = std::make_shared<FanoutState>();
  state->remaining = 1;
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&](auto handler) {
        state->wait_with(std::move(handler));
        asio::post(ch->executor, [state, ch, frames] {
          if (ch->deliver(frames->get(ch->type.value()))) {
            ++state->delivered;
          }
          state->finish_one();
        });
      },
      asio::use_awaitable);
  co_return state->delivered.load() == 1;
}

std::size_t ChannelRegistry::close_all_connections(std::uint16_t code, std::string_view reason) {
  if (!ws::is_valid_close_code(code) || reason.size() > ws::max_close_reason || !detail::is_valid_utf8(reason)) {
    throw std::invalid_argument("close_all_connections: invalid close code or reason");
  }
  const auto channels = impl_->live_channels();
  const std::string why(reason);
  for (const auto& ch : channels) {
    asio::post(ch->executor, [ch, code, why] {
      if (ch->conn->is_websocket()) {
        ch->conn->ws_close(code, why);
      }
    });
  }
  std::lock_guard lock(impl_->mutex);
  impl_->groups.clear();
  return channels.size();
}

std::size_t ChannelRegistry::clean_expired() { return clean_expired(steady::now()); }

std::size_t ChannelRegistry::clean_expired(steady::time_point now) {
  std::size_t n = 0;
  for (const auto& ch : impl_->live_channels()) {
    if (ch->is_expired(now)) {
      ch->expire();
      ++n;
    }
  }
  return n;
}

void ChannelRegistry::set_limits(ChannelLimits limits) {
  limits.validate();
  std::lock_guard lock(impl_->mutex);
  impl_->limits = limits;
  impl_->apply_limits();
}

ChannelLimits ChannelRegistry::limits() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->limits;
}

ChannelRegistryStats ChannelRegistry::stats() const {
  ChannelRegistryStats st;
  std::lock_guard lock(impl_->mutex);
  st.groups = impl_->groups.size();
  for (const auto& [name, g] : impl_->groups) {
    st.members += g.members.size();
  }
  for (const auto& [name, h] : impl_->history) {
    st.history_entries += h.entries.size();
  }
  st.history_bytes = impl_->history_total;
  return st;
}

}  // namespace nexios
