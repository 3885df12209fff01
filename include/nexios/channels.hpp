#pragma once
/// @file
/// Channels and groups (Nexios' `Channel` and `ChannelBox`).
///
/// A `Channel` wraps a WebSocket with a payload type (JSON, text or bytes), an id, metadata and an
/// optional time to live. `ChannelBox` organizes channels into named groups, sends to a whole group
/// at once (encoding each message once, never waiting on a slow member), keeps a bounded history per
/// group, and reaches any live channel by id.
///
/// @code
/// nx::Channel channel(ws, nx::PayloadTypeEnum::JSON, 3600);          // expires after 1 h idle
/// nx::ChannelBox::add_channel_to_group(channel, "chat_room_1");
/// boost::json::object msg; msg["type"] = "message";
/// auto report = co_await nx::ChannelBox::group_send("chat_room_1", msg, true);
/// for (const auto& entry : nx::ChannelBox::show_history("chat_room_1")) { ... }
/// @endcode

#include <nexios/settings.hpp>
#include <nexios/task.hpp>
#include <nexios/websocket.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nexios {

namespace detail {
struct ChannelImpl;
std::size_t close_channels_of(const void* server, std::uint16_t code, std::string_view reason);
}  // namespace detail
class PayloadType;
class Channel;
class SavedMessage;
/// A saved group message: a shared handle to one immutable buffer (see SavedMessage).
using HistoryEntry = std::shared_ptr<const SavedMessage>;
namespace detail {
struct SavedEntry;
Channel make_consumer_channel(WebSocket ws, PayloadType type, std::chrono::milliseconds expires);
}  // namespace detail

// =================================================================================================
// Payloads
// =================================================================================================

/// The payload types of the seeds: `PayloadTypeEnum::JSON`, `TEXT`, `BYTES`.
enum class PayloadTypeEnum { JSON, TEXT, BYTES };

/// A payload type given as the enum or as its name ("json", "text", "bytes").
class PayloadType {
 public:
  PayloadType(PayloadTypeEnum value) noexcept : value_(value) {}  // NOLINT(google-explicit-constructor)
  /// Throws std::invalid_argument for any other name.
  PayloadType(std::string_view name);  // NOLINT(google-explicit-constructor)
  PayloadType(const char* name) : PayloadType(std::string_view(name)) {}  // NOLINT(google-explicit-constructor)
  [[nodiscard]] PayloadTypeEnum value() const noexcept { return value_; }
  /// "json", "text" or "bytes".
  [[nodiscard]] std::string_view name() const noexcept;
  friend bool operator==(PayloadType a, PayloadType b) noexcept { return a.value_ == b.value_; }

 private:
  PayloadTypeEnum value_;
};

/// A message to send or one that was received: JSON, text or bytes.
///
/// How it goes on the wire depends on the channel that sends it:
/// | payload \ channel | JSON channel          | TEXT channel        | BYTES channel        |
/// |-------------------|-----------------------|---------------------|----------------------|
/// | JSON              | compact JSON, text    | compact JSON, text  | compact JSON, binary |
/// | text              | a JSON string, text   | the text, text      | the text, binary     |
/// | bytes             | binary                | binary              | binary               |
///
/// @code
/// boost::json::object o; o["type"] = "alert";
/// nx::Payload a = o;                          // JSON
/// nx::Payload b = "hello";                    // text
/// nx::Payload c = nx::Payload::bytes(data);   // bytes
/// @endcode
class Payload {
 public:
  enum class Kind : std::uint8_t { json, text, bytes };

