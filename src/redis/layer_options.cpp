// RedisLayerOptions: checking them (and turning them into the connection's settings), and the
// layer that NEXIOS_CHANNEL_LAYER names (with options in the URL's query).

#include "redis/layer_options.hpp"

#include <nexios/redis.hpp>

#include "app/settings_table.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace nexios {

namespace redis::detail {

ConnectionConfig connection_config(const RedisLayerOptions& o) {
  ConnectionConfig cfg = parse_url(o.url);  // throws std::invalid_argument
  if (!o.username.empty()) {
    cfg.username = o.username;
  }
  if (!o.password.empty()) {
    cfg.password = o.password;
  }
  if (o.db) {
    if (*o.db < 0) {
      throw std::invalid_argument("RedisLayer: db must be 0 or more, not " + std::to_string(*o.db));
    }
    cfg.db = *o.db;
  }
  if (!o.tls_ca_file.empty() || !o.tls_cert_file.empty() || !o.tls_server_name.empty()) {
    if (!cfg.tls) {
      throw std::invalid_argument("RedisLayer: TLS files or server name given for a redis:// URL (use rediss://)");
    }
  }
  cfg.tls_ca_file = o.tls_ca_file;
  cfg.tls_cert_file = o.tls_cert_file;
  cfg.tls_key_file = o.tls_key_file;
  cfg.tls_verify = o.tls_verify;
  cfg.tls_server_name = o.tls_server_name;
  if (o.key_prefix.size() > 64 || o.key_prefix.find_first_of(std::string_view("\0\r\n ", 4)) != std::string::npos) {
    throw std::invalid_argument("RedisLayer: key_prefix must be at most 64 bytes without spaces or control characters");
  }
  auto positive = [](std::chrono::milliseconds v, const char* name) {
    if (v.count() <= 0) {
      throw std::invalid_argument(std::string("RedisLayer: ") + name + " must be more than 0");
    }
  };
  positive(o.membership_ttl, "membership_ttl");
  positive(o.reconnect_min, "reconnect_min");
  positive(o.connect_timeout, "connect_timeout");
  positive(o.reply_timeout, "reply_timeout");
  positive(o.send_to_timeout, "send_to_timeout");
  if (o.reconnect_max < o.reconnect_min) {
    throw std::invalid_argument("RedisLayer: reconnect_max must be at least reconnect_min");
  }
  if (o.max_pending_publishes == 0 || o.max_message_bytes < 1024) {
    throw std::invalid_argument("RedisLayer: max_pending_publishes must be more than 0 and max_message_bytes at least 1024");
  }
  cfg.connect_timeout = o.connect_timeout;
  cfg.reply_timeout = o.reply_timeout;
  // Room for the publishes plus the layer's own commands (membership, heartbeats).
  cfg.max_pending = o.max_pending_publishes + 100'000;
  return cfg;
}


}  // namespace redis::detail

namespace {

using detail::Setting;
using K = SettingKind;
using O = RedisLayerOptions;
using namespace detail::setting_units;

// The options a URL's query may set (`redis://host/0?membership_ttl=5s&key_prefix=app1:`).
constexpr Setting<O> url_settings[] = {
    {"membership_ttl", K::duration, 100, 24 * hour, "how long a dead server stays in member lists",
     NEXIOS_SETTING_ACCESSORS(O, membership_ttl)},
    {"max_pending_publishes", K::count, 1, 10'000'000, "publishes waiting for Redis",
     NEXIOS_SETTING_ACCESSORS(O, max_pending_publishes)},
    {"max_message_bytes", K::size, 1024, GiB / 2, "bytes of one message between servers",
     NEXIOS_SETTING_ACCESSORS(O, max_message_bytes)},
    {"reconnect_min", K::duration, 1, hour, "first reconnect delay", NEXIOS_SETTING_ACCESSORS(O, reconnect_min)},
    {"reconnect_max", K::duration, 1, hour, "longest reconnect delay", NEXIOS_SETTING_ACCESSORS(O, reconnect_max)},
    {"connect_timeout", K::duration, 1, hour, "time to connect", NEXIOS_SETTING_ACCESSORS(O, connect_timeout)},
    {"reply_timeout", K::duration, 1, hour, "time Redis may take to answer", NEXIOS_SETTING_ACCESSORS(O, reply_timeout)},
    {"send_to_timeout", K::duration, 1, hour, "time send_to waits for the other servers",
     NEXIOS_SETTING_ACCESSORS(O, send_to_timeout)},
};

}  // namespace

std::shared_ptr<ChannelLayer> RedisLayer::from_url(std::string_view url) {
  if (url.empty() || url == "memory") {
    return nullptr;
  }
  if (!url.starts_with("redis://") && !url.starts_with("rediss://")) {
    throw std::invalid_argument("NEXIOS_CHANNEL_LAYER: expected \"memory\" or a redis:// or rediss:// URL");
  }
  RedisLayerOptions o;
  const auto q = url.find('?');
  o.url = std::string(url.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view query = url.substr(q + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view item = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      const auto eq = item.find('=');
      if (eq == std::string_view::npos) {
        throw std::invalid_argument("NEXIOS_CHANNEL_LAYER: expected name=value in the query, not '" + std::string(item) + "'");
      }
      const std::string_view name = item.substr(0, eq);
      const std::string_view value = item.substr(eq + 1);
      if (name == "key_prefix") {
        o.key_prefix = std::string(value);
      } else {
        detail::set_setting(std::span<const Setting<O>>(url_settings), o, name, value, "Redis layer option");
      }
    }
  }
  return std::make_shared<RedisLayer>(std::move(o));
}

std::shared_ptr<ChannelLayer> RedisLayer::from_environment() {
  const char* v = std::getenv("NEXIOS_CHANNEL_LAYER");
  return from_url(v == nullptr ? std::string_view() : std::string_view(v));
}

}  // namespace nexios
