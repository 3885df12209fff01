// The registry's side of the channel-layer seam: starting and stopping a layer, what a layer
// delivers to this server (ChannelLayer::Host), and the cluster-wide calls that ask the layer.

#include <nexios/channel_layer.hpp>
#include <nexios/channels.hpp>

#include "app/channels_internal.hpp"
#include "app/fanout.hpp"
#include "app/history.hpp"

#include <nexios/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <stdexcept>

namespace nexios {

namespace asio = boost::asio;
using detail::ChannelImpl;
using detail::steady;

std::string_view to_string(ChannelLayerState s) noexcept {
  switch (s) {
    case ChannelLayerState::up:
      return "up";
    case ChannelLayerState::connecting:
      return "connecting";
    case ChannelLayerState::down:
      return "down";
  }
  return "unknown";
}

HistoryEntry make_history_entry(Payload::Kind kind, std::string_view data, std::string_view id,
                                std::chrono::system_clock::time_point timestamp, std::uint64_t offset) {
  auto e = detail::SavedEntry::make(kind, data, id, timestamp);
  e->set_offset(offset);
  e->set_footprint(detail::entry_footprint(*e));
  return e;
}

std::size_t history_group_overhead(std::string_view group) noexcept {
  return detail::HistoryStore::group_overhead(group);
}

namespace {

// A payload of `kind` whose serialized form is `entry`'s: what Frames needs to encode the forms
// the entry's own frame does not cover (a text payload for JSON channels needs the text itself).
Payload payload_for(const detail::SavedEntry& entry) {
  switch (entry.kind()) {
    case Payload::Kind::text:
      return Payload(std::string(entry.data()));
    case Payload::Kind::bytes:
      return Payload::bytes({});
    case Payload::Kind::json:
      break;
  }
  return Payload(boost::json::value());
}

// The payload and its frames, alive until every member's delivery is done.
struct LayerDelivery {
  explicit LayerDelivery(const std::shared_ptr<detail::SavedEntry>& e) : payload(payload_for(*e)), frames(payload) {
    frames.adopt(e);
  }
  Payload payload;
  detail::Frames frames;
};

// The task that delivers an inbox's messages on its loop. Move-only: if the loop is destroyed
// without running it, what waited goes with it (as posted handlers do), and the inbox is empty
// again for a loop that takes its place.
class InboxTask {
 public:
  using Inbox = ChannelRegistry::Impl::LayerInbox;
  explicit InboxTask(std::shared_ptr<Inbox> inbox) noexcept : inbox_(std::move(inbox)) {}
  InboxTask(InboxTask&&) noexcept = default;
  InboxTask& operator=(InboxTask&&) noexcept = default;
  InboxTask(const InboxTask&) = delete;
  InboxTask& operator=(const InboxTask&) = delete;
  ~InboxTask() {
    if (inbox_) {
      std::lock_guard lock(inbox_->mutex);
      inbox_->items.clear();
    }
  }
  void operator()() {
    const std::shared_ptr<Inbox> inbox = std::move(inbox_);
    {
      std::lock_guard lock(inbox->mutex);
      inbox->draining.swap(inbox->items);
    }
    for (auto& item : inbox->draining) {
      detail::fan_out_detached(std::move(item.snap), std::move(item.frames), item.batch, item.group_key,
                               inbox->executor);
    }
    inbox->draining.clear();
  }