  Payload() : Payload(boost::json::value()) {}
  Payload(boost::json::value v) : kind_(Kind::json), json_(std::move(v)) {}  // NOLINT
  Payload(boost::json::object o) : Payload(boost::json::value(std::move(o))) {}  // NOLINT
  Payload(boost::json::array a) : Payload(boost::json::value(std::move(a))) {}  // NOLINT
  Payload(std::string text) : kind_(Kind::text), data_(std::move(text)) {}  // NOLINT
  Payload(std::string_view text) : Payload(std::string(text)) {}  // NOLINT
  Payload(const char* text) : Payload(std::string(text)) {}  // NOLINT
  /// A binary payload.
  static Payload bytes(std::string data) {
    Payload p{std::move(data)};
    p.kind_ = Kind::bytes;
    return p;
  }

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] bool is_json() const noexcept { return kind_ == Kind::json; }
  [[nodiscard]] bool is_text() const noexcept { return kind_ == Kind::text; }
  [[nodiscard]] bool is_bytes() const noexcept { return kind_ == Kind::bytes; }
  /// The JSON value; throws std::logic_error if this is not a JSON payload.
  [[nodiscard]] const boost::json::value& json() const;
  [[nodiscard]] boost::json::value& json();
  /// The text (or the bytes); throws std::logic_error for a JSON payload.
  [[nodiscard]] const std::string& text() const;
  [[nodiscard]] const std::string& data() const { return text(); }
  /// The value under `key` of a JSON object payload. Throws JsonKeyError (which closes with 1003
  /// and a reason naming the key if uncaught) when the key is missing or the payload is not a JSON
  /// object.
  [[nodiscard]] const boost::json::value& at(std::string_view key) const;
  /// The payload as it goes on the wire for a JSON channel (compact JSON) or as raw text/bytes.
  [[nodiscard]] std::string serialize() const;
  /// The size of `serialize()` in bytes.
  [[nodiscard]] std::size_t size() const;

  friend bool operator==(const Payload& a, const Payload& b) noexcept;

 private:
  Kind kind_;
  boost::json::value json_;
  std::string data_;
};

// =================================================================================================
// Channel
// =================================================================================================

/// A WebSocket with a payload type, an id, metadata and an optional time to live.
///
/// `expires` is a time to live measured from the channel's last activity: a message received or
/// sent on its WebSocket, or `touch()`. Zero means it never expires. An expired channel is found by
/// a timer, removed from every group and closed with 1001 "channel expired".
///
/// A Channel is a cheap handle: copies refer to the same channel. Groups keep a channel only
/// while its connection is open; when the connection ends, however it ends, the channel leaves
/// every group. `send`/`receive`/`close`/`metadata` must be used on the connection's thread; the
/// id, times and `is_active()` may be read from any thread.
class Channel {
 public:
  /// `expires` in whole seconds (0: never).
  Channel(WebSocket websocket, PayloadType payload_type = PayloadTypeEnum::JSON, std::int64_t expires = 0,
          boost::json::object metadata = {});
  /// `expires` as a duration (zero: never).
  Channel(WebSocket websocket, PayloadType payload_type, std::chrono::milliseconds expires,
          boost::json::object metadata = {});

  /// A random UUID4, e.g. "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b".
  [[nodiscard]] const std::string& id() const noexcept;
  /// Same as id() (the seeds' `channel.uuid`).
  [[nodiscard]] const std::string& uuid() const noexcept { return id(); }
  /// When the channel was created.
  [[nodiscard]] std::chrono::system_clock::time_point created() const noexcept;
  /// The moment it will expire if nothing happens before (none if it never expires).
  [[nodiscard]] std::optional<std::chrono::system_clock::time_point> expires() const noexcept;
  /// The time to live (zero: never expires).
  [[nodiscard]] std::chrono::milliseconds ttl() const noexcept;
  /// True while the connection is open (accepted, and no side has closed it).
  [[nodiscard]] bool is_active() const noexcept;
  /// True if the channel has been idle for longer than its time to live (at `now`).
  [[nodiscard]] bool is_expired() const noexcept;
  [[nodiscard]] bool is_expired(std::chrono::steady_clock::time_point now) const noexcept;
  /// Marks activity now, pushing the expiry back.
  void touch() noexcept;
  [[nodiscard]] PayloadType payload_type() const noexcept;
  /// Free-form data about the channel (a JSON object the handler may change).
  [[nodiscard]] boost::json::object& metadata() const noexcept;
  [[nodiscard]] WebSocket& websocket() const noexcept;

  /// Sends `payload` serialized by the channel's payload type (see Payload).
  Task<> send(Payload payload) const;
  /// Sends a saved message without copying or re-serializing it when the channel's payload type
  /// takes it as it was saved (the frame the history holds is queued as is). Waits like the other
  /// sends while the connection's queue is over `send_buffer_high_water`. Returns false, sending
  /// nothing, when the entry cannot go to this channel (it would be a text frame that is not valid
  /// UTF-8); throws WebSocketDisconnect when the connection is gone, like send.
  Task<bool> send(const HistoryEntry& entry) const;
  Task<> send_text(std::string_view text) const;
  Task<> send_bytes(std::string_view data) const;
  /// The next message, deserialized by the payload type: JSON channels parse JSON (text or binary
  /// frames; invalid JSON throws JsonDecodeError), TEXT channels return text, BYTES channels bytes.
  Task<Payload> receive() const;
  Task<std::string> receive_text() const;
  Task<std::string> receive_bytes() const;
  /// Closes the WebSocket (see WebSocket::close).
  Task<> close(std::uint16_t code = 1000, std::string_view reason = {}) const;

