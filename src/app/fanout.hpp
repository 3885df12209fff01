#pragma once
// Fan-out: the wire forms of a payload, encoded once, and their delivery to a group's snapshot
// of members (in slices: the first slice of each event loop at once, then one task per slice) or
// to one channel.

#include "app/channels_internal.hpp"
#include "app/history.hpp"

#include <nexios/ws/frame.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace nexios::detail {

/// One frame (header + payload) ready to be shared by every connection that sends it.
std::shared_ptr<const transport::SharedFrame> make_frame(ws::Opcode opcode, std::string_view payload);

/// The (at most three) wire forms of one payload, encoded once and shared by every member.
class Frames {
 public:
  explicit Frames(const Payload& p) : payload_(p) {}

  /// Uses the frame of the saved copy of this payload for the payload types it fits, and its
  /// serialized bytes for the others (call before prepare).
  void adopt(const std::shared_ptr<const SavedEntry>& saved);

  /// Encodes what members of the given payload types need (call before sharing across threads).
  void prepare(unsigned type_mask);

  const std::shared_ptr<const transport::SharedFrame>& get(PayloadTypeEnum type);

  [[nodiscard]] const std::shared_ptr<const transport::SharedFrame>& get(PayloadTypeEnum type) const {
    return frames_[static_cast<std::size_t>(slot_for(type))];
  }

 private:
  enum class Slot : std::uint8_t { text = 0, binary = 1, json_string = 2 };

  [[nodiscard]] Slot slot_for(PayloadTypeEnum type) const noexcept;
  std::string_view serialized();

  const Payload& payload_;
  std::optional<std::string> serialized_;
  std::optional<std::string_view> saved_view_;
  std::array<std::shared_ptr<const transport::SharedFrame>, 3> frames_;
};

struct FanoutCounts {
  std::size_t delivered = 0;
  std::size_t dropped = 0;
};

/// Delivers the prepared `frames` to every member of `snap` (without the registry's lock), at most
/// `batch` members of one event loop at a time (ChannelLimits::fanout_batch) with the loop free to
/// run other work in between; on each loop the fan-outs to one group (`group_key`: any address
/// that identifies the group while it exists) are delivered first come, first served. Records the
/// fan-out's duration since `started`.
Task<FanoutCounts> fan_out(std::shared_ptr<const ChannelRegistry::Impl::Snapshot> snap,
                           std::shared_ptr<const Frames> frames, steady::time_point started, std::size_t batch,
                           const void* group_key);

/// The same for a fan-out nobody waits for (a message a channel layer brought from another
/// server), started on `here`, the event loop running the call: no coroutine, no counts, and
/// the same order per group and slicing as fan_out.
void fan_out_detached(std::shared_ptr<const ChannelRegistry::Impl::Snapshot> snap, std::shared_ptr<const Frames> frames,
                      std::size_t batch, const void* group_key, const boost::asio::any_io_executor& here);

/// Delivers the prepared `frames` to one channel, on its own event loop. True if its connection
/// took the frame.
Task<bool> deliver_to(std::shared_ptr<ChannelImpl> ch, std::shared_ptr<const Frames> frames);

}  // namespace nexios::detail
