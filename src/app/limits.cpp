#include <nexios/limits.hpp>

#include "app/settings_table.hpp"

#include <array>
#include <stdexcept>

namespace nexios {

namespace {

using detail::Setting;
using namespace detail::setting_units;
using K = SettingKind;
using L = Limits;


constexpr std::array<std::string_view, 2> slow_consumer_choices{"close", "drop_newest"};
constexpr std::array<std::string_view, 3> rate_limit_choices{"throttle", "drop", "close"};

// The order here is the order of --help and of docs/limits.md.
const std::array<Setting<L>, 22> table{{
    {"max_header_bytes", K::size, 64, 16 * MiB, "request line plus headers; beyond: 431",
     NEXIOS_SETTING_ACCESSORS(L, max_header_bytes)},
    {"max_headers", K::count, 1, 10'000, "header fields per request; beyond: 431",
     NEXIOS_SETTING_ACCESSORS(L, max_headers)},
    {"max_body_size", K::size, 0, 4 * GiB, "request body after de-chunking; beyond: 413",
     NEXIOS_SETTING_ACCESSORS(L, max_body_size)},
    {"header_timeout", K::duration, 1, hour, "time to receive a request's headers once it began; beyond: 408",
     NEXIOS_SETTING_ACCESSORS(L, header_timeout)},
    {"body_timeout", K::duration, 1, 24 * hour, "time to receive a request body; beyond: 408",
     NEXIOS_SETTING_ACCESSORS(L, body_timeout)},
    {"keep_alive_timeout", K::duration, 1, hour, "idle keep-alive connection lifetime",
     NEXIOS_SETTING_ACCESSORS(L, keep_alive_timeout)},
    {"max_message_size", K::size, 1, 4 * GiB, "WebSocket message, all fragments; beyond: close 1009",
     NEXIOS_SETTING_ACCESSORS(L, max_message_size)},
    {"close_timeout", K::duration, 1, 10 * minute, "wait for the peer's close after ours",
     NEXIOS_SETTING_ACCESSORS(L, close_timeout)},
    {"ping_interval", K::duration, 0, hour, "interval of server pings", NEXIOS_SETTING_ACCESSORS(L, ping_interval),
     {}, true},
    {"idle_timeout", K::duration, 0, 24 * hour, "no complete message, ping or pong for this long: close 1001",
     NEXIOS_SETTING_ACCESSORS(L, idle_timeout), {}, true},
    {"message_timeout", K::duration, 0, 24 * hour, "time to finish a WebSocket message once begun: close 1008",
     NEXIOS_SETTING_ACCESSORS(L, message_timeout), {}, true},
    {"send_buffer_high_water", K::size, KiB, GiB, "queued bytes above which a handler's send waits",
     NEXIOS_SETTING_ACCESSORS(L, send_buffer_high_water)},
    {"max_send_queue", K::size, KiB, 4 * GiB, "queued bytes above which a group message makes a slow consumer",
     NEXIOS_SETTING_ACCESSORS(L, max_send_queue)},
    {"slow_consumer_policy", K::choice, 0, 0, "what happens to a slow consumer",
     NEXIOS_SETTING_ACCESSORS(L, slow_consumer_policy), slow_consumer_choices},
    {"max_messages_per_second", K::count, 0, 100'000'000, "data messages per second from one connection",
     NEXIOS_SETTING_ACCESSORS(L, max_messages_per_second), {}, true},
    {"max_bytes_per_second", K::size, 0, 64 * GiB, "bytes per second from one connection",
     NEXIOS_SETTING_ACCESSORS(L, max_bytes_per_second), {}, true},
    {"rate_limit_policy", K::choice, 0, 0, "what happens past a connection's rate limit",
     NEXIOS_SETTING_ACCESSORS(L, rate_limit_policy), rate_limit_choices},
    {"max_connections", K::count, 1, 10'000'000, "open connections in all; beyond: 503 (auto: RLIMIT_NOFILE less fd_reserve)",
     NEXIOS_SETTING_ACCESSORS(L, max_connections), {}, false, true},
    {"fd_reserve", K::count, 0, 1'000'000, "descriptors kept for other uses when max_connections is auto",
     NEXIOS_SETTING_ACCESSORS(L, fd_reserve)},
    {"max_connections_per_address", K::count, 1, 10'000'000, "open connections from one address; beyond: 429",
     NEXIOS_SETTING_ACCESSORS(L, max_connections_per_address)},
    {"max_connection_rate_per_address", K::count, 0, 10'000'000, "new connections per second from one address; beyond: 429",
     NEXIOS_SETTING_ACCESSORS(L, max_connection_rate_per_address), {}, true},
    {"drain_timeout", K::duration, 0, hour, "at shutdown, time before open connections are dropped",
     NEXIOS_SETTING_ACCESSORS(L, drain_timeout)},
}};

std::span<const Setting<L>> settings_table() { return table; }

}  // namespace

void Limits::set(std::string_view name, std::string_view value) {
  detail::set_setting(settings_table(), *this, name, value, "limit");
}

std::string Limits::get(std::string_view name) const { return detail::get_setting(settings_table(), *this, name, "limit"); }

bool Limits::has(std::string_view name) noexcept { return detail::find_setting(settings_table(), name) != nullptr; }

void Limits::apply_environment() { detail::apply_environment_settings(settings_table(), *this); }

std::vector<SettingInfo> Limits::settings() { return detail::describe_settings(settings_table()); }

void Limits::validate() const {
  detail::validate_settings(settings_table(), *this, "limit");
  if (ping_interval.count() > 0 && idle_timeout.count() > 0 && idle_timeout <= ping_interval) {
    throw std::invalid_argument("limit idle_timeout (" + get("idle_timeout") +
                                ") must be longer than ping_interval (" + get("ping_interval") +
                                "), or a live peer is closed before it can answer a ping");
  }
}

}  // namespace nexios