  friend bool operator==(const Channel& a, const Channel& b) noexcept { return a.impl_ == b.impl_; }
  [[nodiscard]] const std::shared_ptr<detail::ChannelImpl>& impl() const noexcept { return impl_; }
  explicit Channel(std::shared_ptr<detail::ChannelImpl> impl) noexcept : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<detail::ChannelImpl> impl_;
};

// =================================================================================================
// ChannelBox
// =================================================================================================

/// add_channel_to_group: whether the group was created by this call, or why the channel was not
/// added.
enum class ChannelAddStatusEnum {
  CHANNEL_ADDED,                ///< the group did not exist: it was created with this channel
  CHANNEL_EXIST,                ///< the group existed: the channel is now a member (added, or already one)
  CHANNEL_CLOSED,               ///< the channel's connection has ended: it was not added
  INVALID_GROUP_NAME,           ///< empty, not valid UTF-8, or over ChannelLimits::max_group_name_bytes
  GROUP_LIMIT_REACHED,          ///< a new group, and ChannelLimits::max_groups exist already
  GROUP_FULL,                   ///< the group has ChannelLimits::max_members_per_group members
  CHANNEL_GROUP_LIMIT_REACHED,  ///< the channel is in ChannelLimits::max_groups_per_channel groups
};

/// True for CHANNEL_ADDED and CHANNEL_EXIST: the channel is a member now.
constexpr bool is_member(ChannelAddStatusEnum s) noexcept {
  return s == ChannelAddStatusEnum::CHANNEL_ADDED || s == ChannelAddStatusEnum::CHANNEL_EXIST;
}

/// remove_channel_from_group outcomes (never "nothing").
enum class ChannelRemoveStatusEnum {
  CHANNEL_REMOVED,         ///< removed; other members remain
  CHANNEL_DOES_NOT_EXIST,  ///< the group exists but the channel is not a member
  GROUP_REMOVED,           ///< it was the last member: the group is gone
  GROUP_DOES_NOT_EXIST,    ///< no such group
};

enum class GroupSendStatusEnum {
  GROUP_SEND,     ///< the group exists (see the report for how many got it)
  NO_SUCH_GROUP,  ///< no such group: nothing was sent or saved
};

std::string_view to_string(ChannelAddStatusEnum s) noexcept;
std::string_view to_string(ChannelRemoveStatusEnum s) noexcept;
std::string_view to_string(GroupSendStatusEnum s) noexcept;

/// What group_send did.
struct GroupSendResult {
  GroupSendStatusEnum status = GroupSendStatusEnum::NO_SUCH_GROUP;
  /// Members whose connection took the message (queued for writing).
  std::size_t delivered = 0;
  /// Members that did not get it: their connection was closing, or their queue was full (see
  /// Limits::max_send_queue and Limits::slow_consumer_policy).
  std::size_t dropped = 0;
  /// The history offset of the message, when it was saved.
  std::optional<std::uint64_t> history_offset;
  /// With a channel layer (several servers): the message was handed to the other servers. False
  /// when the layer was not up or could not take it (counted in ChannelLayerStats::not_published:
  /// it reached this server's members only). Always false without a layer.
  bool published = false;
  /// With a channel layer: how many other servers received it (those with members of the group).
  std::size_t servers = 0;

  friend bool operator==(const GroupSendResult& r, GroupSendStatusEnum s) noexcept { return r.status == s; }
};

/// One saved group message (the seeds' `ChannelMessageDC`).
struct ChannelMessage {
  Payload payload;
  /// A random UUID4 of its own.
  std::string id;
  /// When it was saved.
  std::chrono::system_clock::time_point timestamp;
  /// Increases by one for each message saved to the group (starting at 1).
  std::uint64_t offset = 0;
  /// Bytes of the serialized payload.
  std::size_t size = 0;
  [[nodiscard]] const std::string& uuid() const noexcept { return id; }
  [[nodiscard]] std::chrono::system_clock::time_point created() const noexcept { return timestamp; }
};

