#pragma once
// Library-internal access to channels (not part of the public API).

#include <nexios/channels.hpp>

namespace nexios::detail {

/// The channel leaves every group of every registry and can join none again (its connection is
/// over). Thread-safe.
void detach_channel(const Channel& channel);

/// A channel for a consumer: it stays in its groups until the consumer detaches it (right after
/// on_disconnect; the consumer's frame holds a guard that does it however the consumer ends).
Channel make_consumer_channel(WebSocket ws, PayloadType type, std::chrono::milliseconds expires);

/// close_all_connections of the process-wide registry, limited to the channels served by
/// `server` (a transport::Server). Returns how many were asked to close.
std::size_t close_channels_of(const void* server, std::uint16_t code, std::string_view reason);

}  // namespace nexios::detail
