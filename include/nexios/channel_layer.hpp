#pragma once
/// @file
/// The channel layer: what carries ChannelBox's groups, history and `send_to` beyond one process.
///
/// By default there is none: `ChannelBox` lives in the process (the embedded in-memory layer),
/// exactly as without this header. An app that runs on several servers picks a layer that they
/// share, e.g. the Redis layer of the `nexios::redis` library:
///
/// @code
/// #include <nexios/redis.hpp>
/// app.use_channel_layer(nx::RedisLayer({.url = "redis://127.0.0.1:6379/0"}));
/// // or, for every example: NEXIOS_CHANNEL_LAYER=redis://127.0.0.1:6379/0 ./chat
/// @endcode
///
/// Users only choose a layer; the interface below is for whoever implements one (see
/// docs/scaling.md for what a layer must guarantee).

#include <nexios/channels.hpp>
#include <nexios/task.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nexios {

/// A group message from another server (or this server's own, echoed back by the layer).
struct LayerMessage {
  Payload::Kind kind = Payload::Kind::json;
  /// The serialized payload (compact JSON, the text or the bytes).
  std::string_view data;
  /// Its history offset when it was saved (0: not saved).
  std::uint64_t offset = 0;
  /// Its id (36 characters) and timestamp when it was saved.
  std::string_view id;
  std::chrono::system_clock::time_point timestamp{};
  /// Sent by this server: the members here have it already (only the history copy is kept).
  bool from_self = false;
  /// What it counts against the history caps (SavedMessage::footprint; set by the registry when
  /// it publishes, so a shared store trims by the same numbers as every server's copy).
  std::size_t footprint = 0;
};

/// What ChannelLayer::publish did.
struct LayerPublishResult {
  /// The layer took the message to the other servers.
  bool published = false;
  /// Other servers the layer says received it.
  std::size_t servers = 0;
  /// Members exist on some other server (when the layer can tell).
  bool remote_members = false;
  /// The history offset the layer gave it (when it was saved).
  std::optional<std::uint64_t> history_offset{};
};

/// A saved message built by a layer (from what its shared store holds) for the history API.
HistoryEntry make_history_entry(Payload::Kind kind, std::string_view data, std::string_view id,
                                std::chrono::system_clock::time_point timestamp, std::uint64_t offset);
/// What a group's history counts on its own against ChannelLimits::history_max_bytes (with the
/// footprints of its messages): a layer that keeps history elsewhere trims by the same numbers.
std::size_t history_group_overhead(std::string_view group) noexcept;

/// A channel layer (see the file comment). Every function may be called from any thread; the
/// member hooks are called with the registry's lock held, so they must only queue work and
/// never call back into the registry.
class ChannelLayer {
 public:
  /// What the registry offers the layer. Its functions may be called from any thread (without
  /// the layer holding a lock the registry might wait on).
  class Host {
   public:
    /// A group's members on this server, with their metadata.
    struct LocalGroup {
      std::string name;
      std::vector<std::pair<std::string, boost::json::object>> members;
    };
    /// Delivers a group message from the layer to this server's members of `group` (unless it
    /// is from_self) and keeps its history copy (when it has an offset). The message waits for
    /// the members' event loops until flush_deliveries().
    virtual void deliver_group(std::string_view group, const LayerMessage& message) = 0;
    /// Hands what deliver_group queued since the last call to the members' event loops (each
    /// loop woken once for the lot). A layer calls it after each batch of deliver_group calls,
    /// e.g. once per read of its subscription, from the same thread.
    virtual void flush_deliveries() = 0;
    /// Keeps `older` (ascending offsets; views valid during the call) as this server's copy of
    /// the history of `group` before what it holds: the shared history, read when this server's
    /// first member joined (messages that arrived meanwhile are kept, none twice).
    virtual void load_history(std::string_view group, const std::vector<LayerMessage>& older) = 0;
    /// Delivers to one channel of this server; `done(true)` once its connection took the
    /// message, `done(false)` when there is no such channel (called on any thread).
    virtual void deliver_channel(std::string_view channel_id, Payload::Kind kind, std::string_view data,
                                 std::function<void(bool)> done) = 0;
    /// This server's groups and members now (for a resync after connecting).
    [[nodiscard]] virtual std::vector<LocalGroup> local_groups() const = 0;
    /// The registry's limits (history caps).
    [[nodiscard]] virtual ChannelLimits channel_limits() const = 0;

   protected:
    virtual ~Host() = default;
  };

  virtual ~ChannelLayer() = default;

  /// Starts the layer for `host` (the app calls it before serving). Throws std::runtime_error
  /// with a clear message when the layer cannot start (e.g. its server refuses the password).
  virtual void start(Host& host) = 0;
  /// Stops it (after the last delivery); forgets this server's members in the shared store.
  virtual void stop() noexcept = 0;

  /// This server's id in the cluster.
  [[nodiscard]] virtual std::string server_id() const = 0;
  [[nodiscard]] virtual ChannelLayerState state() const noexcept = 0;
  [[nodiscard]] virtual ChannelLayerStats stats() const = 0;

  /// `channel` joined `group` on this server (`first`: the group's first member here).
  virtual void member_joined(std::string_view group, const Channel& channel, bool first) = 0;
  /// A channel left `group` on this server (`last`: the group has no members here now).
  virtual void member_left(std::string_view group, std::string_view channel_id, bool last) = 0;

  /// Sends a group message to the other servers (saving it to the shared history first when
  /// `save_history`; `local_members`: the group has members here). `message` (its id, timestamp
  /// and footprint set, no offset) stays valid until the task completes.
  virtual Task<LayerPublishResult> publish(std::string_view group, const LayerMessage& message, bool save_history,
                                           bool local_members) = 0;
  /// Sends to a channel on another server: true once its connection took it, false when no server
  /// has it, nothing when the layer cannot tell (not up).
  virtual Task<std::optional<bool>> send_to(std::string_view channel_id, Payload::Kind kind, std::string data) = 0;
  /// The shared history of `group` (see HistoryQuery); nothing when the layer cannot tell.
  virtual Task<std::optional<std::vector<HistoryEntry>>> history(std::string_view group, HistoryQuery query) = 0;
  /// Forgets the shared history (one group, or all when `group` is empty); queued, not awaited.
  virtual void flush_history(std::string_view group) = 0;
  /// Every group with members on a live server, with its members; nothing when the layer
  /// cannot tell.
  virtual Task<std::optional<std::map<std::string, std::vector<ClusterMember>>>> groups(std::string_view only) = 0;
};

}  // namespace nexios