/// One saved group message as the history keeps it: immutable, one object shared by the history,
/// every delivery and every reader (`ChannelRegistry::history` returns handles, never copies).
/// The serialized payload is stored once, inside the WebSocket frame that replays it.
class SavedMessage {
 public:
  /// A random UUID4 of its own (36 characters).
  [[nodiscard]] std::string_view id() const noexcept { return {id_.data(), id_.size()}; }
  /// When it was saved.
  [[nodiscard]] std::chrono::system_clock::time_point timestamp() const noexcept { return timestamp_; }
  /// Increases by one for each message saved to the group (starting at 1).
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
  /// Bytes of the serialized payload.
  [[nodiscard]] std::size_t size() const noexcept { return data_.size(); }
  /// Bytes this entry counts against the history caps: the payload and frame buffer, the id,
  /// timestamp and offset, the object and its control block, the allocator's headers and the
  /// entry's slot in its group's deque (see docs/channels.md).
  [[nodiscard]] std::size_t footprint() const noexcept { return footprint_; }
  /// What was saved: JSON, text or bytes.
  [[nodiscard]] Payload::Kind kind() const noexcept { return kind_; }
  /// The serialized payload (compact JSON, the text or the bytes), a view into the shared buffer.
  [[nodiscard]] std::string_view data() const noexcept { return data_; }
  /// Whether data() can go in a text frame (valid UTF-8, and not a bytes payload).
  [[nodiscard]] bool is_valid_utf8() const noexcept { return valid_utf8_; }
  /// The payload as a Payload: a copy (JSON is parsed again).
  [[nodiscard]] Payload payload() const;
  /// A by-value copy (what show_history returns).
  [[nodiscard]] ChannelMessage message() const;

  SavedMessage(const SavedMessage&) = delete;
  SavedMessage& operator=(const SavedMessage&) = delete;

 private:
  friend struct detail::SavedEntry;
  SavedMessage() = default;
  ~SavedMessage() = default;

  std::string_view data_;
  std::chrono::system_clock::time_point timestamp_{};
  std::uint64_t offset_ = 0;
  std::size_t footprint_ = 0;
  std::array<char, 36> id_{};
  Payload::Kind kind_ = Payload::Kind::json;
  bool valid_utf8_ = true;
};

/// Which saved messages `ChannelRegistry::history` returns: those with an offset above
/// `after_offset`, oldest first, and of those at most the newest `limit` (0: all). With the
/// defaults, the whole history; `{.limit = 50}`: the last 50; `{.after_offset = n}`: what came
/// after offset n (a gap shows as a first offset above n + 1).
struct HistoryQuery {
  std::uint64_t after_offset = 0;
  std::size_t limit = 0;
};

/// What replay_history did.
struct ReplayResult {
  /// Entries queued on the channel's connection.
  std::size_t sent = 0;
  /// Entries that could not go to this channel (its queue full under the drop policy, or a form
  /// it cannot take), skipped without ending the connection.
  std::size_t skipped = 0;
};

