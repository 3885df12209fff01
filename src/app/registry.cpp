// ChannelRegistry: group membership, the directory of live channels, and the public functions
// (group_send and send_to hand their frames to fanout.cpp; history lives in history.cpp).

#include <nexios/channels.hpp>

#include "app/channels_internal.hpp"
#include "app/fanout.hpp"
#include "app/history.hpp"
#include "app/ids.hpp"

#include <nexios/log.hpp>

#include <nexios/detail/utf8.hpp>
#include <nexios/ws/rfc6455.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <array>
#include <stdexcept>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace nexios {

namespace asio = boost::asio;
using detail::ChannelImpl;
using detail::steady;

// =================================================================================================
// ChannelRegistry::Impl
// =================================================================================================

void ChannelRegistry::Impl::rebuild(Group& g) {
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

ChannelRemoveStatusEnum ChannelRegistry::Impl::remove_member(std::string_view group, const ChannelImpl* ch) {
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
  if (layer) {
    layer->member_left(group, ch->id, members.empty());
  }
  if (members.empty()) {
    // The group goes; its history stays (a room that empties keeps its messages) for
    // history_ttl, until a member joins again, flush_history or a cap evicts it.
    history.set_occupied(group, false, steady::now());
    groups.erase(git);
    arm_history_sweep(ch->executor);
    return ChannelRemoveStatusEnum::GROUP_REMOVED;
  }
  rebuild(git->second);
  return ChannelRemoveStatusEnum::CHANNEL_REMOVED;
}

void ChannelRegistry::Impl::detach(const ChannelImpl* ch, const std::vector<std::string>& member_of) {
  std::lock_guard lock(mutex);
  for (const auto& g : member_of) {
    remove_member(g, ch);
  }
  auto it = directory.find(ch->id);
  if (it != directory.end()) {
    directory.erase(it);
  }
}

std::vector<std::shared_ptr<ChannelImpl>> ChannelRegistry::Impl::live_channels() const {
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

void ChannelRegistry::Impl::register_channel(const std::shared_ptr<ChannelImpl>& ch) {
  std::lock_guard lock(mutex);
  std::lock_guard clock(ch->mutex);
  if (ch->ended) {
    return;
  }
  directory.insert_or_assign(ch->id, ch);
  link(*ch, nullptr);
}

void ChannelRegistry::Impl::link(ChannelImpl& ch, const std::string* group) {
  auto it = std::find_if(ch.links.begin(), ch.links.end(), [&](const auto& l) { return l.registry == this; });
  if (it == ch.links.end()) {
    ch.links.push_back(ChannelImpl::Link{this, {}});
    it = ch.links.end() - 1;
  }
  if (group != nullptr && std::find(it->groups.begin(), it->groups.end(), *group) == it->groups.end()) {
    it->groups.push_back(*group);
  }
}

std::size_t ChannelRegistry::Impl::group_count(const ChannelImpl& ch) const {
  for (const auto& l : ch.links) {
    if (l.registry == this) {
      return l.groups.size();
    }
  }
  return 0;
}

void ChannelRegistry::Impl::unlink_group(ChannelImpl& ch, std::string_view group) {
  for (auto& l : ch.links) {
    if (l.registry == this) {
      auto it = std::find(l.groups.begin(), l.groups.end(), group);
      if (it != l.groups.end()) {
        l.groups.erase(it);
      }
    }
  }
}

namespace {
// Returns the allocator's free pages to the system (glibc; elsewhere nothing). Its cost grows with
// the heap (about 2 ms for 20 MB), which is why it runs only from the history timer, at most once
// per ChannelLimits::history_trim_bytes forgotten.
void release_free_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}
}  // namespace

void ChannelRegistry::Impl::arm_history_sweep(const asio::any_io_executor& executor) {
  const auto deadline = history.next_expiry(limits.history_ttl);
  if (!deadline || !history_sweep.expired()) {
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(executor);
  history_sweep = timer;
  struct Handler {
    std::weak_ptr<Impl> weak;
    std::shared_ptr<asio::steady_timer> timer;
    void operator()(const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) {
        return;
      }
      bool trim = false;
      {
        std::lock_guard lock(self->mutex);
        const auto now = steady::now();
        self->history.expire(now, self->limits.history_ttl, history_sweep_batch);
        const auto next = self->history.next_expiry(self->limits.history_ttl);
        // With no backlog due, return what was freed to the system once enough has been.
        const std::size_t threshold = self->limits.history_trim_bytes;
        if (threshold != 0 && (!next || *next > now) && self->history.freed() >= threshold) {
          self->history.take_freed();
          ++self->trims;
          trim = true;
        }
        if (next) {
          // A larger backlog is already due: the next batch runs in a later turn of the loop.
          timer->expires_at(*next);
          auto& t = *timer;
          t.async_wait(Handler{weak, timer});
        }
        // Otherwise the timer goes with this handler; the next group to empty arms a new one.
      }
      if (trim) {
        release_free_memory();
      }
    }
  };
  timer->expires_at(*deadline);
  timer->async_wait(Handler{weak_from_this(), timer});
}

// =================================================================================================
// ChannelRegistry
// =================================================================================================

ChannelRegistry::ChannelRegistry(ChannelLimits limits) : impl_(std::make_shared<Impl>()) {
  limits.validate();
  impl_->limits = limits;
}

ChannelRegistry::~ChannelRegistry() {
  stop_layer();  // no layer may deliver to a registry that is gone
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
  // Histories whose time ran out go here too (a little at a time), not only on the timer.
  impl_->history.expire(steady::now(), limits.history_ttl, 16);
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
      impl_->history.set_occupied(group, true, steady::now());  // its history no longer expires
    }
    it->second.members.push_back(ch);
    Impl::rebuild(it->second);
    if (impl_->layer) {
      impl_->layer->member_joined(group, channel, created);
    }
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
  std::shared_ptr<ChannelLayer> layer;
  // The saved copy is built before the lock: its id, timestamp and frame (the serialized payload).
  // With a layer it is also what goes to the other servers (the history is theirs to number).
  std::shared_ptr<detail::SavedEntry> saved;
  if (save_history) {
    saved = detail::SavedEntry::make(payload.kind(), payload.serialize());
  }
  std::size_t batch = 0;
  const void* group_key = nullptr;  // orders this group's fan-outs on each loop
  {
    std::lock_guard lock(impl_->mutex);
    layer = impl_->layer;
    batch = impl_->limits.fanout_batch;
    auto it = impl_->groups.find(group);
    if (it != impl_->groups.end()) {
      group_key = &it->second;
      snap = it->second.snapshot;
    } else if (!layer) {
      co_return result;  // NO_SUCH_GROUP: nothing sent, nothing saved
    }
    if (saved && save_history && !layer && snap) {
      result.history_offset = impl_->history.save(group, saved, impl_->limits);
    }
  }

  // What goes to the other servers: the saved copy when there is one (members here share its
  // frame); with neither history nor members here, only its bytes, an id and a time.
  std::string serialized;
  std::array<char, 36> id{};
  if (layer && !saved) {
    if (snap) {
      saved = detail::SavedEntry::make(payload.kind(), payload.serialize());
    } else {
      serialized = payload.serialize();
      detail::uuid4_into(id);
    }
  }
  if (snap) {
    result.status = GroupSendStatusEnum::GROUP_SEND;
    // Members get the saved frame itself where it fits: the history and every delivery share it.
    auto frames = std::make_shared<detail::Frames>(payload);
    if (saved) {
      frames->adopt(saved);
    }
    frames->prepare(snap->type_mask);
    const detail::FanoutCounts counts =
        co_await detail::fan_out(std::move(snap), std::move(frames), started, batch, group_key);
    result.delivered = counts.delivered;
    result.dropped = counts.dropped;
  }
  if (layer) {
    // Then to the other servers (after this server's members: a slow layer never delays them).
    LayerMessage message;
    if (saved) {
      message.kind = saved->kind();
      message.data = saved->data();
      message.id = saved->id();
      message.timestamp = saved->timestamp();
      message.footprint = detail::entry_footprint(*saved);
    } else {
      message.kind = payload.kind();
      message.data = serialized;
      message.id = std::string_view(id.data(), id.size());
      message.timestamp = std::chrono::system_clock::now();
      message.footprint = detail::entry_footprint_for(serialized.size());
    }
    const bool local = result.status == GroupSendStatusEnum::GROUP_SEND;
    const LayerPublishResult published = co_await layer->publish(group, message, save_history, local);
    result.published = published.published;
    result.servers = published.servers;
    result.history_offset = published.history_offset;
    if (published.remote_members) {
      result.status = GroupSendStatusEnum::GROUP_SEND;
    }
  }
  co_return result;
}