 private:
  std::shared_ptr<Inbox> inbox_;
};

}  // namespace

// ---- ChannelLayer::Host ---------------------------------------------------------------------------

void ChannelRegistry::Impl::deliver_group(std::string_view group, const LayerMessage& message) {
  auto entry = detail::SavedEntry::make(message.kind, message.data, message.id, message.timestamp);
  std::shared_ptr<const Snapshot> snap;
  const void* group_key = nullptr;
  std::size_t batch = 0;
  std::shared_ptr<LayerInbox> inbox;
  {
    std::lock_guard lock(mutex);
    auto it = groups.find(group);
    if (message.offset != 0) {
      // This server's copy of the shared history (a group with no members here keeps it for
      // history_ttl, like any other).
      if (history.save(group, entry, limits, message.offset) && it == groups.end()) {
        history.set_occupied(group, false, steady::now());
      }
    }
    if (message.from_self || it == groups.end()) {
      return;
    }
    snap = it->second.snapshot;
    group_key = &it->second;
    batch = limits.fanout_batch;
    const auto& executor = snap->buckets.front().executor;
    for (const auto& box : inboxes) {
      if (box->executor == executor) {
        inbox = box;
        break;
      }
    }
    if (!inbox) {
      if (inboxes.size() >= 64) {  // loops of servers gone: forget the idle inboxes
        std::erase_if(inboxes, [](const std::shared_ptr<LayerInbox>& box) {
          std::lock_guard box_lock(box->mutex);
          return box->items.empty();
        });
      }
      inbox = std::make_shared<LayerInbox>();
      inbox->executor = executor;
      inboxes.push_back(inbox);
    }
  }
  auto delivery = std::make_shared<LayerDelivery>(entry);
  delivery->frames.prepare(snap->type_mask);
  std::shared_ptr<const detail::Frames> frames(delivery, &delivery->frames);
  // Delivered from the first member's loop (inline there, one task per other loop): the layer's
  // own thread never touches a connection. The loop is woken once for what arrives meanwhile,
  // at flush_deliveries (woken at once, it could take the core from the layer's thread and leave
  // with a batch of one).
  bool wake = false;
  {
    std::lock_guard lock(inbox->mutex);
    wake = inbox->items.empty();
    inbox->items.push_back(LayerInbox::Item{std::move(snap), std::move(frames), batch, group_key});
  }
  if (wake) {
    inboxes_to_wake.push_back(std::move(inbox));
  }
}

void ChannelRegistry::Impl::flush_deliveries() {
  for (auto& inbox : inboxes_to_wake) {
    const auto executor = inbox->executor;
    asio::post(executor, InboxTask(std::move(inbox)));
  }
  inboxes_to_wake.clear();
}

void ChannelRegistry::Impl::load_history(std::string_view group, const std::vector<LayerMessage>& older) {
  std::vector<std::shared_ptr<detail::SavedEntry>> entries;
  entries.reserve(older.size());
  for (const auto& m : older) {  // built outside the lock
    if (m.offset == 0) {
      continue;
    }
    auto e = detail::SavedEntry::make(m.kind, m.data, m.id, m.timestamp);
    e->set_offset(m.offset);
    entries.push_back(std::move(e));
  }
  std::lock_guard lock(mutex);
  if (groups.find(group) == groups.end()) {
    return;  // its members left meanwhile
  }
  history.prepend(group, entries, limits);
}

void ChannelRegistry::Impl::deliver_channel(std::string_view channel_id, Payload::Kind kind, std::string_view data,
                                            std::function<void(bool)> done) {
  std::shared_ptr<ChannelImpl> ch;
  {
    std::lock_guard lock(mutex);
    auto it = directory.find(channel_id);
    if (it != directory.end()) {
      ch = it->second.lock();
    }
  }
  if (!ch) {
    done(false);
    return;
  }
  auto entry = detail::SavedEntry::make(kind, data);
  auto delivery = std::make_shared<LayerDelivery>(entry);
  delivery->frames.prepare(1u << static_cast<unsigned>(ch->type.value()));
  std::shared_ptr<const detail::Frames> frames(delivery, &delivery->frames);
  const auto executor = ch->executor;
  asio::co_spawn(executor, detail::deliver_to(std::move(ch), std::move(frames)),
                 [done = std::move(done)](const std::exception_ptr& error, bool ok) { done(!error && ok); });
}

std::vector<ChannelLayer::Host::LocalGroup> ChannelRegistry::Impl::local_groups() const {
  std::vector<LocalGroup> out;
  std::lock_guard lock(mutex);
  out.reserve(groups.size());
  for (const auto& [name, g] : groups) {
    LocalGroup lg;
    lg.name = name;
    lg.members.reserve(g.members.size());
    for (const auto& m : g.members) {
      lg.members.emplace_back(m->id, m->metadata);
    }
    out.push_back(std::move(lg));
  }
  return out;
}

ChannelLimits ChannelRegistry::Impl::channel_limits() const {
  std::lock_guard lock(mutex);
  return limits;
}

// ---- ChannelRegistry ------------------------------------------------------------------------------

void ChannelRegistry::start_layer(std::shared_ptr<ChannelLayer> layer) {
  if (!layer) {
    throw std::invalid_argument("start_layer: no layer");
  }
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->layer) {
      throw std::logic_error("start_layer: a channel layer is running already");
    }
  }
  layer->start(*impl_);  // throws when it cannot start; calls back into the host, hence unlocked
  std::lock_guard lock(impl_->mutex);
  impl_->layer = std::move(layer);
}

void ChannelRegistry::stop_layer() noexcept {
  std::shared_ptr<ChannelLayer> layer;
  {
    std::lock_guard lock(impl_->mutex);
    layer = std::move(impl_->layer);
  }
  if (layer) {
    layer->stop();
  }
}

std::shared_ptr<ChannelLayer> ChannelRegistry::layer() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->layer;
}

Task<std::map<std::string, std::vector<ClusterMember>>> ChannelRegistry::cluster_groups(std::string_view only_view) {
  const std::string only(only_view);
  auto layer = this->layer();
  if (layer) {
    auto remote = co_await layer->groups(only);
    if (remote) {
      co_return std::move(*remote);
    }
  }
  // This server's groups.
  std::map<std::string, std::vector<ClusterMember>> out;
  std::lock_guard lock(impl_->mutex);
  const std::string server = layer ? layer->server_id() : std::string("local");
  for (const auto& [name, g] : impl_->groups) {
    if (!only.empty() && name != only) {
      continue;
    }
    auto& v = out[name];
    v.reserve(g.members.size());
    for (const auto& m : g.members) {
      v.push_back(ClusterMember{m->id, server, m->metadata});
    }
  }
  co_return out;
}

Task<std::vector<ClusterMember>> ChannelRegistry::cluster_group(std::string_view group_view) {
  const std::string group(group_view);
  if (group.empty()) {
    co_return std::vector<ClusterMember>{};
  }
  auto all = co_await cluster_groups(group);
  auto it = all.find(group);
  if (it == all.end()) {
    co_return std::vector<ClusterMember>{};
  }
  co_return std::move(it->second);
}

Task<std::size_t> ChannelRegistry::cluster_group_size(std::string_view group_view) {
  const std::string group(group_view);
  const auto members = co_await cluster_group(group);
  co_return members.size();
}

Task<std::vector<HistoryEntry>> ChannelRegistry::fetch_history(std::string_view group_view, HistoryQuery query) {
  const std::string group(group_view);
  if (auto layer = this->layer()) {
    auto shared = co_await layer->history(group, query);
    if (shared) {
      co_return std::move(*shared);
    }
  }
  co_return history(group, query);
}

}  // namespace nexios