/// Bounds on what the channels of one registry may make it hold: saved history, groups and
/// their members. Each is a named setting (`set("max_groups", "10000")`), read from the
/// environment as `NEXIOS_<NAME>` when the app starts (`history_max_bytes` also as the seeds'
/// `CHANNEL_BOX_HISTORY_SIZE`); see docs/limits.md.
struct ChannelLimits {
  /// Per group, bytes of saved history as counted by SavedMessage::footprint (the payload plus
  /// what keeping it costs; default 1 MiB). When a new message goes over it, the oldest messages
  /// go first; a single message larger than this is not saved.
  std::size_t history_max_bytes = 1024 * 1024;
  /// Per group, number of saved messages (0: no count limit).
  std::size_t history_max_count = 0;
  /// All groups together, bytes of saved history: every entry's footprint plus each group's own
  /// overhead (its name included). The least recently written groups lose their oldest messages
  /// first.
  std::size_t history_max_total_bytes = 64 * 1024 * 1024;
  /// Groups with members. Joining a new group past it gives GROUP_LIMIT_REACHED.
  std::size_t max_groups = 100'000;
  /// Members of one group; one more gives GROUP_FULL.
  std::size_t max_members_per_group = 100'000;
  /// Groups one channel may be a member of; one more gives CHANNEL_GROUP_LIMIT_REACHED.
  std::size_t max_groups_per_channel = 1'000;
  /// Bytes of a group name (valid UTF-8, not empty); a longer one gives INVALID_GROUP_NAME.
  std::size_t max_group_name_bytes = 256;
  /// Bytes of a channel's metadata, as compact JSON, when the channel is created.
  std::size_t max_metadata_bytes = 64 * 1024;
  /// Groups that keep a saved history (with members or not). Saving to a new group past it
  /// forgets the history of the group that has been empty longest, or if every group has
  /// members, of the least recently written one.
  std::size_t history_max_groups = 100'000;
  /// How long a group's history is kept once its last member has left (0: for ever). A member
  /// joining again before it runs out keeps it. Default 5 minutes: a room whose members all
  /// reconnect after a network drop or a deploy still has its messages, while abandoned rooms
  /// (and their names) stop holding memory soon after.
  std::chrono::milliseconds history_ttl{5 * 60 * 1000};
  /// Once the history_ttl timer has forgotten at least this many counted bytes of history since
  /// the last time, it asks the allocator to return free memory to the system (glibc's
  /// malloc_trim; 0: never). Default 8 MiB: a trim of a 20 MB heap takes about 2 ms, so its cost
  /// is paid at most once per 8 MiB freed, never on a message's path.
  std::size_t history_trim_bytes = 8 * 1024 * 1024;
  /// Members one fan-out (group_send) delivers to on an event loop before it lets other work on
  /// that loop run: a message to a large group goes out in slices of this many members, so one
  /// big room cannot hold a loop (and every other client on it) for the whole fan-out. Order per
  /// member is kept: on each loop, a group's fan-outs are delivered first come, first served.
  std::size_t fanout_batch = 256;

  /// Sets a field by name from text with units (see nexios/settings.hpp); throws
  /// std::invalid_argument naming the field, the value and the accepted range.
  void set(std::string_view name, std::string_view value);
  [[nodiscard]] std::string get(std::string_view name) const;
  [[nodiscard]] static bool has(std::string_view name) noexcept;
  /// Applies NEXIOS_<NAME> (and CHANNEL_BOX_HISTORY_SIZE) from the environment; throws
  /// std::invalid_argument naming the variable when one is invalid.
  void apply_environment();
  /// Checks every field is within its range; throws std::invalid_argument saying which.
  void validate() const;
  [[nodiscard]] static std::vector<SettingInfo> settings();
};

/// A registry's sizes at one moment (what /metrics reports for the process-wide registry).
struct ChannelRegistryStats {
  std::size_t groups = 0;
  /// Summed over groups: a channel in two groups counts twice.
  std::size_t members = 0;
  std::size_t history_entries = 0;
  /// Bytes counted against history_max_total_bytes: every entry's footprint plus every history's
  /// own overhead (see ChannelLimits).
  std::size_t history_bytes = 0;
  /// Bytes of saved payload alone (the serialized messages).
  std::size_t history_payload_bytes = 0;
  /// Groups that keep a history (with members or not).
  std::size_t history_groups = 0;
  /// Of those, groups without members (their history expires after ChannelLimits::history_ttl).
  std::size_t history_groups_empty = 0;
  /// Saved messages replay_history skipped because they could not go to the channel.
  std::size_t history_replay_skipped = 0;
  /// Times the history_ttl timer returned freed memory to the system (history_trim_bytes).
  std::size_t history_trims = 0;
};

// ---- beyond this process (see nexios/channel_layer.hpp) ----------------------------------------

class ChannelLayer;

/// The link of a layer to the other servers.
enum class ChannelLayerState {
  up,            ///< connected: group messages reach the other servers
  connecting,    ///< (re)connecting: local delivery works, nothing reaches the other servers
  down,          ///< stopped, or given up: only local delivery
};
std::string_view to_string(ChannelLayerState s) noexcept;

/// One member of a group on some server of the cluster (ChannelBox::cluster_groups).
struct ClusterMember {
  std::string channel_id{};
  /// The server that holds its connection (ChannelLayer::server_id; "local" without a layer).
  std::string server_id{};
  /// The channel's metadata when it joined the group.
  boost::json::object metadata{};
};