std::vector<HistoryEntry> ChannelRegistry::history(std::string_view group, HistoryQuery query) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->history.query(group, query);
}

Task<ReplayResult> ChannelRegistry::replay_history(const Channel& channel, std::string_view group_view,
                                                   HistoryQuery query) {
  const Channel ch = channel;
  const std::string group(group_view);
  auto impl = impl_;
  ReplayResult result;
  std::vector<HistoryEntry> entries = co_await fetch_history(group, query);
  for (auto& entry : entries) {
    if (co_await ch.send(entry)) {
      ++result.sent;
    } else {
      ++result.skipped;
    }
    entry.reset();  // the connection's queue holds what it still has to write
  }
  if (result.skipped != 0) {
    impl->replay_skipped.fetch_add(result.skipped, std::memory_order_relaxed);
    ch.impl()->conn->log_event(LogLevel::warning, "channels", "history replay skipped messages this channel cannot take",
                               {{"group", std::string_view(group)}, {"skipped", result.skipped}, {"sent", result.sent}});
  }
  co_return result;
}

std::vector<ChannelMessage> ChannelRegistry::show_history(std::string_view group) const {
  // Handles under the lock, the copies (and JSON parsing) after it.
  const std::vector<HistoryEntry> entries = history(group);
  std::vector<ChannelMessage> out;
  out.reserve(entries.size());
  for (const auto& e : entries) {
    out.push_back(e->message());
  }
  return out;
}

