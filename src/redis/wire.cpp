#include "redis/wire.hpp"

#include <nexios/detail/json.hpp>
#include <nexios/detail/utf8.hpp>

#include <array>
#include <charconv>
#include <cstdint>

namespace nexios::redis::detail {

namespace {

std::optional<std::uint64_t> to_u64(std::string_view s) noexcept {
  std::uint64_t v = 0;
  if (s.empty() || s.size() > 20) {
    return std::nullopt;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

// Splits `s` into N '|'-separated fields and the rest (which may hold '|').
template <std::size_t N>
bool split_fields(std::string_view s, std::array<std::string_view, N>& out, std::string_view& rest) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    const auto bar = s.find('|');
    if (bar == std::string_view::npos) {
      return false;
    }
    out[i] = s.substr(0, bar);
    s.remove_prefix(bar + 1);
  }
  rest = s;
  return true;
}

bool valid_origin(std::string_view o) noexcept { return !o.empty() && o.size() <= max_origin_bytes; }

}  // namespace

std::optional<Kind> kind_of(std::string_view c) noexcept {
  if (c.size() == 1 && (c[0] == 'j' || c[0] == 't' || c[0] == 'b')) {
    return static_cast<Kind>(c[0]);
  }
  return std::nullopt;
}

std::optional<GroupLine> parse_group(std::string_view line) noexcept {
  std::array<std::string_view, 8> f;
  std::string_view payload;
  if (!split_fields(line, f, payload) || f[0] != "nx1" || f[1] != "m" || !valid_origin(f[2])) {
    return std::nullopt;
  }
  const auto kind = kind_of(f[3]);
  const auto offset = to_u64(f[4]);
  const auto ts = to_u64(f[6]);
  const auto fp = to_u64(f[7]);
  // Within what system_clock holds in nanoseconds (year 2262), so converting cannot overflow.
  constexpr std::uint64_t max_ts_us = static_cast<std::uint64_t>(INT64_MAX / 1000);
  if (!kind || !offset || !ts || *ts > max_ts_us || !fp || (f[5].size() != 36 && !f[5].empty())) {
    return std::nullopt;
  }
  GroupLine g;
  g.origin = f[2];
  g.kind = *kind;
  g.offset = *offset;
  g.id = f[5];
  g.timestamp = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::microseconds(static_cast<std::int64_t>(*ts))));
  g.footprint = static_cast<std::size_t>(*fp);
  g.payload = payload;
  return g;
}

void append_group_head(std::string& out, std::string_view origin, Kind kind) {
  out.append("nx1|m|").append(origin).append(1, '|').append(1, static_cast<char>(kind)).append(1, '|');
}

void append_group_tail(std::string& out, const GroupLine& g) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(g.timestamp.time_since_epoch()).count();
  char digits[24];
  out.append(1, '|').append(g.id).append(1, '|');
  auto r = std::to_chars(std::begin(digits), std::end(digits), us < 0 ? 0 : us);
  out.append(digits, r.ptr).append(1, '|');
  r = std::to_chars(std::begin(digits), std::end(digits), g.footprint);
  out.append(digits, r.ptr).append(1, '|');
}

std::string group_head(std::string_view origin, Kind kind) {
  std::string s;
  append_group_head(s, origin, kind);
  return s;
}

std::string group_tail(const GroupLine& g) {
  std::string s;
  append_group_tail(s, g);
  return s;
}

std::string encode_group(const GroupLine& g) {
  std::string s = group_head(g.origin, g.kind);
  s.append(std::to_string(g.offset)).append(group_tail(g)).append(g.payload);
  return s;
}

std::optional<SendToLine> parse_send_to(std::string_view line) noexcept {
  std::array<std::string_view, 6> f;
  SendToLine s;
  if (!split_fields(line, f, s.payload) || f[0] != "nx1" || f[1] != "s" || !valid_origin(f[2]) || f[5].empty()) {
    return std::nullopt;
  }
  const auto req = to_u64(f[3]);
  const auto kind = kind_of(f[4]);
  if (!req || !kind) {
    return std::nullopt;
  }
  s.origin = f[2];
  s.request = *req;
  s.kind = *kind;
  s.channel_id = f[5];
  return s;
}

std::string encode_send_to(const SendToLine& s) {
  std::string out = "nx1|s|";
  out.append(s.origin).append(1, '|').append(std::to_string(s.request)).append(1, '|');
  out.append(1, static_cast<char>(s.kind)).append(1, '|').append(s.channel_id).append(1, '|').append(s.payload);
  return out;
}

std::optional<AnswerLine> parse_answer(std::string_view line) noexcept {
  std::array<std::string_view, 4> f;
  std::string_view ok;
  if (!split_fields(line, f, ok) || f[0] != "nx1" || f[1] != "a" || !valid_origin(f[2]) || (ok != "0" && ok != "1")) {
    return std::nullopt;
  }
  const auto req = to_u64(f[3]);
  if (!req) {
    return std::nullopt;
  }
  return AnswerLine{f[2], *req, ok == "1"};
}

std::string encode_answer(const AnswerLine& a) {
  std::string out = "nx1|a|";
  out.append(a.origin).append(1, '|').append(std::to_string(a.request)).append(1, '|').append(a.delivered ? "1" : "0");
  return out;
}

bool acceptable_payload(Kind kind, std::string_view data) {
  if (kind == Kind::json) {
    boost::system::error_code ec;
    return nexios::detail::validate_json(data, ec);
  }
  if (kind == Kind::text) {
    return nexios::detail::is_valid_utf8(data);
  }
  return true;
}

}  // namespace nexios::redis::detail