/// What a layer counts (the layer's part of /metrics).
struct ChannelLayerStats {
  ChannelLayerState state = ChannelLayerState::down;
  /// Group messages handed to the other servers (and send_to requests).
  std::uint64_t published = 0;
  /// Group messages that did not reach the other servers: the layer was not up, its pending
  /// buffer was full, or the publish failed. Each is reported in GroupSendResult::published.
  std::uint64_t not_published = 0;
  /// Of those, refused because the pending-publish buffer was full.
  std::uint64_t pending_full = 0;
  /// Group messages and requests received from other servers.
  std::uint64_t received = 0;
  /// Messages on the layer's channels that were malformed or foreign: counted and dropped.
  std::uint64_t malformed = 0;
  /// Times the layer lost its connection and connected again.
  std::uint64_t reconnects = 0;
  /// Publishes sent and waiting for their reply now.
  std::uint64_t pending = 0;
};

/// A registry of groups. `ChannelBox` is the process-wide one; make your own for isolated tests.
///
/// Thread safety: every member function may be called from any thread. Group membership and
/// history are guarded by one mutex that is never held while user code runs or while anything is
/// written to a socket.
class ChannelRegistry {
 public:
  explicit ChannelRegistry(ChannelLimits limits = {});
  ~ChannelRegistry();
  ChannelRegistry(const ChannelRegistry&) = delete;
  ChannelRegistry& operator=(const ChannelRegistry&) = delete;

  /// The process-wide registry behind ChannelBox.
  static ChannelRegistry& global();

  /// Adds `channel` to `group` (created when new). Never adds it twice. Check the status: past a
  /// limit of ChannelLimits the channel is not added (see ChannelAddStatusEnum).
  [[nodiscard]] ChannelAddStatusEnum add_channel_to_group(const Channel& channel, std::string_view group = "default");
  ChannelRemoveStatusEnum remove_channel_from_group(const Channel& channel, std::string_view group = "default");

  /// Sends `payload` to every member of `group`, serialized once per payload type. Never waits on
  /// a member: each member's connection queues the frame (or refuses it: see GroupSendResult).
  /// Members joining or leaving meanwhile do not disturb it (it sends to the members at the time
  /// of the call). With `save_history` the message is saved first (when the group exists).
  Task<GroupSendResult> group_send(std::string_view group, Payload payload, bool save_history = false);

  /// Saved messages of `group` as shared handles, oldest first (see HistoryQuery): nothing is
  /// copied but the handles, and each handle keeps its message alive after the history drops it.
  [[nodiscard]] std::vector<HistoryEntry> history(std::string_view group, HistoryQuery query = {}) const;
  /// Sends the saved messages of `group` selected by `query` to `channel`, oldest first, each as
  /// the frame the history holds (Channel::send(const HistoryEntry&)). An entry that cannot go to
  /// the channel is skipped (counted in the result and in stats(), logged once per call), never
  /// ending the connection. Throws WebSocketDisconnect if the connection goes meanwhile.
  Task<ReplayResult> replay_history(const Channel& channel, std::string_view group, HistoryQuery query = {});
  /// The saved messages of `group`, oldest first (empty for an unknown group), as by-value copies
  /// (the seeds' call): every call copies every payload, and JSON is parsed again. Prefer
  /// history() or replay_history() for anything held or repeated.
  [[nodiscard]] std::vector<ChannelMessage> show_history(std::string_view group) const;
  /// Every group's saved messages (copies, as above).
  [[nodiscard]] std::map<std::string, std::vector<ChannelMessage>> show_history() const;
  /// Forgets all saved messages.
  void flush_history();
  /// Forgets the saved messages of one group.
  void flush_history(std::string_view group);

  /// A snapshot: group → its members, in joining order.
  [[nodiscard]] std::map<std::string, std::vector<Channel>> show_groups() const;
  /// A snapshot of one group's members (empty if none).
  [[nodiscard]] std::vector<Channel> group(std::string_view group) const;
  /// Number of members of `group`.
  [[nodiscard]] std::size_t group_size(std::string_view group) const;

  /// Sends to one live channel by id, grouped or not (serialized by its payload type). Returns
  /// true if its connection took the message.
  Task<bool> send_to(std::string_view channel_id, Payload payload);
  /// Closes every live channel known to this registry (for the process-wide one: every channel).
  /// Returns how many were asked to close. Also run when the app shuts down.
  std::size_t close_all_connections(std::uint16_t code = 1000, std::string_view reason = {});
  /// Finds expired channels now (a timer does this on its own), removes them from every group and
  /// closes them with 1001. Returns how many.
  std::size_t clean_expired();
  std::size_t clean_expired(std::chrono::steady_clock::time_point now);

  /// Replaces the limits (validated; throws std::invalid_argument). Histories over the new caps
  /// lose their oldest messages at once; existing groups and members stay.
  void set_limits(ChannelLimits limits);
  [[nodiscard]] ChannelLimits limits() const;