std::map<std::string, std::vector<ChannelMessage>> ChannelRegistry::show_history() const {
  std::map<std::string, std::vector<HistoryEntry>> all;
  {
    std::lock_guard lock(impl_->mutex);
    all = impl_->history.query_all();
  }
  std::map<std::string, std::vector<ChannelMessage>> out;
  for (const auto& [name, entries] : all) {
    auto& v = out[name];
    v.reserve(entries.size());
    for (const auto& e : entries) {
      v.push_back(e->message());
    }
  }
  return out;
}

void ChannelRegistry::flush_history() {
  std::lock_guard lock(impl_->mutex);
  impl_->history.clear();
  if (impl_->layer) {
    impl_->layer->flush_history({});
  }
}

void ChannelRegistry::flush_history(std::string_view group) {
  std::lock_guard lock(impl_->mutex);
  impl_->history.clear(group);
  if (impl_->layer && !group.empty()) {
    impl_->layer->flush_history(group);
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
  std::shared_ptr<ChannelLayer> layer;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->directory.find(channel_id);
    if (it != impl_->directory.end()) {
      ch = it->second.lock();
    }
    layer = impl_->layer;
  }
  if (!ch) {
    if (!layer) {
      co_return false;
    }
    // Not here: the server that has it, if any (false when the layer cannot tell).
    const std::optional<bool> remote = co_await layer->send_to(channel_id, payload.kind(), payload.serialize());
    co_return remote.value_or(false);
  }
  auto frames = std::make_shared<detail::Frames>(payload);
  frames->prepare(1u << static_cast<unsigned>(ch->type.value()));
  co_return co_await detail::deliver_to(std::move(ch), std::move(frames));
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
  if (impl_->layer) {
    for (const auto& [name, g] : impl_->groups) {
      for (std::size_t i = 0; i < g.members.size(); ++i) {
        impl_->layer->member_left(name, g.members[i]->id, i + 1 == g.members.size());
      }
    }
  }
  impl_->groups.clear();
  impl_->history.set_all_empty(steady::now());
  if (!channels.empty()) {
    impl_->arm_history_sweep(channels.front()->executor);
  }
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
  impl_->history.apply_limits(impl_->limits);
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
  st.history_entries = impl_->history.entries();
  st.history_bytes = impl_->history.bytes();
  st.history_payload_bytes = impl_->history.payload_bytes();
  st.history_groups = impl_->history.groups();
  st.history_groups_empty = impl_->history.empty_groups();
  st.history_replay_skipped = impl_->replay_skipped.load(std::memory_order_relaxed);
  st.history_trims = impl_->trims;
  return st;
}

}  // namespace nexios
