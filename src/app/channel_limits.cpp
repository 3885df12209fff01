#include <nexios/channels.hpp>

#include "app/settings_table.hpp"

#include <array>
#include <stdexcept>

namespace nexios {

namespace {

using detail::Setting;
using namespace detail::setting_units;
using K = SettingKind;
using C = ChannelLimits;


const std::array<Setting<C>, 12> table{{
    {"history_max_bytes", K::size, 1, 4 * GiB, "saved history per group, whole footprint (also CHANNEL_BOX_HISTORY_SIZE)",
     NEXIOS_SETTING_ACCESSORS(C, history_max_bytes)},
    {"history_max_count", K::count, 0, 100'000'000, "saved messages per group",
     NEXIOS_SETTING_ACCESSORS(C, history_max_count), {}, true},
    {"history_max_total_bytes", K::size, 1, 64 * GiB, "saved history of all groups together, whole footprint",
     NEXIOS_SETTING_ACCESSORS(C, history_max_total_bytes)},
    {"max_groups", K::count, 1, 100'000'000, "groups with members",
     NEXIOS_SETTING_ACCESSORS(C, max_groups)},
    {"history_max_groups", K::count, 1, 100'000'000, "groups that keep a history (the longest empty goes first)",
     NEXIOS_SETTING_ACCESSORS(C, history_max_groups)},
    {"history_ttl", K::duration, 0, 365 * 24 * hour, "how long an empty group keeps its history",
     NEXIOS_SETTING_ACCESSORS(C, history_ttl), {}, true},
    {"history_trim_bytes", K::size, 0, 64 * GiB, "history forgotten by the TTL timer before it returns memory to the system",
     NEXIOS_SETTING_ACCESSORS(C, history_trim_bytes), {}, true},
    {"max_members_per_group", K::count, 1, 100'000'000, "members of one group",
     NEXIOS_SETTING_ACCESSORS(C, max_members_per_group)},
    {"max_groups_per_channel", K::count, 1, 1'000'000, "groups one channel may join",
     NEXIOS_SETTING_ACCESSORS(C, max_groups_per_channel)},
    {"max_group_name_bytes", K::size, 1, 64 * KiB, "bytes of a group name",
     NEXIOS_SETTING_ACCESSORS(C, max_group_name_bytes)},
    {"max_metadata_bytes", K::size, 0, 64 * MiB, "a channel's metadata as compact JSON",
     NEXIOS_SETTING_ACCESSORS(C, max_metadata_bytes)},
    {"fanout_batch", K::count, 1, 1'000'000, "members one group_send delivers to on a loop before other work runs",
     NEXIOS_SETTING_ACCESSORS(C, fanout_batch)},
}};

std::span<const Setting<C>> settings_table() { return table; }

constexpr const char* seed_history_variable = "CHANNEL_BOX_HISTORY_SIZE";

}  // namespace

void ChannelLimits::set(std::string_view name, std::string_view value) {
  detail::set_setting(settings_table(), *this, name, value, "channel limit");
}

std::string ChannelLimits::get(std::string_view name) const {
  return detail::get_setting(settings_table(), *this, name, "channel limit");
}

bool ChannelLimits::has(std::string_view name) noexcept { return detail::find_setting(settings_table(), name) != nullptr; }

void ChannelLimits::apply_environment() {
  // The seeds' name first, so that NEXIOS_HISTORY_MAX_BYTES (if also set) must agree with it.
  if (auto v = detail::environment(seed_history_variable)) {
    try {
      set("history_max_bytes", *v);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("environment variable ") + seed_history_variable + ": " + e.what());
    }
    if (auto other = detail::environment(environment_variable_for("history_max_bytes"))) {
      ChannelLimits probe;
      probe.set("history_max_bytes", *other);
      if (probe.history_max_bytes != history_max_bytes) {
        throw std::invalid_argument(std::string("environment variables ") + seed_history_variable + " (" + *v +
                                    ") and NEXIOS_HISTORY_MAX_BYTES (" + *other + ") disagree; set one of them");
      }
    }
  }
  detail::apply_environment_settings(settings_table(), *this);
}

void ChannelLimits::validate() const { detail::validate_settings(settings_table(), *this, "channel limit"); }

std::vector<SettingInfo> ChannelLimits::settings() { return detail::describe_settings(settings_table()); }

}  // namespace nexios
