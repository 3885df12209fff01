#pragma once
/// @file
/// The Redis channel layer (library `nexios::redis`): several nexios-cpp servers, one ChannelBox.
///
/// Every server that uses the same Redis (and key prefix) shares its groups: `group_send` on one
/// reaches the members on all, history lives in Redis, member lists are cluster-wide and
/// `send_to` finds a channel on any server. See docs/scaling.md for the guarantees, the keys it
/// writes and what happens when Redis goes away.
///
/// @code
/// #include <nexios/redis.hpp>
/// nx::App app;
/// app.use_channel_layer(nx::RedisLayer({.url = "redis://:secret@10.0.0.5:6379/2", .key_prefix = "chat:"}));
/// // or from the environment: NEXIOS_CHANNEL_LAYER=redis://127.0.0.1:6379/0 (rediss:// for TLS)
/// if (auto layer = nx::RedisLayer::from_environment()) app.use_channel_layer(layer);
/// @endcode

#include <nexios/channel_layer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace nexios {

/// How the Redis layer connects and behaves. Every field is checked when the layer is made.
struct RedisLayerOptions {
  /// `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. User and password are
  /// percent-decoded.
  std::string url = "redis://127.0.0.1:6379/0";
  /// ACL user and password (override the URL's when not empty).
  std::string username{};
  std::string password{};
  /// The database number (overrides the URL's).
  std::optional<int> db{};
  /// Put before every key and channel the layer uses: apps that share one Redis use different
  /// prefixes. At most 64 bytes.
  std::string key_prefix = "nexios:";
  /// TLS (rediss://): the CA file to verify Redis's certificate (empty: the system's), a client
  /// certificate and key (for `tls-auth-clients yes`), whether to verify, and the name to verify
  /// and send as SNI (empty: the URL's host).
  std::string tls_ca_file{};
  std::string tls_cert_file{};
  std::string tls_key_file{};
  bool tls_verify = true;
  std::string tls_server_name{};
  /// A server's membership keys in Redis expire unless it refreshes them (every third of this):
  /// a server that dies without cleaning up drops out of member lists within this time.
  std::chrono::milliseconds membership_ttl{30'000};
  /// Group messages sent to Redis and not yet answered. Past it, group_send does not wait:
  /// it reports `published == false` (counted in ChannelLayerStats::pending_full).
  std::size_t max_pending_publishes = 10'000;
  /// Bytes of one message on the layer's channels: a larger group_send/send_to reaches this
  /// server's members only (reported and counted); a larger one received is dropped and counted.
  std::size_t max_message_bytes = 16 * 1024 * 1024;
  /// Reconnecting: the first delay, doubling up to the cap, each taken at random between zero
  /// and itself (full jitter, so servers do not reconnect in step).
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5'000};
  /// Connecting (TCP, TLS, AUTH, SELECT) may take at most this long.
  std::chrono::milliseconds connect_timeout{5'000};
  /// A Redis that has not answered for this long is taken as gone: the layer reconnects.
  std::chrono::milliseconds reply_timeout{5'000};
  /// How long send_to waits for the other servers to say whether they have the channel.
  std::chrono::milliseconds send_to_timeout{2'000};
  /// Called on the layer's thread whenever its state changes (up, connecting, down).
  std::function<void(ChannelLayerState)> on_state{};
};

/// The Redis channel layer. A cheap handle: copies share one layer.
class RedisLayer final : public ChannelLayer {
 public:
  /// Checks the options (throws std::invalid_argument saying which is wrong); connects only when
  /// the app starts.
  explicit RedisLayer(RedisLayerOptions options = {});
  ~RedisLayer() override;
  RedisLayer(const RedisLayer&) = default;
  RedisLayer& operator=(const RedisLayer&) = default;
  RedisLayer(RedisLayer&&) noexcept = default;
  RedisLayer& operator=(RedisLayer&&) noexcept = default;

  /// The layer NEXIOS_CHANNEL_LAYER names: null when it is unset, empty or "memory" (the
  /// embedded in-memory default), a RedisLayer for a redis:// or rediss:// URL. Throws
  /// std::invalid_argument for anything else.
  static std::shared_ptr<ChannelLayer> from_environment();
  /// The same for a given value ("memory", or a Redis URL).
  static std::shared_ptr<ChannelLayer> from_url(std::string_view url);

  [[nodiscard]] const RedisLayerOptions& options() const noexcept;

  // ChannelLayer
  void start(Host& host) override;
  void stop() noexcept override;
  [[nodiscard]] std::string server_id() const override;
  [[nodiscard]] ChannelLayerState state() const noexcept override;
  [[nodiscard]] ChannelLayerStats stats() const override;
  void member_joined(std::string_view group, const Channel& channel, bool first) override;
  void member_left(std::string_view group, std::string_view channel_id, bool last) override;
  Task<LayerPublishResult> publish(std::string_view group, const LayerMessage& message, bool save_history,
                                   bool local_members) override;
  Task<std::optional<bool>> send_to(std::string_view channel_id, Payload::Kind kind, std::string data) override;
  Task<std::optional<std::vector<HistoryEntry>>> history(std::string_view group, HistoryQuery query) override;
  void flush_history(std::string_view group) override;
  Task<std::optional<std::map<std::string, std::vector<ClusterMember>>>> groups(std::string_view only) override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace nexios
