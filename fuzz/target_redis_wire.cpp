/// @file
/// Fuzz target redis_wire: the Redis layer's lines between servers (src/redis/wire.hpp), which a
/// foreign publisher on the layer's channels controls entirely. Whatever parses re-encodes to a
/// line that parses to the same fields; views point into the input; acceptable_payload never
/// fails on anything. The options byte picks a prefix ("nx1|m|", "nx1|s|", "nx1|a|" or none)
/// put before the payload, so most inputs reach the field parsing.
///
/// Schedule: unused (one line is one pub/sub message).

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include "redis/wire.hpp"

#include <string>
#include <string_view>

namespace w = nexios::redis::detail;
using nexios::fuzz::points_into;

int fuzz_redis_wire(const std::uint8_t* data, std::size_t size) {
  const auto in = nexios::fuzz::decode_input(data, size);
  static constexpr std::string_view prefixes[] = {"", "nx1|m|", "nx1|s|", "nx1|a|"};
  std::string line(prefixes[in.options & 3]);
  line.append(in.payload_view());
  const std::string_view v(line);

  if (const auto g = w::parse_group(v)) {
    FUZZ_CHECK(points_into(g->origin.data(), g->origin.size(), v.data(), v.size()));
    FUZZ_CHECK(points_into(g->payload.data(), g->payload.size(), v.data(), v.size()) || g->payload.empty());
    FUZZ_CHECK(!g->origin.empty() && g->origin.size() <= w::max_origin_bytes);
    FUZZ_CHECK(g->id.empty() || g->id.size() == 36);
    const std::string again = w::encode_group(*g);
    const auto h = w::parse_group(again);
    FUZZ_CHECK_MSG(h.has_value(), nexios::fuzz::printable(again));
    FUZZ_CHECK(h->origin == g->origin && h->kind == g->kind && h->offset == g->offset && h->id == g->id &&
               h->timestamp == g->timestamp && h->footprint == g->footprint && h->payload == g->payload);
    (void)w::acceptable_payload(g->kind, g->payload);
  }
  if (const auto s = w::parse_send_to(v)) {
    FUZZ_CHECK(!s->channel_id.empty() && s->channel_id.find('|') == std::string_view::npos);
    const std::string again = w::encode_send_to(*s);
    const auto t = w::parse_send_to(again);
    FUZZ_CHECK(t.has_value());
    FUZZ_CHECK(t->origin == s->origin && t->request == s->request && t->kind == s->kind &&
               t->channel_id == s->channel_id && t->payload == s->payload);
    (void)w::acceptable_payload(s->kind, s->payload);
  }
  if (const auto a = w::parse_answer(v)) {
    const std::string again = w::encode_answer(*a);
    const auto b = w::parse_answer(again);
    FUZZ_CHECK(b.has_value() && b->origin == a->origin && b->request == a->request && b->delivered == a->delivered);
  }
  return 0;
}
