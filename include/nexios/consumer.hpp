#pragma once
/// @file
/// Class-based WebSocket endpoints (Nexios' `WebSocketConsumer`, alias `WebSocketEndpoint`).
///
/// @code
/// class ChatRoom : public nx::WebSocketConsumer<ChatRoom> {
///  public:
///   ChatRoom() { encoding = "json"; }
///   nx::Task<> on_connect(nx::WebSocket& ws) override {
///     co_await ws.accept();
///     room_ = std::string(ws.path_params().at("room_id"));
///     join_group(room_);
///   }
///   nx::Task<> on_receive(nx::WebSocket& ws, nx::Payload data) override {
///     co_await broadcast(data, room_, true);
///   }
///   nx::Task<> on_disconnect(nx::WebSocket& ws, std::uint16_t close_code) override { co_return; }
///  private:
///   std::string room_;
/// };
/// app.ws_route<ChatRoom>("/room/{room_id}");      // or app.add_ws_route(ChatRoom::as_route(...))
/// @endcode

#include <nexios/channels.hpp>
#include <nexios/routing.hpp>
#include <nexios/task.hpp>
#include <nexios/websocket.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nexios {

/// How a consumer decodes incoming messages (the seeds' `encoding = "json" | "text" | "bytes" | None`).
class Encoding {
 public:
  enum Value {
    none,   ///< text frames give text, binary frames give bytes
    text,   ///< text frames only (a binary frame closes with 1003)
    bytes,  ///< binary frames only (a text frame closes with 1003)
    json,   ///< JSON in text frames or UTF-8 binary frames (invalid JSON closes with 1003)
  };
  Encoding(Value v = none) noexcept : value_(v) {}  // NOLINT(google-explicit-constructor)
  /// "json", "text", "bytes", "none" (or ""). Throws std::invalid_argument otherwise.
  Encoding(std::string_view name);  // NOLINT(google-explicit-constructor)
  Encoding(const char* name) : Encoding(std::string_view(name)) {}  // NOLINT(google-explicit-constructor)
  [[nodiscard]] Value value() const noexcept { return value_; }
  friend bool operator==(Encoding a, Encoding b) noexcept { return a.value_ == b.value_; }

 private:
  Value value_;
};

/// The non-template part of every consumer. Derive from `WebSocketConsumer<YourClass>`.
///
/// One instance serves one connection. The lifecycle: a Channel is created for the connection
/// (`channel()`: JSON for encoding json, BYTES for bytes, TEXT otherwise, expiring after
/// `channel_expires` of inactivity), then `on_connect` runs (the default accepts). If the
/// connection was accepted, every message is decoded by `encoding` and passed to `on_receive`,
/// until the peer disconnects, the handler closes, or an exception escapes. Then
/// `on_disconnect(ws, close_code)` runs exactly once — still a member of its groups, however the
/// connection ended, so it can tell them it is leaving — and then the channel leaves every group
/// it joined. (Until then a group_send counts it as dropped: its connection is gone.)
class WebSocketConsumerBase {
 public:
  WebSocketConsumerBase() = default;
  WebSocketConsumerBase(const WebSocketConsumerBase&) = delete;
  WebSocketConsumerBase& operator=(const WebSocketConsumerBase&) = delete;
  virtual ~WebSocketConsumerBase() = default;

  /// Default: accepts the connection.
  virtual Task<> on_connect(WebSocket& ws);
  /// Default: does nothing.
  virtual Task<> on_receive(WebSocket& ws, Payload data);
  /// `close_code`: the peer's close code, 1006 if the connection dropped, the code the server
  /// closed with (e.g. 1003 for data that does not match `encoding`), or 1011 after an exception.
  virtual Task<> on_disconnect(WebSocket& ws, std::uint16_t close_code);

  // ---- helpers (Nexios names) -----------------------------------------------------------------
  /// Adds this connection's channel to `group` in the registry (ChannelBox by default).
  ChannelAddStatusEnum join_group(std::string_view group = "default");
  ChannelRemoveStatusEnum leave_group(std::string_view group = "default");
  /// group_send to `group`.
  Task<GroupSendResult> broadcast(Payload payload, std::string_view group = "default", bool save_history = false);
  /// The members of `group` (a snapshot; its size is the member count).
  [[nodiscard]] std::vector<Channel> group(std::string_view group = "default") const;
  /// Sends to one channel by id.
  Task<bool> send_to(std::string_view channel_id, Payload payload);

  /// This connection's channel (set before on_connect runs).
  [[nodiscard]] Channel& channel();
  [[nodiscard]] WebSocket& websocket();
  [[nodiscard]] ChannelRegistry& registry() const noexcept { return *registry_; }

  /// Runs the lifecycle on `ws` (used by the route; call it yourself only to embed a consumer).
  Task<> run(WebSocket ws);

 protected:
  /// How messages are decoded. Set it in the constructor: `encoding = "json";`.
  Encoding encoding;
  /// The time to live of the channel (Nexios: 3600 s). Zero: never expires.
  std::chrono::milliseconds channel_expires{std::chrono::hours(1)};
  /// The registry for the group helpers (the process-wide ChannelBox unless changed).
  ChannelRegistry* registry_ = &ChannelRegistry::global();

 private:
  std::optional<WebSocket> ws_;
  std::optional<Channel> channel_;
};

/// Base class of a consumer `Self` (CRTP, for `Self::as_route(path)`).
template <class Self>
class WebSocketConsumer : public WebSocketConsumerBase {
 public:
  /// A route that creates a new `Self` for every connection.
  static WebsocketRoutes as_route(std::string path, Guards guards = {}) {
    return make_consumer_route<Self>(std::move(path), std::move(guards));
  }
};

/// The seeds' other name for WebSocketConsumer.
template <class Self>
using WebSocketEndpoint = WebSocketConsumer<Self>;

namespace detail {
template <class C>
Task<> run_consumer(WebSocket ws) {
  auto consumer = std::make_shared<C>();
  co_await consumer->run(std::move(ws));
}
}  // namespace detail

template <class C>
WebsocketRoutes make_consumer_route(std::string path, Guards guards) {
  static_assert(std::is_base_of_v<WebSocketConsumerBase, C>, "a consumer derives from nx::WebSocketConsumer<C>");
  static_assert(std::is_default_constructible_v<C>, "a consumer must be default-constructible");
  return WebsocketRoutes(std::move(path), &detail::run_consumer<C>, std::move(guards));
}

}  // namespace nexios
