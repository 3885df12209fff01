#pragma once
// Library-internal access to channels (not part of the public API): the channel's state
// (ChannelImpl) and the registry's (ChannelRegistry::Impl), shared by channel.cpp, registry.cpp,
// fanout.cpp and the app.
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

#include <nexios/channel_layer.hpp>
#include <nexios/channels.hpp>

#include "app/history.hpp"
#include "app/websocket_impl.hpp"
#include "transport/connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace nexios::detail {

class Frames;  // app/fanout.hpp

/// The channel leaves every group of every registry and can join none again (its connection is
/// over). Thread-safe.
void detach_channel(const Channel& channel);

/// A channel for a consumer: it stays in its groups until the consumer detaches it (right after
/// on_disconnect; the consumer's frame holds a guard that does it however the consumer ends).
Channel make_consumer_channel(WebSocket ws, PayloadType type, std::chrono::milliseconds expires);

/// close_all_connections of the process-wide registry, limited to the channels served by
/// `server` (a transport::Server). Returns how many were asked to close.
std::size_t close_channels_of(const void* server, std::uint16_t code, std::string_view reason);

using steady = std::chrono::steady_clock;

inline std::int64_t steady_ns(steady::time_point t) noexcept { return t.time_since_epoch().count(); }

struct ChannelImpl : std::enable_shared_from_this<ChannelImpl> {
  ChannelImpl(WebSocket w, PayloadType t, std::chrono::milliseconds expires, boost::json::object meta);

  WebSocket ws;
  std::shared_ptr<transport::Connection> conn;
  boost::asio::any_io_executor executor;
  const void* loop_key;
  const std::string id;
  const std::chrono::system_clock::time_point created;
  const steady::time_point created_steady;
  const std::chrono::milliseconds ttl;
  const PayloadType type;
  boost::json::object metadata;
  std::atomic<std::int64_t> touched_ns;
  bool detached_by_owner = false;  // consumers: left after on_disconnect, by the consumer itself
  std::optional<boost::asio::steady_timer> expiry_timer;

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

}  // namespace nexios::detail

namespace nexios {

struct ChannelRegistry::Impl : std::enable_shared_from_this<ChannelRegistry::Impl>, ChannelLayer::Host {
  using ChannelImpl = detail::ChannelImpl;
  struct Bucket {
    boost::asio::any_io_executor executor;
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
  // Group messages from the channel layer waiting for one event loop (the loop of the group's
  // first member): appended by the layer's thread, delivered by that loop in one task per batch,
  // so a burst of messages from other servers costs the loop one wake-up, not one per message.
  struct LayerInbox {
    struct Item {
      std::shared_ptr<const Snapshot> snap;
      std::shared_ptr<const detail::Frames> frames;
      std::size_t batch = 0;
      const void* group_key = nullptr;
    };
    boost::asio::any_io_executor executor;
    std::mutex mutex;
    std::vector<Item> items;     // guarded by `mutex`
    std::vector<Item> draining;  // the loop's
  };

  mutable std::mutex mutex;
  std::map<std::string, Group, std::less<>> groups;
  detail::HistoryStore history;
  ChannelLimits limits;
  std::map<std::string, std::weak_ptr<ChannelImpl>, std::less<>> directory;
  // The timer that forgets histories history_ttl after their group emptied: alive while armed
  // (its handler owns it), so a stopped event loop that drops it lets the next one be armed.
  std::weak_ptr<boost::asio::steady_timer> history_sweep;
  std::atomic<std::size_t> replay_skipped{0};
  // The channel layer (null: in-memory only). Set and read under `mutex`; its member hooks are
  // called under it (they only queue work).
  std::shared_ptr<ChannelLayer> layer;
  std::size_t trims = 0;  // (mutex held)
  // One inbox per event loop the layer has delivered to (mutex held to find or add one).
  std::vector<std::shared_ptr<LayerInbox>> inboxes;
  // Inboxes given messages since the last flush_deliveries (the layer's thread's).
  std::vector<std::shared_ptr<LayerInbox>> inboxes_to_wake;

  /// Histories forgotten per turn of the sweep (a larger backlog continues in the next turn).
  static constexpr std::size_t history_sweep_batch = 256;

  // ---- membership (called with `mutex` held) ---------------------------------------------------

  static void rebuild(Group& g);
  /// Removes `ch` from `group` (mutex held). Returns the status; the channel's link is the
  /// caller's business.
  ChannelRemoveStatusEnum remove_member(std::string_view group, const ChannelImpl* ch);
  /// Records (channel mutex held) that `ch` is known to this registry, and member of `group`.
  void link(ChannelImpl& ch, const std::string* group);
  /// Groups of this registry `ch` is a member of (channel mutex held).
  std::size_t group_count(const ChannelImpl& ch) const;
  void unlink_group(ChannelImpl& ch, std::string_view group);
  /// Arms the history-expiry timer on `executor` unless it is armed already or nothing expires.
  void arm_history_sweep(const boost::asio::any_io_executor& executor);

  // ---- these take the mutex themselves ---------------------------------------------------------

  /// Called by a channel whose connection ended: leave every group, leave the directory.
  void detach(const ChannelImpl* ch, const std::vector<std::string>& member_of);
  std::vector<std::shared_ptr<ChannelImpl>> live_channels() const;
  void register_channel(const std::shared_ptr<ChannelImpl>& ch);

  // ---- ChannelLayer::Host (registry_layer.cpp) --------------------------------------------------

  void deliver_group(std::string_view group, const LayerMessage& message) override;
  void flush_deliveries() override;
  void load_history(std::string_view group, const std::vector<LayerMessage>& older) override;
  void deliver_channel(std::string_view channel_id, Payload::Kind kind, std::string_view data,
                       std::function<void(bool)> done) override;
  [[nodiscard]] std::vector<LocalGroup> local_groups() const override;
  [[nodiscard]] ChannelLimits channel_limits() const override;
};

}  // namespace nexios