  /// Group, member and history counts, taken under the registry's lock without copying anything.
  [[nodiscard]] ChannelRegistryStats stats() const;

  // ---- several servers (see nexios/channel_layer.hpp and docs/scaling.md) ----------------------

  /// Starts `layer` for this registry (App::use_channel_layer does it for ChannelBox when the app
  /// starts): from then on group_send also reaches the members on the other servers, history is
  /// shared, and the cluster_* calls answer for the cluster. Throws std::runtime_error when the
  /// layer cannot start, std::logic_error when one is running already.
  void start_layer(std::shared_ptr<ChannelLayer> layer);
  /// Stops the layer (the app does it at shutdown); this registry is local again.
  void stop_layer() noexcept;
  /// The running layer (null: in-memory only).
  [[nodiscard]] std::shared_ptr<ChannelLayer> layer() const;
  /// Every group with members on any server, with its members (id, server, metadata); without a
  /// layer, this server's. With `only`, that one group. If the layer cannot tell (not up), this
  /// server's groups.
  Task<std::map<std::string, std::vector<ClusterMember>>> cluster_groups(std::string_view only = {});
  /// Members of `group` on every server (cluster_groups of one group), and their number.
  Task<std::vector<ClusterMember>> cluster_group(std::string_view group);
  Task<std::size_t> cluster_group_size(std::string_view group);
  /// The saved messages of `group` as every server sees them: with a layer, read from its shared
  /// store (history() answers from this server's copy); without, the same as history().
  Task<std::vector<HistoryEntry>> fetch_history(std::string_view group, HistoryQuery query = {});

  struct Impl;

 private:
  friend class Channel;
  friend std::size_t detail::close_channels_of(const void*, std::uint16_t, std::string_view);
  friend Channel detail::make_consumer_channel(WebSocket, PayloadType, std::chrono::milliseconds);
  std::shared_ptr<Impl> impl_;  // shared with the history-expiry timer while it waits
};

/// The process-wide ChannelBox, used through static calls as in the seeds:
/// `nx::ChannelBox::group_send("room", payload, true)`.
class ChannelBox {
 public:
  ChannelBox() = delete;
  static ChannelRegistry& registry() { return ChannelRegistry::global(); }

  [[nodiscard]] static ChannelAddStatusEnum add_channel_to_group(const Channel& channel,
                                                                 std::string_view group = "default") {
    return registry().add_channel_to_group(channel, group);
  }
  static ChannelRemoveStatusEnum remove_channel_from_group(const Channel& channel,
                                                           std::string_view group = "default") {
    return registry().remove_channel_from_group(channel, group);
  }
  static Task<GroupSendResult> group_send(std::string_view group, Payload payload, bool save_history = false) {
    return registry().group_send(group, std::move(payload), save_history);
  }
  static std::vector<ChannelMessage> show_history(std::string_view group) { return registry().show_history(group); }
  static std::vector<HistoryEntry> history(std::string_view group, HistoryQuery query = {}) {
    return registry().history(group, query);
  }
  static Task<ReplayResult> replay_history(const Channel& channel, std::string_view group, HistoryQuery query = {}) {
    return registry().replay_history(channel, group, query);
  }
  static std::map<std::string, std::vector<ChannelMessage>> show_history() { return registry().show_history(); }
  static void flush_history() { registry().flush_history(); }
  static std::map<std::string, std::vector<Channel>> show_groups() { return registry().show_groups(); }
  static std::vector<Channel> group(std::string_view group) { return registry().group(group); }
  static Task<bool> send_to(std::string_view channel_id, Payload payload) {
    return registry().send_to(channel_id, std::move(payload));
  }
  static std::size_t close_all_connections(std::uint16_t code = 1000, std::string_view reason = {}) {
    return registry().close_all_connections(code, reason);
  }
  static std::size_t clean_expired() { return registry().clean_expired(); }
  static Task<std::map<std::string, std::vector<ClusterMember>>> cluster_groups() {
    return registry().cluster_groups();
  }
  static Task<std::vector<ClusterMember>> cluster_group(std::string_view group) {
    return registry().cluster_group(group);
  }
  static Task<std::vector<HistoryEntry>> fetch_history(std::string_view group, HistoryQuery query = {}) {
    return registry().fetch_history(group, query);
  }
};

}  // namespace nexios
